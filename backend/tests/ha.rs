//! High availability with real processes: two `fluxboard serve` processes against one emulated
//! cluster and one real redis-server. A session made on one works on the other, both streams
//! converge on the same fleet, and killing one loses no session. Also: JSON logs.

mod common;

use std::process::Stdio;

use common::{DEADLINE, Redis, call, free_port, login, wait_for};
use fluxboard::demo::{Demo, DemoOptions, demo_config};
use fluxboard_model::api::Snapshot;
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio::process::{Child, Command};

const PASSWORD: &str = "correct-horse-battery";

/// Starts `fluxboard serve` with JSON logs; returns the process, its URL and its log lines.
async fn fluxboard(
    demo: &Demo,
    config: &std::path::Path,
) -> (Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let port = free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxboard"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", "127.0.0.1:0"])
        .args(["--context", "production", "--kubeconfig"])
        .arg(&demo.kubeconfig)
        .arg("--config")
        .arg(config)
        .env("FLUXBOARD_LOG_FORMAT", "json")
        .env("RUST_LOG", "fluxboard=info,audit=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let ready = format!("{url}/readyz");
    wait_for("fluxboard to be ready", || {
        let ready = ready.clone();
        async move { reqwest::get(&ready).await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await;
    (child, url, rx)
}

/// The first event of a stream: its snapshot.
async fn snapshot(url: &str, cookie: &str) -> Snapshot {
    let res =
        reqwest::Client::new().get(format!("{url}/api/v1/snapshot")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_sessions_converge_and_survive_one_dying() {
    let redis = Redis::start().await;
    let redis_url = redis.url.clone();
    let demo =
        Demo::start(&DemoOptions { clusters: vec!["production".into()], objects: None, realistic_timing: false })
            .await
            .unwrap();
    let mut config = demo_config(PASSWORD).unwrap();
    config.sessions.store = fluxboard::config::SessionStoreKind::Redis;
    config.sessions.redis_url = Some(redis_url);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    let (mut a, a_url, mut a_logs) = fluxboard(&demo, &path).await;
    let (_b, b_url, _b_logs) = fluxboard(&demo, &path).await;

    // Logs are JSON lines.
    let line = tokio::time::timeout(DEADLINE, a_logs.recv()).await.unwrap().unwrap();
    let log: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert!(log["level"].is_string() && log["fields"]["message"].is_string(), "{log}");

    let cookie = login(&a_url, "viewer", PASSWORD).await;
    assert_eq!(call(reqwest::Method::GET, &format!("{b_url}/api/v1/me"), Some(&cookie), None).await.0, 200);

    // Both streams show the same fleet (retried: the emulated controllers keep working).
    wait_for("both streams to agree", || {
        let (a_url, b_url, cookie) = (a_url.clone(), b_url.clone(), cookie.clone());
        async move {
            let (left, right) = (snapshot(&a_url, &cookie).await.objects, snapshot(&b_url, &cookie).await.objects);
            let mut left: Vec<_> = left.into_iter().map(|s| serde_json::to_string(&s).unwrap()).collect();
            let mut right: Vec<_> = right.into_iter().map(|s| serde_json::to_string(&s).unwrap()).collect();
            left.sort();
            right.sort();
            (!left.is_empty() && left == right).then_some(())
        }
    })
    .await;

    // Killing A loses no session.
    a.kill().await.unwrap();
    assert_eq!(call(reqwest::Method::GET, &format!("{b_url}/api/v1/me"), Some(&cookie), None).await.0, 200);
}
