//! In-process access to the emulated cluster for the emulated controllers and the fleet seeder:
//! the same store and rules as the HTTP API, without the HTTP.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    error::{ApiError, Result},
    object, patch,
    resources::{Registry, ResourceType, split_api_version},
    server::prepare_create,
    store::{Part, Store},
};

/// The store and the resource registry, with object-level helpers.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub registry: Arc<Registry>,
    pub store: Arc<Store>,
}

impl Cluster {
    /// The type of an object from its apiVersion and kind.
    pub fn type_of(&self, obj: &Value) -> Result<&Arc<ResourceType>> {
        self.registry.for_object(obj).ok_or_else(|| {
            ApiError::bad_request(format!(
                "no matches for kind {:?} in version {:?}",
                object::kind(obj),
                obj["apiVersion"].as_str().unwrap_or_default()
            ))
        })
    }

    /// The preferred type of a group and kind.
    pub fn type_of_kind(&self, group: &str, kind: &str) -> Result<&Arc<ResourceType>> {
        self.registry
            .by_kind(group, kind)
            .ok_or_else(|| ApiError::bad_request(format!("no matches for kind {kind:?} in group {group:?}")))
    }

    /// One object by group and kind, at whatever version it is stored.
    pub fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let rt = self.registry.by_kind(group, kind)?;
        self.store.try_get(&rt.storage_key(), namespace, name)
    }

    /// Creates the object, or merges the fields it gives into the existing one (fields it does
    /// not give are kept, as server-side apply does for fields of other managers). A `status`
    /// in `obj` is written through the status subresource.
    pub fn apply(&self, obj: &Value) -> Result<Arc<Value>> {
        let rt = self.type_of(obj)?.clone();
        let namespace = if rt.namespaced { object::namespace(obj) } else { "" };
        let name = object::name(obj);
        let mut desired = obj.clone();
        let status = desired.as_object_mut().and_then(|o| o.remove("status"));
        let applied = match self.store.get(&rt, namespace, name) {
            Ok(_) => self.store.update_with(&rt, namespace, name, Part::Main, |current| {
                patch::merge_patch(current, &desired);
                Ok(())
            })?,
            Err(err) if err.code == 404 => {
                let prepared = prepare_create(&rt, namespace, desired, self.store.resource_version())?;
                self.store.create(&rt, prepared)?
            }
            Err(err) => return Err(err),
        };
        match status {
            Some(status) if rt.has_status => self.write_status(&rt, namespace, name, status),
            _ => Ok(applied),
        }
    }

    /// Replaces an object's status.
    pub fn write_status(&self, rt: &ResourceType, namespace: &str, name: &str, status: Value) -> Result<Arc<Value>> {
        self.store.update_with(rt, namespace, name, Part::Status, |current| {
            current["status"] = status;
            Ok(())
        })
    }

    /// Deletes an object named by apiVersion and kind; a missing one is not an error.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<()> {
        let (group, _) = split_api_version(api_version);
        let rt = self.type_of_kind(group, kind)?;
        let namespace = if rt.namespaced { namespace } else { "" };
        match self.store.delete(rt, namespace, name, None) {
            Ok(_) => Ok(()),
            Err(err) if err.code == 404 => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Objects of a kind matching `filter`.
    pub fn list(&self, group: &str, kind: &str, filter: impl Fn(&Value) -> bool) -> Vec<Arc<Value>> {
        let Some(rt) = self.registry.by_kind(group, kind) else { return Vec::new() };
        self.store.all(&rt.storage_key()).into_iter().filter(|o| filter(o)).collect()
    }

    /// Sets or removes one annotation with a metadata-only write.
    pub fn annotate(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Arc<Value>> {
        self.store.update_with(rt, namespace, name, Part::Main, |obj| {
            let mut annotations = obj["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
            match value {
                Some(v) => annotations.insert(key.to_owned(), json!(v)),
                None => annotations.remove(key),
            };
            object::meta_mut(obj).insert("annotations".into(), Value::Object(annotations));
            Ok(())
        })
    }
}

impl Cluster {
    /// The stored object with the same kind, namespace and name as `obj`.
    pub fn get_for(&self, obj: &Value) -> Option<Arc<Value>> {
        let rt = self.registry.for_object(obj)?;
        let namespace = if rt.namespaced { object::namespace(obj) } else { "" };
        self.store.try_get(&rt.storage_key(), namespace, object::name(obj))
    }
}
