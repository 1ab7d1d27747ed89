//! Consumer side: typed requests and responses of the `VpcEndpoint` operations.

use serde::Deserialize;

use super::{Empty, Operation, Params, TagParam, tag_fields};

/// A zone of a new endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneParam {
    pub zone_id: String,
    pub v_switch_id: String,
    pub ip: Option<String>,
}

fn zone_fields(z: &ZoneParam) -> Vec<(&'static str, Option<String>)> {
    // `ip` is lowercase on the wire.
    vec![
        ("ZoneId", Some(z.zone_id.clone())),
        ("VSwitchId", Some(z.v_switch_id.clone())),
        ("ip", z.ip.clone()),
    ]
}

/// `CreateVpcEndpoint`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateVpcEndpoint {
    pub region_id: String,
    pub client_token: Option<String>,
    pub vpc_id: String,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub endpoint_name: Option<String>,
    pub endpoint_description: Option<String>,
    pub endpoint_type: Option<String>,
    pub zone_private_ip_address_count: Option<i64>,
    pub protected_enabled: Option<bool>,
    pub resource_group_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub zones: Vec<ZoneParam>,
    pub tags: Vec<TagParam>,
}

impl CreateVpcEndpoint {
    /// Parameters without the ClientToken: what the token is derived from.
    pub fn identity_params(&self) -> Params {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("VpcId", &self.vpc_id)
            .opt("ServiceId", self.service_id.clone())
            .opt("ServiceName", self.service_name.clone())
            .opt("EndpointName", self.endpoint_name.clone())
            .opt("EndpointDescription", self.endpoint_description.clone())
            .opt("EndpointType", self.endpoint_type.clone())
            .opt_int("ZonePrivateIpAddressCount", self.zone_private_ip_address_count)
            .opt_bool("ProtectedEnabled", self.protected_enabled)
            .opt("ResourceGroupId", self.resource_group_id.clone())
            .list("SecurityGroupId", &self.security_group_ids)
            .structs("Zone", &self.zones, zone_fields)
            .structs("Tag", &self.tags, tag_fields)
    }
}

operation!(CreateVpcEndpoint, "CreateVpcEndpoint", true, EndpointAttributes, |self| {
    self.identity_params().opt("ClientToken", self.client_token.clone())
});

/// An endpoint as Create, Get and List report it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointAttributes {
    pub request_id: String,
    pub endpoint_id: String,
    pub endpoint_name: Option<String>,
    pub endpoint_description: Option<String>,
    pub endpoint_domain: Option<String>,
    pub endpoint_status: Option<String>,
    pub endpoint_business_status: Option<String>,
    pub connection_status: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub vpc_id: Option<String>,
    pub region_id: Option<String>,
    pub resource_group_id: Option<String>,
    pub create_time: Option<String>,
    pub tags: Vec<TagParam>,
}

impl EndpointAttributes {
    /// The typed `EndpointStatus` (absent reads as an unknown, unsettled state).
    pub fn status(&self) -> crate::alicloud::vocab::EndpointStatus {
        crate::alicloud::vocab::EndpointStatus::parse(self.endpoint_status.as_deref().unwrap_or_default())
    }

    /// The typed `ConnectionStatus`.
    pub fn connection(&self) -> crate::alicloud::vocab::ConnectionStatus {
        crate::alicloud::vocab::ConnectionStatus::parse(self.connection_status.as_deref().unwrap_or_default())
    }
}

/// `GetVpcEndpointAttribute`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetVpcEndpointAttribute {
    pub region_id: String,
    pub endpoint_id: String,
}

operation!(GetVpcEndpointAttribute, "GetVpcEndpointAttribute", false, EndpointAttributes, |self| {
    Params::new().put("RegionId", &self.region_id).put("EndpointId", &self.endpoint_id)
});

/// `UpdateVpcEndpointAttribute` (name and description).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateVpcEndpointAttribute {
    pub region_id: String,
    pub endpoint_id: String,
    pub endpoint_name: Option<String>,
    pub endpoint_description: Option<String>,
}

operation!(UpdateVpcEndpointAttribute, "UpdateVpcEndpointAttribute", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("EndpointId", &self.endpoint_id)
        .opt("EndpointName", self.endpoint_name.clone())
        .opt("EndpointDescription", self.endpoint_description.clone())
});

/// `DeleteVpcEndpoint` (the endpoint must have no zones left).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteVpcEndpoint {
    pub region_id: String,
    pub endpoint_id: String,
}

operation!(DeleteVpcEndpoint, "DeleteVpcEndpoint", true, Empty, |self| {
    Params::new().put("RegionId", &self.region_id).put("EndpointId", &self.endpoint_id)
});

/// `ListVpcEndpoints`, filtered by ID or tags (used to find an endpoint by its ownership tag).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVpcEndpoints {
    pub region_id: String,
    pub endpoint_id: Option<String>,
    pub tags: Vec<TagParam>,
    pub next_token: Option<String>,
}

operation!(ListVpcEndpoints, "ListVpcEndpoints", false, ListVpcEndpointsResponse, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .opt("EndpointId", self.endpoint_id.clone())
        .structs("Tag", &self.tags, tag_fields)
        .put("MaxResults", "50")
        .opt("NextToken", self.next_token.clone())
});

/// Answer of `ListVpcEndpoints`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListVpcEndpointsResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub endpoints: Vec<EndpointAttributes>,
}

/// `AddZoneToVpcEndpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddZoneToVpcEndpoint {
    pub region_id: String,
    pub endpoint_id: String,
    pub zone: ZoneParam,
}

operation!(
    AddZoneToVpcEndpoint,
    "AddZoneToVpcEndpoint",
    true,
    Empty,
    done = ["EndpointZoneDuplicated"],
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("EndpointId", &self.endpoint_id)
            .put("ZoneId", &self.zone.zone_id)
            .put("VSwitchId", &self.zone.v_switch_id)
            .opt("ip", self.zone.ip.clone())
    }
);

/// `RemoveZoneFromVpcEndpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveZoneFromVpcEndpoint {
    pub region_id: String,
    pub endpoint_id: String,
    pub zone_id: String,
}

operation!(
    RemoveZoneFromVpcEndpoint,
    "RemoveZoneFromVpcEndpoint",
    true,
    Empty,
    done = ["EndpointZoneNotFound"],
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("EndpointId", &self.endpoint_id)
            .put("ZoneId", &self.zone_id)
    }
);

/// `ListVpcEndpointZones`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVpcEndpointZones {
    pub region_id: String,
    pub endpoint_id: String,
    pub next_token: Option<String>,
}

operation!(ListVpcEndpointZones, "ListVpcEndpointZones", false, ListVpcEndpointZonesResponse, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("EndpointId", &self.endpoint_id)
        .put("MaxResults", "50")
        .opt("NextToken", self.next_token.clone())
});

/// A zone row of `ListVpcEndpointZones`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointZoneRow {
    pub zone_id: String,
    pub v_switch_id: Option<String>,
    pub eni_id: Option<String>,
    pub eni_ip: Option<String>,
    pub zone_domain: Option<String>,
    pub zone_status: Option<String>,
}

/// Answer of `ListVpcEndpointZones`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListVpcEndpointZonesResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub zones: Vec<EndpointZoneRow>,
}

/// `AttachSecurityGroupToVpcEndpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachSecurityGroup {
    pub region_id: String,
    pub endpoint_id: String,
    pub security_group_id: String,
}

operation!(
    AttachSecurityGroup,
    "AttachSecurityGroupToVpcEndpoint",
    true,
    Empty,
    done = ["SecurityGroupExist"],
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("EndpointId", &self.endpoint_id)
            .put("SecurityGroupId", &self.security_group_id)
    }
);

/// `DetachSecurityGroupFromVpcEndpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachSecurityGroup {
    pub region_id: String,
    pub endpoint_id: String,
    pub security_group_id: String,
}

operation!(DetachSecurityGroup, "DetachSecurityGroupFromVpcEndpoint", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("EndpointId", &self.endpoint_id)
        .put("SecurityGroupId", &self.security_group_id)
});

/// `ListVpcEndpointSecurityGroups`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVpcEndpointSecurityGroups {
    pub region_id: String,
    pub endpoint_id: String,
    pub next_token: Option<String>,
}

operation!(
    ListVpcEndpointSecurityGroups,
    "ListVpcEndpointSecurityGroups",
    false,
    ListVpcEndpointSecurityGroupsResponse,
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("EndpointId", &self.endpoint_id)
            .put("MaxResults", "50")
            .opt("NextToken", self.next_token.clone())
    }
);

/// A row of `ListVpcEndpointSecurityGroups`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSecurityGroupRow {
    pub security_group_id: String,
    pub security_group_status: Option<String>,
}

/// Answer of `ListVpcEndpointSecurityGroups`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListVpcEndpointSecurityGroupsResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub security_groups: Vec<EndpointSecurityGroupRow>,
}

/// `TagResources` on an endpoint (resource type `vpcendpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagEndpoint {
    pub region_id: String,
    pub endpoint_id: String,
    pub tags: Vec<TagParam>,
}

operation!(TagEndpoint, "TagResources", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ResourceType", "vpcendpoint")
        .list("ResourceId", &[&self.endpoint_id])
        .structs("Tag", &self.tags, tag_fields)
});
