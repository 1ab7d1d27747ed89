//! Memory probe for `tests/bench/README.md`: how much resident memory do N cached `VpcEndpointService`
//! objects take, with and without `metadata.managedFields`? Lists every object of a namespace (pages of
//! 500, as the operator's watcher does) and keeps them in memory, like the controller's reflector store.
//!
//! Usage: `bench_store NAMESPACE full|stripped` (KUBECONFIG from the environment). Run once per mode:
//! each mode in its own process, so the numbers are independent.

use kube::{Api, Client, ResourceExt, api::ListParams};
use privatelink_operator::crd::VpcEndpointService;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ns = args.get(1).ok_or("usage: bench_store NAMESPACE full|stripped")?;
    let strip = args.get(2).map(String::as_str) == Some("stripped");
    let api: Api<VpcEndpointService> = Api::namespaced(Client::try_default().await?, ns);
    let _ = api.list(&ListParams::default().limit(1)).await?;
    let before = rss_kib();
    let mut kept: Vec<VpcEndpointService> = Vec::new();
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = api.list(&lp).await?;
        let next = page.metadata.continue_.clone();
        for mut o in page.items {
            if strip {
                o.managed_fields_mut().clear();
            }
            kept.push(o);
        }
        match next {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let after = rss_kib();
    let per = (after.saturating_sub(before)) as f64 / kept.len().max(1) as f64;
    println!(
        "{{\"namespace\":\"{ns}\",\"mode\":\"{}\",\"objects\":{},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"kib_per_object\":{per:.2}}}",
        if strip { "stripped" } else { "full" },
        kept.len()
    );
    Ok(())
}
