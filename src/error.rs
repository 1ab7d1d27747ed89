//! The operator's error type.

use crate::alicloud::{CallError, ErrorClass};

/// Everything that can go wrong in a reconciliation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// An Alibaba Cloud API call failed.
    #[error(transparent)]
    Cloud(#[from] CallError),
    /// No usable credentials for this object.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The finalizer helper failed (boxed: it wraps this type).
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// Not a failure: the cloud is still working (e.g. deleting); keep the finalizer and look again.
    #[error("{reason}")]
    Requeue {
        /// What we are waiting for.
        reason: String,
        /// Fixed delay, or `None` for the adaptive poll interval.
        after: Option<std::time::Duration>,
    },
    /// The object has no name or namespace.
    #[error("object has no {0}")]
    MissingObjectKey(&'static str),
    /// `spec.resources[].serviceRef` is used but the operator does not watch Services.
    #[error(
        "spec.resources[].serviceRef needs the operator to watch Services (run it with --watch-services, chart value backendsFromServices.enabled)"
    )]
    ServiceRefsDisabled,
    /// A cache entry could not be read back (a bug).
    #[error(transparent)]
    Cache(#[from] crate::cache::UnpackError),
    /// The exported ConfigMap could not be written.
    #[error("exporting to ConfigMap {name}: {source}")]
    Export {
        /// The ConfigMap.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Short machine-readable reason: the Alibaba code for cloud errors, else the kind.
    pub fn reason(&self) -> String {
        match self {
            Error::Cloud(CallError::Cloud(e)) => e.reason(),
            Error::Cloud(CallError::Transport { .. }) => "CloudUnreachable".into(),
            Error::Cloud(CallError::Decode { .. }) => "CloudBadResponse".into(),
            Error::Cloud(CallError::CredentialSource { .. }) => "CredentialsUnavailable".into(),
            Error::Kube(_) => "KubernetesError".into(),
            Error::Credentials(_) => "CredentialsError".into(),
            Error::Finalizer(_) => "FinalizerError".into(),
            Error::MissingObjectKey(_) => "InvalidObject".into(),
            Error::Requeue { .. } => "Waiting".into(),
            Error::ServiceRefsDisabled => "ServiceRefsDisabled".into(),
            Error::Export { .. } => "ExportFailed".into(),
            Error::Cache(_) => "CacheUnreadable".into(),
        }
    }

    /// Whether retrying without a spec change cannot help.
    pub fn is_terminal(&self) -> bool {
        match self {
            Error::Cloud(e) => e.class() == ErrorClass::Terminal,
            Error::MissingObjectKey(_) | Error::ServiceRefsDisabled => true,
            _ => false,
        }
    }

    /// Unwrap finalizer errors to the error of the reconciler, so reasons stay meaningful.
    pub fn flatten(self) -> Self {
        use kube::runtime::finalizer::Error as F;
        match self {
            Error::Finalizer(inner) => match *inner {
                F::ApplyFailed(e) | F::CleanupFailed(e) => e.flatten(),
                F::AddFinalizer(e) | F::RemoveFinalizer(e) => Error::Kube(e),
                F::UnnamedObject => Error::MissingObjectKey("name"),
                F::InvalidFinalizer => Error::MissingObjectKey("valid finalizer"),
            },
            other => other,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
