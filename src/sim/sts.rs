//! STS `AssumeRoleWithOIDC` (version 2015-04-01), the RRSA exchange: an anonymous call that trades an
//! OIDC token for temporary credentials of a RAM role. The simulator answers with the world's STS
//! access key of the role's account. It cannot verify the JWT's signature; it checks its shape.

use serde_json::{Value, json};

use super::{error::ApiError, params::Params, world::World};

/// STS API version.
pub const STS_VERSION: &str = "2015-04-01";
/// The one STS action the simulator serves.
pub const ASSUME_ROLE_WITH_OIDC: &str = "AssumeRoleWithOIDC";

fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, ApiError> {
    p.opt(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::bad(format!("MissingParameter.{name}"), format!("The input parameter {name} is mandatory."))
    })
}

/// Answer an `AssumeRoleWithOIDC` call.
pub fn assume_role_with_oidc(world: &World, p: &Params, now: jiff::Timestamp) -> Result<Value, ApiError> {
    let role_arn = required(p, "RoleArn")?;
    let provider_arn = required(p, "OIDCProviderArn")?;
    let token = required(p, "OIDCToken")?;
    let session = required(p, "RoleSessionName")?;
    // acs:ram::<account>:role/<name>
    let account = role_arn
        .strip_prefix("acs:ram::")
        .and_then(|r| r.split_once(":role/"))
        .filter(|(acct, name)| !acct.is_empty() && !name.is_empty())
        .map(|(acct, _)| acct)
        .ok_or_else(|| ApiError::bad("InvalidParameter.RoleArn", "The parameter RoleArn is invalid."))?;
    if !provider_arn.starts_with(&format!("acs:ram::{account}:oidc-provider/")) {
        return Err(ApiError::bad(
            "InvalidParameter.OIDCProviderArn",
            "The parameter OIDCProviderArn is invalid.",
        ));
    }
    if token.len() < 4 || token.len() > 20000 || token.split('.').count() != 3 {
        return Err(ApiError::bad("InvalidParameter.OIDCToken", "The parameter OIDCToken is invalid."));
    }
    let duration: i64 = match p.opt("DurationSeconds") {
        None => 3600,
        Some(d) => d.parse().ok().filter(|d| (900..=43200).contains(d)).ok_or_else(|| {
            ApiError::bad("InvalidParameter.DurationSeconds", "The parameter DurationSeconds is invalid.")
        })?,
    };
    let key = world
        .access_keys
        .iter()
        .find(|k| k.account_id == account && k.active && k.security_token.is_some())
        .ok_or_else(|| ApiError::new(404, "EntityNotExist.Role", "The role not exists."))?;
    let expiration = now + jiff::SignedDuration::from_secs(duration);
    Ok(json!({
        "AssumedRoleUser": { "Arn": format!("{role_arn}/{session}"), "AssumedRoleId": format!("300000000000000000:{session}") },
        "Credentials": {
            "AccessKeyId": key.id,
            "AccessKeySecret": key.secret,
            "SecurityToken": key.security_token,
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
        "SourceIdentity": "",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn exchanges_a_token_for_the_accounts_sts_key() {
        let world = World::default_world();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let ok = [
            ("RoleArn", "acs:ram::1234567890123456:role/privatelink-operator"),
            ("OIDCProviderArn", "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1"),
            ("OIDCToken", "header.payload.signature"),
            ("RoleSessionName", "op"),
        ];
        let v = assume_role_with_oidc(&world, &params(&ok), now).unwrap();
        assert_eq!(v["Credentials"]["AccessKeyId"], "STS.sim-sts-ak");
        assert_eq!(v["Credentials"]["SecurityToken"], "sim-sts-token");
        assert_eq!(v["Credentials"]["Expiration"], "2027-01-15T09:00:00Z");

        let cases = [
            ("RoleArn", "not-an-arn", "InvalidParameter.RoleArn"),
            ("OIDCProviderArn", "acs:ram::999:oidc-provider/x", "InvalidParameter.OIDCProviderArn"),
            ("OIDCToken", "not-a-jwt", "InvalidParameter.OIDCToken"),
            ("RoleSessionName", "", "MissingParameter.RoleSessionName"),
        ];
        for (field, value, code) in cases {
            let p: Vec<(&str, &str)> =
                ok.iter().map(|(k, v)| if *k == field { (*k, value) } else { (*k, *v) }).collect();
            let e = assume_role_with_oidc(&world, &params(&p), now).unwrap_err();
            assert_eq!(e.code, code, "{field}");
        }
    }
}
