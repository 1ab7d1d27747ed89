//! The consumer side: endpoints, their zones and security groups, and the services a consumer may
//! connect to (reference §8.1–8.12). An endpoint's connection lives on its service (see
//! [`crate::model::Connection`]); creating the endpoint creates it, deleting the endpoint removes it.

use serde_json::{Value, json};

use super::{
    Ctx, TagCodes, check_tags, connections::conn_busy, dry_run, ok, page_params, paginate, random_id, region,
    tags_match,
};
use crate::{
    error::{ApiError, ApiResult},
    model::{Connection, Endpoint, EndpointSg, EndpointZone, Phase, Service, Store, tags_json},
    params::Params,
    world::{DEFAULT_RESOURCE_GROUP, World},
};

fn endpoint_not_found() -> ApiError {
    ApiError::bad("EndpointNotFound", "The specified Endpoint does not exist.")
}

fn op_denied() -> ApiError {
    ApiError::bad("EndpointOperationDenied", "The specified operation of endpoint is not allowed.")
}

fn service_deleted() -> ApiError {
    ApiError::bad("EndpointServiceDeleted", "The endpoint service of the endpoint has been deleted.")
}

fn check_name(p: &Params) -> ApiResult<Option<String>> {
    match p.opt("EndpointName") {
        None => Ok(None),
        Some(n) => {
            let len = n.chars().count();
            let first_ok = n.chars().next().is_some_and(|c| c.is_alphabetic());
            let chars_ok = n.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if (2..=128).contains(&len) && first_ok && chars_ok {
                Ok(Some(n.to_string()))
            } else {
                Err(ApiError::illegal("EndpointName"))
            }
        }
    }
}

fn check_description(p: &Params) -> ApiResult<Option<String>> {
    match p.opt("EndpointDescription") {
        None => Ok(None),
        Some(d) => {
            let len = d.chars().count();
            if (2..=256).contains(&len) && !d.starts_with("http://") && !d.starts_with("https://") {
                Ok(Some(d.to_string()))
            } else {
                Err(ApiError::illegal("EndpointDescription"))
            }
        }
    }
}

fn policy_not_supported() -> ApiError {
    ApiError::bad(
        "OperationDenied.EndpointPolicyNotSupport",
        "The endpoint service does not support endpoint policies.",
    )
}

/// One vSwitch checked for an endpoint zone in `vpc`; returns the ENI address.
#[allow(clippy::too_many_arguments)]
fn place_zone(
    world: &World,
    store: &Store,
    ctx: &Ctx,
    region: &str,
    vpc: &str,
    service: &Service,
    zone: &str,
    vsw: &str,
    ip: Option<&str>,
) -> ApiResult<String> {
    let v = world
        .v_switch(ctx.account, region, vsw)
        .filter(|v| v.vpc_id == vpc && v.zone_id == zone)
        .ok_or_else(|| {
            ApiError::bad("VSwitchNotFound", format!("The specified vSwitch {vsw} does not exist."))
        })?;
    if !v.available {
        return Err(ApiError::bad(
            "VSwitchStatusNotAllowed",
            "The status of the vSwitch does not allow the operation.",
        ));
    }
    if service.resources.is_empty() {
        return Err(ApiError::bad(
            "EndpointServiceResourceNotFound",
            "The specified service resource is not found.",
        ));
    }
    if !service.zones().iter().any(|z| z == zone) {
        return Err(ApiError::bad(
            "EndpointServiceNotSupportedZone",
            "The specified endpoint service does not support the zone.",
        ));
    }
    let used = store.ips.get(vsw).map(Vec::as_slice).unwrap_or_default();
    if used.len() as u32 >= v.free_ips {
        return Err(ApiError::bad("ResourceNotEnough.VSwitchIp", "The vSwitch has no available IP address."));
    }
    match ip {
        Some(ip) => {
            let host = ip.strip_prefix(&format!("{}.", v.prefix)).and_then(|h| h.parse::<u8>().ok());
            if host.is_none_or(|h| !(10..=250).contains(&h)) || used.iter().any(|u| u == ip) {
                return Err(ApiError::bad("EniIpUnavailable", format!("The IP {ip} is not available.")));
            }
            Ok(ip.to_string())
        }
        None => {
            (10..=250u8).map(|h| format!("{}.{h}", v.prefix)).find(|a| !used.contains(a)).ok_or_else(|| {
                ApiError::bad("ResourceNotEnough.VSwitchIp", "The vSwitch has no available IP address.")
            })
        }
    }
}

fn zone_rows(e: &Endpoint, conn: &str) -> Vec<Value> {
    e.zones
        .iter()
        .map(|z| {
            json!({"ZoneId": z.zone_id, "VSwitchId": z.vswitch_id, "EniId": z.eni_id, "EniIp": z.ip,
                   "ZoneStatus": z.status(conn), "RegionId": e.region_id, "ZoneIpv6Address": "",
                   "ZoneDomain": format!("{}-{}.{}", e.endpoint_id, z.zone_id, e.domain.split_once('.').map_or("", |x| x.1))})
        })
        .collect()
}

fn endpoint_body(e: &Endpoint, conn: &str) -> Value {
    json!({
        "EndpointId": e.endpoint_id,
        "EndpointName": e.name,
        "EndpointDescription": e.description,
        "EndpointDomain": e.domain,
        "EndpointStatus": e.status(),
        "EndpointBusinessStatus": e.business_status,
        "EndpointType": e.endpoint_type,
        "ConnectionStatus": conn,
        "ServiceId": e.service_id,
        "ServiceName": e.service_name,
        "VpcId": e.vpc_id,
        "RegionId": e.region_id,
        "ServiceRegionId": e.region_id,
        "ResourceGroupId": e.resource_group_id,
        "CreateTime": e.create_time,
        "ProtectedEnabled": e.protected,
        "AddressIpVersion": "IPv4",
        "CrossRegionBandwidth": 0,
        "Bandwidth": 3072,
        "ZonePrivateIpAddressCount": 1,
        "ZoneAffinityEnabled": e.zone_affinity,
        "PolicyDocument": e.policy_document,
        "Payer": "Endpoint",
        "ResourceOwner": false,
    })
}

pub fn create(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let vpc = p.req("VpcId")?.to_string();
    let name = check_name(p)?.unwrap_or_default();
    let description = check_description(p)?.unwrap_or_default();
    let etype = super::enum_param(p, "EndpointType", &["Interface", "GatewayLoadBalancer", "Reverse"], "")?;
    if p.int("ZonePrivateIpAddressCount")?.is_some_and(|n| n != 1) {
        return Err(ApiError::illegal("ZonePrivateIpAddressCount"));
    }
    let protected = p.bool("ProtectedEnabled")?.unwrap_or(false);
    let zone_affinity = p.bool("ZoneAffinityEnabled")?.unwrap_or(false);
    let tags = check_tags(p, "Tag", TagCodes::Params)?;
    let zones = p.struct_list("Zone")?;
    if zones.len() > 10 {
        return Err(ApiError::bad(
            "QuotaExceeded.epZonePerEndpoint",
            "The number of zones per endpoint exceeds the quota.",
        ));
    }
    let sgs = p.list("SecurityGroupId")?;
    if sgs.len() > 10 {
        return Err(ApiError::illegal("SecurityGroupId"));
    }
    let by_id = p.opt("ServiceId").map(String::from);
    let by_name = p.opt("ServiceName").map(String::from);
    if by_id.is_none() && by_name.is_none() {
        return Err(ApiError::missing("ServiceId"));
    }
    let vpc_quota = world
        .vpc(ctx.account, &region, &vpc)
        .ok_or_else(|| ApiError::bad("VpcNotFound", format!("The specified VPC {vpc} does not exist.")))?
        .endpoint_quota;
    let service = store
        .services
        .settled(ctx.now)
        .find(|s| {
            s.region_id == region
                && by_id.as_ref().is_none_or(|i| *i == s.service_id)
                && by_name.as_ref().is_none_or(|n| *n == s.service_name)
        })
        .map(|s| s.clone())
        .ok_or_else(crate::error::ApiError::not_found)?;
    if !service.allows(ctx.account) {
        return Err(ApiError::bad(
            "EndpointServiceNotAuthorized",
            "The account is not authorized to connect to the endpoint service.",
        ));
    }
    if service.status() == "Deleting" {
        return Err(service_deleted());
    }
    if service.status() != "Active" || service.business_status != "Normal" {
        return Err(ApiError::incorrect_status(&service.service_id));
    }
    let etype = if etype.is_empty() { service.service_type() } else { etype };
    if etype != service.service_type() {
        return Err(ApiError::bad(
            "Mismatch.EndpointType",
            "The endpoint type does not match the service type.",
        ));
    }
    if sgs.is_empty() {
        return Err(ApiError::bad(
            "EndpointMustContainSecurityGroup",
            "The endpoint must contain a security group.",
        ));
    }
    let mut sg_kind: Option<&str> = None;
    for id in &sgs {
        let g =
            world.security_group(ctx.account, &region, id).filter(|g| g.vpc_id == vpc).ok_or_else(|| {
                ApiError::bad("SecurityGroupNotFound", format!("The security group {id} does not exist."))
            })?;
        if !matches!(g.kind.as_str(), "normal" | "enterprise") {
            return Err(ApiError::bad(
                "SecurityGroupTypeNotSupport",
                format!("The security group type {} is not supported.", g.kind),
            ));
        }
        if sg_kind.is_some_and(|k| k != g.kind) {
            return Err(ApiError::bad(
                "SecurityGroupTypeOnlySingleTypeSupporteded",
                "The security groups of an endpoint must be of one type.",
            ));
        }
        sg_kind = Some(&g.kind);
    }
    let mut placed: Vec<EndpointZone> = Vec::new();
    for (n, z) in &zones {
        let field = |f: &str| z.get(f).map(String::as_str).filter(|v| !v.is_empty());
        let zone = field("ZoneId").ok_or_else(|| ApiError::missing(&format!("Zone.{n}.ZoneId")))?;
        let vsw = field("VSwitchId").ok_or_else(|| ApiError::missing(&format!("Zone.{n}.VSwitchId")))?;
        if placed.iter().any(|p| p.zone_id == zone) {
            return Err(ApiError::bad("EndpointZoneDuplicated", format!("The zone {zone} is duplicated.")));
        }
        let ip = place_zone(world, store, ctx, &region, &vpc, &service, zone, vsw, field("ip"))?;
        if placed.iter().any(|p| p.ip == ip) {
            return Err(ApiError::bad("EniIpUnavailable", format!("The IP {ip} is not available.")));
        }
        let mut phase = Phase::new("Ready");
        if !ctx.timing.create.is_zero() {
            phase.enter("Creating", ctx.now, ctx.timing.create);
        }
        placed.push(EndpointZone {
            zone_id: zone.into(),
            vswitch_id: vsw.into(),
            eni_id: random_id("eni-"),
            ip,
            phase,
            zone_conn: None,
        });
    }
    let in_vpc: Vec<&Endpoint> = store
        .endpoints
        .settled(ctx.now)
        .filter(|e| e.account_id == ctx.account && e.vpc_id == vpc && e.region_id == region)
        .map(|e| &*e)
        .collect();
    if in_vpc.iter().any(|e| e.service_id == service.service_id && e.status() != "Deleting") {
        return Err(ApiError::bad(
            "EndpointDuplicated",
            "An endpoint for this service already exists in the VPC.",
        ));
    }
    if in_vpc.len() >= vpc_quota {
        return Err(ApiError::bad(
            "QuotaExceeded.totalEpPerVpc",
            "The number of endpoints in the VPC exceeds the quota.",
        ));
    }
    if p.opt("PolicyDocument").is_some() {
        return Err(policy_not_supported());
    }
    dry_run(p)?;
    let id = random_id("ep-");
    let mut phase = Phase::new("Active");
    if !ctx.timing.create.is_zero() {
        phase.enter("Creating", ctx.now, ctx.timing.create);
    }
    let e = Endpoint {
        seq: store.next_seq(),
        account_id: ctx.account.into(),
        region_id: region.clone(),
        domain: format!("{id}.{}.{region}.privatelink.aliyuncs.com", service.service_id),
        endpoint_id: id.clone(),
        name,
        description,
        endpoint_type: etype.into(),
        vpc_id: vpc.clone(),
        service_id: service.service_id.clone(),
        service_name: service.service_name.clone(),
        zones: placed,
        security_groups: sgs
            .iter()
            .map(|g| EndpointSg { id: g.clone(), phase: Phase::new("Attached") })
            .collect(),
        tags,
        resource_group_id: p.opt("ResourceGroupId").unwrap_or(DEFAULT_RESOURCE_GROUP).into(),
        protected,
        creator: ctx.principal.into(),
        policy_document: String::new(),
        zone_affinity,
        create_time: ctx.time_str(),
        business_status: "Normal".into(),
        phase,
    };
    for z in &e.zones {
        store.ips.entry(z.vswitch_id.clone()).or_default().push(z.ip.clone());
    }
    let mut conn = Connection {
        endpoint_id: id.clone(),
        owner_id: ctx.account.parse().unwrap_or(0),
        phase: Phase::new("Pending"),
        bandwidth: 3072,
        traffic_control_mode: "Scalability".into(),
        modified_time: ctx.time_str(),
        zones: e.zone_ids(),
        vpc_id: vpc,
        has_endpoint: true,
    };
    if service.auto_accept {
        conn.transition("Connecting", "Connected", ctx.now, ctx.timing.create);
    }
    let status = conn.status().to_string();
    if let Some(s) = store.services.find_mut(&service.service_id, ctx.now) {
        s.connections.push(conn);
    }
    let body = endpoint_body(&e, &status);
    store.endpoints.insert(e);
    Ok(body)
}

/// The caller's endpoint named by `EndpointId`, settled, with its connection status.
fn endpoint<'s>(store: &'s mut Store, ctx: &Ctx, p: &Params) -> ApiResult<(&'s mut Endpoint, String)> {
    let region = p.req("RegionId")?.to_string();
    let id = p.req("EndpointId")?.to_string();
    let sid = store
        .endpoints
        .find_mut(&id, ctx.now)
        .filter(|e| e.account_id == ctx.account && e.region_id == region)
        .map(|e| e.service_id.clone())
        .ok_or_else(endpoint_not_found)?;
    let conn = store.connection_status(&sid, &id, ctx.now);
    let e = store.endpoints.find_mut(&id, ctx.now).ok_or_else(endpoint_not_found)?;
    Ok((e, conn))
}

/// Protection: a protected endpoint takes changes only from the identity that created it.
fn check_protection(e: &Endpoint, ctx: &Ctx) -> ApiResult<()> {
    if !e.protected || e.creator == ctx.principal {
        return Ok(());
    }
    Err(if ctx.sts_caller {
        ApiError::bad("EndpointProtected", "The endpoint is protected; only its creator may change it.")
    } else {
        ApiError::bad("OperationDenied.EndpointProtected", "The endpoint is protected by managed protection.")
    })
}

/// Gate for writes: `Pending` (a zone or security-group task runs) is `EndpointLocked`; any other
/// non-`Active` state is `EndpointOperationDenied`; a connection in transition is
/// `EndpointConnectionOperationDenied`.
fn require_settled(e: &Endpoint, conn: &str) -> ApiResult<()> {
    match e.status() {
        "Active" => {}
        "Pending" => return Err(ApiError::bad("EndpointLocked", "The specified endpoint is locked.")),
        _ => return Err(op_denied()),
    }
    if matches!(conn, "Connecting" | "Disconnecting") {
        return Err(conn_busy());
    }
    Ok(())
}

/// Start a zone or security-group task: the endpoint is `Pending` (locked) until it ends.
fn lock(e: &mut Endpoint, ctx: &Ctx) {
    if !ctx.timing.update.is_zero() {
        e.phase.enter("Pending", ctx.now, ctx.timing.update);
    }
}

/// Enter `via` for the update duration, or land in `done` at once.
fn task_phase(ctx: &Ctx, via: &str, done: &str) -> Phase {
    let mut p = Phase::new(done);
    if !ctx.timing.update.is_zero() {
        p.enter(via, ctx.now, ctx.timing.update);
    }
    p
}

pub fn get(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (e, conn) = endpoint(store, ctx, p)?;
    Ok(endpoint_body(e, &conn))
}

pub fn update(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let name = check_name(p)?;
    let description = check_description(p)?;
    let zone_affinity = p.bool("ZoneAffinityEnabled")?;
    let (e, conn) = endpoint(store, ctx, p)?;
    check_protection(e, ctx)?;
    require_settled(e, &conn)?;
    if conn == "ServiceDeleted" {
        return Err(service_deleted());
    }
    if p.opt("PolicyDocument").is_some() {
        return Err(policy_not_supported());
    }
    dry_run(p)?;
    if let Some(n) = name {
        e.name = n;
    }
    if let Some(d) = description {
        e.description = d;
    }
    if let Some(z) = zone_affinity {
        e.zone_affinity = z;
    }
    Ok(ok())
}

pub fn delete(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (e, _) = endpoint(store, ctx, p)?;
    check_protection(e, ctx)?;
    if e.status() != "Active" {
        return Err(op_denied());
    }
    if !e.zones.is_empty() {
        return Err(ApiError::bad(
            "EndpointDependenceViolation",
            "The specified endpoint has dependent zone(s).",
        ));
    }
    dry_run(p)?;
    let (id, sid) = (e.endpoint_id.clone(), e.service_id.clone());
    let gone = ctx.timing.delete.is_zero();
    if gone {
        store.endpoints.remove(&id);
    } else {
        e.phase.enter("Deleting", ctx.now, ctx.timing.delete);
    }
    if let Some(s) = store.services.find_mut(&sid, ctx.now) {
        if gone {
            s.connections.retain(|c| c.endpoint_id != id);
        } else if let Some(c) = s.connections.iter_mut().find(|c| c.endpoint_id == id) {
            c.phase.enter("Deleting", ctx.now, ctx.timing.delete);
        }
    }
    Ok(ok())
}

pub fn list(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let tag_filter = p.struct_list("Tag")?;
    let mine: Vec<(String, String)> = store
        .endpoints
        .settled(ctx.now)
        .filter(|e| e.account_id == ctx.account && e.region_id == region)
        .map(|e| (e.endpoint_id.clone(), e.service_id.clone()))
        .collect();
    let mut items = Vec::new();
    for (id, sid) in mine {
        let conn = store.connection_status(&sid, &id, ctx.now);
        let Some(e) = store.endpoints.find_mut(&id, ctx.now) else { continue };
        let eq = |name: &str, v: &str| p.opt(name).is_none_or(|x| x == v);
        if eq("EndpointId", &e.endpoint_id)
            && eq("ServiceName", &e.service_name)
            && eq("VpcId", &e.vpc_id)
            && eq("EndpointName", &e.name)
            && eq("EndpointType", &e.endpoint_type)
            && eq("EndpointStatus", e.status())
            && eq("ConnectionStatus", &conn)
            && eq("ResourceGroupId", &e.resource_group_id)
            && tags_match(&e.tags, &tag_filter)
        {
            let mut b = endpoint_body(e, &conn);
            b["Tags"] = tags_json(&e.tags);
            items.push(b);
        }
    }
    let total = items.len();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Endpoints": page, "NextToken": next, "MaxResults": size, "TotalCount": total}))
}

pub fn add_zone(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let zone = p.req("ZoneId")?.to_string();
    let vsw = p.req("VSwitchId")?.to_string();
    let ip = p.opt("ip").map(String::from);
    let (e, conn) = endpoint(store, ctx, p)?;
    check_protection(e, ctx)?;
    require_settled(e, &conn)?;
    if conn == "ServiceDeleted" {
        return Err(service_deleted());
    }
    if e.zones.iter().any(|z| z.zone_id == zone) {
        return Err(ApiError::bad("EndpointZoneDuplicated", format!("The zone {zone} is duplicated.")));
    }
    if e.zones.len() >= 10 {
        return Err(ApiError::bad("QuotaMisMatched", "The resource you applied for has exceeded the quota."));
    }
    let (id, sid, region, vpc) =
        (e.endpoint_id.clone(), e.service_id.clone(), e.region_id.clone(), e.vpc_id.clone());
    let service = store.services.find_mut(&sid, ctx.now).map(|s| s.clone()).ok_or_else(service_deleted)?;
    let ip = place_zone(world, store, ctx, &region, &vpc, &service, &zone, &vsw, ip.as_deref())?;
    dry_run(p)?;
    store.ips.entry(vsw.clone()).or_default().push(ip.clone());
    if let Some(s) = store.services.find_mut(&sid, ctx.now)
        && let Some(c) = s.connections.iter_mut().find(|c| c.endpoint_id == id)
    {
        c.zones.push(zone.clone());
    }
    let Some(e) = store.endpoints.find_mut(&id, ctx.now) else { return Err(endpoint_not_found()) };
    e.zones.push(EndpointZone {
        zone_id: zone,
        vswitch_id: vsw,
        eni_id: random_id("eni-"),
        ip,
        phase: task_phase(ctx, "Creating", "Ready"),
        zone_conn: None,
    });
    lock(e, ctx);
    Ok(ok())
}

pub fn remove_zone(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let zone = p.req("ZoneId")?.to_string();
    let (e, conn) = endpoint(store, ctx, p)?;
    check_protection(e, ctx)?;
    require_settled(e, &conn)?;
    let pos = e.zones.iter().position(|z| z.zone_id == zone && !z.phase.is("Deleting")).ok_or_else(|| {
        ApiError::bad("EndpointZoneNotFound", format!("The zone {zone} is not part of the endpoint."))
    })?;
    dry_run(p)?;
    let (id, sid) = (e.endpoint_id.clone(), e.service_id.clone());
    let (vsw, ip) = (e.zones[pos].vswitch_id.clone(), e.zones[pos].ip.clone());
    if ctx.timing.update.is_zero() {
        e.zones.remove(pos);
    } else {
        e.zones[pos].phase.enter("Deleting", ctx.now, ctx.timing.update);
    }
    lock(e, ctx);
    if let Some(used) = store.ips.get_mut(&vsw) {
        used.retain(|u| *u != ip);
    }
    if let Some(s) = store.services.find_mut(&sid, ctx.now)
        && let Some(c) = s.connections.iter_mut().find(|c| c.endpoint_id == id)
    {
        c.zones.retain(|z| *z != zone);
    }
    Ok(ok())
}

pub fn list_zones(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 1000)?;
    let (e, conn) = endpoint(store, ctx, p)?;
    let rows = zone_rows(e, &conn);
    let total = rows.len();
    let (page, next) = paginate(rows, start, size);
    Ok(json!({"Zones": page, "NextToken": next, "MaxResults": size, "TotalCount": total}))
}

pub fn attach_security_group(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let sg = p.req("SecurityGroupId")?.to_string();
    let (e, conn) = endpoint(store, ctx, p)?;
    require_settled(e, &conn)?;
    if conn == "ServiceDeleted" {
        return Err(service_deleted());
    }
    let g =
        world.security_group(ctx.account, &e.region_id, &sg).filter(|g| g.vpc_id == e.vpc_id).ok_or_else(
            || ApiError::bad("SecurityGroupNotFound", format!("The security group {sg} does not exist.")),
        )?;
    if !matches!(g.kind.as_str(), "normal" | "enterprise") {
        return Err(ApiError::bad(
            "SecurityGroupTypeNotSupport",
            format!("The security group type {} is not supported.", g.kind),
        ));
    }
    if e.security_groups.iter().any(|x| x.id == sg) {
        return Err(ApiError::bad(
            "SecurityGroupExist",
            format!("The security group {sg} is already attached."),
        ));
    }
    let kinds_differ = e.security_groups.iter().any(|x| {
        world.security_group(ctx.account, &e.region_id, &x.id).is_some_and(|other| other.kind != g.kind)
    });
    if kinds_differ {
        return Err(ApiError::bad(
            "SecurityGroupTypeOnlySingleTypeSupporteded",
            "The security groups of an endpoint must be of one type.",
        ));
    }
    dry_run(p)?;
    e.security_groups.push(EndpointSg { id: sg, phase: task_phase(ctx, "Attaching", "Attached") });
    lock(e, ctx);
    Ok(ok())
}

pub fn detach_security_group(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let sg = p.req("SecurityGroupId")?.to_string();
    let (e, conn) = endpoint(store, ctx, p)?;
    require_settled(e, &conn)?;
    if conn == "ServiceDeleted" {
        return Err(service_deleted());
    }
    let pos =
        e.security_groups.iter().position(|g| g.id == sg && !g.phase.is("Detaching")).ok_or_else(|| {
            ApiError::bad("SecurityGroupNotFound", format!("The security group {sg} is not attached."))
        })?;
    if e.security_groups.iter().filter(|g| !g.phase.is("Detaching")).count() == 1 {
        return Err(ApiError::bad(
            "EndpointMustContainSecurityGroup",
            "The endpoint must contain a security group.",
        ));
    }
    dry_run(p)?;
    if ctx.timing.update.is_zero() {
        e.security_groups.remove(pos);
    } else {
        e.security_groups[pos].phase.enter("Detaching", ctx.now, ctx.timing.update);
    }
    lock(e, ctx);
    Ok(ok())
}

pub fn list_security_groups(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 50)?;
    let (e, _) = endpoint(store, ctx, p)?;
    let rows: Vec<Value> = e
        .security_groups
        .iter()
        .map(|g| json!({"SecurityGroupId": g.id, "SecurityGroupStatus": g.phase.status}))
        .collect();
    let total = rows.len();
    let (page, next) = paginate(rows, start, size);
    Ok(json!({"SecurityGroups": page, "NextToken": next, "MaxResults": size, "TotalCount": total}))
}

pub fn list_services_by_end_user(
    store: &mut Store,
    world: &World,
    ctx: &Ctx,
    p: &Params,
) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let tag_filter = p.struct_list("Tag")?;
    let mut items = Vec::new();
    for s in store.services.settled(ctx.now) {
        let eq = |name: &str, v: &str| p.opt(name).is_none_or(|x| x == v);
        if s.region_id == region
            && s.status() == "Active"
            && s.allows(ctx.account)
            && eq("ServiceId", &s.service_id)
            && eq("ServiceName", &s.service_name)
            && eq("ServiceType", s.service_type())
            && eq("ResourceGroupId", &s.resource_group_id)
            && tags_match(&s.tags, &tag_filter)
        {
            items.push(json!({
                "ServiceId": s.service_id, "ServiceName": s.service_name, "ServiceDomain": s.service_domain,
                "ServiceType": s.service_type(), "ServiceResourceType": s.resource_type, "Payer": s.payer,
                "Zones": s.zones(), "ServiceSupportIPv6": s.support_ipv6, "AddressIpVersion": s.address_ip_version,
                "AutoAcceptEnabled": s.auto_accept, "ZoneAffinityEnabled": s.zone_affinity,
                "ResourceGroupId": s.resource_group_id, "Tags": s.tags_json(), "VpcEndpointPolicySupported": false,
            }));
        }
    }
    let total = items.len();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Services": page, "NextToken": next, "MaxResults": size, "TotalCount": total.to_string()}))
}

#[cfg(test)]
mod tests {
    use super::super::testenv::{BASE, Env};
    use crate::world::ACCOUNT_OTHER as B;

    /// A service of account A in zones h and i, account B allowed; returns its id.
    fn service(env: &mut Env, auto_accept: bool) -> String {
        let id = env.create(&format!(
            "{BASE}&Resource.2.ResourceType=nlb&Resource.2.ResourceId=nlb-sim-002&Resource.2.ZoneId=cn-hangzhou-i&AutoAcceptEnabled={auto_accept}"
        ));
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}&UserId={B}");
        env.call(3, "AddUserToVpcEndpointService", &q).unwrap();
        id
    }

    const EP: &str = "RegionId=cn-hangzhou&VpcId=vpc-sim-b&SecurityGroupId.1=sg-sim-b-1&Zone.1.ZoneId=cn-hangzhou-h&Zone.1.VSwitchId=vsw-sim-b-h";

    #[test]
    fn create_endpoint_rules() {
        let mut env = Env::new();
        let sid = service(&mut env, false);
        let s = format!("&ServiceId={sid}");
        let cases: Vec<(&str, String, &str)> = vec![
            (B, EP.to_string(), "MissingParam.ServiceId"),
            (B, format!("{EP}&ServiceId=epsrv-none"), "EndpointServiceNotFound"),
            (B, EP.replace("vpc-sim-b", "vpc-sim-a") + &s, "VpcNotFound"),
            ("3234567890123456", format!("{EP}{s}"), "VpcNotFound"),
            (B, format!("{EP}{s}&EndpointType=GatewayLoadBalancer"), "Mismatch.EndpointType"),
            (B, EP.replace("&SecurityGroupId.1=sg-sim-b-1", "") + &s, "EndpointMustContainSecurityGroup"),
            (B, EP.replace("sg-sim-b-1", "sg-sim-a-1") + &s, "SecurityGroupNotFound"),
            (
                B,
                format!("{EP}{s}&SecurityGroupId.2=sg-sim-b-ent"),
                "SecurityGroupTypeOnlySingleTypeSupporteded",
            ),
            (
                B,
                format!("{EP}{s}&Zone.2.ZoneId=cn-hangzhou-h&Zone.2.VSwitchId=vsw-sim-b-h"),
                "EndpointZoneDuplicated",
            ),
            (B, EP.replace("vsw-sim-b-h", "vsw-sim-b-i") + &s, "VSwitchNotFound"),
            (B, EP.replace("vsw-sim-b-h", "vsw-sim-b-busy") + &s, "VSwitchStatusNotAllowed"),
            (B, EP.replace("vsw-sim-b-h", "vsw-sim-b-full") + &s, "ResourceNotEnough.VSwitchIp"),
            (
                B,
                EP.replace(
                    "cn-hangzhou-h&Zone.1.VSwitchId=vsw-sim-b-h",
                    "cn-hangzhou-k&Zone.1.VSwitchId=vsw-sim-b-k",
                ) + &s,
                "EndpointServiceNotSupportedZone",
            ),
            (B, format!("{EP}{s}&Zone.1.ip=192.168.0.1"), "EniIpUnavailable"),
            (B, format!("{EP}{s}&PolicyDocument=%7B%7D"), "OperationDenied.EndpointPolicyNotSupport"),
            (
                B,
                format!("{EP}{s}&ZonePrivateIpAddressCount=2"),
                "IllegalParamFormat.ZonePrivateIpAddressCount",
            ),
            (B, format!("{EP}{s}&EndpointName=1x"), "IllegalParamFormat.EndpointName"),
            (B, format!("{EP}{s}&DryRun=true"), "DryRunOperation"),
            (B, format!("{EP}{s}"), "OK"),
            (B, format!("{EP}{s}"), "EndpointDuplicated"),
        ];
        for (account, query, want) in cases {
            let got = match env.call_as(account, 3, "CreateVpcEndpoint", &query) {
                Ok(_) => "OK".to_string(),
                Err(e) => e.code,
            };
            assert_eq!(got, want, "{query}");
        }
        // An account that is not allowed.
        let other = env.create("RegionId=cn-hangzhou&ServiceResourceType=nlb&Resource.1.ResourceType=nlb&Resource.1.ResourceId=nlb-sim-003&Resource.1.ZoneId=cn-hangzhou-h");
        let e = env.call_as(B, 3, "CreateVpcEndpoint", &format!("{EP}&ServiceId={other}")).unwrap_err();
        assert_eq!(e.code, "EndpointServiceNotAuthorized");
    }

    #[test]
    fn the_consumer_story() {
        let mut env = Env::new();
        let sid = service(&mut env, false);
        let v = env.call_as(B, 3, "CreateVpcEndpoint", &format!("{EP}&ServiceId={sid}")).unwrap();
        let ep = v["EndpointId"].as_str().unwrap().to_string();
        assert_eq!(
            (v["EndpointStatus"].as_str(), v["ConnectionStatus"].as_str()),
            (Some("Creating"), Some("Pending"))
        );
        let get = format!("RegionId=cn-hangzhou&EndpointId={ep}");
        let q = format!("RegionId=cn-hangzhou&ServiceId={sid}");
        let conn = |env: &mut Env, at| {
            env.call_as(B, at, "GetVpcEndpointAttribute", &get).unwrap()["ConnectionStatus"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // While the endpoint is Creating the provider cannot accept it.
        assert_eq!(
            env.code(3, "EnableVpcEndpointConnection", &format!("{q}&EndpointId={ep}")),
            "EndpointOperationDenied"
        );
        // A pending endpoint blocks the service's deletion, and its zone's resource stays attached.
        assert_eq!(env.code(5, "DeleteVpcEndpointService", &q), "DeleteFailedDueToEndpointExist");
        assert_eq!(
            env.code(
                5,
                "DetachResourceFromVpcEndpointService",
                &format!("{q}&ResourceId=nlb-sim-001&ZoneId=cn-hangzhou-h")
            ),
            "EndpointServiceConnectionDependence"
        );
        assert_eq!(env.code(5, "EnableVpcEndpointConnection", &format!("{q}&EndpointId={ep}")), "OK");
        assert_eq!(conn(&mut env, 5), "Connecting");
        assert_eq!(conn(&mut env, 6), "Connected");
        let zones = env.call_as(B, 6, "ListVpcEndpointZones", &get).unwrap();
        assert_eq!(zones["Zones"][0]["ZoneStatus"], "Connected");
        let v = env.call(6, "ListVpcEndpointConnections", &q).unwrap();
        assert_eq!(v["Connections"][0]["Zones"][0]["ResourceId"], "nlb-sim-001");
        assert_eq!(env.code(6, "DeleteVpcEndpointService", &q), "EndpointServiceConnectionDependence");
        // Consumer side: zones first, then the endpoint.
        assert_eq!(
            env.call_as(B, 6, "DeleteVpcEndpoint", &get).unwrap_err().code,
            "EndpointDependenceViolation"
        );
        env.call_as(B, 6, "RemoveZoneFromVpcEndpoint", &format!("{get}&ZoneId=cn-hangzhou-h")).unwrap();
        assert_eq!(env.call_as(B, 6, "DeleteVpcEndpoint", &get).unwrap_err().code, "EndpointOperationDenied");
        env.call_as(B, 7, "DeleteVpcEndpoint", &get).unwrap();
        assert_eq!(conn(&mut env, 7), "Deleting");
        assert_eq!(env.call_as(B, 9, "GetVpcEndpointAttribute", &get).unwrap_err().code, "EndpointNotFound");
        let v = env.call(9, "ListVpcEndpointConnections", &q).unwrap();
        assert_eq!(v["TotalCount"], "0");
        for r in
            ["&ResourceId=nlb-sim-001&ZoneId=cn-hangzhou-h", "&ResourceId=nlb-sim-002&ZoneId=cn-hangzhou-i"]
        {
            env.call(9, "DetachResourceFromVpcEndpointService", &format!("{q}{r}")).unwrap();
            env.call(10, "GetVpcEndpointServiceAttribute", &q).unwrap();
        }
        assert_eq!(env.code(11, "DeleteVpcEndpointService", &q), "OK");
    }

    #[test]
    fn auto_accept_and_protection() {
        let mut env = Env::new();
        let sid = service(&mut env, true);
        let v = env
            .call_as(B, 3, "CreateVpcEndpoint", &format!("{EP}&ServiceId={sid}&ProtectedEnabled=true"))
            .unwrap();
        let ep = v["EndpointId"].as_str().unwrap().to_string();
        assert_eq!(v["ConnectionStatus"], "Connecting");
        let get = format!("RegionId=cn-hangzhou&EndpointId={ep}");
        assert_eq!(
            env.call_as(B, 5, "GetVpcEndpointAttribute", &get).unwrap()["ConnectionStatus"],
            "Connected"
        );
        // Another identity of the same account (the Env's principal is the account id).
        let mut other = super::super::Ctx {
            account: B,
            principal: "sim-ak-someone-else",
            sts_caller: true,
            now: env.t0 + std::time::Duration::from_secs(5),
            wall: jiff::Timestamp::now(),
            timing: crate::model::Timing::default(),
            sts_duration: std::time::Duration::from_secs(3600),
        };
        let p = crate::params::Params::parse(&format!("{get}&EndpointName=renamed"), None);
        let e = super::super::dispatch("UpdateVpcEndpointAttribute", &mut env.store, &env.world, &other, &p)
            .unwrap_err();
        assert_eq!(e.code, "EndpointProtected");
        other.sts_caller = false;
        let e = super::super::dispatch("UpdateVpcEndpointAttribute", &mut env.store, &env.world, &other, &p)
            .unwrap_err();
        assert_eq!(e.code, "OperationDenied.EndpointProtected");
        assert!(
            env.call_as(B, 5, "UpdateVpcEndpointAttribute", &format!("{get}&EndpointName=renamed")).is_ok()
        );
    }

    #[test]
    fn security_groups_and_zone_switch() {
        let mut env = Env::new();
        let sid = service(&mut env, true);
        let v = env.call_as(B, 3, "CreateVpcEndpoint", &format!("{EP}&ServiceId={sid}")).unwrap();
        let ep = v["EndpointId"].as_str().unwrap().to_string();
        let get = format!("RegionId=cn-hangzhou&EndpointId={ep}");
        let cases: Vec<(u64, &str, String, &str)> = vec![
            (
                5,
                "DetachSecurityGroupFromVpcEndpoint",
                format!("{get}&SecurityGroupId=sg-sim-b-1"),
                "EndpointMustContainSecurityGroup",
            ),
            (
                5,
                "AttachSecurityGroupToVpcEndpoint",
                format!("{get}&SecurityGroupId=sg-sim-b-1"),
                "SecurityGroupExist",
            ),
            (
                5,
                "AttachSecurityGroupToVpcEndpoint",
                format!("{get}&SecurityGroupId=sg-sim-b-ent"),
                "SecurityGroupTypeOnlySingleTypeSupporteded",
            ),
            (
                5,
                "AttachSecurityGroupToVpcEndpoint",
                format!("{get}&SecurityGroupId=sg-nope"),
                "SecurityGroupNotFound",
            ),
            (5, "AttachSecurityGroupToVpcEndpoint", format!("{get}&SecurityGroupId=sg-sim-b-2"), "OK"),
            (
                5,
                "AddZoneToVpcEndpoint",
                format!("{get}&ZoneId=cn-hangzhou-i&VSwitchId=vsw-sim-b-i"),
                "EndpointLocked",
            ),
            (
                6,
                "AddZoneToVpcEndpoint",
                format!("{get}&ZoneId=cn-hangzhou-h&VSwitchId=vsw-sim-b-h"),
                "EndpointZoneDuplicated",
            ),
            (6, "AddZoneToVpcEndpoint", format!("{get}&ZoneId=cn-hangzhou-i&VSwitchId=vsw-sim-b-i"), "OK"),
            (7, "RemoveZoneFromVpcEndpoint", format!("{get}&ZoneId=cn-hangzhou-k"), "EndpointZoneNotFound"),
            (7, "DetachSecurityGroupFromVpcEndpoint", format!("{get}&SecurityGroupId=sg-sim-b-1"), "OK"),
        ];
        for (at, action, query, want) in cases {
            let got = match env.call_as(B, at, action, &query) {
                Ok(_) => "OK".to_string(),
                Err(e) => e.code,
            };
            assert_eq!(got, want, "{action}@{at} {query}");
        }
        let v = env.call_as(B, 8, "ListVpcEndpointSecurityGroups", &get).unwrap();
        assert_eq!(v["SecurityGroups"].as_array().unwrap().len(), 1);
        let q = format!("RegionId=cn-hangzhou&ServiceId={sid}&EndpointId={ep}");
        assert_eq!(
            env.code(8, "EnableVpcEndpointZoneConnection", &format!("{q}&ZoneId=cn-hangzhou-h")),
            "IncorrectStatus.VpcEndpointZone"
        );
        assert_eq!(
            env.code(8, "DisableVpcEndpointZoneConnection", &format!("{q}&ZoneId=cn-hangzhou-k")),
            "ResourceNotFound.VpcEndpointZone"
        );
        assert_eq!(
            env.code(8, "DisableVpcEndpointZoneConnection", &format!("{q}&ZoneId=cn-hangzhou-h")),
            "OK"
        );
        let z = env.call_as(B, 9, "ListVpcEndpointZones", &get).unwrap();
        assert_eq!(z["Zones"][0]["ZoneStatus"], "Disconnected");
        assert_eq!(
            env.code(9, "EnableVpcEndpointZoneConnection", &format!("{q}&ZoneId=cn-hangzhou-h")),
            "OK"
        );
        let z = env.call_as(B, 10, "ListVpcEndpointZones", &get).unwrap();
        assert_eq!(z["Zones"][0]["ZoneStatus"], "Connected");
        let by_user = env.call_as(B, 10, "ListVpcEndpointServicesByEndUser", "RegionId=cn-hangzhou").unwrap();
        assert_eq!(by_user["Services"][0]["ServiceId"], sid.as_str());
    }
}
