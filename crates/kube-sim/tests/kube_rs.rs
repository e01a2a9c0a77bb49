//! kube-sim checked with kube-rs, the client fluxboard's backend uses: discovery, list and
//! watch, 410 recovery, the reconcile protocol of the emulated Flux controllers, impersonation
//! and RBAC.

mod common;

use std::time::Duration;

use common::{DEADLINE, condition, is_ready, kustomizations, wait_object};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec},
    core::v1::ConfigMap,
};
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    discovery::Discovery,
    runtime::watcher,
};
use kube_sim::{ADMIN_TOKEN, FleetChoice, FluxRelease, SimConfig, StaticToken};
use serde_json::{Value, json};

fn flux_manager() -> PatchParams {
    PatchParams { field_manager: Some("fluxboard".into()), ..PatchParams::default() }
}

fn kinds_table() -> Vec<(String, String, String)> {
    include_str!("../crds/kinds.tsv")
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_owned(), cols[1].to_owned(), cols[5].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn discovery_finds_every_flux_kind_at_its_version() {
    let sim = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let discovery = Discovery::new(client).run().await.expect("discovery runs");
    let kinds = kinds_table();
    assert_eq!(kinds.len(), 15);
    for (group, kind, version) in kinds {
        let found = discovery
            .groups()
            .find(|g| g.name() == group)
            .and_then(|g| g.resources_by_stability().into_iter().find(|(r, _)| r.kind == kind))
            .unwrap_or_else(|| panic!("{group} {kind} discovered"));
        assert_eq!(found.0.version, version, "{kind}");
        assert!(found.1.supports_operation(kube::discovery::verbs::WATCH));
    }
    for (group, kind) in
        [("", "Pod"), ("apps", "Deployment"), ("", "Event"), ("rbac.authorization.k8s.io", "ClusterRoleBinding")]
    {
        assert!(discovery.groups().any(|g| g.name() == group && g.recommended_kind(kind).is_some()), "{kind}");
    }
}

#[tokio::test]
async fn an_older_flux_release_is_discovered_with_its_versions() {
    let sim = common::start(SimConfig {
        flux: false,
        flux_release: "2.2".parse::<FluxRelease>().unwrap(),
        ..SimConfig::default()
    })
    .await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let discovery = Discovery::new(client).run().await.expect("discovery runs");
    // Groups whose kinds sit at different versions: the most stable version of each kind.
    let version_of = |group: &str, kind: &str| {
        discovery
            .groups()
            .find(|g| g.name() == group)
            .and_then(|g| g.resources_by_stability().into_iter().find(|(r, _)| r.kind == kind))
            .map(|(r, _)| r.version)
    };
    assert_eq!(version_of("helm.toolkit.fluxcd.io", "HelmRelease").as_deref(), Some("v2beta2"));
    assert_eq!(version_of("source.toolkit.fluxcd.io", "OCIRepository").as_deref(), Some("v1beta2"));
    assert_eq!(version_of("image.toolkit.fluxcd.io", "ImagePolicy").as_deref(), Some("v1beta2"));
    assert_eq!(version_of("source.toolkit.fluxcd.io", "ExternalArtifact"), None);
}

#[tokio::test]
async fn list_and_watch_with_bookmarks() {
    let sim =
        common::start(SimConfig { flux: false, bookmark_interval: Duration::from_millis(50), ..SimConfig::default() })
            .await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = |name: &str| {
        serde_json::from_value::<ConfigMap>(
            json!({"metadata": {"name": name, "labels": {"team": "a"}}, "data": {"k": "v"}}),
        )
        .unwrap()
    };
    api.create(&PostParams::default(), &cm("one")).await.expect("create");
    let list = api.list(&ListParams::default().labels("team=a")).await.expect("list");
    assert_eq!(list.items.len(), 1);
    let rv = list.metadata.resource_version.clone().expect("list resourceVersion");
    let stream = api.watch(&WatchParams::default().labels("team=a").timeout(30), &rv).await.expect("watch");
    let mut stream = stream.boxed();
    api.create(&PostParams::default(), &cm("two")).await.expect("create");
    let (mut added, mut bookmarks) = (Vec::new(), 0);
    tokio::time::timeout(DEADLINE, async {
        while let Some(event) = stream.try_next().await.expect("watch event") {
            match event {
                WatchEvent::Added(o) => added.push(o.name_any()),
                WatchEvent::Bookmark(b) => {
                    assert!(b.metadata.resource_version.parse::<u64>().unwrap() >= rv.parse::<u64>().unwrap());
                    bookmarks += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
            if !added.is_empty() && bookmarks > 0 {
                break;
            }
        }
    })
    .await
    .expect("an ADDED event and a bookmark arrive");
    assert_eq!(added, vec!["two"], "only what changed after the list's version");
}

#[tokio::test]
async fn a_watch_below_the_history_gets_410_and_the_watcher_recovers() {
    let sim = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = |name: &str| serde_json::from_value::<ConfigMap>(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &cm("before")).await.unwrap();
    let old_rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &cm("during")).await.unwrap();

    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut seen = std::collections::BTreeSet::new();
    let mut next_name = async |seen: &mut std::collections::BTreeSet<String>, want: &str| {
        tokio::time::timeout(DEADLINE, async {
            while !seen.contains(want) {
                match events.next().await.expect("watcher goes on") {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        seen.insert(o.name_any());
                    }
                    Ok(_) => {}
                    // The watcher reports the 410 and the dropped stream, then re-lists.
                    Err(_) => {}
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the watcher sees {want}"));
    };
    next_name(&mut seen, "during").await;

    sim.compact();
    sim.drop_watches();
    // As the watch cache answers: 200, then one ERROR event carrying the 410.
    let mut stream = api.watch(&WatchParams::default(), &old_rv).await.expect("the watch is answered").boxed();
    match stream.next().await {
        Some(Ok(kube::api::WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected an ERROR event with 410 Expired, got {other:?}"),
    }
    assert!(stream.next().await.is_none(), "the watch ends after the ERROR event");
    api.create(&PostParams::default(), &cm("after")).await.unwrap();
    next_name(&mut seen, "after").await;
}

#[tokio::test]
async fn a_reconcile_request_is_handled_and_the_object_becomes_ready() {
    let sim = common::start(SimConfig::default()).await;
    common::seed_app(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let ks = kustomizations(&client, "apps");
    let ready = wait_object(&ks, "app", "the Kustomization to become ready", is_ready).await;
    assert!(condition(&ready, "Ready").2.starts_with("Applied revision: main@sha1:"), "{ready}");

    let token = "2026-11-25T10:00:00.123456789Z";
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    ks.patch("app", &flux_manager(), &Patch::Merge(&patch)).await.expect("merge patch");
    let handled =
        wait_object(&ks, "app", "the token to be handled", |o| o["status"]["lastHandledReconcileAt"] == token).await;
    assert_eq!(condition(&handled, "Ready").0, "True");
    assert_eq!(handled["status"]["inventory"]["entries"][0]["id"], "apps_app-config__ConfigMap");
    let cm: Api<ConfigMap> = Api::namespaced(client.clone(), "apps");
    assert!(cm.get_opt("app-config").await.unwrap().is_some(), "the inventory was applied");

    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "apps");
    let selector = "involvedObject.kind=Kustomization,involvedObject.name=app,reason=ReconciliationSucceeded";
    let found = events.list(&ListParams::default().fields(selector)).await.expect("events by field selector");
    let event = found.items.first().expect("a ReconciliationSucceeded event");
    assert_eq!(event.source.as_ref().and_then(|s| s.component.as_deref()), Some("kustomize-controller"));
    let revision = event.metadata.annotations.as_ref().and_then(|a| a.get("kustomize.toolkit.fluxcd.io/revision"));
    assert!(revision.is_some_and(|r| r.starts_with("main@sha1:")), "{revision:?}");
}

#[tokio::test]
async fn manual_timing_reconciles_only_when_stepped() {
    let sim = common::start(SimConfig { timing: kube_sim::Timing::manual(), ..SimConfig::default() }).await;
    common::seed_app(&sim, "apps").await;
    let ready = || {
        sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "app").is_some_and(|o| is_ready(&o))
    };
    assert!(!ready(), "nothing reconciles by itself");
    common::wait_for("stepping to make the Kustomization ready", || async {
        sim.controllers().run_until_idle().await;
        ready().then_some(())
    })
    .await;
}

#[tokio::test]
async fn reconciliation_pauses_while_the_controller_is_not_running() {
    let sim = common::start(SimConfig { timing: kube_sim::Timing::manual(), ..SimConfig::default() }).await;
    common::seed_app(&sim, "apps").await;
    let cluster = sim.cluster();
    let ks = || cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "app").unwrap();
    common::wait_for("the Kustomization to become ready", || async {
        sim.controllers().run_until_idle().await;
        is_ready(&ks()).then_some(())
    })
    .await;
    let deployment = || cluster.get("apps", "Deployment", "flux-system", "kustomize-controller").unwrap();
    let scale = |replicas: u64| {
        let mut d = (*deployment()).clone();
        d["spec"]["replicas"] = json!(replicas);
        cluster.apply(&d).unwrap();
    };
    scale(0);
    common::wait_for("the controller to stop", || async { (deployment()["status"]["replicas"] == 0).then_some(()) })
        .await;
    let rt = cluster.type_of_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap().clone();
    cluster.annotate(&rt, "apps", "app", "reconcile.fluxcd.io/requestedAt", Some("while-down")).unwrap();
    sim.controllers().run_until_idle().await;
    assert_ne!(ks()["status"]["lastHandledReconcileAt"], "while-down", "nothing reconciles without its controller");
    scale(1);
    common::wait_for("the restarted controller to handle the request", || async {
        sim.controllers().run_until_idle().await;
        (ks()["status"]["lastHandledReconcileAt"] == "while-down").then_some(())
    })
    .await;
}

#[tokio::test]
async fn token_and_subject_access_reviews_answer() {
    let sim = common::start(SimConfig {
        flux: false,
        tokens: vec![StaticToken::new("alice-token", "alice", &["team-a"])],
        ..SimConfig::default()
    })
    .await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let reviews: Api<k8s_openapi::api::authentication::v1::TokenReview> = Api::all(client.clone());
    let review = |token: &str| serde_json::from_value(json!({"spec": {"token": token}})).unwrap();
    let known = reviews.create(&PostParams::default(), &review("alice-token")).await.unwrap().status.unwrap();
    assert_eq!(known.authenticated, Some(true));
    let user = known.user.unwrap();
    assert_eq!(user.username.as_deref(), Some("alice"));
    assert_eq!(user.groups.unwrap(), vec!["team-a", "system:authenticated"]);
    let unknown = reviews.create(&PostParams::default(), &review("forged")).await.unwrap().status.unwrap();
    assert_eq!(unknown.authenticated, None, "left out, as the real server leaves a false out");

    let sars: Api<k8s_openapi::api::authorization::v1::SubjectAccessReview> = Api::all(client);
    let ask = serde_json::from_value(json!({"spec": {"user": "alice", "groups": ["team-a"],
        "resourceAttributes": {"verb": "list", "group": "kustomize.toolkit.fluxcd.io", "resource": "kustomizations", "namespace": "apps"}}})).unwrap();
    let answer = sars.create(&PostParams::default(), &ask).await.unwrap().status.unwrap();
    assert!(!answer.allowed);

    let alice = common::client(&sim, "alice-token").await;
    let alice_reviews: Api<k8s_openapi::api::authentication::v1::TokenReview> = Api::all(alice);
    let kube::Error::Api(status) = alice_reviews.create(&PostParams::default(), &review("x")).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(status.code, 403, "creating TokenReviews needs RBAC");
}

#[tokio::test]
async fn suspend_stops_reconciliation_until_resumed() {
    let sim = common::start(SimConfig::default()).await;
    common::seed_app(&sim, "apps").await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let ks = kustomizations(&client, "apps");
    let ready = wait_object(&ks, "app", "ready", is_ready).await;

    let suspend = json!({"spec": {"suspend": true}});
    ks.patch("app", &flux_manager(), &Patch::Merge(&suspend)).await.unwrap();
    let change =
        json!({"spec": {"path": "./other"}, "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t1"}}});
    let patched = ks.patch("app", &flux_manager(), &Patch::Merge(&change)).await.unwrap();
    let generation = patched.metadata.generation.unwrap();
    let acked = wait_object(&ks, "app", "the suspended object to record the request", |o| {
        o["status"]["lastHandledReconcileAt"] == "t1"
    })
    .await;
    // Not reconciled while suspended: the old path's result stays. kustomize-controller's
    // deferred finalizeStatus still observes the generation of a Ready object
    // (kustomization_controller.go:1294-1307).
    assert_eq!(acked["status"]["lastAttemptedRevision"], ready["status"]["lastAttemptedRevision"], "{acked}");
    assert_eq!(condition(&acked, "Ready"), condition(&ready, "Ready"), "{acked}");
    assert_eq!(acked["status"]["observedGeneration"].as_i64(), Some(generation));

    let resume =
        json!({"spec": {"suspend": null}, "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t2"}}});
    ks.patch("app", &flux_manager(), &Patch::Merge(&resume)).await.unwrap();
    let resumed =
        wait_object(&ks, "app", "the resumed object to reconcile", |o| o["status"]["lastHandledReconcileAt"] == "t2")
            .await;
    let (status, reason, _) = condition(&resumed, "Ready");
    assert_eq!((status, reason), ("False", "ArtifactFailed"), "./other does not exist in the source");
    // E1: a failure leaves status.observedGeneration stale; Ready carries the new generation.
    assert_eq!(resumed["status"]["observedGeneration"].as_i64(), Some(generation));
    let ready_generation = resumed["status"]["conditions"][0]["observedGeneration"].as_i64();
    assert_eq!(ready_generation, Some(generation + 1));
}

#[tokio::test]
async fn force_is_honoured_only_with_the_same_requested_at() {
    let sim = common::start(SimConfig::default()).await;
    let cluster = sim.cluster();
    for obj in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": {"name": "podinfo", "namespace": "apps"},
               "spec": {"interval": "1h", "url": "https://stefanprodan.github.io/podinfo"}}),
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "podinfo", "namespace": "apps"},
               "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.4",
                        "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}}),
    ] {
        cluster.apply(&obj).unwrap();
    }
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let hr = common::helm_releases(&client, "apps");
    let ready = wait_object(&hr, "podinfo", "the release to install", is_ready).await;
    assert_eq!(ready["status"]["history"][0]["version"], 1);

    let mismatched = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "a", "reconcile.fluxcd.io/forceAt": "b"}}});
    hr.patch("podinfo", &flux_manager(), &Patch::Merge(&mismatched)).await.unwrap();
    let handled = wait_object(&hr, "podinfo", "request a handled", |o| {
        o["status"]["lastHandledReconcileAt"] == "a" && is_ready(o)
    })
    .await;
    // Recorded whenever present, honoured only with the same token (pkg apis/meta
    // `HandleAnnotationRequest`).
    assert_eq!(handled["status"]["lastHandledForceAt"], "b", "{handled}");
    assert_eq!(handled["status"]["history"][0]["version"], 1, "no upgrade without a matching forceAt");

    let forced = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "c", "reconcile.fluxcd.io/forceAt": "c"}}});
    hr.patch("podinfo", &flux_manager(), &Patch::Merge(&forced)).await.unwrap();
    let upgraded =
        wait_object(&hr, "podinfo", "the forced upgrade", |o| o["status"]["lastHandledForceAt"] == "c" && is_ready(o))
            .await;
    assert_eq!(upgraded["status"]["history"][0]["version"], 2, "{upgraded}");
    assert!(
        condition(&upgraded, "Ready").2.starts_with("Helm upgrade succeeded for release apps/podinfo.v2"),
        "{upgraded}"
    );
}

#[tokio::test]
async fn depends_on_waits_for_the_dependency() {
    let sim = common::start(SimConfig::default()).await;
    common::seed_app(&sim, "apps").await;
    let cluster = sim.cluster();
    cluster
        .apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "infra", "namespace": "apps", "annotations": {"sim.fluxboard.dev/fail": "kustomize build failed: accumulating resources"}},
            "spec": {"interval": "10m", "path": "./", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "app"}}}))
        .unwrap();
    cluster
        .apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "frontend", "namespace": "apps"},
            "spec": {"interval": "10m", "path": "./", "prune": true, "dependsOn": [{"name": "infra"}],
                     "sourceRef": {"kind": "GitRepository", "name": "app"}}}))
        .unwrap();
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let ks = kustomizations(&client, "apps");
    let waiting =
        wait_object(&ks, "frontend", "DependencyNotReady", |o| condition(o, "Ready").1 == "DependencyNotReady").await;
    assert_eq!(condition(&waiting, "Ready").2, "dependency 'apps/infra' is not ready");
    let failing = wait_object(&ks, "infra", "the scripted failure", |o| condition(o, "Ready").0 == "False").await;
    assert_eq!(condition(&failing, "Reconciling").1, "ProgressingWithRetry");

    let fix = json!({"metadata": {"annotations": {"sim.fluxboard.dev/fail": null, "reconcile.fluxcd.io/requestedAt": "fix"}}});
    ks.patch("infra", &flux_manager(), &Patch::Merge(&fix)).await.unwrap();
    let frontend = wait_object(&ks, "frontend", "the dependent to become ready", is_ready).await;
    let infra = ks.get("infra").await.unwrap();
    let infra = serde_json::to_value(&infra).unwrap();
    assert!(is_ready(&infra));
    let since = |o: &Value| {
        o["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap()["lastTransitionTime"].as_str().unwrap().to_owned()
    };
    assert!(since(&infra) <= since(&frontend), "the dependency became ready first");
}

#[tokio::test]
async fn rbac_refuses_with_the_api_server_message() {
    let sim = common::start(SimConfig {
        flux: false,
        tokens: vec![StaticToken::new("alice-token", "alice", &["team-a"])],
        ..SimConfig::default()
    })
    .await;
    let alice = common::client(&sim, "alice-token").await;
    let err = kustomizations(&alice, "apps").list(&ListParams::default()).await.unwrap_err();
    let kube::Error::Api(status) = err else { panic!("an API error: {err:?}") };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"alice\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" in the namespace \"apps\""
    );
}

async fn grant_team_a_viewing(sim: &kube_sim::Sim) {
    let cluster = sim.cluster();
    for obj in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "flux-view"},
               "rules": [{"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"], "verbs": ["get", "list", "watch"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bob-view", "namespace": "team-a"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flux-view"},
               "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "impersonator"},
               "rules": [{"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "dashboard-impersonates"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonator"},
               "subjects": [{"kind": "ServiceAccount", "name": "fluxboard", "namespace": "fluxboard"}]}),
    ] {
        cluster.apply(&obj).unwrap();
    }
}

#[tokio::test]
async fn impersonation_is_allowed_only_to_those_who_may_impersonate() {
    let sim = common::start(SimConfig {
        flux: false,
        tokens: vec![
            StaticToken::new(
                "dashboard-token",
                "system:serviceaccount:fluxboard:fluxboard",
                &["system:serviceaccounts"],
            ),
            StaticToken::new("alice-token", "alice", &[]),
        ],
        ..SimConfig::default()
    })
    .await;
    grant_team_a_viewing(&sim).await;

    let as_bob = common::client_with(&sim, "dashboard-token", Some("bob"), &["team-a"]).await;
    kustomizations(&as_bob, "team-a").list(&ListParams::default()).await.expect("bob may list in team-a");
    let kube::Error::Api(status) = kustomizations(&as_bob, "team-b").list(&ListParams::default()).await.unwrap_err()
    else {
        panic!()
    };
    assert_eq!(status.code, 403);
    assert!(status.message.contains("User \"bob\" cannot list"), "{}", status.message);

    let alice_as_bob = common::client_with(&sim, "alice-token", Some("bob"), &[]).await;
    let kube::Error::Api(status) =
        kustomizations(&alice_as_bob, "team-a").list(&ListParams::default()).await.unwrap_err()
    else {
        panic!()
    };
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"alice\" cannot impersonate-on:user-info:list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" in the namespace \"team-a\"",
        "refused as Kubernetes 1.36 refuses it: on the request, the first check of constrained impersonation"
    );
}

#[tokio::test]
async fn self_subject_access_reviews_answer_for_the_caller() {
    let sim = common::start(SimConfig {
        flux: false,
        tokens: vec![StaticToken::new("dashboard-token", "system:serviceaccount:fluxboard:fluxboard", &[])],
        ..SimConfig::default()
    })
    .await;
    grant_team_a_viewing(&sim).await;
    let as_bob = common::client_with(&sim, "dashboard-token", Some("bob"), &[]).await;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(as_bob);
    let ask = |verb: &str, namespace: &str| SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some("kustomize.toolkit.fluxcd.io".into()),
                resource: Some("kustomizations".into()),
                verb: Some(verb.into()),
                namespace: Some(namespace.into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let allowed = reviews.create(&PostParams::default(), &ask("list", "team-a")).await.unwrap();
    assert!(allowed.status.unwrap().allowed);
    let denied = reviews.create(&PostParams::default(), &ask("patch", "team-a")).await.unwrap();
    assert!(!denied.status.unwrap().allowed);
    let elsewhere = reviews.create(&PostParams::default(), &ask("list", "team-b")).await.unwrap();
    assert!(!elsewhere.status.unwrap().allowed);
}

/// The demo fleet shows each state a real fleet has, as the upstream controllers write it.
#[tokio::test]
async fn the_demo_fleet_settles_with_failing_suspended_and_stalled_objects() {
    let sim = common::start(SimConfig { fleet: FleetChoice::Demo("production".into()), ..SimConfig::default() }).await;
    let client = common::client(&sim, ADMIN_TOKEN).await;
    let all = |kind: &str, group: &str, version: &str| {
        Api::<kube::api::DynamicObject>::all_with(
            client.clone(),
            &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(group, version, kind)),
        )
    };
    // Settled: every object's Ready condition carries its current generation (Flux stamps
    // conditions with it on every outcome; status.observedGeneration only on success or stall).
    let settled = |kind: &'static str, group: &'static str, version: &'static str, done: fn(&[Value]) -> bool| {
        let api = all(kind, group, version);
        async move {
            common::wait_for(&format!("the demo {kind}s to settle"), || async {
                let items = api.list(&ListParams::default()).await.ok()?.items;
                let values: Vec<Value> = items.iter().map(|o| serde_json::to_value(o).unwrap()).collect();
                let pending = values.iter().any(|o| {
                    let ready =
                        o["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
                    o["spec"]["suspend"] != true
                        && ready.is_none_or(|r| r["observedGeneration"] != o["metadata"]["generation"])
                });
                (!pending && done(&values)).then_some(values)
            })
            .await
        }
    };
    let named = |values: &[Value], name: &str| values.iter().find(|o| o["metadata"]["name"] == name).cloned().unwrap();
    let ks = settled("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", |v| {
        v.iter().any(|o| condition(o, "Ready").1 == "DependencyNotReady")
    })
    .await;
    assert!(ks.iter().any(|o| condition(o, "Ready").0 == "True"));
    assert!(ks.iter().any(|o| condition(o, "Stalled").0 == "True"), "team-c/backend stalls");
    let database = named(&ks, "database");
    assert_eq!(condition(&database, "Reconciling").1, "ProgressingWithRetry", "team-c/database fails and retries");
    assert_eq!(database["status"]["observedGeneration"], -1, "never succeeded: the CRD default stays");
    assert_eq!(condition(&named(&ks, "migrations"), "Ready").2, "dependency 'team-c/database' is not ready");
    let config = named(&ks, "frontend-config");
    assert!(condition(&config, "Ready").2.starts_with("Applied revision: "), "applied from an ExternalArtifact");

    let hr = settled("HelmRelease", "helm.toolkit.fluxcd.io", "v2", |v| {
        v.iter().any(|o| condition(o, "Stalled").1 == "RetriesExceeded")
    })
    .await;
    let monitoring = named(&hr, "kube-prometheus-stack");
    assert_eq!(condition(&monitoring, "Stalled").2, "Failed to install after 4 attempt(s)");
    assert_eq!(condition(&monitoring, "Ready").1, "InstallFailed");
    let redis = named(&hr, "redis");
    assert!(redis["status"]["history"][0]["chartVersion"].as_str().unwrap().starts_with("20.6.1+"), "{redis}");

    let generators = settled("ArtifactGenerator", "source.extensions.fluxcd.io", "v1beta1", |_| true).await;
    let frontend = named(&generators, "frontend");
    assert_eq!(condition(&frontend, "Ready").2, "reconciliation succeeded, generated 2 artifact(s)");
    assert_eq!(frontend["status"]["inventory"].as_array().unwrap().len(), 2);
    assert!(frontend["status"].get("observedGeneration").is_none());
    let artifacts =
        all("ExternalArtifact", "source.toolkit.fluxcd.io", "v1").list(&ListParams::default()).await.unwrap();
    assert_eq!(artifacts.items.len(), 2);

    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), "default");
    let nginx = common::wait_for("my-nginx-deploy to be ready", || async {
        let d = deployments.get_opt("my-nginx-deploy").await.ok().flatten()?;
        (d.status.as_ref()?.ready_replicas? == 2).then_some(d)
    })
    .await;
    assert_eq!(nginx.spec.unwrap().replicas, Some(2));
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "flux-system");
    let controllers = pods.list(&ListParams::default().labels("app=kustomize-controller")).await.unwrap();
    assert_eq!(controllers.items.len(), 1);
}
