//! Endpoint services: Create, Get, Update, Delete, List (reference §7.1–7.5).

use serde_json::{Value, json};

use super::{
    Ctx, LB_TYPES, TagCodes, bool_filter, check_tags, dry_run, enum_param, ok, page_params, paginate,
    random_id, region, require_active, resources::check_resource, service, tags_match,
};
use crate::{
    error::{ApiError, ApiResult},
    model::{Liveness, Phase, Service, ServiceResource, Store, Task},
    params::Params,
    world::{DEFAULT_RESOURCE_GROUP, World},
};

pub fn check_description(p: &Params) -> ApiResult<Option<String>> {
    match p.get("ServiceDescription") {
        Some(d) if d.chars().count() > 180 => Err(ApiError::illegal("ServiceDescription")),
        d => Ok(d.map(String::from)),
    }
}

pub fn check_ip_version(kind: &str, version: &str) -> ApiResult<()> {
    if version == "DualStack" && matches!(kind, "slb" | "alb") {
        return Err(ApiError::bad(
            "OperationDenied.ResourceTypeNotSupportDualStack",
            "The specified resource type does not support dualstack.",
        ));
    }
    Ok(())
}

pub fn ip_version_mismatch() -> ApiError {
    ApiError::bad(
        "OperationDenied.ServiceResourceIpVersionMismatch",
        "The endpoint service and service resource AddressIpVersion do not match.",
    )
}

pub fn create(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
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
    let tags = check_tags(p, "Tag", TagCodes::Params)?;
    let raw = p.struct_list("Resource")?;
    if raw.len() > 10 {
        return Err(ApiError::illegal("Resource"));
    }
    let mut resources: Vec<ServiceResource> = Vec::new();
    for (n, f) in &raw {
        let field = |name: &str| f.get(name).map(String::as_str).filter(|s| !s.is_empty());
        let kind =
            field("ResourceType").ok_or_else(|| ApiError::missing(&format!("Resource.{n}.ResourceType")))?;
        let id = field("ResourceId").ok_or_else(|| ApiError::missing(&format!("Resource.{n}.ResourceId")))?;
        if !LB_TYPES.contains(&kind) {
            return Err(ApiError::illegal(&format!("Resource.{n}.ResourceType")));
        }
        let r = check_resource(world, ctx.account, region, rtype, kind, id, field("ZoneId"))?;
        if !resources.iter().any(|x| x.id == r.id && x.zone == r.zone) {
            resources.push(r);
        }
    }
    if ipv == "DualStack" && resources.iter().any(|r| !r.dual_stack) {
        return Err(ip_version_mismatch());
    }
    if ipv6 && (matches!(rtype, "slb" | "alb") || resources.iter().any(|r| !r.dual_stack)) {
        return Err(ApiError::bad(
            "EndpointServiceNotSupportIpv6",
            "The param supportIpv6 of EndpointService is forbidden , resource is not support ipv6.",
        ));
    }
    if payer == "EndpointService" && !world.account(ctx.account).is_some_and(|a| a.payer_whitelisted) {
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
        resource_group_id: p.opt("ResourceGroupId").unwrap_or(DEFAULT_RESOURCE_GROUP).into(),
        tags,
        resources,
        users: vec![],
        user_arns: vec![],
        supported_regions,
        connections: vec![],
        create_time: ctx.time_str(),
        business_status: "Normal".into(),
        phase: Phase::new(""),
        task: None,
    };
    s.transition("Creating", ctx.now, ctx.timing.create);
    let body = json!({
        "ServiceId": s.service_id,
        "ServiceName": s.service_name,
        "ServiceDomain": s.service_domain,
        "ServiceStatus": s.status(),
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
    store.services.insert(s);
    Ok(body)
}

pub fn service_body(s: &Service) -> Value {
    json!({
        "ServiceId": s.service_id,
        "ServiceName": s.service_name,
        "ServiceDomain": s.service_domain,
        "ServiceDescription": s.description,
        "ServiceStatus": s.status(),
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

pub fn get(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let s = service(store, ctx, p)?;
    let mut body = service_body(s);
    body["Zones"] = json!(s.zones());
    Ok(body)
}

pub fn update(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
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
    let add = p.list("AddSupportedRegionSet")?;
    let del = p.list("DeleteSupportedRegionSet")?;
    let s = service(store, ctx, p)?;
    require_active(s, true)?;
    if let Some(v) = ipv {
        check_ip_version(&s.resource_type, v)?;
        if v == "DualStack" && s.resources.iter().any(|r| !r.dual_stack) {
            return Err(ip_version_mismatch());
        }
    }
    if ipv6 == Some(true)
        && (matches!(s.resource_type.as_str(), "slb" | "alb") || s.resources.iter().any(|r| !r.dual_stack))
    {
        return Err(ApiError::bad(
            "ServiceResourceNotSupportIpv6",
            "The service resource of the endpoint service does not support IPv6.",
        ));
    }
    if bw.is_some() && s.bandwidth_fixed() {
        return Err(update_bandwidth_unsupported());
    }
    // Taking IPv6 away from consumers that use the service (INFERRED trigger).
    let downgrade = (ipv == Some("IPv4") && s.address_ip_version == "DualStack")
        || (ipv6 == Some(false) && s.support_ipv6);
    if downgrade && s.connections.iter().any(|c| c.holds_resources()) {
        return Err(ApiError::bad(
            "EndpointServiceDowngradeNotAllowed",
            "The IP version of an endpoint service with connected endpoints cannot be downgraded.",
        ));
    }
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
    s.task = Some(Task::Attribute);
    s.transition("Pending", ctx.now, ctx.timing.update);
    Ok(ok())
}

pub fn update_bandwidth_unsupported() -> ApiError {
    ApiError::bad("UpdateBandWidthUnSupported", "The bandwidth of this endpoint service cannot be changed.")
}

pub fn delete(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let s = service(store, ctx, p)?;
    require_active(s, false)?;
    if s.connections.iter().any(|c| c.holds_resources()) {
        return Err(ApiError::bad(
            "EndpointServiceConnectionDependence",
            "You cannot delete EndpointService with Endpoint connected.",
        ));
    }
    if s.connections.iter().any(|c| c.status() == "Pending") {
        return Err(ApiError::bad(
            "DeleteFailedDueToEndpointExist",
            "The specified EndpointService id deleted failed , due to EndpointExist.",
        ));
    }
    if !s.resources.is_empty() {
        return Err(ApiError::bad(
            "EndpointServiceDependenceViolation",
            "The specified EndpointService already contains a resource.",
        ));
    }
    dry_run(p)?;
    let id = s.service_id.clone();
    if s.transition("Deleting", ctx.now, ctx.timing.delete) == Liveness::Gone {
        store.services.remove(&id);
    }
    Ok(ok())
}

pub fn list(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let (start, size) = page_params(p, 1000)?;
    let tag_filter = p.struct_list("Tag")?;
    let f = |name: &str| p.opt(name);
    let mut items = Vec::new();
    for s in store.services.settled(ctx.now) {
        if s.account_id != ctx.account || s.region_id != region {
            continue;
        }
        let eq = |name: &str, v: &str| f(name).is_none_or(|x| x == v);
        let keep = eq("ServiceId", &s.service_id)
            && eq("ServiceName", &s.service_name)
            && eq("ServiceStatus", s.status())
            && eq("ServiceBusinessStatus", &s.business_status)
            && eq("ServiceResourceType", &s.resource_type)
            && eq("ResourceGroupId", &s.resource_group_id)
            && eq("AddressIpVersion", &s.address_ip_version)
            && f("ResourceId").is_none_or(|r| s.resources.iter().any(|x| x.id == r))
            && bool_filter(p, "AutoAcceptEnabled", s.auto_accept)?
            && bool_filter(p, "ZoneAffinityEnabled", s.zone_affinity)?
            && tags_match(&s.tags, &tag_filter);
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

#[cfg(test)]
mod tests {
    use super::super::testenv::{BASE, Env};
    use crate::world::{ACCOUNT_DEFAULT, ACCOUNT_OTHER};

    #[test]
    fn create_validation_table() {
        let long = "x".repeat(181);
        let long_key = "k".repeat(65);
        let many_tags: String = (1..=21).map(|i| format!("&Tag.{i}.Key=k{i}&Tag.{i}.Value=v")).collect();
        let many_res: String = (1..=11)
            .map(|i| format!("&Resource.{i}.ResourceType=slb&Resource.{i}.ResourceId=lb-sim-slb-001"))
            .collect();
        let hz = "RegionId=cn-hangzhou";
        let cases: Vec<(String, &str)> = vec![
            ("ServiceResourceType=slb".into(), "MissingParam.RegionId"),
            ("RegionId=cn-nowhere".into(), "RegionNotFound"),
            (format!("{hz}&Payer=Me"), "IllegalParamFormat.Payer"),
            (format!("{hz}&ServiceResourceType=elb"), "IllegalParamFormat.ServiceResourceType"),
            (format!("{hz}&AddressIpVersion=IPv6"), "IllegalParamFormat.AddressIpVersion"),
            (format!("{hz}&ServiceDescription={long}"), "IllegalParamFormat.ServiceDescription"),
            (format!("{hz}{many_tags}"), "IllegalParamFormat.Tag"),
            (format!("{hz}{many_res}"), "IllegalParamFormat.Resource"),
            (format!("{hz}&AutoAcceptEnabled=maybe"), "IllegalParamFormat.AutoAcceptEnabled"),
            (format!("{hz}&Tag.1.Key={long_key}"), "IllegalParamFormat.Tag.1.Key"),
            (format!("{hz}&Tag.1.Key=aliyun-x"), "IllegalParamFormat.Tag.1.Key"),
            (format!("{hz}&Tag.1.Key=ACS:x"), "IllegalParamFormat.Tag.1.Key"),
            (format!("{hz}&Tag.1.Key=a&Tag.2.Key=https://x"), "IllegalParamFormat.Tag.2.Key"),
            (format!("{hz}&Tag.1.Key=a&Tag.1.Value={}", "v".repeat(129)), "IllegalParamFormat.Tag.1.Value"),
            (format!("{hz}&Tag.1.Key=a&Tag.1.Value=aliyun-v"), "IllegalParamFormat.Tag.1.Value"),
            (format!("{hz}&Tag.1.Key=a&Tag.1.Value=acs:v"), "IllegalParamFormat.Tag.1.Value"),
            (format!("{hz}&Tag.1.Value=v"), "MissingParam.Tag.1.Key"),
            (format!("{hz}&Resource.1.ResourceId=lb-sim-slb-001"), "MissingParam.Resource.1.ResourceType"),
            (
                format!("{hz}&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-nope"),
                "LoadBalancerNotFound",
            ),
            (
                format!(
                    "{hz}&ServiceResourceType=alb&Resource.1.ResourceType=alb&Resource.1.ResourceId=alb-nope&Resource.1.ZoneId=cn-hangzhou-h"
                ),
                "AlbNotFound",
            ),
            (
                format!("{hz}&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-sim-noplink"),
                "LoadBalancerNotSupportPrivateLink",
            ),
            (
                format!(
                    "{hz}&Resource.1.ResourceType=nlb&Resource.1.ResourceId=nlb-sim-001&Resource.1.ZoneId=cn-hangzhou-h"
                ),
                "Mismatch.ResourceType",
            ),
            // Declared nlb, but the id is a CLB.
            (
                format!(
                    "{hz}&ServiceResourceType=nlb&Resource.1.ResourceType=nlb&Resource.1.ResourceId=lb-sim-slb-001&Resource.1.ZoneId=cn-hangzhou-h"
                ),
                "Mismatch.ResourceType",
            ),
            (BASE.replace("ZoneId=cn-hangzhou-h", "ZoneId=cn-beijing-a"), "EndpointServiceNotSupportedZone"),
            (BASE.replace("ZoneId=cn-hangzhou-h", "ZoneId=cn-hangzhou-k"), "EndpointServiceNotSupportedZone"),
            (BASE.replace("&Resource.1.ZoneId=cn-hangzhou-h", ""), "MissingParam.ZoneId"),
            (format!("{hz}&AddressIpVersion=DualStack"), "OperationDenied.ResourceTypeNotSupportDualStack"),
            (format!("{hz}&ServiceSupportIPv6=true"), "EndpointServiceNotSupportIpv6"),
            (format!("{BASE}&DryRun=true"), "DryRunOperation"),
        ];
        for (q, want) in cases {
            let mut env = Env::new();
            assert_eq!(env.code(0, "CreateVpcEndpointService", &q), want, "query {q}");
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
        let nlb2 = "&ResourceId=nlb-sim-002&ResourceType=nlb&ZoneId=cn-hangzhou-i";
        let nlb1 = "&ResourceId=nlb-sim-001&ResourceType=nlb&ZoneId=cn-hangzhou-h";
        // (time, action, extra params, expected code, expected status after)
        let steps: Vec<(u64, &str, &str, &str, Option<&str>)> = vec![
            (0, "GetVpcEndpointServiceAttribute", "", "OK", Some("Creating")),
            (
                1,
                "UpdateVpcEndpointServiceAttribute",
                "&ServiceDescription=x",
                "EndpointServiceOperationDenied",
                Some("Creating"),
            ),
            (1, "DeleteVpcEndpointService", "", "EndpointServiceOperationDenied", Some("Creating")),
            (2, "GetVpcEndpointServiceAttribute", "", "OK", Some("Active")),
            (2, "UpdateVpcEndpointServiceAttribute", "&ServiceDescription=x", "OK", Some("Pending")),
            (
                2,
                "AttachResourceToVpcEndpointService",
                nlb2,
                "EndpointServiceOperationDenied",
                Some("Pending"),
            ),
            (3, "AttachResourceToVpcEndpointService", nlb2, "OK", Some("Pending")),
            // A resource task locks the service: Update is refused with the transient lock code.
            (
                3,
                "UpdateVpcEndpointServiceAttribute",
                "&ServiceDescription=y",
                "EndpointServiceLocked",
                Some("Pending"),
            ),
            (
                4,
                "DetachResourceFromVpcEndpointService",
                "&ResourceId=nlb-sim-002&ResourceType=nlb",
                "MissingParam.ZoneId",
                Some("Active"),
            ),
            (
                4,
                "DetachResourceFromVpcEndpointService",
                "&ResourceId=nlb-sim-002&ResourceType=nlb&ZoneId=cn-hangzhou-i",
                "OK",
                Some("Pending"),
            ),
            (5, "DeleteVpcEndpointService", "", "EndpointServiceDependenceViolation", Some("Active")),
            (5, "DetachResourceFromVpcEndpointService", nlb1, "OK", Some("Pending")),
            (6, "DeleteVpcEndpointService", "&DryRun=True", "DryRunOperation", Some("Active")),
            (6, "DeleteVpcEndpointService", "", "OK", Some("Deleting")),
            (7, "DeleteVpcEndpointService", "", "EndpointServiceOperationDenied", Some("Deleting")),
            (8, "GetVpcEndpointServiceAttribute", "", "EndpointServiceNotFound", None),
        ];
        for (at, action, extra, want, want_status) in steps {
            assert_eq!(env.code(at, action, &format!("{sid}{extra}")), want, "{action}{extra}@{at}");
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
        assert_eq!(v["Zones"], serde_json::json!(["cn-hangzhou-h"]));
        assert_eq!(
            env.code(3, "UpdateVpcEndpointServiceAttribute", &format!("{q}&ConnectBandwidth=200")),
            "UpdateBandWidthUnSupported"
        );
        assert_eq!(
            env.code(3, "UpdateVpcEndpointServiceAttribute", &format!("{q}&ServiceSupportIPv6=true")),
            "OK",
            "the NLB is dual-stack"
        );
        let slb = env
            .create("RegionId=cn-hangzhou&Resource.1.ResourceType=slb&Resource.1.ResourceId=lb-sim-slb-001");
        let q = format!("RegionId=cn-hangzhou&ServiceId={slb}");
        let v = env.call(0, "GetVpcEndpointServiceAttribute", &q).unwrap();
        assert_eq!(v["ConnectBandwidth"], 3072);
        assert_eq!(
            env.code(3, "UpdateVpcEndpointServiceAttribute", &format!("{q}&ServiceSupportIPv6=true")),
            "ServiceResourceNotSupportIpv6"
        );
        assert!(id.len() == 26 && id[6..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn financial_lock_denies_writes() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        env.store.services.find_mut(&id, env.t0).unwrap().business_status = "FinancialLocked".into();
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        for action in ["UpdateVpcEndpointServiceAttribute", "DeleteVpcEndpointService"] {
            assert_eq!(env.code(3, action, &q), "EndpointServiceOperationDenied", "{action}");
        }
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
}
