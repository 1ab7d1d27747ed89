//! The consumer kind `VpcEndpoint`, with the provider kind in the same cluster and two accounts:
//! account A owns the service (the operator's default credentials), account B the endpoint (a
//! credentials Secret). Every effect is checked in the simulator.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use privatelink_operator::alicloud::ops::{AttachSecurityGroup, RemoveZoneFromVpcEndpoint};
use serde_json::{Value, json};

use crate::harness::*;

const B: &str = "2234567890123456";
const CREATE_EP: &str = "CreateVpcEndpoint";

/// Account A's service: B allowed and accepted by the operator (no auto-accept).
fn gated_service(name: &str) -> Value {
    let mut svc = service(name, "nlb-sim-001");
    svc["spec"]["autoAcceptEnabled"] = json!(false);
    svc["spec"]["allowedPrincipals"] = json!([B]);
    svc["spec"]["connectionApproval"] = json!({"acceptFrom": [B]});
    svc
}

/// Account B's endpoint to the `VpcEndpointService` named `service`, in zone h of B's VPC.
fn endpoint(name: &str, service: &str) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "VpcEndpoint",
        "metadata": {"name": name},
        "spec": {
            "regionId": "cn-hangzhou",
            "serviceRef": {"name": service},
            "vpcId": "vpc-sim-b",
            "securityGroupIds": ["sg-sim-b-1"],
            "zones": [{"zoneId": "cn-hangzhou-h", "vSwitchId": "vsw-sim-b-h"}],
            "endpointDescription": format!("e2e {name}"),
            "credentialsSecretRef": {"name": "consumer"},
            "exportTo": {"configMapName": format!("{name}-out")},
        }
    })
}

fn endpoints_api(ctx: &Ctx) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, VERSION, "VpcEndpoint");
    Api::namespaced_with(
        ctx.client.clone(),
        &ctx.ns,
        &ApiResource::from_gvk_with_plural(&gvk, "vpcendpoints"),
    )
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

async fn sim_endpoints(sim: &Sim) -> Vec<Value> {
    let url = format!("{}/_sim/endpoints", sim.url);
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["endpoints"].as_array().cloned().unwrap_or_default()
}

/// Waits until the endpoint object's Ready condition satisfies `pred`; returns the object.
async fn wait_endpoint_ready(ctx: &Ctx, name: &str, pred: impl Fn(&Value) -> bool) -> DynamicObject {
    let api = endpoints_api(ctx);
    ctx.wait_until(&format!("VpcEndpoint {name}: Ready as expected"), Duration::from_secs(90), || async {
        let obj = api.get_opt(name).await.map_err(|e| e.to_string())?.ok_or("no such object")?;
        match condition(&obj, "Ready") {
            Some(c) if pred(&c) => Ok(obj),
            _ => Err(format!("status = {}", obj.data.get("status").unwrap_or(&Value::Null))),
        }
    })
    .await
}

async fn wait_endpoint_gone(ctx: &Ctx, name: &str) {
    let api = endpoints_api(ctx);
    ctx.wait_until(&format!("VpcEndpoint {name} to be deleted"), Duration::from_secs(90), || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(o) => Err(format!("still there: {}", o.data.get("status").unwrap_or(&Value::Null))),
        }
    })
    .await
}

async fn setup(ctx: &Ctx) {
    ctx.create_secret("consumer", "sim-ak-other", "sim-secret-other").await;
    ctx.create(gated_service("provider")).await;
    let obj: DynamicObject = serde_json::from_value(endpoint("consumer-ep", "provider")).unwrap();
    endpoints_api(ctx).create(&PostParams::default(), &obj).await.unwrap();
}

#[tokio::test]
async fn both_sides_go_ready_together_and_leave_nothing_behind() {
    let ctx = Ctx::new("endpoints").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    setup(&ctx).await;

    // No manual step: the endpoint waits for the service, is created with B's credentials, the
    // service's acceptFrom accepts it, and it is Ready once Connected.
    let svc = ctx.wait_ready("provider").await;
    let ep = wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    let sid = status_str(&svc, "serviceId").unwrap();
    let eid = status_str(&ep, "endpointId").unwrap();
    assert_eq!(status_str(&ep, "serviceId").as_deref(), Some(sid.as_str()));
    assert_eq!(status_str(&ep, "connectionStatus").as_deref(), Some("Connected"));
    assert_eq!(status_str(&ep, "accountId").as_deref(), Some(B), "the endpoint is B's");
    let zone = &ep.data["status"]["zones"][0];
    assert_eq!(zone["zoneId"], "cn-hangzhou-h", "{zone}");
    assert!(zone["ip"].as_str().is_some_and(|ip| ip.starts_with("10.")), "{zone}");
    let listed = sim_endpoints(&sim).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["accountId"], B);
    let creates = sim.calls(CREATE_EP).await;
    assert_eq!(creates.iter().filter(|c| c["code"] == "OK").count(), 1, "{creates:#?}");
    assert!(creates.iter().all(|c| c["clientToken"].as_str().is_some_and(|t| t.starts_with("k8s-"))));

    // Applications read the endpoint from the exported ConfigMap.
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    let cm = cms.get("consumer-ep-out").await.unwrap();
    let data = cm.data.unwrap_or_default();
    assert_eq!(data.get("endpointId"), Some(&eid));
    assert_eq!(data.get("endpointDomain"), status_str(&ep, "endpointDomain").as_ref());
    assert!(data.contains_key("zoneDomain.cn-hangzhou-h"), "{data:?}");

    // Security groups follow the spec: the new one is attached before the old one is detached.
    let api = endpoints_api(&ctx);
    let p = json!({"spec": {"securityGroupIds": ["sg-sim-b-2"]}});
    api.patch("consumer-ep", &PatchParams::default(), &Patch::Merge(&p)).await.unwrap();
    ctx.wait_until("the endpoint's security groups to follow the spec", Duration::from_secs(60), || async {
        let e = sim_endpoints(&sim).await;
        let groups = e.first().map(|e| e["securityGroups"].clone()).unwrap_or(Value::Null);
        if groups == json!(["sg-sim-b-2"]) { Ok(()) } else { Err(format!("{groups}")) }
    })
    .await;
    let journal = sim.journal().await;
    let order: Vec<&str> = journal["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"] == "OK")
        .filter_map(|c| c["action"].as_str())
        .filter(|a| a.contains("SecurityGroup") && !a.starts_with("List"))
        .collect();
    assert_eq!(order, ["AttachSecurityGroupToVpcEndpoint", "DetachSecurityGroupFromVpcEndpoint"]);
    wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;

    let ready = wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    let ready_since = condition(&ready, "Ready").unwrap()["lastTransitionTime"].clone();

    // Drift made outside Kubernetes (account B in the console): a zone removed and a security group
    // attached. The next full pass (reconcile-now here, the resync otherwise) puts the zone back and
    // detaches the group, and the endpoint stays Ready throughout.
    let b = Consumer::new(&sim, "sim-ak-other", "sim-secret-other");
    let region = "cn-hangzhou".to_string();
    b.call(&RemoveZoneFromVpcEndpoint {
        region_id: region.clone(),
        endpoint_id: eid.clone(),
        zone_id: "cn-hangzhou-h".into(),
    })
    .await;
    ctx.wait_until("B's zone removal to settle", Duration::from_secs(30), || async {
        let e = sim_endpoints(&sim).await;
        let zones = e.first().map(|e| e["zones"].clone()).unwrap_or(Value::Null);
        if zones == json!([]) { Ok(()) } else { Err(format!("{zones}")) }
    })
    .await;
    ctx.wait_until("B's security group attach to be accepted", Duration::from_secs(30), || async {
        let attach = AttachSecurityGroup {
            region_id: region.clone(),
            endpoint_id: eid.clone(),
            security_group_id: "sg-sim-b-1".into(),
        };
        b.try_call(&attach).await.map(|_| ()).map_err(|e| e.to_string())
    })
    .await;
    let p = json!({"metadata": {"annotations": {RECONCILE_NOW: "drift"}}});
    api.patch("consumer-ep", &PatchParams::default(), &Patch::Merge(&p)).await.unwrap();
    ctx.wait_until("the drift to be corrected", Duration::from_secs(60), || async {
        let e = sim_endpoints(&sim).await;
        let (zones, groups) =
            e.first().map(|e| (e["zones"].clone(), e["securityGroups"].clone())).unwrap_or_default();
        if zones == json!(["cn-hangzhou-h"]) && groups == json!(["sg-sim-b-2"]) {
            Ok(())
        } else {
            Err(format!("zones {zones} groups {groups}"))
        }
    })
    .await;
    let ep = wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    let ready = condition(&ep, "Ready").unwrap();
    assert_eq!(
        ready["lastTransitionTime"], ready_since,
        "Ready never dropped while drift was corrected: {ready}"
    );
    let added: Vec<Value> =
        sim.calls("AddZoneToVpcEndpoint").await.into_iter().filter(|c| c["code"] == "OK").collect();
    assert_eq!(added.len(), 1, "the zone is added back once: {added:#?}");

    // Endpoint first, then the service: nothing is left in either account.
    api.delete("consumer-ep", &DeleteParams::default()).await.unwrap();
    wait_endpoint_gone(&ctx, "consumer-ep").await;
    assert!(sim_endpoints(&sim).await.is_empty(), "the endpoint is deleted");
    assert!(cms.get_opt("consumer-ep-out").await.unwrap().is_none(), "the export goes with it");
    ctx.delete("provider").await;
    ctx.wait_gone("provider", Duration::from_secs(60)).await;
    assert!(sim.services().await.is_empty(), "the service is deleted");
}

#[tokio::test]
async fn deleting_the_service_first_waits_for_the_endpoint() {
    let ctx = Ctx::new("endpoints-order").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    setup(&ctx).await;
    ctx.wait_ready("provider").await;
    wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;

    // The service is deleted first: it waits for the consumer (traffic is never cut) ...
    ctx.delete("provider").await;
    let blocked = ctx
        .wait_condition("provider", "Ready", Duration::from_secs(60), |c| c["reason"] == "DeletionBlocked")
        .await;
    assert_eq!(sim.services().await.len(), 1, "{:?}", blocked.data["status"]);
    let ep = wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    assert_eq!(status_str(&ep, "connectionStatus").as_deref(), Some("Connected"));

    // ... until the endpoint is deleted; then both are gone and nothing is left.
    endpoints_api(&ctx).delete("consumer-ep", &DeleteParams::default()).await.unwrap();
    wait_endpoint_gone(&ctx, "consumer-ep").await;
    ctx.wait_gone("provider", Duration::from_secs(90)).await;
    assert!(sim_endpoints(&sim).await.is_empty());
    assert!(sim.services().await.is_empty());
}

#[tokio::test]
async fn a_lost_create_answer_yields_one_endpoint_and_an_unknown_service_is_reported() {
    let ctx = Ctx::new("endpoints-once").await;
    let sim = ctx.start_sim(&[]).await;
    sim.fault(json!({"action": CREATE_EP, "kind": "lose_response", "count": 1})).await;
    let _op = operator(&ctx, &sim);
    setup(&ctx).await;
    wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    let listed = sim_endpoints(&sim).await;
    assert_eq!(listed.len(), 1, "exactly one endpoint: {listed:#?}");
    let creates = sim.calls(CREATE_EP).await;
    let tokens: std::collections::BTreeSet<&str> =
        creates.iter().filter_map(|c| c["clientToken"].as_str()).collect();
    assert_eq!(tokens.len(), 1, "every Create sends the persisted token: {creates:#?}");

    // An endpoint to a service ID that does not exist: Ready=False reason ServiceNotFound with
    // Alibaba's code and RequestId, and no hot loop.
    let mut bad = endpoint("to-nowhere", "unused");
    bad["spec"].as_object_mut().unwrap().remove("serviceRef");
    bad["spec"]["serviceId"] = json!("epsrv-doesnotexist");
    bad["spec"].as_object_mut().unwrap().remove("exportTo");
    let obj: DynamicObject = serde_json::from_value(bad).unwrap();
    endpoints_api(&ctx).create(&PostParams::default(), &obj).await.unwrap();
    let failed = wait_endpoint_ready(&ctx, "to-nowhere", |c| c["reason"] == "ServiceNotFound").await;
    let msg = condition(&failed, "Ready").unwrap()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("EndpointServiceNotFound") && msg.contains("RequestId"), "{msg}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tries =
        sim.calls(CREATE_EP).await.into_iter().filter(|c| c["code"] == "EndpointServiceNotFound").count();
    assert_eq!(tries, 1, "a refused Create is not retried in a loop");
}

#[tokio::test]
async fn disconnect_on_delete_lets_the_service_go_first_and_the_endpoint_reports_it() {
    let ctx = Ctx::new("endpoints-cut").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = operator(&ctx, &sim);
    setup(&ctx).await;
    ctx.wait_ready("provider").await;
    wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;

    // The owner cuts the consumer on purpose: disconnectOnDelete, then delete the service.
    let p = json!({"spec": {"disconnectOnDelete": true}});
    ctx.api().patch("provider", &PatchParams::default(), &Patch::Merge(&p)).await.unwrap();
    ctx.delete("provider").await;
    ctx.wait_gone("provider", Duration::from_secs(90)).await;
    assert!(sim.services().await.is_empty(), "the service is deleted");
    let ep = wait_endpoint_ready(&ctx, "consumer-ep", |c| {
        c["status"] == "False" && (c["reason"] == "Rejected" || c["reason"] == "ServiceGone")
    })
    .await;
    assert_eq!(condition(&ep, "Stalled").unwrap()["status"], "True", "{:?}", ep.data["status"]);

    // The consumer's endpoint is still deleted cleanly afterwards: nothing is left.
    endpoints_api(&ctx).delete("consumer-ep", &DeleteParams::default()).await.unwrap();
    wait_endpoint_gone(&ctx, "consumer-ep").await;
    assert!(sim_endpoints(&sim).await.is_empty());
}

#[tokio::test]
async fn a_restored_endpoint_object_finds_its_endpoint_instead_of_creating_a_second() {
    let ctx = Ctx::new("endpoints-restore").await;
    let sim = ctx.start_sim(&[]).await;
    let mut op = operator(&ctx, &sim);
    setup(&ctx).await;
    let api = endpoints_api(&ctx);
    wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    let obj = ctx
        .wait_until("the endpoint ID to be recorded in annotations", Duration::from_secs(30), || async {
            let o = api.get("consumer-ep").await.map_err(|e| e.to_string())?;
            let a = o.metadata.annotations.clone().unwrap_or_default();
            match (
                a.get("privatelink.alicloud.dev/endpoint-id"),
                a.get("privatelink.alicloud.dev/account-id"),
            ) {
                (Some(_), Some(account)) if account == B => Ok(o),
                _ => Err(format!("annotations {a:?}")),
            }
        })
        .await;
    let eid = status_str(&obj, "endpointId").unwrap();
    let old_uid = obj.metadata.uid.clone().unwrap();
    // What a backup keeps: metadata and spec, no status, no UID.
    let backup = json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "VpcEndpoint",
        "metadata": {"name": "consumer-ep", "annotations": obj.metadata.annotations},
        "spec": obj.data["spec"],
    });

    // The cluster is lost: the object goes without the operator's cleanup; the endpoint stays.
    op.proc.kill9();
    let p = json!({"metadata": {"finalizers": null}});
    api.patch("consumer-ep", &PatchParams::default(), &Patch::Merge(&p)).await.unwrap();
    api.delete("consumer-ep", &DeleteParams::default()).await.unwrap();
    wait_endpoint_gone(&ctx, "consumer-ep").await;
    assert_eq!(sim_endpoints(&sim).await.len(), 1);
    // The garbage collector removes the export with its owner (the testenv runs no
    // kube-controller-manager, so the test does it).
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    cms.delete("consumer-ep-out", &DeleteParams::default()).await.unwrap();

    // Restored from the backup (new UID, no status): it follows the annotation to its endpoint and
    // takes it over; no second Create.
    let restored: DynamicObject = serde_json::from_value(backup).unwrap();
    let restored = api.create(&PostParams::default(), &restored).await.unwrap();
    assert_ne!(restored.metadata.uid.as_deref(), Some(old_uid.as_str()));
    let _op = Operator::start_env(
        &ctx.log_dir,
        "operator-2",
        ctx.env.operator_identity(),
        &ctx.ns,
        &sim.url,
        &[("PRIVATELINK_CONNECTION_POLL_SECONDS", "2")],
        &[],
    );
    let obj = wait_endpoint_ready(&ctx, "consumer-ep", |c| c["status"] == "True").await;
    assert_eq!(status_str(&obj, "endpointId").as_deref(), Some(eid.as_str()), "found its endpoint");
    assert_eq!(sim_endpoints(&sim).await.len(), 1, "no second endpoint");
    let creates = sim.calls(CREATE_EP).await;
    assert_eq!(creates.iter().filter(|c| c["code"] == "OK").count(), 1, "{creates:#?}");
    let retag: Vec<Value> =
        sim.calls("TagResources").await.into_iter().filter(|c| c["code"] == "OK").collect();
    assert_eq!(retag.len(), 1, "the ownership tag names the restored object now: {retag:#?}");

    // And it still cleans up: nothing is left.
    api.delete("consumer-ep", &DeleteParams::default()).await.unwrap();
    wait_endpoint_gone(&ctx, "consumer-ep").await;
    ctx.delete("provider").await;
    ctx.wait_gone("provider", Duration::from_secs(90)).await;
    assert!(sim_endpoints(&sim).await.is_empty());
    assert!(sim.services().await.is_empty());
}
