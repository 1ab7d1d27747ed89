//! Kubernetes Events (`events.k8s.io/v1`) with a bounded memory.
//!
//! kube-runtime's `Recorder` keeps every Event it published, whole, for six minutes to count repeats
//! into a series, and scans all of them on every publish: after a burst of 10,000 objects that is 20,000
//! Events (tens of MiB) and a quadratic cost. This recorder keeps per recent Event only what a repeat
//! needs (its name, count and time), at most [`CAPACITY`] of them, oldest dropped first, each for
//! [`TTL`]; a repeat within that window patches the Event's `series`, as kube-runtime does, and a repeat
//! of a forgotten one creates a new Event (what a restarted operator does anyway). The cache is pure and
//! tested; [`Recorder::publish`] is its I/O.

use std::{
    collections::{HashMap, VecDeque},
    hash::{DefaultHasher, Hash, Hasher},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event as K8sEvent, events::v1::EventSeries},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    runtime::events::{Event, EventType, Reporter},
};
use parking_lot::Mutex;

/// Recent Events remembered for series counting.
pub const CAPACITY: usize = 4096;
/// How long a repeat counts into the same Event (as kube-runtime).
pub const TTL: Duration = Duration::from_secs(360);

/// What a repeat of an Event needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Name of the Event object.
    pub name: String,
    /// Times it was published.
    pub count: i32,
}

/// The bounded cache: key (a hash of object, type, reason, action and note) → the Event published.
#[derive(Debug, Default)]
pub struct Cache {
    map: HashMap<u64, (Seen, Instant)>,
    order: VecDeque<(u64, Instant)>,
}

impl Cache {
    /// The Event to patch for a repeat of `key` at `now`, counting this one; `None`: create a new one.
    pub fn repeat(&mut self, key: u64, now: Instant) -> Option<Seen> {
        self.expire(now);
        let (seen, _) = self.map.get_mut(&key)?;
        seen.count += 1;
        Some(seen.clone())
    }

    /// Remember an Event just created for `key` at `now`.
    pub fn created(&mut self, key: u64, name: String, now: Instant) {
        self.expire(now);
        while self.map.len() >= CAPACITY {
            match self.order.pop_front() {
                Some((k, at)) => {
                    if self.map.get(&k).is_some_and(|(_, t)| *t == at) {
                        self.map.remove(&k);
                    }
                }
                None => break,
            }
        }
        self.map.insert(key, (Seen { name, count: 1 }, now));
        self.order.push_back((key, now));
    }

    /// Forget Events older than [`TTL`] (from the front: the order is by creation).
    fn expire(&mut self, now: Instant) {
        while let Some((k, at)) = self.order.front().copied() {
            if now.saturating_duration_since(at) < TTL {
                break;
            }
            self.order.pop_front();
            if self.map.get(&k).is_some_and(|(_, t)| *t == at) {
                self.map.remove(&k);
            }
        }
    }

    /// Events remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Publishes Events for the controller's objects.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    cache: std::sync::Arc<Mutex<Cache>>,
}

fn key(ev: &Event, reference: &ObjectReference) -> u64 {
    let mut h = DefaultHasher::new();
    (&reference.uid, &reference.namespace, &reference.name, &reference.kind).hash(&mut h);
    (matches!(ev.type_, EventType::Warning), &ev.reason, &ev.action, &ev.note).hash(&mut h);
    h.finish()
}

impl Recorder {
    /// A recorder reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self { client, reporter, cache: Default::default() }
    }

    /// Publish `ev` about the object `reference`.
    pub async fn publish(&self, ev: &Event, reference: &ObjectReference) -> Result<(), kube::Error> {
        let k = key(ev, reference);
        let now = Instant::now();
        let ns = reference.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &ns);
        let time = MicroTime(jiff::Timestamp::now());
        let repeat = self.cache.lock().repeat(k, now);
        if let Some(seen) = repeat {
            let patch = K8sEvent {
                series: Some(EventSeries { count: seen.count, last_observed_time: time }),
                ..Default::default()
            };
            api.patch(&seen.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            return Ok(());
        }
        let name = format!(
            "{}.{:x}",
            reference.name.as_deref().unwrap_or("object"),
            (jiff::Timestamp::now().as_nanosecond() as u64) ^ k
        );
        let event = K8sEvent {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(ns), ..Default::default() },
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            note: ev.note.clone(),
            type_: Some(match ev.type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            regarding: Some(reference.clone()),
            related: ev.secondary.clone(),
            event_time: Some(time),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter.instance.clone().unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.cache.lock().created(k, name, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_count_into_the_same_event_within_the_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        assert_eq!(c.repeat(1, t0), None, "first time: create");
        c.created(1, "a.1".into(), t0);
        assert_eq!(c.repeat(1, t0 + Duration::from_secs(10)), Some(Seen { name: "a.1".into(), count: 2 }));
        assert_eq!(c.repeat(1, t0 + Duration::from_secs(20)), Some(Seen { name: "a.1".into(), count: 3 }));
        assert_eq!(c.repeat(2, t0), None, "another event");
        assert_eq!(c.repeat(1, t0 + TTL), None, "expired: a new Event");
        assert!(c.is_empty());
    }

    #[test]
    fn memory_is_bounded_oldest_first() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        for k in 0..(CAPACITY as u64 + 10) {
            c.created(k, format!("e.{k}"), t0 + Duration::from_millis(k));
        }
        assert_eq!(c.len(), CAPACITY);
        let now = t0 + Duration::from_secs(1);
        assert_eq!(c.repeat(0, now), None, "the oldest were dropped");
        assert!(c.repeat(CAPACITY as u64 + 9, now).is_some(), "the newest are kept");
    }

    #[test]
    fn a_recreated_key_is_not_dropped_by_its_stale_order_entry() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.created(7, "old".into(), t0);
        let later = t0 + TTL + Duration::from_secs(1);
        assert_eq!(c.repeat(7, later), None);
        c.created(7, "new".into(), later);
        assert_eq!(c.repeat(7, later + Duration::from_secs(1)).map(|s| s.name), Some("new".into()));
    }
}
