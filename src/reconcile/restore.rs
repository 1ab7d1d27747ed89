//! Surviving a restore from backup: Velero, `kubectl get -o yaml | kubectl apply` after a cluster
//! rebuild, or an etcd snapshot into a new cluster bring the object back with a new UID and usually
//! without its status. The service ID and the owning account are therefore also kept in annotations
//! (metadata is restored where status is not), so a restored object finds its service instead of
//! creating a second one, and a credentials change that points at another account is still noticed.
//!
//! A restored object takes its service over only when the ownership tag names a UID that no object in
//! this cluster has: a copy of a live object (same annotations, new name) is an `AdoptionConflict`.

use std::collections::BTreeMap;

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};

use super::Context;
use crate::{crd::VpcEndpointService, error::Result};

/// The service this object owns (written by the operator; restored with the object's metadata).
pub const SERVICE_ID_ANNOTATION: &str = "privatelink.alicloud.dev/service-id";
/// The Alibaba account that owns the service.
pub const ACCOUNT_ID_ANNOTATION: &str = "privatelink.alicloud.dev/account-id";

/// The service ID and account recorded in the annotations, if any.
pub fn recorded(obj: &VpcEndpointService) -> (Option<&str>, Option<&str>) {
    let a = obj.annotations();
    let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
    (get(SERVICE_ID_ANNOTATION), get(ACCOUNT_ID_ANNOTATION))
}

/// Who a service carrying an ownership tag belongs to, seen from the object that found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Untagged, or tagged with this object's UID.
    Mine,
    /// Tagged with a UID no object in the cluster has, found through this object's own service-ID
    /// annotation: a restore. The object takes the service over (the tag is rewritten by sync).
    Restored,
    /// Another object's service (or, through the adoption annotation, one that is not ours to take).
    Conflict,
    /// Cannot tell yet: the cache has not listed every object.
    Unknown,
}

/// Decide ownership. `via_restore`: the ID came from [`SERVICE_ID_ANNOTATION`] (not the user's adoption
/// annotation); `owner_alive`: whether a cached object has the tag's UID (`None`: cache not listed yet).
pub fn ownership(tag: Option<&str>, uid: &str, via_restore: bool, owner_alive: Option<bool>) -> Ownership {
    match tag {
        None => Ownership::Mine,
        Some(t) if t == uid => Ownership::Mine,
        Some(_) if !via_restore => Ownership::Conflict,
        Some(_) => match owner_alive {
            None => Ownership::Unknown,
            Some(true) => Ownership::Conflict,
            Some(false) => Ownership::Restored,
        },
    }
}

/// Whether any cached object has this UID (`None` while the cache is not listed).
pub fn uid_alive(ctx: &Context, uid: &str) -> Option<bool> {
    let store = ctx.cache()?;
    Some(store.find(|o| o.uid() == Some(uid)).is_some())
}

/// The annotation changes that record `service_id` and `account_id` (empty when already recorded).
pub fn annotation_patch(
    obj: &VpcEndpointService,
    service_id: &str,
    account_id: Option<&str>,
) -> BTreeMap<&'static str, String> {
    let (have_service, have_account) = recorded(obj);
    let mut out = BTreeMap::new();
    if have_service != Some(service_id) {
        out.insert(SERVICE_ID_ANNOTATION, service_id.to_string());
    }
    if let Some(a) = account_id
        && have_account != Some(a)
    {
        out.insert(ACCOUNT_ID_ANNOTATION, a.to_string());
    }
    out
}

/// Record the service ID and account in the object's annotations (a merge patch of those two keys
/// only; nothing when they are already there).
pub async fn record(
    obj: &VpcEndpointService,
    api: &Api<VpcEndpointService>,
    service_id: &str,
    account_id: Option<&str>,
) -> Result<()> {
    let changes = annotation_patch(obj, service_id, account_id);
    if changes.is_empty() {
        return Ok(());
    }
    let patch = serde_json::json!({ "metadata": { "annotations": changes } });
    api.patch_metadata(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service;

    #[test]
    fn ownership_table() {
        use Ownership::*;
        let cases = [
            ("untagged", None, false, Some(false), Mine),
            ("own tag", Some("me"), false, None, Mine),
            ("own tag via restore", Some("me"), true, Some(true), Mine),
            ("adopting another object's service", Some("old"), false, Some(false), Conflict),
            ("restore: the old UID is gone", Some("old"), true, Some(false), Restored),
            ("copy of a live object", Some("old"), true, Some(true), Conflict),
            ("cache not listed yet", Some("old"), true, None, Unknown),
        ];
        for (name, tag, via_restore, alive, want) in cases {
            assert_eq!(ownership(tag, "me", via_restore, alive), want, "{name}");
        }
    }

    #[test]
    fn annotations_written_once() {
        let mut obj = service("a", "u");
        assert_eq!(
            annotation_patch(&obj, "epsrv-1", Some("123")),
            BTreeMap::from([
                (SERVICE_ID_ANNOTATION, "epsrv-1".into()),
                (ACCOUNT_ID_ANNOTATION, "123".into())
            ])
        );
        obj.annotations_mut().insert(SERVICE_ID_ANNOTATION.into(), "epsrv-1".into());
        obj.annotations_mut().insert(ACCOUNT_ID_ANNOTATION.into(), "123".into());
        assert!(annotation_patch(&obj, "epsrv-1", Some("123")).is_empty());
        assert!(annotation_patch(&obj, "epsrv-1", None).is_empty());
        assert_eq!(
            annotation_patch(&obj, "epsrv-2", Some("123")),
            BTreeMap::from([(SERVICE_ID_ANNOTATION, "epsrv-2".into())])
        );
        assert_eq!(recorded(&obj), (Some("epsrv-1"), Some("123")));
    }
}
