//! Reconcile scenarios: a mock Kubernetes API (tower-test) asserts every call the reconciler makes,
//! and an in-process `privatelink-sim` plays Alibaba Cloud.

use std::sync::Arc;

use serde_json::{Value, json};

use super::reconcile;
use crate::{
    crd::{DeletionPolicy, FINALIZER, VpcEndpointService},
    fixtures::{context, service, start_sim},
};

const UID: &str = "0f8e4a3c-1111-4222-8333-944455556666";

async fn sim_services(url: &str) -> Value {
    reqwest::get(format!("{url}/_sim/services")).await.unwrap().json().await.unwrap()
}

fn finalized(mut obj: VpcEndpointService) -> VpcEndpointService {
    obj.metadata.finalizers = Some(vec![FINALIZER.into()]);
    obj
}

#[tokio::test]
async fn first_reconcile_only_adds_the_finalizer() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let obj = service("web", UID);
    let reply = serde_json::to_value(finalized(obj.clone())).unwrap();
    let task = tokio::spawn(reconcile(Arc::new(obj), ctx.clone()));
    let seen = api.next(reply).await;
    assert_eq!(seen.method, "PATCH");
    assert!(
        seen.uri.starts_with(
            "/apis/privatelink.alicloud.dev/v1alpha1/namespaces/default/vpcendpointservices/web?"
        )
    );
    assert_eq!(seen.body[1]["path"], "/metadata/finalizers");
    assert_eq!(seen.body[1]["value"], json!([FINALIZER]));
    task.await.unwrap().expect("reconcile succeeds");
    assert_eq!(
        ctx.metrics
            .cloud_requests
            .get_or_create(&crate::metrics::CloudLabels {
                action: "CreateVpcEndpointService".into(),
                code: "OK".into()
            })
            .get(),
        0,
        "no cloud call before the finalizer is in place"
    );
}

#[tokio::test]
async fn create_records_the_service_id_in_status_at_once() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let obj = finalized(service("web", UID));
    let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));

    // The Event is published off the reconcile path: it may come before or after the status patch.
    let (mut event, mut patch) = (None, None);
    for _ in 0..2 {
        let seen = api.next(serde_json::to_value(&obj).unwrap()).await;
        if seen.uri.contains("/events") { event = Some(seen) } else { patch = Some(seen) }
    }
    let event = event.expect("a Created event");
    assert_eq!(event.method, "POST");
    assert!(event.uri.contains("/apis/events.k8s.io/v1/namespaces/default/events"), "{}", event.uri);
    assert_eq!(event.body["reason"], "Created");

    let patch = patch.expect("a status patch");
    assert_eq!(patch.method, "PATCH");
    assert!(patch.uri.contains("/vpcendpointservices/web/status?"), "{}", patch.uri);
    assert!(
        patch.uri.contains("fieldManager=privatelink-operator") && patch.uri.contains("force=true"),
        "{}",
        patch.uri
    );
    let status = &patch.body["status"];
    let sid = status["serviceId"].as_str().expect("serviceId written").to_string();
    let ready: Vec<&Value> =
        status["conditions"].as_array().unwrap().iter().filter(|c| c["type"] == "Ready").collect();
    assert_eq!(ready[0]["status"], "False");
    assert_eq!(ready[0]["reason"], "Creating");
    assert_eq!(status["observedGeneration"], 1);

    task.await.unwrap().expect("reconcile succeeds");
    let services = sim_services(&url).await;
    let list = services["services"].as_array().unwrap();
    assert_eq!(list.len(), 1, "exactly one service");
    assert_eq!(list[0]["serviceId"], sid.as_str());
    let owner = list[0]["tags"].as_array().unwrap().iter().any(|t| t["value"] == UID);
    assert!(owner, "ownership tag carries the UID");
}

#[tokio::test]
async fn a_second_reconcile_after_a_lost_status_write_adopts_instead_of_creating() {
    let (_sim, url) = start_sim().await;
    for _ in 0..2 {
        // Each round starts from an object whose status never got the serviceId (crash after Create).
        let (ctx, mut api) = context(&url);
        let obj = finalized(service("web", UID));
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));
        loop {
            let seen = api.next(serde_json::to_value(&obj).unwrap()).await;
            if seen.uri.contains("/status?") {
                break;
            }
        }
        task.await.unwrap().expect("reconcile succeeds");
    }
    assert_eq!(
        sim_services(&url).await["services"].as_array().unwrap().len(),
        1,
        "still exactly one service"
    );
}

#[tokio::test]
async fn orphan_policy_releases_without_a_cloud_call() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let mut obj = finalized(service("web", UID));
    obj.spec.deletion_policy = Some(DeletionPolicy::Orphan);
    obj.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
    let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));
    let (mut event, mut patch) = (None, None);
    for _ in 0..2 {
        let seen = api.next(serde_json::to_value(&obj).unwrap()).await;
        if seen.uri.contains("/events") { event = Some(seen) } else { patch = Some(seen) }
    }
    assert_eq!(event.expect("an Orphaned event").body["reason"], "Orphaned");
    let patch = patch.expect("the finalizer removal");
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.body[1]["op"], "remove");
    assert_eq!(patch.body[1]["path"], "/metadata/finalizers/0");
    task.await.unwrap().expect("reconcile succeeds");
}

#[tokio::test]
async fn a_retried_attach_or_detach_whose_first_answer_was_lost_counts_as_done() {
    use crate::alicloud::{
        Credentials,
        ops::{
            AttachResource, CreateVpcEndpointService, DetachResource, GetVpcEndpointServiceAttribute,
            ResourceParam,
        },
    };
    let (_sim, url) = start_sim().await;
    let (ctx, _api) = context(&url);
    let creds = Credentials::new("sim-ak-default", "sim-secret-default", None);
    let nlb = |id: &str, zone: &str| ResourceParam {
        resource_type: "nlb".into(),
        resource_id: id.into(),
        zone_id: Some(zone.into()),
    };
    let create = CreateVpcEndpointService {
        region_id: "cn-hangzhou".into(),
        service_resource_type: Some("nlb".into()),
        resources: vec![nlb("nlb-sim-001", "cn-hangzhou-h")],
        ..Default::default()
    };
    let sid = ctx.cloud.call(&creds, &create).await.unwrap().service_id;
    let get = GetVpcEndpointServiceAttribute { region_id: "cn-hangzhou".into(), service_id: sid.clone() };
    let active = || async {
        for _ in 0..100 {
            if ctx.cloud.call(&creds, &get).await.unwrap().service_status.as_deref() == Some("Active") {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("service never Active");
    };
    active().await;
    let attach = AttachResource {
        region_id: "cn-hangzhou".into(),
        service_id: sid.clone(),
        resource: nlb("nlb-sim-002", "cn-hangzhou-i"),
    };
    ctx.cloud.call(&creds, &attach).await.unwrap();
    active().await;
    // The simulator answers EndpointServiceResourceExist; the client reports the attach as done.
    ctx.cloud.call(&creds, &attach).await.expect("second attach is already in place");
    let detach =
        DetachResource { region_id: "cn-hangzhou".into(), service_id: sid, resource: attach.resource };
    ctx.cloud.call(&creds, &detach).await.unwrap();
    active().await;
    ctx.cloud.call(&creds, &detach).await.expect("second detach is already in place");
}
