//! The fleet the cluster is bootstrapped with, like the demo's: a Git repository (served by
//! `http.rs`) with infrastructure and two teams' apps (Deployments and Services), a Helm chart
//! repository with one packaged chart, and the Flux objects that deploy them, among them one
//! Kustomization with a path that does not exist and one GitRepository whose repository does not
//! exist, so both fail as real Flux fails.

use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

/// The namespaces the fleet uses, created before anything is applied.
pub const NAMESPACES: &[&str] = &["flux-system", "infra", "team-a", "team-b"];

/// The Flux objects that become Ready, as `kind/name` in `flux-system` unless namespaced here.
pub const READY: &[(&str, &str, &str)] = &[
    ("flux-system", "gitrepository", "fleet"),
    ("flux-system", "helmrepository", "charts"),
    ("flux-system", "kustomization", "infrastructure"),
    ("flux-system", "kustomization", "apps-team-a"),
    ("flux-system", "kustomization", "apps-team-b"),
    ("team-a", "helmrelease", "frontend"),
];

/// The Flux objects that fail: (namespace, kind, name).
pub const FAILING: &[(&str, &str, &str)] =
    &[("flux-system", "kustomization", "broken"), ("flux-system", "gitrepository", "missing")];

fn deployment(name: &str, namespace: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: ghcr.io/stefanprodan/podinfo:6.7.0
          ports:
            - containerPort: 9898
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector:
    app: {name}
  ports:
    - port: 80
      targetPort: 9898
"#
    )
}

/// The files of the fleet repository's first commit.
pub fn repo_files() -> Vec<(String, String)> {
    vec![
        ("infrastructure/redis.yaml".into(), deployment("redis", "infra", 1)),
        (
            "infrastructure/config.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\n  namespace: infra\ndata:\n  region: local\n"
                .into(),
        ),
        ("apps/team-a/web.yaml".into(), deployment("web", "team-a", 2)),
        ("apps/team-b/api.yaml".into(), deployment("api", "team-b", 1)),
    ]
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "real-cluster")
        .env("GIT_AUTHOR_EMAIL", "real-cluster@localhost")
        .env("GIT_COMMITTER_NAME", "real-cluster")
        .env("GIT_COMMITTER_EMAIL", "real-cluster@localhost")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()?;
    anyhow::ensure!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Writes `files` into the work tree `work`, commits them with `message` and pushes to the bare
/// repository `bare` (made on the first call) on branch `main`.
pub fn commit(work: &Path, bare: &Path, files: &[(String, String)], message: &str) -> anyhow::Result<()> {
    if !work.join(".git").exists() {
        std::fs::create_dir_all(work)?;
        git(work, &["init", "-q", "-b", "main"])?;
    }
    for (path, content) in files {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().expect("file in a directory"))?;
        std::fs::write(path, content)?;
    }
    git(work, &["add", "-A"])?;
    git(work, &["commit", "-q", "--allow-empty", "-m", message])?;
    if !bare.exists() {
        std::fs::create_dir_all(bare)?;
        git(bare, &["init", "-q", "--bare", "-b", "main"])?;
    }
    git(work, &["push", "-q", &bare.display().to_string(), "main:main"])?;
    Ok(())
}

/// Packages the `frontend` chart into `charts/` with its `index.yaml` pointing at `base_url`.
pub fn chart_repo(scratch: &Path, charts: &Path, base_url: &str) -> anyhow::Result<()> {
    let src = scratch.join("frontend");
    std::fs::create_dir_all(src.join("templates"))?;
    std::fs::write(
        src.join("Chart.yaml"),
        "apiVersion: v2\nname: frontend\ndescription: A web front end\ntype: application\nversion: 0.1.0\nappVersion: \"1.0.0\"\n",
    )?;
    std::fs::write(src.join("values.yaml"), "replicas: 1\nimage: ghcr.io/stefanprodan/podinfo:6.7.0\n")?;
    std::fs::write(
        src.join("templates/deployment.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          ports:
            - containerPort: 9898
"#,
    )?;
    std::fs::write(
        src.join("templates/service.yaml"),
        r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app: {{ .Release.Name }}
  ports:
    - port: 80
      targetPort: 9898
"#,
    )?;
    std::fs::create_dir_all(charts)?;
    let tgz = charts.join("frontend-0.1.0.tgz");
    let out = Command::new("tar")
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-czf"])
        .arg(&tgz)
        .arg("-C")
        .arg(scratch)
        .arg("frontend")
        .output()?;
    anyhow::ensure!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    let digest = Sha256::digest(std::fs::read(&tgz)?);
    let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        charts.join("index.yaml"),
        format!(
            r#"apiVersion: v1
entries:
  frontend:
    - apiVersion: v2
      name: frontend
      description: A web front end
      type: application
      version: 0.1.0
      appVersion: "1.0.0"
      created: "2026-01-01T00:00:00Z"
      digest: {digest}
      urls:
        - {base_url}/frontend-0.1.0.tgz
generated: "2026-01-01T00:00:00Z"
"#
        ),
    )?;
    Ok(())
}

/// The Flux objects, RBAC for the test users, applied after the CRDs.
pub fn objects(git_url: &str, charts_url: &str) -> String {
    let ks = |name: &str, path: &str, depends: &[&str]| {
        let depends = if depends.is_empty() {
            String::new()
        } else {
            let items: Vec<String> = depends.iter().map(|d| format!("    - name: {d}\n")).collect();
            format!("  dependsOn:\n{}", items.concat())
        };
        format!(
            r#"---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  retryInterval: 30s
  path: {path}
  prune: true
  wait: true
  timeout: 2m
  sourceRef:
    kind: GitRepository
    name: fleet
{depends}"#
        )
    };
    let mut out = format!(
        r#"apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: flux-system
spec:
  interval: 10m
  url: {git_url}/git/fleet.git
  ref:
    branch: main
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: missing
  namespace: flux-system
spec:
  interval: 10m
  url: {git_url}/git/does-not-exist.git
  ref:
    branch: main
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 10m
  url: {charts_url}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: frontend
  namespace: team-a
spec:
  interval: 10m
  chart:
    spec:
      chart: frontend
      version: "0.1.0"
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
  values:
    replicas: 2
"#
    );
    out.push_str(&ks("infrastructure", "./infrastructure", &[]));
    out.push_str(&ks("apps-team-a", "./apps/team-a", &["infrastructure"]));
    out.push_str(&ks("apps-team-b", "./apps/team-b", &["infrastructure"]));
    out.push_str(&ks("broken", "./does-not-exist", &[]));
    out.push_str(RBAC);
    out
}

/// Test users' cluster RBAC: viewers and operators read every Flux object; operators may patch
/// them only in `team-a`.
const RBAC: &str = r#"---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: flux-view
rules:
  - apiGroups: ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"]
    resources: ["*"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["events", "namespaces", "services", "configmaps"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments", "replicasets"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: flux-view
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: flux-view
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: fluxboard:viewers
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: fluxboard:operators
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: flux-operate
  namespace: team-a
rules:
  - apiGroups: ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"]
    resources: ["*"]
    verbs: ["get", "list", "watch", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: flux-operate
  namespace: team-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: flux-operate
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: fluxboard:operators
"#;

/// The fake node kwok manages (no taints, so every pod schedules on it).
pub const NODE: &str = r#"apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
"#;
