//! Alibaba Cloud credentials. Secret parts never appear in `Debug` output, logs, events or status.

use std::fmt;

/// An access key pair, optionally with an STS security token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// AccessKey ID (not secret; it identifies the account for rate limiting and logs).
    pub access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
}

impl Credentials {
    /// Build credentials; empty strings are rejected by the caller.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: security_token.filter(|t| !t.is_empty()),
        }
    }

    /// The operator-wide default from `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
    /// (+ `ALIBABA_CLOUD_SECURITY_TOKEN`), the first link of Alibaba's default credential chain.
    pub fn from_env() -> Option<Self> {
        let id = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_ID").ok().filter(|s| !s.is_empty())?;
        let secret = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_SECRET").ok().filter(|s| !s.is_empty())?;
        Some(Self::new(id, secret, std::env::var("ALIBABA_CLOUD_SECURITY_TOKEN").ok()))
    }

    pub(crate) fn secret(&self) -> &str {
        &self.access_key_secret
    }

    pub(crate) fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &self.security_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::new("LTAIid", "super-secret-value", Some("sts-token-value".into()));
        let shown = format!("{c:?}");
        assert!(shown.contains("LTAIid"));
        assert!(!shown.contains("super-secret-value"));
        assert!(!shown.contains("sts-token-value"));
    }
}
