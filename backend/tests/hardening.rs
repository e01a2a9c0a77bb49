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
async fn a_request_with_two_host_headers_is_refused() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = app_answering(&["fluxboard.test"]).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let ask = |head: String| {
        let addr = addr.clone();
        async move {
            let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
            conn.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            conn.read_to_end(&mut answer).await.unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        }
    };
    // Either order: neither the allowed name first nor last is answered.
    for hosts in [["fluxboard.test", "rebind.attacker.example"], ["rebind.attacker.example", "fluxboard.test"]] {
        for path in ["/api/v1/me", "/healthz"] {
            let answer = ask(format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nHost: {}\r\nConnection: close\r\n\r\n",
                hosts[0], hosts[1]
            ))
            .await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{hosts:?} {path}: {answer}");
            assert!(answer.contains("one Host header"), "{answer}");
        }
    }
    let answer = ask("GET /auth/methods HTTP/1.1\r\nHost: fluxboard.test\r\nConnection: close\r\n\r\n".into()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
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

fn identity(user: &str, role: fluxboard::auth::Role, namespaces: &[&str]) -> fluxboard::auth::Identity {
    fluxboard::auth::Identity {
        user: user.into(),
        groups: vec![fluxboard::demo::DEMO_ADMIN_GROUP.into()],
        grants: vec![fluxboard::auth::Grant {
            role,
            clusters: vec!["*".into()],
            namespaces: namespaces.iter().map(|n| (*n).to_owned()).collect(),
        }],
    }
}

async fn app_as(who: fluxboard::auth::Identity) -> TestApp {
    let app = TestApp::start_with(Options { identity: Some(who), ..Options::default() }).await;
    app.ready().await;
    app
}

fn target(namespace: &str, name: &str) -> serde_json::Value {
    json!({"cluster": "production", "kind": "Kustomization", "namespace": namespace, "name": name})
}

#[tokio::test]
async fn names_that_are_not_kubernetes_names_never_reach_the_api_server() {
    // L2: `?`, `#`, `/`, `..` and spaces would change the API path the patch goes to.
    let app = app_as(fluxboard::demo::demo_identity()).await;
    let before = app.sim().patches().len();
    for (ns, name) in [
        ("team-a", "podinfo?x="),
        ("team-a", "podinfo#not-me"),
        ("team-a", "podinfo?dryRun=All"),
        ("team-a", "podinfo/status"),
        ("team-a/../flux-system", "podinfo"),
        ("team-a", "x y"),
    ] {
        let mut body = target(ns, name);
        body["action"] = json!("reconcile");
        let (status, res) = app.act(body).await;
        assert_eq!(status, 400, "{ns}/{name}: {res}");
    }
    assert_eq!(app.sim().patches().len(), before, "nothing was patched");
    for path in [
        "/api/v1/objects/production/source.toolkit.fluxcd.io/GitRepository/team-a/x%20y",
        "/api/v1/objects/production/source.toolkit.fluxcd.io/GitRepository/team-a/podinfo%3Fx%3D",
        "/api/v1/objects/production/source.toolkit.fluxcd.io/GitRepository/team-a%2F..%2Fflux-system/podinfo",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
}

#[tokio::test]
async fn refusals_cannot_wipe_the_audit_trail_and_scoped_admins_see_their_part() {
    // M3: a viewer's refused bulk requests once replaced every accepted action in the list.
    let app = app_as(fluxboard::demo::demo_identity()).await;
    let mut body = target("team-a", "podinfo");
    body["action"] = json!("reconcile");
    assert_eq!(app.act(body).await.0, 202);
    let state = &app.app.state;
    let viewer = identity("vic", fluxboard::auth::Role::Viewer, &["*"]);
    for i in 0..40 {
        let targets: Vec<_> = (0..50).map(|j| target("team-a", &format!("x{i}-{j}"))).collect();
        let entry = fluxboard_model::action::AuditEntry {
            time: jiff::Timestamp::now().to_string(),
            user: viewer.user.clone(),
            groups: vec![],
            action: None,
            target: None,
            token: None,
            status: fluxboard_model::action::ResultStatus::Refused,
            message: format!("{} targets", targets.len()),
            reason: None,
        };
        state.audit.record(entry).await;
    }
    let entries = state.audit.entries().await;
    assert!(
        entries.iter().any(|e| e.user == "demo-admin" && e.status == fluxboard_model::action::ResultStatus::Accepted)
    );
    let refused = entries.iter().filter(|e| e.user == "vic").count();
    assert_eq!(refused, fluxboard::audit::REFUSALS_PER_USER, "refusals are limited per user");

    // One refused bulk request is one entry, whatever its size.
    let viewer_app = app_as(identity("vera", fluxboard::auth::Role::Viewer, &["*"])).await;
    let targets: Vec<_> = (0..300).map(|j| target("team-a", &format!("y{j}"))).collect();
    let (status, res) = viewer_app.act(json!({"action": "reconcile", "targets": targets})).await;
    assert_eq!(status, 202, "{res}");
    let vera: Vec<_> = viewer_app.app.state.audit.entries().await.into_iter().filter(|e| e.user == "vera").collect();
    assert_eq!(vera.len(), 1, "{vera:?}");
    assert!(vera[0].message.starts_with("300 of 300 targets refused"), "{}", vera[0].message);

    // L1: an admin of team-a reads only team-a's entries, and no cluster's controllers elsewhere.
    let scoped = app_as(identity("ann", fluxboard::auth::Role::Admin, &["team-a"])).await;
    let mut body = target("team-a", "podinfo");
    body["action"] = json!("reconcile");
    assert_eq!(scoped.act(body).await.0, 202);
    let mut body = target("flux-system", "apps");
    body["action"] = json!("reconcile");
    assert_eq!(scoped.act(body).await.0, 403);
    let (status, audit) = scoped.get_json("/api/v1/audit").await;
    assert_eq!(status, 200);
    let namespaces: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|e| e["target"]["namespace"].as_str()).collect();
    assert!(!namespaces.is_empty() && namespaces.iter().all(|n| *n == "team-a"), "{audit}");
}

#[tokio::test]
async fn the_controllers_of_a_cluster_need_a_grant_there_and_unknown_clusters_do_not_leak() {
    let scoped = app_as(fluxboard::auth::Identity {
        user: "ann".into(),
        groups: vec![],
        grants: vec![fluxboard::auth::Grant {
            role: fluxboard::auth::Role::Admin,
            clusters: vec!["staging".into()],
            namespaces: vec!["*".into()],
        }],
    })
    .await;
    for cluster in ["production", "no-such-cluster"] {
        let (status, body) = scoped.get_json(&format!("/api/v1/controllers/{cluster}")).await;
        assert_eq!(status, 403, "{cluster}: {body}");
    }
}

#[tokio::test]
async fn bulk_requests_are_deduplicated_and_each_user_is_rate_limited() {
    // M4: 500 copies of one target once cost 500 GETs, PATCHes and Events.
    let app = app_as(fluxboard::demo::demo_identity()).await;
    let before = app.sim().patches().len();
    let (status, res) =
        app.act(json!({"action": "reconcile", "targets": vec![target("team-a", "podinfo"); 500]})).await;
    assert_eq!(status, 202, "{res}");
    assert_eq!(res["results"].as_array().unwrap().len(), 1);
    assert_eq!(app.sim().patches().len(), before + 1, "one patch");
    let mut statuses = Vec::new();
    for _ in 0..fluxboard::actions::ACTIONS_PER_USER {
        let (status, _) = app.act(json!({"action": "reconcile", "targets": [target("team-a", "nope")]})).await;
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "the user's requests are limited");
}

#[tokio::test]
async fn a_server_without_login_reads_and_acts_as_the_dashboard() {
    // `serve --open-role operator`: there is no user to impersonate, so both reads and writes
    // go as the dashboard (the cluster used to refuse every action of user "anonymous").
    let app = app_as(fluxboard::auth::Identity::open(fluxboard::auth::Role::Operator)).await;
    let mut body = target("team-a", "podinfo");
    body["action"] = json!("reconcile");
    let (status, res) = app.act(body).await;
    assert_eq!(status, 202, "{res}");
    let patch = app.sim().patches().into_iter().rev().find(|p| p.name == "podinfo").unwrap();
    assert_eq!(patch.user, "kube-sim-admin", "sent as the dashboard");
    let (status, _) =
        app.get_json("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo").await;
    assert_eq!(status, 200);
}

/// Whether the server closed this connection (a read returns end of file or an error), waiting
/// at most `deadline`.
async fn closed_by_server(stream: &mut tokio::net::TcpStream, deadline: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(deadline, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn slow_clients_cannot_hold_connections() {
    // M5: nothing sent, half a header, a header line now and then, an idle keep-alive.
    use tokio::io::AsyncWriteExt as _;
    let app = TestApp::start_with(Options {
        header_read_timeout: std::time::Duration::from_secs(1),
        idle_timeout: std::time::Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let deadline = std::time::Duration::from_secs(20);
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut half = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nX: ").await.unwrap();
    let mut dripping = tokio::net::TcpStream::connect(&addr).await.unwrap();
    dripping.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let drip = tokio::spawn(async move {
        for i in 0..100 {
            if dripping.write_all(format!("X-{i}: y\r\n").as_bytes()).await.is_err() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        false
    });
    assert!(closed_by_server(&mut silent, deadline).await, "a connection that sends nothing");
    assert!(closed_by_server(&mut half, deadline).await, "half a header");
    assert!(drip.await.unwrap(), "a header sent a line at a time");
    // A keep-alive connection after its answer, then silence.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(closed_by_server(&mut idle, deadline).await, "an idle keep-alive");
    // Ordinary requests still work.
    assert_eq!(reqwest::get(format!("{}/healthz", app.url)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn readiness_is_synced_once_and_tells_the_public_nothing() {
    // L3 and the review's readiness finding: the public probe gives its status code only; the
    // clusters' states are on the metrics listener; a watch that relists (here: the emulated
    // API server compacts its history and drops every watch) does not make a ready replica
    // unready.
    let app = TestApp::start().await;
    app.ready().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body), (200, json!({"ready": true})));
    let details: serde_json::Value =
        reqwest::get(format!("{}/readyz", app.metrics_url)).await.unwrap().json().await.unwrap();
    assert_eq!(details[0]["name"], "production");
    app.sim().compact();
    app.sim().drop_watches();
    for _ in 0..20 {
        assert_eq!(app.get_json("/readyz").await.0, 200, "still ready while the watches relist");
    }
}

#[tokio::test]
async fn sso_starts_are_rate_limited_per_client() {
    // Each SSO start keeps a flow in a session: unauthenticated clients must not create them
    // without limit.
    let mut config = demo_config("pw").unwrap();
    config.auth.oidc = Some(common::unreachable_oidc());
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(http.get(format!("{}/auth/oidc/login", app.url)).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses[0], 502, "the provider is unreachable");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
}

#[tokio::test]
async fn unreadable_events_are_said_not_shown_as_none() {
    // A user whose cluster RBAC lets them read Kustomizations but not Events: the detail says
    // so instead of "No recent events".
    let app = app_as(fluxboard::auth::Identity {
        user: "lim".into(),
        groups: vec!["limited".into()],
        grants: vec![fluxboard::auth::Grant::everywhere(fluxboard::auth::Role::Viewer)],
    })
    .await;
    for obj in [
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "limited"},
               "rules": [{"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"], "verbs": ["get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "limited"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "limited"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "limited"}]}),
    ] {
        app.sim().cluster().apply(&obj).unwrap();
    }
    let (status, detail) =
        app.get_json("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo").await;
    assert_eq!(status, 200, "{detail}");
    assert!(detail["eventsError"].as_str().unwrap().contains("not readable"), "{detail}");
}

#[tokio::test]
async fn a_body_trickled_a_byte_at_a_time_gets_one_deadline_in_all() {
    // Each byte arrives well within any per-frame or idle timer; the body as a whole may not
    // take longer than the body timeout.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app =
        TestApp::start_with(Options { body_timeout: std::time::Duration::from_secs(1), ..Options::default() }).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = json!({"username": "admin", "password": "x".repeat(200)}).to_string();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = conn.into_split();
    let trickle = tokio::spawn(async move {
        for byte in body.as_bytes() {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    // The trickle would take 20 s; the answer comes long before.
    tokio::time::timeout(std::time::Duration::from_secs(10), read_all).await.expect("answered within the deadline");
    trickle.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
}

#[tokio::test]
async fn a_refused_reason_is_clipped_in_the_audit_trail() {
    // A reason over MAX_REASON is refused, but the refusal's entry kept all of it: any viewer
    // could put 30 entries a minute of up to the 64 KB body each in the trail (and in every
    // page an admin reads).
    let app = app_as(identity("vic", fluxboard::auth::Role::Viewer, &["*"])).await;
    let mut body = target("team-a", "podinfo");
    body["action"] = json!("reconcile");
    body["reason"] = json!("R".repeat(60_000));
    let (status, res) = app.act(body).await;
    assert_eq!(status, 400, "{res}");
    let entries = app.app.state.audit.entries().await;
    let refusal = entries.iter().find(|e| e.user == "vic").expect("the refusal is audited");
    let kept = refusal.reason.as_deref().unwrap_or_default();
    assert!(kept.starts_with('R'), "what the user gave is still told: {kept:?}");
    assert!(kept.chars().count() <= fluxboard_model::action::MAX_REASON, "{} characters kept", kept.chars().count());
}
