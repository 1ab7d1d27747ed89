//! The operator's HTTP endpoints: `/healthz` (liveness), `/readyz` (after the first full list of
//! objects), `/metrics` (Prometheus text format).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::metrics::Metrics;

/// Shared state of the endpoints.
#[derive(Clone)]
pub struct HttpState {
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// Set once the controller's cache is filled.
    pub ready: Arc<AtomicBool>,
    /// Set while this replica waits for leadership (a standby is ready to take over).
    pub standby: Arc<AtomicBool>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<HttpState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else if s.standby.load(Ordering::Relaxed) {
        (StatusCode::OK, "standby: waiting for leadership")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "cache not synced yet")
    }
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.render())
}

/// The router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Bind the listener (so the caller learns the port even for `:0`).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
