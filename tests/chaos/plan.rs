//! The size of a run and its timed plan, derived from the seed alone (pure): the same seed gives the
//! same objects, the same specs and the same actions at the same offsets. Which object an edit, a
//! deletion or a connection hits is chosen at run time (from a second RNG of the same seed) among
//! the objects that qualify then, so it also depends on how far the operator has got.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::spec::Spec;

/// Operator SIGKILLs per run.
pub const KILLS: usize = 10;
/// Share of the objects created with `deletionPolicy: Orphan`, in percent.
pub const ORPHAN_PERCENT: u32 = 10;

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

/// The plan of a run (pure: a function of the config and its seed).
pub fn plan(cfg: &Config) -> Plan {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (n, w) = (cfg.resources, cfg.window);
    let objects = (0..n)
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
    events.sort_by_key(|e| e.at);
    Plan { objects, events, switch_ns, deleted_ns }
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
    }
}
