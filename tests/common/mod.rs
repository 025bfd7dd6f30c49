//! Shared helpers: run the real binary, load the real pipeline.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pipeline_path() -> PathBuf {
    root().join("pipelines/dealership.toml")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn dealerscope(args: &[&str]) -> Run {
    dealerscope_env(args, &[])
}

/// Runs the binary with extra environment variables.
pub fn dealerscope_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_dealerscope"))
        .args(args)
        .env("DEALERSCOPE_PIPELINE", pipeline_path())
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `content` to a file named `name` in a fresh temporary directory.
pub fn write_temp(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write");
    (dir, path)
}

pub fn analyze_json(path: &Path) -> serde_json::Value {
    let run = dealerscope(&[
        "analyze",
        path.to_str().unwrap(),
        "--json",
        "--date",
        "2026-11-20",
    ]);
    assert_eq!(run.code, 0, "analyze failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("stdout is one JSON document")
}

pub fn ids(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn values(v: &serde_json::Value, key: &str, id: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == id)
        .filter_map(|s| s["value"].as_str().map(str::to_string))
        .collect()
}

/// Every wanted id is among the found ones (the message lists what was found).
pub fn assert_has(found: &[String], wanted: &[&str]) {
    for want in wanted {
        assert!(
            found.iter().any(|f| f == want),
            "missing {want} in {found:?}"
        );
    }
}
pub mod browser;
pub mod service;
