//! Create: the request built from the spec, and the idempotency token derived from the object's UID.

use sha2::{Digest, Sha256};

use crate::{
    alicloud::{
        ops::{CreateVpcEndpointService, ResourceParam, TagParam},
        signer::canonical_query,
    },
    crd::{OWNER_TAG_KEY, ResourceType, VpcEndpointService, VpcEndpointServiceSpec},
};

/// Wire value of a resource type.
pub fn resource_type_str(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Slb => "slb",
        ResourceType::Alb => "alb",
        ResourceType::Nlb => "nlb",
        ResourceType::Gwlb => "gwlb",
    }
}

/// Desired tags on the cloud resource: the user's plus the ownership tag.
pub fn desired_tags(spec: &VpcEndpointServiceSpec, uid: &str) -> Vec<TagParam> {
    let mut tags: Vec<TagParam> =
        spec.tags.iter().map(|t| TagParam { key: t.key.clone(), value: t.value.clone() }).collect();
    tags.push(TagParam { key: OWNER_TAG_KEY.to_string(), value: uid.to_string() });
    tags
}

/// Desired backend resources of a spec that names its load balancers by ID (`serviceRef` entries are
/// resolved by [`super::backends::resolve`]; here they give nothing).
pub fn desired_resources(spec: &VpcEndpointServiceSpec) -> Vec<ResourceParam> {
    super::backends::resolve(spec, |_| None).resources
}

/// The `CreateVpcEndpointService` request for an object with these (resolved) backends, without its
/// ClientToken.
pub fn create_request(
    obj: &VpcEndpointService,
    uid: &str,
    resources: &[ResourceParam],
) -> CreateVpcEndpointService {
    let spec = &obj.spec;
    CreateVpcEndpointService {
        region_id: spec.region_id.clone(),
        client_token: None,
        dry_run: None,
        auto_accept_enabled: spec.auto_accept_enabled,
        payer: Some(format!("{:?}", spec.payer)),
        service_resource_type: Some(resource_type_str(spec.service_resource_type).to_string()),
        service_description: spec.service_description.clone(),
        zone_affinity_enabled: spec.zone_affinity_enabled,
        address_ip_version: spec.address_ip_version.map(|v| format!("{v:?}")),
        resource_group_id: spec.resource_group_id.clone(),
        supported_region_list: spec.supported_regions.clone(),
        resources: resources.to_vec(),
        tags: desired_tags(spec, uid),
    }
}

/// The ClientToken of a Create: `k8s-<uid>-<16 hex>`, at most 64 ASCII characters.
///
/// It is a pure function of the object's UID, the Create parameters and the ID of a service this object
/// replaces (if the previous one was deleted outside Kubernetes). So a retry after a crash or a lost
/// answer sends the same token and Alibaba replays the first result instead of creating a second
/// service, while an edited spec gets a fresh token instead of `IdempotenceSignatureMismatch`. (Edits
/// racing a lost answer are caught by the ownership-tag lookup that precedes every Create.)
pub fn client_token(uid: &str, req: &CreateVpcEndpointService, replaced_service_id: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(canonical_query(&req.identity_params().0).as_bytes());
    h.update(b"\n");
    h.update(replaced_service_id.unwrap_or_default().as_bytes());
    let digest = hex::encode(h.finalize());
    format!("k8s-{}-{}", uid_part(uid), &digest[..16])
}

/// The UID as a token carries it: its ASCII letters, digits and dashes, at most 40.
fn uid_part(uid: &str) -> String {
    uid.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect()
}

/// Whether `token` is one this object (`uid`) made: a status restored onto another object (a backup
/// restored with its status) carries its old object's tokens.
pub fn token_is_for(token: &str, uid: &str) -> bool {
    let uid = uid_part(uid);
    let hash = token.strip_prefix("k8s-").and_then(|t| t.strip_prefix(uid.as_str())?.strip_prefix('-'));
    hash.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service;

    #[test]
    fn token_is_for_table() {
        let obj = service("a", UID);
        let token = client_token(UID, &create_request(&obj, UID, &desired_resources(&obj.spec)), None);
        let cases = [
            ("its own token", token.as_str(), UID, true),
            ("another object's token", token.as_str(), "11111111-2b5a-4f0e-9a51-0c2f6a1b9e77", false),
            ("a UID that is a prefix of the token's", token.as_str(), "7d3c1f1e-2b5a", false),
            ("not a token of ours", "client-token-1", UID, false),
        ];
        for (case, token, uid, want) in cases {
            assert_eq!(token_is_for(token, uid), want, "{case}");
        }
    }

    const UID: &str = "7d3c1f1e-2b5a-4f0e-9a51-0c2f6a1b9e77";

    #[test]
    fn token_is_stable_bounded_and_ascii() {
        let obj = service("a", UID);
        let req = create_request(&obj, UID, &desired_resources(&obj.spec));
        let t1 = client_token(UID, &req, None);
        let t2 = client_token(
            UID,
            &create_request(&obj.clone(), UID, &desired_resources(&obj.clone().spec)),
            None,
        );
        assert_eq!(t1, t2, "same object, same token across retries and restarts");
        assert!(t1.len() <= 64 && t1.is_ascii(), "{t1}");
        assert!(t1.starts_with(&format!("k8s-{UID}-")));
    }

    #[test]
    fn token_changes_with_what_must_not_be_replayed() {
        let obj = service("a", UID);
        let base = client_token(UID, &create_request(&obj, UID, &desired_resources(&obj.spec)), None);
        let other_uid = "11111111-2222-3333-4444-555555555555";
        let mut edited = obj.clone();
        edited.spec.service_description = Some("changed".into());
        let cases = [
            (
                "another object",
                client_token(
                    other_uid,
                    &create_request(&obj, other_uid, &desired_resources(&obj.spec)),
                    None,
                ),
            ),
            (
                "edited spec",
                client_token(UID, &create_request(&edited, UID, &desired_resources(&edited.spec)), None),
            ),
            (
                "replacing a deleted service",
                client_token(
                    UID,
                    &create_request(&obj, UID, &desired_resources(&obj.spec)),
                    Some("epsrv-old"),
                ),
            ),
        ];
        for (name, token) in cases {
            assert_ne!(token, base, "{name}");
            assert!(token.len() <= 64, "{name}: {token}");
        }
    }

    #[test]
    fn overlong_uids_still_give_valid_tokens() {
        let uid = "x".repeat(200);
        let obj = service("a", &uid);
        let t = client_token(&uid, &create_request(&obj, &uid, &desired_resources(&obj.spec)), None);
        assert!(t.len() <= 64, "{t}");
    }

    #[test]
    fn create_request_flattens_spec_and_adds_owner_tag() {
        let mut obj = service("a", UID);
        obj.spec.tags = vec![crate::crd::Tag { key: "env".into(), value: "dev".into() }];
        let p = create_request(&obj, UID, &desired_resources(&obj.spec)).identity_params();
        assert_eq!(p.get("RegionId"), Some("cn-hangzhou"));
        assert_eq!(p.get("ServiceResourceType"), Some("nlb"));
        assert_eq!(p.get("Payer"), Some("Endpoint"));
        assert_eq!(p.get("Resource.1.ResourceId"), Some("nlb-sim-001"));
        assert_eq!(p.get("Resource.1.ZoneId"), Some("cn-hangzhou-h"));
        assert_eq!(p.get("Tag.1.Key"), Some("env"));
        assert_eq!(p.get("Tag.2.Key"), Some(OWNER_TAG_KEY));
        assert_eq!(p.get("Tag.2.Value"), Some(UID));
    }
}
