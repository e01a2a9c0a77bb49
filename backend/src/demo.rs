//! `fluxboard demo`: two emulated clusters (`production` and `staging`) with the demo fleet and
//! human-paced Flux controllers, in this process, and the dashboard watching them through a
//! kubeconfig written to a temporary directory (so `kubectl --kubeconfig ...` can change them).

use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::Kubeconfig;
use kube_sim::{FleetChoice, Sim, SimConfig, Timing};

/// The emulated clusters of a demo, and the kubeconfig that reaches them.
#[derive(Debug)]
pub struct Demo {
    pub sims: Vec<Sim>,
    pub kubeconfig: PathBuf,
    pub contexts: Vec<String>,
    /// The emulated clusters' admin token: random per run (it is also a fluxboard login).
    pub admin_token: String,
    _dir: tempfile::TempDir,
}

/// The group of the demo's admin, bound to a ClusterRole that may do everything, so actions
/// sent impersonating the demo user pass the emulated cluster's RBAC.
pub const DEMO_ADMIN_GROUP: &str = "fluxboard:admins";

/// The identity every demo request has until login exists.
pub fn demo_identity() -> crate::auth::Identity {
    crate::auth::Identity {
        user: "demo-admin".into(),
        groups: vec![DEMO_ADMIN_GROUP.into()],
        grants: vec![crate::auth::Grant::everywhere(crate::auth::Role::Admin)],
    }
}

/// The demo's login configuration: users `admin` (everything), `operator` (acts in team-a, sees
/// only team-a) and `viewer` (reads everything), all with `password`; Kubernetes token login too
/// (the emulated cluster's admin token maps to admin). Plain-http cookies: the demo binds to
/// 127.0.0.1 only.
pub fn demo_config(password: &str) -> anyhow::Result<crate::auth::config::Config> {
    use crate::auth::Role;
    use crate::auth::config::{Binding, Config, LocalUser};
    let hash = crate::auth::login::hash_password(password)?;
    let user = |name: &str, group: &str| LocalUser {
        username: name.to_owned(),
        password_hash: hash.clone(),
        groups: vec![group.to_owned()],
    };
    let binding = |role: Role, group: &str, namespaces: &[&str]| Binding {
        role,
        users: Vec::new(),
        groups: vec![group.to_owned()],
        clusters: vec!["*".to_owned()],
        namespaces: namespaces.iter().map(|n| (*n).to_owned()).collect(),
    };
    let mut config = Config::default();
    config.auth.local.users =
        vec![user("admin", DEMO_ADMIN_GROUP), user("operator", DEMO_TEAM_A_GROUP), user("viewer", DEMO_VIEWER_GROUP)];
    config.auth.kubernetes_token = true;
    // The emulated clusters' admin token reviews as group system:masters.
    config.auth.allowed_system_names = vec!["system:masters".to_owned()];
    config.rbac = vec![
        binding(Role::Admin, DEMO_ADMIN_GROUP, &["*"]),
        binding(Role::Admin, "system:masters", &["*"]),
        binding(Role::Operator, DEMO_TEAM_A_GROUP, &["team-a"]),
        binding(Role::Viewer, DEMO_VIEWER_GROUP, &["*"]),
    ];
    config.sessions.secure_cookie = false;
    Ok(config)
}

/// The demo operator's group (team-a).
pub const DEMO_TEAM_A_GROUP: &str = "fluxboard:team-a";
/// The demo viewer's group.
pub const DEMO_VIEWER_GROUP: &str = "fluxboard:viewers";

fn demo_rbac() -> Vec<serde_json::Value> {
    let flux_groups = serde_json::json!([
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io"
    ]);
    vec![
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "fluxboard-demo-operator"},
            "rules": [{"apiGroups": flux_groups, "resources": ["*"], "verbs": ["get", "list", "watch", "patch"]},
                      {"apiGroups": [""], "resources": ["events", "services", "configmaps", "pods"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "fluxboard-demo-operator", "namespace": "team-a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "fluxboard-demo-operator"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DEMO_TEAM_A_GROUP}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "fluxboard-demo-viewer"},
            "rules": [{"apiGroups": flux_groups, "resources": ["*"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["events", "services", "configmaps", "pods"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "fluxboard-demo-viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "fluxboard-demo-viewer"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DEMO_VIEWER_GROUP}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "fluxboard-demo-admin"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "fluxboard-demo-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "fluxboard-demo-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DEMO_ADMIN_GROUP}]}),
    ]
}

/// 32 random bytes, hex: the demo clusters' admin token.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file only its owner may read (0600).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

/// How to seed the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Cluster names; each gets the demo fleet varied by its name.
    pub clusters: Vec<String>,
    /// Seed a fleet of about this many objects in the first cluster instead (benchmarks, scale).
    pub objects: Option<usize>,
    /// Human-visible controller delays (the demo) or instant ones (tests).
    pub realistic_timing: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { clusters: vec!["production".into(), "staging".into()], objects: None, realistic_timing: true }
    }
}

impl Demo {
    /// Starts the emulated clusters and writes their kubeconfig.
    pub async fn start(options: &DemoOptions) -> anyhow::Result<Demo> {
        let dir =
            tempfile::Builder::new().prefix("fluxboard-demo-").tempdir().context("Failed to create a temp dir")?;
        // The kubeconfig holds the admin token: readable by this user only.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        let admin_token = random_token();
        let mut sims = Vec::new();
        let mut merged: Option<Kubeconfig> = None;
        for (i, name) in options.clusters.iter().enumerate() {
            let fleet = match options.objects {
                Some(n) if i == 0 => FleetChoice::Scale(n),
                _ => FleetChoice::Demo(name.clone()),
            };
            // The demo users' RBAC names the demo fleet's namespaces (team-a), which the scale
            // fleet does not have.
            let demo_fleet = matches!(fleet, FleetChoice::Demo(_));
            let timing = if options.realistic_timing { Timing::demo() } else { Timing::instant() };
            let config = SimConfig {
                fleet,
                timing,
                name: name.clone(),
                admin_token: admin_token.clone(),
                ..SimConfig::default()
            };
            let sim =
                Sim::start(config).await.with_context(|| format!("Failed to start the emulated cluster {name}"))?;
            for obj in demo_rbac().into_iter().filter(|_| demo_fleet) {
                sim.cluster().apply(&obj).context("seeding the demo RBAC")?;
            }
            let config = Kubeconfig::from_yaml(&sim.kubeconfig_yaml(&admin_token)).context("kubeconfig")?;
            merged = Some(match merged {
                Some(m) => m.merge(config).context("merging kubeconfigs")?,
                None => config,
            });
            sims.push(sim);
        }
        let kubeconfig = dir.path().join("kubeconfig");
        let merged = merged.context("no clusters")?;
        write_private(&kubeconfig, &serde_yaml::to_string(&merged)?).context("Failed to write the kubeconfig")?;
        Ok(Demo { sims, kubeconfig, contexts: options.clusters.clone(), admin_token, _dir: dir })
    }

    /// Connects to the demo clusters through the kubeconfig, as `fluxboard serve` would.
    pub async fn clusters(&self) -> anyhow::Result<Vec<crate::fleet::cluster::Cluster>> {
        Ok(crate::fleet::cluster::from_kubeconfig(Some(&self.kubeconfig), &self.contexts).await?)
    }
}
