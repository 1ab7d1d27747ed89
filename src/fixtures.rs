//! Test fixtures: builders for objects and a mock Kubernetes API (tower-test).

use kube::api::ObjectMeta;

use crate::crd::{Payer, ResourceType, ServiceResource, VpcEndpointService, VpcEndpointServiceSpec};

/// A namespaced nlb service with one resource, generation 1.
pub fn service(name: &str, uid: &str) -> VpcEndpointService {
    let mut obj = VpcEndpointService::new(
        name,
        VpcEndpointServiceSpec {
            region_id: "cn-hangzhou".into(),
            service_description: None,
            auto_accept_enabled: None,
            payer: Payer::Endpoint,
            zone_affinity_enabled: None,
            service_resource_type: ResourceType::Nlb,
            resources: vec![ServiceResource {
                resource_type: Some(ResourceType::Nlb),
                resource_id: Some("nlb-sim-001".into()),
                service_ref: None,
                zone_id: Some("cn-hangzhou-h".into()),
            }],
            address_ip_version: None,
            resource_group_id: None,
            tags: vec![],
            supported_regions: vec![],
            connect_bandwidth: None,
            credentials_secret_ref: None,
            deletion_policy: None,
            management_policy: None,
            allowed_principals: None,
            connection_approval: None,
            disconnect_on_delete: None,
            export_to: None,
        },
    );
    obj.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(uid.into()),
        generation: Some(1),
        ..Default::default()
    };
    obj
}

use std::sync::Arc;

use http::{Request, Response};
use kube::{Client, client::Body, runtime::events::Reporter};

use crate::{
    alicloud::{AliCloudClient, ClientConfig, Credentials, DefaultCredentials},
    metrics::Metrics,
    reconcile::{Context, Settings},
};

/// The mock apiserver side: assert each request and answer it.
pub struct ApiServer(pub tower_test::mock::Handle<Request<Body>, Response<Body>>);

/// One request seen by the mock apiserver.
#[derive(Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// JSON body (Null when empty).
    pub body: serde_json::Value,
}

impl ApiServer {
    /// Wait for the next request (1 s timeout), answer with `reply` and return what was asked.
    pub async fn next(&mut self, reply: serde_json::Value) -> Seen {
        let (req, send) = tokio::time::timeout(std::time::Duration::from_secs(5), self.0.next_request())
            .await
            .expect("the reconciler made no further Kubernetes call")
            .expect("mock service closed");
        let method = req.method().to_string();
        let uri = req.uri().to_string();
        let bytes = req.into_body().collect_bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        send.send_response(
            Response::builder().body(Body::from(serde_json::to_vec(&reply).unwrap())).unwrap(),
        );
        Seen { method, uri, body }
    }
}

/// A simulator on 127.0.0.1 (in-process) and its base URL.
pub async fn start_sim() -> (Arc<privatelink_sim::server::Sim>, String) {
    let cfg = privatelink_sim::server::SimConfig {
        timing: privatelink_sim::model::Timing {
            create: std::time::Duration::from_millis(300),
            update: std::time::Duration::from_millis(100),
            delete: std::time::Duration::from_millis(100),
        },
        ..Default::default()
    };
    let s = privatelink_sim::server::Sim::new(privatelink_sim::world::World::default_world(), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(privatelink_sim::server::serve(listener, s.clone(), std::future::pending()));
    (s, url)
}

/// A reconciler context whose Kubernetes API is a mock and whose cloud is `endpoint`.
pub fn context(endpoint: &str) -> (Arc<Context>, ApiServer) {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(svc, "default");
    let metrics = Arc::new(Metrics::default());
    let cloud = AliCloudClient::new(
        &ClientConfig {
            endpoint: Some(endpoint.into()),
            sts_endpoint: Some(endpoint.into()),
            ..Default::default()
        },
        Some(metrics.clone()),
    )
    .unwrap();
    let recorder = crate::events::Recorder::new(
        client.clone(),
        Reporter { controller: "privatelink-operator".into(), instance: None },
    );
    let creds = Credentials::new("sim-ak-default", "sim-secret-default", None);
    let ctx = Context::new(
        client,
        cloud,
        Some(DefaultCredentials::Static(creds)),
        recorder,
        metrics,
        Settings::default(),
    );
    (Arc::new(ctx), ApiServer(handle))
}
