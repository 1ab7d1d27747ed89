//! Test 7: Resilience: the operator keeps working across an apiserver restart and a simulator restart,
//! without being restarted itself.
//!
//! This restarts the SHARED apiserver of the testenv (`tests/scripts/testenv-restart.sh apiserver`), so it
//! is a separate test target, run after `--test e2e` and single-threaded (`make e2e`).

#[path = "../e2e/harness.rs"]
mod harness;

use std::{process::Command, time::Duration};

use harness::*;

#[tokio::test]
async fn operator_survives_apiserver_and_sim_restarts() {
    let ctx = Ctx::new("restart").await;
    let mut sim = ctx.start_sim(&[]).await;
    let mut op = ctx.start_operator(&sim);

    ctx.create(service("before", "nlb-sim-001")).await;
    ctx.wait_ready("before").await;

    // --- apiserver restart (same port, same etcd data) ---
    let script = repo_root().join("tests/scripts/testenv-restart.sh");
    let out = Command::new(&script)
        .arg("apiserver")
        .env("TESTENV_DIR", &ctx.env.dir)
        .output()
        .expect("run tests/scripts/testenv-restart.sh");
    assert!(
        out.status.success(),
        "testenv-restart.sh apiserver failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(op.is_running(), "the operator exited during the apiserver restart:\n{}", ctx.log_tails());
    // State survived the restart.
    let obj = ctx.get("before").await.expect("object survives the apiserver restart");
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "True");

    ctx.create(service("after-apiserver", "nlb-sim-002")).await;
    ctx.wait_condition("after-apiserver", "Ready", Duration::from_secs(120), |c| c["status"] == "True").await;
    assert!(op.is_running(), "the operator exited:\n{}", ctx.log_tails());

    // --- simulator restart (same port, empty state) ---
    sim.restart().await;
    ctx.create(service("after-sim", "nlb-sim-003")).await;
    let obj =
        ctx.wait_condition("after-sim", "Ready", Duration::from_secs(120), |c| c["status"] == "True").await;
    assert!(op.is_running(), "the operator exited during the sim restart:\n{}", ctx.log_tails());
    let id = status_str(&obj, "serviceId").unwrap();
    assert!(sim.service(&id).await.is_some(), "after-sim's service {id} is in the new sim");
    // Its probes agree: live and ready.
    for path in ["healthz", "readyz"] {
        assert_eq!(op.http_status(path).await, Ok(200), "operator /{path} after the restarts");
    }
}
