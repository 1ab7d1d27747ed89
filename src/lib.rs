//! privatelink-operator: manage Alibaba Cloud PrivateLink endpoint services from Kubernetes.
//!
//! Flow is one-way: [`crd`] types → [`reconcile`] (observe → plan → act) → [`alicloud`] client → wire.
//! The PrivateLink simulator is its own crate (`crates/privatelink-sim`, a dev-dependency); it shares no
//! signing code with [`alicloud`] so that a bug on one side cannot cancel out on the other.

pub mod alicloud;
pub mod cache;
pub mod controller;
pub mod crd;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod namespaces;
pub mod reconcile;
pub mod telemetry;

#[cfg(test)]
pub mod fixtures;

pub use error::{Error, Result};
