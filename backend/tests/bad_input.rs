//! Bad input over every HTTP route: malformed, oversized and wrongly typed bodies, wrong
//! methods, cross-site posts, path traversal on assets, header and event injection, hostile
//! path segments. Each gets a clear error (JSON `{"error": {"code", "message"}}` on the API),
//! and nothing changes: no patch reaches the cluster, the server keeps serving.

mod common;

use common::{TestApp, about, wait_for};
use fluxboard::Options;
use fluxboard::demo::demo_config;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PASSWORD: &str = "correct-horse-battery";

/// Every POST route.
const POSTS: [&str; 4] = ["/api/v1/actions", "/auth/login", "/auth/token", "/auth/logout"];

/// An app with login (the demo users) and an admin session cookie.
async fn app() -> (TestApp, String) {
    let config = demo_config(PASSWORD).unwrap();
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    let cookie = login_admin(&app).await;
    (app, cookie)
}

/// Logs in as the demo admin; returns the session cookie.
async fn login_admin(app: &TestApp) -> String {
    let (status, body, cookie) = common::call(
        reqwest::Method::POST,
        &format!("{}/auth/login", app.url),
        None,
        Some(json!({"username": "admin", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    cookie.expect("a session cookie")
}

/// One raw HTTP/1.1 request (no client-side URL normalisation): status, head, body.
async fn raw(app: &TestApp, request: &[u8]) -> (u16, String, Vec<u8>) {
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The server may answer and close before reading everything: a reset then is fine.
    let _ = conn.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(common::DEADLINE, conn.read_to_end(&mut response)).await;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, response[split..].to_vec())
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A clear API error: the status, and a JSON body with a code and a sentence.
fn assert_error(status: u16, body: &Value, want: u16, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && message.len() > 5, "{what}: not a clear error: {body}");
    assert!(
        message.chars().count() < 1100,
        "{what}: the error repeats the input: {}",
        message.chars().take(100).collect::<String>()
    );
}

async fn post(app: &TestApp, cookie: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{}{path}", app.url)).header("cookie", cookie).body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

const JSON: (&str, &str) = ("content-type", "application/json");
const SAME_SITE: (&str, &str) = ("sec-fetch-site", "same-origin");

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_refused_and_change_nothing() {
    let (app, cookie) = app().await;
    let deep = "[".repeat(10_000);
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", b"{\"action\":".to_vec()),
        ("an array", b"[]".to_vec()),
        ("null", b"null".to_vec()),
        ("a string", b"\"reconcile\"".to_vec()),
        ("wrong types", br#"{"action": 5, "username": [], "password": {}, "token": 7}"#.to_vec()),
        ("not UTF-8", b"{\"action\": \"\xff\xfe\"}".to_vec()),
        ("deeply nested", deep.into_bytes()),
        ("unknown fields", br#"{"action": "reconcile", "targets": [], "spec": {"force": true}}"#.to_vec()),
    ];
    for path in ["/api/v1/actions", "/auth/login", "/auth/token"] {
        for (what, body) in &malformed {
            let (status, answer) = post(&app, &cookie, path, &[JSON, SAME_SITE], body.clone()).await;
            assert_error(status, &answer, 400, &format!("{path} with {what}"));
        }
    }
    for path in POSTS {
        let big = format!("{{\"reason\": \"{}\"}}", "x".repeat(100 * 1024)).into_bytes();
        let (status, answer) = post(&app, &cookie, path, &[JSON, SAME_SITE], big).await;
        if path == "/auth/logout" {
            // Logout reads no body; what matters is that it is not stored or echoed.
            assert!(status == 204 || status == 413, "{path}: {status}");
        } else {
            assert_error(status, &answer, 413, &format!("{path} with 100 KB"));
        }
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            if path == "/auth/logout" {
                continue;
            }
            let body = br#"{"action": "reconcile"}"#.to_vec();
            let (status, answer) = post(&app, &cookie, path, &[("content-type", content_type), SAME_SITE], body).await;
            assert_error(status, &answer, 415, &format!("{path} as {content_type}"));
        }
        // Cross-site posts (a form on another site, a fetch from another origin).
        for headers in [
            [JSON, ("origin", "https://evil.example")],
            [JSON, ("sec-fetch-site", "cross-site")],
            [("content-type", "text/plain"), ("origin", "null")],
        ] {
            let (status, answer) = post(&app, &cookie, path, &headers, b"{}".to_vec()).await;
            assert!(status == 403 || status == 415, "{path} {headers:?}: {status}");
            assert_error(status, &answer, status, &format!("{path} cross-site {headers:?}"));
        }
    }
    // Nothing reached the cluster, and the admin's session still works (logout was refused
    // every time it was cross-site; the same-origin logouts above ended it, so log in again).
    assert!(app.sim().patches().is_empty(), "{:?}", app.sim().patches());
    login_admin(&app).await;
}

#[tokio::test]
async fn wrong_methods_and_unknown_routes_get_clear_errors() {
    let (app, cookie) = app().await;
    let client = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/snapshot"),
        (reqwest::Method::POST, "/api/v1/stream"),
        (reqwest::Method::DELETE, "/api/v1/actions"),
        (reqwest::Method::PUT, "/auth/login"),
        (reqwest::Method::GET, "/auth/logout"),
        (
            reqwest::Method::PATCH,
            "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps",
        ),
    ] {
        let res = client.request(method.clone(), format!("{}{path}", app.url)).header("cookie", &cookie).send().await;
        let res = res.unwrap();
        let status = res.status().as_u16();
        let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_error(status, &body, 405, &format!("{method} {path}"));
        assert!(allow.is_some(), "{method} {path}: no Allow header");
    }
    // Even the identity layer's 401 says it is not to be sniffed.
    let res = client.get(format!("{}/api/v1/me", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let long = "n".repeat(10_000);
    for path in [
        "/api/v1/nope".to_owned(),
        "/api/v1/objects/too/few".to_owned(),
        "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Nope/flux-system/apps".to_owned(),
        format!("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/{long}"),
        "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/%ff%fe/%00".to_owned(),
        "/api/v1/controllers/%3Cscript%3E".to_owned(),
        "/auth/nope".to_owned(),
    ] {
        let res = client.get(format!("{}{path}", app.url)).header("cookie", &cookie).send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert_error(status, &body, status, &path[..path.len().min(80)]);
    }
}

#[tokio::test]
async fn asset_paths_cannot_reach_files_outside_the_app() {
    let app = TestApp::start().await;
    for path in [
        "/assets/../Cargo.toml",
        "/assets/../../../../../../etc/passwd",
        "/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/assets/%252e%252e%252fCargo.toml",
        "/assets/....//....//etc/passwd",
        "/assets//etc/passwd",
        "/assets/%00",
        "/assets/index.html%00.js",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/Cargo.toml",
        "/assets/..\\..\\Cargo.toml",
        "/assets/%5c..%5c..%5cCargo.toml",
    ] {
        let (status, head, body) = raw(&app, &get(path)).await;
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("root:") && !text.contains("[workspace]") && !text.contains("[package]"), "{path}");
        match status {
            // A page route: the app's own index page.
            200 => assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{path}: {head}"),
            400 | 404 => {}
            other => panic!("{path}: {other} {head}"),
        }
    }
    // Every response says what it is and forbids sniffing.
    let (status, head, _) = raw(&app, &get("/assets/nope.js")).await;
    assert_eq!(status, 404, "{head}");
    assert!(head.to_ascii_lowercase().contains("x-content-type-options: nosniff"), "{head}");
}

#[tokio::test]
async fn injected_headers_and_events_stay_data() {
    let app = TestApp::start().await;
    app.ready().await;
    // Header lines with bare CR or LF inside a value are refused before any handler runs.
    for request in [
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rSet-Cookie: evil=1\r\nConnection: close\r\n\r\n"[..],
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\nSet-Cookie: evil=1\r\nConnection: close\r\n\r\n"[..],
    ] {
        let (status, head, _) = raw(&app, request).await;
        assert!(!head.to_ascii_lowercase().contains("set-cookie: evil"), "{head}");
        assert!(status == 400 || status == 0 || status == 200, "{status} {head}");
    }
    // Oversized headers: refused, and the server keeps serving.
    let huge =
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(1 << 20));
    let (status, _, _) = raw(&app, huge.as_bytes()).await;
    assert!(status == 431 || status == 400 || status == 0, "{status}");
    assert_eq!(raw(&app, &get("/healthz")).await.0, 200);
    // Query strings are never reflected into headers.
    let (_, head, _) = raw(&app, &get("/api/v1/stream?after=%0d%0aSet-Cookie:%20evil=1")).await;
    assert!(!head.to_ascii_lowercase().contains("set-cookie: evil"), "{head}");
    // A Last-Event-ID of this process that does not parse (a 5000-digit sequence): a fresh
    // snapshot, not a resume from some truncated number.
    let epoch = app.app.state.store.epoch();
    let mut stream = app.stream(Some(&format!("{epoch}:{}", "9".repeat(5000)))).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");

    // A Flux message that looks like the end of an event and the start of another: it arrives
    // as one upsert with the message intact, and no other event appears.
    let forged =
        "done\r\n\r\nevent: delete\r\ndata: {\"cluster\":\"production\"}\r\n\r\nid: 9:9\n\n<script>alert(1)</script>";
    let rt = app.sim().cluster().type_of_kind("helm.toolkit.fluxcd.io", "HelmRelease").unwrap().clone();
    app.sim()
        .cluster()
        .write_status(
            &rt,
            "team-b",
            "api",
            json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed",
                "message": forged, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
        )
        .unwrap();
    let (event, before) = stream.until("the forged message", |e| about(e, "HelmRelease", "team-b", "api")).await;
    assert_eq!(event.event, "upsert");
    assert_eq!(event.json()["message"], forged);
    assert!(before.iter().all(|e| e.event != "delete"), "{before:?}");
    // Nothing forged follows it: the next change made after it arrives with no delete between.
    app.edit("notification.toolkit.fluxcd.io", "Alert", "flux-system", "on-call", |obj| {
        obj["spec"]["suspend"] = json!(true);
    });
    let (_, between) = stream.until("the next change", |e| about(e, "Alert", "flux-system", "on-call")).await;
    assert!(between.iter().all(|e| e.event != "delete"), "{between:?}");
    wait_for("the store to hold the message", || async {
        app.app.state.store.summaries().iter().any(|s| s.message == forged).then_some(())
    })
    .await;
}
