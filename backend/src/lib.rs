//! fluxboard: a live web dashboard for Flux CD. This library holds the server; `main.rs` wires
//! configuration to it.
//!
//! Layers, imports going down: `state` (what every request shares, the options) at the bottom;
//! `http` (connections, the error body, host/origin/JSON rules); the features `fleet` (watches,
//! store, stream, object reads), `auth` (identity, login, SSO, sessions, limits, configuration)
//! and `api` (actions, audit, controllers, metrics, assets); `app` on top (the router, serving).
//! `demo` starts emulated clusters.

pub(crate) mod api;
pub mod app;
pub mod auth;
#[cfg(feature = "demo")]
pub mod demo;
pub mod fleet;
pub(crate) mod http;
pub mod state;

pub use app::{App, Options};
// The paths the binary, the tests and the benchmark use.
pub use api::{actions, assets, audit};
pub use auth::{config, login};
pub use fleet::{cluster, stream};
pub use http::conn;
