//! STS (`Sts` 2015-04-01): `AssumeRole` (signed: a controller reaches a second account through a RAM
//! role) and `AssumeRoleWithOIDC` (anonymous: RRSA trades a service-account token for credentials).
//! Both issue fresh temporary credentials with a real `Expiration`; a call signed with them after
//! that is refused (`InvalidSecurityToken.Expired`, in [`crate::auth`]).

use serde_json::{Value, json};

use super::{Auth, Ctx, Op, fmt_time, random_id};
use crate::{
    error::{ApiError, ApiResult},
    model::Store,
    params::Params,
    world::{AccessKey, Role, World},
};

/// STS API version.
pub const STS_VERSION: &str = "2015-04-01";

pub const STS: &[Op] = &[
    Op { action: "GetCallerIdentity", mutating: false, auth: Auth::Signed, handler: get_caller_identity },
    Op { action: "AssumeRole", mutating: false, auth: Auth::Signed, handler: assume_role },
    Op {
        action: "AssumeRoleWithOIDC",
        mutating: false,
        auth: Auth::Anonymous,
        handler: assume_role_with_oidc,
    },
];

fn invalid(name: &str) -> ApiError {
    ApiError::bad(format!("InvalidParameter.{name}"), format!("The parameter {name} is invalid."))
}

fn required<'a>(p: &'a Params, name: &str) -> ApiResult<&'a str> {
    p.opt(name).ok_or_else(|| {
        ApiError::bad(format!("MissingParameter.{name}"), format!("The input parameter {name} is mandatory."))
    })
}

fn session_name(p: &Params) -> ApiResult<&str> {
    let s = required(p, "RoleSessionName")?;
    let ok =
        (2..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c));
    if ok { Ok(s) } else { Err(invalid("RoleSessionName")) }
}

/// `acs:ram::<account>:role/<name>`, well-formed.
fn role_arn(p: &Params) -> ApiResult<&str> {
    let arn = required(p, "RoleArn")?;
    let ok =
        arn.strip_prefix("acs:ram::").and_then(|r| r.split_once(":role/")).is_some_and(|(acct, name)| {
            !acct.is_empty() && acct.chars().all(|c| c.is_ascii_digit()) && !name.is_empty()
        });
    if ok { Ok(arn) } else { Err(invalid("RoleArn")) }
}

fn duration(p: &Params, role: Option<&Role>) -> ApiResult<i64> {
    let max = role.map_or(43200, |r| r.max_session_seconds);
    match p.opt("DurationSeconds") {
        None => Ok(3600.min(max)),
        Some(d) => {
            d.parse().ok().filter(|d| (900..=max).contains(d)).ok_or_else(|| invalid("DurationSeconds"))
        }
    }
}

fn policy(p: &Params) -> ApiResult<()> {
    match p.opt("Policy") {
        None => Ok(()),
        Some(x) if x.len() > 2048 => Err(invalid("PolicySize")),
        Some(x) if serde_json::from_str::<serde_json::Map<String, Value>>(x).is_err() => {
            Err(invalid("PolicyGrammar"))
        }
        Some(_) => Ok(()),
    }
}

fn entity_not_exist() -> ApiError {
    ApiError::new(404, "EntityNotExist.Role", "The role not exists.")
}

/// Issue credentials of `role` for `seconds` (capped by the simulator's `--sts-duration-seconds`).
fn issue(store: &mut Store, ctx: &Ctx, role: &Role, session: &str, seconds: i64) -> Value {
    let lifetime = seconds.min(ctx.sts_duration.as_secs() as i64).max(1);
    let expiration = ctx.wall + jiff::SignedDuration::from_secs(lifetime);
    let principal = format!("{}/{session}", role.arn());
    let key = AccessKey {
        id: random_id("STS."),
        secret: random_id(""),
        account_id: role.account_id.clone(),
        active: true,
        security_token: Some(format!("CAIS{}{}", random_id(""), random_id(""))),
        expiration: Some(expiration),
        principal: Some(principal.clone()),
    };
    let body = json!({
        "AssumedRoleUser": { "Arn": principal, "AssumedRoleId": format!("3{}:{session}", &role.account_id) },
        "Credentials": {
            "AccessKeyId": key.id,
            "AccessKeySecret": key.secret,
            "SecurityToken": key.security_token,
            "Expiration": fmt_time(expiration),
        },
        "SourceIdentity": "",
    });
    store.sts.issue(key, ctx.wall);
    body
}

pub fn assume_role(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let arn = role_arn(p)?;
    let session = session_name(p)?;
    if let Some(e) = p.opt("ExternalId")
        && !(2..=1224).contains(&e.len())
    {
        return Err(invalid("ExternalId"));
    }
    policy(p)?;
    let role = world.role(arn).ok_or_else(entity_not_exist)?;
    let seconds = duration(p, Some(role))?;
    if !role.trusted_accounts.iter().any(|a| a == ctx.account) {
        return Err(ApiError::new(403, "NoPermission", "You are not authorized to assume this role."));
    }
    let role = role.clone();
    Ok(issue(store, ctx, &role, session, seconds))
}

/// `GetCallerIdentity`: the account (and identity) behind the signing key.
pub fn get_caller_identity(_: &mut Store, _: &World, ctx: &Ctx, _: &Params) -> ApiResult<Value> {
    let (kind, arn) = match ctx.principal.split_once(":role/") {
        // `acs:ram::<account>:role/<role>/<session>` → the assumed-role ARN.
        Some((_, rest)) if ctx.sts_caller => {
            ("AssumedRoleUser", format!("acs:ram::{}:assumed-role/{rest}", ctx.account))
        }
        _ => ("Account", format!("acs:ram::{}:root", ctx.account)),
    };
    Ok(json!({"AccountId": ctx.account, "UserId": ctx.account, "Arn": arn, "IdentityType": kind,
              "PrincipalId": ctx.account}))
}

fn oidc_fail(code: &str, msg: &str) -> ApiError {
    ApiError::new(401, format!("AuthenticationFail.{code}"), msg)
}

/// The claims of a JWT (header.payload.signature); the signature is not verified.
fn jwt_claims(token: &str) -> ApiResult<serde_json::Map<String, Value>> {
    use base64::Engine;
    let invalid = || oidc_fail("OIDCToken.Invalid", "The OIDC token is invalid.");
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(invalid());
    }
    let decode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
    let header: Value =
        decode(parts[0]).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(invalid)?;
    if !header["alg"].as_str().is_some_and(|a| a.starts_with("RS") || a.starts_with("ES")) {
        return Err(invalid());
    }
    decode(parts[1]).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(invalid)
}

pub fn assume_role_with_oidc(store: &mut Store, world: &World, ctx: &Ctx, p: &Params) -> ApiResult<Value> {
    let arn = role_arn(p)?;
    let provider_arn = required(p, "OIDCProviderArn")?;
    let token = required(p, "OIDCToken")?;
    let session = session_name(p)?;
    if !(4..=20000).contains(&token.len()) {
        return Err(oidc_fail("OIDCToken.Invalid", "The OIDC token is invalid."));
    }
    policy(p)?;
    let claims = jwt_claims(token)?;
    let role = world.role(arn).ok_or_else(entity_not_exist)?;
    let seconds = duration(p, Some(role))?;
    let provider = world.oidc_provider(provider_arn).filter(|pr| pr.account_id == role.account_id);
    let provider = provider.ok_or_else(|| {
        oidc_fail("NoPermission", "The OIDC provider does not exist or is not trusted by the role.")
    })?;
    if claims.get("iss").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
        return Err(oidc_fail("OIDCToken.IssuerNotMatch", "The issuer of the OIDC token does not match."));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == provider.audience,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(provider.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(oidc_fail(
            "OIDCToken.AudienceNotMatch",
            "The audience of the OIDC token does not match.",
        ));
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_none_or(|e| e <= ctx.wall.as_second()) {
        return Err(oidc_fail("OIDCToken.Expired", "This JsonWebToken is expired."));
    }
    if !role.trusted_oidc_providers.contains(&provider.name) {
        return Err(oidc_fail("NoPermission", "The role does not trust the OIDC provider."));
    }
    let role = role.clone();
    Ok(issue(store, ctx, &role, session, seconds))
}

/// A JWT the default world's providers accept (unsigned: the simulator does not verify signatures),
/// for tests: `exp` seconds since the epoch.
pub fn test_token(issuer: &str, audience: &str, exp: i64) -> String {
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = b64(json!({"alg": "RS256", "kid": "sim"}));
    let payload = b64(json!({"iss": issuer, "aud": audience, "exp": exp,
                             "sub": "system:serviceaccount:privatelink-system:privatelink-operator"}));
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{
        model::Timing,
        world::{ACCOUNT_DEFAULT, ACCOUNT_OTHER, SIM_OIDC_ISSUER},
    };

    fn ctx(account: &str, wall: jiff::Timestamp) -> Ctx<'_> {
        Ctx {
            account,
            principal: account,
            sts_caller: false,
            now: Instant::now(),
            wall,
            timing: Timing::default(),
            sts_duration: Duration::from_secs(600),
        }
    }

    #[test]
    fn oidc_exchange_issues_expiring_credentials() {
        let world = World::default_world();
        let mut store = Store::default();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let good = test_token(SIM_OIDC_ISSUER, "sts.aliyuncs.com", 1_800_000_600);
        let ok = [
            ("RoleArn", "acs:ram::1234567890123456:role/privatelink-operator".to_string()),
            ("OIDCProviderArn", "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1".to_string()),
            ("OIDCToken", good.clone()),
            ("RoleSessionName", "op".to_string()),
        ];
        let call = |store: &mut Store, field: &str, value: &str| {
            let p = Params(
                ok.iter()
                    .map(|(k, v)| (k.to_string(), if *k == field { value.to_string() } else { v.clone() }))
                    .collect(),
            );
            assume_role_with_oidc(store, &world, &ctx("", now), &p)
        };
        let v = call(&mut store, "", "").unwrap();
        let ak = v["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert!(ak.starts_with("STS."));
        // The simulator caps lifetimes at --sts-duration-seconds (600 here).
        assert_eq!(v["Credentials"]["Expiration"], "2027-01-15T08:10:00Z");
        let issued = store.sts.get(ak).unwrap();
        assert_eq!(issued.account_id, ACCOUNT_DEFAULT);
        assert_eq!(issued.expiration, Some(now + jiff::SignedDuration::from_secs(600)));

        let cases = [
            ("RoleArn", "not-an-arn".to_string(), "InvalidParameter.RoleArn", 400),
            ("RoleArn", "acs:ram::1234567890123456:role/nope".to_string(), "EntityNotExist.Role", 404),
            (
                "OIDCProviderArn",
                "acs:ram::1234567890123456:oidc-provider/nope".into(),
                "AuthenticationFail.NoPermission",
                401,
            ),
            ("OIDCToken", "not-a-jwt".into(), "AuthenticationFail.OIDCToken.Invalid", 401),
            (
                "OIDCToken",
                test_token("https://evil", "sts.aliyuncs.com", 1_800_000_600),
                "AuthenticationFail.OIDCToken.IssuerNotMatch",
                401,
            ),
            (
                "OIDCToken",
                test_token(SIM_OIDC_ISSUER, "other", 1_800_000_600),
                "AuthenticationFail.OIDCToken.AudienceNotMatch",
                401,
            ),
            (
                "OIDCToken",
                test_token(SIM_OIDC_ISSUER, "sts.aliyuncs.com", 1_799_999_999),
                "AuthenticationFail.OIDCToken.Expired",
                401,
            ),
            ("RoleSessionName", "".into(), "MissingParameter.RoleSessionName", 400),
        ];
        for (field, value, code, status) in cases {
            let e = call(&mut store, field, &value).unwrap_err();
            assert_eq!((e.code.as_str(), e.http_status), (code, status), "{field}={value}");
        }
    }

    #[test]
    fn caller_identity_names_the_account() {
        let world = World::default_world();
        let mut store = Store::default();
        let v = get_caller_identity(
            &mut store,
            &world,
            &ctx(ACCOUNT_OTHER, jiff::Timestamp::now()),
            &Params::default(),
        )
        .unwrap();
        assert_eq!(
            (v["AccountId"].as_str(), v["IdentityType"].as_str()),
            (Some(ACCOUNT_OTHER), Some("Account"))
        );
        let mut c = ctx(ACCOUNT_DEFAULT, jiff::Timestamp::now());
        c.sts_caller = true;
        c.principal = "acs:ram::1234567890123456:role/privatelink-operator/op";
        let v = get_caller_identity(&mut store, &world, &c, &Params::default()).unwrap();
        assert_eq!(v["Arn"], "acs:ram::1234567890123456:assumed-role/privatelink-operator/op");
    }

    #[test]
    fn assume_role_needs_trust() {
        let world = World::default_world();
        let mut store = Store::default();
        let now = jiff::Timestamp::now();
        let p = |arn: &str| Params::from_pairs([("RoleArn", arn), ("RoleSessionName", "op")]);
        let cross = "acs:ram::2234567890123456:role/privatelink-cross-account";
        let v = assume_role(&mut store, &world, &ctx(ACCOUNT_DEFAULT, now), &p(cross)).unwrap();
        let ak = v["Credentials"]["AccessKeyId"].as_str().unwrap();
        assert_eq!(store.sts.get(ak).unwrap().account_id, ACCOUNT_OTHER);
        let e = assume_role(&mut store, &world, &ctx(ACCOUNT_OTHER, now), &p(cross)).unwrap_err();
        assert_eq!((e.code.as_str(), e.http_status), ("NoPermission", 403));
        let e = assume_role(
            &mut store,
            &world,
            &ctx(ACCOUNT_DEFAULT, now),
            &p("acs:ram::2234567890123456:role/x"),
        )
        .unwrap_err();
        assert_eq!(e.code, "EntityNotExist.Role");
        let mut q = p(cross);
        q.0.insert("DurationSeconds".into(), "60".into());
        let e = assume_role(&mut store, &world, &ctx(ACCOUNT_DEFAULT, now), &q).unwrap_err();
        assert_eq!(e.code, "InvalidParameter.DurationSeconds");
    }
}
