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
                resource_type: ResourceType::Nlb,
                resource_id: "nlb-sim-001".into(),
                zone_id: Some("cn-hangzhou-h".into()),
            }],
            address_ip_version: None,
            resource_group_id: None,
            tags: vec![],
            supported_regions: vec![],
            connect_bandwidth: None,
            credentials_secret_ref: None,
            deletion_policy: None,
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
