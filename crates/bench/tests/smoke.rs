//! The benchmark itself keeps working: one small run of every measurement (debug binaries, a
//! few hundred objects per cluster, two clusters, a handful of readers in more than one reader
//! process), and the results hold every key the budgets and the README name, with nothing lost.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

#[tokio::test]
async fn a_small_run_measures_everything_and_loses_nothing() {
    let bench = Path::new(env!("CARGO_BIN_EXE_fluxboard-bench"));
    // `cargo test --workspace` builds the other packages' binaries into the same directory
    // (with `cargo test -p fluxboard-bench` alone they may be stale builds).
    let bin_dir = bench.parent().unwrap();
    let (fluxboard, kube_sim) = (bin_dir.join("fluxboard"), bin_dir.join("kube-sim"));
    assert!(
        fluxboard.exists() && kube_sim.exists(),
        "run with `cargo test --workspace` so that {} and {} are built",
        fluxboard.display(),
        kube_sim.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend/dist/assets");
    let mut cmd = Command::new(bench);
    cmd.args(["run", "--objects", "200", "--clients", "1,4", "--changes", "10", "--rate", "50", "--actions", "20"])
        .args(["--clusters", "2", "--fleet-stages", "3@50,7@50", "--readers-per-process", "3"])
        .arg("--fluxboard")
        .arg(&fluxboard)
        .arg("--kube-sim")
        .arg(&kube_sim)
        .arg("--out")
        .arg(&out)
        .arg("--no-browser")
        .arg("--no-budgets");
    if assets.exists() {
        cmd.arg("--assets").arg(&assets);
    }
    if let Some(kubectl) = std::env::var_os("KUBECTL") {
        cmd.arg("--kubectl").arg(kubectl);
    }
    // A bounded run: the benchmark's own waits are long (minutes at full scale).
    cmd.kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("the benchmark finishes within 5 minutes")
        .unwrap();
    assert!(output.status.success(), "the benchmark failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for key in [
        "kubectl_p99_ms",
        "watch_p99_ms_10k_4",
        "p99_ratio_to_watches_4",
        "snapshot_gzip_bytes_10k",
        "snapshot_bytes_10k",
        "rss_mb_10k_1k",
        "watches_1_client",
        "watches_4_clients",
        "p99_ms_10k_4",
        "actions_per_s",
        "graph_objects",
        "snapshot_gzip_bytes_50k",
        "p99_ms_50k_3",
        "p99_ms_50k_7",
        "rss_mb_50k_7",
        "kb_per_stream_50k_7",
        "cpu_percent_50k_7",
    ] {
        assert!(results[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {results}");
    }
    // A few hundred objects may build in less than the figures' precision (a snapshot after one
    // change recompresses one piece of a few objects).
    for key in ["graph_build_ms_10k", "snapshot_ms_10k", "snapshot_ms_50k", "snapshot_first_ms_50k"] {
        assert!(results[key].as_f64().is_some_and(|v| v >= 0.0), "{key} in {results}");
    }
    assert_eq!(results["missing_10k_1"], 0, "{results}");
    assert_eq!(results["missing_10k_4"], 0, "{results}");
    // Seven readers in three processes, changes on two clusters: none lost, none cut off.
    assert_eq!(results["missing_50k_3"], 0, "{results}");
    assert_eq!(results["missing_50k_7"], 0, "{results}");
    assert_eq!(results["ended_early_50k_7"], 0, "{results}");
    assert!(results["objects_in_store_50k"].as_f64() > results["objects_in_store"].as_f64(), "{results}");
    assert_eq!(results["kubectl_missing"], 0, "{results}");
    assert_eq!(results["watch_missing_10k_4"], 0, "{results}");
    assert_eq!(results["actions_not_accepted"], 0, "{results}");
    assert_eq!(results["watches_1_client"], results["watches_4_clients"], "watches do not depend on clients");
    assert!(results["snapshot_gzip_bytes_10k"].as_f64() < results["snapshot_bytes_10k"].as_f64());
}
