//! End-to-end tests: the real operator binary against a real kube-apiserver (`make testenv-up`) and
//! `privatelink-sim`. Each test has its own namespace, simulator and operator (see `harness`).
//!
//! Run: `make testenv-up && cargo test --test e2e` (or `make e2e`).

mod harness;

mod admission;
mod cloud_errors;
mod connections;
mod controls;
mod credentials;
mod delete;
mod deploy;
mod detach;
mod endpoints;
mod exactly_once;
mod fairness;
mod leader;
mod ready;
mod restore;
mod wiring;
