//! `fluxboard-bench clients`: many SSE readers in one process, each doing what a browser tab
//! does (fetch the compressed snapshot, open the stream after it), recording when each
//! benchmark change arrives.
//!
//! It prints `ready` once every reader is streaming, then, after the stage's end marker (or
//! the deadline), one JSON line: a [`ClientsReport`].

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use tokio::sync::{Notify, Semaphore};

use crate::stats::{ClientsReport, Percentiles, find, now_nanos};

/// How many readers connect at once.
const CONNECTING: usize = 50;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientsArgs {
    /// fluxboard's URL.
    #[arg(long)]
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
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub(crate) deadline: u64,
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Seen {
    latencies: Vec<f64>,
    received: Vec<bool>,
    ended_early: bool,
    snapshot_bytes: usize,
}

pub(crate) async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    // A thousand sockets need more than the common soft limit of 1024 open files.
    fluxboard::conn::raise_open_files_limit();
    let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(30)).build()?;
    let connected = Arc::new(AtomicUsize::new(0));
    let all_connected = Arc::new(Notify::new());
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.deadline);
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..args.n {
        let (client, args, connected, all_connected, gate) =
            (client.clone(), args.clone(), connected.clone(), all_connected.clone(), gate.clone());
        readers.spawn(async move {
            let permit = gate.acquire_owned().await.context("connect gate")?;
            let (snapshot_bytes, stream) = connect(&client, &args.url).await?;
            drop(permit);
            if connected.fetch_add(1, Ordering::SeqCst) + 1 == args.n {
                all_connected.notify_one();
            }
            let mut seen = read(stream, &args, deadline).await;
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
    let mut latencies = Vec::new();
    while let Some(reader) = readers.join_next().await {
        finished.push(reader.context("a reader panicked")??);
    }
    for seen in finished {
        latencies.extend(seen.latencies);
        report.missing += seen.received.iter().filter(|r| !**r).count();
        report.ended_early += usize::from(seen.ended_early);
        report.snapshot_bytes = seen.snapshot_bytes;
    }
    report.latency = Percentiles::of(latencies);
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

type Body = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

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
    Ok((compressed.len(), Box::pin(res.bytes_stream())))
}

/// Reads events until the stage's end marker, the end of the stream, or the deadline.
async fn read(mut body: Body, args: &ClientsArgs, deadline: tokio::time::Instant) -> Seen {
    let mut seen = Seen { received: vec![false; args.expect], ..Seen::default() };
    let mut buffer = String::new();
    loop {
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            () = tokio::time::sleep_until(deadline) => return seen,
        };
        let Some(Ok(chunk)) = chunk else {
            seen.ended_early = true;
            return seen;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            if !line.starts_with("data:") {
                continue;
            }
            let Some(found) = find(&line) else { continue };
            if found.stage != args.stage {
                continue;
            }
            match found.n {
                None => return seen,
                Some(n) if n < seen.received.len() && !seen.received[n] => {
                    seen.received[n] = true;
                    seen.latencies.push(now_nanos().saturating_sub(found.sent_nanos) as f64 / 1e6);
                }
                Some(_) => {}
            }
        }
    }
}
