//! Kubernetes-native wiring: backends taken from a `Service` of type LoadBalancer (the label the
//! Alibaba Cloud controller manager sets, written here by the test as the CCM would), and the service's
//! identity exported to a ConfigMap.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::harness::*;

const LB_LABEL: &str = "service.k8s.alibaba/loadbalancer-id";
const ZONE_MAPS: &str = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps";

/// A Service of type LoadBalancer as the CCM leaves it once its NLB exists (`lb`: the label's value).
fn lb_service(name: &str, lb: Option<&str>) -> Service {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "annotations": {ZONE_MAPS: "cn-hangzhou-h:vsw-h,cn-hangzhou-i:vsw-i"},
        },
        "spec": {
            "type": "LoadBalancer",
            "loadBalancerClass": "alibabacloud.com/nlb",
            "selector": {"app": name},
            "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}],
        }
    });
    if let Some(lb) = lb {
        v["metadata"]["labels"] = json!({ LB_LABEL: lb });
    }
    serde_json::from_value(v).unwrap()
}

async fn set_lb_label(api: &Api<Service>, name: &str, lb: &str) {
    let patch = json!({"metadata": {"labels": {LB_LABEL: lb}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// The sim's backends of a service as sorted `id@zone` strings.
async fn backends(sim: &Sim, sid: &str) -> Vec<String> {
    let svc = sim.service(sid).await.unwrap_or(Value::Null);
    let mut out: Vec<String> = svc["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{}@{}", r["resourceId"].as_str().unwrap_or(""), r["zoneId"].as_str().unwrap_or("")))
        .collect();
    out.sort();
    out
}

/// Sequence numbers of the accepted calls of `action`.
async fn accepted(sim: &Sim, action: &str) -> Vec<u64> {
    let calls = sim.calls(action).await;
    calls.iter().filter(|c| c["httpStatus"] == 200).filter_map(|c| c["seq"].as_u64()).collect()
}

async fn config_map(api: &Api<ConfigMap>, name: &str) -> Option<ConfigMap> {
    api.get_opt(name).await.unwrap()
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

#[tokio::test]
async fn backends_follow_the_load_balancer_service_attach_before_detach() {
    let ctx = Ctx::new("wiring-svc").await;
    let sim = ctx.start_sim(&[]).await;
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    // The Service exists, but the CCM has not made its load balancer yet.
    services.create(&PostParams::default(), &lb_service("web", None)).await.unwrap();
    let _op = ctx.start_operator(&sim);
    let mut obj = service("web-epsrv", "unused");
    obj["spec"]["resources"] = json!([{"serviceRef": {"name": "web"}}]);
    ctx.create(obj).await;

    let waiting = ctx
        .wait_condition("web-epsrv", "Ready", Duration::from_secs(30), |c| c["reason"] == "BackendNotReady")
        .await;
    let msg = condition(&waiting, "Ready").unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("Service web has no load balancer yet"), "{msg}");
    assert!(sim.calls("CreateVpcEndpointService").await.is_empty(), "no Create without its backends");

    // The CCM records the NLB: the service is created with it, in both zones of the zone map.
    set_lb_label(&services, "web", "nlb-sim-004").await;
    let ready = ctx.wait_ready("web-epsrv").await;
    let sid = status_str(&ready, "serviceId").unwrap();
    assert_eq!(backends(&sim, &sid).await, vec!["nlb-sim-004@cn-hangzhou-h", "nlb-sim-004@cn-hangzhou-i"]);
    assert_eq!(sim.calls("CreateVpcEndpointService").await.len(), 1);

    // A consumer connects; then the Service gets another load balancer (recreated by the CCM). The
    // new one is attached at once; the old one is detached only once no live connection uses its zones.
    let (b, ep) = ctx.connect_consumer(&sim, &sid).await;
    set_lb_label(&services, "web", "nlb-sim-005").await;
    let blocked = ctx
        .wait_condition("web-epsrv", "Ready", Duration::from_secs(60), |c| c["reason"] == "DetachBlocked")
        .await;
    let msg = condition(&blocked, "Ready").unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&ep) && msg.contains("nlb-sim-004"), "{msg}");
    let all = [
        "nlb-sim-004@cn-hangzhou-h",
        "nlb-sim-004@cn-hangzhou-i",
        "nlb-sim-005@cn-hangzhou-h",
        "nlb-sim-005@cn-hangzhou-i",
    ];
    assert_eq!(backends(&sim, &sid).await, all, "the new load balancer is attached while the old one stays");
    assert!(
        accepted(&sim, "DetachResourceFromVpcEndpointService").await.is_empty(),
        "nothing detached under a live consumer"
    );

    // The consumer leaves: the swap completes by itself.
    ctx.disconnect_consumer(&b, &ep).await;
    ctx.wait_until("the backends to move to nlb-sim-005", Duration::from_secs(90), || async {
        let now = backends(&sim, &sid).await;
        if now == ["nlb-sim-005@cn-hangzhou-h", "nlb-sim-005@cn-hangzhou-i"] {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    ctx.wait_condition("web-epsrv", "Ready", Duration::from_secs(30), |c| c["status"] == "True").await;
    // The only Attach calls are nlb-sim-005's and the only Detach calls nlb-sim-004's (the Create
    // carried nlb-sim-004); the journal has their order.
    let attaches = accepted(&sim, "AttachResourceToVpcEndpointService").await;
    let detaches = accepted(&sim, "DetachResourceFromVpcEndpointService").await;
    assert_eq!((attaches.len(), detaches.len()), (2, 2), "one call per zone each way");
    assert!(attaches.iter().max() < detaches.iter().min(), "attach {attaches:?} before detach {detaches:?}");

    // Another consumer connects; then the Service is deleted. Nothing is detached: BackendNotReady.
    let (b, ep) = ctx.connect_consumer(&sim, &sid).await;
    services.delete("web", &DeleteParams::default()).await.unwrap();
    let gone = ctx
        .wait_condition("web-epsrv", "Ready", Duration::from_secs(30), |c| c["reason"] == "BackendNotReady")
        .await;
    let msg = condition(&gone, "Ready").unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("Service web does not exist"), "{msg}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        accepted(&sim, "DetachResourceFromVpcEndpointService").await,
        detaches,
        "nothing more detached"
    );
    assert_eq!(backends(&sim, &sid).await, vec!["nlb-sim-005@cn-hangzhou-h", "nlb-sim-005@cn-hangzhou-i"]);

    // The Service comes back with its load balancer: Ready again, nothing changed in the cloud.
    services.create(&PostParams::default(), &lb_service("web", Some("nlb-sim-005"))).await.unwrap();
    ctx.wait_condition("web-epsrv", "Ready", Duration::from_secs(30), |c| c["status"] == "True").await;
    assert_eq!(accepted(&sim, "DetachResourceFromVpcEndpointService").await, detaches);
    ctx.disconnect_consumer(&b, &ep).await;
    ctx.delete("web-epsrv").await;
    ctx.wait_gone("web-epsrv", Duration::from_secs(90)).await;
    assert!(sim.services().await.is_empty(), "no service left behind");
}

#[tokio::test]
async fn export_to_a_config_map_creates_updates_and_removes_it() {
    let ctx = Ctx::new("wiring-export").await;
    let sim = ctx.start_sim(&[]).await;
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    // Someone else's ConfigMap under the name the second export will ask for.
    let foreign: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "taken"}, "data": {"owner": "team-x"}})).unwrap();
    cms.create(&PostParams::default(), &foreign).await.unwrap();
    let _op = ctx.start_operator(&sim);
    let mut obj = service("orders", "nlb-sim-003");
    obj["spec"]["exportTo"] = json!({"configMapName": "orders-privatelink"});
    ctx.create(obj).await;
    let ready = ctx.wait_ready("orders").await;
    let uid = ready.metadata.uid.clone().unwrap();

    let cm = config_map(&cms, "orders-privatelink").await.expect("the export exists once Ready");
    let d = data(&cm);
    assert_eq!(d.get("serviceId"), status_str(&ready, "serviceId").as_ref());
    assert_eq!(d.get("serviceName"), status_str(&ready, "serviceName").as_ref());
    assert_eq!(d.get("serviceDomain"), status_str(&ready, "serviceDomain").as_ref());
    assert_eq!(d.get("regionId").map(String::as_str), Some("cn-hangzhou"));
    let owner = &cm.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("VpcEndpointService", uid.as_str(), Some(true))
    );

    // A reconcile-now with nothing changed writes nothing (same resourceVersion) ...
    let rv = cm.metadata.resource_version.clone();
    let now = |v: &str| json!({"metadata": {"annotations": {"privatelink.alicloud.dev/reconcile-requested-at": v}}});
    ctx.api().patch("orders", &PatchParams::default(), &Patch::Merge(&now("1"))).await.unwrap();
    ctx.wait_until("reconcile-now 1 handled", Duration::from_secs(30), || async {
        let o = ctx.get("orders").await.unwrap();
        (status_str(&o, "lastHandledReconcileAt").as_deref() == Some("1"))
            .then_some(())
            .ok_or("pending".to_string())
    })
    .await;
    assert_eq!(config_map(&cms, "orders-privatelink").await.unwrap().metadata.resource_version, rv);
    // ... and a value edited by hand is put back.
    let tamper = json!({"data": {"serviceId": "epsrv-tampered"}});
    cms.patch("orders-privatelink", &PatchParams::default(), &Patch::Merge(&tamper)).await.unwrap();
    ctx.api().patch("orders", &PatchParams::default(), &Patch::Merge(&now("2"))).await.unwrap();
    ctx.wait_until("the edited value to be restored", Duration::from_secs(30), || async {
        let cm = config_map(&cms, "orders-privatelink").await.unwrap();
        let v = data(&cm).get("serviceId").cloned().unwrap_or_default();
        (Some(&v) == d.get("serviceId")).then_some(()).ok_or(v)
    })
    .await;

    // Renamed onto a ConfigMap the object does not own: ExportConflict, nothing overwritten, and the
    // old export is removed.
    let edit = json!({"spec": {"exportTo": {"configMapName": "taken"}}});
    ctx.api().patch("orders", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    let c = ctx
        .wait_condition("orders", "Ready", Duration::from_secs(30), |c| c["reason"] == "ExportConflict")
        .await;
    assert!(condition(&c, "Ready").unwrap()["message"].as_str().unwrap().contains("taken"));
    let taken = config_map(&cms, "taken").await.unwrap();
    assert_eq!(data(&taken), BTreeMap::from([("owner".to_string(), "team-x".to_string())]));
    assert!(taken.metadata.owner_references.is_none());
    assert!(config_map(&cms, "orders-privatelink").await.is_none(), "the old export is removed");

    // Renamed to a free name: exported there, Ready again.
    let edit = json!({"spec": {"exportTo": {"configMapName": "orders-v2"}}});
    ctx.api().patch("orders", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    ctx.wait_condition("orders", "Ready", Duration::from_secs(30), |c| c["status"] == "True").await;
    assert_eq!(data(&config_map(&cms, "orders-v2").await.unwrap()).get("serviceId"), d.get("serviceId"));

    // Deleted: the service goes, then the export (this test apiserver has no garbage collector; the
    // owner reference covers real clusters), and the foreign ConfigMap stays.
    ctx.delete("orders").await;
    ctx.wait_gone("orders", Duration::from_secs(60)).await;
    assert!(config_map(&cms, "orders-v2").await.is_none());
    assert!(config_map(&cms, "taken").await.is_some());
    assert!(sim.services().await.is_empty());
}
