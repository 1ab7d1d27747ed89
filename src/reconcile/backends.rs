//! Backends from `Service`s of type LoadBalancer (`spec.resources[].serviceRef`). Pure: the caller
//! hands in what the Alibaba Cloud controller manager (CCM) recorded on each referenced Service.
//!
//! What is read (the CCM's public source, `cloud-provider-alibaba-cloud`):
//! * the label [`LB_ID_LABEL`] (`service.k8s.alibaba/loadbalancer-id`), which the CCM sets on a Service
//!   once its load balancer exists, for CLB (`lb-…`) and NLB (`nlb-…`) alike; the type of the backend is
//!   taken from the ID's prefix;
//! * for an NLB, the zones from the annotation [`ZONE_MAPS_ANNOTATION`]
//!   (`service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps`, `zone:vSwitch[:ip],…`, which the
//!   CCM requires for NLB Services); a CLB needs no zone. An NLB is attached once per zone, as Alibaba
//!   lists NLB backends.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    hash::Hash,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{
    alicloud::ops::ResourceParam,
    crd::{ResourceType, VpcEndpointServiceSpec},
    reconcile::create::resource_type_str,
};

/// Label the CCM sets on a LoadBalancer Service: the ID of its load balancer.
pub const LB_ID_LABEL: &str = "service.k8s.alibaba/loadbalancer-id";
/// Annotation of an NLB Service: its zones and vSwitches (`cn-hangzhou-k:vsw-a,cn-hangzhou-j:vsw-b`,
/// each entry optionally `:ipv4[:eip-allocation-id]`).
pub const ZONE_MAPS_ANNOTATION: &str = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps";
/// The CCM's legacy spelling of [`ZONE_MAPS_ANNOTATION`], still read by it.
pub const LEGACY_ZONE_MAPS_ANNOTATION: &str = "service.beta.kubernetes.io/alicloud-loadbalancer-zone-maps";

/// What the operator reads of a Service: only what the CCM records about its load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LbService {
    /// The load balancer ID (label [`LB_ID_LABEL`]).
    pub load_balancer_id: Option<String>,
    /// The NLB zone map (annotation [`ZONE_MAPS_ANNOTATION`]).
    pub zone_maps: Option<String>,
}

impl LbService {
    /// Read a Service's metadata.
    pub fn from_meta(meta: &ObjectMeta) -> Self {
        let label = meta.labels.as_ref().and_then(|l| l.get(LB_ID_LABEL)).filter(|v| !v.is_empty());
        let zones = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(ZONE_MAPS_ANNOTATION).or_else(|| a.get(LEGACY_ZONE_MAPS_ANNOTATION)));
        Self { load_balancer_id: label.cloned(), zone_maps: zones.cloned() }
    }
}

/// Keep only what [`LbService::from_meta`] reads (the Service cache holds nothing else).
pub fn slim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    let keep = |m: &mut Option<BTreeMap<String, String>>, keys: &[&str]| {
        if let Some(map) = m.as_mut() {
            map.retain(|k, _| keys.contains(&k.as_str()));
        }
    };
    keep(&mut meta.labels, &[LB_ID_LABEL]);
    keep(&mut meta.annotations, &[ZONE_MAPS_ANNOTATION, LEGACY_ZONE_MAPS_ANNOTATION]);
}

/// Why a `serviceRef` gives no backend yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No such Service in the namespace.
    Missing,
    /// The Service has no load balancer yet (no CCM label).
    NoLoadBalancer,
    /// The ID's prefix names no known load balancer type.
    UnknownType(String),
    /// The load balancer's type is not the one the entry (or the service) asks for.
    TypeMismatch { id: String, found: ResourceType, want: ResourceType },
    /// An NLB without zone information (no zone map, no `zoneId`).
    NoZones(String),
}

/// The backends the spec asks for, as far as they can be resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Every resolved backend, in spec order (an NLB once per zone).
    pub resources: Vec<ResourceParam>,
    /// `serviceRef`s that give no backend yet: (Service name, why).
    pub unresolved: Vec<(String, Problem)>,
}

impl Desired {
    /// Every entry resolved: the list is the whole desired set (safe to detach what is not in it).
    pub fn complete(&self) -> bool {
        self.unresolved.is_empty()
    }

    /// A fingerprint of the resolved backends, for a spec with `serviceRef`s (`None` without: such a
    /// spec's backends change only with its generation).
    pub fn fingerprint(&self, spec: &VpcEndpointServiceSpec) -> Option<u64> {
        use std::hash::{DefaultHasher, Hasher};
        spec.resources.iter().any(|r| r.service_ref.is_some()).then(|| {
            let mut h = DefaultHasher::new();
            self.resources.hash(&mut h);
            self.unresolved.len().hash(&mut h);
            h.finish()
        })
    }

    /// `BackendNotReady` message naming the Services and why.
    pub fn message(&self) -> String {
        let parts: Vec<String> = self
            .unresolved
            .iter()
            .map(|(name, p)| match p {
                Problem::Missing => format!("Service {name} does not exist"),
                Problem::NoLoadBalancer => {
                    format!("Service {name} has no load balancer yet (no label {LB_ID_LABEL})")
                }
                Problem::UnknownType(id) => {
                    format!("Service {name}: load balancer {id} is of no known type (lb-, nlb-, alb-, gwlb-)")
                }
                Problem::TypeMismatch { id, found, want } => format!(
                    "Service {name}: load balancer {id} is {}, the entry needs {}",
                    resource_type_str(*found),
                    resource_type_str(*want)
                ),
                Problem::NoZones(id) => format!(
                    "Service {name}: NLB {id} has no zones (annotation {ZONE_MAPS_ANNOTATION}); set zoneId"
                ),
            })
            .collect();
        format!(
            "{}; backends are not detached until every referenced Service has its load balancer",
            parts.join("; ")
        )
    }
}

/// The type of a load balancer from its ID's prefix.
pub fn type_of(id: &str) -> Option<ResourceType> {
    [
        ("lb-", ResourceType::Slb),
        ("nlb-", ResourceType::Nlb),
        ("alb-", ResourceType::Alb),
        ("gwlb-", ResourceType::Gwlb),
    ]
    .into_iter()
    .find(|(p, _)| id.starts_with(p))
    .map(|(_, t)| t)
}

/// Zones of a zone map `zone:vsw[:ip],…`, in order, without repeats.
pub fn zones_of(zone_maps: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for z in zone_maps.split(',').filter_map(|e| e.split(':').next()).map(str::trim) {
        if !z.is_empty() && !out.iter().any(|o| o == z) {
            out.push(z.to_string());
        }
    }
    out
}

/// Resolve the spec's backends; `lookup(name)` is what is known of the Service `name` in the object's
/// namespace.
pub fn resolve(spec: &VpcEndpointServiceSpec, lookup: impl Fn(&str) -> Option<LbService>) -> Desired {
    let mut d = Desired::default();
    for r in &spec.resources {
        let want = r.resource_type.unwrap_or(spec.service_resource_type);
        match (&r.resource_id, &r.service_ref) {
            (Some(id), _) => d.resources.push(ResourceParam {
                resource_type: resource_type_str(want).to_string(),
                resource_id: id.clone(),
                zone_id: r.zone_id.clone(),
            }),
            (None, Some(svc)) => match from_service(lookup(&svc.name), want, r.zone_id.as_deref()) {
                Ok(rs) => d.resources.extend(rs),
                Err(p) => d.unresolved.push((svc.name.clone(), p)),
            },
            (None, None) => {}
        }
    }
    d
}

fn from_service(
    svc: Option<LbService>,
    want: ResourceType,
    zone: Option<&str>,
) -> Result<Vec<ResourceParam>, Problem> {
    let svc = svc.ok_or(Problem::Missing)?;
    let id = svc.load_balancer_id.ok_or(Problem::NoLoadBalancer)?;
    let found = type_of(&id).ok_or_else(|| Problem::UnknownType(id.clone()))?;
    if found != want {
        return Err(Problem::TypeMismatch { id, found, want });
    }
    let zones = match (found, zone) {
        (ResourceType::Slb, z) => vec![z.map(str::to_string)],
        (_, Some(z)) => vec![Some(z.to_string())],
        (_, None) => zones_of(svc.zone_maps.as_deref().unwrap_or_default()).into_iter().map(Some).collect(),
    };
    if zones.is_empty() {
        return Err(Problem::NoZones(id));
    }
    let t = resource_type_str(found).to_string();
    Ok(zones
        .into_iter()
        .map(|zone_id| ResourceParam { resource_type: t.clone(), resource_id: id.clone(), zone_id })
        .collect())
}

/// Names of the Services a spec references.
pub fn referenced(spec: &VpcEndpointServiceSpec) -> Vec<String> {
    let mut names: Vec<String> =
        spec.resources.iter().filter_map(|r| r.service_ref.as_ref().map(|s| s.name.clone())).collect();
    names.sort();
    names.dedup();
    names
}

/// Which objects reference which Services (`(namespace, name)`), so one Service's change wakes only
/// the objects that use it.
#[derive(Debug)]
pub struct RefIndex<K: Eq + Hash + Clone> {
    users: HashMap<(String, String), HashSet<K>>,
    uses: HashMap<K, Vec<(String, String)>>,
}

impl<K: Eq + Hash + Clone> Default for RefIndex<K> {
    fn default() -> Self {
        Self { users: HashMap::new(), uses: HashMap::new() }
    }
}

impl<K: Eq + Hash + Clone> RefIndex<K> {
    /// Record that `key` (in `namespace`) references exactly `names` now.
    pub fn set(&mut self, key: K, namespace: &str, names: Vec<String>) {
        self.remove(&key);
        if names.is_empty() {
            return;
        }
        let refs: Vec<(String, String)> = names.into_iter().map(|n| (namespace.to_string(), n)).collect();
        for r in &refs {
            self.users.entry(r.clone()).or_default().insert(key.clone());
        }
        self.uses.insert(key, refs);
    }

    /// Forget `key`.
    pub fn remove(&mut self, key: &K) {
        for r in self.uses.remove(key).unwrap_or_default() {
            if let Some(set) = self.users.get_mut(&r) {
                set.remove(key);
                if set.is_empty() {
                    self.users.remove(&r);
                }
            }
        }
    }

    /// The objects that reference Service `name` in `namespace`.
    pub fn users(&self, namespace: &str, name: &str) -> Vec<K> {
        self.users
            .get(&(namespace.to_string(), name.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of objects with references (for tests and metrics).
    pub fn len(&self) -> usize {
        self.uses.len()
    }

    /// Whether no object references a Service.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        crd::{LocalRef, ServiceResource},
        fixtures::service,
    };

    fn by_ref(name: &str, zone: Option<&str>) -> ServiceResource {
        ServiceResource {
            resource_type: None,
            resource_id: None,
            service_ref: Some(LocalRef { name: name.into() }),
            zone_id: zone.map(str::to_string),
        }
    }

    fn lb(id: Option<&str>, zones: Option<&str>) -> Option<LbService> {
        Some(LbService { load_balancer_id: id.map(str::to_string), zone_maps: zones.map(str::to_string) })
    }

    fn param(t: &str, id: &str, zone: Option<&str>) -> ResourceParam {
        ResourceParam { resource_type: t.into(), resource_id: id.into(), zone_id: zone.map(str::to_string) }
    }

    #[test]
    fn resolution_table() {
        let nlb_zones = Some("cn-hangzhou-h:vsw-1,cn-hangzhou-i:vsw-2:10.0.0.5,cn-hangzhou-h:vsw-3");
        // (case, service type, entry zone, what the Service carries, resolved, problem)
        type Case = (
            &'static str,
            ResourceType,
            Option<&'static str>,
            Option<LbService>,
            Vec<ResourceParam>,
            Option<Problem>,
        );
        let cases: Vec<Case> = vec![
            ("no Service", ResourceType::Nlb, None, None, vec![], Some(Problem::Missing)),
            (
                "Service without a load balancer yet",
                ResourceType::Nlb,
                None,
                lb(None, nlb_zones),
                vec![],
                Some(Problem::NoLoadBalancer),
            ),
            (
                "NLB: once per zone of the zone map, repeats dropped",
                ResourceType::Nlb,
                None,
                lb(Some("nlb-1"), nlb_zones),
                vec![
                    param("nlb", "nlb-1", Some("cn-hangzhou-h")),
                    param("nlb", "nlb-1", Some("cn-hangzhou-i")),
                ],
                None,
            ),
            (
                "NLB narrowed by zoneId",
                ResourceType::Nlb,
                Some("cn-hangzhou-i"),
                lb(Some("nlb-1"), nlb_zones),
                vec![param("nlb", "nlb-1", Some("cn-hangzhou-i"))],
                None,
            ),
            (
                "NLB without zones",
                ResourceType::Nlb,
                None,
                lb(Some("nlb-1"), None),
                vec![],
                Some(Problem::NoZones("nlb-1".into())),
            ),
            (
                "CLB: no zone needed",
                ResourceType::Slb,
                None,
                lb(Some("lb-1"), None),
                vec![param("slb", "lb-1", None)],
                None,
            ),
            (
                "CLB behind an nlb service",
                ResourceType::Nlb,
                None,
                lb(Some("lb-1"), None),
                vec![],
                Some(Problem::TypeMismatch {
                    id: "lb-1".into(),
                    found: ResourceType::Slb,
                    want: ResourceType::Nlb,
                }),
            ),
            (
                "unknown prefix",
                ResourceType::Slb,
                None,
                lb(Some("xyz-1"), None),
                vec![],
                Some(Problem::UnknownType("xyz-1".into())),
            ),
        ];
        for (case, t, zone, svc, want, problem) in cases {
            let mut spec = service("a", "u").spec;
            spec.service_resource_type = t;
            spec.resources = vec![by_ref("web", zone)];
            let d = resolve(&spec, |name| if name == "web" { svc.clone() } else { None });
            assert_eq!(d.resources, want, "{case}");
            assert_eq!(d.unresolved.first().map(|(_, p)| p.clone()), problem, "{case}");
            assert_eq!(d.complete(), problem.is_none(), "{case}");
        }
    }

    #[test]
    fn ids_and_refs_mix_in_spec_order() {
        let mut spec = service("a", "u").spec;
        spec.resources.push(by_ref("web", None));
        spec.resources.push(by_ref("gone", None));
        let d = resolve(&spec, |name| {
            (name == "web").then(|| lb(Some("nlb-2"), Some("cn-hangzhou-i:vsw")).unwrap())
        });
        assert_eq!(
            d.resources,
            vec![
                param("nlb", "nlb-sim-001", Some("cn-hangzhou-h")),
                param("nlb", "nlb-2", Some("cn-hangzhou-i"))
            ]
        );
        assert!(!d.complete());
        assert!(d.message().contains("Service gone does not exist"), "{}", d.message());
        assert_eq!(referenced(&spec), vec!["gone".to_string(), "web".to_string()]);
    }

    #[test]
    fn metadata_is_slimmed_to_what_is_read() {
        let mut meta = ObjectMeta {
            labels: Some(BTreeMap::from([
                (LB_ID_LABEL.to_string(), "nlb-9".to_string()),
                ("app".to_string(), "web".to_string()),
            ])),
            annotations: Some(BTreeMap::from([
                (ZONE_MAPS_ANNOTATION.to_string(), "z:v".to_string()),
                ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{...}".to_string()),
            ])),
            ..Default::default()
        };
        let before = LbService::from_meta(&meta);
        slim_meta(&mut meta);
        assert_eq!(LbService::from_meta(&meta), before);
        assert_eq!(meta.labels.unwrap().len(), 1);
        assert_eq!(meta.annotations.unwrap().len(), 1);
    }

    #[test]
    fn index_follows_edits_and_deletes() {
        let mut ix = RefIndex::<&str>::default();
        ix.set("x", "ns", vec!["web".into(), "api".into()]);
        ix.set("y", "ns", vec!["web".into()]);
        ix.set("z", "other", vec!["web".into()]);
        let mut users = ix.users("ns", "web");
        users.sort();
        assert_eq!(users, vec!["x", "y"], "one Service wakes only its users, in its namespace");
        ix.set("x", "ns", vec!["api".into()]);
        assert_eq!(ix.users("ns", "web"), vec!["y"], "an edit drops the old reference");
        ix.remove(&"y");
        assert!(ix.users("ns", "web").is_empty());
        ix.set("x", "ns", vec![]);
        assert_eq!(ix.len(), 1, "only z still references a Service");
    }
}
