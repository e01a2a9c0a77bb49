//! Bad requests get the API server's Status answers and change nothing.

mod common;

use kube_sim::{ADMIN_TOKEN, Sim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One raw HTTP/1.1 request; returns the status code and the JSON body (Null when not JSON).
async fn raw(sim: &Sim, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    raw_with_token(sim, method, path, content_type, body, Some(ADMIN_TOKEN)).await
}

async fn raw_with_token(
    sim: &Sim,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    token: Option<&str>,
) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        sim.addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer before reading an oversized body; a reset then is fine.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

const KS: &str = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/apps/kustomizations";

async fn sim_with_app() -> Sim {
    // Plain HTTP: these tests speak raw HTTP/1.1.
    let sim = common::start(SimConfig { tls: false, ..SimConfig::default() }).await;
    common::seed_app(&sim, "apps").await;
    sim
}

fn assert_status(answer: &(u16, Value), code: u16, reason: &str) {
    assert_eq!(answer.0, code, "{}", answer.1);
    assert_eq!(answer.1["kind"], "Status", "{}", answer.1);
    assert_eq!(answer.1["code"], code);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
}

#[tokio::test]
async fn malformed_json_bodies_are_bad_requests_and_failing_json_patches_invalid() {
    let sim = sim_with_app().await;
    assert_status(&raw(&sim, "POST", KS, "application/json", b"{not json").await, 400, "BadRequest");
    assert_status(&raw(&sim, "POST", KS, "application/json", b"[1,2]").await, 400, "BadRequest");
    assert_status(&raw(&sim, "PUT", &format!("{KS}/app"), "application/json", b"\"x\"").await, 400, "BadRequest");
    assert_status(
        &raw(&sim, "PATCH", &format!("{KS}/app"), "application/merge-patch+json", b"{").await,
        400,
        "BadRequest",
    );
    assert_status(
        &raw(&sim, "PATCH", &format!("{KS}/app"), "application/json-patch+json", br#"{"op":"add"}"#).await,
        400,
        "BadRequest",
    );
    // An operation that cannot be applied is 422 Invalid, as on a real API server.
    assert_status(
        &raw(&sim, "PATCH", &format!("{KS}/app"), "application/json-patch+json", br#"[{"op":"explode"}]"#).await,
        422,
        "Invalid",
    );
    let failing_test =
        br#"[{"op":"replace","path":"/spec/path","value":"./x"},{"op":"test","path":"/spec/prune","value":false}]"#;
    assert_status(
        &raw(&sim, "PATCH", &format!("{KS}/app"), "application/json-patch+json", failing_test).await,
        422,
        "Invalid",
    );
    assert_eq!(
        sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "app").unwrap()["spec"]["path"],
        "./deploy"
    );
}

#[tokio::test]
async fn patches_to_unknown_objects_and_resources_are_not_found() {
    let sim = sim_with_app().await;
    let patch = br#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"x"}}}"#;
    let answer = raw(&sim, "PATCH", &format!("{KS}/ghost"), "application/merge-patch+json", patch).await;
    assert_status(&answer, 404, "NotFound");
    assert_eq!(answer.1["message"], "kustomizations.kustomize.toolkit.fluxcd.io \"ghost\" not found");
    assert_eq!(answer.1["details"]["name"], "ghost");
    assert_status(
        &raw(&sim, "GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/apps/widgets", "application/json", b"")
            .await,
        404,
        "NotFound",
    );
    // A group nobody serves: the mux's plain 404, as on a real API server.
    let (code, body) = raw(&sim, "GET", "/apis/example.com/v1/things", "application/json", b"").await;
    assert_eq!((code, body), (404, Value::Null), "not a Status");
    assert!(sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "ghost").is_none());
}

#[tokio::test]
async fn invalid_resource_versions_are_refused() {
    let sim = sim_with_app().await;
    assert_status(
        &raw(&sim, "GET", &format!("{KS}?watch=true&resourceVersion=abc"), "application/json", b"").await,
        400,
        "BadRequest",
    );
    assert_status(
        &raw(&sim, "GET", &format!("{KS}?resourceVersion=-1"), "application/json", b"").await,
        400,
        "BadRequest",
    );
    let current = sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "app").unwrap();
    let mut stale = (*current).clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["spec"]["path"] = json!("./elsewhere");
    let answer = raw(&sim, "PUT", &format!("{KS}/app"), "application/json", stale.to_string().as_bytes()).await;
    assert_status(&answer, 409, "Conflict");
    assert!(answer.1["message"].as_str().unwrap().contains("the object has been modified"));
    let mut garbage = (*current).clone();
    garbage["metadata"]["resourceVersion"] = json!("not-a-number");
    assert_status(
        &raw(&sim, "PUT", &format!("{KS}/app"), "application/json", garbage.to_string().as_bytes()).await,
        400,
        "BadRequest",
    );
    let after = sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "apps", "app").unwrap();
    assert_eq!(after["spec"], current["spec"]);
}

#[tokio::test]
async fn wrong_content_types_oversized_bodies_and_bad_methods_are_refused() {
    let sim = sim_with_app().await;
    assert_status(&raw(&sim, "PATCH", &format!("{KS}/app"), "text/plain", b"{}").await, 415, "UnsupportedMediaType");
    let smp = raw(&sim, "PATCH", &format!("{KS}/app"), "application/strategic-merge-patch+json", b"{}").await;
    assert_status(&smp, 415, "UnsupportedMediaType");
    let huge = vec![b' '; 4 * 1024 * 1024];
    let answer = raw(&sim, "POST", KS, "application/json", &huge).await;
    assert_status(&answer, 413, "RequestEntityTooLarge");
    assert_status(&raw(&sim, "POST", &format!("{KS}/app"), "application/json", b"{}").await, 405, "MethodNotAllowed");
}

#[tokio::test]
async fn invalid_objects_are_unprocessable() {
    let sim = sim_with_app().await;
    let nameless =
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {}, "spec": {}});
    assert_status(&raw(&sim, "POST", KS, "application/json", nameless.to_string().as_bytes()).await, 422, "Invalid");
    let bad_name = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "Not_Valid"}});
    assert_status(&raw(&sim, "POST", KS, "application/json", bad_name.to_string().as_bytes()).await, 422, "Invalid");
    let duplicate =
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "app"}});
    assert_status(
        &raw(&sim, "POST", KS, "application/json", duplicate.to_string().as_bytes()).await,
        409,
        "AlreadyExists",
    );
    let bad_selector = raw(&sim, "GET", &format!("{KS}?labelSelector=a%20in%20(b"), "application/json", b"").await;
    assert_status(&bad_selector, 400, "BadRequest");
}

#[tokio::test]
async fn requests_without_valid_credentials_are_unauthorized() {
    let sim = sim_with_app().await;
    assert_status(&raw_with_token(&sim, "GET", KS, "application/json", b"", None).await, 401, "Unauthorized");
    assert_status(&raw_with_token(&sim, "GET", KS, "application/json", b"", Some("forged")).await, 401, "Unauthorized");
    assert_status(&raw_with_token(&sim, "GET", "/apis", "application/json", b"", None).await, 401, "Unauthorized");
    let (code, _) = raw_with_token(&sim, "GET", "/healthz", "application/json", b"", None).await;
    assert_eq!(code, 200);
    // /metrics, as on the real one, needs credentials and RBAC's leave.
    assert_status(&raw_with_token(&sim, "GET", "/metrics", "text/plain", b"", None).await, 401, "Unauthorized");
}

#[tokio::test]
async fn metrics_are_for_those_rbac_allows() {
    let sim = common::start(SimConfig {
        tls: false,
        tokens: vec!["nobody-token=nobody".parse().unwrap()],
        ..SimConfig::default()
    })
    .await;
    assert_status(
        &raw_with_token(&sim, "GET", "/metrics", "text/plain", b"", Some("nobody-token")).await,
        403,
        "Forbidden",
    );
    let (code, _) = raw(&sim, "GET", "/metrics", "text/plain", b"").await;
    assert_eq!(code, 200);
}
