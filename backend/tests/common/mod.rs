//! Shared set-up for the API tests: what every test binary of the workspace shares comes from
//! `fluxboard-test-support` (the app on port 0 against an emulated cluster, the SSE reader,
//! waiting with a deadline, same-origin requests); what only these tests need is here (a real
//! redis-server, an unreachable identity provider, matching stream events to objects).

#![allow(dead_code, unused_imports, unreachable_pub)] // reason: each test binary uses a different part of this module

pub use fluxboard_test_support::{
    DEADLINE, SseClient, SseEvent, TestApp, call, free_port, login, poll_until, wait_for,
};

/// Whether an SSE event is about the object `namespace/name`.
pub fn about(event: &SseEvent, kind: &str, namespace: &str, name: &str) -> bool {
    let data = event.json();
    data["kind"] == kind && data["namespace"] == namespace && data["name"] == name
}

/// A redis-server on a free port of 127.0.0.1, stopped when dropped.
pub struct Redis {
    _child: tokio::process::Child,
    pub url: String,
}

impl Redis {
    pub async fn start() -> Redis {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let port = free_port().expect("a free port");
        let child = tokio::process::Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): run `cargo xtask setup` or apt-get install redis-server")
            });
        wait_for("redis-server to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
        })
        .await;
        Redis { _child: child, url: format!("redis://127.0.0.1:{port}/") }
    }
}

/// SSO configured against an identity provider that cannot be reached (a closed port).
pub fn unreachable_oidc() -> fluxboard::config::OidcConfig {
    let closed = free_port().expect("a free port");
    fluxboard::config::OidcConfig {
        issuer: format!("http://127.0.0.1:{closed}"),
        client_id: "fluxboard".into(),
        client_secret: None,
        redirect_url: "http://127.0.0.1:1/auth/oidc/callback".into(),
        scopes: vec!["openid".into()],
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        name: "SSO".into(),
        username_prefix: "oidc:".into(),
        groups_prefix: "oidc:".into(),
    }
}
