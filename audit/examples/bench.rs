//! Benchmark of the audit engine (not a test):
//!
//! ```text
//! cargo run --release -p mailcheck-audit --example bench -- \
//!     --domains 1000 --hosts 20 --rtt-ms 40 -j 200
//! cargo run --release -p mailcheck-audit --example bench -- \
//!     --domains 1000 --hosts 20 --rtt-ms 40 -j 200 --batch 1
//! cargo run --release -p mailcheck-audit --example bench -- --shared-ip 200
//! cargo run --release -p mailcheck-audit --example bench -- --shared-ip 5 --sni
//! cargo run --release -p mailcheck-audit --example bench -- --synthetic 1000000
//! ```
//!
//! Builds a synthetic lab and runs the auditor's engine (`mailcheck_audit::run`) over it with
//! `-j` domains in flight, writing CSV and JSONL reports to a temp dir. DNSBL checks are off.
//!
//! **Latency model.** Every SMTP server answers with the testkit's
//! [`round_trip`](mailcheck_testkit::smtp::SmtpServerBuilder::round_trip) model: one round trip
//! (`--rtt-ms`, alias `--latency-ms`) per packet exchange, not per reply: the greeting one RTT
//! after the accept, all the commands a client pipelined in one write answered together one
//! RTT later, and one RTT for the TLS handshake. DNS answers at loopback speed.
//!
//! **Scenarios.**
//! - default: `--domains` N domains whose MX records point at `--hosts` M SMTP servers
//!   (127.0.1.10 + k, one port, STARTTLS with a lab CA unless `--no-tls`, PIPELINING unless
//!   `--no-pipelining`), domain i on host i mod M.
//! - `--shared-ip N`: N domains, each with its own MX name `mx{i}.shared.test`, all names on
//!   ONE address (127.0.1.10) whose certificate covers every name (SNI ignored); with `--sni`
//!   the server picks a leaf per SNI name instead, and the bench sets `min_connect_interval`
//!   to 50 ms (said in the output), so keep N small there (e.g. 5).
//! - `--synthetic N`: streaming memory. N domains `d{i}.h{k}.bench.test` written to a temp CSV
//!   file (never held in memory) and read back through the file source; MX, SPF, DMARC, TLS-RPT
//!   come from DNS wildcards (`*.h{k}.bench.test`); RTT 0 unless `--rtt-ms` is given; CSV report
//!   only (`--jsonl` adds the JSONL). The lab runs in a child process (this example
//!   re-executed with `--serve-lab`), so the peak RSS (`VmHWM`) is the auditor's alone; it is
//!   printed as the processed count (counted by the CSV renderer) passes 10 k, 100 k, 1 M and
//!   at the end.
//!
//! **Knobs.** `--batch N` sets `max_rcpts_per_transaction` (`--batch 1`: one domain per
//! transaction), `--sessions-per-ip N` sets `sessions_per_ip`, `--no-auth` turns the
//! authentication checks off.
//!
//! **Printed.** Wall time, domains/s, CPU ms per domain (the auditor's threads only: the lab's
//! runtime threads are subtracted), peak RSS, SMTP connections and the most open at once per
//! server, reply exchanges, verdicts, and the floors:
//! - the network floor with sharing: per MX address, one fresh session (connect + greeting,
//!   EHLO, STARTTLS, TLS handshake, EHLO: 5 RTT with TLS, 2 without) then one RTT per
//!   transaction of up to `--batch` domains when pipelined (MAIL + RCPTs + RSET in one write;
//!   without PIPELINING: MAIL 1 + one per RCPT + RSET 1), sessions of one address split its
//!   domains, a fresh session every `max_transactions_per_session` domains; addresses in
//!   parallel, so the floor is the slowest address. Printed as floor/wall (target ≥ 0.8);
//! - the old floors, for comparison: the issue's floor (7 replies × RTT per domain × N / -j,
//!   5 without TLS) and the politeness floor (one session per address, a fresh one then 3
//!   replies per further domain).
//!
//! **Layout.** This file reads the flags and picks the scenario; beside it, in `bench/`:
//! `scenarios` (the three scenarios, each building its lab, auditing and printing), `lab` (the
//! in-process labs and the auditor's configuration for them), `child` (the `--synthetic` lab in a
//! child process), `measure` (CPU and memory from `/proc`, the engine run), `floor` (the network
//! floors) and `print` (the lines all scenarios print).

/// The allocator of `mailcheck-audit`, so memory figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The modules live in `bench/`: an example's crate root would look for them in `examples/`,
// where cargo would take each file for an example of its own.
#[path = "bench/child.rs"]
mod child;
#[path = "bench/floor.rs"]
mod floor;
#[path = "bench/lab.rs"]
mod lab;
#[path = "bench/measure.rs"]
mod measure;
#[path = "bench/print.rs"]
mod print;
#[path = "bench/scenarios.rs"]
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use child::serve_lab;
use scenarios::{bench_hosts, bench_shared, bench_synthetic};

/// `min_connect_interval` in the `--sni` scenario.
const SNI_CONNECT_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
struct Args {
    domains: usize,
    hosts: u8,
    /// `None`: the scenario's default (20 ms, 0 for `--synthetic`).
    rtt: Option<Duration>,
    concurrency: usize,
    tls: bool,
    auth: bool,
    batch: Option<u32>,
    sessions_per_ip: Option<u32>,
    pipelining: bool,
    shared_ip: Option<usize>,
    sni: bool,
    synthetic: Option<usize>,
    /// Write the JSONL report too (always, except under `--synthetic` without `--jsonl`).
    jsonl: bool,
    /// Internal: serve the synthetic lab (child process), CA written to `ca_file`.
    serve_lab: bool,
    ca_file: Option<PathBuf>,
}

const USAGE: &str = "flags: --domains N --hosts M (1..=240) --rtt-ms L (alias --latency-ms) -j C \
     --batch N --sessions-per-ip N --no-pipelining --no-tls --no-auth --no-dnsbl (default) \
     --shared-ip N [--sni] --synthetic N [--jsonl]";

fn args() -> Args {
    let mut a = Args {
        domains: 1000,
        hosts: 20,
        rtt: None,
        concurrency: 200,
        tls: true,
        auth: true,
        batch: None,
        sessions_per_ip: None,
        pipelining: true,
        shared_ip: None,
        sni: false,
        synthetic: None,
        jsonl: false,
        serve_lab: false,
        ca_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--domains" => a.domains = value().parse().expect("--domains N"),
            "--hosts" => a.hosts = value().parse().expect("--hosts M (1..=240)"),
            "--rtt-ms" | "--latency-ms" => {
                a.rtt = Some(Duration::from_millis(value().parse().expect("--rtt-ms L")));
            }
            "-j" | "--concurrency" => a.concurrency = value().parse().expect("-j C"),
            "--batch" => a.batch = Some(value().parse().expect("--batch N (≥ 1)")),
            "--sessions-per-ip" => {
                a.sessions_per_ip = Some(value().parse().expect("--sessions-per-ip N (≥ 1)"));
            }
            "--no-pipelining" => a.pipelining = false,
            "--no-tls" => a.tls = false,
            "--no-auth" => a.auth = false,
            "--no-dnsbl" => {}
            "--shared-ip" => a.shared_ip = Some(value().parse().expect("--shared-ip N")),
            "--sni" => a.sni = true,
            "--synthetic" => a.synthetic = Some(value().parse().expect("--synthetic N")),
            "--jsonl" => a.jsonl = true,
            "--serve-lab" => a.serve_lab = true,
            "--ca-file" => a.ca_file = Some(PathBuf::from(value())),
            other => panic!("unknown flag {other}; {USAGE}"),
        }
    }
    assert!((1..=240).contains(&a.hosts), "--hosts 1..=240");
    assert!(a.batch != Some(0), "--batch ≥ 1");
    assert!(a.sessions_per_ip != Some(0), "--sessions-per-ip ≥ 1");
    if a.sni && a.shared_ip.is_none() {
        a.shared_ip = Some(5);
    }
    if a.synthetic.is_none() {
        a.jsonl = true;
    }
    a
}

impl Args {
    fn rtt(&self) -> Duration {
        self.rtt.unwrap_or(if self.synthetic.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(20)
        })
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p mailcheck-audit --example bench -- {}",
        args.join(" ")
    )
}

fn main() {
    let a = args();
    if a.serve_lab {
        serve_lab(&a);
    } else if let Some(n) = a.synthetic {
        bench_synthetic(&a, n);
    } else if let Some(n) = a.shared_ip {
        bench_shared(&a, n);
    } else {
        bench_hosts(&a);
    }
}
