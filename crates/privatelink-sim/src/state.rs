//! Bounded side tables: ClientToken cache, nonce memory, per-account token buckets, journal, faults.

use std::{
    collections::{HashMap, VecDeque},
    hash::{DefaultHasher, Hash, Hasher},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Idempotency cache: (account, action, token) → (param fingerprint, response body).
#[derive(Debug, Default)]
pub struct TokenCache {
    map: HashMap<String, (u64, Value, Instant)>,
    order: VecDeque<(String, Instant)>,
}

pub const TOKEN_CACHE_MAX: usize = 200_000;

pub enum TokenLookup {
    Miss,
    Replay(Value),
    Mismatch,
}

pub fn fingerprint_hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl TokenCache {
    pub fn key(account: &str, action: &str, token: &str) -> String {
        format!("{account}\n{action}\n{token}")
    }
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some((k, at)) = self.order.front() {
            if now.duration_since(*at) < ttl && self.map.len() <= TOKEN_CACHE_MAX {
                break;
            }
            if self.map.get(k).is_some_and(|e| e.2 == *at) {
                self.map.remove(k);
            }
            self.order.pop_front();
        }
    }
    pub fn lookup(&mut self, key: &str, fp: u64, now: Instant, ttl: Duration) -> TokenLookup {
        self.expire(now, ttl);
        match self.map.get(key) {
            None => TokenLookup::Miss,
            Some((f, body, _)) if *f == fp => TokenLookup::Replay(body.clone()),
            Some(_) => TokenLookup::Mismatch,
        }
    }
    pub fn store(&mut self, key: String, fp: u64, body: Value, now: Instant) {
        self.order.push_back((key.clone(), now));
        self.map.insert(key, (fp, body, now));
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Nonces seen within the skew window (bounded by time and by a hard cap).
#[derive(Debug, Default)]
pub struct NonceCache {
    map: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
}

pub const NONCE_CACHE_MAX: usize = 500_000;

impl NonceCache {
    /// Returns false if the nonce was already used. `keep_until` is when it may be forgotten.
    pub fn check_and_insert(&mut self, key: String, now: Instant, keep_until: Instant) -> bool {
        while let Some((k, exp)) = self.order.front() {
            if *exp > now && self.map.len() < NONCE_CACHE_MAX {
                break;
            }
            if self.map.get(k) == Some(exp) {
                self.map.remove(k);
            }
            self.order.pop_front();
        }
        if self.map.get(&key).is_some_and(|exp| *exp > now) {
            return false;
        }
        self.order.push_back((key.clone(), keep_until));
        self.map.insert(key, keep_until);
        true
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

/// Token bucket per account (`qps` tokens per second, burst = qps).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimiter {
    pub fn allow(&mut self, account: &str, qps: f64, now: Instant) -> bool {
        if qps <= 0.0 {
            return true;
        }
        let cap = qps.max(1.0);
        let e = self.buckets.entry(account.to_string()).or_insert((cap, now));
        let elapsed = now.saturating_duration_since(e.1).as_secs_f64();
        e.0 = (e.0 + elapsed * qps).min(cap);
        e.1 = now;
        if e.0 >= 1.0 {
            e.0 -= 1.0;
            true
        } else {
            false
        }
    }
    pub fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub seq: u64,
    pub action: String,
    pub account: Option<String>,
    pub code: String,
    pub http_status: u16,
    pub request_id: String,
    pub client_token: Option<String>,
    pub service_id: Option<String>,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

pub const JOURNAL_MAX: usize = 10_000;

#[derive(Debug, Default)]
pub struct Journal {
    total: u64,
    counts: HashMap<String, HashMap<String, u64>>,
    calls: VecDeque<Call>,
}

impl Journal {
    pub fn record(&mut self, mut c: Call) {
        self.total += 1;
        c.seq = self.total;
        *self.counts.entry(c.action.clone()).or_default().entry(c.code.clone()).or_default() += 1;
        if self.calls.len() >= JOURNAL_MAX {
            self.calls.pop_front();
        }
        self.calls.push_back(c);
    }
    pub fn clear(&mut self) {
        *self = Self::default();
    }
    pub fn to_json(&self) -> Value {
        json!({"total": self.total, "counts": self.counts, "calls": self.calls})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Throttle,
    Error,
    LoseResponse,
    Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    pub kind: FaultKind,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// For `lose_response`: `"drop"` (default) or `"502"`.
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    pub fired: u64,
}

/// What the faults decided for one call.
#[derive(Debug, Default, Clone)]
pub struct FaultDecision {
    pub latency: Duration,
    /// A throttle/error fault: reply with this error, do not execute.
    pub fail: Option<FaultSpec>,
    /// A lose_response fault: execute, then drop (or 502).
    pub lose: Option<FaultSpec>,
}

#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    pub list: Vec<Fault>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        self.list.push(Fault { id: self.next_id, spec, fired: 0 });
        self.next_id
    }
    pub fn clear(&mut self) {
        self.list.clear();
    }
    /// Evaluate faults for a call; `roll` yields uniform numbers in [0,1).
    pub fn decide(&mut self, account: &str, action: &str, mut roll: impl FnMut() -> f64) -> FaultDecision {
        let mut d = FaultDecision::default();
        for f in &mut self.list {
            let s = &f.spec;
            if s.account.as_deref().is_some_and(|a| a != account)
                || s.action.as_deref().is_some_and(|a| a != action)
                || s.count.is_some_and(|c| f.fired >= c)
            {
                continue;
            }
            if (s.kind != FaultKind::Latency && (d.fail.is_some() || d.lose.is_some()))
                || s.probability.is_some_and(|p| roll() >= p)
            {
                continue;
            }
            f.fired += 1;
            match s.kind {
                FaultKind::Latency => {
                    let jitter = s.jitter_ms.unwrap_or(0);
                    let j = if jitter > 0 { (roll() * (jitter + 1) as f64) as u64 } else { 0 };
                    d.latency += Duration::from_millis(s.latency_ms.unwrap_or(0) + j);
                }
                FaultKind::Throttle | FaultKind::Error => d.fail = Some(s.clone()),
                FaultKind::LoseResponse => d.lose = Some(s.clone()),
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind) -> FaultSpec {
        serde_json::from_value(json!({"kind": kind})).unwrap()
    }

    #[test]
    fn fault_matching_count_and_probability() {
        let mut f = Faults::default();
        let mut s = spec(FaultKind::Throttle);
        s.account = Some("a".into());
        s.action = Some("X".into());
        s.count = Some(2);
        f.add(s);
        assert!(f.decide("b", "X", || 0.0).fail.is_none());
        assert!(f.decide("a", "Y", || 0.0).fail.is_none());
        assert!(f.decide("a", "X", || 0.0).fail.is_some());
        assert!(f.decide("a", "X", || 0.0).fail.is_some());
        assert!(f.decide("a", "X", || 0.0).fail.is_none(), "count exhausted");
        let mut p = spec(FaultKind::Error);
        p.probability = Some(0.5);
        f.add(p);
        assert!(f.decide("z", "X", || 0.7).fail.is_none());
        assert!(f.decide("z", "X", || 0.2).fail.is_some());
        let mut l = spec(FaultKind::Latency);
        l.latency_ms = Some(100);
        f.clear();
        f.add(l.clone());
        f.add(l);
        assert_eq!(f.decide("z", "X", || 0.0).latency, Duration::from_millis(200));
    }

    #[test]
    fn token_cache_replay_mismatch_and_expiry() {
        let mut c = TokenCache::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let k = TokenCache::key("a", "Create", "tok");
        assert!(matches!(c.lookup(&k, 1, t0, ttl), TokenLookup::Miss));
        c.store(k.clone(), 1, json!({"ServiceId": "x"}), t0);
        assert!(matches!(c.lookup(&k, 1, t0, ttl), TokenLookup::Replay(v) if v["ServiceId"] == "x"));
        assert!(matches!(c.lookup(&k, 2, t0, ttl), TokenLookup::Mismatch));
        assert!(matches!(c.lookup(&k, 1, t0 + ttl, ttl), TokenLookup::Miss));
        assert!(c.is_empty());
    }

    #[test]
    fn nonce_cache_rejects_reuse_until_expiry() {
        let mut n = NonceCache::default();
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(900);
        assert!(n.check_and_insert("ak/n1".into(), t0, until));
        assert!(!n.check_and_insert("ak/n1".into(), t0 + Duration::from_secs(899), until));
        assert!(n.check_and_insert("ak/n2".into(), t0, until));
        assert!(n.check_and_insert(
            "ak/n1".into(),
            t0 + Duration::from_secs(901),
            t0 + Duration::from_secs(1800)
        ));
        assert_eq!(n.len(), 1, "expired entries are dropped");
    }

    #[test]
    fn rate_limiter_refills() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        assert!(r.allow("a", 2.0, t0));
        assert!(r.allow("a", 2.0, t0));
        assert!(!r.allow("a", 2.0, t0));
        assert!(r.allow("b", 2.0, t0), "per account");
        assert!(r.allow("a", 2.0, t0 + Duration::from_millis(500)));
        assert!(r.allow("a", 0.0, t0), "0 = off");
    }

    #[test]
    fn journal_is_bounded_but_counts_all() {
        let mut j = Journal::default();
        for i in 0..(JOURNAL_MAX + 5) {
            j.record(Call {
                seq: 0,
                action: "A".into(),
                account: None,
                code: if i % 2 == 0 { "OK".into() } else { "X".into() },
                http_status: 200,
                request_id: String::new(),
                client_token: None,
                service_id: None,
                time: String::new(),
                fault: None,
                replayed: false,
            });
        }
        let v = j.to_json();
        assert_eq!(v["total"], JOURNAL_MAX as u64 + 5);
        assert_eq!(v["calls"].as_array().unwrap().len(), JOURNAL_MAX);
        assert_eq!(v["counts"]["A"]["OK"], (JOURNAL_MAX as u64 + 5).div_ceil(2));
    }
}
