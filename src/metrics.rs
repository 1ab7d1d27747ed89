//! Prometheus metrics (prometheus-client). No per-object labels, so cardinality stays flat at scale.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Labels of a cloud API call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudLabels {
    /// Alibaba action name.
    pub action: String,
    /// `OK`, an Alibaba error code, or `Transport`.
    pub code: String,
}

/// Label of the action only.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    /// Alibaba action name.
    pub action: String,
}

/// Label of a failure reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Error reason (an Alibaba code or an operator error kind).
    pub reason: String,
}

/// Label of a Ready condition state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReadyLabels {
    /// `True`, `False` or `Unknown`.
    pub ready: String,
}

/// Labels of a learnt pace: where, and what kind of service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PaceLabels {
    /// Alibaba region ID.
    pub region: String,
    /// The service's resource type (`slb`, `nlb`, ...).
    pub kind: String,
}

/// Label of a reconcile slot's urgency rank.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RankLabels {
    /// `follow` (polls of services the cloud is working on), `start` (work under way, deletions) or
    /// `routine` (new objects, resyncs).
    pub rank: &'static str,
}

/// Label of what an object parked for an account's API budget would do.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    /// `poll` (a service being created or updated) or `start` (a Create).
    pub class: &'static str,
}

/// What the queues hold, read when `/metrics` is scraped.
type Refresh = Box<dyn Fn(&Metrics) + Send + Sync>;

/// All metrics of the operator.
pub struct Metrics {
    registry: Registry,
    /// Reconciliations started.
    pub reconcile_runs: Counter,
    /// Reconciliations that ended in an error, by reason.
    pub reconcile_failures: Family<ReasonLabels, Counter>,
    /// Reconciliation duration in seconds.
    pub reconcile_duration: Histogram,
    /// Alibaba Cloud API calls by action and result code.
    pub cloud_requests: Family<CloudLabels, Counter>,
    /// Alibaba Cloud API call latency in seconds, by action.
    pub cloud_latency: Family<ActionLabels, Histogram>,
    /// Objects by Ready condition.
    pub objects: Family<ReadyLabels, Gauge>,
    /// Kubernetes status patches sent.
    pub status_patches: Counter,
    /// Objects parked for a reconcile slot, by rank.
    pub slot_waiters: Family<RankLabels, Gauge>,
    /// Reconcile slots in use (of `--concurrency`).
    pub slots_busy: Gauge,
    /// Objects parked for an account's API budget, by what they would do.
    pub budget_parked: Family<ClassLabels, Gauge>,
    /// The learnt first poll of a `Creating` service (seconds after its Create), by region and kind.
    pub first_poll: Family<PaceLabels, Gauge<f64, AtomicU64>>,
    refresh: std::sync::OnceLock<Refresh>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0].into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("privatelink_operator");
        let reconcile_runs = Counter::default();
        let reconcile_failures = Family::<ReasonLabels, Counter>::default();
        let reconcile_duration = Histogram::new(latency_buckets());
        let cloud_requests = Family::<CloudLabels, Counter>::default();
        let cloud_latency =
            Family::<ActionLabels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
        let objects = Family::<ReadyLabels, Gauge>::default();
        let status_patches = Counter::default();
        let slot_waiters = Family::<RankLabels, Gauge>::default();
        let slots_busy = Gauge::default();
        let budget_parked = Family::<ClassLabels, Gauge>::default();
        let first_poll = Family::<PaceLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("reconcile_runs", "Reconciliations started", reconcile_runs.clone());
        registry.register("reconcile_failures", "Reconciliations that failed", reconcile_failures.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Reconciliation duration",
            reconcile_duration.clone(),
        );
        registry.register(
            "alicloud_requests",
            "Alibaba Cloud API calls by action and code",
            cloud_requests.clone(),
        );
        registry.register(
            "alicloud_request_duration_seconds",
            "Alibaba Cloud API call latency",
            cloud_latency.clone(),
        );
        registry.register("objects", "VpcEndpointService objects by Ready condition", objects.clone());
        registry.register("status_patches", "Status patches written to Kubernetes", status_patches.clone());
        registry.register(
            "slot_waiters",
            "Objects parked for a reconcile slot (--concurrency), by urgency rank",
            slot_waiters.clone(),
        );
        registry.register("slots_busy", "Reconcile slots in use", slots_busy.clone());
        registry.register(
            "budget_parked",
            "Objects parked for their account's API budget (--qps), by what they would do",
            budget_parked.clone(),
        );
        registry.register(
            "first_poll_seconds",
            "The learnt first poll of a Creating service, seconds after its Create, by region and kind",
            first_poll.clone(),
        );
        Self {
            registry,
            reconcile_runs,
            reconcile_failures,
            reconcile_duration,
            cloud_requests,
            cloud_latency,
            objects,
            status_patches,
            slot_waiters,
            slots_busy,
            budget_parked,
            first_poll,
            refresh: std::sync::OnceLock::new(),
        }
    }
}

impl Metrics {
    /// What to read into the gauges of queue lengths before each scrape (set once, at start-up).
    pub fn set_refresh(&self, refresh: impl Fn(&Metrics) + Send + Sync + 'static) {
        let _ = self.refresh.set(Box::new(refresh));
    }

    /// Text exposition for `/metrics`.
    pub fn render(&self) -> String {
        if let Some(refresh) = self.refresh.get() {
            refresh(self);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Record one cloud call.
    pub fn cloud_call(&self, action: &str, code: &str, seconds: f64) {
        self.cloud_requests.get_or_create(&CloudLabels { action: action.into(), code: code.into() }).inc();
        self.cloud_latency.get_or_create(&ActionLabels { action: action.into() }).observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_gauges_are_read_at_each_scrape() {
        let m = Metrics::default();
        let depth = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(7));
        let seen = depth.clone();
        m.set_refresh(move |m| {
            m.slot_waiters
                .get_or_create(&RankLabels { rank: "follow" })
                .set(seen.load(std::sync::atomic::Ordering::Relaxed));
            m.slots_busy.set(8);
        });
        let text = m.render();
        assert!(text.contains("privatelink_operator_slot_waiters{rank=\"follow\"} 7"), "{text}");
        assert!(text.contains("privatelink_operator_slots_busy 8"), "{text}");
        depth.store(0, std::sync::atomic::Ordering::Relaxed);
        assert!(m.render().contains("privatelink_operator_slot_waiters{rank=\"follow\"} 0"), "read again");
    }
}
