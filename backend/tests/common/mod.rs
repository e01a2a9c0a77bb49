//! Shared set-up for the API tests: an emulated cluster, the app serving on port 0 and watching
//! it through a kubeconfig, a server-sent events reader, and waiting with a deadline.

#![allow(dead_code, unreachable_pub)] // reason: each test binary uses a different part of this module

use std::future::Future;
use std::time::Duration;

use fluxboard::demo::{Demo, DemoOptions};
use fluxboard::{App, Options};
use futures::StreamExt as _;
use kube_sim::Sim;
use serde_json::Value;
use tokio::sync::oneshot;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The app serving on 127.0.0.1:0 against one emulated cluster named `production`.
pub struct TestApp {
    pub demo: Demo,
    pub app: App,
    pub url: String,
    /// The metrics listener (`/metrics`, the detailed `/readyz`).
    pub metrics_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestApp {
        let demo =
            Demo::start(&DemoOptions { clusters: vec!["production".into()], objects: None, realistic_timing: false })
                .await
                .expect("the emulated cluster starts");
        let app = App::start(demo.clusters().await.expect("kubeconfig loads"), &options).await.expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}{}", listener.local_addr().unwrap(), app.state.base_path);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = app.serve(listener, async move {
            let _ = stopped.await;
        });
        tokio::spawn(async move { server.await.expect("serve") });
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics_url = format!("http://{}", metrics.local_addr().unwrap());
        let mut stopping = app.state.shutdown.subscribe();
        tokio::spawn(app.serve_metrics(metrics, async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }));
        TestApp { demo, app, url, metrics_url, stop: Some(stop) }
    }

    pub fn sim(&self) -> &Sim {
        &self.demo.sims[0]
    }

    /// Waits until `/readyz` says every cache is synced.
    pub async fn ready(&self) {
        let url = format!("{}/readyz", self.url);
        wait_for("the app to be ready", || async {
            let res =
                reqwest::Client::builder().timeout(Duration::from_secs(5)).build().ok()?.get(&url).send().await.ok()?;
            res.status().is_success().then_some(())
        })
        .await;
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let res = reqwest::get(format!("{}{path}", self.url)).await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Posts an action request as the browser would (same origin, JSON).
    pub async fn act(&self, body: Value) -> (u16, Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/actions", self.url))
            .header("content-type", "application/json")
            .header("sec-fetch-site", "same-origin")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The object as the emulated cluster holds it now.
    pub fn object(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Value {
        (*self.sim().cluster().get(group, kind, namespace, name).expect("object exists")).clone()
    }

    /// Opens the stream, resuming from `last_event_id` when given.
    pub async fn stream(&self, last_event_id: Option<&str>) -> SseClient {
        self.stream_at("/api/v1/stream", last_event_id).await
    }

    /// Opens the stream at `path` (with its query), sending `last_event_id` when given.
    pub async fn stream_at(&self, path: &str, last_event_id: Option<&str>) -> SseClient {
        let mut req =
            reqwest::Client::builder().connect_timeout(DEADLINE).build().unwrap().get(format!("{}{path}", self.url));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        SseClient::of(req.send().await.expect("stream request"))
    }

    /// Changes an object in the emulated cluster with `edit`.
    pub fn edit(&self, group: &str, kind: &str, namespace: &str, name: &str, edit: impl FnOnce(&mut Value)) {
        let cluster = self.sim().cluster();
        let mut obj = (*cluster.get(group, kind, namespace, name).expect("object exists")).clone();
        edit(&mut obj);
        cluster.apply(&obj).expect("apply");
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

type Body = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Reads server-sent events from a response body.
pub struct SseClient {
    body: Body,
    buffer: String,
}

impl SseClient {
    /// Reads the events of a stream response, which must be a 200 event stream.
    pub fn of(res: reqwest::Response) -> SseClient {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        SseClient { body: Box::pin(res.bytes_stream()), buffer: String::new() }
    }

    /// The next event (keep-alive comments skipped), or None when the stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(DEADLINE, self.next_inner()).await.expect("timed out waiting for a stream event")
    }

    async fn next_inner(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent { event: "message".into(), id: String::new(), data: String::new() };
                let mut is_comment_only = true;
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                        is_comment_only = false;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        is_comment_only = false;
                    }
                }
                if is_comment_only {
                    continue;
                }
                return Some(event);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Reads until the stream ends (true), failing after [`DEADLINE`].
    pub async fn until_end(&mut self) -> bool {
        tokio::time::timeout(DEADLINE, async { while self.next_inner().await.is_some() {} }).await.is_ok()
    }

    /// Reads events until one satisfies `want`, returning it and everything read before it.
    pub async fn until(&mut self, what: &str, want: impl Fn(&SseEvent) -> bool) -> (SseEvent, Vec<SseEvent>) {
        let mut before = Vec::new();
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                let Some(event) = self.next_inner().await else { panic!("the stream ended while waiting for {what}") };
                if want(&event) {
                    return event;
                }
                before.push(event);
            }
        })
        .await;
        match found {
            Ok(event) => (event, before),
            Err(_) => panic!("timed out waiting for {what}; saw {before:#?}"),
        }
    }
}

/// Polls `check` until it returns Some, failing the test with `what` after [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

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
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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

/// A same-origin request as a browser sends it, with the session cookie by hand: the status, the
/// JSON body (Null when none) and the cookie the answer sets.
pub async fn call(
    method: reqwest::Method,
    url: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req = reqwest::Client::new().request(method, url).header("sec-fetch-site", "same-origin");
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    (status, res.json().await.unwrap_or(Value::Null), cookie)
}

/// SSO configured against an identity provider that cannot be reached (a closed port).
pub fn unreachable_oidc() -> fluxboard::config::OidcConfig {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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
