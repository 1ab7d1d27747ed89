//! Test 1: Apply → Ready=True, with the ids the cloud (the simulator) holds.

use crate::harness::*;

#[tokio::test]
async fn apply_becomes_ready_with_the_ids_the_cloud_holds() {
    let ctx = Ctx::new("ready").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);

    ctx.create(service("web", "nlb-sim-001")).await;
    let obj = ctx.wait_ready("web").await;

    let services = sim.services().await;
    assert_eq!(services.len(), 1, "the cloud holds exactly one service: {services:#?}");
    let cloud = &services[0];
    for field in ["serviceId", "serviceName", "serviceDomain"] {
        let ours = status_str(&obj, field);
        assert!(ours.as_deref().is_some_and(|s| !s.is_empty()), "status.{field} is empty: {:#?}", obj.data);
        assert_eq!(ours.as_deref(), cloud[field].as_str(), "status.{field} differs from the cloud's");
    }
    assert_eq!(status_str(&obj, "serviceStatus").as_deref(), Some("Active"));
    assert_eq!(cloud["serviceStatus"], "Active");
    assert_eq!(cloud["regionId"], "cn-hangzhou");

    let ready = condition(&obj, "Ready").unwrap();
    assert_eq!(ready["reason"], "Available", "Ready condition: {ready}");
    let generation = obj.metadata.generation.unwrap();
    assert_eq!(obj.data["status"]["observedGeneration"], generation, "status.observedGeneration");
    assert_eq!(ready["observedGeneration"], generation, "Ready.observedGeneration");
    assert!(
        obj.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER),
        "finalizer {FINALIZER} missing: {:?}",
        obj.metadata.finalizers
    );

    // The spec's tag reached the cloud, and the create carried a ClientToken.
    let tags = cloud["tags"].to_string();
    assert!(tags.contains("\"e2e\"") && tags.contains("\"web\""), "cloud tags {tags}");
    let creates = sim.calls(CREATE).await;
    assert_eq!(creates.len(), 1, "one CreateVpcEndpointService call: {creates:#?}");
    let token = creates[0]["clientToken"].as_str().unwrap_or_default();
    assert!(!token.is_empty() && token.len() <= 64, "ClientToken {token:?} must be set and ≤ 64 chars");
}

/// The operator's probes: `/healthz` answers at once, `/readyz` turns 200 once its cache is synced
/// (the Deployment's readiness probe depends on it).
#[tokio::test]
async fn operator_probes_report_live_and_ready() {
    let ctx = Ctx::new("probes").await;
    let sim = ctx.start_sim(&[]).await;
    let op = ctx.start_operator(&sim);
    ctx.create(service("probed", "nlb-sim-001")).await;
    ctx.wait_ready("probed").await;

    assert_eq!(op.http_status("healthz").await, Ok(200), "/healthz");
    // The object is Ready, so the cache has long been synced: /readyz must say so.
    let url = op.http_url().await;
    ctx.wait_until("operator /readyz to return 200", std::time::Duration::from_secs(20), || async {
        match op.http_status("readyz").await {
            Ok(200) => Ok(()),
            other => Err(format!("GET {url}/readyz -> {other:?}")),
        }
    })
    .await;
    let metrics = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200, "/metrics");
    // The queue gauges are read from the running controller at the scrape: with the one object Ready,
    // nothing waits for a slot or the account's budget.
    let text = metrics.text().await.unwrap();
    assert!(text.lines().any(|l| l.starts_with("privatelink_operator_slots_busy ")), "/metrics: {text}");
    for line in [
        "privatelink_operator_slot_waiters{rank=\"follow\"} 0",
        "privatelink_operator_slot_waiters{rank=\"routine\"} 0",
        "privatelink_operator_budget_parked{class=\"start\"} 0",
        "privatelink_operator_objects{ready=\"True\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "/metrics lacks {line:?}:\n{text}");
    }
}
