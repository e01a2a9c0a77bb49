//! kube-sim checked with the real `flux` CLI (github.com/fluxcd/flux2, built from its Go module
//! by tools/real-cluster/build.sh): what each command prints and exits with is what it prints
//! against the real API server and controllers (crates/real-cluster), the judge of the emulator.
//!
//! The binary: `FLUX_BIN`, else `$REAL_CLUSTER_BIN/flux`, else
//! `<workspace>/target/real-cluster/current/bin/flux`. Missing, every test fails and says how to
//! build it (`cargo xtask test` builds it first).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use common::{DEADLINE, wait_for};
use kube_sim::{FleetChoice, Sim, SimConfig};
use serde_json::{Value, json};
use tokio::process::Command;

const KS: &str = "kustomize.toolkit.fluxcd.io";
const SOURCE: &str = "source.toolkit.fluxcd.io";
const HELM: &str = "helm.toolkit.fluxcd.io";

fn flux_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("FLUX_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    if let Some(dir) = std::env::var_os("REAL_CLUSTER_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("flux");
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("the workspace root (a directory with Cargo.lock) above CARGO_MANIFEST_DIR");
    root.join("target/real-cluster/current/bin/flux")
}

/// What one run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// stdout and stderr (flux logs its progress lines to stderr).
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The flux CLI against a sim, with its own kubeconfig and discovery cache.
struct Flux {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

impl Flux {
    fn new(sim: &Sim) -> Self {
        let binary = flux_binary();
        assert!(
            binary.is_file(),
            "the flux CLI is required for these tests and is missing at {}: build it with \
             `bash tools/real-cluster/build.sh` (cargo xtask test runs it) or set FLUX_BIN",
            binary.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        Self { binary, kubeconfig, cache: tempfile::tempdir().unwrap(), _dir: dir }
    }

    /// Runs `flux <args>` to its end (within the deadline).
    async fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .env("HOME", self.cache.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(DEADLINE, command.output())
            .await
            .unwrap_or_else(|_| panic!("flux {args:?} did not finish within {DEADLINE:?}"))
            .expect("flux runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs flux expecting success; returns what it printed.
    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, Some(0), "flux {args:?} failed:\n{}", run.all());
        run
    }

    /// Runs flux expecting exit code 1.
    async fn fails(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, Some(1), "flux {args:?} should fail:\n{}", run.all());
        run
    }
}

async fn demo() -> Sim {
    common::start(SimConfig { fleet: FleetChoice::Demo("production".into()), ..SimConfig::default() }).await
}

async fn wait_ready(sim: &Sim, group: &str, kind: &str, namespace: &str, name: &str) -> Value {
    wait_for(&format!("{kind} {namespace}/{name} to be ready"), || async {
        let obj = sim.cluster().get(group, kind, namespace, name)?;
        common::is_ready(&obj).then(|| (*obj).clone())
    })
    .await
}

/// The settled demo: every source and the objects the tests use are Ready.
async fn settled() -> Sim {
    let sim = demo().await;
    wait_ready(&sim, KS, "Kustomization", "flux-system", "flux-system").await;
    wait_ready(&sim, KS, "Kustomization", "team-a", "podinfo").await;
    wait_ready(&sim, HELM, "HelmRelease", "team-a", "podinfo-frontend").await;
    sim
}

/// A table row's cells (flux prints tab-separated, space-padded columns).
fn cells(row: &str) -> Vec<&str> {
    row.split('\t').map(str::trim).filter(|c| !c.is_empty()).collect()
}

fn row<'a>(table: &'a str, first_cells: &[&str]) -> Vec<&'a str> {
    table
        .lines()
        .map(cells)
        .find(|c| c.starts_with(first_cells))
        .unwrap_or_else(|| panic!("a row starting {first_cells:?} in:\n{table}"))
}

/// `flux get all -A`: one table per kind with the CLI's columns, Ready and failing objects with
/// their messages and revisions; `--status-selector ready=false` keeps only the failing.
#[tokio::test]
async fn get_all_lists_every_kind_with_readiness_and_messages() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let out = flux.ok(&["get", "all", "-A"]).await.stdout;
    let headers: Vec<Vec<&str>> = out.lines().filter(|l| l.starts_with("NAMESPACE")).map(cells).collect();
    assert!(headers.len() >= 8, "a table per kind present:\n{out}");
    assert!(headers.contains(&vec!["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]), "{out}");
    let git = row(&out, &["flux-system", "gitrepository/flux-system"]);
    assert_eq!(git[3..5], ["False", "True"], "{git:?}");
    assert_eq!(git[5], format!("stored artifact for revision '{}'", git[2]), "{git:?}");
    assert!(git[2].starts_with("main@sha1:") && git[2].len() == "main@sha1:".len() + 8, "short revision: {git:?}");
    let ks = row(&out, &["team-a", "kustomization/podinfo"]);
    assert_eq!(ks[3..5], ["False", "True"], "{ks:?}");
    assert!(ks[5].starts_with("Applied revision: master@sha1:"), "{ks:?}");
    let hr = row(&out, &["team-a", "helmrelease/podinfo-frontend"]);
    assert_eq!(hr[2..5], ["6.5.4", "False", "True"], "{hr:?}");
    let failing = row(&out, &["team-b", "gitrepository/team-b-app"]);
    assert_eq!(failing[2..4], ["False", "False"], "no revision, not suspended, not ready: {failing:?}");
    assert!(failing[4].contains("authentication required"), "{failing:?}");
    let suspended = row(&out, &["team-b", "helmrelease/api"]);
    assert_eq!(suspended[2], "True", "no revision yet, suspended: {suspended:?}");

    let out = flux.ok(&["get", "kustomizations", "-A", "--status-selector", "ready=false"]).await.stdout;
    let names: Vec<&str> = out.lines().skip(1).map(|l| cells(l)[1]).collect();
    assert!(names.contains(&"team-b-app") && names.contains(&"backend"), "{out}");
    assert!(!names.contains(&"podinfo") && !names.contains(&"flux-system"), "{out}");
    let out = flux.ok(&["get", "sources", "git", "-n", "team-a"]).await.stdout;
    assert_eq!(cells(out.lines().next().unwrap()), ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]);
}

/// `flux reconcile kustomization --with-source`: the source is annotated and waited for (its
/// `lastHandledReconcileAt` must move to the new token and kstatus read Current), then the
/// Kustomization; the same for a HelmRelease through its HelmRepository and HelmChart.
#[tokio::test]
async fn reconcile_with_source_waits_for_each_token_and_readiness() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let run = flux.ok(&["reconcile", "kustomization", "podinfo", "-n", "team-a", "--with-source"]).await;
    let lines: Vec<&str> = run.stderr.lines().collect();
    let expected = [
        "► annotating GitRepository podinfo in team-a namespace",
        "✔ GitRepository annotated",
        "◎ waiting for GitRepository reconciliation",
        "✔ fetched revision master@sha1:",
        "► annotating Kustomization podinfo in team-a namespace",
        "✔ Kustomization annotated",
        "◎ waiting for Kustomization reconciliation",
        "✔ applied revision master@sha1:",
    ];
    assert_eq!(lines.len(), expected.len(), "{}", run.all());
    for (line, want) in lines.iter().zip(expected) {
        assert!(line.starts_with(want), "{line:?} should start {want:?}:\n{}", run.all());
    }
    for (kind, group) in [("GitRepository", SOURCE), ("Kustomization", KS)] {
        let obj = sim.cluster().get(group, kind, "team-a", "podinfo").unwrap();
        let token = obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str().expect("annotated");
        assert_eq!(obj["status"]["lastHandledReconcileAt"], token, "{kind} handled the CLI's token");
    }

    let run = flux.ok(&["reconcile", "helmrelease", "podinfo-frontend", "-n", "team-a", "--with-source"]).await;
    let all = run.all();
    for want in [
        "► annotating HelmRepository podinfo in team-a namespace",
        "✔ fetched revision sha256:",
        "► annotating HelmChart team-a-podinfo-frontend in team-a namespace",
        "✔ fetched revision 6.5.4",
        "► annotating HelmRelease podinfo-frontend in team-a namespace",
        "✔ applied revision 6.5.4",
    ] {
        assert!(all.contains(want), "{want:?} in:\n{all}");
    }
}

/// A failing object: kstatus reads it InProgress (its `status.observedGeneration` stays stale
/// and Reconciling=True), so the CLI waits to its timeout, as against the real controllers
/// ("✗ context deadline exceeded"); a stalled one fails at once with the Stalled message.
#[tokio::test]
async fn reconcile_of_a_failing_object_times_out_and_a_stalled_one_fails() {
    let sim = settled().await;
    wait_for("team-b-app to fail", || async {
        let obj = sim.cluster().get(KS, "Kustomization", "team-b", "team-b-app")?;
        (obj["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "False"))
            .then_some(())
    })
    .await;
    let flux = Flux::new(&sim);
    let run = flux.fails(&["reconcile", "ks", "team-b-app", "-n", "team-b", "--timeout", "2s"]).await;
    assert!(run.stderr.contains("◎ waiting for Kustomization reconciliation"), "{}", run.all());
    assert!(run.stderr.trim_end().ends_with("✗ context deadline exceeded"), "{}", run.all());
    let obj = sim.cluster().get(KS, "Kustomization", "team-b", "team-b-app").unwrap();
    let token = obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str().unwrap();
    assert_eq!(obj["status"]["lastHandledReconcileAt"], token, "handled, yet failing");

    wait_for("team-c/backend to stall", || async {
        let obj = sim.cluster().get(KS, "Kustomization", "team-c", "backend")?;
        (obj["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Stalled" && c["status"] == "True"))
            .then_some(())
    })
    .await;
    let run = flux.fails(&["reconcile", "ks", "backend", "-n", "team-c"]).await;
    assert!(
        run.stderr.trim_end().ends_with("✗ spec.path './deploy/prod' must be a relative path inside the artifact"),
        "{}",
        run.all()
    );
}

/// `flux suspend` sets `spec.suspend` (a merge patch), `flux reconcile` then refuses ("resource
/// is suspended"), `flux resume` clears it, requests a reconciliation and waits for it.
#[tokio::test]
async fn suspend_then_resume_a_kustomization() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let run = flux.ok(&["suspend", "kustomization", "podinfo", "-n", "team-a"]).await;
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        ["► suspending kustomization podinfo in team-a namespace", "✔ kustomization suspended"],
        "{}",
        run.all()
    );
    let obj = sim.cluster().get(KS, "Kustomization", "team-a", "podinfo").unwrap();
    assert_eq!(obj["spec"]["suspend"], true);
    let got = flux.ok(&["get", "ks", "podinfo", "-n", "team-a"]).await.stdout;
    assert_eq!(row(&got, &["podinfo"])[2], "True", "SUSPENDED: {got}");
    let run = flux.fails(&["reconcile", "ks", "podinfo", "-n", "team-a"]).await;
    assert_eq!(run.stderr.trim(), "✗ resource is suspended");

    let run = flux.ok(&["resume", "kustomization", "podinfo", "-n", "team-a"]).await;
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "► resuming kustomization podinfo in team-a namespace",
            "✔ kustomization resumed",
            "◎ waiting for Kustomization reconciliation",
            "✔ Kustomization podinfo reconciliation completed",
        ],
        "{}",
        run.all()
    );
    assert!(lines[4].starts_with("✔ applied revision master@sha1:"), "{}", run.all());
    let obj = sim.cluster().get(KS, "Kustomization", "team-a", "podinfo").unwrap();
    assert!(obj["spec"].get("suspend").is_none() || obj["spec"]["suspend"] == false, "{}", obj["spec"]);
    // Resume requests nothing: the generation the patch bumped is what gets reconciled.
    assert_eq!(obj["status"]["observedGeneration"], obj["metadata"]["generation"]);
    let patches: Vec<_> =
        sim.patches().into_iter().filter(|p| p.kind == "Kustomization" && p.name == "podinfo").collect();
    assert!(patches.iter().all(|p| p.content_type == "application/merge-patch+json"), "{patches:?}");
}

/// `flux events`: the namespace's Events of Flux objects in the CLI's columns; `--for` an
/// object shows its own and its source's.
#[tokio::test]
async fn events_list_a_namespace_and_one_object_with_its_source() {
    let sim = settled().await;
    wait_for("podinfo's events", || async {
        let events = sim.cluster().list("", "Event", |e| e["involvedObject"]["name"] == "podinfo");
        (events.len() >= 2).then_some(())
    })
    .await;
    let flux = Flux::new(&sim);
    let out = flux.ok(&["events", "-n", "team-a"]).await.stdout;
    assert_eq!(cells(out.lines().next().unwrap()), ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "{out}");
    let objects: Vec<&str> = out.lines().skip(1).filter_map(|l| cells(l).get(3).copied()).collect();
    for want in ["Kustomization/podinfo", "GitRepository/podinfo", "HelmRelease/podinfo-frontend"] {
        assert!(objects.contains(&want), "{want} in:\n{out}");
    }
    let installed = out.lines().map(cells).find(|c| c.get(2) == Some(&"InstallSucceeded")).expect("the install event");
    assert_eq!(
        installed[1..],
        [
            "Normal",
            "InstallSucceeded",
            "HelmRelease/podinfo-frontend",
            "Helm install succeeded for release team-a/podinfo-frontend.v1 with chart podinfo@6.5.4"
        ],
        "{out}"
    );

    // kustomize-controller's change set: one event, one line per object in apply order.
    let lines: Vec<Vec<&str>> = out.lines().map(cells).collect();
    let at = lines
        .iter()
        .position(|c| c.get(3) == Some(&"Kustomization/podinfo") && c.get(4).is_some_and(|m| m.ends_with(" created")))
        .unwrap_or_else(|| panic!("the change set event in:\n{out}"));
    assert_eq!(
        [lines[at][4], lines[at + 1][0], lines[at + 2][0]],
        [
            "ConfigMap/team-a/podinfo-config created",
            "Service/team-a/podinfo created",
            "Deployment/team-a/podinfo created"
        ],
        "{out}"
    );

    let out = flux.ok(&["events", "--for", "Kustomization/podinfo", "-n", "team-a"]).await.stdout;
    let objects: Vec<&str> = out.lines().skip(1).filter_map(|l| cells(l).get(3).copied()).collect();
    assert!(objects.contains(&"Kustomization/podinfo") && objects.contains(&"GitRepository/podinfo"), "{out}");
    assert!(!objects.contains(&"HelmRelease/podinfo-frontend"), "only the object and its source: {out}");

    let out = flux.ok(&["events", "-A"]).await.stdout;
    assert_eq!(cells(out.lines().next().unwrap())[0], "NAMESPACE", "{out}");
}

/// `flux tree kustomization`: the inventory, nested Kustomizations expanded, and a HelmRelease
/// expanded from Helm's storage Secret (the release manifest), as on a real cluster.
#[tokio::test]
async fn tree_expands_kustomizations_and_helm_releases() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let out = flux.ok(&["tree", "kustomization", "flux-system"]).await.stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Kustomization/flux-system/flux-system", "{out}");
    assert!(lines.contains(&"├── Kustomization/flux-system/apps"), "{out}");
    assert!(lines.contains(&"│   ├── Deployment/default/my-nginx-deploy"), "nested: {out}");

    // A Kustomization that deploys a HelmRelease.
    let release = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.4",
                 "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}});
    sim.content().set("GitRepository", "flux-system", "flux-system", "./releases", vec![release]);
    sim.cluster()
        .apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "releases", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": "./releases", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}))
        .unwrap();
    wait_ready(&sim, KS, "Kustomization", "flux-system", "releases").await;
    wait_ready(&sim, HELM, "HelmRelease", "team-a", "web").await;
    let secret = sim.cluster().get("", "Secret", "team-a", "sh.helm.release.v1.web.v1").expect("Helm's storage Secret");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"name": "web", "owner": "helm", "status": "deployed", "version": "1"})
    );
    let out = flux.ok(&["tree", "ks", "releases", "-n", "flux-system"]).await.stdout;
    assert_eq!(
        out.trim_end().lines().collect::<Vec<_>>(),
        [
            "Kustomization/flux-system/releases",
            "└── HelmRelease/team-a/web",
            "    ├── Service/team-a/web",
            "    └── Deployment/team-a/web",
        ],
        "{out}"
    );
    let json_out = flux.ok(&["tree", "ks", "releases", "-n", "flux-system", "-o", "json"]).await.stdout;
    let tree: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(tree["resources"][0]["resources"].as_array().map(Vec::len), Some(2), "{tree}");
}

/// `flux trace`: an object managed by a Kustomization traced to it and its GitRepository, one
/// managed by a HelmRelease to it, its HelmChart and HelmRepository; an unknown one fails.
#[tokio::test]
async fn trace_follows_an_object_to_its_sources() {
    let sim = settled().await;
    wait_for("team-a's deployments", || async {
        let found = sim.cluster().list("apps", "Deployment", |d| d["metadata"]["namespace"] == "team-a");
        (found.len() >= 2).then_some(())
    })
    .await;
    let flux = Flux::new(&sim);
    let out = flux.ok(&["trace", "-n", "team-a", "deployment", "podinfo"]).await.stdout;
    let fields = |out: &str| -> Vec<(String, String)> {
        out.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect()
    };
    let f = fields(&out);
    let has = |f: &[(String, String)], k: &str, v: &str| f.iter().any(|(a, b)| a == k && b == v);
    assert!(has(&f, "Object", "Deployment/podinfo") && has(&f, "Status", "Managed by Flux"), "{out}");
    assert!(has(&f, "Kustomization", "podinfo") && has(&f, "GitRepository", "podinfo"), "{out}");
    assert!(has(&f, "URL", "https://github.com/stefanprodan/podinfo") && has(&f, "Branch", "master"), "{out}");
    assert!(f.iter().any(|(k, v)| k == "Message" && v.starts_with("Applied revision: master@sha1:")), "{out}");

    let out = flux.ok(&["trace", "-n", "team-a", "deployment", "podinfo-frontend"]).await.stdout;
    let f = fields(&out);
    assert!(has(&f, "HelmRelease", "podinfo-frontend") && has(&f, "Revision", "6.5.4"), "{out}");
    assert!(has(&f, "HelmChart", "team-a-podinfo-frontend") && has(&f, "Chart", "podinfo"), "{out}");
    assert!(has(&f, "HelmRepository", "podinfo"), "{out}");

    let run = flux.fails(&["trace", "-n", "team-a", "deployment", "nope"]).await;
    assert!(run.stderr.contains(r#"deployments.apps "nope" not found"#), "{}", run.all());
}

/// `flux check`: the Kubernetes version, the controllers' Deployments and the CRDs labelled as
/// `flux install` labels them.
#[tokio::test]
async fn check_passes_on_an_installed_flux() {
    let sim = common::start(SimConfig { fleet: FleetChoice::Empty, ..SimConfig::default() }).await;
    wait_for("the controllers' pods", || async {
        let ready = sim.cluster().get("apps", "Deployment", "flux-system", "source-controller")?;
        (ready["status"]["readyReplicas"] == 1).then_some(())
    })
    .await;
    let flux = Flux::new(&sim);
    let run = flux.ok(&["check"]).await;
    let all = run.all();
    for want in [
        "✔ distribution: flux-v2.7.3",
        "✔ kustomize-controller: deployment ready",
        "✔ kustomizations.kustomize.toolkit.fluxcd.io/v1",
        "✔ helmreleases.helm.toolkit.fluxcd.io/v2",
        "✔ all checks passed",
    ] {
        assert!(all.contains(want), "{want:?} in:\n{all}");
    }
}

/// `flux diff kustomization --path`: a local build diffed against the cluster by server-side
/// dry-run apply: a drifted value shown field by field (a ConfigMap has no generation to
/// drift), objects the build lacks as to be deleted, exit 1 for a difference.
#[tokio::test]
async fn diff_shows_drift_through_server_side_dry_runs() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo-config\n  namespace: team-a\ndata:\n  LOG_LEVEL: debug\n",
    )
    .unwrap();
    let before = sim.cluster().get("", "ConfigMap", "team-a", "podinfo-config").unwrap();
    let path = dir.path().display().to_string();
    let run = flux.fails(&["diff", "kustomization", "podinfo", "-n", "team-a", "--path", &path]).await;
    let out = run.stdout;
    assert!(
        out.contains("► ConfigMap/team-a/podinfo-config drifted\n\ndata.LOG_LEVEL\n± value change\n- info\n+ debug\n"),
        "{out}"
    );
    assert!(!out.contains("metadata.generation"), "{out}");
    assert!(
        out.contains("► Deployment/team-a/podinfo deleted") && out.contains("► Service/team-a/podinfo deleted"),
        "{out}"
    );
    assert!(run.stderr.contains("identified at least one change"), "{}", run.stderr);
    let after = sim.cluster().get("", "ConfigMap", "team-a", "podinfo-config").unwrap();
    assert_eq!(after, before, "a dry run changes nothing");
}

/// `flux create source git` and `flux create kustomization` write the objects and wait for the
/// emulated controllers to make them Ready (a source kube-sim knows nothing of holds an empty
/// directory at its root); `flux delete -s` removes them.
#[tokio::test]
async fn create_then_delete_a_source_and_a_kustomization() {
    let sim = settled().await;
    let flux = Flux::new(&sim);
    let run = flux
        .ok(&["create", "source", "git", "demo", "--url=https://github.com/acme/demo", "--branch=main", "-n", "team-a"])
        .await;
    assert!(run.stderr.contains("✔ GitRepository source reconciliation completed"), "{}", run.all());
    assert!(run.stderr.contains("✔ fetched revision: main@sha1:"), "{}", run.all());
    let run = flux
        .ok(&["create", "kustomization", "demo", "--source=GitRepository/demo", "--path=./", "--prune", "-n", "team-a"])
        .await;
    assert!(run.stderr.contains("✔ Kustomization demo is ready"), "{}", run.all());
    let ks = sim.cluster().get(KS, "Kustomization", "team-a", "demo").unwrap();
    assert_eq!(ks["spec"]["sourceRef"], json!({"kind": "GitRepository", "name": "demo"}));
    flux.ok(&["delete", "kustomization", "demo", "-n", "team-a", "--silent"]).await;
    flux.ok(&["delete", "source", "git", "demo", "-n", "team-a", "--silent"]).await;
    wait_for("both gone", || async {
        (sim.cluster().get(KS, "Kustomization", "team-a", "demo").is_none()
            && sim.cluster().get(SOURCE, "GitRepository", "team-a", "demo").is_none())
        .then_some(())
    })
    .await;
}
