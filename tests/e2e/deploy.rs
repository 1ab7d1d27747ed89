//! Test 6: The shipped manifests and the README example, driven with kubectl; the operator runs with the
//! restricted identity that deploy/'s RBAC binds, which proves that RBAC suffices.

use crate::harness::*;

#[tokio::test]
async fn kubectl_applies_deploy_manifests_and_the_example_becomes_ready() {
    let manifests = repo_root().join("deploy/manifests");
    if !manifests.is_dir() {
        eprintln!(
            "SKIPPED: deploy/manifests/ does not exist yet (the deploy branch has not landed); \
             nothing to check"
        );
        return;
    }
    let ctx = Ctx::new("kubectl").await;
    assert!(
        ctx.env.rbac_from_deploy,
        "testenv-up did not install the RBAC from deploy/manifests; re-run `make testenv-up`"
    );

    // Everything in deploy/manifests is accepted by the real API server (there is no kubelet, so
    // the Deployment is only checked with a server-side dry run).
    let dir = manifests.to_string_lossy().to_string();
    let (ok, out, err) = ctx.kubectl(&["apply", "--server-side", "--dry-run=server", "-f", &dir]);
    assert!(
        ok,
        "kubectl apply --dry-run=server -f deploy/manifests failed:\n{out}{err}"
    );

    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator_as(&sim, &ctx.env.operator_kubeconfig, "operator");

    let (ok, out, err) = ctx.kubectl(&["apply", "-n", &ctx.ns, "-f", "examples/vpcendpointservice.yaml"]);
    assert!(ok, "kubectl apply of the example failed:\n{out}{err}");
    let (ok, out, err) = ctx.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "epsrv/demo-service",
        "-n",
        &ctx.ns,
        "--timeout=60s",
    ]);
    assert!(
        ok,
        "kubectl wait --for=condition=Ready failed:\n{out}{err}\n{}",
        ctx.log_tails()
    );

    let (ok, out, err) = ctx.kubectl(&["get", "epsrv", "-n", &ctx.ns]);
    assert!(ok, "kubectl get epsrv: {err}");
    let header = out.lines().next().unwrap_or_default();
    for col in ["NAME", "READY", "STATUS", "SERVICEID", "SERVICEDOMAIN", "AGE"] {
        assert!(
            header.split_whitespace().any(|h| h == col),
            "column {col} missing in {header:?}"
        );
    }
    let row = out
        .lines()
        .find(|l| l.starts_with("demo-service"))
        .expect("a row for demo-service");
    let cloud = sim.services().await;
    assert_eq!(cloud.len(), 1, "{cloud:#?}");
    let id = cloud[0]["serviceId"].as_str().unwrap();
    assert!(
        row.contains("True") && row.contains("Active") && row.contains(id),
        "row {row:?}"
    );

    // The restricted identity really is restricted (the RBAC is least privilege, not admin).
    let (ok, out, _) = kubectl(
        &ctx.env.operator_kubeconfig,
        &["auth", "can-i", "create", "pods", "-n", &ctx.ns],
    );
    assert!(
        !ok && out.trim() == "no",
        "the operator identity may create pods: {out}"
    );
}
