//! Embeds the built web app (frontend/dist, made by `cargo xtask dist`, or `FLUXBOARD_DIST`)
//! into the binary. Without a build, a page that says how to make one is embedded instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=FLUXBOARD_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = std::env::var_os("FLUXBOARD_DIST").map_or_else(|| manifest.join("../frontend/dist"), PathBuf::from);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("assets.rs");
    let mut code = String::new();
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
        let index = dist.join("index.html");
        writeln!(code, "const FRONTEND_BUILT: bool = true;").unwrap();
        writeln!(code, "const INDEX_HTML: &str = include_str!({:?});", index.display().to_string()).unwrap();
        writeln!(code, "static ASSETS: &[(&str, &[u8], &str)] = &[").unwrap();
        let mut files = Vec::new();
        collect(&dist.join("assets"), &dist.join("assets"), &mut files);
        files.sort();
        for (name, path) in files {
            writeln!(
                code,
                "    ({name:?}, include_bytes!({:?}), {:?}),",
                path.display().to_string(),
                content_type(&name)
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    } else {
        // Rebuild when the frontend is built later.
        println!("cargo:rerun-if-changed={}", manifest.join("../frontend").display());
        writeln!(code, "const FRONTEND_BUILT: bool = false;").unwrap();
        writeln!(code, "const INDEX_HTML: &str = {PLACEHOLDER:?};").unwrap();
        writeln!(code, "static ASSETS: &[(&str, &[u8], &str)] = &[];").unwrap();
    }
    std::fs::write(out, code).expect("write assets.rs");
}

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><base href=\"/\">\
<title>fluxboard</title></head><body><h1>fluxboard</h1><p>The web app was not built into this binary. \
Run <code>cargo xtask dist</code> (or <code>cargo xtask demo</code>) and build again.</p></body></html>";

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
