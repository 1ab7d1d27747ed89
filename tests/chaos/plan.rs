//! The size of a run and its timed plan, derived from the seed alone (pure): the same seed gives the
//! same objects, the same specs and the same actions at the same offsets. Which object an edit, a
//! deletion or a connection hits is chosen at run time (from a second RNG of the same seed) among
//! the objects that qualify then, so it also depends on how far the operator has got.
//!
//! A share of the services ([`ENDPOINT_SHARE`]) gets a `VpcEndpoint` of account B. That part of the
//! plan comes from a second RNG of the same seed, so the services' own plan is the one it was before
//! endpoints joined.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::spec::{EpSpec, Spec};

/// Operator SIGKILLs per run.
pub const KILLS: usize = 10;
/// Share of the objects created with `deletionPolicy: Orphan`, in percent.
pub const ORPHAN_PERCENT: u32 = 10;
/// One service in this many gets a `VpcEndpoint` (chosen by the seed).
pub const ENDPOINT_SHARE: usize = 5;
/// Most endpoints per region: account B has one VPC per region and the simulator allows 50 endpoints
/// per VPC (Orphan ones stay).
pub const MAX_ENDPOINTS_PER_REGION: usize = 45;
/// Salt of the endpoint plan's RNG (the seed XOR this).
const ENDPOINT_SALT: u64 = 0x5eed_e9d0_e9d0_0001;

/// How big a run is.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub resources: usize,
    pub namespaces: usize,
    /// Length of the chaos phase (creation, edits, faults, kills, ...), before the final teardown.
    pub window: Duration,
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

impl Config {
    /// `CHAOS_SEED` (default: random), `CHAOS_RESOURCES` (default 300), `CHAOS_SECONDS` (length of the
    /// chaos phase; default 2 s per resource, at least 150 s).
    pub fn from_env() -> Config {
        let seed = env_parse("CHAOS_SEED").unwrap_or_else(rand::random);
        let resources: usize = env_parse("CHAOS_RESOURCES").unwrap_or(300).max(6);
        let secs = env_parse("CHAOS_SECONDS").unwrap_or((resources as u64 * 2).max(150));
        Config {
            seed,
            resources,
            namespaces: (resources / 50).clamp(3, 8),
            window: Duration::from_secs(secs),
        }
    }
}

/// One planned object.
#[derive(Clone, Debug)]
pub struct PlannedObject {
    pub name: String,
    pub ns: usize,
    pub spec: Spec,
}

/// One planned `VpcEndpoint`: account B's endpoint to service `svc` (same namespace).
#[derive(Clone, Debug)]
pub struct PlannedEndpoint {
    pub name: String,
    pub svc: usize,
    pub spec: EpSpec,
}

/// One action of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// Create planned object `i`.
    Create(usize),
    /// Edit one live object's spec.
    Edit,
    /// Delete one live object.
    Delete,
    /// Open connection `k` on a quiet object's service.
    Connect(usize),
    /// Close connection `k`, if it was opened.
    Disconnect(usize),
    /// SIGKILL every operator process and start them again.
    KillOperators,
    /// Restart the shared apiserver (`tests/scripts/testenv-restart.sh apiserver`).
    RestartApiserver,
    /// Point the switch namespace's Secret at the other account, check, switch back.
    SwitchAccount,
    /// Delete namespace `n` with its Secret and objects.
    DeleteNamespace(usize),
    /// Create planned endpoint `j` (skipped when its service is gone or was never created).
    CreateEndpoint(usize),
    /// Edit one live endpoint's spec.
    EditEndpoint,
    /// Delete one live endpoint (its service stays).
    DeleteEndpoint,
}

#[derive(Clone, Debug)]
pub struct Planned {
    pub at: Duration,
    pub act: Act,
}

/// The whole plan of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub objects: Vec<PlannedObject>,
    pub endpoints: Vec<PlannedEndpoint>,
    pub events: Vec<Planned>,
    /// The namespace whose credentials switch to the other account.
    pub switch_ns: usize,
    /// Namespaces deleted during the chaos phase (the others at the end).
    pub deleted_ns: Vec<usize>,
}

/// `n` offsets spread at random over the fractions `from..to` of the window.
fn times(rng: &mut StdRng, window: Duration, n: usize, from: f64, to: f64) -> Vec<Duration> {
    (0..n).map(|_| window.mul_f64(rng.random_range(from..to))).collect()
}

/// The services that get an endpoint: one in [`ENDPOINT_SHARE`], chosen at random, at most
/// [`MAX_ENDPOINTS_PER_REGION`] per region; in index order.
pub fn consumers(objects: &[PlannedObject], rng: &mut StdRng) -> Vec<usize> {
    let want = objects.len() / ENDPOINT_SHARE;
    let picked = rand::seq::index::sample(rng, objects.len(), want);
    let mut per_region: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut out: Vec<usize> = picked
        .into_iter()
        .filter(|&i| {
            let n = per_region.entry(objects[i].spec.region).or_default();
            *n += 1;
            *n <= MAX_ENDPOINTS_PER_REGION
        })
        .collect();
    out.sort_unstable();
    out
}

/// The plan of a run (pure: a function of the config and its seed).
pub fn plan(cfg: &Config) -> Plan {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (n, w) = (cfg.resources, cfg.window);
    let mut objects: Vec<PlannedObject> = (0..n)
        .map(|i| PlannedObject {
            name: format!("svc-{i:03}"),
            ns: i % cfg.namespaces,
            spec: Spec::random(&mut rng, ORPHAN_PERCENT),
        })
        .collect();
    let mut namespaces: Vec<usize> = (0..cfg.namespaces).collect();
    namespaces.shuffle(&mut rng);
    let switch_ns = namespaces[0];
    let deleted_ns: Vec<usize> = namespaces[1..].iter().copied().take(cfg.namespaces.div_ceil(3)).collect();

    let mut events = Vec::new();
    let mut add = |at: Duration, act: Act| events.push(Planned { at, act });
    // Creation over the first quarter, evenly, while faults and kills already run.
    for i in 0..n {
        add(w.mul_f64(0.25 * i as f64 / n as f64), Act::Create(i));
    }
    for at in times(&mut rng, w, n, 0.10, 0.95) {
        add(at, Act::Edit);
    }
    for at in times(&mut rng, w, n / 5, 0.30, 0.95) {
        add(at, Act::Delete);
    }
    let lifetime = (w.as_secs_f64() / 5.0).clamp(20.0, 60.0);
    for (k, at) in times(&mut rng, w, (n / 6).max(4), 0.15, 0.85).into_iter().enumerate() {
        add(at, Act::Connect(k));
        add(at + Duration::from_secs_f64(rng.random_range(10.0..lifetime)), Act::Disconnect(k));
    }
    for at in times(&mut rng, w, KILLS, 0.05, 0.92) {
        add(at, Act::KillOperators);
    }
    add(w.mul_f64(rng.random_range(0.45..0.55)), Act::RestartApiserver);
    add(w.mul_f64(rng.random_range(0.28..0.35)), Act::SwitchAccount);
    let ns_times = times(&mut rng, w, deleted_ns.len(), 0.55, 0.85);
    for (&ns, at) in deleted_ns.iter().zip(ns_times) {
        add(at, Act::DeleteNamespace(ns));
    }
    let endpoints = plan_endpoints(cfg, &mut objects, &mut events);
    events.sort_by_key(|e| e.at);
    Plan { objects, endpoints, events, switch_ns, deleted_ns }
}

/// The endpoints and their actions: each created some time after its service (up to a fifth of the
/// window later, so some wait for a service that is not Ready yet), one edit per endpoint and one
/// endpoint in four deleted on its own. Marks the services that get one (their endpoint zone).
fn plan_endpoints(
    cfg: &Config,
    objects: &mut [PlannedObject],
    events: &mut Vec<Planned>,
) -> Vec<PlannedEndpoint> {
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ ENDPOINT_SALT);
    let (n, w) = (objects.len(), cfg.window);
    let mut endpoints = Vec::new();
    for i in consumers(objects, &mut rng) {
        let spec = &mut objects[i].spec;
        spec.endpoint_zone = Some(spec.resources[rng.random_range(0..spec.resources.len())].zone);
        let j = endpoints.len();
        endpoints.push(PlannedEndpoint {
            name: format!("ep-{i:03}"),
            svc: i,
            spec: EpSpec::for_service(spec),
        });
        let created = 0.25 * i as f64 / n as f64;
        events.push(Planned {
            at: w.mul_f64(created + rng.random_range(0.02..0.20)),
            act: Act::CreateEndpoint(j),
        });
    }
    for at in times(&mut rng, w, endpoints.len(), 0.30, 0.95) {
        events.push(Planned { at, act: Act::EditEndpoint });
    }
    for at in times(&mut rng, w, endpoints.len().div_ceil(4), 0.40, 0.90) {
        events.push(Planned { at, act: Act::DeleteEndpoint });
    }
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64, resources: usize) -> Config {
        Config { seed, resources, namespaces: 3, window: Duration::from_secs(150) }
    }

    #[test]
    fn a_seed_gives_one_plan() {
        let (a, b) = (plan(&cfg(42, 30)), plan(&cfg(42, 30)));
        assert_eq!(format!("{:?}", a.events), format!("{:?}", b.events));
        assert_eq!(format!("{:?}", a.objects), format!("{:?}", b.objects));
        assert_ne!(format!("{:?}", plan(&cfg(43, 30)).events), format!("{:?}", a.events));
    }

    #[test]
    fn the_plan_has_every_kind_of_chaos() {
        let p = plan(&cfg(1, 30));
        let count = |f: fn(&Act) -> bool| p.events.iter().filter(|e| f(&e.act)).count();
        assert_eq!(count(|a| matches!(a, Act::Create(_))), 30);
        assert_eq!(count(|a| *a == Act::KillOperators), KILLS);
        assert_eq!(count(|a| *a == Act::RestartApiserver), 1);
        assert_eq!(count(|a| *a == Act::SwitchAccount), 1);
        assert_eq!(count(|a| matches!(a, Act::DeleteNamespace(_))), 1);
        assert!(!p.deleted_ns.contains(&p.switch_ns));
        assert!(p.events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(count(|a| matches!(a, Act::CreateEndpoint(_))), 30 / ENDPOINT_SHARE);
        assert_eq!(count(|a| *a == Act::EditEndpoint), 30 / ENDPOINT_SHARE);
        assert_eq!(count(|a| *a == Act::DeleteEndpoint), 2);
    }

    #[test]
    fn endpoints_follow_their_service_and_keep_to_its_zone() {
        for seed in 0..20 {
            let p = plan(&cfg(seed, 60));
            assert_eq!(p.endpoints.len(), 60 / ENDPOINT_SHARE);
            let at = |act: Act| p.events.iter().find(|e| e.act == act).map(|e| e.at).unwrap();
            for (j, e) in p.endpoints.iter().enumerate() {
                let svc = &p.objects[e.svc].spec;
                assert!(at(Act::CreateEndpoint(j)) > at(Act::Create(e.svc)), "seed {seed}: {e:?}");
                assert_eq!(svc.endpoint_zone, Some(e.spec.zone));
                assert!(svc.resources.iter().any(|r| r.zone == e.spec.zone), "seed {seed}: {e:?}");
                assert_eq!((e.spec.region, e.spec.orphan), (svc.region, svc.orphan));
            }
            let with_zone = p.objects.iter().filter(|o| o.spec.endpoint_zone.is_some()).count();
            assert_eq!(with_zone, p.endpoints.len(), "only the consumers' services accept account B");
        }
        // The services' own plan does not depend on the endpoints: same specs apart from the zone.
        let p = plan(&cfg(7, 30));
        let mut rng = StdRng::seed_from_u64(7);
        for o in &p.objects {
            let mut s = Spec::random(&mut rng, ORPHAN_PERCENT);
            s.endpoint_zone = o.spec.endpoint_zone;
            assert_eq!(format!("{s:?}"), format!("{:?}", o.spec));
        }
    }

    #[test]
    fn consumers_are_a_share_capped_per_region() {
        let obj = |region: &'static str| {
            let mut s = Spec::random(&mut StdRng::seed_from_u64(0), 0);
            s.region = region;
            PlannedObject { name: String::new(), ns: 0, spec: s }
        };
        // Objects (region, count) → endpoints expected (region, count).
        type Counts = &'static [(&'static str, usize)];
        let cases: [(Counts, Counts); 4] = [
            (&[("cn-hangzhou", 4)], &[]),
            (&[("cn-hangzhou", 30)], &[("cn-hangzhou", 6)]),
            // 60 wanted, capped.
            (&[("cn-hangzhou", 300)], &[("cn-hangzhou", MAX_ENDPOINTS_PER_REGION)]),
            (
                &[("cn-hangzhou", 500), ("cn-beijing", 500)],
                &[("cn-beijing", MAX_ENDPOINTS_PER_REGION), ("cn-hangzhou", MAX_ENDPOINTS_PER_REGION)],
            ),
        ];
        for (objects, want) in cases {
            let objects: Vec<PlannedObject> =
                objects.iter().flat_map(|&(r, k)| (0..k).map(move |_| obj(r))).collect();
            let picked = consumers(&objects, &mut StdRng::seed_from_u64(1));
            assert!(picked.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
            let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
            for i in &picked {
                *per.entry(objects[*i].spec.region).or_default() += 1;
            }
            assert_eq!(per.into_iter().collect::<Vec<_>>(), want.to_vec());
        }
    }
}
