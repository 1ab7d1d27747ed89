//! Test 2: Exactly-once create: a lost response, and an operator killed while Create is in flight.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// All Create calls of one object carry the same ClientToken.
fn one_token(creates: &[serde_json::Value]) -> String {
    let tokens: std::collections::BTreeSet<&str> = creates
        .iter()
        .map(|c| c["clientToken"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "Create calls must reuse one ClientToken: {creates:#?}"
    );
    let t = tokens.into_iter().next().unwrap().to_string();
    assert!(!t.is_empty(), "Create without ClientToken: {creates:#?}");
    t
}

#[tokio::test]
async fn lost_create_response_still_yields_exactly_one_service() {
    let ctx = Ctx::new("lost-resp").await;
    let sim = ctx.start_sim(&[]).await;
    // The sim performs the first Create and then drops the response.
    sim.fault(json!({"action": CREATE, "kind": "lose_response", "count": 1}))
        .await;
    let _op = ctx.start_operator(&sim);

    ctx.create(service("lost", "nlb-sim-001")).await;
    let obj = ctx.wait_ready("lost").await;

    let services = sim.services().await;
    assert_eq!(
        services.len(),
        1,
        "exactly one service in the cloud: {services:#?}"
    );
    assert_eq!(
        status_str(&obj, "serviceId").as_deref(),
        services[0]["serviceId"].as_str()
    );
    let creates = sim.calls(CREATE).await;
    assert!(!creates.is_empty(), "the journal has no Create call");
    one_token(&creates);
}

#[tokio::test]
async fn operator_killed_during_create_does_not_duplicate_the_service() {
    let ctx = Ctx::new("kill-create").await;
    let sim = ctx.start_sim(&[]).await;
    // Create takes 4 s to answer, which leaves time to kill the operator while the call is open.
    sim.fault(json!({"action": CREATE, "kind": "latency", "latencyMs": 4000, "count": 1}))
        .await;
    let mut op = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-1");

    ctx.create(service("crash", "nlb-sim-001")).await;
    // The request has reached the sim: it shows in the journal or the service exists.
    ctx.wait_until(
        "the Create call to reach the sim",
        Duration::from_secs(30),
        || async {
            let in_journal = !sim.calls(CREATE).await.is_empty();
            let exists = !sim.services().await.is_empty();
            if in_journal || exists {
                Ok(())
            } else {
                Err("no Create call yet".into())
            }
        },
    )
    .await;
    op.kill9();
    let obj = ctx.get("crash").await.unwrap();
    assert_eq!(
        status_str(&obj, "serviceId"),
        None,
        "the operator recorded the service id before it was killed, so this run did not test the race; \
         status: {}",
        obj.data["status"]
    );

    // The cloud finishes the create although nobody reads the answer.
    ctx.wait_until(
        "the service to exist in the sim",
        Duration::from_secs(30),
        || async {
            if sim.services().await.is_empty() {
                Err("no service".into())
            } else {
                Ok(())
            }
        },
    )
    .await;

    let _op2 = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-2");
    let obj = ctx.wait_ready("crash").await;
    let services = sim.services().await;
    assert_eq!(
        services.len(),
        1,
        "exactly one service after the restart: {services:#?}"
    );
    assert_eq!(
        status_str(&obj, "serviceId").as_deref(),
        services[0]["serviceId"].as_str()
    );
    let creates = sim.calls(CREATE).await;
    one_token(&creates);
}
