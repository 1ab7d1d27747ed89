//! Who may connect (spec.allowedPrincipals), declarative approval (spec.connectionApproval), the
//! connections in status, and disconnectOnDelete; with account B creating real endpoints through the
//! simulator's consumer side, every effect checked in the simulator.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use privatelink_operator::alicloud::ops::{AddUser, Principal};
use serde_json::{Value, json};

use crate::harness::*;

const B: &str = "2234567890123456";
/// An account the spec does not list (the simulator's third account).
const OUTSIDER: u64 = 3234567890123456;

fn gated_service(name: &str) -> Value {
    let mut svc = service(name, "nlb-sim-001");
    svc["spec"]["autoAcceptEnabled"] = json!(false);
    svc["spec"]["allowedPrincipals"] = json!([B]);
    svc["spec"]["connectionApproval"] = json!({"acceptFrom": [B]});
    svc
}

/// The operator with a 2 s connection poll (the default is 30 s).
fn operator(ctx: &Ctx, sim: &Sim) -> Operator {
    Operator::start_env(
        &ctx.log_dir,
        "operator",
        ctx.env.operator_identity(),
        &ctx.ns,
        &sim.url,
        &[("PRIVATELINK_CONNECTION_POLL_SECONDS", "2")],
        &[],
    )
}

async fn patch(ctx: &Ctx, name: &str, p: Value) {
    ctx.api().patch(name, &PatchParams::default(), &Patch::Merge(p)).await.unwrap();
}

/// The row of `endpoint` in `status.connections`, once it has `status`.
async fn wait_connection(ctx: &Ctx, name: &str, endpoint: &str, status: &str) -> Value {
    let what = format!("status.connections to show {endpoint} {status}");
    ctx.wait_until(&what, Duration::from_secs(60), || async {
        let obj = ctx.get(name).await.ok_or("gone")?;
        let rows = obj.data.pointer("/status/connections").cloned().unwrap_or(Value::Null);
        let row = rows.as_array().into_iter().flatten().find(|r| r["endpointId"] == endpoint);
        match row {
            Some(r) if r["status"] == status => Ok(obj.data["status"].clone()),
            _ => Err(format!("{rows}")),
        }
    })
    .await
}

async fn event_reasons(ctx: &Ctx) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    let list = events.list(&ListParams::default()).await.unwrap().items;
    list.into_iter().filter_map(|e| e.reason).collect()
}

fn users(svc: &Value) -> Vec<u64> {
    svc["users"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect()
}

#[tokio::test]
async fn allowed_principals_and_approval_lists_drive_who_is_connected() {
    let ctx = Ctx::new("connections").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    ctx.create(gated_service("gated")).await;
    let obj = ctx.wait_ready("gated").await;
    let id = status_str(&obj, "serviceId").unwrap();
    assert_eq!(users(&sim.service(&id).await.unwrap()), vec![B.parse::<u64>().unwrap()], "B allowed");
    assert_eq!(sim.calls("AddUserToVpcEndpointService").await.len(), 1);

    // B's endpoint goes Pending (no auto-accept); the operator accepts it because B is in acceptFrom.
    let (b, ep) = consumer_endpoint(&sim, &id).await;
    let st = wait_connection(&ctx, "gated", &ep, "Connected").await;
    ctx.wait_endpoint(&b, &ep, "Connected").await;
    assert_eq!(st["connections"][0]["endpointOwnerId"], B, "{st}");
    assert_eq!(st["connectionCounts"]["Connected"], 1, "{st}");
    // An Enable while B's endpoint is still Creating is refused (EndpointOperationDenied, retryable)
    // and retried; one is accepted.
    let enabled = sim.calls("EnableVpcEndpointConnection").await;
    let accepted = enabled.iter().filter(|c| c["code"] == "OK").count();
    assert_eq!(accepted, 1, "accepted once: {enabled:#?}");
    assert!(
        enabled.iter().all(|c| c["code"] == "OK" || c["code"] == "EndpointOperationDenied"),
        "{enabled:#?}"
    );
    let reasons = event_reasons(&ctx).await;
    assert!(reasons.iter().any(|r| r == "ConnectionAccepted"), "{reasons:?}");

    // A principal added outside Kubernetes is removed on the next full sync.
    let owner = Consumer::new(&sim, "sim-ak-default", "sim-secret-default");
    let outside = AddUser {
        region_id: "cn-hangzhou".into(),
        service_id: id.clone(),
        principal: Principal::Account(OUTSIDER),
    };
    owner.call(&outside).await;
    patch(&ctx, "gated", json!({"metadata": {"annotations": {RECONCILE_NOW: "1"}}})).await;
    ctx.wait_until("the outsider to be removed", Duration::from_secs(30), || async {
        let u = users(&sim.service(&id).await.unwrap());
        if u == vec![B.parse::<u64>().unwrap()] { Ok(()) } else { Err(format!("{u:?}")) }
    })
    .await;

    // Moving B to rejectFrom cuts it off on purpose.
    patch(&ctx, "gated", json!({"spec": {"connectionApproval": {"acceptFrom": [], "rejectFrom": [B]}}}))
        .await;
    wait_connection(&ctx, "gated", &ep, "Disconnected").await;
    ctx.wait_endpoint(&b, &ep, "Disconnected").await;
    let disabled = sim.calls("DisableVpcEndpointConnection").await;
    assert_eq!(disabled.iter().filter(|c| c["code"] == "OK").count(), 1, "{disabled:#?}");
    ctx.wait_ready("gated").await;

    // Removing B from allowedPrincipals calls RemoveUser.
    patch(&ctx, "gated", json!({"spec": {"allowedPrincipals": []}})).await;
    ctx.wait_until("B to be removed from the whitelist", Duration::from_secs(30), || async {
        let u = users(&sim.service(&id).await.unwrap());
        if u.is_empty() { Ok(()) } else { Err(format!("{u:?}")) }
    })
    .await;
    let removed = sim.calls("RemoveUserFromVpcEndpointService").await;
    assert!(
        removed.iter().all(|c| c["code"] == "OK") && removed.len() == 2,
        "outsider, then B: {removed:#?}"
    );

    // B's connection is Disconnected: nothing holds the service, deletion goes through.
    ctx.disconnect_consumer(&b, &ep).await;
    ctx.delete("gated").await;
    ctx.wait_gone("gated", Duration::from_secs(60)).await;
    assert!(sim.services().await.is_empty());
}

#[tokio::test]
async fn without_lists_the_operator_leaves_users_and_connections_alone() {
    let ctx = Ctx::new("conn-alone").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    let mut svc = service("plain", "nlb-sim-001");
    svc["spec"]["autoAcceptEnabled"] = json!(false);
    ctx.create(svc).await;
    let id = status_str(&ctx.wait_ready("plain").await, "serviceId").unwrap();
    let owner = Consumer::new(&sim, "sim-ak-default", "sim-secret-default");
    let allow = AddUser {
        region_id: "cn-hangzhou".into(),
        service_id: id.clone(),
        principal: Principal::Account(B.parse().unwrap()),
    };
    owner.call(&allow).await;
    let (_b, ep) = consumer_endpoint(&sim, &id).await;
    // Without lists and with nothing unsettled there is no connection poll: the new connection shows
    // at the next full pass (a resync; here reconcile-now), then it is polled (it is Pending) and left
    // as it is.
    patch(&ctx, "plain", json!({"metadata": {"annotations": {RECONCILE_NOW: "1"}}})).await;
    let st = wait_connection(&ctx, "plain", &ep, "Pending").await;
    assert_eq!(st["connectionCounts"]["Pending"], 1, "{st}");
    let lists_before = sim.calls("ListVpcEndpointConnections").await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let polls = sim.calls("ListVpcEndpointConnections").await.len() - lists_before;
    assert!((1..=4).contains(&polls), "a Pending connection is polled every 2 s: {polls} lists in 5 s");
    for action in [
        "EnableVpcEndpointConnection",
        "DisableVpcEndpointConnection",
        "RemoveUserFromVpcEndpointService",
        "ListVpcEndpointServiceUsers",
    ] {
        assert!(sim.calls(action).await.is_empty(), "{action} without allowedPrincipals or lists");
    }
    assert_eq!(users(&sim.service(&id).await.unwrap()), vec![B.parse::<u64>().unwrap()]);
    let reasons = event_reasons(&ctx).await;
    assert!(reasons.iter().any(|r| r == "ConnectionPending"), "{reasons:?}");
}

#[tokio::test]
async fn disconnect_on_delete_tears_down_a_service_with_live_connections() {
    let ctx = Ctx::new("conn-teardown").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    let mut svc = service("cut", "nlb-sim-001");
    svc["spec"]["disconnectOnDelete"] = json!(true);
    ctx.create(svc).await;
    let id = status_str(&ctx.wait_ready("cut").await, "serviceId").unwrap();
    let (b, ep) = ctx.connect_consumer(&sim, &id).await;
    ctx.delete("cut").await;
    ctx.wait_gone("cut", Duration::from_secs(90)).await;
    assert!(sim.services().await.is_empty(), "0 services left");
    drop((b, ep));
    // Order in the journal: the connection was disabled before anything was detached or deleted.
    let j = sim.journal().await;
    let seq = |action: &str| {
        j["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == action && c["code"] == "OK")
            .filter_map(|c| c["seq"].as_u64())
            .min()
    };
    let (disable, detach, delete) =
        (seq("DisableVpcEndpointConnection"), seq("DetachResourceFromVpcEndpointService"), seq(DELETE));
    assert!(disable.is_some() && disable < detach && detach < delete, "{disable:?} {detach:?} {delete:?}");
    let refused: Vec<&Value> = j["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "EndpointServiceConnectionDependence")
        .collect();
    assert!(refused.is_empty(), "nothing was refused for a live connection: {refused:#?}");
}
