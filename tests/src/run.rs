//! Running the built binary: where it is, and one run inside a lab namespace (a row, or a
//! batch of rows) with a timeout, its output collected as an [`Outcome`].

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Lab, Scenario, merge_args};

/// Workspace root (this package lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The `mailcheck-audit` binary: `$MAILCHECK_AUDIT_BIN`, else `$CARGO_TARGET_DIR/debug/…`,
/// else `<workspace>/target/debug/mailcheck-audit`. Build it first:
/// `cargo build -p mailcheck-audit` (tests/run-all.sh does).
pub fn audit_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MAILCHECK_AUDIT_BIN") {
        return PathBuf::from(p);
    }
    let root = workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    target.join("debug").join("mailcheck-audit")
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Outcome {
    /// The full command line, for the failure message.
    pub command: String,
    /// Exit status; `None` if it had to be killed after the timeout.
    pub status: Option<ExitStatus>,
    /// Raw stdout (the report JSON).
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Run `ip netns exec <ns> <bin> <args…> [<domain>]` for one row, killing it after `timeout`.
pub fn run_scenario(lab: &Lab, bin: &Path, sc: &Scenario, timeout: Duration) -> Outcome {
    let start = Instant::now();
    match lab
        .prober(sc.from.as_deref())
        .and_then(|p| Ok((p.ns.clone(), lab.audit_args(sc)?)))
    {
        Ok((ns, args)) => run_in(&ns, bin, &args, timeout),
        Err(e) => Outcome {
            command: format!("(row {})", sc.name),
            status: None,
            stdout: String::new(),
            stderr: e,
            elapsed: start.elapsed(),
        },
    }
}

/// The rows a batch run covers: probed from the lab's own namespace with the standard flags, a
/// domain each (not a `--vantage` row).
pub fn batchable(sc: &Scenario) -> bool {
    sc.from.is_none() && sc.args.is_empty() && !sc.is_vantage() && sc.domain.is_some()
}

/// Every row in `rows` in ONE `mailcheck-audit` run (JSON lines out), as an MSP's nightly CSV
/// would: the domains that share a real server share its sessions and transactions.
pub fn run_batch(lab: &Lab, bin: &Path, rows: &[&Scenario], timeout: Duration) -> Outcome {
    let prober = &lab.probers[0];
    let mut args = merge_args(lab.base_args(prober), &["--format=jsonl".to_owned()]);
    args.extend(rows.iter().filter_map(|sc| sc.domain.clone()));
    run_in(&prober.ns, bin, &args, timeout)
}

/// Run `ip netns exec <ns> <bin> <args…>`, killing it after `timeout`.
pub fn run_in(ns: &str, bin: &Path, args: &[String], timeout: Duration) -> Outcome {
    let start = Instant::now();
    let ns = ns.to_owned();
    let command = format!("ip netns exec {ns} {} {}", bin.display(), args.join(" "));
    let spawned = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                command,
                status: None,
                stdout: String::new(),
                stderr: format!("spawn failed: {e}"),
                elapsed: start.elapsed(),
            };
        }
    };
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let elapsed = start.elapsed();
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if status.is_none() {
        let _ = write!(stderr, "\n[interop] killed after {timeout:?}");
    }
    Outcome {
        command,
        status,
        stdout,
        stderr,
        elapsed,
    }
}
