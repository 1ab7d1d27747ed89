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

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::ListParams,
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        controller::Config as ControllerConfig,
        events::Reporter,
        reflector::{self, ObjectRef, reflector},
        watcher,
    },
};
use tracing::{debug, error, info, warn};

use crate::{
    alicloud::{AliCloudClient, ClientConfig, DefaultCredentials},
    cache::{Cached, cached_ref},
    crd::{VpcEndpoint, VpcEndpointService},
    endpoint::{self, EndpointContext},
    http::{self, HttpState},
    lease,
    metrics::Metrics,
    namespaces,
    reconcile::{self, Context, Settings, backends, control},
};

/// Settings of `privatelink-operator run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Watch only these namespaces (all when empty).
    pub namespaces: Vec<String>,
    /// PrivateLink client settings.
    pub cloud: ClientConfig,
    /// Reconciler settings.
    pub settings: Settings,
    /// Maximum parallel reconciliations.
    pub concurrency: u16,
    /// Address of `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// Run only while holding the Lease `privatelink-operator-leader` (for `replicas > 1`).
    pub leader_election: bool,
    /// Namespace of the Lease (default: `POD_NAMESPACE`, else `default`).
    pub lease_namespace: Option<String>,
    /// Watch Services so `spec.resources[].serviceRef` can name a LoadBalancer Service.
    pub watch_services: bool,
    /// Serve the consumer kind `VpcEndpoint` too.
    pub endpoints: bool,
}

/// Name of the leader-election Lease.
pub const LEASE_NAME: &str = "privatelink-operator-leader";

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
    /// Another replica took over; exit so Kubernetes restarts this one as a standby.
    #[error("lost leadership of Lease {LEASE_NAME}")]
    LostLeadership,
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

/// What a change to a `VpcEndpoint` must touch to trigger a reconcile.
fn endpoint_trigger_key(obj: &VpcEndpoint) -> Option<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    obj.metadata.generation.hash(&mut h);
    obj.metadata.finalizers.hash(&mut h);
    obj.metadata.deletion_timestamp.is_some().hash(&mut h);
    for key in [endpoint::ADOPT_ANNOTATION, control::PAUSED_ANNOTATION, control::RECONCILE_REQUEST_ANNOTATION]
    {
        obj.metadata.annotations.as_ref().and_then(|a| a.get(key)).hash(&mut h);
    }
    Some(h.finish())
}

/// The `VpcEndpoint` controller: its own watch and cache (shared with the Secret protection), woken
/// also when a `VpcEndpointService` its `serviceRef` names changes (`service_changes`).
async fn run_endpoints(
    client: Client,
    namespaces: Vec<String>,
    ctx: Arc<EndpointContext>,
    concurrency: u16,
    service_changes: futures::channel::mpsc::UnboundedReceiver<ObjectRef<VpcEndpoint>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let writer = reflector::store::Writer::<VpcEndpoint>::default();
    let reader = writer.as_reader();
    let listed = Arc::new(AtomicBool::new(false));
    ctx.base.set_endpoint_store(reader.clone(), listed.clone());
    let config = watcher::Config::default().any_semantic();
    let source = match namespaces.as_slice() {
        [] => watcher(Api::<VpcEndpoint>::all(client.clone()), config).boxed(),
        [ns] => watcher(Api::<VpcEndpoint>::namespaced(client.clone(), ns), config).boxed(),
        list => namespaces::watch(client.clone(), list, config, reader.clone()).boxed(),
    };
    let index = ctx.clone();
    let events = source
        .default_backoff()
        .modify(|o: &mut VpcEndpoint| {
            o.metadata.managed_fields = None;
            if let Some(a) = o.metadata.annotations.as_mut() {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        })
        .inspect(move |ev| match ev {
            Ok(watcher::Event::InitDone) if !listed.swap(true, Ordering::Relaxed) => {
                info!("VpcEndpoints listed");
            }
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => index.index(o),
            Ok(watcher::Event::Delete(o)) => index.forget(o),
            Err(e) => warn!(error = %e, "VpcEndpoint watch failed; retrying"),
            _ => {}
        });
    let trigger = reflector(writer, events)
        .applied_objects()
        .predicate_filter(endpoint_trigger_key, PredicateConfig::default());
    Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .reconcile_on(service_changes)
        .graceful_shutdown_on(shutdown)
        .run(endpoint::reconcile, endpoint::error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(e) => debug!(error = %e, "reconcile error"),
            }
        })
        .await;
}

/// The Services that `serviceRef`s name: a cache of the little the CCM records on them (load balancer
/// label, NLB zone map), and a trigger that wakes the objects using a Service whenever that changes
/// (or the Service goes). Nothing is triggered by the initial list (the objects' own watch does that).
fn backend_changes(
    client: &Client,
    namespaces: &[String],
    ctx: Arc<Context>,
) -> impl futures::Stream<Item = ObjectRef<VpcEndpointService>> + Send + use<> {
    let writer = reflector::store::Writer::<Service>::default();
    let reader = writer.as_reader();
    let listed = Arc::new(AtomicBool::new(false));
    ctx.set_services(reader.clone(), listed.clone());
    let config = watcher::Config::default().any_semantic();
    let source = match namespaces {
        [] => watcher(Api::<Service>::all(client.clone()), config).boxed(),
        [ns] => watcher(Api::<Service>::namespaced(client.clone(), ns), config).boxed(),
        list => namespaces::watch(client.clone(), list, config, reader).boxed(),
    };
    // Backoff on errors: a missing RBAC grant (403) must not turn into a hot loop against the apiserver.
    let slimmed = source.default_backoff().modify(|svc: &mut Service| {
        backends::slim_meta(&mut svc.metadata);
        svc.spec = None;
        svc.status = None;
    });
    let mut seen: HashMap<ObjectRef<Service>, backends::LbService> = HashMap::new();
    reflector(writer, slimmed).flat_map(move |ev| {
        let changed: Vec<(Service, bool)> = match ev {
            Ok(watcher::Event::InitDone) => {
                if !listed.swap(true, Ordering::Relaxed) {
                    info!("Services listed; serviceRef backends resolve");
                }
                vec![]
            }
            Ok(watcher::Event::Apply(svc) | watcher::Event::InitApply(svc)) => {
                let now = backends::LbService::from_meta(&svc.metadata);
                let before = seen.insert(ObjectRef::from_obj(&svc), now.clone());
                // During the first list nothing is woken; later a relist's unchanged Services neither.
                let relevant = listed.load(Ordering::Relaxed) && before.as_ref() != Some(&now);
                if relevant { vec![(svc, true)] } else { vec![] }
            }
            Ok(watcher::Event::Delete(svc)) => {
                seen.remove(&ObjectRef::from_obj(&svc));
                vec![(svc, true)]
            }
            Ok(watcher::Event::Init) => vec![],
            Err(e) => {
                warn!(error = %e, "Service watch failed; retrying");
                vec![]
            }
        };
        let users: Vec<ObjectRef<VpcEndpointService>> = changed
            .into_iter()
            .flat_map(|(svc, _)| {
                let ns = svc.metadata.namespace.clone().unwrap_or_default();
                ctx.wake_backend_users(&ns, &svc.name_any())
            })
            .collect();
        futures::stream::iter(users)
    })
}

/// Run the controller until SIGTERM/SIGINT.
pub async fn run(cfg: RunConfig) -> Result<(), StartupError> {
    let client = Client::try_default().await.map_err(StartupError::Kubeconfig)?;
    let apis: Vec<Api<Cached>> = match cfg.namespaces.as_slice() {
        [] => vec![Api::all(client.clone())],
        list => list.iter().map(|ns| Api::namespaced(client.clone(), ns)).collect(),
    };
    for api in &apis {
        api.list(&ListParams::default().limit(1)).await.map_err(StartupError::CrdMissing)?;
    }
    // The consumer kind is optional: without its CRD (a Helm upgrade does not install new CRDs) or its
    // RBAC, the operator says so once and serves VpcEndpointService alone instead of failing.
    let mut cfg = cfg;
    if cfg.endpoints {
        let probe: Api<VpcEndpoint> = match cfg.namespaces.first() {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        if let Err(e) = probe.list(&ListParams::default().limit(1)).await {
            warn!(
                error = %e,
                "VpcEndpoint is not served: its CRD is not queryable (install it with `kubectl apply --server-side -f crds/`, and grant the chart's RBAC); VpcEndpointService is served as usual"
            );
            cfg.endpoints = false;
        }
    }

    let metrics = Arc::new(Metrics::default());
    let cloud = AliCloudClient::new(&cfg.cloud, Some(metrics.clone()))?;
    let default_credentials = DefaultCredentials::from_env();
    match &default_credentials {
        Some(c) => info!("default credentials: {}", c.describe()),
        None => warn!(
            "no default credentials (ALIBABA_CLOUD_ACCESS_KEY_ID); objects must name a credentials Secret"
        ),
    }
    let reporter =
        Reporter { controller: "privatelink-operator".into(), instance: std::env::var("POD_NAME").ok() };
    let recorder = crate::events::Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(
        client.clone(),
        cloud,
        default_credentials,
        recorder,
        metrics.clone(),
        cfg.settings,
    ));
    // The queue gauges are read at each scrape (a weak reference: the metrics outlive no context).
    let queues = Arc::downgrade(&ctx);
    metrics.set_refresh(move |m| {
        if let Some(ctx) = queues.upgrade() {
            ctx.refresh_queue_metrics(m);
        }
    });

    let ready = Arc::new(AtomicBool::new(false));
    let standby = Arc::new(AtomicBool::new(false));
    let listener = http::bind(cfg.http_addr)
        .await
        .map_err(|source| StartupError::Bind { addr: cfg.http_addr, source })?;
    let local = listener.local_addr().map_err(|source| StartupError::Bind { addr: cfg.http_addr, source })?;
    info!(addr = %local, "serving /healthz, /readyz, /metrics");
    let app = http::router(HttpState { metrics, ready: ready.clone(), standby: standby.clone() });
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "HTTP server failed");
        }
    });

    // With leader election, wait as a (ready) standby until this replica holds the Lease. Losing it
    // later (no renewal within the renew deadline, or taken over) stops the controller, which drains
    // in-flight work; the Lease is released only after that (see `lease`).
    let mut leadership = None;
    if cfg.leader_election {
        let ns = cfg
            .lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| uuid::Uuid::new_v4().to_string());
        let elector = lease::Elector::new(
            ctx.client.clone(),
            &ns,
            LEASE_NAME,
            &identity,
            lease::LeaseTimings::default(),
        );
        standby.store(true, Ordering::Relaxed);
        info!(lease = LEASE_NAME, namespace = %ns, identity, "waiting for leadership");
        leadership = Some(elector.acquire().await);
        standby.store(false, Ordering::Relaxed);
    }
    let lost_leadership = leadership.as_ref().map(lease::Leadership::lost);
    let lost = Arc::new(AtomicBool::new(false));
    let shutdown = {
        let lost = lost.clone();
        let fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + Sync>> = Box::pin(
            async move {
                let signal = async {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = tokio::signal::ctrl_c() => {},
                    }
                };
                match lost_leadership {
                    Some(l) => tokio::select! {
                        _ = signal => {},
                        _ = l => { lost.store(true, Ordering::Relaxed); error!("lost leadership; stopping"); },
                    },
                    None => signal.await,
                }
            },
        );
        futures::FutureExt::shared(fut)
    };
    // The cache keeps every object, packed as it is deserialised (crate::cache): the few fields read
    // on every event in the clear, the rest compressed, so 10k objects stay small.
    let writer = reflector::store::Writer::<Cached>::default();
    let reader = writer.as_reader();
    // Ready once the controller's own watch has delivered its first full list (InitDone). Read off the
    // stream itself: `Store::wait_until_ready` wakes only one waiter, and the controller is that waiter.
    // The reconciler reads the cache too (who else uses a credentials Secret, whether a restored
    // object's old UID is still in the cluster), once it is listed.
    ctx.set_store(reader.clone(), ready.clone());
    let forget = ctx.clone();
    let config = watcher::Config::default().any_semantic();
    let source = match cfg.namespaces.as_slice() {
        [] | [_] => watcher(apis[0].clone(), config).boxed(),
        list => namespaces::watch(client.clone(), list, config, reader.clone()).boxed(),
    };
    let index = ctx.clone();
    // A change of a VpcEndpointService wakes the VpcEndpoints whose serviceRef names it.
    let (wake_endpoints, service_changes) = futures::channel::mpsc::unbounded();
    let endpoint_ctx = cfg.endpoints.then(|| Arc::new(EndpointContext::new(ctx.clone())));
    let ep_index = endpoint_ctx.clone();
    let events = source.inspect(move |ev| {
        match ev {
            Ok(watcher::Event::InitDone) if !ready.swap(true, Ordering::Relaxed) => {
                info!("initial list complete; ready");
            }
            // Which Services each object's backends come from (a Service change wakes only its users).
            Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                index.index_backends(obj);
                if let Some(ep) = &ep_index {
                    let ns = obj.namespace().unwrap_or_default();
                    for user in ep.wake_service_users(&ns, &obj.name_any()) {
                        let _ = wake_endpoints.unbounded_send(user);
                    }
                }
            }
            // Gone from the cluster (also when deleted behind the operator's back): drop its memory
            // and its series in the Ready gauge.
            Ok(watcher::Event::Delete(obj)) => forget.forget(obj.meta()),
            _ => {}
        }
    });
    // The cache sees every change; reconciles are triggered only by changes the reconciler acts on
    // (spec, finalizers, deletion, the adoption, pause and reconcile-now annotations), not by the operator's own status writes,
    // which would otherwise replace a pending poll and crowd the queue under load.
    let held = reader.clone();
    let marked = events.map(move |mut ev| {
        if let Ok(e) = ev.as_mut() {
            crate::cache::mark_triggers(&held, e);
        }
        ev
    });
    let trigger =
        reflector(writer, marked).applied_objects().try_filter(|o| std::future::ready(o.triggers()));
    // A reconcile does I/O only in one of the `--concurrency` slots, the most urgent first, and parks
    // without one (reconcile::slots): kube-runtime's own bound, twice that, leaves room for the passes
    // that park or need no I/O, so its slots keep turning over (it takes due reconciles in hash order
    // once they are all busy).
    let mut controller = Controller::for_stream(trigger, reader)
        .with_config(ControllerConfig::default().concurrency(cfg.concurrency.saturating_mul(2)))
        .graceful_shutdown_on(shutdown.clone());
    let (wake_slots, slot_wakes) = futures::channel::mpsc::unbounded();
    controller = controller.reconcile_on(slot_wakes.map(cached_ref));
    let slot_keeper = reconcile::run_slots(ctx.clone(), wake_slots);
    {
        let (shutdown, ctx) = (shutdown.clone(), ctx.clone());
        tokio::spawn(async move {
            shutdown.await;
            reconcile::close_slots(&ctx);
        });
    }
    if cfg.watch_services {
        controller =
            controller.reconcile_on(backend_changes(&client, &cfg.namespaces, ctx.clone()).map(cached_ref));
    }
    // Turns of a saturated account budget wake parked objects (reconcile::admission).
    let (wake_turns, turns) = futures::channel::mpsc::unbounded();
    controller = controller.reconcile_on(turns.map(cached_ref));
    let dispatcher = tokio::spawn(reconcile::dispatch_turns(ctx.clone(), wake_turns));
    info!(
        namespaces = if cfg.namespaces.is_empty() { "(all)".to_string() } else { cfg.namespaces.join(",") },
        concurrency = cfg.concurrency,
        "controller started"
    );
    let services = controller.run(reconcile::reconcile_cached, reconcile::error_policy_cached, ctx).for_each(
        |res| async move {
            match res {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(e) => debug!(error = %e, "reconcile error"),
            }
        },
    );
    match endpoint_ctx {
        Some(ep) => {
            let endpoints = run_endpoints(
                client.clone(),
                cfg.namespaces.clone(),
                ep,
                cfg.concurrency,
                service_changes,
                shutdown,
            );
            futures::join!(services, endpoints);
        }
        None => services.await,
    }
    dispatcher.abort();
    slot_keeper.abort();
    info!("controller stopped; shutting down");
    if let Some(l) = leadership {
        l.release().await;
    }
    server.abort();
    tokio::time::sleep(Duration::from_millis(10)).await;
    if lost.load(Ordering::Relaxed) {
        return Err(StartupError::LostLeadership);
    }
    Ok(())
}
