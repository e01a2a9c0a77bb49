//! The real `flux` CLI (Flux 2.9.5, built by tools/real-cluster/build.sh) against kube-sim and
//! against the real stack holding the same fleet: `flux get`, `reconcile --with-source`,
//! `suspend`/`resume`, `events`, `tree` and `trace` each exit as they do on the real stack, and
//! what they print agrees once hashes, numbers and ages are masked. Differences not in [`KNOWN`]
//! fail, and so does a known one that went away.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kube_sim::{Sim, SimConfig};
use real_cluster::{Cluster, Options, fleet};
use serde_json::Value;

/// Differences found by this test and not yet fixed in kube-sim: (command, what).
const KNOWN: &[(&str, &str)] = &[];

/// The commands, as (name, arguments).
const COMMANDS: &[(&str, &[&str])] = &[
    ("get kustomizations", &["get", "kustomizations", "-A"]),
    ("get sources git", &["get", "sources", "git", "-A"]),
    ("get helmreleases", &["get", "helmreleases", "-A"]),
    (
        "reconcile kustomization with source",
        &["reconcile", "kustomization", "apps-team-a", "-n", "flux-system", "--with-source", "--timeout=90s"],
    ),
    (
        "reconcile helmrelease with source",
        &["reconcile", "helmrelease", "frontend", "-n", "team-a", "--with-source", "--timeout=90s"],
    ),
    (
        "reconcile the failing kustomization",
        &["reconcile", "kustomization", "broken", "-n", "flux-system", "--timeout=15s"],
    ),
    ("suspend", &["suspend", "kustomization", "apps-team-b", "-n", "flux-system"]),
    ("get the suspended one", &["get", "kustomization", "apps-team-b", "-n", "flux-system"]),
    ("resume", &["resume", "kustomization", "apps-team-b", "-n", "flux-system", "--timeout=90s"]),
    ("events", &["events", "--for", "Kustomization/apps-team-a", "-n", "flux-system"]),
    ("tree", &["tree", "kustomization", "infrastructure", "-n", "flux-system"]),
    ("trace", &["trace", "web", "--kind=Deployment", "--api-version=apps/v1", "-n", "team-a"]),
];

/// Durations and ages (words starting with a digit and ending in a unit letter) as `D`, hashes
/// (hex runs of 7 or more with a digit) as `H`, digit runs as `N`, runs of spaces as one, lines
/// sorted (the CLI's order follows the API server's list order, which may differ).
fn mask(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| {
                    if w.starts_with(|c: char| c.is_ascii_digit())
                        && w.ends_with(|c: char| "smhd".contains(c))
                        && !w.contains(':')
                    {
                        "D".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            let line = words.join(" ");
            let chars: Vec<char> = line.chars().collect();
            let mut out = String::new();
            let mut i = 0;
            while i < chars.len() {
                let mut j = i;
                while j < chars.len() && chars[j].is_ascii_hexdigit() {
                    j += 1;
                }
                if j - i >= 7 && chars[i..j].iter().any(char::is_ascii_digit) {
                    out.push('H');
                    i = j;
                } else if chars[i].is_ascii_digit() {
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    out.push('N');
                } else {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            out
        })
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// `flux events` as the set of (type, reason, object) it lists: counts, ages and messages follow
/// timing, not behaviour. DependencyNotReady is left out: whether the real kustomize-controller
/// reconciles apps-team-a before or after its dependency is Ready is a race of the fleet's first
/// minute (CI saw both), so its presence says nothing about either side.
fn event_kinds(lines: Vec<String>) -> Vec<String> {
    let mut kinds: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            // Drop a repeat count, "(xN over D)", however its age was masked.
            let mut words: Vec<&str> = Vec::new();
            let mut in_count = false;
            for w in l.split_whitespace() {
                if w.starts_with("(x") || in_count {
                    in_count = !w.ends_with(')');
                } else {
                    words.push(w);
                }
            }
            (words.first() == Some(&"D") && words.len() >= 4 && words[2] != "DependencyNotReady")
                .then(|| words[1..4].join(" "))
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Runs every command against the cluster of `kubeconfig`: name -> (exit code, masked output);
/// `scratch` (the real cluster's TMPDIR, in kustomize-controller's messages) reads as `/tmp`.
fn run_all(flux: &Path, kubeconfig: &Path, context: &str, scratch: &str) -> BTreeMap<&'static str, (i32, Vec<String>)> {
    let mut out = BTreeMap::new();
    for (name, args) in COMMANDS {
        let result = Command::new(flux)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--context")
            .arg(context)
            .args(*args)
            .env("NO_COLOR", "1")
            .output()
            .expect("flux runs");
        let text = format!("{}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
        let lines = mask(&text.replace(scratch, "/tmp"));
        let lines = if *name == "events" { event_kinds(lines) } else { lines };
        out.insert(*name, (result.status.code().unwrap_or(-1), lines));
    }
    out
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn the_flux_cli_works_on_kube_sim_as_on_the_real_stack() {
    let cluster = Cluster::start(&Options::default()).unwrap_or_else(|e| panic!("the real cluster starts: {e:#}"));
    let flux = cluster.bin_dir.join("flux");
    let url = cluster.sources.as_ref().expect("the fleet's sources").url();
    let scratch = format!("{}/tmp", cluster.dir.display());
    let real = run_all(&flux, &cluster.kubeconfig, "real-cluster", &scratch);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let emulated = runtime.block_on(async {
        let sim = Sim::start(SimConfig { name: "real-cluster".into(), ..SimConfig::default() })
            .await
            .expect("kube-sim starts");
        let mut dirs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (path, text) in fleet::repo_files() {
            let dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
            dirs.entry(dir).or_default().extend(yaml_docs(&text));
        }
        for (dir, docs) in dirs {
            sim.content().set("GitRepository", "flux-system", "fleet", &dir, docs);
        }
        for ns in fleet::NAMESPACES {
            sim.cluster()
                .apply(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace");
        }
        // kube-sim stands in for the same Git server: the repository that does not exist fails.
        sim.content().serve_git(&format!("{url}/git"), &["fleet.git"]);
        for obj in yaml_docs(&fleet::objects(&url, &format!("{url}/charts"))) {
            sim.cluster().apply(&obj).expect("apply");
        }
        let kubeconfig = cluster.dir.join("kube-sim.kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let flux = flux.clone();
        let scratch = scratch.clone();
        tokio::task::spawn_blocking(move || run_all(&flux, &kubeconfig, "real-cluster", &scratch)).await.expect("runs")
    });

    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for (name, _) in COMMANDS {
        let (want, got) = (&real[name], &emulated[name]);
        println!("{name}: exit {}\n  {}", want.0, want.1.join("\n  "));
        let known = KNOWN.iter().any(|(k, _)| k == name);
        if want != got && !known {
            unexpected.push(format!(
                "flux {name}:\n  real (exit {}):\n    {}\n  kube-sim (exit {}):\n    {}",
                want.0,
                want.1.join("\n    "),
                got.0,
                got.1.join("\n    ")
            ));
        } else if want == got && known {
            stale.push(name.to_string());
        }
    }
    assert!(stale.is_empty(), "known differences that no longer differ (remove them from KNOWN): {stale:?}");
    assert!(unexpected.is_empty(), "the flux CLI reads kube-sim differently:\n{}", unexpected.join("\n"));
}
