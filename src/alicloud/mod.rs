//! Alibaba Cloud PrivateLink API client: typed operations, RPC (HMAC-SHA1) signing, typed errors.

pub mod client;
pub mod credentials;
pub mod error;
pub mod ops;
pub mod params;
pub mod rrsa;
pub mod signer;
pub mod vocab;

pub use client::{AliCloudClient, CallError, ClientConfig};
pub use credentials::Credentials;
pub use error::{AliCloudError, ErrorClass};
pub use rrsa::DefaultCredentials;
