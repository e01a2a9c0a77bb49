//! The Flux kinds: group, plural, short names, whether they reconcile, where their source
//! reference lives and how `flux get` reads their revision (shared/flux/kinds.tsv).

/// Where a kind's revision is read, as `flux get` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionRule {
    /// `status.artifact.revision` (sources).
    Artifact,
    /// `status.lastAppliedRevision` (Kustomization).
    LastApplied,
    /// The latest history entry's chartVersion, else `status.lastAttemptedRevision` (HelmRelease).
    HelmHistory,
    /// `status.latestRef` as `name:tag` (ImagePolicy: flux get's IMAGE and TAG), else the
    /// `status.latestImage` of image-reflector before v1.0.
    LatestImage,
    /// `status.lastScanResult.scanTime` (ImageRepository: flux get's LAST SCAN).
    LastScan,
    /// `status.lastAutomationRunTime` (ImageUpdateAutomation: flux get's LAST RUN; the push
    /// commit is on the detail page).
    LastRun,
    /// No revision (Alert, Provider, Receiver, ArtifactGenerator).
    None,
}

/// One Flux kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
    /// Whether the kind is ever reconciled (Alert, Provider and ExternalArtifact are not; nor is an
    /// OCI HelmRepository, which [`KindInfo::is_static_object`] tells).
    pub reconcilable: bool,
    /// The JSON pointer of the source reference in the object, if the kind has one.
    pub source_ref: Option<&'static str>,
    pub revision: RevisionRule,
}

const fn kind(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    reconcilable: bool,
    source_ref: Option<&'static str>,
    revision: RevisionRule,
) -> KindInfo {
    KindInfo { group, kind, plural, short_names, reconcilable, source_ref, revision }
}

const SOURCE: &str = "source.toolkit.fluxcd.io";
const IMAGE: &str = "image.toolkit.fluxcd.io";
const NOTIFICATION: &str = "notification.toolkit.fluxcd.io";

/// Every Flux kind fluxboard knows.
pub const KINDS: [KindInfo; 15] = [
    kind(SOURCE, "GitRepository", "gitrepositories", &["gitrepo"], true, None, RevisionRule::Artifact),
    kind(SOURCE, "OCIRepository", "ocirepositories", &["ocirepo"], true, None, RevisionRule::Artifact),
    kind(SOURCE, "Bucket", "buckets", &[], true, None, RevisionRule::Artifact),
    kind(SOURCE, "HelmRepository", "helmrepositories", &["helmrepo"], true, None, RevisionRule::Artifact),
    kind(SOURCE, "HelmChart", "helmcharts", &["hc"], true, Some("/spec/sourceRef"), RevisionRule::Artifact),
    kind(
        SOURCE,
        "ExternalArtifact",
        "externalartifacts",
        &["ea"],
        false,
        Some("/spec/sourceRef"),
        RevisionRule::Artifact,
    ),
    kind(
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        "kustomizations",
        &["ks"],
        true,
        Some("/spec/sourceRef"),
        RevisionRule::LastApplied,
    ),
    kind(
        "helm.toolkit.fluxcd.io",
        "HelmRelease",
        "helmreleases",
        &["hr"],
        true,
        Some("/spec/chartRef"),
        RevisionRule::HelmHistory,
    ),
    kind(IMAGE, "ImageRepository", "imagerepositories", &["imgrepo", "imagerepo"], true, None, RevisionRule::LastScan),
    kind(
        IMAGE,
        "ImagePolicy",
        "imagepolicies",
        &["imgpol", "imagepol"],
        true,
        Some("/spec/imageRepositoryRef"),
        RevisionRule::LatestImage,
    ),
    kind(
        IMAGE,
        "ImageUpdateAutomation",
        "imageupdateautomations",
        &["iua", "imgupd", "imgauto"],
        true,
        Some("/spec/sourceRef"),
        RevisionRule::LastRun,
    ),
    kind(NOTIFICATION, "Receiver", "receivers", &[], true, None, RevisionRule::None),
    kind(NOTIFICATION, "Alert", "alerts", &[], false, Some("/spec/providerRef"), RevisionRule::None),
    kind(NOTIFICATION, "Provider", "providers", &[], false, None, RevisionRule::None),
    kind(
        "source.extensions.fluxcd.io",
        "ArtifactGenerator",
        "artifactgenerators",
        &["ag"],
        true,
        None,
        RevisionRule::None,
    ),
];

/// The kind of this group and name.
pub fn kind_info(group: &str, kind: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.group == group && k.kind == kind)
}

impl KindInfo {
    /// Whether this object is never reconciled: a static kind, or an OCI HelmRepository.
    pub fn is_static_object(&self, obj: &serde_json::Value) -> bool {
        !self.reconcilable || self.is_oci_helm_repository(obj)
    }

    fn is_oci_helm_repository(&self, obj: &serde_json::Value) -> bool {
        self.kind == "HelmRepository" && obj["spec"]["type"] == "oci"
    }

    /// What `flux get` says of an object that has no status to read: always Ready, whatever
    /// stale conditions it carries (get_alert.go, get_alertprovider.go, get_source_helm.go).
    /// None for objects whose Ready condition tells (ExternalArtifact's producer writes one).
    pub fn static_message(&self, obj: &serde_json::Value) -> Option<&'static str> {
        match self.kind {
            "Alert" => Some("Alert is Ready"),
            "Provider" => Some("Provider is Ready"),
            _ if self.is_oci_helm_repository(obj) => Some("Helm repository is Ready"),
            _ => None,
        }
    }

    /// Whether the object is suspended: `spec.suspend`, or for an ArtifactGenerator the
    /// annotation `source.extensions.fluxcd.io/reconcile: disabled`, compared as source-watcher
    /// does (`IsDisabled` lower-cases the value).
    pub fn is_suspended(&self, obj: &serde_json::Value) -> bool {
        match self.kind {
            "ArtifactGenerator" => obj["metadata"]["annotations"][crate::action::ARTIFACT_GENERATOR_RECONCILE]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("disabled")),
            _ => obj["spec"]["suspend"] == true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_flux_kinds_tsv() {
        let tsv = include_str!("../../kube-sim/crds/kinds.tsv");
        let rows: Vec<Vec<&str>> = tsv.lines().skip(1).map(|l| l.split('\t').collect()).collect();
        assert_eq!(rows.len(), KINDS.len());
        for row in rows {
            let info = kind_info(row[0], row[1]).unwrap_or_else(|| panic!("{} in the table", row[1]));
            assert_eq!(info.plural, row[2]);
            let short: Vec<&str> = row[3].split(',').filter(|s| !s.is_empty()).collect();
            assert_eq!(info.short_names, short.as_slice(), "{}", row[1]);
        }
    }
}
