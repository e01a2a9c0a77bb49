//! image-reflector-controller (ImageRepository scans, ImagePolicy's latest tag) and
//! image-automation-controller (ImageUpdateAutomation runs against a ready GitRepository).

use serde_json::json;

use super::{DEPENDENCY_REQUEUE, Run, SOURCE, go_duration, hex_digest, not_found, ref_namespace};

/// The canonical image name image-reflector writes (Docker Hub's names spelled out).
fn canonical_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if first.contains('.') || first.contains(':') || first == "localhost" {
        image.to_owned()
    } else if image.contains('/') {
        format!("index.docker.io/{image}")
    } else {
        format!("index.docker.io/library/{image}")
    }
}

impl Run<'_> {
    pub(super) fn image_repository(&mut self) {
        let image = self.obj["spec"]["image"].as_str().unwrap_or_default().to_owned();
        let canonical = canonical_image(&image);
        let upstream = self.obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"].as_str().unwrap_or_default();
        let newest = 4 + u64::from_str_radix(&hex_digest(&format!("{image}{upstream}"))[..1], 16).unwrap_or(0) % 4;
        let tags: Vec<String> = (0..=newest).rev().map(|p| format!("6.5.{p}")).collect();
        self.outcome.status["canonicalImageName"] = json!(canonical);
        self.outcome.status["lastScanResult"] =
            json!({"tagCount": tags.len(), "scanTime": self.now, "latestTags": tags});
        self.outcome.status.as_object_mut().map(|s| s.remove("observedExclusionList"));
        self.succeed("Succeeded", &format!("successful scan: found {} tags", tags.len()), None);
    }

    /// image-reflector's ImagePolicy (imagepolicy_controller.go:305-380): the repository must
    /// exist and have scanned tags; it need not be Ready.
    pub(super) fn image_policy(&mut self) {
        let reference = &self.obj["spec"]["imageRepositoryRef"];
        let namespace = ref_namespace(reference, self.obj).to_owned();
        let name = reference["name"].as_str().unwrap_or_default();
        let group = "image.toolkit.fluxcd.io";
        let Some(repository) = self.world.get(group, "ImageRepository", &namespace, name) else {
            let message =
                format!("failed to get the referred ImageRepository: {}", not_found(group, "ImageRepository", name));
            self.wait("DependencyNotReady", &message);
            return;
        };
        let image = repository["status"]["canonicalImageName"].as_str().unwrap_or_default().to_owned();
        let Some(tag) = repository["status"]["lastScanResult"]["latestTags"][0].as_str().map(str::to_owned) else {
            let message = format!("retrying in {} error: no tags in database", go_duration(DEPENDENCY_REQUEUE));
            self.wait("DependencyNotReady", &message);
            return;
        };
        let previous = self.outcome.status["latestRef"].clone();
        if previous.is_object() && previous["tag"] != tag.as_str() {
            self.outcome.status["observedPreviousRef"] = previous;
        }
        self.outcome.status["latestRef"] = json!({"name": image, "tag": tag});
        self.succeed("Succeeded", &format!("Latest image tag for {image} resolved to {tag}"), None);
    }

    pub(super) fn image_update(&mut self) {
        let source_ref = &self.obj["spec"]["sourceRef"];
        let namespace = ref_namespace(source_ref, self.obj).to_owned();
        let name = source_ref["name"].as_str().unwrap_or_default();
        let source = match self.ready_source(SOURCE, "GitRepository", &namespace, name) {
            Ok(source) => source,
            Err(message) => {
                self.wait("DependencyNotReady", &message);
                return;
            }
        };
        self.outcome.status["lastAutomationRunTime"] = json!(self.now);
        self.outcome.status["observedSourceRevision"] = source["status"]["artifact"]["revision"].clone();
        self.succeed("Succeeded", "repository up-to-date", None);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::*;
    use super::super::*;

    /// image-reflector's ImagePolicy needs its repository to exist with scanned tags, not to
    /// be Ready (imagepolicy_controller.go:318-375).
    #[test]
    fn an_image_policy_waits_for_its_repository_and_its_tags() {
        let mut world = MapWorld::default();
        let policy = json!({"kind": "ImagePolicy", "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}},
            "status": {"observedGeneration": -1}});
        assert_eq!(
            ready_condition(&reconcile(FluxKind::ImagePolicy, &policy, &world).status).2,
            "failed to get the referred ImageRepository: ImageRepository.image.toolkit.fluxcd.io \"app\" not found"
        );
        world.put(json!({"kind": "ImageRepository", "metadata": {"name": "app", "namespace": "apps", "generation": 2},
            "status": {"observedGeneration": 1}}));
        let waiting = reconcile(FluxKind::ImagePolicy, &policy, &world);
        assert_eq!(
            ready_condition(&waiting.status),
            ("False".into(), "DependencyNotReady".into(), "retrying in 30s error: no tags in database".into())
        );
        assert_eq!(waiting.status["observedGeneration"], -1);
        world.put(json!({"kind": "ImageRepository", "metadata": {"name": "app", "namespace": "apps", "generation": 2},
            "status": {"observedGeneration": 1, "canonicalImageName": "ghcr.io/acme/app",
                       "lastScanResult": {"latestTags": ["1.2.0"]},
                       "conditions": [{"type": "Ready", "status": "False", "message": "scan failed"}]}}));
        let resolved = reconcile(FluxKind::ImagePolicy, &policy, &world);
        assert_eq!(ready_condition(&resolved.status).2, "Latest image tag for ghcr.io/acme/app resolved to 1.2.0");
        assert_eq!(resolved.status["observedGeneration"], 1);
    }
}
