//! Request parameters: query + form body merged, typed accessors, `Name.N.Field` lists.

use std::collections::BTreeMap;

use super::error::{ApiError, ApiResult};

/// Parameters that belong to the transport/signature layer, not to the operation.
pub const COMMON_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "Signature",
    "SecurityToken",
    "ClientToken",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    pub fn parse(query: &str, form_body: Option<&[u8]>) -> Self {
        let mut m = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            m.insert(k.into_owned(), v.into_owned());
        }
        if let Some(b) = form_body {
            for (k, v) in form_urlencoded::parse(b) {
                m.insert(k.into_owned(), v.into_owned());
            }
        }
        Self(m)
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Non-empty value or `None`.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn req(&self, name: &str) -> ApiResult<&str> {
        self.opt(name).ok_or_else(|| ApiError::missing(name))
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::illegal(name)),
        }
    }

    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        self.opt(name).map(|v| v.trim().parse::<i64>().map_err(|_| ApiError::illegal(name))).transpose()
    }

    /// `Prefix.N` values ordered by N (1-based; gaps tolerated).
    pub fn list(&self, prefix: &str) -> ApiResult<Vec<String>> {
        let mut out: Vec<(u32, String)> = Vec::new();
        let lead = format!("{prefix}.");
        for (k, v) in self.0.range(lead.clone()..) {
            let Some(rest) = k.strip_prefix(&lead) else { break };
            if rest.contains('.') {
                continue;
            }
            let n: u32 = rest.parse().map_err(|_| ApiError::illegal(prefix))?;
            if n == 0 {
                return Err(ApiError::illegal(prefix));
            }
            out.push((n, v.clone()));
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out.into_iter().map(|(_, v)| v).collect())
    }

    /// `Prefix.N.Field` structs ordered by N; each entry maps Field → value.
    pub fn struct_list(&self, prefix: &str) -> ApiResult<Vec<(u32, BTreeMap<String, String>)>> {
        let mut out: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        let lead = format!("{prefix}.");
        for (k, v) in self.0.range(lead.clone()..) {
            let Some(rest) = k.strip_prefix(&lead) else { break };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let n: u32 = n.parse().map_err(|_| ApiError::illegal(prefix))?;
            if n == 0 {
                return Err(ApiError::illegal(prefix));
            }
            out.entry(n).or_default().insert(field.to_string(), v.clone());
        }
        Ok(out.into_iter().collect())
    }

    /// Canonical string of the operation parameters (common/signature params excluded), for
    /// ClientToken idempotency comparison.
    pub fn fingerprint(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.0 {
            if COMMON_PARAMS.contains(&k.as_str()) {
                continue;
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_merges_query_and_body_and_decodes_plus() {
        let p = Params::parse("A=1&Desc=a+b%2Ac", Some(b"B=2&A=3"));
        assert_eq!(p.get("A"), Some("3"));
        assert_eq!(p.get("B"), Some("2"));
        assert_eq!(p.get("Desc"), Some("a b*c"));
    }

    #[test]
    fn bools_are_case_insensitive() {
        let p = Params::parse("a=True&b=false&c=TRUE&d=yes", None);
        let cases = [("a", Ok(Some(true))), ("b", Ok(Some(false))), ("c", Ok(Some(true))), ("x", Ok(None))];
        for (k, want) in cases {
            assert_eq!(p.bool(k), want, "{k}");
        }
        assert_eq!(p.bool("d").unwrap_err().code, "IllegalParamFormat.d");
    }

    #[test]
    fn lists_are_one_based_and_ordered() {
        let p = Params::parse("T.2=b&T.1=a&T.10=c&Tag.1.Key=k&Tag.1.Value=v&Tag.2.Key=k2", None);
        assert_eq!(p.list("T").unwrap(), vec!["a", "b", "c"]);
        let t = p.struct_list("Tag").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].1.get("Key").map(String::as_str), Some("k"));
        assert_eq!(t[1].1.get("Value"), None);
        assert!(Params::parse("T.0=a", None).list("T").is_err());
        assert!(Params::parse("T.x=a", None).list("T").is_err());
    }

    #[test]
    fn fingerprint_ignores_common_params() {
        let a = Params::parse("Action=X&RegionId=r&SignatureNonce=1&ClientToken=t", None);
        let b = Params::parse("Action=X&RegionId=r&SignatureNonce=2", None);
        let c = Params::parse("Action=X&RegionId=s", None);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
