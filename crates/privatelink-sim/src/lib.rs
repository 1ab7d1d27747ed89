//! privatelink-sim: a wire-compatible simulator of the Alibaba Cloud PrivateLink OpenAPI
//! (`privatelink` 2020-04-15), verified against the official Python SDK (`tests/sdk/`).
//!
//! Layout (I/O-free logic in everything but [`server`]):
//! - [`sign`]: V1 (HMAC-SHA1) and V3 (`ACS3-HMAC-SHA256`) signature verification, own implementation.
//! - [`auth`]: picks the scheme, checks key state, clock skew, signature, STS token.
//! - [`params`]: query + form parameter handling (`Name.N.Field` lists, booleans).
//! - [`world`]: accounts, keys, regions, load balancers, quotas (default world documented in README.md).
//! - [`model`]: services, connections, endpoints with lazily computed status transitions.
//! - [`ops`]: the operations, one file per API area, one table from action name to handler
//!   (PrivateLink services, resources, users, connections, tags, endpoints; STS).
//! - [`state`]: ClientToken cache, nonce memory, rate limiter, journal, faults (all bounded).
//! - [`server`]: axum/hyper front end and the `/_sim/` admin API.
//!
//! See `README.md` for the default world, the admin API and measured throughput.

pub mod auth;
pub mod error;
pub mod model;
pub mod ops;
pub mod params;
pub mod server;
pub mod sign;
pub mod state;
pub mod world;

pub use error::ApiError;
pub use model::Timing;
pub use server::{Sim, SimConfig, router, serve};
pub use world::World;
