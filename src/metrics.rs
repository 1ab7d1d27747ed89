//! Prometheus metrics (prometheus-client). No per-object labels, so cardinality stays flat at scale.

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
        Self {
            registry,
            reconcile_runs,
            reconcile_failures,
            reconcile_duration,
            cloud_requests,
            cloud_latency,
            objects,
            status_patches,
        }
    }
}

impl Metrics {
    /// Text exposition for `/metrics`.
    pub fn render(&self) -> String {
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
