//! Test 3: Delete: the finalizer holds until the cloud service is gone; objects whose cloud service never
//! existed are released at once.

use std::time::Duration;

use kube::api::DeleteParams;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn finalizer_holds_until_the_cloud_service_is_gone() {
    let ctx = Ctx::new("delete").await;
    let sim = ctx.start_sim(&[]).await;
    // Deleting lasts 5 s in the cloud, long enough to watch the object wait for it.
    sim.config(json!({"deleteSeconds": 5})).await;
    let _op = ctx.start_operator(&sim);

    ctx.create(service("gone", "nlb-sim-002")).await;
    let obj = ctx.wait_ready("gone").await;
    let id = status_str(&obj, "serviceId").unwrap();

    ctx.delete("gone").await;
    // While the cloud reports Deleting, the object still exists, marked for deletion.
    ctx.wait_until(
        "the cloud to report Deleting while the object waits",
        Duration::from_secs(30),
        || async {
            let obj =
                ctx.get("gone").await.ok_or("the object vanished before the cloud reported Deleting")?;
            let cloud = sim.service(&id).await.ok_or("the cloud service vanished before we saw Deleting")?;
            match (obj.metadata.deletion_timestamp.is_some(), cloud["serviceStatus"].as_str()) {
                (true, Some("Deleting")) => Ok(()),
                (marked, st) => Err(format!("deletionTimestamp set: {marked}, cloud status {st:?}")),
            }
        },
    )
    .await;
    let obj = ctx.get("gone").await.expect("object exists while the cloud deletes");
    assert!(obj.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER), "finalizer still held");

    // A second delete request is harmless.
    let (ok, out, err) = ctx.kubectl(&["delete", "epsrv", "gone", "-n", &ctx.ns, "--wait=false"]);
    assert!(ok, "second kubectl delete failed: {out}{err}");

    ctx.wait_gone("gone", Duration::from_secs(60)).await;
    // By the time the object is released, the cloud no longer has the service.
    let left = sim.service(&id).await;
    assert!(
        left.as_ref().is_none_or(|s| s["serviceStatus"] == "Deleted"),
        "object released while the cloud still has {left:#?}"
    );
    let deletes = sim.calls(DELETE).await;
    assert!(!deletes.is_empty(), "no DeleteVpcEndpointService call reached the cloud");
}

#[tokio::test]
async fn never_created_service_is_released_at_once() {
    let ctx = Ctx::new("delete-never").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);

    // The cloud rejects the create (terminal error), so there is nothing to delete.
    ctx.create(service("never", "nlb-does-not-exist")).await;
    ctx.wait_condition("never", "Ready", READY_TIMEOUT, |c| {
        c["status"] == "False" && c["message"].as_str().unwrap_or("").contains("LoadBalancerNotFound")
    })
    .await;
    let obj = ctx.get("never").await.unwrap();
    assert_eq!(status_str(&obj, "serviceId"), None, "no service id expected");

    ctx.api().delete("never", &DeleteParams::default()).await.unwrap();
    ctx.wait_gone("never", Duration::from_secs(15)).await;
    assert!(sim.services().await.is_empty(), "the cloud holds no service");
    let deletes = sim.calls(DELETE).await;
    assert!(deletes.is_empty(), "Delete was called for a service that never existed: {deletes:#?}");
}

#[tokio::test]
async fn orphan_policy_releases_the_object_and_keeps_the_cloud_service() {
    let ctx = Ctx::new("orphan").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);

    let mut obj = service("keep", "nlb-sim-003");
    obj["spec"]["deletionPolicy"] = json!("Orphan");
    ctx.create(obj).await;
    let obj = ctx.wait_ready("keep").await;
    let id = status_str(&obj, "serviceId").unwrap();

    ctx.delete("keep").await;
    ctx.wait_gone("keep", Duration::from_secs(30)).await;
    let cloud = sim.service(&id).await.expect("an orphaned service stays in the cloud");
    assert_eq!(cloud["serviceStatus"], "Active");
    assert!(sim.calls(DELETE).await.is_empty(), "Delete called despite deletionPolicy Orphan");
}

#[tokio::test]
async fn deletion_waits_for_connected_consumers_and_finishes_when_they_leave() {
    use privatelink_operator::alicloud::ops::GetVpcEndpointAttribute;
    let ctx = Ctx::new("delete-held").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    ctx.create(service("held", "nlb-sim-003")).await;
    let obj = ctx.wait_ready("held").await;
    let sid = status_str(&obj, "serviceId").unwrap();

    // The owner allows account B; B connects a real endpoint (the service auto-accepts).
    let (b, ep) = ctx.connect_consumer(&sim, &sid).await;
    let get = GetVpcEndpointAttribute { region_id: "cn-hangzhou".into(), endpoint_id: ep.clone() };

    ctx.delete("held").await;
    let obj = ctx
        .wait_condition("held", "Ready", Duration::from_secs(30), |c| c["reason"] == "DeletionBlocked")
        .await;
    let ready = condition(&obj, "Ready").unwrap();
    assert!(ready["message"].as_str().unwrap().contains(&ep), "the blocking endpoint is named: {ready}");
    assert_eq!(condition(&obj, "Stalled").map(|c| c["status"].clone()), Some(json!("False")), "not terminal");
    // Nothing that would cut B's traffic was even tried.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for action in ["DetachResourceFromVpcEndpointService", DELETE, "DisableVpcEndpointConnection"] {
        assert!(sim.calls(action).await.is_empty(), "{action} called while B was connected");
    }
    assert_eq!(b.call(&get).await.connection_status.as_deref(), Some("Connected"));

    // B leaves: zones first, then the endpoint. The operator finishes by itself.
    ctx.disconnect_consumer(&b, &ep).await;
    let gone_at = std::time::Instant::now();
    // The blocked teardown re-checks every 30 s.
    ctx.wait_gone("held", Duration::from_secs(90)).await;
    assert!(sim.service(&sid).await.is_none_or(|s| s["serviceStatus"] == "Deleting"), "service left behind");
    let journal = sim.journal().await;
    let calls = journal["calls"].as_array().unwrap();
    let seq = |action: &str| {
        calls.iter().filter(|c| c["action"] == action).map(|c| c["seq"].as_u64().unwrap()).min()
    };
    let endpoint_deleted = seq("DeleteVpcEndpoint").unwrap();
    assert!(
        seq("DetachResourceFromVpcEndpointService").unwrap() > endpoint_deleted,
        "detached only after B left"
    );
    assert!(seq(DELETE).unwrap() > endpoint_deleted);
    eprintln!("released {:?} after the endpoint was deleted", gone_at.elapsed());
}
