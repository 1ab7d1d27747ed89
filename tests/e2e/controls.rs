//! Operating controls: pause, observe-only, reconcile-now and watching a set of namespaces; each
//! checked by what reached the cloud (the simulator's journal) and what the conditions say.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use privatelink_operator::alicloud::ops::{CreateVpcEndpointService, ResourceParam, TagParam, TagResources};
use serde_json::{Value, json};

use crate::harness::*;

const PAUSED: &str = "privatelink.alicloud.dev/paused";
const RECONCILE_NOW: &str = "privatelink.alicloud.dev/reconcile-requested-at";
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

#[tokio::test]
async fn watch_namespaces_reconciles_only_the_listed_namespaces() {
    let ctx = Ctx::new("watch-ns").await;
    let sim = ctx.start_sim(&[]).await;
    let second = ctx.extra_namespace("b").await;
    let unwatched = ctx.extra_namespace("c").await;
    let list = format!("{},{second}", ctx.ns);
    // `--namespace ""` (the harness always passes it) adds nothing; the list comes from the env.
    let _op = Operator::start_env(
        &ctx.log_dir,
        "operator",
        ctx.env.operator_identity(),
        "",
        &sim.url,
        &[("PRIVATELINK_WATCH_NAMESPACES", &list)],
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
    for ns in [&ctx.ns, &second, &unwatched] {
        let _ = ctx.api_in(ns).delete("w", &Default::default()).await;
    }
    let _ = ctx
        .api_in(&unwatched)
        .patch("w", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await;
}
