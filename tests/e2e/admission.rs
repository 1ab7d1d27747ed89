//! Test 4: Admission: every manifest in `tests/admission/` is rejected by the API server with a message
//! naming the field, and nothing reaches the cloud.

use std::path::PathBuf;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

use crate::harness::*;

struct Case {
    file: PathBuf,
    name: String,
    expect: Vec<String>,
    /// For updates: the valid original, created first.
    base: Option<Value>,
    manifest: Value,
}

fn load_corpus() -> Vec<Case> {
    let dir = repo_root().join("tests/admission");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let expect: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix("# expect:"))
                .map(|s| s.trim().to_string())
                .collect();
            assert!(!expect.is_empty(), "{}: no `# expect:` line", file.display());
            let is_update = text.lines().any(|l| l.starts_with("# op: update"));
            let stem = file.file_stem().unwrap().to_string_lossy().to_string();
            let name = format!("adm-{stem}");
            let mut docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
                .map(|d| {
                    let v: Value = serde::Deserialize::deserialize(d)
                        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                    v
                })
                .collect();
            for d in &mut docs {
                d["metadata"]["name"] = Value::String(name.clone());
            }
            let (base, manifest) = match (is_update, docs.len()) {
                (false, 1) => (None, docs.remove(0)),
                (true, 2) => {
                    let m = docs.remove(1);
                    (Some(docs.remove(0)), m)
                }
                (u, n) => panic!("{}: update={u} with {n} documents", file.display()),
            };
            Case { file, name, expect, base, manifest }
        })
        .collect()
}

#[tokio::test]
async fn invalid_manifests_are_rejected_by_the_api_server() {
    let cases = load_corpus();
    assert!(cases.len() >= 20, "the corpus has only {} cases", cases.len());

    let ctx = Ctx::new("admission").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    // Update cases need a stored original; keep those where no operator runs.
    let quiet_ns = ctx.extra_namespace("upd").await;

    let mut failures = Vec::new();
    for case in &cases {
        let ns = if case.base.is_some() { quiet_ns.as_str() } else { ctx.ns.as_str() };
        let kind = case.manifest["kind"].as_str().unwrap_or(KIND);
        let gvk = GroupVersionKind::gvk(GROUP, VERSION, kind);
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), ns, &ApiResource::from_gvk_with_plural(&gvk, &plural));
        let result = match &case.base {
            None => {
                let obj: DynamicObject = serde_json::from_value(case.manifest.clone()).unwrap();
                api.create(&PostParams::default(), &obj).await
            }
            Some(base) => {
                let base: DynamicObject = serde_json::from_value(base.clone()).unwrap();
                let stored = api.create(&PostParams::default(), &base).await.unwrap_or_else(|e| {
                    panic!("{}: the valid original was rejected: {e}", case.file.display())
                });
                let mut obj: DynamicObject = serde_json::from_value(case.manifest.clone()).unwrap();
                obj.metadata.resource_version = stored.metadata.resource_version;
                api.replace(&case.name, &PostParams::default(), &obj).await
            }
        };
        match result {
            Ok(_) => failures.push(format!("{}: ACCEPTED (expected a rejection)", case.file.display())),
            Err(kube::Error::Api(resp)) => {
                let missing: Vec<&String> =
                    case.expect.iter().filter(|e| !resp.message.contains(e.as_str())).collect();
                if !missing.is_empty() || !(400..500).contains(&resp.code) {
                    failures.push(format!(
                        "{}: HTTP {} message lacks {missing:?}: {}",
                        case.file.display(),
                        resp.code,
                        resp.message
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: unexpected error {e}", case.file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing reached the cloud. To know the operator was really watching, a valid canary object
    // must become Ready; then the cloud holds that one service and saw exactly one Create.
    ctx.create(service("adm-canary", "nlb-sim-001")).await;
    ctx.wait_ready("adm-canary").await;
    let services = sim.services().await;
    assert_eq!(services.len(), 1, "only the canary reached the cloud: {services:#?}");
    let creates = sim.calls(CREATE).await;
    assert_eq!(creates.len(), 1, "only the canary's Create reached the cloud: {creates:#?}");
    let endpoint_creates = sim.calls("CreateVpcEndpoint").await;
    assert!(endpoint_creates.is_empty(), "no endpoint reached the cloud: {endpoint_creates:#?}");
}
