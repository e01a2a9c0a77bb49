//! The real thing, for tests and `cargo xtask real-cluster`: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok (fake node and pod lifecycle, so Deployments get
//! Pods that become Running and Ready) and the Flux controllers (source, kustomize, helm), all
//! built from pinned upstream Go modules by `tools/real-cluster/build.sh`, started as local
//! processes on free 127.0.0.1 ports in a temporary directory, plus a Git and Helm chart server
//! (`http`) holding a fleet (`fleet`). [`Cluster::start`] waits on conditions with deadlines at
//! every step and prints its progress; dropping the [`Cluster`] kills every process it started
//! (and each is started with a parent-death signal, so none outlives the test process).

pub mod fleet;
pub mod http;
pub mod pki;
pub mod procs;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;

use crate::http::SourceServer;
use crate::procs::Proc;

/// How long each start-up step may take.
const STEP_DEADLINE: Duration = Duration::from_secs(120);

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the binaries are; by default what `build.sh` builds (run if needed).
    pub bin_dir: Option<PathBuf>,
    /// Bootstrap the fleet and wait until it settles.
    pub fleet: bool,
    /// Print each step to stderr.
    pub progress: bool,
    /// Keep the temporary directory (logs, data) after drop.
    pub keep_dir: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { bin_dir: None, fleet: true, progress: true, keep_dir: false }
    }
}

/// Bearer tokens of the static token file.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// User `admin` in `system:masters`.
    pub admin: String,
    /// User `operator` in group `fluxboard:operators` (reads Flux objects, patches them in `team-a`).
    pub operator: String,
    /// User `viewer` in group `fluxboard:viewers` (reads Flux objects).
    pub viewer: String,
}

/// The running cluster. Dropping it stops every process.
#[derive(Debug)]
pub struct Cluster {
    /// The admin kubeconfig (context `real-cluster`; `real-cluster-operator` and
    /// `real-cluster-viewer` use the test users' tokens).
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub api_url: String,
    pub tokens: Tokens,
    /// The directory holding data, logs (`logs/`), keys and the kubeconfig.
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    /// The CRDs applied (from the same modules as the controllers).
    pub crd_dir: PathBuf,
    /// The CA that signed the API server's certificate (PEM).
    pub ca_pem: String,
    /// etcd's client port (plain HTTP on 127.0.0.1).
    pub etcd_port: u16,
    /// Git and chart server (`None` without the fleet).
    pub sources: Option<SourceServer>,
    procs: std::sync::Mutex<Vec<Proc>>,
    progress: bool,
    started: Instant,
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Controllers first, the API server and etcd last.
        let procs = self.procs.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(mut p) = procs.pop() {
            p.stop();
        }
    }
}

/// The repository root (this crate is `crates/real-cluster`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Runs `tools/real-cluster/build.sh` (it returns at once when everything is built) and returns
/// the bin dir it printed; `REAL_CLUSTER_BIN`, when set, names the bin dir instead.
pub fn ensure_built() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("REAL_CLUSTER_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = repo_root().join("tools/real-cluster/build.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("run {}", script.display()))?;
    let mut bin = None;
    // Progress as it comes: one line per binary.
    for line in std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().expect("piped stdout"))) {
        let line = line?;
        match line.strip_prefix("bin: ") {
            Some(dir) => bin = Some(PathBuf::from(dir.trim())),
            None => eprintln!("{line}"),
        }
    }
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "{} failed ({status})", script.display());
    bin.context("build.sh printed no bin dir")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A plain HTTP POST of a JSON body on 127.0.0.1: the status code and body.
pub fn http_post(port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// A plain HTTP GET on 127.0.0.1 (the components' health endpoints): the status code and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Polls `check` every 200 ms until it returns `Some` or `deadline` passes; the error names
/// `what` and the last failure `check` reported. Synchronous (never on a tokio worker): the
/// components' health endpoints and kubectl have nothing to block on but a poll.
#[expect(clippy::disallowed_methods, reason = "the interval between polls of a condition, off any async runtime")]
pub fn wait_for<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let end = Instant::now() + deadline;
    let mut last = String::new();
    loop {
        match check() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= end {
            anyhow::bail!(
                "timed out after {deadline:?} waiting for {what}{}",
                if last.is_empty() { String::new() } else { format!(": {last}") }
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many times a start is tried when a port found free was taken before its process bound it.
const START_ATTEMPTS: usize = 3;

impl Cluster {
    /// Starts everything and, with `options.fleet`, bootstraps the fleet and waits until it settles.
    /// The ports are picked free and then handed to the processes, so another program can take
    /// one in between ("address already in use"): such a start is dropped (stopping what it had
    /// started) and made again with new ports, up to [`START_ATTEMPTS`] times.
    pub fn start(options: &Options) -> anyhow::Result<Cluster> {
        let mut attempt = 1;
        loop {
            match Cluster::start_once(options) {
                Err(e) if attempt < START_ATTEMPTS && format!("{e:#}").contains("address already in use") => {
                    eprintln!("real-cluster: a port was taken before its process bound it; starting again ({e:#})");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn start_once(options: &Options) -> anyhow::Result<Cluster> {
        let started = Instant::now();
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => ensure_built()?,
        };
        let crd_dir = bin_dir.parent().context("bin dir has a parent")?.join("crds");
        let temp = tempfile::Builder::new().prefix("real-cluster-").tempdir()?;
        let dir = temp.path().to_path_buf();
        let temp = if options.keep_dir {
            let _ = temp.keep();
            None
        } else {
            Some(temp)
        };
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let tokens = Tokens { admin: random_hex(16)?, operator: random_hex(16)?, viewer: random_hex(16)? };
        let pki = pki::write(&dir.join("pki"))?;
        let api_port = free_port()?;
        let api_url = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&api_url, &pki.ca_pem, &tokens))?;
        let mut cluster = Cluster {
            kubeconfig,
            api_url,
            tokens,
            dir: dir.clone(),
            bin_dir,
            crd_dir,
            ca_pem: pki.ca_pem.clone(),
            etcd_port: 0,
            sources: None,
            procs: std::sync::Mutex::new(Vec::new()),
            progress: options.progress,
            started,
            _temp: temp,
        };
        cluster.say(&format!("starting in {}", dir.display()));

        // etcd
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        cluster.etcd_port = etcd_port;
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        cluster.spawn(
            "etcd",
            vec![
                "--name=default".into(),
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
            vec![],
        )?;
        cluster.wait("etcd healthy", || {
            Ok(http_get(etcd_port, "/health").filter(|(s, b)| *s == 200 && b.contains("true")).map(|_| ()))
        })?;

        // kube-apiserver
        let tokens_csv = format!(
            "{},admin,uid-admin,\"system:masters\"\n{},operator,uid-operator,\"fluxboard:operators\"\n{},viewer,uid-viewer,\"fluxboard:viewers\"\n",
            cluster.tokens.admin, cluster.tokens.operator, cluster.tokens.viewer
        );
        let token_file = dir.join("pki/tokens.csv");
        std::fs::write(&token_file, tokens_csv)?;
        cluster.spawn(
            "kube-apiserver",
            vec![
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={api_port}"),
                format!("--tls-cert-file={}", pki.serving_cert.display()),
                format!("--tls-private-key-file={}", pki.serving_key.display()),
                format!("--client-ca-file={}", pki.ca_cert.display()),
                format!("--token-auth-file={}", token_file.display()),
                "--authorization-mode=Node,RBAC".into(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-account-key-file={}", pki.sa_pub.display()),
                format!("--service-account-signing-key-file={}", pki.sa_key.display()),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                format!("--cert-dir={}", dir.join("pki/apiserver").display()),
                "--profiling=false".into(),
                "--v=0".into(),
            ],
            vec![],
        )?;
        cluster.wait("kube-apiserver ready", || Ok(cluster.kubectl(&["get", "--raw", "/readyz"]).ok().map(|_| ())))?;

        // kube-controller-manager, kube-scheduler, kwok
        cluster.spawn(
            "kube-controller-manager",
            vec![
                format!("--kubeconfig={}", cluster.kubeconfig.display()),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", free_port()?),
                format!("--service-account-private-key-file={}", pki.sa_key.display()),
                format!("--root-ca-file={}", pki.ca_cert.display()),
                format!("--cluster-signing-cert-file={}", pki.ca_cert.display()),
                format!("--cluster-signing-key-file={}", pki.ca_key.display()),
                "--controllers=*".into(),
                "--concurrent-deployment-syncs=10".into(),
            ],
            vec![],
        )?;
        cluster.spawn(
            "kube-scheduler",
            vec![
                format!("--kubeconfig={}", cluster.kubeconfig.display()),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", free_port()?),
            ],
            vec![],
        )?;
        let mut stages: Vec<String> = std::fs::read_dir(cluster.bin_dir.join("../kwok"))
            .context("kwok's stages (build.sh copies them)")?
            .filter_map(|e| e.ok())
            .map(|e| format!("--config={}", e.path().display()))
            .collect();
        stages.sort();
        cluster.spawn(
            "kwok",
            [
                format!("--kubeconfig={}", cluster.kubeconfig.display()),
                "--manage-all-nodes=true".into(),
                format!("--server-address=127.0.0.1:{}", free_port()?),
                "--cidr=10.244.0.0/16".into(),
                "--node-ip=127.0.0.1".into(),
            ]
            .into_iter()
            .chain(stages)
            .collect(),
            vec![],
        )?;
        cluster.apply_yaml(fleet::NODE)?;
        for ns in fleet::NAMESPACES {
            cluster.apply_yaml(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"))?;
        }
        cluster.wait("node kwok-node-0 Ready", || {
            Ok(cluster
                .kubectl(&[
                    "get",
                    "node",
                    "kwok-node-0",
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])
                .ok()
                .filter(|s| s.trim() == "True")
                .map(|_| ()))
        })?;
        cluster.wait("default ServiceAccounts", || {
            Ok(fleet::NAMESPACES
                .iter()
                .all(|ns| cluster.kubectl(&["get", "serviceaccount", "default", "-n", ns]).is_ok())
                .then_some(()))
        })?;

        // Flux CRDs and controllers
        let crd_dir = cluster.crd_dir.display().to_string();
        cluster.kubectl(&["apply", "--server-side", "-f", &crd_dir])?;
        cluster.kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "-f", &crd_dir])?;
        cluster.say("Flux CRDs established");
        let storage_port = free_port()?;
        let storage = dir.join("source-controller");
        std::fs::create_dir_all(&storage)?;
        let flux_env = vec![
            ("KUBECONFIG".to_string(), cluster.kubeconfig.display().to_string()),
            ("RUNTIME_NAMESPACE".to_string(), "flux-system".to_string()),
        ];
        let mut health = Vec::new();
        for name in ["source-controller", "kustomize-controller", "helm-controller"] {
            let health_port = free_port()?;
            let mut args = vec![
                format!("--metrics-addr=127.0.0.1:{}", free_port()?),
                format!("--health-addr=127.0.0.1:{health_port}"),
                "--events-addr=".into(),
                "--log-encoding=json".into(),
                "--watch-all-namespaces=true".into(),
            ];
            if name == "source-controller" {
                args.push(format!("--storage-path={}", storage.display()));
                args.push(format!("--storage-addr=127.0.0.1:{storage_port}"));
                args.push(format!("--storage-adv-addr=127.0.0.1:{storage_port}"));
            } else {
                args.push("--requeue-dependency=2s".into());
            }
            cluster.spawn(name, args, flux_env.clone())?;
            health.push((name, health_port));
        }
        for (name, port) in health {
            cluster.wait(&format!("{name} ready"), || {
                Ok(http_get(port, "/readyz").filter(|(s, _)| *s == 200).map(|_| ()))
            })?;
        }

        if options.fleet {
            cluster.bootstrap()?;
        }
        cluster.say(&format!("ready in {:.1} s", cluster.started.elapsed().as_secs_f64()));
        Ok(cluster)
    }

    /// Serves the fleet's Git repository and chart repository, applies the Flux objects and waits
    /// until the fleet settles: the Ready ones Ready, the failing ones Ready=False.
    fn bootstrap(&mut self) -> anyhow::Result<()> {
        let url = self.serve_sources()?;
        self.apply_yaml(&fleet::objects(&url, &format!("{url}/charts")))?;
        self.say("fleet applied");
        for (ns, kind, name) in fleet::READY {
            // A fleet that does not settle is told with the source-controller's own words.
            self.wait_condition(ns, kind, name, "Ready", "True", Duration::from_secs(180)).with_context(|| {
                let source = self.procs().iter().find(|p| p.name == "source-controller").map(|p| p.log_tail(30));
                format!("source-controller's log ends:\n{}", source.unwrap_or_default())
            })?;
            self.say(&format!("{kind}/{name} Ready"));
        }
        for (ns, kind, name) in fleet::FAILING {
            self.wait_condition(ns, kind, name, "Ready", "False", Duration::from_secs(120))?;
            self.say(&format!("{kind}/{name} failing, as intended"));
        }
        Ok(())
    }

    /// Starts the Git and chart server (once) with the fleet repository at `/git/fleet.git` and
    /// the `frontend` chart at `/charts/`; returns its base URL. The fleet's bootstrap does this;
    /// without the fleet, a caller that applies its own Flux objects does.
    pub fn serve_sources(&mut self) -> anyhow::Result<String> {
        if let Some(server) = &self.sources {
            return Ok(server.url());
        }
        let git_root = self.dir.join("git");
        let files_root = self.dir.join("www");
        let charts = files_root.join("charts");
        std::fs::create_dir_all(&charts)?;
        let server = SourceServer::start(&git_root, &files_root)?;
        let url = server.url();
        fleet::commit(&self.dir.join("fleet-work"), &git_root.join("fleet.git"), &fleet::repo_files(), "fleet")?;
        fleet::chart_repo(&self.dir.join("chart-src"), &charts, &format!("{url}/charts"))?;
        self.sources = Some(server);
        Ok(url)
    }

    /// Commits `files` to the fleet repository (its `main` branch).
    pub fn commit_fleet(&self, files: &[(String, String)], message: &str) -> anyhow::Result<()> {
        fleet::commit(&self.dir.join("fleet-work"), &self.dir.join("git/fleet.git"), files, message)
    }

    fn say(&self, what: &str) {
        if self.progress {
            eprintln!("real-cluster [{:6.1} s] {what}", self.started.elapsed().as_secs_f64());
        }
    }

    fn procs(&self) -> std::sync::MutexGuard<'_, Vec<Proc>> {
        self.procs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn spawn(&self, name: &str, args: Vec<String>, envs: Vec<(String, String)>) -> anyhow::Result<()> {
        let program = self.bin_dir.join(name);
        anyhow::ensure!(program.exists(), "{} is missing: run tools/real-cluster/build.sh", program.display());
        // Scratch files (kustomize-controller's checkouts, Helm's caches) stay in the cluster's dir.
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let mut envs = envs;
        envs.push(("TMPDIR".into(), tmp.display().to_string()));
        let proc = Proc::start(name, &program, args, envs, &self.dir.join("logs"))?;
        self.say(&format!("{name} started (pid {})", proc.pid().unwrap_or(0)));
        self.procs().push(proc);
        Ok(())
    }

    /// Waits for `check` (with the step deadline), failing at once with a process's log if one
    /// exited.
    fn wait(&self, what: &str, mut check: impl FnMut() -> anyhow::Result<Option<()>>) -> anyhow::Result<()> {
        let mut died = None;
        wait_for(what, STEP_DEADLINE, || {
            if let Err(e) = self.check_running() {
                died = Some(e);
                return Ok(Some(()));
            }
            check()
        })?;
        if let Some(e) = died {
            return Err(e.context(format!("while waiting for {what}")));
        }
        self.say(what);
        Ok(())
    }

    /// Waits until condition `type_` of `kind/name` in `namespace` has `status`.
    pub fn wait_condition(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        type_: &str,
        status: &str,
        deadline: Duration,
    ) -> anyhow::Result<serde_json::Value> {
        // On a timeout the error says what the object last reported (its controller's message).
        let last = std::cell::RefCell::new(serde_json::Value::Null);
        wait_for(&format!("{kind}/{name} in {namespace}: {type_}={status}"), deadline, || {
            let obj = self.get_json(namespace, kind, name)?;
            *last.borrow_mut() = obj["status"].clone();
            let found = obj["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == type_)
                .map(|c| c["status"] == status);
            Ok((found == Some(true)).then_some(obj))
        })
        .with_context(|| format!("{kind}/{name}'s last status: {}", last.borrow()))
    }

    /// The object as JSON (`kubectl get -o json`).
    pub fn get_json(&self, namespace: &str, kind: &str, name: &str) -> anyhow::Result<serde_json::Value> {
        let text = self.kubectl(&["get", kind, name, "-n", namespace, "-o", "json"])?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Runs kubectl (from PATH) as the admin; stdout on success, stderr as the error.
    pub fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--request-timeout=20s")
            .args(args)
            .output()
            .context("run kubectl")?;
        anyhow::ensure!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `kubectl apply --server-side` of a YAML stream.
    pub fn apply_yaml(&self, yaml: &str) -> anyhow::Result<()> {
        let file = self.dir.join(format!("apply-{}.yaml", random_hex(4)?));
        std::fs::write(&file, yaml)?;
        self.kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &file.display().to_string()])?;
        Ok(())
    }

    /// Compacts etcd at its current revision (through its JSON gateway), so every watch or list
    /// from an older resource version gets 410 Gone. Returns the revision.
    pub fn compact_etcd(&self) -> anyhow::Result<i64> {
        let (status, body) =
            http_post(self.etcd_port, "/v3/kv/range", r#"{"key":"AA=="}"#).context("etcd range request")?;
        anyhow::ensure!(status == 200, "etcd range: {status} {body}");
        // The JSON object, whether or not the body came chunked.
        let json = body.find('{').zip(body.rfind('}')).map(|(a, b)| &body[a..=b]).unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(json).with_context(|| format!("etcd range: {body}"))?;
        let revision: i64 = body["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .or_else(|| body["header"]["revision"].as_i64())
            .context("etcd's revision")?;
        let (status, body) =
            http_post(self.etcd_port, "/v3/kv/compaction", &format!(r#"{{"revision":"{revision}","physical":true}}"#))
                .context("etcd compaction request")?;
        // Compacted there already (nothing was written since): as good.
        let already = body.contains("required revision has been compacted");
        anyhow::ensure!(status == 200 || already, "etcd compaction: {status} {body}");
        Ok(revision)
    }

    /// Kills the process named `name` (e.g. `kube-apiserver`) and starts it again with the same
    /// arguments; the caller waits for whatever it needs afterwards.
    pub fn restart(&self, name: &str) -> anyhow::Result<()> {
        let mut procs = self.procs();
        let proc = procs.iter_mut().find(|p| p.name == name).with_context(|| format!("no process {name}"))?;
        proc.restart()
    }

    /// Checks that every process still runs (an error carries the log of one that exited).
    pub fn check_running(&self) -> anyhow::Result<()> {
        self.procs().iter_mut().try_for_each(Proc::check_running)
    }

    /// Logs of every process, `name: tail`, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        self.procs().iter().map(|p| format!("--- {} ---\n{}\n", p.name, p.log_tail(lines))).collect()
    }
}

fn kubeconfig_yaml(api_url: &str, ca_pem: &str, tokens: &Tokens) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut out = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: real-cluster\nclusters:\n  - name: real-cluster\n    cluster:\n      server: {api_url}\n      certificate-authority-data: {ca}\n"
    );
    out.push_str("users:\n");
    for (user, token) in [("admin", &tokens.admin), ("operator", &tokens.operator), ("viewer", &tokens.viewer)] {
        out.push_str(&format!("  - name: {user}\n    user:\n      token: {token}\n"));
    }
    out.push_str("contexts:\n");
    for (context, user) in
        [("real-cluster", "admin"), ("real-cluster-operator", "operator"), ("real-cluster-viewer", "viewer")]
    {
        out.push_str(&format!("  - name: {context}\n    context:\n      cluster: real-cluster\n      user: {user}\n"));
    }
    out
}
