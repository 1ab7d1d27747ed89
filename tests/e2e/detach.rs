//! A spec edit that drops a backend never cuts a consumer's traffic: the detach waits for the
//! connections in that zone (DetachBlocked) and happens once they are gone.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn dropping_a_backend_that_consumers_use_waits_for_them() {
    let ctx = Ctx::new("detach-held").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    let mut obj = service("two", "nlb-sim-004");
    obj["spec"]["resources"] = json!([
        {"resourceType": "nlb", "resourceId": "nlb-sim-004", "zoneId": "cn-hangzhou-h"},
        {"resourceType": "nlb", "resourceId": "nlb-sim-005", "zoneId": "cn-hangzhou-i"},
    ]);
    ctx.create(obj).await;
    let ready = ctx.wait_ready("two").await;
    let sid = status_str(&ready, "serviceId").unwrap();
    let (b, ep) = ctx.connect_consumer(&sim, &sid).await;

    // Drop the zone-h backend, which B's endpoint uses.
    let edit = json!({"spec": {"resources": [{"resourceType": "nlb", "resourceId": "nlb-sim-005", "zoneId": "cn-hangzhou-i"}]}});
    ctx.api().patch("two", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    let obj =
        ctx.wait_condition("two", "Ready", Duration::from_secs(30), |c| c["reason"] == "DetachBlocked").await;
    let msg = condition(&obj, "Ready").unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&ep) && msg.contains("nlb-sim-004"), "{msg}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sim.calls("DetachResourceFromVpcEndpointService").await.is_empty(),
        "no detach while B is connected"
    );

    // B leaves; the detach follows by itself and the object is Ready with one backend.
    ctx.disconnect_consumer(&b, &ep).await;
    let endpoint_deleted = sim.calls("DeleteVpcEndpoint").await[0]["seq"].as_u64().unwrap();
    ctx.wait_condition("two", "Ready", Duration::from_secs(90), |c| c["status"] == "True").await;
    let detaches = sim.calls("DetachResourceFromVpcEndpointService").await;
    assert!(!detaches.is_empty() && detaches.iter().all(|d| d["seq"].as_u64().unwrap() > endpoint_deleted));
    let svc = sim.service(&sid).await.unwrap();
    assert_eq!(
        svc["resources"],
        json!([{"resourceType": "nlb", "resourceId": "nlb-sim-005", "zoneId": "cn-hangzhou-i"}])
    );
}
