//! The controller's cache entry for a `VpcEndpointService`, packed.
//!
//! The reflector keeps every object in memory. Deserialised, a Ready object takes ~4.3 KiB of heap
//! (an `ObjectMeta`, a spec and a status of many small strings and four conditions), which at 10,000
//! objects is most of the operator's memory. A [`Cached`] entry keeps in the clear only what the
//! controller's machinery reads on every event or in a scan of the whole cache — name, namespace,
//! resourceVersion (the watcher resumes from it), deletion and finalizers, the UID, the trigger
//! fingerprint, the credentials Secret names and the Services it takes backends from — and the whole object (as the reconciler sees it) as JSON
//! compressed with LZ4 against a dictionary of a typical object's field names and values: ~1.2 KiB.
//! The reconciler unpacks the one object it works on (~15 µs).
//!
//! What enters the cache is slimmed first ([`slim`]): managedFields and kubectl's last-applied
//! annotation are never read by the reconciler.

use std::borrow::Cow;
use std::sync::LazyLock;

use kube::{
    Resource,
    api::ObjectMeta,
    core::NamespaceResourceScope,
    runtime::{
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use serde::{Deserialize, Deserializer};

use crate::crd::VpcEndpointService;

/// kubectl's client-side apply record: a full copy of the applied manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A packed entry could not be read back (a bug: it was packed by this process).
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The LZ4 block is damaged.
    #[error("cached object {name}: decompressing: {source}")]
    Decompress {
        /// The object.
        name: String,
        /// Cause.
        #[source]
        source: lz4_flex::block::DecompressError,
    },
    /// The JSON inside does not parse as a `VpcEndpointService`.
    #[error("cached object {name}: decoding: {source}")]
    Decode {
        /// The object.
        name: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// One `VpcEndpointService` as the controller's cache keeps it (see the module docs).
#[derive(Clone)]
pub struct Cached {
    /// Name, namespace, resourceVersion, generation, deletion timestamp and finalizers; nothing else.
    /// Not the UID: kube-runtime copies a reference with the metadata's UID and resourceVersion into
    /// each of its maps (the store, the queue), a string per copy.
    metadata: ObjectMeta,
    /// `metadata.uid`.
    uid: Option<Box<str>>,
    /// [`trigger_key`] of the object: what a change must touch to trigger a reconcile.
    trigger: u64,
    /// The trigger differs from the version the cache held before (set by [`mark_triggers`]).
    triggers: bool,
    /// `spec.credentialsSecretRef.name`.
    secret_ref: Option<Box<str>>,
    /// `status.protectedSecret`.
    protected_secret: Option<Box<str>>,
    /// The Services `spec.resources[].serviceRef` names (sorted, deduplicated; usually empty).
    backends: Vec<String>,
    /// Length of the JSON in `packed`.
    json_len: u32,
    /// The slimmed object as JSON, LZ4 block-compressed against [`DICTIONARY`].
    packed: Box<[u8]>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("namespace", &self.metadata.namespace)
            .field("name", &self.metadata.name)
            .field("packed_bytes", &self.packed.len())
            .finish_non_exhaustive()
    }
}

/// Drop the parts of an object the reconciler never reads before it enters the cache.
pub fn slim(obj: &mut VpcEndpointService) {
    obj.metadata.managed_fields = None;
    if let Some(a) = obj.metadata.annotations.as_mut() {
        a.remove(LAST_APPLIED);
        if a.is_empty() {
            obj.metadata.annotations = None;
        }
    }
}

/// What a change must touch to trigger a reconcile: the generation, finalizers, deletion and the
/// annotations users act through (adoption, pause, reconcile-now) — not the operator's own status
/// writes, which would otherwise replace a pending poll and crowd the queue under load.
pub fn trigger_key(obj: &VpcEndpointService) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    // A new object under an old name (deleted and created again while the watch was down) triggers.
    obj.metadata.uid.hash(&mut h);
    obj.metadata.generation.hash(&mut h);
    obj.metadata.finalizers.hash(&mut h);
    obj.metadata.deletion_timestamp.is_some().hash(&mut h);
    for key in [
        crate::reconcile::observe::ADOPT_ANNOTATION,
        crate::reconcile::control::PAUSED_ANNOTATION,
        crate::reconcile::control::RECONCILE_REQUEST_ANNOTATION,
    ] {
        obj.metadata.annotations.as_ref().and_then(|a| a.get(key)).hash(&mut h);
    }
    h.finish()
}

/// A typical Ready object serialised: LZ4 finds the field names, condition types and reasons and the
/// fixed parts of IDs and domains here instead of in each entry. Built once, by the same serialiser
/// as the entries, so its keys come in the same order.
static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let sample = serde_json::json!({
        "apiVersion": "privatelink.alicloud.dev/v1alpha1",
        "kind": "VpcEndpointService",
        "metadata": {
            "annotations": {
                crate::reconcile::restore::ACCOUNT_ID_ANNOTATION: "1234567890123456",
                crate::reconcile::restore::SERVICE_ID_ANNOTATION: "epsrv-00000000000000000000",
            },
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "finalizers": [crate::crd::FINALIZER],
            "generation": 1,
            "labels": {"app.kubernetes.io/name": "name"},
            "name": "name",
            "namespace": "default",
            "resourceVersion": "1",
            "uid": "00000000-0000-0000-0000-000000000000",
        },
        "spec": {
            "regionId": "cn-hangzhou",
            "serviceDescription": "endpoint service",
            "autoAcceptEnabled": true,
            "payer": "Endpoint",
            "zoneAffinityEnabled": false,
            "serviceResourceType": "nlb",
            "resources": [{"resourceType": "nlb", "resourceId": "nlb-00000000000000000000", "zoneId": "cn-hangzhou-h"}],
            "addressIpVersion": "IPv4",
            "resourceGroupId": "rg-000000000000000",
            "tags": [{"key": "team", "value": "name"}],
            "credentialsSecretRef": {"name": "credentials"},
            "deletionPolicy": "Delete",
        },
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {"lastTransitionTime": "2026-01-01T00:00:00Z", "message": "endpoint service epsrv-00000000000000000000 is Active", "observedGeneration": 1, "reason": "Available", "status": "True", "type": "Ready"},
                {"lastTransitionTime": "2026-01-01T00:00:00Z", "message": "", "observedGeneration": 1, "reason": "ReconcileSuccess", "status": "True", "type": "Synced"},
                {"lastTransitionTime": "2026-01-01T00:00:00Z", "message": "", "observedGeneration": 1, "reason": "Available", "status": "False", "type": "Reconciling"},
                {"lastTransitionTime": "2026-01-01T00:00:00Z", "message": "", "observedGeneration": 1, "reason": "NoError", "status": "False", "type": "Stalled"},
            ],
            "serviceId": "epsrv-00000000000000000000",
            "serviceName": "com.aliyuncs.privatelink.cn-hangzhou.epsrv-00000000000000000000",
            "serviceDomain": "epsrv-00000000000000000000.cn-hangzhou.privatelink.aliyuncs.com",
            "serviceStatus": "Active",
            "serviceBusinessStatus": "Normal",
            "createTime": "2026-01-01T00:00:00Z",
            "regionId": "cn-hangzhou",
            "accountId": "1234567890123456",
            "createClientToken": "k8s-00000000-0000-0000-0000-000000000000-0000000000000000",
            "connectionCounts": {"Connected": 0},
        },
    });
    // The sample is ours and valid; should it ever fail to type, an empty dictionary only costs bytes.
    serde_json::from_value::<VpcEndpointService>(sample)
        .ok()
        .and_then(|o| serde_json::to_vec(&o).ok())
        .unwrap_or_default()
});

impl Cached {
    /// Pack an object (already [`slim`]med) for the cache.
    pub fn pack(obj: &VpcEndpointService) -> Self {
        // Serialising our own typed object to a Vec cannot fail (string keys, no foreign Serialize).
        let json = serde_json::to_vec(obj).unwrap_or_default();
        let packed = lz4_flex::block::compress_with_dict(&json, &DICTIONARY).into_boxed_slice();
        let m = &obj.metadata;
        Cached {
            metadata: ObjectMeta {
                name: m.name.clone(),
                namespace: m.namespace.clone(),
                // The watcher resumes from the last event's resourceVersion.
                resource_version: m.resource_version.clone(),
                generation: m.generation,
                deletion_timestamp: m.deletion_timestamp.clone(),
                finalizers: m.finalizers.clone(),
                ..ObjectMeta::default()
            },
            uid: m.uid.as_deref().map(Into::into),
            trigger: trigger_key(obj),
            triggers: true,
            secret_ref: obj.spec.credentials_secret_ref.as_ref().map(|r| r.name.as_str().into()),
            protected_secret: obj.status.as_ref().and_then(|s| s.protected_secret.as_deref()).map(Into::into),
            backends: crate::reconcile::backends::referenced(&obj.spec),
            json_len: json.len() as u32,
            packed,
        }
    }

    /// The object as it was packed.
    pub fn unpack(&self) -> Result<VpcEndpointService, UnpackError> {
        let name = || self.metadata.name.clone().unwrap_or_default();
        let json = lz4_flex::block::decompress_with_dict(&self.packed, self.json_len as usize, &DICTIONARY)
            .map_err(|source| UnpackError::Decompress { name: name(), source })?;
        serde_json::from_slice(&json).map_err(|source| UnpackError::Decode { name: name(), source })
    }

    /// See [`trigger_key`].
    pub fn trigger(&self) -> u64 {
        self.trigger
    }

    /// Whether this version should trigger a reconcile: its [`trigger_key`] differs from the version
    /// the cache held when it arrived (see [`mark_triggers`]).
    pub fn triggers(&self) -> bool {
        self.triggers
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// `spec.credentialsSecretRef.name`.
    pub fn secret_ref(&self) -> Option<&str> {
        self.secret_ref.as_deref()
    }

    /// `status.protectedSecret`.
    pub fn protected_secret(&self) -> Option<&str> {
        self.protected_secret.as_deref()
    }

    /// The Services `spec.resources[].serviceRef` names.
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// Bytes of the compressed object.
    #[cfg(test)]
    fn packed_len(&self) -> usize {
        self.packed.len()
    }
}

/// The watcher deserialises list pages and events straight into packed entries: the full object
/// lives only while it is packed.
impl<'de> Deserialize<'de> for Cached {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut obj = VpcEndpointService::deserialize(d)?;
        slim(&mut obj);
        Ok(Cached::pack(&obj))
    }
}

impl Resource for Cached {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        VpcEndpointService::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        VpcEndpointService::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        VpcEndpointService::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        VpcEndpointService::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Mark each applied version whose trigger differs from the version `store` holds as it arrives
/// (called on the watch stream just before the reflector writes the store). Keeps what
/// kube-runtime's `predicate_filter` does without its map of a reference and a hash per object.
pub fn mark_triggers(store: &Store<Cached>, ev: &mut watcher::Event<Cached>) {
    if let watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) = ev {
        let held = store.get(&ObjectRef::from_obj(obj));
        obj.triggers = held.is_none_or(|old| old.trigger != obj.trigger);
    }
}

/// A reference by name and namespace only: its `extra` (UID, resourceVersion) takes no part in
/// lookups, and kept in a map's every entry it would cost two strings per object.
pub fn name_key<K: Resource<DynamicType = ()>>(name: &str, namespace: Option<&str>) -> ObjectRef<K> {
    let key = ObjectRef::new(name);
    match namespace {
        Some(ns) => key.within(ns),
        None => key,
    }
}

/// The controller's reference to an object the reconciler names by its own type.
pub fn cached_ref(r: ObjectRef<VpcEndpointService>) -> ObjectRef<Cached> {
    name_key(&r.name, r.namespace.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ConnectionApproval, EndpointConnection, SecretRef, Tag, VpcEndpointServiceStatus};
    use crate::reconcile::status::{Phase, apply_phase};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// `base` with one change.
    fn changed(
        base: &VpcEndpointService,
        change: impl FnOnce(&mut VpcEndpointService),
    ) -> VpcEndpointService {
        let mut o = base.clone();
        change(&mut o);
        o
    }

    /// A time as the API server writes one (whole seconds).
    fn at() -> Time {
        Time("2026-12-06T03:03:38Z".parse().unwrap())
    }

    fn ready(name: &str, uid: &str) -> VpcEndpointService {
        let mut o = crate::fixtures::service(name, uid);
        o.metadata.finalizers = Some(vec![crate::crd::FINALIZER.into()]);
        o.metadata.resource_version = Some("4711".into());
        o.metadata.annotations = Some(
            [(
                crate::reconcile::restore::SERVICE_ID_ANNOTATION.to_string(),
                "epsrv-abcdefghij0123456789".to_string(),
            )]
            .into(),
        );
        o.spec.tags = vec![Tag { key: "team".into(), value: "payments".into() }];
        let mut st = VpcEndpointServiceStatus {
            service_id: Some("epsrv-abcdefghij0123456789".into()),
            service_domain: Some("epsrv-abcdefghij0123456789.cn-hangzhou.privatelink.aliyuncs.com".into()),
            service_status: Some("Active".into()),
            create_client_token: Some(format!("k8s-{uid}-0123456789abcdef")),
            ..Default::default()
        };
        apply_phase(
            &mut st,
            &Phase::Available { message: "endpoint service epsrv-abcdefghij0123456789 is Active".into() },
            Some(1),
            &at(),
        );
        o.status = Some(st);
        o
    }

    #[test]
    fn unpack_returns_the_packed_object() {
        let mut with_everything = ready("svc-a", "0b1e5a8e-6a0c-4a8e-9d1f-0c7e5e2b9a11");
        with_everything.spec.credentials_secret_ref = Some(SecretRef { name: "prod-account".into() });
        with_everything.spec.connection_approval =
            Some(ConnectionApproval { accept_from: vec!["1234".into()], reject_from: vec![] });
        if let Some(st) = with_everything.status.as_mut() {
            st.protected_secret = Some("prod-account".into());
            st.connections = vec![EndpointConnection {
                endpoint_id: "ep-1".into(),
                endpoint_owner_id: Some("1234".into()),
                status: "Connected".into(),
                bandwidth: Some(1024),
                zones: vec!["cn-hangzhou-h".into()],
            }];
        }
        let mut deleting = ready("svc-b", "5c2d0f51-31f4-4d1c-8f8e-2d6b1c0e7f42");
        deleting.metadata.deletion_timestamp = Some(at());
        let cases = [
            ("new, no status", crate::fixtures::service("svc-new", "9f0a7c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b")),
            ("ready", ready("svc-r", "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7")),
            ("everything set", with_everything),
            ("deleting", deleting),
        ];
        for (what, obj) in cases {
            let c = Cached::pack(&obj);
            assert_eq!(c.unpack().unwrap(), obj, "{what}");
            assert_eq!(c.meta().name, obj.metadata.name, "{what}");
            assert_eq!(c.meta().namespace, obj.metadata.namespace, "{what}");
            assert_eq!(c.uid(), obj.metadata.uid.as_deref(), "{what}");
            assert_eq!(c.meta().uid, None, "{what}: no UID string in kube-runtime's references");
            assert_eq!(c.meta().resource_version, obj.metadata.resource_version, "{what}");
            assert_eq!(c.meta().finalizers, obj.metadata.finalizers, "{what}");
            assert_eq!(c.meta().deletion_timestamp, obj.metadata.deletion_timestamp, "{what}");
            assert_eq!(c.trigger(), trigger_key(&obj), "{what}");
            assert_eq!(c.secret_ref(), obj.spec.credentials_secret_ref.as_ref().map(|r| r.name.as_str()));
            assert_eq!(c.protected_secret(), obj.status.as_ref().and_then(|s| s.protected_secret.as_deref()));
        }
    }

    #[test]
    fn a_ready_object_packs_small() {
        let obj = ready("bench-00001", "2f68308e-4875-493d-a5c8-8b40c381c79b");
        let json = serde_json::to_vec(&obj).unwrap().len();
        let packed = Cached::pack(&obj).packed_len();
        // The dictionary is what makes a small entry: plain LZ4 would keep over half.
        assert!(packed * 3 < json, "packed {packed} bytes of {json}");
    }

    #[test]
    fn deserialising_slims_and_packs() {
        let mut obj = ready("svc-a", "0b1e5a8e-6a0c-4a8e-9d1f-0c7e5e2b9a11");
        let mut wire = serde_json::to_value(&obj).unwrap();
        wire["metadata"]["managedFields"] = serde_json::json!([{"manager": "kubectl", "operation": "Apply"}]);
        wire["metadata"]["annotations"][LAST_APPLIED] = serde_json::json!("{\"big\": true}");
        let c: Cached = serde_json::from_value(wire).unwrap();
        slim(&mut obj);
        assert_eq!(c.unpack().unwrap(), obj);
    }

    #[test]
    fn only_user_actions_change_the_trigger() {
        let base = ready("svc-a", "0b1e5a8e-6a0c-4a8e-9d1f-0c7e5e2b9a11");
        let status_write = changed(&base, |o| {
            o.metadata.resource_version = Some("99".into());
            o.status.get_or_insert_default().service_status = Some("Inactive".into());
        });
        let new_generation = changed(&base, |o| o.metadata.generation = Some(2));
        let reconcile_now = changed(&base, |o| {
            o.metadata.annotations.get_or_insert_default().insert(
                crate::reconcile::control::RECONCILE_REQUEST_ANNOTATION.into(),
                "2026-12-06T00:00:00Z".into(),
            );
        });
        let deleting = changed(&base, |o| o.metadata.deletion_timestamp = Some(at()));
        let cases = [
            ("status write", status_write, false),
            ("new generation", new_generation, true),
            ("reconcile-now", reconcile_now, true),
            ("deletion", deleting, true),
        ];
        for (what, o, triggers) in cases {
            assert_eq!(trigger_key(&o) != trigger_key(&base), triggers, "{what}");
        }
    }

    #[test]
    fn only_a_changed_trigger_reaches_the_controller() {
        let held = ready("svc-a", "0b1e5a8e-6a0c-4a8e-9d1f-0c7e5e2b9a11");
        let status_write = changed(&held, |o| {
            o.metadata.resource_version = Some("4712".into());
            o.status.get_or_insert_default().service_status = Some("Inactive".into());
        });
        let edited = changed(&held, |o| o.metadata.generation = Some(2));
        let recreated =
            changed(&held, |o| o.metadata.uid = Some("7d3c1e2a-0000-4000-8000-000000000001".into()));
        let cases = [
            ("first sight", None, held.clone(), true),
            ("the operator's own status write", Some(&held), status_write, false),
            ("a spec edit", Some(&held), edited, true),
            ("deleted and created again under the name", Some(&held), recreated, true),
        ];
        for (what, before, now, want) in cases {
            let mut writer = kube::runtime::reflector::store::Writer::<Cached>::default();
            if let Some(b) = before {
                writer.apply_watcher_event(&watcher::Event::Apply(Cached::pack(b)));
            }
            for mut ev in
                [watcher::Event::Apply(Cached::pack(&now)), watcher::Event::InitApply(Cached::pack(&now))]
            {
                mark_triggers(&writer.as_reader(), &mut ev);
                let (watcher::Event::Apply(c) | watcher::Event::InitApply(c)) = ev else { unreachable!() };
                assert_eq!(c.triggers(), want, "{what}");
            }
        }
    }

    #[test]
    fn controller_refs_name_the_same_object() {
        let r = ObjectRef::<VpcEndpointService>::new("svc-a").within("team-a");
        let c = cached_ref(r);
        assert_eq!((c.name.as_str(), c.namespace.as_deref()), ("svc-a", Some("team-a")));
    }
}
