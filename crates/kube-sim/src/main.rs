//! The `kube-sim` binary: starts the emulated cluster and writes a kubeconfig for it.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::Parser;
use kube_sim::{FleetChoice, FluxRelease, Sim, SimConfig, StaticToken, Timing};

/// An emulated Kubernetes API server with emulated Flux controllers.
#[derive(Debug, Parser)]
#[command(name = "kube-sim", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "KUBE_SIM_PORT", default_value_t = 0)]
    port: u16,
    /// Seed the demo fleet with this cluster name (production, staging, ...).
    #[arg(long, default_value = "production", conflicts_with_all = ["objects", "empty"])]
    demo: String,
    /// Seed a scalable fleet of about this many Flux objects instead.
    #[arg(long)]
    objects: Option<usize>,
    /// Seed nothing but the Flux installation.
    #[arg(long)]
    empty: bool,
    /// Serve the API versions of this Flux release (for example 2.2), or `latest`.
    #[arg(long, default_value = "latest")]
    flux_version: FluxRelease,
    /// `demo` (human-visible delays) or `instant`.
    #[arg(long, default_value = "demo")]
    timing: String,
    /// Extra bearer tokens: `token=user[:group,group]`.
    #[arg(long = "token")]
    tokens: Vec<StaticToken>,
    /// Where to write the kubeconfig (default: a file in the temp directory).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "kube_sim=info".into()),
        )
        .init();
    let args = Args::parse();
    let fleet = match (args.objects, args.empty) {
        (Some(n), _) => FleetChoice::Scale(n),
        (None, true) => FleetChoice::Empty,
        (None, false) => FleetChoice::Demo(args.demo.clone()),
    };
    let timing = match args.timing.as_str() {
        "instant" => Timing::instant(),
        "demo" => Timing::demo(),
        other => anyhow::bail!("unknown timing {other:?}: use demo or instant"),
    };
    let config = SimConfig {
        port: args.port,
        flux_release: args.flux_version,
        fleet,
        timing,
        tokens: args.tokens,
        bookmark_interval: Duration::from_secs(30),
        ..SimConfig::default()
    };
    let sim = Sim::start(config).await.context("Failed to start kube-sim")?;
    let path = args
        .kubeconfig
        .unwrap_or_else(|| std::env::temp_dir().join(format!("kube-sim-{}.kubeconfig", sim.addr().port())));
    sim.write_kubeconfig(&path)?;
    println!("kube-sim is serving on {}", sim.url());
    println!("kubeconfig: {}", path.display());
    println!("try: KUBECONFIG={} kubectl get kustomizations -A", path.display());
    tokio::signal::ctrl_c().await.context("Failed to wait for Ctrl-C")?;
    Ok(())
}
