//! The shape of the code, kept true: only the modules ARCHITECTURE.md names talk to the clusters
//! through kube, and every module opens with a `//!` doc saying what it is.

use std::path::{Path, PathBuf};

/// The modules that may use kube (ARCHITECTURE.md, "Architecture Invariant").
const KUBE_MODULES: [&str; 6] =
    ["api/actions.rs", "api/controllers.rs", "demo.rs", "fleet/cluster.rs", "fleet/objects.rs", "http/error.rs"];

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap().to_string_lossy().replace('\\', "/")
}

#[test]
fn only_the_named_modules_use_kube() {
    let users: Vec<String> = sources()
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines().any(|l| !l.trim_start().starts_with("//") && (l.contains("kube::") || l.contains("use kube")))
        })
        .map(|p| relative(p))
        .collect();
    assert_eq!(users, KUBE_MODULES, "update ARCHITECTURE.md's kube boundary with this list");
}

#[test]
fn every_module_opens_with_its_doc() {
    for path in sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("//!"), "{} does not open with a //! module doc", relative(&path));
    }
}
