//! `cargo xtask`: the project's build and test tasks, in Rust.
//!
//! - `dist`: builds the web app for wasm32 (size-optimised profile), runs wasm-bindgen and
//!   wasm-opt (from the npm package `binaryen`; Debian's binaryen writes wasm that fails in the
//!   browser), and writes `frontend/dist` with content-hashed file names for the server to embed.
//! - `demo [args]`: `dist`, then `fluxboard demo`.
//! - `test [args]`: `dist`, then the whole test suite (`cargo test --workspace`), after making
//!   sure the browser and Redis the tests use are installed and the real cluster's binaries are
//!   built (`tools/real-cluster/build.sh`).
//! - `bench [args]`: `dist`, a release build of fluxboard, kube-sim and fluxboard-bench, then
//!   `fluxboard-bench run` (separate processes on loopback; see crates/bench): prints a table
//!   and writes `target/bench/results.json`.
//! - `real-cluster`: builds the real stack from pinned upstream Go modules when needed
//!   (`tools/real-cluster/build.sh`), starts it with a fleet (crates/real-cluster), prints its
//!   kubeconfig and runs until Ctrl-C, then stops every process it started.
//! - `setup`: installs what the other tasks need and is missing: the wasm target, the pinned
//!   wasm-bindgen-cli, binaryen, Chromium and ChromeDriver, redis-server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use sha2::Digest as _;

/// The binaryen release whose wasm-opt is used.
const BINARYEN_VERSION: &str = "132.0.0";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = root();
    std::env::set_current_dir(&root)?;
    match task.as_str() {
        "dist" => dist(&root),
        "demo" => {
            dist(&root)?;
            say("starting the demo");
            run(Command::new(cargo()).args(["run", "-p", "fluxboard", "--", "demo"]).args(&rest))
        }
        "test" => {
            setup_test_tools()?;
            say("building the real cluster's binaries if needed (tools/real-cluster/build.sh)");
            real_cluster::ensure_built()?;
            dist(&root)?;
            say("running every test");
            run(Command::new(cargo()).args(["test", "--workspace", "--locked"]).args(&rest))
        }
        "bench" => {
            setup_test_tools()?;
            dist(&root)?;
            say("building fluxboard, kube-sim and the benchmark (release)");
            run(Command::new(cargo()).args([
                "build",
                "--release",
                "--locked",
                "-p",
                "fluxboard",
                "-p",
                "kube-sim",
                "-p",
                "fluxboard-bench",
            ]))?;
            let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
            let release = target_dir.join("release");
            say("running the benchmark");
            run(Command::new(release.join("fluxboard-bench"))
                .arg("run")
                .arg("--fluxboard")
                .arg(release.join("fluxboard"))
                .arg("--kube-sim")
                .arg(release.join("kube-sim"))
                .arg("--assets")
                .arg(root.join("frontend/dist/assets"))
                .arg("--out")
                .arg(target_dir.join("bench/results.json"))
                .args(&rest))
        }
        "real-cluster" => real_cluster(),
        "setup" => {
            setup_build_tools(&root)?;
            setup_test_tools()
        }
        _ => {
            bail!(
                "usage: cargo xtask <dist | demo [fluxboard demo flags] | test [cargo test flags] | bench [fluxboard-bench run flags] | real-cluster | setup>"
            )
        }
    }
}

/// `cargo xtask real-cluster`: the real API server and Flux controllers with a fleet, until Ctrl-C.
fn real_cluster() -> anyhow::Result<()> {
    say("building the real cluster's binaries if needed (tools/real-cluster/build.sh; the first build takes a while)");
    let cluster = real_cluster::Cluster::start(&real_cluster::Options::default())?;
    println!("kubeconfig: {}", cluster.kubeconfig.display());
    println!("  kubectl --kubeconfig {} get ks,hr,gitrepo,helmrepo -A", cluster.kubeconfig.display());
    println!(
        "  cargo run -p fluxboard -- serve --kubeconfig {} --listen 127.0.0.1:8080 --open-role admin --act-as service-account",
        cluster.kubeconfig.display()
    );
    println!(
        "  tokens: admin {}  operator {}  viewer {}",
        cluster.tokens.admin, cluster.tokens.operator, cluster.tokens.viewer
    );
    println!("  logs: {}/logs", cluster.dir.display());
    println!("running until Ctrl-C");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let mut check = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = check.tick() => cluster.check_running()?,
            }
        }
    });
    say("stopping every process");
    drop(cluster);
    result
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the workspace root").to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn say(what: &str) {
    eprintln!("\x1b[1mxtask:\x1b[0m {what}");
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("Failed to start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The version of a package in Cargo.lock.
fn locked_version(root: &Path, package: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("Failed to read Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle).with_context(|| format!("{package} is not in Cargo.lock"))? + needle.len();
    Ok(lock[start..].split('"').next().unwrap_or_default().to_owned())
}

fn tools_dir(root: &Path) -> PathBuf {
    root.join("target/tools")
}

fn wasm_opt(root: &Path) -> PathBuf {
    tools_dir(root).join("node_modules/.bin/wasm-opt")
}

fn setup_build_tools(root: &Path) -> anyhow::Result<()> {
    let targets = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == "wasm32-unknown-unknown") {
        say("installing the wasm32-unknown-unknown target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let want = locked_version(root, "wasm-bindgen")?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(want.as_str()) {
        say(&format!("installing wasm-bindgen-cli {want} (it must match the wasm-bindgen crate; takes a few minutes)"));
        run(Command::new(cargo()).args(["install", "wasm-bindgen-cli", "--version", &want]))?;
    }
    if !wasm_opt(root).exists() {
        say(&format!("installing wasm-opt from the npm package binaryen@{BINARYEN_VERSION}"));
        std::fs::create_dir_all(tools_dir(root))?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools_dir(root))
            .arg(format!("binaryen@{BINARYEN_VERSION}")))?;
    }
    Ok(())
}

/// Chromium and ChromeDriver for the browser tests, redis-server for the shared-session tests,
/// the npm package oidc-provider (at the versions of tests/oidc/package-lock.json) for SSO.
fn setup_test_tools() -> anyhow::Result<()> {
    let packages = ["tests/oidc/node_modules/oidc-provider", "tests/oidc/node_modules/axe-core"];
    if !packages.iter().all(|p| Path::new(p).exists()) {
        say("installing the browser tests' npm packages: oidc-provider, axe-core (npm ci in tests/oidc)");
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir("tests/oidc"))?;
    }
    let missing: Vec<&str> = [
        ("chromium", "/usr/bin/chromium"),
        ("chromium-driver", "/usr/bin/chromedriver"),
        ("redis-server", "/usr/bin/redis-server"),
    ]
    .into_iter()
    .filter(|(_, path)| !Path::new(path).exists())
    .map(|(package, _)| package)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    say(&format!("installing {} with apt-get", missing.join(", ")));
    let root_user = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root_user { Command::new("apt-get") } else { Command::new("sudo") };
        if !root_user {
            cmd.arg("apt-get");
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    run(apt(&["install", "-y", "-qq"]).args(&missing))
}

/// Builds the web app into `frontend/dist`.
fn dist(root: &Path) -> anyhow::Result<()> {
    setup_build_tools(root)?;
    say("building the web app for wasm32 (profile wasm-release)");
    run(Command::new(cargo()).args([
        "build",
        "-p",
        "fluxboard-frontend",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
        "--locked",
    ]))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/fluxboard_frontend.wasm");
    let staging = target_dir.join("dist-staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    say("running wasm-bindgen");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", "fluxboard", "--out-dir"])
        .arg(&staging)
        .arg(&wasm))?;
    // No inlining by wasm-opt (LLVM has inlined what pays at opt-level z; binaryen's inlining of
    // single-use functions makes bodies that no longer merge nor compress: 42 KB gzip), fold the
    // monomorphised copies that differ only in constants (Leptos views and signals make many:
    // 13 KB gzip), restructure the control flow once, then -Os until nothing changes (about 2 KB
    // less gzip than -Oz: the gzipped size is the budget, and -Oz's output is smaller raw but
    // compresses worse). About a minute in all.
    say("optimising with wasm-opt (merge similar functions, then -Os --converge)");
    let bindgen_wasm = staging.join("fluxboard_bg.wasm");
    let optimised = staging.join("fluxboard.opt.wasm");
    run(Command::new(wasm_opt(root))
        .args([
            "--no-inline=*",
            "--duplicate-function-elimination",
            "--merge-similar-functions",
            "--flatten",
            "--rereloop",
            "-Os",
            "--merge-similar-functions",
            "-Os",
            "--converge",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(&bindgen_wasm)
        .arg("-o")
        .arg(&optimised))?;

    let dist = root.join("frontend/dist");
    let assets = dist.join("assets");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&assets)?;
    let js = std::fs::read(staging.join("fluxboard.js"))?;
    let wasm_bytes = std::fs::read(&optimised)?;
    let css = std::fs::read(root.join("frontend/style.css")).context("frontend/style.css")?;
    let js_name = format!("fluxboard-{}.js", hash(&js));
    let wasm_name = format!("fluxboard-{}.wasm", hash(&wasm_bytes));
    let css_name = format!("style-{}.css", hash(&css));
    std::fs::write(assets.join(&js_name), &js)?;
    std::fs::write(assets.join(&wasm_name), &wasm_bytes)?;
    std::fs::write(assets.join(&css_name), &css)?;
    // A boot script file (not inline: the page's CSP allows only scripts from the server).
    let boot = format!(
        "import init from './{js_name}';\ninit({{ module_or_path: new URL('./{wasm_name}', import.meta.url) }});\n"
    );
    let boot_name = format!("boot-{}.js", hash(boot.as_bytes()));
    std::fs::write(assets.join(&boot_name), &boot)?;
    let template = std::fs::read_to_string(root.join("frontend/index.html")).context("frontend/index.html")?;
    let index = template
        .replace("{{CSS}}", &css_name)
        .replace("{{BOOT}}", &boot_name)
        .replace("{{JS}}", &js_name)
        .replace("{{WASM}}", &wasm_name);
    std::fs::write(dist.join("index.html"), index)?;
    say(&format!(
        "web app written to frontend/dist: wasm {} KB ({} KB gzip), js {} KB",
        wasm_bytes.len() / 1024,
        gzip_len(&wasm_bytes) / 1024,
        js.len() / 1024
    ));
    Ok(())
}

fn hash(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(bytes);
    enc.finish().map_or(0, |v| v.len())
}
