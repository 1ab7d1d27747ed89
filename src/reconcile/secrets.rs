//! Credentials Secrets outlive the objects that use them.
//!
//! When a namespace is deleted, Kubernetes deletes everything in it at once: without protection the
//! credentials Secret can go before the operator has deleted the cloud service, and the object's
//! finalizer is stranded (or the service leaks). So a Secret named by `spec.credentialsSecretRef` gets
//! the finalizer [`SECRET_FINALIZER`] while any object uses it (like Kubernetes' own PVC protection); the
//! finalizer goes when the last object that names it is released or points elsewhere. Each object
//! records the Secret it protects in `status.protectedSecret`, so an edit of `credentialsSecretRef`
//! releases the old one; only named Secrets are read (`get`, `patch`), never listed.
//!
//! Both patches are JSON patches guarded by the Secret's `resourceVersion`, so a protection added
//! concurrently by another reconcile is never removed by accident.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    core::ObjectMeta,
};
use serde_json::json;
use tracing::info;

use super::Context;
use crate::{
    crd::{VpcEndpoint, VpcEndpointService},
    error::{Error, Result},
};

/// An object that may name a credentials Secret (every kind the operator serves).
pub trait UsesSecret: Send + Sync {
    /// Its metadata.
    fn meta(&self) -> &ObjectMeta;
    /// Its UID.
    fn uid(&self) -> Option<&str> {
        self.meta().uid.as_deref()
    }
    /// The Secret its spec names.
    fn secret_ref(&self) -> Option<&str>;
    /// The Secret its status records as protected.
    fn protected_secret(&self) -> Option<&str>;
}

impl UsesSecret for VpcEndpointService {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn secret_ref(&self) -> Option<&str> {
        self.spec.credentials_secret_ref.as_ref().map(|r| r.name.as_str())
    }
    fn protected_secret(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.protected_secret.as_deref())
    }
}

impl UsesSecret for crate::cache::Cached {
    fn meta(&self) -> &ObjectMeta {
        kube::Resource::meta(self)
    }
    fn uid(&self) -> Option<&str> {
        self.uid()
    }
    fn secret_ref(&self) -> Option<&str> {
        self.secret_ref()
    }
    fn protected_secret(&self) -> Option<&str> {
        self.protected_secret()
    }
}

impl UsesSecret for VpcEndpoint {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn secret_ref(&self) -> Option<&str> {
        self.spec.credentials_secret_ref.as_ref().map(|r| r.name.as_str())
    }
    fn protected_secret(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.protected_secret.as_deref())
    }
}

/// The finalizer on Secrets in use.
pub const SECRET_FINALIZER: &str = "privatelink.alicloud.dev/credentials-in-use";

/// Whether a Secret needs the finalizer added (in use, not yet protected, and not already being
/// deleted: the API server refuses new finalizers on a terminating object).
pub fn needs_protection(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_none() && !meta.finalizers.iter().flatten().any(|f| f == SECRET_FINALIZER)
}

/// The Secrets (names) in `namespace` that objects still use, not counting `leaving` (the object whose
/// finalizer is about to go).
pub fn in_use<'a, K: UsesSecret + ?Sized + 'a>(
    objects: impl IntoIterator<Item = &'a K>,
    namespace: &str,
    leaving: Option<&dyn UsesSecret>,
) -> BTreeSet<String> {
    let leaving_uid = leaving.and_then(|o| o.uid());
    objects
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .filter(|o| leaving_uid.is_none() || o.uid() != leaving_uid)
        // An object whose finalizer is gone no longer needs anything.
        .filter(|o| {
            o.meta().deletion_timestamp.is_none() || o.meta().finalizers.iter().flatten().next().is_some()
        })
        .filter_map(|o| o.secret_ref().map(str::to_string))
        .collect()
}

/// The finalizer list after removing ours, if ours is there.
pub fn without_ours(meta: &ObjectMeta) -> Option<Vec<String>> {
    let f = meta.finalizers.as_ref()?;
    f.iter()
        .any(|x| x == SECRET_FINALIZER)
        .then(|| f.iter().filter(|x| *x != SECRET_FINALIZER).cloned().collect())
}

/// Set the finalizers, only if the Secret has not changed since it was read.
fn guarded(meta: &ObjectMeta, finalizers: Vec<String>) -> Result<json_patch::Patch> {
    let ops = json!([
        { "op": "test", "path": "/metadata/resourceVersion", "value": meta.resource_version },
        { "op": "add", "path": "/metadata/finalizers", "value": finalizers },
    ]);
    serde_json::from_value(ops).map_err(|e| Error::Credentials(format!("cannot build the Secret patch: {e}")))
}

/// Protect the Secret an object uses (no-op when already protected or terminating).
pub async fn protect(ctx: &Context, namespace: &str, secret: &Secret) -> Result<()> {
    if !needs_protection(&secret.metadata) {
        return Ok(());
    }
    let mut finalizers = secret.metadata.finalizers.clone().unwrap_or_default();
    finalizers.push(SECRET_FINALIZER.into());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = guarded(&secret.metadata, finalizers)?;
    api.patch_metadata(&secret.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch)).await?;
    info!(secret = secret.name_any(), namespace, "protecting credentials Secret while it is in use");
    Ok(())
}

/// Remove the finalizer from Secret `name` in `namespace` if no object uses it any more (`leaving`: the
/// object being released now). Reads the cache; waits (an error) until it has listed every object.
pub async fn release_if_unused(
    ctx: &Context,
    namespace: &str,
    name: &str,
    leaving: Option<&dyn UsesSecret>,
) -> Result<()> {
    let Some(users) = ctx.secret_users() else {
        return Err(Error::Requeue {
            reason: "waiting for the cache before releasing the credentials Secret".into(),
            after: Some(std::time::Duration::from_secs(1)),
        });
    };
    if in_use(users.iter().map(|u| u.as_ref()), namespace, leaving).contains(name) {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(secret) = api.get_metadata_opt(name).await? else { return Ok(()) };
    let Some(rest) = without_ours(&secret.metadata) else { return Ok(()) };
    api.patch_metadata(name, &PatchParams::default(), &Patch::<()>::Json(guarded(&secret.metadata, rest)?))
        .await?;
    info!(secret = name, namespace, "credentials Secret no longer in use; finalizer removed");
    Ok(())
}

/// The Secrets an object protects: the one its spec names and the one its status recorded (they differ
/// after an edit of `credentialsSecretRef`).
/// What the sweep after an object left does about one Secret it protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Nobody else uses it: remove the finalizer.
    Release,
    /// Only objects that are being deleted still use it: look again (the last of them to leave
    /// releases it; the cache may also still show one that already left).
    Wait,
    /// A live object uses it: it stays protected.
    Keep,
}

/// The sweep decision for `secret` in `namespace` once `left` has left, from the cache's objects.
pub fn sweep_step<'a, K: UsesSecret + ?Sized + 'a>(
    objects: impl IntoIterator<Item = &'a K> + Clone,
    namespace: &str,
    secret: &str,
    left: &dyn UsesSecret,
) -> Sweep {
    if !in_use(objects.clone(), namespace, Some(left)).contains(secret) {
        return Sweep::Release;
    }
    let live = objects.into_iter().filter(|o| o.meta().deletion_timestamp.is_none());
    if in_use(live, namespace, Some(left)).contains(secret) { Sweep::Keep } else { Sweep::Wait }
}

/// How long a sweep keeps looking while only deleting objects use the Secret.
const SWEEP_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// After an object left the cluster: release the Secrets it protected once no other object uses them.
/// Objects deleted together (a namespace deletion) each see the others still holding the Secret when
/// their own cleanup runs; the sweep of the last one to leave finds nobody and releases it.
pub async fn sweep<K: UsesSecret + Send + Sync + 'static>(ctx: std::sync::Arc<Context>, left: K) {
    let Some(ns) = left.meta().namespace.clone() else { return };
    let names = protected_by(&left);
    if names.is_empty() {
        return;
    }
    let deadline = tokio::time::Instant::now() + SWEEP_FOR;
    let mut pending: Vec<String> = names.into_iter().collect();
    while !pending.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let Some(users) = ctx.secret_users() else { continue };
        let mut still = vec![];
        for name in pending {
            match sweep_step(users.iter().map(|u| u.as_ref()), &ns, &name, &left) {
                Sweep::Release => {
                    if let Err(e) = release_if_unused(&ctx, &ns, &name, Some(&left)).await {
                        tracing::warn!(secret = name, namespace = ns, error = %e, "could not release the credentials Secret");
                        still.push(name);
                    }
                }
                Sweep::Wait => still.push(name),
                Sweep::Keep => {}
            }
        }
        pending = still;
    }
}

pub fn protected_by(obj: &dyn UsesSecret) -> BTreeSet<String> {
    obj.secret_ref().into_iter().chain(obj.protected_secret()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{crd::SecretRef, fixtures::service};

    fn using(name: &str, uid: &str, secret: Option<&str>) -> VpcEndpointService {
        let mut o = service(name, uid);
        o.spec.credentials_secret_ref = secret.map(|s| SecretRef { name: s.into() });
        o
    }

    #[test]
    fn secrets_in_use() {
        let a = using("a", "ua", Some("creds"));
        let b = using("b", "ub", Some("creds"));
        let c = using("c", "uc", Some("other"));
        let d = using("d", "ud", None);
        let mut other_ns = using("e", "ue", Some("elsewhere"));
        other_ns.metadata.namespace = Some("other".into());
        let mut released = using("f", "uf", Some("stale"));
        released.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
        released.metadata.finalizers = None;
        let all = [a.clone(), b.clone(), c.clone(), d, other_ns, released];
        let ns = a.namespace().unwrap();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(in_use(&all, &ns, None), set(&["creds", "other"]));
        let (a, c): (&dyn UsesSecret, &dyn UsesSecret) = (&a, &c);
        assert_eq!(in_use(&all, &ns, Some(a)), set(&["creds", "other"]), "b still uses creds");
        assert_eq!(in_use(&all[..1], &ns, Some(a)), set(&[]), "the last user leaves");
        assert_eq!(in_use(&all, &ns, Some(c)), set(&["creds"]));
    }

    #[test]
    fn an_endpoint_using_the_secret_keeps_it_protected() {
        let left = using("a", "ua", Some("creds"));
        let mut ep = crate::crd::VpcEndpoint::new(
            "e",
            serde_json::from_value(serde_json::json!({
                "regionId": "cn-hangzhou", "serviceId": "epsrv-a", "vpcId": "vpc-1",
                "securityGroupIds": ["sg-1"], "credentialsSecretRef": {"name": "creds"},
            }))
            .unwrap(),
        );
        ep.metadata.namespace = left.metadata.namespace.clone();
        ep.metadata.uid = Some("ue".into());
        let users: Vec<&dyn UsesSecret> = vec![&left, &ep];
        let ns = left.namespace().unwrap();
        assert_eq!(sweep_step(users.iter().copied(), &ns, "creds", &left), Sweep::Keep);
        assert_eq!(sweep_step(users[..1].iter().copied(), &ns, "creds", &left), Sweep::Release);
    }

    #[test]
    fn sweep_table() {
        let deleting = |mut o: VpcEndpointService| {
            o.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
            o.metadata.finalizers = Some(vec!["f".into()]);
            o
        };
        let left = deleting(using("a", "ua", Some("creds")));
        let b_live = using("b", "ub", Some("creds"));
        let b_deleting = deleting(using("b", "ub", Some("creds")));
        let other = using("c", "uc", Some("other"));
        let cases: Vec<(Vec<VpcEndpointService>, Sweep)> = vec![
            (vec![left.clone()], Sweep::Release),
            (vec![left.clone(), other.clone()], Sweep::Release),
            (vec![left.clone(), b_live], Sweep::Keep),
            // Deleted together: wait for the other to leave (its own sweep may be the one to release).
            (vec![left.clone(), b_deleting], Sweep::Wait),
            (vec![], Sweep::Release),
        ];
        for (objects, want) in cases {
            let names: Vec<_> = objects.iter().map(|o| o.metadata.name.clone()).collect();
            assert_eq!(sweep_step(objects.iter(), "default", "creds", &left), want, "{names:?}");
        }
    }

    #[test]
    fn finalizer_edits() {
        let mut m = ObjectMeta::default();
        assert!(needs_protection(&m));
        assert_eq!(without_ours(&m), None);
        m.finalizers = Some(vec!["x".into(), SECRET_FINALIZER.into()]);
        assert!(!needs_protection(&m));
        assert_eq!(without_ours(&m), Some(vec!["x".into()]));
        let mut terminating = ObjectMeta {
            deletion_timestamp: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::now(),
            )),
            ..Default::default()
        };
        assert!(!needs_protection(&terminating), "no new finalizers on a terminating Secret");
        terminating.finalizers = Some(vec!["x".into()]);
        assert_eq!(without_ours(&terminating), None, "someone else's finalizer is left alone");
    }
}
