//! Change markers and latency statistics.
//!
//! Each change the benchmark makes writes a marker into an object's Ready message:
//! `bench:<stage>-<n>:<unix nanos when sent>`. Whoever sees the marker (an SSE reader, kubectl)
//! computes the change-to-client latency from the clock of the same machine.

use std::collections::BTreeMap;
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

/// Latencies counted in buckets of a tenth of a millisecond, so that reader processes report a
/// few hundred numbers rather than every sample, and their reports merge exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Histogram {
    /// Samples per bucket: the bucket's lower bound in tenths of a millisecond.
    buckets: BTreeMap<u64, u64>,
}

impl Histogram {
    /// Counts one latency (milliseconds).
    pub(crate) fn record(&mut self, ms: f64) {
        let bucket = (ms.max(0.0) * 10.0).floor() as u64;
        *self.buckets.entry(bucket).or_default() += 1;
    }

    /// Adds another histogram's samples.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += n;
        }
    }

    /// How many samples it holds.
    pub(crate) fn samples(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// Nearest-rank percentiles, each the upper bound of its bucket (at most 0.1 ms high).
    pub(crate) fn percentiles(&self) -> Percentiles {
        let total = self.samples();
        if total == 0 {
            return Percentiles::default();
        }
        let upper = |bucket: u64| (bucket + 1) as f64 / 10.0;
        let rank = |p: f64| {
            let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (bucket, n) in &self.buckets {
                seen += n;
                if seen >= want {
                    return upper(*bucket);
                }
            }
            upper(*self.buckets.keys().next_back().unwrap_or(&0))
        };
        Percentiles {
            samples: total as usize,
            p50_ms: rank(50.0),
            p95_ms: rank(95.0),
            p99_ms: rank(99.0),
            max_ms: upper(*self.buckets.keys().next_back().unwrap_or(&0)),
        }
    }
}

/// What the SSE readers of one stage report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClientsReport {
    pub(crate) clients: usize,
    /// Every reader's change-to-client latencies.
    pub(crate) latency: Histogram,
    /// (reader, change) pairs that never arrived.
    pub(crate) missing: usize,
    /// Readers whose stream ended before the end marker.
    pub(crate) ended_early: usize,
    /// Compressed snapshot bytes each reader downloaded (the last one's).
    pub(crate) snapshot_bytes: usize,
}

impl ClientsReport {
    /// The reports of several reader processes of one stage as one.
    pub(crate) fn merge(reports: &[ClientsReport]) -> ClientsReport {
        let mut all = ClientsReport::default();
        for report in reports {
            all.clients += report.clients;
            all.latency.merge(&report.latency);
            all.missing += report.missing;
            all.ended_early += report.ended_early;
            all.snapshot_bytes = all.snapshot_bytes.max(report.snapshot_bytes);
        }
        all
    }
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

    #[test]
    fn histograms_of_several_processes_merge_into_the_percentiles_of_all_samples() {
        let (mut low, mut high) = (Histogram::default(), Histogram::default());
        for ms in 1..=50 {
            low.record(f64::from(ms));
        }
        for ms in 51..=100 {
            high.record(f64::from(ms) - 0.05);
        }
        let reports = [
            ClientsReport { clients: 2, latency: low, missing: 1, ..ClientsReport::default() },
            ClientsReport { clients: 3, latency: high, snapshot_bytes: 9, ..ClientsReport::default() },
        ];
        let all = ClientsReport::merge(&reports);
        assert_eq!((all.clients, all.missing, all.snapshot_bytes), (5, 1, 9));
        let p = all.latency.percentiles();
        // Each percentile is its bucket's upper bound: within 0.1 ms above the sample.
        assert_eq!(p.samples, 100);
        assert!((p.p50_ms - 50.1).abs() < 1e-9, "{p:?}");
        assert!((p.p99_ms - 99.0).abs() < 1e-9, "{p:?}");
        assert!((p.max_ms - 100.0).abs() < 1e-9, "{p:?}");
        assert_eq!(Histogram::default().percentiles().samples, 0);
    }
}
