//! `spec.exportTo`: the service's identity in a ConfigMap of the object's namespace, for applications
//! (`envFrom`) and consumer teams who should not need to read a custom resource.
//!
//! The ConfigMap is owned by the object (an owner reference, so the garbage collector removes it with
//! the object; the finalizer also deletes it once the cloud service is gone). It is written only when a
//! value changes, and re-read once per resync so an edit or a deletion by hand is repaired. A ConfigMap
//! of that name that the object does not own is never touched: `Ready=False`, reason `ExportConflict`.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::core::v1::ConfigMap,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
};
use tracing::info;

use super::{Context, schedule::Wait, status::Phase};
use crate::{
    crd::{VpcEndpointService, VpcEndpointServiceStatus},
    error::{Error, Result},
};

/// Label on every ConfigMap the operator exports to.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "privatelink-operator");
/// Reason of a ConfigMap name taken by a ConfigMap the object does not own.
pub const EXPORT_CONFLICT: &str = "ExportConflict";
/// How often a conflicting export is looked at again (a ConfigMap is not watched).
pub const CONFLICT_RECHECK: Duration = Duration::from_secs(60);

/// The keys and values to export (only the ones known so far).
pub fn data(obj: &VpcEndpointService, st: &VpcEndpointServiceStatus) -> BTreeMap<String, String> {
    let region = st.region_id.clone().unwrap_or_else(|| obj.spec.region_id.clone());
    [
        ("serviceId", st.service_id.clone()),
        ("serviceName", st.service_name.clone()),
        ("serviceDomain", st.service_domain.clone()),
        ("regionId", Some(region)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
    .collect()
}

/// What to do with the ConfigMap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// It does not exist: create it.
    Create,
    /// Ours, with other values for our keys: write them.
    Update,
    /// Ours and current.
    InSync,
    /// Not ours (the message says whose): leave it alone.
    Conflict(String),
}

/// Whether `cm` is owned by the object with `uid`.
pub fn owned_by(cm: &ConfigMap, uid: &str) -> bool {
    cm.metadata.owner_references.as_ref().is_some_and(|refs| refs.iter().any(|r| r.uid == uid))
}

/// Decide from the ConfigMap as it is (`None`: absent).
pub fn decide(existing: Option<&ConfigMap>, uid: &str, want: &BTreeMap<String, String>) -> Step {
    let Some(cm) = existing else { return Step::Create };
    if !owned_by(cm, uid) {
        let owners: Vec<String> =
            cm.metadata.owner_references.iter().flatten().map(|r| format!("{} {}", r.kind, r.name)).collect();
        let whose = if owners.is_empty() { "no owner".to_string() } else { owners.join(", ") };
        return Step::Conflict(whose);
    }
    let have = cm.data.clone().unwrap_or_default();
    if want.iter().all(|(k, v)| have.get(k) == Some(v)) { Step::InSync } else { Step::Update }
}

/// A ConfigMap name taken by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// ConfigMap name.
    pub name: String,
    /// Its owners.
    pub whose: String,
}

impl Conflict {
    /// The phase and wait it leads to.
    pub fn phase(&self) -> (Phase, Wait) {
        let message = format!(
            "spec.exportTo: ConfigMap {} exists and is not owned by this object ({}); it is not overwritten. Delete it or choose another configMapName",
            self.name, self.whose
        );
        (
            Phase::Failed { reason: EXPORT_CONFLICT.into(), message, terminal: false },
            Wait::Fixed(CONFLICT_RECHECK),
        )
    }
}

/// The owner reference an exported ConfigMap carries (objects of every kind).
pub fn owner_reference<K: Resource<DynamicType = ()>>(obj: &K) -> Option<OwnerReference> {
    let mut r = obj.controller_owner_ref(&())?;
    // Deleting the object must not wait on the ConfigMap (that would need finalizer rights).
    r.block_owner_deletion = None;
    Some(r)
}

fn fingerprint(name: &str, data: &BTreeMap<String, String>) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    (name, data).hash(&mut h);
    h.finish()
}

/// Bring the export in line with the spec and the status; `Some` when the name is taken by a
/// ConfigMap the object does not own. Records the exported name in `st`. The ConfigMap is read only
/// when a value changed, once per resync, or on a reconcile-now request.
pub async fn sync(
    ctx: &Context,
    obj: &VpcEndpointService,
    st: &mut VpcEndpointServiceStatus,
) -> Result<Option<Conflict>> {
    let force = super::control::reconcile_request(obj).is_some();
    let ns = super::ns_of(obj)?;
    let uid = obj.uid().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let wanted = obj.spec.export_to.as_ref().map(|e| e.config_map_name.clone());
    if let Some(old) = st.exported_config_map.clone()
        && Some(&old) != wanted.as_ref()
    {
        // Renamed or removed: the old ConfigMap goes (only if it is ours).
        remove(&api, &old, &uid).await?;
        st.exported_config_map = None;
        ctx.record_export(obj, None);
    }
    let Some(name) = wanted else { return Ok(None) };
    let want = data(obj, st);
    let fp = fingerprint(&name, &want);
    if !force && ctx.export_current(obj, fp) {
        st.exported_config_map = Some(name);
        return Ok(None);
    }
    if let Some(conflict) = put(&api, &ns, &name, &uid, owner_reference(obj), &want).await? {
        ctx.record_export(obj, None);
        return Ok(Some(conflict));
    }
    st.exported_config_map = Some(name);
    ctx.record_export(obj, Some(fp));
    Ok(None)
}

/// Write `want` into ConfigMap `name` owned by the object with `uid` (created with `owner`), unless a
/// ConfigMap of that name belongs to someone else: then `Some(conflict)` and nothing is written. For
/// objects of every kind.
pub async fn put(
    api: &Api<ConfigMap>,
    ns: &str,
    name: &str,
    uid: &str,
    owner: Option<OwnerReference>,
    want: &BTreeMap<String, String>,
) -> Result<Option<Conflict>> {
    let fail = |source| Error::Export { name: name.to_string(), source };
    let existing = api.get_opt(name).await.map_err(fail)?;
    match decide(existing.as_ref(), uid, want) {
        Step::Conflict(whose) => return Ok(Some(Conflict { name: name.to_string(), whose })),
        Step::InSync => {}
        Step::Create => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(ns.to_string()),
                    labels: Some(BTreeMap::from([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())])),
                    owner_references: owner.map(|r| vec![r]),
                    ..Default::default()
                },
                data: Some(want.clone()),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map_err(fail)?;
            info!(config_map = %name, "exported to a ConfigMap");
        }
        Step::Update => {
            let patch = serde_json::json!({ "data": want });
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(fail)?;
            info!(config_map = %name, "updated the exported ConfigMap");
        }
    }
    Ok(None)
}

/// Delete ConfigMap `name` if the object with `uid` owns it (a vanished one is fine).
pub async fn remove(api: &Api<ConfigMap>, name: &str, uid: &str) -> Result<()> {
    let fail = |source| Error::Export { name: name.to_string(), source };
    let Some(cm) = api.get_opt(name).await.map_err(fail)? else { return Ok(()) };
    if !owned_by(&cm, uid) {
        return Ok(());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions { uid: cm.metadata.uid.clone(), resource_version: None }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => {
            info!(config_map = name, "deleted the exported ConfigMap");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

/// On deletion, once the cloud side is done: delete the ConfigMaps this object exported to.
pub async fn cleanup(ctx: &Context, obj: &VpcEndpointService) -> Result<()> {
    let ns = super::ns_of(obj)?;
    let uid = obj.uid().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let recorded = obj.status.as_ref().and_then(|s| s.exported_config_map.clone());
    let specified = obj.spec.export_to.as_ref().map(|e| e.config_map_name.clone());
    let mut names: Vec<String> = recorded.into_iter().chain(specified).collect();
    names.dedup();
    for name in names {
        remove(&api, &name, &uid).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service;

    fn cm(owner_uid: Option<&str>, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("out".into()),
                owner_references: owner_uid.map(|u| {
                    vec![OwnerReference {
                        api_version: "privatelink.alicloud.dev/v1alpha1".into(),
                        kind: "VpcEndpointService".into(),
                        name: "a".into(),
                        uid: u.into(),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let want: BTreeMap<String, String> =
            [("serviceId", "epsrv-1"), ("regionId", "cn-hangzhou")].map(|(k, v)| (k.into(), v.into())).into();
        let cases: Vec<(&str, Option<ConfigMap>, Step)> = vec![
            ("absent: create", None, Step::Create),
            (
                "ours, current",
                Some(cm(Some("u"), &[("serviceId", "epsrv-1"), ("regionId", "cn-hangzhou")])),
                Step::InSync,
            ),
            (
                "ours, current, with a key someone added",
                Some(cm(Some("u"), &[("serviceId", "epsrv-1"), ("regionId", "cn-hangzhou"), ("x", "y")])),
                Step::InSync,
            ),
            (
                "ours, a value changed",
                Some(cm(Some("u"), &[("serviceId", "epsrv-0"), ("regionId", "cn-hangzhou")])),
                Step::Update,
            ),
            ("ours, a key missing", Some(cm(Some("u"), &[("serviceId", "epsrv-1")])), Step::Update),
            ("someone else's: never overwritten", Some(cm(None, &[])), Step::Conflict("no owner".into())),
            (
                "another object's",
                Some(cm(Some("other"), &[("serviceId", "epsrv-1"), ("regionId", "cn-hangzhou")])),
                Step::Conflict("VpcEndpointService a".into()),
            ),
        ];
        for (case, existing, step) in cases {
            assert_eq!(decide(existing.as_ref(), "u", &want), step, "{case}");
        }
    }

    #[test]
    fn data_holds_what_is_known() {
        let obj = service("a", "u");
        let mut st = VpcEndpointServiceStatus { service_id: Some("epsrv-1".into()), ..Default::default() };
        let keys = |d: BTreeMap<String, String>| d.into_keys().collect::<Vec<_>>();
        assert_eq!(keys(data(&obj, &st)), vec!["regionId", "serviceId"]);
        st.service_name = Some("com.aliyuncs.privatelink.cn-hangzhou.epsrv-1".into());
        st.service_domain = Some("epsrv-1.cn-hangzhou.privatelink.aliyuncs.com".into());
        assert_eq!(keys(data(&obj, &st)), vec!["regionId", "serviceDomain", "serviceId", "serviceName"]);
        assert_eq!(data(&obj, &st)["regionId"], "cn-hangzhou");
    }

    #[test]
    fn the_owner_reference_names_the_object_and_does_not_block_its_deletion() {
        let obj = service("a", "u");
        let r = owner_reference(&obj).expect("object has a name and uid");
        assert_eq!((r.kind.as_str(), r.name.as_str(), r.uid.as_str()), ("VpcEndpointService", "a", "u"));
        assert_eq!(r.controller, Some(true));
        assert_eq!(r.block_owner_deletion, None);
    }
}
