//! Helpers for the end-to-end tests: run the built binary against an in-process lab.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use mailcheck_testkit::lab::Lab;
use tokio::io::AsyncWriteExt;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mailcheck-audit")
}

/// A temp dir with the lab CA written, and the flags that point the binary at the lab.
pub struct LabArgs {
    pub dir: tempfile::TempDir,
    pub args: Vec<String>,
}

impl LabArgs {
    /// Flags for `lab`, with a greeting timeout of `greeting_secs` (the lab's slow server needs
    /// more than 6 s; the silent one costs this much).
    pub fn new(lab: &Lab, greeting_secs: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("lab-ca.pem");
        std::fs::write(&ca, lab.ca_pem()).unwrap();
        let hints = lab.checker_hints();
        let anchor = hints.trust_anchor.clone().unwrap_or_default();
        let args = [
            "--trust-anchor",
            &anchor,
            "--ns-port",
            &hints.ns_port.to_string(),
            "--resolver",
            &lab.resolver().to_string(),
            "--smtp-port",
            &lab.smtp_port().to_string(),
            "--mta-sts-port",
            &lab.mta_sts_port().to_string(),
            "--allow-private",
            "--ca-file",
            &ca.display().to_string(),
            "--dnsbl",
            "bl.test",
            "--no-egress-check",
            "--helo",
            "probe.mailcheck.test",
            "--open-relay-test",
            "--connect-timeout",
            "3",
            "--greeting-timeout",
            greeting_secs,
            "--command-timeout",
            "5",
            "--connect-interval",
            "0",
            "--retry-backoff",
            "0.3",
            "--no-progress",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        Self { dir, args }
    }

    /// A path in the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the temp dir and returns its path as a string.
    pub fn write(&self, name: &str, content: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }

    /// Runs the binary with the lab flags plus `extra`.
    pub async fn run(&self, extra: &[&str]) -> Output {
        run(&self.args, extra, None).await
    }

    /// Runs it with `stdin` as standard input.
    pub async fn run_stdin(&self, extra: &[&str], stdin: &str) -> Output {
        run(&self.args, extra, Some(stdin)).await
    }
}

/// Runs the binary. The history is off (`MAILCHECK_HISTORY=off`) unless a test passes
/// `--history PATH`: no test writes to the real home.
pub async fn run(base: &[String], extra: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(base)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("MAILCHECK_HISTORY", "off")
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn mailcheck-audit");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    child.wait_with_output().await.unwrap()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Reads a CSV report into header + records.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    csv_table(std::fs::File::open(path).unwrap())
}

/// Parses CSV text (a report on stdout, or a file) into header + records.
pub fn csv_table(source: impl std::io::Read) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(source);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The value of a named column.
pub fn col<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    &row[i]
}

/// The finding codes of a JSON report.
pub fn codes(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}
