//! The `fluxboard` binary: `serve` against real clusters, `demo` against emulated ones.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fluxboard::actions::ActAs;
use fluxboard::auth::{Identity, Role};
use fluxboard::{App, Options};

/// A live web dashboard for Flux CD.
#[derive(Debug, Parser)]
#[command(name = "fluxboard", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `fluxboard serve`'s flags.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FLUXBOARD_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Address of the metrics listener (`/metrics` and the detailed `/readyz`), kept apart
    /// from the public port so an Ingress never routes it.
    #[arg(long, env = "FLUXBOARD_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    metrics_listen: SocketAddr,
    /// The kubeconfig file (default: KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "FLUXBOARD_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Contexts to watch, each a cluster (default: the current context). Repeatable.
    #[arg(long = "context", env = "FLUXBOARD_CONTEXTS", value_delimiter = ',')]
    contexts: Vec<String>,
    /// Use the in-cluster ServiceAccount instead of a kubeconfig.
    #[arg(long, env = "FLUXBOARD_IN_CLUSTER")]
    in_cluster: bool,
    /// The cluster's name in the dashboard when running in-cluster.
    #[arg(long, env = "FLUXBOARD_CLUSTER_NAME", default_value = "in-cluster")]
    cluster_name: String,
    /// Serve under this path prefix, for example /fluxboard behind a proxy.
    #[arg(long, env = "FLUXBOARD_BASE_PATH", default_value = "")]
    base_path: String,
    /// The configuration file (login methods, users, role bindings, sessions).
    #[arg(long, env = "FLUXBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Without any login method configured: the role every visitor gets (viewer by default).
    #[arg(long, env = "FLUXBOARD_OPEN_ROLE", default_value = "viewer")]
    open_role: Role,
    /// Send reads and actions impersonating the user (cluster RBAC decides), or as
    /// fluxboard's own ServiceAccount (for clusters without per-user RBAC). Default: `user`
    /// with a login method, `service-account` without one (there is no user to impersonate).
    #[arg(long, env = "FLUXBOARD_ACT_AS", value_parser = ["user", "service-account"])]
    act_as: Option<String>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // reason: parsed once at start; boxing buys nothing
enum Command {
    /// Watch real clusters (kubeconfig contexts, or the cluster fluxboard runs in).
    Serve(ServeArgs),
    /// Run the dashboard on emulated clusters (production and staging) with a demo fleet.
    #[cfg(feature = "demo")]
    Demo {
        /// Port on 127.0.0.1.
        #[arg(long, env = "FLUXBOARD_PORT", default_value_t = 8080)]
        port: u16,
        /// Serve under this path prefix.
        #[arg(long, env = "FLUXBOARD_BASE_PATH", default_value = "")]
        base_path: String,
        /// Seed about this many Flux objects in `production` instead of the demo fleet.
        #[arg(long)]
        objects: Option<usize>,
    },
    /// Read a password (without echo) and print its argon2id hash for the configuration file.
    HashPassword,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    if let Some(files) = fluxboard::conn::raise_open_files_limit() {
        tracing::debug!(files, "open files limit");
    }
    match Cli::parse().command {
        Command::HashPassword => {
            let password = read_password()?;
            println!("{}", fluxboard::login::hash_password(&password)?);
        }
        Command::Serve(args) => serve(args).await?,
        #[cfg(feature = "demo")]
        Command::Demo { port, base_path, objects } => demo(port, base_path, objects).await?,
    }
    Ok(())
}

/// Logs to standard error: JSON lines for log collectors (FLUXBOARD_LOG_FORMAT=json, as the
/// chart sets), text otherwise; `RUST_LOG` filters.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "fluxboard=info,audit=info,kube_sim=warn".into());
    if std::env::var("FLUXBOARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt().json().with_current_span(false).with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

/// `fluxboard serve`: the configuration, the clusters, then the public and metrics listeners
/// until Ctrl-C or SIGTERM.
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => fluxboard::config::Config::load(path)?,
        None => fluxboard::config::Config::default(),
    };
    let clusters = if args.in_cluster {
        vec![fluxboard::cluster::in_cluster(&args.cluster_name)?]
    } else {
        fluxboard::cluster::from_kubeconfig(args.kubeconfig.as_deref(), &args.contexts).await?
    };
    let identity = if config.has_login() || config.auth.anonymous.enabled {
        None
    } else {
        tracing::warn!(role = ?args.open_role, "no login method is configured: every visitor gets the open role");
        Some(Identity::open(args.open_role))
    };
    let act_as = act_as(args.act_as.as_deref(), identity.is_some())?;
    let options = Options { base_path: args.base_path, identity, config, act_as, ..Options::default() };
    let app = App::start(clusters, &options).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("Failed to listen on {}", args.listen))?;
    let metrics = tokio::net::TcpListener::bind(args.metrics_listen)
        .await
        .with_context(|| format!("Failed to listen on {} (--metrics-listen)", args.metrics_listen))?;
    tracing::info!(address = %listener.local_addr()?, metrics = %metrics.local_addr()?, "fluxboard is serving");
    let mut stopping = app.state.shutdown.subscribe();
    let metrics = tokio::spawn(app.serve_metrics(metrics, async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    }));
    app.serve(listener, shutdown_signal()).await?;
    let _ = metrics.await;
    Ok(())
}

/// One rule for reads and writes: without login (`open`), both go as the dashboard.
fn act_as(flag: Option<&str>, open: bool) -> anyhow::Result<ActAs> {
    match (flag, open) {
        (Some("service-account"), _) | (None, true) => Ok(ActAs::ServiceAccount),
        (Some(_), true) => anyhow::bail!(
            "--act-as user needs a login method (auth in --config): without login there is no user to impersonate"
        ),
        (_, false) => Ok(ActAs::User),
    }
}

/// `fluxboard demo`: emulated clusters with the demo fleet, and the dashboard on 127.0.0.1.
#[cfg(feature = "demo")]
async fn demo(port: u16, base_path: String, objects: Option<usize>) -> anyhow::Result<()> {
    use fluxboard::demo::{Demo, DemoOptions};
    let demo = Demo::start(&DemoOptions { objects, ..DemoOptions::default() }).await?;
    let password =
        std::env::var("FLUXBOARD_DEMO_PASSWORD").ok().filter(|p| !p.is_empty()).unwrap_or_else(random_password);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("Failed to listen on 127.0.0.1:{port} (is another demo running? try --port)"))?;
    let port = listener.local_addr()?.port();
    let mut config = fluxboard::demo::demo_config(&password)?;
    // Only its own address is answered (no DNS rebinding from a web page).
    config.allowed_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    let options = Options { base_path, identity: None, config, ..Options::default() };
    let app = App::start(demo.clusters().await?, &options).await?;
    let base = app.state.base_path.clone();
    println!();
    println!("  fluxboard demo is running: open http://{}{base}/", listener.local_addr()?);
    println!("  emulated clusters: {}", demo.contexts.join(", "));
    println!(
        "  change them with: kubectl --kubeconfig {} --context production get kustomizations -A",
        demo.kubeconfig.display()
    );
    if !fluxboard::assets::frontend_built() {
        println!("  note: the web app was not built into this binary; run `cargo xtask demo` instead");
    }
    println!("  log in as admin, operator (team-a only) or viewer, password: {password}");
    println!("  or with the emulated clusters' admin token (random per run): {}", demo.admin_token);
    println!("  press Ctrl-C to stop");
    println!();
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// A password from the terminal (twice, without echo), or one line of standard input.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        return Ok(password);
    }
    let password = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    anyhow::ensure!(password == again, "the passwords differ");
    anyhow::ensure!(password.chars().count() >= 8, "use at least 8 characters");
    Ok(password)
}

/// 16 random letters and digits.
#[cfg(feature = "demo")]
fn random_password() -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
