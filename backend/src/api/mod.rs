//! The rest of the HTTP surface: actions (`actions`), the audit trail (`audit`), the
//! controllers page (`controllers`), Prometheus metrics (`metrics`), the fleet graph's root
//! causes and revision search (`why`), and the embedded web app (`assets`).

pub mod actions;
pub mod assets;
pub mod audit;
pub(crate) mod controllers;
pub(crate) mod metrics;
pub(crate) mod why;
