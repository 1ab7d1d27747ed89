//! Fair admission to a saturated account budget (issue 16 B): a burst's new objects wait their turn
//! without holding the controller (visible as `Ready=False` reason `Queued`), and an object applied in
//! another namespace meanwhile gets one of the next turns instead of waiting for the whole burst.

use serde_json::Value;

use crate::harness::{Ctx, Operator, READY_TIMEOUT, condition, service, status_str};

const CREATE: &str = "CreateVpcEndpointService";
const BURST: usize = 8;

#[tokio::test]
async fn another_namespace_is_served_next_not_after_the_burst() {
    let ctx = Ctx::new("fair").await;
    let sim = ctx.start_sim(&["--create-seconds", "1"]).await;
    let other = ctx.extra_namespace("b").await;
    let watch = format!("{},{other}", ctx.ns);
    // One call per second: the account's budget is saturated by a burst of eight.
    let args = [
        "run",
        "--watch-namespaces",
        &watch,
        "--endpoint",
        &sim.url,
        "--http-addr",
        "127.0.0.1:0",
        "--qps",
        "1",
        "--burst",
        "1",
    ];
    let _op = Operator::start_args(&ctx.log_dir, "operator", ctx.env.operator_identity(), &args, &[], &[]);
    for i in 0..BURST {
        ctx.create(service(&format!("a{i}"), "nlb-sim-001")).await;
    }
    // Part of the burst waits its turn, and says so.
    ctx.wait_until("an object of the burst to show Ready=False reason Queued", READY_TIMEOUT, || async {
        for i in 0..BURST {
            if let Some(o) = ctx.get(&format!("a{i}")).await
                && condition(&o, "Ready").is_some_and(|c| c["status"] == "False" && c["reason"] == "Queued")
            {
                return Ok(());
            }
        }
        Err("none Queued yet".to_string())
    })
    .await;
    let before = sim.calls(CREATE).await.len();
    assert!(before < BURST, "the burst is still in progress when namespace b applies ({before} created)");
    let obj = serde_json::from_value(service("b", "nlb-sim-002")).unwrap();
    ctx.api_in(&other).create(&Default::default(), &obj).await.unwrap();
    let b = ctx
        .wait_until("namespace b's object to be Ready", READY_TIMEOUT, || async {
            let o = ctx.api_in(&other).get("b").await.map_err(|e| e.to_string())?;
            match condition(&o, "Ready") {
                Some(c) if c["status"] == "True" => Ok(o),
                c => Err(format!("Ready: {c:?}")),
            }
        })
        .await;
    let sid = status_str(&b, "serviceId").expect("serviceId");
    let creates = sim.calls(CREATE).await;
    let position =
        creates.iter().position(|c| c["serviceId"] == sid.as_str()).expect("b's Create is journaled");
    assert!(
        position <= before + 2,
        "b's Create is one of the next two after it was applied: position {position}, {before} Creates before it"
    );

    // The burst completes in turn: every object Ready, each created exactly once.
    for i in 0..BURST {
        ctx.wait_condition(&format!("a{i}"), "Ready", READY_TIMEOUT * 2, |c| c["status"] == "True").await;
    }
    let creates = sim.calls(CREATE).await;
    let ok: Vec<&Value> = creates.iter().filter(|c| c["code"] == "OK").collect();
    assert_eq!(ok.len(), BURST + 1, "one Create per object: {creates:#?}");
    assert_eq!(sim.services().await.len(), BURST + 1);
}
