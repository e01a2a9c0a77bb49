//! Shared sessions: two fluxboard processes (here, two apps on their own ports) against one
//! emulated cluster and one real redis-server. A login on one works on the other, a logout on
//! either ends it everywhere, and a replica going away loses no session.

mod common;

use common::{Redis, call, login, wait_for};
use fluxboard::config::SessionStoreKind;
use fluxboard::demo::{Demo, DemoOptions, demo_config};
use fluxboard::{App, Options};
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery";

/// One emulated cluster for the replicas to watch.
async fn one_cluster() -> Demo {
    Demo::start(&DemoOptions { clusters: vec!["production".into()], objects: None, realistic_timing: false })
        .await
        .unwrap()
}

/// One configuration file for every replica (as a Deployment mounts one): the same password
/// hashes, so a session made on one replica is valid on the others.
static CONFIG: std::sync::LazyLock<fluxboard::config::Config> =
    std::sync::LazyLock::new(|| demo_config(PASSWORD).unwrap());

async fn replica(demo: &Demo, redis: &Redis) -> (App, String, tokio::sync::oneshot::Sender<()>) {
    replica_with(demo, redis, CONFIG.clone()).await
}

async fn replica_with(
    demo: &Demo,
    redis: &Redis,
    mut config: fluxboard::config::Config,
) -> (App, String, tokio::sync::oneshot::Sender<()>) {
    config.sessions.store = SessionStoreKind::Redis;
    config.sessions.redis_url = Some(redis.url.clone());
    let app = App::start(demo.clusters().await.unwrap(), &Options { identity: None, config, ..Options::default() })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = app.service();
    tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (app, url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_replica_works_on_the_other() {
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let (a_app, a, stop_a) = replica(&demo, &redis).await;
    let (b_app, b, _stop_b) = replica(&demo, &redis).await;

    let cookie = login(&a, "operator", PASSWORD).await;
    let (status, me, _) = call(reqwest::Method::GET, &format!("{b}/api/v1/me"), Some(&cookie), None).await;
    assert_eq!(status, 200, "the other replica knows the session: {me}");
    assert_eq!(me["user"], "operator");

    // Both replicas watch the same cluster and converge on the same state.
    wait_for("both replicas to hold the same fleet", || async {
        let (left, right) = (a_app.state.store.summaries(), b_app.state.store.summaries());
        (!left.is_empty() && left == right).then_some(())
    })
    .await;

    // Replica A goes away: the session lives on in Redis.
    stop_a.send(()).unwrap();
    let (status, _, _) = call(reqwest::Method::GET, &format!("{b}/api/v1/me"), Some(&cookie), None).await;
    assert_eq!(status, 200);

    // A logout on B ends the session for every replica.
    let (status, _, _) = call(reqwest::Method::POST, &format!("{b}/auth/logout"), Some(&cookie), None).await;
    assert_eq!(status, 204);
    let (_c, c, _stop_c) = replica(&demo, &redis).await;
    for url in [&b, &c] {
        let (status, _, _) = call(reqwest::Method::GET, &format!("{url}/api/v1/me"), Some(&cookie), None).await;
        assert_eq!(status, 401, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_absolute_expiry_end_sessions() {
    use redis::AsyncCommands as _;
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let (_a, a, _stop) = replica(&demo, &redis).await;
    let mut conn = redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let new_session = || async {
        let cookie = login(&a, "viewer", PASSWORD).await;
        let id = cookie.split_once('=').unwrap().1.to_owned();
        (cookie, format!("fluxboard:session:{id}"))
    };

    // Idle: the store forgets the session when its inactivity deadline passes.
    let (cookie, key) = new_session().await;
    let _: () = conn.expire(&key, 600).await.unwrap();
    assert_eq!(call(reqwest::Method::GET, &format!("{a}/api/v1/me"), Some(&cookie), None).await.0, 200);
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!(ttl > 60 * 60, "a request renewed the idle deadline to hours away: {ttl}");
    let _: () = conn.expire(&key, 1).await.unwrap();
    // Every request renews the deadline; here none comes until the store has forgotten it.
    wait_for("the idle session to expire", || {
        let (mut conn, key) = (conn.clone(), key.clone());
        async move { (conn.exists::<_, i64>(&key).await.unwrap() == 0).then_some(()) }
    })
    .await;
    assert_eq!(call(reqwest::Method::GET, &format!("{a}/api/v1/me"), Some(&cookie), None).await.0, 401);

    // Absolute: a session older than the absolute lifetime ends, however active it is.
    let (cookie, key) = new_session().await;
    assert_eq!(call(reqwest::Method::GET, &format!("{a}/api/v1/me"), Some(&cookie), None).await.0, 200);
    // Edit the stored record as text (its id is a 128-bit number that a JSON value would round).
    let raw: String = conn.get(&key).await.unwrap();
    let record: Value = serde_json::from_str(&raw).unwrap();
    let login_at = record["data"]["user"]["login_at"].as_i64().expect("the login time is recorded");
    let aged = raw.replace(&format!("\"login_at\":{login_at}"), &format!("\"login_at\":{}", login_at - 25 * 3600));
    assert_ne!(aged, raw);
    let _: () = conn.set_ex(&key, aged, 3600).await.unwrap();
    let (status, body, _) = call(reqwest::Method::GET, &format!("{a}/api/v1/me"), Some(&cookie), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_or_repassworded_user_loses_access_at_once() {
    // L6: the session is checked against the current user record, on every replica.
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let (_a_app, a, _stop_a) = replica(&demo, &redis).await;
    let (admin, viewer) = (login(&a, "admin", PASSWORD).await, login(&a, "viewer", PASSWORD).await);
    // A replica whose configuration changed admin's password and removed viewer.
    let mut changed = demo_config("a-new-password").unwrap();
    changed.auth.local.users.retain(|u| u.username != "viewer");
    let (_b_app, b, _stop_b) = replica_with(&demo, &redis, changed).await;
    for cookie in [&admin, &viewer] {
        let (status, _, _) = call(reqwest::Method::GET, &format!("{b}/api/v1/me"), Some(cookie), None).await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = call(reqwest::Method::GET, &format!("{a}/api/v1/me"), Some(&admin), None).await;
    assert_eq!(status, 401, "and the session is gone from the shared store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_session_cookie_has_no_lifetime_of_its_own() {
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let mut config = demo_config(PASSWORD).unwrap();
    config.sessions.browser_session = true;
    let (_app, url, _stop) = replica_with(&demo, &redis, config).await;
    let res = reqwest::Client::new()
        .post(format!("{url}/auth/login"))
        .header("content-type", "application/json")
        .body(json!({"username": "admin", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!set_cookie.to_ascii_lowercase().contains("max-age") && !set_cookie.contains("Expires"), "{set_cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_login_limits_and_the_audit_trail() {
    // N replicas must not mean N times the attempts, and every replica shows the same trail.
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let (_a_app, a, _stop_a) = replica(&demo, &redis).await;
    let (_b_app, b, _stop_b) = replica(&demo, &redis).await;
    let wrong = json!({"username": "viewer", "password": "wrong"});
    let mut statuses = Vec::new();
    for i in 0..6 {
        let url = if i % 2 == 0 { &a } else { &b };
        let (status, _, _) = call(reqwest::Method::POST, &format!("{url}/auth/login"), None, Some(wrong.clone())).await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "five failures in all, on either replica");

    let (_, _, admin) = call(
        reqwest::Method::POST,
        &format!("{a}/auth/login"),
        None,
        Some(json!({"username": "admin", "password": PASSWORD})),
    )
    .await;
    let admin = admin.unwrap();
    let action = json!({"action": "reconcile", "cluster": "production", "kind": "Kustomization", "namespace": "team-a", "name": "podinfo"});
    let (status, _, _) = call(reqwest::Method::POST, &format!("{a}/api/v1/actions"), Some(&admin), Some(action)).await;
    assert_eq!(status, 202);
    let (status, audit, _) = call(reqwest::Method::GET, &format!("{b}/api/v1/audit"), Some(&admin), None).await;
    assert_eq!(status, 200);
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["target"]["name"] == "podinfo" && e["status"] == "accepted"),
        "replica B shows what was done through A: {audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_browser_session_ends_its_event_stream_too() {
    // With browser-session cookies the record lives as long as the absolute limit and idleness
    // is told by the last activity: a stream alone (which renews nothing) must not outlive it.
    use redis::AsyncCommands as _;
    let redis = Redis::start().await;
    let demo = one_cluster().await;
    let mut config = demo_config(PASSWORD).unwrap();
    config.sessions.browser_session = true;
    let idle = config.sessions.idle_minutes as i64 * 60;
    let (_app, url, _stop) = replica_with(&demo, &redis, config).await;
    let cookie = login(&url, "viewer", PASSWORD).await;
    let key = format!("fluxboard:session:{}", cookie.split_once('=').unwrap().1);
    let client = reqwest::Client::new();
    let mut stream = client.get(format!("{url}/api/v1/stream")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream started");
    // The last activity moved back past the idle time, as if the user had left the tab open.
    let mut conn = redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let raw: String = conn.get(&key).await.unwrap();
    let record: Value = serde_json::from_str(&raw).unwrap();
    let seen = record["data"]["seen"].as_i64().expect("the last activity is recorded");
    let aged = raw.replace(&format!("\"seen\":{seen}"), &format!("\"seen\":{}", seen - idle - 60));
    assert_ne!(aged, raw);
    let _: () = redis::cmd("SET").arg(&key).arg(aged).arg("KEEPTTL").query_async(&mut conn).await.unwrap();
    let ended = tokio::time::timeout(common::DEADLINE, async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream of an idle session ended");
    let (status, _, _) = call(reqwest::Method::GET, &format!("{url}/api/v1/me"), Some(&cookie), None).await;
    assert_eq!(status, 401);
}
