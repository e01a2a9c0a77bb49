//! Seeded fleets: the Flux installation, a demo fleet that looks like a real multi-team cluster,
//! and a scalable fleet for benchmarks. Objects carry no status: the emulated controllers
//! reconcile them after seeding, as on a freshly bootstrapped cluster.

use serde_json::{Value, json};

/// Objects to seed plus the content of the emulated sources.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    pub(crate) objects: Vec<Value>,
    pub(crate) manifests: Vec<Manifests>,
}

/// What a source holds at a path.
#[derive(Debug, Clone)]
pub(crate) struct Manifests {
    pub(crate) source_kind: String,
    pub(crate) source_namespace: String,
    pub(crate) source_name: String,
    pub(crate) path: String,
    pub(crate) objects: Vec<Value>,
}

/// The Flux release whose controllers [`CONTROLLERS`] lists.
const FLUX_VERSION: &str = "v2.7.3";

/// Labels a Flux CRD as `flux install` does (`flux check` lists the CRDs by
/// `app.kubernetes.io/part-of=flux` and reads the Flux version from them).
pub(crate) fn label_crd(crd: &mut Value) {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let component = match name.split_once('.').map_or("", |(_, group)| group) {
        "source.toolkit.fluxcd.io" => "source-controller",
        "kustomize.toolkit.fluxcd.io" => "kustomize-controller",
        "helm.toolkit.fluxcd.io" => "helm-controller",
        "notification.toolkit.fluxcd.io" => "notification-controller",
        "source.extensions.fluxcd.io" => "source-watcher",
        "image.toolkit.fluxcd.io" if name.starts_with("imageupdateautomations.") => "image-automation-controller",
        "image.toolkit.fluxcd.io" => "image-reflector-controller",
        _ => return,
    };
    let labels = json!({"app.kubernetes.io/component": component, "app.kubernetes.io/instance": "flux-system",
                        "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": FLUX_VERSION});
    crate::object::meta_mut(crd).insert("labels".into(), labels);
}

const CONTROLLERS: [(&str, &str); 7] = [
    ("source-controller", "v1.7.2"),
    ("kustomize-controller", "v1.7.1"),
    ("helm-controller", "v1.4.2"),
    ("notification-controller", "v1.7.3"),
    ("image-reflector-controller", "v1.0.2"),
    ("image-automation-controller", "v1.0.2"),
    ("source-watcher", "v2.0.2"),
];

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The Flux installation: `flux-system` and the controller Deployments.
pub(crate) fn flux_system() -> Vec<Value> {
    let mut out = vec![namespace("flux-system")];
    for (name, version) in CONTROLLERS {
        // As the flux install manifests label them (flux2 manifests/install).
        let labels = json!({"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/instance": "flux-system",
                            "app.kubernetes.io/version": FLUX_VERSION,
                            "app.kubernetes.io/component": name, "control-plane": "controller"});
        out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "flux-system", "labels": labels}}));
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "flux-system", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name, "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/component": name}},
                    "spec": {"serviceAccountName": name, "containers": [{
                        "name": "manager", "image": format!("ghcr.io/fluxcd/{name}:{version}"),
                        "ports": [{"containerPort": 8080, "name": "http-prom"}, {"containerPort": 9440, "name": "healthz"}]}]},
                },
            },
        }));
    }
    out
}

fn git(ns: &str, name: &str, url: &str, branch: &str, upstream: &str) -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": name, "namespace": ns, "annotations": {"sim.fluxboard.dev/upstream": upstream}},
           "spec": {"interval": "1m", "url": url, "ref": {"branch": branch}}})
}

fn oci(ns: &str, name: &str, url: &str, tag: &str, upstream: &str) -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
           "metadata": {"name": name, "namespace": ns, "annotations": {"sim.fluxboard.dev/upstream": upstream}},
           "spec": {"interval": "5m", "url": url, "ref": {"tag": tag}}})
}

fn helm_repo(ns: &str, name: &str, url: &str) -> Value {
    let mut spec = json!({"interval": "1h", "url": url});
    if url.starts_with("oci://") {
        spec["type"] = json!("oci");
    }
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn kustomization(ns: &str, name: &str, source: (&str, &str, &str), path: &str, depends_on: &[&str]) -> Value {
    let mut spec = json!({"interval": "10m", "retryInterval": "2m", "path": path, "prune": true, "timeout": "5m",
                          "sourceRef": {"kind": source.0, "name": source.2, "namespace": source.1}});
    if !depends_on.is_empty() {
        spec["dependsOn"] = json!(depends_on.iter().map(|d| json!({"name": d})).collect::<Vec<_>>());
    }
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn helm_release(ns: &str, name: &str, chart: &str, version: &str, repo: (&str, &str), values: Value) -> Value {
    json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": name, "namespace": ns},
           "spec": {"interval": "30m", "chart": {"spec": {"chart": chart, "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": repo.1, "namespace": repo.0}}},
                    "install": {"remediation": {"retries": 3}}, "upgrade": {"remediation": {"retries": 3}}, "values": values}})
}

fn annotate(mut obj: Value, pairs: &[(&str, &str)]) -> Value {
    for (k, v) in pairs {
        obj["metadata"]["annotations"][*k] = json!(v);
    }
    obj
}

fn deployment(ns: &str, name: &str, image: &str, replicas: u64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}}}})
}

fn service(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
}

fn config_map(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"LOG_LEVEL": "info"}})
}

fn manifests(source: (&str, &str, &str), path: &str, objects: Vec<Value>) -> Manifests {
    Manifests {
        source_kind: source.0.to_owned(),
        source_namespace: source.1.to_owned(),
        source_name: source.2.to_owned(),
        path: path.to_owned(),
        objects,
    }
}

/// About 40 Flux objects of a multi-team cluster; `cluster` varies revisions so two differ.
pub(crate) fn demo(cluster: &str) -> Fleet {
    let fleet_repo = ("GitRepository", "flux-system", "flux-system");
    let infra = [
        kustomization("flux-system", "infra-controllers", fleet_repo, "./infrastructure/controllers", &[]),
        kustomization("flux-system", "infra-configs", fleet_repo, "./infrastructure/configs", &["infra-controllers"]),
        kustomization("flux-system", "apps", fleet_repo, &format!("./apps/{cluster}"), &["infra-configs"]),
    ];
    let mut objects: Vec<Value> = ["cert-manager", "ingress-nginx", "monitoring", "team-a", "team-b", "team-c"]
        .iter()
        .map(|n| namespace(n))
        .collect();
    objects.push(git(
        "flux-system",
        "flux-system",
        "ssh://git@github.com/acme/fleet-infra",
        "main",
        &format!("{cluster}-1"),
    ));
    objects.push(kustomization("flux-system", "flux-system", fleet_repo, &format!("./clusters/{cluster}"), &[]));
    objects.extend(infra.iter().cloned());
    objects.extend([
        helm_repo("flux-system", "jetstack", "https://charts.jetstack.io"),
        helm_repo("flux-system", "ingress-nginx", "https://kubernetes.github.io/ingress-nginx"),
        helm_repo("flux-system", "prometheus-community", "https://prometheus-community.github.io/helm-charts"),
        helm_repo("flux-system", "bitnami", "oci://registry-1.docker.io/bitnamicharts"),
        helm_release(
            "cert-manager",
            "cert-manager",
            "cert-manager",
            "v1.16.2",
            ("flux-system", "jetstack"),
            json!({"crds": {"enabled": true}}),
        ),
        helm_release(
            "ingress-nginx",
            "ingress-nginx",
            "ingress-nginx",
            "4.11.3",
            ("flux-system", "ingress-nginx"),
            json!({"controller": {"replicaCount": 2}}),
        ),
        annotate(
            helm_release(
                "monitoring",
                "kube-prometheus-stack",
                "kube-prometheus-stack",
                "66.2.1",
                ("flux-system", "prometheus-community"),
                json!({}),
            ),
            // Installs fail: retried (and uninstalled) three times, then stalled out of retries.
            &[("sim.fluxboard.dev/fail", "context deadline exceeded")],
        ),
    ]);
    objects.extend(team_a(cluster));
    objects.extend(team_b(cluster));
    objects.extend(team_c(cluster));
    objects.extend(notifications());
    let fleet_manifests = vec![
        manifests(fleet_repo, &format!("./clusters/{cluster}"), infra.to_vec()),
        manifests(
            fleet_repo,
            "./infrastructure/controllers",
            ["cert-manager", "ingress-nginx", "monitoring"].iter().map(|n| namespace(n)).collect(),
        ),
        manifests(fleet_repo, "./infrastructure/configs", vec![config_map("flux-system", "cluster-settings")]),
        manifests(
            fleet_repo,
            &format!("./apps/{cluster}"),
            vec![deployment("default", "my-nginx-deploy", "nginx:1.27.3", 2), service("default", "my-nginx-svc")],
        ),
        manifests(
            ("GitRepository", "team-a", "podinfo"),
            "./kustomize",
            vec![
                deployment("team-a", "podinfo", "ghcr.io/stefanprodan/podinfo:6.5.4", 2),
                service("team-a", "podinfo"),
                config_map("team-a", "podinfo-config"),
            ],
        ),
        manifests(
            ("OCIRepository", "team-c", "manifests"),
            "./",
            vec![deployment("team-c", "frontend", "ghcr.io/acme/frontend:2.3.0", 1), service("team-c", "frontend")],
        ),
        manifests(
            ("OCIRepository", "team-c", "manifests"),
            "./database",
            vec![deployment("team-c", "postgres", "postgres:16", 1)],
        ),
        manifests(("OCIRepository", "team-c", "manifests"), "./migrations", vec![config_map("team-c", "migrations")]),
        manifests(
            ("OCIRepository", "team-c", "manifests"),
            "./cache",
            vec![deployment("team-c", "cache", "redis:7.4", 1), service("team-c", "cache")],
        ),
        manifests(
            ("ExternalArtifact", "team-c", "frontend-config"),
            "./",
            vec![config_map("team-c", "frontend-settings")],
        ),
    ];
    Fleet { objects, manifests: fleet_manifests }
}

fn team_a(cluster: &str) -> Vec<Value> {
    let podinfo = ("GitRepository", "team-a", "podinfo");
    let mut ks = kustomization("team-a", "podinfo", podinfo, "./kustomize", &[]);
    ks["spec"]["targetNamespace"] = json!("team-a");
    ks["spec"]["wait"] = json!(true);
    vec![
        git("team-a", "podinfo", "https://github.com/stefanprodan/podinfo", "master", &format!("{cluster}-7")),
        ks,
        helm_repo("team-a", "podinfo", "https://stefanprodan.github.io/podinfo"),
        helm_release(
            "team-a",
            "podinfo-frontend",
            "podinfo",
            "6.5.4",
            ("team-a", "podinfo"),
            json!({"replicaCount": 2, "image": {"repository": "ghcr.io/stefanprodan/podinfo", "tag": "6.5.4"}}),
        ),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "podinfo", "namespace": "team-a"},
               "spec": {"image": "ghcr.io/stefanprodan/podinfo", "interval": "5m"}}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy", "metadata": {"name": "podinfo", "namespace": "team-a"},
               "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": ">=6.0.0"}}}}),
        json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation", "metadata": {"name": "team-a", "namespace": "team-a"},
               "spec": {"interval": "30m", "sourceRef": {"kind": "GitRepository", "name": "podinfo"},
                        "git": {"checkout": {"ref": {"branch": "master"}}, "commit": {"author": {"name": "fluxcdbot", "email": "fluxcdbot@users.noreply.github.com"}}, "push": {"branch": "master"}},
                        "update": {"path": "./kustomize", "strategy": "Setters"}}}),
    ]
}

fn team_b(cluster: &str) -> Vec<Value> {
    let app = annotate(
        git("team-b", "team-b-app", "https://github.com/acme/team-b-app", "main", cluster),
        &[(
            "sim.fluxboard.dev/fail",
            "failed to checkout and determine revision: unable to clone 'https://github.com/acme/team-b-app': authentication required",
        )],
    );
    let mut redis = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "redis", "namespace": "team-b"},
        "spec": {"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": "redis-chart"}, "values": {"replicaCount": 1}}});
    redis["spec"]["upgrade"] = json!({"remediation": {"retries": 3}});
    let mut api = helm_release("team-b", "api", "podinfo", "6.5.4", ("team-a", "podinfo"), json!({}));
    api["spec"]["suspend"] = json!(true);
    vec![
        app,
        kustomization("team-b", "team-b-app", ("GitRepository", "team-b", "team-b-app"), "./deploy", &[]),
        oci("team-b", "redis-chart", "oci://registry-1.docker.io/bitnamicharts/redis", "20.6.1", cluster),
        redis,
        api,
    ]
}

fn team_c(cluster: &str) -> Vec<Value> {
    let manifests = ("OCIRepository", "team-c", "manifests");
    // Its health check never passes: Progressing while it runs (the timeout), then
    // HealthCheckFailed, retried.
    let mut cache = annotate(
        kustomization("team-c", "cache", manifests, "./cache", &[]),
        &[("sim.fluxboard.dev/unhealthy", "Deployment/team-c/cache")],
    );
    cache["spec"]["wait"] = json!(true);
    vec![
        oci("team-c", "manifests", "oci://ghcr.io/acme/team-c/manifests", "latest", cluster),
        kustomization("team-c", "frontend", manifests, "./", &[]),
        annotate(
            kustomization("team-c", "database", manifests, "./database", &["frontend"]),
            &[(
                "sim.fluxboard.dev/fail",
                "Deployment/team-c/postgres dry-run failed (Invalid): Deployment.apps \"postgres\" is invalid: spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"db\"}}: field is immutable",
            )],
        ),
        // Waits on the failing database: DependencyNotReady, retried every 30 s.
        kustomization("team-c", "migrations", manifests, "./migrations", &["database"]),
        cache,
        // source-watcher: ExternalArtifacts cut from the manifests, one consumed below.
        json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
               "metadata": {"name": "frontend", "namespace": "team-c"},
               "spec": {"sources": [{"alias": "manifests", "kind": "OCIRepository", "name": "manifests"}],
                        "artifacts": [
                            {"name": "frontend-config", "revision": "@manifests",
                             "copy": [{"from": "@manifests/config/**", "to": "@artifact/"}]},
                            {"name": "frontend-assets", "copy": [{"from": "@manifests/assets/**", "to": "@artifact/"}]}]}}),
        kustomization("team-c", "frontend-config", ("ExternalArtifact", "team-c", "frontend-config"), "./", &[]),
        annotate(
            kustomization("team-c", "backend", manifests, "./deploy/prod", &[]),
            &[
                ("sim.fluxboard.dev/stall", "spec.path './deploy/prod' must be a relative path inside the artifact"),
                ("sim.fluxboard.dev/fail-reason", "InvalidPath"),
            ],
        ),
    ]
}

fn notifications() -> Vec<Value> {
    vec![
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider", "metadata": {"name": "slack", "namespace": "flux-system"},
               "spec": {"type": "slack", "channel": "#flux-alerts", "secretRef": {"name": "slack-webhook"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider", "metadata": {"name": "github", "namespace": "flux-system"},
               "spec": {"type": "github", "address": "https://github.com/acme/fleet-infra", "secretRef": {"name": "github-token"}}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "metadata": {"name": "on-call", "namespace": "flux-system"},
               "spec": {"providerRef": {"name": "slack"}, "eventSeverity": "error",
                        "eventSources": [{"kind": "Kustomization", "name": "*"}, {"kind": "HelmRelease", "name": "*"}]}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "metadata": {"name": "commit-status", "namespace": "flux-system"},
               "spec": {"providerRef": {"name": "github"}, "eventSources": [{"kind": "Kustomization", "name": "flux-system"}]}}),
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver", "metadata": {"name": "github-receiver", "namespace": "flux-system"},
               "spec": {"type": "github", "events": ["ping", "push"], "secretRef": {"name": "webhook-token"},
                        "resources": [{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "name": "flux-system"}]}}),
    ]
}

/// About `n` Flux objects: per team namespace a GitRepository, a HelmRepository, 10
/// Kustomizations, 6 HelmReleases and an Alert with its Provider (20 each); about 1 in 60
/// Kustomizations fails.
pub(crate) fn scale(n: usize) -> Fleet {
    let teams = n.div_ceil(20).max(1);
    let mut fleet = Fleet::default();
    for t in 0..teams {
        let ns = format!("team-{t:04}");
        let source = ("GitRepository", ns.as_str(), "app");
        fleet.objects.push(namespace(&ns));
        fleet.objects.push(git(&ns, "app", &format!("https://github.com/acme/{ns}"), "main", "1"));
        fleet.objects.push(helm_repo(&ns, "charts", "https://charts.acme.example"));
        for k in 0..10 {
            let name = format!("app-{k}");
            let mut ks = kustomization(&ns, &name, source, &format!("./{name}"), &[]);
            if (t * 10 + k) % 60 == 59 {
                ks = annotate(
                    ks,
                    &[(
                        "sim.fluxboard.dev/fail",
                        "kustomize build failed: accumulating resources: missing kustomization.yaml",
                    )],
                );
            }
            fleet.objects.push(ks);
            fleet.manifests.push(manifests(
                source,
                &format!("./{name}"),
                vec![config_map(&ns, &format!("{name}-config"))],
            ));
        }
        for h in 0..6 {
            fleet.objects.push(helm_release(&ns, &format!("svc-{h}"), "service", "1.2.3", (&ns, "charts"), json!({})));
        }
        fleet.objects.extend([
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider", "metadata": {"name": "slack", "namespace": ns}, "spec": {"type": "slack"}}),
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "metadata": {"name": "alerts", "namespace": ns},
                   "spec": {"providerRef": {"name": "slack"}, "eventSources": [{"kind": "Kustomization", "name": "*"}]}}),
        ]);
    }
    fleet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flux_objects(fleet: &Fleet) -> Vec<&Value> {
        fleet.objects.iter().filter(|o| o["apiVersion"].as_str().is_some_and(|a| a.contains("fluxcd.io"))).collect()
    }

    #[test]
    fn the_demo_fleet_is_a_multi_team_cluster_with_content_for_every_path() {
        let fleet = demo("production");
        let flux = flux_objects(&fleet);
        assert!((30..=50).contains(&flux.len()), "{}", flux.len());
        for ks in flux.iter().filter(|o| o["kind"] == "Kustomization") {
            let source = &ks["spec"]["sourceRef"];
            let path = ks["spec"]["path"].as_str().unwrap();
            let described = fleet.manifests.iter().any(|m| m.source_name == source["name"] && m.path == path);
            let scripted = ks["metadata"]["annotations"].get("sim.fluxboard.dev/stall").is_some()
                || ks["metadata"]["name"] == "team-b-app";
            assert!(described || scripted, "{}", ks["metadata"]["name"]);
        }
        let nginx = fleet
            .manifests
            .iter()
            .flat_map(|m| &m.objects)
            .find(|o| o["metadata"]["name"] == "my-nginx-deploy")
            .unwrap();
        assert_eq!(
            (nginx["metadata"]["namespace"].as_str(), nginx["spec"]["replicas"].as_u64()),
            (Some("default"), Some(2))
        );
        assert!(flux.iter().any(|o| o["spec"]["suspend"] == true));
        assert!(flux.iter().any(|o| o["kind"] == "ArtifactGenerator"));
        assert!(flux.iter().any(|o| o["metadata"]["annotations"].get("sim.fluxboard.dev/unhealthy").is_some()));
        assert!(flux.iter().any(|o| o["spec"]["dependsOn"][0]["name"] == "database"), "a dependency that waits");
        assert!(flux.iter().any(|o| o["metadata"]["annotations"].get("sim.fluxboard.dev/stall").is_some()));
        assert!(
            flux.iter().filter(|o| o["metadata"]["annotations"].get("sim.fluxboard.dev/fail").is_some()).count() >= 3
        );
    }

    #[test]
    fn clusters_differ_in_upstream_revisions() {
        let upstreams = |c: &str| {
            demo(c)
                .objects
                .iter()
                .filter_map(|o| o["metadata"]["annotations"]["sim.fluxboard.dev/upstream"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_ne!(upstreams("production"), upstreams("staging"));
    }

    #[test]
    fn the_scale_fleet_has_about_the_asked_number_of_flux_objects() {
        let fleet = scale(10_000);
        let n = flux_objects(&fleet).len();
        assert!((9_500..=10_500).contains(&n), "{n}");
    }
}
