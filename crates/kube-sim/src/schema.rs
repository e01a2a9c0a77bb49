//! What the API server does with a custom resource's structural schema on every write:
//! defaulting and pruning of unknown fields (Kubernetes "Structural schemas", apiextensions
//! `pruning` and `defaulting`), for the Flux CRDs.
//!
//! Simplification: only the latest CRD version's schema ships in `crds/`. Objects written
//! through it are defaulted and pruned by it; older served versions (`--flux-version`) are
//! pruned only of the fields known to be missing from them ([`absent_fields`]).

use serde_json::{Map, Value};

/// How writes of one served version are pruned.
#[derive(Debug, Clone, Default)]
pub(crate) enum Pruning {
    /// Not a custom resource, or nothing known: kept as written.
    #[default]
    None,
    /// The version's `openAPIV3Schema`.
    Schema(std::sync::Arc<Value>),
    /// Dotted paths this older version does not have.
    Fields(&'static [&'static str]),
}

/// Fields a Flux kind gained after an older version: writes through that version lose them.
/// ImagePolicy got `spec.suspend` and `status.lastHandledReconcileAt` only in
/// image-reflector-controller v1.0 (API v1, Flux 2.7; FIDELITY.md A12).
pub(crate) fn absent_fields(kind: &str, version: &str) -> &'static [&'static str] {
    match (kind, version) {
        ("ImagePolicy", "v1beta1" | "v1beta2") => &["spec.suspend", "status.lastHandledReconcileAt"],
        _ => &[],
    }
}

impl Pruning {
    /// Prunes `obj` in place.
    pub(crate) fn prune(&self, obj: &mut Value) {
        match self {
            Self::None => {}
            Self::Schema(schema) => prune_root(schema, obj),
            Self::Fields(paths) => {
                for path in *paths {
                    let mut parts: Vec<&str> = path.split('.').collect();
                    let Some(last) = parts.pop() else { continue };
                    let mut at = &mut *obj;
                    for p in parts {
                        at = &mut at[p];
                    }
                    if let Some(o) = at.as_object_mut() {
                        o.remove(last);
                    }
                }
            }
        }
    }
}

impl Pruning {
    /// The fields pruning would drop from `obj`, as the API server's strict decoding names
    /// them (`spec.bogus`, `spec.list[0].junk`), in document order. Only a schema knows them.
    pub(crate) fn unknown_fields(&self, obj: &Value) -> Vec<String> {
        let Self::Schema(_) = self else { return Vec::new() };
        let mut pruned = obj.clone();
        self.prune(&mut pruned);
        let mut out = Vec::new();
        dropped(obj, &pruned, "", &mut out);
        out
    }
}

fn dropped(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match a.get(k) {
                    Some(kept) => dropped(v, kept, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (v, kept)) in b.iter().zip(a).enumerate() {
                dropped(v, kept, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The root keeps apiVersion, kind and metadata whatever the schema says.
fn prune_root(schema: &Value, obj: &mut Value) {
    let Some(fields) = obj.as_object_mut() else { return };
    let properties = schema["properties"].as_object();
    fields.retain(|k, _| {
        matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || properties.is_some_and(|p| p.contains_key(k))
    });
    for (k, v) in fields.iter_mut() {
        if let Some(s) = properties.and_then(|p| p.get(k))
            && k != "metadata"
        {
            prune(s, v);
        }
    }
}

fn prune(schema: &Value, value: &mut Value) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true || schema["x-kubernetes-int-or-string"] == true {
        if let (Some(props), Some(fields)) = (schema["properties"].as_object(), value.as_object_mut()) {
            for (k, v) in fields.iter_mut() {
                if let Some(s) = props.get(k) {
                    prune(s, v);
                }
            }
        }
        return;
    }
    match value {
        Value::Object(fields) => prune_object(schema, fields),
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    prune(item, v);
                }
            }
        }
        _ => {}
    }
}

fn prune_object(schema: &Value, fields: &mut Map<String, Value>) {
    let embedded = schema["x-kubernetes-embedded-resource"] == true;
    if let Some(props) = schema["properties"].as_object() {
        fields.retain(|k, _| {
            props.contains_key(k) || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
        });
        for (k, v) in fields.iter_mut() {
            if let Some(s) = props.get(k) {
                prune(s, v);
            }
        }
        return;
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(true)) => {}
        Some(s) if s.is_object() => {
            for v in fields.values_mut() {
                prune(s, v);
            }
        }
        // An object schema with neither properties nor additionalProperties: nothing is known,
        // everything but an embedded resource's envelope goes.
        _ => fields.retain(|k, _| embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_pruned_and_preserved_subtrees_kept() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "interval": {"type": "string"},
                "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "list": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
            "status": {"type": "object", "default": {"observedGeneration": -1}, "properties": {"observedGeneration": {"type": "integer"}}}}});
        let pruning = Pruning::Schema(Arc::new(schema));
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "extra": 1,
            "spec": {"interval": "1m", "suspend": true, "values": {"any": {"thing": 1}}, "labels": {"a": "b"},
                     "list": [{"name": "n", "junk": 2}]},
            "status": {"observedGeneration": 1, "made": "up"}});
        pruning.prune(&mut obj);
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
                "spec": {"interval": "1m", "values": {"any": {"thing": 1}}, "labels": {"a": "b"}, "list": [{"name": "n"}]},
                "status": {"observedGeneration": 1}})
        );
    }

    #[test]
    fn unknown_fields_are_named_as_strict_decoding_names_them() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "interval": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}});
        let pruning = Pruning::Schema(Arc::new(schema));
        let obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "extra": 1,
            "spec": {"interval": "1m", "bogus": true, "list": [{"name": "n"}, {"name": "m", "junk": 2}]}});
        assert_eq!(pruning.unknown_fields(&obj), vec!["extra", "spec.bogus", "spec.list[1].junk"]);
        assert!(Pruning::None.unknown_fields(&obj).is_empty());
    }

    #[test]
    fn an_old_image_policy_version_has_no_suspend() {
        let mut obj = json!({"spec": {"suspend": true, "policy": {}}, "status": {"lastHandledReconcileAt": "t", "latestImage": "x"}});
        Pruning::Fields(absent_fields("ImagePolicy", "v1beta2")).prune(&mut obj);
        assert_eq!(obj, json!({"spec": {"policy": {}}, "status": {"latestImage": "x"}}));
        assert!(absent_fields("ImagePolicy", "v1").is_empty());
    }
}
