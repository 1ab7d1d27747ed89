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

pub mod access;
pub mod admission;
pub mod backends;
pub mod control;
pub mod create;
pub mod delete;
pub mod export;
pub mod observe;
pub mod pacing;
pub mod plan;
pub mod restore;
pub mod schedule;
pub mod secrets;
pub mod slots;
pub mod status;
#[cfg(test)]
mod tests;
pub mod update;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::Time};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::ObjectMeta,
    runtime::{
        controller::Action,
        events::{Event as KubeEvent, EventType},
        finalizer::{Event as Finalizer, finalizer},
        reflector::{ObjectRef, Store},
    },
};
use parking_lot::Mutex;
use tracing::{info, instrument, warn};

use self::{
    access::Approval,
    admission::Decision,
    observe::Observed,
    plan::{Read, Sync},
    schedule::{Gate, Wait},
    status::{Phase, apply_phase, write_status},
};
use crate::{
    alicloud::vocab::{BusinessStatus, ConnectionStatus, ServiceStatus},
    alicloud::{
        AliCloudClient, CallError, Credentials, DefaultCredentials, ErrorClass,
        ops::{
            AddUser, AttachResource, ChangeResourceGroup, DetachResource, DisableConnection,
            EnableConnection, RemoveUser, ResourceParam, ServiceAttributes, TagResources, UntagResources,
            UpdateVpcEndpointServiceAttribute,
        },
    },
    cache::Cached,
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
    /// Connection poll between resyncs, for services with approval lists or unsettled connections.
    pub connection_poll: Duration,
    /// Reconciles doing I/O at once (`--concurrency`), handed out by urgency ([`slots`]).
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(600),
            terminal_retry: Duration::from_secs(1800),
            connection_poll: Duration::from_secs(30),
            concurrency: 8,
        }
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
    pub recorder: crate::events::Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Tunables.
    pub settings: Settings,
    /// What the reconciler remembers per object (dropped when the object leaves the cluster).
    objects: Mutex<HashMap<ObjectRef<VpcEndpointService>, Memory>>,
    /// Access key ID → account ID (GetCallerIdentity, once per key).
    accounts: Mutex<HashMap<String, String>>,
    /// The controller's cache, once the controller runs (who else uses a Secret, whose UID a service's
    /// ownership tag names).
    store: std::sync::OnceLock<(Store<Cached>, Arc<AtomicBool>)>,
    /// The cache of Services (metadata the CCM writes only), when the operator watches Services.
    services: std::sync::OnceLock<(Store<Service>, Arc<AtomicBool>)>,
    /// Which objects reference which Services (`spec.resources[].serviceRef`).
    backend_refs: Mutex<backends::RefIndex<ObjectRef<VpcEndpointService>>>,
    /// Creating durations seen so far, for the first poll of the next service ([`pacing`]).
    creating: Mutex<pacing::CreatingTimes>,
    /// The cache of `VpcEndpoint`s, when the operator serves that kind (who else uses a Secret).
    endpoints: std::sync::OnceLock<(Store<crate::crd::VpcEndpoint>, Arc<AtomicBool>)>,
    /// Who spends each account's budget next ([`admission`]).
    admission: Mutex<admission::Admission<ObjectRef<VpcEndpointService>>>,
    /// Kicks [`dispatch_turns`] when an object is parked.
    parked: tokio::sync::Notify,
    /// The `--concurrency` slots, most urgent pass first ([`slots`]).
    slots: slots::SlotGate<ObjectRef<VpcEndpointService>>,
}

/// Per-object memory.
#[derive(Default)]
struct Memory {
    gate: Gate,
    /// The Ready gauge's label for this object.
    ready: Option<&'static str>,
    /// Resync passes so far (starts at an offset spread by UID), for [`plan::drift_checks`].
    drift_pass: Option<u64>,
    /// The attribute update accepted for a generation: never sent again for that spec. Boxed: it is
    /// rare, and inline it would double the size of every object's entry.
    sent_update: Option<Box<(Option<i64>, UpdateVpcEndpointServiceAttribute)>>,
    /// When the next full pass (Get, drift checks) is due.
    full_due: Option<Instant>,
    /// The wake-up scheduled last is a connection poll (list connections only), not the full pass.
    poll_wake: bool,
    /// The export last written or verified (a fingerprint of name and data) and when.
    exported: Option<(u64, Instant)>,
    /// The object was reconciled since the operator started.
    seen: bool,
    /// The service this object created, until it is first read as Active ([`pacing`]).
    created_at: Option<NewService>,
    /// The service this process created for this object (its UID, the service ID), until the ID is in
    /// the status: the passes in between trust it as they would the status (this process made that
    /// Create for that UID). Boxed: only objects between their Create and their first `Active` read
    /// have one.
    created_service: Option<Box<(String, String)>>,
    /// Fingerprint of the `serviceRef`-resolved backends last found in sync: when the Services give
    /// other ones, the next pass lists the backends whatever the drift schedule says.
    backends: Option<u64>,
}

/// A service this object created that was not read as Active yet.
#[derive(Clone, Copy)]
struct NewService {
    /// When the Create answered.
    at: Instant,
    /// Reads since.
    reads: u32,
    /// The learnt first poll it was scheduled with.
    planned: Option<Duration>,
    /// When the last read found it still Creating (time since the Create).
    creating_seen: Option<Duration>,
}

impl Context {
    /// Build the context.
    pub fn new(
        client: Client,
        cloud: AliCloudClient,
        default_credentials: Option<DefaultCredentials>,
        recorder: crate::events::Recorder,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        Self {
            client,
            default_credentials,
            recorder,
            metrics,
            objects: Mutex::default(),
            accounts: Mutex::default(),
            store: std::sync::OnceLock::new(),
            services: std::sync::OnceLock::new(),
            backend_refs: Mutex::default(),
            creating: Mutex::default(),
            endpoints: std::sync::OnceLock::new(),
            admission: Mutex::new(admission::Admission::new(cloud.qps())),
            parked: tokio::sync::Notify::new(),
            slots: slots::SlotGate::new(settings.concurrency),
            settings,
            cloud,
        }
    }

    /// Hand the `VpcEndpoint` cache to the reconciler (once, at startup, when that kind is served).
    pub fn set_endpoint_store(&self, store: Store<crate::crd::VpcEndpoint>, listed: Arc<AtomicBool>) {
        let _ = self.endpoints.set((store, listed));
    }

    /// The `VpcEndpoint` cache, once it holds the first full list.
    pub(crate) fn endpoint_cache(&self) -> Option<&Store<crate::crd::VpcEndpoint>> {
        let (store, listed) = self.endpoints.get()?;
        listed.load(Ordering::Relaxed).then_some(store)
    }

    /// Every object of every kind that may use a credentials Secret, once each served kind's cache
    /// holds its first full list.
    pub(crate) fn secret_users(&self) -> Option<Vec<Arc<dyn secrets::UsesSecret>>> {
        let mut users: Vec<Arc<dyn secrets::UsesSecret>> = vec![];
        for o in self.cache()?.state() {
            users.push(o);
        }
        if self.endpoints.get().is_some() {
            for o in self.endpoint_cache()?.state() {
                users.push(o);
            }
        }
        Some(users)
    }

    /// A Ready object seen for the first time since the operator started (a restart, a new leader): its
    /// first full pass is spread over the resync period ([`schedule::spread`]) instead of every object
    /// reading the cloud at once; a service with approval lists or unsettled connections keeps its
    /// connection polls. Anything that needs action (a new generation, a deletion, reconcile-now, not
    /// Ready) goes on at once.
    fn first_sight(&self, obj: &VpcEndpointService) -> Option<Action> {
        let first = {
            let mut objects = self.objects.lock();
            let m = objects.entry(Self::gate_key(obj)).or_default();
            !std::mem::replace(&mut m.seen, true)
        };
        if !first || control::reconcile_request(obj).is_some() || !status::is_ready_for_generation(obj) {
            return None;
        }
        let uid = obj.metadata.uid.as_deref().unwrap_or_default();
        let full_due = Instant::now() + schedule::spread(uid, self.settings.resync);
        let known =
            obj.status.iter().flat_map(|s| &s.connections).map(|c| ConnectionStatus::parse(&c.status));
        let poll = access::needs_poll(&obj.spec, known);
        self.track_ready(obj, Some("True"));
        Some(self.schedule_wake(obj, poll, full_due))
    }

    /// The Create of this object answered now with `service_id`: remember the ID until the status has it
    /// ([`Self::created_here`]), and when to poll it first ([`pacing`]), counted from now.
    fn created(&self, obj: &VpcEndpointService, service_id: &str) -> Instant {
        let kind = create::resource_type_str(obj.spec.service_resource_type);
        let planned = self.creating.lock().learnt(obj.region(), kind);
        let at = Instant::now();
        let uid = obj.metadata.uid.clone().unwrap_or_default();
        let mut objects = self.objects.lock();
        let m = objects.entry(Self::gate_key(obj)).or_default();
        m.created_at = Some(NewService { at, reads: 0, planned, creating_seen: None });
        m.created_service = Some(Box::new((uid, service_id.to_string())));
        at + planned.unwrap_or(pacing::FIRST_POLL)
    }

    /// The service this process created for this object (same UID), while its ID is not in the status
    /// yet and it was not replaced (gone); forgotten once the status has an ID.
    pub(crate) fn created_here(&self, obj: &VpcEndpointService) -> Option<String> {
        let mut objects = self.objects.lock();
        let m = objects.get_mut(&Self::gate_key(obj))?;
        if obj.service_id().is_some() {
            m.created_service = None;
            return None;
        }
        let (uid, sid) = m.created_service.as_deref()?;
        let replaced = obj.status.as_ref().and_then(|s| s.replaced_service_id.as_deref());
        (obj.metadata.uid.as_deref() == Some(uid.as_str()) && replaced != Some(sid.as_str()))
            .then(|| sid.clone())
    }

    /// This object's new service was read (Active or not): learn when to poll the next one first. A
    /// service still Creating is read again after the returned follow-up ([`pacing`]), if any: sooner
    /// while its `account`'s budget has room than while new work waits for it.
    fn seen_new(&self, obj: &VpcEndpointService, active: bool, account: Option<&str>) -> Option<Duration> {
        let read = {
            let mut objects = self.objects.lock();
            let m = objects.get_mut(&Self::gate_key(obj))?;
            if active {
                // This pass writes the ID to the status with Ready (should that write fail, the next
                // pass finds the service by its ownership tag).
                m.created_service = None;
            }
            let new = m.created_at?;
            let after = new.at.elapsed();
            m.created_at =
                (!active).then_some(NewService { reads: new.reads + 1, creating_seen: Some(after), ..new });
            pacing::Read {
                first: new.reads == 0,
                active,
                after,
                planned: new.planned,
                creating_before: new.creating_seen,
            }
        };
        let kind = create::resource_type_str(obj.spec.service_resource_type);
        let saturated = !active && account.is_some_and(|a| self.admission.lock().parked(a) > 0);
        let mut creating = self.creating.lock();
        creating.observe(obj.region(), kind, read, Instant::now());
        (!active).then(|| creating.follow_up(obj.region(), kind, read.after, saturated)).flatten()
    }

    /// Hand the Service cache to the reconciler (once, at startup, when Services are watched).
    pub fn set_services(&self, store: Store<Service>, listed: Arc<AtomicBool>) {
        let _ = self.services.set((store, listed));
    }

    /// The backends an object's spec asks for, with its `serviceRef`s resolved from the Service cache.
    /// Before the cache holds its first list, an object with references waits (a Service not listed
    /// yet is not a Service without a load balancer).
    pub fn backends(&self, obj: &VpcEndpointService) -> Result<backends::Desired> {
        let refs = obj.spec.resources.iter().any(|r| r.service_ref.is_some());
        if !refs {
            return Ok(backends::resolve(&obj.spec, |_| None));
        }
        let (store, listed) = self.services.get().ok_or(Error::ServiceRefsDisabled)?;
        if !listed.load(Ordering::Relaxed) {
            return Err(Error::Requeue {
                reason: "waiting for the first list of Services".into(),
                after: Some(Duration::from_secs(1)),
            });
        }
        let ns = ns_of(obj)?;
        Ok(backends::resolve(&obj.spec, |name| {
            store.get(&ObjectRef::new(name).within(&ns)).map(|s| backends::LbService::from_meta(&s.metadata))
        }))
    }

    /// Record which Services an object references (from the controller's watch).
    pub fn index_backends(&self, obj: &Cached) {
        let names = obj.backends();
        let mut ix = self.backend_refs.lock();
        if names.is_empty() && ix.is_empty() {
            return;
        }
        ix.set(Self::key_of(obj.meta()), &obj.namespace().unwrap_or_default(), names.to_vec());
    }

    /// The objects that use Service `name` in `namespace`, woken: their next reconcile is a full pass
    /// that does not wait out a scheduled requeue.
    pub fn wake_backend_users(&self, namespace: &str, name: &str) -> Vec<ObjectRef<VpcEndpointService>> {
        let users = self.backend_refs.lock().users(namespace, name);
        let mut objects = self.objects.lock();
        for u in &users {
            let m = objects.entry(u.clone()).or_default();
            m.seen = true;
            m.gate = Gate::default();
            m.full_due = None;
            m.poll_wake = false;
        }
        users
    }

    /// Hand the controller's cache to the reconciler (once, at startup); `listed` turns true once it
    /// holds the first full list.
    pub fn set_store(&self, store: Store<Cached>, listed: Arc<AtomicBool>) {
        let _ = self.store.set((store, listed));
    }

    /// The controller's cache, once it holds the first full list.
    pub(crate) fn cache(&self) -> Option<&Store<Cached>> {
        let (store, listed) = self.store.get()?;
        listed.load(Ordering::Relaxed).then_some(store)
    }

    fn gate_key(obj: &VpcEndpointService) -> ObjectRef<VpcEndpointService> {
        Self::key_of(&obj.metadata)
    }

    fn key_of(meta: &ObjectMeta) -> ObjectRef<VpcEndpointService> {
        crate::cache::name_key(meta.name.as_deref().unwrap_or_default(), meta.namespace.as_deref())
    }

    /// Remaining wait if this reconcile is an echo of our own write within a wait period.
    fn gate_wait(&self, obj: &VpcEndpointService, now: Instant) -> Option<Duration> {
        let objects = self.objects.lock();
        objects.get(&Self::gate_key(obj)).and_then(|m| m.gate.remaining(obj, now))
    }

    fn set_gate(&self, obj: &VpcEndpointService, wait: Wait, now: Instant) -> Duration {
        let mut objects = self.objects.lock();
        objects.entry(Self::gate_key(obj)).or_default().gate.schedule(obj, wait, now)
    }

    /// The drift checks of this pass: every listing until Ready for the generation (only the
    /// whitelist for a service [`plan::created_as_specified`]), then the spread schedule (the pass
    /// counter advances once per steady-state resync).
    fn drift_checks(
        &self,
        obj: &VpcEndpointService,
        settled: bool,
        fresh: bool,
        backends: Option<u64>,
    ) -> plan::DriftChecks {
        if !settled {
            return if fresh { plan::DriftChecks::AFTER_CREATE } else { plan::DriftChecks::ALL };
        }
        let mut objects = self.objects.lock();
        let m = objects.entry(Self::gate_key(obj)).or_default();
        // A referenced Service changed its load balancer (or this is the first look since start).
        let moved = backends.is_some() && m.backends != backends;
        let pass = m.drift_pass.get_or_insert_with(|| {
            use std::hash::{DefaultHasher, Hash, Hasher};
            let mut h = DefaultHasher::new();
            obj.metadata.uid.hash(&mut h);
            h.finish() % plan::DRIFT_CYCLE
        });
        let mut checks = plan::drift_checks(*pass);
        *pass += 1;
        checks.resources |= moved;
        checks
    }

    /// Record the `serviceRef` backends found in sync (see [`Memory::backends`]).
    fn record_backends(&self, obj: &VpcEndpointService, fingerprint: Option<u64>) {
        let mut objects = self.objects.lock();
        objects.entry(Self::gate_key(obj)).or_default().backends = fingerprint;
    }

    /// The attribute update already accepted for this object's current generation.
    fn sent_update(&self, obj: &VpcEndpointService) -> Option<UpdateVpcEndpointServiceAttribute> {
        let objects = self.objects.lock();
        let (generation, u) = objects.get(&Self::gate_key(obj))?.sent_update.as_deref()?;
        (*generation == obj.metadata.generation).then(|| u.clone())
    }

    fn record_update(&self, obj: &VpcEndpointService, sent: Option<UpdateVpcEndpointServiceAttribute>) {
        let mut objects = self.objects.lock();
        objects.entry(Self::gate_key(obj)).or_default().sent_update =
            sent.map(|u| Box::new((obj.metadata.generation, u)));
    }

    /// If the wake-up scheduled last is a connection poll: the time until the next full pass.
    fn poll_wake(&self, obj: &VpcEndpointService, now: Instant) -> Option<Duration> {
        let objects = self.objects.lock();
        let m = objects.get(&Self::gate_key(obj))?;
        let due = m.full_due.filter(|_| m.poll_wake)?;
        Some(due.saturating_duration_since(now))
    }

    /// Schedule the next wake-up of a Ready object: a connection poll or the full pass due at
    /// `full_due` ([`schedule::next_wake`]); returns the requeue.
    fn schedule_wake(&self, obj: &VpcEndpointService, poll: bool, full_due: Instant) -> Action {
        let now = Instant::now();
        let until_full = full_due.saturating_duration_since(now);
        let (wait, is_poll) = schedule::next_wake(poll, self.settings.connection_poll, until_full);
        {
            let mut objects = self.objects.lock();
            let m = objects.entry(Self::gate_key(obj)).or_default();
            m.full_due = Some(full_due);
            m.poll_wake = is_poll;
        }
        Action::requeue(self.set_gate(obj, Wait::Fixed(wait), now))
    }

    /// The next pass is a full one, whatever was scheduled.
    fn clear_wake(&self, obj: &VpcEndpointService) {
        if let Some(m) = self.objects.lock().get_mut(&Self::gate_key(obj)) {
            m.full_due = None;
            m.poll_wake = false;
        }
    }

    /// Whether the export with fingerprint `fp` was written or verified within the resync interval.
    fn export_current(&self, obj: &VpcEndpointService, fp: u64) -> bool {
        let objects = self.objects.lock();
        let Some((last, at)) = objects.get(&Self::gate_key(obj)).and_then(|m| m.exported) else {
            return false;
        };
        last == fp && at.elapsed() < self.settings.resync
    }

    fn record_export(&self, obj: &VpcEndpointService, fp: Option<u64>) {
        let mut objects = self.objects.lock();
        objects.entry(Self::gate_key(obj)).or_default().exported = fp.map(|f| (f, Instant::now()));
    }

    /// Read the queue lengths into the metrics (at each scrape).
    pub fn refresh_queue_metrics(&self, m: &Metrics) {
        let (waiting, held) = self.slots.load();
        for (rank, n) in slots::Rank::ALL.into_iter().zip(waiting) {
            m.slot_waiters.get_or_create(&crate::metrics::RankLabels { rank: rank.as_str() }).set(n as i64);
        }
        m.slots_busy.set(held as i64);
        for (region, kind, first_poll) in self.creating.lock().all_learnt() {
            let labels = crate::metrics::PaceLabels { region: region.to_string(), kind: kind.to_string() };
            m.first_poll.get_or_create(&labels).set(first_poll.as_secs_f64());
        }
        let (polls, starts) = self.admission.lock().parked_total();
        for (class, n) in [("poll", polls), ("start", starts)] {
            m.budget_parked.get_or_create(&crate::metrics::ClassLabels { class }).set(n as i64);
        }
    }

    /// Drop everything remembered about an object (it left the cluster).
    pub fn forget(&self, meta: &ObjectMeta) {
        let key = Self::key_of(meta);
        self.track_ready_key(key.clone(), None);
        self.backend_refs.lock().remove(&key);
        self.admission.lock().forget(&key);
        self.slots.forget(&key);
        self.objects.lock().remove(&key);
    }

    /// What a pass of this object would do, for [`admission`]: start a Create, or follow up on one.
    fn admission_class(&self, st: &VpcEndpointServiceStatus) -> admission::Class {
        if st.service_id.is_none() && st.create_client_token.is_none() {
            admission::Class::Start
        } else {
            admission::Class::Poll
        }
    }

    /// Admission of this pass to the account's budget ([`admission`]): go ahead, or park until a turn.
    fn admit(&self, obj: &VpcEndpointService, account: &str, class: admission::Class) -> Decision {
        let backlog = self.cloud.backlog(account);
        let ns = obj.namespace().unwrap_or_default();
        let decision =
            self.admission.lock().admit(account, &ns, &Self::gate_key(obj), class, backlog, Instant::now());
        if decision == Decision::Park {
            self.parked.notify_one();
        }
        decision
    }

    /// Whether the object holds a turn of [`admission`] (its wake-up passes the gate).
    fn has_turn(&self, obj: &VpcEndpointService) -> bool {
        self.admission.lock().has_turn(&Self::gate_key(obj))
    }

    fn track_ready(&self, obj: &VpcEndpointService, state: Option<&'static str>) {
        self.track_ready_key(Self::gate_key(obj), state);
    }

    fn track_ready_key(&self, key: ObjectRef<VpcEndpointService>, state: Option<&'static str>) {
        let mut objects = self.objects.lock();
        let old = match (state, objects.get_mut(&key)) {
            (s, Some(m)) => std::mem::replace(&mut m.ready, s),
            (Some(s), None) => {
                objects.insert(key, Memory { ready: Some(s), ..Default::default() });
                None
            }
            (None, None) => None,
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
        self.cloud.learn_account(&creds.access_key_id, &id);
        let mut accounts = self.accounts.lock();
        if accounts.len() >= 10_000 {
            accounts.clear();
        }
        accounts.insert(creds.access_key_id.clone(), id.clone());
        Ok(id)
    }

    /// Publish an Event without holding up the reconcile (Events are informational; a slot spent
    /// waiting on them delays every other object's due poll).
    pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
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

fn ns_of(obj: &VpcEndpointService) -> Result<String> {
    obj.namespace().ok_or(Error::MissingObjectKey("namespace"))
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

/// The controller's reconcile function, on a cache entry: unpacks it ([`crate::cache`]) for
/// [`reconcile`].
pub async fn reconcile_cached(obj: Arc<Cached>, ctx: Arc<Context>) -> Result<Action> {
    reconcile(Arc::new(obj.unpack()?), ctx).await
}

/// The controller's error policy, on a cache entry: [`error_policy`] on the unpacked object.
pub fn error_policy_cached(obj: Arc<Cached>, err: &Error, ctx: Arc<Context>) -> Action {
    match obj.unpack() {
        Ok(o) => error_policy(Arc::new(o), err, ctx),
        // Cannot happen (this process packed it); should it, retry without a hot loop.
        Err(e) => {
            warn!(error = %e, "cannot read a cached object");
            Action::requeue(ctx.settings.terminal_retry)
        }
    }
}

/// The reconcile function. A pass does I/O only while it holds one of the `--concurrency`
/// slots, which go to the most urgent passes first ([`slots`]); without a free slot the object parks
/// and is woken when one is granted to it. What needs no I/O (a wait that has not run out, the first
/// sight of a Ready object after a start) returns without a slot.
pub async fn reconcile(obj: Arc<VpcEndpointService>, ctx: Arc<Context>) -> Result<Action> {
    let who = Context::gate_key(&obj);
    // A reconcile-now request skips the wait (also an error backoff's); anything else waits its turn.
    if control::reconcile_request(&obj).is_none()
        && let Some(wait) = ctx.gate_wait(&obj, Instant::now())
        && !ctx.has_turn(&obj)
        && !ctx.slots.is_granted(&who)
    {
        return Ok(Action::requeue(wait));
    }
    let finalized = obj.finalizers().iter().any(|f| f == FINALIZER);
    if finalized
        && obj.metadata.deletion_timestamp.is_none()
        && !control::is_paused(obj.as_ref())
        && let Some(action) = ctx.first_sight(&obj)
    {
        return Ok(action);
    }
    let rank = slots::rank(slots::Facts {
        finalizer: finalized,
        deleting: obj.metadata.deletion_timestamp.is_some(),
        // The restore annotation names the service from the Create on (the status from its first read).
        service_known: obj.service_id().is_some() || restore::recorded(&obj).0.is_some(),
        ready: status::is_ready_for_generation(&obj),
    });
    let _slot = match ctx.slots.enter(rank, obj.metadata.namespace.as_deref().unwrap_or_default(), &who) {
        slots::Entry::Go(slot) => slot,
        // Woken when a slot is granted to it (the recheck is only a safety net).
        slots::Entry::Parked => return Ok(Action::requeue(PARKED_RECHECK)),
        // Shutting down: the next leader (or the restarted operator) does this pass.
        slots::Entry::Closed => return Ok(Action::requeue(Duration::from_secs(1))),
    };
    reconcile_pass(obj, ctx.clone()).await
}

/// One pass of an object, holding a slot.
#[instrument(skip(obj, ctx), fields(namespace = obj.namespace().unwrap_or_default(), name = obj.name_any(), service_id = obj.service_id().unwrap_or_default()))]
async fn reconcile_pass(obj: Arc<VpcEndpointService>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    ctx.metrics.reconcile_runs.inc();
    let ns = obj.namespace().ok_or(Error::MissingObjectKey("namespace"))?;
    let api: Api<VpcEndpointService> = Api::namespaced(ctx.client.clone(), &ns);
    if control::is_paused(obj.as_ref()) {
        // Recorded as paused, so that resuming passes the gate at once.
        ctx.set_gate(&obj, Wait::Soon(Duration::ZERO), started);
        return paused(&obj, &api).await;
    }
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
        // The finalizer is gone: the object leaves the cluster. Secrets it protected are released by
        // the last of the objects that use them to leave (objects deleted together see each other).
        ctx.forget(&obj.metadata);
        tokio::spawn(secrets::sweep(ctx.clone(), obj.as_ref().clone()));
    }
    result
}

/// A paused object: no cloud call, no finalizer change (a deletion waits); `Synced=False` reason
/// `Paused`, Ready and the rest as they were. Removing the annotation triggers the next reconcile.
async fn paused(obj: &VpcEndpointService, api: &Api<VpcEndpointService>) -> Result<Action> {
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
    write_status(api, obj, &st).await?;
    Ok(Action::await_change())
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

/// Reason of an object whose `serviceRef`s do not all give a load balancer yet.
pub const BACKEND_NOT_READY: &str = "BackendNotReady";

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
    if let Some(action) = ctx.first_sight(obj) {
        return Ok(action);
    }
    let mut st = obj.status.clone().unwrap_or_default();
    let requested = control::reconcile_request(obj).map(str::to_string);
    if requested.is_some() {
        st.last_handled_reconcile_at = requested.clone();
    }
    let uid = obj.uid().ok_or(Error::MissingObjectKey("uid"))?;
    let creds = match observe::credentials(obj, ctx).await {
        Ok(c) => c,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let current = obj.spec.credentials_secret_ref.as_ref().map(|r| r.name.clone());
    if st.protected_secret != current {
        // credentialsSecretRef was edited: the old Secret may have lost its last user.
        if let Some(old) = st.protected_secret.clone()
            && let Err(e) = secrets::release_if_unused(ctx, &ns_of(obj)?, &old, None).await
        {
            return fail(obj, ctx, api, st, e).await;
        }
        st.protected_secret = current;
    }
    let account = match ctx.account_of(&creds).await {
        Ok(a) => a,
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    let recorded_account = st.account_id.clone().or_else(|| restore::recorded(obj).1.map(str::to_string));
    match recorded_account {
        Some(recorded) if recorded != account => {
            let phase = account_mismatch(&recorded, &account, st.service_id.as_deref());
            return settle(obj, ctx, api, st, phase, Wait::Fixed(ACCOUNT_RECHECK)).await;
        }
        _ => {}
    }
    // Nobody waits for a token inside a controller slot: a pass that would, parks (reconcile::admission).
    let class = ctx.admission_class(&st);
    if ctx.admit(obj, &account, class) == Decision::Park {
        return match class {
            admission::Class::Start => queued(obj, ctx, api, st).await,
            admission::Class::Poll => Ok(Action::requeue(PARKED_RECHECK)),
        };
    }
    if let Some(sid) = st.service_id.clone()
        && requested.is_none()
        && !control::observe_only(obj)
        && status::is_ready_for_generation(obj)
        && ctx.poll_wake(obj, Instant::now()).is_some()
    {
        return connection_poll(obj, ctx, api, &creds, &sid, st).await;
    }
    ctx.clear_wake(obj);
    let backends = match ctx.backends(obj) {
        Ok(b) => b,
        Err(e @ Error::Requeue { .. }) => return Err(e),
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    match observe::observe(obj, ctx, &creds, &uid, &st).await {
        Err(e) => fail(obj, ctx, api, st, e).await,
        Ok(Observed::Absent) if control::observe_only(obj) => {
            let message = format!(
                "managementPolicy Observe: no endpoint service found for this object (name one with the annotation {}); nothing is created",
                observe::ADOPT_ANNOTATION
            );
            let phase = Phase::Failed { reason: "ServiceNotFound".into(), message, terminal: false };
            settle(obj, ctx, api, st, phase, Wait::Fixed(ctx.settings.resync)).await
        }
        Ok(Observed::Absent) if !backends.complete() => {
            // Created only with every backend it asks for (the Create carries them).
            let phase = Phase::Failed {
                reason: BACKEND_NOT_READY.into(),
                message: backends.message(),
                terminal: false,
            };
            settle(obj, ctx, api, st, phase, Wait::Fixed(ctx.settings.resync)).await
        }
        Ok(Observed::Absent) => {
            let st = VpcEndpointServiceStatus { account_id: Some(account), ..st };
            create_service(obj, ctx, api, &creds, &uid, st, &backends.resources).await
        }
        Ok(Observed::Gone(old)) if control::observe_only(obj) => {
            let message = format!(
                "managementPolicy Observe: endpoint service {old} no longer exists in Alibaba Cloud; nothing is created"
            );
            let phase = Phase::Failed { reason: "ServiceGone".into(), message, terminal: false };
            settle(obj, ctx, api, st, phase, Wait::Fixed(ctx.settings.resync)).await
        }
        Ok(Observed::Gone(old)) => {
            // A new token: the replacement is a new Create, not a retry of the first.
            let st = VpcEndpointServiceStatus {
                conditions: st.conditions,
                replaced_service_id: Some(old.clone()),
                create_client_token: None,
                account_id: st.account_id,
                protected_secret: st.protected_secret,
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
            converge(obj, ctx, api, &creds, st, *attrs, backends).await
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

/// How long a parked object waits at most before it looks again by itself (its turn normally wakes it
/// first).
const PARKED_RECHECK: Duration = Duration::from_secs(60);

/// A new object waiting its turn for the account's budget: `Ready=False` reason `Queued` (written once),
/// and the controller slot is free for others at once.
async fn queued(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    st: VpcEndpointServiceStatus,
) -> Result<Action> {
    // Written only to a status without conditions (once): an object an earlier version reconciled keeps
    // what it has, so the ownership-tag lookup still runs for it ([`observe::never_sent`]).
    if st.conditions.is_empty() {
        let message = format!(
            "waiting for a turn of the account's API budget (--qps {}): other Creates are queued; namespaces take turns, and the Create is sent in order",
            ctx.cloud.qps()
        );
        write_phase(obj, ctx, api, st, &Phase::Progressing { reason: QUEUED.into(), message }).await?;
    }
    Ok(Action::requeue(PARKED_RECHECK))
}

/// Reason of an object waiting for its turn of the account's budget.
pub const QUEUED: &str = "Queued";

/// Shutdown: nobody gets a slot any more (the passes holding one finish).
pub fn close_slots(ctx: &Context) {
    ctx.slots.close();
}

/// Wake objects granted a slot through `wake` (the controller's `reconcile_on`), and let grants that
/// were not taken lapse.
pub fn run_slots(
    ctx: Arc<Context>,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<VpcEndpointService>>,
) -> tokio::task::JoinHandle<()> {
    // Set before the controller runs: no grant can be handed out unwoken.
    ctx.slots.set_waker(move |who| {
        let _ = wake.unbounded_send(who);
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ctx.slots.expire(Instant::now());
        }
    })
}

/// Hand out turns of each account's budget ([`admission`]) and wake the objects whose turn it is.
pub async fn dispatch_turns(
    ctx: Arc<Context>,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<VpcEndpointService>>,
) {
    loop {
        let (woken, next) =
            ctx.admission.lock().dispatch(|account| ctx.cloud.backlog(account), Instant::now());
        for who in woken {
            if wake.unbounded_send(who).is_err() {
                return;
            }
        }
        let nap = next.unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {},
            _ = ctx.parked.notified() => {},
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
    resources: &[ResourceParam],
) -> Result<Action> {
    let mut req = create::create_request(obj, uid, resources);
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
    let first_poll = ctx.created(obj, &resp.service_id);
    // The ID is kept in the object before any other cloud call, in one write: the restore annotations
    // (restore::record, with the account), which also survive a backup and restore. The status gets it
    // with the first read (the Ready write, or Creating when that read was early), not in a write of
    // its own: one apiserver write less per service. Until then this process knows the ID from memory
    // ([`Context::created_here`]); after a crash the next attempt finds it by its ownership tag (the
    // persisted ClientToken says a Create may have been sent: [`observe::observe`]). Should the
    // annotation write fail, the ID goes to the status instead.
    let account = st.account_id.clone();
    if let Err(e) = restore::record(obj, api, &resp.service_id, account.as_deref()).await {
        warn!(error = %e, "could not record the service ID in the annotations; writing it to the status");
        write_phase(obj, ctx, api, st, &progressing(&resp.service_id, "Creating")).await?;
    }
    // The first poll is timed from the Create's answer, not from the end of these writes (their
    // latency under load would otherwise delay every first read).
    let now = Instant::now();
    Ok(Action::requeue(ctx.set_gate(obj, Wait::Soon(first_poll.saturating_duration_since(now)), now)))
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
    /// The service is not Active: poll.
    Wait(ServiceStatus),
    /// The service refuses changes until the account is settled.
    Locked(BusinessStatus),
    /// An accepted attribute update does not read back; not sent again for this spec.
    NotApplied(String),
}

async fn converge(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    creds: &Credentials,
    mut st: VpcEndpointServiceStatus,
    attrs: ServiceAttributes,
    backends: backends::Desired,
) -> Result<Action> {
    let uid = obj.uid().ok_or(Error::MissingObjectKey("uid"))?;
    let uid = uid.as_str();
    // Reconcile-now: every listing is read, whatever the drift schedule says.
    let full_check = control::reconcile_request(obj).is_some();
    let follow_up = match attrs.status() {
        ServiceStatus::Active => ctx.seen_new(obj, true, st.account_id.as_deref()),
        ServiceStatus::Creating => ctx.seen_new(obj, false, st.account_id.as_deref()),
        _ => None,
    };
    status::absorb_attributes(&mut st, &attrs);
    if st.region_id.is_none() {
        st.region_id = Some(obj.spec.region_id.clone());
    }
    if let Err(e) = restore::record(obj, api, &attrs.service_id, st.account_id.as_deref()).await {
        return fail(obj, ctx, api, st, e).await;
    }
    let sid = attrs.service_id.clone();
    // Ready for this generation: a drift fix or a transient state keeps Ready=True (Synced tells).
    let settled = status::is_ready_for_generation(obj);
    if control::observe_only(obj) {
        let (mut phase, mut wait) = observed_phase(&sid, &attrs, ctx.settings.resync);
        match export::sync(ctx, obj, &mut st).await {
            Err(e) => return fail(obj, ctx, api, st, e).await,
            Ok(Some(conflict)) if phase.is_ready() => (phase, wait) = conflict.phase(),
            Ok(_) => {}
        }
        return settle(obj, ctx, api, st, phase, wait).await;
    }
    let complete = backends.complete();
    let backends_message = (!complete).then(|| backends.message());
    let (step, looked) = match sync_spec(obj, ctx, creds, uid, attrs, settled && !full_check, backends).await
    {
        Ok(x) => x,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let poll = record_connections(obj, ctx, &mut st, &looked).await;
    let hold = |reason: &str, message: String| {
        if settled {
            Phase::Degraded { reason: reason.into(), message }
        } else {
            Phase::Progressing { reason: reason.into(), message }
        }
    };
    let (phase, wait) = match step {
        Step::Changed(what) => {
            let reason = if settled { "CorrectingDrift" } else { "Updating" };
            (hold(reason, format!("endpoint service {sid}: {what}")), Wait::Soon(schedule::FIRST_POLL))
        }
        Step::Wait(cloud_status) => {
            let p = progressing(&sid, cloud_status.as_str());
            let phase = match p {
                Phase::Progressing { reason, message } => hold(&reason, message),
                other => other,
            };
            // A new service read a little too early is read again soon ([`pacing`]).
            (phase, follow_up.map_or(Wait::Poll, Wait::Soon))
        }
        Step::Locked(b) => {
            let phase = Phase::Failed {
                reason: b.as_str().chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
                message: format!(
                    "endpoint service {sid} is {b} in Alibaba Cloud; changes are blocked until the account is settled (checked every {} minutes)",
                    schedule::LOCKED_RECHECK.as_secs() / 60
                ),
                terminal: false,
            };
            (phase, Wait::Fixed(schedule::LOCKED_RECHECK))
        }
        Step::Blocked(message) => (
            Phase::Failed { reason: "DetachBlocked".into(), message, terminal: false },
            Wait::Fixed(delete::BLOCKED_RECHECK),
        ),
        Step::NotApplied(message) => {
            let phase = if settled {
                Phase::Degraded { reason: "UpdateNotApplied".into(), message }
            } else {
                Phase::Failed { reason: "UpdateNotApplied".into(), message, terminal: false }
            };
            (phase, Wait::Fixed(ctx.settings.resync))
        }
        Step::InSync if !complete => (
            Phase::Failed {
                reason: BACKEND_NOT_READY.into(),
                message: format!("endpoint service {sid}: {}", backends_message.unwrap_or_default()),
                terminal: false,
            },
            Wait::Fixed(ctx.settings.resync),
        ),
        Step::InSync => {
            match export::sync(ctx, obj, &mut st).await {
                Err(e) => return fail(obj, ctx, api, st, e).await,
                Ok(Some(conflict)) => {
                    let (phase, wait) = conflict.phase();
                    return settle(obj, ctx, api, st, phase, wait).await;
                }
                Ok(None) => {}
            }
            let message = format!("endpoint service {sid} is Active");
            write_phase(obj, ctx, api, st, &Phase::Available { message }).await?;
            let full_due = Instant::now() + ctx.settings.resync;
            return Ok(ctx.schedule_wake(obj, poll, full_due));
        }
    };
    settle(obj, ctx, api, st, phase, wait).await
}

/// An observed-only service: Ready while Active, nothing is written.
fn observed_phase(sid: &str, attrs: &ServiceAttributes, resync: Duration) -> (Phase, Wait) {
    match attrs.status() {
        ServiceStatus::Active => {
            let message = format!(
                "endpoint service {sid} is Active (managementPolicy Observe: observed only, nothing is written)"
            );
            (Phase::Available { message }, Wait::Fixed(resync))
        }
        other => (progressing(sid, other.as_str()), Wait::Poll),
    }
}

/// Bring an existing service in line with the spec: ask [`plan::sync`], read what it asks for, act on
/// what it decides. Steps that take effect at once (tags, resource group) continue in the same pass;
/// the others end it. Until Ready for the generation every listing is checked; then the listings are
/// spread over resyncs ([`plan::drift_checks`]), so steady state averages 1.5 cloud reads per resync.
async fn sync_spec(
    obj: &VpcEndpointService,
    ctx: &Context,
    creds: &Credentials,
    uid: &str,
    attrs: ServiceAttributes,
    settled: bool,
    backends: backends::Desired,
) -> Result<(Step, Looked)> {
    let region = obj.region().to_string();
    let sid = attrs.service_id.clone();
    let st = obj.status.as_ref();
    // Only an object not Ready for its generation asks (the token is a hash of the Create parameters).
    let fresh = !settled && {
        let current_token = create::client_token(
            uid,
            &create::create_request(obj, uid, &backends.resources),
            st.and_then(|s| s.replaced_service_id.as_deref()),
        );
        plan::created_as_specified(
            obj.metadata.generation,
            status::condition(st, status::cond::READY).map(|c| c.reason.as_str()),
            st.and_then(|s| s.create_client_token.as_deref()),
            &current_token,
        )
    };
    let backends_complete = backends.complete();
    let backends_fp = backends.fingerprint(&obj.spec);
    let mut facts = plan::SyncFacts {
        spec: &obj.spec,
        uid,
        backends: backends.resources,
        backends_complete,
        attrs,
        checks: ctx.drift_checks(obj, settled, fresh, backends_fp),
        sent_update: ctx.sent_update(obj),
        resources: None,
        tags: None,
        connections: None,
        users: None,
    };
    let mut decided = vec![];
    loop {
        let step = plan::sync(&facts);
        let looked = |facts: &plan::SyncFacts<'_>, decided: Vec<Approval>| Looked {
            connections: facts.connections.clone(),
            decided,
        };
        match &step {
            Sync::Observe(Read::Resources) => {
                facts.resources = Some(observe::resources(ctx, creds, &region, &sid).await?);
                continue;
            }
            Sync::Observe(Read::Tags) => {
                facts.tags = Some(observe::tags(ctx, creds, &region, &sid).await?);
                continue;
            }
            Sync::Observe(Read::Connections) => {
                facts.connections = Some(observe::connections(ctx, creds, &region, &sid).await?);
                continue;
            }
            Sync::Observe(Read::Users) => {
                facts.users = Some(observe::users(ctx, creds, &region, &sid).await?);
                continue;
            }
            Sync::Wait(s) => return Ok((Step::Wait(s.clone()), looked(&facts, decided))),
            Sync::Locked(b) => return Ok((Step::Locked(b.clone()), looked(&facts, decided))),
            Sync::InSync => {
                ctx.record_update(obj, None);
                if facts.checks.resources {
                    ctx.record_backends(obj, backends_fp);
                }
                return Ok((Step::InSync, looked(&facts, decided)));
            }
            Sync::NotApplied(u) => {
                let step = Step::NotApplied(format!(
                    "endpoint service {sid} accepted an attribute update for this spec but still reads back differently ({}); it is not written again until the spec changes",
                    update::describe(u)
                ));
                return Ok((step, looked(&facts, decided)));
            }
            Sync::DetachBlocked { resource, endpoints } => {
                let step =
                    Step::Blocked(plan::detach_blocked_message(&sid, &resource.resource_id, endpoints));
                return Ok((step, looked(&facts, decided)));
            }
            Sync::AddUser(p) => {
                let op = AddUser { region_id: region.clone(), service_id: sid.clone(), principal: p.clone() };
                ctx.cloud.call(creds, &op).await?;
                let note = format!("allowed {p} to connect to endpoint service {sid} (allowedPrincipals)");
                ctx.publish(obj, EventType::Normal, "PrincipalAllowed", "Sync", note).await;
            }
            Sync::RemoveUser(p) => {
                let op =
                    RemoveUser { region_id: region.clone(), service_id: sid.clone(), principal: p.clone() };
                ctx.cloud.call(creds, &op).await?;
                let note = format!(
                    "removed {p} from the principals of endpoint service {sid} (not in allowedPrincipals)"
                );
                ctx.publish(obj, EventType::Normal, "PrincipalRemoved", "Sync", note).await;
            }
            Sync::Approve(a) => {
                approve(ctx, creds, &region, &sid, a).await?;
                decided.push(a.clone());
            }
            Sync::Update(u) => {
                let mut req = u.clone();
                req.region_id = region.clone();
                req.service_id = sid.clone();
                ctx.cloud.call(creds, &req).await?;
                ctx.record_update(obj, Some(u.clone()));
            }
            Sync::Attach(resource) => {
                let op = AttachResource {
                    region_id: region.clone(),
                    service_id: sid.clone(),
                    resource: resource.clone(),
                };
                ctx.cloud.call(creds, &op).await?;
            }
            Sync::Detach(resource) => {
                let op = DetachResource {
                    region_id: region.clone(),
                    service_id: sid.clone(),
                    resource: resource.clone(),
                };
                ctx.cloud.call(creds, &op).await?;
            }
            Sync::Untag(keys) => {
                let op = UntagResources {
                    region_id: region.clone(),
                    service_id: sid.clone(),
                    tag_keys: keys.clone(),
                };
                ctx.cloud.call(creds, &op).await?;
            }
            Sync::Tag(tags) => {
                let op =
                    TagResources { region_id: region.clone(), service_id: sid.clone(), tags: tags.clone() };
                ctx.cloud.call(creds, &op).await?;
            }
            Sync::ChangeResourceGroup(rg) => {
                let op = ChangeResourceGroup {
                    region_id: region.clone(),
                    service_id: sid.clone(),
                    resource_group_id: rg.clone(),
                };
                ctx.cloud.call(creds, &op).await?;
            }
        }
        if step.settles_later() {
            return Ok((Step::Changed(step_summary(&step)), looked(&facts, decided)));
        }
        plan::applied(&mut facts, &step);
    }
}

/// What a pass learnt about the service's connections (to write to status and raise events from).
#[derive(Default)]
struct Looked {
    /// The connections, if they were listed in this pass (with the effect of `decided` folded in).
    connections: Option<Vec<plan::Connection>>,
    /// The approvals sent in this pass.
    decided: Vec<Approval>,
}

/// Send one approval decision.
async fn approve(ctx: &Context, creds: &Credentials, region: &str, sid: &str, a: &Approval) -> Result<()> {
    let (region_id, service_id, endpoint_id) =
        (region.to_string(), sid.to_string(), a.endpoint_id().to_string());
    match a {
        Approval::Enable(_) => {
            ctx.cloud.call(creds, &EnableConnection { region_id, service_id, endpoint_id }).await?
        }
        Approval::Disable(_) => {
            ctx.cloud.call(creds, &DisableConnection { region_id, service_id, endpoint_id }).await?
        }
    };
    info!(service_id = sid, endpoint_id = a.endpoint_id(), decision = ?a, "connection approval sent");
    Ok(())
}

/// Write what was seen of the connections to the status and raise their events; whether the service
/// needs the connection poll until the next resync.
async fn record_connections(
    obj: &VpcEndpointService,
    ctx: &Context,
    st: &mut VpcEndpointServiceStatus,
    looked: &Looked,
) -> bool {
    let Some(connections) = &looked.connections else {
        let known = st.connections.iter().map(|c| ConnectionStatus::parse(&c.status));
        return access::needs_poll(&obj.spec, known);
    };
    let before = obj.status.as_ref().map(|s| s.connections.as_slice()).unwrap_or_default();
    for (reason, note) in access::events(before, connections, &looked.decided) {
        ctx.publish(obj, EventType::Normal, reason, "Connection", note).await;
    }
    let (rows, counts) = access::status_rows(connections);
    st.connections = rows;
    st.connection_counts = (!counts.is_empty()).then_some(counts);
    access::needs_poll(&obj.spec, connections.iter().map(|c| c.status.clone()))
}

/// A wake-up between full passes of a Ready object: list its connections, apply the approval lists,
/// record them; no Get, no drift check (those come with the next full pass).
async fn connection_poll(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
    creds: &Credentials,
    sid: &str,
    mut st: VpcEndpointServiceStatus,
) -> Result<Action> {
    let region = obj.region().to_string();
    let looked = async {
        let mut connections = observe::connections(ctx, creds, &region, sid).await?;
        let decided = access::approvals(obj.spec.connection_approval.as_ref(), &connections);
        for a in &decided {
            approve(ctx, creds, &region, sid, a).await?;
            access::fold(&mut connections, a);
        }
        Ok::<_, Error>(Looked { connections: Some(connections), decided })
    }
    .await;
    let looked = match looked {
        Ok(l) => l,
        Err(e) => {
            // The next pass is a full one (it re-reads the service: a NotFound is confirmed there).
            ctx.clear_wake(obj);
            return fail(obj, ctx, api, st, e).await;
        }
    };
    let poll = record_connections(obj, ctx, &mut st, &looked).await;
    if write_status(api, obj, &st).await? {
        ctx.metrics.status_patches.inc();
    }
    let full_due = ctx.objects.lock().get(&Context::gate_key(obj)).and_then(|m| m.full_due);
    Ok(ctx.schedule_wake(obj, poll, full_due.unwrap_or_else(Instant::now)))
}

/// What a change step does, for the status message.
fn step_summary(step: &Sync) -> String {
    match step {
        Sync::Update(u) => format!("updating {}", update::describe(u)),
        Sync::Attach(r) => format!("attaching {}", r.resource_id),
        Sync::Detach(r) => format!("detaching {}", r.resource_id),
        other => format!("{other:?}"),
    }
}
