//! The resource types the server serves: built-in kinds and the Flux CRDs, for a chosen Flux release.
//!
//! The Flux CRDs are the real ones (`crds/`, copied from the Flux repositories); which versions
//! are served comes from `crds/served_versions_by_flux_release.txt`, so the server can pose as a
//! cluster running an older Flux.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Value, json};

use crate::table::PrinterColumn;

/// What a create of this resource does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Objects are stored, listed and watched.
    Stored,
    /// A review kind (TokenReview, SubjectAccessReview...): create only, answered and not stored.
    Review,
}

/// One served resource at one version.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `status` is a subresource (writes to the main resource keep the old status).
    pub has_status: bool,
    pub storage: Storage,
    /// The CRD's additionalPrinterColumns, for server-side printing.
    pub(crate) printer_columns: Option<Vec<PrinterColumn>>,
    /// Whether this version is the preferred (storage) version of its group.
    pub preferred: bool,
    /// How the API server prunes unknown fields of writes through this version.
    pub(crate) pruning: crate::schema::Pruning,
    /// The CRD's default for a missing `status` (Flux: `{observedGeneration: -1}`).
    pub(crate) status_default: Option<Value>,
    /// The CRD's `openAPIV3Schema` (the latest version's), for the OpenAPI documents.
    pub(crate) openapi_schema: Option<Arc<Value>>,
}

impl ResourceType {
    /// `group/version`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The key objects are stored under, the same for every version of the resource.
    pub fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// The verbs discovery advertises.
    fn verbs(&self) -> Vec<&'static str> {
        match self.storage {
            Storage::Review => vec!["create"],
            Storage::Stored => {
                vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            }
        }
    }
}

/// A Flux release whose set of served versions the server can pose as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FluxRelease {
    /// The CRDs in `crds/`, one version each (Flux 2.7 and later).
    Latest,
    /// A release named in `served_versions_by_flux_release.txt`, such as `2.2`.
    Release(String),
}

impl std::str::FromStr for FluxRelease {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_start_matches('v');
        if s == "latest" {
            return Ok(Self::Latest);
        }
        let short: String = s.split('.').take(2).collect::<Vec<_>>().join(".");
        if served_versions(&short).is_none() {
            return Err(format!("unknown Flux release {s:?}; known: {}", known_releases().join(", ")));
        }
        Ok(Self::Release(short))
    }
}

/// All resource types served, and lookups over them.
#[derive(Debug)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

const CRDS: [&str; 15] = [
    include_str!("../crds/helm.toolkit.fluxcd.io_helmreleases.yaml"),
    include_str!("../crds/image.toolkit.fluxcd.io_imagepolicies.yaml"),
    include_str!("../crds/image.toolkit.fluxcd.io_imagerepositories.yaml"),
    include_str!("../crds/image.toolkit.fluxcd.io_imageupdateautomations.yaml"),
    include_str!("../crds/kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    include_str!("../crds/notification.toolkit.fluxcd.io_alerts.yaml"),
    include_str!("../crds/notification.toolkit.fluxcd.io_providers.yaml"),
    include_str!("../crds/notification.toolkit.fluxcd.io_receivers.yaml"),
    include_str!("../crds/source.extensions.fluxcd.io_artifactgenerators.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_buckets.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_externalartifacts.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_gitrepositories.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_helmcharts.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_helmrepositories.yaml"),
    include_str!("../crds/source.toolkit.fluxcd.io_ocirepositories.yaml"),
];

const SERVED_VERSIONS: &str = include_str!("../crds/served_versions_by_flux_release.txt");

impl Registry {
    /// Built-in kinds plus the Flux CRDs as `release` serves them.
    pub fn new(release: &FluxRelease) -> Self {
        let mut types: Vec<Arc<ResourceType>> = builtin_types().into_iter().map(Arc::new).collect();
        for crd in flux_crds() {
            types.extend(crd_types(&crd, release).into_iter().map(Arc::new));
        }
        Self { types }
    }

    /// Every served resource type.
    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// The type served at `group/version` with this plural name.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceType>> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The preferred version of the resource of this group and kind.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&Arc<ResourceType>> {
        let mut candidates = self.types.iter().filter(|t| t.group == group && t.kind == kind);
        let first = candidates.next()?;
        Some(std::iter::once(first).chain(candidates).find(|t| t.preferred).unwrap_or(first))
    }

    /// The type named by an object's apiVersion and kind.
    pub fn for_object(&self, obj: &Value) -> Option<&Arc<ResourceType>> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let kind = obj.get("kind")?.as_str()?;
        let (group, version) = split_api_version(api_version);
        self.types.iter().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The groups with their versions, by Kubernetes version priority (v2 > v1 > v1beta2 >
    /// v1beta1 > v1alpha1), which is also how the API server picks a group's preferred version.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            let index = match groups.iter().position(|(g, _)| *g == t.group) {
                Some(i) => i,
                None => {
                    groups.push((t.group.clone(), Vec::new()));
                    groups.len() - 1
                }
            };
            if !groups[index].1.contains(&t.version) {
                groups[index].1.push(t.version.clone());
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups
    }

    /// `/api/v1` or `/apis/<group>/<version>`: an `APIResourceList`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let types: Vec<_> = self.types.iter().filter(|t| t.group == group && t.version == version).collect();
        if types.is_empty() {
            return None;
        }
        let mut resources = Vec::new();
        for t in types {
            let mut entry = json!({
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": t.verbs(),
            });
            if !t.short_names.is_empty() {
                entry["shortNames"] = json!(t.short_names);
            }
            if !t.categories.is_empty() {
                entry["categories"] = json!(t.categories);
            }
            resources.push(entry);
            if t.has_status {
                resources.push(json!({
                    "name": format!("{}/status", t.plural),
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": ["get", "patch", "update"],
                }));
            }
        }
        let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }))
    }

    /// The Flux CRDs as `CustomResourceDefinition` objects, restricted to the served versions.
    pub fn crd_objects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for mut crd in flux_crds() {
            let group = crd["spec"]["group"].as_str().unwrap_or_default().to_owned();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default().to_owned();
            let served: Vec<&Arc<ResourceType>> =
                self.types.iter().filter(|t| t.group == group && t.kind == kind).collect();
            if served.is_empty() {
                continue;
            }
            let template = crd["spec"]["versions"][0].clone();
            let versions: Vec<Value> = served
                .iter()
                .map(|t| {
                    let mut v = template.clone();
                    v["name"] = json!(t.version);
                    v["storage"] = json!(t.preferred);
                    v["served"] = json!(true);
                    v
                })
                .collect();
            crd["spec"]["versions"] = Value::Array(versions);
            let storage =
                served.iter().find(|t| t.preferred).map_or_else(|| served[0].version.clone(), |t| t.version.clone());
            // What the API server's CRD controllers write once the names are accepted.
            crd["status"] = json!({
                "acceptedNames": crd["spec"]["names"].clone(),
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                ],
                "storedVersions": [storage],
            });
            out.push(crd);
        }
        out
    }
}

/// Kubernetes' version priority: GA before beta before alpha, higher numbers first.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let rest = version.strip_prefix('v').unwrap_or(version);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stability, major, minor)
}

/// Splits `group/version` (`v1` is the core group).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The Flux releases with a known set of served versions.
pub fn known_releases() -> Vec<String> {
    SERVED_VERSIONS
        .lines()
        .filter_map(|l| l.strip_prefix("## flux v"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."))
        .collect()
}

/// For a release like `2.2`: kind -> (served versions, storage version).
fn served_versions(release: &str) -> Option<BTreeMap<String, (Vec<String>, String)>> {
    let header = format!("## flux v{release}.");
    let mut lines = SERVED_VERSIONS.lines().skip_while(|l| !l.starts_with(&header));
    lines.next()?;
    let mut kinds = BTreeMap::new();
    for line in lines.take_while(|l| !l.starts_with("## ")) {
        let mut words = line.split_whitespace();
        let (Some(_controller), Some(kind)) = (words.next(), words.next()) else { continue };
        let mut versions = Vec::new();
        let mut storage = String::new();
        for word in words {
            let version = word.trim_end_matches("(dep)").trim_end_matches('*');
            if !version.starts_with('v') || version.contains(':') {
                continue;
            }
            if word.ends_with('*') {
                storage = version.to_owned();
            }
            versions.push(version.to_owned());
        }
        if !versions.is_empty() {
            kinds.insert(kind.to_owned(), (versions, storage));
        }
    }
    Some(kinds)
}

fn flux_crds() -> Vec<Value> {
    CRDS.iter().filter_map(|text| serde_yaml::from_str::<Value>(text).ok()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn crd_types(crd: &Value, release: &FluxRelease) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let kind = names["kind"].as_str().unwrap_or_default();
    let latest = &spec["versions"][0];
    let (versions, storage) = match release {
        FluxRelease::Latest => {
            let version = latest["name"].as_str().unwrap_or_default().to_owned();
            (vec![version.clone()], version)
        }
        FluxRelease::Release(r) => match served_versions(r).and_then(|mut k| k.remove(kind)) {
            Some(found) => found,
            None => return Vec::new(),
        },
    };
    let printer_columns: Option<Vec<PrinterColumn>> =
        serde_json::from_value(latest["additionalPrinterColumns"].clone()).ok();
    let schema = Arc::new(latest["schema"]["openAPIV3Schema"].clone());
    let status_default = schema["properties"]["status"].get("default").cloned();
    versions
        .into_iter()
        .map(|version| ResourceType {
            group: spec["group"].as_str().unwrap_or_default().to_owned(),
            preferred: version == storage,
            kind: kind.to_owned(),
            plural: names["plural"].as_str().unwrap_or_default().to_owned(),
            singular: names["singular"].as_str().unwrap_or_default().to_owned(),
            namespaced: spec["scope"] == "Namespaced",
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            has_status: latest["subresources"].get("status").is_some(),
            storage: Storage::Stored,
            printer_columns: printer_columns.clone(),
            pruning: if latest["name"] == version.as_str() {
                crate::schema::Pruning::Schema(schema.clone())
            } else {
                crate::schema::Pruning::Fields(crate::schema::absent_fields(kind, &version))
            },
            status_default: status_default.clone(),
            openapi_schema: Some(schema.clone()),
            version,
        })
        .collect()
}

struct Builtin {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    has_status: bool,
    storage: Storage,
}

const fn stored(group: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> Builtin {
    Builtin { group, kind, plural, namespaced, short_names: &[], has_status: false, storage: Storage::Stored }
}

const fn review(group: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> Builtin {
    Builtin { group, kind, plural, namespaced, short_names: &[], has_status: false, storage: Storage::Review }
}

const fn with_status(mut b: Builtin, short_names: &'static [&'static str]) -> Builtin {
    b.has_status = true;
    b.short_names = short_names;
    b
}

const fn short(mut b: Builtin, short_names: &'static [&'static str]) -> Builtin {
    b.short_names = short_names;
    b
}

const BUILTINS: &[Builtin] = &[
    with_status(stored("", "Namespace", "namespaces", false), &["ns"]),
    with_status(stored("", "Pod", "pods", true), &["po"]),
    short(stored("", "Event", "events", true), &["ev"]),
    stored("", "Secret", "secrets", true),
    short(stored("", "ConfigMap", "configmaps", true), &["cm"]),
    with_status(stored("", "Service", "services", true), &["svc"]),
    short(stored("", "ServiceAccount", "serviceaccounts", true), &["sa"]),
    with_status(stored("apps", "Deployment", "deployments", true), &["deploy"]),
    with_status(stored("apps", "ReplicaSet", "replicasets", true), &["rs"]),
    with_status(stored("apps", "StatefulSet", "statefulsets", true), &["sts"]),
    with_status(stored("apps", "DaemonSet", "daemonsets", true), &["ds"]),
    with_status(stored("batch", "Job", "jobs", true), &[]),
    stored("rbac.authorization.k8s.io", "Role", "roles", true),
    stored("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true),
    stored("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
    stored("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false),
    with_status(
        stored("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", false),
        &["crd", "crds"],
    ),
    review("authentication.k8s.io", "TokenReview", "tokenreviews", false),
    review("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", false),
    review("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", false),
    review("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
    review("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true),
];

fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|b| ResourceType {
            group: b.group.to_owned(),
            version: "v1".to_owned(),
            kind: b.kind.to_owned(),
            plural: b.plural.to_owned(),
            singular: b.kind.to_lowercase(),
            namespaced: b.namespaced,
            short_names: b.short_names.iter().map(|s| (*s).to_owned()).collect(),
            categories: if matches!(
                b.kind,
                "Pod" | "Service" | "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job"
            ) {
                vec!["all".to_owned()]
            } else {
                Vec::new()
            },
            has_status: b.has_status,
            storage: b.storage,
            printer_columns: None,
            preferred: true,
            pruning: crate::schema::Pruning::None,
            status_default: None,
            openapi_schema: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_release_serves_every_flux_kind_at_its_crd_version() {
        let registry = Registry::new(&FluxRelease::Latest);
        let expect = [
            ("helm.toolkit.fluxcd.io", "HelmRelease", "v2"),
            ("kustomize.toolkit.fluxcd.io", "Kustomization", "v1"),
            ("notification.toolkit.fluxcd.io", "Alert", "v1beta3"),
            ("notification.toolkit.fluxcd.io", "Receiver", "v1"),
            ("source.extensions.fluxcd.io", "ArtifactGenerator", "v1beta1"),
            ("source.toolkit.fluxcd.io", "ExternalArtifact", "v1"),
            ("image.toolkit.fluxcd.io", "ImagePolicy", "v1"),
        ];
        for (group, kind, version) in expect {
            let t = registry.by_kind(group, kind).unwrap_or_else(|| panic!("{kind} served"));
            assert_eq!(t.version, version, "{kind}");
            assert!(t.namespaced);
        }
        let ks = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        assert_eq!(ks.short_names, vec!["ks"]);
        assert!(ks.has_status);
        assert!(ks.printer_columns.as_ref().is_some_and(|c| c.iter().any(|c| c.name == "Ready")));
        let alert = registry.by_kind("notification.toolkit.fluxcd.io", "Alert").unwrap();
        assert!(!alert.has_status, "Alert has no status subresource");
    }

    #[test]
    fn flux_2_2_serves_its_older_versions_with_the_storage_version_preferred() {
        let registry = Registry::new(&"2.2".parse().unwrap());
        let hr = registry.by_kind("helm.toolkit.fluxcd.io", "HelmRelease").unwrap();
        assert_eq!(hr.version, "v2beta2");
        assert!(registry.by_plural("helm.toolkit.fluxcd.io", "v2beta1", "helmreleases").is_some());
        assert!(registry.by_plural("helm.toolkit.fluxcd.io", "v2", "helmreleases").is_none());
        assert_eq!(registry.by_kind("source.toolkit.fluxcd.io", "OCIRepository").unwrap().version, "v1beta2");
        assert!(registry.by_kind("source.toolkit.fluxcd.io", "ExternalArtifact").is_none());
        assert!(registry.by_kind("source.extensions.fluxcd.io", "ArtifactGenerator").is_none());
        let groups = registry.groups();
        let helm = groups.iter().find(|(g, _)| g == "helm.toolkit.fluxcd.io").unwrap();
        assert_eq!(helm.1, vec!["v2beta2", "v2beta1"], "by version priority");
        let source = groups.iter().find(|(g, _)| g == "source.toolkit.fluxcd.io").unwrap();
        assert_eq!(source.1, vec!["v1", "v1beta2", "v1beta1"]);
    }

    #[test]
    fn an_unknown_release_is_refused_with_the_known_ones() {
        let err = "1.9".parse::<FluxRelease>().unwrap_err();
        assert!(err.contains("2.2"), "{err}");
        assert_eq!("v2.2.0".parse::<FluxRelease>().unwrap(), FluxRelease::Release("2.2".into()));
    }

    #[test]
    fn resource_lists_advertise_status_subresources() {
        let registry = Registry::new(&FluxRelease::Latest);
        let list = registry.resource_list("kustomize.toolkit.fluxcd.io", "v1").unwrap();
        let names: Vec<&str> =
            list["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["kustomizations", "kustomizations/status"]);
        assert!(registry.resource_list("apps", "v2").is_none());
    }
}
