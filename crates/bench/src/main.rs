//! `fluxboard-bench`: measures fluxboard against its performance budgets.
//!
//! `run` is one whole benchmark (what `cargo xtask bench` starts); `clients` is a process of
//! SSE readers that `run` starts for each stage (several for the larger stages).

mod browser;
mod changes;
mod clients;
mod procs;
mod run;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fluxboard-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark, print a table and write the results as JSON.
    Run(run::RunArgs),
    /// SSE readers (started by `run`).
    Clients(clients::ClientsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Clients(args) => clients::run(args).await,
        Command::Run(args) => {
            let out = args.out.clone();
            let (skipped, no_budgets) = (run::skipped(&args), args.no_budgets);
            let results = run::run(args).await?;
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
            let met = run::report(&results, &skipped);
            println!();
            println!("results written to {}", out.display());
            if !met && !no_budgets {
                anyhow::bail!("some budgets were missed or not measured (see above)");
            }
            Ok(())
        }
    }
}
