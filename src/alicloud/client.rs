//! The PrivateLink HTTP client: endpoint resolution, RPC signing, per-account rate limiting,
//! error envelope parsing.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tracing::debug;

use super::{
    credentials::Credentials,
    error::{AliCloudError, ErrorClass},
    ops::{Operation, Product},
    signer,
};
use crate::metrics::Metrics;

/// API version of PrivateLink.
pub const API_VERSION: &str = "2020-04-15";

/// Why a cloud call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Alibaba answered with an error envelope.
    #[error(transparent)]
    Cloud(#[from] AliCloudError),
    /// The request did not get an answer (connection refused or reset, timeout).
    #[error("no answer from {endpoint}: {source}")]
    Transport {
        /// Endpoint called.
        endpoint: String,
        /// Underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The operator's credential source is not usable yet (RRSA: the projected token file cannot be
    /// read, e.g. before the kubelet has written it). Retried with backoff.
    #[error("credentials unavailable: {detail}")]
    CredentialSource {
        /// What could not be read, and why.
        detail: String,
    },
    /// A success answer that does not parse.
    #[error("unreadable answer to {action}: {detail}")]
    Decode {
        /// Action called.
        action: &'static str,
        /// Parse error.
        detail: String,
    },
}

impl CallError {
    /// Classification for retry decisions.
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::Cloud(e) => e.class(),
            CallError::Transport { .. } | CallError::Decode { .. } | CallError::CredentialSource { .. } => {
                ErrorClass::Retryable
            }
        }
    }

    /// The Alibaba error, if this is one.
    pub fn cloud(&self) -> Option<&AliCloudError> {
        match self {
            CallError::Cloud(e) => Some(e),
            _ => None,
        }
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Endpoint override: a URL such as `http://127.0.0.1:8787` or
    /// `https://privatelink-vpc.{region}.aliyuncs.com` (`{region}` is substituted). Default
    /// `https://privatelink.{region}.aliyuncs.com`.
    pub endpoint: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Sustained requests per second per access key.
    pub qps: u32,
    /// Burst per access key.
    pub burst: u32,
    /// STS endpoint (a host or URL) for `GetCallerIdentity`. Default: `ALIBABA_CLOUD_STS_ENDPOINT`, else
    /// `sts[-vpc].<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com`, else `sts.aliyuncs.com` (as RRSA).
    pub sts_endpoint: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self { endpoint: None, timeout: Duration::from_secs(15), qps: 10, burst: 20, sts_endpoint: None }
    }
}

/// PrivateLink API client. Cheap to clone.
#[derive(Clone)]
pub struct AliCloudClient {
    http: reqwest::Client,
    endpoint: Option<String>,
    sts_endpoint: String,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// Access key ID → account ID, once known: Alibaba's rate limit is per account, so every key of one
    /// account (several Secrets, RRSA's rotating STS keys) spends one budget.
    budgets: Arc<parking_lot::RwLock<std::collections::HashMap<String, String>>>,
    /// Per budget: when every call queued so far will have been sent (a mirror of the limiter, whose
    /// queue governor does not expose), for admission ([`Self::backlog`]).
    queued: Arc<parking_lot::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
    /// One call's share of a budget (1 / qps) and the burst a full budget allows at once.
    interval: Duration,
    burst_tolerance: Duration,
    metrics: Option<Arc<Metrics>>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(alias = "code")]
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(alias = "message")]
    #[serde(rename = "Message", default)]
    message: String,
    #[serde(alias = "requestId")]
    #[serde(rename = "RequestId", default)]
    request_id: String,
}

/// `k=v&…` with Alibaba's percent-encoding (query strings and form bodies).
pub(crate) fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!("{}={}", signer::percent_encode(k.as_ref()), signer::percent_encode(v.as_ref()))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The typed error of an answer with HTTP status ≥ 400: Alibaba's JSON envelope, or, for a gateway
/// page without one, `HTTP<status>` with the start of the body.
pub(crate) fn error_from_body(status: u16, retry_after: Option<Duration>, body: &[u8]) -> AliCloudError {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) if !env.code.is_empty() => AliCloudError {
            code: env.code,
            message: env.message,
            request_id: env.request_id,
            http_status: status,
            retry_after,
        },
        _ => AliCloudError {
            code: format!("HTTP{status}"),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
            request_id: String::new(),
            http_status: status,
            retry_after,
        },
    }
}

impl AliCloudClient {
    /// Build a client.
    pub fn new(config: &ClientConfig, metrics: Option<Arc<Metrics>>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("privatelink-operator/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .build()?;
        let qps = NonZeroU32::new(config.qps.max(1)).expect("max(1) is non-zero");
        let burst = NonZeroU32::new(config.burst.max(1)).expect("max(1) is non-zero");
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let sts_endpoint = super::rrsa::sts_endpoint(
            config.sts_endpoint.clone().or_else(|| var("ALIBABA_CLOUD_STS_ENDPOINT")).as_deref(),
            var("ALIBABA_CLOUD_STS_REGION").as_deref(),
            var("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        );
        Ok(Self {
            http,
            sts_endpoint,
            endpoint: config.endpoint.clone(),
            limiter: Arc::new(RateLimiter::keyed(Quota::per_second(qps).allow_burst(burst))),
            budgets: Arc::default(),
            queued: Arc::default(),
            interval: Duration::from_secs(1) / qps.get(),
            burst_tolerance: Duration::from_secs(1) / qps.get() * (burst.get() - 1),
            metrics,
        })
    }

    /// Calls per second per account (`--qps`).
    pub fn qps(&self) -> u32 {
        (Duration::from_secs(1).as_nanos() / self.interval.as_nanos().max(1)) as u32
    }

    /// How long a call on this account's budget would wait for its token now: the queue that the
    /// calls already waiting (and the burst already spent) leave. Zero while the budget has room.
    pub fn backlog(&self, account_id: &str) -> Duration {
        let now = std::time::Instant::now();
        self.queued
            .lock()
            .get(&format!("account:{account_id}"))
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now + self.burst_tolerance))
    }

    /// Count a call against its budget's queue (GCRA: the theoretical arrival time moves on by one
    /// interval from now or from where the queue ends).
    fn charge(&self, key: &str) {
        let now = std::time::Instant::now();
        let mut queued = self.queued.lock();
        if queued.len() >= 10_000 {
            queued.retain(|_, tat| *tat > now);
        }
        let tat = queued.entry(key.to_string()).or_insert(now);
        *tat = (*tat).max(now) + self.interval;
    }

    /// Record which account an access key belongs to: from now on its calls spend that account's
    /// budget (before, the key's own).
    pub fn learn_account(&self, access_key_id: &str, account_id: &str) {
        let mut budgets = self.budgets.write();
        if budgets.len() >= 10_000 {
            budgets.clear();
        }
        budgets.insert(access_key_id.to_string(), account_id.to_string());
    }

    /// The rate-limit key of a call: the account when known, else the access key.
    fn budget_key(&self, creds: &Credentials) -> String {
        match self.budgets.read().get(&creds.access_key_id) {
            Some(account) => format!("account:{account}"),
            None => format!("key:{}", creds.access_key_id),
        }
    }

    /// The underlying HTTP client (shared with the STS exchange of RRSA).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Base URL for a region.
    pub fn endpoint_for(&self, region: &str) -> String {
        let template = self.endpoint.as_deref().unwrap_or("https://privatelink.{region}.aliyuncs.com");
        let url = template.replace("{region}", region);
        let url = if url.contains("://") { url } else { format!("https://{url}") };
        format!("{}/", url.trim_end_matches('/'))
    }

    /// The signed wire parameters of a call (common parameters + operation parameters + Signature).
    pub fn signed_params<O: Operation>(
        op: &O,
        creds: &Credentials,
        timestamp: &str,
        nonce: &str,
    ) -> Vec<(String, String)> {
        let mut params = op.params().0;
        params.extend(
            [
                ("Action", O::ACTION),
                ("Version", O::PRODUCT.version()),
                ("Format", "JSON"),
                ("AccessKeyId", creds.access_key_id.as_str()),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureVersion", "1.0"),
                ("SignatureNonce", nonce),
                ("Timestamp", timestamp),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        if let Some(token) = creds.security_token() {
            params.push(("SecurityToken".into(), token.into()));
        }
        let signature = signer::sign("POST", &params, creds.secret());
        params.push(("Signature".into(), signature));
        params
    }

    /// Call an operation, waiting for the account's rate limit first.
    pub async fn call<O: Operation>(&self, creds: &Credentials, op: &O) -> Result<O::Response, CallError> {
        let key = self.budget_key(creds);
        self.charge(&key);
        self.limiter.until_key_ready(&key).await;
        let endpoint = match O::PRODUCT {
            Product::PrivateLink => self.endpoint_for(op.region()),
            Product::Sts => self.sts_endpoint.clone(),
        };
        let timestamp = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let params = Self::signed_params(op, creds, &timestamp, &nonce);
        let query = encode_pairs(&params);
        let started = std::time::Instant::now();
        let result = self.send(O::ACTION, O::PRODUCT.version(), &endpoint, &query).await;
        let elapsed = started.elapsed().as_secs_f64();
        let code = match &result {
            Ok(_) => "OK".to_string(),
            Err(CallError::Cloud(e)) => e.code.clone(),
            Err(CallError::Transport { .. }) => "Transport".to_string(),
            Err(CallError::Decode { .. }) => "Decode".to_string(),
            Err(CallError::CredentialSource { .. }) => "CredentialSource".to_string(),
        };
        if let Some(m) = &self.metrics {
            m.cloud_call(O::ACTION, &code, elapsed);
        }
        let body = match result {
            Err(CallError::Cloud(e)) if O::DONE_CODES.contains(&e.code.as_str()) => {
                debug!(action = O::ACTION, code = %e.code, request_id = %e.request_id, "already in place");
                serde_json::json!({"RequestId": e.request_id})
            }
            r => r?,
        };
        let request_id = body.get("RequestId").and_then(|v| v.as_str()).unwrap_or_default();
        debug!(action = O::ACTION, request_id, elapsed, "alicloud call succeeded");
        serde_json::from_value(body)
            .map_err(|e| CallError::Decode { action: O::ACTION, detail: e.to_string() })
    }

    async fn send(
        &self,
        action: &'static str,
        version: &'static str,
        endpoint: &str,
        query: &str,
    ) -> Result<serde_json::Value, CallError> {
        // `without_url`: the URL carries the signed query (and an STS token); it must never reach logs or status.
        let transport = |source: reqwest::Error| CallError::Transport {
            endpoint: endpoint.to_string(),
            source: source.without_url(),
        };
        let resp = self
            .http
            .post(format!("{endpoint}?{query}"))
            .header("accept", "application/json")
            .header("x-acs-action", action)
            .header("x-acs-version", version)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("x-acs-retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let bytes = resp.bytes().await.map_err(transport)?;
        if status < 400 {
            return serde_json::from_slice(&bytes)
                .map_err(|e| CallError::Decode { action, detail: e.to_string() });
        }
        let err = error_from_body(status, retry_after, &bytes);
        debug!(action, code = %err.code, request_id = %err.request_id, "alicloud call failed");
        Err(CallError::Cloud(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alicloud::ops::GetVpcEndpointServiceAttribute;

    #[test]
    fn endpoint_resolution() {
        let mk = |e: Option<&str>| {
            AliCloudClient::new(&ClientConfig { endpoint: e.map(str::to_string), ..Default::default() }, None)
                .unwrap()
        };
        assert_eq!(mk(None).endpoint_for("cn-hangzhou"), "https://privatelink.cn-hangzhou.aliyuncs.com/");
        assert_eq!(mk(Some("http://127.0.0.1:8787")).endpoint_for("cn-hangzhou"), "http://127.0.0.1:8787/");
        assert_eq!(
            mk(Some("privatelink-vpc.{region}.aliyuncs.com")).endpoint_for("cn-beijing"),
            "https://privatelink-vpc.cn-beijing.aliyuncs.com/"
        );
    }

    /// Two access keys of one account share the account's budget once the account is known.
    #[tokio::test]
    async fn keys_of_one_account_spend_one_budget() {
        let client =
            AliCloudClient::new(&ClientConfig { qps: 1, burst: 1, ..Default::default() }, None).unwrap();
        let (a, b) = (Credentials::new("key-a", "s", None), Credentials::new("key-b", "s", None));
        let key = |c: &Credentials| client.budget_key(c);
        assert_ne!(key(&a), key(&b), "unknown accounts: one budget per key");
        assert!(client.limiter.check_key(&key(&a)).is_ok());
        assert!(client.limiter.check_key(&key(&b)).is_ok(), "another key, another budget");
        client.learn_account("key-a", "1234567890123456");
        client.learn_account("key-b", "1234567890123456");
        assert_eq!(key(&a), key(&b));
        assert!(client.limiter.check_key(&key(&a)).is_ok());
        assert!(client.limiter.check_key(&key(&b)).is_err(), "the account's one token is spent");
        client.learn_account("key-c", "9234567890123456");
        let c = Credentials::new("key-c", "s", None);
        assert!(client.limiter.check_key(&key(&c)).is_ok(), "another account is not slowed");
    }

    /// The captured SDK request 4 (§7): Get with an STS token, V1 signature.
    #[test]
    fn signed_params_match_captured_sdk_request() {
        let op =
            GetVpcEndpointServiceAttribute { region_id: "cn-hangzhou".into(), service_id: "epsrv-x".into() };
        let creds = Credentials::new("testid", "testsecret", Some("STS.tokenvalue".into()));
        let mut params = AliCloudClient::signed_params(
            &op,
            &creds,
            "2026-11-25T22:10:01Z",
            "8b45c7c02f118399160eca1671607704",
        );
        // The SDK sends Format=json (lowercase); we send JSON. Re-sign with the SDK's value to compare.
        for (k, v) in params.iter_mut() {
            if k == "Format" {
                *v = "json".into();
            }
        }
        assert_eq!(signer::sign("POST", &params, "testsecret"), "6J/BT/Fnqyk2Cn1QSbSmvwzrcIk=");
        assert!(params.iter().any(|(k, v)| k == "SecurityToken" && v == "STS.tokenvalue"));
    }
}
