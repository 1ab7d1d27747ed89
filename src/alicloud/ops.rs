//! Typed requests and responses of the PrivateLink API (version 2020-04-15).
//!
//! Each request implements [`Operation`]: its action name, its wire parameters and its response type.
//! Responses deserialize tolerantly (every field defaults) because Alibaba adds fields over time.

use serde::{Deserialize, de::DeserializeOwned};

use super::params::Params;

/// One PrivateLink API action.
pub trait Operation {
    /// The response body type.
    type Response: DeserializeOwned;
    /// Action name, e.g. `CreateVpcEndpointService`.
    const ACTION: &'static str;
    /// Whether the call changes cloud state (metrics label and rate-limit accounting).
    const MUTATING: bool;
    /// Region the call goes to (selects the endpoint).
    fn region(&self) -> &str;
    /// Operation parameters in wire form.
    fn params(&self) -> Params;
    /// Error codes that mean the change is already in place (the answer to a retry whose first attempt
    /// committed but whose response was lost): the client reports them as success.
    const DONE_CODES: &'static [&'static str] = &[];
    /// The product the call goes to.
    const PRODUCT: Product = Product::PrivateLink;
}

/// Which Alibaba Cloud API a call belongs to: its version and endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// PrivateLink `2020-04-15`, regional endpoint.
    PrivateLink,
    /// STS `2015-04-01`, the STS endpoint.
    Sts,
}

impl Product {
    /// API version.
    pub fn version(self) -> &'static str {
        match self {
            Product::PrivateLink => super::client::API_VERSION,
            Product::Sts => "2015-04-01",
        }
    }
}

/// Implements [`Operation`] for a request type with a `region_id` field.
macro_rules! operation {
    ($ty:ty, $action:literal, $mutating:literal, $resp:ty, |$s:ident| $params:block) => {
        operation!($ty, $action, $mutating, $resp, done = [], |$s| $params);
    };
    ($ty:ty, $action:literal, $mutating:literal, $resp:ty, done = [$($done:literal),*], |$s:ident| $params:block) => {
        impl Operation for $ty {
            type Response = $resp;
            const ACTION: &'static str = $action;
            const MUTATING: bool = $mutating;
            const DONE_CODES: &'static [&'static str] = &[$($done),*];
            fn region(&self) -> &str {
                &self.region_id
            }
            fn params(&$s) -> Params $params
        }
    };
}

/// A backend resource of an endpoint service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceParam {
    /// `slb`, `alb`, `nlb` or `gwlb`.
    pub resource_type: String,
    /// Load balancer ID.
    pub resource_id: String,
    /// Zone, required for alb/nlb/gwlb.
    pub zone_id: Option<String>,
}

/// A tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagParam {
    /// Tag key.
    pub key: String,
    /// Tag value.
    #[serde(default)]
    pub value: String,
}

/// `CreateVpcEndpointService`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateVpcEndpointService {
    pub region_id: String,
    pub client_token: Option<String>,
    pub dry_run: Option<bool>,
    pub auto_accept_enabled: Option<bool>,
    pub payer: Option<String>,
    pub service_resource_type: Option<String>,
    pub service_description: Option<String>,
    pub zone_affinity_enabled: Option<bool>,
    pub address_ip_version: Option<String>,
    pub resource_group_id: Option<String>,
    pub supported_region_list: Vec<String>,
    pub resources: Vec<ResourceParam>,
    pub tags: Vec<TagParam>,
}

fn resource_fields(r: &ResourceParam) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("ResourceType", Some(r.resource_type.clone())),
        ("ResourceId", Some(r.resource_id.clone())),
        ("ZoneId", r.zone_id.clone()),
    ]
}

fn tag_fields(t: &TagParam) -> Vec<(&'static str, Option<String>)> {
    vec![("Key", Some(t.key.clone())), ("Value", Some(t.value.clone()))]
}

impl CreateVpcEndpointService {
    /// Parameters without the ClientToken: what the token is derived from.
    pub fn identity_params(&self) -> Params {
        Params::new()
            .put("RegionId", &self.region_id)
            .opt_bool("AutoAcceptEnabled", self.auto_accept_enabled)
            .opt("Payer", self.payer.clone())
            .opt("ServiceResourceType", self.service_resource_type.clone())
            .opt("ServiceDescription", self.service_description.clone())
            .opt_bool("ZoneAffinityEnabled", self.zone_affinity_enabled)
            .opt("AddressIpVersion", self.address_ip_version.clone())
            .opt("ResourceGroupId", self.resource_group_id.clone())
            .list("SupportedRegionList", &self.supported_region_list)
            .structs("Resource", &self.resources, resource_fields)
            .structs("Tag", &self.tags, tag_fields)
    }
}

operation!(
    CreateVpcEndpointService,
    "CreateVpcEndpointService",
    true,
    CreateVpcEndpointServiceResponse,
    |self| {
        let mut p = self.identity_params().opt("ClientToken", self.client_token.clone());
        p = p.opt_bool("DryRun", self.dry_run);
        p
    }
);

/// Answer of `CreateVpcEndpointService`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateVpcEndpointServiceResponse {
    pub request_id: String,
    pub service_id: String,
    pub service_name: Option<String>,
    pub service_domain: Option<String>,
    pub service_status: Option<String>,
    pub service_business_status: Option<String>,
    pub create_time: Option<String>,
}

/// `GetVpcEndpointServiceAttribute`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetVpcEndpointServiceAttribute {
    pub region_id: String,
    pub service_id: String,
}

operation!(
    GetVpcEndpointServiceAttribute,
    "GetVpcEndpointServiceAttribute",
    false,
    ServiceAttributes,
    |self| { Params::new().put("RegionId", &self.region_id).put("ServiceId", &self.service_id) }
);

/// A supported region entry of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SupportedRegion {
    pub supported_region_id: String,
    pub service_region_id: Option<String>,
    pub region_service_status: Option<String>,
}

/// Attributes of an endpoint service, as Get (and, without zones, List) report them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceAttributes {
    pub request_id: String,
    pub service_id: String,
    pub service_name: Option<String>,
    pub service_domain: Option<String>,
    pub service_description: Option<String>,
    pub service_status: Option<String>,
    pub service_business_status: Option<String>,
    pub service_resource_type: Option<String>,
    pub payer: Option<String>,
    pub region_id: Option<String>,
    pub resource_group_id: Option<String>,
    pub create_time: Option<String>,
    pub auto_accept_enabled: Option<bool>,
    pub zone_affinity_enabled: Option<bool>,
    pub address_ip_version: Option<String>,
    pub connect_bandwidth: Option<i64>,
    pub zones: Vec<String>,
    pub supported_region_set: Vec<SupportedRegion>,
    pub tags: Vec<TagParam>,
}

impl ServiceAttributes {
    /// The typed `ServiceStatus` (absent reads as an unknown, unsettled state).
    pub fn status(&self) -> super::vocab::ServiceStatus {
        super::vocab::ServiceStatus::parse(self.service_status.as_deref().unwrap_or_default())
    }
    /// The typed `ServiceBusinessStatus` (absent reads as `Normal`).
    pub fn business_status(&self) -> super::vocab::BusinessStatus {
        super::vocab::BusinessStatus::parse(self.service_business_status.as_deref().unwrap_or("Normal"))
    }
}

/// `UpdateVpcEndpointServiceAttribute`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateVpcEndpointServiceAttribute {
    pub region_id: String,
    pub service_id: String,
    pub client_token: Option<String>,
    pub auto_accept_enabled: Option<bool>,
    pub service_description: Option<String>,
    pub zone_affinity_enabled: Option<bool>,
    pub connect_bandwidth: Option<i64>,
    pub address_ip_version: Option<String>,
    pub add_supported_region_set: Vec<String>,
    pub delete_supported_region_set: Vec<String>,
}

impl UpdateVpcEndpointServiceAttribute {
    /// Whether the request would change anything.
    pub fn is_empty(&self) -> bool {
        self.auto_accept_enabled.is_none()
            && self.service_description.is_none()
            && self.zone_affinity_enabled.is_none()
            && self.connect_bandwidth.is_none()
            && self.address_ip_version.is_none()
            && self.add_supported_region_set.is_empty()
            && self.delete_supported_region_set.is_empty()
    }
}

operation!(UpdateVpcEndpointServiceAttribute, "UpdateVpcEndpointServiceAttribute", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ServiceId", &self.service_id)
        .opt("ClientToken", self.client_token.clone())
        .opt_bool("AutoAcceptEnabled", self.auto_accept_enabled)
        .opt("ServiceDescription", self.service_description.clone())
        .opt_bool("ZoneAffinityEnabled", self.zone_affinity_enabled)
        .opt_int("ConnectBandwidth", self.connect_bandwidth)
        .opt("AddressIpVersion", self.address_ip_version.clone())
        .list("AddSupportedRegionSet", &self.add_supported_region_set)
        .list("DeleteSupportedRegionSet", &self.delete_supported_region_set)
});

/// `DeleteVpcEndpointService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteVpcEndpointService {
    pub region_id: String,
    pub service_id: String,
}

operation!(DeleteVpcEndpointService, "DeleteVpcEndpointService", true, Empty, |self| {
    Params::new().put("RegionId", &self.region_id).put("ServiceId", &self.service_id)
});

/// `ListVpcEndpointServices`, filtered (used to adopt by ownership tag).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVpcEndpointServices {
    pub region_id: String,
    pub service_id: Option<String>,
    pub tags: Vec<TagParam>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

operation!(
    ListVpcEndpointServices,
    "ListVpcEndpointServices",
    false,
    ListVpcEndpointServicesResponse,
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .opt("ServiceId", self.service_id.clone())
            .structs("Tag", &self.tags, tag_fields)
            .opt_int("MaxResults", self.max_results)
            .opt("NextToken", self.next_token.clone())
    }
);

/// Answer of `ListVpcEndpointServices`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListVpcEndpointServicesResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub services: Vec<ServiceAttributes>,
}

/// `TagResources` on endpoint services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagResources {
    pub region_id: String,
    pub service_id: String,
    pub tags: Vec<TagParam>,
}

operation!(TagResources, "TagResources", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ResourceType", "vpcendpointservice")
        .list("ResourceId", &[&self.service_id])
        .structs("Tag", &self.tags, tag_fields)
});

/// `UntagResources` on an endpoint service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntagResources {
    pub region_id: String,
    pub service_id: String,
    pub tag_keys: Vec<String>,
}

operation!(UntagResources, "UntagResources", true, Empty, done = ["TagInfoNotExist"], |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ResourceType", "vpcendpointservice")
        .list("ResourceId", &[&self.service_id])
        .list("TagKey", &self.tag_keys)
});

/// `ListTagResources` of one endpoint service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListTagResources {
    pub region_id: String,
    pub service_id: String,
    pub next_token: Option<String>,
}

operation!(ListTagResources, "ListTagResources", false, ListTagResourcesResponse, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ResourceType", "vpcendpointservice")
        .list("ResourceId", &[&self.service_id])
        .opt("NextToken", self.next_token.clone())
});

/// One tag row of `ListTagResources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResource {
    pub resource_id: String,
    pub tag_key: String,
    pub tag_value: String,
}

/// Answer of `ListTagResources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagResourcesResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub tag_resources: Vec<TagResource>,
}

/// `AttachResourceToVpcEndpointService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachResource {
    pub region_id: String,
    pub service_id: String,
    pub resource: ResourceParam,
}

operation!(
    AttachResource,
    "AttachResourceToVpcEndpointService",
    true,
    Empty,
    done = ["EndpointServiceResourceExist"],
    |self| { resource_change_params(&self.region_id, &self.service_id, &self.resource) }
);

/// `DetachResourceFromVpcEndpointService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachResource {
    pub region_id: String,
    pub service_id: String,
    pub resource: ResourceParam,
}

operation!(
    DetachResource,
    "DetachResourceFromVpcEndpointService",
    true,
    Empty,
    done = ["EndpointServiceResourceNotFound"],
    |self| { resource_change_params(&self.region_id, &self.service_id, &self.resource) }
);

fn resource_change_params(region_id: &str, service_id: &str, r: &ResourceParam) -> Params {
    Params::new()
        .put("RegionId", region_id)
        .put("ServiceId", service_id)
        .put("ResourceId", &r.resource_id)
        .put("ResourceType", &r.resource_type)
        .opt("ZoneId", r.zone_id.clone())
}

/// `ListVpcEndpointServiceResources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListServiceResources {
    pub region_id: String,
    pub service_id: String,
    pub next_token: Option<String>,
}

operation!(
    ListServiceResources,
    "ListVpcEndpointServiceResources",
    false,
    ListServiceResourcesResponse,
    |self| {
        Params::new()
            .put("RegionId", &self.region_id)
            .put("ServiceId", &self.service_id)
            .opt("NextToken", self.next_token.clone())
    }
);

/// A resource row of `ListVpcEndpointServiceResources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceResourceRow {
    pub resource_id: String,
    pub resource_type: String,
    pub zone_id: Option<String>,
}

/// Answer of `ListVpcEndpointServiceResources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListServiceResourcesResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub resources: Vec<ServiceResourceRow>,
}

/// `ChangeResourceGroup` of an endpoint service (the SDK sends no RegionId; we still route by region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeResourceGroup {
    pub region_id: String,
    pub service_id: String,
    pub resource_group_id: String,
}

operation!(ChangeResourceGroup, "ChangeResourceGroup", true, Empty, |self| {
    Params::new()
        .put("ResourceId", &self.service_id)
        .put("ResourceGroupId", &self.resource_group_id)
        .put("ResourceType", "VpcEndpointService")
});

/// A response with only a `RequestId`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Empty {
    pub request_id: String,
}

/// `ListVpcEndpointConnections` of one service (provider side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListConnections {
    pub region_id: String,
    pub service_id: String,
    pub next_token: Option<String>,
}

operation!(ListConnections, "ListVpcEndpointConnections", false, ListConnectionsResponse, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ServiceId", &self.service_id)
        .put("MaxResults", "50")
        .opt("NextToken", self.next_token.clone())
});

/// A connection row of `ListVpcEndpointConnections`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConnectionRow {
    pub endpoint_id: String,
    pub endpoint_owner_id: Option<u64>,
    pub connection_status: String,
    pub bandwidth: Option<i64>,
    pub zones: Vec<ConnectionZone>,
}

/// A zone of a connection: where the consumer's network interface reaches the service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConnectionZone {
    pub zone_id: String,
    pub resource_id: String,
}

impl ConnectionRow {
    /// The typed status.
    pub fn status(&self) -> super::vocab::ConnectionStatus {
        super::vocab::ConnectionStatus::parse(&self.connection_status)
    }
}

/// Answer of `ListVpcEndpointConnections`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListConnectionsResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub connections: Vec<ConnectionRow>,
}

/// Who may connect to a service: an account ID (`UserId`) or a RAM principal ARN (`UserARN`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    Account(u64),
    Arn(String),
}

impl Principal {
    /// A spec entry: 16 digits is an account ID, anything else (admission checked the form) an ARN.
    pub fn parse(s: &str) -> Self {
        match s.parse::<u64>() {
            Ok(id) if !s.starts_with('+') => Principal::Account(id),
            _ => Principal::Arn(s.to_string()),
        }
    }

    fn put(&self, p: Params) -> Params {
        match self {
            Principal::Account(id) => p.put("UserId", id.to_string()),
            Principal::Arn(arn) => p.put("UserARN", arn),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Account(id) => write!(f, "{id}"),
            Principal::Arn(arn) => f.write_str(arn),
        }
    }
}

/// `AddUserToVpcEndpointService`: allow a principal to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddUser {
    pub region_id: String,
    pub service_id: String,
    pub principal: Principal,
}

operation!(AddUser, "AddUserToVpcEndpointService", true, Empty, |self| {
    self.principal.put(Params::new().put("RegionId", &self.region_id).put("ServiceId", &self.service_id))
});

/// `RemoveUserFromVpcEndpointService`: no longer allow a principal to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveUser {
    pub region_id: String,
    pub service_id: String,
    pub principal: Principal,
}

operation!(RemoveUser, "RemoveUserFromVpcEndpointService", true, Empty, |self| {
    self.principal.put(Params::new().put("RegionId", &self.region_id).put("ServiceId", &self.service_id))
});

/// Which list `ListVpcEndpointServiceUsers` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserListType {
    Users,
    UserArns,
}

/// `ListVpcEndpointServiceUsers`: one page of the service's account IDs or of its principal ARNs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListUsers {
    pub region_id: String,
    pub service_id: String,
    pub list_type: UserListType,
    pub next_token: Option<String>,
}

operation!(ListUsers, "ListVpcEndpointServiceUsers", false, ListUsersResponse, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ServiceId", &self.service_id)
        .put(
            "UserListType",
            match self.list_type {
                UserListType::Users => "Users",
                UserListType::UserArns => "UserARNs",
            },
        )
        .put("MaxResults", "50")
        .opt("NextToken", self.next_token.clone())
});

/// A row of `Users`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserRow {
    pub user_id: Option<u64>,
}

/// A row of `UserARNs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UserArnRow {
    #[serde(rename = "UserARN")]
    pub user_arn: Option<String>,
}

/// Answer of `ListVpcEndpointServiceUsers`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListUsersResponse {
    pub request_id: String,
    pub next_token: Option<String>,
    pub users: Vec<UserRow>,
    #[serde(rename = "UserARNs")]
    pub user_arns: Vec<UserArnRow>,
}

impl ListUsersResponse {
    /// The principals of this page.
    pub fn principals(&self) -> Vec<Principal> {
        let ids = self.users.iter().filter_map(|u| u.user_id).map(Principal::Account);
        let arns = self.user_arns.iter().filter_map(|a| a.user_arn.clone()).map(Principal::Arn);
        ids.chain(arns).collect()
    }
}

/// `EnableVpcEndpointConnection`: the provider accepts a connection (Connecting → Connected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnableConnection {
    pub region_id: String,
    pub service_id: String,
    pub endpoint_id: String,
}

operation!(EnableConnection, "EnableVpcEndpointConnection", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ServiceId", &self.service_id)
        .put("EndpointId", &self.endpoint_id)
});

/// `DisableVpcEndpointConnection`: the provider rejects or cuts a connection (Disconnecting →
/// Disconnected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisableConnection {
    pub region_id: String,
    pub service_id: String,
    pub endpoint_id: String,
}

operation!(DisableConnection, "DisableVpcEndpointConnection", true, Empty, |self| {
    Params::new()
        .put("RegionId", &self.region_id)
        .put("ServiceId", &self.service_id)
        .put("EndpointId", &self.endpoint_id)
});

// ---- Consumer side: see `endpoints` ----

/// STS `GetCallerIdentity`: which account the credentials belong to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetCallerIdentity {
    /// Unused by STS (a global API); kept for the client's per-region routing signature.
    pub region_id: String,
}

impl Operation for GetCallerIdentity {
    type Response = CallerIdentity;
    const ACTION: &'static str = "GetCallerIdentity";
    const MUTATING: bool = false;
    const PRODUCT: Product = Product::Sts;
    fn region(&self) -> &str {
        &self.region_id
    }
    fn params(&self) -> Params {
        Params::new()
    }
}

/// Answer of `GetCallerIdentity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CallerIdentity {
    pub request_id: String,
    pub account_id: String,
    pub arn: String,
    pub identity_type: String,
}

pub mod endpoints;
pub use endpoints::*;
