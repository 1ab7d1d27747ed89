//! Shared by the simulator's HTTP tests: an in-process simulator on 127.0.0.1 and an independent V3/V1
//! signer (it shares no code with the simulator's verifier or the operator's client).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use privatelink_sim::{Sim, SimConfig, Timing, World, serve};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn sorted_query(params: &[(String, String)]) -> String {
    let mut p: Vec<_> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    p.sort();
    p.join("&")
}

pub fn now_str(offset_secs: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Clone)]
pub struct Opts {
    pub ak: &'static str,
    pub sk: &'static str,
    pub token: Option<&'static str>,
    pub nonce: Option<String>,
    pub date_offset: i64,
    pub version: &'static str,
    pub unsigned_header: bool,
    pub tamper_body: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            ak: "sim-ak-default",
            sk: "sim-secret-default",
            token: None,
            nonce: None,
            date_offset: 0,
            version: "2020-04-15",
            unsigned_header: false,
            tamper_body: false,
        }
    }
}

pub struct TestSim {
    pub base: String,
    pub host: String,
    pub http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestSim {
    pub async fn start(cfg: SimConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, Sim::new(World::default_world(), cfg), async {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap(),
            _stop: tx,
        }
    }

    pub async fn fast() -> Self {
        Self::start(SimConfig {
            timing: Timing {
                create: Duration::from_millis(500),
                update: Duration::from_millis(500),
                delete: Duration::from_millis(500),
            },
            ..SimConfig::default()
        })
        .await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self.http.request(method, format!("{}/_sim/{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Poll Get until the status (or error code) is `want`.
    pub async fn wait_status(&self, get: &[(&str, &str)], want: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.v3("GetVpcEndpointServiceAttribute", get).await;
            let st = r.body["ServiceStatus"].as_str().unwrap_or_else(|| code(&r)).to_string();
            if st == want {
                return;
            }
            assert!(Instant::now() < deadline, "never reached {want}, last {st}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signed V3 call; query params in the URL (form body for Tag/UntagResources).
    pub async fn try_v3(&self, action: &str, params: &[(&str, &str)], o: &Opts) -> reqwest::Result<Reply> {
        let params: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let form = action == "TagResources" || action == "UntagResources";
        let (query, body) = if form { (vec![], sorted_query(&params)) } else { (params, String::new()) };
        let body_hash = hex::encode(Sha256::digest(body.as_bytes()));
        let mut headers = vec![
            ("host".to_string(), self.host.clone()),
            ("x-acs-action".into(), action.to_string()),
            ("x-acs-content-sha256".into(), body_hash),
            ("x-acs-date".into(), now_str(o.date_offset)),
            (
                "x-acs-signature-nonce".into(),
                o.nonce.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            ("x-acs-version".into(), o.version.to_string()),
        ];
        if form {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        }
        if let Some(t) = o.token {
            headers.push(("x-acs-security-token".into(), t.to_string()));
        }
        headers.sort();
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let cr = format!(
            "POST\n/\n{}\n{}\n{}\n{}",
            sorted_query(&query),
            canon_headers,
            names.join(";"),
            headers.iter().find(|(k, _)| k == "x-acs-content-sha256").unwrap().1
        );
        let sts = format!("ACS3-HMAC-SHA256\n{}", hex::encode(Sha256::digest(cr.as_bytes())));
        let mut mac = Hmac::<Sha256>::new_from_slice(o.sk.as_bytes()).unwrap();
        mac.update(sts.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        let url = if query.is_empty() {
            format!("{}/", self.base)
        } else {
            let qs: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
            format!("{}/?{qs}", self.base)
        };
        let mut rb = self.http.post(url);
        for (k, v) in &headers {
            if k != "host" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        if o.unsigned_header {
            rb = rb.header("x-acs-unsigned", "1");
        }
        rb = rb.header(
            "authorization",
            format!("ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}", o.ak, names.join(";")),
        );
        let body = if o.tamper_body { format!("{body}&X=1") } else { body };
        let r = rb.body(body).send().await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await?;
        Ok(Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    pub async fn v3(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        self.try_v3(action, params, &Opts::default()).await.unwrap()
    }

    /// Signed V1 (HMAC-SHA1) GET call.
    pub async fn v1(&self, action: &str, params: &[(&str, &str)], sk: &str) -> Reply {
        let mut all: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let nonce = uuid::Uuid::new_v4().to_string();
        for (k, v) in [
            ("Action", action),
            ("Version", "2020-04-15"),
            ("Format", "JSON"),
            ("AccessKeyId", "sim-ak-default"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce.as_str()),
            ("Timestamp", now_str(0).as_str()),
        ] {
            all.push((k.into(), v.into()));
        }
        let sts = format!("GET&%2F&{}", enc(&sorted_query(&all)));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{sk}&").as_bytes()).unwrap();
        mac.update(sts.as_bytes());
        all.push((
            "Signature".into(),
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()),
        ));
        let qs: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&all).finish();
        let r = self.http.get(format!("{}/?{qs}", self.base)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.json().await.unwrap();
        Reply { status, headers, body }
    }
}

pub const CREATE: &[(&str, &str)] = &[
    ("RegionId", "cn-hangzhou"),
    ("ServiceResourceType", "nlb"),
    ("Resource.1.ResourceType", "nlb"),
    ("Resource.1.ResourceId", "nlb-sim-001"),
    ("Resource.1.ZoneId", "cn-hangzhou-h"),
];

pub fn with<'a>(base: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(extra).copied().collect()
}

pub fn code(r: &Reply) -> &str {
    r.body["Code"].as_str().unwrap_or("OK")
}
