//! Endpoint connections, provider side: Enable/Disable/UpdateVpcEndpointConnection(Attribute),
//! ListVpcEndpointConnections, Enable/DisableVpcEndpointZoneConnection (reference §7.13–7.16,
//! §8.13–8.14), and the admin shortcut that adds a connection without an endpoint.

use std::{collections::HashMap, time::Instant};

use serde_json::{Value, json};

use super::{Ctx, dry_run, fmt_time, ok, page_params, paginate, random_id, region, service};
use crate::{
    error::{ApiError, ApiResult},
    model::{Connection, Phase, Service, Store},
    params::Params,
    world::World,
};

fn conn_not_found() -> ApiError {
    ApiError::bad("EndpointConnectionNotFound", "The specified endpoint connection does not exist.")
}

pub fn conn_busy() -> ApiError {
    ApiError::bad("EndpointConnectionOperationDenied", "The endpoint is being connected.")
}

fn transitional(c: &Connection) -> bool {
    matches!(c.status(), "Connecting" | "Disconnecting" | "Deleting")
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

/// The endpoint behind `EndpointId` as the provider may see it: (status, zones), if it exists.
fn endpoint_facts(store: &mut Store, id: &str, now: Instant) -> Option<(String, Vec<String>)> {
    store.endpoints.find_mut(id, now).map(|e| (e.status().to_string(), e.zone_ids()))
}

fn find_conn<'s>(s: &'s mut Service, ep: &str) -> ApiResult<&'s mut Connection> {
    s.connections.iter_mut().find(|c| c.endpoint_id == ep).ok_or_else(conn_not_found)
}

pub fn enable(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let ep = p.req("EndpointId")?.to_string();
    let endpoint = endpoint_facts(store, &ep, ctx.now);
    let s = service(store, ctx, p)?;
    let (bw, mode) = bandwidth_and_mode(p, &s.resource_type)?;
    let zones = s.zones();
    let c = find_conn(s, &ep)?;
    if endpoint.as_ref().is_some_and(|(status, _)| status != "Active") {
        return Err(ApiError::bad("EndpointOperationDenied", "The endpoint is not in a valid state."));
    }
    if transitional(c) {
        return Err(conn_busy());
    }
    if endpoint.as_ref().is_some_and(|(_, ez)| ez.iter().any(|z| !zones.contains(z))) {
        return Err(ApiError::bad(
            "OperationDenied.NoAvailableServiceResource",
            "Some zones of the endpoint have no service resource.",
        ));
    }
    dry_run(p)?;
    apply_settings(c, bw, mode, ctx);
    if c.status() != "Connected" {
        c.transition("Connecting", "Connected", ctx.now, ctx.timing.update);
    }
    Ok(ok())
}

fn apply_settings(c: &mut Connection, bw: Option<i64>, mode: Option<String>, ctx: &Ctx) {
    if let Some(b) = bw {
        c.bandwidth = b;
    }
    if let Some(m) = mode {
        c.traffic_control_mode = m;
    }
    c.modified_time = ctx.time_str();
}

pub fn disable(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let ep = p.req("EndpointId")?.to_string();
    let s = service(store, ctx, p)?;
    let c = find_conn(s, &ep)?;
    if transitional(c) {
        return Err(conn_busy());
    }
    dry_run(p)?;
    c.modified_time = ctx.time_str();
    if c.status() != "Disconnected" {
        c.transition("Disconnecting", "Disconnected", ctx.now, ctx.timing.update);
    }
    Ok(ok())
}

pub fn update(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let ep = p.req("EndpointId")?.to_string();
    let endpoint = endpoint_facts(store, &ep, ctx.now);
    let s = service(store, ctx, p)?;
    let (bw, mode) = bandwidth_and_mode(p, &s.resource_type)?;
    let fixed = s.bandwidth_fixed();
    let Some(c) = s.connections.iter_mut().find(|c| c.endpoint_id == ep) else {
        return Err(match endpoint {
            None => ApiError::bad("EndpointNotFound", "The specified Endpoint does not exist."),
            Some(_) => conn_not_found(),
        });
    };
    if transitional(c) {
        return Err(conn_busy());
    }
    if bw.is_some() && fixed {
        return Err(super::services::update_bandwidth_unsupported());
    }
    dry_run(p)?;
    apply_settings(c, bw, mode, ctx);
    Ok(ok())
}

/// Per endpoint: (zone rows, VPC, owner account) for the provider's connection listing.
type EndpointView = (Vec<Value>, String, String);

pub fn list(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let owner = p.int("EndpointOwnerId")?;
    if let Some(sid) = p.opt("ServiceId")
        && store.service_mut(ctx.account, Some(&region), sid, ctx.now).is_none()
    {
        return Err(ApiError::not_found());
    }
    let mut views: HashMap<String, EndpointView> = HashMap::new();
    let mut conn_status: HashMap<String, String> = HashMap::new();
    for s in store.services.settled(ctx.now) {
        for c in &s.connections {
            conn_status.insert(c.endpoint_id.clone(), c.status().to_string());
        }
    }
    for e in store.endpoints.settled(ctx.now) {
        let cs = conn_status.get(&e.endpoint_id).map_or("Disconnected", String::as_str);
        let zones = e
            .zones
            .iter()
            .map(|z| {
                json!({"ZoneId": z.zone_id, "VSwitchId": z.vswitch_id, "EniId": z.eni_id,
                       "ZoneDomain": format!("{}-{}.{}", e.endpoint_id, z.zone_id, e.domain.split_once('.').map_or("", |x| x.1)),
                       "ZoneStatus": z.status(cs), "ResourceId": "", "ReplacedEniId": "", "ReplacedResourceId": ""})
            })
            .collect();
        views.insert(e.endpoint_id.clone(), (zones, e.vpc_id.clone(), e.account_id.clone()));
    }
    let mut items = Vec::new();
    for s in store.services.settled(ctx.now) {
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
                || p.opt("ConnectionStatus").is_some_and(|x| x != c.status())
                || owner.is_some_and(|o| o as u64 != c.owner_id)
            {
                continue;
            }
            let (mut zones, vpc, owner_account) = views
                .get(&c.endpoint_id)
                .cloned()
                .unwrap_or_else(|| (vec![], c.vpc_id.clone(), String::new()));
            for z in &mut zones {
                let zid = z["ZoneId"].as_str().unwrap_or("").to_string();
                if c.holds_resources()
                    && let Some(r) = s.resources.iter().find(|r| r.zone == zid)
                {
                    z["ResourceId"] = json!(r.id);
                }
            }
            items.push(json!({
                "EndpointId": c.endpoint_id, "EndpointOwnerId": c.owner_id, "EndpointRegionId": s.region_id,
                "EndpointVpcId": vpc, "ServiceId": s.service_id, "ServiceRegionId": s.region_id,
                "ConnectionStatus": c.status(), "Bandwidth": c.bandwidth,
                "TrafficControlMode": c.traffic_control_mode, "ModifiedTime": c.modified_time,
                "ResourceGroupId": s.resource_group_id, "ResourceOwner": owner_account == s.account_id,
                "Zones": zones,
            }));
        }
    }
    let total = items.len();
    let (page, next) = paginate(items, start, size);
    Ok(json!({"Connections": page, "NextToken": next, "MaxResults": size, "TotalCount": total.to_string()}))
}

fn not_found_404(what: &str) -> ApiError {
    ApiError::new(404, format!("ResourceNotFound.{what}"), format!("The specified {what} is not found."))
}

fn incorrect(what: &str, id: &str) -> ApiError {
    ApiError::bad(format!("IncorrectStatus.{what}"), format!("The status of {what} [{id}] is incorrect."))
}

fn incorrect_business(what: &str, id: &str) -> ApiError {
    ApiError::bad(
        format!("IncorrectBusinessStatus.{what}"),
        format!("The business status of {what} [{id}] is incorrect."),
    )
}

/// Enable (`enable`) or disable one zone of a connected endpoint.
fn zone_switch(store: &mut Store, ctx: &Ctx, p: &Params, enable: bool) -> ApiResult<Value> {
    let region = p.req("RegionId")?.to_string();
    let sid = p.req("ServiceId")?.to_string();
    let ep = p.req("EndpointId")?.to_string();
    let zone = p.req("ZoneId")?.to_string();
    p.bool("ReplacedResource")?;
    let s = store
        .service_mut(ctx.account, Some(&region), &sid, ctx.now)
        .ok_or_else(|| not_found_404("VpcEndpointService"))?;
    if s.business_status != "Normal" {
        return Err(incorrect_business("VpcEndpointService", &sid));
    }
    if s.status() != "Active" {
        return Err(incorrect("VpcEndpointService", &sid));
    }
    let c = s
        .connections
        .iter()
        .find(|c| c.endpoint_id == ep)
        .ok_or_else(|| not_found_404("VpcEndpointConnection"))?;
    let conn = c.status().to_string();
    let e = store.endpoints.find_mut(&ep, ctx.now).ok_or_else(|| not_found_404("VpcEndpoint"))?;
    if e.business_status != "Normal" {
        return Err(incorrect_business("VpcEndpoint", &ep));
    }
    if e.status() != "Active" {
        return Err(incorrect("VpcEndpoint", &ep));
    }
    if matches!(conn.as_str(), "Connecting" | "Disconnecting") {
        return Err(conn_busy());
    }
    if conn != "Connected" {
        return Err(incorrect("VpcEndpointConnection", &ep));
    }
    let z = e.zones.iter_mut().find(|z| z.zone_id == zone).ok_or_else(|| not_found_404("VpcEndpointZone"))?;
    let want = if enable { "Disconnected" } else { "Connected" };
    if z.status(&conn) != want {
        return Err(incorrect("VpcEndpointZone", &zone));
    }
    dry_run(p)?;
    let mut phase = Phase::new(if enable { "Connected" } else { "Disconnected" });
    if !ctx.timing.update.is_zero() {
        phase.enter(if enable { "Connecting" } else { "Disconnecting" }, ctx.now, ctx.timing.update);
    }
    z.zone_conn = if enable && ctx.timing.update.is_zero() { None } else { Some(phase) };
    Ok(ok())
}

pub fn enable_zone(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    zone_switch(store, ctx, p, true)
}

pub fn disable_zone(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    zone_switch(store, ctx, p, false)
}

/// Admin shortcut: a connection from a phantom endpoint (it covers every zone of the service).
pub fn add_connection(
    store: &mut Store,
    service_id: &str,
    endpoint_id: Option<String>,
    owner: u64,
    status: &str,
    now: Instant,
    wall: jiff::Timestamp,
) -> Result<String, String> {
    let s =
        store.services.find_mut(service_id, now).ok_or_else(|| format!("service {service_id} not found"))?;
    let id = endpoint_id.unwrap_or_else(|| random_id("ep-"));
    if s.connections.iter().any(|c| c.endpoint_id == id) {
        return Err(format!("connection {id} exists"));
    }
    s.connections.push(Connection {
        endpoint_id: id.clone(),
        owner_id: owner,
        phase: Phase::new(status),
        bandwidth: 3072,
        traffic_control_mode: "Scalability".into(),
        modified_time: fmt_time(wall),
        zones: vec![],
        vpc_id: "vpc-sim-consumer".into(),
        has_endpoint: false,
    });
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::{super::testenv::Env, add_connection};

    #[test]
    fn connection_states_gate_the_provider() {
        let mut env = Env::new();
        let id = env
            .create("RegionId=cn-hangzhou&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-sim-slb-001");
        let ep = add_connection(&mut env.store, &id, None, 42, "Connected", env.t0, jiff::Timestamp::now())
            .unwrap();
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        let e = format!("{q}&EndpointId={ep}");
        let steps: Vec<(u64, &str, String, &str)> = vec![
            (3, "DeleteVpcEndpointService", q.clone(), "EndpointServiceConnectionDependence"),
            (
                3,
                "DetachResourceFromVpcEndpointService",
                format!("{q}&ResourceId=lb-sim-slb-001"),
                "EndpointServiceConnectionDependence",
            ),
            (
                3,
                "EnableVpcEndpointConnection",
                format!("{q}&EndpointId=ep-none"),
                "EndpointConnectionNotFound",
            ),
            (
                3,
                "UpdateVpcEndpointConnectionAttribute",
                format!("{q}&EndpointId=ep-none&Bandwidth=200"),
                "EndpointNotFound",
            ),
            (3, "UpdateVpcEndpointConnectionAttribute", format!("{e}&Bandwidth=200"), "OK"),
            (3, "DisableVpcEndpointConnection", e.clone(), "OK"),
            (3, "EnableVpcEndpointConnection", e.clone(), "EndpointConnectionOperationDenied"),
            (3, "DeleteVpcEndpointService", q.clone(), "EndpointServiceConnectionDependence"),
            (4, "DetachResourceFromVpcEndpointService", format!("{q}&ResourceId=lb-sim-slb-001"), "OK"),
            (5, "DeleteVpcEndpointService", q.clone(), "OK"),
        ];
        for (at, action, query, want) in steps {
            assert_eq!(env.code(at, action, &query), want, "{action}@{at} {query}");
        }
    }

    #[test]
    fn nlb_connection_bandwidth_is_fixed() {
        let mut env = Env::new();
        let id = env.create(super::super::testenv::BASE);
        let ep = add_connection(&mut env.store, &id, None, 42, "Connected", env.t0, jiff::Timestamp::now())
            .unwrap();
        let e = format!("RegionId=cn-hangzhou&ServiceId={id}&EndpointId={ep}");
        assert_eq!(
            env.code(3, "UpdateVpcEndpointConnectionAttribute", &format!("{e}&Bandwidth=200")),
            "UpdateBandWidthUnSupported"
        );
        assert_eq!(
            env.code(
                3,
                "UpdateVpcEndpointConnectionAttribute",
                &format!("{e}&TrafficControlMode=BandwidthLimit")
            ),
            "OK"
        );
    }
}
