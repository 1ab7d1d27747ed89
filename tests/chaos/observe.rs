//! What the run sees while it runs, collected without judging (that is `verdict`): the objects and
//! their `Ready` condition (a kube watcher per kind), the simulator's services and endpoints (polled
//! every second) and its journal (polled by `seq`, so no call is missed).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Client,
    api::{Api, ApiResource, DynamicObject},
    runtime::{WatchStreamExt, watcher},
};
use parking_lot::Mutex;
use serde_json::Value;

use crate::spec::RUN_LABEL;

/// The second account of the simulator's world (`sim-ak-other`).
pub const OTHER_ACCOUNT: &str = "2234567890123456";
/// The operator's ownership tag on every service and endpoint it creates.
pub const OWNER_TAG: &str = "privatelink.alicloud.dev/owner-uid";
/// The code the simulator refuses a Detach or Delete with while a connection is live.
pub const CONNECTION_DEPENDENCE: &str = "EndpointServiceConnectionDependence";
const GUARDED: [&str; 2] = ["DeleteVpcEndpointService", "DetachResourceFromVpcEndpointService"];
/// The consumer's writes: the `VpcEndpoint`s of a run belong to the other account (B), so these are
/// the only writes expected with its credentials.
pub const CONSUMER_ACTIONS: [&str; 7] = [
    "CreateVpcEndpoint",
    "UpdateVpcEndpointAttribute",
    "DeleteVpcEndpoint",
    "AddZoneToVpcEndpoint",
    "RemoveZoneFromVpcEndpoint",
    "AttachSecurityGroupToVpcEndpoint",
    "DetachSecurityGroupFromVpcEndpoint",
];

/// The simulator's unsigned admin API, cloneable into background tasks.
#[derive(Clone)]
pub struct Admin {
    pub url: String,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(url: &str) -> Admin {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Admin { url: url.to_string(), http }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/_sim/{path}", self.url);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{method} {url} -> {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {url}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn services(&self) -> Result<Vec<Value>, String> {
        Ok(self.get("services").await?["services"].as_array().cloned().unwrap_or_default())
    }

    /// The simulator's endpoints (`GET /_sim/endpoints`, with their tags).
    pub async fn endpoints(&self) -> Result<Vec<Value>, String> {
        Ok(self.get("endpoints").await?["endpoints"].as_array().cloned().unwrap_or_default())
    }

    /// Services or endpoints, as `kind` says.
    pub async fn list(&self, kind: CloudKind) -> Result<Vec<Value>, String> {
        match kind {
            CloudKind::Services => self.services().await,
            CloudKind::Endpoints => self.endpoints().await,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Objects and Ready (kube watcher)
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyCond {
    pub status: String,
    pub reason: String,
    pub message: String,
    pub generation: Option<i64>,
}

/// One object as last seen.
#[derive(Clone, Debug)]
pub struct ObjView {
    pub ns: String,
    pub name: String,
    pub uid: String,
    pub generation: Option<i64>,
    pub ready: Option<ReadyCond>,
    pub deleting: bool,
    pub service_id: Option<String>,
    pub account_id: Option<String>,
    pub finalizers: Vec<String>,
}

impl ObjView {
    pub fn from(o: &DynamicObject) -> Option<ObjView> {
        let md = &o.metadata;
        let status =
            |f: &str| o.data.pointer(&format!("/status/{f}")).and_then(Value::as_str).map(String::from);
        let ready = crate::harness::condition(o, "Ready").map(|c| ReadyCond {
            status: c["status"].as_str().unwrap_or_default().into(),
            reason: c["reason"].as_str().unwrap_or_default().into(),
            message: c["message"].as_str().unwrap_or_default().into(),
            generation: c["observedGeneration"].as_i64(),
        });
        Some(ObjView {
            ns: md.namespace.clone()?,
            name: md.name.clone()?,
            uid: md.uid.clone()?,
            generation: md.generation,
            ready,
            deleting: md.deletion_timestamp.is_some(),
            service_id: status("serviceId"),
            account_id: status("accountId"),
            finalizers: md.finalizers.clone().unwrap_or_default(),
        })
    }

    /// `Ready=True` for the current generation: the operator has nothing left to do.
    pub fn ready_for_generation(&self) -> bool {
        self.ready.as_ref().is_some_and(|c| c.status == "True" && c.generation == self.generation)
    }

    pub fn ready_reason(&self) -> String {
        self.ready.as_ref().map_or("(no Ready)".into(), |c| format!("{} {}", c.status, c.reason))
    }
}

/// A `Ready` True→False transition.
#[derive(Clone, Debug)]
pub struct Transition {
    pub at: Duration,
    pub ns: String,
    pub name: String,
    pub reason: String,
    pub message: String,
    /// `observedGeneration` of the condition while True, and once False.
    pub from_generation: Option<i64>,
    pub to_generation: Option<i64>,
    pub deleting: bool,
}

#[derive(Default)]
pub struct ReadyLog {
    /// Live objects by UID.
    pub objects: HashMap<String, ObjView>,
    pub transitions: Vec<Transition>,
    /// Every `Ready=False` reason seen, with how often Ready turned to it.
    pub false_reasons: BTreeMap<String, u64>,
    pub watch_errors: u64,
    /// Full re-lists (the first list included).
    pub lists: u64,
    listing: Option<HashSet<String>>,
}

impl ReadyLog {
    fn apply(&mut self, o: &DynamicObject, at: Duration) {
        let Some(v) = ObjView::from(o) else { return };
        if let Some(seen) = &mut self.listing {
            seen.insert(v.uid.clone());
        }
        let before = self.objects.insert(v.uid.clone(), v.clone()).and_then(|p| p.ready);
        let Some(after) = &v.ready else { return };
        if after.status != "False"
            || before.as_ref().is_some_and(|b| b.status == "False" && b.reason == after.reason)
        {
            return;
        }
        *self.false_reasons.entry(after.reason.clone()).or_default() += 1;
        if let Some(b) = before.filter(|b| b.status == "True") {
            self.transitions.push(Transition {
                at,
                ns: v.ns.clone(),
                name: v.name.clone(),
                reason: after.reason.clone(),
                message: after.message.clone(),
                from_generation: b.generation,
                to_generation: after.generation,
                deleting: v.deleting,
            });
        }
    }

    fn event(&mut self, ev: watcher::Event<DynamicObject>, at: Duration) {
        match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => self.apply(&o, at),
            watcher::Event::Delete(o) => {
                if let Some(uid) = o.metadata.uid {
                    self.objects.remove(&uid);
                }
            }
            watcher::Event::Init => self.listing = Some(HashSet::new()),
            watcher::Event::InitDone => {
                if let Some(seen) = self.listing.take() {
                    self.objects.retain(|uid, _| seen.contains(uid));
                }
                self.lists += 1;
            }
        }
    }

    /// Live objects of a namespace.
    pub fn in_namespace(&self, ns: &str) -> Vec<ObjView> {
        self.objects.values().filter(|v| v.ns == ns).cloned().collect()
    }
}

/// Watches this run's objects of one kind (`ar`) in every namespace (label `chaos-run=<run>`), through
/// apiserver restarts.
pub fn spawn_watcher(
    client: Client,
    ar: ApiResource,
    run: &str,
    log: Arc<Mutex<ReadyLog>>,
    t0: Instant,
) -> tokio::task::JoinHandle<()> {
    let api = Api::<DynamicObject>::all_with(client, &ar);
    let cfg = watcher::Config::default().labels(&format!("{RUN_LABEL}={run}"));
    tokio::spawn(async move {
        let mut stream = watcher(api, cfg).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            let mut log = log.lock();
            match ev {
                Ok(ev) => log.event(ev, t0.elapsed()),
                Err(_) => log.watch_errors += 1,
            }
        }
    })
}

// ------------------------------------------------------------------------------------------------
// Services and endpoints (polled)
// ------------------------------------------------------------------------------------------------

/// What a [`CloudLog`] records: the provider's services or the consumer's endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CloudKind {
    #[default]
    Services,
    Endpoints,
}

impl CloudKind {
    /// The admin view's ID and status fields.
    pub fn id_key(self) -> &'static str {
        match self {
            CloudKind::Services => "serviceId",
            CloudKind::Endpoints => "endpointId",
        }
    }

    pub fn status_key(self) -> &'static str {
        match self {
            CloudKind::Services => "serviceStatus",
            CloudKind::Endpoints => "endpointStatus",
        }
    }
}

#[derive(Default)]
pub struct CloudLog {
    pub kind: CloudKind,
    pub polls: u64,
    pub errors: u64,
    /// Most non-Deleting services (endpoints) one owner UID had at once.
    pub max_live_per_uid: usize,
    /// First sighting of each UID with two or more non-Deleting services.
    pub duplicates: Vec<String>,
    /// Every service ID seen per owner UID over the run.
    pub ids_per_uid: BTreeMap<String, BTreeSet<String>>,
    /// Services seen in the other account (services only: the endpoints are the other account's).
    pub other_account: BTreeSet<String>,
    /// Services without the ownership tag.
    pub untagged: BTreeSet<String>,
    /// The last snapshot of every service.
    pub last: Vec<Value>,
}

pub fn owner_of(s: &Value) -> Option<String> {
    s["tags"].as_array()?.iter().find(|t| t["key"] == OWNER_TAG)?["value"].as_str().map(String::from)
}

impl CloudLog {
    pub fn new(kind: CloudKind) -> CloudLog {
        CloudLog { kind, ..Default::default() }
    }

    pub fn absorb(&mut self, services: &[Value], at: Duration) {
        self.polls += 1;
        self.last = services.to_vec();
        let (id_key, status_key) = (self.kind.id_key(), self.kind.status_key());
        let mut live: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in services {
            let id = s[id_key].as_str().unwrap_or_default().to_string();
            if self.kind == CloudKind::Services && s["accountId"] == OTHER_ACCOUNT {
                self.other_account.insert(id.clone());
            }
            let Some(uid) = owner_of(s) else {
                self.untagged.insert(id);
                continue;
            };
            self.ids_per_uid.entry(uid.clone()).or_default().insert(id.clone());
            if s[status_key] != "Deleting" {
                live.entry(uid).or_default().push(id);
            }
        }
        for (uid, ids) in live {
            self.max_live_per_uid = self.max_live_per_uid.max(ids.len());
            if ids.len() > 1 && !self.duplicates.iter().any(|d| d.contains(&uid)) {
                self.duplicates.push(format!("t={}s owner {uid}: {}", at.as_secs(), ids.join(", ")));
            }
        }
    }
}

/// One poll of the services or endpoints (the log's kind).
pub async fn poll_cloud(admin: &Admin, log: &Mutex<CloudLog>, t0: Instant) {
    let kind = log.lock().kind;
    match admin.list(kind).await {
        Ok(s) => log.lock().absorb(&s, t0.elapsed()),
        Err(_) => log.lock().errors += 1,
    }
}

// ------------------------------------------------------------------------------------------------
// Journal (polled by seq)
// ------------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct JournalLog {
    pub polls: u64,
    pub errors: u64,
    pub last_seq: u64,
    /// Calls that left the 10k window before a poll saw them.
    pub missed: u64,
    /// Detach/Delete refused because of a live connection.
    pub refused: Vec<String>,
    /// Mutating calls made with the other account's credentials, apart from the consumer's endpoint
    /// writes ([`CONSUMER_ACTIONS`]).
    pub other_account_writes: Vec<String>,
    /// The consumer's endpoint writes (account B, [`CONSUMER_ACTIONS`]).
    pub consumer_writes: u64,
    /// The journal's own totals (`counts`: action → code → n), from the last poll.
    pub counts: Value,
}

fn is_mutating(action: &str) -> bool {
    privatelink_sim::ops::PRIVATELINK.iter().any(|op| op.action == action && op.mutating)
}

fn describe(c: &Value) -> String {
    format!(
        "seq {} {} {} on {} at {} (fault {})",
        c["seq"],
        c["action"].as_str().unwrap_or_default(),
        c["code"].as_str().unwrap_or_default(),
        c["serviceId"].as_str().unwrap_or("-"),
        c["time"].as_str().unwrap_or_default(),
        c["fault"].as_str().unwrap_or("none"),
    )
}

impl JournalLog {
    pub fn absorb(&mut self, journal: &Value) {
        self.polls += 1;
        self.counts = journal["counts"].clone();
        let calls = journal["calls"].as_array().cloned().unwrap_or_default();
        let fresh: Vec<&Value> = calls.iter().filter(|c| c["seq"].as_u64() > Some(self.last_seq)).collect();
        if let Some(first) = fresh.first().and_then(|c| c["seq"].as_u64()) {
            self.missed += first.saturating_sub(self.last_seq + 1);
        }
        for c in &fresh {
            let action = c["action"].as_str().unwrap_or_default();
            if GUARDED.contains(&action) && c["code"] == CONNECTION_DEPENDENCE {
                self.refused.push(describe(c));
            }
            if c["account"] == OTHER_ACCOUNT && is_mutating(action) {
                if CONSUMER_ACTIONS.contains(&action) {
                    self.consumer_writes += 1;
                } else {
                    self.other_account_writes.push(describe(c));
                }
            }
            self.last_seq = self.last_seq.max(c["seq"].as_u64().unwrap_or(0));
        }
    }

    /// The journal's total of `action` answered with `code`, over the whole run.
    pub fn total(&self, action: &str, code: &str) -> u64 {
        self.counts[action][code].as_u64().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        let per_action = self.counts.as_object().into_iter().flat_map(|m| m.values());
        per_action
            .flat_map(|codes| codes.as_object().into_iter().flat_map(|m| m.values()))
            .filter_map(Value::as_u64)
            .sum()
    }
}

pub async fn poll_journal(admin: &Admin, log: &Mutex<JournalLog>) {
    match admin.get("journal").await {
        Ok(j) => log.lock().absorb(&j),
        Err(_) => log.lock().errors += 1,
    }
}

/// Polls services and endpoints every second and the journal every two, until aborted.
pub fn spawn_pollers(
    admin: Admin,
    clouds: [Arc<Mutex<CloudLog>>; 2],
    journal: Arc<Mutex<JournalLog>>,
    t0: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for n in 0u64.. {
            tick.tick().await;
            for cloud in &clouds {
                poll_cloud(&admin, cloud, t0).await;
            }
            if n % 2 == 0 {
                poll_journal(&admin, &journal).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn journal_polls_count_gaps_and_refusals_once() {
        let mut j = JournalLog::default();
        let call = |seq: u64, action: &str, code: &str| json!({"seq": seq, "action": action, "code": code});
        j.absorb(&json!({"calls": [call(1, "GetVpcEndpointServiceAttribute", "OK"), call(2, GUARDED[0], CONNECTION_DEPENDENCE)]}));
        j.absorb(&json!({"calls": [call(2, GUARDED[0], CONNECTION_DEPENDENCE), call(5, GUARDED[1], "OK")]}));
        assert_eq!((j.last_seq, j.missed, j.refused.len()), (5, 2, 1));
    }

    #[test]
    fn only_the_consumers_endpoint_writes_are_expected_in_the_other_account() {
        // (action, account, counted as the consumer's, counted as a write in the other account)
        let cases = [
            ("CreateVpcEndpoint", OTHER_ACCOUNT, 1, 0),
            ("DeleteVpcEndpoint", OTHER_ACCOUNT, 1, 0),
            ("AttachSecurityGroupToVpcEndpoint", OTHER_ACCOUNT, 1, 0),
            ("RemoveZoneFromVpcEndpoint", OTHER_ACCOUNT, 1, 0),
            ("ListVpcEndpoints", OTHER_ACCOUNT, 0, 0),
            ("CreateVpcEndpointService", OTHER_ACCOUNT, 0, 1),
            ("TagResources", OTHER_ACCOUNT, 0, 1),
            ("DeleteVpcEndpointService", OTHER_ACCOUNT, 0, 1),
            ("EnableVpcEndpointConnection", OTHER_ACCOUNT, 0, 1),
            ("CreateVpcEndpointService", "1234567890123456", 0, 0),
            ("CreateVpcEndpoint", "1234567890123456", 0, 0),
        ];
        for (action, account, consumer, other) in cases {
            let mut j = JournalLog::default();
            j.absorb(&json!({"calls": [{"seq": 1, "action": action, "account": account, "code": "OK"}]}));
            assert_eq!(
                (j.consumer_writes, j.other_account_writes.len()),
                (consumer, other),
                "{action} {account}"
            );
        }
    }

    #[test]
    fn endpoints_are_counted_per_owner_by_their_own_fields() {
        let ep = |id: &str, uid: Option<&str>, status: &str| {
            let tags: Vec<Value> = uid.iter().map(|u| json!({"key": OWNER_TAG, "value": u})).collect();
            json!({"endpointId": id, "endpointStatus": status, "accountId": OTHER_ACCOUNT, "tags": tags})
        };
        let mut c = CloudLog::new(CloudKind::Endpoints);
        c.absorb(
            &[ep("a", Some("u1"), "Active"), ep("b", Some("u1"), "Deleting"), ep("c", None, "Active")],
            Duration::ZERO,
        );
        assert_eq!((c.max_live_per_uid, c.duplicates.len(), c.untagged.len()), (1, 0, 1));
        assert!(
            c.other_account.is_empty(),
            "account B's endpoints are the consumer's, not a leak of credentials"
        );
        c.absorb(&[ep("a", Some("u1"), "Pending"), ep("d", Some("u1"), "Creating")], Duration::from_secs(3));
        assert_eq!((c.max_live_per_uid, c.duplicates.len()), (2, 1));
        assert!(c.duplicates[0].starts_with("t=3s owner u1: a, d"), "{:?}", c.duplicates);
        assert_eq!(c.ids_per_uid["u1"].len(), 3);
    }

    #[test]
    fn services_are_counted_per_owner_while_not_deleting() {
        let svc = |id: &str, uid: &str, status: &str| {
            json!({"serviceId": id, "serviceStatus": status, "accountId": "1",
                   "tags": [{"key": OWNER_TAG, "value": uid}]})
        };
        let mut c = CloudLog::default();
        c.absorb(
            &[svc("a", "u1", "Active"), svc("b", "u1", "Deleting"), svc("c", "u2", "Active")],
            Duration::ZERO,
        );
        assert_eq!((c.max_live_per_uid, c.duplicates.len()), (1, 0));
        c.absorb(&[svc("a", "u1", "Active"), svc("d", "u1", "Creating")], Duration::ZERO);
        assert_eq!((c.max_live_per_uid, c.duplicates.len()), (2, 1));
        assert_eq!(c.ids_per_uid["u1"].len(), 3);
    }
}
