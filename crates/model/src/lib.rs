//! fluxboard's shared model: the Flux kinds table and the summary and health of one Flux
//! object, computed from its raw JSON; the stream events and API bodies; detail-page reads. No I/O: the backend and the browser (wasm32) share it.
//!
//! Architecture Invariant: this crate depends on serde and serde_json only.

pub mod action;
pub mod api;
pub mod audit;
pub mod auth;
pub mod detail;
pub mod graph;
pub mod kinds;
pub mod order;
pub mod schedule;
pub mod summary;
pub mod view;

pub use kinds::{KINDS, KindInfo, kind_info};
pub use summary::{Health, Summary, summarize};
