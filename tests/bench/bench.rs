//! Operator benchmark driver for `make bench` (`tests/scripts/bench.sh`). It measures; it asserts nothing.
//!
//! One invocation = one scenario against a running testenv (real kube-apiserver + privatelink-sim,
//! `tests/scripts/testenv-up.sh`, variables from `.testenv/env`):
//!
//! 1. reset the simulator and set its create time, quota, QPS limit and (optionally) a latency fault;
//! 2. start a watch on a fresh namespace, then the operator (release binary) watching only it;
//! 3. create N `VpcEndpointService` objects at once (bounded parallel creates);
//! 4. wait until the watch has seen Ready=True on all of them, sampling the operator's CPU and memory;
//! 5. optionally hold steady state for K resync intervals and count cloud calls and Kubernetes writes;
//! 6. write everything to a JSON file and print a summary.
//!
//! Latency overhead per object = (time the watch saw Ready=True) − (time the simulator made the
//! service Active = journal time of its CreateVpcEndpointService + createSeconds).
//!
//! Usage: `cargo run --release --example bench -- --label burst --n 1000 --out target/bench/burst.json`
//! (see `--help`). Environment: `KUBECONFIG` (admin, for the driver), `OPERATOR_KUBECONFIG` (for the
//! operator; falls back to `KUBECONFIG`), `PRIVATELINK_ENDPOINT`, `PRIVATELINK_SIM_ADMIN`,
//! `ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET`, optionally `TESTENV_APISERVER_PID`, `TESTENV_SIM_PID`.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, ObjectMeta, PostParams},
    runtime::watcher,
};
use parking_lot::Mutex;
use privatelink_operator::crd::{VpcEndpointService, VpcEndpointServiceSpec};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const CREATE: &str = "CreateVpcEndpointService";
const GET: &str = "GetVpcEndpointServiceAttribute";

#[derive(Parser, Debug, Clone)]
#[command(about = "privatelink-operator benchmark driver (one scenario)")]
struct Args {
    /// Scenario name (used for the namespace and file names).
    #[arg(long)]
    label: String,
    /// Objects to create at once.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Operator binary.
    #[arg(long, default_value = "target/release/privatelink-operator")]
    operator_bin: PathBuf,
    /// Simulator: seconds a new service stays Creating.
    #[arg(long, default_value_t = 3.0)]
    create_seconds: f64,
    /// Simulator: requests per second per account (0 = unlimited).
    #[arg(long, default_value_t = 0.0)]
    sim_qps_limit: f64,
    /// Simulator: latency fault added to every call, in ms (shows the concurrency bound).
    #[arg(long)]
    sim_latency_ms: Option<u64>,
    /// Operator `--qps` (per access key).
    #[arg(long, default_value_t = 1000)]
    qps: u32,
    /// Operator `--burst`.
    #[arg(long, default_value_t = 2000)]
    burst: u32,
    /// Operator `--concurrency`.
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// Operator `--resync-seconds`.
    #[arg(long, default_value_t = 60)]
    resync_seconds: u64,
    /// Operator `--connection-poll-seconds`.
    #[arg(long, default_value_t = 30)]
    connection_poll_seconds: u64,
    /// Give every object approval lists (`connectionApproval.acceptFrom`, auto-accept off): the
    /// connection poll's call budget.
    #[arg(long)]
    approval: bool,
    /// Steady-state window after all are Ready, in resync intervals (0 = skip).
    #[arg(long, default_value_t = 0)]
    steady_intervals: u32,
    /// Parallel creates toward the apiserver.
    #[arg(long, default_value_t = 32)]
    apply_concurrency: usize,
    /// Give up waiting for Ready after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_seconds: u64,
    /// Poll the sim journal every S seconds while waiting (it keeps only the last 10,000 calls);
    /// 0 = once at the end. Default: 2 when N > 1200, else 0.
    #[arg(long)]
    journal_poll_seconds: Option<f64>,
    /// After everything else: restart the operator and measure its memory once it has reconciled
    /// every (already Ready) object again; separates steady-state footprint from burst leftovers.
    #[arg(long)]
    restart_check: bool,
    /// Fairness probe (issue 16 B): this many seconds into the burst, apply one object in namespace
    /// `<ns>-b` (same account) and one in `<ns>-c` (another account's credentials), and time each to Ready.
    #[arg(long)]
    fair_after_seconds: Option<f64>,
    /// Raw results (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Directory for the operator log.
    #[arg(long, default_value = "target/bench")]
    log_dir: PathBuf,
}

fn env(name: &str) -> Res<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (source .testenv/env)").into())
}

// ---------- /proc ----------

#[derive(Clone, Copy, Debug, Default)]
struct ProcSample {
    cpu_s: f64,
    rss_kib: u64,
    hwm_kib: u64,
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn proc_sample(pid: u32, tck: f64) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state(3) ... utime(14) stime(15).
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample { cpu_s: ticks / tck, rss_kib: kib("VmRSS:"), hwm_kib: kib("VmHWM:") })
}

fn env_pid(name: &str) -> Option<u32> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string()
}

// ---------- watch bookkeeping ----------

#[derive(Clone, Debug, Default)]
struct Obs {
    /// When the driver's create call returned.
    created_at: Option<Timestamp>,
    /// Distinct resourceVersions seen after the first (= writes to the object).
    writes: u64,
    /// When each write was seen (for the timelines of the slowest objects).
    write_times: Vec<Timestamp>,
    last_rv: String,
    service_id: Option<String>,
    ready_at: Option<Timestamp>,
}

#[derive(Default)]
struct Book {
    objs: HashMap<String, Obs>,
}

fn is_ready(o: &VpcEndpointService) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| {
            c.type_ == "Ready"
                && c.status == "True"
                && c.observed_generation.is_none_or(|g| Some(g) == o.metadata.generation)
        })
    })
}

fn observe(book: &Mutex<Book>, ready: &AtomicUsize, o: &VpcEndpointService) {
    let now = Timestamp::now();
    let rv = o.resource_version().unwrap_or_default();
    let mut b = book.lock();
    let e = b.objs.entry(o.name_any()).or_default();
    if e.last_rv.is_empty() {
        e.last_rv = rv;
    } else if e.last_rv != rv {
        e.last_rv = rv;
        e.writes += 1;
        e.write_times.push(now);
    }
    if e.service_id.is_none() {
        e.service_id = o.status.as_ref().and_then(|s| s.service_id.clone());
    }
    if e.ready_at.is_none() && is_ready(o) {
        e.ready_at = Some(now);
        ready.fetch_add(1, Ordering::Relaxed);
    }
}

// ---------- simulator admin + journal ----------

#[derive(Clone, Debug)]
struct CallRec {
    action: String,
    code: String,
    service_id: Option<String>,
    time: Timestamp,
}

struct Sim {
    http: reqwest::Client,
    admin: String,
}

impl Sim {
    async fn send(&self, rb: reqwest::RequestBuilder) -> Res<Value> {
        let r = rb.send().await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if !status.is_success() {
            return Err(format!("sim admin: {status}: {body}").into());
        }
        Ok(body)
    }
    async fn post(&self, path: &str, body: Value) -> Res<Value> {
        self.send(self.http.post(format!("{}{path}", self.admin)).json(&body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Res<Value> {
        self.send(self.http.put(format!("{}{path}", self.admin)).json(&body)).await
    }
    async fn delete(&self, path: &str) -> Res<Value> {
        self.send(self.http.delete(format!("{}{path}", self.admin))).await
    }
    async fn get(&self, path: &str) -> Res<Value> {
        self.send(self.http.get(format!("{}{path}", self.admin))).await
    }

    /// Fetch the journal and merge its calls (by seq) into `into`; return the aggregate counts.
    async fn journal(&self, into: &Mutex<BTreeMap<u64, CallRec>>) -> Res<(u64, Value)> {
        let j = self.get("/journal").await?;
        let mut m = into.lock();
        for c in j["calls"].as_array().into_iter().flatten() {
            let Some(seq) = c["seq"].as_u64() else { continue };
            let Some(time) = c["time"].as_str().and_then(|t| t.parse::<Timestamp>().ok()) else {
                continue;
            };
            m.entry(seq).or_insert_with(|| CallRec {
                action: c["action"].as_str().unwrap_or_default().to_string(),
                code: c["code"].as_str().unwrap_or_default().to_string(),
                service_id: c["serviceId"].as_str().map(String::from),
                time,
            });
        }
        Ok((j["total"].as_u64().unwrap_or(0), j["counts"].clone()))
    }
}

/// `{"Action": {"Code": n}}` → `{"Action": n}` (all codes) and the number of non-OK calls.
fn counts_by_action(counts: &Value) -> (BTreeMap<String, u64>, u64) {
    let mut by = BTreeMap::new();
    let mut errors = 0;
    for (action, codes) in counts.as_object().into_iter().flatten() {
        for (code, n) in codes.as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            *by.entry(action.clone()).or_insert(0) += n;
            if code != "OK" {
                errors += n;
            }
        }
    }
    (by, errors)
}

// ---------- operator ----------

struct Operator {
    child: tokio::process::Child,
    pid: u32,
    metrics_url: String,
    log: PathBuf,
    started: Instant,
    /// Seconds from start until /readyz answered 200 (None: not within 5 s after /healthz).
    readyz: Option<f64>,
}

impl Operator {
    async fn start(a: &Args, ns: &str) -> Res<Self> {
        std::fs::create_dir_all(&a.log_dir)?;
        let log = a.log_dir.join(format!("{}-operator.log", a.label));
        let file = std::fs::File::create(&log)?;
        let kubeconfig = std::env::var("OPERATOR_KUBECONFIG").or_else(|_| env("KUBECONFIG"))?;
        let child = tokio::process::Command::new(&a.operator_bin)
            .args([
                "run",
                "--endpoint",
                &env("PRIVATELINK_ENDPOINT")?,
                "--watch-namespaces",
                &namespaces(a, ns),
            ])
            .args(["--concurrency", &a.concurrency.to_string()])
            .args(["--resync-seconds", &a.resync_seconds.to_string()])
            .args(["--connection-poll-seconds", &a.connection_poll_seconds.to_string()])
            .args(["--qps", &a.qps.to_string(), "--burst", &a.burst.to_string()])
            .args(["--http-addr", "127.0.0.1:0"])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", std::env::var("BENCH_OPERATOR_LOG").unwrap_or("info".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", a.operator_bin.display()))?;
        let started = Instant::now();
        let pid = child.id().ok_or("operator exited at once")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("serving /healthz")) {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .ok_or_else(|| format!("no addr= in {line:?}"))?;
                break addr.to_string();
            }
            if Instant::now() > deadline {
                return Err(format!("operator did not start (log {})", log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut op =
            Self { started, readyz: None, child, pid, metrics_url: format!("http://{addr}/metrics"), log };
        // /healthz first; /readyz is recorded but not required (see tests/bench/README.md: with the
        // controller also waiting on the store, the readiness task may never be woken).
        let http = reqwest::Client::new();
        loop {
            let ok = http
                .get(format!("http://{addr}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("operator not healthy (log {})", op.log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ready_deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ok =
                http.get(format!("http://{addr}/readyz")).send().await.is_ok_and(|r| r.status().is_success());
            if ok {
                op.readyz = Some(op.started.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > ready_deadline {
                eprintln!("bench[{}]: /readyz still not ready after 5s; continuing", a.label);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(op)
    }

    /// `privatelink_operator_*` samples: (name, labels) → value.
    async fn metrics(&self) -> Res<BTreeMap<(String, String), f64>> {
        let text = reqwest::get(&self.metrics_url).await?.text().await?;
        let mut m = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, val)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = val.parse::<f64>() else { continue };
            let (name, labels) = match key.split_once('{') {
                Some((n, l)) => (n.to_string(), l.trim_end_matches('}').to_string()),
                None => (key.to_string(), String::new()),
            };
            m.insert((name, labels), v);
        }
        Ok(m)
    }

    async fn stop(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

fn metric(m: &BTreeMap<(String, String), f64>, name: &str) -> f64 {
    m.iter().filter(|((n, _), _)| n == name).map(|(_, v)| v).sum()
}

/// `alicloud_requests_total` by action: {"Action": n}.
fn metric_by_action(m: &BTreeMap<(String, String), f64>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for ((n, labels), v) in m {
        if n != "privatelink_operator_alicloud_requests_total" {
            continue;
        }
        let action = labels
            .split(',')
            .find_map(|kv| kv.strip_prefix("action="))
            .unwrap_or("?")
            .trim_matches('"')
            .to_string();
        *out.entry(action).or_insert(0.0) += v;
    }
    out
}

fn delta(
    after: &BTreeMap<(String, String), f64>,
    before: &BTreeMap<(String, String), f64>,
) -> BTreeMap<(String, String), f64> {
    after.iter().map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0))).collect()
}

// ---------- statistics ----------

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "count": v.len(),
        "min": r(pct(&v, 0.0)),
        "p50": r(pct(&v, 50.0)),
        "p90": r(pct(&v, 90.0)),
        "p99": r(pct(&v, 99.0)),
        "max": r(v.last().copied().unwrap_or(f64::NAN)),
        "mean": r(mean),
    })
}

/// The objects whose Create fell in one window of a burst: when each was first read (after its Create),
/// its poll lag, and its number of reads.
#[derive(Default)]
struct Window {
    first: Vec<f64>,
    lag: Vec<f64>,
    reads: Vec<f64>,
}

fn secs(a: Timestamp, b: Timestamp) -> f64 {
    // a − b in seconds.
    (a.as_nanosecond() - b.as_nanosecond()) as f64 / 1e9
}

/// Request rate seen by the simulator: per-second buckets, peak, and the sustained rate after the
/// first 2 s (when a token bucket's burst is spent).
fn rate_stats(calls: &[&CallRec], latency_ms: Option<u64>) -> Value {
    if calls.is_empty() {
        return json!({});
    }
    let t0 = calls.iter().map(|c| c.time).min().unwrap();
    let t1 = calls.iter().map(|c| c.time).max().unwrap();
    let span = secs(t1, t0).max(1e-3);
    let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
    for c in calls {
        *buckets.entry(secs(c.time, t0) as u64).or_insert(0) += 1;
    }
    let series: Vec<u64> = (0..=span as u64).map(|s| buckets.get(&s).copied().unwrap_or(0)).collect();
    let after2: Vec<_> = calls.iter().filter(|c| secs(c.time, t0) >= 2.0).collect();
    let sustained = if span > 3.0 { after2.len() as f64 / (span - 2.0) } else { f64::NAN };
    // With a fixed latency fault every call was in flight during [done − latency, done].
    let max_in_flight = latency_ms.map(|ms| {
        let mut ev: Vec<(i128, i32)> = Vec::new();
        for c in calls {
            let end = c.time.as_nanosecond();
            ev.push((end - i128::from(ms) * 1_000_000, 1));
            ev.push((end, -1));
        }
        ev.sort();
        let (mut cur, mut max) = (0, 0);
        for (_, d) in ev {
            cur += d;
            max = max.max(cur);
        }
        max
    });
    json!({
        "calls": calls.len(),
        "span_s": (span * 1000.0).round() / 1000.0,
        "mean_rps": (calls.len() as f64 / span * 10.0).round() / 10.0,
        "sustained_rps_after_2s": (sustained * 10.0).round() / 10.0,
        "peak_1s": series.iter().max(),
        "per_second": series,
        "max_in_flight_estimate": max_in_flight,
    })
}

// ---------- the scenario ----------

/// The namespaces the operator watches: the burst's, plus the fairness probe's two.
fn namespaces(a: &Args, ns: &str) -> String {
    match a.fair_after_seconds {
        Some(_) => format!("{ns},{ns}-b,{ns}-c"),
        None => ns.to_string(),
    }
}

/// The fairness probe's namespaces and the other account's credentials (the simulator's second
/// account, whose keys are the simulator's public demo keys).
async fn fair_setup(client: &Client, ns: &str) -> Res<()> {
    let nss: Api<Namespace> = Api::all(client.clone());
    for n in [format!("{ns}-b"), format!("{ns}-c")] {
        let obj =
            Namespace { metadata: ObjectMeta { name: Some(n), ..Default::default() }, ..Default::default() };
        match nss.create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), &format!("{ns}-c"));
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "other-account"},
        "stringData": {"accessKeyId": "sim-ak-other", "accessKeySecret": "sim-secret-other"}
    }))?;
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The fairness probe: after `after`, one object in `<ns>-b` (the burst's account) and one in `<ns>-c`
/// (another account); seconds from each create to Ready.
async fn fair_probe(client: Client, ns: String, after: Duration, timeout: Duration) -> Res<Value> {
    tokio::time::sleep(after).await;
    let mut spec = bench_spec(false)?;
    let mut probes = vec![];
    for (suffix, other) in [("b", false), ("c", true)] {
        let api: Api<VpcEndpointService> = Api::namespaced(client.clone(), &format!("{ns}-{suffix}"));
        if other {
            spec.credentials_secret_ref = Some(serde_json::from_value(json!({"name": "other-account"}))?);
        }
        let obj = object(&format!("fair-{suffix}"), &spec);
        api.create(&PostParams::default(), &obj).await?;
        probes.push((suffix, api, Instant::now()));
    }
    let mut out = json!({});
    let deadline = Instant::now() + timeout;
    while out.as_object().map_or(0, |o| o.len()) < probes.len() && Instant::now() < deadline {
        for (suffix, api, created) in &probes {
            if out.get(*suffix).is_some() {
                continue;
            }
            if let Ok(o) = api.get(&format!("fair-{suffix}")).await
                && is_ready(&o)
            {
                out[*suffix] = json!((created.elapsed().as_secs_f64() * 100.0).round() / 100.0);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(json!({
        "after_s": after.as_secs_f64(),
        "same_account_other_namespace_ready_s": out.get("b"),
        "other_account_ready_s": out.get("c"),
    }))
}

fn object(name: &str, spec: &VpcEndpointServiceSpec) -> VpcEndpointService {
    VpcEndpointService {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: spec.clone(),
        status: None,
    }
}

fn bench_spec(approval: bool) -> Res<VpcEndpointServiceSpec> {
    let mut spec = json!({
        "regionId": "cn-hangzhou",
        "serviceDescription": "benchmark endpoint service",
        "serviceResourceType": "nlb",
        "resources": [{"resourceType": "nlb", "resourceId": "nlb-sim-001", "zoneId": "cn-hangzhou-h"}],
        "autoAcceptEnabled": true,
        "payer": "Endpoint",
        "addressIpVersion": "IPv4",
        "tags": [{"key": "team", "value": "bench"}],
        "deletionPolicy": "Delete"
    });
    if approval {
        spec["autoAcceptEnabled"] = json!(false);
        spec["connectionApproval"] = json!({"acceptFrom": ["2234567890123456"]});
    }
    Ok(serde_json::from_value(spec)?)
}

async fn create_all(api: &Api<VpcEndpointService>, a: &Args, book: &Arc<Mutex<Book>>) -> Res<()> {
    let spec = bench_spec(a.approval)?;
    let results: Vec<Res<()>> = futures::stream::iter(0..a.n)
        .map(|i| {
            let api = api.clone();
            let obj = object(&format!("bench-{i:05}"), &spec);
            let book = book.clone();
            async move {
                let mut attempt = 0;
                loop {
                    match api.create(&PostParams::default(), &obj).await {
                        Ok(_) => {
                            let now = Timestamp::now();
                            book.lock().objs.entry(obj.name_any()).or_default().created_at = Some(now);
                            return Ok(());
                        }
                        Err(kube::Error::Api(e)) if e.code == 409 => return Ok(()),
                        Err(e) if attempt < 5 => {
                            attempt += 1;
                            eprintln!("bench: create {} failed ({e}); retrying", obj.name_any());
                            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        })
        .buffer_unordered(a.apply_concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    if let Err(e) = run(a).await {
        eprintln!("bench: ERROR: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Res<()> {
    let tck = clk_tck();
    let ns = format!("bench-{}", a.label);
    let sim = Sim { http: reqwest::Client::new(), admin: env("PRIVATELINK_SIM_ADMIN")? };
    let apiserver_pid = env_pid("TESTENV_APISERVER_PID");
    let sim_pid = env_pid("TESTENV_SIM_PID");

    // Simulator: clean slate, timing, quota, flow control, latency fault.
    sim.post("/reset", json!({})).await?;
    sim.delete("/faults").await?;
    let cfg = sim
        .put(
            "/config",
            json!({
                "createSeconds": a.create_seconds,
                "qpsLimit": a.sim_qps_limit,
                "serviceQuota": (a.n * 2).max(100),
            }),
        )
        .await?;
    if let Some(ms) = a.sim_latency_ms {
        sim.post("/faults", json!({"kind": "latency", "latencyMs": ms})).await?;
    }

    // Kubernetes: namespace and watch.
    let client = Client::try_default().await?;
    let nss: Api<Namespace> = Api::all(client.clone());
    let nsobj = Namespace {
        metadata: ObjectMeta { name: Some(ns.clone()), ..Default::default() },
        ..Default::default()
    };
    match nss.create(&PostParams::default(), &nsobj).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let api: Api<VpcEndpointService> = Api::namespaced(client.clone(), &ns);
    if !api.list(&ListParams::default().limit(1)).await?.items.is_empty() {
        return Err(format!(
            "namespace {ns} already has VpcEndpointService objects; use a fresh testenv or another --label"
        )
        .into());
    }
    let book = Arc::new(Mutex::new(Book::default()));
    let ready = Arc::new(AtomicUsize::new(0));
    let watch_synced = Arc::new(AtomicBool::new(false));
    {
        let (api, book, ready, synced) = (api.clone(), book.clone(), ready.clone(), watch_synced.clone());
        tokio::spawn(async move {
            let mut s = watcher(api, watcher::Config::default()).boxed();
            loop {
                match s.try_next().await {
                    Ok(Some(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => {
                        observe(&book, &ready, &o)
                    }
                    Ok(Some(watcher::Event::InitDone)) => synced.store(true, Ordering::Relaxed),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("bench: watch error: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
    }
    while !watch_synced.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    if a.fair_after_seconds.is_some() {
        fair_setup(&client, &ns).await?;
    }

    // Operator.
    let op = Operator::start(&a, &ns).await?;
    eprintln!(
        "bench[{}]: operator pid {} ready ({}); creating {} objects in {ns}",
        a.label, op.pid, op.metrics_url, a.n
    );
    let load_start = loadavg();
    sim.delete("/journal").await?;
    let m0 = op.metrics().await?;
    let op0 = proc_sample(op.pid, tck).unwrap_or_default();
    let api0 = apiserver_pid.and_then(|p| proc_sample(p, tck));
    let sim0 = sim_pid.and_then(|p| proc_sample(p, tck));
    let t0 = Timestamp::now();
    let i0 = Instant::now();

    // Samplers: operator memory/CPU every second; the journal while waiting.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<(f64, ProcSample)>::new()));
    let sampler = {
        let (stop, samples, pid) = (stop.clone(), samples.clone(), op.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(s) = proc_sample(pid, tck) {
                    samples.lock().push((i0.elapsed().as_secs_f64(), s));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let calls = Arc::new(Mutex::new(BTreeMap::<u64, CallRec>::new()));
    let poll = a.journal_poll_seconds.unwrap_or(if a.n > 1200 { 2.0 } else { 0.0 });
    let poller = (poll > 0.0).then(|| {
        let (stop, calls) = (stop.clone(), calls.clone());
        let sim = Sim { http: sim.http.clone(), admin: sim.admin.clone() };
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = sim.journal(&calls).await {
                    eprintln!("bench: journal poll: {e}");
                }
                tokio::time::sleep(Duration::from_secs_f64(poll)).await;
            }
        })
    });

    // Burst (and the fairness probe, running alongside).
    let fair = a.fair_after_seconds.map(|after| {
        tokio::spawn(fair_probe(
            client.clone(),
            ns.clone(),
            Duration::from_secs_f64(after),
            Duration::from_secs(a.timeout_seconds),
        ))
    });
    create_all(&api, &a, &book).await?;
    let apply_s = i0.elapsed().as_secs_f64();
    eprintln!("bench[{}]: {} objects created in {apply_s:.1}s", a.label, a.n);
    let deadline = i0 + Duration::from_secs(a.timeout_seconds);
    let mut last_print = Instant::now();
    // The operator's learnt first poll (its gauge), once a second: the same clock as the windows of Creates.
    let (mut first_poll, mut last_pace) = (BTreeMap::<u64, f64>::new(), Instant::now());
    let timed_out = loop {
        let r = ready.load(Ordering::Relaxed);
        if r >= a.n {
            break false;
        }
        if Instant::now() > deadline {
            break true;
        }
        if last_pace.elapsed() >= Duration::from_secs(1) {
            last_pace = Instant::now();
            if let Ok(m) = op.metrics().await {
                let learnt =
                    m.iter().filter(|((name, _), _)| name == "privatelink_operator_first_poll_seconds");
                if let Some(v) = learnt.map(|(_, v)| *v).reduce(f64::max) {
                    first_poll.insert(i0.elapsed().as_secs(), (v * 1000.0).round() / 1000.0);
                }
            }
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            last_print = Instant::now();
            let rss = proc_sample(op.pid, tck).map(|s| s.rss_kib / 1024).unwrap_or(0);
            eprintln!(
                "bench[{}]: {:.0}s: {r}/{} Ready, operator RSS {rss} MiB, load {}",
                a.label,
                i0.elapsed().as_secs_f64(),
                a.n,
                loadavg()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall_s = i0.elapsed().as_secs_f64();
    let t_ready = Timestamp::now();
    if timed_out {
        eprintln!(
            "bench[{}]: TIMEOUT: {}/{} Ready after {wall_s:.0}s",
            a.label,
            ready.load(Ordering::Relaxed),
            a.n
        );
    } else {
        eprintln!("bench[{}]: all {} Ready after {wall_s:.1}s", a.label, a.n);
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = poller {
        let _ = p.await;
    }
    let _ = sampler.await;
    let (journal_total, journal_counts) = sim.journal(&calls).await?;
    let m1 = op.metrics().await?;
    let op1 = proc_sample(op.pid, tck).unwrap_or_default();
    let api1 = apiserver_pid.and_then(|p| proc_sample(p, tck));
    let sim1 = sim_pid.and_then(|p| proc_sample(p, tck));
    let load_ready = loadavg();
    let burst_writes: u64 = book.lock().objs.values().map(|o| o.writes).sum();

    // Latency: join watch observations with the journal.
    let calls_v: Vec<CallRec> = calls.lock().values().cloned().collect();
    let seqs: Vec<u64> = calls.lock().keys().copied().collect();
    let coverage = json!({
        "journal_total": journal_total,
        "collected": seqs.len(),
        "first_seq": seqs.first(),
        "complete": seqs.first() == Some(&1) && seqs.len() as u64 == journal_total,
    });
    let mut create_at: HashMap<&str, Timestamp> = HashMap::new();
    let mut gets: HashMap<&str, Vec<Timestamp>> = HashMap::new();
    for c in &calls_v {
        let Some(sid) = c.service_id.as_deref() else {
            continue;
        };
        if c.code != "OK" {
            continue;
        }
        if c.action == CREATE {
            let e = create_at.entry(sid).or_insert(c.time);
            if c.time < *e {
                *e = c.time;
            }
        } else if c.action == GET {
            gets.entry(sid).or_default().push(c.time);
        }
    }
    let create_span = jiff::SignedDuration::from_secs_f64(a.create_seconds);
    let (mut overhead, mut poll_lag, mut write_lag, mut queue_lag, mut e2e) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut worst: Vec<(f64, String)> = vec![];
    // Overhead by the number of reads the object took (too early a first poll costs a second read).
    let mut by_gets: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut writes_per_obj = vec![];
    // How the first poll adapts during the burst: per 5 s window of Creates, when the first read came
    // (after the Create) and the poll lag.
    let mut by_window: BTreeMap<u64, Window> = BTreeMap::new();
    for (name, o) in &book.lock().objs {
        writes_per_obj.push(o.writes as f64);
        let (Some(ready_at), Some(sid)) = (o.ready_at, o.service_id.as_deref()) else {
            continue;
        };
        if let Some(c) = o.created_at {
            e2e.push(secs(ready_at, c));
        }
        let Some(&created) = create_at.get(sid) else {
            continue;
        };
        if let Some(c) = o.created_at {
            queue_lag.push(secs(created, c));
        }
        let active = created + create_span;
        let ov = secs(ready_at, active);
        overhead.push(ov);
        worst.push((ov, name.clone()));
        let reads = gets.get(sid).map_or(0, Vec::len);
        let bucket = if reads >= 3 { "3+".to_string() } else { reads.to_string() };
        by_gets.entry(bucket).or_default().push(ov);
        let w = by_window.entry((secs(created, t0).max(0.0) / 5.0) as u64 * 5).or_default();
        if let Some(first) = gets.get(sid).and_then(|v| v.iter().min()) {
            w.first.push(secs(*first, created));
        }
        w.reads.push(reads as f64);
        if let Some(g) = gets.get(sid).and_then(|v| v.iter().filter(|t| **t >= active).min()) {
            poll_lag.push(secs(*g, active));
            write_lag.push(secs(ready_at, *g));
            w.lag.push(secs(*g, active));
        }
    }
    worst.sort_by(|x, y| y.0.total_cmp(&x.0));
    worst.truncate(5);
    // Timelines of the slowest objects, in seconds after the driver's create call returned.
    let timeline = |name: &str, ov: f64| {
        let b = book.lock();
        let o = b.objs.get(name).cloned().unwrap_or_default();
        let base = o.created_at.unwrap_or(t0);
        let sid = o.service_id.clone().unwrap_or_default();
        let rel = |t: Timestamp| (secs(t, base) * 1000.0).round() / 1000.0;
        json!({
            "name": name,
            "overhead_s": ov,
            "service_id": sid,
            "cloud_create": create_at.get(sid.as_str()).map(|t| rel(*t)),
            "gets": gets.get(sid.as_str()).map(|v| v.iter().map(|t| rel(*t)).collect::<Vec<_>>()),
            "ready_seen": o.ready_at.map(rel),
            "writes_seen": o.write_times.iter().map(|t| rel(*t)).collect::<Vec<_>>(),
        })
    };
    let burst_calls: Vec<&CallRec> = calls_v.iter().collect();
    let (by_action, errors) = counts_by_action(&journal_counts);
    let per_obj = |m: &BTreeMap<String, u64>| -> BTreeMap<String, f64> {
        m.iter().map(|(k, v)| (k.clone(), (*v as f64 / a.n as f64 * 100.0).round() / 100.0)).collect()
    };
    let md = delta(&m1, &m0);
    let status_patches = metric(&md, "privatelink_operator_status_patches_total");
    let reconciles = metric(&md, "privatelink_operator_reconcile_runs_total");
    let sm = samples.lock().clone();
    let peak_rss = sm.iter().map(|(_, s)| s.rss_kib).max().unwrap_or(0);
    let mib = |k: u64| (k as f64 / 1024.0 * 10.0).round() / 10.0;
    let cpu = |b: Option<ProcSample>, e: Option<ProcSample>| {
        b.zip(e).map(|(b, e)| ((e.cpu_s - b.cpu_s) * 100.0).round() / 100.0)
    };

    let fair = match fair {
        Some(task) => Some(task.await.map_err(|e| e.to_string())??),
        None => None,
    };
    let mut result = json!({
        "label": a.label,
        "started": t0.to_string(),
        "all_ready_at": t_ready.to_string(),
        "config": {
            "n": a.n, "create_seconds": a.create_seconds, "operator_qps": a.qps, "operator_burst": a.burst,
            "operator_concurrency": a.concurrency, "resync_seconds": a.resync_seconds,
            "apply_concurrency": a.apply_concurrency, "sim_qps_limit": a.sim_qps_limit,
            "sim_latency_ms": a.sim_latency_ms, "sim_config": cfg, "namespace": ns,
            // Only the file name: the log sits beside this JSON, and results must not carry machine paths.
            "operator_log": op.log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "operator_readyz_after_s": op.readyz,
        },
        "machine": {"nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                     "loadavg_start": load_start, "loadavg_all_ready": load_ready},
        "burst": {
            "timed_out": timed_out,
            "ready": ready.load(Ordering::Relaxed),
            "apply_wall_s": (apply_s * 100.0).round() / 100.0,
            "wall_to_all_ready_s": (wall_s * 100.0).round() / 100.0,
            "overhead_s": summary(overhead),
            "overhead_by_reads_s": by_gets.into_iter().map(|(k, v)| (k, summary(v))).collect::<BTreeMap<_, _>>(),
            "overhead_parts_s": {
                "poll_lag": summary(poll_lag),
                "status_write_and_watch": summary(write_lag),
            },
            "first_read_by_create_window": by_window.into_iter().map(|(k, Window { first, lag, reads })| {
                let n = reads.len() as f64;
                let p50 = |v: Vec<f64>| summary(v).get("p50").cloned().unwrap_or(Value::Null);
                (format!("{k:04}s"), json!({
                    "creates": reads.len(),
                    "first_read_after_create_p50_s": p50(first),
                    "poll_lag_p50_s": p50(lag),
                    "reads_mean": (reads.iter().sum::<f64>() / n * 100.0).round() / 100.0,
                }))
            }).collect::<BTreeMap<_, _>>(),
            "first_poll_learnt_s_by_second": first_poll.into_iter().map(|(k, v)| (format!("{k:04}s"), v))
                .collect::<BTreeMap<_, _>>(),
            "k8s_create_to_cloud_create_s": summary(queue_lag),
            "k8s_create_to_ready_s": summary(e2e),
            "worst_overhead": worst.iter().map(|(v, n)| timeline(n, *v)).collect::<Vec<_>>(),
            "journal_coverage": coverage,
            "cloud_calls": by_action,
            "cloud_calls_per_object": per_obj(&by_action),
            "cloud_errors": errors,
            "operator_metric_calls": metric_by_action(&md),
            "status_patches": status_patches,
            "status_patches_per_object": status_patches / a.n as f64,
            "object_writes_per_object": summary(writes_per_obj),
            "object_writes_total": burst_writes,
            "reconcile_runs": reconciles,
            "cpu_s": {"operator": cpu(Some(op0), Some(op1)), "apiserver": cpu(api0, api1), "sim": cpu(sim0, sim1)},
            "rate": rate_stats(&burst_calls, a.sim_latency_ms),
        },
        "memory": {
            "rss_mib_all_ready": mib(op1.rss_kib),
            "hwm_mib_all_ready": mib(op1.hwm_kib),
            "rss_mib_peak_sampled": mib(peak_rss),
            "rss_series_mib": sm.iter().step_by(5).map(|(t, s)| json!([t.round(), mib(s.rss_kib)])).collect::<Vec<_>>(),
        },
    });
    if let Some(f) = fair {
        result["fair"] = f;
    }

    // Steady state.
    if a.steady_intervals > 0 && !timed_out {
        let window = Duration::from_secs(a.resync_seconds * u64::from(a.steady_intervals));
        eprintln!(
            "bench[{}]: steady state: {}s ({} x resync {}s)",
            a.label,
            window.as_secs(),
            a.steady_intervals,
            a.resync_seconds
        );
        sim.delete("/journal").await?;
        let s0 = op.metrics().await?;
        let w0: u64 = book.lock().objs.values().map(|o| o.writes).sum();
        let c0 = proc_sample(op.pid, tck).unwrap_or_default();
        let a0 = apiserver_pid.and_then(|p| proc_sample(p, tck));
        tokio::time::sleep(window).await;
        let j = sim.get("/journal").await?;
        let s1 = op.metrics().await?;
        let w1: u64 = book.lock().objs.values().map(|o| o.writes).sum();
        let c1 = proc_sample(op.pid, tck).unwrap_or_default();
        let a1 = apiserver_pid.and_then(|p| proc_sample(p, tck));
        let (by, errors) = counts_by_action(&j["counts"]);
        let intervals = f64::from(a.steady_intervals);
        let per = |v: f64| (v / a.n as f64 / intervals * 1000.0).round() / 1000.0;
        let writes: u64 = by
            .iter()
            .filter(|(k, _)| !k.starts_with("Get") && !k.starts_with("List") && !k.starts_with("Describe"))
            .map(|(_, v)| v)
            .sum();
        let reads: u64 = by.values().sum::<u64>() - writes;
        let polls = window.as_secs_f64() / a.connection_poll_seconds as f64;
        let lists = by.get("ListVpcEndpointConnections").copied().unwrap_or(0) as f64;
        let lists_per_poll = (lists / a.n as f64 / polls * 1000.0).round() / 1000.0;
        let sd = delta(&s1, &s0);
        let patches = metric(&sd, "privatelink_operator_status_patches_total");
        result["steady"] = json!({
            "window_s": window.as_secs(),
            "intervals": a.steady_intervals,
            "cloud_calls": by,
            "cloud_errors": errors,
            "cloud_reads_per_object_per_interval": per(reads as f64),
            "list_connections_per_object_per_poll": lists_per_poll,
            "cloud_writes_per_object_per_interval": per(writes as f64),
            "status_patches": patches,
            "k8s_object_writes_seen_by_watch": w1 - w0,
            "reconcile_runs_per_object_per_interval": per(metric(&sd, "privatelink_operator_reconcile_runs_total")),
            "operator_cpu_s": ((c1.cpu_s - c0.cpu_s) * 100.0).round() / 100.0,
            "apiserver_cpu_s": cpu(a0, a1),
            "rss_mib_end": mib(c1.rss_kib),
            "hwm_mib_end": mib(c1.hwm_kib),
        });
    }

    // Events written by the operator in this namespace (Kubernetes writes too).
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns);
    if let Ok(list) = events.list(&ListParams::default()).await {
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        for e in &list.items {
            *by_reason.entry(e.reason.clone().unwrap_or_default()).or_insert(0) += 1;
        }
        result["events"] = json!({"objects": list.items.len(), "by_reason": by_reason});
    }
    let mfinal = op.metrics().await?;
    result["operator_metrics_final"] = json!(
        mfinal
            .iter()
            .filter(|((n, _), _)| !n.ends_with("_bucket"))
            .map(|((n, l), v)| (if l.is_empty() { n.clone() } else { format!("{n}{{{l}}}") }, *v))
            .collect::<BTreeMap<_, _>>()
    );
    op.stop().await;

    if a.restart_check && !timed_out {
        let mut a2 = a.clone();
        a2.label = format!("{}-restart", a.label);
        let op2 = Operator::start(&a2, &ns).await?;
        let mut done = false;
        while op2.started.elapsed() < Duration::from_secs(600) {
            let m = op2.metrics().await?;
            let gets = metric_by_action(&m).get(GET).copied().unwrap_or(0.0);
            if gets >= a.n as f64 {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // From the process start (Operator::start already spent up to 5 s waiting for /readyz).
        let all_s = op2.started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let m = op2.metrics().await?;
        let s = proc_sample(op2.pid, tck).unwrap_or_default();
        result["restart"] = json!({
            "all_reconciled": done,
            "seconds_to_reconcile_all": (all_s * 10.0).round() / 10.0,
            "readyz_after_s": op2.readyz,
            "cloud_calls": metric_by_action(&m),
            "status_patches": metric(&m, "privatelink_operator_status_patches_total"),
            "rss_mib": mib(s.rss_kib),
            "hwm_mib": mib(s.hwm_kib),
        });
        eprintln!(
            "bench[{}]: restarted operator: all {} reconciled in {all_s:.1}s, RSS {} MiB (HWM {})",
            a.label,
            a.n,
            mib(s.rss_kib),
            mib(s.hwm_kib)
        );
        op2.stop().await;
    }

    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, serde_json::to_string_pretty(&result)?)?;
    print_summary(&result);
    if timed_out {
        return Err("not all objects became Ready".into());
    }
    Ok(())
}

fn print_summary(r: &Value) {
    let b = &r["burst"];
    let o = &b["overhead_s"];
    println!(
        "[{}] n={} conc={} qps={} | all Ready {}s | overhead p50 {} p90 {} p99 {} max {} s | calls/obj {} | patches/obj {:.2} | op CPU {}s | RSS {} MiB (HWM {})",
        r["label"].as_str().unwrap_or(""),
        r["config"]["n"],
        r["config"]["operator_concurrency"],
        r["config"]["operator_qps"],
        b["wall_to_all_ready_s"],
        o["p50"],
        o["p90"],
        o["p99"],
        o["max"],
        b["cloud_calls_per_object"],
        b["status_patches_per_object"].as_f64().unwrap_or(f64::NAN),
        b["cpu_s"]["operator"],
        r["memory"]["rss_mib_all_ready"],
        r["memory"]["hwm_mib_all_ready"],
    );
    if let Some(f) = r.get("fair") {
        println!(
            "[{}] fairness: applied {}s into the burst: other namespace, same account Ready in {}s; other account Ready in {}s",
            r["label"].as_str().unwrap_or(""),
            f["after_s"],
            f["same_account_other_namespace_ready_s"],
            f["other_account_ready_s"],
        );
    }
    if let Some(s) = r.get("restart") {
        println!(
            "[{}] restarted operator: all reconciled in {}s, RSS {} MiB (HWM {}), status patches {}",
            r["label"].as_str().unwrap_or(""),
            s["seconds_to_reconcile_all"],
            s["rss_mib"],
            s["hwm_mib"],
            s["status_patches"],
        );
    }
    if let Some(s) = r.get("steady") {
        println!(
            "[{}] steady: reads/obj/interval {} writes/obj/interval {} status patches {} object writes {} calls {}",
            r["label"].as_str().unwrap_or(""),
            s["cloud_reads_per_object_per_interval"],
            s["cloud_writes_per_object_per_interval"],
            s["status_patches"],
            s["k8s_object_writes_seen_by_watch"],
            s["cloud_calls"],
        );
    }
}
