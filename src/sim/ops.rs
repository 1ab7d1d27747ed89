//! The PrivateLink operations: parameters in, JSON body out. No I/O; time is passed in.

use std::time::Instant;

use rand::Rng;
use serde_json::{Value, json};

use super::{
    error::{ApiError, ApiResult},
    model::{Connection, Liveness, Service, ServiceResource, Store, Timing},
    params::Params,
    world::World,
};

/// Every action the simulator implements.
pub const ACTIONS: &[&str] = &[
    "CreateVpcEndpointService",
    "GetVpcEndpointServiceAttribute",
    "UpdateVpcEndpointServiceAttribute",
    "DeleteVpcEndpointService",
    "ListVpcEndpointServices",
    "AttachResourceToVpcEndpointService",
    "DetachResourceFromVpcEndpointService",
    "ListVpcEndpointServiceResources",
    "AddUserToVpcEndpointService",
    "RemoveUserFromVpcEndpointService",
    "ListVpcEndpointServiceUsers",
    "TagResources",
    "UntagResources",
    "ListTagResources",
    "ChangeResourceGroup",
    "EnableVpcEndpointConnection",
    "DisableVpcEndpointConnection",
    "UpdateVpcEndpointConnectionAttribute",
    "ListVpcEndpointConnections",
];

/// Actions that change state (ClientToken idempotency applies).
pub fn is_mutating(action: &str) -> bool {
    !action.starts_with("List") && !action.starts_with("Get")
}

/// Call context.
pub struct Ctx<'a> {
    pub account: &'a str,
    pub now: Instant,
    /// Wall-clock time, for CreateTime/ModifiedTime.
    pub wall: jiff::Timestamp,
    pub timing: Timing,
}

impl Ctx<'_> {
    fn time_str(&self) -> String {
        self.wall.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

pub fn dispatch(action: &str, store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    match action {
        "CreateVpcEndpointService" => create(store, world, ctx, p),
        "GetVpcEndpointServiceAttribute" => get(store, ctx, p),
        "UpdateVpcEndpointServiceAttribute" => update(store, ctx, p),
        "DeleteVpcEndpointService" => delete(store, ctx, p),
        "ListVpcEndpointServices" => list(store, world, ctx, p),
        "AttachResourceToVpcEndpointService" => attach(store, world, ctx, p),
        "DetachResourceFromVpcEndpointService" => detach(store, ctx, p),
        "ListVpcEndpointServiceResources" => list_resources(store, ctx, p),
        "AddUserToVpcEndpointService" => users(store, ctx, p, true),
        "RemoveUserFromVpcEndpointService" => users(store, ctx, p, false),
        "ListVpcEndpointServiceUsers" => list_users(store, ctx, p),
        "TagResources" => tag(store, world, ctx, p),
        "UntagResources" => untag(store, world, ctx, p),
        "ListTagResources" => list_tags(store, world, ctx, p),
        "ChangeResourceGroup" => change_rg(store, ctx, p),
        "EnableVpcEndpointConnection" => conn_enable(store, ctx, p),
        "DisableVpcEndpointConnection" => conn_disable(store, ctx, p),
        "UpdateVpcEndpointConnectionAttribute" => conn_update(store, ctx, p),
        "ListVpcEndpointConnections" => list_conns(store, world, ctx, p),
        _ => Err(ApiError::new(404, "InvalidApi.NotFound", format!("Specified api is not found: {action}"))),
    }
}

// ---------- helpers ----------

const LB_TYPES: &[&str] = &["slb", "alb", "nlb", "gwlb"];
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

pub fn random_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(prefix.len() + 20);
    s.push_str(prefix);
    for _ in 0..20 {
        s.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
    }
    s
}

fn region<'w>(world: &'w World, p: &Params) -> ApiResult<&'w super::world::Region> {
    let r = p.req("RegionId")?;
    world
        .region(r)
        .ok_or_else(|| ApiError::bad("RegionNotFound", format!("The specified region {r} does not exist.")))
}

fn dry_run(p: &Params) -> ApiResult<()> {
    if p.bool("DryRun")? == Some(true) { Err(ApiError::dry_run()) } else { Ok(()) }
}

fn ok() -> Value {
    json!({})
}

fn enum_param<'a>(p: &'a Params, name: &str, allowed: &[&str], default: &'a str) -> ApiResult<&'a str> {
    match p.opt(name) {
        None => Ok(default),
        Some(v) => allowed.iter().find(|a| **a == v).map(|_| v).ok_or_else(|| ApiError::illegal(name)),
    }
}

fn lookup<'s>(store: &'s mut Store, ctx: &Ctx, p: &Params) -> ApiResult<&'s mut Service> {
    let region = p.req("RegionId")?.to_string();
    let id = p.req("ServiceId")?;
    store.get_mut(ctx.account, Some(&region), id, ctx.now).ok_or_else(ApiError::not_found)
}

/// Gate for Update/Attach/Detach-style mutations.
fn require_active(s: &Service) -> ApiResult<()> {
    if s.business_status != "Normal" {
        return Err(ApiError::locked());
    }
    if s.status == "Active" { Ok(()) } else { Err(ApiError::operation_denied()) }
}

pub fn check_description(p: &Params) -> ApiResult<Option<String>> {
    match p.get("ServiceDescription") {
        Some(d) if d.chars().count() > 180 => Err(ApiError::illegal("ServiceDescription")),
        d => Ok(d.map(String::from)),
    }
}

/// Tag rules: ≤ 20 tags; key 1–64 chars, no `aliyun`/`acs:` prefix, no `http://`/`https://`;
/// value ≤ 128 chars, no `http://`/`https://`.
pub fn check_tags(p: &Params, prefix: &str, required: bool) -> ApiResult<Vec<(String, String)>> {
    let list = p.struct_list(prefix)?;
    if required && list.is_empty() {
        return Err(ApiError::missing(prefix));
    }
    if list.len() > 20 {
        return Err(ApiError::illegal(prefix));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, fields) in list {
        let key = fields.get("Key").map(String::as_str).unwrap_or("");
        let value = fields.get("Value").map(String::as_str).unwrap_or("");
        if key.is_empty() {
            return Err(ApiError::missing(&format!("{prefix}.{n}.Key")));
        }
        let lk = key.to_ascii_lowercase();
        let has_url = |s: &str| s.contains("http://") || s.contains("https://");
        if key.chars().count() > 64 || lk.starts_with("aliyun") || lk.starts_with("acs:") || has_url(&lk) {
            return Err(ApiError::illegal(&format!("{prefix}.{n}.Key")));
        }
        if value.chars().count() > 128 || has_url(&value.to_ascii_lowercase()) {
            return Err(ApiError::illegal(&format!("{prefix}.{n}.Value")));
        }
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Validate one backend resource against the world and the service's resource type.
pub fn check_resource(
    world: &World,
    account: &str,
    region: &super::world::Region,
    service_type: &str,
    kind: &str,
    id: &str,
    zone: Option<&str>,
) -> ApiResult<ServiceResource> {
    if !LB_TYPES.contains(&kind) {
        return Err(ApiError::illegal("ResourceType"));
    }
    if kind != service_type {
        return Err(ApiError::bad(
            "Mismatch.ResourceType",
            format!(
                "The ResourceType is mismatched for ServiceResourceType {service_type} and ResourceType {kind}."
            ),
        ));
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
    let lb = world.load_balancer(account, &region.id, id).filter(|lb| lb.kind == kind).ok_or_else(|| {
        if kind == "alb" {
            ApiError::bad("AlbNotFound", "The specified Alb does not exist.")
        } else {
            ApiError::bad("LoadBalancerNotFound", "The specified load balancer does not exist.")
        }
    })?;
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
    Ok(ServiceResource { kind: kind.into(), id: id.into(), zone, dual_stack: lb.dual_stack })
}

fn check_ip_version(kind: &str, version: &str) -> ApiResult<()> {
    if version == "DualStack" && matches!(kind, "slb" | "alb") {
        return Err(ApiError::bad(
            "OperationDenied.ResourceTypeNotSupportDualStack",
            "The specified resource type does not support dualstack.",
        ));
    }
    Ok(())
}

fn not_ipv6() -> ApiError {
    ApiError::bad(
        "EndpointServiceNotSupportIpv6",
        "The param supportIpv6 of EndpointService is forbidden , resource is not support ipv6.",
    )
}

fn page_params(p: &Params, max: i64) -> ApiResult<(usize, usize)> {
    let size = p.int("MaxResults")?.unwrap_or(50.min(max));
    if !(1..=max).contains(&size) {
        return Err(ApiError::illegal("MaxResults"));
    }
    let start = match p.opt("NextToken") {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| ApiError::illegal("NextToken"))?,
    };
    Ok((start, size as usize))
}

/// Slice one page; returns (items, NextToken).
fn paginate(items: Vec<Value>, start: usize, size: usize) -> (Vec<Value>, String) {
    let total = items.len();
    let end = (start + size).min(total);
    let next = if end < total { end.to_string() } else { String::new() };
    (items.into_iter().skip(start).take(size).collect(), next)
}

fn bool_filter(p: &Params, name: &str, actual: bool) -> ApiResult<bool> {
    Ok(p.bool(name)?.is_none_or(|b| b == actual))
}

// ---------- services ----------

fn create(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?;
    let payer = enum_param(p, "Payer", &["Endpoint", "EndpointService"], "Endpoint")?;
    let rtype = enum_param(p, "ServiceResourceType", LB_TYPES, "slb")?;
    let ipv = enum_param(p, "AddressIpVersion", &["IPv4", "DualStack"], "IPv4")?;
    let description = check_description(p)?.unwrap_or_default();
    let auto_accept = p.bool("AutoAcceptEnabled")?.unwrap_or(false);
    let zone_affinity = p.bool("ZoneAffinityEnabled")?.unwrap_or(false);
    let ipv6 = p.bool("ServiceSupportIPv6")?.unwrap_or(false);
    check_ip_version(rtype, ipv)?;
    let supported_regions = p.list("SupportedRegionList")?;
    let tags = check_tags(p, "Tag", false)?;
    let raw = p.struct_list("Resource")?;
    if raw.len() > 10 {
        return Err(ApiError::illegal("Resource"));
    }
    let mut resources: Vec<ServiceResource> = Vec::new();
    for (n, f) in &raw {
        let kind = f.get("ResourceType").map(String::as_str).filter(|s| !s.is_empty());
        let kind = kind.ok_or_else(|| ApiError::missing(&format!("Resource.{n}.ResourceType")))?;
        let id = f.get("ResourceId").map(String::as_str).filter(|s| !s.is_empty());
        let id = id.ok_or_else(|| ApiError::missing(&format!("Resource.{n}.ResourceId")))?;
        if !LB_TYPES.contains(&kind) {
            return Err(ApiError::illegal(&format!("Resource.{n}.ResourceType")));
        }
        let zone = f.get("ZoneId").map(String::as_str).filter(|s| !s.is_empty());
        let r = check_resource(world, ctx.account, region, rtype, kind, id, zone)?;
        if !resources.iter().any(|x| x.id == r.id && x.zone == r.zone) {
            resources.push(r);
        }
    }
    if ipv == "DualStack" && resources.iter().any(|r| !r.dual_stack) {
        return Err(ApiError::bad(
            "OperationDenied.ServiceResourceIpVersionMismatch",
            "The endpoint service and service resource AddressIpVersion do not match.",
        ));
    }
    if ipv6 && (matches!(rtype, "slb" | "alb") || resources.iter().any(|r| !r.dual_stack)) {
        return Err(not_ipv6());
    }
    let account = world.account(ctx.account);
    if payer == "EndpointService" && !account.is_some_and(|a| a.payer_whitelisted) {
        return Err(ApiError::bad(
            "EndpointServicePayerForbidden",
            "The parameter EndpointServicePayer is forbidden. The user is not in the whitelist.",
        ));
    }
    if store.count(ctx.account, &region.id, ctx.now) >= world.service_quota {
        return Err(ApiError::bad("QuotaMisMatched", "The resource you applied for has exceeded the quota."));
    }
    dry_run(p)?;
    let id = random_id("epsrv-");
    let mut s = Service {
        seq: store.next_seq(),
        account_id: ctx.account.into(),
        region_id: region.id.clone(),
        service_name: format!("com.aliyuncs.privatelink.{}.{id}", region.id),
        service_domain: format!("{id}.{}.privatelink.aliyuncs.com", region.id),
        service_id: id,
        description,
        auto_accept,
        zone_affinity,
        payer: payer.into(),
        resource_type: rtype.into(),
        address_ip_version: ipv.into(),
        support_ipv6: ipv6,
        connect_bandwidth: 3072,
        resource_group_id: p.opt("ResourceGroupId").unwrap_or("rg-sim-default").into(),
        tags,
        resources,
        users: vec![],
        user_arns: vec![],
        supported_regions,
        connections: vec![],
        create_time: ctx.time_str(),
        business_status: "Normal".into(),
        status: String::new(),
        until: None,
    };
    s.transition("Creating", ctx.now, ctx.timing.create);
    let body = json!({
        "ServiceId": s.service_id,
        "ServiceName": s.service_name,
        "ServiceDomain": s.service_domain,
        "ServiceStatus": s.status,
        "ServiceBusinessStatus": s.business_status,
        "ServiceDescription": s.description,
        "CreateTime": s.create_time,
        "AutoAcceptEnabled": s.auto_accept,
        "ZoneAffinityEnabled": s.zone_affinity,
        "ServiceSupportIPv6": s.support_ipv6,
        "AddressIpVersion": s.address_ip_version,
        "ResourceGroupId": s.resource_group_id,
        "SupportedRegionSet": s.supported_region_set(),
    });
    store.insert(s);
    Ok(body)
}

fn service_body(s: &Service) -> Value {
    json!({
        "ServiceId": s.service_id,
        "ServiceName": s.service_name,
        "ServiceDomain": s.service_domain,
        "ServiceDescription": s.description,
        "ServiceStatus": s.status,
        "ServiceBusinessStatus": s.business_status,
        "ServiceType": s.service_type(),
        "ServiceResourceType": s.resource_type,
        "Payer": s.payer,
        "RegionId": s.region_id,
        "ResourceGroupId": s.resource_group_id,
        "CreateTime": s.create_time,
        "AutoAcceptEnabled": s.auto_accept,
        "ZoneAffinityEnabled": s.zone_affinity,
        "ServiceSupportIPv6": s.support_ipv6,
        "AddressIpVersion": s.address_ip_version,
        "ConnectBandwidth": s.reported_bandwidth(),
        "MaxBandwidth": 10240,
        "MinBandwidth": 100,
        "SupportedRegionSet": s.supported_region_set(),
    })
}

fn get(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let s = lookup(store, ctx, p)?;
    let mut body = service_body(s);
    body["Zones"] = json!(s.zones());
    Ok(body)
}

fn update(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let s = lookup(store, ctx, p)?;
    require_active(s)?;
    let description = check_description(p)?;
    let auto_accept = p.bool("AutoAcceptEnabled")?;
    let zone_affinity = p.bool("ZoneAffinityEnabled")?;
    let ipv6 = p.bool("ServiceSupportIPv6")?;
    let bw = p.int("ConnectBandwidth")?;
    if bw.is_some_and(|b| !(100..=10240).contains(&b)) {
        return Err(ApiError::illegal("ConnectBandwidth"));
    }
    let ipv = match p.opt("AddressIpVersion") {
        None => None,
        Some(v) => Some(enum_param(p, "AddressIpVersion", &["IPv4", "DualStack"], v)?),
    };
    if let Some(v) = ipv {
        check_ip_version(&s.resource_type, v)?;
    }
    if ipv6 == Some(true)
        && (matches!(s.resource_type.as_str(), "slb" | "alb") || s.resources.iter().any(|r| !r.dual_stack))
    {
        return Err(not_ipv6());
    }
    let add = p.list("AddSupportedRegionSet")?;
    let del = p.list("DeleteSupportedRegionSet")?;
    dry_run(p)?;
    if let Some(d) = description {
        s.description = d;
    }
    if let Some(b) = auto_accept {
        s.auto_accept = b;
    }
    if let Some(b) = zone_affinity {
        s.zone_affinity = b;
    }
    if let Some(b) = ipv6 {
        s.support_ipv6 = b;
    }
    if let Some(b) = bw {
        s.connect_bandwidth = b;
    }
    if let Some(v) = ipv {
        s.address_ip_version = v.into();
    }
    s.supported_regions.retain(|r| !del.contains(r));
    for r in add {
        if !s.supported_regions.contains(&r) {
            s.supported_regions.push(r);
        }
    }
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

fn delete(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let s = lookup(store, ctx, p)?;
    if s.business_status != "Normal" {
        return Err(ApiError::locked());
    }
    if s.status != "Active" {
        return Err(ApiError::incorrect_status(&s.service_id));
    }
    if s.connections.iter().any(|c| c.status != "Disconnected") {
        return Err(ApiError::bad(
            "EndpointServiceConnectionDependence",
            "The endpoint service is still connected to endpoints. Disconnect them first.",
        ));
    }
    dry_run(p)?;
    let id = s.service_id.clone();
    if s.transition("Deleting", ctx.now, ctx.timing.delete) == Liveness::Gone {
        store.remove(&id);
    }
    Ok(ok())
}

fn list(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let tag_filter = p.struct_list("Tag")?;
    let f = |name: &str| p.opt(name);
    let mut items = Vec::new();
    for s in store.settled(ctx.now) {
        if s.account_id != ctx.account || s.region_id != region {
            continue;
        }
        let eq = |name: &str, v: &str| f(name).is_none_or(|x| x == v);
        let keep = eq("ServiceId", &s.service_id)
            && eq("ServiceName", &s.service_name)
            && eq("ServiceStatus", &s.status)
            && eq("ServiceBusinessStatus", &s.business_status)
            && eq("ServiceResourceType", &s.resource_type)
            && eq("ResourceGroupId", &s.resource_group_id)
            && eq("AddressIpVersion", &s.address_ip_version)
            && f("ResourceId").is_none_or(|r| s.resources.iter().any(|x| x.id == r))
            && bool_filter(p, "AutoAcceptEnabled", s.auto_accept)?
            && bool_filter(p, "ZoneAffinityEnabled", s.zone_affinity)?
            && tag_filter.iter().all(|(_, t)| {
                let k = t.get("Key").map(String::as_str).unwrap_or("");
                let v = t.get("Value").map(String::as_str);
                s.tags.iter().any(|(tk, tv)| tk == k && v.is_none_or(|v| v == tv))
            });
        if keep {
            let mut b = service_body(s);
            b["Tags"] = s.tags_json();
            items.push(b);
        }
    }
    let total = items.len();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Services": page, "NextToken": next, "MaxResults": size, "TotalCount": total}))
}

// ---------- resources ----------

fn attach(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?;
    let id = p.req("ResourceId")?;
    let kind = p.req("ResourceType")?;
    let zone = p.opt("ZoneId");
    let s = lookup(store, ctx, p)?;
    require_active(s)?;
    let r = check_resource(world, ctx.account, region, &s.resource_type, kind, id, zone)?;
    if s.resources.iter().any(|x| x.id == r.id && x.zone == r.zone) {
        return Err(ApiError::bad(
            "EndpointServiceResourceExist",
            "The specified resource is already attached.",
        ));
    }
    if s.resources.len() >= 20 {
        return Err(ApiError::illegal("ResourceId"));
    }
    if s.address_ip_version == "DualStack" && !r.dual_stack {
        return Err(ApiError::bad(
            "OperationDenied.ServiceResourceIpVersionMismatch",
            "The endpoint service and service resource AddressIpVersion do not match.",
        ));
    }
    dry_run(p)?;
    s.resources.push(r);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

fn detach(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let id = p.req("ResourceId")?.to_string();
    let zone = p.opt("ZoneId").map(String::from);
    let kind = p.opt("ResourceType").map(String::from);
    let s = lookup(store, ctx, p)?;
    require_active(s)?;
    if let Some(k) = &kind
        && !LB_TYPES.contains(&k.as_str())
    {
        return Err(ApiError::illegal("ResourceType"));
    }
    let pos = s
        .resources
        .iter()
        .position(|r| r.id == id && zone.as_ref().is_none_or(|z| &r.zone == z))
        .ok_or_else(|| {
            ApiError::bad("EndpointServiceResourceNotFound", "The specified service resource does not exist.")
        })?;
    dry_run(p)?;
    s.resources.remove(pos);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

fn list_resources(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 50)?;
    let s = lookup(store, ctx, p)?;
    let items: Vec<Value> = s
        .resources
        .iter()
        .map(|r| {
            json!({"ResourceId": r.id, "ResourceType": r.kind, "ZoneId": r.zone, "RegionId": s.region_id,
                   "VpcId": "vpc-sim", "VSwitchId": "vsw-sim", "Ip": "", "AutoAllocatedEnabled": false,
                   "ResourceSupportIPv6": r.dual_stack, "RelatedEndpointCount": 0,
                   "RelatedDeprecatedEndpointCount": 0})
        })
        .collect();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Resources": page, "NextToken": next, "MaxResults": size}))
}

// ---------- users ----------

fn users(store: &mut Store, ctx: &Ctx, p: &Params, add: bool) -> ApiResult<Value> {
    let user = p.int("UserId")?;
    let arn = p.opt("UserARN").map(String::from);
    if user.is_none() && arn.is_none() {
        return Err(ApiError::missing("UserId"));
    }
    if user.is_some_and(|u| u <= 0) {
        return Err(ApiError::illegal("UserId"));
    }
    let s = lookup(store, ctx, p)?;
    if s.status == "Deleting" {
        return Err(ApiError::incorrect_status(&s.service_id));
    }
    dry_run(p)?;
    let user = user.map(|u| u as u64);
    if add {
        if let Some(u) = user
            && !s.users.contains(&u)
        {
            s.users.push(u);
        }
        if let Some(a) = arn
            && !s.user_arns.contains(&a)
        {
            s.user_arns.push(a);
        }
    } else {
        s.users.retain(|u| Some(*u) != user);
        s.user_arns.retain(|a| Some(a) != arn.as_ref());
    }
    Ok(ok())
}

fn list_users(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 50)?;
    let filter = p.int("UserId")?;
    let list_type = p.opt("UserListType").unwrap_or("");
    let s = lookup(store, ctx, p)?;
    let mut users: Vec<Value> = Vec::new();
    let mut arns: Vec<Value> = Vec::new();
    if list_type != "UserARN" && list_type != "UserARNs" {
        users = s
            .users
            .iter()
            .filter(|u| filter.is_none_or(|f| f as u64 == **u))
            .map(|u| json!({"UserId": u}))
            .collect();
    } else {
        arns = s.user_arns.iter().map(|a| json!({"UserARN": a})).collect();
    }
    let total = users.len() + arns.len();
    let (users, next_u) = paginate(users, start, size);
    let (arns, next_a) = paginate(arns, start, size);
    let next = if next_u.is_empty() { next_a } else { next_u };
    Ok(json!({"Users": users, "UserARNs": arns, "NextToken": next, "MaxResults": size,
              "TotalCount": total.to_string()}))
}

// ---------- tags & resource group ----------

fn tag_resource_type(p: &Params) -> ApiResult<String> {
    let t = p.req("ResourceType")?;
    if t.eq_ignore_ascii_case("vpcendpointservice") || t.eq_ignore_ascii_case("vpcendpoint") {
        Ok(t.to_string())
    } else {
        Err(ApiError::illegal("ResourceType"))
    }
}

fn tag_targets<'s>(
    store: &'s mut Store,
    ctx: &Ctx,
    region: &str,
    kind: &str,
    ids: &[String],
) -> ApiResult<Vec<&'s mut Service>> {
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    if ids.len() > 50 {
        return Err(ApiError::illegal("ResourceId"));
    }
    if kind.eq_ignore_ascii_case("vpcendpoint") {
        return Err(ApiError::bad("EndpointNotFound", "The specified endpoint does not exist."));
    }
    for id in ids {
        store.get_mut(ctx.account, Some(region), id, ctx.now).ok_or_else(ApiError::not_found)?;
    }
    Ok(store
        .settled(ctx.now)
        .filter(|s| s.account_id == ctx.account && s.region_id == region && ids.contains(&s.service_id))
        .collect())
}

fn tag(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = tag_resource_type(p)?;
    let ids = p.list("ResourceId")?;
    let tags = check_tags(p, "Tag", true)?;
    let dry = p.bool("DryRun")? == Some(true);
    let targets = tag_targets(store, ctx, &region, &kind, &ids)?;
    for s in &targets {
        let extra = tags.iter().filter(|(k, _)| !s.tags.iter().any(|(sk, _)| sk == k)).count();
        if s.tags.len() + extra > 20 {
            return Err(ApiError::bad("QuotaExceeded.TagNum", "The number of tags exceeds 20."));
        }
    }
    if dry {
        return Err(ApiError::dry_run());
    }
    for s in targets {
        for (k, v) in &tags {
            match s.tags.iter_mut().find(|(sk, _)| sk == k) {
                Some(t) => t.1 = v.clone(),
                None => s.tags.push((k.clone(), v.clone())),
            }
        }
    }
    Ok(ok())
}

fn untag(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = tag_resource_type(p)?;
    let ids = p.list("ResourceId")?;
    let keys = p.list("TagKey")?;
    let all = p.bool("All")?.unwrap_or(false);
    if keys.len() > 20 {
        return Err(ApiError::illegal("TagKey"));
    }
    if keys.is_empty() && !all {
        return Err(ApiError::missing("TagKey"));
    }
    let dry = p.bool("DryRun")? == Some(true);
    let targets = tag_targets(store, ctx, &region, &kind, &ids)?;
    if dry {
        return Err(ApiError::dry_run());
    }
    for s in targets {
        if keys.is_empty() {
            s.tags.clear();
        } else {
            s.tags.retain(|(k, _)| !keys.contains(k));
        }
    }
    Ok(ok())
}

fn list_tags(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = tag_resource_type(p)?;
    let ids = p.list("ResourceId")?;
    let filter = p.struct_list("Tag")?;
    if ids.is_empty() && filter.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    let (start, size) = page_params(p, 1000)?;
    let mut rows = Vec::new();
    if kind.eq_ignore_ascii_case("vpcendpointservice") {
        for s in store.settled(ctx.now) {
            if s.account_id != ctx.account || s.region_id != region {
                continue;
            }
            if !ids.is_empty() && !ids.contains(&s.service_id) {
                continue;
            }
            let matches = filter.iter().all(|(_, t)| {
                let k = t.get("Key").map(String::as_str).unwrap_or("");
                let v = t.get("Value").map(String::as_str);
                s.tags.iter().any(|(tk, tv)| tk == k && v.is_none_or(|v| v == tv))
            });
            if !matches {
                continue;
            }
            for (k, v) in &s.tags {
                rows.push(
                    json!({"ResourceId": s.service_id, "ResourceType": kind, "TagKey": k, "TagValue": v}),
                );
            }
        }
    }
    let (page, next) = paginate(rows, start, size);
    Ok(json!({"TagResources": page, "NextToken": next}))
}

fn change_rg(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let rg = p.req("ResourceGroupId")?.to_string();
    let id = p.req("ResourceId")?.to_string();
    let kind = p.opt("ResourceType").unwrap_or("VpcEndpointService");
    if !rg.starts_with("rg-") {
        return Err(ApiError::illegal("ResourceGroupId"));
    }
    if kind.eq_ignore_ascii_case("vpcendpoint") {
        return Err(ApiError::bad("EndpointNotFound", "The specified endpoint does not exist."));
    }
    if !kind.eq_ignore_ascii_case("vpcendpointservice") {
        return Err(ApiError::illegal("ResourceType"));
    }
    let region = p.opt("ResourceRegionId").or(p.opt("RegionId")).map(String::from);
    let s = store.get_mut(ctx.account, region.as_deref(), &id, ctx.now).ok_or_else(ApiError::not_found)?;
    dry_run(p)?;
    s.resource_group_id = rg;
    Ok(ok())
}

// ---------- connections ----------

fn find_conn<'s>(s: &'s mut Service, p: &Params) -> ApiResult<&'s mut Connection> {
    let ep = p.req("EndpointId")?;
    s.connections.iter_mut().find(|c| c.endpoint_id == ep).ok_or_else(|| {
        ApiError::bad("EndpointConnectionNotFound", "The specified endpoint connection does not exist.")
    })
}

fn conn_status_err(ep: &str) -> ApiError {
    ApiError::bad(
        "IncorrectStatus.VpcEndpointConnection",
        format!("The status of VpcEndpointConnection [{ep}] is incorrect."),
    )
}

fn bandwidth_and_mode(p: &Params, kind: &str) -> ApiResult<(Option<i64>, Option<String>)> {
    let max = match kind {
        "nlb" => 50000,
        "alb" | "gwlb" => 25000,
        _ => 10240,
    };
    let bw = p.int("Bandwidth")?;
    if bw.is_some_and(|b| !(100..=max).contains(&b)) {
        return Err(ApiError::illegal("Bandwidth"));
    }
    let mode = match p.opt("TrafficControlMode") {
        None => None,
        Some(m @ ("Scalability" | "BandwidthLimit")) => Some(m.to_string()),
        Some(_) => return Err(ApiError::illegal("TrafficControlMode")),
    };
    Ok((bw, mode))
}

fn conn_enable(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    conn_change(store, ctx, p, &["Pending", "Disconnected"], true, Some(("Connecting", "Connected")))
}

fn conn_disable(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    conn_change(store, ctx, p, &["Connected", "Pending"], false, Some(("Disconnecting", "Disconnected")))
}

fn conn_update(store: &mut Store, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    conn_change(store, ctx, p, &["Connected"], true, None)
}

/// The shape every provider-side connection operation shares: find the connection, check that its state
/// allows the call, honour DryRun, apply the bandwidth settings (Enable/Update), and start the state
/// transition (Enable/Disable).
fn conn_change(
    store: &mut Store,
    ctx: &Ctx,
    p: &Params,
    allowed: &[&str],
    settings: bool,
    transition: Option<(&str, &str)>,
) -> ApiResult<Value> {
    let now_s = ctx.time_str();
    let s = lookup(store, ctx, p)?;
    let (bw, mode) = if settings { bandwidth_and_mode(p, &s.resource_type.clone())? } else { (None, None) };
    let c = find_conn(s, p)?;
    if !allowed.contains(&c.status.as_str()) {
        return Err(conn_status_err(&c.endpoint_id));
    }
    dry_run(p)?;
    if let Some(b) = bw {
        c.bandwidth = b;
    }
    if let Some(m) = mode {
        c.traffic_control_mode = m;
    }
    c.modified_time = now_s;
    if let Some((during, after)) = transition {
        c.transition(during, after, ctx.now, ctx.timing.update);
    }
    Ok(ok())
}

fn list_conns(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let owner = p.int("EndpointOwnerId")?;
    let mut items = Vec::new();
    for s in store.settled(ctx.now) {
        if s.account_id != ctx.account || s.region_id != region {
            continue;
        }
        if p.opt("ServiceId").is_some_and(|x| x != s.service_id)
            || p.opt("ResourceGroupId").is_some_and(|x| x != s.resource_group_id)
        {
            continue;
        }
        for c in &s.connections {
            if p.opt("EndpointId").is_some_and(|x| x != c.endpoint_id)
                || p.opt("ConnectionStatus").is_some_and(|x| x != c.status)
                || owner.is_some_and(|o| o as u64 != c.owner_id)
            {
                continue;
            }
            items.push(json!({
                "EndpointId": c.endpoint_id, "EndpointOwnerId": c.owner_id, "EndpointRegionId": s.region_id,
                "EndpointVpcId": "vpc-sim-consumer", "ServiceId": s.service_id, "ServiceRegionId": s.region_id,
                "ConnectionStatus": c.status, "Bandwidth": c.bandwidth,
                "TrafficControlMode": c.traffic_control_mode, "ModifiedTime": c.modified_time,
                "ResourceGroupId": s.resource_group_id, "ResourceOwner": false, "Zones": [],
            }));
        }
    }
    let total = items.len();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Connections": page, "NextToken": next, "MaxResults": size, "TotalCount": total.to_string()}))
}

/// Admin helper: attach a consumer endpoint connection.
pub fn add_connection(
    store: &mut Store,
    service_id: &str,
    endpoint_id: Option<String>,
    owner: u64,
    status: &str,
    now: Instant,
    wall: jiff::Timestamp,
) -> Result<String, String> {
    let s = store.find_mut(service_id, now).ok_or_else(|| format!("service {service_id} not found"))?;
    let id = endpoint_id.unwrap_or_else(|| random_id("ep-"));
    if s.connections.iter().any(|c| c.endpoint_id == id) {
        return Err(format!("connection {id} exists"));
    }
    s.connections.push(Connection {
        endpoint_id: id.clone(),
        owner_id: owner,
        status: status.into(),
        until: None,
        bandwidth: 3072,
        traffic_control_mode: "Scalability".into(),
        modified_time: wall.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::{ACCOUNT_DEFAULT, ACCOUNT_OTHER};
    use std::time::Duration;

    struct Env {
        store: Store,
        world: World,
        t0: Instant,
    }

    impl Env {
        fn new() -> Self {
            Self { store: Store::default(), world: World::default_world(), t0: Instant::now() }
        }
        fn call_as(&mut self, account: &str, at: u64, action: &str, q: &str) -> ApiResult<Value> {
            let ctx = Ctx {
                account,
                now: self.t0 + Duration::from_secs(at),
                wall: jiff::Timestamp::now(),
                timing: Timing::default(),
            };
            dispatch(action, &mut self.store, &self.world, &ctx, &Params::parse(q, None))
        }
        fn call(&mut self, at: u64, action: &str, q: &str) -> ApiResult<Value> {
            self.call_as(ACCOUNT_DEFAULT, at, action, q)
        }
        fn create(&mut self, q: &str) -> String {
            let v = self.call(0, "CreateVpcEndpointService", q).unwrap();
            v["ServiceId"].as_str().unwrap().to_string()
        }
        fn status(&mut self, at: u64, id: &str) -> Result<String, String> {
            self.call(at, "GetVpcEndpointServiceAttribute", &format!("RegionId=cn-hangzhou&ServiceId={id}"))
                .map(|v| v["ServiceStatus"].as_str().unwrap().to_string())
                .map_err(|e| e.code)
        }
    }

    const BASE: &str = "RegionId=cn-hangzhou&ServiceResourceType=nlb&Resource.1.ResourceType=nlb&Resource.1.ResourceId=nlb-sim-001&Resource.1.ZoneId=cn-hangzhou-h";

    #[test]
    fn create_validation_table() {
        let long = "x".repeat(181);
        let long_key = "k".repeat(65);
        let many_tags: String = (1..=21).map(|i| format!("&Tag.{i}.Key=k{i}&Tag.{i}.Value=v")).collect();
        let many_res: String = (1..=11)
            .map(|i| format!("&Resource.{i}.ResourceType=slb&Resource.{i}.ResourceId=lb-sim-slb-001"))
            .collect();
        let cases: Vec<(String, &str)> = vec![
            ("ServiceResourceType=slb".into(), "MissingParam.RegionId"),
            ("RegionId=cn-nowhere".into(), "RegionNotFound"),
            ("RegionId=cn-hangzhou&Payer=Me".into(), "IllegalParamFormat.Payer"),
            ("RegionId=cn-hangzhou&ServiceResourceType=elb".into(), "IllegalParamFormat.ServiceResourceType"),
            ("RegionId=cn-hangzhou&AddressIpVersion=IPv6".into(), "IllegalParamFormat.AddressIpVersion"),
            (format!("RegionId=cn-hangzhou&ServiceDescription={long}"), "IllegalParamFormat.ServiceDescription"),
            (format!("RegionId=cn-hangzhou{many_tags}"), "IllegalParamFormat.Tag"),
            (format!("RegionId=cn-hangzhou{many_res}"), "IllegalParamFormat.Resource"),
            ("RegionId=cn-hangzhou&AutoAcceptEnabled=maybe".into(), "IllegalParamFormat.AutoAcceptEnabled"),
            (format!("RegionId=cn-hangzhou&Tag.1.Key={long_key}"), "IllegalParamFormat.Tag.1.Key"),
            ("RegionId=cn-hangzhou&Tag.1.Key=aliyun-x".into(), "IllegalParamFormat.Tag.1.Key"),
            ("RegionId=cn-hangzhou&Tag.1.Key=ACS:x".into(), "IllegalParamFormat.Tag.1.Key"),
            ("RegionId=cn-hangzhou&Tag.1.Key=a&Tag.2.Key=https://x".into(), "IllegalParamFormat.Tag.2.Key"),
            (format!("RegionId=cn-hangzhou&Tag.1.Key=a&Tag.1.Value={}", "v".repeat(129)), "IllegalParamFormat.Tag.1.Value"),
            ("RegionId=cn-hangzhou&Tag.1.Value=v".into(), "MissingParam.Tag.1.Key"),
            ("RegionId=cn-hangzhou&Resource.1.ResourceId=lb-sim-slb-001".into(), "MissingParam.Resource.1.ResourceType"),
            ("RegionId=cn-hangzhou&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-nope".into(), "LoadBalancerNotFound"),
            ("RegionId=cn-hangzhou&ServiceResourceType=alb&Resource.1.ResourceType=alb&Resource.1.ResourceId=alb-nope&Resource.1.ZoneId=cn-hangzhou-h".into(), "AlbNotFound"),
            ("RegionId=cn-hangzhou&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-sim-noplink".into(), "LoadBalancerNotSupportPrivateLink"),
            ("RegionId=cn-hangzhou&Resource.1.ResourceType=nlb&Resource.1.ResourceId=nlb-sim-001&Resource.1.ZoneId=cn-hangzhou-h".into(), "Mismatch.ResourceType"),
            (BASE.replace("ZoneId=cn-hangzhou-h", "ZoneId=cn-beijing-a"), "EndpointServiceNotSupportedZone"),
            (BASE.replace("ZoneId=cn-hangzhou-h", "ZoneId=cn-hangzhou-k"), "EndpointServiceNotSupportedZone"),
            (BASE.replace("&Resource.1.ZoneId=cn-hangzhou-h", ""), "MissingParam.ZoneId"),
            ("RegionId=cn-hangzhou&AddressIpVersion=DualStack".into(), "OperationDenied.ResourceTypeNotSupportDualStack"),
            ("RegionId=cn-hangzhou&ServiceSupportIPv6=true".into(), "EndpointServiceNotSupportIpv6"),
            (format!("{BASE}&DryRun=true"), "DryRunOperation"),
        ];
        for (q, want) in cases {
            let mut env = Env::new();
            let got = env.call(0, "CreateVpcEndpointService", &q).map(|_| ()).unwrap_err().code;
            assert_eq!(got, want, "query {q}");
            assert_eq!(env.store.count(ACCOUNT_DEFAULT, "cn-hangzhou", env.t0), 0);
        }
    }

    #[test]
    fn payer_whitelist_and_quota() {
        let mut env = Env::new();
        let q = "RegionId=cn-hangzhou&Payer=EndpointService";
        assert!(env.call(0, "CreateVpcEndpointService", q).is_ok());
        let err = env.call_as(ACCOUNT_OTHER, 0, "CreateVpcEndpointService", q).unwrap_err();
        assert_eq!(err.code, "EndpointServicePayerForbidden");
        env.world.service_quota = 2;
        assert!(env.call(0, "CreateVpcEndpointService", "RegionId=cn-hangzhou").is_ok());
        let err = env.call(0, "CreateVpcEndpointService", "RegionId=cn-hangzhou").unwrap_err();
        assert_eq!(err.code, "QuotaMisMatched");
        // Quota is per region.
        assert!(env.call(0, "CreateVpcEndpointService", "RegionId=cn-beijing").is_ok());
    }

    #[test]
    fn lifecycle_state_table() {
        let mut env = Env::new();
        let id = env.create(BASE);
        let sid = format!("RegionId=cn-hangzhou&ServiceId={id}");
        // (time, action, extra params, expected error code or None, expected status after)
        type Step<'a> = (u64, &'a str, String, Option<&'a str>, Option<&'a str>);
        let steps: Vec<Step> = vec![
            (0, "GetVpcEndpointServiceAttribute", String::new(), None, Some("Creating")),
            (
                1,
                "UpdateVpcEndpointServiceAttribute",
                "&ServiceDescription=x".into(),
                Some("EndpointServiceOperationDenied"),
                Some("Creating"),
            ),
            (
                1,
                "DeleteVpcEndpointService",
                String::new(),
                Some("IncorrectStatus.VpcEndpointService"),
                Some("Creating"),
            ),
            (2, "GetVpcEndpointServiceAttribute", String::new(), None, Some("Active")),
            (2, "UpdateVpcEndpointServiceAttribute", "&ServiceDescription=x".into(), None, Some("Pending")),
            (
                2,
                "AttachResourceToVpcEndpointService",
                "&ResourceId=nlb-sim-002&ResourceType=nlb&ZoneId=cn-hangzhou-i".into(),
                Some("EndpointServiceOperationDenied"),
                Some("Pending"),
            ),
            (
                3,
                "AttachResourceToVpcEndpointService",
                "&ResourceId=nlb-sim-002&ResourceType=nlb&ZoneId=cn-hangzhou-i".into(),
                None,
                Some("Pending"),
            ),
            (
                4,
                "DetachResourceFromVpcEndpointService",
                "&ResourceId=nlb-sim-002&ZoneId=cn-hangzhou-i".into(),
                None,
                Some("Pending"),
            ),
            (5, "DeleteVpcEndpointService", "&DryRun=True".into(), Some("DryRunOperation"), Some("Active")),
            (5, "DeleteVpcEndpointService", String::new(), None, Some("Deleting")),
            (
                6,
                "DeleteVpcEndpointService",
                String::new(),
                Some("IncorrectStatus.VpcEndpointService"),
                Some("Deleting"),
            ),
            (7, "GetVpcEndpointServiceAttribute", String::new(), Some("EndpointServiceNotFound"), None),
        ];
        for (at, action, extra, want_err, want_status) in steps {
            let r = env.call(at, action, &format!("{sid}{extra}"));
            assert_eq!(r.as_ref().err().map(|e| e.code.as_str()), want_err, "{action}@{at}");
            match want_status {
                Some(s) => assert_eq!(env.status(at, &id).as_deref(), Ok(s), "{action}@{at}"),
                None => assert_eq!(env.status(at, &id), Err("EndpointServiceNotFound".into())),
            }
        }
    }

    #[test]
    fn accounts_are_isolated_and_nlb_bandwidth_quirk() {
        let mut env = Env::new();
        let id = env.create(BASE);
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        let err = env.call_as(ACCOUNT_OTHER, 0, "GetVpcEndpointServiceAttribute", &q).unwrap_err();
        assert_eq!(err.code, "EndpointServiceNotFound");
        let v = env.call(0, "GetVpcEndpointServiceAttribute", &q).unwrap();
        assert_eq!(v["ConnectBandwidth"], 0);
        assert_eq!(v["Zones"], json!(["cn-hangzhou-h"]));
        let slb = env
            .create("RegionId=cn-hangzhou&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-sim-slb-001");
        let v = env
            .call(0, "GetVpcEndpointServiceAttribute", &format!("RegionId=cn-hangzhou&ServiceId={slb}"))
            .unwrap();
        assert_eq!(v["ConnectBandwidth"], 3072);
        assert!(id.len() == 26 && id[6..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn list_paging_and_tag_filter() {
        let mut env = Env::new();
        for i in 0..7 {
            let tag = if i % 2 == 0 { "even" } else { "odd" };
            env.create(&format!("RegionId=cn-hangzhou&Tag.1.Key=parity&Tag.1.Value={tag}"));
        }
        let mut token = String::new();
        let mut seen = 0;
        let mut pages = 0;
        loop {
            let v = env
                .call(0, "ListVpcEndpointServices", &format!("RegionId=cn-hangzhou&MaxResults=2&NextToken={token}&Tag.1.Key=parity&Tag.1.Value=even"))
                .unwrap();
            assert_eq!(v["TotalCount"], 4);
            seen += v["Services"].as_array().unwrap().len();
            pages += 1;
            token = v["NextToken"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!((seen, pages), (4, 2));
        let err = env.call(0, "ListVpcEndpointServices", "RegionId=cn-hangzhou&MaxResults=0").unwrap_err();
        assert_eq!(err.code, "IllegalParamFormat.MaxResults");
    }

    #[test]
    fn connection_dependence_blocks_delete() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        let ep = add_connection(&mut env.store, &id, None, 42, "Connected", env.t0, jiff::Timestamp::now())
            .unwrap();
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        assert_eq!(
            env.call(3, "DeleteVpcEndpointService", &q).unwrap_err().code,
            "EndpointServiceConnectionDependence"
        );
        env.call(3, "DisableVpcEndpointConnection", &format!("{q}&EndpointId={ep}")).unwrap();
        assert_eq!(
            env.call(3, "DeleteVpcEndpointService", &q).unwrap_err().code,
            "EndpointServiceConnectionDependence"
        );
        let v = env.call(4, "ListVpcEndpointConnections", "RegionId=cn-hangzhou").unwrap();
        assert_eq!(v["Connections"][0]["ConnectionStatus"], "Disconnected");
        env.call(4, "DeleteVpcEndpointService", &q).unwrap();
    }

    #[test]
    fn tags_roundtrip() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        let q = format!("RegionId=cn-hangzhou&ResourceType=vpcendpointservice&ResourceId.1={id}");
        env.call(0, "TagResources", &format!("{q}&Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=b&Tag.2.Value=2"))
            .unwrap();
        let v = env.call(0, "ListTagResources", &q).unwrap();
        assert_eq!(v["TagResources"].as_array().unwrap().len(), 2);
        env.call(0, "UntagResources", &format!("{q}&TagKey.1=a")).unwrap();
        let v = env.call(0, "ListTagResources", &q).unwrap();
        assert_eq!(v["TagResources"][0]["TagKey"], "b");
        let err = env.call(0, "TagResources", &format!("{q}&Tag.1.Key=aliyun:x&Tag.1.Value=1")).unwrap_err();
        assert_eq!(err.code, "IllegalParamFormat.Tag.1.Key");
        let err = env
            .call(
                0,
                "TagResources",
                "RegionId=cn-hangzhou&ResourceType=vpcendpointservice&ResourceId.1=epsrv-none&Tag.1.Key=a",
            )
            .unwrap_err();
        assert_eq!(err.code, "EndpointServiceNotFound");
    }
}
