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
use tracing::info;

use super::{
    client::{CallError, encode_pairs, error_from_body},
    credentials::Credentials,
    error::AliCloudError,
};

/// Refresh temporary credentials this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(15 * 60);

/// Where the operator's own credentials come from.
pub enum DefaultCredentials {
    /// Access keys (optionally with an STS token) from the environment.
    Static(Credentials),
    /// RRSA: OIDC token exchanged for STS credentials.
    Oidc(OidcProvider),
}

impl DefaultCredentials {
    /// The first link of the default chain that is configured, if any.
    pub fn from_env() -> Option<Self> {
        Credentials::from_env().map(Self::Static).or_else(|| OidcProvider::from_env().map(Self::Oidc))
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
    cached: Mutex<Option<(Credentials, jiff::Timestamp)>>,
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
            cached: Mutex::new(None),
        })
    }

    /// Credentials, exchanged anew when none are cached or they expire within 15 minutes.
    pub async fn get(&self, http: &reqwest::Client) -> Result<Credentials, CallError> {
        let mut cached = self.cached.lock().await;
        if let Some((c, expires)) = cached.as_ref()
            && jiff::Timestamp::now() + REFRESH_BEFORE < *expires
        {
            return Ok(c.clone());
        }
        let fresh = self.assume_role(http).await?;
        *cached = Some(fresh.clone());
        Ok(fresh.0)
    }

    async fn assume_role(&self, http: &reqwest::Client) -> Result<(Credentials, jiff::Timestamp), CallError> {
        // The kubelet rotates the projected token: read it on every exchange.
        let token = tokio::fs::read_to_string(&self.token_file).await.map_err(|e| {
            CallError::Cloud(AliCloudError {
                code: "InvalidOIDCToken.File".into(),
                message: format!("cannot read {}: {e}", self.token_file.display()),
                request_id: String::new(),
                http_status: 0,
                retry_after: None,
            })
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
            cached: Mutex::new(None),
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
    async fn unreadable_token_file_is_a_clear_error() {
        let p = provider("http://127.0.0.1:9/".into(), "/nonexistent/token".into());
        let e = p.get(&reqwest::Client::new()).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/token"), "{e}");
    }
}
