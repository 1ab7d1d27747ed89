//! Operator-wide credentials: static access keys from the environment, or RRSA (RAM Roles for Service
//! Accounts on ACK): exchange the pod's projected OIDC token for temporary STS credentials with
//! `AssumeRoleWithOIDC`, cache them, and refresh them before they expire.
//!
//! Order follows Alibaba's default credential chain: environment access keys first, then OIDC when
//! `ALIBABA_CLOUD_ROLE_ARN`, `ALIBABA_CLOUD_OIDC_PROVIDER_ARN` and `ALIBABA_CLOUD_OIDC_TOKEN_FILE` are
//! all set.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::{
    client::{CallError, encode_pairs, error_from_body},
    credentials::Credentials,
};

/// Refresh temporary credentials this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(15 * 60);
/// Cached credentials are still used after a failed refresh while they stay valid this much longer.
const STILL_VALID: Duration = Duration::from_secs(60);
/// After a failed refresh, with valid credentials cached, the next attempt waits this long.
const RETRY_REFRESH: Duration = Duration::from_secs(30);

/// The cached exchange and the last failed attempt.
#[derive(Default)]
struct Cache {
    held: Option<(Credentials, jiff::Timestamp)>,
    failed_at: Option<std::time::Instant>,
}

#[derive(Debug, PartialEq, Eq)]
enum Refresh {
    UseCached,
    Exchange,
}

fn usable(expires: jiff::Timestamp, now: jiff::Timestamp) -> bool {
    now + STILL_VALID < expires
}

/// Pure: whether to exchange the token now or use what is cached.
fn refresh(cache: &Cache, now: jiff::Timestamp, mono: std::time::Instant) -> Refresh {
    let Some((_, expires)) = &cache.held else { return Refresh::Exchange };
    if now + REFRESH_BEFORE < *expires {
        return Refresh::UseCached;
    }
    let backing_off = cache.failed_at.is_some_and(|t| mono.duration_since(t) < RETRY_REFRESH);
    if backing_off && usable(*expires, now) { Refresh::UseCached } else { Refresh::Exchange }
}

/// Where the operator's own credentials come from.
pub enum DefaultCredentials {
    /// Access keys (optionally with an STS token) from the environment.
    Static(Credentials),
    /// RRSA: OIDC token exchanged for STS credentials.
    Oidc(Box<OidcProvider>),
}

impl DefaultCredentials {
    /// The first link of the default chain that is configured, if any.
    pub fn from_env() -> Option<Self> {
        Credentials::from_env()
            .map(Self::Static)
            .or_else(|| OidcProvider::from_env().map(|p| Self::Oidc(Box::new(p))))
    }

    /// A short description for the startup log (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Self::Static(c) => format!("access key {} from the environment", c.access_key_id),
            Self::Oidc(p) => format!("RRSA role {} (OIDC token {})", p.role_arn, p.token_file.display()),
        }
    }

    /// Current credentials, refreshing temporary ones when needed.
    pub async fn get(&self, http: &reqwest::Client) -> Result<Credentials, CallError> {
        match self {
            Self::Static(c) => Ok(c.clone()),
            Self::Oidc(p) => p.get(http).await,
        }
    }
}

/// RRSA settings and the cached temporary credentials.
pub struct OidcProvider {
    role_arn: String,
    provider_arn: String,
    token_file: PathBuf,
    session_name: String,
    sts_endpoint: String,
    duration: Duration,
    cached: Mutex<Cache>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResponse {
    credentials: StsCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials {
    access_key_id: String,
    access_key_secret: String,
    security_token: String,
    expiration: String,
}

/// STS endpoint from the environment: `ALIBABA_CLOUD_STS_ENDPOINT` (a host or URL) if set, else
/// `sts[-vpc].<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com`, else `sts.aliyuncs.com`.
pub fn sts_endpoint(endpoint: Option<&str>, region: Option<&str>, vpc: bool) -> String {
    let host = match (endpoint.filter(|e| !e.is_empty()), region.filter(|r| !r.is_empty())) {
        (Some(e), _) => e.to_string(),
        (None, Some(r)) if vpc => format!("sts-vpc.{r}.aliyuncs.com"),
        (None, Some(r)) => format!("sts.{r}.aliyuncs.com"),
        (None, None) => "sts.aliyuncs.com".to_string(),
    };
    let url = if host.contains("://") { host } else { format!("https://{host}") };
    format!("{}/", url.trim_end_matches('/'))
}

impl OidcProvider {
    /// RRSA settings from the environment that ack-pod-identity-webhook injects.
    pub fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Self {
            role_arn: var("ALIBABA_CLOUD_ROLE_ARN")?,
            provider_arn: var("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")?,
            token_file: var("ALIBABA_CLOUD_OIDC_TOKEN_FILE")?.into(),
            session_name: var("ALIBABA_CLOUD_ROLE_SESSION_NAME")
                .unwrap_or_else(|| "privatelink-operator".into()),
            sts_endpoint: sts_endpoint(
                var("ALIBABA_CLOUD_STS_ENDPOINT").as_deref(),
                var("ALIBABA_CLOUD_STS_REGION").as_deref(),
                var("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            ),
            duration: Duration::from_secs(3600),
            cached: Mutex::new(Cache::default()),
        })
    }

    /// Credentials, exchanged anew when none are cached or they expire within 15 minutes. When the
    /// exchange fails but the cached credentials are still valid, those are used (and the exchange is
    /// tried again at most every 30 s), so an STS hiccup never stops a working operator.
    pub async fn get(&self, http: &reqwest::Client) -> Result<Credentials, CallError> {
        let mut cache = self.cached.lock().await;
        let now = jiff::Timestamp::now();
        match refresh(&cache, now, std::time::Instant::now()) {
            Refresh::UseCached => return Ok(cache.held.as_ref().expect("cached").0.clone()),
            Refresh::Exchange => {}
        }
        match self.assume_role(http).await {
            Ok(fresh) => {
                cache.held = Some(fresh.clone());
                cache.failed_at = None;
                Ok(fresh.0)
            }
            Err(e) => {
                cache.failed_at = Some(std::time::Instant::now());
                match &cache.held {
                    Some((c, expires)) if usable(*expires, jiff::Timestamp::now()) => {
                        warn!(error = %e, expiration = %expires, "RRSA refresh failed; using the cached credentials until they expire");
                        Ok(c.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn assume_role(&self, http: &reqwest::Client) -> Result<(Credentials, jiff::Timestamp), CallError> {
        // The kubelet rotates the projected token: read it on every exchange.
        let token =
            tokio::fs::read_to_string(&self.token_file).await.map_err(|e| CallError::CredentialSource {
                detail: format!("cannot read the RRSA token file {}: {e}", self.token_file.display()),
            })?;
        let now = jiff::Timestamp::now();
        let query = [
            ("Action", "AssumeRoleWithOIDC".to_string()),
            ("Format", "JSON".into()),
            ("Version", "2015-04-01".into()),
            ("Timestamp", now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("SignatureNonce", uuid::Uuid::new_v4().simple().to_string()),
        ];
        let form = [
            ("RoleArn", self.role_arn.clone()),
            ("OIDCProviderArn", self.provider_arn.clone()),
            ("OIDCToken", token.trim().to_string()),
            ("RoleSessionName", self.session_name.clone()),
            ("DurationSeconds", self.duration.as_secs().to_string()),
        ];
        let transport = |e: reqwest::Error| CallError::Transport {
            endpoint: self.sts_endpoint.clone(),
            source: e.without_url(),
        };
        let resp = http
            .post(format!("{}?{}", self.sts_endpoint, encode_pairs(&query)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_pairs(&form))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?;
        if status >= 400 {
            return Err(CallError::Cloud(error_from_body(status, None, &body)));
        }
        let r: AssumeRoleResponse = serde_json::from_slice(&body)
            .map_err(|e| CallError::Decode { action: "AssumeRoleWithOIDC", detail: e.to_string() })?;
        let expires: jiff::Timestamp = r.credentials.expiration.parse().map_err(|e: jiff::Error| {
            CallError::Decode { action: "AssumeRoleWithOIDC", detail: e.to_string() }
        })?;
        info!(access_key_id = %r.credentials.access_key_id, expiration = %expires, "obtained STS credentials with RRSA");
        let c = Credentials::new(
            r.credentials.access_key_id,
            r.credentials.access_key_secret,
            Some(r.credentials.security_token),
        );
        Ok((c, expires))
    }
}

#[cfg(test)]
mod tests {
    use crate::alicloud::error::ErrorClass;
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{Router, extract::RawQuery, routing::post};

    use super::*;

    #[test]
    fn sts_endpoint_resolution() {
        let cases = [
            (None, None, false, "https://sts.aliyuncs.com/"),
            (None, Some("cn-hangzhou"), false, "https://sts.cn-hangzhou.aliyuncs.com/"),
            (None, Some("cn-hangzhou"), true, "https://sts-vpc.cn-hangzhou.aliyuncs.com/"),
            (Some("http://127.0.0.1:9/"), Some("cn-hangzhou"), true, "http://127.0.0.1:9/"),
        ];
        for (e, r, vpc, want) in cases {
            assert_eq!(sts_endpoint(e, r, vpc), want);
        }
    }

    /// A stand-in STS that checks what RRSA sends and counts exchanges.
    async fn sts(expires_in: i64) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let app = Router::new().route(
            "/",
            post(move |RawQuery(q): RawQuery, body: String| {
                let c = c.clone();
                async move {
                    let q = q.unwrap_or_default();
                    assert!(
                        q.contains("Action=AssumeRoleWithOIDC") && q.contains("Version=2015-04-01"),
                        "{q}"
                    );
                    assert!(body.contains("OIDCToken=jwt-token-value"), "token from the file: {body}");
                    assert!(body.contains("RoleArn=acs%3Aram%3A%3A1%3Arole%2Fop"), "{body}");
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    let exp = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(expires_in);
                    axum::Json(serde_json::json!({
                        "RequestId": "R",
                        "Credentials": {
                            "AccessKeyId": format!("STS.key{n}"),
                            "AccessKeySecret": "s",
                            "SecurityToken": "t",
                            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        }
                    }))
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, calls)
    }

    fn provider(endpoint: String, token_file: PathBuf) -> OidcProvider {
        OidcProvider {
            role_arn: "acs:ram::1:role/op".into(),
            provider_arn: "acs:ram::1:oidc-provider/ack-rrsa-c1".into(),
            token_file,
            session_name: "t".into(),
            sts_endpoint: endpoint,
            duration: Duration::from_secs(3600),
            cached: Mutex::new(Cache::default()),
        }
    }

    #[tokio::test]
    async fn exchanges_once_and_caches_until_close_to_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "jwt-token-value\n").unwrap();
        let http = reqwest::Client::new();

        let (url, calls) = sts(3600).await;
        let p = provider(url, token.clone());
        let a = p.get(&http).await.unwrap();
        let b = p.get(&http).await.unwrap();
        assert_eq!(a.access_key_id, "STS.key0");
        assert_eq!(b.access_key_id, "STS.key0", "cached");
        assert_eq!(a.security_token(), Some("t"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Credentials expiring within the refresh window are exchanged again on every use.
        let (url, calls) = sts(60).await;
        let p = provider(url, token);
        p.get(&http).await.unwrap();
        let again = p.get(&http).await.unwrap();
        assert_eq!(again.access_key_id, "STS.key1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unreadable_token_file_is_a_clear_retryable_error() {
        let p = provider("http://127.0.0.1:9/".into(), "/nonexistent/token".into());
        let e = p.get(&reqwest::Client::new()).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/token"), "{e}");
        assert_eq!(e.class(), ErrorClass::Retryable, "the kubelet may not have written the token yet");
    }

    /// An STS that answers from a script (the last answer repeats) and counts calls.
    async fn scripted_sts(script: Vec<(u16, serde_json::Value)>) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let script = Arc::new(script);
        let app = Router::new().route(
            "/",
            post(move || {
                let (c, script) = (c.clone(), script.clone());
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = script[n.min(script.len() - 1)].clone();
                    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, calls)
    }

    fn granted(key: &str, expires_in: i64) -> (u16, serde_json::Value) {
        let exp = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(expires_in);
        let creds = serde_json::json!({"AccessKeyId": key, "AccessKeySecret": "s", "SecurityToken": "t",
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
        (200, serde_json::json!({"RequestId": "R", "Credentials": creds}))
    }

    fn refused(status: u16, code: &str) -> (u16, serde_json::Value) {
        (status, serde_json::json!({"RequestId": "R-err", "Code": code, "Message": "refused"}))
    }

    fn token_file(dir: &tempfile::TempDir) -> PathBuf {
        let token = dir.path().join("token");
        std::fs::write(&token, "jwt-token-value\n").unwrap();
        token
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_still_valid_credentials() {
        let dir = tempfile::tempdir().unwrap();
        // Granted for 10 minutes (inside the 15-minute refresh window), then STS fails.
        let (url, calls) =
            scripted_sts(vec![granted("STS.first", 600), refused(503, "ServiceUnavailable")]).await;
        let p = provider(url, token_file(&dir));
        let http = reqwest::Client::new();
        assert_eq!(p.get(&http).await.unwrap().access_key_id, "STS.first");
        assert_eq!(p.get(&http).await.unwrap().access_key_id, "STS.first", "kept after the refresh failed");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "a refresh was tried");
        assert_eq!(p.get(&http).await.unwrap().access_key_id, "STS.first");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "no new attempt within 30 s of a failure");
    }

    #[tokio::test]
    async fn provider_errors_are_classified_by_code() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (refused(503, "ServiceUnavailable"), ErrorClass::Retryable),
            (refused(500, "InternalError"), ErrorClass::Retryable),
            (refused(401, "AuthenticationFail.OIDCToken.Expired"), ErrorClass::Retryable),
            (refused(401, "AuthenticationFail.OIDCToken.AudienceNotMatch"), ErrorClass::Terminal),
            (refused(401, "AuthenticationFail.NoPermission"), ErrorClass::Terminal),
        ];
        for (answer, want) in cases {
            let code = answer.1["Code"].as_str().unwrap().to_string();
            let (url, _) = scripted_sts(vec![answer]).await;
            let e = provider(url, token_file(&dir)).get(&reqwest::Client::new()).await.unwrap_err();
            assert_eq!(e.class(), want, "{code}: {e}");
            assert!(e.to_string().contains(&code), "{e}");
        }
        // No answer at all (nothing listens): retryable.
        let e = provider("http://127.0.0.1:9/".into(), token_file(&dir)).get(&reqwest::Client::new()).await;
        assert_eq!(e.unwrap_err().class(), ErrorClass::Retryable);
    }

    #[test]
    fn refresh_table() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let mono = std::time::Instant::now() + Duration::from_secs(3600);
        let held =
            |secs: i64| Some((Credentials::new("k", "s", None), now + jiff::SignedDuration::from_secs(secs)));
        let cases = [
            ("nothing cached", Cache::default(), Refresh::Exchange),
            ("fresh", Cache { held: held(3600), failed_at: None }, Refresh::UseCached),
            ("inside the refresh window", Cache { held: held(600), failed_at: None }, Refresh::Exchange),
            (
                "failed 10 s ago, still valid",
                Cache { held: held(600), failed_at: Some(mono - Duration::from_secs(10)) },
                Refresh::UseCached,
            ),
            (
                "failed 40 s ago: try again",
                Cache { held: held(600), failed_at: Some(mono - Duration::from_secs(40)) },
                Refresh::Exchange,
            ),
            (
                "failed recently but about to expire",
                Cache { held: held(30), failed_at: Some(mono - Duration::from_secs(10)) },
                Refresh::Exchange,
            ),
        ];
        for (name, cache, want) in cases {
            assert_eq!(refresh(&cache, now, mono), want, "{name}");
        }
    }
}
