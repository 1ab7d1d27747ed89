//! Alibaba Cloud API errors: the JSON error envelope, typed, and classified by error code.

use std::time::Duration;

/// How the operator should react to an error. Decided by Alibaba error code (and HTTP status for
/// gateway errors without a known code), never by message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: throttling, 5xx, `SystemBusy`, … Retry with backoff and the same ClientToken.
    Retryable,
    /// The service is busy or in a state that forbids the call right now; retry after it settles.
    Busy,
    /// The resource does not exist (`EndpointServiceNotFound`).
    NotFound,
    /// The request can never succeed as sent (bad input, permissions, quota). Needs a spec or
    /// configuration change; retried only slowly as a safety net.
    Terminal,
}

/// An error answer from the Alibaba Cloud API.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code}: {message} (RequestId: {request_id}, HTTP {http_status})")]
pub struct AliCloudError {
    /// Alibaba error code, e.g. `LoadBalancerNotFound`.
    pub code: String,
    /// Human-readable message from Alibaba.
    pub message: String,
    /// `RequestId` of the failed call, for Alibaba support.
    pub request_id: String,
    /// HTTP status of the answer.
    pub http_status: u16,
    /// Server-suggested wait (`x-acs-retry-after`, milliseconds on the wire).
    pub retry_after: Option<Duration>,
}

impl AliCloudError {
    /// Classification of this error.
    pub fn class(&self) -> ErrorClass {
        classify(&self.code, self.http_status)
    }

    /// Whether the error means "this resource does not exist".
    pub fn is_not_found(&self) -> bool {
        self.class() == ErrorClass::NotFound
    }

    /// A Kubernetes condition reason (CamelCase, `[A-Za-z0-9_,:]`) from the error code,
    /// e.g. `IllegalParamFormat.Tag` → `IllegalParamFormatTag`.
    pub fn reason(&self) -> String {
        let r: String = self.code.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if r.is_empty() || !r.starts_with(|c: char| c.is_ascii_alphabetic()) {
            format!("CloudError{r}")
        } else {
            r
        }
    }
}

/// Codes that mean "try again later" (§4.4 of the API reference).
const RETRYABLE: &[&str] = &[
    "InternalError",
    "ServiceUnavailable",
    "UnknownError",
    "SystemBusy",
    "ConcurrentCallNotSupported",
    "IdempotenceProcessing",
    "GenerateResourceIdFailed",
    "VSwitchStatusNotAllowed",
    "VpcNatServiceException",
    "ServiceTimeout",
    "SystemError",
    // Temporary credentials ran out: the next call fetches fresh ones.
    "InvalidSecurityToken.Expired",
    // RRSA: the projected OIDC token expired (the kubelet rotates it; the retry re-reads the file),
    // or STS could not fetch the issuer's keys for now.
    "AuthenticationFail.OIDCToken.Expired",
    "AuthenticationFail.OIDCToken.IssuerConfigurationBroken",
];

/// Codes that mean "the service is busy or in the wrong state; wait for it".
/// The service (or a consumer's endpoint) is in a state that blocks the call for now: a task runs, or a
/// dependency (attached resources, live or pending connections) must go first.
const BUSY: &[&str] = &[
    "EndpointServiceLocked",
    "EndpointServiceOperationDenied",
    "EndpointServiceConnectionDependence",
    "EndpointServiceDependenceViolation",
    "DeleteFailedDueToEndpointExist",
    "EndpointLocked",
    "EndpointOperationDenied",
    "EndpointConnectionOperationDenied",
    "EndpointDependenceViolation",
];

/// Classify an Alibaba error by code; the HTTP status only decides for unknown codes.
pub fn classify(code: &str, http_status: u16) -> ErrorClass {
    if matches!(code, "EndpointServiceNotFound" | "EndpointNotFound" | "EndpointZoneNotFound") {
        return ErrorClass::NotFound;
    }
    if code.starts_with("Throttling") || code == "Rejected.Throttling" || RETRYABLE.contains(&code) {
        return ErrorClass::Retryable;
    }
    if BUSY.contains(&code) || code.starts_with("IncorrectStatus.") {
        return ErrorClass::Busy;
    }
    if code.starts_with("Missing")
        || code.starts_with("Invalid")
        || code.starts_with("IllegalParam")
        || code.starts_with("Forbidden")
        || code.starts_with("OperationDenied.")
        || code.starts_with("Mismatch.")
        || code.starts_with("Unsupported")
        || code.ends_with("NotFound")
        || code.ends_with("Forbidden")
        || matches!(
            code,
            "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "SignatureNonceUsed"
                | "NoPermission"
                | "QuotaMisMatched"
                | "NeedOpenProduct"
                | "LoadBalancerNotSupportPrivateLink"
                | "EndpointServiceNotSupportedZone"
                | "EndpointServiceNotSupportIpv6"
                | "IdempotenceSignatureMismatch"
                | "AccountTypeRestricted"
                | "EndpointServiceExist"
                | "DryRunOperation"
        )
    {
        return ErrorClass::Terminal;
    }
    if http_status >= 500 || http_status == 429 {
        ErrorClass::Retryable
    } else {
        // An unknown 4xx code: treat as terminal but the slow safety retry still applies.
        ErrorClass::Terminal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_by_code() {
        use ErrorClass::*;
        let cases = [
            ("Throttling.User", 400, Retryable),
            ("Throttling.Api", 400, Retryable),
            ("Throttling", 400, Retryable),
            ("ServiceUnavailable", 503, Retryable),
            ("InternalError", 500, Retryable),
            ("SystemBusy", 400, Retryable),
            ("ConcurrentCallNotSupported", 400, Retryable),
            ("IdempotenceProcessing", 400, Retryable),
            ("EndpointServiceLocked", 400, Busy),
            ("EndpointServiceOperationDenied", 400, Busy),
            ("IncorrectStatus.VpcEndpointService", 400, Busy),
            ("EndpointServiceConnectionDependence", 400, Busy),
            ("EndpointServiceDependenceViolation", 400, Busy),
            ("DeleteFailedDueToEndpointExist", 400, Busy),
            ("EndpointConnectionOperationDenied", 400, Busy),
            ("InvalidSecurityToken.Expired", 400, Retryable),
            ("UpdateBandWidthUnSupported", 400, Terminal),
            ("InvalidResourceGroup", 400, Terminal),
            ("AuthenticationFail.OIDCToken.Expired", 401, Retryable),
            ("AuthenticationFail.OIDCToken.IssuerConfigurationBroken", 401, Retryable),
            ("AuthenticationFail.OIDCToken.AudienceNotMatch", 401, Terminal),
            ("AuthenticationFail.NoPermission", 401, Terminal),
            ("EndpointServiceNotFound", 400, NotFound),
            ("EndpointServiceNotFound", 404, NotFound),
            ("EndpointNotFound", 400, NotFound),
            ("EndpointZoneNotFound", 400, NotFound),
            ("EndpointDependenceViolation", 400, Busy),
            ("VSwitchStatusNotAllowed", 400, Retryable),
            ("EndpointServiceNotAuthorized", 400, Terminal),
            ("EndpointDuplicated", 400, Terminal),
            ("MissingParam.RegionId", 400, Terminal),
            ("InvalidAccessKeyId.NotFound", 404, Terminal),
            ("InvalidAccessKeyId.Inactive", 400, Terminal),
            ("IllegalParamFormat.Tag.1.Key", 400, Terminal),
            ("LoadBalancerNotFound", 400, Terminal),
            ("AlbNotFound", 400, Terminal),
            ("QuotaMisMatched", 400, Terminal),
            ("SignatureDoesNotMatch", 400, Terminal),
            ("SignatureDoesNotMatch", 403, Terminal),
            ("Forbidden.RAM", 403, Terminal),
            ("IdempotenceSignatureMismatch", 400, Terminal),
            ("Mismatch.ResourceType", 400, Terminal),
            ("OperationDenied.ResourceTypeNotSupportDualStack", 400, Terminal),
            ("SomethingNew", 502, Retryable),
            ("SomethingNew", 400, Terminal),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify(code, status), want, "{code} HTTP {status}");
        }
    }

    #[test]
    fn reasons_are_valid_condition_reasons() {
        let e = |code: &str| AliCloudError {
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
            http_status: 400,
            retry_after: None,
        };
        assert_eq!(e("IllegalParamFormat.Tag.1.Key").reason(), "IllegalParamFormatTag1Key");
        assert_eq!(e("LoadBalancerNotFound").reason(), "LoadBalancerNotFound");
        assert_eq!(e("").reason(), "CloudError");
        assert_eq!(e("5xx").reason(), "CloudError5xx");
    }
}
