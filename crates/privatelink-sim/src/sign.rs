//! Signature verification for the two schemes the official SDKs use (reference §5).
//!
//! This is the simulator's own implementation; it shares nothing with `crate::alicloud` so that a
//! bug in one signer cannot hide the same bug in the other. Everything here is pure: the caller
//! supplies the secret, the parsed parameters and headers, and gets back either `Ok` or a
//! [`SigError`] carrying the server-side string-to-sign for diagnostics.

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("Specified signature is not matched with our calculation. server string to sign is:{0}")]
    Mismatch(String),
    #[error("The Authorization header is malformed: {0}")]
    Malformed(String),
    #[error("The request signature does not conform to Aliyun standards: {0}")]
    Incomplete(String),
    #[error("The x-acs-content-sha256 header does not match the request body.")]
    ContentHash,
}

/// RFC 3986 percent-encoding used by both schemes: keep `A-Za-z0-9-_.~`, everything else `%XX`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}

/// Sorted (by name, byte order) `k=v` pairs, percent-encoded, joined with `&`.
pub fn canonical_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut v: Vec<(&str, &str)> = pairs.into_iter().collect();
    v.sort();
    let mut out = String::new();
    for (i, (k, val)) in v.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(val));
    }
    out
}

/// V1 (RPC HMAC-SHA1) string to sign. `params` are all query + body params except `Signature`.
pub fn v1_string_to_sign<'a>(method: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let cq = canonical_query(params.into_iter().filter(|(k, _)| *k != "Signature"));
    format!("{}&{}&{}", method.to_ascii_uppercase(), percent_encode("/"), percent_encode(&cq))
}

/// V1 signature: `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn v1_sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Verify a V1 request. `params` must include every query and form-body parameter.
pub fn verify_v1<'a>(
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    secret: &str,
) -> Result<(), SigError> {
    let given = params
        .clone()
        .into_iter()
        .find(|(k, _)| *k == "Signature")
        .map(|(_, v)| v)
        .ok_or_else(|| SigError::Incomplete("missing Signature".into()))?;
    let sts = v1_string_to_sign(method, params);
    if v1_sign(secret, &sts) == given { Ok(()) } else { Err(SigError::Mismatch(sts)) }
}

/// Parsed `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Auth {
    pub algorithm: String,
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_v3_authorization(value: &str) -> Result<V3Auth, SigError> {
    let (algorithm, rest) =
        value.trim().split_once(' ').ok_or_else(|| SigError::Malformed("no algorithm".into()))?;
    if algorithm != "ACS3-HMAC-SHA256" {
        return Err(SigError::Malformed(format!("unsupported algorithm {algorithm}")));
    }
    let (mut cred, mut sh, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) =
            part.trim().split_once('=').ok_or_else(|| SigError::Malformed(format!("bad element {part}")))?;
        match k.trim() {
            "Credential" => cred = Some(v.trim().to_string()),
            "SignedHeaders" => sh = Some(v.trim().to_string()),
            "Signature" => sig = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let access_key_id = cred.ok_or_else(|| SigError::Malformed("missing Credential".into()))?;
    let sh = sh.ok_or_else(|| SigError::Malformed("missing SignedHeaders".into()))?;
    let signature = sig.ok_or_else(|| SigError::Malformed("missing Signature".into()))?;
    let signed_headers: Vec<String> =
        sh.split(';').filter(|s| !s.is_empty()).map(|s| s.to_ascii_lowercase()).collect();
    Ok(V3Auth { algorithm: algorithm.to_string(), access_key_id, signed_headers, signature })
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// V3 canonical request. `header` looks up a (lowercase) header value.
pub fn v3_canonical_request<'a, 'h>(
    method: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    signed_headers: &[String],
    header: impl Fn(&str) -> Option<&'h str>,
    hashed_payload: &str,
) -> Result<String, SigError> {
    let mut sorted: Vec<&str> = signed_headers.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut ch = String::new();
    for name in &sorted {
        let v = header(name)
            .ok_or_else(|| SigError::Incomplete(format!("signed header {name} is not in the request")))?;
        ch.push_str(name);
        ch.push(':');
        ch.push_str(v.trim());
        ch.push('\n');
    }
    Ok(format!(
        "{}\n/\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_query(query),
        ch,
        sorted.join(";"),
        hashed_payload
    ))
}

pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical_request.as_bytes()))
}

pub fn v3_sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Verify a V3 request: signed header policy, body hash and signature.
pub fn verify_v3<'a, 'h>(
    method: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    header: impl Fn(&str) -> Option<&'h str>,
    all_header_names: impl IntoIterator<Item = &'h str>,
    body: &[u8],
    auth: &V3Auth,
    secret: &str,
) -> Result<(), SigError> {
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Incomplete("SignedHeaders must include host".into()));
    }
    for name in all_header_names {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-acs-") && !auth.signed_headers.contains(&lower) {
            return Err(SigError::Incomplete(format!("SignedHeaders must include {lower}")));
        }
    }
    let hashed = header("x-acs-content-sha256")
        .ok_or_else(|| SigError::Incomplete("missing x-acs-content-sha256".into()))?;
    if !hashed.trim().eq_ignore_ascii_case(&sha256_hex(body)) {
        return Err(SigError::ContentHash);
    }
    let cr = v3_canonical_request(method, query, &auth.signed_headers, header, hashed.trim())?;
    let sts = v3_string_to_sign(&cr);
    if v3_sign(secret, &sts).eq_ignore_ascii_case(&auth.signature) {
        Ok(())
    } else {
        Err(SigError::Mismatch(sts.replace('\n', "#")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn form(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    fn v1_check(method: &str, query: &str, body: &str, secret: &str) -> Result<(), SigError> {
        let mut all = form(query);
        all.extend(form(body));
        verify_v1(method, all.iter().map(|(k, v)| (k.as_str(), v.as_str())), secret)
    }

    #[test]
    fn percent_encode_vector() {
        assert_eq!(percent_encode(" a!*'()~é+/=&:"), "%20a%21%2A%27%28%29~%C3%A9%2B%2F%3D%26%3A");
    }

    #[test]
    fn gosdk_encoding_vector() {
        let sts = v1_string_to_sign("GET", [("key", "value"), ("q", "http://domain/?q=value&q2=value2")]);
        assert_eq!(
            sts,
            "GET&%2F&key%3Dvalue%26q%3Dhttp%253A%252F%252Fdomain%252F%253Fq%253Dvalue%2526q2%253Dvalue2"
        );
    }

    #[test]
    fn v1_doc_vectors() {
        let base = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Version", "2014-05-26"),
        ];
        let cases =
            [("Timestamp", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="), ("TimeStamp", "CT9X0VtwR86fNWSnsc6v8YGOjuE=")];
        for (ts_name, expected) in cases {
            let mut p: Vec<(&str, &str)> = base.to_vec();
            p.push((ts_name, "2016-02-23T12:46:24Z"));
            let sts = v1_string_to_sign("GET", p.clone());
            assert_eq!(v1_sign("testsecret", &sts), expected, "{ts_name}");
            p.push(("Signature", expected));
            assert_eq!(verify_v1("GET", p.clone(), "testsecret"), Ok(()));
            assert!(matches!(verify_v1("GET", p, "othersecret"), Err(SigError::Mismatch(_))));
        }
    }

    const REQ2_QUERY: &str = "Action=CreateVpcEndpointService&Format=json&Version=2020-04-15&Timestamp=2026-11-25T22%3A10%3A01Z&SignatureNonce=cd70dd11c9f3b708c44c428dc5443226&AutoAcceptEnabled=True&ClientToken=tok-123&Payer=Endpoint&RegionId=cn-hangzhou&Resource.1.ResourceId=nlb-aaa&Resource.1.ResourceType=nlb&Resource.1.ZoneId=cn-hangzhou-h&Resource.2.ResourceId=nlb-bbb&Resource.2.ResourceType=nlb&Resource.2.ZoneId=cn-hangzhou-i&ServiceDescription=my+svc%3A+a%2Ab~c+%28x%29&ServiceResourceType=nlb&Tag.1.Key=env&Tag.1.Value=dev&Tag.2.Key=owner&Tag.2.Value=k8s+operator&ZoneAffinityEnabled=False&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature=zj9JfxZi3Gyb5i2ODE%2FkcHwjjYk%3D";
    const REQ4_QUERY: &str = "Action=GetVpcEndpointServiceAttribute&Format=json&Version=2020-04-15&Timestamp=2026-11-25T22%3A10%3A01Z&SignatureNonce=8b45c7c02f118399160eca1671607704&RegionId=cn-hangzhou&ServiceId=epsrv-x&SecurityToken=STS.tokenvalue&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature=6J%2FBT%2FFnqyk2Cn1QSbSmvwzrcIk%3D";

    #[test]
    fn v1_captured_requests() {
        assert_eq!(v1_check("POST", REQ2_QUERY, "", "testsecret"), Ok(()));
        assert_eq!(v1_check("POST", REQ4_QUERY, "", "testsecret"), Ok(()));
        // Tampering with any parameter, the method or the secret must fail.
        assert!(v1_check("GET", REQ2_QUERY, "", "testsecret").is_err());
        assert!(v1_check("POST", &REQ2_QUERY.replace("tok-123", "tok-124"), "", "testsecret").is_err());
        assert!(v1_check("POST", REQ4_QUERY, "", "testsecre").is_err());
        assert!(v1_check("POST", REQ4_QUERY, "Extra=1", "testsecret").is_err());
    }

    #[test]
    fn v1_captured_tag_resources_with_body_params() {
        // §7 request 5 with signature_algorithm='v2': body params are part of the string to sign.
        let body = "RegionId=cn-hangzhou&ResourceId.1=epsrv-a&ResourceId.2=epsrv-b&ResourceType=vpcendpointservice&Tag.1.Key=k1&Tag.1.Value=v1";
        let mut all = form(body);
        all.extend(form("Action=TagResources&Format=json&Version=2020-04-15&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid"));
        let sts = v1_string_to_sign("POST", all.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(sts.contains("%26RegionId%3Dcn-hangzhou%26ResourceId.1%3Depsrv-a%26ResourceId.2%3Depsrv-b%26ResourceType%3Dvpcendpointservice"));
    }

    #[test]
    fn v3_doc_vector() {
        let headers: BTreeMap<&str, &str> = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", EMPTY_SHA256),
        ]
        .into();
        let signed: Vec<String> =
            "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
                .split(';')
                .map(String::from)
                .collect();
        let query =
            [("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"), ("RegionId", "cn-shanghai")];
        let cr =
            v3_canonical_request("POST", query, &signed, |n| headers.get(n).copied(), EMPTY_SHA256).unwrap();
        assert_eq!(
            sha256_hex(cr.as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        let sig = v3_sign("YourAccessKeySecret", &v3_string_to_sign(&cr));
        assert_eq!(sig, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
        let auth = V3Auth {
            algorithm: "ACS3-HMAC-SHA256".into(),
            access_key_id: "YourAccessKeyId".into(),
            signed_headers: signed.clone(),
            signature: sig,
        };
        let names = headers.keys().copied().collect::<Vec<_>>();
        let ok = verify_v3(
            "POST",
            query,
            |n| headers.get(n).copied(),
            names.clone(),
            b"",
            &auth,
            "YourAccessKeySecret",
        );
        assert_eq!(ok, Ok(()));
        let bad =
            verify_v3("POST", query, |n| headers.get(n).copied(), names, b"x", &auth, "YourAccessKeySecret");
        assert_eq!(bad, Err(SigError::ContentHash));
    }

    const UA: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";

    struct Captured {
        query: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        authorization: &'static str,
        body: &'static str,
    }

    fn check_v3(c: &Captured, secret: &str) -> Result<(), SigError> {
        let mut headers: BTreeMap<&str, &str> = c.headers.iter().copied().collect();
        headers.insert("authorization", c.authorization);
        headers.insert("accept-encoding", "identity");
        let auth = parse_v3_authorization(c.authorization)?;
        let q = form(c.query);
        verify_v3(
            "POST",
            q.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            |n| headers.get(n).copied(),
            headers.keys().copied().collect::<Vec<_>>(),
            c.body.as_bytes(),
            &auth,
            secret,
        )
    }

    fn captured_v3() -> Vec<Captured> {
        let common = |action: &'static str, date, nonce, sha| {
            vec![
                ("host", "127.0.0.1:33855"),
                ("x-acs-version", "2020-04-15"),
                ("x-acs-action", action),
                ("user-agent", UA),
                ("x-acs-date", date),
                ("x-acs-signature-nonce", nonce),
                ("accept", "application/json"),
                ("x-acs-content-sha256", sha),
            ]
        };
        let mut r1 = common(
            "CreateVpcEndpointService",
            "2026-11-25T22:10:01Z",
            "7720bf5c5e1dd541897d08eb655457ce",
            EMPTY_SHA256,
        );
        r1.push(("x-acs-credentials-provider", "static_ak"));
        let mut r3 = common(
            "GetVpcEndpointServiceAttribute",
            "2026-11-25T22:10:01Z",
            "042a9870e0747c337997d83ac2a01f0b",
            EMPTY_SHA256,
        );
        r3.extend([
            ("x-acs-credentials-provider", "static_sts"),
            ("x-acs-accesskey-id", "testid"),
            ("x-acs-security-token", "STS.tokenvalue"),
        ]);
        let mut r5 = common(
            "TagResources",
            "2026-11-25T22:10:01Z",
            "9c58f528bd634e52292a0c12b6ef9159",
            "9014cb84a86434a2716895b1ad3d5663125f812024d27a216e54272c91caeec7",
        );
        r5.extend([
            ("x-acs-credentials-provider", "static_ak"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        vec![
            Captured {
                query: "AutoAcceptEnabled=True&ClientToken=tok-123&Payer=Endpoint&RegionId=cn-hangzhou&Resource.1.ResourceId=nlb-aaa&Resource.1.ResourceType=nlb&Resource.1.ZoneId=cn-hangzhou-h&Resource.2.ResourceId=nlb-bbb&Resource.2.ResourceType=nlb&Resource.2.ZoneId=cn-hangzhou-i&ServiceDescription=my+svc%3A+a%2Ab~c+%28x%29&ServiceResourceType=nlb&Tag.1.Key=env&Tag.1.Value=dev&Tag.2.Key=owner&Tag.2.Value=k8s+operator&ZoneAffinityEnabled=False",
                headers: r1,
                authorization: "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=81b5af13da6a2f5bc61626d68b5bc6ab613951aaf7841398d2bc50d14b07c3fe",
                body: "",
            },
            Captured {
                query: "RegionId=cn-hangzhou&ServiceId=epsrv-x",
                headers: r3,
                authorization: "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=b0282dd988df4fc6b21dc8ce75610155a03b63e60510d1735ddbb0b4bf7d9513",
                body: "",
            },
            Captured {
                query: "",
                headers: r5,
                authorization: "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=9a9df7d43f6fe05d6c7decc5148b687fa61822c065ae72e093a17ffdf2e72b3f",
                body: "RegionId=cn-hangzhou&ResourceId.1=epsrv-a&ResourceId.2=epsrv-b&ResourceType=vpcendpointservice&Tag.1.Key=k1&Tag.1.Value=v1",
            },
        ]
    }

    #[test]
    fn v3_captured_requests_verify() {
        for (i, c) in captured_v3().iter().enumerate() {
            assert_eq!(check_v3(c, "testsecret"), Ok(()), "captured request #{i}");
        }
    }

    #[test]
    fn v3_captured_requests_detect_tampering() {
        for c in captured_v3() {
            assert!(matches!(check_v3(&c, "wrong"), Err(SigError::Mismatch(_))));
            let mut t = c;
            t.query = if t.query.is_empty() { "Extra=1" } else { "RegionId=cn-beijing" };
            assert!(matches!(check_v3(&t, "testsecret"), Err(SigError::Mismatch(_))));
        }
        // An unsigned x-acs-* header is refused.
        let mut c = captured_v3().remove(0);
        c.headers.push(("x-acs-extra", "1"));
        assert!(matches!(check_v3(&c, "testsecret"), Err(SigError::Incomplete(_))));
        // Body not matching x-acs-content-sha256.
        let mut c = captured_v3().remove(2);
        c.body = "RegionId=cn-beijing";
        assert_eq!(check_v3(&c, "testsecret"), Err(SigError::ContentHash));
    }

    #[test]
    fn parse_authorization_errors() {
        assert!(parse_v3_authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host").is_err());
        assert!(parse_v3_authorization("ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=x").is_err());
        let a = parse_v3_authorization(
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=Host;x-acs-date,Signature=ab",
        )
        .unwrap();
        assert_eq!(a.signed_headers, vec!["host", "x-acs-date"]);
    }
}
