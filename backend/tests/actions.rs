//! Actions through the API against the emulated cluster: the exact annotations and fields each
//! one writes, the emulated controllers' reaction seen on the stream, and every refusal.

mod common;

use std::time::Duration;

use common::{SseClient, SseEvent, TestApp, about, wait_for};
use fluxboard::Options;
use fluxboard::auth::{Grant, Identity, Role};
use fluxboard::demo::{DEMO_ADMIN_GROUP, demo_identity};
use serde_json::{Value, json};

const KS: &str = "kustomize.toolkit.fluxcd.io";
const HR: &str = "helm.toolkit.fluxcd.io";
const SRC: &str = "source.toolkit.fluxcd.io";

async fn app_as(identity: Identity) -> TestApp {
    let app = TestApp::start_with(Options {
        identity: Some(identity),
        source_wait: Duration::from_secs(3),
        ..Options::default()
    })
    .await;
    app.ready().await;
    app
}

fn target(kind: &str, namespace: &str, name: &str) -> Value {
    json!({"cluster": "production", "kind": kind, "namespace": namespace, "name": name})
}

fn request(action: &str, kind: &str, namespace: &str, name: &str) -> Value {
    let mut body = target(kind, namespace, name);
    body["action"] = json!(action);
    body
}

fn annotation(obj: &Value, key: &str) -> Option<String> {
    obj["metadata"]["annotations"][key].as_str().map(str::to_owned)
}

/// The last PATCH the emulated API server received for an object, as it arrived.
fn last_patch(app: &TestApp, kind: &str, namespace: &str, name: &str) -> kube_sim::RecordedPatch {
    app.sim()
        .patches()
        .into_iter()
        .rev()
        .find(|p| p.kind == kind && p.namespace == namespace && p.name == name && p.subresource.is_none())
        .unwrap_or_else(|| panic!("no patch of {kind} {namespace}/{name}"))
}

/// Asserts that the patch on the wire is exactly `body`, a merge patch under the field manager
/// `fluxboard`, sent impersonating the demo admin.
fn assert_wire(app: &TestApp, kind: &str, namespace: &str, name: &str, body: Value) {
    let p = last_patch(app, kind, namespace, name);
    assert_eq!(p.body, body, "the patch on the wire");
    assert_eq!(p.content_type, "application/merge-patch+json");
    assert_eq!(p.field_manager.as_deref(), Some("fluxboard"));
    assert_eq!(p.user, "demo-admin", "sent impersonating the user");
    assert!(p.groups.iter().any(|g| g == DEMO_ADMIN_GROUP), "{:?}", p.groups);
}

/// Reads the stream until the object shows it handled the request `token`.
async fn until_handled(stream: &mut SseClient, kind: &str, namespace: &str, name: &str, token: &str) -> SseEvent {
    let what = format!("{kind} {namespace}/{name} to handle {token}");
    let (handled, _) = stream
        .until(&what, |e| {
            e.event == "upsert" && about(e, kind, namespace, name) && e.json()["lastHandledReconcileAt"] == token
        })
        .await;
    handled
}

fn token_of(body: &Value) -> String {
    body["results"][0]["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn reconcile_sets_requested_at_only_and_the_stream_shows_it_handled() {
    let app = app_as(demo_identity()).await;
    let mut stream = app.stream(None).await;
    stream.next().await.unwrap();
    let before = app.object(KS, "Kustomization", "flux-system", "apps");
    let (status, body) = app.act(request("reconcile", "Kustomization", "flux-system", "apps")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted");
    let token = token_of(&body);
    assert!(token.parse::<jiff::Timestamp>().is_ok() && token.ends_with('Z'), "an RFC 3339 token: {token}");
    assert_wire(
        &app,
        "Kustomization",
        "flux-system",
        "apps",
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
    );
    let after = app.object(KS, "Kustomization", "flux-system", "apps");
    assert_eq!(annotation(&after, "reconcile.fluxcd.io/requestedAt").as_deref(), Some(token.as_str()));
    assert_eq!(after["spec"], before["spec"], "the spec is untouched (no spec.force)");
    assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"]);
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
    let handled = until_handled(&mut stream, "Kustomization", "flux-system", "apps", &token).await;
    assert_eq!(handled.json()["health"], "Ready");
    // The Event on the object and the audit entry.
    let events = app
        .sim()
        .cluster()
        .list("", "Event", |e| e["reason"] == "ReconcileRequested" && e["involvedObject"]["name"] == "apps");
    assert!(
        events.iter().any(|e| e["metadata"]["annotations"]["fluxboard.dev/user"] == "demo-admin"
            && e["metadata"]["annotations"]["fluxboard.dev/token"] == token.as_str()),
        "{events:?}"
    );
    let (status, audit) = app.get_json("/api/v1/audit").await;
    assert_eq!(status, 200);
    assert_eq!(audit[0]["token"], token.as_str());
    assert_eq!(audit[0]["status"], "accepted");
    assert_eq!(audit[0]["user"], "demo-admin");
}

#[tokio::test]
async fn force_and_reset_use_the_same_token_and_only_for_helm_releases() {
    let app = app_as(demo_identity()).await;
    for (action, key, handled) in [
        ("force", "reconcile.fluxcd.io/forceAt", "lastHandledForceAt"),
        ("reset", "reconcile.fluxcd.io/resetAt", "lastHandledResetAt"),
    ] {
        let (status, body) = app.act(request(action, "HelmRelease", "team-a", "podinfo-frontend")).await;
        assert_eq!(status, 202, "{body}");
        let token = token_of(&body);
        assert_wire(
            &app,
            "HelmRelease",
            "team-a",
            "podinfo-frontend",
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token, key: token}}}),
        );
        let hr = app.object(HR, "HelmRelease", "team-a", "podinfo-frontend");
        assert_eq!(annotation(&hr, "reconcile.fluxcd.io/requestedAt").as_deref(), Some(token.as_str()));
        assert_eq!(annotation(&hr, key).as_deref(), Some(token.as_str()));
        wait_for("the controller to handle it", || async {
            (app.object(HR, "HelmRelease", "team-a", "podinfo-frontend")["status"][handled] == token.as_str())
                .then_some(())
        })
        .await;
        let (status, body) = app.act(request(action, "Kustomization", "flux-system", "apps")).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("HelmReleases only"));
    }
}

#[tokio::test]
async fn suspend_records_who_and_why_and_resume_removes_it_and_reconciles() {
    let app = app_as(demo_identity()).await;
    let mut body = request("suspend", "Kustomization", "team-a", "podinfo");
    body["reason"] = json!("change freeze");
    let (status, res) = app.act(body).await;
    assert_eq!(status, 202, "{res}");
    assert_wire(
        &app,
        "Kustomization",
        "team-a",
        "podinfo",
        json!({"metadata": {"annotations": {
        "fluxboard.dev/suspended-by": "demo-admin", "fluxboard.dev/suspend-reason": "change freeze"}}, "spec": {"suspend": true}}),
    );
    let ks = app.object(KS, "Kustomization", "team-a", "podinfo");
    assert_eq!(ks["spec"]["suspend"], true);
    assert_eq!(annotation(&ks, "fluxboard.dev/suspended-by").as_deref(), Some("demo-admin"));
    assert_eq!(annotation(&ks, "fluxboard.dev/suspend-reason").as_deref(), Some("change freeze"));
    wait_for("the suspension in the store", || async {
        app.app
            .state
            .store
            .summaries()
            .into_iter()
            .find(|s| s.name == "podinfo" && s.kind == "Kustomization" && s.suspended)
    })
    .await;
    let (status, res) = app.act(request("resume", "Kustomization", "team-a", "podinfo")).await;
    assert_eq!(status, 202, "{res}");
    let token = token_of(&res);
    assert_wire(
        &app,
        "Kustomization",
        "team-a",
        "podinfo",
        json!({"metadata": {"annotations": {
        "reconcile.fluxcd.io/requestedAt": token, "fluxboard.dev/suspended-by": null, "fluxboard.dev/suspend-reason": null}},
        "spec": {"suspend": null}}),
    );
    let ks = app.object(KS, "Kustomization", "team-a", "podinfo");
    assert!(ks["spec"].get("suspend").is_none_or(Value::is_null), "{}", ks["spec"]);
    assert_eq!(annotation(&ks, "fluxboard.dev/suspended-by"), None);
    assert_eq!(annotation(&ks, "reconcile.fluxcd.io/requestedAt").as_deref(), Some(token.as_str()));
    wait_for("the resumed object to handle the request", || async {
        app.app.state.store.summaries().into_iter().find(|s| {
            s.name == "podinfo"
                && s.kind == "Kustomization"
                && s.last_handled_reconcile_at.as_deref() == Some(token.as_str())
        })
    })
    .await;
}

#[tokio::test]
async fn reconcile_with_source_reconciles_the_sources_first() {
    let app = app_as(demo_identity()).await;
    let (status, body) = app.act(request("reconcileWithSource", "Kustomization", "flux-system", "apps")).await;
    assert_eq!(status, 202, "{body}");
    let token = token_of(&body);
    let repo = app.object(SRC, "GitRepository", "flux-system", "flux-system");
    assert_eq!(
        repo["status"]["lastHandledReconcileAt"],
        token.as_str(),
        "the source was handled before the object was asked"
    );
    assert_eq!(
        annotation(&app.object(KS, "Kustomization", "flux-system", "apps"), "reconcile.fluxcd.io/requestedAt")
            .as_deref(),
        Some(token.as_str())
    );
    // A HelmRelease with a chart template: the chart's source, then its HelmChart, then the release.
    let (status, body) = app.act(request("reconcileWithSource", "HelmRelease", "team-a", "podinfo-frontend")).await;
    assert_eq!(status, 202, "{body}");
    let token = token_of(&body);
    let hr = app.object(HR, "HelmRelease", "team-a", "podinfo-frontend");
    let source = &hr["spec"]["chart"]["spec"]["sourceRef"];
    let source_ns = source["namespace"].as_str().unwrap_or("team-a");
    let repo = app.object(SRC, "HelmRepository", source_ns, source["name"].as_str().unwrap());
    let chart = app.object(SRC, "HelmChart", source_ns, "team-a-podinfo-frontend");
    for (what, obj) in [("HelmRepository", &repo), ("HelmChart", &chart)] {
        if obj["spec"]["type"] != "oci" {
            assert_eq!(obj["status"]["lastHandledReconcileAt"], token.as_str(), "{what} handled first");
        }
    }
    assert_eq!(annotation(&hr, "reconcile.fluxcd.io/requestedAt").as_deref(), Some(token.as_str()));
}

#[tokio::test]
async fn a_failing_object_shows_failing_and_retrying_with_the_controller_message() {
    let app = app_as(demo_identity()).await;
    let mut stream = app.stream(None).await;
    stream.next().await.unwrap();
    let (status, body) = app.act(request("reconcile", "GitRepository", "team-b", "team-b-app")).await;
    assert_eq!(status, 202, "{body}");
    let token = token_of(&body);
    let handled = until_handled(&mut stream, "GitRepository", "team-b", "team-b-app", &token).await;
    let summary = handled.json();
    assert_eq!((summary["health"].as_str(), summary["retrying"].as_bool()), (Some("Failing"), Some(true)), "{summary}");
    assert!(summary["message"].as_str().unwrap().contains("authentication required"));
}

#[tokio::test]
async fn restart_rolls_a_flux_controller_and_nothing_else() {
    let app = app_as(demo_identity()).await;
    let restart = |ns: &str, name: &str| {
        let mut body = request("restart", "Deployment", ns, name);
        body["group"] = json!("apps");
        body
    };
    let (status, body) = app.act(restart("flux-system", "kustomize-controller")).await;
    assert_eq!(status, 202, "{body}");
    let token = token_of(&body);
    assert_wire(
        &app,
        "Deployment",
        "flux-system",
        "kustomize-controller",
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": token}}}}}),
    );
    let deployment = app.object("apps", "Deployment", "flux-system", "kustomize-controller");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        token.as_str()
    );
    let (status, controllers) = app.get_json("/api/v1/controllers/production").await;
    assert_eq!(status, 200);
    let kc = controllers.as_array().unwrap().iter().find(|c| c["name"] == "kustomize-controller").unwrap();
    assert_eq!(kc["restartedAt"], token.as_str());
    assert_eq!(controllers.as_array().unwrap().len(), 7, "{controllers}");
    let (status, body) = app.act(restart("default", "my-nginx-deploy")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("not a Flux controller"));
    // Operators may not restart controllers.
    let operator = app_as(Identity {
        user: "olga".into(),
        groups: vec![DEMO_ADMIN_GROUP.into()],
        grants: vec![Grant::everywhere(Role::Operator)],
    })
    .await;
    let (status, body) = operator.act(restart("flux-system", "kustomize-controller")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin role"));
}

#[tokio::test]
async fn a_stopped_controller_is_reported_instead_of_waited_for_forever() {
    let app = app_as(demo_identity()).await;
    let mut controller = app.object("apps", "Deployment", "flux-system", "source-controller");
    controller["spec"]["replicas"] = json!(0);
    app.sim().cluster().apply(&controller).unwrap();
    wait_for("source-controller to stop", || async {
        (app.object("apps", "Deployment", "flux-system", "source-controller")["status"]["readyReplicas"]
            .as_i64()
            .unwrap_or(0)
            == 0)
            .then_some(())
    })
    .await;
    let before = app.object(KS, "Kustomization", "flux-system", "apps");
    let (status, body) = app.act(request("reconcileWithSource", "Kustomization", "flux-system", "apps")).await;
    assert_eq!(status, 504, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("is source-controller running?"), "{message}");
    let after = app.object(KS, "Kustomization", "flux-system", "apps");
    assert_eq!(
        annotation(&after, "reconcile.fluxcd.io/requestedAt"),
        annotation(&before, "reconcile.fluxcd.io/requestedAt"),
        "the object was not asked"
    );
}

#[tokio::test]
async fn refusals_are_clear_change_nothing_and_are_audited() {
    let app = app_as(demo_identity()).await;
    let untouched = |app: &TestApp| {
        annotation(&app.object(KS, "Kustomization", "flux-system", "apps"), "reconcile.fluxcd.io/requestedAt")
    };
    let before = untouched(&app);
    for (body, status, needle) in [
        (request("reconcile", "Alert", "flux-system", "on-call"), 400, "static"),
        (request("reconcile", "Kustomization", "flux-system", "nope"), 404, "not found"),
        (request("reconcile", "Widget", "flux-system", "apps"), 404, "not a Flux kind"),
        (
            json!({"action": "reconcile", "cluster": "nowhere", "kind": "Kustomization", "namespace": "flux-system", "name": "apps"}),
            404,
            "no cluster",
        ),
        (json!({"action": "reconcile"}), 400, "missing target"),
        (
            json!({"action": "explode", "cluster": "production", "kind": "Kustomization", "namespace": "flux-system", "name": "apps"}),
            400,
            "malformed",
        ),
        (
            json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization", "namespace": "flux-system", "name": "apps", "force": true}),
            400,
            "malformed",
        ),
    ] {
        let (got, res) = app.act(body.clone()).await;
        assert_eq!(got, status, "{body} -> {res}");
        assert!(res["error"]["message"].as_str().unwrap().contains(needle), "{body} -> {res}");
    }
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/actions", app.url);
    let good = request("reconcile", "Kustomization", "flux-system", "apps").to_string();
    let cases = [
        (client.post(&url).header("content-type", "text/plain").body(good.clone()), 415),
        (client.post(&url).header("content-type", "application/json").body("{not json"), 400),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(100_000))),
            413,
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("origin", "http://evil.example")
                .body(good.clone()),
            403,
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("sec-fetch-site", "cross-site")
                .body(good.clone()),
            403,
        ),
    ];
    for (req, status) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(untouched(&app), before, "nothing was patched");
    assert!(
        app.sim().patches().iter().all(|p| p.name != "apps" && p.name != "on-call"),
        "no patch reached the API server"
    );
    let (_, audit) = app.get_json("/api/v1/audit").await;
    let refused = audit.as_array().unwrap().iter().filter(|e| e["status"] == "refused").count();
    assert!(refused >= 12, "every refusal is audited: {audit}");

    // A viewer sees no way to act; an operator without cluster RBAC is stopped by the cluster.
    let viewer = app_as(Identity::open(Role::Viewer)).await;
    let (status, body) = viewer.act(request("reconcile", "Kustomization", "flux-system", "apps")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("operator role"));
    let (status, _) = viewer.get_json("/api/v1/audit").await;
    assert_eq!(status, 403);
    let no_rbac =
        app_as(Identity { user: "mallory".into(), groups: vec![], grants: vec![Grant::everywhere(Role::Operator)] })
            .await;
    let (status, body) = no_rbac.act(request("reconcile", "Kustomization", "flux-system", "apps")).await;
    assert_eq!(status, 403, "{body}");
    assert!(no_rbac.sim().patches().iter().all(|p| p.name != "apps"), "the cluster refused it before patching");
    assert!(body["error"]["message"].as_str().unwrap().contains("forbidden by cluster RBAC"), "{body}");
    assert_eq!(
        untouched(&no_rbac),
        annotation(&no_rbac.object(KS, "Kustomization", "flux-system", "apps"), "reconcile.fluxcd.io/requestedAt")
    );
}

#[tokio::test]
async fn bulk_actions_report_per_object() {
    let app = app_as(demo_identity()).await;
    let body = json!({"action": "reconcile", "targets": [
        target("Kustomization", "team-b", "team-b-app"),
        target("GitRepository", "team-b", "team-b-app"),
        target("Kustomization", "team-b", "missing"),
    ]});
    let (status, res) = app.act(body).await;
    assert_eq!(status, 202, "{res}");
    let results = res["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!((results[0]["status"].as_str(), results[1]["status"].as_str()), (Some("accepted"), Some("accepted")));
    assert_eq!((results[2]["status"].as_str(), results[2]["code"].as_u64()), (Some("refused"), Some(404)));
    assert_eq!(
        annotation(&app.object(KS, "Kustomization", "team-b", "team-b-app"), "reconcile.fluxcd.io/requestedAt"),
        results[0]["token"].as_str().map(str::to_owned)
    );
}

#[tokio::test]
async fn a_suspended_object_is_not_reconciled_alone_or_in_bulk() {
    // flux reconcile refuses with "resource is suspended" (reconcile.go): the controller would
    // only record the token.
    let app = app_as(demo_identity()).await;
    let before = annotation(&app.object(HR, "HelmRelease", "team-b", "api"), "reconcile.fluxcd.io/requestedAt");
    for action in ["reconcile", "reconcileWithSource", "force", "reset"] {
        let (status, body) = app.act(request(action, "HelmRelease", "team-b", "api")).await;
        assert_eq!(status, 409, "{action}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("resource is suspended"), "{body}");
    }
    let body = json!({"action": "reconcile", "targets": [
        target("HelmRelease", "team-b", "api"),
        target("Kustomization", "team-b", "team-b-app"),
    ]});
    let (status, res) = app.act(body).await;
    assert_eq!(status, 202, "{res}");
    let results = res["results"].as_array().unwrap();
    assert_eq!((results[0]["status"].as_str(), results[0]["code"].as_u64()), (Some("refused"), Some(409)));
    assert_eq!(results[1]["status"].as_str(), Some("accepted"));
    assert_eq!(
        annotation(&app.object(HR, "HelmRelease", "team-b", "api"), "reconcile.fluxcd.io/requestedAt"),
        before,
        "nothing was sent to the suspended release"
    );
}

#[tokio::test]
async fn reconcile_with_source_stops_at_a_failing_or_suspended_source() {
    // flux reconcile --with-source runs the source first and stops unless it ends Ready
    // (reconcile_with_source.go); the object is not asked.
    let app = app_as(demo_identity()).await;
    let ks_token = |app: &TestApp, ns: &str, name: &str| {
        annotation(&app.object(KS, "Kustomization", ns, name), "reconcile.fluxcd.io/requestedAt")
    };
    let before = ks_token(&app, "team-b", "team-b-app");
    let (status, body) = app.act(request("reconcileWithSource", "Kustomization", "team-b", "team-b-app")).await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("authentication required") && message.contains("not reconciled"), "{message}");
    assert_eq!(ks_token(&app, "team-b", "team-b-app"), before, "the object was not asked");

    let mut repo = app.object(SRC, "GitRepository", "team-a", "podinfo");
    repo["spec"]["suspend"] = json!(true);
    app.sim().cluster().apply(&repo).unwrap();
    let before = ks_token(&app, "team-a", "podinfo");
    let (status, body) = app.act(request("reconcileWithSource", "Kustomization", "team-a", "podinfo")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("is suspended"), "{body}");
    assert_eq!(ks_token(&app, "team-a", "podinfo"), before, "the object was not asked");
    assert_eq!(
        annotation(&app.object(SRC, "GitRepository", "team-a", "podinfo"), "reconcile.fluxcd.io/requestedAt"),
        None,
        "nor the suspended source"
    );
}

#[tokio::test]
async fn reconcile_with_source_checks_the_scope_of_every_source() {
    // An operator of team-b may not reach team-a's HelmRepository through a team-b release, in
    // either act-as mode (the service account could patch it).
    for act_as in [fluxboard::actions::ActAs::User, fluxboard::actions::ActAs::ServiceAccount] {
        let app = TestApp::start_with(Options {
            identity: Some(Identity {
                user: "bob".into(),
                groups: vec![DEMO_ADMIN_GROUP.into()],
                grants: vec![Grant {
                    role: Role::Operator,
                    clusters: vec!["*".into()],
                    namespaces: vec!["team-b".into()],
                }],
            }),
            act_as,
            source_wait: Duration::from_secs(3),
            ..Options::default()
        })
        .await;
        app.ready().await;
        let mut api = app.object(HR, "HelmRelease", "team-b", "api");
        api["spec"]["suspend"] = Value::Null;
        app.sim().cluster().apply(&api).unwrap();
        let (status, body) = app.act(request("reconcileWithSource", "HelmRelease", "team-b", "api")).await;
        assert_eq!(status, 403, "{act_as:?}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("HelmRepository team-a/podinfo"), "{body}");
        let repo = app.object(SRC, "HelmRepository", "team-a", "podinfo");
        assert_eq!(
            annotation(&repo, "reconcile.fluxcd.io/requestedAt"),
            None,
            "{act_as:?}: the source was not touched"
        );
        assert_eq!(
            annotation(&app.object(HR, "HelmRelease", "team-b", "api"), "reconcile.fluxcd.io/requestedAt"),
            None
        );
    }
}

#[tokio::test]
async fn bulk_reconcile_with_source_reconciles_a_shared_source_once() {
    // The four flux-system Kustomizations share GitRepository flux-system/flux-system: it is
    // asked once and every target goes on when it is handled (each target writing its own token
    // once made all but the last wait out their deadline).
    let app = app_as(demo_identity()).await;
    let before = app.sim().patches().iter().filter(|p| p.kind == "GitRepository" && p.name == "flux-system").count();
    let targets: Vec<Value> = ["flux-system", "infra-controllers", "infra-configs", "apps"]
        .iter()
        .map(|n| target("Kustomization", "flux-system", n))
        .collect();
    let (status, res) = app.act(json!({"action": "reconcileWithSource", "targets": targets})).await;
    assert_eq!(status, 202, "{res}");
    for r in res["results"].as_array().unwrap() {
        assert_eq!(r["status"], "accepted", "{r}");
    }
    let after = app.sim().patches().iter().filter(|p| p.kind == "GitRepository" && p.name == "flux-system").count();
    assert_eq!(after - before, 1, "the shared source was asked once");
}
