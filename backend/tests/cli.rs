//! The `fluxboard` binary's own commands.

use std::io::Write as _;
use std::process::{Command, Stdio};

#[test]
fn hash_password_prints_an_argon2id_hash_of_the_password() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxboard"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(fluxboard::login::verify_password("s3cret password", hash));
    assert!(!fluxboard::login::verify_password("s3cret password\n", hash), "the newline is not part of it");
}

#[test]
fn a_broken_configuration_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "auth:\n  local:\n    users:\n      - username: alice\n        passwordHash: plain-text\n")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fluxboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alice") && stderr.contains("PHC"), "{stderr}");
}
