//! Server-side printing: `meta.k8s.io/v1 Table`, what `kubectl get` asks for, with the CRDs'
//! additionalPrinterColumns and kubectl-like columns for built-in kinds.

use serde_json::{Value, json};

/// One printer column, as in a CRD's additionalPrinterColumns.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrinterColumn {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) type_: String,
    #[serde(default)]
    pub(crate) format: String,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) json_path: String,
    #[serde(default)]
    pub(crate) priority: i32,
}

/// The `includeObject` parameter: what each row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// A Table of `objects`, with column definitions unless `with_column_definitions` is false
/// (watch events after the first).
pub(crate) fn build_table(
    kind: &str,
    crd_columns: Option<&[PrinterColumn]>,
    objects: &[&Value],
    include_object: IncludeObject,
    with_column_definitions: bool,
    list_meta: Value,
) -> Value {
    let columns = columns(kind, crd_columns);
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = columns.iter().map(|c| cell(c, obj, now)).collect();
            let mut row = json!({"cells": cells});
            match include_object {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]});
                }
                IncludeObject::Object => row["object"] = (*obj).clone(),
            }
            row
        })
        .collect();
    let definitions: Vec<Value> = if with_column_definitions {
        columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect()
    } else {
        Vec::new()
    };
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": definitions, "rows": rows})
}

fn column(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.to_owned(),
        type_: type_.to_owned(),
        format: if name == "Name" { "name".to_owned() } else { String::new() },
        description: String::new(),
        json_path: json_path.to_owned(),
        priority: 0,
    }
}

/// Computed cells of built-in kinds, by a pseudo JSONPath starting with `@`.
fn columns(kind: &str, crd_columns: Option<&[PrinterColumn]>) -> Vec<PrinterColumn> {
    let mut out = vec![column("Name", "string", ".metadata.name")];
    if let Some(crd) = crd_columns {
        out.extend(crd.iter().cloned());
        return out;
    }
    let age = column("Age", "date", ".metadata.creationTimestamp");
    match kind {
        "Pod" => out.extend([
            column("Ready", "string", "@pod-ready"),
            column("Status", "string", ".status.phase"),
            column("Restarts", "integer", "@pod-restarts"),
            age,
        ]),
        "Deployment" => out.extend([
            column("Ready", "string", "@deployment-ready"),
            column("Up-to-date", "integer", "@updatedReplicas"),
            column("Available", "integer", "@availableReplicas"),
            age,
        ]),
        "Namespace" => out.extend([column("Status", "string", ".status.phase"), age]),
        "Event" => {
            out = vec![
                column("Last Seen", "date", ".lastTimestamp"),
                column("Type", "string", ".type"),
                column("Reason", "string", ".reason"),
                column("Object", "string", "@involved-object"),
                column("Message", "string", ".message"),
            ];
        }
        _ => out.push(age),
    }
    out
}

fn cell(column: &PrinterColumn, obj: &Value, now: jiff::Timestamp) -> Value {
    let number = |v: &Value| json!(v.as_i64().unwrap_or(0));
    match column.json_path.as_str() {
        "@pod-ready" => {
            let statuses = obj["status"]["containerStatuses"].as_array();
            let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
            let total = obj["spec"]["containers"].as_array().map_or(0, Vec::len);
            json!(format!("{ready}/{total}"))
        }
        "@pod-restarts" => {
            let statuses = obj["status"]["containerStatuses"].as_array();
            json!(statuses.map_or(0, |s| s.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum::<i64>()))
        }
        "@deployment-ready" => {
            let ready = obj["status"]["readyReplicas"].as_i64().unwrap_or(0);
            let desired = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            json!(format!("{ready}/{desired}"))
        }
        "@updatedReplicas" => number(&obj["status"]["updatedReplicas"]),
        "@availableReplicas" => number(&obj["status"]["availableReplicas"]),
        "@involved-object" => {
            let involved = &obj["involvedObject"];
            let kind = involved["kind"].as_str().unwrap_or_default().to_lowercase();
            json!(format!("{kind}/{}", involved["name"].as_str().unwrap_or_default()))
        }
        path => {
            let found = eval_json_path(obj, path);
            match column.type_.as_str() {
                "date" => found.first().and_then(Value::as_str).map_or(json!("<unknown>"), |t| json!(age(t, now))),
                "integer" | "number" | "boolean" if found.len() == 1 => found[0].clone(),
                _ => json!(found.iter().map(to_text).collect::<Vec<_>>().join(",")),
            }
        }
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A duration as kubectl prints ages: `45s`, `3m2s`, `10m`, `4h5m`, `2d3h`, `400d`.
fn age(timestamp: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else { return "<invalid>".to_owned() };
    let secs = now.duration_since(then).as_secs().max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{m}m{}s", s % 60),
        s if s < 3 * 3600 => format!("{m}m"),
        s if s < 8 * 3600 => format!("{h}h{}m", m % 60),
        s if s < 2 * 86_400 => format!("{h}h"),
        s if s < 8 * 86_400 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}

/// The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[*].b`, filters
/// `[?(@.type=="Ready")]` (`==`, `!=` on strings) and quoted keys `['x.y']`.
pub(crate) fn eval_json_path(obj: &Value, path: &str) -> Vec<Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('$');
    let mut current = vec![obj.clone()];
    let mut rest = path;
    while !rest.is_empty() {
        let (step, next) = split_step(rest);
        current = current.iter().flat_map(|v| apply_step(v, step)).collect();
        rest = next;
    }
    current
}

/// The first step of a path and what follows it.
fn split_step(path: &str) -> (&str, &str) {
    if let Some(inner) = path.strip_prefix('[') {
        let mut depth = 1;
        let mut quote = None;
        for (i, c) in inner.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => {
                    depth -= 1;
                    if depth == 0 {
                        return (&path[..i + 2], &path[i + 2..]);
                    }
                }
                _ => {}
            }
        }
        return (path, "");
    }
    let body = path.strip_prefix('.').unwrap_or(path);
    let end = body.find(['.', '[']).unwrap_or(body.len());
    let offset = path.len() - body.len();
    (&path[..offset + end], &path[offset + end..])
}

fn apply_step(value: &Value, step: &str) -> Vec<Value> {
    if let Some(inner) = step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return apply_bracket(value, inner.trim());
    }
    let key = step.trim_start_matches('.');
    match (key, value) {
        ("", v) => vec![v.clone()],
        ("*", Value::Object(m)) => m.values().cloned().collect(),
        ("*", Value::Array(a)) => a.clone(),
        (k, Value::Object(m)) => m.get(k).cloned().into_iter().collect(),
        _ => Vec::new(),
    }
}

fn apply_bracket(value: &Value, inner: &str) -> Vec<Value> {
    if let Some(filter) = inner.strip_prefix("?(").and_then(|s| s.strip_suffix(')')) {
        let items = value.as_array().cloned().unwrap_or_default();
        return items.into_iter().filter(|item| filter_matches(item, filter)).collect();
    }
    if inner == "*" {
        return match value {
            Value::Array(a) => a.clone(),
            Value::Object(m) => m.values().cloned().collect(),
            _ => Vec::new(),
        };
    }
    if let Some(key) = unquote(inner) {
        return value.get(key).cloned().into_iter().collect();
    }
    let Ok(index) = inner.parse::<i64>() else { return Vec::new() };
    let Some(items) = value.as_array() else { return Vec::new() };
    let index = if index < 0 { items.len() as i64 + index } else { index };
    usize::try_from(index).ok().and_then(|i| items.get(i)).cloned().into_iter().collect()
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
}

/// `@.a.b=="x"`, `@.a!='x'`, or `@.a` (exists).
fn filter_matches(item: &Value, filter: &str) -> bool {
    let (path, op, expected) = match (filter.split_once("=="), filter.split_once("!=")) {
        (Some((p, e)), _) => (p, "==", Some(e)),
        (None, Some((p, e))) => (p, "!=", Some(e)),
        (None, None) => (filter, "exists", None),
    };
    let found = eval_json_path(item, path.trim().trim_start_matches('@'));
    let Some(expected) = expected else { return !found.is_empty() };
    let expected = expected.trim();
    let expected = unquote(expected).unwrap_or(expected);
    let equal = found.first().is_some_and(|v| to_text(v) == expected);
    if op == "==" { equal } else { !equal }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kustomization() -> Value {
        json!({
            "metadata": {"name": "apps", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "status": {"conditions": [
                {"type": "Reconciling", "status": "True", "message": "working"},
                {"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:abc"},
            ]},
        })
    }

    #[test]
    fn json_paths_with_filters_pick_the_condition() {
        let obj = kustomization();
        assert_eq!(eval_json_path(&obj, ".status.conditions[?(@.type==\"Ready\")].status"), vec![json!("True")]);
        assert_eq!(
            eval_json_path(&obj, ".status.conditions[?(@.type=='Ready')].message"),
            vec![json!("Applied revision: main@sha1:abc")]
        );
        assert_eq!(eval_json_path(&obj, ".status.conditions[?(@.type!=\"Ready\")].type"), vec![json!("Reconciling")]);
        assert_eq!(eval_json_path(&obj, ".status.conditions[*].type").len(), 2);
        assert_eq!(eval_json_path(&obj, ".status.conditions[0].type"), vec![json!("Reconciling")]);
        assert_eq!(eval_json_path(&obj, ".status.conditions[-1].type"), vec![json!("Ready")]);
        assert_eq!(eval_json_path(&obj, ".metadata['name']"), vec![json!("apps")]);
        assert!(eval_json_path(&obj, ".status.missing[0].x").is_empty());
        assert!(eval_json_path(&obj, ".status.conditions[oops").is_empty());
    }

    #[test]
    fn crd_tables_put_name_first_then_the_printer_columns() {
        let crd: Vec<PrinterColumn> = serde_json::from_value(json!([
            {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
            {"jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "name": "Ready", "type": "string"},
        ]))
        .unwrap();
        let obj = kustomization();
        let table = build_table(
            "Kustomization",
            Some(&crd),
            &[&obj],
            IncludeObject::Metadata,
            true,
            json!({"resourceVersion": "7"}),
        );
        assert_eq!(table["kind"], "Table");
        let names: Vec<&str> =
            table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["Name", "Age", "Ready"]);
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "apps");
        assert!(cells[1].as_str().unwrap().ends_with('d'), "{}", cells[1]);
        assert_eq!(cells[2], "True");
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let later = build_table("Kustomization", Some(&crd), &[&obj], IncludeObject::None, false, json!({}));
        assert!(later["columnDefinitions"].as_array().unwrap().is_empty());
        assert!(later["rows"][0].get("object").is_none());
    }

    #[test]
    fn built_in_kinds_get_kubectl_like_columns() {
        let deployment = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        let table = build_table("Deployment", None, &[&deployment], IncludeObject::None, true, json!({}));
        assert_eq!(table["rows"][0]["cells"], json!(["web", "1/2", 2, 1, table["rows"][0]["cells"][4]]));
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 3}]}});
        let table = build_table("Pod", None, &[&pod], IncludeObject::None, true, json!({}));
        assert_eq!(table["rows"][0]["cells"], json!(["p", "1/1", "Running", 3, "<unknown>"]));
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now: jiff::Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        assert_eq!(age("2026-01-09T23:59:15Z", now), "45s");
        assert_eq!(age("2026-01-09T23:56:58Z", now), "3m2s");
        assert_eq!(age("2026-01-09T23:30:00Z", now), "30m");
        assert_eq!(age("2026-01-09T20:00:00Z", now), "4h0m");
        assert_eq!(age("2026-01-08T00:00:00Z", now), "2d0h");
        assert_eq!(age("2025-01-10T00:00:00Z", now), "365d");
    }
}
