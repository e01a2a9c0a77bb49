//! When a Flux controller will reconcile an object again on its own, estimated for the detail
//! page's "next run": the controller requeues an object `spec.interval` after each reconcile
//! (`spec.retryInterval` after a failure, where the kind has one), with some jitter, and records
//! no "last reconciled at" time; the latest time the object is known to have run (its Ready
//! condition's transition, its Events, the last handled request) stands in for it.

use crate::api::ObjectDetail;
use crate::view::{parse_rfc3339, yaml_value};

/// A Go duration as Flux specs write them (`10m`, `1h30m`, `30s`, `1.5h`, `500ms`), in whole
/// seconds (rounded down); None when it is not one.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    // Whole numbers only: parsing floats would add the float parser to the browser's bundle.
    let mut millis: i64 = 0;
    while !rest.is_empty() {
        let number = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (whole, fraction) = rest[..number].split_once('.').unwrap_or((&rest[..number], ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        rest = &rest[number..];
        let unit = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale: i64 = match &rest[..unit] {
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1000,
            "ms" => 1,
            _ => return None,
        };
        rest = &rest[unit..];
        let digits = |text: &str| if text.is_empty() { Some(0) } else { text.parse::<i64>().ok() };
        // A fraction to the millisecond (a Go duration's finest unit here).
        let fraction = &fraction[..fraction.len().min(7)];
        let part = digits(fraction)?.checked_mul(scale)? / 10i64.checked_pow(fraction.len() as u32)?;
        millis = millis.checked_add(digits(whole)?.checked_mul(scale)?)?.checked_add(part)?;
    }
    Some(millis / 1000)
}

/// The estimate: the next run's time, the interval it follows, and the run it counts from
/// (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextRun {
    pub at: i64,
    pub every: i64,
    pub since: i64,
}

/// The latest time the object is known to have been reconciled: its Ready condition's last
/// transition, the last time one of its Events was seen, the last request it handled.
pub fn last_run(d: &ObjectDetail) -> Option<i64> {
    let ready = d.conditions.iter().filter(|c| c.type_ == "Ready").filter_map(|c| c.last_transition_time.as_deref());
    let events = d.events.iter().filter_map(|e| e.last_seen.as_deref());
    let handled = d.summary.last_handled_reconcile_at.as_deref();
    ready.chain(events).chain(handled).filter_map(parse_rfc3339).max()
}

/// When the object runs next on its own, after `now`: the first whole interval after its last
/// run (a run overdue by a few intervals is counted from the last one it would have made).
/// None for suspended objects, objects without an interval, or without a known last run.
pub fn next_run(d: &ObjectDetail, now: i64) -> Option<NextRun> {
    if d.summary.suspended {
        return None;
    }
    let failing = matches!(d.summary.health, crate::Health::Failing);
    let spec = |field: &str| yaml_value(&d.yaml, &["spec", field]).as_deref().and_then(parse_duration);
    let every = failing.then(|| spec("retryInterval")).flatten().or_else(|| spec("interval")).filter(|&e| e > 0)?;
    let since = last_run(d)?;
    let runs = if now < since { 1 } else { (now - since) / every + 1 };
    Some(NextRun { at: since + runs * every, every, since })
}

/// `4m 05s`, `45s`, `1h 02m`: a countdown of `seconds`.
pub fn countdown(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, EventEntry};
    use crate::summary::{Health, summarize};

    #[test]
    fn durations_read_as_go_writes_them() {
        for (text, want) in [
            ("10m", Some(600)),
            ("1h30m", Some(5400)),
            ("30s", Some(30)),
            ("1.5h", Some(5400)),
            ("2m30s", Some(150)),
            ("500ms", Some(0)),
            ("1m500ms", Some(60)),
            ("", None),
            ("10", None),
            ("5d", None),
            ("m", None),
        ] {
            assert_eq!(parse_duration(text), want, "{text:?}");
        }
    }

    fn detail(spec: &str, ready_at: &str, health_ready: bool) -> ObjectDetail {
        let obj = serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system", "generation": 1},
            "spec": {"interval": "10m", "retryInterval": "2m", "path": "./apps"},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready",
                "status": if health_ready { "True" } else { "False" }, "reason": "R", "message": "m",
                "lastTransitionTime": ready_at, "observedGeneration": 1}]}
        });
        let info = crate::kind_info("kustomize.toolkit.fluxcd.io", "Kustomization").expect("a Flux kind");
        let summary = summarize("c", info, &obj);
        ObjectDetail {
            summary,
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "R".into(),
                message: "m".into(),
                last_transition_time: Some(ready_at.into()),
            }],
            events: Vec::new(),
            events_error: None,
            history: Vec::new(),
            inventory: None,
            inventory_note: None,
            yaml: spec.into(),
        }
    }

    const YAML: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  interval: 10m\n  retryInterval: 2m\n  path: ./apps\n";

    #[test]
    fn the_next_run_is_the_next_interval_after_the_last_run() {
        let at = parse_rfc3339("2026-12-01T12:00:00Z").unwrap();
        let d = detail(YAML, "2026-12-01T12:00:00Z", true);
        assert_eq!(d.summary.health, Health::Ready);
        assert_eq!(next_run(&d, at + 60), Some(NextRun { at: at + 600, every: 600, since: at }));
        // Overdue by more than an interval: the run it would have made since counts.
        assert_eq!(next_run(&d, at + 1300).map(|n| n.at), Some(at + 1800));
        // A later Event is a later run.
        let mut later = d.clone();
        later.events.push(EventEntry {
            type_: "Normal".into(),
            reason: "ReconciliationSucceeded".into(),
            message: "ok".into(),
            count: 1,
            last_seen: Some("2026-12-01T12:05:00Z".into()),
            source: "kustomize-controller".into(),
        });
        assert_eq!(next_run(&later, at + 360).map(|n| n.at), Some(at + 900));
    }

    #[test]
    fn failures_retry_at_their_interval_and_suspended_objects_do_not_run() {
        let at = parse_rfc3339("2026-12-01T12:00:00Z").unwrap();
        let failing = detail(YAML, "2026-12-01T12:00:00Z", false);
        assert_eq!(failing.summary.health, Health::Failing);
        assert_eq!(next_run(&failing, at + 30).map(|n| (n.at, n.every)), Some((at + 120, 120)));
        let mut suspended = detail(YAML, "2026-12-01T12:00:00Z", true);
        suspended.summary.suspended = true;
        assert_eq!(next_run(&suspended, at), None);
        let no_interval = detail("spec:\n  path: ./apps\n", "2026-12-01T12:00:00Z", true);
        assert_eq!(next_run(&no_interval, at), None);
    }

    #[test]
    fn countdowns_are_short() {
        assert_eq!(countdown(45), "45s");
        assert_eq!(countdown(245), "4m 05s");
        assert_eq!(countdown(3720), "1h 02m");
        assert_eq!(countdown(-5), "0s");
    }
}
