//! Reconciliation of `VpcEndpoint`, the consumer side: observe → plan → act, on the service kind's
//! machinery (credentials and their Secret protection, account pinning, the scheduling gate, kstatus
//! conditions, events, ConfigMap export).
//!
//! Safety, as for services: the Create's ClientToken is derived from the object's UID and persisted in
//! status before the call; every endpoint carries the ownership tag, so a Create whose answer was lost
//! is found instead of repeated; a NotFound is believed only when the ownership-tag listing agrees;
//! the finalizer stays until Alibaba says the endpoint is gone; a Ready endpoint does not flap on
//! transient errors; zones and security groups are kept as the spec says (additions first).

pub mod plan;

use std::{collections::HashMap, sync::Arc, time::Duration, time::Instant};

use kube::{
    Api, ResourceExt,
    runtime::{
        controller::Action,
        events::EventType,
        finalizer::{Event as Finalizer, finalizer},
        reflector::ObjectRef,
    },
};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

use self::plan::{Next, Step, Teardown, reason};
use crate::{
    alicloud::{
        CallError, Credentials, ErrorClass,
        ops::{
            AddZoneToVpcEndpoint, AttachSecurityGroup, CreateVpcEndpoint, DeleteVpcEndpoint,
            DetachSecurityGroup, EndpointAttributes, EndpointSecurityGroupRow, EndpointZoneRow,
            GetVpcEndpointAttribute, ListVpcEndpointSecurityGroups, ListVpcEndpointZones, ListVpcEndpoints,
            RemoveZoneFromVpcEndpoint, TagEndpoint, TagParam, UpdateVpcEndpointAttribute, ZoneParam,
        },
        signer::canonical_query,
        vocab::EndpointStatus,
    },
    crd::{
        DeletionPolicy, ENDPOINT_FINALIZER, EndpointZoneStatus, ManagementPolicy, OWNER_TAG_KEY, VpcEndpoint,
        VpcEndpointStatus,
    },
    error::{Error, Result},
    reconcile::{
        Context, control, export, observe,
        restore::{self, Ownership},
        schedule::{Gate, Wait},
        secrets,
        status::{self, Phase, apply_phase_to},
    },
};

/// Annotation naming an existing endpoint to adopt instead of creating one.
pub const ADOPT_ANNOTATION: &str = "privatelink.alicloud.dev/adopt-endpoint-id";
/// Annotation in which the operator records the endpoint's ID on the object itself, so a restored
/// object (backups keep annotations, not status or UID) finds its endpoint instead of creating another.
pub const ENDPOINT_ID_ANNOTATION: &str = "privatelink.alicloud.dev/endpoint-id";

/// The endpoint ID and account recorded in the object's annotations.
fn recorded(obj: &VpcEndpoint) -> (Option<&str>, Option<&str>) {
    let a = obj.annotations();
    let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
    (get(ENDPOINT_ID_ANNOTATION), get(restore::ACCOUNT_ID_ANNOTATION))
}

/// Record the endpoint's ID and account in the object's annotations (only what changed).
async fn record(
    obj: &VpcEndpoint,
    api: &Api<VpcEndpoint>,
    endpoint_id: &str,
    account: Option<&str>,
) -> Result<()> {
    let (have_id, have_account) = recorded(obj);
    let mut changes = std::collections::BTreeMap::new();
    if have_id != Some(endpoint_id) {
        changes.insert(ENDPOINT_ID_ANNOTATION, endpoint_id.to_string());
    }
    if let Some(a) = account
        && have_account != Some(a)
    {
        changes.insert(restore::ACCOUNT_ID_ANNOTATION, a.to_string());
    }
    if changes.is_empty() {
        return Ok(());
    }
    let patch = serde_json::json!({ "metadata": { "annotations": changes } });
    api.patch_metadata(&obj.name_any(), &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// The endpoint ID a restored object's annotation names (not one it already replaced).
fn recorded_endpoint(obj: &VpcEndpoint, st: &VpcEndpointStatus) -> Option<String> {
    recorded(obj).0.filter(|id| st.replaced_endpoint_id.as_deref() != Some(*id)).map(str::to_string)
}

/// Endpoints by the `VpcEndpointService` (namespace, name) their `serviceRef` names.
type ServiceUsers = HashMap<(String, String), Vec<ObjectRef<VpcEndpoint>>>;

/// The service to connect to (`ServiceId`, `ServiceName`), or the phase to settle in while a
/// referenced `VpcEndpointService` is not Ready.
type Target = std::result::Result<(Option<String>, Option<String>), (Phase, Wait)>;

/// Per-object memory.
#[derive(Default)]
struct Memory {
    gate: Gate,
    /// The generation whose zones and security groups were last found in sync, and when.
    in_sync: Option<(Option<i64>, Instant)>,
    /// The export last written or verified (fingerprint) and when.
    exported: Option<(u64, Instant)>,
}

/// Shared state of the endpoint reconciler: the service reconciler's context (clients, credentials,
/// caches, recorder) plus this kind's memory.
pub struct EndpointContext {
    /// The shared context.
    pub base: Arc<Context>,
    objects: Mutex<HashMap<ObjectRef<VpcEndpoint>, Memory>>,
    /// Which endpoints reference which `VpcEndpointService` (namespace, name).
    service_refs: Mutex<ServiceUsers>,
}

impl EndpointContext {
    /// Build the context.
    pub fn new(base: Arc<Context>) -> Self {
        Self { base, objects: Mutex::default(), service_refs: Mutex::default() }
    }

    /// Record which service an endpoint references (from the controller's watch).
    pub fn index(&self, obj: &VpcEndpoint) {
        let key = ObjectRef::from(obj);
        let mut ix = self.service_refs.lock();
        for users in ix.values_mut() {
            users.retain(|u| u != &key);
        }
        ix.retain(|_, users| !users.is_empty());
        if let Some(r) = &obj.spec.service_ref {
            let ns = r.namespace.clone().or_else(|| obj.namespace()).unwrap_or_default();
            ix.entry((ns, r.name.clone())).or_default().push(key);
        }
    }

    /// The endpoints that reference service `name` in `namespace`, woken: their next reconcile does
    /// not wait out a scheduled requeue.
    pub fn wake_service_users(&self, namespace: &str, name: &str) -> Vec<ObjectRef<VpcEndpoint>> {
        let users = self
            .service_refs
            .lock()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_default();
        let mut objects = self.objects.lock();
        for u in &users {
            objects.entry(u.clone()).or_default().gate = Gate::default();
        }
        users
    }

    /// Drop everything remembered about an endpoint (it left the cluster).
    pub fn forget(&self, obj: &VpcEndpoint) {
        let key = ObjectRef::from(obj);
        self.objects.lock().remove(&key);
        let mut ix = self.service_refs.lock();
        for users in ix.values_mut() {
            users.retain(|u| u != &key);
        }
    }

    fn gate_wait(&self, obj: &VpcEndpoint, now: Instant) -> Option<Duration> {
        self.objects.lock().get(&ObjectRef::from(obj)).and_then(|m| m.gate.remaining(obj, now))
    }

    fn set_gate(&self, obj: &VpcEndpoint, wait: Wait, now: Instant) -> Duration {
        self.objects.lock().entry(ObjectRef::from(obj)).or_default().gate.schedule(obj, wait, now)
    }

    /// Whether this generation's zones and security groups were found in sync within the resync
    /// interval (the listings are skipped until then).
    fn recently_in_sync(&self, obj: &VpcEndpoint) -> bool {
        let objects = self.objects.lock();
        objects
            .get(&ObjectRef::from(obj))
            .and_then(|m| m.in_sync)
            .is_some_and(|(g, at)| g == obj.metadata.generation && at.elapsed() < self.base.settings.resync)
    }

    fn record_in_sync(&self, obj: &VpcEndpoint, yes: bool) {
        let mut objects = self.objects.lock();
        objects.entry(ObjectRef::from(obj)).or_default().in_sync =
            yes.then(|| (obj.metadata.generation, Instant::now()));
    }
}

fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now())
}

fn ns_of(obj: &VpcEndpoint) -> Result<String> {
    obj.namespace().ok_or(Error::MissingObjectKey("namespace"))
}

fn observe_only(obj: &VpcEndpoint) -> bool {
    obj.spec.management_policy == Some(ManagementPolicy::Observe)
}

fn keeps_endpoint(obj: &VpcEndpoint) -> bool {
    obj.spec.deletion_policy == Some(DeletionPolicy::Orphan) || observe_only(obj)
}

fn reconcile_request(obj: &VpcEndpoint) -> Option<&str> {
    let handled = obj.status.as_ref().and_then(|s| s.last_handled_reconcile_at.as_deref());
    control::pending_request(obj, handled)
}

fn is_ready_for_generation(obj: &VpcEndpoint) -> bool {
    obj.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == status::cond::READY))
        .is_some_and(|c| c.status == "True" && c.observed_generation == obj.metadata.generation)
}

/// Write the status with server-side apply, only when it changed.
async fn write_status(api: &Api<VpcEndpoint>, obj: &VpcEndpoint, st: &VpcEndpointStatus) -> Result<bool> {
    if obj.status.as_ref() == Some(st) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": "privatelink.alicloud.dev/v1alpha1",
        "kind": "VpcEndpoint",
        "status": st,
    });
    api.patch_status(
        &obj.name_any(),
        &kube::api::PatchParams::apply(status::FIELD_MANAGER).force(),
        &kube::api::Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

/// The controller's reconcile function.
#[instrument(skip(obj, ctx), fields(namespace = obj.namespace().unwrap_or_default(), name = obj.name_any(), endpoint_id = obj.endpoint_id().unwrap_or_default()))]
pub async fn reconcile(obj: Arc<VpcEndpoint>, ctx: Arc<EndpointContext>) -> Result<Action> {
    let started = Instant::now();
    if reconcile_request(&obj).is_none()
        && let Some(wait) = ctx.gate_wait(&obj, started)
    {
        return Ok(Action::requeue(wait));
    }
    let ns = ns_of(&obj)?;
    let api: Api<VpcEndpoint> = Api::namespaced(ctx.base.client.clone(), &ns);
    if control::is_paused(obj.as_ref()) {
        ctx.set_gate(&obj, Wait::Soon(Duration::ZERO), started);
        let mut st = obj.status.clone().unwrap_or_default();
        let message = control::paused_message(obj.metadata.deletion_timestamp.is_some());
        status::set_condition(
            &mut st.conditions,
            status::cond::SYNCED,
            false,
            "Paused",
            &message,
            obj.metadata.generation,
            &now(),
        );
        write_status(&api, &obj, &st).await?;
        return Ok(Action::await_change());
    }
    let result = finalizer(&api, ENDPOINT_FINALIZER, obj.clone(), |event| async {
        match event {
            Finalizer::Apply(o) => apply(&o, &ctx, &api).await,
            Finalizer::Cleanup(o) => cleanup(&o, &ctx, &api).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)).flatten());
    if result.is_ok() && obj.metadata.deletion_timestamp.is_some() {
        ctx.forget(&obj);
        tokio::spawn(secrets::sweep(ctx.base.clone(), obj.as_ref().clone()));
    }
    result
}

/// The controller's error policy: per-object backoff by error class.
pub fn error_policy(obj: Arc<VpcEndpoint>, err: &Error, ctx: Arc<EndpointContext>) -> Action {
    let wait = match err {
        Error::Requeue { after, .. } => after.map_or(Wait::Poll, Wait::Soon),
        Error::Cloud(CallError::Cloud(e)) => match e.class() {
            ErrorClass::Terminal => Wait::Fixed(ctx.base.settings.terminal_retry),
            ErrorClass::Busy => Wait::Backoff { base: Duration::from_secs(2), hint: e.retry_after },
            ErrorClass::Retryable | ErrorClass::NotFound => {
                Wait::Backoff { base: Duration::from_secs(5), hint: e.retry_after }
            }
        },
        e if e.is_terminal() => Wait::Fixed(ctx.base.settings.terminal_retry),
        _ => Wait::Backoff { base: Duration::from_secs(5), hint: None },
    };
    if !matches!(err, Error::Requeue { .. }) {
        warn!(name = obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err, "endpoint reconcile failed");
    }
    Action::requeue(ctx.set_gate(&obj, wait, Instant::now()))
}

/// Reason and message for an error: the Alibaba code (or this kind's name for it) and the RequestId.
fn describe(err: &Error) -> (String, String) {
    match err {
        Error::Cloud(CallError::Cloud(e)) => {
            let reason = match e.code.as_str() {
                "EndpointServiceNotFound" => reason::SERVICE_NOT_FOUND.to_string(),
                "EndpointServiceNotAuthorized" => reason::NOT_ALLOWED.to_string(),
                _ => e.reason(),
            };
            (reason, format!("{}: {} (RequestId: {})", e.code, e.message, e.request_id))
        }
        other => (other.reason(), other.to_string()),
    }
}

/// Record a failure in the status and hand the error to `error_policy` (or, for the service's
/// NotFound/NotAllowed, settle with a recheck: the fix is on the service owner's side, not in this
/// spec).
async fn fail(
    obj: &VpcEndpoint,
    ctx: &EndpointContext,
    api: &Api<VpcEndpoint>,
    mut st: VpcEndpointStatus,
    err: Error,
) -> Result<Action> {
    let (reason, message) = describe(&err);
    let owner_side = reason == reason::SERVICE_NOT_FOUND || reason == reason::NOT_ALLOWED;
    let terminal = err.is_terminal() || owner_side;
    let phase = Phase::for_error(reason.clone(), message.clone(), terminal, is_ready_for_generation(obj));
    let carrier = if phase.is_ready() { status::cond::SYNCED } else { status::cond::READY };
    let previous = st.conditions.iter().find(|c| c.type_ == carrier).map(|c| c.reason.clone());
    apply_phase_to(&mut st.conditions, &phase, obj.metadata.generation, &now());
    st.observed_generation = obj.metadata.generation;
    if let Err(e) = write_status(api, obj, &st).await {
        warn!(error = %e, "could not record the failure in status");
    } else if previous.as_deref() != Some(reason.as_str()) {
        ctx.base.publish(obj, EventType::Warning, &reason, "Reconcile", message).await;
    }
    if owner_side {
        return Ok(Action::requeue(ctx.set_gate(
            obj,
            Wait::Fixed(crate::reconcile::ACCOUNT_RECHECK),
            Instant::now(),
        )));
    }
    Err(err)
}

/// Write the status for a phase and decide when to look again.
async fn settle(
    obj: &VpcEndpoint,
    ctx: &EndpointContext,
    api: &Api<VpcEndpoint>,
    mut st: VpcEndpointStatus,
    phase: Phase,
    wait: Wait,
) -> Result<Action> {
    let was_ready = is_ready_for_generation(obj);
    apply_phase_to(&mut st.conditions, &phase, obj.metadata.generation, &now());
    st.observed_generation = obj.metadata.generation;
    write_status(api, obj, &st).await?;
    if let Phase::Available { message } = &phase
        && !was_ready
    {
        info!(endpoint_id = st.endpoint_id.as_deref().unwrap_or_default(), "endpoint is Ready");
        ctx.base.publish(obj, EventType::Normal, "Available", "Reconcile", message.clone()).await;
    }
    Ok(Action::requeue(ctx.set_gate(obj, wait, Instant::now())))
}

/// The cloud's view of this object's endpoint.
enum Seen {
    Absent,
    Gone(String),
    Found(Box<EndpointAttributes>),
    Confirming(String),
    Conflict { endpoint_id: String, owner: String },
}

/// Every endpoint carrying this object's ownership tag, `Deleting` ones included, oldest first.
async fn owned(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    uid: &str,
) -> Result<Vec<EndpointAttributes>> {
    let mut out = vec![];
    let mut next_token = None;
    loop {
        let list = ListVpcEndpoints {
            region_id: region.to_string(),
            tags: vec![TagParam { key: OWNER_TAG_KEY.into(), value: uid.into() }],
            next_token,
            ..Default::default()
        };
        let page = ctx.cloud.call(creds, &list).await?;
        out.extend(page.endpoints);
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| a.create_time.cmp(&b.create_time));
    Ok(out)
}

/// Find the endpoint: by `status.endpointId`, else the adoption annotation, else (once a Create may
/// have been sent) the ownership tag. A NotFound is believed only when the tag listing agrees.
async fn observe_endpoint(
    obj: &VpcEndpoint,
    ctx: &Context,
    creds: &Credentials,
    uid: &str,
    st: &VpcEndpointStatus,
) -> Result<Seen> {
    let region = obj.region().to_string();
    let recorded = st.endpoint_id.clone();
    // After a restore (new UID, no status) the annotation still names the endpoint; a replaced (gone)
    // endpoint's ID is not followed again.
    let restored = recorded_endpoint(obj, st);
    let known = recorded.clone().or(restored.clone());
    let adopt = obj.annotations().get(ADOPT_ANNOTATION).cloned().filter(|a| !a.is_empty());
    if let Some(id) = known.clone().or(adopt) {
        let get = GetVpcEndpointAttribute { region_id: region.clone(), endpoint_id: id.clone() };
        return match ctx.cloud.call(creds, &get).await {
            Ok(attrs) if recorded.is_none() => {
                // Adopting or restored: the endpoint must not belong to another live object.
                let list = ListVpcEndpoints {
                    region_id: region.clone(),
                    endpoint_id: Some(id.clone()),
                    ..Default::default()
                };
                let tags = ctx.cloud.call(creds, &list).await?.endpoints.into_iter().flat_map(|e| e.tags);
                let owner = tags.into_iter().find(|t| t.key == OWNER_TAG_KEY).map(|t| t.value);
                let via_restore = restored.as_deref() == Some(id.as_str());
                let alive = owner.as_deref().map_or(Some(false), |o| {
                    ctx.endpoint_cache().map(|c| c.find(|e| e.metadata.uid.as_deref() == Some(o)).is_some())
                });
                match restore::ownership(owner.as_deref(), uid, via_restore, alive) {
                    Ownership::Mine => Ok(Seen::Found(Box::new(attrs))),
                    Ownership::Restored => {
                        // Take the restored endpoint over: its ownership tag names this object now.
                        if !observe_only(obj) {
                            let tag = TagEndpoint {
                                region_id: region,
                                endpoint_id: id.clone(),
                                tags: vec![TagParam { key: OWNER_TAG_KEY.into(), value: uid.into() }],
                            };
                            ctx.cloud.call(creds, &tag).await?;
                            info!(endpoint_id = %id, "restored object took its endpoint over (ownership tag rewritten)");
                        }
                        Ok(Seen::Found(Box::new(attrs)))
                    }
                    Ownership::Conflict if observe_only(obj) => Ok(Seen::Found(Box::new(attrs))),
                    Ownership::Conflict => {
                        Ok(Seen::Conflict { endpoint_id: id, owner: owner.unwrap_or_default() })
                    }
                    Ownership::Unknown => Err(Error::Requeue {
                        reason: "waiting for the cache to list every object before taking a restored endpoint over"
                            .into(),
                        after: Some(Duration::from_secs(1)),
                    }),
                }
            }
            Ok(attrs) => Ok(Seen::Found(Box::new(attrs))),
            Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) && known.is_some() => {
                let listed = owned(ctx, creds, &region, uid).await?;
                if listed.iter().any(|e| e.endpoint_id == id) {
                    Ok(Seen::Confirming(id))
                } else if let Some(other) =
                    listed.into_iter().find(|e| e.status() != EndpointStatus::Deleting)
                {
                    Ok(Seen::Found(Box::new(other)))
                } else {
                    Ok(Seen::Gone(id))
                }
            }
            Err(e) => Err(e.into()),
        };
    }
    if st.create_client_token.is_none() && st.conditions.is_empty() && !observe_only(obj) {
        return Ok(Seen::Absent);
    }
    let found =
        owned(ctx, creds, &region, uid).await?.into_iter().find(|e| e.status() != EndpointStatus::Deleting);
    Ok(found.map_or(Seen::Absent, |e| Seen::Found(Box::new(e))))
}

/// The service to connect to: `Ok(Some((id, name)))` once known, `Ok(None)` with a phase to settle
/// while a referenced `VpcEndpointService` is not Ready.
fn target(obj: &VpcEndpoint, ctx: &Context) -> Result<Target> {
    let Some(r) = &obj.spec.service_ref else {
        return Ok(Ok((obj.spec.service_id.clone(), obj.spec.service_name.clone())));
    };
    let ns = r.namespace.clone().unwrap_or(ns_of(obj)?);
    let Some(store) = ctx.cache() else {
        return Err(Error::Requeue {
            reason: "waiting for the first list of VpcEndpointServices".into(),
            after: Some(Duration::from_secs(1)),
        });
    };
    let resync = Wait::Fixed(ctx.settings.resync);
    let Some(cached) = store.get(&ObjectRef::new(&r.name).within(&ns)) else {
        let message = format!(
            "VpcEndpointService {ns}/{} does not exist (yet); the endpoint is created once it is Ready",
            r.name
        );
        return Ok(Err((
            Phase::Failed { reason: reason::SERVICE_NOT_FOUND.into(), message, terminal: false },
            resync,
        )));
    };
    let svc = cached.unpack()?;
    let ready = crate::reconcile::status::is_ready_for_generation(&svc);
    match svc.status.as_ref().and_then(|s| s.service_id.clone()) {
        Some(id) if ready => {
            if svc.region() != obj.spec.region_id {
                let message = format!(
                    "VpcEndpointService {ns}/{} is in region {}, this endpoint in {}",
                    r.name,
                    svc.region(),
                    obj.spec.region_id
                );
                return Ok(Err((
                    Phase::Failed { reason: "RegionMismatch".into(), message, terminal: true },
                    resync,
                )));
            }
            Ok(Ok((Some(id), None)))
        }
        _ => {
            let message = format!("waiting for VpcEndpointService {ns}/{} to be Ready", r.name);
            Ok(Err((Phase::Progressing { reason: reason::WAITING_FOR_SERVICE.into(), message }, resync)))
        }
    }
}

/// The `CreateVpcEndpoint` request, without its ClientToken.
fn create_request(
    obj: &VpcEndpoint,
    uid: &str,
    service: (Option<String>, Option<String>),
) -> CreateVpcEndpoint {
    let spec = &obj.spec;
    let mut tags: Vec<TagParam> =
        spec.tags.iter().map(|t| TagParam { key: t.key.clone(), value: t.value.clone() }).collect();
    tags.push(TagParam { key: OWNER_TAG_KEY.into(), value: uid.into() });
    CreateVpcEndpoint {
        region_id: spec.region_id.clone(),
        client_token: None,
        vpc_id: spec.vpc_id.clone(),
        service_id: service.0,
        service_name: service.1,
        endpoint_name: spec.endpoint_name.clone(),
        endpoint_description: spec.endpoint_description.clone(),
        endpoint_type: spec.endpoint_type.map(|t| format!("{t:?}")),
        zone_private_ip_address_count: spec.zone_private_ip_address_count,
        protected_enabled: spec.protected_enabled,
        resource_group_id: spec.resource_group_id.clone(),
        security_group_ids: spec.security_group_ids.clone(),
        zones: spec
            .zones
            .iter()
            .map(|z| ZoneParam {
                zone_id: z.zone_id.clone(),
                v_switch_id: z.v_switch_id.clone(),
                ip: z.ip.clone(),
            })
            .collect(),
        tags,
    }
}

/// The ClientToken of a Create: `k8s-<uid>-<16 hex>`, a pure function of the UID, the request and the
/// endpoint this one replaces (see the service kind's token).
pub fn client_token(uid: &str, req: &CreateVpcEndpoint, replaced: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(canonical_query(&req.identity_params().0).as_bytes());
    h.update(b"\n");
    h.update(replaced.unwrap_or_default().as_bytes());
    let digest = hex::encode(h.finalize());
    let uid_part: String = uid.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
    format!("k8s-{uid_part}-{}", &digest[..16])
}

async fn apply(obj: &VpcEndpoint, ctx: &EndpointContext, api: &Api<VpcEndpoint>) -> Result<Action> {
    let base = ctx.base.as_ref();
    let mut st = obj.status.clone().unwrap_or_default();
    if let Some(r) = reconcile_request(obj) {
        st.last_handled_reconcile_at = Some(r.to_string());
        ctx.record_in_sync(obj, false);
    }
    let uid = obj.uid().ok_or(Error::MissingObjectKey("uid"))?;
    let ns = ns_of(obj)?;
    let creds = match observe::credentials_in(base, &ns, obj.spec.credentials_secret_ref.as_ref()).await {
        Ok(c) => c,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let current = obj.spec.credentials_secret_ref.as_ref().map(|r| r.name.clone());
    if st.protected_secret != current {
        if let Some(old) = st.protected_secret.clone()
            && let Err(e) = secrets::release_if_unused(base, &ns, &old, None).await
        {
            return fail(obj, ctx, api, st, e).await;
        }
        st.protected_secret = current;
    }
    let account = match base.account_of(&creds).await {
        Ok(a) => a,
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    let recorded_account = st.account_id.clone().or_else(|| recorded(obj).1.map(str::to_string));
    if let Some(recorded) = recorded_account
        && recorded != account
    {
        let message = format!(
            "the credentials belong to account {account}, but endpoint {} is in account {recorded}; nothing is created, changed or deleted until the credentials point at {recorded} again",
            st.endpoint_id.as_deref().unwrap_or("(pending)")
        );
        let phase = Phase::Failed { reason: "AccountMismatch".into(), message, terminal: true };
        return settle(obj, ctx, api, st, phase, Wait::Fixed(crate::reconcile::ACCOUNT_RECHECK)).await;
    }
    match observe_endpoint(obj, base, &creds, &uid, &st).await {
        Err(e) => fail(obj, ctx, api, st, e).await,
        Ok(Seen::Absent) if observe_only(obj) => {
            let message = format!(
                "managementPolicy Observe: no endpoint found for this object (name one with the annotation {ADOPT_ANNOTATION}); nothing is created"
            );
            let phase = Phase::Failed { reason: "EndpointNotFound".into(), message, terminal: false };
            settle(obj, ctx, api, st, phase, Wait::Fixed(base.settings.resync)).await
        }
        Ok(Seen::Absent) => {
            let service = match target(obj, base)? {
                Ok(s) => s,
                Err((phase, wait)) => return settle(obj, ctx, api, st, phase, wait).await,
            };
            let st = VpcEndpointStatus { account_id: Some(account), ..st };
            create(obj, ctx, api, &creds, &uid, st, service).await
        }
        Ok(Seen::Gone(old)) if observe_only(obj) => {
            let message =
                format!("managementPolicy Observe: endpoint {old} no longer exists; nothing is created");
            let phase = Phase::Failed { reason: "EndpointGone".into(), message, terminal: false };
            settle(obj, ctx, api, st, phase, Wait::Fixed(base.settings.resync)).await
        }
        Ok(Seen::Gone(old)) => {
            let st = VpcEndpointStatus {
                conditions: st.conditions,
                replaced_endpoint_id: Some(old.clone()),
                account_id: st.account_id,
                protected_secret: st.protected_secret,
                last_handled_reconcile_at: st.last_handled_reconcile_at,
                exported_config_map: st.exported_config_map,
                ..Default::default()
            };
            let message = format!(
                "endpoint {old} no longer exists in Alibaba Cloud (deleted outside Kubernetes); creating a replacement"
            );
            base.publish(obj, EventType::Warning, "EndpointGone", "Reconcile", message.clone()).await;
            let phase = Phase::Progressing { reason: "Recreating".into(), message };
            settle(obj, ctx, api, st, phase, Wait::Soon(Duration::from_millis(100))).await
        }
        Ok(Seen::Confirming(id)) => {
            let message = format!(
                "endpoint {id} reads as gone but is still listed with this object's ownership tag; confirming before acting"
            );
            settle(obj, ctx, api, st, Phase::Progressing { reason: "Confirming".into(), message }, Wait::Poll)
                .await
        }
        Ok(Seen::Conflict { endpoint_id, owner }) => {
            let message = format!(
                "endpoint {endpoint_id} belongs to another resource (ownership tag {OWNER_TAG_KEY}={owner}); not adopting it, nothing was changed"
            );
            let phase = Phase::Failed { reason: "AdoptionConflict".into(), message, terminal: true };
            settle(obj, ctx, api, st, phase, Wait::Fixed(base.settings.terminal_retry)).await
        }
        Ok(Seen::Found(attrs)) => {
            let st = VpcEndpointStatus { account_id: st.account_id.or(Some(account)), ..st };
            converge(obj, ctx, api, &creds, st, *attrs).await
        }
    }
}

async fn create(
    obj: &VpcEndpoint,
    ctx: &EndpointContext,
    api: &Api<VpcEndpoint>,
    creds: &Credentials,
    uid: &str,
    mut st: VpcEndpointStatus,
    service: (Option<String>, Option<String>),
) -> Result<Action> {
    let mut req = create_request(obj, uid, service);
    let token = match st.create_client_token.clone() {
        Some(t) => t,
        None => {
            // Persisted before the call: every retry sends the same token.
            let t = client_token(uid, &req, st.replaced_endpoint_id.as_deref());
            st.create_client_token = Some(t.clone());
            st.region_id = Some(obj.spec.region_id.clone());
            let mut persisted = st.clone();
            apply_phase_to(
                &mut persisted.conditions,
                &Phase::Progressing { reason: "Creating".into(), message: "creating the endpoint".into() },
                obj.metadata.generation,
                &now(),
            );
            persisted.observed_generation = obj.metadata.generation;
            write_status(api, obj, &persisted).await?;
            st = persisted;
            t
        }
    };
    req.client_token = Some(token);
    let resp = match ctx.base.cloud.call(creds, &req).await {
        Ok(r) => r,
        Err(CallError::Cloud(e)) if e.code == "IdempotenceSignatureMismatch" => {
            let message = format!(
                "a Create with this object's ClientToken already happened (RequestId: {}); looking the endpoint up by its ownership tag",
                e.request_id
            );
            return settle(
                obj,
                ctx,
                api,
                st,
                Phase::Progressing { reason: "Creating".into(), message },
                Wait::Poll,
            )
            .await;
        }
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    info!(endpoint_id = %resp.endpoint_id, request_id = %resp.request_id, "created endpoint");
    absorb(&mut st, &resp);
    st.region_id = Some(obj.spec.region_id.clone());
    ctx.base
        .publish(
            obj,
            EventType::Normal,
            "Created",
            "Create",
            format!("Created endpoint {}", resp.endpoint_id),
        )
        .await;
    let message = format!("endpoint {} is being created", resp.endpoint_id);
    settle(obj, ctx, api, st, Phase::Progressing { reason: "Creating".into(), message }, Wait::Poll).await
}

/// Copy the cloud's view of the endpoint into the status.
fn absorb(st: &mut VpcEndpointStatus, a: &EndpointAttributes) {
    st.endpoint_id = Some(a.endpoint_id.clone());
    let keep = |new: &Option<String>, old: &mut Option<String>| {
        if new.as_deref().is_some_and(|v| !v.is_empty()) {
            *old = new.clone();
        }
    };
    keep(&a.endpoint_domain, &mut st.endpoint_domain);
    keep(&a.endpoint_status, &mut st.endpoint_status);
    keep(&a.endpoint_business_status, &mut st.endpoint_business_status);
    keep(&a.connection_status, &mut st.connection_status);
    keep(&a.service_id, &mut st.service_id);
    keep(&a.service_name, &mut st.service_name);
}

fn zone_rows(zones: &[EndpointZoneRow]) -> Vec<EndpointZoneStatus> {
    let mut rows: Vec<EndpointZoneStatus> = zones
        .iter()
        .map(|z| EndpointZoneStatus {
            zone_id: z.zone_id.clone(),
            v_switch_id: z.v_switch_id.clone(),
            ip: z.eni_ip.clone(),
            domain: z.zone_domain.clone(),
            status: z.zone_status.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.zone_id.cmp(&b.zone_id));
    rows
}

async fn list_zones(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    id: &str,
) -> Result<Vec<EndpointZoneRow>> {
    let mut out = vec![];
    let mut next_token = None;
    loop {
        let req = ListVpcEndpointZones { region_id: region.into(), endpoint_id: id.into(), next_token };
        let page = ctx.cloud.call(creds, &req).await?;
        out.extend(page.zones);
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            return Ok(out);
        }
    }
}

async fn list_groups(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    id: &str,
) -> Result<Vec<EndpointSecurityGroupRow>> {
    let mut out = vec![];
    let mut next_token = None;
    loop {
        let req =
            ListVpcEndpointSecurityGroups { region_id: region.into(), endpoint_id: id.into(), next_token };
        let page = ctx.cloud.call(creds, &req).await?;
        out.extend(page.security_groups);
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            return Ok(out);
        }
    }
}

async fn converge(
    obj: &VpcEndpoint,
    ctx: &EndpointContext,
    api: &Api<VpcEndpoint>,
    creds: &Credentials,
    mut st: VpcEndpointStatus,
    attrs: EndpointAttributes,
) -> Result<Action> {
    let base = ctx.base.as_ref();
    let region = obj.region().to_string();
    let id = attrs.endpoint_id.clone();
    if !observe_only(obj)
        && let Err(e) = record(obj, api, &id, st.account_id.as_deref()).await
    {
        return fail(obj, ctx, api, st, e).await;
    }
    absorb(&mut st, &attrs);
    st.region_id = Some(region.clone());
    // Zones (the status shows their domains and IPs) and security groups are read while the endpoint
    // is not known to match this generation, and once per resync after that (drift).
    let read = attrs.status() == EndpointStatus::Active && !ctx.recently_in_sync(obj);
    let (zones, groups) = if read {
        let zones = match list_zones(base, creds, &region, &id).await {
            Ok(z) => z,
            Err(e) => return fail(obj, ctx, api, st, e).await,
        };
        let groups = match list_groups(base, creds, &region, &id).await {
            Ok(g) => g,
            Err(e) => return fail(obj, ctx, api, st, e).await,
        };
        st.zones = zone_rows(&zones);
        (Some(zones), Some(groups))
    } else {
        (None, None)
    };
    let next = plan::next(&obj.spec, &attrs, zones.as_deref(), groups.as_deref());
    if read {
        ctx.record_in_sync(obj, next == Next::InSync);
    }
    if let Next::Act(step) = &next
        && !observe_only(obj)
    {
        if let Err(e) = act(base, creds, &region, &id, step).await {
            return fail(obj, ctx, api, st, e).await;
        }
        let (reason, note) = step_event(step, &id);
        base.publish(obj, EventType::Normal, reason, "Update", note.clone()).await;
        ctx.record_in_sync(obj, false);
        // A drift correction on a Ready endpoint keeps it Ready (no flap); a new generation shows
        // Updating until it is in place.
        let phase = if is_ready_for_generation(obj) {
            Phase::Available { message: format!("endpoint {id} is Active and Connected; {note}") }
        } else {
            Phase::Progressing { reason: "Updating".into(), message: note }
        };
        return settle(obj, ctx, api, st, phase, Wait::Soon(Duration::from_secs(1))).await;
    }
    let (mut phase, wait) = plan::phase(
        &attrs,
        &next,
        is_ready_for_generation(obj),
        base.settings.connection_poll,
        base.settings.resync,
    );
    if let Next::Act(step) = &next
        && observe_only(obj)
        && phase.is_ready()
    {
        phase = Phase::Available {
            message: format!(
                "managementPolicy Observe: differs from the spec ({step:?}); nothing is changed"
            ),
        };
    }
    if let Some(conflict) = export_sync(ctx, obj, &mut st).await? {
        let (p, w) = conflict.phase();
        return settle(obj, ctx, api, st, p, w).await;
    }
    settle(obj, ctx, api, st, phase, wait).await
}

fn step_event(step: &Step, id: &str) -> (&'static str, String) {
    match step {
        Step::AttachSecurityGroup(g) => {
            ("SecurityGroupAttached", format!("attaching security group {g} to endpoint {id}"))
        }
        Step::DetachSecurityGroup(g) => {
            ("SecurityGroupDetached", format!("detaching security group {g} from endpoint {id}"))
        }
        Step::AddZone(z) => {
            ("ZoneAdded", format!("adding zone {} ({}) to endpoint {id}", z.zone_id, z.v_switch_id))
        }
        Step::RemoveZone(z) => ("ZoneRemoved", format!("removing zone {z} from endpoint {id}")),
        Step::Update { .. } => ("Updated", format!("updating the name and description of endpoint {id}")),
    }
}

async fn act(ctx: &Context, creds: &Credentials, region: &str, id: &str, step: &Step) -> Result<()> {
    let (region_id, endpoint_id) = (region.to_string(), id.to_string());
    match step.clone() {
        Step::AttachSecurityGroup(security_group_id) => {
            ctx.cloud.call(creds, &AttachSecurityGroup { region_id, endpoint_id, security_group_id }).await?;
        }
        Step::DetachSecurityGroup(security_group_id) => {
            ctx.cloud.call(creds, &DetachSecurityGroup { region_id, endpoint_id, security_group_id }).await?;
        }
        Step::AddZone(zone) => {
            ctx.cloud.call(creds, &AddZoneToVpcEndpoint { region_id, endpoint_id, zone }).await?;
        }
        Step::RemoveZone(zone_id) => {
            ctx.cloud.call(creds, &RemoveZoneFromVpcEndpoint { region_id, endpoint_id, zone_id }).await?;
        }
        Step::Update { name, description } => {
            let req = UpdateVpcEndpointAttribute {
                region_id,
                endpoint_id,
                endpoint_name: name,
                endpoint_description: description,
            };
            ctx.cloud.call(creds, &req).await?;
        }
    }
    Ok(())
}

/// The keys exported to `spec.exportTo` (only the ones known so far).
pub fn export_data(obj: &VpcEndpoint, st: &VpcEndpointStatus) -> std::collections::BTreeMap<String, String> {
    let mut out: std::collections::BTreeMap<String, String> = [
        ("endpointId", st.endpoint_id.clone()),
        ("endpointDomain", st.endpoint_domain.clone()),
        ("serviceId", st.service_id.clone()),
        ("serviceName", st.service_name.clone()),
        ("regionId", Some(st.region_id.clone().unwrap_or_else(|| obj.spec.region_id.clone()))),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
    .collect();
    for z in &st.zones {
        if let Some(d) = z.domain.clone().filter(|d| !d.is_empty()) {
            out.insert(format!("zoneDomain.{}", z.zone_id), d);
        }
    }
    out
}

async fn export_sync(
    ctx: &EndpointContext,
    obj: &VpcEndpoint,
    st: &mut VpcEndpointStatus,
) -> Result<Option<export::Conflict>> {
    let ns = ns_of(obj)?;
    let uid = obj.uid().unwrap_or_default();
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(ctx.base.client.clone(), &ns);
    let wanted = obj.spec.export_to.as_ref().map(|e| e.config_map_name.clone());
    if let Some(old) = st.exported_config_map.clone()
        && Some(&old) != wanted.as_ref()
    {
        export::remove(&cms, &old, &uid).await?;
        st.exported_config_map = None;
    }
    let Some(name) = wanted else { return Ok(None) };
    let want = export_data(obj, st);
    let fp = {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        (&name, &want).hash(&mut h);
        h.finish()
    };
    let key = ObjectRef::from(obj);
    let current = ctx
        .objects
        .lock()
        .get(&key)
        .and_then(|m| m.exported)
        .is_some_and(|(f, at)| f == fp && at.elapsed() < ctx.base.settings.resync);
    if current && reconcile_request(obj).is_none() {
        st.exported_config_map = Some(name);
        return Ok(None);
    }
    if let Some(conflict) = export::put(&cms, &ns, &name, &uid, export::owner_reference(obj), &want).await? {
        ctx.objects.lock().entry(key).or_default().exported = None;
        return Ok(Some(conflict));
    }
    st.exported_config_map = Some(name);
    ctx.objects.lock().entry(key).or_default().exported = Some((fp, Instant::now()));
    Ok(None)
}

/// Keep the finalizer and look again.
fn again(what: String, after: Option<Duration>) -> Error {
    Error::Requeue { reason: what, after }
}

async fn cleanup(obj: &VpcEndpoint, ctx: &EndpointContext, api: &Api<VpcEndpoint>) -> Result<Action> {
    let action = teardown(obj, ctx, api).await?;
    let ns = ns_of(obj)?;
    let uid = obj.uid().unwrap_or_default();
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(ctx.base.client.clone(), &ns);
    let recorded = obj.status.as_ref().and_then(|s| s.exported_config_map.clone());
    let specified = obj.spec.export_to.as_ref().map(|e| e.config_map_name.clone());
    for name in recorded.into_iter().chain(specified) {
        export::remove(&cms, &name, &uid).await?;
    }
    for name in secrets::protected_by(obj) {
        secrets::release_if_unused(&ctx.base, &ns, &name, Some(obj)).await?;
    }
    Ok(action)
}

async fn teardown(obj: &VpcEndpoint, ctx: &EndpointContext, api: &Api<VpcEndpoint>) -> Result<Action> {
    let base = ctx.base.as_ref();
    let st = obj.status.clone().unwrap_or_default();
    if keeps_endpoint(obj) {
        if let Some(id) = &st.endpoint_id {
            info!(endpoint_id = %id, "deletionPolicy Orphan / observe-only: the endpoint stays in Alibaba Cloud");
            base.publish(
                obj,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!("endpoint {id} is left in Alibaba Cloud"),
            )
            .await;
        }
        return Ok(Action::await_change());
    }
    let uid = obj.uid().ok_or(Error::MissingObjectKey("uid"))?;
    let creds =
        match observe::credentials_in(base, &ns_of(obj)?, obj.spec.credentials_secret_ref.as_ref()).await {
            Ok(c) => c,
            Err(e) => return fail(obj, ctx, api, st, e).await,
        };
    let account = base.account_of(&creds).await?;
    if let Some(recorded) = st.account_id.clone()
        && recorded != account
    {
        let message = format!(
            "deletion waits: the credentials belong to account {account}, the endpoint to {recorded}"
        );
        let phase = Phase::Failed { reason: "AccountMismatch".into(), message, terminal: true };
        settle(obj, ctx, api, st, phase, Wait::Fixed(crate::reconcile::ACCOUNT_RECHECK)).await?;
        return Err(again("account mismatch".into(), Some(crate::reconcile::ACCOUNT_RECHECK)));
    }
    let region = obj.region().to_string();
    let attrs = match observe_endpoint(obj, base, &creds, &uid, &st).await? {
        Seen::Absent | Seen::Gone(_) => {
            if let Some(id) = &st.endpoint_id {
                base.publish(obj, EventType::Normal, "Deleted", "Delete", format!("Deleted endpoint {id}"))
                    .await;
            }
            return Ok(Action::await_change());
        }
        Seen::Confirming(id) => return Err(again(format!("confirming that endpoint {id} is gone"), None)),
        // Never delete what is not ours.
        Seen::Conflict { .. } => return Ok(Action::await_change()),
        Seen::Found(a) => *a,
    };
    let id = attrs.endpoint_id.clone();
    let zones = if attrs.status() == EndpointStatus::Active {
        list_zones(base, &creds, &region, &id).await?
    } else {
        vec![]
    };
    let step = plan::teardown(&attrs, &zones);
    let mut st = st;
    absorb(&mut st, &attrs);
    st.zones = zone_rows(&zones);
    let phase = Phase::Progressing {
        reason: "Deleting".into(),
        message: format!("deleting endpoint {id}: {step:?}"),
    };
    apply_phase_to(&mut st.conditions, &phase, obj.metadata.generation, &now());
    if let Err(e) = write_status(api, obj, &st).await {
        warn!(error = %e, "could not write the deletion status");
    }
    let result = match &step {
        Teardown::Wait(what) => return Err(again(what.clone(), None)),
        Teardown::RemoveZone(zone_id) => {
            let req = RemoveZoneFromVpcEndpoint {
                region_id: region.clone(),
                endpoint_id: id.clone(),
                zone_id: zone_id.clone(),
            };
            base.cloud.call(&creds, &req).await.map(|_| ())
        }
        Teardown::Delete => {
            let req = DeleteVpcEndpoint { region_id: region.clone(), endpoint_id: id.clone() };
            base.cloud.call(&creds, &req).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => Err(again(format!("endpoint {id}: {step:?} sent"), Some(Duration::from_secs(1)))),
        Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) => {
            Err(again(format!("endpoint {id}: confirming"), None))
        }
        Err(e) => {
            let err: Error = e.into();
            let (reason, message) = describe(&err);
            let phase = Phase::Failed { reason, message, terminal: err.is_terminal() };
            let mut st = st;
            apply_phase_to(&mut st.conditions, &phase, obj.metadata.generation, &now());
            let _ = write_status(api, obj, &st).await;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(uid: &str) -> VpcEndpoint {
        let mut o = VpcEndpoint::new(
            "e",
            serde_json::from_value(serde_json::json!({
                "regionId": "cn-hangzhou", "serviceId": "epsrv-a", "vpcId": "vpc-1",
                "securityGroupIds": ["sg-1"], "zones": [{"zoneId": "a", "vSwitchId": "vsw-a"}],
            }))
            .unwrap(),
        );
        o.metadata.uid = Some(uid.into());
        o.metadata.namespace = Some("default".into());
        o
    }

    #[test]
    fn the_create_carries_the_ownership_tag_and_a_stable_token() {
        let o = endpoint("u-1");
        let req = create_request(&o, "u-1", (Some("epsrv-a".into()), None));
        assert!(req.tags.iter().any(|t| t.key == OWNER_TAG_KEY && t.value == "u-1"));
        let t1 = client_token("u-1", &req, None);
        assert_eq!(t1, client_token("u-1", &req, None), "a retry sends the same token");
        assert!(t1.starts_with("k8s-u-1-") && t1.len() <= 64);
        assert_ne!(t1, client_token("u-2", &req, None), "another object, another token");
        assert_ne!(t1, client_token("u-1", &req, Some("ep-old")), "a replacement is a new Create");
    }

    #[test]
    fn export_has_endpoint_identity_and_zone_domains() {
        let o = endpoint("u");
        let st = VpcEndpointStatus {
            endpoint_id: Some("ep-1".into()),
            endpoint_domain: Some("ep-1.epsrv-a.cn-hangzhou.privatelink.aliyuncs.com".into()),
            service_id: Some("epsrv-a".into()),
            zones: vec![EndpointZoneStatus {
                zone_id: "a".into(),
                domain: Some("ep-1-a.x".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let d = export_data(&o, &st);
        assert_eq!(d.get("endpointId").map(String::as_str), Some("ep-1"));
        assert_eq!(d.get("regionId").map(String::as_str), Some("cn-hangzhou"));
        assert_eq!(d.get("zoneDomain.a").map(String::as_str), Some("ep-1-a.x"));
        assert!(!d.contains_key("serviceName"), "unknown values are not exported");
    }
}
