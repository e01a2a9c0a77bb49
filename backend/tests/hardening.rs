//! Attacks from hostile networks and hostile input (shared/SECURITY-PROBE.md), each refused or
//! bounded: DNS rebinding, cached private answers, a readable demo kubeconfig, its public token.

mod common;

use common::TestApp;
use fluxboard::Options;
use fluxboard::demo::demo_config;
use serde_json::json;

async fn app_answering(hosts: &[&str]) -> TestApp {
    let mut config = demo_config("pw-for-the-hardening-tests").unwrap();
    config.allowed_hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    app
}

#[tokio::test]
async fn a_rebinding_host_is_refused_before_any_handler() {
    // M1: a page on attacker.example rebound to this server sends its own Host and a matching
    // Origin; only the configured host names are answered.
    let app = app_answering(&["fluxboard.test"]).await;
    let http = reqwest::Client::new();
    let token_login = |host: &str| {
        http.post(format!("{}/auth/token", app.url))
            .header("host", host)
            .header("origin", format!("http://{host}"))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json")
            .body(json!({"token": app.demo.admin_token}).to_string())
    };
    let res = token_login("rebind.attacker.example").send().await.unwrap();
    assert_eq!(res.status(), 421);
    assert!(res.headers().get("set-cookie").is_none(), "no session was made");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_host");
    for path in ["/api/v1/me", "/", "/auth/methods"] {
        let res =
            http.get(format!("{}{path}", app.url)).header("host", "rebind.attacker.example").send().await.unwrap();
        assert_eq!(res.status(), 421, "{path}");
    }
    // The configured name is answered; probes answer whatever the Host (kubelets use the pod IP).
    let res = token_login("fluxboard.test").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = http.get(format!("{}/healthz", app.url)).header("host", "10.1.2.3:8080").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The Origin must be this server, scheme included.
    let res = http
        .post(format!("{}/auth/login", app.url))
        .header("host", "fluxboard.test")
        .header("origin", "ftp://fluxboard.test")
        .header("content-type", "application/json")
        .body(json!({"username": "admin", "password": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn private_answers_are_never_cached_and_hsts_goes_out_with_secure_cookies() {
    // L4 and HSTS.
    let app = TestApp::start().await;
    app.ready().await;
    let http = reqwest::Client::new();
    for path in ["/api/v1/me", "/api/v1/clusters", "/auth/methods", "/api/v1/nothing-here"] {
        let res = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        let headers = res.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(headers.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("cookie")), "{path}");
        assert_eq!(headers["strict-transport-security"], "max-age=31536000", "{path}");
    }
    let res = http.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert!(res.headers().get("cache-control").is_none(), "probes are not private");
}

#[tokio::test]
async fn the_demo_kubeconfig_is_private_and_its_token_is_random() {
    // L8 and M1: the kubeconfig holds the emulated clusters' admin token.
    use std::os::unix::fs::PermissionsExt as _;
    let app = TestApp::start().await;
    let file = std::fs::metadata(&app.demo.kubeconfig).unwrap().permissions().mode() & 0o777;
    let dir = std::fs::metadata(app.demo.kubeconfig.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!((file, dir), (0o600, 0o700));
    assert_ne!(app.demo.admin_token, kube_sim::ADMIN_TOKEN);
    assert_eq!(app.demo.admin_token.len(), 64);
    let other = TestApp::start().await;
    assert_ne!(app.demo.admin_token, other.demo.admin_token, "a new token per run");
    // The documented constant is no key to the demo's clusters.
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let res = http
        .get(format!("{}/api/v1/namespaces", app.sim().url()))
        .bearer_auth(kube_sim::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
