//! The chaos proof (`make chaos`; what it does and the last full run: `README.md` beside this file).
//!
//! A seeded run against the testenv's real apiserver and a simulator of its own: objects created,
//! edited and deleted under cloud faults, operator SIGKILLs, an apiserver restart, consumer connections,
//! namespace deletions and a credentials switch, with a `VpcEndpoint` of account B on one service in
//! five; then the invariants are judged over what was observed.
//! It restarts the SHARED apiserver, so it runs after `e2e`, single-threaded, like `e2e_restart`.

#[path = "../e2e/harness.rs"]
mod harness;

mod driver;
mod observe;
mod plan;
mod spec;
mod verdict;
mod world;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use kube::api::{Api, DynamicObject, ListParams};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::{
    driver::{Driver, SwitchOutcome},
    harness::{Consumer, Ctx},
    observe::{Admin, CloudKind, CloudLog, JournalLog, ReadyLog},
    plan::{Config, KILLS},
    verdict::Figures,
    world::{DEFAULT_KEYS, OTHER_KEYS, Operators},
};

/// Short cloud state times, so that many objects live through many states in a few minutes.
const SIM_ARGS: &[&str] = &["--create-seconds", "0.5", "--update-seconds", "0.3", "--delete-seconds", "0.5"];
/// Above the default 100 services per account and region.
const SERVICE_QUOTA: u64 = 2000;
/// After the faults stop: how long live objects may take to be Ready, and deleted ones to be gone.
/// Both cover the operator's longest error backoff (300 s plus jitter).
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(420);
const GONE_TIMEOUT: Duration = Duration::from_secs(420);

/// Faults on every mutating action of the simulator's table. They are evaluated in order and the
/// first failure that fires wins, so the later probabilities are raised to give 20 % throttled, 5 %
/// 5xx and 10 % committed-but-lost of all mutating calls; every one is also delayed by 0-300 ms.
fn faults() -> Vec<Value> {
    let mutating = privatelink_sim::ops::PRIVATELINK.iter().filter(|op| op.mutating);
    mutating
        .flat_map(|op| {
            [
                json!({"action": op.action, "kind": "latency", "latencyMs": 0, "jitterMs": 300}),
                json!({"action": op.action, "kind": "throttle", "probability": 0.20}),
                json!({"action": op.action, "kind": "error", "probability": 0.05 / 0.80}),
                json!({"action": op.action, "kind": "lose_response", "probability": 0.10 / 0.75}),
            ]
        })
        .collect()
}

/// Times each kind of fault fired (`GET /_sim/faults`).
async fn faults_fired(admin: &Admin) -> BTreeMap<String, u64> {
    let mut fired = BTreeMap::new();
    let list = admin.get("faults").await.unwrap_or_default();
    for f in list.as_array().or(list["faults"].as_array()).into_iter().flatten() {
        let kind = f["kind"].as_str().unwrap_or("?").to_string();
        *fired.entry(kind).or_default() += f["fired"].as_u64().unwrap_or(0);
    }
    fired
}

struct Logs {
    ready: Arc<Mutex<ReadyLog>>,
    cloud: Arc<Mutex<CloudLog>>,
    journal: Arc<Mutex<JournalLog>>,
    /// The `VpcEndpoint` objects' Ready, and the simulator's endpoints.
    ep_ready: Arc<Mutex<ReadyLog>>,
    endpoints: Arc<Mutex<CloudLog>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos() {
    let started = Instant::now();
    let cfg = Config::from_env();
    println!(
        "chaos: CHAOS_SEED={} CHAOS_RESOURCES={} CHAOS_SECONDS={} ({} namespaces)",
        cfg.seed,
        cfg.resources,
        cfg.window.as_secs(),
        cfg.namespaces
    );
    let plan = plan::plan(&cfg);
    let ctx = Ctx::new("chaos").await;
    println!("chaos: run {}; logs in {}", ctx.ns, ctx.log_dir.display());
    let sim = ctx.start_sim(SIM_ARGS).await;
    sim.config(json!({"serviceQuota": SERVICE_QUOTA})).await;
    let admin = Admin::new(&sim.url);
    for f in faults() {
        sim.fault(f).await;
    }
    let mut namespaces = Vec::new();
    for n in 0..cfg.namespaces {
        let ns = ctx.extra_namespace(&format!("n{n}")).await;
        world::set_credentials(&ctx.client, &ns, DEFAULT_KEYS).await.unwrap();
        world::set_secret(&ctx.client, &ns, spec::CONSUMER_SECRET, OTHER_KEYS).await.unwrap();
        namespaces.push(ns);
    }
    let logs = Logs {
        ready: Default::default(),
        cloud: Arc::new(Mutex::new(CloudLog::new(CloudKind::Services))),
        journal: Default::default(),
        ep_ready: Default::default(),
        endpoints: Arc::new(Mutex::new(CloudLog::new(CloudKind::Endpoints))),
    };
    let t0 = Instant::now();
    let watchers = [
        observe::spawn_watcher(ctx.client.clone(), ctx.ar.clone(), &ctx.ns, logs.ready.clone(), t0),
        observe::spawn_watcher(
            ctx.client.clone(),
            world::endpoint_resource(),
            &ctx.ns,
            logs.ep_ready.clone(),
            t0,
        ),
    ];
    let clouds = [logs.cloud.clone(), logs.endpoints.clone()];
    let pollers = observe::spawn_pollers(admin.clone(), clouds, logs.journal.clone(), t0);
    let ops = Operators::start(&ctx, &sim.url, &namespaces);
    let owner = Consumer::new(&sim, DEFAULT_KEYS.0, DEFAULT_KEYS.1);
    let ns_deadline = t0 + cfg.window + CONVERGE_TIMEOUT + GONE_TIMEOUT + Duration::from_secs(600);
    let mut d = Driver::new(
        &ctx,
        &plan,
        cfg.seed,
        namespaces,
        ops,
        admin.clone(),
        owner,
        logs.ready.clone(),
        ns_deadline,
    );

    d.run(&plan.events).await;
    println!("chaos: t={}s chaos phase over; clearing faults and connections", d.t0.elapsed().as_secs());
    let mut fig = Figures {
        seed: cfg.seed,
        resources: cfg.resources,
        namespaces: cfg.namespaces,
        ..Default::default()
    };
    finish(&mut d, &admin, &logs, &mut fig).await;
    pollers.abort();
    for w in &watchers {
        w.abort();
    }
    observe::poll_journal(&admin, &logs.journal).await;
    collect(&d, &plan, &logs, &mut fig);
    fig.wall = started.elapsed();

    let checks = verdict::checks(&fig, KILLS as u32);
    let table = verdict::table(&fig, &checks);
    println!("\n{table}");
    let out = harness::repo_root().join("target/chaos");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("last-run.md"), &table);
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    assert!(
        failed.is_empty(),
        "chaos run CHAOS_SEED={} failed: {}\n(figures above; process logs in {})",
        cfg.seed,
        failed.join("; "),
        ctx.log_dir.display()
    );
}

/// The end: background actions finish, faults and connections go, live objects must become Ready,
/// then every namespace is deleted and must go.
async fn finish(d: &mut Driver<'_>, admin: &Admin, logs: &Logs, fig: &mut Figures) {
    let switch = match d.switch.take() {
        Some(h) => h.await.unwrap_or_default(),
        None => SwitchOutcome { skipped: Some("never started".into()), ..Default::default() },
    };
    describe_switch(&switch, fig);
    match d.apiserver.take().map(|h| async { h.await.map_err(|e| e.to_string()).and_then(|r| r) }) {
        Some(r) => match r.await {
            Ok(took) => {
                fig.apiserver_restarts = 1;
                fig.apiserver_restart = format!("ready again after {} s", took.as_secs());
            }
            Err(e) => fig.apiserver_restart = e,
        },
        None => fig.apiserver_restart = "never started".into(),
    }
    fig.faults = faults_fired(admin).await;
    let _ = admin.call(reqwest::Method::DELETE, "faults", None).await;
    d.disconnect_all().await;
    (fig.not_converged, fig.ep.not_converged) = converge(d, logs).await;
    println!("chaos: t={}s deleting every namespace", d.t0.elapsed().as_secs());
    for n in 0..d.namespaces.len() {
        d.delete_namespace(n);
    }
    fig.stuck = wait_gone(d).await;
    settle_cloud(admin, &logs.cloud, d.t0).await;
    settle_cloud(admin, &logs.endpoints, d.t0).await;
}

fn describe_switch(s: &SwitchOutcome, fig: &mut Figures) {
    fig.switch = match &s.skipped {
        Some(why) => format!("not made: {why}"),
        None => format!(
            "{}: {} of {} objects reported AccountMismatch, then switched back",
            s.ns, s.mismatched, s.objects
        ),
    };
    fig.switch_problems.extend(s.skipped.iter().map(|w| format!("switch not made: {w}")));
    fig.switch_problems.extend(s.missing.iter().map(|m| format!("no AccountMismatch: {m}")));
    fig.switch_problems.extend(s.errors.iter().cloned());
}

/// Objects still alive (namespace, name, UID, the generation the test wrote last) that are not Ready
/// for that generation.
fn not_ready<'a>(
    live: impl Iterator<Item = (&'a str, &'a str, &'a str, Option<i64>)>,
    ready: &Mutex<ReadyLog>,
) -> Vec<String> {
    let r = ready.lock();
    live.filter_map(|(ns, name, uid, generation)| {
        let name = format!("{ns}/{name}");
        match r.objects.get(uid) {
            Some(v) if v.ready_for_generation() && v.generation == generation => None,
            Some(v) => Some(format!(
                "{name}: Ready {} {}",
                v.ready_reason(),
                v.ready.as_ref().map_or("", |c| &c.message)
            )),
            None => Some(format!("{name}: not seen by the watcher")),
        }
    })
    .collect()
}

/// Waits until every live service and every live endpoint is Ready; returns those that are not.
async fn converge(d: &mut Driver<'_>, logs: &Logs) -> (Vec<String>, Vec<String>) {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    loop {
        d.ops.supervise(d.t0.elapsed());
        let ns = |n: usize| d.namespaces[n].as_str();
        let services = d
            .objs
            .iter()
            .filter(|o| !o.deleted)
            .filter_map(|o| Some((ns(o.ns), o.name.as_str(), o.uid.as_deref()?, o.generation)));
        let endpoints = d
            .eps
            .iter()
            .filter(|e| !e.deleted)
            .filter_map(|e| Some((ns(e.ns), e.name.as_str(), e.uid.as_deref()?, e.generation)));
        let waiting = (not_ready(services, &logs.ready), not_ready(endpoints, &logs.ep_ready));
        if (waiting.0.is_empty() && waiting.1.is_empty()) || Instant::now() > deadline {
            return waiting;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits for every namespace deletion; returns what is stuck (objects with their finalizers and
/// status, namespaces with what they still hold).
async fn wait_gone(d: &mut Driver<'_>) -> Vec<String> {
    let deadline = Instant::now() + GONE_TIMEOUT;
    while Instant::now() < deadline && d.ns_tasks.iter().any(|h| !h.is_finished()) {
        d.ops.supervise(d.t0.elapsed());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut stuck = Vec::new();
    for h in d.ns_tasks.drain(..) {
        if !h.is_finished() {
            h.abort();
            continue;
        }
        match h.await {
            Ok(o) if o.gone_after.is_none() => stuck.push(format!("namespace {} not gone: {}", o.ns, o.last)),
            Ok(_) => {}
            Err(e) => stuck.push(format!("namespace deletion task failed: {e}")),
        }
    }
    stuck.extend(leftover_objects(d).await);
    stuck
}

/// This run's objects of both kinds still in the apiserver.
async fn leftover_objects(d: &Driver<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ar in [d_ar(d), world::endpoint_resource()] {
        let api: Api<DynamicObject> = Api::all_with(d_client(d), &ar);
        let lp = ListParams::default().labels(&format!("{}={}", spec::RUN_LABEL, d_run(d)));
        match world::kube_retry(|| api.list(&lp)).await {
            Ok(list) => out.extend(list.items.iter().filter_map(observe::ObjView::from).map(|v| {
                let msg = v.ready.as_ref().map_or(String::new(), |c| c.message.clone());
                format!(
                    "{} {}/{} finalizers {:?}, Ready {}: {msg}",
                    ar.kind,
                    v.ns,
                    v.name,
                    v.finalizers,
                    v.ready_reason()
                )
            })),
            Err(e) => out.push(format!("could not list the leftover {}s: {e}", ar.kind)),
        }
    }
    out
}

fn d_client(d: &Driver<'_>) -> kube::Client {
    d.ctx().client.clone()
}
fn d_ar(d: &Driver<'_>) -> kube::api::ApiResource {
    d.ctx().ar.clone()
}
fn d_run(d: &Driver<'_>) -> String {
    d.ctx().ns.clone()
}

/// Waits until no service (endpoint: the log's kind) is `Deleting` any more (at most 15 s) and takes
/// the final snapshot.
async fn settle_cloud(admin: &Admin, log: &Mutex<CloudLog>, t0: Instant) {
    let kind = log.lock().kind;
    for _ in 0..30 {
        match admin.list(kind).await {
            Ok(s) if s.iter().all(|s| s[kind.status_key()] != "Deleting") => break,
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    observe::poll_cloud(admin, log, t0).await;
}

/// The figures from the driver's counters and the observers' logs.
fn collect(d: &Driver<'_>, plan: &plan::Plan, logs: &Logs, fig: &mut Figures) {
    let c = &d.c;
    fig.created = c.created;
    fig.orphans = plan.objects.iter().filter(|o| o.spec.orphan).count();
    fig.edits = c.edits.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    (fig.deletes, fig.orphan_deletes) = (c.deletes, c.orphan_deletes);
    (fig.kills, fig.killed, fig.operator_exits) = (d.ops.kills, d.ops.killed, d.ops.exits.clone());
    (fig.connections, fig.connections_skipped, fig.disconnects) =
        (c.connects, c.connects_skipped, c.disconnects);
    fig.namespaces_deleted_mid_run = plan.deleted_ns.len() as u64;
    fig.namespaces_deleted = d.namespaces.len();
    fig.errors.extend(d.errors.iter().cloned());
    let names: BTreeMap<String, String> = d
        .objs
        .iter()
        .filter_map(|o| Some((o.uid.clone()?, format!("{}/{}", d.namespaces[o.ns], o.name))))
        .collect();
    collect_cloud(&logs.cloud.lock(), &d.orphan_uids(), &names, fig);
    collect_journal(&logs.journal.lock(), fig);
    let switch_ns = &d.namespaces[plan.switch_ns];
    collect_ready(
        &logs.ready.lock(),
        switch_ns,
        &mut fig.flaps,
        &mut fig.allowed_drops,
        &mut fig.false_reasons,
    );
    collect_endpoints(d, plan, logs, fig);
}

fn collect_endpoints(d: &Driver<'_>, plan: &plan::Plan, logs: &Logs, fig: &mut Figures) {
    let c = &d.c.ep;
    let e = &mut fig.ep;
    e.planned = plan.endpoints.len();
    e.orphans = plan.endpoints.iter().filter(|p| p.spec.orphan).count();
    (e.created, e.skipped, e.deletes) = (c.created, c.skipped, c.deletes);
    (e.with_service, e.service_first, e.orphan_deletes) = (c.with_service, c.service_first, c.orphan_deletes);
    e.edits = c.edits.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    e.writes = logs.journal.lock().consumer_writes;
    let names: BTreeMap<String, String> = d
        .eps
        .iter()
        .filter_map(|o| Some((o.uid.clone()?, format!("{}/{}", d.namespaces[o.ns], o.name))))
        .collect();
    e.cloud = verdict::ownership(&logs.endpoints.lock(), &d.orphan_endpoint_uids(), &names);
    let switch_ns = &d.namespaces[plan.switch_ns];
    // Endpoint flaps count with the services' (invariant 4); the legitimate drops are listed apart.
    collect_ready(
        &logs.ep_ready.lock(),
        switch_ns,
        &mut fig.flaps,
        &mut e.allowed_drops,
        &mut e.false_reasons,
    );
}

fn collect_cloud(
    cloud: &CloudLog,
    orphans: &BTreeSet<String>,
    names: &BTreeMap<String, String>,
    fig: &mut Figures,
) {
    let o = verdict::ownership(cloud, orphans, names);
    (fig.max_services_per_uid, fig.duplicates, fig.replaced) = (o.max_per_uid, o.duplicates, o.replaced);
    (fig.untagged, fig.leaked, fig.orphans_kept) = (o.untagged, o.leaked, o.orphans_kept);
    fig.other_account_services = cloud.other_account.len();
}

fn collect_journal(j: &JournalLog, fig: &mut Figures) {
    fig.refused = j.refused.clone();
    fig.refused_total = ["DeleteVpcEndpointService", "DetachResourceFromVpcEndpointService"]
        .iter()
        .map(|a| j.total(a, observe::CONNECTION_DEPENDENCE))
        .sum();
    fig.journal_missed = j.missed;
    fig.other_account_writes = j.other_account_writes.clone();
    fig.cloud_calls = j.total_calls();
}

fn collect_ready(
    r: &ReadyLog,
    switch_ns: &str,
    flaps: &mut Vec<String>,
    allowed_drops: &mut BTreeMap<String, u64>,
    false_reasons: &mut BTreeMap<String, u64>,
) {
    *false_reasons = r.false_reasons.clone();
    for t in &r.transitions {
        match verdict::explain(t, switch_ns) {
            Some(why) => *allowed_drops.entry(format!("{why} ({})", t.reason)).or_default() += 1,
            None => flaps.push(format!(
                "t={}s {}/{} Ready True->False reason {} (generation {:?} -> {:?}): {}",
                t.at.as_secs(),
                t.ns,
                t.name,
                t.reason,
                t.from_generation,
                t.to_generation,
                t.message
            )),
        }
    }
}
