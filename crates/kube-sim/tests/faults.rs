//! Fault injection: dropped watches, compaction, stalls, API server restarts; and a watch
//! scale check (ignored by default: run with `cargo test -p kube-sim --release --test faults -- --ignored --nocapture`).

mod common;

use std::time::{Duration, Instant};

use common::DEADLINE;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    runtime::watcher,
};
use kube_sim::{ADMIN_TOKEN, SimConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

async fn wait_seen(
    events: &mut (impl futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin),
    name: &str,
) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) = events.next().await
                && o.name_any() == name
            {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the watcher sees {name}"));
}

#[tokio::test]
async fn a_watcher_survives_an_api_server_restart() {
    let sim = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    let api: Api<ConfigMap> = Api::namespaced(common::client(&sim, ADMIN_TOKEN).await, "default");
    api.create(&PostParams::default(), &config_map("before")).await.unwrap();
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    wait_seen(&mut events, "before").await;
    sim.restart().await.expect("restart");
    api.create(&PostParams::default(), &config_map("after")).await.expect("the restarted server answers");
    wait_seen(&mut events, "after").await;
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 2, "objects survive a restart");
}

#[tokio::test]
async fn dropped_watches_end_their_streams() {
    let sim = common::start(SimConfig { flux: false, tls: false, ..SimConfig::default() }).await;
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let request = format!(
        "GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    sim.drop_watches();
    // The response ends with the last chunk; the connection itself stays open for reuse.
    tokio::time::timeout(DEADLINE, async {
        let mut rest = Vec::new();
        let mut buf = [0u8; 1024];
        while !rest.ends_with(b"\r\n0\r\n\r\n") {
            let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before the last chunk");
            rest.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the watch response ends");
}

#[tokio::test]
async fn a_stalled_server_answers_once_released() {
    let sim = common::start(SimConfig { flux: false, ..SimConfig::default() }).await;
    let api: Api<ConfigMap> = Api::namespaced(common::client(&sim, ADMIN_TOKEN).await, "default");
    sim.set_stalled(true);
    let pending = tokio::spawn({
        let api = api.clone();
        async move { api.list(&ListParams::default()).await }
    });
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!pending.is_finished(), "no answer while stalled");
    sim.set_stalled(false);
    let answer = tokio::time::timeout(DEADLINE, pending).await.expect("an answer after the stall").unwrap();
    assert!(answer.is_ok());
}

/// How many watches the server holds and how many events per second it delivers to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a scale check, not a unit of correctness: run it by hand in release mode"]
async fn watch_scale() {
    const WATCHES: usize = 2000;
    const CHANGES: usize = 200;
    let sim = common::start(SimConfig { flux: false, tls: false, ..SimConfig::default() }).await;
    let request = format!(
        "GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion={} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n",
        sim.cluster().store.resource_version()
    );
    let started = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..WATCHES {
        let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut events = 0usize;
            while events < CHANGES && reader.read_line(&mut line).await.unwrap_or(0) > 0 {
                if line.contains("\"type\":\"ADDED\"") {
                    events += 1;
                }
                line.clear();
            }
            events
        }));
    }
    let opened = started.elapsed();
    let rt = sim.cluster().type_of_kind("", "ConfigMap").unwrap().clone();
    let sending = Instant::now();
    for i in 0..CHANGES {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}"), "namespace": "default"}});
        sim.cluster().store.create(&rt, obj).unwrap();
    }
    let mut delivered = 0;
    for reader in readers {
        delivered += tokio::time::timeout(Duration::from_secs(120), reader).await.unwrap().unwrap();
    }
    let elapsed = sending.elapsed();
    println!(
        "{WATCHES} concurrent watches opened in {opened:?}; {delivered} events delivered in {elapsed:?} ({:.0} events/s)",
        delivered as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(delivered, WATCHES * CHANGES);
}
