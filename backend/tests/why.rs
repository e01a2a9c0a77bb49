//! The fleet graph through the API against the emulated demo cluster: `GET /api/v1/why/...`
//! (root causes, a stopped controller, a hop outside the caller's scope) and
//! `GET /api/v1/revisions?q=...` (where a commit is, scoped).

mod common;

use common::{TestApp, wait_for};
use fluxboard::Options;
use fluxboard::auth::{Grant, Identity, Role};
use serde_json::{Value, json};

const KS: &str = "kustomize.toolkit.fluxcd.io";
const SOURCE: &str = "source.toolkit.fluxcd.io";

fn viewer_of(namespaces: &[&str]) -> Identity {
    Identity {
        user: "vera".into(),
        groups: vec![],
        grants: vec![Grant {
            role: Role::Viewer,
            clusters: vec!["*".into()],
            namespaces: namespaces.iter().map(|n| (*n).to_owned()).collect(),
        }],
    }
}

/// Waits until the why of an object satisfies `want`, returning it.
async fn why_until(app: &TestApp, path: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, || async {
        let (status, body) = app.get_json(&format!("/api/v1/why/production/{path}")).await;
        (status == 200 && want(&body)).then_some(body)
    })
    .await
}

#[tokio::test]
async fn team_b_app_is_blocked_by_its_repository_failing_to_authenticate() {
    let app = TestApp::start().await;
    app.ready().await;
    let why = why_until(&app, &format!("{KS}/Kustomization/team-b/team-b-app"), "team-b-app's root cause", |w| {
        w["rootCause"]["ref"]["kind"] == "GitRepository"
    })
    .await;
    assert_eq!(why["object"]["name"], "team-b-app");
    let chain = why["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "{why}");
    assert_eq!(chain[0]["ref"]["kind"], "Kustomization");
    assert_eq!(chain[1]["via"], "source");
    let root = &why["rootCause"];
    assert_eq!(
        root["ref"],
        json!({"cluster": "production", "group": SOURCE, "kind": "GitRepository", "namespace": "team-b", "name": "team-b-app"})
    );
    assert_eq!(root["health"], "Failing");
    assert!(root["message"].as_str().unwrap().contains("authentication required"), "{root}");

    // A dependency that is not ready leads to it; a Ready object has no cause.
    let migrations = why_until(&app, &format!("{KS}/Kustomization/team-c/migrations"), "migrations' cause", |w| {
        w["rootCause"]["ref"]["name"] == "database"
    })
    .await;
    assert_eq!(migrations["chain"][1]["via"], "dependsOn");
    let (status, ready) =
        app.get_json(&format!("/api/v1/why/production/{KS}/Kustomization/flux-system/flux-system")).await;
    assert_eq!(status, 200);
    assert_eq!((ready["rootCause"].clone(), ready["chain"].as_array().unwrap().len()), (Value::Null, 1));

    // Unknown objects are a 404, and a group that does not match the kind too.
    let (status, body) = app.get_json(&format!("/api/v1/why/production/{KS}/Kustomization/team-b/nope")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = app.get_json(&format!("/api/v1/why/production/{SOURCE}/Kustomization/team-b/team-b-app")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_stopped_controller_is_the_root_cause_of_what_waits_for_it() {
    let app = TestApp::start().await;
    app.ready().await;
    why_until(&app, &format!("{KS}/Kustomization/flux-system/flux-system"), "flux-system Ready", |w| {
        w["rootCause"].is_null()
    })
    .await;
    app.edit("apps", "Deployment", "flux-system", "kustomize-controller", |d| d["spec"]["replicas"] = json!(0));
    // A new generation nobody reconciles.
    app.edit(KS, "Kustomization", "flux-system", "infra-configs", |k| k["spec"]["interval"] = json!("11m"));
    let why =
        why_until(&app, &format!("{KS}/Kustomization/flux-system/infra-configs"), "the controller as the cause", |w| {
            w["rootCause"]["reason"] == "ControllerNotReady"
        })
        .await;
    let root = &why["rootCause"];
    assert_eq!(root["ref"]["kind"], "Deployment");
    assert_eq!(root["ref"]["name"], "kustomize-controller");
    assert_eq!(root["via"], "controller");
}

#[tokio::test]
async fn a_hop_outside_the_scope_is_reported_without_its_name_or_message() {
    let app = TestApp::start_with(Options { identity: Some(viewer_of(&["team-a"])), ..Options::default() }).await;
    app.ready().await;
    // team-a's Kustomization reads team-b's failing repository.
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "borrowed", "namespace": "team-a"},
        "spec": {"interval": "10m", "path": "./", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "team-b-app", "namespace": "team-b"}}});
    app.sim().cluster().apply(&ks).expect("apply");
    let why = why_until(&app, &format!("{KS}/Kustomization/team-a/borrowed"), "borrowed's cause", |w| {
        w["chain"].as_array().is_some_and(|c| c.len() == 2)
    })
    .await;
    let root = &why["rootCause"];
    assert_eq!(root["ref"], Value::Null);
    assert_eq!(root["reason"], "OutsideScope");
    assert_eq!(root["message"], "outside your scope");
    assert_eq!(root["outsideScope"], true);
    let text = why["chain"].to_string();
    assert!(!text.contains("team-b") && !text.contains("authentication"), "{text}");
    // The object itself outside the scope is refused.
    let (status, _) = app.get_json(&format!("/api/v1/why/production/{KS}/Kustomization/team-b/team-b-app")).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_commit_is_found_where_it_is_applied_and_only_within_the_scope() {
    let app = TestApp::start().await;
    app.ready().await;
    let revision = wait_for("the fleet repository's revision", || async {
        let (_, snapshot) = app.get_json("/api/v1/snapshot").await;
        snapshot["objects"].as_array()?.iter().find_map(|o| {
            (o["kind"] == "GitRepository" && o["name"] == "flux-system" && o["health"] == "Ready")
                .then(|| o["revision"].as_str().map(str::to_owned))
                .flatten()
        })
    })
    .await;
    let sha = revision.split("sha1:").nth(1).expect("a Git revision");
    let found = wait_for("the commit applied by the infra Kustomizations", || async {
        let (status, found) = app.get_json(&format!("/api/v1/revisions?q={}", &sha[..7])).await;
        let names: Vec<String> = found["matches"]
            .as_array()?
            .iter()
            .map(|m| format!("{}/{}", m["ref"]["kind"].as_str().unwrap(), m["ref"]["name"].as_str().unwrap()))
            .collect();
        (status == 200 && names.contains(&"Kustomization/apps".to_owned())).then_some(found)
    })
    .await;
    let git = found["matches"].as_array().unwrap().iter().find(|m| m["ref"]["kind"] == "GitRepository").unwrap();
    assert_eq!(git["revision"], revision.as_str());
    assert!(git["since"].is_string(), "{git}");
    assert!(found["behind"].is_array());
    // The full revision finds the same objects; nothing else matches a made-up SHA.
    let (_, full) = app.get_json(&format!("/api/v1/revisions?q={}", fluxboard_model::view::encode(&revision))).await;
    assert_eq!(full["matches"].as_array().unwrap().len(), found["matches"].as_array().unwrap().len());
    let (_, none) = app.get_json("/api/v1/revisions?q=deadbeefdeadbeef").await;
    assert_eq!(none["matches"], json!([]));
    let (status, _) = app.get_json("/api/v1/revisions").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_viewer_of_one_team_finds_no_commit_of_the_fleet_repository() {
    let app = TestApp::start_with(Options { identity: Some(viewer_of(&["team-a"])), ..Options::default() }).await;
    app.ready().await;
    let fleet = wait_for("the fleet repository's artifact", || async {
        let repo = app.object(SOURCE, "GitRepository", "flux-system", "flux-system");
        repo["status"]["artifact"]["revision"].as_str().map(str::to_owned)
    })
    .await;
    let podinfo = wait_for("team-a's repository revision", || async {
        let (_, snapshot) = app.get_json("/api/v1/snapshot").await;
        snapshot["objects"].as_array()?.iter().find_map(|o| {
            (o["kind"] == "GitRepository" && o["name"] == "podinfo" && o["health"] == "Ready")
                .then(|| o["revision"].as_str().map(str::to_owned))
                .flatten()
        })
    })
    .await;
    let (_, found) = app.get_json(&format!("/api/v1/revisions?q={}", fleet.split("sha1:").nth(1).unwrap())).await;
    assert_eq!(found, json!({"matches": [], "behind": []}), "flux-system is outside the scope");
    let (_, found) = app.get_json(&format!("/api/v1/revisions?q={}", podinfo.split("sha1:").nth(1).unwrap())).await;
    let matches = found["matches"].as_array().unwrap();
    assert!(!matches.is_empty());
    assert!(matches.iter().all(|m| m["ref"]["namespace"] == "team-a"), "{found}");
}

#[tokio::test]
async fn graph_reads_are_limited_per_user() {
    // Each read builds the fleet graph: a user gets 600 a minute, then a clear 429 (600 reads
    // take a few seconds here, far inside the minute the limit counts).
    let app = TestApp::start_with(Options { identity: Some(viewer_of(&["team-a"])), ..Options::default() }).await;
    app.ready().await;
    for i in 0..600 {
        let path = if i % 2 == 0 {
            "/api/v1/revisions?q=abc1234".to_owned()
        } else {
            format!("/api/v1/why/production/{KS}/Kustomization/team-a/podinfo")
        };
        let (status, body) = app.get_json(&path).await;
        assert!(status == 200 || status == 404, "read {i}: {status} {body}");
    }
    let (status, body) = app.get_json("/api/v1/revisions?q=abc1234").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["message"].as_str().unwrap().contains("try again in"), "{body}");
}
