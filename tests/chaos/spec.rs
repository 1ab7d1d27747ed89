//! The specs the chaos run creates and the edits it makes to them. Pure: every choice comes from the
//! caller's seeded RNG.

use std::fmt;

use rand::{Rng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

use crate::harness::{GROUP, KIND, VERSION};

/// The credentials Secret every namespace holds, named by every service object (the provider, account A).
pub const SECRET: &str = "alicloud-credentials";
/// The Secret of the consumer's credentials (account B), named by every `VpcEndpoint`.
pub const CONSUMER_SECRET: &str = "alicloud-credentials-consumer";
/// The consumer's account (`sim-ak-other`): it owns every `VpcEndpoint` of a run.
pub const CONSUMER_ACCOUNT: &str = "2234567890123456";
pub const ENDPOINT_KIND: &str = "VpcEndpoint";
/// Label on every object of a run (value: the run ID), so one watcher sees exactly this run.
pub const RUN_LABEL: &str = "chaos-run";
const MAX_RESOURCES: usize = 3;

/// One backend of the simulator's default world (`crates/privatelink-sim/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    pub id: &'static str,
    pub zone: &'static str,
}

/// Backends of one type in one region: an object takes all its resources from one pool.
pub struct Pool {
    pub region: &'static str,
    pub kind: &'static str,
    /// Share of the objects that use this pool, in percent.
    pub weight: u32,
    pub backends: Vec<Backend>,
}

fn backends(ids: &[&'static str], zones: &[&'static str]) -> Vec<Backend> {
    ids.iter().flat_map(|&id| zones.iter().map(move |&zone| Backend { id, zone })).collect()
}

/// The simulator's load balancers that support PrivateLink, by region and type.
pub fn pools() -> Vec<Pool> {
    let nlb = ["nlb-sim-001", "nlb-sim-002", "nlb-sim-003", "nlb-sim-004", "nlb-sim-005"];
    let (hz, bj) = (["cn-hangzhou-h", "cn-hangzhou-i"], ["cn-beijing-a", "cn-beijing-b"]);
    vec![
        Pool { region: "cn-hangzhou", kind: "nlb", weight: 35, backends: backends(&nlb, &hz) },
        Pool {
            region: "cn-hangzhou",
            kind: "alb",
            weight: 20,
            backends: backends(&["alb-sim-001", "alb-sim-002", "alb-sim-003"], &hz),
        },
        Pool {
            region: "cn-hangzhou",
            kind: "slb",
            weight: 15,
            backends: backends(&["lb-sim-slb-001", "lb-sim-slb-002", "lb-sim-slb-003"], &hz[..1]),
        },
        Pool { region: "cn-beijing", kind: "nlb", weight: 12, backends: backends(&["nlb-sim-bj-001"], &bj) },
        Pool { region: "cn-beijing", kind: "alb", weight: 10, backends: backends(&["alb-sim-bj-001"], &bj) },
        Pool {
            region: "cn-beijing",
            kind: "slb",
            weight: 8,
            backends: backends(&["lb-sim-bj-slb-001"], &bj[..1]),
        },
    ]
}

fn pick_pool(rng: &mut StdRng, pools: &[Pool]) -> usize {
    let total: u32 = pools.iter().map(|p| p.weight).sum();
    let mut roll = rng.random_range(0..total);
    for (i, p) in pools.iter().enumerate() {
        if roll < p.weight {
            return i;
        }
        roll -= p.weight;
    }
    pools.len() - 1
}

/// What the test wants one object's spec to be.
#[derive(Clone, Debug)]
pub struct Spec {
    pub region: &'static str,
    pub kind: &'static str,
    /// Backends not in `resources` that an edit may add.
    pub spare: Vec<Backend>,
    pub resources: Vec<Backend>,
    pub description: String,
    pub auto_accept: bool,
    pub tags: Vec<(String, String)>,
    pub orphan: bool,
    /// Edits so far (part of the description, so every description edit is a real change).
    pub edits: u32,
    /// The zone of this service's `VpcEndpoint`, if it gets one: then the consumer's account is
    /// allowed and accepted, and no backend in that zone is ever removed (the detach would wait for
    /// the endpoint, `DetachBlocked`, until the endpoint goes).
    pub endpoint_zone: Option<&'static str>,
}

/// The kinds of spec edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EditKind {
    Description,
    AutoAccept,
    Tags,
    AddResource,
    RemoveResource,
}

impl EditKind {
    pub const ALL: [EditKind; 5] = [
        EditKind::Description,
        EditKind::AutoAccept,
        EditKind::Tags,
        EditKind::AddResource,
        EditKind::RemoveResource,
    ];
}

impl fmt::Display for EditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            EditKind::Description => "description",
            EditKind::AutoAccept => "autoAcceptEnabled",
            EditKind::Tags => "tags",
            EditKind::AddResource => "add resource",
            EditKind::RemoveResource => "remove resource",
        };
        f.write_str(s)
    }
}

fn random_tags(rng: &mut StdRng) -> Vec<(String, String)> {
    const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "omega", "sigma"];
    let n = rng.random_range(0..=3);
    (0..n).map(|i| (format!("chaos-k{i}"), WORDS.choose(rng).unwrap().to_string())).collect()
}

impl Spec {
    /// A random spec: one pool, one or two of its backends, random description, auto-accept and tags;
    /// `orphan_percent` of the objects get `deletionPolicy: Orphan`.
    pub fn random(rng: &mut StdRng, orphan_percent: u32) -> Spec {
        let pools = pools();
        let pool = &pools[pick_pool(rng, &pools)];
        let mut spare = pool.backends.clone();
        let want = rng.random_range(1..=2).min(spare.len());
        let resources = (0..want).map(|_| spare.remove(rng.random_range(0..spare.len()))).collect();
        Spec {
            region: pool.region,
            kind: pool.kind,
            spare,
            resources,
            description: "chaos v0".into(),
            auto_accept: rng.random_bool(0.5),
            tags: random_tags(rng),
            orphan: rng.random_range(0..100) < orphan_percent,
            edits: 0,
            endpoint_zone: None,
        }
    }

    /// Indices of the backends an edit may remove: all but those in the endpoint's zone.
    fn removable(&self) -> Vec<usize> {
        (0..self.resources.len()).filter(|&i| Some(self.resources[i].zone) != self.endpoint_zone).collect()
    }

    fn resources_json(&self) -> Value {
        let rs: Vec<Value> = self
            .resources
            .iter()
            .map(|b| json!({"resourceType": self.kind, "resourceId": b.id, "zoneId": b.zone}))
            .collect();
        Value::Array(rs)
    }

    fn tags_json(&self) -> Value {
        Value::Array(self.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
    }

    /// The object to create.
    pub fn manifest(&self, name: &str, run: &str) -> Value {
        let mut spec = json!({
            "regionId": self.region,
            "serviceResourceType": self.kind,
            "serviceDescription": self.description,
            "autoAcceptEnabled": self.auto_accept,
            "payer": "Endpoint",
            "resources": self.resources_json(),
            "tags": self.tags_json(),
            "credentialsSecretRef": {"name": SECRET},
        });
        if self.orphan {
            spec["deletionPolicy"] = json!("Orphan");
        }
        if self.endpoint_zone.is_some() {
            spec["allowedPrincipals"] = json!([CONSUMER_ACCOUNT]);
            spec["connectionApproval"] = json!({"acceptFrom": [CONSUMER_ACCOUNT]});
        }
        json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": KIND,
            "metadata": {"name": name, "labels": {RUN_LABEL: run}},
            "spec": spec,
        })
    }

    /// Whether `kind` can be applied (a backend to add; more than one to remove).
    pub fn can(&self, kind: EditKind) -> bool {
        match kind {
            EditKind::AddResource => !self.spare.is_empty() && self.resources.len() < MAX_RESOURCES,
            EditKind::RemoveResource => self.resources.len() > 1 && !self.removable().is_empty(),
            _ => true,
        }
    }

    /// Apply one edit of `kind` (which must pass [`Spec::can`]); returns the merge patch that makes it.
    pub fn edit(&mut self, kind: EditKind, rng: &mut StdRng) -> Value {
        self.edits += 1;
        let spec = match kind {
            EditKind::Description => {
                self.description = format!("chaos v{}", self.edits);
                json!({"serviceDescription": self.description})
            }
            EditKind::AutoAccept => {
                self.auto_accept = !self.auto_accept;
                json!({"autoAcceptEnabled": self.auto_accept})
            }
            EditKind::Tags => {
                let old = self.tags.clone();
                while self.tags == old {
                    self.tags = random_tags(rng);
                }
                json!({"tags": self.tags_json()})
            }
            EditKind::AddResource => {
                let b = self.spare.remove(rng.random_range(0..self.spare.len()));
                self.resources.push(b);
                json!({"resources": self.resources_json()})
            }
            EditKind::RemoveResource => {
                let removable = self.removable();
                let b = self.resources.remove(removable[rng.random_range(0..removable.len())]);
                self.spare.push(b);
                json!({"resources": self.resources_json()})
            }
        };
        json!({"spec": spec})
    }
}

/// The consumer's network in a region of the simulator's world (account B): `vpc-sim-b`, its
/// vSwitches `vsw-sim-b-<zone letter>` and security groups `sg-sim-b-<n>` (`-bj` in cn-beijing).
fn consumer_suffix(region: &str) -> &'static str {
    if region == "cn-hangzhou" { "" } else { "-bj" }
}

/// The security-group sets an endpoint edit moves between (always at least one group; the operator
/// attaches before it detaches).
const GROUP_SETS: [&[&str]; 3] = [&["1"], &["1", "2"], &["2"]];

/// What the test wants one `VpcEndpoint`'s spec to be: account B's endpoint to a chaos service, in
/// one zone the service keeps.
#[derive(Clone, Debug)]
pub struct EpSpec {
    pub region: &'static str,
    pub zone: &'static str,
    /// Index into [`GROUP_SETS`].
    pub groups: usize,
    pub description: String,
    pub orphan: bool,
    pub edits: u32,
}

/// The kinds of `VpcEndpoint` edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EpEditKind {
    Description,
    SecurityGroups,
}

impl EpEditKind {
    pub const ALL: [EpEditKind; 2] = [EpEditKind::Description, EpEditKind::SecurityGroups];
}

impl fmt::Display for EpEditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EpEditKind::Description => "endpointDescription",
            EpEditKind::SecurityGroups => "securityGroupIds",
        })
    }
}

impl EpSpec {
    /// The endpoint of a service (whose `endpoint_zone` is set); `Orphan` exactly when the service is
    /// (an orphaned endpoint keeps its connection, so a deleted service would wait for it forever).
    pub fn for_service(svc: &Spec) -> EpSpec {
        EpSpec {
            region: svc.region,
            zone: svc.endpoint_zone.expect("a service with an endpoint zone"),
            groups: 0,
            description: "chaos ep v0".into(),
            orphan: svc.orphan,
            edits: 0,
        }
    }

    pub fn vpc(&self) -> String {
        format!("vpc-sim-b{}", consumer_suffix(self.region))
    }

    pub fn v_switch(&self) -> String {
        let letter = self.zone.rsplit('-').next().unwrap_or_default();
        format!("vsw-sim-b{}-{letter}", consumer_suffix(self.region))
    }

    pub fn security_groups(&self) -> Vec<String> {
        let suffix = consumer_suffix(self.region);
        GROUP_SETS[self.groups].iter().map(|n| format!("sg-sim-b{suffix}-{n}")).collect()
    }

    /// The object to create: an endpoint to the `VpcEndpointService` named `service` (same namespace).
    pub fn manifest(&self, name: &str, service: &str, run: &str) -> Value {
        let mut spec = json!({
            "regionId": self.region,
            "serviceRef": {"name": service},
            "vpcId": self.vpc(),
            "securityGroupIds": self.security_groups(),
            "zones": [{"zoneId": self.zone, "vSwitchId": self.v_switch()}],
            "endpointDescription": self.description,
            "credentialsSecretRef": {"name": CONSUMER_SECRET},
        });
        if self.orphan {
            spec["deletionPolicy"] = json!("Orphan");
        }
        json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": ENDPOINT_KIND,
            "metadata": {"name": name, "labels": {RUN_LABEL: run}},
            "spec": spec,
        })
    }

    /// Apply one edit of `kind`; returns the merge patch that makes it.
    pub fn edit(&mut self, kind: EpEditKind, rng: &mut StdRng) -> Value {
        self.edits += 1;
        let spec = match kind {
            EpEditKind::Description => {
                self.description = format!("chaos ep v{}", self.edits);
                json!({"endpointDescription": self.description})
            }
            EpEditKind::SecurityGroups => {
                let others: Vec<usize> = (0..GROUP_SETS.len()).filter(|&g| g != self.groups).collect();
                self.groups = *others.choose(rng).unwrap();
                json!({"securityGroupIds": self.security_groups()})
            }
        };
        json!({"spec": spec})
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn specs_are_reproducible_and_valid() {
        let a: Vec<String> = (0..50)
            .scan(StdRng::seed_from_u64(7), |r, _| Some(format!("{:?}", Spec::random(r, 10))))
            .collect();
        let b: Vec<String> = (0..50)
            .scan(StdRng::seed_from_u64(7), |r, _| Some(format!("{:?}", Spec::random(r, 10))))
            .collect();
        assert_eq!(a, b);
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let mut s = Spec::random(&mut rng, 10);
            for _ in 0..20 {
                let kind = *EditKind::ALL.choose(&mut rng).unwrap();
                if s.can(kind) {
                    s.edit(kind, &mut rng);
                }
                assert!(!s.resources.is_empty() && s.resources.len() <= MAX_RESOURCES);
                assert!(s.resources.iter().all(|r| !s.spare.contains(r)));
            }
        }
    }

    #[test]
    fn a_service_with_an_endpoint_keeps_a_backend_in_its_zone_and_accepts_the_consumer() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let mut s = Spec::random(&mut rng, 10);
            let zone = s.resources[rng.random_range(0..s.resources.len())].zone;
            s.endpoint_zone = Some(zone);
            for _ in 0..30 {
                let kind = *EditKind::ALL.choose(&mut rng).unwrap();
                if s.can(kind) {
                    s.edit(kind, &mut rng);
                }
                assert!(s.resources.iter().any(|r| r.zone == zone), "{s:?} lost its endpoint zone");
            }
            let m = s.manifest("x", "run");
            assert_eq!(m["spec"]["allowedPrincipals"], json!([CONSUMER_ACCOUNT]));
            assert_eq!(m["spec"]["connectionApproval"]["acceptFrom"], json!([CONSUMER_ACCOUNT]));
        }
        // Without an endpoint: no whitelist, no approval list.
        let m = Spec::random(&mut rng, 10).manifest("x", "run");
        assert!(
            m["spec"].get("allowedPrincipals").is_none() && m["spec"].get("connectionApproval").is_none()
        );
    }

    #[test]
    fn an_endpoint_uses_account_bs_network_in_its_service_zone() {
        let world = privatelink_sim::world::World::default_world();
        let b = CONSUMER_ACCOUNT;
        let cases = [
            ("cn-hangzhou", "cn-hangzhou-h", "vpc-sim-b", "vsw-sim-b-h", "sg-sim-b-1"),
            ("cn-hangzhou", "cn-hangzhou-i", "vpc-sim-b", "vsw-sim-b-i", "sg-sim-b-1"),
            ("cn-beijing", "cn-beijing-a", "vpc-sim-b-bj", "vsw-sim-b-bj-a", "sg-sim-b-bj-1"),
            ("cn-beijing", "cn-beijing-b", "vpc-sim-b-bj", "vsw-sim-b-bj-b", "sg-sim-b-bj-1"),
        ];
        let mut rng = StdRng::seed_from_u64(5);
        for (region, zone, vpc, vsw, sg) in cases {
            let mut e = EpSpec { region, zone, groups: 0, description: "d".into(), orphan: false, edits: 0 };
            assert_eq!((e.vpc().as_str(), e.v_switch().as_str()), (vpc, vsw), "{region} {zone}");
            assert_eq!(e.security_groups(), [sg]);
            assert!(world.vpc(b, region, vpc).is_some(), "{vpc}");
            assert_eq!(world.v_switch(b, region, vsw).map(|v| v.zone_id.as_str()), Some(zone));
            for _ in 0..10 {
                let before = e.security_groups();
                let patch = e.edit(EpEditKind::SecurityGroups, &mut rng);
                assert_ne!(e.security_groups(), before, "an edit changes the groups");
                assert!(!e.security_groups().is_empty());
                for g in e.security_groups() {
                    let group = world.security_group(b, region, &g).unwrap_or_else(|| panic!("{g}"));
                    assert_eq!((group.vpc_id.as_str(), group.kind.as_str()), (vpc, "normal"));
                }
                assert_eq!(patch["spec"]["securityGroupIds"], json!(e.security_groups()));
            }
            let m = e.manifest("ep-000", "svc-000", "run");
            assert_eq!(m["kind"], ENDPOINT_KIND);
            assert_eq!(m["spec"]["serviceRef"]["name"], "svc-000");
            assert_eq!(m["spec"]["zones"][0]["vSwitchId"], vsw);
            assert_eq!(m["spec"]["credentialsSecretRef"]["name"], CONSUMER_SECRET);
            assert!(m["spec"].get("deletionPolicy").is_none());
        }
    }
}
