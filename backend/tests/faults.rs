//! A hundred watch faults in a row (dropped watches, 410 Expired after compaction, API server
//! restarts, stalls, floods of changes): after each, the fleet store and a connected stream
//! client's view both equal what the emulated API server holds. Nothing lost, nothing stale.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{SseEvent, TestApp, wait_for};
use fluxboard_model::api::{ObjectRef, Snapshot};
use fluxboard_model::{KINDS, Summary, summarize};
use fluxboard_test_support::SseParser;
use serde_json::json;

type Fleet = BTreeMap<ObjectRef, Summary>;

/// What the emulated API server holds, summarized as fluxboard summarizes it.
fn cluster_fleet(app: &TestApp) -> Fleet {
    let mut fleet = Fleet::new();
    for info in KINDS.iter() {
        for obj in app.sim().cluster().list(info.group, info.kind, |_| true) {
            let s = summarize("production", info, &obj);
            fleet.insert(ObjectRef::of(&s), s);
        }
    }
    fleet
}

fn store_fleet(app: &TestApp) -> Fleet {
    app.app.state.store.summaries().into_iter().map(|s| (ObjectRef::of(&s), (*s).clone())).collect()
}

/// Applies one stream event to a client's copy of the fleet.
fn apply(fleet: &mut Fleet, event: &SseEvent) {
    match event.event.as_str() {
        "snapshot" => {
            let snapshot: Snapshot = serde_json::from_str(&event.data).unwrap();
            *fleet = snapshot.objects.into_iter().map(|s| (ObjectRef::of(&s), s)).collect();
        }
        "upsert" => {
            let s: Summary = serde_json::from_str(&event.data).unwrap();
            fleet.insert(ObjectRef::of(&s), s);
        }
        "delete" => {
            let r: ObjectRef = serde_json::from_str(&event.data).unwrap();
            fleet.remove(&r);
        }
        _ => {}
    }
}

/// A stream client that keeps its own copy of the fleet, as the browser does, reconnecting
/// with its last event id when the stream ends.
fn follow(app: &TestApp) -> Arc<Mutex<Fleet>> {
    let view = Arc::new(Mutex::new(Fleet::new()));
    let (url, shared) = (app.url.clone(), view.clone());
    tokio::spawn(async move {
        let mut last: Option<String> = None;
        loop {
            let mut req = reqwest::Client::new().get(format!("{url}/api/v1/stream"));
            if let Some(id) = &last {
                req = req.header("Last-Event-ID", id);
            }
            let Ok(mut res) = req.send().await else { return };
            let mut parser = SseParser::default();
            while let Ok(Some(chunk)) = res.chunk().await {
                parser.push(&chunk);
                while let Some(event) = parser.next_event() {
                    if !event.id.is_empty() {
                        last = Some(event.id.clone());
                    }
                    apply(&mut shared.lock().unwrap(), &event);
                }
            }
        }
    });
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_faults_in_a_row_leave_the_store_and_a_client_equal_to_the_cluster() {
    let app = TestApp::start().await;
    app.ready().await;
    let view = follow(&app);
    let sim = app.sim();
    let toggle = |round: usize| {
        app.edit("notification.toolkit.fluxcd.io", "Alert", "flux-system", "on-call", |o| {
            o["spec"]["suspend"] = json!(round.is_multiple_of(2));
        });
    };
    for round in 0..100 {
        match round % 5 {
            0 => {
                sim.drop_watches();
                toggle(round);
            }
            1 => {
                // Changes the watches cannot deliver, then history gone: 410 Expired on re-watch.
                sim.set_stalled(true);
                toggle(round);
                sim.compact();
                sim.drop_watches();
                sim.set_stalled(false);
            }
            2 => {
                sim.restart().await.unwrap();
                toggle(round);
            }
            3 => {
                sim.set_stalled(true);
                toggle(round);
                sim.set_stalled(false);
            }
            _ => {
                // A flood of changes to one object, then the toggle.
                let ks = sim.cluster().type_of_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap().clone();
                app.edit("kustomize.toolkit.fluxcd.io", "Kustomization", "team-c", "backend", |o| {
                    o["spec"]["suspend"] = json!(true)
                });
                for i in 0..50 {
                    let status = json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False",
                        "reason": "Flood", "message": format!("round {round} change {i}"), "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
                    sim.cluster().write_status(&ks, "team-c", "backend", status).unwrap();
                }
                toggle(round);
            }
        }
        wait_for(&format!("the store and the client to equal the cluster after fault {round}"), || async {
            let expected = cluster_fleet(&app);
            (store_fleet(&app) == expected && *view.lock().unwrap() == expected).then_some(())
        })
        .await;
    }
}
