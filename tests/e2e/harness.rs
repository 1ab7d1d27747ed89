//! Shared harness for the end-to-end tests (tier (e) of `style.md` rule 22).
//!
//! The kube-apiserver is the shared one of `make testenv-up` (read from `.testenv/env`). Every test gets
//! its own namespace, its own `privatelink-sim` process and its own `privatelink-operator` process
//! scoped to that namespace, so tests run in parallel and the simulator journal belongs to one test.
//! Child processes are killed (by PID) when their handles drop; their logs are kept under
//! `target/e2e-logs/<namespace>/`.
#![allow(dead_code)] // each test target uses a different subset

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Client, Config,
    api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::{Value, json};

pub const GROUP: &str = "privatelink.alicloud.dev";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "VpcEndpointService";
pub const FINALIZER: &str = "vpcendpointservice.privatelink.alicloud.dev/cleanup";
pub const CREATE: &str = "CreateVpcEndpointService";
/// The reconcile-now annotation (a new value: an immediate full reconcile).
pub const RECONCILE_NOW: &str = "privatelink.alicloud.dev/reconcile-requested-at";
pub const DELETE: &str = "DeleteVpcEndpointService";

/// Default timeout for "becomes Ready": sim Creating is 2 s, so this is generous for a loaded CI box.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The operator binary cargo built for this test run (override: `E2E_OPERATOR_BIN`).
pub fn operator_bin() -> String {
    std::env::var("E2E_OPERATOR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_privatelink-operator").into())
}

/// The simulator binary (override: `E2E_SIM_BIN`). It lives in the workspace member
/// `crates/privatelink-sim`, so cargo gives no `CARGO_BIN_EXE_` for it: it is the sibling of the
/// operator binary in the same target directory (`make e2e` builds both with `cargo build --bins`).
pub fn sim_bin() -> String {
    std::env::var("E2E_SIM_BIN").unwrap_or_else(|_| {
        let op = PathBuf::from(env!("CARGO_BIN_EXE_privatelink-operator"));
        let sim = op.with_file_name("privatelink-sim");
        assert!(sim.exists(), "{} not built: run `cargo build --bins` first", sim.display());
        sim.to_string_lossy().into_owned()
    })
}

// ------------------------------------------------------------------------------------------------
// The test environment (.testenv/env)
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct TestEnv {
    pub dir: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub admin_kubeconfig: PathBuf,
    pub operator_kubeconfig: PathBuf,
    /// The operator identity's RBAC was installed from `deploy/manifests` by testenv-up.
    pub rbac_from_deploy: bool,
}

const NOT_UP: &str = "the test environment is not up: run `make testenv-up` first \
                      (or `make test`, which brings it up and down around the tests)";

impl TestEnv {
    /// Reads `$TESTENV_DIR/env` (default `<repo>/.testenv/env`); panics with a clear message if absent.
    pub fn load() -> TestEnv {
        let dir = std::env::var_os("TESTENV_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".testenv"));
        let file = dir.join("env");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{NOT_UP} ({} unreadable: {e})", file.display()));
        let vars = parse_env_file(&text);
        let get = |k: &str| {
            vars.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no {k}; re-run `make testenv-up`", file.display()))
        };
        TestEnv {
            admin_kubeconfig: PathBuf::from(get("KUBECONFIG")),
            operator_kubeconfig: PathBuf::from(get("OPERATOR_KUBECONFIG")),
            rbac_from_deploy: vars.get("TESTENV_RBAC").map(String::as_str) == Some("deploy"),
            dir,
            vars,
        }
    }

    pub async fn admin_client(&self) -> Client {
        client_from(&self.admin_kubeconfig).await
    }

    /// The kubeconfig the operator runs with: the restricted ServiceAccount identity bound by
    /// deploy/'s RBAC when that was installed, else (before deploy/ landed) the admin one.
    pub fn operator_identity(&self) -> &Path {
        if self.rbac_from_deploy {
            &self.operator_kubeconfig
        } else {
            eprintln!(
                "e2e: deploy/manifests RBAC not installed; running the operator with the ADMIN kubeconfig"
            );
            &self.admin_kubeconfig
        }
    }
}

fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

pub async fn client_from(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("{NOT_UP}: cannot read {}: {e}", kubeconfig.display()));
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {}: {e}", kubeconfig.display()));
    let client = Client::try_from(config).expect("kube client");
    if let Err(e) = client.apiserver_version().await {
        panic!("{NOT_UP}: the apiserver does not answer ({e})");
    }
    client
}

/// Create a test namespace, labelled so all of them can be found and removed together.
async fn create_namespace(client: &Client, ns: &str) {
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": ns, "labels": {"e2e": "privatelink"}}})).unwrap(),
    )
    .await
    .unwrap_or_else(|e| panic!("create namespace {ns}: {e}"));
}

/// Completes a namespace deletion once the namespace is empty, as kube-controller-manager's namespace
/// controller does (the testenv runs none): clears `spec.finalizers` through the `/finalize` subresource.
pub async fn finalize_namespace(client: &Client, ns: &str) -> Result<(), kube::Error> {
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut n = nss.get(ns).await?;
    n.spec = Some(k8s_openapi::api::core::v1::NamespaceSpec { finalizers: Some(vec![]) });
    nss.replace_subresource("finalize", ns, &PostParams::default(), &n).await.map(drop)
}

/// Deletes what namespace `ns` still holds (objects of `ar` and Secrets not yet being deleted) and
/// names what is left, as kube-controller-manager's namespace controller would each pass (the testenv
/// runs none): everything at once, credentials Secrets included.
pub async fn empty_namespace(
    client: &Client,
    ar: &ApiResource,
    ns: &str,
) -> Result<Vec<String>, kube::Error> {
    use k8s_openapi::api::core::v1::Secret;
    let objs: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut left = Vec::new();
    for o in objs.list(&Default::default()).await?.items {
        let name = o.metadata.name.clone().unwrap_or_default();
        if o.metadata.deletion_timestamp.is_none() {
            objs.delete(&name, &DeleteParams::default()).await?;
        }
        left.push(format!("{}/{name} {:?}", ar.kind, o.metadata.finalizers.unwrap_or_default()));
    }
    for s in secrets.list(&Default::default()).await?.items {
        let name = s.metadata.name.clone().unwrap_or_default();
        if s.metadata.deletion_timestamp.is_none() {
            secrets.delete(&name, &DeleteParams::default()).await?;
        }
        left.push(format!("Secret/{name} {:?}", s.metadata.finalizers.unwrap_or_default()));
    }
    Ok(left)
}

// ------------------------------------------------------------------------------------------------
// Per-test context
// ------------------------------------------------------------------------------------------------

pub struct Ctx {
    pub env: TestEnv,
    pub client: Client,
    pub ns: String,
    pub log_dir: PathBuf,
    pub ar: ApiResource,
}

impl Ctx {
    /// Creates the namespace `e2e-<name>-<random>` and a log directory for the test's processes.
    pub async fn new(name: &str) -> Ctx {
        let env = TestEnv::load();
        let client = env.admin_client().await;
        sync_crds(&env);
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let ns = format!("e2e-{name}-{}", &suffix[..6]);
        create_namespace(&client, &ns).await;
        let log_dir = repo_root().join("target/e2e-logs").join(&ns);
        std::fs::create_dir_all(&log_dir).unwrap();
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, KIND);
        let ar = ApiResource::from_gvk_with_plural(&gvk, "vpcendpointservices");
        Ctx { env, client, ns, log_dir, ar }
    }

    pub fn api(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.ns, &self.ar)
    }

    pub fn api_in(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &self.ar)
    }

    /// A second namespace for the same test (e.g. one that no operator watches).
    pub async fn extra_namespace(&self, tag: &str) -> String {
        let ns = format!("{}-{tag}", self.ns);
        create_namespace(&self.client, &ns).await;
        ns
    }

    pub async fn start_sim(&self, args: &[&str]) -> Sim {
        Sim::start(&self.log_dir, args).await
    }

    /// Starts an operator watching only this test's namespace, talking to `sim`.
    pub fn start_operator(&self, sim: &Sim) -> Operator {
        self.start_operator_as(sim, self.env.operator_identity(), "operator")
    }

    pub fn start_operator_as(&self, sim: &Sim, kubeconfig: &Path, label: &str) -> Operator {
        Operator::start(&self.log_dir, label, kubeconfig, &self.ns, &sim.url)
    }

    /// Creates a credentials Secret (`accessKeyId`, `accessKeySecret`) in namespace `ns`.
    pub async fn create_secret_in(&self, ns: &str, name: &str, id: &str, secret: &str) {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.client.clone(), ns);
        let s = serde_json::from_value(json!({
            "metadata": {"name": name},
            "stringData": {"accessKeyId": id, "accessKeySecret": secret},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &s)
            .await
            .unwrap_or_else(|e| panic!("create Secret {ns}/{name}: {e}"));
    }

    /// Creates a credentials Secret in this test's namespace.
    pub async fn create_secret(&self, name: &str, id: &str, secret: &str) {
        self.create_secret_in(&self.ns, name, id, secret).await
    }

    pub async fn create(&self, obj: Value) -> DynamicObject {
        let obj: DynamicObject = serde_json::from_value(obj).expect("object JSON");
        self.api()
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("create {:?}: {e}", obj.metadata.name))
    }

    pub async fn get(&self, name: &str) -> Option<DynamicObject> {
        self.api().get_opt(name).await.unwrap_or_else(|e| panic!("get {name}: {e}"))
    }

    pub async fn delete(&self, name: &str) {
        self.api()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("delete {name}: {e}"));
    }

    /// Waits until `Ready=True`; returns the object.
    pub async fn wait_ready(&self, name: &str) -> DynamicObject {
        self.wait_condition(name, "Ready", READY_TIMEOUT, |c| c["status"] == "True").await
    }

    /// Waits until the condition `type_` exists and satisfies `pred`; returns the object.
    pub async fn wait_condition(
        &self,
        name: &str,
        type_: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> DynamicObject {
        let what = format!("{}/{name}: condition {type_} as expected", self.ns);
        self.wait_until(&what, timeout, || async {
            let obj = self.get(name).await.ok_or_else(|| "object does not exist".to_string())?;
            match condition(&obj, type_) {
                Some(c) if pred(&c) => Ok(obj),
                _ => Err(format!("status = {}", obj.data.get("status").unwrap_or(&Value::Null))),
            }
        })
        .await
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        let what = format!("{}/{name} to be deleted", self.ns);
        self.wait_until(&what, timeout, || async {
            match self.get(name).await {
                None => Ok(()),
                Some(o) => Err(format!(
                    "still there: finalizers {:?}, status {}",
                    o.metadata.finalizers,
                    o.data.get("status").unwrap_or(&Value::Null)
                )),
            }
        })
        .await
    }

    /// Polls `f` every 200 ms until it returns `Ok`; on timeout panics with the last `Err` (the
    /// observed state) and the tails of this test's process logs.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, timeout: Duration, f: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        match poll_until(timeout, f).await {
            Ok(v) => v,
            Err(last) => panic!(
                "timed out after {timeout:?} waiting for {what}\nlast observed: {last}\n{}",
                self.log_tails()
            ),
        }
    }

    /// The last lines of every process log of this test (for failure messages).
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        if let Ok(rd) = std::fs::read_dir(&self.log_dir) {
            let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(25)..];
                let _ = writeln!(out, "---- {} (last {} lines) ----", p.display(), tail.len());
                for l in tail {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
        out
    }

    /// Runs kubectl with the admin kubeconfig; returns (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        kubectl(&self.env.admin_kubeconfig, args)
    }
}

/// Once per test process: apply crds/ (server-side, idempotent) so that a testenv started before the
/// CRD changed still tests the current schema; then wait until it is Established.
fn sync_crds(env: &TestEnv) {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let res = ONCE.get_or_init(|| {
        let kc = &env.admin_kubeconfig;
        let (ok, out, err) = kubectl(kc, &["apply", "--server-side", "--force-conflicts", "-f", "crds/"]);
        if !ok {
            return Err(format!("kubectl apply -f crds/ failed: {out}{err}"));
        }
        let crd = format!("crd/vpcendpointservices.{GROUP}");
        let crd2 = format!("crd/vpcendpoints.{GROUP}");
        let (ok, out, err) =
            kubectl(kc, &["wait", "--for=condition=Established", &crd, &crd2, "--timeout=60s"]);
        if ok { Ok(()) } else { Err(format!("CRD not Established: {out}{err}")) }
    });
    if let Err(e) = res {
        panic!("{e}");
    }
}

pub async fn poll_until<T, F, Fut>(timeout: Duration, f: F) -> Result<T, String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(last) if Instant::now() >= deadline => return Err(last),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .current_dir(repo_root())
        .output()
        .expect("kubectl must be installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm template` of the shipped chart (release `release` in `namespace`, `--set` each of `sets`),
/// as one JSON value per rendered object. Helm comes from `tests/scripts/build-helm.sh` (built from
/// Go modules on first use, then cached by its stamp).
pub fn helm_template(release: &str, namespace: &str, sets: &[&str]) -> Vec<Value> {
    let root = repo_root();
    let built = Command::new(root.join("tests/scripts/build-helm.sh"))
        .current_dir(&root)
        .output()
        .expect("tests/scripts/build-helm.sh runs");
    assert!(built.status.success(), "building helm failed: {}", String::from_utf8_lossy(&built.stderr));
    let helm = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let mut cmd = Command::new(helm);
    cmd.args(["template", release, "deploy/helm/privatelink-operator", "--namespace", namespace]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.current_dir(&root).output().expect("helm runs");
    assert!(out.status.success(), "helm template failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|doc| {
            let v: Value = serde::Deserialize::deserialize(doc).expect("helm renders YAML");
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// A kubeconfig for ServiceAccount `sa` in `namespace`: a bound token from the TokenRequest API
/// (`kubectl create token`), with the admin kubeconfig's cluster and CA. Written under `dir`.
pub fn service_account_kubeconfig(env: &TestEnv, namespace: &str, sa: &str, dir: &Path) -> PathBuf {
    let (ok, token, err) =
        kubectl(&env.admin_kubeconfig, &["create", "token", sa, "-n", namespace, "--duration=2h"]);
    assert!(ok, "kubectl create token {sa}: {err}");
    let admin = std::fs::read_to_string(&env.admin_kubeconfig).expect("admin kubeconfig");
    let mut kc: Value = serde_yaml::from_str(&admin).expect("admin kubeconfig is YAML");
    for user in kc["users"].as_array_mut().expect("kubeconfig users") {
        user["user"] = json!({"token": token.trim()});
    }
    let path = dir.join(format!("{namespace}-{sa}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

/// The condition `type_` of an object's status, if any.
pub fn condition(obj: &DynamicObject, type_: &str) -> Option<Value> {
    obj.data.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_).cloned()
}

pub fn status_str(obj: &DynamicObject, field: &str) -> Option<String> {
    obj.data.pointer(&format!("/status/{field}"))?.as_str().map(str::to_string)
}

/// A valid NLB-backed endpoint service in cn-hangzhou on the simulator's load balancer `lb`.
pub fn service(name: &str, lb: &str) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {
            "regionId": "cn-hangzhou",
            "serviceDescription": format!("e2e {name}"),
            "serviceResourceType": "nlb",
            "resources": [{"resourceType": "nlb", "resourceId": lb, "zoneId": "cn-hangzhou-h"}],
            "autoAcceptEnabled": true,
            "payer": "Endpoint",
            "tags": [{"key": "e2e", "value": name}],
        }
    })
}

// ------------------------------------------------------------------------------------------------
// Child processes
// ------------------------------------------------------------------------------------------------

/// `text` without ANSI colour sequences (`ESC [ ... letter`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A child process killed (SIGKILL, by PID) on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub name: String,
}

impl Proc {
    fn spawn(mut cmd: Command, log: PathBuf, name: &str) -> Proc {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc { child, log, name: name.to_string() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (as the kubelet stops a pod) and wait up to `grace` for the exit; returns the status.
    pub fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Operator {
    pub proc: Proc,
}

impl Operator {
    pub fn start(log_dir: &Path, label: &str, kubeconfig: &Path, ns: &str, endpoint: &str) -> Operator {
        Self::start_env(log_dir, label, kubeconfig, ns, endpoint, &[], &[])
    }

    /// Like [`Operator::start`], with extra environment variables set and others removed (after the
    /// defaults, so `remove` can drop the default access key).
    pub fn start_env(
        log_dir: &Path,
        label: &str,
        kubeconfig: &Path,
        ns: &str,
        endpoint: &str,
        set: &[(&str, &str)],
        remove: &[&str],
    ) -> Operator {
        let args = ["run", "--namespace", ns, "--endpoint", endpoint, "--http-addr", "127.0.0.1:0"];
        Self::start_args(log_dir, label, kubeconfig, &args, set, remove)
    }

    /// The operator with exactly `args` (plus `--log-format text`), the default credentials and
    /// `set` / `remove` applied to its environment.
    pub fn start_args(
        log_dir: &Path,
        label: &str,
        kubeconfig: &Path,
        args: &[&str],
        set: &[(&str, &str)],
        remove: &[&str],
    ) -> Operator {
        let endpoint = args
            .iter()
            .position(|a| *a == "--endpoint")
            .and_then(|i| args.get(i + 1).copied())
            .or_else(|| args.iter().find_map(|a| a.strip_prefix("--endpoint=")))
            .expect("the operator needs --endpoint (the simulator)");
        let mut cmd = Command::new(operator_bin());
        cmd.args(args)
            .args(["--log-format", "text"])
            .env("KUBECONFIG", kubeconfig)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "sim-ak-default")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sim-secret-default")
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .env_remove("WATCH_NAMESPACE")
            .env_remove("PRIVATELINK_ENDPOINT")
            // The simulator serves STS too (GetCallerIdentity, the RRSA exchange).
            .env("ALIBABA_CLOUD_STS_ENDPOINT", endpoint)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", std::env::var("E2E_OPERATOR_LOG").unwrap_or_else(|_| "info".into()));
        for (k, v) in set {
            cmd.env(k, v);
        }
        for k in remove {
            cmd.env_remove(k);
        }
        let log = log_dir.join(format!("{label}.log"));
        Operator { proc: Proc::spawn(cmd, log, label) }
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    pub fn kill9(&mut self) {
        self.proc.kill9()
    }

    /// The operator's HTTP address (`--http-addr 127.0.0.1:0`), from its startup log line
    /// `serving /healthz, /readyz, /metrics addr=127.0.0.1:PORT`.
    pub async fn http_url(&self) -> String {
        let found = poll_until(Duration::from_secs(30), || {
            let text = strip_ansi(&self.proc.log_text());
            async move {
                text.lines()
                    .filter(|l| l.contains("serving /healthz"))
                    .find_map(|l| l.split("addr=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(|a| format!("http://{}", a.trim_matches('"')))
                    .ok_or_else(|| "no 'serving /healthz' line yet".to_string())
            }
        })
        .await;
        found.unwrap_or_else(|e| panic!("operator HTTP address: {e}\n{}", self.proc.log_text()))
    }

    /// HTTP status of `GET <operator>/<path>`.
    pub async fn http_status(&self, path: &str) -> Result<u16, String> {
        let url = format!("{}/{path}", self.http_url().await);
        reqwest::get(&url).await.map(|r| r.status().as_u16()).map_err(|e| format!("{url}: {e}"))
    }
}

/// A `privatelink-sim` child process plus a client for its unsigned admin API (`/_sim/...`).
pub struct Sim {
    pub proc: Proc,
    pub port: u16,
    pub url: String,
    pub http: reqwest::Client,
    args: Vec<String>,
    log_dir: PathBuf,
    restarts: u32,
}

impl Sim {
    pub async fn start(log_dir: &Path, args: &[&str]) -> Sim {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (proc, port) = Self::spawn(log_dir, "sim", 0, &args).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let sim = Sim {
            proc,
            port,
            url: format!("http://127.0.0.1:{port}"),
            http,
            args,
            log_dir: log_dir.to_path_buf(),
            restarts: 0,
        };
        sim.wait_healthy().await;
        sim
    }

    async fn spawn(log_dir: &Path, label: &str, port: u16, args: &[String]) -> (Proc, u16) {
        let mut cmd = Command::new(sim_bin());
        cmd.arg("--listen").arg(format!("127.0.0.1:{port}")).args(args).env("NO_COLOR", "1");
        let log = log_dir.join(format!("{label}.log"));
        let mut proc = Proc::spawn(cmd, log, label);
        const PREFIX: &str = "privatelink-sim listening on http://127.0.0.1:";
        let found = poll_until(Duration::from_secs(20), || {
            let text = proc.log_text();
            async move {
                text.lines()
                    .find_map(|l| l.find(PREFIX).map(|i| l[i + PREFIX.len()..].trim().to_string()))
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| "no 'listening on' line yet".to_string())
            }
        })
        .await;
        match found {
            Ok(port) => (proc, port),
            Err(_) => {
                let running = proc.is_running();
                panic!(
                    "privatelink-sim did not report its port within 20s (running: {running}); log:\n{}",
                    proc.log_text()
                )
            }
        }
    }

    async fn wait_healthy(&self) {
        let url = format!("{}/_sim/healthz", self.url);
        poll_until(Duration::from_secs(10), || async {
            match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
        .unwrap_or_else(|e| panic!("sim {url} not healthy: {e}"));
    }

    /// Kills the simulator and starts a fresh one (empty state) on the same port.
    pub async fn restart(&mut self) {
        self.proc.kill9();
        self.restarts += 1;
        let label = format!("sim-restart{}", self.restarts);
        let (proc, port) = Self::spawn(&self.log_dir, &label, self.port, &self.args).await;
        assert_eq!(port, self.port, "the restarted sim must listen on the same port");
        self.proc = proc;
        self.wait_healthy().await;
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_sim/{path}", self.url);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {url} {body:?} -> {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    }

    pub async fn journal(&self) -> Value {
        self.send(reqwest::Method::GET, "journal", None).await
    }

    /// Journal entries (`calls`) for one action.
    pub async fn calls(&self, action: &str) -> Vec<Value> {
        let j = self.journal().await;
        j["calls"]
            .as_array()
            .map(|a| a.iter().filter(|c| c["action"] == action).cloned().collect())
            .unwrap_or_default()
    }

    /// STS credentials the simulator issued, secrets included (`GET /_sim/sts`).
    pub async fn sts_credentials(&self) -> Vec<Value> {
        let v = self.send(reqwest::Method::GET, "sts", None).await;
        v["credentials"].as_array().cloned().unwrap_or_default()
    }

    pub async fn services(&self) -> Vec<Value> {
        let v = self.send(reqwest::Method::GET, "services", None).await;
        v["services"].as_array().cloned().unwrap_or_default()
    }

    pub async fn service(&self, id: &str) -> Option<Value> {
        self.services().await.into_iter().find(|s| s["serviceId"] == id)
    }

    /// Installs a fault (`POST /_sim/faults`); returns its id.
    pub async fn fault(&self, fault: Value) -> Value {
        self.send(reqwest::Method::POST, "faults", Some(fault)).await
    }

    pub async fn clear_faults(&self) {
        self.send(reqwest::Method::DELETE, "faults", None).await;
    }

    pub async fn config(&self, cfg: Value) -> Value {
        self.send(reqwest::Method::PUT, "config", Some(cfg)).await
    }
}

/// A cloud client of one account (a consumer, or the owner acting outside Kubernetes), talking to the
/// simulator through the operator's own signed client.
pub struct Consumer {
    cloud: privatelink_operator::alicloud::AliCloudClient,
    creds: privatelink_operator::alicloud::Credentials,
}

impl Consumer {
    pub fn new(sim: &Sim, ak: &str, sk: &str) -> Self {
        use privatelink_operator::alicloud::{AliCloudClient, ClientConfig, Credentials};
        let cfg = ClientConfig { endpoint: Some(sim.url.clone()), ..Default::default() };
        Self { cloud: AliCloudClient::new(&cfg, None).unwrap(), creds: Credentials::new(ak, sk, None) }
    }
    pub async fn call<O: privatelink_operator::alicloud::ops::Operation>(&self, op: &O) -> O::Response {
        self.try_call(op).await.unwrap_or_else(|e| panic!("{}: {e}", O::ACTION))
    }
    /// Like [`Consumer::call`], returning the error (for callers that expect faults).
    pub async fn try_call<O: privatelink_operator::alicloud::ops::Operation>(
        &self,
        op: &O,
    ) -> Result<O::Response, privatelink_operator::alicloud::CallError> {
        self.cloud.call(&self.creds, op).await
    }
}

/// The simulator's second account (access key `sim-ak-other`), the consumer in these tests.
pub const ACCOUNT_B: u64 = 2234567890123456;

/// Account B creates an endpoint to `service_id` in zone h of its VPC (B must be allowed); returns
/// B's client and the endpoint ID at once (the connection is Pending unless the service auto-accepts).
pub async fn consumer_endpoint(sim: &Sim, service_id: &str) -> (Consumer, String) {
    use privatelink_operator::alicloud::ops::{CreateVpcEndpoint, ZoneParam};
    let b = Consumer::new(sim, "sim-ak-other", "sim-secret-other");
    let create = CreateVpcEndpoint {
        region_id: "cn-hangzhou".into(),
        vpc_id: "vpc-sim-b".into(),
        service_id: Some(service_id.into()),
        security_group_ids: vec!["sg-sim-b-1".into()],
        zones: vec![ZoneParam {
            zone_id: "cn-hangzhou-h".into(),
            v_switch_id: "vsw-sim-b-h".into(),
            ip: None,
        }],
        ..Default::default()
    };
    let ep = b.call(&create).await.endpoint_id;
    (b, ep)
}

impl Ctx {
    /// The owner (account A) allows account B on `service_id`; B creates an endpoint in zone h of its
    /// VPC and waits until it is Active and Connected (the e2e services auto-accept). Returns B's client
    /// and the endpoint ID.
    pub async fn connect_consumer(&self, sim: &Sim, service_id: &str) -> (Consumer, String) {
        use privatelink_operator::alicloud::ops::{AddUser, Principal};
        let owner = Consumer::new(sim, "sim-ak-default", "sim-secret-default");
        let allow = AddUser {
            region_id: "cn-hangzhou".into(),
            service_id: service_id.into(),
            principal: Principal::Account(ACCOUNT_B),
        };
        owner.call(&allow).await;
        let (b, ep) = consumer_endpoint(sim, service_id).await;
        self.wait_endpoint(&b, &ep, "Connected").await;
        (b, ep)
    }

    /// Waits until B's endpoint is Active with its connection in `connection` status.
    pub async fn wait_endpoint(&self, b: &Consumer, ep: &str, connection: &str) {
        use privatelink_operator::alicloud::ops::GetVpcEndpointAttribute;
        let get = GetVpcEndpointAttribute { region_id: "cn-hangzhou".into(), endpoint_id: ep.into() };
        let what = format!("B's endpoint to be Active and {connection}");
        self.wait_until(&what, Duration::from_secs(30), || async {
            let a = b.call(&get).await;
            match (a.endpoint_status.as_deref(), a.connection_status.as_deref()) {
                (Some("Active"), Some(c)) if c == connection => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }

    /// B leaves as the real API demands: remove the endpoint's zone, wait until it settles, delete it.
    pub async fn disconnect_consumer(&self, b: &Consumer, ep: &str) {
        use privatelink_operator::alicloud::ops::{
            DeleteVpcEndpoint, GetVpcEndpointAttribute, RemoveZoneFromVpcEndpoint,
        };
        let remove = RemoveZoneFromVpcEndpoint {
            region_id: "cn-hangzhou".into(),
            endpoint_id: ep.into(),
            zone_id: "cn-hangzhou-h".into(),
        };
        b.call(&remove).await;
        let get = GetVpcEndpointAttribute { region_id: "cn-hangzhou".into(), endpoint_id: ep.into() };
        self.wait_until("B's endpoint to settle without zones", Duration::from_secs(30), || async {
            let a = b.call(&get).await;
            if a.endpoint_status.as_deref() == Some("Active") { Ok(()) } else { Err(format!("{a:?}")) }
        })
        .await;
        b.call(&DeleteVpcEndpoint { region_id: "cn-hangzhou".into(), endpoint_id: ep.into() }).await;
    }
}
