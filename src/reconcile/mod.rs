//! Reconciliation of `VpcEndpointService`: observe → plan → act.
//!
//! * [`observe`]: credentials and the cloud's view of the service (Get, or adoption by ownership tag).
//! * [`create`], [`update`]: pure planning of Create / Update / tag / resource changes.
//! * [`plan`]: the decisions as pure functions (teardown so far), every safety rule a table row.
//! * [`delete`]: the finalizer's cleanup (observe → [`plan::teardown`] → act → report).
//! * [`status`]: conditions and the status patch.
//! * [`schedule`]: when to look again (polling, backoff), pure.
//!
//! Cloud errors are written to the status (reason = Alibaba code, message with RequestId) and returned,
//! so `error_policy` can back off per object. A per-object gate swallows the watch event our own status
//! patch causes, so a failing call is not repeated at once and a poll is not doubled.

pub mod create;
pub mod delete;
pub mod observe;
pub mod plan;
pub mod schedule;
pub mod status;
#[cfg(test)]
mod tests;
pub mod update;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        controller::Action,
        events::{Event as KubeEvent, EventType, Recorder},
        finalizer::{Event as Finalizer, finalizer},
        reflector::ObjectRef,
    },
};
use parking_lot::Mutex;
use tracing::{info, instrument, warn};

use self::{
    observe::Observed,
    schedule::{Gate, Wait},
    status::{Phase, apply_phase, write_status},
};
use crate::{
    alicloud::{
        AliCloudClient, CallError, Credentials, DefaultCredentials, ErrorClass,
        ops::{
            AttachResource, ChangeResourceGroup, DetachResource, ServiceAttributes, TagResources,
            UntagResources,
        },
    },
    crd::{FINALIZER, VpcEndpointService, VpcEndpointServiceStatus},
    error::{Error, Result},
    metrics::{Metrics, ReadyLabels},
};

/// Tunables of the reconciler.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Drift-check interval once Ready.
    pub resync: Duration,
    /// Safety retry of terminal errors (a spec change retries at once).
    pub terminal_retry: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { resync: Duration::from_secs(600), terminal_retry: Duration::from_secs(1800) }
    }
}

/// Shared state of all reconciliations.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// PrivateLink client.
    pub cloud: AliCloudClient,
    /// Operator-wide credentials, when configured.
    pub default_credentials: Option<DefaultCredentials>,
    /// Event recorder (one per controller, so events aggregate).
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables.
    pub settings: Settings,
    gates: Mutex<HashMap<ObjectRef<VpcEndpointService>, Gate>>,
    /// Access key ID → account ID (GetCallerIdentity, once per key).
    accounts: Mutex<HashMap<String, String>>,
    ready_states: Mutex<HashMap<ObjectRef<VpcEndpointService>, &'static str>>,
}

impl Context {
    /// Build the context.
    pub fn new(
        client: Client,
        cloud: AliCloudClient,
        default_credentials: Option<DefaultCredentials>,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        Self {
            client,
            cloud,
            default_credentials,
            recorder,
            metrics,
            settings,
            gates: Mutex::default(),
            accounts: Mutex::default(),
            ready_states: Mutex::default(),
        }
    }

    fn gate_key(obj: &VpcEndpointService) -> ObjectRef<VpcEndpointService> {
        ObjectRef::from(obj)
    }

    /// Remaining wait if this reconcile is an echo of our own write within a wait period.
    fn gate_wait(&self, obj: &VpcEndpointService, now: Instant) -> Option<Duration> {
        let gates = self.gates.lock();
        gates.get(&Self::gate_key(obj)).and_then(|g| g.remaining(obj, now))
    }

    fn set_gate(&self, obj: &VpcEndpointService, wait: Wait, now: Instant) -> Duration {
        let mut gates = self.gates.lock();
        let gate = gates.entry(Self::gate_key(obj)).or_default();
        gate.schedule(obj, wait, now)
    }

    fn forget(&self, obj: &VpcEndpointService) {
        self.gates.lock().remove(&Self::gate_key(obj));
        self.track_ready(obj, None);
    }

    fn track_ready(&self, obj: &VpcEndpointService, state: Option<&'static str>) {
        let mut states = self.ready_states.lock();
        let key = Self::gate_key(obj);
        let old = match state {
            Some(s) => states.insert(key, s),
            None => states.remove(&key),
        };
        if old != state {
            if let Some(o) = old {
                self.metrics.objects.get_or_create(&ReadyLabels { ready: o.into() }).dec();
            }
            if let Some(s) = state {
                self.metrics.objects.get_or_create(&ReadyLabels { ready: s.into() }).inc();
            }
        }
    }

    /// The account the credentials belong to (one STS GetCallerIdentity per access key, then cached).
    pub async fn account_of(&self, creds: &Credentials) -> std::result::Result<String, CallError> {
        if let Some(a) = self.accounts.lock().get(&creds.access_key_id) {
            return Ok(a.clone());
        }
        let id =
            self.cloud.call(creds, &crate::alicloud::ops::GetCallerIdentity::default()).await?.account_id;
        let mut accounts = self.accounts.lock();
        if accounts.len() >= 10_000 {
            accounts.clear();
        }
        accounts.insert(creds.access_key_id.clone(), id.clone());
        Ok(id)
    }

    /// Publish an Event without holding up the reconcile (Events are informational; a slot spent
    /// waiting on them delays every other object's due poll).
    async fn publish(
        &self,
        obj: &VpcEndpointService,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ev = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        let reference = obj.object_ref(&());
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&ev, &reference).await {
                warn!(error = %e, "could not publish event");
            }
        });
    }
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// The controller's reconcile function.
#[instrument(skip(obj, ctx), fields(namespace = obj.namespace().unwrap_or_default(), name = obj.name_any(), service_id = obj.service_id().unwrap_or_default()))]
pub async fn reconcile(obj: Arc<VpcEndpointService>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    if let Some(wait) = ctx.gate_wait(&obj, started) {
        return Ok(Action::requeue(wait));
    }
    ctx.metrics.reconcile_runs.inc();
    let ns = obj.namespace().ok_or(Error::MissingObjectKey("namespace"))?;
    let api: Api<VpcEndpointService> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, FINALIZER, obj.clone(), |event| async {
        match event {
            Finalizer::Apply(o) => apply(&o, &ctx, &api).await,
            Finalizer::Cleanup(o) => delete::cleanup(&o, &ctx, &api).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)).flatten());
    ctx.metrics.reconcile_duration.observe(started.elapsed().as_secs_f64());
    if result.is_ok() && obj.metadata.deletion_timestamp.is_some() {
        // The finalizer is gone: the object leaves the cluster.
        ctx.forget(&obj);
    }
    result
}

/// The controller's error policy: per-object backoff by error class, honouring `x-acs-retry-after`.
pub fn error_policy(obj: Arc<VpcEndpointService>, err: &Error, ctx: Arc<Context>) -> Action {
    let wait = match err {
        Error::Requeue { after, .. } => after.map_or(Wait::Poll, Wait::Soon),
        Error::Cloud(CallError::Cloud(e)) => match e.class() {
            ErrorClass::Terminal => Wait::Fixed(ctx.settings.terminal_retry),
            ErrorClass::Busy => Wait::Backoff { base: Duration::from_secs(2), hint: e.retry_after },
            ErrorClass::Retryable | ErrorClass::NotFound => {
                Wait::Backoff { base: Duration::from_secs(5), hint: e.retry_after }
            }
        },
        e if e.is_terminal() => Wait::Fixed(ctx.settings.terminal_retry),
        _ => Wait::Backoff { base: Duration::from_secs(5), hint: None },
    };
    if !matches!(err, Error::Requeue { .. }) {
        ctx.metrics
            .reconcile_failures
            .get_or_create(&crate::metrics::ReasonLabels { reason: err.reason() })
            .inc();
        warn!(name = obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err, "reconcile failed");
    }
    Action::requeue(ctx.set_gate(&obj, wait, Instant::now()))
}

/// Record a failure in the status (Ready=False with the reason), then hand the error to `error_policy`.
async fn fail(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    mut st: VpcEndpointServiceStatus,
    err: Error,
) -> Result<Action> {
    let reason = err.reason();
    let message = match &err {
        Error::Cloud(CallError::Cloud(e)) => {
            format!("{}: {} (RequestId: {})", e.code, e.message, e.request_id)
        }
        other => other.to_string(),
    };
    let terminal = err.is_terminal();
    let phase =
        Phase::for_error(reason.clone(), message.clone(), terminal, status::is_ready_for_generation(obj));
    // The condition that carries the error: Ready when failed, Synced when only degraded.
    let carrier = if phase.is_ready() { status::cond::SYNCED } else { status::cond::READY };
    let previous_reason = status::condition(obj.status.as_ref(), carrier).map(|c| c.reason.clone());
    apply_phase(&mut st, &phase, obj.metadata.generation, &now());
    if let Err(e) = write_status(api, obj, &st).await {
        warn!(error = %e, "could not record the failure in status");
    } else if previous_reason.as_deref() != Some(reason.as_str()) {
        ctx.publish(obj, EventType::Warning, &reason, "Reconcile", message).await;
    }
    ctx.track_ready(obj, Some(if phase.is_ready() { "True" } else { "False" }));
    Err(err)
}

/// Write the status for a phase (only if it changed) and keep the Ready gauge and events current.
async fn write_phase(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    mut st: VpcEndpointServiceStatus,
    phase: &Phase,
) -> Result<()> {
    let was_ready = status::is_ready_for_generation(obj);
    apply_phase(&mut st, phase, obj.metadata.generation, &now());
    if write_status(api, obj, &st).await? {
        ctx.metrics.status_patches.inc();
    }
    if let Phase::Degraded { .. } = phase {
        ctx.track_ready(obj, Some("True"));
    } else if let Phase::Available { message } = phase {
        ctx.track_ready(obj, Some("True"));
        if !was_ready {
            info!(service_id = st.service_id.as_deref().unwrap_or_default(), "endpoint service is Ready");
            ctx.publish(obj, EventType::Normal, "Available", "Reconcile", message.clone()).await;
        }
    } else {
        ctx.track_ready(obj, Some("False"));
    }
    Ok(())
}

/// Write the status for a phase and decide when to look again.
async fn settle(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    st: VpcEndpointServiceStatus,
    phase: Phase,
    wait: Wait,
) -> Result<Action> {
    write_phase(obj, ctx, api, st, &phase).await?;
    Ok(Action::requeue(ctx.set_gate(obj, wait, Instant::now())))
}

/// How often an object whose credentials point at another account looks again (a Secret edit is not
/// watched).
pub const ACCOUNT_RECHECK: Duration = Duration::from_secs(300);

/// The phase of an object whose credentials belong to another account than its service.
fn account_mismatch(recorded: &str, now: &str, service_id: Option<&str>) -> Phase {
    Phase::Failed {
        reason: "AccountMismatch".into(),
        message: format!(
            "the credentials belong to account {now}, but endpoint service {} is in account {recorded}; nothing is created, changed or deleted until the credentials point at {recorded} again",
            service_id.unwrap_or("(pending)")
        ),
        terminal: true,
    }
}

async fn apply(obj: &VpcEndpointService, ctx: &Context, api: &Api<VpcEndpointService>) -> Result<Action> {
    let st = obj.status.clone().unwrap_or_default();
    let uid = obj.uid().ok_or(Error::MissingObjectKey("uid"))?;
    let creds = match observe::credentials(obj, ctx).await {
        Ok(c) => c,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let account = match ctx.account_of(&creds).await {
        Ok(a) => a,
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    match st.account_id.clone() {
        Some(recorded) if recorded != account => {
            let phase = account_mismatch(&recorded, &account, st.service_id.as_deref());
            return settle(obj, ctx, api, st, phase, Wait::Fixed(ACCOUNT_RECHECK)).await;
        }
        _ => {}
    }
    match observe::observe(obj, ctx, &creds, &uid, &st).await {
        Err(e) => fail(obj, ctx, api, st, e).await,
        Ok(Observed::Absent) => {
            let st = VpcEndpointServiceStatus { account_id: Some(account), ..st };
            create_service(obj, ctx, api, &creds, &uid, st).await
        }
        Ok(Observed::Gone(old)) => {
            // A new token: the replacement is a new Create, not a retry of the first.
            let st = VpcEndpointServiceStatus {
                conditions: st.conditions,
                replaced_service_id: Some(old.clone()),
                create_client_token: None,
                account_id: st.account_id,
                ..Default::default()
            };
            let message = format!(
                "endpoint service {old} no longer exists in Alibaba Cloud (deleted outside Kubernetes); creating a replacement"
            );
            ctx.publish(obj, EventType::Warning, "ServiceGone", "Reconcile", message.clone()).await;
            settle(
                obj,
                ctx,
                api,
                st,
                Phase::Progressing { reason: "Recreating".into(), message },
                Wait::Soon(Duration::from_millis(100)),
            )
            .await
        }
        Ok(Observed::Found(attrs)) => {
            let st = VpcEndpointServiceStatus { account_id: st.account_id.or(Some(account)), ..st };
            converge(obj, ctx, api, &creds, &uid, st, *attrs).await
        }
        Ok(Observed::Confirming(id)) => {
            let message = format!(
                "endpoint service {id} reads as gone but is still listed with this object's ownership tag; confirming before acting"
            );
            settle(obj, ctx, api, st, Phase::Progressing { reason: "Confirming".into(), message }, Wait::Poll)
                .await
        }
        Ok(Observed::Conflict { service_id, owner }) => {
            let message = format!(
                "endpoint service {service_id} belongs to another resource (ownership tag {}={owner}); not adopting it, nothing was changed",
                crate::crd::OWNER_TAG_KEY
            );
            let phase = Phase::Failed { reason: "AdoptionConflict".into(), message, terminal: true };
            settle(obj, ctx, api, st, phase, Wait::Fixed(ctx.settings.terminal_retry)).await
        }
    }
}

async fn create_service(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    creds: &Credentials,
    uid: &str,
    mut st: VpcEndpointServiceStatus,
) -> Result<Action> {
    let mut req = create::create_request(obj, uid);
    let token = match st.create_client_token.clone() {
        Some(t) => t,
        None => {
            // Persist the token before the call: every retry (after a crash, a lost answer or a spec
            // edit) sends the same one, so Alibaba can only ever create one service for this object.
            let t = create::client_token(uid, &req, st.replaced_service_id.as_deref());
            st.create_client_token = Some(t.clone());
            st.region_id = Some(obj.spec.region_id.clone());
            let phase = Phase::Progressing {
                reason: "Creating".into(),
                message: "creating the endpoint service".into(),
            };
            write_phase(obj, ctx, api, st.clone(), &phase).await?;
            t
        }
    };
    req.client_token = Some(token);
    let resp = match ctx.cloud.call(creds, &req).await {
        Ok(r) => r,
        // A Create with this token already happened with other parameters (the spec changed after a lost
        // answer): the service exists. Find it by its ownership tag; never create another.
        Err(CallError::Cloud(e)) if e.code == "IdempotenceSignatureMismatch" => {
            let message = format!(
                "a Create with this object's ClientToken already happened (RequestId: {}); looking the service up by its ownership tag",
                e.request_id
            );
            let phase = Phase::Progressing { reason: "Creating".into(), message };
            return settle(obj, ctx, api, st, phase, Wait::Poll).await;
        }
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    info!(service_id = %resp.service_id, request_id = %resp.request_id, "created endpoint service");
    st.service_id = Some(resp.service_id.clone());
    st.service_name = resp.service_name;
    st.service_domain = resp.service_domain;
    st.service_status = resp.service_status.or(Some("Creating".into()));
    st.service_business_status = resp.service_business_status;
    st.create_time = resp.create_time;
    st.region_id = Some(obj.spec.region_id.clone());
    ctx.publish(
        obj,
        EventType::Normal,
        "Created",
        "Create",
        format!("Created endpoint service {}", resp.service_id),
    )
    .await;
    // The ID goes to status before anything else: after a crash the next attempt finds it there. The
    // message is the one the polls write while Creating, so the first poll does not patch again.
    let phase = progressing(&resp.service_id, "Creating");
    settle(obj, ctx, api, st, phase, Wait::Soon(schedule::FIRST_POLL)).await
}

/// The phase of a service the cloud is still working on.
fn progressing(service_id: &str, cloud_status: &str) -> Phase {
    let (reason, what) = match cloud_status {
        "Creating" => ("Creating", "being created"),
        "Pending" => ("Updating", "applying a change"),
        "Deleting" => ("Deleting", "being deleted"),
        _ => ("Progressing", "not Active yet"),
    };
    Phase::Progressing {
        reason: reason.into(),
        message: format!("endpoint service {service_id} is {what} (status {cloud_status})"),
    }
}

/// What the convergence step did.
enum Step {
    /// A change was sent; wait for the service to settle.
    Changed(String),
    /// Nothing to change.
    InSync,
    /// A change would cut consumers' traffic: not made (the message says which endpoints hold it).
    Blocked(String),
}

async fn converge(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    creds: &Credentials,
    uid: &str,
    mut st: VpcEndpointServiceStatus,
    attrs: ServiceAttributes,
) -> Result<Action> {
    status::absorb_attributes(&mut st, &attrs);
    if st.region_id.is_none() {
        st.region_id = Some(obj.spec.region_id.clone());
    }
    let sid = attrs.service_id.clone();
    let cloud_status = attrs.service_status.clone().unwrap_or_default();
    if attrs.service_business_status.as_deref().is_some_and(|b| b != "Normal") {
        let b = attrs.service_business_status.clone().unwrap_or_default();
        let phase = Phase::Failed {
            reason: b.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
            message: format!(
                "endpoint service {sid} is {b} in Alibaba Cloud; changes are blocked until the account is settled (checked every {} minutes)",
                schedule::LOCKED_RECHECK.as_secs() / 60
            ),
            terminal: false,
        };
        return settle(obj, ctx, api, st, phase, Wait::Fixed(schedule::LOCKED_RECHECK)).await;
    }
    if cloud_status != "Active" {
        return settle(obj, ctx, api, st, progressing(&sid, &cloud_status), Wait::Poll).await;
    }
    let step = match sync_spec(obj, ctx, creds, uid, &attrs).await {
        Ok(step) => step,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    match step {
        Step::Changed(what) => {
            let message = format!("endpoint service {sid}: {what}");
            settle(
                obj,
                ctx,
                api,
                st,
                Phase::Progressing { reason: "Updating".into(), message },
                Wait::Soon(schedule::FIRST_POLL),
            )
            .await
        }
        Step::Blocked(message) => {
            let phase = Phase::Failed { reason: "DetachBlocked".into(), message, terminal: false };
            settle(obj, ctx, api, st, phase, Wait::Fixed(delete::BLOCKED_RECHECK)).await
        }
        Step::InSync => {
            let message = format!("endpoint service {sid} is Active");
            let resync = ctx.settings.resync;
            settle(obj, ctx, api, st, Phase::Available { message }, Wait::Fixed(resync)).await
        }
    }
}

/// Bring an Active service in line with the spec, one step at a time. Attributes are compared on every
/// pass (one Get per resync); tags, resources and the resource group only while the object is not yet
/// Ready for its generation, so steady state costs a single cloud read.
async fn sync_spec(
    obj: &VpcEndpointService,
    ctx: &Context,
    creds: &Credentials,
    uid: &str,
    attrs: &ServiceAttributes,
) -> Result<Step> {
    let region = obj.region().to_string();
    let sid = attrs.service_id.clone();
    let mut update = update::diff_attributes(&obj.spec, attrs);
    if !update.is_empty() {
        update.region_id = region;
        update.service_id = sid;
        ctx.cloud.call(creds, &update).await?;
        return Ok(Step::Changed("updating attributes".into()));
    }
    if status::is_ready_for_generation(obj) {
        return Ok(Step::InSync);
    }
    let actual = observe::resources(ctx, creds, &region, &sid).await?;
    match update::next_resource_change(&create::desired_resources(&obj.spec), &actual) {
        Some(update::ResourceChange::Attach(resource)) => {
            let what = format!("attaching {}", resource.resource_id);
            let op = AttachResource { region_id: region, service_id: sid, resource };
            ctx.cloud.call(creds, &op).await?;
            return Ok(Step::Changed(what));
        }
        Some(update::ResourceChange::Detach(resource)) => {
            let live = observe::connections(ctx, creds, &region, &sid).await?;
            let blockers = plan::detach_blockers(&live, resource.zone_id.as_deref());
            if !blockers.is_empty() {
                return Ok(Step::Blocked(plan::detach_blocked_message(
                    &sid,
                    &resource.resource_id,
                    &blockers,
                )));
            }
            let what = format!("detaching {}", resource.resource_id);
            let op = DetachResource { region_id: region, service_id: sid, resource };
            ctx.cloud.call(creds, &op).await?;
            return Ok(Step::Changed(what));
        }
        None => {}
    }
    let tags = observe::tags(ctx, creds, &region, &sid).await?;
    let (set, remove) = update::diff_tags(&create::desired_tags(&obj.spec, uid), &tags);
    if !remove.is_empty() {
        ctx.cloud
            .call(
                creds,
                &UntagResources { region_id: region.clone(), service_id: sid.clone(), tag_keys: remove },
            )
            .await?;
    }
    if !set.is_empty() {
        ctx.cloud
            .call(creds, &TagResources { region_id: region.clone(), service_id: sid.clone(), tags: set })
            .await?;
    }
    if let Some(rg) = &obj.spec.resource_group_id
        && attrs.resource_group_id.as_ref() != Some(rg)
    {
        let op = ChangeResourceGroup { region_id: region, service_id: sid, resource_group_id: rg.clone() };
        ctx.cloud.call(creds, &op).await?;
    }
    Ok(Step::InSync)
}
