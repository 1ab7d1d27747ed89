//! Request authentication: picks V3 or V1, checks key state, clock skew, signature and token.
//! Pure apart from the caller-supplied key lookup; nonce replay is checked by the caller.

use std::time::Duration;

use super::{
    error::ApiError,
    params::Params,
    sign::{self, SigError},
    world::AccessKey,
};

/// Allowed clock skew.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// A request as the verifier sees it.
pub struct AuthRequest<'a> {
    pub method: &'a str,
    /// Lowercase header name → value.
    pub headers: &'a [(String, String)],
    /// Query-string pairs only (decoded).
    pub query: &'a [(String, String)],
    /// Query + form body.
    pub params: &'a Params,
    pub body: &'a [u8],
}

impl AuthRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn is_v3(&self) -> bool {
        self.header("authorization").is_some()
    }
    /// Action and version as the request states them.
    pub fn action_version(&self) -> (Option<&str>, Option<&str>) {
        if self.is_v3() {
            (self.header("x-acs-action"), self.header("x-acs-version"))
        } else {
            (self.params.get("Action"), self.params.get("Version"))
        }
    }
    /// The access key id the request claims, if any.
    pub fn access_key_id(&self) -> Result<String, ApiError> {
        if let Some(a) = self.header("authorization") {
            let parsed = sign::parse_v3_authorization(a)
                .map_err(|e| ApiError::bad("IncompleteSignature", e.to_string()))?;
            Ok(parsed.access_key_id)
        } else {
            if self.params.get("Signature").is_none() {
                return Err(ApiError::bad("MissingSignature", "Signature is mandatory for this action."));
            }
            self.params.opt("AccessKeyId").map(String::from).ok_or_else(|| {
                ApiError::bad("MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
            })
        }
    }
}

/// What a successful verification yields: the nonce and request time (for replay tracking).
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub nonce: String,
    pub timestamp: jiff::Timestamp,
}

fn sig_error(e: SigError) -> ApiError {
    match e {
        SigError::Mismatch(_) | SigError::ContentHash => {
            ApiError::bad("SignatureDoesNotMatch", e.to_string())
        }
        SigError::Malformed(_) | SigError::Incomplete(_) => {
            ApiError::bad("IncompleteSignature", e.to_string())
        }
    }
}

/// Verify `req` against `key` at wall time `now`.
pub fn verify(
    req: &AuthRequest,
    key: Option<&AccessKey>,
    now: jiff::Timestamp,
) -> Result<Verified, ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::new(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    })?;
    if !key.active {
        return Err(ApiError::bad("InvalidAccessKeyId.Inactive", "Specified access key is disabled."));
    }
    let (ts, nonce, token) = if req.is_v3() {
        (req.header("x-acs-date"), req.header("x-acs-signature-nonce"), req.header("x-acs-security-token"))
    } else {
        let method = req.params.get("SignatureMethod").unwrap_or("");
        if method != "HMAC-SHA1" {
            return Err(ApiError::bad(
                "InvalidSignatureMethod",
                format!("Specified signature method {method} is not supported."),
            ));
        }
        if req.params.get("SignatureVersion").is_some_and(|v| v != "1.0") {
            return Err(ApiError::bad(
                "InvalidSignatureVersion",
                "Specified signature version is not valid.",
            ));
        }
        (req.params.get("Timestamp"), req.params.get("SignatureNonce"), req.params.get("SecurityToken"))
    };
    let ts =
        ts.ok_or_else(|| ApiError::bad("MissingTimestamp", "Timestamp is mandatory for this action."))?;
    let ts: jiff::Timestamp = ts.parse().map_err(|_| {
        ApiError::bad(
            "InvalidTimeStamp.Format",
            format!("Specified time stamp or date value {ts} is not well formatted."),
        )
    })?;
    let skew = (now.as_millisecond() - ts.as_millisecond()).unsigned_abs();
    if skew > MAX_SKEW.as_millis() as u64 {
        return Err(ApiError::bad(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let nonce = nonce.filter(|n| !n.is_empty()).ok_or_else(|| {
        ApiError::bad("MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
    })?;
    if let Some(a) = req.header("authorization") {
        let parsed = sign::parse_v3_authorization(a).map_err(sig_error)?;
        sign::verify_v3(
            req.method,
            req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            |n| req.header(n),
            req.headers.iter().map(|(k, _)| k.as_str()),
            req.body,
            &parsed,
            &key.secret,
        )
        .map_err(sig_error)?;
    } else {
        sign::verify_v1(req.method, req.params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key.secret)
            .map_err(sig_error)?;
    }
    if key.security_token.as_deref() != token.filter(|t| !t.is_empty()) {
        return Err(ApiError::bad(
            "InvalidSecurityToken.MismatchWithAccessKey",
            "The security token does not match the access key.",
        ));
    }
    if key.expiration.is_some_and(|exp| now >= exp) {
        return Err(ApiError::bad("InvalidSecurityToken.Expired", "Specified SecurityToken is expired."));
    }
    Ok(Verified { nonce: nonce.to_string(), timestamp: ts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(active: bool, token: Option<&str>) -> AccessKey {
        AccessKey {
            id: "ak".into(),
            secret: "sk".into(),
            account_id: "1".into(),
            active,
            security_token: token.map(String::from),
            expiration: None,
            principal: None,
        }
    }

    /// Build a signed V1 request at `ts`, optionally with a token, then verify with `k` at `now`.
    fn v1(
        ts: &str,
        token: Option<&str>,
        secret: &str,
        k: Option<&AccessKey>,
        now: &str,
    ) -> Result<Verified, String> {
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "ListVpcEndpointServices".into()),
            ("Version".into(), "2020-04-15".into()),
            ("AccessKeyId".into(), "ak".into()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            ("SignatureNonce".into(), "n1".into()),
            ("Timestamp".into(), ts.into()),
            ("RegionId".into(), "cn-hangzhou".into()),
        ];
        if let Some(t) = token {
            pairs.push(("SecurityToken".into(), t.into()));
        }
        let sts = sign::v1_string_to_sign("GET", pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        pairs.push(("Signature".into(), sign::v1_sign(secret, &sts)));
        let params = Params(pairs.iter().cloned().collect());
        let req = AuthRequest { method: "GET", headers: &[], query: &pairs, params: &params, body: b"" };
        verify(&req, k, now.parse().unwrap()).map_err(|e| e.code)
    }

    #[test]
    fn v1_auth_table() {
        let t = "2026-11-25T22:10:01Z";
        let active = key(true, None);
        let inactive = key(false, None);
        let sts = key(true, Some("tok"));
        let mut expired = key(true, Some("tok"));
        expired.expiration = Some("2026-11-25T22:15:00Z".parse().unwrap());
        type Case<'a> = (Option<&'a AccessKey>, &'a str, Option<&'a str>, &'a str, Result<(), &'a str>);
        let cases: Vec<Case> = vec![
            (Some(&active), "sk", None, "2026-11-25T22:20:00Z", Ok(())),
            (Some(&active), "bad", None, t, Err("SignatureDoesNotMatch")),
            (None, "sk", None, t, Err("InvalidAccessKeyId.NotFound")),
            (Some(&inactive), "sk", None, t, Err("InvalidAccessKeyId.Inactive")),
            (Some(&active), "sk", None, "2026-11-25T22:25:02Z", Err("InvalidTimeStamp.Expired")),
            (Some(&active), "sk", None, "2026-11-25T21:55:00Z", Err("InvalidTimeStamp.Expired")),
            (Some(&sts), "sk", Some("tok"), t, Ok(())),
            (Some(&sts), "sk", Some("other"), t, Err("InvalidSecurityToken.MismatchWithAccessKey")),
            (Some(&sts), "sk", None, t, Err("InvalidSecurityToken.MismatchWithAccessKey")),
            (Some(&active), "sk", Some("tok"), t, Err("InvalidSecurityToken.MismatchWithAccessKey")),
            (Some(&expired), "sk", Some("tok"), "2026-11-25T22:14:59Z", Ok(())),
            (Some(&expired), "sk", Some("tok"), "2026-11-25T22:15:00Z", Err("InvalidSecurityToken.Expired")),
        ];
        for (i, (k, secret, token, now, want)) in cases.into_iter().enumerate() {
            let got = v1(t, token, secret, k, now).map(|_| ());
            assert_eq!(got, want.map_err(String::from), "case {i}");
        }
        assert_eq!(v1("yesterday", None, "sk", Some(&active), t).unwrap_err(), "InvalidTimeStamp.Format");
    }
}
