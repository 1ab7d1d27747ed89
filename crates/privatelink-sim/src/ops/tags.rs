//! Tags and resource groups of services and endpoints: Tag/Untag/ListTagResources,
//! ChangeResourceGroup (reference §7.17–7.20).

use serde_json::{Value, json};

use super::{
    Ctx, TagCodes, check_tags, dry_run, duplicated_tag_key, ok, page_params, paginate, quota_tags, region,
    tags_match,
};
use crate::{
    error::{ApiError, ApiResult},
    model::Store,
    params::Params,
    world::World,
};

/// What a tag call addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Endpoint,
}

impl Kind {
    /// The tag APIs' lowercase names (compared case-insensitively, as clients send both).
    fn from_tag_api(p: &Params) -> ApiResult<Self> {
        let t = p.req("ResourceType")?;
        if t.eq_ignore_ascii_case("vpcendpointservice") {
            Ok(Kind::Service)
        } else if t.eq_ignore_ascii_case("vpcendpoint") {
            Ok(Kind::Endpoint)
        } else {
            Err(ApiError::illegal("ResourceType"))
        }
    }
    fn wire(self) -> &'static str {
        match self {
            Kind::Service => "vpcendpointservice",
            Kind::Endpoint => "vpcendpoint",
        }
    }
}

/// The tags of every resource of `kind` in the caller's account and `region` (id, tags), settled.
fn tag_sets<'s>(
    store: &'s mut Store,
    ctx: &Ctx,
    region: &str,
    kind: Kind,
) -> Vec<(&'s str, &'s mut Vec<(String, String)>)> {
    let now = ctx.now;
    match kind {
        Kind::Service => store
            .services
            .settled(now)
            .filter(|s| s.account_id == ctx.account && s.region_id == region)
            .map(|s| (s.service_id.as_str(), &mut s.tags))
            .collect(),
        Kind::Endpoint => store
            .endpoints
            .settled(now)
            .filter(|e| e.account_id == ctx.account && e.region_id == region)
            .map(|e| (e.endpoint_id.as_str(), &mut e.tags))
            .collect(),
    }
}

/// `ResourceId.N`: 1..=50 ids that all exist.
fn targets<'s>(
    store: &'s mut Store,
    ctx: &Ctx,
    region: &str,
    kind: Kind,
    ids: &[String],
) -> ApiResult<Vec<&'s mut Vec<(String, String)>>> {
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    if ids.len() > 50 {
        return Err(ApiError::illegal("ResourceId"));
    }
    let sets = tag_sets(store, ctx, region, kind);
    if let Some(missing) = ids.iter().find(|id| !sets.iter().any(|(sid, _)| sid == id)) {
        return Err(ApiError::bad(
            "InvalidResourceId.NotFound",
            format!("The specified resource {missing} does not exist."),
        ));
    }
    Ok(sets.into_iter().filter(|(id, _)| ids.iter().any(|i| i == id)).map(|(_, t)| t).collect())
}

pub fn tag(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = Kind::from_tag_api(p)?;
    let ids = p.list("ResourceId")?;
    let tags = check_tags(p, "Tag", TagCodes::TagApi)?;
    if tags.is_empty() {
        return Err(ApiError::bad("MissingTagKeyParam", "The Tag.N.Key is missing."));
    }
    let dry = p.bool("DryRun")? == Some(true);
    let targets = targets(store, ctx, &region, kind, &ids)?;
    for t in &targets {
        let extra = tags.iter().filter(|(k, _)| !t.iter().any(|(tk, _)| tk == k)).count();
        if t.len() + extra > 20 {
            return Err(quota_tags());
        }
    }
    if dry {
        return Err(ApiError::dry_run());
    }
    for t in targets {
        for (k, v) in &tags {
            match t.iter_mut().find(|(tk, _)| tk == k) {
                Some(e) => e.1 = v.clone(),
                None => t.push((k.clone(), v.clone())),
            }
        }
    }
    Ok(ok())
}

pub fn untag(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = Kind::from_tag_api(p)?;
    let ids = p.list("ResourceId")?;
    let keys = p.list("TagKey")?;
    let all = p.bool("All")?.unwrap_or(false);
    if keys.len() > 20 {
        return Err(ApiError::illegal("TagKey"));
    }
    for (i, k) in keys.iter().enumerate() {
        let l = k.to_ascii_lowercase();
        if k.is_empty()
            || k.chars().count() > 64
            || l.starts_with("aliyun")
            || l.starts_with("acs:")
            || l.contains("http://")
            || l.contains("https://")
        {
            return Err(ApiError::bad("IllegalTagKeyParam", format!("The TagKey.{} is illegal.", i + 1)));
        }
        if keys[..i].contains(k) {
            return Err(duplicated_tag_key(k));
        }
    }
    if keys.is_empty() && !all {
        return Err(ApiError::missing("TagKey"));
    }
    let dry = p.bool("DryRun")? == Some(true);
    let targets = targets(store, ctx, &region, kind, &ids)?;
    if let Some(k) = keys.iter().find(|k| !targets.iter().any(|t| t.iter().any(|(tk, _)| tk == *k))) {
        return Err(ApiError::bad(
            "TagInfoNotExist",
            format!("The tag {k} does not exist on the resources."),
        ));
    }
    if dry {
        return Err(ApiError::dry_run());
    }
    for t in targets {
        if keys.is_empty() {
            t.clear();
        } else {
            t.retain(|(k, _)| !keys.contains(k));
        }
    }
    Ok(ok())
}

pub fn list(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let region = region(world, p)?.id.clone();
    let kind = Kind::from_tag_api(p)?;
    let ids = p.list("ResourceId")?;
    check_tags(p, "Tag", TagCodes::TagFilter)?;
    let filter = p.struct_list("Tag")?;
    if ids.is_empty() && filter.is_empty() {
        return Err(ApiError::bad(
            "MissingResourceIdOrTagParam",
            "At least one of ResourceId.N and Tag.N must be given.",
        ));
    }
    let (start, size) = page_params(p, 1000)?;
    let mut rows = Vec::new();
    for (id, tags) in tag_sets(store, ctx, &region, kind) {
        if (!ids.is_empty() && !ids.iter().any(|i| i == id)) || !tags_match(tags, &filter) {
            continue;
        }
        for (k, v) in tags.iter() {
            rows.push(json!({"ResourceId": id, "ResourceType": kind.wire(), "TagKey": k, "TagValue": v}));
        }
    }
    let (page, next) = paginate(rows, start, size);
    Ok(json!({"TagResources": page, "NextToken": next}))
}

pub fn change_resource_group(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let missing = |name: &str| {
        ApiError::bad(format!("MissingParameter.{name}"), format!("The parameter {name} is required."))
    };
    let id = p.opt("ResourceId").ok_or_else(|| missing("ResourceId"))?.to_string();
    let rg = p.opt("ResourceGroupId").ok_or_else(|| missing("ResourceGroupId"))?.to_string();
    // The schema's enum, CamelCase; the default is VpcEndpoint.
    let kind = match p.opt("ResourceType").unwrap_or("VpcEndpoint") {
        "VpcEndpoint" => Kind::Endpoint,
        "VpcEndpointService" => Kind::Service,
        _ => return Err(ApiError::illegal("ResourceType")),
    };
    let group = world.resource_group(ctx.account, &rg).ok_or_else(|| {
        ApiError::bad("InvalidResourceGroup", format!("The resource group {rg} is invalid."))
    })?;
    if !group.writable {
        return Err(ApiError::bad(
            "NoPermission.ChangeResourceGroup",
            format!("You are not authorized to move resources into {rg}."),
        ));
    }
    let region = p.opt("ResourceRegionId").or(p.opt("RegionId"));
    let not_found = || ApiError::bad("ResourceNotFound", format!("The resource {id} is not found."));
    let slot = match kind {
        Kind::Service => store
            .services
            .find_mut(&id, ctx.now)
            .filter(|s| s.account_id == ctx.account && region.is_none_or(|r| r == s.region_id))
            .map(|s| &mut s.resource_group_id),
        Kind::Endpoint => store
            .endpoints
            .find_mut(&id, ctx.now)
            .filter(|e| e.account_id == ctx.account && region.is_none_or(|r| r == e.region_id))
            .map(|e| &mut e.resource_group_id),
    }
    .ok_or_else(not_found)?;
    dry_run(p)?;
    *slot = rg;
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::super::testenv::Env;

    #[test]
    fn tag_api_codes() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        let q = format!("RegionId=cn-hangzhou&ResourceType=vpcendpointservice&ResourceId.1={id}");
        let many: String = (1..=19).map(|i| format!("&Tag.{i}.Key=k{i}&Tag.{i}.Value=v")).collect();
        let cases: Vec<(&str, String, &str)> = vec![
            ("TagResources", format!("{q}&Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=b&Tag.2.Value=2"), "OK"),
            ("TagResources", format!("{q}&Tag.1.Value=1"), "MissingTagKeyParam"),
            ("TagResources", format!("{q}&Tag.1.Key=a"), "MissingTagValueParam"),
            ("TagResources", format!("{q}&Tag.1.Key=aliyun:x&Tag.1.Value=1"), "IllegalTagKeyParam"),
            ("TagResources", format!("{q}&Tag.1.Key=x&Tag.1.Value=acs:1"), "IllegalTagValueParam"),
            ("TagResources", format!("{q}&Tag.1.Key=x&Tag.1.Value=1&Tag.2.Key=x&Tag.2.Value=2"), "DuplicatedTagKey"),
            ("TagResources", format!("{q}{many}"), "QuotaExceed.TagsPerResource"),
            ("TagResources", "RegionId=cn-hangzhou&ResourceType=vpcendpointservice&ResourceId.1=epsrv-none&Tag.1.Key=a&Tag.1.Value=1".into(), "InvalidResourceId.NotFound"),
            ("UntagResources", format!("{q}&TagKey.1=nope"), "TagInfoNotExist"),
            ("UntagResources", format!("{q}&TagKey.1=a&TagKey.2=a"), "DuplicatedTagKey"),
            ("UntagResources", format!("{q}&TagKey.1=https://a"), "IllegalTagKeyParam"),
            ("UntagResources", format!("{q}&TagKey.1=a"), "OK"),
            ("ListTagResources", "RegionId=cn-hangzhou&ResourceType=vpcendpointservice".into(), "MissingResourceIdOrTagParam"),
            ("ListTagResources", "RegionId=cn-hangzhou&ResourceType=vpcendpointservice&Tag.1.Value=v".into(), "MissingTagKeyParam"),
            ("ListTagResources", "RegionId=cn-hangzhou&ResourceType=vpcendpointservice&Tag.1.Key=a&Tag.2.Key=a".into(), "DuplicatedTagKey"),
        ];
        for (action, query, want) in cases {
            assert_eq!(env.code(0, action, &query), want, "{action} {query}");
        }
        let v = env.call(0, "ListTagResources", &q).unwrap();
        assert_eq!(v["TagResources"].as_array().unwrap().len(), 1);
        assert_eq!(v["TagResources"][0]["TagKey"], "b");
    }

    #[test]
    fn change_resource_group_rules() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        let q = format!("ResourceId={id}");
        let cases: Vec<(String, &str)> = vec![
            ("ResourceGroupId=rg-sim-001".into(), "MissingParameter.ResourceId"),
            (q.clone(), "MissingParameter.ResourceGroupId"),
            // The default ResourceType is VpcEndpoint: a service id is not found as an endpoint.
            (format!("{q}&ResourceGroupId=rg-sim-001"), "ResourceNotFound"),
            (format!("{q}&ResourceGroupId=rg-nope&ResourceType=VpcEndpointService"), "InvalidResourceGroup"),
            (
                format!("{q}&ResourceGroupId=rg-sim-locked&ResourceType=VpcEndpointService"),
                "NoPermission.ChangeResourceGroup",
            ),
            (format!("{q}&ResourceGroupId=rg-sim-001&ResourceType=VpcEndpointService"), "OK"),
        ];
        for (query, want) in cases {
            assert_eq!(env.code(0, "ChangeResourceGroup", &query), want, "{query}");
        }
        let v = env
            .call(0, "GetVpcEndpointServiceAttribute", &format!("RegionId=cn-hangzhou&ServiceId={id}"))
            .unwrap();
        assert_eq!(v["ResourceGroupId"], "rg-sim-001");
    }
}
