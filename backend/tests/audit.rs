//! The audit log's pages through the API: `offset`, `limit` and `refused` select, the
//! `X-Total-Count` header says how many match, the reason a user gave is kept, bad values are
//! refused with the JSON error body.

mod common;

use common::TestApp;
use fluxboard::Options;
use fluxboard::auth::{Identity, Role};
use serde_json::{Value, json};

/// A GET of the audit log with `query`: status, total header, body.
async fn audit(app: &TestApp, query: &str) -> (u16, Option<usize>, Value) {
    let res = reqwest::get(format!("{}/api/v1/audit?{query}", app.url)).await.expect("request");
    let status = res.status().as_u16();
    let total = res
        .headers()
        .get(fluxboard_model::audit::TOTAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, total, res.json().await.unwrap_or(Value::Null))
}

fn messages(page: &Value) -> Vec<String> {
    page.as_array().expect("an array").iter().map(|e| e["reason"].as_str().unwrap_or("-").to_owned()).collect()
}

#[tokio::test]
async fn the_audit_log_is_read_in_pages_with_the_reasons_given() {
    let app = TestApp::start_with(Options { identity: Some(Identity::open(Role::Admin)), ..Options::default() }).await;
    app.ready().await;
    // Five accepted reconciles with their reasons, and two refused (no such object).
    for n in 0..5 {
        let (status, _) = app
            .act(json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization",
                        "namespace": "flux-system", "name": "apps", "reason": format!("deploy {n}")}))
            .await;
        assert_eq!(status, 202);
    }
    for n in 0..2 {
        let (status, _) = app
            .act(json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization",
                        "namespace": "flux-system", "name": "nothing", "reason": format!("probe {n}")}))
            .await;
        assert_eq!(status, 404);
    }

    // Newest first, in pages of 3, with the total.
    let (status, total, first) = audit(&app, "offset=0&limit=3").await;
    assert_eq!((status, total), (200, Some(7)));
    assert_eq!(messages(&first), ["probe 1", "probe 0", "deploy 4"]);
    let (_, total, second) = audit(&app, "offset=3&limit=3").await;
    assert_eq!((total, messages(&second)), (Some(7), vec!["deploy 3".into(), "deploy 2".into(), "deploy 1".into()]));
    let (_, _, last) = audit(&app, "offset=6&limit=3").await;
    assert_eq!(messages(&last), ["deploy 0"]);
    // Without the refused requests.
    let (_, total, acted) = audit(&app, "offset=0&limit=3&refused=false").await;
    assert_eq!((total, messages(&acted)), (Some(5), vec!["deploy 4".into(), "deploy 3".into(), "deploy 2".into()]));
    assert!(acted.as_array().unwrap().iter().all(|e| e["status"] == "accepted"));
    // Without a query: everything, as before pages.
    let (_, total, all) = audit(&app, "").await;
    assert_eq!((total, all.as_array().map(Vec::len)), (Some(7), Some(7)));
    // Bad values: 400 with the error body.
    for bad in ["limit=0", "offset=-2", "refused=perhaps", "limit=100000"] {
        let (status, _, body) = audit(&app, bad).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{bad}: {body}");
    }
}
