//! The processes a run measures: kube-sim (one per emulated cluster, each serving its own fleet)
//! and `fluxboard serve` watching some of them through one kubeconfig with a context per
//! cluster, with what `/proc` says about their memory and CPU time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::run::{RunArgs, WAIT, say, wait};

/// One emulated cluster: its kube-sim process, the kubeconfig it wrote, and a client.
pub(crate) struct Sim {
    /// The context (and so fluxboard's cluster) name: `cluster-1`, `cluster-2`, ...
    pub(crate) name: String,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) client: kube::Client,
    pub(crate) process: Child,
}

impl Sim {
    /// Starts kube-sim number `n` (from 1) with about `args.objects` Flux objects.
    pub(crate) async fn start(args: &RunArgs, dir: &Path, n: usize) -> anyhow::Result<Sim> {
        let name = format!("cluster-{n}");
        let written = dir.join(format!("{name}.sim.kubeconfig"));
        let mut process = Command::new(&args.kube_sim)
            .args(["--objects", &args.objects.to_string(), "--timing", "instant", "--kubeconfig"])
            .arg(&written)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("Failed to start {}", args.kube_sim.display()))?;
        let mut lines = BufReader::new(process.stdout.take().context("kube-sim's stdout")?).lines();
        tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("kubeconfig:") {
                    return anyhow::Ok(());
                }
            }
            bail!("kube-sim exited before it was serving")
        })
        .await
        .context("kube-sim did not start")??;
        // Keep reading (and dropping) its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let config = renamed(kube::config::Kubeconfig::read_from(&written)?, &name);
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        write_kubeconfig(&config, &kubeconfig)?;
        let client = kube_client(&kubeconfig).await?;
        let calmed = crate::changes::calm_failures(&client, args.objects).await?;
        say(&format!("{name}: {calmed} failing Kustomizations retry every 2 minutes"));
        Ok(Sim { name, kubeconfig, client, process })
    }

    /// The kube-sim process's id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.id()
    }
}

/// Starts the emulated clusters `from..=to` at once (each seeds and reconciles its fleet).
pub(crate) async fn start_sims(args: &RunArgs, dir: &Path, from: usize, to: usize) -> anyhow::Result<Vec<Sim>> {
    let started = futures::future::join_all((from..=to).map(|n| Sim::start(args, dir, n))).await;
    started.into_iter().collect()
}

/// A kubeconfig whose cluster, user and context are all called `name` (kube-sim calls them
/// after itself, so several must be renamed before they can be merged).
fn renamed(mut config: kube::config::Kubeconfig, name: &str) -> kube::config::Kubeconfig {
    for cluster in &mut config.clusters {
        cluster.name = name.to_owned();
    }
    for user in &mut config.auth_infos {
        user.name = name.to_owned();
    }
    for context in &mut config.contexts {
        context.name = name.to_owned();
        if let Some(context) = &mut context.context {
            context.cluster = name.to_owned();
            context.user = Some(name.to_owned());
        }
    }
    config.current_context = Some(name.to_owned());
    config
}

/// One kubeconfig with a context per emulated cluster (the first is the current one).
pub(crate) fn merged_kubeconfig(sims: &[Sim], path: &Path) -> anyhow::Result<()> {
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for sim in sims {
        let config = kube::config::Kubeconfig::read_from(&sim.kubeconfig)?;
        merged = Some(match merged {
            Some(all) => all.merge(config)?,
            None => config,
        });
    }
    write_kubeconfig(&merged.context("no emulated cluster")?, path)
}

/// Writes a kubeconfig as JSON (which is YAML too: kubectl and kube read it).
fn write_kubeconfig(config: &kube::config::Kubeconfig, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(config)?).with_context(|| format!("writing {}", path.display()))
}

pub(crate) async fn kube_client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// A `fluxboard serve` process and its URLs.
pub(crate) struct Fluxboard {
    pub(crate) url: String,
    pub(crate) metrics_url: String,
    pub(crate) pid: u32,
    _process: Child,
}

impl Fluxboard {
    /// Starts fluxboard on the contexts `clusters` of `kubeconfig`, without login (every reader
    /// an open admin), and waits until it is ready.
    pub(crate) async fn start(
        args: &RunArgs,
        kubeconfig: &Path,
        clusters: &[&str],
        log: &Path,
        http: &reqwest::Client,
    ) -> anyhow::Result<Fluxboard> {
        let port = fluxboard_e2e::free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let metrics_port = fluxboard_e2e::free_port()?;
        let metrics_url = format!("http://127.0.0.1:{metrics_port}");
        say(&format!("starting fluxboard on {url} watching {}", clusters.join(", ")));
        let log = std::fs::File::create(log)?;
        let process = Command::new(&args.fluxboard)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--open-role", "admin"])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--act-as", "service-account", "--kubeconfig"])
            .arg(kubeconfig)
            .args(clusters.iter().flat_map(|c| ["--context", c]))
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("Failed to start {}", args.fluxboard.display()))?;
        let pid = process.id().context("fluxboard's pid")?;
        let started = Instant::now();
        wait("fluxboard to be ready", || async {
            let res = http.get(format!("{url}/readyz")).send().await.ok()?;
            res.status().is_success().then_some(())
        })
        .await?;
        say(&format!("fluxboard is ready after {:.1} s", started.elapsed().as_secs_f64()));
        Ok(Fluxboard { url, metrics_url, pid, _process: process })
    }
}

/// Peak and current resident memory of a process, in MB.
pub(crate) fn rss(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0))
}

/// The CPU time a process has used so far (user and system, all threads).
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').context("/proc/<pid>/stat")?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 =
        fields.get(11..13).context("/proc/<pid>/stat is short")?.iter().filter_map(|f| f.parse::<u64>().ok()).sum();
    // Linux reports in USER_HZ, 100 per second on every architecture it runs on.
    Ok(Duration::from_millis(ticks * 10))
}

/// CPU time used by several processes between two moments: `start` then `finish`.
pub(crate) struct CpuMeter {
    pids: Vec<u32>,
    before: Vec<Duration>,
    started: Instant,
}

impl CpuMeter {
    pub(crate) fn start(pids: Vec<u32>) -> CpuMeter {
        let before = pids.iter().map(|p| cpu_time(*p).unwrap_or_default()).collect();
        CpuMeter { pids, before, started: Instant::now() }
    }

    /// The processes' CPU use since `start`, in percent of one core.
    pub(crate) fn percent(&self) -> f64 {
        let used: Duration = self
            .pids
            .iter()
            .zip(&self.before)
            .map(|(p, before)| cpu_time(*p).unwrap_or_default().saturating_sub(*before))
            .sum();
        100.0 * used.as_secs_f64() / self.started.elapsed().as_secs_f64().max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_cpu_time_and_memory() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        // Spin until the kernel has counted at least one tick more.
        let mut x = 0u64;
        while cpu_time(pid).unwrap() <= before && Instant::now() < deadline {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_time(pid).unwrap() > before);
        let (peak, now) = rss(pid).unwrap();
        assert!(peak >= now && now > 0.0, "{peak} {now}");
    }

    #[test]
    fn kubeconfigs_are_renamed_before_they_are_merged() {
        let yaml = r#"
apiVersion: v1
kind: Config
clusters: [{name: kube-sim, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: kube-sim, user: {token: secret}}]
contexts: [{name: kube-sim, context: {cluster: kube-sim, user: kube-sim}}]
current-context: kube-sim
"#;
        let one = renamed(kube::config::Kubeconfig::from_yaml(yaml).unwrap(), "cluster-1");
        let two = renamed(kube::config::Kubeconfig::from_yaml(yaml).unwrap(), "cluster-2");
        let merged = one.merge(two).unwrap();
        let names: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["cluster-1", "cluster-2"]);
        assert_eq!(merged.current_context.as_deref(), Some("cluster-1"));
        let context = merged.contexts[1].context.as_ref().unwrap();
        assert_eq!((context.cluster.as_str(), context.user.as_deref()), ("cluster-2", Some("cluster-2")));
        // The token survives the JSON it is written as.
        let json = serde_json::to_string(&merged).unwrap();
        assert!(json.contains("\"token\":\"secret\""), "{json}");
    }
}
