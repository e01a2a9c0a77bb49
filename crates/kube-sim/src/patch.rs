//! The three patch formats of the Kubernetes API: JSON merge patch (RFC 7386) and JSON patch
//! (RFC 6902) through the `json-patch` crate, and strategic merge patch (the format kubectl
//! sends for built-in kinds), which is ours.

use serde_json::{Map, Value};

/// Why a patch could not be applied; the message is answered to the client as is.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PatchError {
    /// The patch document is not a JSON object where one is required.
    #[error("the patch must be a JSON object")]
    NotAnObject,
    /// The JSON patch document is not a list of operations (it cannot be decoded).
    #[error("invalid JSON patch: {0}")]
    BadJsonPatch(String),
    /// An operation of a JSON patch cannot be read or applied.
    #[error("the JSON patch cannot be applied: {0}")]
    Failed(String),
    /// A strategic merge patch directive is unknown or malformed.
    #[error("invalid strategic merge patch: {0}")]
    BadDirective(String),
}

/// Applies an RFC 7386 JSON merge patch (the `json-patch` crate's): maps merge recursively,
/// `null` removes a key, and any other value (a non-object patch included) replaces the target.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Applies an RFC 6902 JSON patch (the `json-patch` crate's `add`, `remove`, `replace`, `move`,
/// `copy` and `test`), atomically: when any operation fails, the target is left unchanged.
///
/// As the API server: a document that is not a list of objects cannot be decoded
/// ([`PatchError::BadJsonPatch`], 400); an operation that cannot be read or applied (an unknown
/// `op`, a missing member, a path that is not there, a failed `test`) fails the patch
/// ([`PatchError::Failed`], 422).
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Some(operations) = patch.as_array().filter(|ops| ops.iter().all(Value::is_object)) else {
        return Err(PatchError::BadJsonPatch("the patch must be a JSON array of operation objects".into()));
    };
    let operations: Vec<json_patch::PatchOperation> = operations
        .iter()
        .map(|op| serde_json::from_value(op.clone()).map_err(|e| PatchError::Failed(format!("{op}: {e}"))))
        .collect::<Result<_, _>>()?;
    json_patch::patch(target, &operations).map_err(|e| PatchError::Failed(e.to_string()))
}

/// The directive key of strategic merge patch.
const PATCH_DIRECTIVE: &str = "$patch";
/// The directive listing the keys of a map to keep.
const RETAIN_KEYS: &str = "$retainKeys";
/// The prefix of the directive giving the order of a list's elements.
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
/// The prefix of the directive listing scalars to remove from a list.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Lists of objects that merge element-wise by a key, by field name, as the built-in kinds declare
/// with `patchMergeKey`; `ports` is decided by the elements (`containerPort` or `port`).
const MERGE_KEYS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("ephemeralContainers", "name"),
    ("volumes", "name"),
    ("env", "name"),
    ("imagePullSecrets", "name"),
    ("resourceClaims", "name"),
    ("schedulingGates", "name"),
    ("volumeMounts", "mountPath"),
    ("volumeDevices", "devicePath"),
    ("conditions", "type"),
    ("addresses", "type"),
    ("hostAliases", "ip"),
    ("ownerReferences", "uid"),
    ("topologySpreadConstraints", "topologyKey"),
];

/// Lists of scalars that merge as sets (`patchStrategy: merge` on a list of strings).
const MERGED_SCALAR_LISTS: &[&str] = &["finalizers"];

/// What to do with a map after a strategic merge.
#[derive(Debug, PartialEq, Eq)]
enum MapOutcome {
    /// Keep the (merged) map.
    Keep,
    /// The patch asked for the map to be deleted.
    Delete,
}

/// Applies a Kubernetes strategic merge patch.
///
/// Maps merge as in a JSON merge patch. Lists are replaced, except the lists known to merge: lists
/// of objects merge element-wise by their merge key (`containers` by `name`, `ports` by
/// `containerPort` or `port`, ...) and `finalizers` merges as a set. The directives `$patch`
/// (`replace`, `merge`, `delete`), `$retainKeys`, `$setElementOrder/<field>` and
/// `$deleteFromPrimitiveList/<field>` are honoured and never stored.
pub(crate) fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::NotAnObject);
    };
    let mut doc = target.clone();
    if merge_map(&mut doc, patch)? == MapOutcome::Delete {
        doc = Value::Object(Map::new());
    }
    *target = doc;
    Ok(())
}

/// Strategically merges a patch map into a target, which becomes a map if it is not one.
fn merge_map(target: &mut Value, patch: &Map<String, Value>) -> Result<MapOutcome, PatchError> {
    match patch.get(PATCH_DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "delete" => return Ok(MapOutcome::Delete),
        Some(Value::String(d)) if d == "replace" => {
            *target = Value::Object(Map::new());
            let rest: Map<String, Value> =
                patch.iter().filter(|(k, _)| *k != PATCH_DIRECTIVE).map(|(k, v)| (k.clone(), v.clone())).collect();
            return merge_map(target, &rest);
        }
        Some(other) => return Err(PatchError::BadDirective(format!("unknown $patch directive {other}"))),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return Ok(MapOutcome::Keep);
    };
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Value::Array(keys) = retain else {
            return Err(PatchError::BadDirective("$retainKeys must be a list of strings".into()));
        };
        let mut keep = Vec::with_capacity(keys.len());
        for key in keys {
            let Value::String(key) = key else {
                return Err(PatchError::BadDirective("$retainKeys must be a list of strings".into()));
            };
            keep.push(key.as_str());
        }
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if key == PATCH_DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(map, field, value)?;
            continue;
        }
        if key.starts_with('$') {
            return Err(PatchError::BadDirective(format!("unknown directive {key:?}")));
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(inner) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                if merge_map(slot, inner)? == MapOutcome::Delete {
                    map.remove(key);
                }
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                merge_list(slot, key, items)?;
            }
            scalar => {
                map.insert(key.clone(), scalar.clone());
            }
        }
    }
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            set_element_order(map, field, order)?;
        }
    }
    Ok(MapOutcome::Keep)
}

/// Removes the scalars listed by `$deleteFromPrimitiveList/<field>` from the list `field`.
fn delete_from_primitive_list(map: &mut Map<String, Value>, field: &str, values: &Value) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(PatchError::BadDirective(format!("{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list")));
    };
    if let Some(Value::Array(items)) = map.get_mut(field) {
        items.retain(|item| !values.contains(item));
    }
    Ok(())
}

/// Reorders the list `field` as `$setElementOrder/<field>` says: the listed elements take the
/// positions the listed elements occupy, in the given order, and other elements stay in place.
fn set_element_order(map: &mut Map<String, Value>, field: &str, order: &Value) -> Result<(), PatchError> {
    let Value::Array(order) = order else {
        return Err(PatchError::BadDirective(format!("{SET_ELEMENT_ORDER}{field} must be a list")));
    };
    let Some(Value::Array(items)) = map.get_mut(field) else {
        return Ok(());
    };
    let key = merge_key(field, items, order);
    let position = |item: &Value| -> Option<usize> {
        order.iter().position(|wanted| match (key, wanted) {
            (Some(key), Value::Object(wanted)) => {
                wanted.get(key).is_some_and(|wanted| item.get(key).is_some_and(|have| have == wanted))
            }
            _ => wanted == item,
        })
    };
    let slots: Vec<usize> = (0..items.len()).filter(|&i| position(&items[i]).is_some()).collect();
    let mut ordered: Vec<Value> = slots.iter().map(|&i| items[i].clone()).collect();
    ordered.sort_by_key(|item| position(item));
    for (slot, item) in slots.into_iter().zip(ordered) {
        items[slot] = item;
    }
    Ok(())
}

/// The merge key of a list field, if the list merges element-wise.
fn merge_key(field: &str, target: &[Value], patch: &[Value]) -> Option<&'static str> {
    if field == "ports" {
        let has = |key: &str| target.iter().chain(patch).any(|item| item.get(key).is_some());
        return if has("containerPort") {
            Some("containerPort")
        } else if has("port") {
            Some("port")
        } else {
            None
        };
    }
    MERGE_KEYS.iter().find(|(name, _)| *name == field).map(|(_, key)| *key)
}

/// Strategically merges a patch list into the list `field` of the target.
fn merge_list(target: &mut Value, field: &str, patch: &[Value]) -> Result<(), PatchError> {
    let existing: &[Value] = match target {
        Value::Array(items) => items,
        _ => &[],
    };
    let replace_requested = patch.iter().any(|item| {
        item.get(PATCH_DIRECTIVE).and_then(Value::as_str) == Some("replace")
            && item.as_object().map(Map::len) == Some(1)
    });
    let key = merge_key(field, existing, patch);
    if replace_requested || (key.is_none() && !MERGED_SCALAR_LISTS.contains(&field)) {
        let mut items = Vec::with_capacity(patch.len());
        for item in patch {
            if let Value::Object(inner) = item {
                if inner.len() == 1 && inner.contains_key(PATCH_DIRECTIVE) {
                    continue;
                }
                let mut clean = Value::Null;
                if merge_map(&mut clean, inner)? == MapOutcome::Keep {
                    items.push(clean);
                }
            } else {
                items.push(item.clone());
            }
        }
        *target = Value::Array(items);
        return Ok(());
    }
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(items) = target else {
        return Ok(());
    };
    for item in patch {
        let (Some(key), Value::Object(inner)) = (key, item) else {
            // A merged list of scalars is a set: new scalars are appended once.
            if !items.contains(item) {
                items.push(item.clone());
            }
            continue;
        };
        let Some(wanted) = inner.get(key) else {
            return Err(PatchError::BadDirective(format!(
                "an element of the list {field:?} does not contain its merge key {key:?}"
            )));
        };
        let found = items.iter().position(|have| have.get(key) == Some(wanted));
        match found {
            Some(index) => {
                if merge_map(&mut items[index], inner)? == MapOutcome::Delete {
                    items.remove(index);
                }
            }
            None => {
                let mut fresh = Value::Null;
                if merge_map(&mut fresh, inner)? == MapOutcome::Keep {
                    items.push(fresh);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies a merge patch to a copy of the target and returns the result.
    fn merged(target: Value, patch: Value) -> Value {
        let mut target = target;
        merge_patch(&mut target, &patch);
        target
    }

    /// Applies a strategic merge patch to a copy of the target and returns the result.
    fn strategic(target: Value, patch: Value) -> Value {
        let mut target = target;
        match strategic_merge_patch(&mut target, &patch) {
            Ok(()) => target,
            Err(e) => panic!("strategic merge patch failed: {e}"),
        }
    }

    /// Applies a JSON patch to a copy of the target and returns the result.
    fn patched(target: Value, patch: Value) -> Result<Value, PatchError> {
        let mut target = target;
        json_patch(&mut target, &patch).map(|()| target)
    }

    #[test]
    fn the_rfc_7386_examples_all_hold() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(merged(target.clone(), patch.clone()), expected, "{target} + {patch}");
        }
    }

    #[test]
    fn a_null_in_a_merge_patch_removes_the_key() {
        let result =
            merged(json!({"metadata":{"labels":{"a":"1","b":"2"}}}), json!({"metadata":{"labels":{"a":null}}}));
        assert_eq!(result, json!({"metadata":{"labels":{"b":"2"}}}));
    }

    #[test]
    fn a_merge_patch_replaces_lists_wholesale() {
        let result = merged(
            json!({"spec":{"containers":[{"name":"a"},{"name":"b"}]}}),
            json!({"spec":{"containers":[{"name":"c"}]}}),
        );
        assert_eq!(result, json!({"spec":{"containers":[{"name":"c"}]}}));
    }

    #[test]
    fn json_patch_applies_every_operation_in_order() {
        let result = patched(
            json!({"a":{"b":[1,3]},"m":{"x":1},"r":0,"gone":true}),
            json!([
                {"op":"add","path":"/a/b/1","value":2},
                {"op":"add","path":"/a/b/-","value":4},
                {"op":"remove","path":"/gone"},
                {"op":"replace","path":"/r","value":{"c":2}},
                {"op":"move","from":"/m/x","path":"/moved"},
                {"op":"copy","from":"/a","path":"/copied"},
                {"op":"test","path":"/moved","value":1},
                {"op":"add","path":"/metadata~1name","value":"escaped"},
            ]),
        );
        assert_eq!(
            result.ok(),
            Some(
                json!({"a":{"b":[1,2,3,4]},"m":{},"r":{"c":2},"moved":1,"copied":{"b":[1,2,3,4]},"metadata/name":"escaped"})
            )
        );
    }

    #[test]
    fn a_json_patch_that_is_not_a_list_of_objects_cannot_be_decoded() {
        for patch in [json!({"op":"add"}), json!([1]), json!("x")] {
            assert!(matches!(patched(json!({"a":1}), patch.clone()), Err(PatchError::BadJsonPatch(_))), "{patch}");
        }
    }

    #[test]
    fn operations_that_cannot_be_read_or_applied_fail_the_patch() {
        let failing = [
            json!([{"op":"frobnicate","path":"/a"}]),
            json!([{"op":"add","path":"/a"}]),
            json!([{"op":"add","path":"a","value":1}]),
            json!([{"op":"replace","path":"/missing/deeper","value":1}]),
            json!([{"op":"remove","path":"/missing"}]),
            json!([{"op":"add","path":"/list/3","value":1}]),
            json!([{"op":"test","path":"/a","value":2}]),
            json!([{"op":"move","from":"/a","path":"/a/b"}]),
        ];
        for patch in failing {
            let result = patched(json!({"a":1,"list":[0]}), patch.clone());
            assert!(matches!(result, Err(PatchError::Failed(_))), "{patch}: {result:?}");
        }
    }

    #[test]
    fn a_failing_json_patch_leaves_the_target_unchanged() {
        let original = json!({"a":1,"b":[1,2]});
        let mut target = original.clone();
        let patch = json!([
            {"op":"add","path":"/c","value":3},
            {"op":"remove","path":"/b/0"},
            {"op":"test","path":"/a","value":2},
        ]);
        assert!(json_patch(&mut target, &patch).is_err());
        assert_eq!(target, original);
    }

    #[test]
    fn an_empty_json_patch_changes_nothing() {
        assert_eq!(patched(json!({"a":1}), json!([])).ok(), Some(json!({"a":1})));
    }

    #[test]
    fn a_rollout_restart_patch_adds_the_annotation() {
        let deployment = json!({"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}});
        let result = strategic(
            deployment,
            json!({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-01-01T00:00:00Z"}}}}}),
        );
        assert_eq!(
            result,
            json!({"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"x"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-01-01T00:00:00Z"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})
        );
    }

    #[test]
    fn a_null_in_a_strategic_merge_patch_removes_the_key() {
        let result =
            strategic(json!({"metadata":{"labels":{"a":"1","b":"2"}}}), json!({"metadata":{"labels":{"a":null}}}));
        assert_eq!(result, json!({"metadata":{"labels":{"b":"2"}}}));
    }

    #[test]
    fn containers_merge_by_name() {
        let pod = json!({"spec":{"containers":[{"name":"a","image":"a:1","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]},{"name":"b","image":"b:1"}]}});
        let result = strategic(
            pod,
            json!({"spec":{"containers":[{"name":"a","image":"a:2","env":[{"name":"Y","value":"3"},{"name":"Z","value":"4"}]},{"name":"c","image":"c:1"}]}}),
        );
        assert_eq!(
            result,
            json!({"spec":{"containers":[
                {"name":"a","image":"a:2","env":[{"name":"X","value":"1"},{"name":"Y","value":"3"},{"name":"Z","value":"4"}]},
                {"name":"b","image":"b:1"},
                {"name":"c","image":"c:1"},
            ]}})
        );
    }

    #[test]
    fn other_lists_are_replaced() {
        let result = strategic(
            json!({"spec":{"containers":[{"name":"a","args":["x","y"]}],"tolerations":[{"key":"k"}]}}),
            json!({"spec":{"containers":[{"name":"a","args":["z"]}],"tolerations":[{"key":"j"}]}}),
        );
        assert_eq!(result, json!({"spec":{"containers":[{"name":"a","args":["z"]}],"tolerations":[{"key":"j"}]}}));
    }

    #[test]
    fn container_ports_merge_by_container_port_and_service_ports_by_port() {
        let result = strategic(
            json!({"ports":[{"containerPort":80,"name":"http"}]}),
            json!({"ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}]}),
        );
        assert_eq!(
            result,
            json!({"ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":443}]})
        );
        let result = strategic(
            json!({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}}),
            json!({"spec":{"ports":[{"port":80,"targetPort":9090}]}}),
        );
        assert_eq!(result, json!({"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}}));
    }

    #[test]
    fn volume_mounts_merge_by_mount_path_and_conditions_by_type() {
        let result = strategic(
            json!({"volumeMounts":[{"mountPath":"/a","name":"x"}],"conditions":[{"type":"Ready","status":"False"}]}),
            json!({"volumeMounts":[{"mountPath":"/a","readOnly":true}],"conditions":[{"type":"Ready","status":"True"},{"type":"Other","status":"True"}]}),
        );
        assert_eq!(
            result,
            json!({"volumeMounts":[{"mountPath":"/a","name":"x","readOnly":true}],"conditions":[{"type":"Ready","status":"True"},{"type":"Other","status":"True"}]})
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let result =
            strategic(json!({"metadata":{"finalizers":["a","b"]}}), json!({"metadata":{"finalizers":["b","c"]}}));
        assert_eq!(result, json!({"metadata":{"finalizers":["a","b","c"]}}));
        let result = strategic(json!({"metadata":{"finalizers":["a","b"]}}), json!({"metadata":{"finalizers":null}}));
        assert_eq!(result, json!({"metadata":{}}));
    }

    #[test]
    fn a_delete_directive_in_a_list_element_removes_that_element() {
        let result = strategic(
            json!({"spec":{"volumes":[{"name":"a"},{"name":"b"}]}}),
            json!({"spec":{"volumes":[{"name":"a","$patch":"delete"},{"name":"missing","$patch":"delete"}]}}),
        );
        assert_eq!(result, json!({"spec":{"volumes":[{"name":"b"}]}}));
    }

    #[test]
    fn a_replace_directive_in_a_map_replaces_it_wholesale() {
        let result = strategic(
            json!({"metadata":{"labels":{"a":"1","b":"2"}}}),
            json!({"metadata":{"labels":{"$patch":"replace","c":"3"}}}),
        );
        assert_eq!(result, json!({"metadata":{"labels":{"c":"3"}}}));
    }

    #[test]
    fn a_replace_directive_in_a_list_replaces_it_wholesale() {
        let result = strategic(
            json!({"containers":[{"name":"a","image":"x"},{"name":"b"}]}),
            json!({"containers":[{"$patch":"replace"},{"name":"c"}]}),
        );
        assert_eq!(result, json!({"containers":[{"name":"c"}]}));
    }

    #[test]
    fn a_delete_directive_on_a_map_deletes_it() {
        let result = strategic(
            json!({"spec":{"strategy":{"rollingUpdate":{"maxSurge":1}},"replicas":1}}),
            json!({"spec":{"strategy":{"$patch":"delete"}}}),
        );
        assert_eq!(result, json!({"spec":{"replicas":1}}));
        assert_eq!(strategic(json!({"a":1}), json!({"$patch":"delete"})), json!({}));
    }

    #[test]
    fn a_merge_directive_is_the_default() {
        let result = strategic(json!({"a":{"b":1}}), json!({"a":{"$patch":"merge","c":2}}));
        assert_eq!(result, json!({"a":{"b":1,"c":2}}));
    }

    #[test]
    fn retain_keys_drops_unlisted_keys() {
        let result = strategic(
            json!({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}}),
            json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}),
        );
        assert_eq!(result, json!({"spec":{"strategy":{"type":"Recreate"}}}));
    }

    #[test]
    fn set_element_order_reorders_the_list() {
        let result = strategic(
            json!({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}}),
            json!({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"}],"containers":[{"name":"c","image":"x"}]}}),
        );
        assert_eq!(result, json!({"spec":{"containers":[{"name":"c","image":"x"},{"name":"b"},{"name":"a"}]}}));
        let result = strategic(
            json!({"metadata":{"finalizers":["a","b"]}}),
            json!({"metadata":{"$setElementOrder/finalizers":["b","a"]}}),
        );
        assert_eq!(result, json!({"metadata":{"finalizers":["b","a"]}}));
    }

    #[test]
    fn delete_from_primitive_list_removes_those_scalars() {
        let result = strategic(
            json!({"metadata":{"finalizers":["a","b","c"]}}),
            json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a","c","z"]}}),
        );
        assert_eq!(result, json!({"metadata":{"finalizers":["b"]}}));
    }

    #[test]
    fn directives_never_end_up_stored() {
        let result = strategic(
            json!({}),
            json!({"spec":{"$retainKeys":["containers"],"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"a","$patch":"merge","env":[{"name":"X","$patch":"merge"}]}],"template":{"$patch":"replace","x":{"$patch":"merge","y":null}}}}),
        );
        assert_eq!(result, json!({"spec":{"containers":[{"name":"a","env":[{"name":"X"}]}],"template":{"x":{}}}}));
        let result = strategic(json!({}), json!({"a":{"$patch":"replace","b":1}}));
        assert_eq!(result, json!({"a":{"b":1}}));
    }

    #[test]
    fn new_nested_maps_drop_their_nulls() {
        let result = strategic(json!({}), json!({"a":{"b":null,"c":{"d":null}}}));
        assert_eq!(result, json!({"a":{"c":{}}}));
    }

    #[test]
    fn a_non_object_strategic_patch_is_an_error() {
        let mut target = json!({"a":1});
        assert!(matches!(strategic_merge_patch(&mut target, &json!([1])), Err(PatchError::NotAnObject)));
        assert!(matches!(strategic_merge_patch(&mut target, &json!(null)), Err(PatchError::NotAnObject)));
        assert_eq!(target, json!({"a":1}));
    }

    #[test]
    fn bad_strategic_directives_are_errors_and_leave_the_target_unchanged() {
        let original = json!({"a":{"b":1},"containers":[{"name":"x"}]});
        let bad = [
            json!({"c":1,"a":{"$patch":"explode"}}),
            json!({"a":{"$retainKeys":"b"}}),
            json!({"a":{"$retainKeys":[1]}}),
            json!({"$setElementOrder/containers":{}}),
            json!({"$deleteFromPrimitiveList/containers":"x"}),
            json!({"containers":[{"image":"no-name"}]}),
            json!({"$unknown":1}),
        ];
        for patch in bad {
            let mut target = original.clone();
            assert!(matches!(strategic_merge_patch(&mut target, &patch), Err(PatchError::BadDirective(_))), "{patch}");
            assert_eq!(target, original);
        }
    }

    #[test]
    fn scalars_and_type_changes_replace_the_target_value() {
        let result = strategic(json!({"a":"x","b":{"c":1},"d":[1]}), json!({"a":{"e":1},"b":"y","d":{"f":2}}));
        assert_eq!(result, json!({"a":{"e":1},"b":"y","d":{"f":2}}));
    }
}
