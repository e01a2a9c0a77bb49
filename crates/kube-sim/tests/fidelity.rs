//! The emulated Flux controllers, through the API as a client sees them, against the
//! behaviour of the upstream controllers (shared/FIDELITY.md section 5, E1-E11). Each test
//! names the upstream code it follows.

mod common;

use common::{condition, flux_api, wait_object};
use futures::{StreamExt, TryStreamExt};
use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
};
use kube_sim::{ADMIN_TOKEN, FluxRelease, SimConfig, Timing};
use serde_json::{Value, json};

fn manager() -> PatchParams {
    PatchParams { field_manager: Some("fluxboard".into()), ..PatchParams::default() }
}

fn dynamic(obj: Value) -> DynamicObject {
    serde_json::from_value(obj).unwrap()
}

async fn namespace(sim: &kube_sim::Sim, name: &str) {
    sim.cluster().apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).unwrap();
}

fn git(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": name, "annotations": annotations},
           "spec": {"interval": "5m", "url": format!("https://github.com/acme/{name}"), "ref": {"branch": "main"}}})
}

async fn request(api: &Api<DynamicObject>, name: &str, annotations: Value) {
    let patch = json!({"metadata": {"annotations": annotations}});
    api.patch(name, &manager(), &Patch::Merge(&patch)).await.expect("merge patch");
}

/// E1 and the CRD default: a source that never succeeded keeps `status.observedGeneration: -1`
/// while its conditions carry the current generation (source-controller
/// `ComputeReconcileResult`, internal/reconcile/reconcile.go; pkg runtime/conditions setter.go);
/// one that fails after a spec edit keeps the old generation.
#[tokio::test]
async fn failures_leave_the_observed_generation_stale_and_new_objects_start_at_minus_one() {
    let idle = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    namespace(&idle, "apps").await;
    let client = common::client(&idle, ADMIN_TOKEN).await;
    let repos = common::git_repositories(&client, "apps");
    let created = repos.create(&PostParams::default(), &dynamic(git("app", json!({})))).await.unwrap();
    assert_eq!(serde_json::to_value(&created).unwrap()["status"], json!({"observedGeneration": -1}));

    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let repos = common::git_repositories(&client, "apps");
    let failing = git("app", json!({"sim.fluxboard.dev/fail": "authentication required"}));
    repos.create(&PostParams::default(), &dynamic(failing)).await.unwrap();
    let failed = wait_object(&repos, "app", "the failure", |o| condition(o, "Ready").0 == "False").await;
    assert_eq!(failed["status"]["observedGeneration"], -1, "{failed}");
    assert_eq!(failed["status"]["conditions"][0]["observedGeneration"], 1);
    assert_eq!(
        condition(&failed, "Reconciling"),
        ("True", "ProgressingWithRetry", "processing object: new generation -1 -> 1")
    );
    assert_eq!(condition(&failed, "FetchFailed").2, "authentication required");

    repos.create(&PostParams::default(), &dynamic(git("other", json!({})))).await.unwrap();
    wait_object(&repos, "other", "success", common::is_ready).await;
    let edit = json!({"metadata": {"annotations": {"sim.fluxboard.dev/fail": "unable to clone"}}, "spec": {"ref": {"branch": "dev"}}});
    repos.patch("other", &manager(), &Patch::Merge(&edit)).await.unwrap();
    let stale =
        wait_object(&repos, "other", "the failure after the edit", |o| condition(o, "Ready").0 == "False").await;
    assert_eq!(
        (stale["metadata"]["generation"].as_i64(), stale["status"]["observedGeneration"].as_i64()),
        (Some(2), Some(1))
    );
}

/// E3: every kind whose deferred status patch runs before its suspend check records a new
/// token while suspended (source-controller gitrepository_controller.go:237/267); the
/// ImageUpdateAutomation does not (it records it in `reconcile()`, pkg runtime/reconcile).
#[tokio::test]
async fn suspended_objects_record_tokens_but_image_update_automations_do_not() {
    let sim = common::start(SimConfig { timing: Timing::manual(), ..SimConfig::default() }).await;
    namespace(&sim, "apps").await;
    let mut repo = git("app", json!({}));
    repo["spec"]["suspend"] = json!(true);
    repo["metadata"]["namespace"] = json!("apps");
    sim.cluster().apply(&repo).unwrap();
    sim.cluster()
        .apply(&json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "auto", "namespace": "apps"},
            "spec": {"interval": "30m", "suspend": true, "sourceRef": {"kind": "GitRepository", "name": "app"},
                     "git": {"commit": {"author": {"name": "bot", "email": "bot@example.com"}}}}}))
        .unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let repos = common::git_repositories(&client, "apps");
    let automations = flux_api(&client, "image.toolkit.fluxcd.io", "v1", "ImageUpdateAutomation", "apps");
    let token = json!({"reconcile.fluxcd.io/requestedAt": "t1"});
    request(&repos, "app", token.clone()).await;
    request(&automations, "auto", token).await;
    common::wait_for("the requests to be processed", || async {
        sim.controllers().run_until_idle().await;
        let repo = sim.cluster().get("source.toolkit.fluxcd.io", "GitRepository", "apps", "app")?;
        (repo["status"]["lastHandledReconcileAt"] == "t1").then_some(())
    })
    .await;
    let repo = sim.cluster().get("source.toolkit.fluxcd.io", "GitRepository", "apps", "app").unwrap();
    assert!(repo["status"].get("artifact").is_none(), "acked, not reconciled: {repo}");
    let auto = sim.cluster().get("image.toolkit.fluxcd.io", "ImageUpdateAutomation", "apps", "auto").unwrap();
    assert!(auto["status"].get("lastHandledReconcileAt").is_none(), "{auto}");
}

fn helm_repository() -> Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": {"name": "podinfo", "namespace": "apps"},
           "spec": {"interval": "1h", "url": "https://stefanprodan.github.io/podinfo"}})
}

fn helm_release(annotations: Value) -> Value {
    json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
           "metadata": {"name": "podinfo", "namespace": "apps", "annotations": annotations},
           "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.4",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}})
}

/// E4/E5: out of retries, Stalled=True RetriesExceeded with "Failed to install after N
/// attempt(s)" and Ready=False with Helm's message (atomic_release.go:204-210, install.go);
/// a plain reconcile request does not heal it once the cause is gone, a reset does
/// (internal/action/reset.go `MustResetFailures`).
#[tokio::test]
async fn a_release_out_of_retries_stays_stalled_until_reset() {
    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    sim.cluster().apply(&helm_repository()).unwrap();
    sim.cluster()
        .apply(&helm_release(json!({"sim.fluxboard.dev/fail": "timed out waiting for the condition"})))
        .unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let releases = common::helm_releases(&client, "apps");
    let stalled = wait_object(&releases, "podinfo", "the stall", |o| condition(o, "Stalled").0 == "True").await;
    assert_eq!(condition(&stalled, "Stalled"), ("True", "RetriesExceeded", "Failed to install after 1 attempt(s)"));
    assert_eq!(
        condition(&stalled, "Ready"),
        (
            "False",
            "InstallFailed",
            "Helm install failed for release apps/podinfo with chart podinfo@6.5.4: timed out waiting for the condition"
        )
    );
    assert_eq!(stalled["status"]["observedGeneration"], 1, "a terminal error observes the generation");

    request(&releases, "podinfo", json!({"sim.fluxboard.dev/fail": null, "reconcile.fluxcd.io/requestedAt": "plain"}))
        .await;
    let still =
        wait_object(&releases, "podinfo", "the plain request", |o| o["status"]["lastHandledReconcileAt"] == "plain")
            .await;
    assert_eq!(condition(&still, "Stalled").1, "RetriesExceeded", "{still}");

    request(&releases, "podinfo", json!({"reconcile.fluxcd.io/requestedAt": "r", "reconcile.fluxcd.io/resetAt": "r"}))
        .await;
    // The token is recorded before the install runs (Ready=Unknown "Running 'install' action"): wait past it.
    let healed = wait_object(&releases, "podinfo", "the reset", |o| {
        o["status"]["lastHandledResetAt"] == "r" && condition(o, "Ready").0 != "Unknown"
    })
    .await;
    assert_eq!(condition(&healed, "Ready").0, "True", "{healed}");
    assert_eq!(condition(&healed, "Stalled").0, "");
}

/// E7: a HelmRelease waiting on a dependency keeps Reconciling=True "Fulfilling
/// prerequisites" and leaves the generation unobserved (helmrelease_controller.go:236-262).
#[tokio::test]
async fn a_release_waiting_on_a_dependency_keeps_reconciling() {
    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    sim.cluster().apply(&helm_repository()).unwrap();
    let mut hr = helm_release(json!({}));
    hr["spec"]["dependsOn"] = json!([{"name": "database"}]);
    sim.cluster().apply(&hr).unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let releases = common::helm_releases(&client, "apps");
    let waiting =
        wait_object(&releases, "podinfo", "the wait", |o| condition(o, "Ready").1 == "DependencyNotReady").await;
    assert_eq!(
        condition(&waiting, "Ready").2,
        "unable to get 'apps/database' dependency: HelmRelease.helm.toolkit.fluxcd.io \"database\" not found"
    );
    assert_eq!(condition(&waiting, "Reconciling"), ("True", "Progressing", "Fulfilling prerequisites"));
    assert_eq!(waiting["status"]["observedGeneration"], -1);
}

/// Every state of `name` a watch from `version` shows until `until` holds.
async fn watch_until(
    api: &Api<DynamicObject>,
    name: &str,
    version: &str,
    until: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let params = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut stream = api.watch(&params, version).await.unwrap().boxed();
    let mut seen = Vec::new();
    let collect = async {
        while let Some(event) = stream.try_next().await.unwrap() {
            let (WatchEvent::Added(o) | WatchEvent::Modified(o)) = event else { continue };
            let o = serde_json::to_value(&o).unwrap();
            let done = until(&o);
            seen.push(o);
            if done {
                return;
            }
        }
    };
    tokio::time::timeout(common::DEADLINE, collect).await.expect("the watch saw the end");
    seen
}

fn version_of(obj: &Value) -> String {
    obj["metadata"]["resourceVersion"].as_str().unwrap().to_owned()
}

/// E9: a source keeps Ready=True through a no-op reconcile (pkg runtime/reconcile
/// `ProgressiveStatus(false, …)`, gitrepository_controller.go:291); a Kustomization shows
/// Ready=Unknown while it works (kustomization_controller.go:325).
#[tokio::test]
async fn a_source_keeps_ready_through_a_reconcile_and_a_kustomization_does_not() {
    let sim = common::start(SimConfig::default()).await;
    common::seed_app(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let repos = common::git_repositories(&client, "apps");
    let kustomizations = common::kustomizations(&client, "apps");
    wait_object(&kustomizations, "app", "ready", common::is_ready).await;
    let version = version_of(&wait_object(&repos, "app", "ready", common::is_ready).await);
    request(&repos, "app", json!({"reconcile.fluxcd.io/requestedAt": "t"})).await;
    let seen = watch_until(&repos, "app", &version, |o| o["status"]["lastHandledReconcileAt"] == "t").await;
    let ready: Vec<&str> = seen.iter().map(|o| condition(o, "Ready").0).collect();
    assert!(ready.iter().all(|s| *s == "True"), "{ready:?}");
    assert!(seen.iter().any(|o| condition(o, "Reconciling").0 == "True"), "the work is shown as Reconciling");

    let version = version_of(&serde_json::to_value(kustomizations.get("app").await.unwrap()).unwrap());
    request(&kustomizations, "app", json!({"reconcile.fluxcd.io/requestedAt": "t"})).await;
    let seen = watch_until(&kustomizations, "app", &version, |o| o["status"]["lastHandledReconcileAt"] == "t").await;
    assert!(seen.iter().any(|o| condition(o, "Ready").0 == "Unknown"), "{seen:?}");
}

/// E10: a health check that never passes shows Healthy=Unknown while it runs, then fails
/// with HealthCheckFailed and is retried (kustomization_controller.go:997-1080).
#[tokio::test]
async fn a_health_check_that_times_out_fails_the_kustomization() {
    let sim = common::start(SimConfig::default()).await;
    common::seed_app(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let kustomizations = common::kustomizations(&client, "apps");
    wait_object(&kustomizations, "app", "ready", common::is_ready).await;
    let patch = json!({"metadata": {"annotations": {"sim.fluxboard.dev/unhealthy": "ConfigMap/apps/app-config"}},
                       "spec": {"wait": true, "timeout": "2s"}});
    kustomizations.patch("app", &manager(), &Patch::Merge(&patch)).await.unwrap();
    let seen = watch_until(&kustomizations, "app", "0", |o| condition(o, "Ready").1 == "HealthCheckFailed").await;
    let failed = seen.last().unwrap().clone();
    let healthy: Vec<&str> = seen.iter().map(|o| condition(o, "Healthy").0).collect();
    assert!(healthy.contains(&"Unknown"), "{healthy:?}");
    assert_eq!(condition(&failed, "Ready").2, "timeout waiting for: [ConfigMap/apps/app-config status: 'InProgress']");
    assert_eq!(condition(&failed, "Reconciling").1, "ProgressingWithRetry");
    assert_eq!(failed["status"]["observedGeneration"], 1, "the new generation is not observed: {failed}");
}

/// E10: dependsOn on a Kustomization sharing the source waits until the dependency applied
/// the source's current revision (kustomization_controller.go:612-624).
#[tokio::test]
async fn a_dependency_on_the_same_source_must_apply_its_revision_first() {
    let sim = common::start(SimConfig { timing: Timing::manual(), ..SimConfig::default() }).await;
    common::seed_app(&sim, "apps").await;
    let cluster = sim.cluster();
    cluster
        .apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "frontend", "namespace": "apps"},
            "spec": {"interval": "10m", "path": "./deploy", "dependsOn": [{"name": "app"}],
                     "sourceRef": {"kind": "GitRepository", "name": "app"}}}))
        .unwrap();
    let get = |name: &str| cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", name).unwrap();
    common::wait_for("both to be ready", || async {
        sim.controllers().run_until_idle().await;
        (common::is_ready(&get("app")) && common::is_ready(&get("frontend"))).then_some(())
    })
    .await;
    // The dependency is suspended (still Ready at its generation) and a new commit arrives:
    // it stays on the old revision.
    let mut suspended = (*get("app")).clone();
    suspended["spec"]["suspend"] = json!(true);
    cluster.apply(&suspended).unwrap();
    let repo_type = cluster.type_of_kind("source.toolkit.fluxcd.io", "GitRepository").unwrap().clone();
    cluster.annotate(&repo_type, "apps", "app", "sim.fluxboard.dev/upstream", Some("next")).unwrap();
    cluster.annotate(&repo_type, "apps", "app", "reconcile.fluxcd.io/requestedAt", Some("next")).unwrap();
    common::wait_for("the dependent to wait on the revision", || async {
        sim.controllers().run_until_idle().await;
        (condition(&get("frontend"), "Ready").2 == "dependency 'apps/app' revision is not up to date").then_some(())
    })
    .await;
}

/// E2: an ArtifactGenerator writes its inventory and the ExternalArtifacts it produces,
/// each Ready with `spec.sourceRef` naming it, and deletes those it no longer produces
/// (source-watcher artifactgenerator_controller.go:250-300, 470-520).
#[tokio::test]
async fn an_artifact_generator_produces_and_prunes_external_artifacts() {
    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    let mut repo = git("app", json!({}));
    repo["metadata"]["namespace"] = json!("apps");
    sim.cluster().apply(&repo).unwrap();
    sim.cluster()
        .apply(&json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
            "metadata": {"name": "gen", "namespace": "apps"},
            "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "app"}],
                     "artifacts": [{"name": "one", "copy": [{"from": "@repo/a/**", "to": "@artifact/"}]},
                                   {"name": "two", "copy": [{"from": "@repo/b/**", "to": "@artifact/"}]}]}}))
        .unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let generators = flux_api(&client, "source.extensions.fluxcd.io", "v1beta1", "ArtifactGenerator", "apps");
    let artifacts = flux_api(&client, "source.toolkit.fluxcd.io", "v1", "ExternalArtifact", "apps");
    let generated = wait_object(&generators, "gen", "the artifacts", |o| condition(o, "Ready").0 == "True").await;
    assert_eq!(condition(&generated, "Ready").2, "reconciliation succeeded, generated 2 artifact(s)");
    assert!(generated["status"].get("observedGeneration").is_none(), "{generated}");
    let one = wait_object(&artifacts, "one", "the ExternalArtifact", |o| condition(o, "Ready").0 == "True").await;
    assert_eq!(one["spec"]["sourceRef"]["kind"], "ArtifactGenerator");
    assert_eq!(one["spec"]["sourceRef"]["name"], "gen");
    assert_eq!(one["status"]["artifact"]["digest"], generated["status"]["inventory"][0]["digest"]);

    let fewer = json!({"spec": {"artifacts": [{"name": "one", "copy": [{"from": "@repo/a/**", "to": "@artifact/"}]}]}});
    generators.patch("gen", &manager(), &Patch::Merge(&fewer)).await.unwrap();
    common::wait_for("the orphan to be deleted", || async {
        artifacts.get_opt("two").await.unwrap().is_none().then_some(())
    })
    .await;
}

/// E11: writes are pruned of fields their version's schema lacks: an ImagePolicy served at
/// v1beta2 (Flux 2.6) has no `spec.suspend`, so suspending it changes nothing; unknown fields
/// go on the latest versions too.
#[tokio::test]
async fn unknown_fields_are_pruned_by_the_served_schema() {
    let sim = common::start(SimConfig {
        flux: false,
        flux_release: "2.6".parse::<FluxRelease>().unwrap(),
        ..SimConfig::default()
    })
    .await;
    namespace(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let policies = flux_api(&client, "image.toolkit.fluxcd.io", "v1beta2", "ImagePolicy", "apps");
    let policy = json!({"apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImagePolicy",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": {"imageRepositoryRef": {"name": "podinfo"}, "policy": {"semver": {"range": ">=6.0.0"}}}});
    policies.create(&PostParams::default(), &dynamic(policy)).await.unwrap();
    let suspended =
        policies.patch("podinfo", &manager(), &Patch::Merge(&json!({"spec": {"suspend": true}}))).await.unwrap();
    let suspended = serde_json::to_value(&suspended).unwrap();
    assert!(suspended["spec"].get("suspend").is_none(), "{suspended}");
    assert_eq!(suspended["metadata"]["generation"], 1, "nothing changed");

    let latest = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    namespace(&latest, "apps").await;
    let client = common::client(&latest, ADMIN_TOKEN).await;
    let repos = common::git_repositories(&client, "apps");
    let mut repo = git("app", json!({}));
    repo["spec"]["bogus"] = json!(true);
    let created = repos.create(&PostParams::default(), &dynamic(repo)).await.unwrap();
    let created = serde_json::to_value(&created).unwrap();
    assert!(created["spec"].get("bogus").is_none(), "{created}");
    assert_eq!(created["spec"]["interval"], "5m");
}

/// E6: with remediation retries, a failing upgrade is rolled back (Remediated=True,
/// Ready=False RollbackSucceeded) and retried, then stalls out of retries
/// (rollback_remediation.go, atomic_release.go:242-262).
#[tokio::test]
async fn a_failing_upgrade_is_rolled_back_then_stalls() {
    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    sim.cluster().apply(&helm_repository()).unwrap();
    let mut hr = helm_release(json!({}));
    hr["spec"]["upgrade"] = json!({"remediation": {"retries": 1}});
    sim.cluster().apply(&hr).unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let releases = common::helm_releases(&client, "apps");
    let installed = wait_object(&releases, "podinfo", "the install", common::is_ready).await;
    let upgrade = json!({"metadata": {"annotations": {"sim.fluxboard.dev/fail": "context deadline exceeded"}},
                         "spec": {"values": {"replicaCount": 2}}});
    releases.patch("podinfo", &manager(), &Patch::Merge(&upgrade)).await.unwrap();
    let seen =
        watch_until(&releases, "podinfo", &version_of(&installed), |o| condition(o, "Stalled").0 == "True").await;
    let rollback = "Helm rollback to previous release apps/podinfo.v1 with chart podinfo@6.5.4 succeeded";
    assert!(
        seen.iter().any(|o| condition(o, "Remediated") == ("True", "RollbackSucceeded", rollback)
            && condition(o, "Reconciling").1 == "ProgressingWithRetry"
            && o["status"]["observedGeneration"] == 1),
        "retried after the first rollback, the generation unobserved"
    );
    let stalled = seen.last().unwrap();
    assert_eq!(condition(stalled, "Stalled"), ("True", "RetriesExceeded", "Failed to upgrade after 2 attempt(s)"));
    assert_eq!(condition(stalled, "Ready").1, "RollbackSucceeded");
    assert_eq!(stalled["status"]["observedGeneration"], 2);
}

/// E8: an OCIRepository chartRef's chart version carries the digest's first 12 characters
/// (`mutateChartWithSourceRevision`, helmrelease_controller.go:907).
#[tokio::test]
async fn an_oci_chart_ref_release_records_the_version_with_its_digest() {
    let sim = common::start(SimConfig::default()).await;
    namespace(&sim, "apps").await;
    sim.cluster()
        .apply(&json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "redis", "namespace": "apps"},
            "spec": {"interval": "5m", "url": "oci://registry-1.docker.io/bitnamicharts/redis", "ref": {"tag": "20.6.1"}}}))
        .unwrap();
    sim.cluster()
        .apply(&json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "redis", "namespace": "apps"},
            "spec": {"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": "redis"}}}))
        .unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let repository = wait_object(
        &flux_api(&client, "source.toolkit.fluxcd.io", "v1", "OCIRepository", "apps"),
        "redis",
        "the chart artifact",
        common::is_ready,
    )
    .await;
    let revision = repository["status"]["artifact"]["revision"].as_str().unwrap();
    let hex = revision.split_once("@sha256:").unwrap().1;
    let release = wait_object(&common::helm_releases(&client, "apps"), "redis", "the install", common::is_ready).await;
    let version = format!("20.6.1+{}", &hex[..12]);
    assert_eq!(release["status"]["lastAttemptedRevision"], version.as_str());
    assert_eq!(release["status"]["history"][0]["chartVersion"], version.as_str());
    assert_eq!(release["status"]["lastAttemptedRevisionDigest"], format!("sha256:{hex}"));
}
