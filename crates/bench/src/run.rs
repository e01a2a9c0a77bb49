//! `fluxboard-bench run`: one benchmark run against the budgets of shared/DESIGN.md.
//!
//! kube-sim (the emulated API server with a fleet of `--objects` Flux objects) and
//! `fluxboard serve` run as their own processes; SSE readers run in a third
//! (`fluxboard-bench clients`), kubectl in a fourth, Chromium in a fifth. Changes are status
//! patches whose Ready message carries a marker with the send time (see [`crate::stats`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::stats::{ClientsReport, Percentiles, end_marker, find, marker, now_nanos};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// The `fluxboard` binary (built with the web app embedded).
    #[arg(long)]
    pub(crate) fluxboard: PathBuf,
    /// The `kube-sim` binary.
    #[arg(long)]
    pub(crate) kube_sim: PathBuf,
    /// kubectl, for the reference latency.
    #[arg(long, default_value = "kubectl")]
    pub(crate) kubectl: PathBuf,
    /// About how many Flux objects the emulated cluster holds.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) objects: usize,
    /// The numbers of concurrent SSE readers, one stage each.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub(crate) clients: Vec<usize>,
    /// Changes per latency stage.
    #[arg(long, default_value_t = 200)]
    pub(crate) changes: usize,
    /// Changes per second.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) rate: f64,
    /// Reconcile requests for the action throughput.
    #[arg(long, default_value_t = 400)]
    pub(crate) actions: usize,
    /// The built web app's assets (for the bundle size); skipped when absent.
    #[arg(long)]
    pub(crate) assets: Option<PathBuf>,
    /// Skip the Chromium measurement.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Report the budgets without failing (a debug build or a small run measures nothing).
    #[arg(long)]
    pub(crate) no_budgets: bool,
    /// Where to write the results.
    #[arg(long, default_value = "target/bench/results.json")]
    pub(crate) out: PathBuf,
}

/// The flat results object.
type Results = BTreeMap<String, Value>;

/// A deadline for anything the run waits on.
const WAIT: Duration = Duration::from_secs(600);

const KUSTOMIZATIONS: (&str, &str, &str) = ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<Results> {
    let dir = tempfile::Builder::new().prefix("fluxboard-bench-").tempdir()?;
    let mut results = Results::new();
    results.insert("objects".into(), json!(args.objects));

    say(&format!("starting kube-sim with about {} Flux objects", args.objects));
    let kubeconfig = dir.path().join("kubeconfig");
    let sim = start_sim(&args, &kubeconfig).await?;
    let kube = kube_client(&kubeconfig).await?;

    let port = fluxboard_e2e::free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let metrics_port = fluxboard_e2e::free_port()?;
    let metrics_url = format!("http://127.0.0.1:{metrics_port}");
    say(&format!("starting fluxboard on {url}"));
    let log = std::fs::File::create(dir.path().join("fluxboard.log"))?;
    let fluxboard = Command::new(&args.fluxboard)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--open-role", "admin"])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .args(["--act-as", "service-account", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("Failed to start {}", args.fluxboard.display()))?;
    let pid = fluxboard.id().context("fluxboard's pid")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let started = Instant::now();
    wait("fluxboard to be ready", || async {
        let res = http.get(format!("{url}/readyz")).send().await.ok()?;
        res.status().is_success().then_some(())
    })
    .await?;
    say(&format!("fluxboard is ready after {:.1} s; waiting for the fleet to settle", started.elapsed().as_secs_f64()));
    let objects = settle(&http, &url).await?;
    results.insert("objects_in_store".into(), json!(objects));

    let changes = Changes { kube: kube.clone(), teams: args.objects.div_ceil(20).max(1), next: 0 };
    let mut changes = changes;
    snapshot(&http, &url, &mut changes, &mut results).await?;
    graph(&http, &url, &mut results).await?;
    kubectl_reference(&args, &kubeconfig, &mut changes, &mut results).await?;

    for &n in &args.clients {
        let report = sse_stage(&args, (&url, &metrics_url), n, &kube, &http, &mut changes, &mut results).await?;
        let key = if n == 1_000 { "10k_1k".to_owned() } else { format!("10k_{n}") };
        results.insert(format!("p50_ms_{key}"), json!(round(report.latency.p50_ms)));
        results.insert(format!("p95_ms_{key}"), json!(round(report.latency.p95_ms)));
        results.insert(format!("p99_ms_{key}"), json!(round(report.latency.p99_ms)));
        results.insert(format!("missing_{key}"), json!(report.missing));
        if n == args.clients.iter().copied().max().unwrap_or(n) {
            results.insert("snapshot_gzip_bytes_per_client".into(), json!(report.snapshot_bytes));
        }
    }
    let (peak, now) = rss(pid)?;
    results.insert("rss_mb_10k_1k".into(), json!(round(peak)));
    results.insert("rss_mb_now".into(), json!(round(now)));
    if let (Some(p99), Some(kubectl)) = (results.get("p99_ms_10k_1k"), results.get("kubectl_p99_ms")) {
        let ratio = p99.as_f64().unwrap_or(0.0) / kubectl.as_f64().unwrap_or(1.0).max(0.001);
        results.insert("p99_ratio_to_kubectl".into(), json!(round(ratio)));
    }

    actions(&args, &http, &url, &mut results).await?;
    if let Some(assets) = &args.assets {
        bundle(assets, &mut results)?;
    }
    if !args.no_browser {
        browser(&url, objects, &mut results).await?;
    }
    drop(fluxboard);
    drop(sim);
    Ok(results)
}

fn say(what: &str) {
    eprintln!("bench: {what}");
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Polls `check` until it returns Some, for up to [`WAIT`].
async fn wait<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check().await {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_sim(args: &RunArgs, kubeconfig: &Path) -> anyhow::Result<Child> {
    let mut sim = Command::new(&args.kube_sim)
        .args(["--objects", &args.objects.to_string(), "--timing", "instant", "--kubeconfig"])
        .arg(kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("Failed to start {}", args.kube_sim.display()))?;
    let mut lines = BufReader::new(sim.stdout.take().context("kube-sim's stdout")?).lines();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("kubeconfig:") {
                return anyhow::Ok(());
            }
        }
        bail!("kube-sim exited before it was serving")
    })
    .await
    .context("kube-sim did not start")??;
    // Keep reading (and dropping) its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(sim)
}

async fn kube_client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Waits until the store stops changing (the emulated controllers' first reconciliation of
/// every object is done); returns how many objects it holds.
async fn settle(http: &reqwest::Client, url: &str) -> anyhow::Result<usize> {
    let mut last = String::new();
    let mut quiet = 0;
    let deadline = Instant::now() + WAIT;
    loop {
        let snapshot: Value = http.get(format!("{url}/api/v1/snapshot")).send().await?.json().await?;
        let id = snapshot["id"].as_str().unwrap_or_default().to_owned();
        quiet = if id == last { quiet + 1 } else { 0 };
        if quiet >= 2 {
            return Ok(snapshot["objects"].as_array().map_or(0, Vec::len));
        }
        if Instant::now() > deadline {
            bail!("the fleet did not settle");
        }
        last = id;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

/// Makes marked changes: status patches of the Kustomizations `team-XXXX/app-K`, round robin.
struct Changes {
    kube: kube::Client,
    teams: usize,
    next: usize,
}

impl Changes {
    /// Sets the next Kustomization's Ready message to `message`.
    async fn make(&mut self, message: &str) -> anyhow::Result<()> {
        let i = self.next;
        self.next += 1;
        let (namespace, name) = (format!("team-{:04}", i % self.teams), format!("app-{}", (i / self.teams) % 10));
        let (group, version, kind) = KUSTOMIZATIONS;
        let resource = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: "kustomizations".into(),
        };
        let api = kube::Api::<DynamicObject>::namespaced_with(self.kube.clone(), &namespace, &resource);
        let patch = json!({"status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": message,
            "lastTransitionTime": "2026-11-25T00:00:00Z",
        }]}});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("patching {namespace}/{name}"))?;
        Ok(())
    }

    /// `count` changes of `stage` at `rate` per second, then its end marker; returns the rate
    /// achieved (lower than asked when the API server or this process cannot keep up).
    async fn stage(&mut self, stage: &str, count: usize, rate: f64) -> anyhow::Result<f64> {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let started = Instant::now();
        for n in 0..count {
            ticks.tick().await;
            self.make(&marker(stage, n)).await?;
        }
        let achieved = count as f64 / started.elapsed().as_secs_f64().max(1e-9);
        ticks.tick().await;
        self.make(&end_marker(stage)).await?;
        Ok(achieved)
    }
}

/// The fleet graph of the snapshot's objects, built in this process as the backend and the
/// browser build it: the median of 10 builds, and of every object's root-cause walk.
async fn graph(http: &reqwest::Client, url: &str, results: &mut Results) -> anyhow::Result<()> {
    use fluxboard_model::graph::{Graph, NoneStopped};
    say("measuring the fleet graph");
    let snapshot: fluxboard_model::api::Snapshot =
        serde_json::from_slice(&http.get(format!("{url}/api/v1/snapshot")).send().await?.bytes().await?)?;
    let (mut build_ms, mut why_ms) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let started = Instant::now();
        let graph = Graph::build(&snapshot.objects);
        build_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        std::hint::black_box(graph.why_all(&NoneStopped));
        why_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    results.insert("graph_objects".into(), json!(snapshot.objects.len()));
    results.insert("graph_build_ms_10k".into(), json!(round(Percentiles::of(build_ms).p50_ms)));
    results.insert("graph_why_all_ms_10k".into(), json!(round(Percentiles::of(why_ms).p50_ms)));
    Ok(())
}

/// The snapshot of the whole fleet: server time (Server-Timing) and bytes, compressed and not.
async fn snapshot(
    http: &reqwest::Client,
    url: &str,
    changes: &mut Changes,
    results: &mut Results,
) -> anyhow::Result<()> {
    say("measuring the snapshot");
    let (mut gzip_ms, mut plain_ms, mut client_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut gzip_bytes, mut plain_bytes) = (0, 0);
    for round in 0..5 {
        // A change, then a request that built its snapshot (the server says so: one shared
        // from the cache would measure the cache, so it is asked again after the reuse time).
        changes.make(&format!("snapshot round {round}")).await?;
        let mut tries = 0;
        let (started, res) = loop {
            tokio::time::sleep(fluxboard::stream::SNAPSHOT_REUSE + Duration::from_millis(50)).await;
            let started = Instant::now();
            let res = http.get(format!("{url}/api/v1/snapshot")).header("accept-encoding", "gzip").send().await?;
            if built(&res) {
                break (started, res);
            }
            tries += 1;
            if tries == 10 {
                bail!("every snapshot was a shared one (Server-Timing: {:?})", res.headers().get("server-timing"));
            }
        };
        let server = server_timing(&res);
        let body = res.bytes().await?;
        client_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        gzip_ms.push(server);
        gzip_bytes = body.len();
        let res = http.get(format!("{url}/api/v1/snapshot")).send().await?;
        plain_ms.push(server_timing(&res));
        plain_bytes = res.bytes().await?.len();
    }
    results.insert("snapshot_ms_10k".into(), json!(round(Percentiles::of(gzip_ms).p50_ms)));
    results.insert("snapshot_uncompressed_ms_10k".into(), json!(round(Percentiles::of(plain_ms).p50_ms)));
    results.insert("snapshot_client_ms_10k".into(), json!(round(Percentiles::of(client_ms).p50_ms)));
    results.insert("snapshot_gzip_bytes_10k".into(), json!(gzip_bytes));
    results.insert("snapshot_bytes_10k".into(), json!(plain_bytes));
    Ok(())
}

/// Whether the server built this snapshot (rather than sharing a cached one).
fn built(res: &reqwest::Response) -> bool {
    res.headers().get("server-timing").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("desc=\"built\""))
}

fn server_timing(res: &reqwest::Response) -> f64 {
    res.headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|d| d.split(';').next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A marker kubectl printed: its stage, change number and latency (ms).
type Sighting = (String, Option<usize>, f64);

/// The same changes seen through `kubectl get kustomizations -A -w` on the same API server.
async fn kubectl_reference(
    args: &RunArgs,
    kubeconfig: &Path,
    changes: &mut Changes,
    results: &mut Results,
) -> anyhow::Result<()> {
    say("measuring kubectl get -w as the reference");
    let mut kubectl = Command::new(&args.kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "kustomizations.kustomize.toolkit.fluxcd.io", "-A", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("Failed to start {}", args.kubectl.display()))?;
    let mut lines = BufReader::new(kubectl.stdout.take().context("kubectl's stdout")?).lines();
    let seen: Arc<Mutex<Vec<Sighting>>> = Arc::default();
    let record = seen.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(found) = find(&line) {
                let ms = now_nanos().saturating_sub(found.sent_nanos) as f64 / 1e6;
                record.lock().unwrap_or_else(|e| e.into_inner()).push((found.stage.to_owned(), found.n, ms));
            }
        }
    });
    // kubectl first prints the whole list; a warm-up change seen means it is watching.
    let mut warm = 0;
    let deadline = Instant::now() + WAIT;
    loop {
        changes.make(&marker("kwarm", warm)).await?;
        warm += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
        if seen.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|(s, _, _)| s == "kwarm") {
            break;
        }
        if Instant::now() > deadline {
            bail!("kubectl never showed a change");
        }
    }
    let achieved = changes.stage("kubectl", args.changes, args.rate).await?;
    results.insert("kubectl_changes_per_s".into(), json!(round(achieved)));
    wait("kubectl to show the end marker", || async {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(s, n, _)| s == "kubectl" && n.is_none())
            .then_some(())
    })
    .await?;
    let _ = kubectl.kill().await;
    reader.abort();
    // The first sighting of each change (kubectl may print an object again).
    let mut first: BTreeMap<usize, f64> = BTreeMap::new();
    for (stage, n, ms) in seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if let (true, Some(n)) = (stage == "kubectl", n) {
            first.entry(*n).or_insert(*ms);
        }
    }
    let p = Percentiles::of(first.values().copied().collect());
    results.insert("kubectl_p50_ms".into(), json!(round(p.p50_ms)));
    results.insert("kubectl_p99_ms".into(), json!(round(p.p99_ms)));
    results.insert("kubectl_missing".into(), json!(args.changes.saturating_sub(p.samples)));
    Ok(())
}

/// One latency stage with `n` SSE readers in their own process.
async fn sse_stage(
    args: &RunArgs,
    (url, metrics_url): (&str, &str),
    n: usize,
    kube: &kube::Client,
    http: &reqwest::Client,
    changes: &mut Changes,
    results: &mut Results,
) -> anyhow::Result<ClientsReport> {
    say(&format!("connecting {n} SSE readers"));
    let stage = format!("sse{n}");
    let mut clients = Command::new(std::env::current_exe()?)
        .args(["clients", "--url", url, "--n", &n.to_string(), "--stage", &stage])
        .args(["--expect", &args.changes.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(clients.stdout.take().context("the readers' stdout")?).lines();
    let ready = tokio::time::timeout(WAIT, lines.next_line()).await.context("the readers did not connect")??;
    if ready.as_deref() != Some("ready") {
        bail!("the readers failed to connect: {ready:?}");
    }
    let watches = open_watches(kube).await?;
    results.insert(format!("watches_{n}_client{}", if n == 1 { "" } else { "s" }), json!(watches));
    let metrics = http.get(format!("{metrics_url}/metrics")).send().await?.text().await?;
    let connected = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fluxboard_sse_clients "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    say(&format!("{connected} streams connected, {watches} watches on the API server; {} changes", args.changes));
    let achieved = changes.stage(&stage, args.changes, args.rate).await?;
    let key = if n == 1_000 { "10k_1k".to_owned() } else { format!("10k_{n}") };
    results.insert(format!("changes_per_s_{key}"), json!(round(achieved)));
    let line = tokio::time::timeout(WAIT, lines.next_line()).await.context("the readers did not report")??;
    let report: ClientsReport = serde_json::from_str(line.as_deref().unwrap_or_default())
        .with_context(|| format!("the readers' report: {line:?}"))?;
    let _ = clients.wait().await;
    say(&format!(
        "{n} readers: p50 {:.1} ms, p99 {:.1} ms, {} missing",
        report.latency.p50_ms, report.latency.p99_ms, report.missing
    ));
    Ok(report)
}

/// The watches open on the API server (its `apiserver_longrunning_requests`).
async fn open_watches(kube: &kube::Client) -> anyhow::Result<u64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = kube.request_text(request).await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_longrunning_requests{") && l.contains("verb=\"WATCH\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// Peak and current resident memory of a process, in MB.
fn rss(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0))
}

/// Reconcile requests through the API, 16 at a time: requests per second and latency.
async fn actions(args: &RunArgs, http: &reqwest::Client, url: &str, results: &mut Results) -> anyhow::Result<()> {
    say(&format!("sending {} reconcile requests", args.actions));
    let teams = args.objects.div_ceil(20).max(1);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (http, url, next, total) = (http.clone(), url.to_owned(), next.clone(), args.actions);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let body = json!({"action": "reconcile", "cluster": "kube-sim", "group": KUSTOMIZATIONS.0,
                    "kind": KUSTOMIZATIONS.2, "namespace": format!("team-{:04}", i % teams), "name": format!("app-{}", (i / teams) % 10)});
                let sent = Instant::now();
                let res = http
                    .post(format!("{url}/api/v1/actions"))
                    .header("content-type", "application/json")
                    .header("origin", &url)
                    .body(body.to_string())
                    .send()
                    .await?;
                let ok = res.status().is_success();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                if !ok || answer["results"][0]["status"] != "accepted" {
                    refused += 1;
                    if refused == 1 {
                        say(&format!("an action was not accepted: {answer}"));
                    }
                }
            }
            anyhow::Ok((latencies, refused))
        }));
    }
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for worker in workers {
        let (l, r) = worker.await??;
        latencies.extend(l);
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let p = Percentiles::of(latencies);
    // fluxboard runs without login here (--open-role admin), so actions go as its service
    // account: no session lookup, no impersonation (README, Performance).
    results.insert("actions_mode".into(), json!("no login, as the service account"));
    results.insert("actions_per_s".into(), json!(round(args.actions as f64 / elapsed)));
    results.insert("actions_p99_ms".into(), json!(round(p.p99_ms)));
    results.insert("actions_not_accepted".into(), json!(refused));
    Ok(())
}

/// The web app's size: the wasm file raw and gzip-compressed.
fn bundle(assets: &Path, results: &mut Results) -> anyhow::Result<()> {
    let wasm = std::fs::read_dir(assets)
        .with_context(|| format!("reading {}", assets.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .with_context(|| format!("no .wasm in {}", assets.display()))?;
    let bytes = std::fs::read(&wasm)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    results.insert("wasm_bytes".into(), json!(bytes.len()));
    results.insert("wasm_gzip_bytes".into(), json!(gz.finish()?.len()));
    Ok(())
}

/// Time until the list of every object is shown in headless Chromium and answers a search.
async fn browser(url: &str, objects: usize, results: &mut Results) -> anyhow::Result<()> {
    say("opening the list of every object in Chromium");
    let browser = fluxboard_e2e::Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{url}/resources")).await?;
    // From the start of navigation until the count says every object is listed and rows show.
    let shown = c
        .execute_async(
            r#"const [want, done] = arguments;
               function check() {
                 const count = document.querySelector('[data-testid=result-count]');
                 const m = count && count.textContent.match(/^(\d+) of (\d+)$/);
                 if (m && +m[1] >= want && document.querySelector('[data-testid=row]')) { done(performance.now()); return; }
                 requestAnimationFrame(check);
               }
               check();"#,
            vec![json!(objects)],
        )
        .await?
        .as_f64()
        .context("no time from the page")?;
    // Then the first interaction: a search, until the filtered list shows.
    let search = c
        .execute_async(
            r#"const [done] = arguments;
               const count = document.querySelector('[data-testid=result-count]');
               const before = count.textContent;
               const input = document.querySelector('#search');
               const t0 = performance.now();
               input.value = 'app-3';
               input.dispatchEvent(new Event('input', { bubbles: true }));
               function check() {
                 if (count.textContent !== before) { done(performance.now() - t0); return; }
                 requestAnimationFrame(check);
               }
               check();"#,
            vec![],
        )
        .await?
        .as_f64()
        .context("no time from the page")?;
    results.insert("rows_10k_shown_ms".into(), json!(round(shown)));
    results.insert("rows_10k_first_search_ms".into(), json!(round(search)));
    results.insert("rows_10k_interactive_ms".into(), json!(round(shown + search)));
    let _ = browser.client.clone().close().await;
    Ok(())
}

/// The budgets of shared/DESIGN.md: (key, limit, what).
pub(crate) const BUDGETS: &[(&str, f64, &str)] = &[
    ("p99_ms_10k_1k", 250.0, "change-to-client p99 at 10k objects, 1k clients (ms)"),
    ("snapshot_ms_10k", 300.0, "snapshot of 10k objects, server time (ms)"),
    ("graph_build_ms_10k", 50.0, "fleet graph of 10k objects, built natively (ms)"),
    ("snapshot_gzip_bytes_10k", 1_500_000.0, "snapshot of 10k objects, compressed (bytes)"),
    ("rss_mb_10k_1k", 200.0, "backend peak RSS at 10k objects, 1k clients (MB)"),
    ("wasm_gzip_bytes", 400_000.0, "web app bundle, gzip (bytes)"),
    ("rows_10k_interactive_ms", 1_500.0, "10k-row list interactive in Chromium (ms)"),
];

/// Prints the results and the budgets; returns whether every budget was measured and met, and
/// no change was lost. Budgets in `skipped` (measurements turned off by a flag) are listed as
/// skipped.
pub(crate) fn report(results: &Results, skipped: &[&str]) -> bool {
    println!();
    println!("{:<34} {:>14}", "measure", "value");
    for (key, value) in results {
        println!("{key:<34} {value:>14}");
    }
    println!();
    let mut met = true;
    for (key, limit, what) in BUDGETS {
        let Some(value) = results.get(*key).and_then(Value::as_f64) else {
            if skipped.contains(key) {
                println!("  skipped  {what}");
            } else {
                met = false;
                println!("  NOT MEASURED  {what}");
            }
            continue;
        };
        let ok = value < *limit;
        met &= ok;
        println!("  {}  {what}: {value} (budget < {limit})", if ok { "met   " } else { "MISSED" });
    }
    for (key, value) in results.iter().filter(|(k, _)| k.starts_with("missing_") || *k == "kubectl_missing") {
        let lost = value.as_u64().unwrap_or(u64::MAX);
        met &= lost == 0;
        println!("  {}  changes lost ({key}): {value} (budget 0)", if lost == 0 { "met   " } else { "MISSED" });
    }
    let (one, many) = (results.get("watches_1_client"), results.get("watches_1000_clients"));
    if let (Some(one), Some(many)) = (one, many) {
        let ok = one == many;
        met &= ok;
        println!(
            "  {}  API server watches with 1 and 1000 clients: {one} and {many}",
            if ok { "met   " } else { "MISSED" }
        );
    }
    met
}
