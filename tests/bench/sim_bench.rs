//! Load generator for privatelink-sim: signed V3 `GetVpcEndpointServiceAttribute` calls.
//!
//! Usage: `sim_bench http://127.0.0.1:PORT [seconds=10] [concurrency=64] [prefill=0]`
//! (`prefill` = services created first, to show that idle services cost nothing).
//! Run the simulator pinned to one core (`taskset -c 0`) and this client on another.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use privatelink_sim::sign;

const AK: &str = "sim-ak-default";
const SK: &str = "sim-secret-default";

fn signed(
    client: &reqwest::Client,
    base: &str,
    host: &str,
    action: &str,
    query: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let date = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let headers = [
        ("host", host.to_string()),
        ("x-acs-action", action.to_string()),
        ("x-acs-content-sha256", sign::EMPTY_SHA256.to_string()),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-version", "2020-04-15".to_string()),
    ];
    let names: Vec<String> = headers.iter().map(|(k, _)| k.to_string()).collect();
    let cr = sign::v3_canonical_request(
        "POST",
        query.iter().copied(),
        &names,
        |n| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str()),
        sign::EMPTY_SHA256,
    )
    .expect("canonical request");
    let sig = sign::v3_sign(SK, &sign::v3_string_to_sign(&cr));
    let qs: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    let mut rb = client.post(format!("{base}/?{qs}"));
    for (k, v) in &headers[1..] {
        rb = rb.header(*k, v);
    }
    rb.header(
        "authorization",
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={},Signature={sig}", names.join(";")),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8787".into());
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conc: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let host = base.trim_start_matches("http://").to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(conc).build().unwrap();
    let prefill: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let t = Instant::now();
    let mut fill = Vec::new();
    let workers = conc.max(1);
    for w in 0..workers.min(prefill) {
        let (client, base, host) = (client.clone(), base.clone(), host.clone());
        let n = prefill / workers + usize::from(w < prefill % workers);
        fill.push(tokio::spawn(async move {
            for _ in 0..n {
                let q = [("RegionId", "cn-beijing")];
                let r = signed(&client, &base, &host, "CreateVpcEndpointService", &q).send().await.unwrap();
                assert!(r.status().is_success(), "prefill create failed: {}", r.text().await.unwrap());
            }
        }));
    }
    for f in fill {
        f.await.unwrap();
    }
    if prefill > 0 {
        println!("prefilled {prefill} services in {:.1}s", t.elapsed().as_secs_f64());
    }
    let created: serde_json::Value = signed(
        &client,
        &base,
        &host,
        "CreateVpcEndpointService",
        &[("RegionId", "cn-hangzhou"), ("ServiceDescription", "bench")],
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let sid = created["ServiceId"].as_str().expect("create ok").to_string();
    let ok = Arc::new(AtomicU64::new(0));
    let fail = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, base, host, sid, ok, fail) =
            (client.clone(), base.clone(), host.clone(), sid.clone(), ok.clone(), fail.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let q = [("RegionId", "cn-hangzhou"), ("ServiceId", sid.as_str())];
                let r = signed(&client, &base, &host, "GetVpcEndpointServiceAttribute", &q).send().await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        fail.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let el = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "requests ok={n} failed={} in {el:.1}s => {:.0} req/s (concurrency {conc})",
        fail.load(Ordering::Relaxed),
        n as f64 / el
    );
}
