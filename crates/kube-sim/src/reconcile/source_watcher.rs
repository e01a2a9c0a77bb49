//! source-watcher: an ArtifactGenerator turns its sources' artifacts into ExternalArtifacts.

use serde_json::{Map, Value, json};

use super::{EventType, Run, SOURCE, condition, hex_digest, not_found, obj_ref, ref_namespace};

impl Run<'_> {
    /// source-watcher's ArtifactGenerator (artifactgenerator_controller.go): every source must
    /// have an artifact; each `spec.artifacts[]` becomes an ExternalArtifact owned by the
    /// generator (`spec.sourceRef` to it, Ready=True "Artifact is ready", L470-520), listed in
    /// `status.inventory` as `{name, namespace, digest, filename}`; orphans are deleted. The
    /// status has no observedGeneration.
    pub(super) fn artifact_generator(&mut self) {
        let mut revisions = Map::new();
        let mut observed = String::new();
        for source in self.obj["spec"]["sources"].as_array().cloned().unwrap_or_default() {
            let kind = source["kind"].as_str().unwrap_or_default();
            let namespace = ref_namespace(&source, self.obj).to_owned();
            let name = source["name"].as_str().unwrap_or_default();
            let revision = match self.world.get(SOURCE, kind, &namespace, name) {
                None => Err(format!("unable to get source '{namespace}/{name}': {}", not_found(SOURCE, kind, name))),
                Some(found) => found["status"]["artifact"]["revision"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("source '{kind}/{namespace}/{name}' is not ready")),
            };
            match revision {
                Ok(revision) => {
                    observed.push_str(&revision);
                    revisions.insert(source["alias"].as_str().unwrap_or_default().to_owned(), json!(revision));
                }
                Err(message) => {
                    self.wait("SourceFetchFailed", &format!("get sources failed: {message}"));
                    return;
                }
            }
        }
        let uid = self.obj["metadata"]["uid"].clone();
        let namespace = self.namespace().to_owned();
        let mut inventory = Vec::new();
        let mut changed = Vec::new();
        for output in self.obj["spec"]["artifacts"].as_array().cloned().unwrap_or_default() {
            let name = output["name"].as_str().unwrap_or_default().to_owned();
            let contents = hex_digest(&format!("{observed}|{name}|{}", output["copy"]));
            let digest = format!("sha256:{contents}");
            let revision = match output["revision"].as_str().and_then(|r| r.strip_prefix('@')) {
                Some(alias) => revisions.get(alias).and_then(Value::as_str).unwrap_or_default().to_owned(),
                None => format!("latest@{digest}"),
            };
            let filename = format!("{}.tar.gz", &contents[..16]);
            let path = format!("externalartifact/{namespace}/{name}/{filename}");
            let generation = self
                .world
                .get(SOURCE, "ExternalArtifact", &namespace, &name)
                .map_or(json!(1), |ea| ea["metadata"]["generation"].clone());
            self.outcome.apply.push(json!({
                "apiVersion": format!("{SOURCE}/v1"), "kind": "ExternalArtifact",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {"app.kubernetes.io/managed-by": "source-watcher", "source.extensions.fluxcd.io/generator": uid}},
                "spec": {"sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
                                       "name": self.name(), "namespace": namespace}},
                "status": {
                    "artifact": {"digest": digest, "lastUpdateTime": self.now, "path": path, "revision": revision,
                                 "size": 10_000 + u64::from_str_radix(&contents[..3], 16).unwrap_or(0),
                                 "url": format!("http://source-watcher.flux-system.svc.cluster.local./{path}")},
                    "conditions": [condition("Ready", "True", "Succeeded", "Artifact is ready", &generation, &self.now)],
                },
            }));
            let known = self.obj["status"]["inventory"]
                .as_array()
                .is_some_and(|i| i.iter().any(|e| e["name"] == name.as_str() && e["digest"] == digest.as_str()));
            if !known {
                changed.push(format!("{namespace}/{name} ({digest})"));
            }
            inventory.push(json!({"name": name, "namespace": namespace, "digest": digest, "filename": filename}));
        }
        for old in self.obj["status"]["inventory"].as_array().into_iter().flatten() {
            if !inventory.iter().any(|e| e["name"] == old["name"] && e["namespace"] == old["namespace"]) {
                let (Some(ns), Some(name)) = (old["namespace"].as_str(), old["name"].as_str()) else { continue };
                self.outcome.delete.push(obj_ref(&format!("{SOURCE}/v1"), "ExternalArtifact", ns, name));
            }
        }
        let count = inventory.len();
        self.outcome.status["inventory"] = Value::Array(inventory);
        self.outcome.status["observedSourcesDigest"] = json!(format!("sha256:{}", hex_digest(&observed)));
        self.succeed("Succeeded", &format!("reconciliation succeeded, generated {count} artifact(s)"), None);
        if !changed.is_empty() {
            let message = format!("external artifacts reconciled: {}", changed.join("\n"));
            self.event(EventType::Normal, "Ready", &message, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::*;
    use super::super::*;

    /// E2: source-watcher's ArtifactGenerator (artifactgenerator_controller.go:250-300,
    /// 470-520): no status.observedGeneration, its message, an inventory and the
    /// ExternalArtifacts it owns, orphans deleted.
    #[test]
    fn an_artifact_generator_produces_external_artifacts() {
        let mut world = MapWorld::default();
        let mut source = git("a");
        source["status"] = reconcile(FluxKind::GitRepository, &source, &world).status;
        let revision = source["status"]["artifact"]["revision"].as_str().unwrap().to_owned();
        world.put(source);
        let ag = json!({"kind": "ArtifactGenerator", "metadata": {"name": "gen", "namespace": "apps", "generation": 4, "uid": "u1"},
            "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "app"}],
                     "artifacts": [{"name": "app-config", "revision": "@repo", "copy": [{"from": "@repo/config/**", "to": "@artifact/"}]},
                                   {"name": "app-manifests", "copy": [{"from": "@repo/deploy/**", "to": "@artifact/"}]}]},
            "status": {"inventory": [{"name": "gone", "namespace": "apps", "digest": "sha256:x", "filename": "x.tar.gz"}]}});
        let out = reconcile(FluxKind::ArtifactGenerator, &ag, &world);
        assert_eq!(
            ready_condition(&out.status),
            ("True".into(), "Succeeded".into(), "reconciliation succeeded, generated 2 artifact(s)".into())
        );
        assert!(out.status.get("observedGeneration").is_none());
        let inventory = out.status["inventory"].as_array().unwrap();
        assert_eq!(inventory.len(), 2);
        assert_eq!(inventory[0]["name"], "app-config");
        assert!(inventory[0]["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(inventory[0]["filename"].as_str().unwrap().ends_with(".tar.gz"));
        let ea = &out.apply[0];
        assert_eq!(ea["kind"], "ExternalArtifact");
        assert_eq!(
            ea["spec"]["sourceRef"],
            json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator", "name": "gen", "namespace": "apps"})
        );
        assert_eq!(ea["status"]["artifact"]["revision"], revision.as_str(), "@repo takes the source's revision");
        assert!(out.apply[1]["status"]["artifact"]["revision"].as_str().unwrap().starts_with("latest@sha256:"));
        assert_eq!(ea["status"]["conditions"][0]["message"], "Artifact is ready");
        assert_eq!(out.delete, vec![obj_ref("source.toolkit.fluxcd.io/v1", "ExternalArtifact", "apps", "gone")]);
    }
}
