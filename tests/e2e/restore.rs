//! Restores and namespace deletion: a restored object (same manifest, new UID, no status) finds its
//! service through the annotations the operator recorded; deleting a namespace that holds resources
//! and their credentials Secret deletes the cloud services and leaves nothing stuck; the Secret's
//! protecting finalizer goes with its last user.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::harness::*;

const SERVICE_ID_ANNOTATION: &str = "privatelink.alicloud.dev/service-id";
const ACCOUNT_ID_ANNOTATION: &str = "privatelink.alicloud.dev/account-id";
const SECRET_FINALIZER: &str = "privatelink.alicloud.dev/credentials-in-use";

fn annotation(obj: &DynamicObject, key: &str) -> Option<String> {
    obj.metadata.annotations.as_ref()?.get(key).cloned()
}

/// The manifest a backup tool keeps: metadata (labels, annotations) and spec, no status or UID.
fn as_backed_up(obj: &DynamicObject) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": KIND,
        "metadata": {
            "name": obj.metadata.name,
            "labels": obj.metadata.labels,
            "annotations": obj.metadata.annotations,
        },
        "spec": obj.data["spec"],
    })
}

#[tokio::test]
async fn a_restored_object_finds_its_service_instead_of_creating_a_second() {
    let ctx = Ctx::new("restore").await;
    let sim = ctx.start_sim(&[]).await;
    let mut op = ctx.start_operator(&sim);
    ctx.create(service("web", "nlb-sim-001")).await;
    ctx.wait_ready("web").await;
    let obj = ctx
        .wait_until("the service ID to be recorded in annotations", READY_TIMEOUT, || async {
            let o = ctx.get("web").await.ok_or("object missing")?;
            match (annotation(&o, SERVICE_ID_ANNOTATION), annotation(&o, ACCOUNT_ID_ANNOTATION)) {
                (Some(_), Some(_)) => Ok(o),
                _ => Err(format!("annotations {:?}", o.metadata.annotations)),
            }
        })
        .await;
    let id = status_str(&obj, "serviceId").unwrap();
    assert_eq!(annotation(&obj, SERVICE_ID_ANNOTATION).as_deref(), Some(id.as_str()));
    assert_eq!(annotation(&obj, ACCOUNT_ID_ANNOTATION).as_deref(), status_str(&obj, "accountId").as_deref());
    let old_uid = obj.metadata.uid.clone().unwrap();
    let backup = as_backed_up(&obj);

    // The cluster is lost: the object goes without the operator's cleanup (the operator is down, the
    // finalizer is removed by hand), the cloud service stays.
    op.proc.kill9();
    ctx.api()
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .unwrap();
    ctx.delete("web").await;
    ctx.wait_gone("web", Duration::from_secs(15)).await;

    // Restored from the backup: new UID, no status.
    let restored = ctx.create(backup).await;
    assert_ne!(restored.metadata.uid.as_deref(), Some(old_uid.as_str()));
    let _op = ctx.start_operator_as(&sim, ctx.env.operator_identity(), "operator-2");
    let obj = ctx.wait_ready("web").await;
    assert_eq!(
        status_str(&obj, "serviceId").as_deref(),
        Some(id.as_str()),
        "the restored object found its service"
    );
    let live: Vec<Value> =
        sim.services().await.into_iter().filter(|s| s["serviceStatus"] != "Deleted").collect();
    assert_eq!(live.len(), 1, "no second service: {live:#?}");
    assert_eq!(sim.calls(CREATE).await.len(), 1, "one Create for the life of the resource");
    // The service now carries the new owner's UID, so it is not mistaken for someone else's.
    ctx.wait_until("the ownership tag to name the restored object", READY_TIMEOUT, || async {
        let s = sim.service(&id).await.ok_or("service missing")?;
        let tags = s["tags"].to_string();
        if tags.contains(restored.metadata.uid.as_deref().unwrap()) {
            Ok(())
        } else {
            Err(format!("tags {tags}"))
        }
    })
    .await;

    // And the restored object owns it fully: deleting it deletes the service.
    ctx.delete("web").await;
    ctx.wait_gone("web", Duration::from_secs(60)).await;
    let left = sim.service(&id).await;
    assert!(left.as_ref().is_none_or(|s| s["serviceStatus"] == "Deleted"), "service left behind: {left:#?}");
}

async fn secret_finalizers(client: &kube::Client, ns: &str, name: &str) -> Option<Vec<String>> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets.get_opt(name).await.unwrap().map(|s| s.metadata.finalizers.unwrap_or_default())
}

#[tokio::test]
async fn the_credentials_secret_is_protected_while_resources_use_it() {
    let ctx = Ctx::new("secret-guard").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    ctx.create_secret("creds", "sim-ak-other", "sim-secret-other").await;
    for name in ["a", "b"] {
        let mut s = service(name, "nlb-sim-001");
        s["spec"]["credentialsSecretRef"] = json!({"name": "creds"});
        ctx.create(s).await;
    }
    ctx.wait_ready("a").await;
    ctx.wait_ready("b").await;
    let fin = secret_finalizers(&ctx.client, &ctx.ns, "creds").await.unwrap();
    assert!(fin.iter().any(|f| f == SECRET_FINALIZER), "Secret protected while in use: {fin:?}");

    ctx.delete("a").await;
    ctx.wait_gone("a", Duration::from_secs(60)).await;
    let fin = secret_finalizers(&ctx.client, &ctx.ns, "creds").await.unwrap();
    assert!(fin.iter().any(|f| f == SECRET_FINALIZER), "b still uses the Secret: {fin:?}");

    ctx.delete("b").await;
    ctx.wait_gone("b", Duration::from_secs(60)).await;
    ctx.wait_until("the Secret's finalizer to go with its last user", Duration::from_secs(30), || async {
        match secret_finalizers(&ctx.client, &ctx.ns, "creds").await {
            Some(f) if f.iter().any(|f| f == SECRET_FINALIZER) => Err(format!("finalizers {f:?}")),
            Some(_) => Ok(()),
            None => Err("the Secret itself was deleted".into()),
        }
    })
    .await;
    assert!(sim.services().await.iter().all(|s| s["serviceStatus"] == "Deleted"), "services deleted");
}

#[tokio::test]
async fn deleting_a_namespace_with_its_credentials_secret_deletes_the_services() {
    let ctx = Ctx::new("ns-delete").await;
    let sim = ctx.start_sim(&[]).await;
    // Deleting takes a few seconds in the cloud: the Secret must outlive that wait.
    sim.config(json!({"deleteSeconds": 3})).await;
    let _op = ctx.start_operator(&sim);
    ctx.create_secret("creds", "sim-ak-other", "sim-secret-other").await;
    for name in ["one", "two"] {
        let mut s = service(name, "nlb-sim-001");
        s["spec"]["credentialsSecretRef"] = json!({"name": "creds"});
        ctx.create(s).await;
    }
    ctx.wait_ready("one").await;
    ctx.wait_ready("two").await;
    assert_eq!(sim.services().await.len(), 2);

    let nss: Api<Namespace> = Api::all(ctx.client.clone());
    nss.delete(&ctx.ns, &DeleteParams::default()).await.unwrap();
    ctx.wait_until("the namespace to empty itself", Duration::from_secs(90), || async {
        let left = empty_namespace(&ctx.client, &ctx.ar, &ctx.ns).await.map_err(|e| e.to_string())?;
        if left.is_empty() { Ok(()) } else { Err(left.join("; ")) }
    })
    .await;
    finalize_namespace(&ctx.client, &ctx.ns).await.unwrap();
    ctx.wait_until("the namespace to be gone", Duration::from_secs(30), || async {
        match nss.get_opt(&ctx.ns).await {
            Ok(None) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let services = sim.services().await;
    assert!(
        services.iter().all(|s| s["serviceStatus"] == "Deleted"),
        "every cloud service deleted with its namespace: {services:#?}"
    );
    assert!(!sim.calls(DELETE).await.is_empty(), "the services were deleted by the operator");
}
