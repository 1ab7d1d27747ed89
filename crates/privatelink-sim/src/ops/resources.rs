//! Service resources (the load balancers behind a service): Attach, Detach, List,
//! UpdateVpcEndpointServiceResourceAttribute (reference §7.6–7.9).

use serde_json::{Value, json};

use super::{Ctx, LB_TYPES, dry_run, ok, page_params, paginate, region, require_active, service};
use crate::{
    error::{ApiError, ApiResult},
    model::{ServiceResource, Store, Task},
    params::Params,
    world::{Region, World},
};

/// Check one backend against the world: its zone, existence, real type and PrivateLink support.
/// The caller has checked that `kind` is a known type and matches the service.
pub fn check_resource(
    world: &World,
    account: &str,
    region: &Region,
    service_type: &str,
    kind: &str,
    id: &str,
    zone: Option<&str>,
) -> ApiResult<ServiceResource> {
    if kind != service_type {
        return Err(mismatch(service_type, kind));
    }
    if zone.is_none() && kind != "slb" {
        return Err(ApiError::missing("ZoneId"));
    }
    let unsupported_zone = || {
        ApiError::bad(
            "EndpointServiceNotSupportedZone",
            "The specified endpoint service does not support the zone.",
        )
    };
    if let Some(z) = zone
        && !region.zones.iter().any(|rz| rz == z)
    {
        return Err(unsupported_zone());
    }
    let lb = world.load_balancer(account, &region.id, id).ok_or_else(|| {
        if kind == "alb" {
            ApiError::bad("AlbNotFound", "The specified Alb does not exist.")
        } else {
            ApiError::bad("LoadBalancerNotFound", "The specified load balancer does not exist.")
        }
    })?;
    if lb.kind != kind {
        return Err(mismatch(&lb.kind, kind));
    }
    if !lb.private_link_supported {
        return Err(ApiError::bad(
            "LoadBalancerNotSupportPrivateLink",
            "The specified SLB does not support PrivateLink.",
        ));
    }
    let zone = match zone {
        Some(z) if lb.zones.iter().any(|lz| lz == z) => z.to_string(),
        Some(_) => return Err(unsupported_zone()),
        None => lb.zones.first().cloned().unwrap_or_default(),
    };
    Ok(ServiceResource {
        kind: kind.into(),
        id: id.into(),
        zone,
        dual_stack: lb.dual_stack,
        auto_allocated: true,
    })
}

fn mismatch(expected: &str, kind: &str) -> ApiError {
    ApiError::bad(
        "Mismatch.ResourceType",
        format!("The ResourceType is mismatched for ServiceResourceType {expected} and ResourceType {kind}."),
    )
}

fn resource_not_found() -> ApiError {
    ApiError::bad("EndpointServiceResourceNotFound", "The specified service resource is not found.")
}

pub fn attach(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?;
    let id = p.req("ResourceId")?;
    let kind = p.req("ResourceType")?;
    let zone = p.opt("ZoneId");
    if !LB_TYPES.contains(&kind) {
        return Err(ApiError::bad(
            "EndpointServiceResourceTypeNotSupport",
            format!("The resource type {kind} is not supported."),
        ));
    }
    let s = service(store, ctx, p)?;
    require_active(s, false)?;
    if kind != s.resource_type {
        return Err(ApiError::bad(
            "EndpointServiceResourceTypeNotEqual",
            "The resource type is not equal to the service resource type of the endpoint service.",
        ));
    }
    let r = check_resource(world, ctx.account, region, &s.resource_type, kind, id, zone)?;
    if s.resources.iter().any(|x| x.id == r.id && x.zone == r.zone) {
        return Err(ApiError::bad("EndpointServiceResourceExist", "The specified resource already exists."));
    }
    if s.resources.len() >= 20 {
        return Err(ApiError::bad("QuotaMisMatched", "The resource you applied for has exceeded the quota."));
    }
    if s.support_ipv6 && !r.dual_stack {
        return Err(ApiError::bad(
            "ServiceResourceNotSupportIpv6",
            "The service resource does not support IPv6 while the endpoint service does.",
        ));
    }
    if s.address_ip_version == "DualStack" && !r.dual_stack {
        return Err(super::services::ip_version_mismatch());
    }
    dry_run(p)?;
    s.resources.push(r);
    s.task = Some(Task::Resources);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

pub fn detach(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let id = p.req("ResourceId")?.to_string();
    let kind = p.opt("ResourceType").map(String::from);
    if kind.as_deref().is_some_and(|k| !LB_TYPES.contains(&k)) {
        return Err(ApiError::illegal("ResourceType"));
    }
    let zone = p.opt("ZoneId").map(String::from);
    let s = service(store, ctx, p)?;
    require_active(s, false)?;
    if zone.is_none() && s.resource_type != "slb" {
        return Err(ApiError::missing("ZoneId"));
    }
    let pos = s
        .resources
        .iter()
        .position(|r| {
            r.id == id
                && zone.as_ref().is_none_or(|z| &r.zone == z)
                && kind.as_ref().is_none_or(|k| &r.kind == k)
        })
        .ok_or_else(resource_not_found)?;
    let zone = s.resources[pos].zone.clone();
    if s.connections.iter().any(|c| c.status() != "Disconnected" && c.covers(&zone)) {
        return Err(ApiError::bad(
            "EndpointServiceConnectionDependence",
            "You cannot delete EndpointService with Endpoint connected.",
        ));
    }
    dry_run(p)?;
    s.resources.remove(pos);
    s.task = Some(Task::Resources);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

pub fn list(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 50)?;
    let s = service(store, ctx, p)?;
    let items: Vec<Value> = s
        .resources
        .iter()
        .map(|r| {
            json!({"ResourceId": r.id, "ResourceType": r.kind, "ZoneId": r.zone, "RegionId": s.region_id,
                   "VpcId": "vpc-sim-lb", "VSwitchId": "vsw-sim-lb", "Ip": "",
                   "AutoAllocatedEnabled": r.auto_allocated, "ResourceSupportIPv6": r.dual_stack,
                   "RelatedEndpointCount": s.related(r), "RelatedDeprecatedEndpointCount": 0})
        })
        .collect();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Resources": page, "NextToken": next, "MaxResults": size}))
}

pub fn update_attribute(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let id = p.req("ResourceId")?.to_string();
    let auto = p.bool("AutoAllocatedEnabled")?.ok_or_else(|| ApiError::missing("AutoAllocatedEnabled"))?;
    let zone = p.opt("ZoneId").map(String::from);
    let s = service(store, ctx, p)?;
    require_active(s, true)?;
    let pos = s
        .resources
        .iter()
        .position(|r| r.id == id && zone.as_ref().is_none_or(|z| &r.zone == z))
        .ok_or_else(resource_not_found)?;
    let zone = s.resources[pos].zone.clone();
    let others_auto =
        s.resources.iter().enumerate().any(|(i, r)| i != pos && r.zone == zone && r.auto_allocated);
    if !auto && !others_auto {
        return Err(ApiError::bad(
            "ResourceAutoAllocateViolation",
            "Each zone of the endpoint service must keep at least one automatically allocated resource.",
        ));
    }
    dry_run(p)?;
    s.resources[pos].auto_allocated = auto;
    s.task = Some(Task::Resources);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::super::testenv::{BASE, Env};

    #[test]
    fn attach_detach_rules() {
        let mut env = Env::new();
        let id = env.create(BASE);
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        let cases: Vec<(u64, &str, String, &str)> = vec![
            (
                3,
                "AttachResourceToVpcEndpointService",
                format!("{q}&ResourceType=elb&ResourceId=x"),
                "EndpointServiceResourceTypeNotSupport",
            ),
            (
                3,
                "AttachResourceToVpcEndpointService",
                format!("{q}&ResourceType=alb&ResourceId=alb-sim-001&ZoneId=cn-hangzhou-h"),
                "EndpointServiceResourceTypeNotEqual",
            ),
            (
                3,
                "AttachResourceToVpcEndpointService",
                format!("{q}&ResourceType=nlb&ResourceId=lb-sim-slb-001&ZoneId=cn-hangzhou-h"),
                "Mismatch.ResourceType",
            ),
            (
                3,
                "AttachResourceToVpcEndpointService",
                format!("{q}&ResourceType=nlb&ResourceId=nlb-sim-001&ZoneId=cn-hangzhou-h"),
                "EndpointServiceResourceExist",
            ),
            (
                3,
                "AttachResourceToVpcEndpointService",
                format!("{q}&ResourceType=nlb&ResourceId=nlb-nope&ZoneId=cn-hangzhou-h"),
                "LoadBalancerNotFound",
            ),
            (
                3,
                "DetachResourceFromVpcEndpointService",
                format!("{q}&ResourceId=nlb-sim-002&ZoneId=cn-hangzhou-h"),
                "EndpointServiceResourceNotFound",
            ),
            (
                3,
                "UpdateVpcEndpointServiceResourceAttribute",
                format!("{q}&ResourceId=nlb-sim-001&ZoneId=cn-hangzhou-h&AutoAllocatedEnabled=false"),
                "ResourceAutoAllocateViolation",
            ),
            (
                3,
                "UpdateVpcEndpointServiceResourceAttribute",
                format!("{q}&ResourceId=nlb-sim-009&AutoAllocatedEnabled=true"),
                "EndpointServiceResourceNotFound",
            ),
            (
                3,
                "UpdateVpcEndpointServiceResourceAttribute",
                format!("{q}&ResourceId=nlb-sim-001"),
                "MissingParam.AutoAllocatedEnabled",
            ),
        ];
        for (at, action, query, want) in cases {
            assert_eq!(env.code(at, action, &query), want, "{action} {query}");
        }
    }

    #[test]
    fn detach_waits_for_connections_in_the_zone() {
        let mut env = Env::new();
        let id = env.create(&format!(
            "{BASE}&Resource.2.ResourceType=nlb&Resource.2.ResourceId=nlb-sim-002&Resource.2.ZoneId=cn-hangzhou-i"
        ));
        let now = env.t0;
        let s = env.store.services.find_mut(&id, now).unwrap();
        s.connections.push(crate::model::Connection {
            endpoint_id: "ep-1".into(),
            owner_id: 1,
            phase: crate::model::Phase::new("Connected"),
            bandwidth: 3072,
            traffic_control_mode: "Scalability".into(),
            modified_time: String::new(),
            zones: vec!["cn-hangzhou-h".into()],
            vpc_id: String::new(),
            has_endpoint: true,
        });
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        let h = format!("{q}&ResourceId=nlb-sim-001&ZoneId=cn-hangzhou-h");
        let i = format!("{q}&ResourceId=nlb-sim-002&ZoneId=cn-hangzhou-i");
        assert_eq!(
            env.code(3, "DetachResourceFromVpcEndpointService", &h),
            "EndpointServiceConnectionDependence"
        );
        let v = env.call(3, "ListVpcEndpointServiceResources", &q).unwrap();
        assert_eq!(v["Resources"][0]["RelatedEndpointCount"], 1);
        assert_eq!(v["Resources"][1]["RelatedEndpointCount"], 0);
        assert_eq!(env.code(3, "DetachResourceFromVpcEndpointService", &i), "OK", "no connection in zone i");
    }
}
