//! `fluxboard-bench clients`: many SSE readers in one process, each doing what a browser tab
//! does (fetch the compressed snapshot, open the stream after it), recording when each
//! benchmark change arrives.
//!
//! It prints `ready` once every reader is streaming, then, after the stage's end markers (one
//! per cluster; or the deadline), one JSON line: a [`ClientsReport`].
//!
//! Readers are spread over loopback addresses (127.1.x.y, [`address`]), a few per address, as
//! browsers on many machines are: fluxboard allows one client address
//! [`fluxboard::stream::MAX_STREAMS_PER_CLIENT`] streams, and the benchmark keeps that default.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use tokio::sync::{Notify, Semaphore};

use crate::stats::{ClientsReport, Histogram, find, now_nanos};

/// How many readers connect at once.
const CONNECTING: usize = 50;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientsArgs {
    /// fluxboard's URL.
    #[arg(long, required_unless_present = "watch", default_value = "")]
    pub(crate) url: String,
    /// How many readers.
    #[arg(long)]
    pub(crate) n: usize,
    /// The stage whose markers count.
    #[arg(long)]
    pub(crate) stage: String,
    /// How many changes the stage makes.
    #[arg(long)]
    pub(crate) expect: usize,
    /// How many end markers end the stage (one per cluster the changes go to).
    #[arg(long, default_value_t = 1)]
    pub(crate) ends: usize,
    /// The first reader's number among every process's readers (for its address).
    #[arg(long, default_value_t = 0)]
    pub(crate) first: usize,
    /// How many readers share one client address.
    #[arg(long, default_value_t = 8)]
    pub(crate) per_address: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub(crate) deadline: u64,
    /// Instead of fluxboard's stream, watch the Kustomizations of the API server in this
    /// kubeconfig as `kubectl get -w` does (its own connection each, from the collection's
    /// resourceVersion): the same changes, straight from the server, for the reference.
    #[arg(long)]
    pub(crate) watch: Option<std::path::PathBuf>,
}

/// The loopback address of reader `n` (counted over every process): 127.1.0.1 for the first
/// `per_address` readers, then 127.1.0.2, and so on (the whole of 127.0.0.0/8 reaches the
/// loopback interface on Linux).
pub(crate) fn address(n: usize, per_address: usize) -> IpAddr {
    let i = n / per_address.max(1) + 1;
    IpAddr::V4(Ipv4Addr::new(127, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8))
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Seen {
    latencies: Histogram,
    received: Vec<bool>,
    ended_early: bool,
    snapshot_bytes: usize,
}

pub(crate) async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    // A thousand sockets need more than the common soft limit of 1024 open files.
    fluxboard::conn::raise_open_files_limit();
    let mut clients = std::collections::HashMap::new();
    let connected = Arc::new(AtomicUsize::new(0));
    let all_connected = Arc::new(Notify::new());
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.deadline);
    let mut readers = tokio::task::JoinSet::new();
    let watching = match &args.watch {
        Some(kubeconfig) => Some(Watching::new(kubeconfig).await?),
        None => None,
    };
    for i in 0..args.n {
        if let Some(watching) = &watching {
            let (args, connected, all_connected, gate) =
                (args.clone(), connected.clone(), all_connected.clone(), gate.clone());
            let watching = watching.clone();
            readers.spawn(async move {
                let permit = gate.acquire_owned().await.context("connect gate")?;
                let stream = watching.open().await?;
                drop(permit);
                if connected.fetch_add(1, Ordering::SeqCst) + 1 == args.n {
                    all_connected.notify_one();
                }
                anyhow::Ok(read(stream, b"", &args, deadline).await)
            });
            continue;
        }
        let local = address(args.first + i, args.per_address);
        let client = match clients.get(&local) {
            Some(client) => reqwest::Client::clone(client),
            None => {
                // No idle connections kept: each reader ends up with one connection, its
                // stream's, as a browser tab does (a pool shared by the readers of an address
                // would keep the snapshots' connections open beside the streams).
                let client = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(30))
                    .local_address(local)
                    .pool_max_idle_per_host(0)
                    .build()?;
                clients.insert(local, client.clone());
                client
            }
        };
        let (args, connected, all_connected, gate) =
            (args.clone(), connected.clone(), all_connected.clone(), gate.clone());
        readers.spawn(async move {
            let permit = gate.acquire_owned().await.context("connect gate")?;
            let (snapshot_bytes, stream) = connect(&client, &args.url).await?;
            drop(permit);
            if connected.fetch_add(1, Ordering::SeqCst) + 1 == args.n {
                all_connected.notify_one();
            }
            let mut seen = read(stream, b"data:", &args, deadline).await;
            seen.snapshot_bytes = snapshot_bytes;
            anyhow::Ok(seen)
        });
    }
    // Until every reader is connected, the first failure ends the run with its cause.
    let mut finished = Vec::new();
    while connected.load(Ordering::SeqCst) < args.n {
        tokio::select! {
            () = all_connected.notified() => {}
            done = readers.join_next() => match done {
                Some(Ok(Ok(seen))) => finished.push(seen),
                Some(Ok(Err(err))) => return Err(err.context("a reader failed")),
                Some(Err(err)) => bail!("a reader panicked: {err}"),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => {
                bail!("only {} of {} readers connected", connected.load(Ordering::SeqCst), args.n)
            }
        }
    }
    println!("ready");
    std::io::stdout().flush()?;
    let mut report = ClientsReport { clients: args.n, ..ClientsReport::default() };
    while let Some(reader) = readers.join_next().await {
        finished.push(reader.context("a reader panicked")??);
    }
    for seen in finished {
        report.latency.merge(&seen.latencies);
        report.missing += seen.received.iter().filter(|r| !**r).count();
        report.ended_early += usize::from(seen.ended_early);
        report.snapshot_bytes = seen.snapshot_bytes;
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

type Body = std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// The API server the watching readers watch, and where they start.
#[derive(Clone)]
struct Watching {
    config: kube::Config,
    resource_version: String,
}

/// The Kustomizations `kubectl get ks -A -w` watches.
const KUSTOMIZATIONS: &str = "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations";

impl Watching {
    async fn new(kubeconfig: &std::path::Path) -> anyhow::Result<Watching> {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
        let client = kube::Client::try_from(config.clone())?;
        let list: serde_json::Value =
            client.request(http::Request::get(format!("{KUSTOMIZATIONS}?limit=1")).body(Vec::new())?).await?;
        let resource_version =
            list["metadata"]["resourceVersion"].as_str().context("no resourceVersion on the list")?.to_owned();
        Ok(Watching { config, resource_version })
    }

    /// One watch, on a connection (a client) of its own as each kubectl has.
    async fn open(&self) -> anyhow::Result<Body> {
        use futures::AsyncReadExt as _;
        let client = kube::Client::try_from(self.config.clone())?;
        let url = format!("{KUSTOMIZATIONS}?watch=true&resourceVersion={}", self.resource_version);
        let reader =
            client.request_stream(http::Request::get(url).body(Vec::new())?).await.context("opening a watch")?;
        let chunks = futures::stream::unfold(Box::pin(reader), |mut reader| async move {
            let mut chunk = vec![0; 16 * 1024];
            match reader.read(&mut chunk).await {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok(bytes::Bytes::from(chunk)), reader))
                }
                Err(err) => Some((Err(err), reader)),
            }
        });
        Ok(Box::pin(chunks))
    }
}

/// Fetches the snapshot (gzip) and opens the stream after it.
async fn connect(client: &reqwest::Client, url: &str) -> anyhow::Result<(usize, Body)> {
    let res = client
        .get(format!("{url}/api/v1/snapshot"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .context("fetching the snapshot")?
        .error_for_status()?;
    let compressed = res.bytes().await.context("reading the snapshot")?;
    // Only the beginning is inflated: the id comes first, and a thousand readers inflating
    // 4 MB each would measure this process, not the server.
    let mut head = vec![0; 256];
    let n = flate2::read::GzDecoder::new(&compressed[..]).read(&mut head).context("inflating the snapshot")?;
    let head = String::from_utf8_lossy(&head[..n]);
    let id = head
        .strip_prefix("{\"id\":\"")
        .and_then(|rest| rest.split_once('"').map(|(id, _)| id))
        .with_context(|| format!("no id at the start of the snapshot: {head}"))?;
    let res = client
        .get(format!("{url}/api/v1/stream?after={id}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .context("opening the stream")?
        .error_for_status()?;
    Ok((compressed.len(), Box::pin(res.bytes_stream().map(|chunk| chunk.map_err(std::io::Error::other)))))
}

/// Reads events (the lines that start with `prefix`) until the stage's end markers, the end of
/// the stream, or the deadline.
async fn read(mut body: Body, prefix: &[u8], args: &ClientsArgs, deadline: tokio::time::Instant) -> Seen {
    let mut seen = Seen { received: vec![false; args.expect], ..Seen::default() };
    let mut ends = 0;
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            () = tokio::time::sleep_until(deadline) => return seen,
        };
        let Some(Ok(chunk)) = chunk else {
            seen.ended_early = true;
            return seen;
        };
        buffer.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(len) = buffer[start..].iter().position(|b| *b == b'\n') {
            let line = &buffer[start..start + len];
            start += len + 1;
            if !line.starts_with(prefix) {
                continue;
            }
            let Some(found) = std::str::from_utf8(line).ok().and_then(find) else { continue };
            if found.stage != args.stage {
                continue;
            }
            match found.n {
                None => {
                    ends += 1;
                    if ends >= args.ends {
                        return seen;
                    }
                }
                Some(n) if n < seen.received.len() && !seen.received[n] => {
                    seen.received[n] = true;
                    seen.latencies.record(now_nanos().saturating_sub(found.sent_nanos) as f64 / 1e6);
                }
                Some(_) => {}
            }
        }
        buffer.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_get_a_few_per_loopback_address() {
        assert_eq!(address(0, 8), IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)));
        assert_eq!(address(7, 8), address(0, 8));
        assert_eq!(address(8, 8), IpAddr::V4(Ipv4Addr::new(127, 1, 0, 2)));
        assert_eq!(address(8 * 255, 8), IpAddr::V4(Ipv4Addr::new(127, 1, 1, 0)));
        let many: std::collections::HashSet<IpAddr> = (0..5000).map(|n| address(n, 8)).collect();
        assert_eq!(many.len(), 625);
        assert!(many.iter().all(IpAddr::is_loopback));
    }
}
