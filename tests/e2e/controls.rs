//! Operating controls: pause, observe-only, reconcile-now and watching a set of namespaces; each
//! checked by what reached the cloud (the simulator's journal) and what the conditions say.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use privatelink_operator::alicloud::ops::{CreateVpcEndpointService, ResourceParam, TagParam, TagResources};
use serde_json::{Value, json};

use crate::harness::*;

const PAUSED: &str = "privatelink.alicloud.dev/paused";
const ADOPT: &str = "privatelink.alicloud.dev/adopt-service-id";

/// Mutating PrivateLink calls in the journal after `seq`.
async fn writes_since(sim: &Sim, seq: u64) -> Vec<String> {
    let j = sim.journal().await;
    let mutating = |a: &str| privatelink_sim::ops::PRIVATELINK.iter().any(|op| op.action == a && op.mutating);
    j["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["seq"].as_u64().unwrap_or(0) > seq && mutating(c["action"].as_str().unwrap_or("")))
        .map(|c| format!("{} {}", c["action"].as_str().unwrap_or(""), c["code"].as_str().unwrap_or("")))
        .collect()
}

/// Every call in the journal after `seq`.
async fn calls_since(sim: &Sim, seq: u64) -> Vec<Value> {
    let j = sim.journal().await;
    j["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["seq"].as_u64().unwrap_or(0) > seq)
        .cloned()
        .collect()
}

async fn last_seq(sim: &Sim) -> u64 {
    let j = sim.journal().await;
    j["calls"].as_array().and_then(|a| a.iter().filter_map(|c| c["seq"].as_u64()).max()).unwrap_or(0)
}

async fn patch(ctx: &Ctx, name: &str, p: Value) {
    ctx.api().patch(name, &PatchParams::default(), &Patch::Merge(p)).await.unwrap();
}

#[tokio::test]
async fn a_paused_resource_sends_nothing_to_the_cloud_until_resumed() {
    let ctx = Ctx::new("pause").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    ctx.create(service("p", "nlb-sim-001")).await;
    let obj = ctx.wait_ready("p").await;
    let id = status_str(&obj, "serviceId").unwrap();

    patch(&ctx, "p", json!({"metadata": {"annotations": {PAUSED: "true"}}})).await;
    ctx.wait_condition("p", "Synced", Duration::from_secs(30), |c| {
        c["status"] == "False" && c["reason"] == "Paused"
    })
    .await;
    let seq = last_seq(&sim).await;
    // A spec edit and a deletion while paused: nothing reaches the cloud, the object waits.
    patch(&ctx, "p", json!({"spec": {"serviceDescription": "edited while paused"}})).await;
    ctx.delete("p").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let calls = calls_since(&sim, seq).await;
    assert!(calls.is_empty(), "no cloud call while paused: {calls:#?}");
    let obj = ctx.get("p").await.expect("a paused object's deletion waits");
    assert!(obj.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER));
    let synced = condition(&obj, "Synced").unwrap();
    assert!(synced["message"].as_str().unwrap().contains("deletion waits"), "{synced}");
    assert_eq!(sim.service(&id).await.unwrap()["serviceStatus"], "Active");

    // Resumed: the deletion proceeds.
    patch(&ctx, "p", json!({"metadata": {"annotations": {PAUSED: null}}})).await;
    ctx.wait_gone("p", Duration::from_secs(60)).await;
    assert!(!sim.calls(DELETE).await.is_empty(), "deleted once resumed");
}

#[tokio::test]
async fn observe_only_reports_an_existing_service_and_never_writes_to_it() {
    let ctx = Ctx::new("observe").await;
    let sim = ctx.start_sim(&[]).await;
    // A service made outside Kubernetes (console, Terraform), in the operator's default account.
    let owner = Consumer::new(&sim, "sim-ak-default", "sim-secret-default");
    let created = owner
        .call(&CreateVpcEndpointService {
            region_id: "cn-hangzhou".into(),
            service_resource_type: Some("nlb".into()),
            service_description: Some("made by hand".into()),
            auto_accept_enabled: Some(true),
            resources: vec![ResourceParam {
                resource_type: "nlb".into(),
                resource_id: "nlb-sim-001".into(),
                zone_id: Some("cn-hangzhou-h".into()),
            }],
            ..Default::default()
        })
        .await;
    let id = created.service_id;
    ctx.wait_until("the hand-made service to be Active", Duration::from_secs(30), || async {
        match sim.service(&id).await {
            Some(s) if s["serviceStatus"] == "Active" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let seq = last_seq(&sim).await;
    let _op = ctx.start_operator(&sim);

    // The spec differs from the service (description, tags, another backend): observe-only changes none.
    let mut s = service("watched", "nlb-sim-002");
    s["metadata"]["annotations"] = json!({ADOPT: id});
    s["spec"]["managementPolicy"] = json!("Observe");
    ctx.create(s).await;
    let obj = ctx.wait_ready("watched").await;
    assert_eq!(status_str(&obj, "serviceId").as_deref(), Some(id.as_str()));
    assert!(status_str(&obj, "serviceDomain").is_some(), "status filled from the cloud");
    let ready = condition(&obj, "Ready").unwrap();
    assert!(ready["message"].as_str().unwrap().contains("Observe"), "{ready}");

    ctx.delete("watched").await;
    ctx.wait_gone("watched", Duration::from_secs(30)).await;
    let writes = writes_since(&sim, seq).await;
    assert!(writes.is_empty(), "observe-only wrote to the cloud: {writes:?}");
    let svc = sim.service(&id).await.expect("the service stays");
    assert_eq!(svc["serviceStatus"], "Active");
    assert_eq!(svc["serviceDescription"], "made by hand");
}

#[tokio::test]
async fn reconcile_now_corrects_drift_at_once_without_a_spec_change() {
    let ctx = Ctx::new("reconcile-now").await;
    let sim = ctx.start_sim(&[]).await;
    // The shipped resync (10 minutes): only the request can explain a correction within the test.
    let _op = ctx.start_operator(&sim);
    ctx.create(service("now", "nlb-sim-001")).await;
    let obj = ctx.wait_ready("now").await;
    let id = status_str(&obj, "serviceId").unwrap();
    let generation = obj.metadata.generation;

    // Drift behind the operator's back: a stray tag.
    let owner = Consumer::new(&sim, "sim-ak-default", "sim-secret-default");
    let stray = TagParam { key: "stray".into(), value: "x".into() };
    owner
        .call(&TagResources { region_id: "cn-hangzhou".into(), service_id: id.clone(), tags: vec![stray] })
        .await;

    patch(&ctx, "now", json!({"metadata": {"annotations": {RECONCILE_NOW: "2026-12-03T10:00:00Z"}}})).await;
    ctx.wait_until("the stray tag to be removed", Duration::from_secs(30), || async {
        let s = sim.service(&id).await.ok_or("service missing")?;
        let tags = s["tags"].to_string();
        if tags.contains("stray") { Err(tags) } else { Ok(()) }
    })
    .await;
    assert!(!sim.calls("UntagResources").await.is_empty());
    let obj = ctx
        .wait_until("the request to be recorded as handled", Duration::from_secs(30), || async {
            let o = ctx.get("now").await.ok_or("missing")?;
            match status_str(&o, "lastHandledReconcileAt") {
                Some(v) if v == "2026-12-03T10:00:00Z" => Ok(o),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    assert_eq!(obj.metadata.generation, generation, "no spec change");
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "True", "Ready throughout");
}

/// The chart with `watchNamespaces: [a, b]` rendered by helm; its RBAC applied; the operator run
/// with the chart's own arguments as the chart's ServiceAccount (a TokenRequest token), so the only
/// permissions it has are the chart's per-namespace Roles and its narrowed ClusterRole.
#[tokio::test]
async fn watch_namespaces_reconciles_only_the_listed_namespaces_under_the_charts_roles() {
    let ctx = Ctx::new("watch-ns").await;
    let sim = ctx.start_sim(&[]).await;
    let second = ctx.extra_namespace("b").await;
    let unwatched = ctx.extra_namespace("c").await;
    let release_ns = ctx.extra_namespace("op").await;
    // Cluster-scoped names (ClusterRole) are unique per test through the namespace name.
    let fullname = format!("plo-{}", ctx.ns);
    let watch = format!("watchNamespaces={{{},{second}}}", ctx.ns);
    let docs = helm_template("plo", &release_ns, &[&watch, &format!("fullnameOverride={fullname}")]);
    let rbac_kinds = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
    let rbac: Vec<&Value> =
        docs.iter().filter(|d| rbac_kinds.contains(&d["kind"].as_str().unwrap_or(""))).collect();
    let roles_in =
        |ns: &str| rbac.iter().filter(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == ns).count();
    assert!(roles_in(&ctx.ns) >= 1 && roles_in(&second) >= 1, "a Role per watched namespace: {rbac:#?}");
    let file = ctx.log_dir.join("chart-rbac.yaml");
    let text: String = rbac.iter().map(|d| format!("---\n{}", serde_yaml::to_string(d).unwrap())).collect();
    std::fs::write(&file, text).unwrap();
    let (ok, out, err) = ctx.kubectl(&["apply", "--server-side", "-f", &file.to_string_lossy()]);
    assert!(ok, "applying the chart's RBAC: {out}{err}");

    // The identity is really narrow: the custom resource in the unwatched namespace is out of reach.
    let sa = rbac.iter().find(|d| d["kind"] == "ServiceAccount").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let who = format!("system:serviceaccount:{release_ns}:{sa}");
    let can = |verb: &str, ns: &str| {
        let (_, out, _) = ctx.kubectl(&[
            "auth",
            "can-i",
            verb,
            "vpcendpointservices.privatelink.alicloud.dev",
            "-n",
            ns,
            "--as",
            &who,
        ]);
        out.trim() == "yes"
    };
    assert!(can("watch", &ctx.ns) && can("watch", &second), "the Roles grant the watched namespaces");
    assert!(!can("list", &unwatched) && !can("patch", &unwatched), "nothing in the unwatched namespace");
    let kubeconfig = service_account_kubeconfig(&ctx.env, &release_ns, &sa, &ctx.log_dir);

    // The chart's own arguments, with the test's addresses.
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").expect("the chart renders a Deployment");
    let chart_args: Vec<String> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .filter(|a| !["--http-addr", "--log-format", "--endpoint"].iter().any(|f| a.starts_with(f)))
        .collect();
    assert!(chart_args.iter().any(|a| a.starts_with("--watch-namespaces=")), "{chart_args:?}");
    let mut args: Vec<&str> = chart_args.iter().map(String::as_str).collect();
    args.extend(["--endpoint", &sim.url, "--http-addr", "127.0.0.1:0"]);
    let _op = Operator::start_args(
        &ctx.log_dir,
        "operator",
        &kubeconfig,
        &args,
        &[("POD_NAMESPACE", &release_ns), ("POD_NAME", "watch-ns-test")],
        &[],
    );

    for ns in [&ctx.ns, &second, &unwatched] {
        let obj: kube::api::DynamicObject = serde_json::from_value(service("w", "nlb-sim-001")).unwrap();
        ctx.api_in(ns).create(&Default::default(), &obj).await.unwrap();
    }
    ctx.wait_ready("w").await;
    ctx.wait_until("the second namespace's object to be Ready", READY_TIMEOUT, || async {
        let o = ctx.api_in(&second).get("w").await.map_err(|e| e.to_string())?;
        match condition(&o, "Ready") {
            Some(c) if c["status"] == "True" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let o = ctx.api_in(&unwatched).get("w").await.unwrap();
    assert!(o.metadata.finalizers.is_none() && o.data.get("status").is_none(), "untouched: {o:?}");
    assert_eq!(sim.services().await.len(), 2, "one service per watched namespace");
    let log = ctx.log_tails();
    assert!(!log.contains("forbidden"), "no request of the operator was forbidden:\n{log}");

    // Deletion works under the same identity: both services go, the finalizers are released.
    for ns in [&ctx.ns, &second] {
        ctx.api_in(ns).delete("w", &Default::default()).await.unwrap();
    }
    ctx.wait_gone("w", Duration::from_secs(60)).await;
    ctx.wait_until("the second namespace's object to be gone", Duration::from_secs(60), || async {
        match ctx.api_in(&second).get_opt("w").await {
            Ok(None) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    ctx.wait_until("the cloud to hold no service", Duration::from_secs(60), || async {
        let n = sim.services().await.len();
        if n == 0 { Ok(()) } else { Err(format!("{n} services left")) }
    })
    .await;
    let _ = ctx.api_in(&unwatched).delete("w", &Default::default()).await;
    let cluster_scoped: Vec<String> = rbac
        .iter()
        .filter(|d| d["kind"].as_str().is_some_and(|k| k.starts_with("Cluster")))
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap().to_lowercase(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    for obj in cluster_scoped {
        let _ = ctx.kubectl(&["delete", &obj, "--ignore-not-found"]);
    }
}
