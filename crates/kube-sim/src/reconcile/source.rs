//! source-controller: GitRepository, OCIRepository, Bucket and HelmRepository fetches (their
//! revision from the spec and `sim.fluxboard.dev/upstream`) stored as artifacts, and HelmChart
//! pulls from a ready repository.

use serde_json::{Value, json};

use super::{EventType, FluxKind, Run, SOURCE, Script, hex_digest, set_conditions};

/// The revision a Git, OCI, Bucket or Helm repository source fetches now.
pub(super) fn upstream_revision(kind: FluxKind, obj: &Value) -> String {
    let spec = &obj["spec"];
    let upstream = obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"].as_str().unwrap_or_default();
    let seed = format!("{}|{}|{}|{upstream}", spec["url"], spec["ref"], spec["bucketName"]);
    let digest = hex_digest(&seed);
    match kind {
        FluxKind::GitRepository => git_revision(&spec["ref"], &digest[..40]),
        FluxKind::OciRepository => {
            let tag =
                spec["ref"]["tag"].as_str().or(spec["ref"]["semver"].as_str().map(|_| "6.5.4")).unwrap_or("latest");
            format!("{tag}@sha256:{digest}")
        }
        _ => format!("sha256:{digest}"),
    }
}

/// A Git revision as source-controller writes it: `<ref>@sha1:<sha>`, or `sha1:<commit>`.
fn git_revision(reference: &Value, sha: &str) -> String {
    if let Some(commit) = reference["commit"].as_str() {
        return format!("sha1:{commit}");
    }
    let name = reference["tag"]
        .as_str()
        .or(reference["semver"].as_str().map(|_| "v1.0.0"))
        .or(reference["name"].as_str())
        .or(reference["branch"].as_str())
        .unwrap_or("master");
    format!("{name}@sha1:{sha}")
}

/// An exact version as asked; a range resolves to a plausible release.
fn chart_version(wanted: &str, chart: &str) -> String {
    let exact = wanted.trim_start_matches('v');
    if !exact.is_empty()
        && exact.split('.').count() == 3
        && exact.split('.').all(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return wanted.to_owned();
    }
    let n = u64::from_str_radix(&hex_digest(chart)[..2], 16).unwrap_or(0);
    format!("{}.{}.{}", 1 + n % 9, n % 20, n % 7)
}

impl Run<'_> {
    pub(super) fn source(&mut self) {
        let url = self.obj["spec"]["url"].as_str().unwrap_or_default();
        if self.kind == FluxKind::GitRepository && self.world.repository_missing(url) {
            // The smart HTTP discovery's 404, as go-git reports it (an empty detail).
            let message =
                format!("failed to checkout and determine revision: unable to clone '{url}': repository not found: ");
            self.fail(&Script { stall: false, message, reason: None });
            return;
        }
        let revision = upstream_revision(self.kind, self.obj);
        let message = match self.kind {
            FluxKind::GitRepository | FluxKind::OciRepository => format!("stored artifact for revision '{revision}'"),
            _ => format!("stored artifact: revision '{revision}'"),
        };
        set_conditions(&mut self.outcome.status, vec![("FetchFailed", None), ("ArtifactOutdated", None)]);
        self.store_artifact(&revision, &message);
    }

    fn store_artifact(&mut self, revision: &str, message: &str) {
        let previous = self.outcome.status["artifact"]["revision"].as_str().map(str::to_owned);
        let (kind, namespace, name) =
            (self.kind.kind().to_lowercase(), self.namespace().to_owned(), self.name().to_owned());
        let digest = hex_digest(revision);
        let path = format!("{kind}/{namespace}/{name}/{}.tar.gz", &digest[..12]);
        self.outcome.status["artifact"] = json!({
            "digest": format!("sha256:{digest}"),
            "lastUpdateTime": self.now,
            "path": path,
            "revision": revision,
            "size": 20_000 + u64::from_str_radix(&digest[..4], 16).unwrap_or(0),
            "url": format!("http://source-controller.flux-system.svc.cluster.local./{path}"),
        });
        // GitRepository v1 dropped `status.url`; the others keep it (their CRDs).
        if self.kind != FluxKind::GitRepository {
            self.outcome.status["url"] = json!(format!(
                "http://source-controller.flux-system.svc.cluster.local./{kind}/{namespace}/{name}/latest.tar.gz"
            ));
        }
        let in_storage = self.cond("ArtifactInStorage", "True", "Succeeded", message);
        self.succeed("Succeeded", message, Some(("ArtifactInStorage", in_storage)));
        if previous.as_deref() != Some(revision) {
            self.event(EventType::Normal, "NewArtifact", message, Some(revision));
        } else if self.kind == FluxKind::GitRepository {
            // gitrepository_controller.go: the optimized clone finds the observed commit again.
            let same = format!("no changes since last reconcilation: observed revision '{revision}'");
            self.event(EventType::Normal, "GitOperationSucceeded", &same, None);
        }
    }

    pub(super) fn helm_chart(&mut self) {
        let source_ref = &self.obj["spec"]["sourceRef"];
        let kind = source_ref["kind"].as_str().unwrap_or("HelmRepository");
        let name = source_ref["name"].as_str().unwrap_or_default();
        if let Err(message) = self.ready_source(SOURCE, kind, self.namespace(), name) {
            self.wait("ChartPullFailed", &message);
            return;
        }
        let chart = self.obj["spec"]["chart"].as_str().unwrap_or("chart").to_owned();
        let version = chart_version(self.obj["spec"]["version"].as_str().unwrap_or("*"), &chart);
        self.outcome.status["observedChartName"] = json!(chart);
        let message = format!("pulled '{chart}' chart with version '{version}'");
        self.store_artifact(&version, &message);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn a_git_repository_stores_an_artifact_and_a_new_upstream_is_a_new_revision() {
        let world = MapWorld::default();
        let mut obj = git("a");
        obj["metadata"]["annotations"][REQUESTED_AT] = json!("t");
        let first = reconcile(FluxKind::GitRepository, &obj, &world);
        let revision = first.status["artifact"]["revision"].as_str().unwrap().to_owned();
        assert!(revision.starts_with("main@sha1:") && revision.len() == "main@sha1:".len() + 40, "{revision}");
        assert_eq!(
            ready_condition(&first.status),
            ("True".into(), "Succeeded".into(), format!("stored artifact for revision '{revision}'"))
        );
        assert_eq!(first.status["lastHandledReconcileAt"], "t");
        assert_eq!(first.status["observedGeneration"], 1);
        assert_eq!(first.events[0].reason, "NewArtifact");
        assert_eq!(first.requeue_after, Some(Duration::from_secs(60)));
        obj["status"] = first.status.clone();
        let again = reconcile(FluxKind::GitRepository, &obj, &world);
        let reasons: Vec<&str> = again.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["GitOperationSucceeded"], "no new artifact: the clone saw no change");
        assert_eq!(
            again.events[0].message,
            format!("no changes since last reconcilation: observed revision '{revision}'")
        );
        obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"] = json!("b");
        assert_ne!(reconcile(FluxKind::GitRepository, &obj, &world).status["artifact"]["revision"], revision.as_str());
    }

    /// A repository its server does not hold fails as source-controller's clone does: FetchFailed
    /// and Ready=False GitOperationFailed, retried, the generation not observed.
    #[test]
    fn a_repository_that_does_not_exist_fails_to_clone() {
        let world =
            MapWorld { missing_repositories: vec!["https://github.com/acme/app".into()], ..MapWorld::default() };
        let failed = reconcile(FluxKind::GitRepository, &git("a"), &world);
        let message = "failed to checkout and determine revision: unable to clone 'https://github.com/acme/app': repository not found: ";
        assert_eq!(ready_condition(&failed.status), ("False".into(), "GitOperationFailed".into(), message.into()));
        assert_eq!(cond(&failed.status, "FetchFailed").unwrap()["status"], "True");
        assert!(failed.status["artifact"].is_null() && failed.requeue_after.is_some());
        assert!(failed.status["observedGeneration"].is_null());
    }
}
