//! Credentials: a per-object Secret selects the Alibaba account; RRSA (OIDC token → STS
//! AssumeRoleWithOIDC) works without any access key; secret values never leak into status, events
//! or logs.

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::harness::*;

const OTHER_ACCOUNT: &str = "2234567890123456";

#[tokio::test]
async fn secret_ref_selects_the_account_and_bad_keys_are_reported_without_leaking() {
    let ctx = Ctx::new("creds").await;
    let sim = ctx.start_sim(&[]).await;
    let op = ctx.start_operator(&sim);
    ctx.create_secret("other-account", "sim-ak-other", "sim-secret-other").await;
    ctx.create_secret("wrong-secret", "sim-ak-other", "leaked-if-you-see-this").await;

    let mut good = service("other", "nlb-sim-001");
    good["spec"]["credentialsSecretRef"] = json!({"name": "other-account"});
    ctx.create(good).await;
    let obj = ctx.wait_ready("other").await;
    let services = sim.services().await;
    assert_eq!(services.len(), 1, "{services:#?}");
    assert_eq!(services[0]["accountId"], OTHER_ACCOUNT, "created with the Secret's account, not the default");
    assert_eq!(status_str(&obj, "serviceId").as_deref(), services[0]["serviceId"].as_str());

    let mut bad = service("bad-key", "nlb-sim-001");
    bad["spec"]["credentialsSecretRef"] = json!({"name": "wrong-secret"});
    ctx.create(bad).await;
    let obj = ctx
        .wait_condition("bad-key", "Ready", std::time::Duration::from_secs(30), |c| {
            c["status"] == "False" && c["reason"] == "SignatureDoesNotMatch"
        })
        .await;
    let message = condition(&obj, "Ready").unwrap()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("RequestId"), "message names the RequestId: {message}");
    assert_eq!(condition(&obj, "Stalled").unwrap()["status"], "True", "a bad signature is terminal");

    let events: Api<Event> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    let events = serde_json::to_string(&events.list(&ListParams::default()).await.unwrap().items).unwrap();
    let everything =
        format!("{}\n{}\n{}", serde_json::to_string(&obj.data).unwrap(), events, op.proc.log_text());
    for secret in ["leaked-if-you-see-this", "sim-secret-other"] {
        assert!(!everything.contains(secret), "secret value {secret:?} leaked into status, events or logs");
    }
}

#[tokio::test]
async fn rrsa_exchanges_the_oidc_token_and_needs_no_access_key() {
    let ctx = Ctx::new("rrsa").await;
    let sim = ctx.start_sim(&[]).await;
    let token = ctx.log_dir.join("rrsa-token");
    // A projected service-account token as ACK issues it: the registered issuer, audience
    // sts.aliyuncs.com, valid for an hour.
    let exp = jiff::Timestamp::now().as_second() + 3600;
    let jwt = privatelink_sim::ops::sts::test_token(
        privatelink_sim::world::SIM_OIDC_ISSUER,
        "sts.aliyuncs.com",
        exp,
    );
    std::fs::write(&token, format!("{jwt}\n")).unwrap();
    let env = [
        ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1234567890123456:role/privatelink-operator"),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1234567890123456:oidc-provider/ack-rrsa-e2e"),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.to_str().unwrap()),
        ("ALIBABA_CLOUD_STS_ENDPOINT", sim.url.as_str()),
    ];
    let op = Operator::start_env(
        &ctx.log_dir,
        "operator-rrsa",
        ctx.env.operator_identity(),
        &ctx.ns,
        &sim.url,
        &env,
        &["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
    );
    ctx.create(service("via-rrsa", "nlb-sim-001")).await;
    ctx.wait_ready("via-rrsa").await;
    let exchanges = sim.calls("AssumeRoleWithOIDC").await;
    assert_eq!(exchanges.len(), 1, "one token exchange, then cached credentials: {exchanges:#?}");
    let log = strip_ansi(&op.proc.log_text());
    assert!(log.contains("RRSA role acs:ram::1234567890123456:role/privatelink-operator"), "{log}");
    let issued = sim.sts_credentials().await;
    assert_eq!(issued.len(), 1, "{issued:#?}");
    for field in ["accessKeySecret", "securityToken"] {
        let secret = issued[0][field].as_str().unwrap();
        assert!(!log.contains(secret), "the STS {field} leaked into the log");
    }
}

#[tokio::test]
async fn credentials_of_another_account_never_create_a_second_service_nor_release_the_first() {
    use kube::api::{Patch, PatchParams};
    let ctx = Ctx::new("creds-switch").await;
    let sim = ctx.start_sim(&[]).await;
    let _op = ctx.start_operator(&sim);
    ctx.create_secret("keys", "sim-ak-default", "sim-secret-default").await;
    let mut obj = service("switch", "nlb-sim-001");
    obj["spec"]["credentialsSecretRef"] = json!({"name": "keys"});
    ctx.create(obj).await;
    let ready = ctx.wait_ready("switch").await;
    let sid = status_str(&ready, "serviceId").unwrap();
    assert_eq!(status_str(&ready, "accountId").as_deref(), Some("1234567890123456"));

    // The Secret now holds another account's keys (a mistake, or a restore into the wrong cluster).
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.ns);
    let patch = json!({"stringData": {"accessKeyId": "sim-ak-other", "accessKeySecret": "sim-secret-other"}});
    secrets.patch("keys", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    // A spec edit makes the operator look (a Secret change alone is not watched).
    let api = ctx.api();
    let edit = json!({"spec": {"serviceDescription": "edited after the switch"}});
    api.patch("switch", &PatchParams::default(), &Patch::Merge(&edit)).await.unwrap();
    let obj = ctx
        .wait_condition("switch", "Ready", std::time::Duration::from_secs(30), |c| {
            c["reason"] == "AccountMismatch"
        })
        .await;
    let message = condition(&obj, "Ready").unwrap()["message"].as_str().unwrap().to_string();
    assert!(message.contains(OTHER_ACCOUNT) && message.contains(&sid), "{message}");
    assert_eq!(condition(&obj, "Stalled").unwrap()["status"], "True");

    // Deleting it now must not believe the other account's NotFound.
    ctx.delete("switch").await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(ctx.get("switch").await.is_some(), "the finalizer must hold");
    let services = sim.services().await;
    assert_eq!(services.len(), 1, "no second service in the other account: {services:#?}");
    assert_eq!(services[0]["serviceId"], sid.as_str());
    assert_eq!(services[0]["serviceStatus"], "Active", "the first service is untouched");
    let writes_as_b: Vec<_> = sim.journal().await["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["account"] == OTHER_ACCOUNT && c["action"] != "GetCallerIdentity")
        .cloned()
        .collect();
    assert!(
        writes_as_b.is_empty(),
        "nothing at all was called with the other account's keys: {writes_as_b:#?}"
    );
    // Clean up: release the object by hand (the service stays with the test's simulator).
    let unfinalize = json!({"metadata": {"finalizers": null}});
    api.patch("switch", &PatchParams::default(), &Patch::Merge(&unfinalize)).await.unwrap();
}
