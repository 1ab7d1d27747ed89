//! Update planning: pure diffs between the spec and what Alibaba reports.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    alicloud::ops::{
        ResourceParam, ServiceAttributes, ServiceResourceRow, TagParam, UpdateVpcEndpointServiceAttribute,
    },
    crd::{AddressIpVersion, ResourceType, VpcEndpointServiceSpec},
};

/// Tag key prefixes Alibaba reserves; such tags are never touched.
const SYSTEM_TAG_PREFIXES: [&str; 2] = ["acs:", "aliyun"];

/// The attribute update that brings the service in line with the spec (empty if nothing differs).
/// Fields the spec leaves unset are not managed.
pub fn diff_attributes(
    spec: &VpcEndpointServiceSpec,
    attrs: &ServiceAttributes,
) -> UpdateVpcEndpointServiceAttribute {
    let mut u = UpdateVpcEndpointServiceAttribute::default();
    if let Some(d) = &spec.service_description
        && attrs.service_description.as_deref().unwrap_or_default() != d
    {
        u.service_description = Some(d.clone());
    }
    if let Some(b) = spec.auto_accept_enabled
        && attrs.auto_accept_enabled.unwrap_or(false) != b
    {
        u.auto_accept_enabled = Some(b);
    }
    if let Some(b) = spec.zone_affinity_enabled
        && attrs.zone_affinity_enabled.unwrap_or(false) != b
    {
        u.zone_affinity_enabled = Some(b);
    }
    // Alibaba reports 0 for nlb/gwlb services, where the setting does not apply (a known drift trap).
    if let Some(bw) = spec.connect_bandwidth
        && matches!(spec.service_resource_type, ResourceType::Slb | ResourceType::Alb)
        && attrs.connect_bandwidth != Some(i64::from(bw))
    {
        u.connect_bandwidth = Some(i64::from(bw));
    }
    if let Some(v) = spec.address_ip_version {
        let want = match v {
            AddressIpVersion::IPv4 => "IPv4",
            AddressIpVersion::DualStack => "DualStack",
        };
        if attrs.address_ip_version.as_deref().unwrap_or("IPv4") != want {
            u.address_ip_version = Some(want.to_string());
        }
    }
    let want: BTreeSet<&str> = spec.supported_regions.iter().map(String::as_str).collect();
    let have: BTreeSet<&str> = attrs
        .supported_region_set
        .iter()
        .filter(|r| !matches!(r.region_service_status.as_deref(), Some("Deleting" | "Closed")))
        .map(|r| r.supported_region_id.as_str())
        .collect();
    u.add_supported_region_set = want.difference(&have).map(|s| s.to_string()).collect();
    u.delete_supported_region_set = have.difference(&want).map(|s| s.to_string()).collect();
    u
}

/// The attributes an update changes, for messages: `serviceDescription, connectBandwidth=3072`.
pub fn describe(u: &UpdateVpcEndpointServiceAttribute) -> String {
    let mut parts = vec![];
    if u.service_description.is_some() {
        parts.push("serviceDescription".to_string());
    }
    if let Some(b) = u.auto_accept_enabled {
        parts.push(format!("autoAcceptEnabled={b}"));
    }
    if let Some(b) = u.zone_affinity_enabled {
        parts.push(format!("zoneAffinityEnabled={b}"));
    }
    if let Some(b) = u.connect_bandwidth {
        parts.push(format!("connectBandwidth={b}"));
    }
    if let Some(v) = &u.address_ip_version {
        parts.push(format!("addressIpVersion={v}"));
    }
    if !u.add_supported_region_set.is_empty() || !u.delete_supported_region_set.is_empty() {
        parts.push("supportedRegions".to_string());
    }
    parts.join(", ")
}

/// Tags to set (new or changed value) and keys to remove; system tags are ignored.
pub fn diff_tags(desired: &[TagParam], actual: &[TagParam]) -> (Vec<TagParam>, Vec<String>) {
    let want: BTreeMap<&str, &str> = desired.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    let have: BTreeMap<&str, &str> = actual
        .iter()
        .filter(|t| !SYSTEM_TAG_PREFIXES.iter().any(|p| t.key.starts_with(p)))
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let set = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| TagParam { key: k.to_string(), value: v.to_string() })
        .collect();
    let remove = have.keys().filter(|k| !want.contains_key(*k)).map(|k| k.to_string()).collect();
    (set, remove)
}

/// One resource change, or none. Attach before detach, one at a time: every change sends the service
/// through `Pending`, and PrivateLink refuses concurrent changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceChange {
    /// Attach a missing resource.
    Attach(ResourceParam),
    /// Detach a resource the spec no longer lists.
    Detach(ResourceParam),
}

fn key(r: &ResourceParam) -> (String, String) {
    (r.resource_id.clone(), r.zone_id.clone().unwrap_or_default())
}

/// The next resource change, if any.
pub fn next_resource_change(
    desired: &[ResourceParam],
    actual: &[ServiceResourceRow],
) -> Option<ResourceChange> {
    let actual: Vec<ResourceParam> = actual
        .iter()
        .map(|r| ResourceParam {
            resource_type: r.resource_type.clone(),
            resource_id: r.resource_id.clone(),
            zone_id: r.zone_id.clone().filter(|z| !z.is_empty()),
        })
        .collect();
    let have: BTreeSet<_> = actual.iter().map(key).collect();
    let want: BTreeSet<_> = desired.iter().map(key).collect();
    if let Some(r) = desired.iter().find(|r| !have.contains(&key(r))) {
        return Some(ResourceChange::Attach(r.clone()));
    }
    actual.into_iter().find(|r| !want.contains(&key(r))).map(ResourceChange::Detach)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{alicloud::ops::SupportedRegion, fixtures::service};

    fn attrs() -> ServiceAttributes {
        ServiceAttributes {
            service_id: "epsrv-1".into(),
            service_description: Some("d".into()),
            auto_accept_enabled: Some(false),
            zone_affinity_enabled: Some(false),
            address_ip_version: Some("IPv4".into()),
            connect_bandwidth: Some(0),
            supported_region_set: vec![SupportedRegion {
                supported_region_id: "cn-beijing".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn attribute_diffs() {
        let base = service("a", "u").spec;
        type Edit = fn(&mut VpcEndpointServiceSpec, &mut ServiceAttributes);
        type Check = fn(&UpdateVpcEndpointServiceAttribute) -> bool;
        let cases: Vec<(&str, Edit, Check)> = vec![
            ("in sync", |s, _| s.supported_regions = vec!["cn-beijing".into()], |u| u.is_empty()),
            (
                "unset fields are not managed",
                |s, a| {
                    s.service_description = None;
                    s.supported_regions = vec!["cn-beijing".into()];
                    a.service_description = Some("changed in console".into());
                },
                |u| u.is_empty(),
            ),
            (
                "description drift",
                |s, _| s.service_description = Some("new".into()),
                |u| u.service_description.as_deref() == Some("new"),
            ),
            (
                "auto accept",
                |s, _| s.auto_accept_enabled = Some(true),
                |u| u.auto_accept_enabled == Some(true),
            ),
            (
                "missing bool reads as false",
                |s, a| {
                    s.zone_affinity_enabled = Some(false);
                    a.zone_affinity_enabled = None;
                    s.supported_regions = vec!["cn-beijing".into()];
                },
                |u| u.is_empty(),
            ),
            (
                "nlb bandwidth reads 0 and is ignored",
                |s, _| {
                    s.connect_bandwidth = Some(3072);
                    s.supported_regions = vec!["cn-beijing".into()];
                },
                |u| u.is_empty(),
            ),
            (
                "slb bandwidth is managed",
                |s, _| {
                    s.service_resource_type = ResourceType::Slb;
                    s.connect_bandwidth = Some(2048);
                },
                |u| u.connect_bandwidth == Some(2048),
            ),
            (
                "dual stack",
                |s, _| s.address_ip_version = Some(AddressIpVersion::DualStack),
                |u| u.address_ip_version.as_deref() == Some("DualStack"),
            ),
            (
                "regions added and removed",
                |s, _| s.supported_regions = vec!["cn-shanghai".into()],
                |u| {
                    u.add_supported_region_set == vec!["cn-shanghai".to_string()]
                        && u.delete_supported_region_set == vec!["cn-beijing".to_string()]
                },
            ),
        ];
        for (name, edit, check) in cases {
            let mut spec = base.clone();
            let mut a = attrs();
            spec.service_description = Some("d".into());
            edit(&mut spec, &mut a);
            let u = diff_attributes(&spec, &a);
            assert!(check(&u), "{name}: {u:?}");
        }
    }

    fn tag(k: &str, v: &str) -> TagParam {
        TagParam { key: k.into(), value: v.into() }
    }

    #[test]
    fn tag_diffs() {
        let cases = [
            ("equal", vec![tag("a", "1")], vec![tag("a", "1")], vec![], vec![]),
            ("add", vec![tag("a", "1"), tag("b", "2")], vec![tag("a", "1")], vec![tag("b", "2")], vec![]),
            ("change value", vec![tag("a", "2")], vec![tag("a", "1")], vec![tag("a", "2")], vec![]),
            ("remove", vec![], vec![tag("a", "1")], vec![], vec!["a"]),
            (
                "system tags untouched",
                vec![],
                vec![tag("acs:rm:rgId", "x"), tag("aliyun-x", "y")],
                vec![],
                vec![],
            ),
        ];
        for (name, want, have, set, remove) in cases {
            let (s, r) = diff_tags(&want, &have);
            assert_eq!(s, set, "{name}");
            assert_eq!(r, remove.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{name}");
        }
    }

    #[test]
    fn resource_changes_attach_first_then_detach() {
        let r = |id: &str, z: Option<&str>| ResourceParam {
            resource_type: "nlb".into(),
            resource_id: id.into(),
            zone_id: z.map(str::to_string),
        };
        let row = |id: &str, z: &str| ServiceResourceRow {
            resource_id: id.into(),
            resource_type: "nlb".into(),
            zone_id: Some(z.into()),
        };
        let cases = [
            ("in sync", vec![r("a", Some("h"))], vec![row("a", "h")], None),
            (
                "attach",
                vec![r("a", Some("h")), r("b", Some("i"))],
                vec![row("a", "h")],
                Some(ResourceChange::Attach(r("b", Some("i")))),
            ),
            (
                "detach",
                vec![r("a", Some("h"))],
                vec![row("a", "h"), row("b", "i")],
                Some(ResourceChange::Detach(r("b", Some("i")))),
            ),
            (
                "swap attaches first",
                vec![r("b", Some("i"))],
                vec![row("a", "h")],
                Some(ResourceChange::Attach(r("b", Some("i")))),
            ),
            (
                "zone change is attach",
                vec![r("a", Some("i"))],
                vec![row("a", "h")],
                Some(ResourceChange::Attach(r("a", Some("i")))),
            ),
            ("empty zone equals none", vec![r("a", None)], vec![row("a", "")], None),
        ];
        for (name, want, have, change) in cases {
            assert_eq!(next_resource_change(&want, &have), change, "{name}");
        }
    }
}
