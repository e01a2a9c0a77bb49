//! The deployment manifests, checked without a cluster: every object of the kustomize base
//! deserializes into its k8s-openapi type, the ClusterRole reads no Secrets and has no wildcard,
//! the Helm chart carries the same rules, the shipped configuration is valid, and the workload
//! runs as non-root with a read-only root filesystem and probes on /healthz and /readyz.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every YAML document of the kustomize base, in the order kustomization.yaml lists its files.
fn base() -> Vec<serde_yaml::Value> {
    let dir = deploy().join("kustomize");
    let kustomization: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap()).unwrap();
    let mut docs = Vec::new();
    for file in kustomization["resources"].as_sequence().expect("resources") {
        docs.extend(documents(&dir.join(file.as_str().unwrap())));
    }
    docs
}

fn documents(path: &Path) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v: &serde_yaml::Value| !v.is_null())
        .collect()
}

fn one<T: serde::de::DeserializeOwned>(kind: &str) -> T {
    let doc = base().into_iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in the base"));
    serde_yaml::from_value(doc).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[test]
fn every_object_of_the_kustomize_base_is_valid_kubernetes() {
    let docs = base();
    assert!(docs.len() >= 6, "{docs:?}");
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let ok = match kind.as_str() {
            "ServiceAccount" => serde_yaml::from_value::<ServiceAccount>(doc).map(|_| ()),
            "ClusterRole" => serde_yaml::from_value::<ClusterRole>(doc).map(|_| ()),
            "ClusterRoleBinding" => serde_yaml::from_value::<ClusterRoleBinding>(doc).map(|_| ()),
            "Deployment" => serde_yaml::from_value::<Deployment>(doc).map(|_| ()),
            "Service" => serde_yaml::from_value::<Service>(doc).map(|_| ()),
            "ConfigMap" => serde_yaml::from_value::<ConfigMap>(doc).map(|_| ()),
            other => panic!("unexpected kind {other}"),
        };
        ok.unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

#[test]
fn the_cluster_role_reads_no_secrets_has_no_wildcard_and_grants_what_fluxboard_needs() {
    let role: ClusterRole = one("ClusterRole");
    let rules = role.rules.unwrap_or_default();
    let grants = |group: &str, resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r.api_groups.as_deref().unwrap_or_default().iter().any(|g| g == group)
                && r.resources.as_deref().unwrap_or_default().iter().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
        })
    };
    for rule in &rules {
        let resources = rule.resources.as_deref().unwrap_or_default();
        assert!(!resources.iter().any(|r| r == "secrets" || r.starts_with("secrets/")), "reads Secrets: {rule:?}");
        for list in [resources, rule.api_groups.as_deref().unwrap_or_default(), &rule.verbs[..]] {
            assert!(!list.iter().any(|x| x.contains('*')), "a wildcard: {rule:?}");
        }
        assert!(rule.non_resource_urls.is_none(), "{rule:?}");
    }
    for kind in fluxboard_model::KINDS.iter() {
        assert!(grants(kind.group, kind.plural, "watch"), "{} is not watchable", kind.kind);
        assert!(grants(kind.group, kind.plural, "patch"), "{} is not patchable", kind.kind);
    }
    assert!(grants("", "events", "create") && grants("", "events", "list"));
    assert!(grants("apps", "deployments", "patch"), "rolling restarts");
    assert!(grants("", "users", "impersonate") && grants("", "groups", "impersonate"));
    assert!(grants("authentication.k8s.io", "tokenreviews", "create"));
    let binding: ClusterRoleBinding = one("ClusterRoleBinding");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    let account: ServiceAccount = one("ServiceAccount");
    assert_eq!(binding.subjects.unwrap()[0].name, account.metadata.name.unwrap());
}

#[test]
fn the_chart_grants_exactly_the_rules_of_the_base() {
    let rules_of = |text: &str| {
        let start = text.find("rules:\n").expect("rules");
        let end = text[start..].find("---").map_or(text.len(), |e| start + e);
        text[start..end].to_owned()
    };
    let base = std::fs::read_to_string(deploy().join("kustomize/rbac.yaml")).unwrap();
    let chart = std::fs::read_to_string(deploy().join("charts/fluxboard/templates/rbac.yaml")).unwrap();
    assert_eq!(rules_of(&chart), rules_of(&base));
}

#[test]
fn the_workload_is_locked_down_and_probed() {
    let deployment: Deployment = one("Deployment");
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.security_context.as_ref().and_then(|s| s.run_as_non_root), Some(true));
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().and_then(|p| p.http_get.as_ref()).and_then(|h| h.path.clone())
    };
    assert_eq!(path(&container.readiness_probe).as_deref(), Some("/readyz"));
    assert_eq!(path(&container.liveness_probe).as_deref(), Some("/healthz"));
    assert!(container.resources.as_ref().is_some_and(|r| r.limits.is_some()));
}

#[test]
fn the_shipped_configuration_is_valid() {
    let config_map: ConfigMap = one("ConfigMap");
    let text = &config_map.data.unwrap()["config.yaml"];
    let config: fluxboard::config::Config = serde_yaml::from_str(text).unwrap();
    config.check().unwrap();
    assert!(config.has_login(), "the shipped configuration has a way in");
    assert!(config.sessions.secure_cookie);
}

#[test]
fn the_flux_install_is_valid_flux() {
    for doc in documents(&deploy().join("flux/fluxboard.yaml")) {
        let api_version = doc["apiVersion"].as_str().unwrap();
        let kind = doc["kind"].as_str().unwrap();
        assert!(
            matches!(
                (api_version, kind),
                ("source.toolkit.fluxcd.io/v1", "GitRepository") | ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
            ),
            "{api_version} {kind}"
        );
        assert_eq!(doc["metadata"]["namespace"], "flux-system");
    }
}
