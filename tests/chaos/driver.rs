//! Runs the plan: each action at its offset, on targets chosen (seeded) among the objects that
//! qualify at that moment. Long actions (apiserver restart, account switch, namespace deletions) run
//! as background tasks; the driver only starts them. A service deleted while its `VpcEndpoint` lives
//! goes together with it, in a seeded order (endpoint first, or service first: then the service waits,
//! `DeletionBlocked`, until the endpoint is gone).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use kube::{
    Client,
    api::{Api, ApiResource, DynamicObject},
};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use tokio::task::JoinHandle;

use crate::{
    harness::{Consumer, Ctx, poll_until},
    observe::{Admin, ReadyLog},
    plan::{Act, Plan, Planned},
    spec::{EditKind, EpEditKind, EpSpec, Spec},
    world::{self, DEFAULT_KEYS, NsOutcome, OTHER_KEYS, Operators},
};

/// How long the switch waits for every object to have recorded its account, and then for every object
/// to report `AccountMismatch`.
const SWITCH_PRECONDITION: Duration = Duration::from_secs(180);
const SWITCH_SEEN: Duration = Duration::from_secs(150);

/// One planned object, as the test wants it.
pub struct Obj {
    pub name: String,
    pub ns: usize,
    pub spec: Spec,
    pub uid: Option<String>,
    pub generation: Option<i64>,
    pub deleted: bool,
    pub conn: Option<usize>,
}

/// One planned `VpcEndpoint`, as the test wants it.
pub struct Ep {
    pub name: String,
    pub ns: usize,
    /// Index of its service in `Driver::objs`.
    pub svc: usize,
    pub spec: EpSpec,
    pub uid: Option<String>,
    pub generation: Option<i64>,
    pub deleted: bool,
}

/// What the driver did to endpoints.
#[derive(Default)]
pub struct EpCounters {
    pub created: u64,
    /// Not created: the service was deleted (or never created) first.
    pub skipped: u64,
    pub edits: BTreeMap<EpEditKind, u64>,
    /// Deleted on their own (the service stays).
    pub deletes: u64,
    /// Deleted together with their service, and of those how often the service went first.
    pub with_service: u64,
    pub service_first: u64,
    pub orphan_deletes: u64,
}

/// An open connection.
pub struct Conn {
    obj: usize,
    region: &'static str,
    service_id: String,
    endpoint_id: String,
}

#[derive(Default)]
pub struct Counters {
    pub created: u64,
    pub edits: BTreeMap<EditKind, u64>,
    pub deletes: u64,
    pub orphan_deletes: u64,
    pub connects: u64,
    pub connects_skipped: u64,
    pub disconnects: u64,
    pub namespaces_deleted: u64,
    pub ep: EpCounters,
}

/// How the account switch went.
#[derive(Debug, Default)]
pub struct SwitchOutcome {
    pub ns: String,
    pub objects: usize,
    /// Objects that reported `Ready=False` reason `AccountMismatch`.
    pub mismatched: usize,
    /// Objects that did not, with what they showed.
    pub missing: Vec<String>,
    /// Why the switch was not made, if it was not.
    pub skipped: Option<String>,
    pub errors: Vec<String>,
}

pub struct Driver<'a> {
    ctx: &'a Ctx,
    pub namespaces: Vec<String>,
    switch_ns: usize,
    pub objs: Vec<Obj>,
    pub eps: Vec<Ep>,
    conns: HashMap<usize, Conn>,
    rng: StdRng,
    /// Endpoint targets and orders (a second RNG, so the services' choices do not move).
    ep_rng: StdRng,
    pub ops: Operators,
    admin: Admin,
    owner: Consumer,
    ready: Arc<Mutex<ReadyLog>>,
    pub t0: Instant,
    pub c: Counters,
    pub errors: Vec<String>,
    /// Namespaces deleted: no more actions there.
    ns_gone: BTreeSet<usize>,
    pub switch: Option<JoinHandle<SwitchOutcome>>,
    pub apiserver: Option<JoinHandle<Result<Duration, String>>>,
    pub ns_tasks: Vec<JoinHandle<NsOutcome>>,
    /// Latest end of a namespace deletion task.
    pub ns_deadline: Instant,
}

impl<'a> Driver<'a> {
    pub fn ctx(&self) -> &'a Ctx {
        self.ctx
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &'a Ctx,
        plan: &Plan,
        seed: u64,
        namespaces: Vec<String>,
        ops: Operators,
        admin: Admin,
        owner: Consumer,
        ready: Arc<Mutex<ReadyLog>>,
        ns_deadline: Instant,
    ) -> Self {
        let objs = plan
            .objects
            .iter()
            .map(|p| Obj {
                name: p.name.clone(),
                ns: p.ns,
                spec: p.spec.clone(),
                uid: None,
                generation: None,
                deleted: false,
                conn: None,
            })
            .collect();
        let eps = plan
            .endpoints
            .iter()
            .map(|p| Ep {
                name: p.name.clone(),
                ns: plan.objects[p.svc].ns,
                svc: p.svc,
                spec: p.spec.clone(),
                uid: None,
                generation: None,
                deleted: false,
            })
            .collect();
        Driver {
            ctx,
            namespaces,
            switch_ns: plan.switch_ns,
            objs,
            eps,
            conns: HashMap::new(),
            rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
            ep_rng: StdRng::seed_from_u64(seed.wrapping_add(2)),
            ops,
            admin,
            owner,
            ready,
            t0: Instant::now(),
            c: Counters::default(),
            errors: Vec::new(),
            ns_gone: BTreeSet::new(),
            switch: None,
            apiserver: None,
            ns_tasks: Vec::new(),
            ns_deadline,
        }
    }

    fn api(&self, ns: usize) -> Api<DynamicObject> {
        self.ctx.api_in(&self.namespaces[ns])
    }

    fn ep_api(&self, ns: usize) -> Api<DynamicObject> {
        Api::namespaced_with(self.ctx.client.clone(), &self.namespaces[ns], &world::endpoint_resource())
    }

    fn error(&mut self, what: String) {
        eprintln!("chaos: t={}s {what}", self.t0.elapsed().as_secs());
        self.errors.push(what);
    }

    pub async fn run(&mut self, events: &[Planned]) {
        for ev in events {
            tokio::time::sleep_until((self.t0 + ev.at).into()).await;
            self.ops.supervise(self.t0.elapsed());
            self.act(&ev.act).await;
        }
    }

    async fn act(&mut self, act: &Act) {
        match act {
            Act::Create(i) => self.create(*i).await,
            Act::Edit => self.edit().await,
            Act::Delete => self.delete().await,
            Act::Connect(k) => self.connect(*k).await,
            Act::Disconnect(k) => self.disconnect(*k).await,
            Act::KillOperators => {
                let pause = Duration::from_millis(self.rng.random_range(200..1500));
                self.ops.kill_and_restart(pause).await;
                eprintln!("chaos: t={}s operators killed ({})", self.t0.elapsed().as_secs(), self.ops.kills);
            }
            Act::RestartApiserver => {
                eprintln!("chaos: t={}s restarting the apiserver", self.t0.elapsed().as_secs());
                self.apiserver = Some(tokio::spawn(world::restart_apiserver(self.ctx.env.dir.clone())));
            }
            Act::SwitchAccount => self.start_switch(),
            Act::DeleteNamespace(n) => self.delete_namespace(*n),
            Act::CreateEndpoint(j) => self.create_endpoint(*j).await,
            Act::EditEndpoint => self.edit_endpoint().await,
            Act::DeleteEndpoint => self.delete_endpoint().await,
        }
    }

    // ---- targets ----

    fn switching(&self, ns: usize) -> bool {
        ns == self.switch_ns && self.switch.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Objects the test may still act on.
    fn live(&self) -> Vec<usize> {
        (0..self.objs.len())
            .filter(|&i| {
                let o = &self.objs[i];
                o.uid.is_some() && !o.deleted && !self.ns_gone.contains(&o.ns) && !self.switching(o.ns)
            })
            .collect()
    }

    /// One of `cands`; half the time one with a live connection, if any (to exercise the blocks).
    fn pick(&mut self, cands: &[usize]) -> Option<usize> {
        let connected: Vec<usize> = cands.iter().copied().filter(|&i| self.objs[i].conn.is_some()).collect();
        if !connected.is_empty() && self.rng.random_bool(0.5) {
            return connected.choose(&mut self.rng).copied();
        }
        cands.choose(&mut self.rng).copied()
    }

    // ---- actions ----

    async fn create(&mut self, i: usize) {
        let ns = self.objs[i].ns;
        if self.ns_gone.contains(&ns) || self.switching(ns) {
            return;
        }
        let manifest = self.objs[i].spec.manifest(&self.objs[i].name, &self.ctx.ns);
        match world::create_object(&self.api(ns), &manifest).await {
            Ok(o) => {
                self.objs[i].uid = o.metadata.uid;
                self.objs[i].generation = o.metadata.generation;
                self.c.created += 1;
            }
            Err(e) => self.error(e),
        }
    }

    async fn edit(&mut self) {
        let live = self.live();
        let mut kinds = EditKind::ALL.to_vec();
        while !kinds.is_empty() {
            let kind = kinds.remove(self.rng.random_range(0..kinds.len()));
            let cands: Vec<usize> = live.iter().copied().filter(|&i| self.objs[i].spec.can(kind)).collect();
            let Some(i) = self.pick(&cands) else { continue };
            let patch = self.objs[i].spec.edit(kind, &mut self.rng);
            match world::patch_object(&self.api(self.objs[i].ns), &self.objs[i].name, &patch).await {
                Ok(o) => {
                    self.objs[i].generation = o.metadata.generation;
                    *self.c.edits.entry(kind).or_default() += 1;
                }
                Err(e) => self.error(e),
            }
            return;
        }
    }

    /// Deletes a live service; with its live endpoint, if it has one, in a seeded order.
    async fn delete(&mut self) {
        let live = self.live();
        let Some(i) = self.pick(&live) else { return };
        let ep = self.live_endpoints().into_iter().find(|&j| self.eps[j].svc == i);
        let service_first = ep.is_some() && self.ep_rng.random_bool(0.5);
        if let (Some(j), false) = (ep, service_first) {
            self.delete_endpoint_object(j).await;
        }
        match world::delete_object(&self.api(self.objs[i].ns), &self.objs[i].name).await {
            Ok(()) => {
                self.objs[i].deleted = true;
                self.c.deletes += 1;
                self.c.orphan_deletes += u64::from(self.objs[i].spec.orphan);
            }
            Err(e) => self.error(e),
        }
        if let Some(j) = ep {
            if service_first {
                self.delete_endpoint_object(j).await;
            }
            self.c.ep.with_service += 1;
            self.c.ep.service_first += u64::from(service_first);
        }
    }

    // ---- endpoints ----

    /// Endpoints the test may still act on (created, not deleted, namespace not deleted).
    fn live_endpoints(&self) -> Vec<usize> {
        (0..self.eps.len())
            .filter(|&j| {
                let e = &self.eps[j];
                e.uid.is_some() && !e.deleted && !self.ns_gone.contains(&e.ns)
            })
            .collect()
    }

    /// Creates endpoint `j`, unless its service is gone (or was never created) by now.
    async fn create_endpoint(&mut self, j: usize) {
        let (ns, svc) = (self.eps[j].ns, self.eps[j].svc);
        let s = &self.objs[svc];
        if self.ns_gone.contains(&ns) || s.uid.is_none() || s.deleted {
            self.c.ep.skipped += 1;
            return;
        }
        let e = &self.eps[j];
        let manifest = e.spec.manifest(&e.name, &s.name, &self.ctx.ns);
        match world::create_object(&self.ep_api(ns), &manifest).await {
            Ok(o) => {
                self.eps[j].uid = o.metadata.uid;
                self.eps[j].generation = o.metadata.generation;
                self.c.ep.created += 1;
            }
            Err(e) => self.error(format!("{} {e}", crate::spec::ENDPOINT_KIND)),
        }
    }

    async fn edit_endpoint(&mut self) {
        let live = self.live_endpoints();
        let Some(&j) = live.choose(&mut self.ep_rng) else { return };
        let kind = *EpEditKind::ALL.choose(&mut self.ep_rng).unwrap();
        let patch = self.eps[j].spec.edit(kind, &mut self.ep_rng);
        match world::patch_object(&self.ep_api(self.eps[j].ns), &self.eps[j].name, &patch).await {
            Ok(o) => {
                self.eps[j].generation = o.metadata.generation;
                *self.c.ep.edits.entry(kind).or_default() += 1;
            }
            Err(e) => self.error(format!("{} {e}", crate::spec::ENDPOINT_KIND)),
        }
    }

    /// Deletes one live endpoint on its own.
    async fn delete_endpoint(&mut self) {
        let live = self.live_endpoints();
        let Some(&j) = live.choose(&mut self.ep_rng) else { return };
        if self.delete_endpoint_object(j).await {
            self.c.ep.deletes += 1;
        }
    }

    async fn delete_endpoint_object(&mut self, j: usize) -> bool {
        match world::delete_object(&self.ep_api(self.eps[j].ns), &self.eps[j].name).await {
            Ok(()) => {
                self.eps[j].deleted = true;
                self.c.ep.orphan_deletes += u64::from(self.eps[j].spec.orphan);
                true
            }
            Err(e) => {
                self.error(format!("{} {e}", crate::spec::ENDPOINT_KIND));
                false
            }
        }
    }

    /// A connection only on a quiet service: Ready for the generation the test last wrote, not being
    /// deleted. Then no Detach or Delete can already be on its way when the connection appears.
    fn quiet(&self) -> Vec<(usize, String)> {
        let ready = self.ready.lock();
        let views: HashMap<&str, _> = ready.objects.values().map(|v| (v.uid.as_str(), v)).collect();
        self.live()
            .into_iter()
            .filter(|&i| self.objs[i].conn.is_none())
            .filter_map(|i| {
                let v = views.get(self.objs[i].uid.as_deref()?)?;
                let quiet =
                    v.ready_for_generation() && v.generation == self.objs[i].generation && !v.deleting;
                quiet.then(|| Some((i, v.service_id.clone()?)))?
            })
            .collect()
    }

    async fn connect(&mut self, k: usize) {
        let quiet = self.quiet();
        let Some((i, sid)) = quiet.choose(&mut self.rng).cloned() else {
            self.c.connects_skipped += 1;
            return;
        };
        match world::connect(&self.admin, &sid).await {
            Ok(endpoint_id) => {
                let region = self.objs[i].spec.region;
                self.conns.insert(k, Conn { obj: i, region, service_id: sid, endpoint_id });
                self.objs[i].conn = Some(k);
                self.c.connects += 1;
            }
            Err(e) => self.error(format!("connect to {sid}: {e}")),
        }
    }

    async fn disconnect(&mut self, k: usize) {
        let Some(conn) = self.conns.remove(&k) else { return };
        self.objs[conn.obj].conn = None;
        let r = world::disconnect(&self.owner, &self.admin, conn.region, &conn.service_id, &conn.endpoint_id);
        match r.await {
            Ok(()) => self.c.disconnects += 1,
            Err(e) => self.error(e),
        }
    }

    /// Closes every open connection (the final phase).
    pub async fn disconnect_all(&mut self) {
        let open: Vec<usize> = self.conns.keys().copied().collect();
        for k in open {
            self.disconnect(k).await;
        }
    }

    fn start_switch(&mut self) {
        let ns = self.namespaces[self.switch_ns].clone();
        eprintln!("chaos: t={}s switching {ns} to the other account", self.t0.elapsed().as_secs());
        let task = switch_account(self.ctx.client.clone(), ns, self.ready.clone());
        self.switch = Some(tokio::spawn(task));
    }

    pub fn delete_namespace(&mut self, n: usize) {
        if !self.ns_gone.insert(n) {
            return;
        }
        for o in self.objs.iter_mut().filter(|o| o.ns == n && o.uid.is_some()) {
            o.deleted = true;
        }
        for e in self.eps.iter_mut().filter(|e| e.ns == n && e.uid.is_some()) {
            e.deleted = true;
        }
        self.c.namespaces_deleted += 1;
        let ns = self.namespaces[n].clone();
        eprintln!("chaos: t={}s deleting namespace {ns}", self.t0.elapsed().as_secs());
        let (client, ar): (Client, ApiResource) = (self.ctx.client.clone(), self.ctx.ar.clone());
        self.ns_tasks.push(tokio::spawn(world::delete_namespace(client, ar, ns, self.ns_deadline)));
    }

    /// UIDs of the objects created with `deletionPolicy: Orphan`.
    pub fn orphan_uids(&self) -> BTreeSet<String> {
        self.objs.iter().filter(|o| o.spec.orphan).filter_map(|o| o.uid.clone()).collect()
    }

    /// UIDs of the endpoints created with `deletionPolicy: Orphan`.
    pub fn orphan_endpoint_uids(&self) -> BTreeSet<String> {
        self.eps.iter().filter(|e| e.spec.orphan).filter_map(|e| e.uid.clone()).collect()
    }
}

/// Points a namespace's Secret at the other account; checks that every object reports
/// `AccountMismatch`; points it back. (That nothing was written in the other account is checked from
/// the simulator's journal and services over the whole run.)
async fn switch_account(client: Client, ns: String, ready: Arc<Mutex<ReadyLog>>) -> SwitchOutcome {
    let mut out = SwitchOutcome { ns: ns.clone(), ..Default::default() };
    let recorded = poll_until(SWITCH_PRECONDITION, || {
        let objs = ready.lock().in_namespace(&ns);
        let without: Vec<String> =
            objs.iter().filter(|o| o.account_id.is_none()).map(|o| o.name.clone()).collect();
        async move { if without.is_empty() { Ok(objs) } else { Err(without.join(", ")) } }
    })
    .await;
    let objs = match recorded {
        Ok(objs) => objs,
        Err(without) => {
            out.skipped =
                Some(format!("objects without status.accountId after {SWITCH_PRECONDITION:?}: {without}"));
            return out;
        }
    };
    out.objects = objs.len();
    if let Err(e) = world::set_credentials(&client, &ns, OTHER_KEYS).await {
        out.errors.push(e);
    }
    let uids: BTreeSet<String> = objs.into_iter().map(|o| o.uid).collect();
    let missing = || {
        let r = ready.lock();
        let shown = uids.iter().filter_map(|u| r.objects.get(u));
        shown
            .filter(|o| o.ready.as_ref().is_none_or(|c| c.reason != "AccountMismatch"))
            .map(|o| format!("{}/{} ({})", o.ns, o.name, o.ready_reason()))
            .collect::<Vec<_>>()
    };
    let seen = poll_until(SWITCH_SEEN, || {
        let m = missing();
        async move { if m.is_empty() { Ok(()) } else { Err(String::new()) } }
    })
    .await;
    if seen.is_err() {
        out.missing = missing();
    }
    out.mismatched = out.objects - out.missing.len();
    if let Err(e) = world::set_credentials(&client, &ns, DEFAULT_KEYS).await {
        out.errors.push(e);
    }
    out
}
