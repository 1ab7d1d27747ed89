//! The `VpcEndpoint` custom resource (types only): the consumer side of PrivateLink.
//!
//! The spec mirrors `CreateVpcEndpoint` (`privatelink` 2020-04-15). What the API server can check is
//! checked at admission (schema + CEL); immutable fields are immutable there.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DeletionPolicy, ExportTo, ManagementPolicy, SecretRef, Tag, conditions_schema};

/// Finalizer that guards deletion of the cloud endpoint.
pub const ENDPOINT_FINALIZER: &str = "vpcendpoint.privatelink.alicloud.dev/cleanup";

/// Desired state of an Alibaba Cloud PrivateLink interface endpoint.
#[allow(clippy::duplicated_attributes)] // repeated `printcolumn(type_ = ...)` keys are intended
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "privatelink.alicloud.dev",
    version = "v1alpha1",
    kind = "VpcEndpoint",
    namespaced,
    status = "VpcEndpointStatus",
    shortname = "vpce",
    category = "alicloud",
    category = "privatelink",
    derive = "PartialEq",
    doc = "An Alibaba Cloud PrivateLink interface endpoint (CreateVpcEndpoint) that connects a VPC to an endpoint service, managed declaratively.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.endpointStatus"),
    printcolumn(name = "Connection", type_ = "string", json_path = ".status.connectionStatus"),
    printcolumn(name = "EndpointId", type_ = "string", json_path = ".status.endpointId"),
    printcolumn(name = "EndpointDomain", type_ = "string", json_path = ".status.endpointDomain"),
    printcolumn(name = "ServiceId", type_ = "string", json_path = ".status.serviceId", priority = 1),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new(
    "[has(self.serviceRef), has(self.serviceId), has(self.serviceName)].filter(x, x).size() == 1"
).message("give exactly one of serviceRef, serviceId and serviceName"))]
#[x_kube(validation = Rule::new(
    "has(self.serviceRef) == has(oldSelf.serviceRef) && has(self.serviceId) == has(oldSelf.serviceId) && has(self.serviceName) == has(oldSelf.serviceName)"
).message("the endpoint service of an endpoint is immutable; create a new VpcEndpoint to connect to another service"))]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpointSpec {
    /// Region of the endpoint (and of the service it connects to), e.g. `cn-hangzhou`. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("regionId is immutable; create a new VpcEndpoint to use another region"))]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region_id: String,

    /// A `VpcEndpointService` in this cluster to connect to; its `status.serviceId` is used once known
    /// (the endpoint waits until that service is Ready). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceRef is immutable; create a new VpcEndpoint to connect to another service"))]
    pub service_ref: Option<EndpointServiceRef>,

    /// ID of the endpoint service to connect to (another account or cluster), e.g. `epsrv-xxxx`.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceId is immutable; create a new VpcEndpoint to connect to another service"))]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^epsrv-[a-z0-9]+$"))]
    pub service_id: Option<String>,

    /// Name of the endpoint service to connect to, e.g.
    /// `com.aliyuncs.privatelink.cn-hangzhou.epsrv-xxxx`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceName is immutable; create a new VpcEndpoint to connect to another service"))]
    #[schemars(length(min = 1, max = 256))]
    pub service_name: Option<String>,

    /// VPC the endpoint is created in, e.g. `vpc-xxxx`. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("vpcId is immutable; create a new VpcEndpoint to use another VPC"))]
    #[schemars(length(min = 1, max = 64))]
    pub vpc_id: String,

    /// Security groups of the endpoint's network interfaces (1 to 10, all of one type). Kept equal to
    /// this list: new groups are attached before removed ones are detached.
    #[schemars(length(min = 1, max = 10), inner(length(min = 1, max = 64)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub security_group_ids: Vec<String>,

    /// Zones of the endpoint (at most 10): a network interface in `vSwitchId`, optionally at `ip`.
    /// Zones are added and removed to match; a zone's vSwitch and IP are immutable (remove the zone,
    /// then add it again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["zoneId"]))]
    pub zones: Vec<EndpointZoneSpec>,

    /// Type of the endpoint: `Interface` (the only type, default). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("endpointType is immutable"))]
    pub endpoint_type: Option<EndpointType>,

    /// Name of the endpoint: 2–128 characters, starting with a letter, then letters, digits, `-` or `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 128), regex(pattern = r"^[A-Za-z\p{Han}][A-Za-z0-9\p{Han}_-]*$"))]
    pub endpoint_name: Option<String>,

    /// Description of the endpoint (2–256 characters, must not start with `http://` or `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('http://') && !self.startsWith('https://')").message("endpointDescription must not start with http:// or https://"))]
    #[schemars(length(min = 2, max = 256))]
    pub endpoint_description: Option<String>,

    /// Private IP addresses per zone: only `1` is supported. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("zonePrivateIpAddressCount is immutable"))]
    pub zone_private_ip_address_count: Option<i64>,

    /// Managed protection: only the identity that created the endpoint (through STS) may change or
    /// delete it. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("protectedEnabled is immutable"))]
    pub protected_enabled: Option<bool>,

    /// Resource group of the endpoint, e.g. `rg-acfmy*****`. Set at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub resource_group_id: Option<String>,

    /// Tags of the endpoint (at most 19; the operator reserves one for its ownership tag
    /// `privatelink.alicloud.dev/owner-uid`). Keys are unique. Set at creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 19))]
    #[x_kube(validation = Rule::new("self.all(t, self.exists_one(o, o.key == t.key))").message("tag keys must be unique"))]
    pub tags: Vec<Tag>,

    /// Secret in this namespace with the Alibaba Cloud credentials of the consumer's account (keys
    /// `accessKeyId`, `accessKeySecret` and optionally `securityToken`). When unset, the operator's own
    /// credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// What happens to the endpoint when this object is deleted: `Delete` (default) removes its zones
    /// and deletes it, `Orphan` leaves it in Alibaba Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// `Full` (default): the operator creates, updates, corrects and deletes the endpoint. `Observe`: it
    /// only finds the endpoint (by the `privatelink.alicloud.dev/adopt-endpoint-id` annotation, the
    /// recorded ID or the ownership tag) and reports it; nothing is written to the cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,

    /// Publish the endpoint's ID and domains in a ConfigMap of this namespace (keys `endpointId`,
    /// `endpointDomain`, `serviceId`, `regionId` and `zoneDomain.<zoneId>`), for applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<ExportTo>,
}

/// A `VpcEndpointService` in this cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct EndpointServiceRef {
    /// Name of the `VpcEndpointService`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Its namespace (default: this object's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// A zone of the endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.vSwitchId == oldSelf.vSwitchId").message("a zone's vSwitchId is immutable; remove the zone and add it again").field_path(".vSwitchId"))]
#[x_kube(validation = Rule::new("has(self.ip) == has(oldSelf.ip) && (!has(self.ip) || self.ip == oldSelf.ip)").message("a zone's ip is immutable; remove the zone and add it again").field_path(".ip"))]
pub struct EndpointZoneSpec {
    /// Zone, e.g. `cn-hangzhou-h`. The service must have a backend in it.
    #[schemars(length(min = 1, max = 64))]
    pub zone_id: String,
    /// vSwitch of the endpoint's network interface in that zone.
    #[schemars(length(min = 1, max = 64))]
    pub v_switch_id: String,
    /// IPv4 address of the network interface (default: assigned by the vSwitch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 7, max = 15), regex(pattern = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"))]
    pub ip: Option<String>,
}

/// Endpoint type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum EndpointType {
    /// An interface endpoint (network interfaces in the consumer's VPC).
    Interface,
}

/// Observed state of the endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpointStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` (the endpoint is Active, its connection is Connected and it matches the
    /// spec), `Synced`, `Reconciling` and `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// ID of the endpoint, e.g. `ep-hp33b2e43fays7s8****`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// Domain name of the endpoint (resolves to the network interfaces of every zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_domain: Option<String>,
    /// Cloud-side state: `Creating`, `Active`, `Pending` (being modified) or `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_status: Option<String>,
    /// Cloud-side business state: `Normal` or `FinancialLocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_business_status: Option<String>,
    /// State of the connection to the service: `Pending` (awaiting the service owner), `Connecting`,
    /// `Connected`, `Disconnecting`, `Disconnected`, `Deleting` or `ServiceDeleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_status: Option<String>,
    /// ID of the endpoint service the endpoint connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// Name of the endpoint service the endpoint connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The endpoint's zones: network interface IP, per-zone domain and state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<EndpointZoneStatus>,
    /// Region the endpoint was created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Alibaba Cloud account that owns the endpoint. Credentials of another account never create or
    /// delete anything for this object (`AccountMismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// ID of a previous endpoint of this object that was deleted outside Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_endpoint_id: Option<String>,
    /// The credentials Secret this object protects with the finalizer
    /// `privatelink.alicloud.dev/credentials-in-use` until the endpoint is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_secret: Option<String>,
    /// ClientToken of this object's Create, written before the call so that every retry sends the same
    /// one and Alibaba never creates a second endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_client_token: Option<String>,
    /// The last value of the annotation `privatelink.alicloud.dev/reconcile-requested-at` handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The ConfigMap this object exported to (`spec.exportTo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_config_map: Option<String>,
}

/// A zone of the endpoint as Alibaba Cloud reports it (`ListVpcEndpointZones`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointZoneStatus {
    /// Zone.
    pub zone_id: String,
    /// vSwitch of the network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_switch_id: Option<String>,
    /// IP address of the network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Domain name that resolves to this zone's network interface only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `Creating`, `Wait`, `Connected`, `Deleting`, `Disconnecting`, `Disconnected` or `Connecting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl VpcEndpoint {
    /// Region recorded at creation, falling back to the spec.
    pub fn region(&self) -> &str {
        self.status.as_ref().and_then(|s| s.region_id.as_deref()).unwrap_or(&self.spec.region_id)
    }

    /// The cloud ID, once known.
    pub fn endpoint_id(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.endpoint_id.as_deref())
    }
}
