//! Test 5: Input the cloud rejects: Ready=False with the Alibaba code and RequestId, and no hot loop.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// How long to watch for retries after the first failure.
const OBSERVE: Duration = Duration::from_secs(10);

async fn assert_cloud_error(ctx: &Ctx, sim: &Sim, name: &str, code: &str) {
    let obj = ctx
        .wait_condition(name, "Ready", READY_TIMEOUT, |c| {
            c["status"] == "False" && c["message"].as_str().unwrap_or("").contains(code)
        })
        .await;
    let ready = condition(&obj, "Ready").unwrap();
    let reason = ready["reason"].as_str().unwrap_or_default();
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(reason.contains(code), "Ready.reason {reason:?} should name {code}");
    assert!(
        reason.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ',' || c == ':')
            && reason.starts_with(|c: char| c.is_ascii_alphabetic()),
        "Ready.reason {reason:?} is not a valid condition reason"
    );
    let failed: Vec<_> = sim.calls(CREATE).await.into_iter().filter(|c| c["code"] == code).collect();
    assert!(!failed.is_empty(), "the journal has no failed Create with {code}");
    let request_ids: Vec<&str> = failed.iter().filter_map(|c| c["requestId"].as_str()).collect();
    assert!(
        request_ids.iter().any(|id| message.contains(id)),
        "Ready.message {message:?} carries none of the RequestIds {request_ids:?}"
    );
}

#[tokio::test]
async fn unknown_load_balancer_and_quota_are_reported_without_hot_loop() {
    let ctx = Ctx::new("cloud-errors").await;
    let sim = ctx.start_sim(&[]).await;
    // One endpoint service per account and region.
    sim.config(json!({"serviceQuota": 1})).await;
    let _op = ctx.start_operator(&sim);

    ctx.create(service("no-lb", "nlb-does-not-exist")).await;
    assert_cloud_error(&ctx, &sim, "no-lb", "LoadBalancerNotFound").await;

    ctx.create(service("first", "nlb-sim-001")).await;
    ctx.wait_ready("first").await;
    ctx.create(service("over-quota", "nlb-sim-002")).await;
    assert_cloud_error(&ctx, &sim, "over-quota", "QuotaMisMatched").await;

    // No hot loop: over the next seconds each failing object sees at most a few Create calls.
    tokio::time::sleep(OBSERVE).await;
    let creates = sim.calls(CREATE).await;
    for code in ["LoadBalancerNotFound", "QuotaMisMatched"] {
        let n = creates.iter().filter(|c| c["code"] == code).count();
        assert!(n <= 3, "{n} Create calls failed with {code} within ~{OBSERVE:?}: hot loop?\n{creates:#?}");
    }
    assert_eq!(sim.services().await.len(), 1, "only `first` exists in the cloud");
    // The failing objects are still reported as not ready.
    for name in ["no-lb", "over-quota"] {
        let obj = ctx.get(name).await.unwrap();
        assert_eq!(condition(&obj, "Ready").unwrap()["status"], "False", "{name}");
    }
}
