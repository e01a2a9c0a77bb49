//! `fluxboard-bench run`: one benchmark run against the budgets of shared/DESIGN.md and of the
//! scale goals (issue 17).
//!
//! Two fleets, each measured against its own `fluxboard serve`: one emulated cluster of
//! `--objects` Flux objects (the `*_10k` figures: snapshot, graph, kubectl as the reference, SSE
//! stages, actions, the web app), then `--clusters` of them (the `*_50k` figures: snapshot, SSE
//! stages of `--fleet-stages`, memory per stream, the web app while changes arrive). kube-sim
//! (one process per cluster), fluxboard, the SSE readers (`fluxboard-bench clients`, at most
//! `--readers-per-process` each), kubectl and Chromium run as their own processes. Changes are
//! status patches whose Ready message carries a marker with the send time (see
//! [`crate::stats`], [`crate::changes`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use crate::changes::{Changes, KUSTOMIZATIONS};
use crate::procs::{CpuMeter, Fluxboard, Sim, rss};
use crate::stats::{ClientsReport, Percentiles, find, marker, now_nanos};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// The `fluxboard` binary (built with the web app embedded).
    #[arg(long)]
    pub(crate) fluxboard: std::path::PathBuf,
    /// The `kube-sim` binary.
    #[arg(long)]
    pub(crate) kube_sim: std::path::PathBuf,
    /// kubectl, for the reference latency.
    #[arg(long, default_value = "kubectl")]
    pub(crate) kubectl: std::path::PathBuf,
    /// About how many Flux objects each emulated cluster holds.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) objects: usize,
    /// How many emulated clusters the large fleet has (1: measure only the single cluster).
    #[arg(long, default_value_t = 5)]
    pub(crate) clusters: usize,
    /// The numbers of concurrent SSE readers on the single cluster, one stage each.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub(crate) clients: Vec<usize>,
    /// The large fleet's SSE stages: readers@changes per second.
    #[arg(long, value_delimiter = ',', default_value = "1000@100,5000@20")]
    pub(crate) fleet_stages: Vec<FleetStage>,
    /// The most SSE readers one `fluxboard-bench clients` process holds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) readers_per_process: usize,
    /// Changes per latency stage.
    #[arg(long, default_value_t = 200)]
    pub(crate) changes: usize,
    /// Changes per second on the single cluster.
    #[arg(long, default_value_t = 20.0)]
    pub(crate) rate: f64,
    /// Changes while Chromium shows the large fleet, and how many per second.
    #[arg(long, default_value_t = 1000)]
    pub(crate) browser_changes: usize,
    #[arg(long, default_value_t = 100.0)]
    pub(crate) browser_rate: f64,
    /// Reconcile requests for the action throughput (one user may send 120 a minute).
    #[arg(long, default_value_t = 100)]
    pub(crate) actions: usize,
    /// The built web app's assets (for the bundle size); skipped when absent.
    #[arg(long)]
    pub(crate) assets: Option<std::path::PathBuf>,
    /// Skip the Chromium measurement.
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Report the budgets without failing (a debug build or a small run measures nothing).
    #[arg(long)]
    pub(crate) no_budgets: bool,
    /// Where to write the results.
    #[arg(long, default_value = "target/bench/results.json")]
    pub(crate) out: std::path::PathBuf,
}

/// One SSE stage of the large fleet: how many readers, how many changes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FleetStage {
    pub(crate) clients: usize,
    pub(crate) rate: f64,
}

impl std::str::FromStr for FleetStage {
    type Err = String;

    fn from_str(text: &str) -> Result<FleetStage, String> {
        let (clients, rate) = text.split_once('@').ok_or_else(|| format!("{text:?}: expected readers@rate"))?;
        let clients = clients.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
        let rate: f64 = rate.trim().parse().map_err(|e| format!("{text:?}: {e}"))?;
        if rate <= 0.0 || !rate.is_finite() {
            return Err(format!("{text:?}: the rate must be positive"));
        }
        Ok(FleetStage { clients, rate })
    }
}

/// The flat results object.
pub(crate) type Results = BTreeMap<String, Value>;

/// A deadline for anything the run waits on.
pub(crate) const WAIT: Duration = Duration::from_secs(600);

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<Results> {
    let dir = tempfile::Builder::new().prefix("fluxboard-bench-").tempdir()?;
    let mut results = Results::new();
    results.insert("objects".into(), json!(args.objects));
    results.insert("clusters".into(), json!(args.clusters));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;

    say(&format!("starting kube-sim with about {} Flux objects", args.objects));
    let mut sims = crate::procs::start_sims(&args, dir.path(), 1, 1).await?;
    single(&args, &sims[0], dir.path(), &http, &mut results).await?;
    if args.clusters > 1 {
        say(&format!("starting {} more kube-sims of about {} Flux objects", args.clusters - 1, args.objects));
        sims.extend(crate::procs::start_sims(&args, dir.path(), 2, args.clusters).await?);
        fleet(&args, &sims, dir.path(), &http, &mut results).await?;
    }
    drop(sims);
    Ok(results)
}

/// The figures of one emulated cluster (`*_10k`).
async fn single(
    args: &RunArgs,
    sim: &Sim,
    dir: &Path,
    http: &reqwest::Client,
    results: &mut Results,
) -> anyhow::Result<()> {
    let fluxboard = Fluxboard::start(args, &sim.kubeconfig, &[&sim.name], &dir.join("fluxboard-10k.log"), http).await?;
    let url = fluxboard.url.clone();
    let (objects, background) = settle(http, &url).await?;
    results.insert("objects_in_store".into(), json!(objects));
    results.insert("background_changes_per_s_10k".into(), json!(round(background)));
    let mut changes = Changes::new(vec![sim.client.clone()], args.objects);
    snapshot(http, &url, &mut changes, "10k", results).await?;
    graph(http, &url, results).await?;
    kubectl_reference(args, &sim.kubeconfig, &mut changes, results).await?;
    let most = args.clients.iter().copied().max().unwrap_or(0);
    if most > 1 {
        watches_reference(args, sim, most, &mut changes, results).await?;
    }
    for &n in &args.clients {
        let stage = Stage { clients: n, rate: args.rate, key: format!("10k_{}", clients_label(n)) };
        let report = sse_stage(args, &fluxboard, &stage, &[sim], http, &mut changes, results).await?;
        if n == most {
            results.insert("snapshot_gzip_bytes_per_client".into(), json!(report.snapshot_bytes));
        }
    }
    let (peak, now) = rss(fluxboard.pid)?;
    results.insert("rss_mb_10k_1k".into(), json!(round(peak)));
    results.insert("rss_mb_now".into(), json!(round(now)));
    if let (Some(p99), Some(kubectl)) = (results.get("p99_ms_10k_1k"), results.get("kubectl_p99_ms")) {
        let ratio = p99.as_f64().unwrap_or(0.0) / kubectl.as_f64().unwrap_or(1.0).max(0.001);
        results.insert("p99_ratio_to_kubectl".into(), json!(round(ratio)));
    }
    let most = clients_label(most);
    if let (Some(p99), Some(watches)) =
        (results.get(&format!("p99_ms_10k_{most}")), results.get(&format!("watch_p99_ms_10k_{most}")))
    {
        let ratio = p99.as_f64().unwrap_or(0.0) / watches.as_f64().unwrap_or(1.0).max(0.001);
        results.insert(format!("p99_ratio_to_watches_{most}"), json!(round(ratio)));
    }
    actions(args, http, (&url, &sim.name), results).await?;
    if let Some(assets) = &args.assets {
        bundle(assets, results)?;
    }
    if !args.no_browser {
        crate::browser::quiet(&url, objects, results).await?;
    }
    Ok(())
}

/// The figures of every emulated cluster together (`*_50k`).
async fn fleet(
    args: &RunArgs,
    sims: &[Sim],
    dir: &Path,
    http: &reqwest::Client,
    results: &mut Results,
) -> anyhow::Result<()> {
    let kubeconfig = dir.join("fleet.kubeconfig");
    crate::procs::merged_kubeconfig(sims, &kubeconfig)?;
    let names: Vec<&str> = sims.iter().map(|s| s.name.as_str()).collect();
    let fluxboard = Fluxboard::start(args, &kubeconfig, &names, &dir.join("fluxboard-50k.log"), http).await?;
    let url = fluxboard.url.clone();
    let (objects, background) = settle(http, &url).await?;
    results.insert("objects_in_store_50k".into(), json!(objects));
    results.insert("background_changes_per_s_50k".into(), json!(round(background)));
    let mut changes = Changes::new(sims.iter().map(|s| s.client.clone()).collect(), args.objects);
    snapshot(http, &url, &mut changes, "50k", results).await?;
    results.insert("rss_mb_50k_idle".into(), json!(round(rss(fluxboard.pid)?.1)));
    let all: Vec<&Sim> = sims.iter().collect();
    for stage in &args.fleet_stages {
        let key = format!("50k_{}", clients_label(stage.clients));
        let stage = Stage { clients: stage.clients, rate: stage.rate, key };
        sse_stage(args, &fluxboard, &stage, &all, http, &mut changes, results).await?;
        results.insert(format!("rss_mb_{}", stage.key), json!(round(rss(fluxboard.pid)?.0)));
    }
    if !args.no_browser {
        let browsing = (args.browser_changes, args.browser_rate);
        crate::browser::under_changes(&url, objects, &mut changes, browsing, results).await?;
    }
    results.insert("rss_mb_50k_peak".into(), json!(round(rss(fluxboard.pid)?.0)));
    Ok(())
}

/// `1k` for 1000 readers, `5k` for 5000, `100` for 100.
fn clients_label(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) { format!("{}k", n / 1000) } else { n.to_string() }
}

pub(crate) fn say(what: &str) {
    eprintln!("bench: {what}");
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Polls `check` until it returns Some, for up to [`WAIT`] (the tests' shared `poll_until`).
pub(crate) async fn wait<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    Ok(fluxboard_e2e::poll_until(what, WAIT, check).await?)
}

/// Waits until the fleet has settled: the emulated controllers' first reconciliation of every
/// object is done, so the store holds as many objects over three polls and changes at less than
/// [`SETTLED_RATE`] of them per second (the failing Kustomizations go on being retried, see
/// [`crate::changes::FAILING_RETRY`]). Returns how many objects it holds, and the changes per
/// second it still sees.
async fn settle(http: &reqwest::Client, url: &str) -> anyhow::Result<(usize, f64)> {
    say("waiting for the fleet to settle");
    let mut polls: Vec<(Instant, u64, usize)> = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let snapshot: Value = http.get(format!("{url}/api/v1/snapshot")).send().await?.json().await?;
        let seq = snapshot["id"].as_str().and_then(|id| id.rsplit(':').next()?.parse().ok()).unwrap_or(0);
        polls.push((Instant::now(), seq, snapshot["objects"].as_array().map_or(0, Vec::len)));
        if let Some(settled) = settled(&polls) {
            return Ok(settled);
        }
        if Instant::now() > deadline {
            bail!("the fleet did not settle");
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

/// Below this many changes per second and object, a fleet has settled.
const SETTLED_RATE: f64 = 0.0005;

/// Whether the last three polls (time, sequence number, objects) show a settled fleet: the
/// objects and their changes per second, if so.
fn settled(polls: &[(Instant, u64, usize)]) -> Option<(usize, f64)> {
    let [first, .., last] = polls.get(polls.len().checked_sub(3)?..)? else { return None };
    let same = polls[polls.len() - 3..].iter().all(|p| p.2 == last.2);
    let rate = last.1.saturating_sub(first.1) as f64 / last.0.duration_since(first.0).as_secs_f64().max(1e-9);
    (same && last.2 > 0 && rate < SETTLED_RATE * last.2 as f64).then_some((last.2, rate))
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
    label: &str,
    results: &mut Results,
) -> anyhow::Result<()> {
    say(&format!("measuring the snapshot ({label})"));
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
    // The first is built whole (no shard compressed before); the others after one change.
    results.insert(format!("snapshot_first_ms_{label}"), json!(round(gzip_ms[0])));
    results.insert(format!("snapshot_ms_{label}"), json!(round(Percentiles::of(gzip_ms).p50_ms)));
    results.insert(format!("snapshot_uncompressed_ms_{label}"), json!(round(Percentiles::of(plain_ms).p50_ms)));
    results.insert(format!("snapshot_client_ms_{label}"), json!(round(Percentiles::of(client_ms).p50_ms)));
    results.insert(format!("snapshot_gzip_bytes_{label}"), json!(gzip_bytes));
    results.insert(format!("snapshot_bytes_{label}"), json!(plain_bytes));
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

/// The same changes seen by `n` watches straight on the API server, each on its own connection
/// as `n` kubectl processes would watch (`fluxboard-bench clients --watch`): what the server
/// itself gives as many readers as fluxboard's stage has (`watch_p99_ms_10k_1k`).
async fn watches_reference(
    args: &RunArgs,
    sim: &Sim,
    n: usize,
    changes: &mut Changes,
    results: &mut Results,
) -> anyhow::Result<()> {
    say(&format!("measuring {n} watches on the API server as the reference"));
    let key = format!("10k_{}", clients_label(n));
    let stage = format!("watch{key}");
    let (mut child, mut lines) = start_readers(args, Source::Watch(&sim.kubeconfig), (0, n), &stage, 1)?;
    let ready = tokio::time::timeout(WAIT, lines.next_line()).await.context("the watches did not open")??;
    if ready.as_deref() != Some("ready") {
        bail!("the watches failed to open: {ready:?}");
    }
    let sim_cpu = CpuMeter::start(sim.pid().into_iter().collect());
    let readers_cpu = CpuMeter::start(child.id().into_iter().collect());
    changes.stage(&stage, args.changes, args.rate).await?;
    let line = tokio::time::timeout(WAIT, lines.next_line()).await.context("the watches did not report")??;
    let readers_percent = readers_cpu.percent();
    let report: ClientsReport = serde_json::from_str(line.as_deref().unwrap_or_default())
        .with_context(|| format!("the watches' report: {line:?}"))?;
    let _ = child.wait().await;
    let latency = report.latency.percentiles();
    results.insert(format!("watch_p50_ms_{key}"), json!(round(latency.p50_ms)));
    results.insert(format!("watch_p99_ms_{key}"), json!(round(latency.p99_ms)));
    results.insert(format!("watch_missing_{key}"), json!(report.missing));
    results.insert(format!("watch_sim_cpu_percent_{key}"), json!(round(sim_cpu.percent())));
    results.insert(format!("watch_readers_cpu_percent_{key}"), json!(round(readers_percent)));
    say(&format!(
        "{n} watches on the API server: p50 {:.1} ms, p99 {:.1} ms, {} missing; kube-sim at {:.0}% of a core, readers {:.0}%",
        latency.p50_ms,
        latency.p99_ms,
        report.missing,
        sim_cpu.percent(),
        readers_percent
    ));
    Ok(())
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

/// One SSE stage: how many readers, the change rate, and the key of its figures.
struct Stage {
    clients: usize,
    rate: f64,
    key: String,
}

/// One latency stage: `stage.clients` SSE readers spread over reader processes, the stage's
/// changes, and what the readers saw; also fluxboard's memory per stream and CPU use.
async fn sse_stage(
    args: &RunArgs,
    fluxboard: &Fluxboard,
    stage: &Stage,
    sims: &[&Sim],
    http: &reqwest::Client,
    changes: &mut Changes,
    results: &mut Results,
) -> anyhow::Result<ClientsReport> {
    let (n, key) = (stage.clients, &stage.key);
    say(&format!("connecting {n} SSE readers"));
    let before = rss(fluxboard.pid)?.1;
    let name = format!("sse{key}");
    let mut readers = Vec::new();
    let processes = n.div_ceil(args.readers_per_process.max(1)).max(1);
    let mut first = 0;
    for i in 0..processes {
        let share = n / processes + usize::from(i < n % processes);
        readers.push(start_readers(
            args,
            Source::Fluxboard(&fluxboard.url),
            (first, share),
            &name,
            changes.clusters(),
        )?);
        first += share;
    }
    for (_, lines) in &mut readers {
        let ready = tokio::time::timeout(WAIT, lines.next_line()).await.context("the readers did not connect")??;
        if ready.as_deref() != Some("ready") {
            bail!("the readers failed to connect: {ready:?}");
        }
    }
    let connected_rss = rss(fluxboard.pid)?.1;
    if n > 0 {
        results.insert(
            format!("kb_per_stream_{key}"),
            json!(round((connected_rss - before).max(0.0) * 1024.0 / n as f64)),
        );
    }
    let watches = open_watches(sims).await?;
    let watches_key = if key.starts_with("10k_") {
        format!("watches_{n}_client{}", if n == 1 { "" } else { "s" })
    } else {
        format!("watches_{key}")
    };
    results.insert(watches_key, json!(watches));
    let streams = connected_streams(http, &fluxboard.metrics_url).await?;
    say(&format!(
        "{streams} streams connected, {watches} watches on the API servers; {} changes at {} per second",
        args.changes, stage.rate
    ));
    let cpu = CpuMeter::start(vec![fluxboard.pid]);
    let sims_cpu = CpuMeter::start(sims.iter().filter_map(|s| s.pid()).collect());
    let readers_cpu = CpuMeter::start(readers.iter().filter_map(|(child, _)| child.id()).collect());
    let achieved = changes.stage(&name, args.changes, stage.rate).await?;
    results.insert(format!("changes_per_s_{key}"), json!(round(achieved)));
    // Measured once every reader has seen the end (a reader process that exits is not counted).
    let mut reports = Vec::new();
    let mut readers_percent = None;
    for (mut child, mut lines) in readers {
        let line = tokio::time::timeout(WAIT, lines.next_line()).await.context("the readers did not report")??;
        readers_percent.get_or_insert_with(|| readers_cpu.percent());
        reports.push(
            serde_json::from_str::<ClientsReport>(line.as_deref().unwrap_or_default())
                .with_context(|| format!("the readers' report: {line:?}"))?,
        );
        let _ = child.wait().await;
    }
    results.insert(format!("readers_cpu_percent_{key}"), json!(round(readers_percent.unwrap_or(0.0))));
    results.insert(format!("cpu_percent_{key}"), json!(round(cpu.percent())));
    results.insert(format!("load_average_{key}"), json!(load_average()));
    results.insert(format!("sim_cpu_percent_{key}"), json!(round(sims_cpu.percent())));
    let report = ClientsReport::merge(&reports);
    let latency = report.latency.percentiles();
    results.insert(format!("p50_ms_{key}"), json!(round(latency.p50_ms)));
    results.insert(format!("p95_ms_{key}"), json!(round(latency.p95_ms)));
    results.insert(format!("p99_ms_{key}"), json!(round(latency.p99_ms)));
    results.insert(format!("missing_{key}"), json!(report.missing));
    results.insert(format!("ended_early_{key}"), json!(report.ended_early));
    say(&format!(
        "{n} readers: p50 {:.1} ms, p99 {:.1} ms, {} missing; fluxboard at {:.0}% of a core, readers {:.0}%, kube-sims {:.0}%",
        latency.p50_ms,
        latency.p99_ms,
        report.missing,
        cpu.percent(),
        readers_percent.unwrap_or(0.0),
        sims_cpu.percent()
    ));
    Ok(report)
}

/// The machine's load average over the last minute (other work on the machine shows in every
/// figure: there are two cores).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A reader process and its output lines.
type Readers = (tokio::process::Child, Lines<BufReader<ChildStdout>>);

/// What readers read: fluxboard's event stream, or the API server's watch (the kubeconfig).
#[derive(Clone, Copy)]
enum Source<'a> {
    Fluxboard(&'a str),
    Watch(&'a Path),
}

/// Starts one `fluxboard-bench clients` process of `count` readers, numbered from `first`.
fn start_readers(
    args: &RunArgs,
    source: Source<'_>,
    (first, count): (usize, usize),
    stage: &str,
    ends: usize,
) -> anyhow::Result<Readers> {
    let mut command = Command::new(std::env::current_exe()?);
    match source {
        Source::Fluxboard(url) => command.args(["clients", "--url", url]),
        Source::Watch(kubeconfig) => command.args(["clients", "--watch"]).arg(kubeconfig),
    };
    let mut child = command
        .args(["--n", &count.to_string(), "--stage", stage])
        .args(["--expect", &args.changes.to_string(), "--ends", &ends.to_string(), "--first", &first.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let lines = BufReader::new(child.stdout.take().context("the readers' stdout")?).lines();
    Ok((child, lines))
}

/// How many event streams fluxboard serves now (its `fluxboard_sse_clients`).
async fn connected_streams(http: &reqwest::Client, metrics_url: &str) -> anyhow::Result<u64> {
    let metrics = http.get(format!("{metrics_url}/metrics")).send().await?.text().await?;
    Ok(metrics
        .lines()
        .find_map(|l| l.strip_prefix("fluxboard_sse_clients "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// The watches open on the API server (its `apiserver_longrunning_requests`).
async fn open_watches(sims: &[&Sim]) -> anyhow::Result<u64> {
    let mut total = 0;
    for sim in sims {
        total += sim_watches(&sim.client).await?;
    }
    Ok(total)
}

/// The watches open on one API server.
async fn sim_watches(kube: &kube::Client) -> anyhow::Result<u64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = kube.request_text(request).await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_longrunning_requests{") && l.contains("verb=\"WATCH\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// Reconcile requests through the API, 16 at a time: requests per second and latency.
async fn actions(
    args: &RunArgs,
    http: &reqwest::Client,
    (url, cluster): (&str, &str),
    results: &mut Results,
) -> anyhow::Result<()> {
    say(&format!("sending {} reconcile requests", args.actions));
    let teams = args.objects.div_ceil(20).max(1);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (http, url, next, total) = (http.clone(), url.to_owned(), next.clone(), args.actions);
        let cluster = cluster.to_owned();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let body = json!({"action": "reconcile", "cluster": cluster, "group": KUSTOMIZATIONS.0,
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

/// The budgets of shared/DESIGN.md and of the scale goals (issue 17): (key, limit, what).
pub(crate) const BUDGETS: &[(&str, f64, &str)] = &[
    ("p99_ms_10k_1k", 100.0, "change-to-client p99 at 10k objects, 1k clients (ms)"),
    ("p99_ratio_to_kubectl", 2.0, "that p99 over kubectl get -w's on the same API server"),
    ("p99_ms_50k_1k", 250.0, "change-to-client p99 at 50k objects (5 clusters), 1k clients, 100 changes/s (ms)"),
    ("p99_ms_50k_5k", 250.0, "change-to-client p99 at 50k objects, 5k clients, 20 changes/s (ms)"),
    ("snapshot_ms_50k", 300.0, "snapshot of 50k objects, server time (ms)"),
    ("snapshot_gzip_bytes_50k", 2_000_000.0, "snapshot of 50k objects, compressed (bytes)"),
    ("rss_mb_50k_5k", 300.0, "backend peak RSS at 50k objects, 5k clients (MB)"),
    ("browser_longtask_ms_per_s_50k", 50.0, "web app at 50k objects, 100 changes/s: long tasks (ms per s)"),
    ("browser_list_shown_ms_50k", 2_000.0, "web app at 50k objects: list shown after navigation (ms)"),
    ("browser_search_ms_50k", 300.0, "web app at 50k objects: a search typed during the changes (ms)"),
    ("browser_busy_ms_per_s_50k", 100.0, "web app at 50k objects, 100 changes/s: main thread busy (ms per s)"),
    ("browser_wall_longtask_ms_per_s_50k", 50.0, "the wall at 50k objects, 100 changes/s: long tasks (ms per s)"),
    ("browser_wall_busy_ms_per_s_50k", 100.0, "the wall at 50k objects, 100 changes/s: main thread busy (ms per s)"),
    (
        "browser_graph_busy_ms_per_s_50k",
        100.0,
        "the graph page at 50k objects, 100 changes/s: main thread busy (ms per s)",
    ),
    (
        "browser_matrix_busy_ms_per_s_50k",
        100.0,
        "the release matrix at 50k objects, 100 changes/s: main thread busy (ms per s)",
    ),
    ("snapshot_ms_10k", 300.0, "snapshot of 10k objects, server time (ms)"),
    ("graph_build_ms_10k", 50.0, "fleet graph of 10k objects, built natively (ms)"),
    ("snapshot_gzip_bytes_10k", 1_500_000.0, "snapshot of 10k objects, compressed (bytes)"),
    ("rss_mb_10k_1k", 200.0, "backend peak RSS at 10k objects, 1k clients (MB)"),
    ("wasm_gzip_bytes", 400_000.0, "web app bundle, gzip (bytes)"),
    ("rows_10k_interactive_ms", 1_500.0, "10k-row list interactive in Chromium (ms)"),
];

/// The budgets a run's flags turn off: the web app's without Chromium, the large fleet's with
/// one cluster (a key, or a suffix such as `50k` of the keys).
pub(crate) fn skipped(args: &RunArgs) -> Vec<&'static str> {
    let mut skipped = Vec::new();
    if args.no_browser {
        skipped.extend(["rows_10k_interactive_ms", "browser_longtask_ms_per_s_50k"]);
        skipped.extend(["browser_list_shown_ms_50k", "browser_search_ms_50k", "browser_busy_ms_per_s_50k"]);
        skipped.extend(["browser_wall_longtask_ms_per_s_50k", "browser_wall_busy_ms_per_s_50k"]);
        skipped.extend(["browser_graph_busy_ms_per_s_50k", "browser_matrix_busy_ms_per_s_50k"]);
    }
    if args.clusters < 2 {
        skipped.push("50k");
    }
    if !args.fleet_stages.iter().any(|s| s.clients == 1000) {
        skipped.push("50k_1k");
    }
    if !args.fleet_stages.iter().any(|s| s.clients == 5000) {
        skipped.push("50k_5k");
    }
    skipped
}

/// Prints the results and the budgets; returns whether every budget was measured and met, and
/// no change was lost. Budgets in `skipped` (measurements turned off by flags, see
/// [`skipped`]) are listed as skipped.
pub(crate) fn report(results: &Results, skipped: &[&str]) -> bool {
    let skipped = |key: &str| skipped.iter().any(|s| key == *s || key.ends_with(&format!("_{s}")));
    println!();
    println!("{:<34} {:>14}", "measure", "value");
    for (key, value) in results {
        println!("{key:<34} {value:>14}");
    }
    println!();
    let mut met = true;
    for (key, limit, what) in BUDGETS {
        let Some(value) = results.get(*key).and_then(Value::as_f64) else {
            if skipped(key) {
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
    for (key, value) in results
        .iter()
        .filter(|(k, _)| k.starts_with("missing_") || k.starts_with("watch_missing_") || *k == "kubectl_missing")
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_has_settled_when_its_objects_stay_and_few_of_them_change() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // Still listing: the count grows.
        assert_eq!(settled(&[(at(0), 10, 900), (at(1), 20, 1000), (at(2), 21, 1000)]), None);
        // Still reconciling: 100 changes per second of 1000 objects.
        assert_eq!(settled(&[(at(0), 0, 1000), (at(1), 100, 1000), (at(2), 200, 1000)]), None);
        // Retrying a few failures: 2 per second of 10k.
        assert_eq!(settled(&[(at(0), 0, 10_000), (at(1), 2, 10_000), (at(2), 4, 10_000)]), Some((10_000, 2.0)));
        assert_eq!(settled(&[(at(0), 0, 1000), (at(1), 2, 1000), (at(2), 4, 1000)]), None);
        assert_eq!(settled(&[(at(0), 0, 1000), (at(1), 0, 1000)]), None);
        assert_eq!(settled(&[(at(0), 0, 0), (at(1), 0, 0), (at(2), 0, 0)]), None);
    }

    #[test]
    fn fleet_stages_read_as_readers_at_a_rate() {
        assert_eq!("5000@20".parse::<FleetStage>(), Ok(FleetStage { clients: 5000, rate: 20.0 }));
        for bad in ["5000", "x@1", "10@0", "10@-1", "10@inf"] {
            assert!(bad.parse::<FleetStage>().is_err(), "{bad}");
        }
        assert_eq!(clients_label(1000), "1k");
        assert_eq!(clients_label(5000), "5k");
        assert_eq!(clients_label(100), "100");
    }
}
