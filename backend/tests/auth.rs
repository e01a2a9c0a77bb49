//! Login, sessions and roles through the API: local users, Kubernetes tokens, cookies,
//! logout, tampering, rate limits, cross-site requests, and what each role sees and may do.

mod common;

use common::{SseClient, TestApp, wait_for};
use fluxboard::Options;
use fluxboard::demo::demo_config;
use fluxboard_model::api::Snapshot;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery";

async fn app() -> TestApp {
    let config = demo_config(PASSWORD).unwrap();
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    app
}

/// A browser-like client: same-origin JSON posts, and the session cookie kept by hand so the
/// tests can read and tamper with it.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Browser<'a> {
        Browser { app, http: reqwest::Client::new(), cookie: None }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req =
            self.http.request(method, format!("{}{path}", self.app.url)).header("sec-fetch-site", "same-origin");
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        (status, res.json().await.unwrap_or(Value::Null), headers)
    }

    async fn get(&mut self, path: &str) -> (u16, Value) {
        let (s, b, _) = self.send(reqwest::Method::GET, path, None).await;
        (s, b)
    }

    async fn post(&mut self, path: &str, body: Value) -> (u16, Value) {
        let (s, b, _) = self.send(reqwest::Method::POST, path, Some(body)).await;
        (s, b)
    }

    async fn login(&mut self, username: &str, password: &str) -> (u16, Value) {
        self.post("/auth/login", json!({"username": username, "password": password})).await
    }

    /// Opens the event stream with this browser's cookie.
    async fn stream(&self) -> reqwest::Response {
        let mut req = self.http.get(format!("{}/api/v1/stream", self.app.url));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        req.send().await.unwrap()
    }

    async fn snapshot(&self) -> Snapshot {
        let mut req = self.http.get(format!("{}/api/v1/snapshot", self.app.url));
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

#[tokio::test]
async fn nothing_is_readable_before_login_and_a_local_login_opens_a_session() {
    let app = app().await;
    let mut b = Browser::new(&app);
    for path in [
        "/api/v1/me",
        "/api/v1/stream",
        "/api/v1/clusters",
        "/api/v1/audit",
        "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps",
    ] {
        let (status, body) = b.get(path).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{path}");
    }
    let (status, methods) = b.get("/auth/methods").await;
    assert_eq!(status, 200);
    assert_eq!(methods, json!({"local": true, "token": true, "anonymous": false, "oidc": null}));
    // Wrong password and unknown user read the same.
    let (status, wrong) = b.login("admin", "nope").await;
    assert_eq!(status, 401);
    let (status, unknown) = b.login("nobody", "nope").await;
    assert_eq!(status, 401);
    assert_eq!(wrong, unknown);
    assert!(b.cookie.is_none(), "no session for failed logins");

    let (status, _, headers) =
        b.send(reqwest::Method::POST, "/auth/login", Some(json!({"username": "admin", "password": PASSWORD}))).await;
    assert_eq!(status, 200);
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("fluxboard_session="), "{set_cookie}");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains(PASSWORD) && !set_cookie.contains("admin"), "nothing secret in the cookie");
    let (status, me) = b.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["user"], "admin");
    assert_eq!(me["grants"][0]["role"], "admin");
    assert!(!b.snapshot().await.objects.is_empty());

    // A second login cycles the id: the first cookie is dead.
    let first = b.cookie.clone().unwrap();
    b.login("admin", PASSWORD).await;
    assert_ne!(b.cookie.as_deref(), Some(first.as_str()));
    let mut old = Browser::new(&app);
    old.cookie = Some(first);
    assert_eq!(old.get("/api/v1/me").await.0, 401);

    // A tampered cookie is nobody.
    let mut tampered = Browser::new(&app);
    tampered.cookie = Some(format!("{}x", b.cookie.clone().unwrap()));
    assert_eq!(tampered.get("/api/v1/me").await.0, 401);
    tampered.cookie = Some("fluxboard_session=AAAAAAAAAAAAAAAAAAAAAA".into());
    assert_eq!(tampered.get("/api/v1/me").await.0, 401);

    // Logout is a POST that ends the session.
    let cookie = b.cookie.clone();
    let (status, _, _) = b.send(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(status, 204);
    b.cookie = cookie;
    assert_eq!(b.get("/api/v1/me").await.0, 401, "the old cookie is dead after logout");
}

#[tokio::test]
async fn roles_and_scopes_apply_to_the_stream_details_and_actions() {
    let app = app().await;
    // The operator of team-a sees only team-a and acts only there.
    let mut op = Browser::new(&app);
    assert_eq!(op.login("operator", PASSWORD).await.0, 200);
    let snapshot = op.snapshot().await;
    assert!(!snapshot.objects.is_empty());
    assert!(snapshot.objects.iter().all(|s| s.namespace == "team-a"), "only team-a");
    let (status, body) =
        op.get("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        op.get("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo").await.0,
        200
    );
    let act = |ns: &str, name: &str| json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization", "namespace": ns, "name": name});
    let (status, body) = op.post("/api/v1/actions", act("team-a", "podinfo")).await;
    assert_eq!(status, 202, "{body}");
    let patch = app.sim().patches().into_iter().rev().find(|p| p.name == "podinfo").unwrap();
    assert_eq!(patch.user, "operator", "sent as the operator");
    let (status, body) = op.post("/api/v1/actions", act("flux-system", "apps")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(op.get("/api/v1/audit").await.0, 403);

    // The viewer reads everything and may do nothing.
    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.login("viewer", PASSWORD).await.0, 200);
    assert!(viewer.snapshot().await.objects.iter().any(|s| s.namespace == "flux-system"));
    let (status, body) = viewer.post("/api/v1/actions", act("team-a", "podinfo")).await;
    assert_eq!(status, 403, "{body}");

    // The admin sees the audit log, with the refused attempts too.
    let mut admin = Browser::new(&app);
    admin.login("admin", PASSWORD).await;
    let (status, audit) = admin.get("/api/v1/audit").await;
    assert_eq!(status, 200);
    let entries = audit.as_array().unwrap();
    assert!(entries.iter().any(|e| e["user"] == "viewer" && e["status"] == "refused"));
    assert!(entries.iter().any(|e| e["user"] == "operator" && e["status"] == "accepted"));
}

#[tokio::test]
async fn a_kubernetes_token_logs_in_through_token_review_and_is_not_kept() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let (status, body) = b.post("/auth/token", json!({"token": "not-a-real-token"})).await;
    assert_eq!(status, 401, "{body}");
    let (status, me) = b.post("/auth/token", json!({"token": app.demo.admin_token})).await;
    // L7: the cluster that reviewed the token vouches for it there only.
    assert!(me["grants"].as_array().unwrap().iter().all(|g| g["clusters"] == json!(["production"])), "{me}");
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"], "kube-sim-admin");
    assert!(me["groups"].as_array().unwrap().iter().any(|g| g == "system:masters"));
    assert!(!b.cookie.as_deref().unwrap().contains(&app.demo.admin_token));
    assert_eq!(b.get("/api/v1/me").await.1["user"], "kube-sim-admin");
}

#[tokio::test]
async fn brute_force_hits_the_rate_limit_and_cross_site_logins_are_refused() {
    let app = app().await;
    let mut b = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(b.login("admin", "guess").await.0, 401);
    }
    let (status, _, headers) =
        b.send(reqwest::Method::POST, "/auth/login", Some(json!({"username": "admin", "password": "guess"}))).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(b.login("admin", PASSWORD).await.0, 429, "locked for the window, even with the right password");
    assert_eq!(b.login("viewer", PASSWORD).await.0, 200, "other users are not locked");

    let res = reqwest::Client::new()
        .post(format!("{}/auth/login", app.url))
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .body(json!({"username": "viewer", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none());
    let res = reqwest::Client::new()
        .post(format!("{}/auth/login", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=viewer&password={PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "forms (the cross-site kind) are refused");
}

/// `n` failed logins (different user names, so the per-username limit stays out of it) with
/// this `X-Forwarded-For`: the answers.
async fn logins_from(app: &TestApp, forwarded_for: &str, n: usize) -> Vec<u16> {
    let mut answers = Vec::new();
    for i in 0..n {
        let res = reqwest::Client::new()
            .post(format!("{}/auth/login", app.url))
            .header("content-type", "application/json")
            .header("sec-fetch-site", "same-origin")
            .header("x-forwarded-for", forwarded_for)
            .body(json!({"username": format!("nobody-{i}"), "password": "guess"}).to_string())
            .send()
            .await
            .unwrap();
        answers.push(res.status().as_u16());
    }
    answers
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_limit() {
    // Without trusted proxies, X-Forwarded-For is ignored: a client cannot escape its limit by
    // inventing addresses.
    let app = app().await;
    assert_eq!(logins_from(&app, "203.0.113.1", 20).await, vec![401; 20]);
    assert_eq!(logins_from(&app, "203.0.113.2", 1).await, vec![429], "the same socket, whatever the header says");

    // Behind a trusted proxy (here the test's loopback connection), the forwarded client counts.
    let mut config = demo_config(PASSWORD).unwrap();
    config.trusted_proxies = vec!["127.0.0.0/8".into()];
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    assert_eq!(logins_from(&app, "203.0.113.1", 20).await, vec![401; 20]);
    assert_eq!(logins_from(&app, "203.0.113.1", 1).await, vec![429], "the 21st attempt of one client");
    assert_eq!(logins_from(&app, "203.0.113.2", 1).await, vec![401], "another client behind the proxy");
    let res = reqwest::Client::new()
        .post(format!("{}/auth/login", app.url))
        .header("content-type", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", "203.0.113.3")
        .body(json!({"username": "viewer", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a third client logs in");
    // Entries to the left of what the proxy appended are the client's own and change nothing.
    assert_eq!(logins_from(&app, "198.51.100.7, 203.0.113.1", 1).await, vec![429]);
}

#[tokio::test]
async fn anonymous_read_only_access_is_off_by_default_and_scoped_when_on() {
    let mut config = demo_config(PASSWORD).unwrap();
    config.auth.anonymous.enabled = true;
    config.auth.anonymous.namespaces = vec!["team-b".into()];
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    let b = Browser::new(&app);
    let snapshot = b.snapshot().await;
    assert!(!snapshot.objects.is_empty() && snapshot.objects.iter().all(|s| s.namespace == "team-b"));
    let mut b = Browser::new(&app);
    let (status, _) = b
        .post("/api/v1/actions", json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization", "namespace": "team-b", "name": "team-b-app"}))
        .await;
    assert_eq!(status, 403, "anonymous visitors only read");
}

#[tokio::test]
async fn an_unreachable_identity_provider_and_a_stray_callback_get_clear_pages() {
    let mut config = demo_config(PASSWORD).unwrap();
    config.auth.oidc = Some(common::unreachable_oidc());
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    let (_, methods) = Browser::new(&app).get("/auth/methods").await;
    assert_eq!(methods["oidc"], "SSO");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(format!("{}/auth/oidc/login", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 502);
    let page = res.text().await.unwrap();
    assert!(page.contains("The identity provider is unreachable."), "{page}");
    let res = client.get(format!("{}/auth/oidc/callback?code=x&state=<script>", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("No login was in progress") && !page.contains("<script>"), "{page}");
    let res = client
        .get(format!("{}/auth/oidc/callback?error=access_denied&error_description=%3Cb%3Enope", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let page = res.text().await.unwrap();
    assert!(page.contains("refused the login (access_denied)") && page.contains("&lt;b&gt;nope"), "{page}");
}

#[tokio::test]
async fn detail_reads_run_as_the_user_so_cluster_rbac_has_the_last_word() {
    let mut config = demo_config(PASSWORD).unwrap();
    // fluxboard lets this user see team-b, but the cluster grants their group nothing.
    let mut stranger = config.auth.local.users[0].clone();
    stranger.username = "stranger".into();
    stranger.groups = vec!["no-cluster-rbac".into()];
    config.auth.local.users.push(stranger);
    config.rbac.push(fluxboard::config::Binding {
        role: fluxboard::auth::Role::Viewer,
        users: vec![],
        groups: vec!["no-cluster-rbac".into()],
        clusters: vec!["*".into()],
        namespaces: vec!["team-b".into()],
    });
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    app.ready().await;
    let path = "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/team-b/team-b-app";
    let mut stranger = Browser::new(&app);
    assert_eq!(stranger.login("stranger", PASSWORD).await.0, 200);
    let (status, body) = stranger.get(path).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("forbidden by cluster RBAC"), "{body}");
    let mut viewer = Browser::new(&app);
    viewer.login("viewer", PASSWORD).await;
    assert_eq!(viewer.get(path).await.0, 200, "the viewer's group may read in the cluster");
}

#[tokio::test]
async fn metrics_count_objects_streams_logins_actions_and_latency() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.login("admin", "wrong").await;
    b.login("admin", PASSWORD).await;
    let (status, _) = b
        .post("/api/v1/actions", json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization", "namespace": "flux-system", "name": "apps"}))
        .await;
    assert_eq!(status, 202);
    // Not on the public port.
    assert_eq!(reqwest::get(format!("{}/metrics", app.url)).await.unwrap().status(), 404);
    let res = reqwest::get(format!("{}/metrics", app.metrics_url)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    // The object counts are the store's (retried: the emulated controllers keep working).
    common::wait_for("the object gauge to match the store", || async {
        let text = reqwest::get(format!("{}/metrics", app.metrics_url)).await.ok()?.text().await.ok()?;
        let ready =
            app.app.state.store.summaries().iter().filter(|s| s.health == fluxboard_model::Health::Ready).count();
        let line = format!("fluxboard_objects{{cluster=\"production\",health=\"Ready\"}} {ready}");
        text.lines().any(|l| l == line).then_some(())
    })
    .await;
    for line in [
        "fluxboard_cluster_state{cluster=\"production\",state=\"connected\"} 1".to_owned(),
        "fluxboard_logins_total{method=\"local\",result=\"failure\"} 1".to_owned(),
        "fluxboard_logins_total{method=\"local\",result=\"success\"} 1".to_owned(),
        "fluxboard_actions_total{action=\"reconcile\",result=\"accepted\"} 1".to_owned(),
        "fluxboard_sse_clients 0".to_owned(),
        "fluxboard_watch_state{cluster=\"production\",kind=\"HelmRelease\",state=\"connected\"} 1".to_owned(),
        "# TYPE fluxboard_http_request_duration_seconds histogram".to_owned(),
        "fluxboard_http_request_duration_seconds_count{route=\"auth\"} 2".to_owned(),
    ] {
        let line = line.to_owned();
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn an_open_stream_ends_when_its_session_is_logged_out() {
    let app = app().await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login("admin", PASSWORD).await.0, 200);
    let mut stream = SseClient::of(b.stream().await);
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    let cookie = b.cookie.clone();
    let (status, _, _) = b.send(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(status, 204);
    // The stream re-reads its session every 2 s and ends; reopening it is refused.
    assert!(stream.until_end().await, "the logged-out stream ended");
    b.cookie = cookie;
    assert_eq!(b.stream().await.status(), 401);
}

#[tokio::test]
async fn one_user_holds_at_most_sixteen_streams() {
    let app = app().await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login("viewer", PASSWORD).await.0, 200);
    let mut open = Vec::new();
    for _ in 0..fluxboard::stream::MAX_STREAMS_PER_CLIENT {
        open.push(SseClient::of(b.stream().await));
    }
    let refused = b.stream().await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");
    // Another user is not affected, and closing a stream frees its slot.
    let mut other = Browser::new(&app);
    assert_eq!(other.login("admin", PASSWORD).await.0, 200);
    assert_eq!(other.stream().await.status(), 200);
    drop(open.pop());
    wait_for("a freed stream slot", || async { (b.stream().await.status() == 200).then_some(()) }).await;
}

#[tokio::test]
async fn system_identities_are_refused_at_login_unless_allowed() {
    let mut config = demo_config(PASSWORD).unwrap();
    config.auth.local.users[0].groups.push("system:masters".into());
    config.auth.local.users[1].username = "system:kube-controller-manager".into();
    config.auth.allowed_system_names.clear();
    let app = TestApp::start_with(Options { identity: None, config: config.clone(), ..Options::default() }).await;
    let mut b = Browser::new(&app);
    let (status, body) = b.login("admin", PASSWORD).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("system_identity")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("system:masters"), "{body}");
    assert!(b.cookie.is_none(), "no session");
    let (status, _) = b.login("system:kube-controller-manager", PASSWORD).await;
    assert_eq!(status, 403);
    // The emulated cluster's admin token reviews as system:masters: refused too, unless allowed.
    let (status, body) = b.post("/auth/token", json!({"token": app.demo.admin_token})).await;
    assert_eq!(status, 403, "{body}");
    config.auth.allowed_system_names = vec!["system:masters".into()];
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login("admin", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn long_usernames_are_refused_before_they_reach_the_limiter() {
    let app = app().await;
    let mut b = Browser::new(&app);
    for _ in 0..30 {
        let (status, body) = b.login(&"x".repeat(60_000), "nope").await;
        assert_eq!(status, 400, "{body}");
    }
    assert_eq!(app.app.state.limiter.local_len(), 0, "nothing was kept");
}

#[tokio::test]
async fn wrong_passwords_from_elsewhere_do_not_lock_a_user_out() {
    // Blocking is per (username, client address): five failures from one client block that
    // client for this username; the real user, elsewhere, still logs in.
    let mut config = demo_config(PASSWORD).unwrap();
    config.trusted_proxies = vec!["127.0.0.0/8".into()];
    let app = TestApp::start_with(Options { identity: None, config, ..Options::default() }).await;
    let login = |from: &'static str, password: &'static str| {
        let url = format!("{}/auth/login", app.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("sec-fetch-site", "same-origin")
                .header("x-forwarded-for", from)
                .body(json!({"username": "admin", "password": password}).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut attacker = Vec::new();
    for _ in 0..7 {
        attacker.push(login("203.0.113.9", "guess").await);
    }
    assert_eq!(attacker, [401, 401, 401, 401, 401, 429, 429]);
    assert_eq!(login("203.0.113.9", PASSWORD).await, 429, "the attacking client stays blocked for admin");
    assert_eq!(login("198.51.100.7", PASSWORD).await, 200, "the user, from elsewhere, is not locked out");
}
