//! The service whitelist: Add/Remove/ListVpcEndpointServiceUsers (reference §7.10–7.12).

use serde_json::{Value, json};

use super::{Ctx, dry_run, ok, page_params, paginate, require_active, service};
use crate::{
    error::{ApiError, ApiResult},
    model::{Store, arn_account},
    params::Params,
    world::World,
};

/// The principal of an Add/Remove call: `UserId`, `UserARN`, or both naming the same account.
fn principal(p: &Params) -> ApiResult<(Option<u64>, Option<String>)> {
    let user = p.int("UserId")?;
    let arn = p.opt("UserARN").map(String::from);
    if user.is_some_and(|u| u <= 0) {
        return Err(ApiError::illegal("UserId"));
    }
    let arn_acct = match &arn {
        Some(a) => Some(arn_account(a).ok_or_else(|| ApiError::illegal("UserARN"))?.to_string()),
        None => None,
    };
    match (user, &arn_acct) {
        (None, None) => Err(ApiError::bad("MissingParam.UserArn", "The param UserId or UserARN is missing.")),
        (Some(u), Some(a)) if a != "*" && *a != u.to_string() => Err(ApiError::bad(
            "Mismatch.UserIdAndUserArn",
            "The specified UserId and UserARN do not belong to the same account.",
        )),
        _ => Ok((user.map(|u| u as u64), arn)),
    }
}

fn change(store: &mut Store, ctx: &Ctx, p: &Params, add: bool) -> ApiResult<Value> {
    let (user, arn) = principal(p)?;
    let s = service(store, ctx, p)?;
    require_active(s, false)?;
    dry_run(p)?;
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

pub fn add(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    change(store, ctx, p, true)
}

pub fn remove(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    change(store, ctx, p, false)
}

pub fn list(store: &mut Store, _: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let (start, size) = page_params(p, 50)?;
    let filter = p.int("UserId")?;
    let list_type = p.opt("UserListType").unwrap_or("Users");
    if !matches!(list_type, "Users" | "UserARNs" | "UserARN") {
        return Err(ApiError::illegal("UserListType"));
    }
    let s = service(store, ctx, p)?;
    let (users, arns): (Vec<Value>, Vec<Value>) = if list_type == "Users" {
        let u = s.users.iter().filter(|u| filter.is_none_or(|f| f as u64 == **u));
        (u.map(|u| json!({"UserId": u})).collect(), vec![])
    } else {
        (vec![], s.user_arns.iter().map(|a| json!({"UserARN": a})).collect())
    };
    let total = users.len() + arns.len();
    let (users, next_u) = paginate(users, start, size);
    let (arns, next_a) = paginate(arns, start, size);
    let next = if next_u.is_empty() { next_a } else { next_u };
    Ok(json!({"Users": users, "UserARNs": arns, "NextToken": next, "MaxResults": size,
              "TotalCount": total.to_string()}))
}

#[cfg(test)]
mod tests {
    use super::super::testenv::Env;

    #[test]
    fn whitelist_rules() {
        let mut env = Env::new();
        let id = env.create("RegionId=cn-hangzhou");
        let q = format!("RegionId=cn-hangzhou&ServiceId={id}");
        let add = "AddUserToVpcEndpointService";
        let cases: Vec<(u64, &str, String, &str)> = vec![
            (0, add, format!("{q}&UserId=2234567890123456"), "EndpointServiceOperationDenied"),
            (3, add, q.clone(), "MissingParam.UserArn"),
            (
                3,
                add,
                format!("{q}&UserId=2234567890123456&UserARN=acs:ram:*:3234567890123456:*"),
                "Mismatch.UserIdAndUserArn",
            ),
            (3, add, format!("{q}&UserARN=nonsense"), "IllegalParamFormat.UserARN"),
            (3, add, "RegionId=cn-hangzhou&ServiceId=epsrv-none&UserId=1".into(), "EndpointServiceNotFound"),
            (3, add, format!("{q}&UserId=2234567890123456&UserARN=acs:ram:*:2234567890123456:*"), "OK"),
            (3, "RemoveUserFromVpcEndpointService", format!("{q}&UserId=2234567890123456"), "OK"),
        ];
        for (at, action, query, want) in cases {
            assert_eq!(env.code(at, action, &query), want, "{action} {query}");
        }
        let v = env.call(3, "ListVpcEndpointServiceUsers", &format!("{q}&UserListType=UserARNs")).unwrap();
        assert_eq!(v["UserARNs"][0]["UserARN"], "acs:ram:*:2234567890123456:*");
        let v = env.call(3, "ListVpcEndpointServiceUsers", &q).unwrap();
        assert_eq!(v["TotalCount"], "0");
    }
}
