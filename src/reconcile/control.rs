//! Operating controls set by users on an object (pure): pause, observe-only, reconcile-now.
//!
//! - `privatelink.alicloud.dev/paused: "true"`: no cloud call at all for the object (deletion waits
//!   too); `Synced=False` reason `Paused`. Removing the annotation resumes.
//! - `spec.managementPolicy: Observe`: the service is found and reported, never written; deletion
//!   never deletes it.
//! - `privatelink.alicloud.dev/reconcile-requested-at: <any new value>`: an immediate full reconcile,
//!   drift checks included (the Flux `requestedAt` pattern); the handled value is recorded in
//!   `status.lastHandledReconcileAt`.

use kube::ResourceExt;

use crate::crd::{DeletionPolicy, ManagementPolicy, VpcEndpointService};

/// Annotation that pauses reconciliation.
pub const PAUSED_ANNOTATION: &str = "privatelink.alicloud.dev/paused";
/// Annotation whose change requests an immediate full reconcile.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "privatelink.alicloud.dev/reconcile-requested-at";

/// Whether the object (of any kind) is paused (the annotation's value is `true`, in any case).
pub fn is_paused<K: ResourceExt>(obj: &K) -> bool {
    obj.annotations().get(PAUSED_ANNOTATION).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether the operator may write to the cloud for this object.
pub fn observe_only(obj: &VpcEndpointService) -> bool {
    obj.spec.management_policy == Some(ManagementPolicy::Observe)
}

/// Whether deleting the object leaves the service in the cloud.
pub fn keeps_service(obj: &VpcEndpointService) -> bool {
    obj.spec.deletion_policy == Some(DeletionPolicy::Orphan) || observe_only(obj)
}

/// The reconcile-now request not handled yet, if any.
pub fn reconcile_request(obj: &VpcEndpointService) -> Option<&str> {
    let handled = obj.status.as_ref().and_then(|s| s.last_handled_reconcile_at.as_deref());
    pending_request(obj, handled)
}

/// The reconcile-now request of an object (of any kind) whose last handled request is `handled`.
pub fn pending_request<'a, K: ResourceExt>(obj: &'a K, handled: Option<&str>) -> Option<&'a str> {
    let v = obj.annotations().get(RECONCILE_REQUEST_ANNOTATION)?;
    (handled != Some(v.as_str()) && !v.is_empty()).then_some(v.as_str())
}

/// The message of `Synced=False` reason `Paused`.
pub fn paused_message(deleting: bool) -> String {
    let what = if deleting { "deletion waits: nothing" } else { "nothing" };
    format!(
        "reconciliation is paused by the annotation {PAUSED_ANNOTATION}=true; {what} is sent to Alibaba Cloud until it is removed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{crd::VpcEndpointServiceStatus, fixtures::service};

    fn annotated(pairs: &[(&str, &str)]) -> VpcEndpointService {
        let mut o = service("a", "u");
        o.metadata.annotations = Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        o
    }

    #[test]
    fn paused_table() {
        let cases = [
            (vec![], false),
            (vec![(PAUSED_ANNOTATION, "true")], true),
            (vec![(PAUSED_ANNOTATION, "True")], true),
            (vec![(PAUSED_ANNOTATION, "false")], false),
            (vec![(PAUSED_ANNOTATION, "")], false),
            (vec![("other", "true")], false),
        ];
        for (pairs, want) in cases {
            assert_eq!(is_paused(&annotated(&pairs)), want, "{pairs:?}");
        }
    }

    #[test]
    fn reconcile_request_table() {
        let with = |ann: Option<&str>, handled: Option<&str>| {
            let mut o = annotated(&ann.map(|v| vec![(RECONCILE_REQUEST_ANNOTATION, v)]).unwrap_or_default());
            o.status = Some(VpcEndpointServiceStatus {
                last_handled_reconcile_at: handled.map(str::to_string),
                ..Default::default()
            });
            o
        };
        let cases = [
            (None, None, None),
            (Some("2026-12-03T10:00:00Z"), None, Some("2026-12-03T10:00:00Z")),
            (Some("2026-12-03T10:00:00Z"), Some("2026-12-03T10:00:00Z"), None),
            (Some("again"), Some("2026-12-03T10:00:00Z"), Some("again")),
            (Some(""), None, None),
        ];
        for (ann, handled, want) in cases {
            assert_eq!(reconcile_request(&with(ann, handled)), want, "{ann:?} {handled:?}");
        }
    }

    #[test]
    fn what_deletion_keeps() {
        let mut o = service("a", "u");
        assert!(!keeps_service(&o) && !observe_only(&o));
        o.spec.management_policy = Some(ManagementPolicy::Observe);
        assert!(keeps_service(&o) && observe_only(&o));
        o.spec.management_policy = Some(ManagementPolicy::Full);
        o.spec.deletion_policy = Some(DeletionPolicy::Orphan);
        assert!(keeps_service(&o) && !observe_only(&o));
    }
}
