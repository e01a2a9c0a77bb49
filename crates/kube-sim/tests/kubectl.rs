//! kube-sim checked with the real kubectl (not written by us): get with selectors and output
//! formats, annotate, patch, rollout restart, get -w, auth can-i with impersonation, apply
//! (client-side and server-side, with field validation) and explain over the OpenAPI documents.

mod common;

use std::{path::PathBuf, process::Stdio};

use common::{DEADLINE, wait_for};
use kube_sim::{FleetChoice, Sim, SimConfig};
use serde_json::Value;
use tokio::{io::AsyncBufReadExt, process::Command};

/// kubectl against a sim, with its own kubeconfig and discovery cache.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(sim: &Sim) -> Self {
        let binary = std::env::var_os("KUBECTL").map_or_else(|| PathBuf::from("kubectl"), PathBuf::from);
        let probe = std::process::Command::new(&binary).args(["version", "--client"]).output();
        assert!(
            probe.is_ok_and(|o| o.status.success()),
            "kubectl is required for these tests and was not found (set KUBECTL or install it: .ci/run installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        Self { binary, kubeconfig, cache: tempfile::tempdir().unwrap(), _dir: dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            .kill_on_drop(true)
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl and returns stdout; fails the test with stderr when kubectl fails.
    async fn run(&self, args: &[&str]) -> String {
        let output = tokio::time::timeout(DEADLINE, self.command(args).output())
            .await
            .expect("kubectl finishes")
            .expect("kubectl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "kubectl {args:?} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs kubectl expecting failure; returns (exit code, stdout, stderr).
    async fn fail(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let output = self.command(args).output().await.expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "kubectl {args:?} should fail: {stdout}");
        (output.status.code(), stdout, stderr)
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

#[tokio::test]
async fn get_lists_flux_kinds_in_every_namespace_with_printer_columns() {
    let sim = demo().await;
    wait_ready(&sim, "kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "flux-system").await;
    let kubectl = Kubectl::new(&sim);
    let table = kubectl.run(&["get", "kustomizations", "-A"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAMESPACE", "NAME", "AGE", "READY", "STATUS"], "{table}");
    let row =
        table.lines().find(|l| l.starts_with("flux-system ")).unwrap_or_else(|| panic!("flux-system row in {table}"));
    assert!(row.contains("True") && row.contains("Applied revision: main@sha1:"), "{row}");

    let short = kubectl.run(&["get", "ks", "-A", "-o", "name"]).await;
    assert!(short.lines().any(|l| l == "kustomization.kustomize.toolkit.fluxcd.io/flux-system"), "{short}");

    let json: Value =
        serde_json::from_str(&kubectl.run(&["get", "helmreleases.helm.toolkit.fluxcd.io", "-A", "-o", "json"]).await)
            .unwrap();
    assert_eq!(json["kind"], "List");
    let stored = sim.cluster().list("helm.toolkit.fluxcd.io", "HelmRelease", |_| true).len();
    assert_eq!(json["items"].as_array().unwrap().len(), stored);
    assert!(stored > 0);
}

#[tokio::test]
async fn label_and_field_selectors_filter() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let controllers = kubectl
        .run(&["get", "deployments", "-n", "flux-system", "-l", "app.kubernetes.io/part-of=flux", "-o", "name"])
        .await;
    let names: Vec<&str> = controllers.lines().collect();
    assert!(names.contains(&"deployment.apps/kustomize-controller"), "{controllers}");
    assert_eq!(names.len(), 7, "{controllers}");
    let one = kubectl
        .run(&["get", "deployments", "-A", "--field-selector", "metadata.name=helm-controller", "-o", "name"])
        .await;
    assert_eq!(one.trim(), "deployment.apps/helm-controller");
    let none = kubectl
        .run(&["get", "deployments", "-n", "flux-system", "-l", "app notin (helm-controller),app in (x)", "-o", "name"])
        .await;
    assert_eq!(none.trim(), "");
    let (_, _, stderr) = kubectl.fail(&["get", "pods", "-A", "--field-selector", "spec.bogus=1"]).await;
    assert!(stderr.contains("field label not supported"), "{stderr}");
}

#[tokio::test]
async fn annotate_requests_a_reconciliation_that_gets_handled() {
    let sim = demo().await;
    wait_ready(&sim, "kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "flux-system").await;
    let kubectl = Kubectl::new(&sim);
    let token = "2026-11-25T12:00:00.000000001Z";
    kubectl
        .run(&[
            "annotate",
            "--overwrite",
            "-n",
            "flux-system",
            "kustomization/flux-system",
            &format!("reconcile.fluxcd.io/requestedAt={token}"),
        ])
        .await;
    wait_for("the annotation to be handled", || async {
        let obj = sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "flux-system")?;
        (obj["status"]["lastHandledReconcileAt"] == token && common::is_ready(&obj)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn patch_merge_suspends() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    kubectl
        .run(&[
            "patch",
            "-n",
            "flux-system",
            "gitrepository/flux-system",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ])
        .await;
    let obj = sim.cluster().get("source.toolkit.fluxcd.io", "GitRepository", "flux-system", "flux-system").unwrap();
    assert_eq!(obj["spec"]["suspend"], true);
    assert_eq!(obj["metadata"]["generation"], 2);
    let (_, _, stderr) = kubectl
        .fail(&[
            "patch",
            "-n",
            "flux-system",
            "gitrepository/nope",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ])
        .await;
    assert!(stderr.contains("not found"), "{stderr}");
}

#[tokio::test]
async fn rollout_restart_replaces_the_controller_pod() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let pod_names = |sim: &Sim| -> Vec<String> {
        sim.cluster()
            .list("", "Pod", |p| {
                p["metadata"]["namespace"] == "flux-system" && p["metadata"]["labels"]["app"] == "kustomize-controller"
            })
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = wait_for("the controller pod", || async { Some(pod_names(&sim)).filter(|p| p.len() == 1) }).await;
    let out = kubectl.run(&["rollout", "restart", "deployment/kustomize-controller", "-n", "flux-system"]).await;
    assert!(out.contains("restarted"), "{out}");
    let deployment = sim.cluster().get("apps", "Deployment", "flux-system", "kustomize-controller").unwrap();
    assert!(deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    let after = wait_for("a new pod to replace the old one", || async {
        Some(pod_names(&sim)).filter(|p| p.len() == 1 && p != &before)
    })
    .await;
    assert_ne!(after, before);
    kubectl.run(&["rollout", "status", "deployment/kustomize-controller", "-n", "flux-system", "--timeout=20s"]).await;
}

#[tokio::test]
async fn get_watch_sees_a_change() {
    let sim = demo().await;
    wait_ready(&sim, "source.toolkit.fluxcd.io", "GitRepository", "flux-system", "flux-system").await;
    let kubectl = Kubectl::new(&sim);
    let mut child = kubectl
        .command(&["get", "gitrepositories", "-n", "flux-system", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl get -w starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(DEADLINE, lines.next_line()).await.expect("the initial list").unwrap().unwrap();
    assert_eq!(first, "gitrepository.source.toolkit.fluxcd.io/flux-system");
    let rt = sim.cluster().type_of_kind("source.toolkit.fluxcd.io", "GitRepository").unwrap().clone();
    sim.cluster()
        .annotate(&rt, "flux-system", "flux-system", "reconcile.fluxcd.io/requestedAt", Some("watch-me"))
        .unwrap();
    let next = tokio::time::timeout(DEADLINE, lines.next_line()).await.expect("a watch event").unwrap().unwrap();
    assert_eq!(next, "gitrepository.source.toolkit.fluxcd.io/flux-system");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn auth_can_i_answers_for_impersonated_users() {
    let sim = demo().await;
    let cluster = sim.cluster();
    for obj in [
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "flux-operator", "namespace": "flux-system"},
            "rules": [{"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"], "verbs": ["get", "list", "watch", "patch"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "ops", "namespace": "flux-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "flux-operator"},
            "subjects": [{"kind": "Group", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}]}),
    ] {
        cluster.apply(&obj).unwrap();
    }
    let kubectl = Kubectl::new(&sim);
    let yes = kubectl
        .run(&["auth", "can-i", "patch", "kustomizations", "-n", "flux-system", "--as", "carol", "--as-group", "ops"])
        .await;
    assert_eq!(yes.trim(), "yes");
    let (code, no, _) =
        kubectl.fail(&["auth", "can-i", "patch", "kustomizations", "-n", "flux-system", "--as", "carol"]).await;
    assert_eq!((code, no.trim()), (Some(1), "no"));
    let (_, no, _) = kubectl
        .fail(&["auth", "can-i", "patch", "kustomizations", "-n", "apps", "--as", "carol", "--as-group", "ops"])
        .await;
    assert_eq!(no.trim(), "no");
}

/// `kubectl get --raw /metrics` reports the open watches as the real API server's
/// `apiserver_longrunning_requests` gauge: one while `kubectl get -w` runs, none after it ends.
#[tokio::test]
async fn metrics_count_the_open_watches() {
    let sim = common::start(SimConfig { fleet: FleetChoice::Empty, ..SimConfig::default() }).await;
    let kubectl = Kubectl::new(&sim);
    let watches = |text: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("apiserver_longrunning_requests{") && l.contains("resource=\"kustomizations\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    assert_eq!(watches(&kubectl.run(&["get", "--raw", "/metrics"]).await), 0);
    let mut watch = kubectl
        .command(&["get", "kustomizations", "-A", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("kubectl's watch to be counted", || async { (sim.open_watches() == 1).then_some(()) }).await;
    assert_eq!(watches(&kubectl.run(&["get", "--raw", "/metrics"]).await), 1);
    watch.kill().await.unwrap();
    wait_for("the ended watch to be counted out", || async { (sim.open_watches() == 0).then_some(()) }).await;
}

/// A manifest file in a temp dir, for `kubectl apply -f`.
fn manifest(dir: &tempfile::TempDir, name: &str, yaml: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

const APPLIED_KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: applied
  namespace: team-a
spec:
  interval: 5m
  path: ./kustomize
  prune: true
  sourceRef:
    kind: GitRepository
    name: podinfo
";

/// `kubectl apply -f` (client-side: OpenAPI v3 for validation, `fieldValidation=Strict`, the
/// last-applied annotation and a three-way merge patch) creates, then updates a Flux object and
/// a ConfigMap, which the emulated controller then reconciles.
#[tokio::test]
async fn apply_creates_then_configures_flux_objects_and_configmaps() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    let ks = manifest(&dir, "ks.yaml", APPLIED_KS);
    let out = kubectl.run(&["apply", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied created");
    let out = kubectl.run(&["apply", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied unchanged");
    let ks = manifest(&dir, "ks.yaml", &APPLIED_KS.replace("interval: 5m", "interval: 7m"));
    let out = kubectl.run(&["apply", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied configured");
    let obj = wait_ready(&sim, "kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied").await;
    assert_eq!(obj["spec"]["interval"], "7m");
    assert_eq!(obj["metadata"]["generation"], 2);
    assert!(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    let patch = sim.patches().into_iter().rev().find(|p| p.name == "applied").expect("the apply's patch");
    assert_eq!(patch.content_type, "application/merge-patch+json", "a CRD gets a JSON merge patch");
    assert_eq!(patch.field_manager.as_deref(), Some("kubectl-client-side-apply"));

    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team-a\ndata:\n  a: \"1\"\n";
    let path = manifest(&dir, "cm.yaml", cm);
    assert_eq!(kubectl.run(&["apply", "-f", &path]).await.trim(), "configmap/settings created");
    let path = manifest(&dir, "cm.yaml", &cm.replace("\"1\"", "\"2\""));
    assert_eq!(kubectl.run(&["apply", "-f", &path]).await.trim(), "configmap/settings configured");
    let patch = sim.patches().into_iter().rev().find(|p| p.name == "settings").expect("the apply's patch");
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json", "a built-in gets a strategic merge patch");
    assert_eq!(sim.cluster().get("", "ConfigMap", "team-a", "settings").unwrap()["data"]["a"], "2");
}

/// `kubectl apply --server-side`: an apply patch under field manager `kubectl`, creating then
/// updating.
#[tokio::test]
async fn server_side_apply_creates_and_updates() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    let ks = manifest(&dir, "ks.yaml", APPLIED_KS);
    let out = kubectl.run(&["apply", "--server-side", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied serverside-applied");
    let ks = manifest(&dir, "ks.yaml", &APPLIED_KS.replace("prune: true", "prune: false"));
    let out = kubectl.run(&["apply", "--server-side", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied serverside-applied");
    let obj = sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied").unwrap();
    assert_eq!(obj["spec"]["prune"], false);
    let patches: Vec<_> = sim.patches().into_iter().filter(|p| p.name == "applied").collect();
    assert_eq!(patches.len(), 2);
    assert!(
        patches
            .iter()
            .all(|p| p.content_type == "application/apply-patch+yaml" && p.field_manager.as_deref() == Some("kubectl"))
    );
}

/// Fields the schema lacks: refused under kubectl's `fieldValidation=Strict` with the API
/// server's strict decoding error (and by server-side apply, which types the patch), warned
/// about with `--validate=warn`, dropped silently with `--validate=false`.
#[tokio::test]
async fn unknown_fields_are_refused_warned_or_dropped_as_asked() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    let bad = manifest(&dir, "bad.yaml", &APPLIED_KS.replace("  prune: true\n", "  prune: true\n  bogus: 1\n"));
    let (code, _, stderr) = kubectl.fail(&["apply", "-f", &bad]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"Error from server (BadRequest): error when creating ""#)
            && stderr.contains(r#"Kustomization in version "v1" cannot be handled as a Kustomization: strict decoding error: unknown field "spec.bogus""#),
        "{stderr}"
    );
    let (_, _, stderr) = kubectl.fail(&["apply", "--server-side", "-f", &bad]).await;
    assert!(
        stderr.contains("failed to create typed patch object (team-a/applied; kustomize.toolkit.fluxcd.io/v1, Kind=Kustomization): .spec.bogus: field not declared in schema"),
        "{stderr}"
    );
    let (_, _, stderr) = kubectl.fail(&["create", "-f", &bad]).await;
    assert!(stderr.contains(r#"strict decoding error: unknown field "spec.bogus""#), "{stderr}");
    assert!(sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied").is_none());

    let output = kubectl.command(&["apply", "--validate=warn", "-f", &bad]).output().await.unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#"Warning: unknown field "spec.bogus""#), "{stderr}");
    let obj = sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied").unwrap();
    assert!(obj["spec"].get("bogus").is_none(), "pruned: {}", obj["spec"]);
    let out = kubectl
        .run(&["patch", "-n", "team-a", "kustomization/applied", "--type", "merge", "-p", r#"{"spec":{"nope":1}}"#])
        .await;
    assert!(out.contains("patched"), "{out}");
}

/// `kubectl explain` reads the OpenAPI v3 documents: a Flux kind's fields from its CRD schema,
/// a built-in's from Kubernetes' published schemas.
#[tokio::test]
async fn explain_describes_flux_and_built_in_fields() {
    let sim = common::start(SimConfig { fleet: FleetChoice::Empty, ..SimConfig::default() }).await;
    let kubectl = Kubectl::new(&sim);
    let out = kubectl.run(&["explain", "kustomization.spec"]).await;
    assert!(
        out.starts_with("GROUP:      kustomize.toolkit.fluxcd.io\nKIND:       Kustomization\nVERSION:    v1\n"),
        "{out}"
    );
    assert!(out.contains("FIELD: spec <Object>"), "{out}");
    assert!(
        out.contains("  sourceRef\t<Object> -required-\n    Reference of the source where the kustomization file is."),
        "{out}"
    );
    assert!(out.contains("  interval\t<string> -required-"), "{out}");
    let out = kubectl.run(&["explain", "helmrelease.spec.chart.spec.sourceRef.kind"]).await;
    assert!(out.contains("ENUM:\n    HelmRepository\n    GitRepository\n    Bucket\n"), "{out}");
    let out = kubectl.run(&["explain", "kustomization.metadata.labels"]).await;
    assert!(out.contains("FIELD: labels <map[string]string>"), "metadata is ObjectMeta: {out}");
    let out = kubectl.run(&["explain", "deployment.spec.template.spec.containers.image"]).await;
    assert!(out.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n"), "{out}");
    assert!(out.contains("Container image name."), "{out}");
    let recursive = kubectl.run(&["explain", "gitrepository", "--recursive"]).await;
    assert!(recursive.contains("lastHandledReconcileAt\t<string>"), "{recursive}");
    let (_, _, stderr) = kubectl.fail(&["explain", "kustomization.spec.nope"]).await;
    assert!(stderr.contains(r#"field "nope" does not exist"#), "{stderr}");
}

/// The documents themselves: the v3 index names every served group version with a hash, each
/// document resolves; `/openapi/v2` answers JSON, and a protobuf-only request (kubectl's v2
/// download) is refused with 406, which kubectl treats as "no v2".
#[tokio::test]
async fn openapi_documents_are_served_as_json() {
    let sim = common::start(SimConfig { fleet: FleetChoice::Empty, ..SimConfig::default() }).await;
    let kubectl = Kubectl::new(&sim);
    let index: Value = serde_json::from_str(&kubectl.run(&["get", "--raw", "/openapi/v3"]).await).unwrap();
    let paths = index["paths"].as_object().unwrap();
    for gv in [
        "api/v1",
        "apis/apps/v1",
        "apis/kustomize.toolkit.fluxcd.io/v1",
        "apis/helm.toolkit.fluxcd.io/v2",
        "apis/notification.toolkit.fluxcd.io/v1beta3",
    ] {
        let url = paths[gv]["serverRelativeURL"].as_str().unwrap_or_else(|| panic!("{gv} in the index"));
        let doc: Value = serde_json::from_str(&kubectl.run(&["get", "--raw", url]).await).unwrap();
        assert_eq!(doc["openapi"], "3.0.0", "{gv}");
    }
    let v2: Value = serde_json::from_str(&kubectl.run(&["get", "--raw", "/openapi/v2"]).await).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"]["io.fluxcd.toolkit.source.v1.GitRepository"]["properties"]["spec"].is_object());
    assert!(
        v2["paths"]["/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{namespace}/kustomizations/{name}"]["patch"]
            .is_object()
    );

    let client = common::client(&sim, sim.admin_token()).await;
    let request = axum::http::Request::get("/openapi/v2")
        .header("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
        .body(Vec::new())
        .unwrap();
    match client.request_text(request).await {
        Err(kube::Error::Api(status)) => assert_eq!((status.code, status.reason.as_str()), (406, "NotAcceptable")),
        other => panic!("406 expected: {other:?}"),
    }
}

/// Server-side dry runs (`dryRun=All`, in the query or in DeleteOptions): `kubectl diff` shows
/// what an apply would change, `apply`/`delete --dry-run=server` answer as if done, and nothing
/// is stored or deleted.
#[tokio::test]
async fn dry_runs_and_diff_change_nothing() {
    let sim = demo().await;
    let kubectl = Kubectl::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    let ks = manifest(&dir, "ks.yaml", APPLIED_KS);
    let get = || sim.cluster().get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied");
    let (code, diff, _) = kubectl.fail(&["diff", "-f", &ks]).await;
    assert_eq!(code, Some(1), "kubectl diff exits 1 when there are differences");
    assert!(diff.contains("+  interval: 5m") && diff.contains("+  name: applied"), "{diff}");
    let out = kubectl.run(&["apply", "--dry-run=server", "-f", &ks]).await;
    assert_eq!(out.trim(), "kustomization.kustomize.toolkit.fluxcd.io/applied created (server dry run)");
    assert!(get().is_none(), "a dry run stores nothing");

    kubectl.run(&["apply", "-f", &ks]).await;
    // Settled, so the controller's status writes do not show in the diffs.
    wait_ready(&sim, "kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "applied").await;
    let before = get().unwrap();
    let changed = manifest(&dir, "changed.yaml", &APPLIED_KS.replace("interval: 5m", "interval: 9m"));
    let (_, diff, _) = kubectl.fail(&["diff", "-f", &changed]).await;
    assert!(diff.contains("-  interval: 5m") && diff.contains("+  interval: 9m"), "{diff}");
    assert!(diff.contains("-  generation: 1") && diff.contains("+  generation: 2"), "{diff}");
    let out = kubectl.run(&["delete", "-n", "team-a", "kustomization/applied", "--dry-run=server"]).await;
    assert_eq!(out.trim(), r#"kustomization.kustomize.toolkit.fluxcd.io "applied" deleted (server dry run)"#);
    let after = get().expect("still there");
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"], "nothing written");
    assert_eq!(after["spec"]["interval"], "5m");
    kubectl.run(&["diff", "-f", &ks]).await;
}
