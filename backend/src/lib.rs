//! fluxboard: a live web dashboard for Flux CD. This library holds the server: cluster watches,
//! the fleet store, the event stream, object details and the embedded web app; `main.rs` wires
//! configuration to it.

pub mod actions;
pub mod app;
pub mod assets;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod demo;
pub mod error;
pub mod http;
pub mod limiter;
pub mod login;
pub mod metrics;
pub mod objects;
pub mod oidc;
pub mod sessions;
pub mod store;
pub mod stream;

pub use app::{App, Options};
