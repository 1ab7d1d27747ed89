//! API errors as Alibaba's gateway reports them (reference §4).

use serde_json::{Value, json};

/// One API error: code, message and HTTP status (plus optional `x-acs-retry-after` in ms).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({http_status}): {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub http_status: u16,
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(http_status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), http_status, retry_after_ms: None }
    }
    pub fn bad(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn missing(name: &str) -> Self {
        Self::bad(format!("MissingParam.{name}"), format!("The param of {name} is missing."))
    }
    pub fn illegal(name: &str) -> Self {
        Self::bad(format!("IllegalParamFormat.{name}"), format!("The param format of {name} is illegal."))
    }
    pub fn not_found() -> Self {
        Self::bad("EndpointServiceNotFound", "The specified Service does not exist.")
    }
    pub fn operation_denied() -> Self {
        Self::bad(
            "EndpointServiceOperationDenied",
            "The operation is denied because the endpoint service is not in a valid state.",
        )
    }
    pub fn incorrect_status(id: &str) -> Self {
        Self::bad(
            "IncorrectStatus.VpcEndpointService",
            format!("The status of VpcEndpointService [{id}] is incorrect."),
        )
    }
    pub fn locked() -> Self {
        Self::bad("EndpointServiceLocked", "The specified Service is locked.")
    }
    pub fn dry_run() -> Self {
        Self::bad("DryRunOperation", "The specified operation is a dry run operation.")
    }
    pub fn throttled() -> Self {
        Self::bad("Throttling.User", "Request was denied due to user flow control.")
    }
    /// Default message for a code chosen by fault injection.
    pub fn for_code(code: &str, http_status: Option<u16>) -> Self {
        let (status, msg) = match code {
            "ServiceUnavailable" => (503, "The request has failed due to a temporary failure of the server."),
            "InternalError" => (500, "The request processing has failed due to some unknown error."),
            "SystemBusy" => (400, "System is busy. Please try again later."),
            "ConcurrentCallNotSupported" => {
                (400, "The operation conflicts with other operations. Please try again later.")
            }
            c if c.starts_with("Throttling") => (400, "Request was denied due to user flow control."),
            _ => (400, "Injected fault."),
        };
        Self::new(http_status.unwrap_or(status), code, msg)
    }

    pub fn body(&self, request_id: &str, host_id: &str) -> Value {
        json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Privatelink&requestId={}",
                self.code, request_id
            ),
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
