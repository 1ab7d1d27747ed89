//! Controller wiring: Kubernetes client, PrivateLink client, the kube-runtime `Controller`, and the
//! HTTP endpoints.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use kube::{
    Api, Client,
    api::ListParams,
    runtime::{
        Controller,
        controller::Config as ControllerConfig,
        events::{Recorder, Reporter},
        watcher,
    },
};
use tracing::{debug, error, info, warn};

use crate::{
    alicloud::{AliCloudClient, ClientConfig, Credentials},
    crd::VpcEndpointService,
    http::{self, HttpState},
    metrics::Metrics,
    reconcile::{self, Context, Settings},
};

/// Settings of `privatelink-operator run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Watch only this namespace (all when `None`).
    pub namespace: Option<String>,
    /// PrivateLink client settings.
    pub cloud: ClientConfig,
    /// Reconciler settings.
    pub settings: Settings,
    /// Maximum parallel reconciliations.
    pub concurrency: u16,
    /// Address of `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
}

/// Errors that stop the operator at startup.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// No Kubernetes configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Kubeconfig(#[source] kube::Error),
    /// The CRD is not installed or not readable.
    #[error(
        "the VpcEndpointService CRD is not queryable ({0}); install it with `kubectl apply --server-side -f crds/` and check RBAC"
    )]
    CrdMissing(#[source] kube::Error),
    /// HTTP client setup failed.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Run the controller until SIGTERM/SIGINT.
pub async fn run(cfg: RunConfig) -> Result<(), StartupError> {
    let client = Client::try_default().await.map_err(StartupError::Kubeconfig)?;
    let api: Api<VpcEndpointService> = match &cfg.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    api.list(&ListParams::default().limit(1))
        .await
        .map_err(StartupError::CrdMissing)?;

    let metrics = Arc::new(Metrics::default());
    let cloud = AliCloudClient::new(&cfg.cloud, Some(metrics.clone()))?;
    let default_credentials = Credentials::from_env();
    match &default_credentials {
        Some(c) => info!(access_key_id = %c.access_key_id, "default credentials from the environment"),
        None => warn!(
            "no default credentials (ALIBABA_CLOUD_ACCESS_KEY_ID); objects must name a credentials Secret"
        ),
    }
    let reporter = Reporter {
        controller: "privatelink-operator".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(
        client,
        cloud,
        default_credentials,
        recorder,
        metrics.clone(),
        cfg.settings,
    ));

    let ready = Arc::new(AtomicBool::new(false));
    let listener = http::bind(cfg.http_addr)
        .await
        .map_err(|source| StartupError::Bind {
            addr: cfg.http_addr,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| StartupError::Bind {
        addr: cfg.http_addr,
        source,
    })?;
    info!(addr = %local, "serving /healthz, /readyz, /metrics");
    let app = http::router(HttpState {
        metrics,
        ready: ready.clone(),
    });
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "HTTP server failed");
        }
    });

    let controller = Controller::new(api, watcher::Config::default().any_semantic())
        .with_config(ControllerConfig::default().concurrency(cfg.concurrency))
        .shutdown_on_signal();
    let store = controller.store();
    tokio::spawn(async move {
        if store.wait_until_ready().await.is_ok() {
            ready.store(true, Ordering::Relaxed);
            info!("cache synced; ready");
        }
    });
    info!(
        namespace = cfg.namespace.as_deref().unwrap_or("(all)"),
        concurrency = cfg.concurrency,
        "controller started"
    );
    controller
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(e) => debug!(error = %e, "reconcile error"),
            }
        })
        .await;
    info!("controller stopped; shutting down");
    server.abort();
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
