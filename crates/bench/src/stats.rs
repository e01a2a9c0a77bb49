//! Change markers and latency statistics.
//!
//! Each change the benchmark makes writes a marker into an object's Ready message:
//! `bench:<stage>-<n>:<unix nanos when sent>`. Whoever sees the marker (an SSE reader, kubectl)
//! computes the change-to-client latency from the clock of the same machine.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The marker for change `n` of `stage`, sent now.
pub(crate) fn marker(stage: &str, n: usize) -> String {
    format!("bench:{stage}-{n}:{}", now_nanos())
}

/// The marker that tells readers the stage is over.
pub(crate) fn end_marker(stage: &str) -> String {
    format!("bench:{stage}-end:{}", now_nanos())
}

pub(crate) fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// A marker found in `text`: the stage, the change number (None for the end marker) and the
/// send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub(crate) stage: &'a str,
    pub(crate) n: Option<usize>,
    pub(crate) sent_nanos: u128,
}

/// Finds the first marker in `text`.
pub(crate) fn find(text: &str) -> Option<Found<'_>> {
    let start = text.find("bench:")? + "bench:".len();
    let rest = &text[start..];
    let (label, rest) = rest.split_once(':')?;
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    let sent_nanos = digits.parse().ok()?;
    let (stage, n) = label.rsplit_once('-')?;
    let n = if n == "end" { None } else { Some(n.parse().ok()?) };
    Some(Found { stage, n, sent_nanos })
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Percentiles {
    pub(crate) samples: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Percentiles {
    /// The percentiles of `samples` (milliseconds), nearest-rank.
    pub(crate) fn of(mut samples: Vec<f64>) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[i.clamp(1, samples.len()) - 1]
        };
        Percentiles {
            samples: samples.len(),
            p50_ms: rank(50.0),
            p95_ms: rank(95.0),
            p99_ms: rank(99.0),
            max_ms: samples[samples.len() - 1],
        }
    }
}

/// What the SSE readers of one stage report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClientsReport {
    pub(crate) clients: usize,
    pub(crate) latency: Percentiles,
    /// (reader, change) pairs that never arrived.
    pub(crate) missing: usize,
    /// Readers whose stream ended before the end marker.
    pub(crate) ended_early: usize,
    /// Compressed snapshot bytes each reader downloaded (the last one's).
    pub(crate) snapshot_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_in_any_text() {
        let m = marker("sse1000", 17);
        let text = format!("{{\"message\":\"{m}\",\"health\":\"Ready\"}}");
        let found = find(&text).unwrap();
        assert_eq!((found.stage, found.n), ("sse1000", Some(17)));
        assert!(found.sent_nanos > 0);
        let end = end_marker("kubectl");
        let line = format!("team-0001   app-3   5m   True   {end}");
        let found = find(&line).unwrap();
        assert_eq!((found.stage, found.n), ("kubectl", None));
        for nothing in ["", "bench", "bench:x:1", "bench:x-1:", "bench:x-y:5", "no marker here"] {
            assert_eq!(find(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.samples, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms), (100, 50.0, 95.0, 99.0, 100.0));
        let one = Percentiles::of(vec![7.0]);
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
        assert_eq!(Percentiles::of(Vec::new()).samples, 0);
    }
}
