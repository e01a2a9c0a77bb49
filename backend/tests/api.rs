//! The HTTP API against a spawned app and an emulated cluster: the stream (snapshot, upserts,
//! deletes, resume, the compressed snapshot, stalled clients, watch faults), object details,
//! routing.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{DEADLINE, TestApp, about, wait_for};
use fluxboard::Options;
use fluxboard_model::api::{EventId, ObjectDetail, Snapshot};
use fluxboard_model::{KINDS, kind_info, summarize};
use serde_json::json;

const NOTIFICATION: &str = "notification.toolkit.fluxcd.io";

/// Every Flux object in the emulated cluster, as `kind/namespace/name`.
fn cluster_objects(app: &TestApp) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for info in KINDS.iter() {
        for obj in app.sim().cluster().list(info.group, info.kind, |_| true) {
            all.insert(format!(
                "{}/{}/{}",
                info.kind,
                obj["metadata"]["namespace"].as_str().unwrap(),
                obj["metadata"]["name"].as_str().unwrap()
            ));
        }
    }
    all
}

fn suspend(obj: &mut serde_json::Value) {
    obj["spec"]["suspend"] = json!(true);
}

#[tokio::test]
async fn the_snapshot_holds_every_flux_object_and_the_cluster_state() {
    let app = TestApp::start().await;
    app.ready().await;
    let mut stream = app.stream(None).await;
    let first = stream.next().await.expect("a first event");
    assert_eq!(first.event, "snapshot");
    assert!(EventId::parse(&first.id).is_some(), "id {:?}", first.id);
    let snapshot: Snapshot = serde_json::from_str(&first.data).expect("a snapshot");
    assert_eq!(snapshot.clusters.len(), 1);
    assert_eq!(snapshot.clusters[0].name, "production");
    assert_eq!(snapshot.clusters[0].kinds.len(), KINDS.len(), "every Flux kind is discovered");
    let seen: BTreeSet<String> =
        snapshot.objects.iter().map(|s| format!("{}/{}/{}", s.kind, s.namespace, s.name)).collect();
    assert_eq!(seen, cluster_objects(&app));
    // Health is computed as the model computes it from the live object.
    let apps = snapshot.objects.iter().find(|s| s.kind == "Kustomization" && s.name == "apps").expect("apps");
    assert_eq!(apps.cluster, "production");
    let failing = snapshot
        .objects
        .iter()
        .find(|s| s.namespace == "team-b" && s.name == "team-b-app" && s.kind == "GitRepository")
        .unwrap();
    let live = app.sim().cluster().get("source.toolkit.fluxcd.io", "GitRepository", "team-b", "team-b-app").unwrap();
    let expected = summarize("production", kind_info("source.toolkit.fluxcd.io", "GitRepository").unwrap(), &live);
    assert_eq!(failing.health, expected.health);
    assert_eq!(failing.message, expected.message);
    let (status, clusters) = app.get_json("/api/v1/clusters").await;
    assert_eq!(status, 200);
    assert_eq!(clusters[0]["state"], "connected");
}

#[tokio::test]
async fn a_change_arrives_as_one_upsert_and_a_delete_as_a_delete() {
    let app = TestApp::start().await;
    app.ready().await;
    let mut stream = app.stream(None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    app.edit(NOTIFICATION, "Alert", "flux-system", "on-call", suspend);
    app.edit(NOTIFICATION, "Alert", "flux-system", "commit-status", suspend);
    // Both changes come through the one Alert watch, in order: exactly one event for the first.
    let (last, before) = stream
        .until("the second alert", |e| e.event == "upsert" && about(e, "Alert", "flux-system", "commit-status"))
        .await;
    let first: Vec<_> =
        before.iter().filter(|e| e.event != "cluster" && about(e, "Alert", "flux-system", "on-call")).collect();
    assert_eq!(first.len(), 1, "{before:?}");
    assert_eq!(first[0].event, "upsert");
    assert_eq!(first[0].json()["suspended"], true);
    assert_eq!(first[0].json()["health"], "Suspended");
    assert_eq!(last.json()["health"], "Suspended");

    app.sim().cluster().delete("notification.toolkit.fluxcd.io/v1beta3", "Alert", "flux-system", "on-call").unwrap();
    let (deleted, _) = stream.until("the delete", |e| e.event == "delete").await;
    assert_eq!(
        deleted.json(),
        json!({"cluster": "production", "group": NOTIFICATION, "kind": "Alert", "namespace": "flux-system", "name": "on-call"})
    );
}

#[tokio::test]
async fn last_event_id_resumes_with_only_what_was_missed() {
    let app = TestApp::start().await;
    app.ready().await;
    let mut watcher = app.stream(None).await;
    let snapshot = watcher.next().await.unwrap();
    app.edit(NOTIFICATION, "Alert", "flux-system", "on-call", suspend);
    let (missed, _) =
        watcher.until("the change", |e| e.event == "upsert" && about(e, "Alert", "flux-system", "on-call")).await;
    // A client that saw the snapshot reconnects: it gets the changes after it, not a snapshot.
    let mut resumed = app.stream(Some(&snapshot.id)).await;
    let first = resumed.next().await.unwrap();
    assert_ne!(first.event, "snapshot");
    let (again, before) = if first.id == missed.id {
        (first.clone(), Vec::new())
    } else {
        resumed.until("the missed change", |e| e.id == missed.id).await
    };
    assert_eq!(again.data, missed.data);
    let snap_seq = EventId::parse(&snapshot.id).unwrap().seq;
    for e in before.iter().chain([&first]) {
        assert!(EventId::parse(&e.id).unwrap().seq > snap_seq, "only changes after the snapshot: {e:?}");
    }
    // Unknown, foreign and malformed ids get a fresh snapshot.
    let epoch = EventId::parse(&snapshot.id).unwrap().epoch;
    for id in ["garbage", "1:2:3", &format!("{}:1", epoch + 1), &format!("{epoch}:99999999")] {
        let mut s = app.stream(Some(id)).await;
        assert_eq!(s.next().await.unwrap().event, "snapshot", "Last-Event-ID {id:?}");
    }
}

#[tokio::test]
async fn the_compressed_snapshot_and_a_stream_after_it_miss_nothing() {
    let app = TestApp::start().await;
    app.ready().await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{}/api/v1/snapshot", app.url);
    let res = client.get(&url).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers()["server-timing"].to_str().unwrap().starts_with("snapshot;dur="));
    let compressed = res.bytes().await.unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut json).unwrap();
    assert!(compressed.len() * 3 < json.len(), "{} bytes compressed of {}", compressed.len(), json.len());
    let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
    let seen: BTreeSet<String> =
        snapshot.objects.iter().map(|s| format!("{}/{}/{}", s.kind, s.namespace, s.name)).collect();
    assert_eq!(seen, cluster_objects(&app));
    // Without gzip in Accept-Encoding: the same JSON, plain.
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Snapshot = plain.json().await.unwrap();
    assert_eq!(plain.objects.len(), snapshot.objects.len());

    // Changes made after the snapshot, before and after the stream opens, arrive once each, in
    // order, with no snapshot event.
    let at = EventId::parse(&snapshot.id).unwrap();
    let store = &app.app.state.store;
    let template = store.summaries()[0].as_ref().clone();
    let change = |n: u32| {
        let mut s = template.clone();
        s.message = format!("change {n}");
        store.upsert(s);
    };
    change(1);
    let mut stream = app.stream_at(&format!("/api/v1/stream?after={}", snapshot.id), None).await;
    change(2);
    let first = stream.next().await.unwrap();
    let second = stream.next().await.unwrap();
    assert_eq!((first.event.as_str(), second.event.as_str()), ("upsert", "upsert"));
    assert_eq!(first.json()["message"], "change 1");
    assert_eq!(second.json()["message"], "change 2");
    assert_eq!(EventId::parse(&first.id).unwrap().seq, at.seq + 1);
    assert_eq!(EventId::parse(&second.id).unwrap().seq, at.seq + 2);
    // Another process's id (a restart, another replica): one `resync` event, then the end, so
    // the client fetches the compressed snapshot rather than receive it uncompressed.
    let mut foreign = app.stream_at(&format!("/api/v1/stream?after={}:1", at.epoch + 1), None).await;
    assert_eq!(foreign.next().await.unwrap().event, "resync");
    assert!(foreign.until_end().await);
    let mut restarted = app.stream_at(&format!("/api/v1/stream?after={}", snapshot.id), Some("1:1")).await;
    assert_eq!(restarted.next().await.unwrap().event, "resync", "Last-Event-ID of another process");
    // Without `after`, a stale id still gets the full snapshot on the stream.
    let mut plain = app.stream(Some("1:1")).await;
    assert_eq!(plain.next().await.unwrap().event, "snapshot");
    for bad in ["after=", "after=yesterday", "after=1:2:3", "since=1:2"] {
        let res = reqwest::get(format!("{}/api/v1/stream?{bad}", app.url)).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }
}

/// A client that stops reading: the server closes its connection by itself (the write timeout,
/// or the bounded queue once its stream is polled), forgets its subscription, and a reading
/// client meanwhile gets every change without being held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_cut_off_and_released_while_others_keep_up() {
    let app = TestApp::start_with(Options {
        capacity: Some(64),
        write_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    app.ready().await;
    let metrics = &app.app.state.metrics;
    // A reader with a tiny receive window that reads nothing.
    let addr = app.url.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr.parse().unwrap()).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stalled
        .write_all(
            format!(
                "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    wait_for("the stalled client to connect", || async {
        (metrics.sse_clients.load(Ordering::Relaxed) == 1).then_some(())
    })
    .await;
    // A reader that keeps up, in its own task, counting the changes it gets.
    let mut reader = app.stream(None).await;
    assert_eq!(reader.next().await.unwrap().event, "snapshot");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let reading = tokio::spawn(async move {
        while let Some(e) = reader.next().await {
            if e.event == "upsert" && e.data.contains("flood ") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    // A flood of large changes straight into the fleet store, far more than the queue and the
    // socket buffers hold, in batches the reading client is given the time to take.
    let template = app.app.state.store.summaries()[0].as_ref().clone();
    let filler = "x".repeat(16 * 1024);
    let changes = 2000;
    for batch in 0..changes / 20 {
        for i in batch * 20..(batch + 1) * 20 {
            let mut summary = template.clone();
            summary.message = format!("flood {i} {filler}");
            app.app.state.store.upsert(summary);
        }
        let want = (batch + 1) * 20;
        wait_for("the reading client to get the batch", || async {
            (received.load(Ordering::SeqCst) >= want).then_some(())
        })
        .await;
    }
    // The stalled client, which has read nothing, is gone on the server's side.
    wait_for("the stalled client to be cut off and released", || async {
        (metrics.sse_clients.load(Ordering::Relaxed) == 1 && app.app.state.store.subscribers() == 1).then_some(())
    })
    .await;
    let cut = metrics.clients_cut_off.load(Ordering::Relaxed) + metrics.connections_stalled.load(Ordering::Relaxed);
    assert!(cut >= 1, "counted as cut off or stalled");
    // The reading client got every change and is still connected.
    assert_eq!(received.load(Ordering::SeqCst), changes);
    assert!(!reading.is_finished());
    // The stalled client, when it reads at last, finds the stream ended with a fraction sent.
    let mut bytes = Vec::new();
    let ended = tokio::time::timeout(DEADLINE, async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stalled client's connection was not closed");
    let upserts = String::from_utf8_lossy(&bytes).matches("event: upsert").count();
    assert!(upserts < changes / 2, "the stalled client got {upserts} of {changes}: buffered, not cut off");
    reading.abort();
}

async fn survives(app: &TestApp, fault: impl AsyncFnOnce(&kube_sim::Sim)) {
    app.ready().await;
    let mut stream = app.stream(None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    fault(app.sim()).await;
    // A change made while the watches are broken still arrives, after a re-list.
    let was =
        app.sim().cluster().get(NOTIFICATION, "Alert", "flux-system", "on-call").unwrap()["spec"]["suspend"] == true;
    app.edit(NOTIFICATION, "Alert", "flux-system", "on-call", |o| o["spec"]["suspend"] = json!(!was));
    stream
        .until("the change", |e| {
            e.event == "upsert" && about(e, "Alert", "flux-system", "on-call") && e.json()["suspended"] == !was
        })
        .await;
    app.ready().await;
    // The store equals the cluster again.
    wait_for("the store to converge", || async {
        let stored: BTreeSet<String> =
            app.app.state.store.summaries().iter().map(|s| format!("{}/{}/{}", s.kind, s.namespace, s.name)).collect();
        (stored == cluster_objects(app)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_410_after_compaction_is_survived_and_shown_as_reconnecting() {
    let app = TestApp::start().await;
    app.ready().await;
    let mut stream = app.stream(None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    // Changes the dashboard's watches cannot see yet, then history compacted: re-watching from
    // the last version it saw gets 410 Expired, and only a re-list recovers.
    app.sim().set_stalled(true);
    app.edit(NOTIFICATION, "Alert", "flux-system", "commit-status", suspend);
    app.sim().compact();
    app.sim().drop_watches();
    app.sim().set_stalled(false);
    let (reconnecting, _) = stream
        .until("a reconnecting cluster event", |e| e.event == "cluster" && e.json()["state"] == "reconnecting")
        .await;
    assert!(!reconnecting.json()["message"].as_str().unwrap().is_empty());
    stream.until("connected again", |e| e.event == "cluster" && e.json()["state"] == "connected").await;
    survives(&app, async |_| {}).await;
}

#[tokio::test]
async fn an_api_server_restart_and_dropped_watches_are_survived() {
    let app = TestApp::start().await;
    survives(&app, async |sim| sim.restart().await.unwrap()).await;
    survives(&app, async |sim| sim.drop_watches()).await;
}

#[tokio::test]
async fn object_detail_has_conditions_events_inventory_with_live_health_and_yaml() {
    let app = TestApp::start().await;
    app.ready().await;
    let path = "/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps";
    let detail: ObjectDetail = wait_for("the apps inventory to be healthy", || async {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{body}");
        let detail: ObjectDetail = serde_json::from_value(body).unwrap();
        let nginx = detail.inventory.as_ref()?.iter().find(|i| i.name == "my-nginx-deploy")?.clone();
        (nginx.health == fluxboard_model::api::ItemHealth::Current && !detail.events.is_empty()).then_some(detail)
    })
    .await;
    assert_eq!(detail.summary.name, "apps");
    assert_eq!(detail.api_version, "kustomize.toolkit.fluxcd.io/v1");
    assert!(detail.conditions.iter().any(|c| c.type_ == "Ready"));
    let nginx = detail.inventory.as_ref().unwrap().iter().find(|i| i.name == "my-nginx-deploy").unwrap();
    assert_eq!(
        (nginx.namespace.as_str(), nginx.group.as_str(), nginx.kind.as_str()),
        ("default", "apps", "Deployment")
    );
    assert_eq!(nginx.message, "2/2 replicas available");
    assert!(detail.yaml.contains("kind: Kustomization") && !detail.yaml.contains("managedFields"), "{}", detail.yaml);
    assert!(detail.events.iter().all(|e| !e.reason.is_empty()));
    // A HelmRelease has history.
    let (status, hr) =
        app.get_json("/api/v1/objects/production/helm.toolkit.fluxcd.io/HelmRelease/team-a/podinfo-frontend").await;
    assert_eq!(status, 200, "{hr}");
    assert!(!hr["history"].as_array().unwrap().is_empty(), "{hr}");
}

#[tokio::test]
async fn unknown_objects_kinds_and_clusters_are_clear_404s() {
    let app = TestApp::start().await;
    app.ready().await;
    for (path, needle) in [
        ("/api/v1/objects/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/nope", "not found"),
        ("/api/v1/objects/production/apps/Deployment/default/my-nginx-deploy", "not a Flux kind"),
        ("/api/v1/objects/nowhere/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", "no cluster"),
        ("/api/v1/nothing", "no route"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(needle), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_app_lives_under_a_base_path_and_page_routes_get_the_index() {
    let app = TestApp::start_with(Options { base_path: "/tools/flux/".into(), ..Options::default() }).await;
    assert!(app.url.ends_with("/tools/flux"));
    app.ready().await;
    let page = reqwest::get(format!("{}/objects/production/x", app.url)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(page.text().await.unwrap().contains("<base href=\"/tools/flux/\">"));
    let root = app.url.trim_end_matches("/tools/flux");
    let outside = reqwest::get(format!("{root}/healthz")).await.unwrap();
    assert_eq!(outside.status(), 404);
    let slash = reqwest::get(format!("{}/", app.url)).await.unwrap();
    assert_eq!(slash.status(), 200, "the base path with a trailing slash is the overview");
    let redirected = reqwest::get(format!("{root}/")).await.unwrap();
    assert_eq!(redirected.url().path(), "/tools/flux/", "the root redirects to the base path");
    for bad in ["/assets/../Cargo.toml", "/assets/%2e%2e/Cargo.toml", "/assets/nope.js"] {
        let body = reqwest::get(format!("{}{bad}", app.url)).await.unwrap().text().await.unwrap();
        assert!(!body.contains("[package]") && !body.contains("[workspace]"), "{bad} escaped the assets");
    }
    let mut stream = app.stream(None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
}

#[tokio::test]
async fn a_flux_2_2_cluster_is_read_at_the_versions_it_serves() {
    let sim = kube_sim::Sim::start(kube_sim::SimConfig {
        flux_release: "2.2".parse().unwrap(),
        fleet: kube_sim::FleetChoice::Empty,
        name: "old".into(),
        ..kube_sim::SimConfig::default()
    })
    .await
    .unwrap();
    sim.cluster()
        .apply(&json!({"apiVersion": "helm.toolkit.fluxcd.io/v2beta2", "kind": "HelmRelease",
            "metadata": {"name": "legacy", "namespace": "default"},
            "spec": {"interval": "10m", "suspend": true, "chart": {"spec": {"chart": "podinfo",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}}))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let clusters = fluxboard::cluster::from_kubeconfig(Some(&kubeconfig), &[]).await.unwrap();
    let app = fluxboard::App::start(clusters, &Options::default()).await.unwrap();
    let status = wait_for("the old cluster to sync", || async {
        app.state.store.clusters().into_iter().find(|c| c.state == fluxboard_model::api::ConnectionState::Connected)
    })
    .await;
    let version = |kind: &str| status.kinds.iter().find(|k| k.kind == kind).map(|k| k.version.clone());
    assert_eq!(version("HelmRelease").as_deref(), Some("v2beta2"));
    assert_eq!(version("OCIRepository").as_deref(), Some("v1beta2"));
    assert_eq!(version("ExternalArtifact"), None, "Flux 2.2 has no ExternalArtifact");
    let legacy = wait_for("the HelmRelease", || async {
        app.state.store.summaries().into_iter().find(|s| s.kind == "HelmRelease" && s.name == "legacy")
    })
    .await;
    assert_eq!(legacy.health, fluxboard_model::Health::Suspended);
}

#[tokio::test]
async fn shutting_down_ends_every_stream_so_clients_reconnect_elsewhere() {
    let app = TestApp::start().await;
    app.ready().await;
    let mut stream = app.stream(None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    app.app.end_streams();
    assert!(stream.until_end().await, "the stream ends");
    // New streams end at once too: the server is going away.
    let mut late = app.stream(None).await;
    assert_eq!(late.next().await.unwrap().event, "snapshot");
    assert!(late.until_end().await);
}
