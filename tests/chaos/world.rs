//! Acting on the world: objects, Secrets and namespaces in the apiserver (every call retried through
//! the apiserver's restart), connections in the simulator, and the operator processes.

use std::{
    future::Future,
    path::PathBuf,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Client,
    api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams},
};
use privatelink_operator::alicloud::ops::DisableConnection;
use serde_json::{Value, json};

use crate::{
    harness::{Consumer, Ctx, GROUP, Operator, VERSION, finalize_namespace, repo_root},
    observe::Admin,
    spec::{ENDPOINT_KIND, SECRET},
};

/// How long a Kubernetes call is retried (covers an apiserver restart).
const KUBE_RETRY: Duration = Duration::from_secs(120);
/// Drift-check interval of the operators under chaos (the default is 600 s): a credentials switch is
/// seen within it.
pub const RESYNC_SECONDS: &str = "20";
/// Connection poll of the operators under chaos (the default is 30 s): how soon a service accepts an
/// endpoint of account B (`connectionApproval`), and an endpoint sees that it was accepted.
pub const CONNECTION_POLL_SECONDS: &str = "5";

pub const DEFAULT_KEYS: (&str, &str) = ("sim-ak-default", "sim-secret-default");
pub const OTHER_KEYS: (&str, &str) = ("sim-ak-other", "sim-secret-other");

fn code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        _ => 0,
    }
}

/// Retries `f` while the apiserver is unreachable or answers 5xx/429.
pub async fn kube_retry<T, F, Fut>(f: F) -> Result<T, kube::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let deadline = Instant::now() + KUBE_RETRY;
    loop {
        match f().await {
            Err(e) if (code(&e) == 0 || code(&e) >= 500 || code(&e) == 429) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            other => return other,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Objects, Secrets, namespaces
// ------------------------------------------------------------------------------------------------

/// The `VpcEndpoint` kind (the harness's `Ctx::ar` is the service kind).
pub fn endpoint_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk(GROUP, VERSION, ENDPOINT_KIND);
    ApiResource::from_gvk_with_plural(&gvk, "vpcendpoints")
}

/// Creates an object; a retry that finds it created (the first answer was lost) reads it instead.
pub async fn create_object(api: &Api<DynamicObject>, manifest: &Value) -> Result<DynamicObject, String> {
    let obj: DynamicObject = serde_json::from_value(manifest.clone()).expect("object JSON");
    let name = obj.metadata.name.clone().unwrap_or_default();
    let pp = PostParams::default();
    match kube_retry(|| api.create(&pp, &obj)).await {
        Ok(o) => Ok(o),
        Err(e) if code(&e) == 409 => {
            kube_retry(|| api.get(&name)).await.map_err(|e| format!("get {name}: {e}"))
        }
        Err(e) => Err(format!("create {name}: {e}")),
    }
}

pub async fn patch_object(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &Value,
) -> Result<DynamicObject, String> {
    let pp = PatchParams::default();
    let patch = Patch::Merge(patch);
    kube_retry(|| api.patch(name, &pp, &patch)).await.map_err(|e| format!("patch {name}: {e}"))
}

pub async fn delete_object(api: &Api<DynamicObject>, name: &str) -> Result<(), String> {
    let dp = DeleteParams::default();
    match kube_retry(|| api.delete(name, &dp)).await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == 404 => Ok(()),
        Err(e) => Err(format!("delete {name}: {e}")),
    }
}

/// Creates or overwrites the namespace's credentials Secret (the services').
pub async fn set_credentials(client: &Client, ns: &str, keys: (&str, &str)) -> Result<(), String> {
    set_secret(client, ns, SECRET, keys).await
}

/// Creates or overwrites credentials Secret `name`.
pub async fn set_secret(client: &Client, ns: &str, name: &str, (ak, sk): (&str, &str)) -> Result<(), String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let patch = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                       "stringData": {"accessKeyId": ak, "accessKeySecret": sk}});
    let pp = PatchParams::apply("chaos-test").force();
    let patch = Patch::Apply(&patch);
    kube_retry(|| secrets.patch(name, &pp, &patch))
        .await
        .map(drop)
        .map_err(|e| format!("set Secret {ns}/{name}: {e}"))
}

/// Deletes every `VpcEndpoint`, service object and Secret of a namespace at once (as the namespace
/// controller does); returns what is still there.
async fn empty_namespace(client: &Client, ar: &ApiResource, ns: &str) -> Result<Vec<String>, kube::Error> {
    let eps: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &endpoint_resource());
    let mut left = Vec::new();
    for o in eps.list(&Default::default()).await?.items {
        let name = o.metadata.name.clone().unwrap_or_default();
        if o.metadata.deletion_timestamp.is_none() {
            eps.delete(&name, &DeleteParams::default()).await?;
        }
        left.push(format!("{ENDPOINT_KIND}/{name} {:?}", o.metadata.finalizers.unwrap_or_default()));
    }
    left.extend(crate::harness::empty_namespace(client, ar, ns).await?);
    Ok(left)
}

/// How the deletion of one namespace ended.
#[derive(Debug)]
pub struct NsOutcome {
    pub ns: String,
    /// Time from the delete request until the namespace was gone, if it went.
    pub gone_after: Option<Duration>,
    /// What was left the last time we looked.
    pub last: String,
}

/// Deletes a namespace with everything in it. The testenv runs no kube-controller-manager, so this
/// plays its namespace controller: delete the contents (endpoints, services and the credentials Secrets together),
/// wait until they are gone (finalizers released), then clear the `kubernetes` finalizer (`/finalize`).
pub async fn delete_namespace(client: Client, ar: ApiResource, ns: String, deadline: Instant) -> NsOutcome {
    let t = Instant::now();
    let nss: Api<Namespace> = Api::all(client.clone());
    let dp = DeleteParams::default();
    let mut last = match kube_retry(|| nss.delete(&ns, &dp)).await {
        Ok(_) => String::new(),
        Err(e) => format!("delete namespace: {e}"),
    };
    while Instant::now() < deadline {
        match empty_namespace(&client, &ar, &ns).await {
            Ok(left) if left.is_empty() => {
                if let Err(e) = finalize_namespace(&client, &ns).await {
                    last = format!("finalize: {e}");
                }
            }
            Ok(left) => last = format!("left: {}", left.join(", ")),
            Err(e) => last = format!("{e}"),
        }
        if matches!(nss.get_opt(&ns).await, Ok(None)) {
            return NsOutcome { ns, gone_after: Some(t.elapsed()), last };
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    NsOutcome { ns, gone_after: None, last }
}

/// Restarts the shared apiserver (same port and etcd data), as `e2e_restart` does.
pub async fn restart_apiserver(testenv_dir: PathBuf) -> Result<Duration, String> {
    let t = Instant::now();
    let out = tokio::process::Command::new(repo_root().join("tests/scripts/testenv-restart.sh"))
        .arg("apiserver")
        .env("TESTENV_DIR", &testenv_dir)
        .output()
        .await
        .map_err(|e| format!("run testenv-restart.sh: {e}"))?;
    if out.status.success() {
        Ok(t.elapsed())
    } else {
        Err(format!(
            "testenv-restart.sh apiserver failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

// ------------------------------------------------------------------------------------------------
// Consumer connections
// ------------------------------------------------------------------------------------------------

/// A connection covering every zone of the service (`POST /_sim/connections`); returns its endpoint ID.
pub async fn connect(admin: &Admin, service_id: &str) -> Result<String, String> {
    let v = admin.call(reqwest::Method::POST, "connections", Some(json!({"serviceId": service_id}))).await?;
    v["endpointId"].as_str().map(String::from).ok_or_else(|| format!("no endpointId in {v}"))
}

/// The status of one connection in the simulator (`None`: the connection or its service is gone).
async fn connection_status(
    admin: &Admin,
    service_id: &str,
    endpoint_id: &str,
) -> Result<Option<String>, String> {
    let services = admin.services().await?;
    let svc = services.iter().find(|s| s["serviceId"] == service_id);
    let conn = svc.and_then(|s| s["connections"].as_array()?.iter().find(|c| c["endpointId"] == endpoint_id));
    Ok(conn.and_then(|c| c["connectionStatus"].as_str().map(String::from)))
}

/// Disconnects through the real API (retried through the faults) until the simulator shows it.
pub async fn disconnect(
    owner: &Consumer,
    admin: &Admin,
    region: &str,
    service_id: &str,
    endpoint_id: &str,
) -> Result<(), String> {
    let op = DisableConnection {
        region_id: region.into(),
        service_id: service_id.into(),
        endpoint_id: endpoint_id.into(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        match connection_status(admin, service_id, endpoint_id).await {
            Ok(None) => return Ok(()),
            Ok(Some(s)) if s == "Disconnected" || s == "Disconnecting" => return Ok(()),
            Ok(Some(_)) => {
                if let Err(e) = owner.try_call(&op).await {
                    last = e.to_string();
                }
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(format!("connection {endpoint_id} of {service_id} still live after 60 s: {last}"))
}

// ------------------------------------------------------------------------------------------------
// Operators: one process per namespace
// ------------------------------------------------------------------------------------------------

/// The operator processes, one per namespace (`--namespace`: the shared apiserver holds other tests'
/// objects, which an all-namespaces operator would take over).
pub struct Operators {
    log_dir: PathBuf,
    kubeconfig: PathBuf,
    endpoint: String,
    procs: Vec<(String, Operator)>,
    /// SIGKILL rounds and processes killed.
    pub kills: u32,
    pub killed: u32,
    /// Processes that exited by themselves (restarted at once).
    pub exits: Vec<String>,
}

impl Operators {
    pub fn start(ctx: &Ctx, endpoint: &str, namespaces: &[String]) -> Operators {
        let mut ops = Operators {
            log_dir: ctx.log_dir.clone(),
            kubeconfig: ctx.env.operator_identity().to_path_buf(),
            endpoint: endpoint.to_string(),
            procs: Vec::new(),
            kills: 0,
            killed: 0,
            exits: Vec::new(),
        };
        ops.procs = namespaces.iter().map(|ns| (ns.clone(), ops.spawn(ns))).collect();
        ops
    }

    fn spawn(&self, ns: &str) -> Operator {
        Operator::start_env(
            &self.log_dir,
            &format!("operator-{ns}"),
            &self.kubeconfig,
            ns,
            &self.endpoint,
            &[
                ("PRIVATELINK_RESYNC_SECONDS", RESYNC_SECONDS),
                ("PRIVATELINK_CONNECTION_POLL_SECONDS", CONNECTION_POLL_SECONDS),
            ],
            // Objects name their Secret; no operator-wide key to fall back on.
            &["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
        )
    }

    /// SIGKILL every operator, then start them again.
    pub async fn kill_and_restart(&mut self, pause: Duration) {
        for (_, op) in &mut self.procs {
            op.kill9();
            self.killed += 1;
        }
        self.kills += 1;
        tokio::time::sleep(pause).await;
        let fresh: Vec<Operator> = self.procs.iter().map(|(ns, _)| self.spawn(ns)).collect();
        for ((_, op), new) in self.procs.iter_mut().zip(fresh) {
            *op = new;
        }
    }

    /// Restarts any operator that exited by itself, and records it.
    pub fn supervise(&mut self, at: Duration) {
        for i in 0..self.procs.len() {
            let exited = self.procs[i].1.proc.child.try_wait().ok().flatten();
            if let Some(status) = exited {
                let ns = self.procs[i].0.clone();
                self.exits.push(format!("t={}s operator-{ns} exited by itself ({status})", at.as_secs()));
                self.procs[i].1 = self.spawn(&ns);
            }
        }
    }
}
