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
    assert!(ok, "kubectl apply --dry-run=server -f deploy/manifests failed:\n{out}{err}");

    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator_as(&sim, &ctx.env.operator_kubeconfig, "operator");

    let (ok, out, err) = ctx.kubectl(&["apply", "-n", &ctx.ns, "-f", "deploy/examples/demo.yaml"]);
    assert!(ok, "kubectl apply of the example failed:\n{out}{err}");
    let (ok, out, err) =
        ctx.kubectl(&["wait", "--for=condition=Ready", "epsrv/demo-service", "-n", &ctx.ns, "--timeout=60s"]);
    assert!(ok, "kubectl wait --for=condition=Ready failed:\n{out}{err}\n{}", ctx.log_tails());

    // The example in README.md too (its metadata.namespace is replaced by the test's).
    let readme_example = readme_example();
    let file = ctx.log_dir.join("readme-example.yaml");
    std::fs::write(&file, serde_yaml::to_string(&readme_example).unwrap()).unwrap();
    let name = readme_example["metadata"]["name"].as_str().unwrap().to_string();
    let (ok, out, err) = ctx.kubectl(&["apply", "-n", &ctx.ns, "-f", &file.to_string_lossy()]);
    assert!(ok, "kubectl apply of the README example failed:\n{out}{err}");
    let target = format!("epsrv/{name}");
    let (ok, out, err) =
        ctx.kubectl(&["wait", "--for=condition=Ready", &target, "-n", &ctx.ns, "--timeout=60s"]);
    assert!(ok, "README example not Ready:\n{out}{err}\n{}", ctx.log_tails());

    let (ok, out, err) = ctx.kubectl(&["get", "epsrv", "-n", &ctx.ns]);
    assert!(ok, "kubectl get epsrv: {err}");
    let header = out.lines().next().unwrap_or_default();
    for col in ["NAME", "READY", "STATUS", "SERVICEID", "SERVICEDOMAIN", "AGE"] {
        assert!(header.split_whitespace().any(|h| h == col), "column {col} missing in {header:?}");
    }
    let row = out.lines().find(|l| l.starts_with("demo-service")).expect("a row for demo-service");
    let obj = ctx.get("demo-service").await.unwrap();
    let id = status_str(&obj, "serviceId").unwrap();
    assert!(sim.service(&id).await.is_some(), "{id} is not in the cloud");
    assert!(row.contains("True") && row.contains("Active") && row.contains(&id), "row {row:?}");
    let n = sim.services().await.len();
    assert_eq!(n, 2, "two services in the cloud: the example's and the README's");

    // The restricted identity really is restricted (the RBAC is least privilege, not admin).
    let (ok, out, _) =
        kubectl(&ctx.env.operator_kubeconfig, &["auth", "can-i", "create", "pods", "-n", &ctx.ns]);
    assert!(!ok && out.trim() == "no", "the operator identity may create pods: {out}");
}

/// The first `yaml` code block of README.md that holds a VpcEndpointService, without its namespace.
fn readme_example() -> serde_json::Value {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let block = readme
        .split("```yaml")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("kind: VpcEndpointService"))
        .expect("README.md has a yaml block with a VpcEndpointService");
    let mut v: serde_json::Value = serde_yaml::from_str(block).expect("README example is valid YAML");
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    v
}
