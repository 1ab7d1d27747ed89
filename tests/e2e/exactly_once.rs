//! Test 2: Exactly-once create: a lost response, and an operator killed while Create is in flight.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// All Create calls of one object carry the same ClientToken.
fn one_token(creates: &[serde_json::Value]) -> String {
    let tokens: std::collections::BTreeSet<&str> =
        creates.iter().map(|c| c["clientToken"].as_str().unwrap_or("")).collect();
    assert_eq!(tokens.len(), 1, "Create calls must reuse one ClientToken: {creates:#?}");
    let t = tokens.into_iter().next().unwrap().to_string();
    assert!(!t.is_empty(), "Create without ClientToken: {creates:#?}");
    t
}

#[tokio::test]
async fn lost_create_response_still_yields_exactly_one_service() {
    let ctx = Ctx::new("lost-resp").await;
    let sim = ctx.start_sim(&[]).await;
    // The sim performs the first Create and then drops the response.
    sim.fault(json!({"action": CREATE, "kind": "lose_response", "count": 1})).await;
    let _op = ctx.start_operator(&sim);

    ctx.create(service("lost", "nlb-sim-001")).await;
    let obj = ctx.wait_ready("lost").await;

    let services = sim.services().await;
    assert_eq!(services.len(), 1, "exactly one service in the cloud: {services:#?}");
    assert_eq!(status_str(&obj, "serviceId").as_deref(), services[0]["serviceId"].as_str());
    let creates = sim.calls(CREATE).await;
    assert!(!creates.is_empty(), "the journal has no Create call");
    one_token(&creates);
}

/// The operator is killed (SIGKILL) while its Create call is open: the sim holds the answer back for
/// 4 s. Whether or not the cloud completes that call, a new operator must end with one service.
#[tokio::test]
async fn operator_killed_while_create_is_in_flight_does_not_duplicate() {
    let ctx = Ctx::new("kill-inflight").await;
    let sim = ctx.start_sim(&[]).await;
    sim.fault(json!({"action": CREATE, "kind": "latency", "latencyMs": 4000, "count": 1})).await;
    let mut op = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-1");

    ctx.create(service("inflight", "nlb-sim-001")).await;
    // The finalizer is the operator's first write; Create follows immediately and then waits 4 s.
    ctx.wait_until("the operator to add its finalizer", Duration::from_secs(30), || async {
        let obj = ctx.get("inflight").await.ok_or("object missing")?;
        if obj.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER) {
            Ok(())
        } else {
            Err(format!("finalizers {:?}", obj.metadata.finalizers))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    op.kill9();
    let obj = ctx.get("inflight").await.unwrap();
    assert_eq!(
        status_str(&obj, "serviceId"),
        None,
        "the operator had a serviceId although Create was still in flight; status: {}",
        obj.data["status"]
    );
    // Let the held-back call run out (the sim may complete it or drop it with the connection).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let orphaned = sim.services().await.len();

    let _op2 = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-2");
    let obj = ctx.wait_ready("inflight").await;
    let services = sim.services().await;
    assert_eq!(
        services.len(),
        1,
        "exactly one service after the restart (the killed call left {orphaned}): {services:#?}"
    );
    assert_eq!(status_str(&obj, "serviceId").as_deref(), services[0]["serviceId"].as_str());
    one_token(&sim.calls(CREATE).await);
}

/// The cloud created the service but the operator never learned its id (the response was lost) and
/// died before it could retry: a new operator process, which knows only the object, must adopt that
/// service instead of creating a second one.
#[tokio::test]
async fn operator_killed_after_the_cloud_created_the_service_adopts_it() {
    let ctx = Ctx::new("kill-orphan").await;
    let sim = ctx.start_sim(&[]).await;
    sim.fault(json!({"action": CREATE, "kind": "lose_response", "count": 1})).await;
    let mut op = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-1");

    ctx.create(service("orphan", "nlb-sim-001")).await;
    ctx.wait_until("the cloud to create the service", Duration::from_secs(30), || async {
        if sim.services().await.is_empty() { Err("no service yet".into()) } else { Ok(()) }
    })
    .await;
    op.kill9();
    let obj = ctx.get("orphan").await.unwrap();
    assert_eq!(
        status_str(&obj, "serviceId"),
        None,
        "the operator recorded a serviceId right after a lost Create response (before the kill); \
         status: {}",
        obj.data["status"]
    );
    let lost: Vec<_> =
        sim.calls(CREATE).await.into_iter().filter(|c| c["fault"] == "lose_response").collect();
    assert_eq!(lost.len(), 1, "the first Create's response was dropped");

    let _op2 = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-2");
    let obj = ctx.wait_ready("orphan").await;
    let services = sim.services().await;
    assert_eq!(services.len(), 1, "the new operator adopted the service: {services:#?}");
    assert_eq!(status_str(&obj, "serviceId").as_deref(), services[0]["serviceId"].as_str());
    one_token(&sim.calls(CREATE).await);
}
