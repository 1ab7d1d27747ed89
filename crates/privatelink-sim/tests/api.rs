//! privatelink-sim over real HTTP: admin API, faults, idempotency, auth checks, lazy states.
//! Uses its own tiny V3/V1 signer (`common`, independent of the simulator's verifier and the operator).

mod common;

use std::time::{Duration, Instant};

use common::*;
use privatelink_sim::{Sim, SimConfig, Timing, World, router};
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn admin_journal_idempotency_and_reset() {
    let sim = TestSim::fast().await;
    let (s, body) = sim.admin(reqwest::Method::GET, "healthz", None).await;
    assert_eq!((s, body), (200, Value::String("ok".into())));

    let a = sim.v3("CreateVpcEndpointService", &with(CREATE, &[("ClientToken", "tok-1")])).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rid = a.body["RequestId"].as_str().unwrap();
    assert_eq!(rid, rid.to_uppercase());
    assert_eq!(uuid::Uuid::parse_str(rid).unwrap().get_version_num(), 4);
    let b = sim.v3("CreateVpcEndpointService", &with(CREATE, &[("ClientToken", "tok-1")])).await;
    assert_eq!(a.body["ServiceId"], b.body["ServiceId"]);
    let c = sim
        .v3(
            "CreateVpcEndpointService",
            &with(CREATE, &[("ClientToken", "tok-1"), ("ServiceDescription", "x")]),
        )
        .await;
    assert_eq!((c.status, code(&c)), (400, "IdempotenceSignatureMismatch"));
    // Same token for another action is a different key.
    let sid = a.body["ServiceId"].as_str().unwrap();
    // The whitelist takes changes only while the service is Active.
    sim.wait_status(&[("RegionId", "cn-hangzhou"), ("ServiceId", sid)], "Active").await;
    let u = sim
        .v3(
            "AddUserToVpcEndpointService",
            &[("RegionId", "cn-hangzhou"), ("ServiceId", sid), ("UserId", "42"), ("ClientToken", "tok-1")],
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.body);

    let (_, services) = sim.admin(reqwest::Method::GET, "services", None).await;
    let list = services["services"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let s0 = &list[0];
    assert_eq!(s0["serviceId"], a.body["ServiceId"]);
    assert_eq!(s0["accountId"], "1234567890123456");
    assert_eq!(
        s0["resources"][0],
        json!({"resourceType": "nlb", "resourceId": "nlb-sim-001", "zoneId": "cn-hangzhou-h"})
    );
    assert_eq!(s0["users"], json!([42]));
    assert_eq!(s0["connectBandwidth"], 3072);

    let (_, j) = sim.admin(reqwest::Method::GET, "journal", None).await;
    assert_eq!(j["counts"]["AddUserToVpcEndpointService"], json!({"OK": 1}));
    assert_eq!(j["counts"]["CreateVpcEndpointService"], json!({"OK": 2, "IdempotenceSignatureMismatch": 1}));
    let call = &j["calls"][0];
    assert_eq!(call["action"], "CreateVpcEndpointService");
    assert_eq!(call["clientToken"], "tok-1");
    assert_eq!(call["serviceId"], a.body["ServiceId"]);
    assert_eq!(call["httpStatus"], 200);
    assert_eq!(call["requestId"], a.body["RequestId"]);
    for k in ["seq", "account", "code", "time"] {
        assert!(call.get(k).is_some(), "journal call has {k}");
    }

    let (s, _) = sim.admin(reqwest::Method::DELETE, "journal", None).await;
    assert_eq!(s, 200);
    assert_eq!(sim.admin(reqwest::Method::GET, "journal", None).await.1["total"], 0);
    sim.admin(reqwest::Method::POST, "reset", None).await;
    assert_eq!(sim.admin(reqwest::Method::GET, "services", None).await.1["services"], json!([]));
    // Tokens were cleared too: the same token now creates a new service.
    let d = sim.v3("CreateVpcEndpointService", &with(CREATE, &[("ClientToken", "tok-1")])).await;
    assert_ne!(d.body["ServiceId"], a.body["ServiceId"]);
}

#[tokio::test]
async fn authentication_and_gateway_errors() {
    let sim = TestSim::fast().await;
    let list = [("RegionId", "cn-hangzhou")];
    let ok = sim.v3("ListVpcEndpointServices", &list).await;
    assert_eq!((ok.status, ok.body["TotalCount"].clone()), (200, json!(0)));

    let cases: Vec<(Opts, &str, u16)> = vec![
        (Opts { sk: "wrong", ..Opts::default() }, "SignatureDoesNotMatch", 400),
        (Opts { ak: "nope", ..Opts::default() }, "InvalidAccessKeyId.NotFound", 404),
        (
            Opts { ak: "sim-ak-inactive", sk: "sim-secret-inactive", ..Opts::default() },
            "InvalidAccessKeyId.Inactive",
            400,
        ),
        (Opts { date_offset: -16 * 60, ..Opts::default() }, "InvalidTimeStamp.Expired", 400),
        (Opts { date_offset: 16 * 60, ..Opts::default() }, "InvalidTimeStamp.Expired", 400),
        (Opts { version: "2019-01-01", ..Opts::default() }, "InvalidVersion", 400),
        (Opts { unsigned_header: true, ..Opts::default() }, "IncompleteSignature", 400),
        (
            Opts { ak: "STS.sim-sts-ak", sk: "sim-sts-secret", token: Some("bad"), ..Opts::default() },
            "InvalidSecurityToken.MismatchWithAccessKey",
            400,
        ),
        (
            Opts { ak: "STS.sim-sts-ak", sk: "sim-sts-secret", token: None, ..Opts::default() },
            "InvalidSecurityToken.MismatchWithAccessKey",
            400,
        ),
        (
            Opts { ak: "sim-ak-unopened", sk: "sim-secret-unopened", ..Opts::default() },
            "NeedOpenProduct",
            400,
        ),
    ];
    for (o, want, status) in cases {
        let r = sim.try_v3("ListVpcEndpointServices", &list, &o).await.unwrap();
        assert_eq!((code(&r), r.status), (want, status), "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/json;charset=utf-8");
        for k in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
            assert!(r.body.get(k).is_some(), "error body has {k}");
        }
    }
    let sts =
        Opts { ak: "STS.sim-sts-ak", sk: "sim-sts-secret", token: Some("sim-sts-token"), ..Opts::default() };
    assert_eq!(sim.try_v3("ListVpcEndpointServices", &list, &sts).await.unwrap().status, 200);

    // Body hash mismatch on a form-body action.
    let tag =
        [("RegionId", "cn-hangzhou"), ("ResourceType", "vpcendpointservice"), ("ResourceId.1", "epsrv-x")];
    let r = sim.try_v3("TagResources", &tag, &Opts { tamper_body: true, ..Opts::default() }).await.unwrap();
    assert_eq!(code(&r), "SignatureDoesNotMatch");

    let r = sim.v3("DescribeNothing", &list).await;
    assert_eq!((code(&r), r.status), ("InvalidApi.NotFound", 404));

    let nonce = Opts { nonce: Some("fixed-nonce-1".into()), ..Opts::default() };
    assert_eq!(sim.try_v3("ListVpcEndpointServices", &list, &nonce).await.unwrap().status, 200);
    let r = sim.try_v3("ListVpcEndpointServices", &list, &nonce).await.unwrap();
    assert_eq!(code(&r), "SignatureNonceUsed");

    // V1 (HMAC-SHA1) via GET with query parameters.
    let r = sim.v1("ListVpcEndpointServices", &list, "sim-secret-default").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = sim.v1("ListVpcEndpointServices", &list, "bad").await;
    assert_eq!(code(&r), "SignatureDoesNotMatch");
    assert!(r.headers.contains_key("x-acs-request-id"));

    // Failed authentications are journalled without an account.
    let (_, j) = sim.admin(reqwest::Method::GET, "journal", None).await;
    let failed: Vec<&Value> =
        j["calls"].as_array().unwrap().iter().filter(|c| c["code"] == "SignatureDoesNotMatch").collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|c| c["account"].is_null() && c["action"] != ""));
}

#[tokio::test]
async fn faults_and_flow_control() {
    let sim = TestSim::fast().await;
    let list = [("RegionId", "cn-hangzhou")];
    let post = |b: Value| sim.admin(reqwest::Method::POST, "faults", Some(b));
    let (_, id) = post(
        json!({"action": "ListVpcEndpointServices", "kind": "throttle", "retryAfterMs": 1500, "count": 1}),
    )
    .await;
    assert_eq!(id["id"], 1);
    let r = sim.v3("ListVpcEndpointServices", &list).await;
    assert_eq!((r.status, code(&r)), (400, "Throttling.User"));
    assert_eq!(r.headers["x-acs-retry-after"], "1500");
    assert_eq!(sim.v3("ListVpcEndpointServices", &list).await.status, 200, "count exhausted");

    post(json!({"account": "2234567890123456", "kind": "error"})).await;
    assert_eq!(sim.v3("ListVpcEndpointServices", &list).await.status, 200, "other account's fault");
    post(json!({"account": "1234567890123456", "action": "GetVpcEndpointServiceAttribute", "kind": "error",
                "code": "InternalError"}))
    .await;
    let r =
        sim.v3("GetVpcEndpointServiceAttribute", &[("RegionId", "cn-hangzhou"), ("ServiceId", "x")]).await;
    assert_eq!((r.status, code(&r)), (500, "InternalError"));
    let (_, faults) = sim.admin(reqwest::Method::GET, "faults", None).await;
    assert_eq!(faults["faults"].as_array().unwrap().len(), 3);
    sim.admin(reqwest::Method::DELETE, "faults", None).await;

    post(json!({"kind": "error", "probability": 0.0})).await;
    assert_eq!(sim.v3("ListVpcEndpointServices", &list).await.status, 200);
    sim.admin(reqwest::Method::DELETE, "faults", None).await;

    post(json!({"kind": "latency", "latencyMs": 300, "count": 1})).await;
    let t = Instant::now();
    assert_eq!(sim.v3("ListVpcEndpointServices", &list).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Lost response: committed, connection dropped; a retry with the token replays.
    post(json!({"action": "CreateVpcEndpointService", "kind": "lose_response", "count": 1})).await;
    let req = with(CREATE, &[("ClientToken", "lost-1")]);
    let err = sim.try_v3("CreateVpcEndpointService", &req, &Opts::default()).await;
    assert!(err.is_err(), "connection should be dropped");
    let (_, services) = sim.admin(reqwest::Method::GET, "services", None).await;
    assert_eq!(services["services"].as_array().unwrap().len(), 1);
    let r = sim.v3("CreateVpcEndpointService", &req).await;
    assert_eq!(r.body["ServiceId"], services["services"][0]["serviceId"]);

    post(json!({"action": "CreateVpcEndpointService", "kind": "lose_response", "mode": "502", "count": 1}))
        .await;
    let r = sim.v3("CreateVpcEndpointService", CREATE).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        sim.admin(reqwest::Method::GET, "services", None).await.1["services"].as_array().unwrap().len(),
        2
    );
    let (_, j) = sim.admin(reqwest::Method::GET, "journal", None).await;
    assert_eq!(j["counts"]["CreateVpcEndpointService"]["OK"], 3);

    // Per-account flow control.
    let (s, cfg) = sim.admin(reqwest::Method::PUT, "config", Some(json!({"qpsLimit": 3}))).await;
    assert_eq!((s, cfg["qpsLimit"].clone()), (200, json!(3.0)));
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(code(&sim.v3("ListVpcEndpointServices", &list).await).to_string());
    }
    assert_eq!(codes[0], "OK");
    assert!(codes.iter().any(|c| c == "Throttling.User"), "{codes:?}");
    let other = Opts { ak: "sim-ak-other", sk: "sim-secret-other", ..Opts::default() };
    assert_eq!(sim.try_v3("ListVpcEndpointServices", &list, &other).await.unwrap().status, 200);
}

#[tokio::test]
async fn lazy_states_and_admin_mutations() {
    let sim = TestSim::fast().await;
    let r = sim.v3("CreateVpcEndpointService", CREATE).await;
    let sid = r.body["ServiceId"].as_str().unwrap().to_string();
    let get = [("RegionId", "cn-hangzhou"), ("ServiceId", sid.as_str())];
    assert_eq!(r.body["ServiceStatus"], "Creating");
    assert_eq!(sim.v3("GetVpcEndpointServiceAttribute", &get).await.body["ServiceStatus"], "Creating");
    sim.wait_status(&get, "Active").await;
    let g = sim.v3("GetVpcEndpointServiceAttribute", &get).await.body;
    assert_eq!((g["ServiceStatus"].as_str(), g["ConnectBandwidth"].as_i64()), (Some("Active"), Some(0)));

    // Admin: force a lock, add a connection and a load balancer.
    let (s, _) = sim
        .admin(
            reqwest::Method::POST,
            &format!("services/{sid}/status"),
            Some(json!({"serviceBusinessStatus": "FinancialLocked"})),
        )
        .await;
    assert_eq!(s, 200);
    let upd = with(&get, &[("ServiceDescription", "x")]);
    // A FinancialLocked service refuses writes as a state that does not allow them.
    assert_eq!(
        code(&sim.v3("UpdateVpcEndpointServiceAttribute", &upd).await),
        "EndpointServiceOperationDenied"
    );
    sim.admin(
        reqwest::Method::POST,
        &format!("services/{sid}/status"),
        Some(json!({"serviceBusinessStatus": "Normal"})),
    )
    .await;
    let (s, lb) = sim
        .admin(
            reqwest::Method::POST,
            "load-balancers",
            Some(json!({"accountId": "1234567890123456", "regionId": "cn-hangzhou", "id": "nlb-extra",
                        "type": "nlb", "zones": ["cn-hangzhou-j"], "privateLinkSupported": true, "dualStack": false})),
        )
        .await;
    assert_eq!(s, 200, "{lb}");
    let attach =
        with(&get, &[("ResourceId", "nlb-extra"), ("ResourceType", "nlb"), ("ZoneId", "cn-hangzhou-j")]);
    assert_eq!(sim.v3("AttachResourceToVpcEndpointService", &attach).await.status, 200);
    assert_eq!(sim.v3("GetVpcEndpointServiceAttribute", &get).await.body["ServiceStatus"], "Pending");
    sim.wait_status(&get, "Active").await;
    let (s, ep) = sim
        .admin(reqwest::Method::POST, "connections", Some(json!({"serviceId": sid, "endpointOwnerId": 7})))
        .await;
    assert_eq!(s, 200);
    assert!(ep["endpointId"].as_str().unwrap().starts_with("ep-"));
    let (s, _) =
        sim.admin(reqwest::Method::POST, "connections", Some(json!({"serviceId": "epsrv-none"}))).await;
    assert_eq!(s, 404);
    assert_eq!(code(&sim.v3("DeleteVpcEndpointService", &get).await), "EndpointServiceConnectionDependence");
    let dis = with(&get, &[("EndpointId", ep["endpointId"].as_str().unwrap())]);
    assert_eq!(sim.v3("DisableVpcEndpointConnection", &dis).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = code(&sim.v3("DeleteVpcEndpointService", &get).await).to_string();
        if c != "EndpointServiceConnectionDependence" {
            // Disconnected; the backends are still attached.
            assert_eq!(c, "EndpointServiceDependenceViolation");
            break;
        }
        assert!(Instant::now() < deadline, "connection never disconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (id, zone) in [("nlb-sim-001", "cn-hangzhou-h"), ("nlb-extra", "cn-hangzhou-j")] {
        let detach = with(&get, &[("ResourceId", id), ("ResourceType", "nlb"), ("ZoneId", zone)]);
        let r = sim.v3("DetachResourceFromVpcEndpointService", &detach).await;
        assert_eq!(r.status, 200, "{}", r.body);
        sim.wait_status(&get, "Active").await;
    }
    assert_eq!(sim.v3("DeleteVpcEndpointService", &get).await.status, 200);
    let (_, services) = sim.admin(reqwest::Method::GET, "services", None).await;
    assert_eq!(services["services"][0]["serviceStatus"], "Deleting");
    sim.wait_status(&get, "EndpointServiceNotFound").await;
    let r = sim.v3("GetVpcEndpointServiceAttribute", &get).await;
    assert_eq!((r.status, code(&r)), (400, "EndpointServiceNotFound"));
    assert_eq!(sim.admin(reqwest::Method::GET, "services", None).await.1["services"], json!([]));

    // Token TTL is configurable at runtime.
    sim.admin(reqwest::Method::PUT, "config", Some(json!({"tokenTtlSeconds": 0.1, "createSeconds": 0})))
        .await;
    let req = with(CREATE, &[("ClientToken", "ttl")]);
    let a = sim.v3("CreateVpcEndpointService", &req).await;
    assert_eq!(a.body["ServiceStatus"], "Active");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let b = sim.v3("CreateVpcEndpointService", &req).await;
    assert_ne!(a.body["ServiceId"], b.body["ServiceId"]);
}

#[tokio::test]
async fn admin_api_absent_when_disabled() {
    let sim = Sim::new(World::default_world(), SimConfig::default());
    for (admin, want) in [(false, 404), (true, 200)] {
        let req = http::Request::get("/_sim/healthz").body(axum::body::Body::empty()).unwrap();
        let resp = router(sim.clone(), admin).oneshot(req).await.unwrap();
        assert_eq!(resp.status().as_u16(), want);
    }
}

/// Every mutating consumer operation under `lose_response`: the change commits, the answer is lost,
/// and a retry with the same ClientToken replays the original answer without a second change.
#[tokio::test]
async fn consumer_operations_commit_under_lost_responses_and_replay_by_token() {
    let sim = TestSim::start(SimConfig {
        timing: Timing { create: Duration::ZERO, update: Duration::ZERO, delete: Duration::ZERO },
        ..SimConfig::default()
    })
    .await;
    let b = Opts { ak: "sim-ak-other", sk: "sim-secret-other", ..Opts::default() };
    let two_zones = with(
        CREATE,
        &[
            ("Resource.2.ResourceType", "nlb"),
            ("Resource.2.ResourceId", "nlb-sim-002"),
            ("Resource.2.ZoneId", "cn-hangzhou-i"),
            ("AutoAcceptEnabled", "true"),
        ],
    );
    let svc = sim.v3("CreateVpcEndpointService", &two_zones).await;
    let sid = svc.body["ServiceId"].as_str().unwrap().to_string();
    let allow = [("RegionId", "cn-hangzhou"), ("ServiceId", sid.as_str()), ("UserId", "2234567890123456")];
    assert_eq!(sim.v3("AddUserToVpcEndpointService", &allow).await.status, 200);
    let endpoints = || async {
        let (_, v) = sim.admin(reqwest::Method::GET, "endpoints", None).await;
        v["endpoints"].as_array().cloned().unwrap_or_default()
    };
    let lose = |action: &str| {
        let action = action.to_string();
        let sim = &sim;
        async move {
            let f = json!({"action": action, "kind": "lose_response", "count": 1});
            assert_eq!(sim.admin(reqwest::Method::POST, "faults", Some(f)).await.0, 200);
        }
    };

    let create = [
        ("RegionId", "cn-hangzhou"),
        ("VpcId", "vpc-sim-b"),
        ("ServiceId", sid.as_str()),
        ("SecurityGroupId.1", "sg-sim-b-1"),
        ("Zone.1.ZoneId", "cn-hangzhou-h"),
        ("Zone.1.VSwitchId", "vsw-sim-b-h"),
        ("ClientToken", "ep-create-1"),
    ];
    lose("CreateVpcEndpoint").await;
    assert!(sim.try_v3("CreateVpcEndpoint", &create, &b).await.is_err(), "answer lost");
    let after = endpoints().await;
    assert_eq!(after.len(), 1, "committed: {after:?}");
    let retry = sim.try_v3("CreateVpcEndpoint", &create, &b).await.unwrap();
    assert_eq!(retry.body["EndpointId"], after[0]["endpointId"], "the retry replays the original endpoint");
    assert_eq!(endpoints().await.len(), 1);
    let ep = retry.body["EndpointId"].as_str().unwrap().to_string();

    // Each step: (action, extra params, check of the committed state).
    let e = |extra: &[(&'static str, &'static str)]| -> Vec<(String, String)> {
        [("RegionId", "cn-hangzhou"), ("EndpointId", ep.as_str())]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    type Check = fn(&Value) -> bool;
    type Step<'a> = (&'a str, Vec<(String, String)>, Check);
    let steps: Vec<Step> = vec![
        ("AddZoneToVpcEndpoint", e(&[("ZoneId", "cn-hangzhou-i"), ("VSwitchId", "vsw-sim-b-i")]), |v| {
            v["zones"].as_array().unwrap().len() == 2
        }),
        ("AttachSecurityGroupToVpcEndpoint", e(&[("SecurityGroupId", "sg-sim-b-2")]), |v| {
            v["securityGroups"].as_array().unwrap().len() == 2
        }),
        ("DetachSecurityGroupFromVpcEndpoint", e(&[("SecurityGroupId", "sg-sim-b-1")]), |v| {
            v["securityGroups"] == json!(["sg-sim-b-2"])
        }),
        ("RemoveZoneFromVpcEndpoint", e(&[("ZoneId", "cn-hangzhou-i")]), |v| {
            v["zones"] == json!(["cn-hangzhou-h"])
        }),
        ("RemoveZoneFromVpcEndpoint", e(&[("ZoneId", "cn-hangzhou-h")]), |v| v["zones"] == json!([])),
        ("UpdateVpcEndpointAttribute", e(&[("EndpointName", "renamed")]), |_| true),
        ("DeleteVpcEndpoint", e(&[]), |_| true),
    ];
    for (i, (action, params, committed)) in steps.into_iter().enumerate() {
        let token = format!("ep-step-{i}");
        let mut params = params;
        params.push(("ClientToken".into(), token));
        let q: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        lose(action).await;
        assert!(sim.try_v3(action, &q, &b).await.is_err(), "{action}: answer lost");
        let now = endpoints().await;
        if action == "DeleteVpcEndpoint" {
            assert!(now.is_empty(), "{action} committed: {now:?}");
        } else {
            assert!(committed(&now[0]), "{action} committed: {now:?}");
        }
        let r = sim.try_v3(action, &q, &b).await.unwrap();
        assert_eq!(r.status, 200, "{action} retry replays: {}", r.body);
    }
    let get = [("RegionId", "cn-hangzhou"), ("EndpointId", ep.as_str())];
    let r = sim.try_v3("GetVpcEndpointAttribute", &get, &b).await.unwrap();
    assert_eq!(code(&r), "EndpointNotFound");
    let (_, j) = sim.admin(reqwest::Method::GET, "journal", None).await;
    let lost = j["calls"].as_array().unwrap().iter().filter(|c| c["fault"] == "lose_response").count();
    let replayed = j["calls"].as_array().unwrap().iter().filter(|c| c["replayed"] == true).count();
    assert_eq!((lost, replayed), (8, 8));
}
