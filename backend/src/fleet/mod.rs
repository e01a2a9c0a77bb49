//! The fleet: cluster discovery and watches (`cluster`), the store of summaries and its change
//! log (`store`), the snapshot and the event stream (`stream`; its compression in pieces:
//! `gzip`), and one object in full (`objects`). Only `cluster` and `objects` talk to the clusters.

pub mod cluster;
pub mod gzip;
pub mod objects;
pub mod store;
pub mod stream;
