//! Leader election: with two replicas only the Lease holder reconciles; a holder that is stopped
//! drains, then releases the Lease (the holder is cleared, not left to expire), and the standby takes
//! over and reconciles.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::harness::*;

const LEASE: &str = "privatelink-operator-leader";

fn replica(ctx: &Ctx, sim: &Sim, name: &str) -> Operator {
    let ns = ctx.ns.clone();
    Operator::start_env(
        &ctx.log_dir,
        name,
        // Leases need RBAC in the Lease's namespace (the chart grants it in its own); here the
        // Lease lives in the test namespace.
        &ctx.env.admin_kubeconfig,
        &ctx.ns,
        &sim.url,
        &[("PRIVATELINK_LEADER_ELECTION", "true"), ("PRIVATELINK_LEASE_NAMESPACE", &ns), ("POD_NAME", name)],
        &[],
    )
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases.get_opt(LEASE).await.ok().flatten()?.spec?.holder_identity
}

#[tokio::test]
async fn only_the_lease_holder_reconciles_and_a_stopped_leader_hands_over() {
    let ctx = Ctx::new("leader").await;
    let sim = ctx.start_sim(&[]).await;
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    let mut a = replica(&ctx, &sim, "replica-a");
    ctx.wait_until("replica-a to hold the Lease", Duration::from_secs(30), || async {
        match holder(&leases).await {
            Some(h) if h == "replica-a" => Ok(()),
            other => Err(format!("holder {other:?}")),
        }
    })
    .await;
    let b = replica(&ctx, &sim, "replica-b");
    ctx.create(service("led", "nlb-sim-001")).await;
    ctx.wait_ready("led").await;
    assert_eq!(holder(&leases).await.as_deref(), Some("replica-a"), "the first replica keeps the Lease");
    let b_log = b.proc.log_text();
    assert!(b_log.contains("waiting for leadership"), "{b_log}");
    assert!(!b_log.contains("controller started"), "the standby must not run the controller:\n{b_log}");
    let before = leases.get(LEASE).await.unwrap().spec.unwrap().lease_transitions.unwrap_or(0);

    // The holder is stopped as the kubelet stops a pod: it drains, releases, exits 0.
    let status = a.proc.terminate(Duration::from_secs(20)).expect("replica-a exits after SIGTERM");
    assert!(status.success(), "replica-a exit status {status:?}:\n{}", a.proc.log_text());
    let right_after = leases.get(LEASE).await.unwrap().spec.unwrap();
    assert_ne!(
        right_after.holder_identity.as_deref(),
        Some("replica-a"),
        "the Lease is released on shutdown, not left to expire: {right_after:?}"
    );
    assert!(a.proc.log_text().contains("released the Lease"), "{}", a.proc.log_text());

    ctx.wait_until("replica-b to take over", Duration::from_secs(30), || async {
        match holder(&leases).await {
            Some(h) if h == "replica-b" => Ok(()),
            other => Err(format!("holder {other:?}")),
        }
    })
    .await;
    let after = leases.get(LEASE).await.unwrap().spec.unwrap().lease_transitions.unwrap_or(0);
    assert_eq!(after, before + 1, "one transition");

    // The new leader reconciles: a spec edit reaches the cloud.
    ctx.api()
        .patch(
            "led",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"serviceDescription": "after handover"}})),
        )
        .await
        .unwrap();
    let obj = ctx
        .wait_until("the new leader to apply the edit", READY_TIMEOUT, || async {
            let o = ctx.get("led").await.ok_or("object missing")?;
            let ready = condition(&o, "Ready").is_some_and(|c| c["status"] == "True");
            let observed = o.data["status"]["observedGeneration"].as_i64();
            if ready && observed == o.metadata.generation {
                Ok(o)
            } else {
                Err(format!("{}", o.data["status"]))
            }
        })
        .await;
    let id = status_str(&obj, "serviceId").unwrap();
    assert_eq!(sim.service(&id).await.unwrap()["serviceDescription"], "after handover");
    assert_eq!(sim.services().await.len(), 1, "one service through the handover");
}
