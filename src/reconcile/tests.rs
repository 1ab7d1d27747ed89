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

/// Run a reconcile to its end, answering every Kubernetes API call with `reply`; returns what it sent.
async fn drive(
    obj: VpcEndpointService,
    ctx: Arc<super::Context>,
    api: &mut crate::fixtures::ApiServer,
) -> (crate::Result<kube::runtime::controller::Action>, Vec<crate::fixtures::Seen>) {
    let reply = serde_json::to_value(&obj).unwrap();
    // Holding a context keeps the mock's client alive after the reconcile ends.
    let _keep = ctx.clone();
    let mut task = tokio::spawn(reconcile(Arc::new(obj), ctx));
    let mut seen = vec![];
    loop {
        tokio::select! {
            biased;
            r = &mut task => return (r.unwrap(), seen),
            s = api.next(reply.clone()) => seen.push(s),
        }
    }
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
    assert_eq!(calls(&ctx, "CreateVpcEndpointService"), 0, "no cloud call before the finalizer is in place");
}

#[tokio::test]
async fn create_persists_its_token_first_and_records_the_service_id_at_once() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let obj = finalized(service("web", UID));
    let (result, seen) = drive(obj, ctx.clone(), &mut api).await;
    result.expect("reconcile succeeds");

    // The Event is published off the reconcile path: it may come before or after the status patch.
    let event = seen.iter().find(|s| s.uri.contains("/events")).expect("a Created event");
    assert_eq!(event.method, "POST");
    assert!(event.uri.contains("/apis/events.k8s.io/v1/namespaces/default/events"), "{}", event.uri);
    assert_eq!(event.body["reason"], "Created");

    let patches: Vec<&crate::fixtures::Seen> = seen.iter().filter(|s| s.uri.contains("/status?")).collect();
    assert_eq!(patches.len(), 1, "the token, before the Create; no status write after it: {seen:#?}");
    let p = patches[0];
    assert_eq!(p.method, "PATCH");
    assert!(p.uri.contains("/vpcendpointservices/web/status?"), "{}", p.uri);
    assert!(p.uri.contains("fieldManager=privatelink-operator") && p.uri.contains("force=true"), "{}", p.uri);
    let before = &p.body["status"];
    let token = before["createClientToken"].as_str().expect("token persisted before the Create");
    assert!(token.starts_with(&format!("k8s-{UID}-")), "{token}");
    assert!(before.get("serviceId").is_none(), "no ID before the Create: {before}");
    let ready: Vec<&Value> =
        before["conditions"].as_array().unwrap().iter().filter(|c| c["type"] == "Ready").collect();
    assert_eq!(ready[0]["status"], "False");
    assert_eq!(ready[0]["reason"], "Creating");
    assert_eq!(before["observedGeneration"], 1);

    // The ID is kept in the object right after the Create, in the restore annotations (one write).
    let recorded: Vec<&crate::fixtures::Seen> =
        seen.iter().filter(|s| s.method == "PATCH" && s.uri.contains("/vpcendpointservices/web?")).collect();
    assert_eq!(recorded.len(), 1, "one annotation patch: {seen:#?}");
    let annotations = &recorded[0].body["metadata"]["annotations"];
    let sid = annotations[super::restore::SERVICE_ID_ANNOTATION].as_str().expect("service ID recorded");
    assert!(annotations[super::restore::ACCOUNT_ID_ANNOTATION].as_str().is_some_and(|a| !a.is_empty()));
    let sid = sid.to_string();

    let services = sim_services(&url).await;
    let list = services["services"].as_array().unwrap();
    assert_eq!(list.len(), 1, "exactly one service");
    assert_eq!(list[0]["serviceId"], sid.as_str());
    let owner = list[0]["tags"].as_array().unwrap().iter().any(|t| t["value"] == UID);
    assert!(owner, "ownership tag carries the UID");
}

/// Cloud calls of `action` this context made so far.
fn calls(ctx: &super::Context, action: &str) -> u64 {
    let label = crate::metrics::CloudLabels { action: action.into(), code: "OK".into() };
    ctx.metrics.cloud_requests.get_or_create(&label).get()
}

/// The object as the watch brings it back after the Create pass: the token in the status, the ID only
/// in the restore annotations.
fn after_create(seen: &[crate::fixtures::Seen]) -> VpcEndpointService {
    let mut obj = finalized(service("web", UID));
    let status =
        seen.iter().find(|s| s.uri.contains("/status?")).expect("token write").body["status"].clone();
    obj.status = Some(serde_json::from_value(status).unwrap());
    let patch = seen.iter().find(|s| s.method == "PATCH" && s.uri.contains("/vpcendpointservices/web?"));
    let annotations = patch.expect("annotation write").body["metadata"]["annotations"].clone();
    obj.metadata.annotations = Some(serde_json::from_value(annotations).unwrap());
    obj
}

#[tokio::test]
async fn the_pass_after_the_create_reads_the_service_it_remembers_and_a_restart_finds_it_by_its_tag() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(finalized(service("web", UID)), ctx.clone(), &mut api).await;
    result.expect("Create pass");
    let obj = after_create(&seen);
    let sid = super::restore::recorded(&obj).0.expect("ID annotation").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Same process: the ID it remembers is trusted like the status's (a Get, no ownership lookup).
    let (result, seen) = drive(obj.clone(), ctx.clone(), &mut api).await;
    result.expect("first poll");
    assert!(calls(&ctx, "GetVpcEndpointServiceAttribute") >= 1, "read by its ID");
    assert_eq!(calls(&ctx, "ListTagResources"), 0, "no ownership check for the service it created");
    assert_eq!(calls(&ctx, "ListVpcEndpointServices"), 0, "no lookup by ownership tag");
    let last = seen.iter().rev().find(|s| s.uri.contains("/status?")).expect("the first read writes status");
    assert_eq!(last.body["status"]["serviceId"], sid.as_str(), "the status gets the ID with the first read");

    // A restarted operator (nothing remembered, the ClientToken in the status): the service is the one
    // carrying its ownership tag, whatever the annotation says (here: another service's ID).
    let mut obj = obj;
    kube::ResourceExt::annotations_mut(&mut obj)
        .insert(super::restore::SERVICE_ID_ANNOTATION.into(), "epsrv-not-this-one".into());
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(obj, ctx.clone(), &mut api).await;
    result.expect("pass after a restart");
    assert_eq!(calls(&ctx, "ListVpcEndpointServices"), 1, "looked up by its ownership tag");
    assert_eq!(calls(&ctx, "GetVpcEndpointServiceAttribute"), 0, "the annotation's ID is not read");
    assert_eq!(calls(&ctx, "CreateVpcEndpointService"), 0, "never a second Create");
    let last = seen.iter().rev().find(|s| s.uri.contains("/status?")).expect("status written");
    assert_eq!(last.body["status"]["serviceId"], sid.as_str());
    assert_eq!(sim_services(&url).await["services"].as_array().unwrap().len(), 1, "exactly one service");
}

#[tokio::test]
async fn a_second_reconcile_after_lost_status_writes_finds_the_same_service() {
    let (_sim, url) = start_sim().await;
    for _ in 0..2 {
        // Each round starts from an object whose status writes were all lost (crash after Create).
        let (ctx, mut api) = context(&url);
        let (result, _) = drive(finalized(service("web", UID)), ctx, &mut api).await;
        result.expect("reconcile succeeds");
    }
    assert_eq!(
        sim_services(&url).await["services"].as_array().unwrap().len(),
        1,
        "still exactly one service"
    );
}

#[tokio::test]
async fn a_spec_edit_after_a_lost_create_answer_reuses_the_token_and_never_creates_a_second() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(finalized(service("web", UID)), ctx, &mut api).await;
    result.expect("first Create");
    let token =
        seen.iter().find_map(|s| s.body["status"]["createClientToken"].as_str().map(String::from)).unwrap();
    // The Create's answer was lost: the status has the token but no service ID. Then the spec changes.
    let mut edited = finalized(service("web", UID));
    edited.spec.service_description = Some("edited after a lost answer".into());
    edited.status = Some(crate::crd::VpcEndpointServiceStatus {
        create_client_token: Some(token.clone()),
        ..Default::default()
    });
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(edited, ctx, &mut api).await;
    result.expect("reconcile succeeds");
    let services = sim_services(&url).await;
    assert_eq!(services["services"].as_array().unwrap().len(), 1, "still exactly one service");
    let last = seen.iter().rev().find(|s| s.uri.contains("/status?")).unwrap();
    assert_eq!(last.body["status"]["createClientToken"], token.as_str(), "the token is never replaced");
    assert_eq!(
        last.body["status"]["serviceId"], services["services"][0]["serviceId"],
        "found by its ownership tag"
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

#[tokio::test]
async fn adopting_another_resources_service_is_refused_and_changes_nothing() {
    let (_sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let (result, _) = drive(finalized(service("web", UID)), ctx, &mut api).await;
    result.expect("the first object creates its service");
    let services = sim_services(&url).await;
    let sid = services["services"][0]["serviceId"].as_str().unwrap().to_string();

    let other_uid = "9a9a9a9a-2222-4333-8444-955566667777";
    let mut intruder = finalized(service("other", other_uid));
    intruder.metadata.annotations =
        Some([(super::observe::ADOPT_ANNOTATION.to_string(), sid.clone())].into_iter().collect());
    intruder.spec.service_description = Some("taken over".into());
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(intruder, ctx, &mut api).await;
    assert!(result.is_ok(), "a settled conflict, not a hot error: {result:?}");
    let status = &seen.iter().rev().find(|s| s.uri.contains("/status?")).unwrap().body["status"];
    let cond =
        |t: &str| status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == t).cloned().unwrap();
    assert_eq!(cond("Ready")["reason"], "AdoptionConflict");
    assert_eq!(cond("Stalled")["status"], "True");
    assert!(status.get("serviceId").is_none(), "not adopted: {status}");
    let after = sim_services(&url).await;
    let s = &after["services"][0];
    assert_eq!(s["serviceDescription"], services["services"][0]["serviceDescription"], "not changed");
    assert!(s["tags"].as_array().unwrap().iter().any(|t| t["value"] == UID), "still the first object's");
    assert_eq!(after["services"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_transient_error_on_a_ready_service_keeps_it_ready() {
    let (sim, url) = start_sim().await;
    let (ctx, mut api) = context(&url);
    let mut obj = finalized(service("web", UID));
    // Bring it to Ready: create, then poll until Active.
    for _ in 0..40 {
        let (result, seen) = drive(obj.clone(), ctx.clone(), &mut api).await;
        let _ = result;
        if let Some(p) = seen.iter().rev().find(|s| s.uri.contains("/status?")) {
            obj.status = Some(serde_json::from_value(p.body["status"].clone()).unwrap());
        }
        if super::status::is_ready_for_generation(&obj) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(super::status::is_ready_for_generation(&obj), "reached Ready");
    // A restarted operator spreads its first look at a Ready object over the resync period: no cloud
    // call, no status write now.
    let gets = || async {
        let j: serde_json::Value =
            reqwest::get(format!("{url}/_sim/journal")).await.unwrap().json().await.unwrap();
        j["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == "GetVpcEndpointServiceAttribute")
            .count()
    };
    let before = gets().await;
    let (fresh, mut fresh_api) = context(&url);
    let (result, seen) = drive(obj.clone(), fresh, &mut fresh_api).await;
    let wait = result.expect("a Ready object after a restart waits its turn");
    assert!(wait != kube::runtime::controller::Action::await_change(), "{wait:?}");
    assert_eq!(gets().await, before, "no read at start-up");
    assert!(seen.iter().all(|s| !s.uri.contains("/status?")), "no status write at start-up");
    // Now Alibaba throttles a read (reconcile-now asks for one at once).
    let fault = serde_json::json!({"action": "GetVpcEndpointServiceAttribute", "kind": "throttle"});
    reqwest::Client::new().post(format!("{url}/_sim/faults")).json(&fault).send().await.unwrap();
    obj.metadata.annotations = Some(
        [(super::control::RECONCILE_REQUEST_ANNOTATION.to_string(), "now".to_string())].into_iter().collect(),
    );
    let (ctx, mut api) = context(&url);
    let (result, seen) = drive(obj, ctx, &mut api).await;
    assert!(result.is_err(), "the error reaches error_policy for backoff");
    let status = &seen.iter().rev().find(|s| s.uri.contains("/status?")).unwrap().body["status"];
    let cond =
        |t: &str| status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == t).cloned().unwrap();
    assert_eq!(cond("Ready")["status"], "True", "no flap: {status}");
    assert_eq!(
        (cond("Synced")["status"].clone(), cond("Synced")["reason"].clone()),
        (serde_json::json!("False"), serde_json::json!("ThrottlingUser"))
    );
    drop(sim);
}

/// What the operator has learnt of Creating times is visible to users: the first poll per region and
/// kind is a gauge, read at each scrape.
#[tokio::test]
async fn the_learnt_first_poll_is_exported_at_each_scrape() {
    let (ctx, _api) = context("http://127.0.0.1:9");
    let metric = r#"privatelink_operator_first_poll_seconds{region="cn-hangzhou",kind="nlb"}"#;
    ctx.refresh_queue_metrics(&ctx.metrics);
    assert!(!ctx.metrics.render().contains(metric), "nothing learnt, nothing exported");
    let read = super::pacing::Read {
        first: true,
        active: true,
        after: std::time::Duration::from_secs_f64(5.5),
        planned: None,
        creating_before: None,
    };
    ctx.creating.lock().observe("cn-hangzhou", "nlb", read, std::time::Instant::now());
    let learnt = ctx.creating.lock().learnt("cn-hangzhou", "nlb").expect("learnt from an Active read");
    ctx.refresh_queue_metrics(&ctx.metrics);
    let text = ctx.metrics.render();
    let line = text.lines().find(|l| l.starts_with(metric)).unwrap_or_else(|| panic!("{text}"));
    let value: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
    assert!((value - learnt.as_secs_f64()).abs() < 1e-9, "{line} vs {learnt:?}");
}
