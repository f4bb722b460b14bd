//! `--synthetic`'s lab in a child process (this example re-executed with `--serve-lab`), so the
//! auditor's peak memory is its own: the child's side ([`serve_lab`]) and the parent's handle
//! ([`LabChild`]).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mailcheck_testkit::smtp::SmtpServer;

use crate::Args;
use crate::lab::{LabAddr, build_synthetic_lab, lab_runtime};
use crate::measure::{clock_ticks_per_sec, cpu_ticks, status_kib};

/// Child side: serves the synthetic lab until stdin closes, then prints its counters.
pub(crate) fn serve_lab(a: &Args) {
    let rt = lab_runtime();
    let (dns, servers, ca_pem) = rt.block_on(build_synthetic_lab(a));
    let ca_file = a.ca_file.as_ref().expect("--ca-file");
    std::fs::write(ca_file, ca_pem).expect("write the CA");
    println!(
        "ready {} {}",
        dns.addr(),
        servers.first().map_or(0, |s| s.addr().port())
    );
    std::io::stdout().flush().expect("stdout");
    let dns = Arc::new(dns);
    let done = Arc::new(AtomicBool::new(false));
    let stdin_watch = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    // The query log would grow with every domain: keep it empty.
    while !done.load(Ordering::Relaxed) {
        dns.reset_queries();
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = stdin_watch.join();
    let connections: usize = servers.iter().map(SmtpServer::connections).sum();
    let max_open = servers
        .iter()
        .map(SmtpServer::max_concurrent_connections)
        .max()
        .unwrap_or(0);
    let exchanges: usize = servers.iter().map(SmtpServer::exchanges).sum();
    let ticks = clock_ticks_per_sec();
    let cpu_ms = cpu_ticks("").0 as f64 * 1000.0 / ticks as f64;
    println!(
        "stats {connections} {max_open} {exchanges} {cpu_ms:.0} {}",
        status_kib("VmHWM:")
    );
    std::io::stdout().flush().expect("stdout");
    drop(servers);
    drop(rt);
}

pub(crate) struct LabChild {
    pub(crate) child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl LabChild {
    pub(crate) fn spawn(a: &Args, ca_file: &Path) -> (Self, LabAddr) {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("own path"));
        cmd.arg("--serve-lab")
            .args(["--hosts", &a.hosts.to_string()])
            .args(["--rtt-ms", &a.rtt().as_millis().to_string()])
            .arg("--ca-file")
            .arg(ca_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if !a.tls {
            cmd.arg("--no-tls");
        }
        if !a.pipelining {
            cmd.arg("--no-pipelining");
        }
        let mut child = cmd.spawn().expect("start the lab process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("lab stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("lab ready line");
        let mut f = line.split_whitespace();
        assert_eq!(f.next(), Some("ready"), "lab said {line:?}");
        let dns = f.next().and_then(|s| s.parse().ok()).expect("lab DNS");
        let smtp_port = f.next().and_then(|s| s.parse().ok()).expect("lab port");
        let ca_pem = std::fs::read_to_string(ca_file).expect("lab CA");
        (
            Self {
                child,
                stdin,
                stdout,
            },
            LabAddr {
                dns,
                smtp_port,
                ca_pem,
            },
        )
    }

    /// Stops the lab; its counters: connections, most open at once, exchanges, CPU ms, VmHWM.
    pub(crate) fn finish(mut self) -> Vec<f64> {
        drop(self.stdin.take());
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("lab stats line");
        let _ = self.child.wait();
        line.split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect()
    }
}
