//! HTTP front end: the RPC endpoint on `/` and the admin API under `/_sim/`.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{
    auth::{self, AuthRequest, MAX_SKEW},
    error::ApiError,
    model::{Store, Timing},
    ops::{self, Auth, Ctx},
    params::Params,
    state::{
        Call, FaultKind, FaultSpec, Faults, Journal, NonceCache, RateLimiter, TokenCache, TokenLookup,
        fingerprint_hash,
    },
    world::{LoadBalancer, World},
};

pub const API_VERSION: &str = ops::PRIVATELINK_VERSION;

/// Runtime-tunable settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    pub timing: Timing,
    /// Requests per second per account; 0 = unlimited.
    pub qps_limit: f64,
    pub token_ttl: Duration,
    /// Longest lifetime of STS credentials the simulator issues (the role's session limit still applies).
    pub sts_duration: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            timing: Timing::default(),
            qps_limit: 0.0,
            token_ttl: Duration::from_secs(86400),
            sts_duration: Duration::from_secs(3600),
        }
    }
}

struct Inner {
    world: World,
    cfg: SimConfig,
    store: Store,
    tokens: TokenCache,
    nonces: NonceCache,
    limiter: RateLimiter,
    journal: Journal,
    faults: Faults,
}

/// The simulator: all state behind one mutex (held only for in-memory work).
pub struct Sim {
    inner: Mutex<Inner>,
}

/// Response extension asking the connection layer to drop the connection without replying.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

impl Sim {
    pub fn new(world: World, cfg: SimConfig) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                world,
                cfg,
                store: Store::default(),
                tokens: TokenCache::default(),
                nonces: NonceCache::default(),
                limiter: RateLimiter::default(),
                journal: Journal::default(),
                faults: Faults::default(),
            }),
        })
    }

    pub fn config(&self) -> SimConfig {
        self.inner.lock().cfg
    }

    /// Clear services, tokens, journal, faults, nonces and rate buckets; keep world and config.
    pub fn reset(&self) {
        let mut g = self.inner.lock();
        g.store.clear();
        g.tokens.clear();
        g.nonces.clear();
        g.limiter.clear();
        g.journal.clear();
        g.faults.clear();
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

fn json_response(status: u16, body: &Value, request_id: &str) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-acs-request-id", v);
    }
    r
}

fn error_response(e: &ApiError, request_id: &str, host_id: &str) -> Response {
    let mut r = json_response(e.http_status, &e.body(request_id, host_id), request_id);
    if let Some(ms) = e.retry_after_ms {
        r.headers_mut().insert("x-acs-retry-after", HeaderValue::from(ms));
    }
    r
}

struct Outcome {
    result: Result<Value, ApiError>,
    account: Option<String>,
    fault: Option<String>,
    lose: Option<FaultSpec>,
    replayed: bool,
}

impl Outcome {
    fn err(e: ApiError, account: Option<String>) -> Self {
        Self { result: Err(e), account, fault: None, lose: None, replayed: false }
    }
}

async fn rpc(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = new_request_id();
    let query_str = uri.query().unwrap_or("");
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let params = Params::parse(query_str, is_form.then_some(&body[..]));
    let query: Vec<(String, String)> = form_urlencoded::parse(query_str.as_bytes()).into_owned().collect();
    let hdrs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let req =
        AuthRequest { method: method.as_str(), headers: &hdrs, query: &query, params: &params, body: &body };
    let (action, version) = req.action_version();
    let action = action.unwrap_or("").to_string();
    let host_id = format!("privatelink.{}.aliyuncs.com", params.opt("RegionId").unwrap_or("cn-hangzhou"));

    let outcome = process(&sim, &req, &action, version, &params).await;

    let client_token = params.opt("ClientToken").map(String::from);
    let (status, code, resp) = match &outcome.result {
        Ok(v) => {
            let mut v = v.clone();
            v["RequestId"] = Value::String(request_id.clone());
            (200, "OK".to_string(), json_response(200, &v, &request_id))
        }
        Err(e) => (e.http_status, e.code.clone(), error_response(e, &request_id, &host_id)),
    };
    let service_id = params
        .opt("ServiceId")
        .or(params.opt("ResourceId"))
        .or(params.opt("ResourceId.1"))
        .map(String::from)
        .or_else(|| outcome.result.as_ref().ok().and_then(|v| v["ServiceId"].as_str().map(String::from)));
    sim.inner.lock().journal.record(Call {
        seq: 0,
        action: action.clone(),
        account: outcome.account.clone(),
        code,
        http_status: status,
        request_id: request_id.clone(),
        client_token,
        service_id,
        time: jiff::Timestamp::now().to_string(),
        fault: outcome.fault.clone(),
        replayed: outcome.replayed,
    });
    match outcome.lose {
        Some(spec) if spec.mode.as_deref() == Some("502") => {
            let mut r = Response::new(Body::from("<html><body><h1>502 Bad Gateway</h1></body></html>"));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            r
        }
        Some(_) => {
            let mut r = Response::new(Body::empty());
            r.extensions_mut().insert(DropConnection);
            r
        }
        None => resp,
    }
}

async fn process(
    sim: &Sim,
    req: &AuthRequest<'_>,
    action: &str,
    version: Option<&str>,
    params: &Params,
) -> Outcome {
    if req.method != "GET" && req.method != "POST" {
        return Outcome::err(
            ApiError::bad("UnsupportedHTTPMethod", "Specified HTTP method is not supported."),
            None,
        );
    }
    if action.is_empty() {
        return Outcome::err(
            ApiError::bad("MissingParameter", "The input parameter Action is mandatory."),
            None,
        );
    }
    let Some(table) = version.and_then(ops::table) else {
        return Outcome::err(
            ApiError::bad(
                "InvalidVersion",
                format!("Specified parameter Version is not valid: {}", version.unwrap_or("")),
            ),
            None,
        );
    };
    let Some(op) = table.iter().find(|op| op.action == action) else {
        return Outcome::err(
            ApiError::new(
                404,
                "InvalidApi.NotFound",
                format!("Specified api is not found, please check your url and method: {action}"),
            ),
            None,
        );
    };
    if op.auth == Auth::Anonymous {
        let mut g = sim.inner.lock();
        let g = &mut *g;
        let ctx = Ctx {
            account: "",
            principal: "",
            sts_caller: false,
            now: Instant::now(),
            wall: jiff::Timestamp::now(),
            timing: g.cfg.timing,
            sts_duration: g.cfg.sts_duration,
        };
        let result = (op.handler)(&mut g.store, &g.world, &ctx, params);
        return Outcome { result, account: None, fault: None, lose: None, replayed: false };
    }
    // Authenticate: key lookup under the lock, HMAC outside it.
    let ak = match req.access_key_id() {
        Ok(ak) => ak,
        Err(e) => return Outcome::err(e, None),
    };
    let key = {
        let g = sim.inner.lock();
        g.world.access_key(&ak).or_else(|| g.store.sts.get(&ak)).cloned()
    };
    let wall = jiff::Timestamp::now();
    let verified = match auth::verify(req, key.as_ref(), wall) {
        Ok(v) => v,
        Err(e) => return Outcome::err(e, None),
    };
    let Some(key) = key else { unreachable!("verify requires a key") };
    let account = key.account_id.clone();
    let now = Instant::now();
    // Nonce, flow control and faults.
    let decision = {
        let mut g = sim.inner.lock();
        let ahead = (verified.timestamp.as_millisecond() - wall.as_millisecond()).max(0) as u64;
        let keep_until = now + MAX_SKEW + Duration::from_millis(ahead);
        if !g.nonces.check_and_insert(format!("{}\n{}", key.id, verified.nonce), now, keep_until) {
            return Outcome::err(
                ApiError::bad("SignatureNonceUsed", "Specified signature nonce was used already."),
                Some(account),
            );
        }
        let qps = g.cfg.qps_limit;
        if !g.limiter.allow(&account, qps, now) {
            return Outcome::err(ApiError::throttled(), Some(account));
        }
        let mut rng = rand::rng();
        g.faults.decide(&account, action, || rng.random::<f64>())
    };
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    if let Some(f) = decision.fail {
        let mut e = match f.kind {
            FaultKind::Throttle => {
                let mut e = ApiError::for_code(f.code.as_deref().unwrap_or("Throttling.User"), f.http_status);
                e.retry_after_ms = f.retry_after_ms;
                e
            }
            _ => ApiError::for_code(f.code.as_deref().unwrap_or("ServiceUnavailable"), f.http_status),
        };
        if e.retry_after_ms.is_none() {
            e.retry_after_ms = f.retry_after_ms;
        }
        let mut o = Outcome::err(e, Some(account));
        o.fault = Some(format!("{:?}", f.kind).to_lowercase());
        return o;
    }
    let mut g = sim.inner.lock();
    let g = &mut *g;
    if version == Some(API_VERSION) && g.world.account(&account).is_some_and(|a| !a.product_opened) {
        return Outcome::err(
            ApiError::bad("NeedOpenProduct", "The product is not activated."),
            Some(account),
        );
    }
    let now = Instant::now();
    let token = params.opt("ClientToken").filter(|_| op.mutating);
    let token_key =
        token.map(|t| (TokenCache::key(&account, action, t), fingerprint_hash(&params.fingerprint())));
    let lose_label = decision.lose.as_ref().map(|_| "lose_response".to_string());
    if let Some((k, fp)) = &token_key {
        match g.tokens.lookup(k, *fp, now, g.cfg.token_ttl) {
            TokenLookup::Miss => {}
            TokenLookup::Replay(v) => {
                return Outcome {
                    result: Ok(v),
                    account: Some(account),
                    fault: lose_label,
                    lose: decision.lose,
                    replayed: true,
                };
            }
            TokenLookup::Mismatch => {
                return Outcome::err(
                    ApiError::bad(
                        "IdempotenceSignatureMismatch",
                        "There is an idempotence signature mismatch between this and the previous request.",
                    ),
                    Some(account),
                );
            }
        }
    }
    let ctx = Ctx {
        account: &account,
        principal: key.principal(),
        sts_caller: key.is_sts(),
        now,
        wall: jiff::Timestamp::now(),
        timing: g.cfg.timing,
        sts_duration: g.cfg.sts_duration,
    };
    let result = (op.handler)(&mut g.store, &g.world, &ctx, params);
    if let (Ok(v), Some((k, fp))) = (&result, token_key) {
        g.tokens.store(k, fp, v.clone(), now);
    }
    Outcome { result, account: Some(account), fault: lose_label, lose: decision.lose, replayed: false }
}

// ---------- admin ----------

fn admin_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn reset(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.reset();
    Json(json!({"ok": true}))
}

async fn journal_get(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.inner.lock().journal.to_json())
}

async fn journal_delete(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.inner.lock().journal.clear();
    Json(json!({"ok": true}))
}

async fn services(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut g = sim.inner.lock();
    let list: Vec<Value> = g.store.services.settled(Instant::now()).map(|s| s.admin_json()).collect();
    Json(json!({"services": list}))
}

async fn endpoints(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let mut g = sim.inner.lock();
    let list: Vec<Value> = g
        .store
        .endpoints
        .settled(Instant::now())
        .map(|e| {
            json!({"accountId": e.account_id, "regionId": e.region_id, "endpointId": e.endpoint_id,
                   "serviceId": e.service_id, "vpcId": e.vpc_id, "endpointStatus": e.status(),
                   "zones": e.zone_ids(),
                   "securityGroups": e.security_groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
                   "tags": e.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
        })
        .collect();
    Json(json!({"endpoints": list}))
}

/// Issued STS credentials, secrets included: tests use it to prove that no secret reaches a log.
async fn sts_credentials(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let g = sim.inner.lock();
    let list: Vec<Value> = g
        .store
        .sts
        .all()
        .map(|k| {
            json!({"accessKeyId": k.id, "accessKeySecret": k.secret, "securityToken": k.security_token,
                   "accountId": k.account_id, "principal": k.principal, "expiration": k.expiration})
        })
        .collect();
    Json(json!({"credentials": list}))
}

async fn faults_get(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"faults": sim.inner.lock().faults.list}))
}

async fn faults_post(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultSpec>(&body) {
        Ok(spec) => {
            if spec.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                return admin_error(StatusCode::BAD_REQUEST, "probability must be within 0..1");
            }
            let id = sim.inner.lock().faults.add(spec);
            Json(json!({"id": id})).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn faults_delete(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.inner.lock().faults.clear();
    Json(json!({"ok": true}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigPatch {
    create_seconds: Option<f64>,
    update_seconds: Option<f64>,
    delete_seconds: Option<f64>,
    qps_limit: Option<f64>,
    token_ttl_seconds: Option<f64>,
    sts_duration_seconds: Option<f64>,
    service_quota: Option<usize>,
}

fn secs(v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|e| format!("bad duration {v}: {e}"))
}

fn config_json(g: &Inner) -> Value {
    json!({
        "createSeconds": g.cfg.timing.create.as_secs_f64(),
        "updateSeconds": g.cfg.timing.update.as_secs_f64(),
        "deleteSeconds": g.cfg.timing.delete.as_secs_f64(),
        "qpsLimit": g.cfg.qps_limit,
        "tokenTtlSeconds": g.cfg.token_ttl.as_secs_f64(),
        "stsDurationSeconds": g.cfg.sts_duration.as_secs_f64(),
        "serviceQuota": g.world.service_quota,
    })
}

async fn config_get(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(config_json(&sim.inner.lock()))
}

async fn config_put(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let patch: ConfigPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut g = sim.inner.lock();
    let mut cfg = g.cfg;
    let apply = |v: Option<f64>, d: &mut Duration| -> Result<(), String> {
        if let Some(v) = v {
            *d = secs(v)?;
        }
        Ok(())
    };
    let res = apply(patch.create_seconds, &mut cfg.timing.create)
        .and_then(|_| apply(patch.update_seconds, &mut cfg.timing.update))
        .and_then(|_| apply(patch.delete_seconds, &mut cfg.timing.delete))
        .and_then(|_| apply(patch.token_ttl_seconds, &mut cfg.token_ttl))
        .and_then(|_| apply(patch.sts_duration_seconds, &mut cfg.sts_duration));
    if let Err(e) = res {
        return admin_error(StatusCode::BAD_REQUEST, e);
    }
    if let Some(q) = patch.qps_limit {
        if q < 0.0 || !q.is_finite() {
            return admin_error(StatusCode::BAD_REQUEST, "qpsLimit must be >= 0");
        }
        cfg.qps_limit = q;
    }
    if let Some(q) = patch.service_quota {
        g.world.service_quota = q;
    }
    g.cfg = cfg;
    Json(config_json(&g)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewConnection {
    service_id: String,
    endpoint_id: Option<String>,
    endpoint_owner_id: Option<u64>,
    status: Option<String>,
}

async fn connections_post(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let c: NewConnection = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut g = sim.inner.lock();
    match ops::connections::add_connection(
        &mut g.store,
        &c.service_id,
        c.endpoint_id,
        c.endpoint_owner_id.unwrap_or(2234567890123456),
        c.status.as_deref().unwrap_or("Connected"),
        Instant::now(),
        jiff::Timestamp::now(),
    ) {
        Ok(id) => Json(json!({"endpointId": id})).into_response(),
        Err(e) => admin_error(StatusCode::NOT_FOUND, e),
    }
}

async fn load_balancers_post(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let lb: LoadBalancer = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if !["slb", "alb", "nlb", "gwlb"].contains(&lb.kind.as_str()) {
        return admin_error(StatusCode::BAD_REQUEST, "type must be slb|alb|nlb|gwlb");
    }
    let mut g = sim.inner.lock();
    g.world
        .load_balancers
        .retain(|l| !(l.account_id == lb.account_id && l.region_id == lb.region_id && l.id == lb.id));
    g.world.load_balancers.push(lb.clone());
    Json(serde_json::to_value(lb).unwrap_or_default()).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForceStatus {
    service_status: Option<String>,
    service_business_status: Option<String>,
}

async fn service_status_post(State(sim): State<Arc<Sim>>, Path(id): Path<String>, body: Bytes) -> Response {
    let f: ForceStatus = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut g = sim.inner.lock();
    let Some(s) = g.store.services.find_mut(&id, Instant::now()) else {
        return admin_error(StatusCode::NOT_FOUND, format!("service {id} not found"));
    };
    if let Some(st) = f.service_status {
        s.phase = crate::model::Phase::new(&st);
    }
    if let Some(b) = f.service_business_status {
        s.business_status = b;
    }
    Json(s.admin_json()).into_response()
}

/// Build the router. The admin API is mounted only when `admin` is true (loopback listeners).
pub fn router(sim: Arc<Sim>, admin: bool) -> Router {
    let mut r = Router::new().route("/", any(rpc));
    if admin {
        r = r
            .route("/_sim/healthz", get(healthz))
            .route("/_sim/reset", post(reset))
            .route("/_sim/journal", get(journal_get).delete(journal_delete))
            .route("/_sim/services", get(services))
            .route("/_sim/endpoints", get(endpoints))
            .route("/_sim/sts", get(sts_credentials))
            .route("/_sim/faults", get(faults_get).post(faults_post).delete(faults_delete))
            .route("/_sim/config", get(config_get).put(config_put))
            .route("/_sim/connections", post(connections_post))
            .route("/_sim/load-balancers", post(load_balancers_post))
            .route("/_sim/services/{id}/status", post(service_status_post));
    }
    r.with_state(sim)
}

#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response deliberately dropped")
    }
}
impl std::error::Error for Dropped {}

/// Serve until `shutdown` resolves. Each connection is HTTP/1.1 with keep-alive; a response
/// carrying [`DropConnection`] closes the connection without a reply.
pub async fn serve(listener: tokio::net::TcpListener, sim: Arc<Sim>, shutdown: impl Future<Output = ()>) {
    let admin = listener.local_addr().map(|a| a.ip().is_loopback()).unwrap_or(false);
    let app = router(sim, admin);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let resp: Response = match app.oneshot(req.map(Body::new)).await {
                        Ok(r) => r,
                        Err(e) => match e {},
                    };
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(Dropped);
                    }
                    Ok::<_, Dropped>(resp)
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}
