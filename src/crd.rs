//! The `VpcEndpointService` custom resource (types only).
//!
//! The spec mirrors the request parameters of Alibaba Cloud's `CreateVpcEndpointService`
//! (`privatelink` 2020-04-15). Every constraint the API documents and the API server can check is
//! expressed here (schema + CEL), so bad input is rejected at admission and never reaches the cloud.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod endpoint;
pub use endpoint::{
    ENDPOINT_FINALIZER, EndpointServiceRef, EndpointType, EndpointZoneSpec, EndpointZoneStatus, VpcEndpoint,
    VpcEndpointSpec, VpcEndpointStatus,
};

/// API group of our resources.
pub const GROUP: &str = "privatelink.alicloud.dev";
/// Finalizer that guards deletion of the cloud resource.
pub const FINALIZER: &str = "vpcendpointservice.privatelink.alicloud.dev/cleanup";
/// Tag the operator puts on every endpoint service it creates: the UID of the owning object.
/// It makes adoption after a lost Create response safe and lets users find the owner of a service.
pub const OWNER_TAG_KEY: &str = "privatelink.alicloud.dev/owner-uid";
/// Maximum tags a user may set: Alibaba allows 20 per service, one is reserved for [`OWNER_TAG_KEY`].
pub const MAX_USER_TAGS: usize = 19;

/// Desired state of an Alibaba Cloud PrivateLink endpoint service.
#[allow(clippy::duplicated_attributes)] // repeated `printcolumn(type_ = ...)` keys are intended
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "privatelink.alicloud.dev",
    version = "v1alpha1",
    kind = "VpcEndpointService",
    namespaced,
    status = "VpcEndpointServiceStatus",
    shortname = "epsrv",
    category = "alicloud",
    category = "privatelink",
    derive = "PartialEq",
    doc = "An Alibaba Cloud PrivateLink endpoint service (CreateVpcEndpointService), managed declaratively.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.serviceStatus"),
    printcolumn(name = "ServiceId", type_ = "string", json_path = ".status.serviceId"),
    printcolumn(name = "ServiceDomain", type_ = "string", json_path = ".status.serviceDomain"),
    printcolumn(
        name = "Connected",
        type_ = "integer",
        json_path = ".status.connectionCounts.Connected",
        priority = 1
    ),
    printcolumn(
        name = "Pending",
        type_ = "integer",
        json_path = ".status.connectionCounts.Pending",
        priority = 1
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new(
    "!has(self.addressIpVersion) || self.addressIpVersion != 'DualStack' || self.serviceResourceType in ['nlb', 'gwlb']"
).message("addressIpVersion DualStack requires serviceResourceType nlb or gwlb").field_path(".addressIpVersion"))]
#[x_kube(validation = Rule::new(
    "!has(self.resources) || self.resources.all(r, !has(r.resourceType) || r.resourceType == self.serviceResourceType)"
).message("every resources[].resourceType must equal serviceResourceType").field_path(".resources"))]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpointServiceSpec {
    /// Region of the endpoint service, e.g. `cn-hangzhou`. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("regionId is immutable; create a new VpcEndpointService to use another region"))]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region_id: String,

    /// Description of the endpoint service (at most 180 characters, must not start with `http://` or `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!self.startsWith('http://') && !self.startsWith('https://')").message("serviceDescription must not start with http:// or https://"))]
    #[schemars(length(max = 180))]
    pub service_description: Option<String>,

    /// Accept endpoint connection requests automatically. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept_enabled: Option<bool>,

    /// Who pays for the endpoint connections: `Endpoint` (the consumer, default) or `EndpointService`.
    /// Immutable.
    #[serde(default = "default_payer")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("payer is immutable; create a new VpcEndpointService to change it"))]
    pub payer: Payer,

    /// Resolve the endpoint domain to an IP in the caller's zone first. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_affinity_enabled: Option<bool>,

    /// Type of the backend resources: `slb` (CLB, default), `alb`, `nlb` or `gwlb`. Immutable.
    #[serde(default = "default_resource_type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceResourceType is immutable; create a new VpcEndpointService to change it"))]
    pub service_resource_type: ResourceType,

    /// Backend resources of the service (at most 20): load balancer IDs or `Service`s of type
    /// LoadBalancer. Resources can be attached and detached later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(r, self.exists_one(o, (has(o.resourceId) ? o.resourceId : '') == (has(r.resourceId) ? r.resourceId : '') && (has(o.serviceRef) ? o.serviceRef.name : '') == (has(r.serviceRef) ? r.serviceRef.name : '') && (has(o.zoneId) ? o.zoneId : '') == (has(r.zoneId) ? r.zoneId : '')))").message("resources must not contain the same resourceId (or serviceRef) and zoneId twice"))]
    pub resources: Vec<ServiceResource>,

    /// IP version of the service: `IPv4` (default) or `DualStack` (nlb and gwlb only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_ip_version: Option<AddressIpVersion>,

    /// Resource group of the service, e.g. `rg-acfmy*****`. Changing it moves the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub resource_group_id: Option<String>,

    /// Tags of the service (at most 19; Alibaba allows 20 and the operator reserves one for its
    /// ownership tag `privatelink.alicloud.dev/owner-uid`). Keys are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 19))]
    #[x_kube(validation = Rule::new("self.all(t, self.exists_one(o, o.key == t.key))").message("tag keys must be unique"))]
    pub tags: Vec<Tag>,

    /// Regions from which the service may be reached across regions (cross-region connectivity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$")))]
    pub supported_regions: Vec<String>,

    /// Default bandwidth of endpoint connections in Mbit/s (100–10240). CLB and ALB services only;
    /// applied after creation with UpdateVpcEndpointServiceAttribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 10240))]
    pub connect_bandwidth: Option<i32>,

    /// Secret in this namespace with the Alibaba Cloud credentials (keys `accessKeyId`, `accessKeySecret`
    /// and optionally `securityToken`). When unset, the operator's own credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// What happens to the cloud resource when this object is deleted: `Delete` (default) deletes the
    /// endpoint service, `Orphan` leaves it in Alibaba Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// `Full` (default): the operator creates, updates, corrects and deletes the service. `Observe`: it
    /// only finds the service (by the `privatelink.alicloud.dev/adopt-service-id` annotation, the
    /// recorded ID or the ownership tag) and reports it in status; nothing is ever written to the
    /// cloud, and deleting this object never deletes the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,

    /// Who may connect: account IDs (16 digits) or RAM principal ARNs (`acs:ram:*:<account-id>:*`,
    /// `acs:ram::<account-id>:role/<name>`). Declarative: the service's whitelist is kept equal to this
    /// list (principals added elsewhere are removed). Absent: the operator leaves the whitelist alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 100),
        inner(length(max = 256), regex(pattern = r"^([0-9]{16}|acs:ram:[a-z0-9-*]*:([0-9]{16}|\*):.+)$"))
    )]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(o, o == p))").message("allowedPrincipals must not repeat an entry"))]
    pub allowed_principals: Option<Vec<String>>,

    /// Which connection requests the operator accepts or rejects. Entries are account IDs (16 digits)
    /// or endpoint IDs (`ep-...`); an endpoint ID entry wins over its account's entry. A `Pending`
    /// connection from `acceptFrom` is enabled; a connection from `rejectFrom` is disabled, also when it
    /// was connected (this is how a consumer is cut off on purpose). Others are left alone (or follow
    /// `autoAcceptEnabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_approval: Option<ConnectionApproval>,

    /// Deleting this object first disables every endpoint connection, waits until each is
    /// `Disconnected`, then detaches and deletes. Default false: deletion waits for the consumers to
    /// leave (`DeletionBlocked`, naming the endpoints), so their traffic is never cut by surprise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_on_delete: Option<bool>,

    /// Publish the service's ID, name, domain and region in a ConfigMap of this namespace, for
    /// applications (`envFrom`) and consumer teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<ExportTo>,
}

/// Accept and reject lists for endpoint connections.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.acceptFrom) || !has(self.rejectFrom) || !self.acceptFrom.exists(a, a in self.rejectFrom)").message("an entry must not be in both acceptFrom and rejectFrom"))]
pub struct ConnectionApproval {
    /// Account IDs or endpoint IDs whose pending connections are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(max = 64), regex(pattern = r"^([0-9]{16}|ep-[a-z0-9]+)$")))]
    pub accept_from: Vec<String>,
    /// Account IDs or endpoint IDs whose connections are rejected or disconnected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(max = 64), regex(pattern = r"^([0-9]{16}|ep-[a-z0-9]+)$")))]
    pub reject_from: Vec<String>,
}

impl ConnectionApproval {
    /// Whether either list has an entry.
    pub fn is_empty(&self) -> bool {
        self.accept_from.is_empty() && self.reject_from.is_empty()
    }
}

fn default_payer() -> Payer {
    Payer::Endpoint
}

fn default_resource_type() -> ResourceType {
    ResourceType::Slb
}

/// Payer of the endpoint connections.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Payer {
    /// The service consumer pays.
    Endpoint,
    /// The service provider pays.
    EndpointService,
}

/// Backend resource type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    /// Classic Load Balancer (CLB).
    Slb,
    /// Application Load Balancer.
    Alb,
    /// Network Load Balancer.
    Nlb,
    /// Gateway Load Balancer.
    Gwlb,
}

/// IP version of the endpoint service.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AddressIpVersion {
    /// IPv4 only.
    IPv4,
    /// IPv4 and IPv6.
    DualStack,
}

/// What to do with the cloud resource on deletion.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum DeletionPolicy {
    /// Delete the endpoint service.
    #[default]
    Delete,
    /// Keep the endpoint service in Alibaba Cloud.
    Orphan,
}

/// How much the operator manages.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema, Default)]
pub enum ManagementPolicy {
    /// Create, update, correct drift, delete.
    #[default]
    Full,
    /// Read only: observe and report, never write to the cloud.
    Observe,
}

/// A backend resource of the endpoint service: a load balancer given by its ID (`resourceId`), or the
/// load balancer of a `Service` of `type: LoadBalancer` in the same namespace (`serviceRef`), as the
/// Alibaba Cloud controller manager records it on that Service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.resourceId) != has(self.serviceRef)").message("give exactly one of resourceId and serviceRef"))]
#[x_kube(validation = Rule::new("has(self.serviceRef) || has(self.resourceType)").message("resourceType is required with resourceId").field_path(".resourceType"))]
#[x_kube(validation = Rule::new("has(self.serviceRef) || self.resourceType == 'slb' || has(self.zoneId)").message("zoneId is required for alb, nlb and gwlb resources").field_path(".zoneId"))]
pub struct ServiceResource {
    /// Type of the resource: `slb`, `alb`, `nlb` or `gwlb`. Required with `resourceId`; with
    /// `serviceRef` it is derived from the load balancer's ID (`lb-` CLB, `nlb-` NLB) and, when given,
    /// must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
    /// ID of the load balancer, e.g. `nlb-xxxx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub resource_id: Option<String>,
    /// A `Service` of `type: LoadBalancer` in this namespace whose load balancer is the backend. Its
    /// ID is read from the label `service.k8s.alibaba/loadbalancer-id` that the Alibaba Cloud
    /// controller manager sets; for an NLB the zones come from the annotation
    /// `service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps` unless `zoneId` names one.
    /// The operator follows the Service: a new load balancer is attached before the old one is
    /// detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ref: Option<LocalRef>,
    /// Zone of the resource, e.g. `cn-hangzhou-h`. Required for alb, nlb and gwlb with `resourceId`;
    /// with `serviceRef` it narrows an NLB to this one zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub zone_id: Option<String>,
}

/// Reference to an object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalRef {
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Where to publish the service's identity for applications.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportTo {
    /// Name of a ConfigMap in this namespace. The operator creates it (owned by this object, so it is
    /// garbage-collected with it) with the keys `serviceId`, `serviceName`, `serviceDomain` and
    /// `regionId`, and updates it when a value changes. A ConfigMap of that name that this object does
    /// not own is never overwritten (`Ready=False`, reason `ExportConflict`).
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"))]
    pub config_map_name: String,
}

/// A tag on the endpoint service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct Tag {
    /// Tag key: 1–64 characters, must not start with `aliyun` or `acs:`, must not contain `http://` or
    /// `https://`, and must not use the operator's reserved prefix `privatelink.alicloud.dev/`.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("!self.startsWith('aliyun') && !self.startsWith('acs:')").message("tag key must not start with 'aliyun' or 'acs:'"))]
    #[x_kube(validation = Rule::new("!self.contains('http://') && !self.contains('https://')").message("tag key must not contain 'http://' or 'https://'"))]
    #[x_kube(validation = Rule::new("!self.startsWith('privatelink.alicloud.dev/')").message("tag key prefix 'privatelink.alicloud.dev/' is reserved for the operator"))]
    pub key: String,
    /// Tag value: at most 128 characters, may be empty, must not contain `http://` or `https://`.
    #[serde(default)]
    #[schemars(length(max = 128))]
    #[x_kube(validation = Rule::new("!self.contains('http://') && !self.contains('https://')").message("tag value must not contain 'http://' or 'https://'"))]
    pub value: String,
}

/// Reference to a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Observed state of the endpoint service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpointServiceStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready` (the service is Active and matches the spec), `Synced` (the last
    /// reconciliation succeeded) and `Stalled` (a terminal error that needs a spec change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// ID of the endpoint service, e.g. `epsrv-hp3vpx8yqxblby3i****`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// Name of the endpoint service that consumers use to create endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Domain name of the endpoint service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_domain: Option<String>,
    /// Cloud-side state: `Creating`, `Pending`, `Active` or `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_status: Option<String>,
    /// Cloud-side business state: `Normal` or `FinancialLocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_business_status: Option<String>,
    /// Creation time reported by Alibaba Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// Region the service was created in (used for deletion even if the object is edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// ID of a previous service of this object that was deleted outside Kubernetes; the operator
    /// created a replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_service_id: Option<String>,
    /// Alibaba Cloud account that owns the service (from STS GetCallerIdentity of the credentials that
    /// created or found it). Credentials of another account never create or delete anything for this
    /// object: it reports `AccountMismatch` and waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The credentials Secret this object protects with the finalizer
    /// `privatelink.alicloud.dev/credentials-in-use` (so a namespace deletion cannot remove it before
    /// the service is deleted); released when no object uses it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_secret: Option<String>,
    /// ClientToken of this object's Create, written before the call so that every retry (after a crash,
    /// a lost answer or a spec edit) sends the same one and Alibaba never creates a second service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_client_token: Option<String>,
    /// The last value of the annotation `privatelink.alicloud.dev/reconcile-requested-at` that was
    /// handled (a full reconcile, drift checks included, ran for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Endpoint connections to the service, as last listed (at most 50, in endpoint ID order; the
    /// counts cover all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub connections: Vec<EndpointConnection>,
    /// Number of endpoint connections per status (`Pending`, `Connected`, `Disconnected`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_counts: Option<std::collections::BTreeMap<String, i64>>,
    /// The ConfigMap this object exported to (`spec.exportTo`), so a renamed or removed export is
    /// cleaned up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_config_map: Option<String>,
}

/// An endpoint connection to the service (`ListVpcEndpointConnections`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConnection {
    /// ID of the consumer's endpoint, e.g. `ep-hp33b2e43fays7s8****`.
    pub endpoint_id: String,
    /// Account that owns the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_owner_id: Option<String>,
    /// `Pending`, `Connecting`, `Connected`, `Disconnecting`, `Disconnected`, `Deleting` or
    /// `ServiceDeleted`.
    pub status: String,
    /// Bandwidth of the connection in Mbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<i64>,
    /// Zones the connection reaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
}

pub(crate) fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    serde_json::from_value(serde_json::json!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "lastTransitionTime": { "type": "string", "format": "date-time" },
                "message": { "type": "string" },
                "observedGeneration": { "type": "integer", "format": "int64" },
                "reason": { "type": "string" },
                "status": { "type": "string", "enum": ["True", "False", "Unknown"] },
                "type": { "type": "string" }
            }
        }
    }))
    .expect("valid conditions schema")
}

impl VpcEndpointService {
    /// Region recorded at creation, falling back to the spec.
    pub fn region(&self) -> &str {
        self.status.as_ref().and_then(|s| s.region_id.as_deref()).unwrap_or(&self.spec.region_id)
    }

    /// The cloud ID, once known.
    pub fn service_id(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.service_id.as_deref())
    }
}

/// The kinds this operator serves, as `privatelink-operator crd <kind>` names them.
pub const KINDS: [&str; 2] = ["VpcEndpointService", "VpcEndpoint"];

/// The CRD of one kind as YAML (`privatelink-operator crd <kind>`), `None` for an unknown kind.
pub fn crd_yaml_of(kind: &str) -> Option<String> {
    let crd = match kind.to_ascii_lowercase().as_str() {
        "vpcendpointservice" | "vpcendpointservices" | "epsrv" => VpcEndpointService::crd(),
        "vpcendpoint" | "vpcendpoints" | "vpce" => VpcEndpoint::crd(),
        _ => return None,
    };
    Some(serde_yaml::to_string(&crd).expect("CRD serializes"))
}

/// The CRD of `VpcEndpointService` as YAML.
pub fn crd_yaml() -> String {
    crd_yaml_of(KINDS[0]).expect("known kind")
}

/// Every CRD as one multi-document YAML stream, as `privatelink-operator crd` prints it.
/// In the order of the CRD names, which is the order of the files in `crds/` (`cat crds/*.yaml`).
pub fn all_crds_yaml() -> String {
    let mut crds = [VpcEndpointService::crd(), VpcEndpoint::crd()];
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let yaml: Vec<String> = crds.iter().map(|c| serde_yaml::to_string(c).expect("CRD serializes")).collect();
    yaml.join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crds_are_up_to_date() {
        for (kind, file) in [
            ("VpcEndpointService", "vpcendpointservices.privatelink.alicloud.dev.yaml"),
            ("VpcEndpoint", "vpcendpoints.privatelink.alicloud.dev.yaml"),
        ] {
            let path = format!("{}/crds/{file}", env!("CARGO_MANIFEST_DIR"));
            let committed = std::fs::read_to_string(path).unwrap_or_default();
            assert!(
                Some(committed) == crd_yaml_of(kind),
                "crds/{file} is out of date with the Rust types: run `make crds` and commit the result"
            );
        }
    }

    #[test]
    fn the_all_kinds_stream_is_crds_in_file_order() {
        let dir = format!("{}/crds", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let docs: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        assert_eq!(
            all_crds_yaml(),
            docs.join("---\n"),
            "`privatelink-operator crd` must print crds/ in order"
        );
    }

    #[test]
    fn endpoint_crd_declares_identity_zones_as_a_map_and_columns() {
        let crd = serde_json::to_value(VpcEndpoint::crd()).unwrap();
        assert_eq!(crd["metadata"]["name"], "vpcendpoints.privatelink.alicloud.dev");
        assert_eq!(crd["spec"]["names"]["shortNames"][0], "vpce");
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["properties"]["zones"]["x-kubernetes-list-type"], "map");
        assert_eq!(spec["properties"]["securityGroupIds"]["x-kubernetes-list-type"], "set");
        let required: Vec<&str> =
            spec["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for want in ["regionId", "vpcId", "securityGroupIds"] {
            assert!(required.contains(&want), "{want} must be required");
        }
        assert_eq!(crd_yaml_of("vpce"), crd_yaml_of("VpcEndpoint"));
        assert!(crd_yaml_of("Pod").is_none());
    }

    #[test]
    fn spec_defaults_fill_immutable_fields() {
        let spec: VpcEndpointServiceSpec =
            serde_json::from_value(serde_json::json!({"regionId": "cn-hangzhou"}))
                .expect("minimal spec parses");
        assert_eq!(spec.payer, Payer::Endpoint);
        assert_eq!(spec.service_resource_type, ResourceType::Slb);
    }

    #[test]
    fn crd_declares_identity_and_columns() {
        let crd = serde_json::to_value(VpcEndpointService::crd()).unwrap();
        assert_eq!(crd["metadata"]["name"], "vpcendpointservices.privatelink.alicloud.dev");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        assert_eq!(crd["spec"]["names"]["shortNames"][0], "epsrv");
        let cols: Vec<&str> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        for want in ["Ready", "Status", "ServiceId", "ServiceDomain", "Age"] {
            assert!(cols.contains(&want), "missing printer column {want}");
        }
        let subresources = &crd["spec"]["versions"][0]["subresources"];
        assert!(subresources.get("status").is_some());
    }
}
