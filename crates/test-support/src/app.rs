//! The app as tests meet it: emulated clusters, `fluxboard` serving on 127.0.0.1:0 through
//! `App::serve` (the production accept loop, with its timeouts) and its metrics listener, and
//! requests as a browser sends them (same origin, JSON, the session cookie).

use fluxboard::cluster::Cluster;
use fluxboard::demo::{Demo, DemoOptions};
use fluxboard::{App, Options};
use kube_sim::Sim;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::poll::{DEADLINE, wait_for};
use crate::sse::SseClient;

/// The app serving on 127.0.0.1:0 through `App::serve`, and its metrics listener, until dropped.
pub struct Serving {
    /// The app, its state open to inspection.
    pub app: App,
    /// `http://127.0.0.1:<port><base path>`.
    pub url: String,
    /// The metrics listener (`/metrics`, the detailed `/readyz`).
    pub metrics_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Serving {
    /// The app with `options` watching `clusters`, on a port of its own.
    pub async fn start(clusters: Vec<Cluster>, options: &Options) -> Serving {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        Serving::start_on(listener, clusters, options).await
    }

    /// [`Serving::start`] on a listener bound beforehand.
    pub async fn start_on(listener: tokio::net::TcpListener, clusters: Vec<Cluster>, options: &Options) -> Serving {
        let app = App::start(clusters, options).await.expect("the app starts");
        let url = format!("http://{}{}", listener.local_addr().expect("a bound address"), app.state.base_path);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = app.serve(listener, async move {
            let _ = stopped.await;
        });
        tokio::spawn(async move { server.await.expect("serve") });
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let metrics_url = format!("http://{}", metrics.local_addr().expect("a bound address"));
        let mut stopping = app.state.shutdown.subscribe();
        tokio::spawn(app.serve_metrics(metrics, async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }));
        Serving { app, url, metrics_url, stop: Some(stop) }
    }

    /// Waits until every cluster has listed each of its kinds and shows as connected.
    pub async fn ready(&self) {
        let state = &self.app.state;
        wait_for("the app's caches to sync", || async {
            let shown = state.store.clusters();
            let connected = shown.len() == state.clusters.len()
                && shown.iter().all(|c| c.state == fluxboard_model::api::ConnectionState::Connected);
            (connected && state.clusters.iter().all(|c| c.synced_once())).then_some(())
        })
        .await;
    }

    /// A GET of `path`: the status and the JSON body (Null when none).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let res = reqwest::get(format!("{}{path}", self.url)).await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Posts an action request as the browser would (same origin, JSON).
    pub async fn act(&self, body: Value) -> (u16, Value) {
        let (status, body, _) =
            call(reqwest::Method::POST, &format!("{}/api/v1/actions", self.url), None, Some(body)).await;
        (status, body)
    }

    /// Opens the stream, resuming from `last_event_id` when given.
    pub async fn stream(&self, last_event_id: Option<&str>) -> SseClient {
        self.stream_at("/api/v1/stream", last_event_id).await
    }

    /// Opens the stream at `path` (with its query), sending `last_event_id` when given.
    pub async fn stream_at(&self, path: &str, last_event_id: Option<&str>) -> SseClient {
        let client = reqwest::Client::builder().connect_timeout(DEADLINE).build().expect("an HTTP client");
        let mut req = client.get(format!("{}{path}", self.url));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        SseClient::of(req.send().await.expect("stream request"))
    }
}

/// [`Serving`] against emulated clusters (`production` unless told); its fields and methods are
/// the served app's.
pub struct TestApp {
    /// The emulated clusters and their kubeconfig.
    pub demo: Demo,
    serving: Serving,
}

impl std::ops::Deref for TestApp {
    type Target = Serving;

    fn deref(&self) -> &Serving {
        &self.serving
    }
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("serving", &self.serving).finish_non_exhaustive()
    }
}

impl TestApp {
    /// The app with default options against one cluster named `production`.
    pub async fn start() -> TestApp {
        TestApp::start_with(Options::default()).await
    }

    /// The app with `options` against one cluster named `production`.
    pub async fn start_with(options: Options) -> TestApp {
        TestApp::start_clusters(&["production"], options).await
    }

    /// The app with `options` against emulated `clusters` (instant controllers).
    pub async fn start_clusters(clusters: &[&str], options: Options) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        TestApp::start_on(listener, clusters, options).await
    }

    /// [`TestApp::start_clusters`] on a listener bound beforehand (when the URL must be known
    /// first, as an identity provider's redirect URL must).
    pub async fn start_on(listener: tokio::net::TcpListener, clusters: &[&str], options: Options) -> TestApp {
        let clusters = clusters.iter().map(|c| (*c).to_owned()).collect();
        TestApp::start_demo(listener, DemoOptions { clusters, objects: None, realistic_timing: false }, options).await
    }

    /// The app with `options` against one cluster named `production` holding kube-sim's
    /// scalable fleet of about `objects` Flux objects (instant controllers).
    pub async fn start_scaled(objects: usize, options: Options) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let demo = DemoOptions { clusters: vec!["production".into()], objects: Some(objects), realistic_timing: false };
        TestApp::start_demo(listener, demo, options).await
    }

    async fn start_demo(listener: tokio::net::TcpListener, demo: DemoOptions, options: Options) -> TestApp {
        let demo = Demo::start(&demo).await.expect("the emulated clusters start");
        let clusters = demo.clusters().await.expect("the kubeconfig loads");
        let serving = Serving::start_on(listener, clusters, &options).await;
        TestApp { demo, serving }
    }

    /// The first emulated cluster.
    pub fn sim(&self) -> &Sim {
        &self.demo.sims[0]
    }

    /// The object as the emulated cluster holds it now.
    pub fn object(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Value {
        (*self.sim().cluster().get(group, kind, namespace, name).expect("object exists")).clone()
    }

    /// Changes an object in the emulated cluster with `edit`.
    pub fn edit(&self, group: &str, kind: &str, namespace: &str, name: &str, edit: impl FnOnce(&mut Value)) {
        let cluster = self.sim().cluster();
        let mut obj = (*cluster.get(group, kind, namespace, name).expect("object exists")).clone();
        edit(&mut obj);
        cluster.apply(&obj).expect("apply");
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
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    (status, res.json().await.unwrap_or(Value::Null), cookie)
}

/// Logs a local user in at the server `url` (its base path included): the session cookie
/// (`name=value`); a test fails when the login does not succeed.
pub async fn login(url: &str, username: &str, password: &str) -> String {
    let body = serde_json::json!({"username": username, "password": password});
    let (status, answer, cookie) = call(reqwest::Method::POST, &format!("{url}/auth/login"), None, Some(body)).await;
    assert_eq!(status, 200, "logging in {username}: {answer}");
    cookie.expect("a login sets the session cookie")
}
