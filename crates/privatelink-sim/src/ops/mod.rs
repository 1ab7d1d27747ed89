//! The operations: parameters in, JSON body out. No I/O; time is passed in.
//!
//! One file per API area and one table ([`PRIVATELINK`], [`sts::STS`]) from action name to handler:
//! adding an operation touches its area's file and one row here. Each handler checks in the order
//! the real service does, as far as the reference shows it: parameters → existence → ownership →
//! state → dependencies, then `DryRun`, then the change.

use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    model::{Service, Store, Timing},
    params::Params,
    world::{Region, World},
};

pub mod connections;
pub mod endpoints;
pub mod resources;
pub mod services;
pub mod sts;
pub mod tags;
pub mod users;

/// Call context: who calls, and when.
pub struct Ctx<'a> {
    /// The caller's account (empty for anonymous calls).
    pub account: &'a str,
    /// The caller's identity (access key id, or `<role ARN>/<session>` for STS credentials).
    pub principal: &'a str,
    /// Whether the caller signs with STS credentials.
    pub sts_caller: bool,
    pub now: Instant,
    /// Wall-clock time, for CreateTime/ModifiedTime and STS expirations.
    pub wall: jiff::Timestamp,
    pub timing: Timing,
    /// Upper bound on issued STS credentials' lifetime.
    pub sts_duration: Duration,
}

impl Ctx<'_> {
    pub fn time_str(&self) -> String {
        fmt_time(self.wall)
    }
}

pub fn fmt_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub type Handler = fn(&mut Store, &World, &Ctx, &Params) -> ApiResult<Value>;

/// How a call authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Signed with an access key (V1 or V3).
    Signed,
    /// No signature and no key (STS `AssumeRoleWithOIDC`: the OIDC token is the credential).
    Anonymous,
}

/// One row of an action table.
pub struct Op {
    pub action: &'static str,
    /// Changes state: `ClientToken` idempotency applies.
    pub mutating: bool,
    pub auth: Auth,
    pub handler: Handler,
}

const fn read(action: &'static str, handler: Handler) -> Op {
    Op { action, mutating: false, auth: Auth::Signed, handler }
}
const fn write(action: &'static str, handler: Handler) -> Op {
    Op { action, mutating: true, auth: Auth::Signed, handler }
}

/// PrivateLink `2020-04-15`.
pub const PRIVATELINK_VERSION: &str = "2020-04-15";

/// PrivateLink: action → handler.
pub const PRIVATELINK: &[Op] = &[
    write("CreateVpcEndpointService", services::create),
    read("GetVpcEndpointServiceAttribute", services::get),
    write("UpdateVpcEndpointServiceAttribute", services::update),
    write("DeleteVpcEndpointService", services::delete),
    read("ListVpcEndpointServices", services::list),
    write("AttachResourceToVpcEndpointService", resources::attach),
    write("DetachResourceFromVpcEndpointService", resources::detach),
    read("ListVpcEndpointServiceResources", resources::list),
    write("UpdateVpcEndpointServiceResourceAttribute", resources::update_attribute),
    write("AddUserToVpcEndpointService", users::add),
    write("RemoveUserFromVpcEndpointService", users::remove),
    read("ListVpcEndpointServiceUsers", users::list),
    write("TagResources", tags::tag),
    write("UntagResources", tags::untag),
    read("ListTagResources", tags::list),
    write("ChangeResourceGroup", tags::change_resource_group),
    write("EnableVpcEndpointConnection", connections::enable),
    write("DisableVpcEndpointConnection", connections::disable),
    write("UpdateVpcEndpointConnectionAttribute", connections::update),
    read("ListVpcEndpointConnections", connections::list),
    write("EnableVpcEndpointZoneConnection", connections::enable_zone),
    write("DisableVpcEndpointZoneConnection", connections::disable_zone),
    write("CreateVpcEndpoint", endpoints::create),
    read("GetVpcEndpointAttribute", endpoints::get),
    write("UpdateVpcEndpointAttribute", endpoints::update),
    write("DeleteVpcEndpoint", endpoints::delete),
    read("ListVpcEndpoints", endpoints::list),
    write("AddZoneToVpcEndpoint", endpoints::add_zone),
    write("RemoveZoneFromVpcEndpoint", endpoints::remove_zone),
    read("ListVpcEndpointZones", endpoints::list_zones),
    write("AttachSecurityGroupToVpcEndpoint", endpoints::attach_security_group),
    write("DetachSecurityGroupFromVpcEndpoint", endpoints::detach_security_group),
    read("ListVpcEndpointSecurityGroups", endpoints::list_security_groups),
    read("ListVpcEndpointServicesByEndUser", endpoints::list_services_by_end_user),
];

/// The table for an API version, if the simulator serves it.
pub fn table(version: &str) -> Option<&'static [Op]> {
    match version {
        PRIVATELINK_VERSION => Some(PRIVATELINK),
        sts::STS_VERSION => Some(sts::STS),
        _ => None,
    }
}

/// The row for `action` in `version`'s table.
pub fn find(version: &str, action: &str) -> Option<&'static Op> {
    table(version)?.iter().find(|op| op.action == action)
}

/// Run one PrivateLink action (used by unit tests and benchmarks that bypass HTTP).
pub fn dispatch(action: &str, store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let op = find(PRIVATELINK_VERSION, action).ok_or_else(|| {
        ApiError::new(404, "InvalidApi.NotFound", format!("Specified api is not found: {action}"))
    })?;
    (op.handler)(store, world, ctx, p)
}

// ---------- helpers shared by the areas ----------

pub const LB_TYPES: &[&str] = &["slb", "alb", "nlb", "gwlb"];
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

pub fn region<'w>(world: &'w World, p: &Params) -> ApiResult<&'w Region> {
    let r = p.req("RegionId")?;
    world
        .region(r)
        .ok_or_else(|| ApiError::bad("RegionNotFound", format!("The specified region {r} does not exist.")))
}

pub fn dry_run(p: &Params) -> ApiResult<()> {
    if p.bool("DryRun")? == Some(true) { Err(ApiError::dry_run()) } else { Ok(()) }
}

pub fn ok() -> Value {
    json!({})
}

pub fn enum_param<'a>(p: &'a Params, name: &str, allowed: &[&str], default: &'a str) -> ApiResult<&'a str> {
    match p.opt(name) {
        None => Ok(default),
        Some(v) => allowed.iter().find(|a| **a == v).map(|_| v).ok_or_else(|| ApiError::illegal(name)),
    }
}

/// The caller's service named by `RegionId` + `ServiceId`.
pub fn service<'s>(store: &'s mut Store, ctx: &Ctx, p: &Params) -> ApiResult<&'s mut Service> {
    let region = p.req("RegionId")?.to_string();
    let id = p.req("ServiceId")?;
    store.service_mut(ctx.account, Some(&region), id, ctx.now).ok_or_else(ApiError::not_found)
}

/// Gate for writes that need an `Active` service. A service busy with a resource task is locked
/// (`EndpointServiceLocked`, where the operation's table lists it); any other non-`Active` state, and
/// a `FinancialLocked` service, is `EndpointServiceOperationDenied`.
pub fn require_active(s: &Service, locked_code: bool) -> ApiResult<()> {
    if s.business_status != "Normal" {
        return Err(ApiError::operation_denied());
    }
    if s.status() == "Active" {
        return Ok(());
    }
    if locked_code && s.task == Some(crate::model::Task::Resources) {
        return Err(ApiError::locked());
    }
    Err(ApiError::operation_denied())
}

/// The `has_url` rule of tag keys and values.
fn has_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("http://") || l.contains("https://")
}

fn reserved_prefix(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("aliyun") || l.starts_with("acs:")
}

/// Which codes a tag rule violation carries: the `IllegalParamFormat.*` family (Create, ListServices
/// filters) or the tag APIs' own (`MissingTagKeyParam`, `IllegalTagKeyParam`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagCodes {
    Params,
    TagApi,
    /// The tag APIs' codes, values optional (ListTagResources filters: a key alone matches any value).
    TagFilter,
}

/// Tag rules: ≤ 20 tags; key 1–64 chars, value ≤ 128 chars, neither starting with `aliyun`/`acs:`
/// nor containing `http://`/`https://`; a key at most once.
pub fn check_tags(p: &Params, prefix: &str, codes: TagCodes) -> ApiResult<Vec<(String, String)>> {
    let list = p.struct_list(prefix)?;
    // `field` is `Key` or `Value`.
    let err = |missing: bool, n: u32, field: &str| match (codes, missing) {
        (TagCodes::Params, true) => ApiError::missing(&format!("{prefix}.{n}.{field}")),
        (TagCodes::Params, false) => ApiError::illegal(&format!("{prefix}.{n}.{field}")),
        (TagCodes::TagApi | TagCodes::TagFilter, true) => {
            ApiError::bad(format!("MissingTag{field}Param"), format!("The Tag.{n}.{field} is missing."))
        }
        (TagCodes::TagApi | TagCodes::TagFilter, false) => ApiError::bad(
            format!("IllegalTag{field}Param"),
            format!("The Tag.{n}.{field} is illegal, for the reason: invalid length or prefix."),
        ),
    };
    if list.len() > 20 {
        return Err(match codes {
            TagCodes::Params => ApiError::illegal(prefix),
            TagCodes::TagApi | TagCodes::TagFilter => quota_tags(),
        });
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, fields) in list {
        let key = fields.get("Key").map(String::as_str).unwrap_or("");
        if key.is_empty() {
            return Err(err(true, n, "Key"));
        }
        if key.chars().count() > 64 || reserved_prefix(key) || has_url(key) {
            return Err(err(false, n, "Key"));
        }
        let value = match fields.get("Value") {
            Some(v) => v.as_str(),
            None if codes == TagCodes::TagApi => return Err(err(true, n, "Value")),
            None => "",
        };
        if value.chars().count() > 128 || reserved_prefix(value) || has_url(value) {
            return Err(err(false, n, "Value"));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(match codes {
                TagCodes::Params => ApiError::illegal(&format!("{prefix}.{n}.Key")),
                TagCodes::TagApi | TagCodes::TagFilter => duplicated_tag_key(key),
            });
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

pub fn duplicated_tag_key(key: &str) -> ApiError {
    ApiError::bad("DuplicatedTagKey", format!("The tag key {key} is duplicated."))
}

pub fn quota_tags() -> ApiError {
    ApiError::bad("QuotaExceed.TagsPerResource", "The number of tags on the resource exceeds 20.")
}

/// Whether `tags` carry every `Tag.N` filter pair (a filter without value matches any value).
pub fn tags_match(
    tags: &[(String, String)],
    filter: &[(u32, std::collections::BTreeMap<String, String>)],
) -> bool {
    filter.iter().all(|(_, t)| {
        let k = t.get("Key").map(String::as_str).unwrap_or("");
        let v = t.get("Value").map(String::as_str);
        tags.iter().any(|(tk, tv)| tk == k && v.is_none_or(|v| v == tv))
    })
}

pub fn page_params(p: &Params, max: i64) -> ApiResult<(usize, usize)> {
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
pub fn paginate(items: Vec<Value>, start: usize, size: usize) -> (Vec<Value>, String) {
    let total = items.len();
    let end = (start + size).min(total);
    let next = if end < total { end.to_string() } else { String::new() };
    (items.into_iter().skip(start).take(size).collect(), next)
}

pub fn bool_filter(p: &Params, name: &str, actual: bool) -> ApiResult<bool> {
    Ok(p.bool(name)?.is_none_or(|b| b == actual))
}

#[cfg(test)]
pub(crate) mod testenv {
    //! A world, a store and a clock for the area tests.
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::{Ctx, dispatch};
    use crate::{error::ApiResult, model::Store, model::Timing, params::Params, world::World};

    pub struct Env {
        pub store: Store,
        pub world: World,
        pub t0: Instant,
    }

    pub const BASE: &str = "RegionId=cn-hangzhou&ServiceResourceType=nlb&Resource.1.ResourceType=nlb&Resource.1.ResourceId=nlb-sim-001&Resource.1.ZoneId=cn-hangzhou-h";

    impl Env {
        pub fn new() -> Self {
            Self { store: Store::default(), world: World::default_world(), t0: Instant::now() }
        }
        pub fn call_as(&mut self, account: &str, at: u64, action: &str, q: &str) -> ApiResult<Value> {
            let ctx = Ctx {
                account,
                principal: account,
                sts_caller: false,
                now: self.t0 + Duration::from_secs(at),
                wall: jiff::Timestamp::now(),
                timing: Timing::default(),
                sts_duration: Duration::from_secs(3600),
            };
            dispatch(action, &mut self.store, &self.world, &ctx, &Params::parse(q, None))
        }
        pub fn call(&mut self, at: u64, action: &str, q: &str) -> ApiResult<Value> {
            self.call_as(crate::world::ACCOUNT_DEFAULT, at, action, q)
        }
        pub fn create(&mut self, q: &str) -> String {
            let v = self.call(0, "CreateVpcEndpointService", q).unwrap();
            v["ServiceId"].as_str().unwrap().to_string()
        }
        pub fn status(&mut self, at: u64, id: &str) -> Result<String, String> {
            self.call(at, "GetVpcEndpointServiceAttribute", &format!("RegionId=cn-hangzhou&ServiceId={id}"))
                .map(|v| v["ServiceStatus"].as_str().unwrap().to_string())
                .map_err(|e| e.code)
        }
        pub fn code(&mut self, at: u64, action: &str, q: &str) -> String {
            match self.call(at, action, q) {
                Ok(_) => "OK".into(),
                Err(e) => e.code,
            }
        }
    }
}
