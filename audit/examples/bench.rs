//! Benchmark of the audit engine (not a test):
//!
//! ```text
//! cargo run --release -p mailcheck-audit --example bench -- --domains 1000 --hosts 20 --rtt-ms 40 -j 200
//! cargo run --release -p mailcheck-audit --example bench -- --domains 1000 --hosts 20 --rtt-ms 40 -j 200 --batch 1
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

/// The allocator of `mailcheck-audit`, so memory figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailcheck::config::ResolverChoice;
use mailcheck::{CheckConfig, Checker};
use mailcheck_audit::input::{Inputs, Source};
use mailcheck_audit::output::csv::CsvRender;
use mailcheck_audit::output::jsonl::JsonlRender;
use mailcheck_audit::output::{Chunk, Finish, Format, Item, Render, Sink};
use mailcheck_audit::run::{Options, run};
use mailcheck_audit::summary::Summary;
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::{SmtpServer, SmtpServerBuilder};

/// Extensions the lab servers advertise besides STARTTLS (the testkit's default set).
const EXTENSIONS: [&str; 4] = [
    "PIPELINING",
    "SIZE 10240000",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
];

/// `min_connect_interval` in the `--sni` scenario.
const SNI_CONNECT_INTERVAL: Duration = Duration::from_millis(50);

/// Processed-row marks at which `--synthetic` prints the peak RSS.
const MARKS: [u64; 3] = [10_000, 100_000, 1_000_000];

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

// ---------------------------------------------------------------------------------------------
// Process measurements.

/// (utime + stime) in clock ticks of a `/proc/.../stat` line.
fn stat_ticks(stat: &str) -> u64 {
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU ticks of the whole process, and of the threads whose name starts with `prefix`.
fn cpu_ticks(prefix: &str) -> (u64, u64) {
    let total = std::fs::read_to_string("/proc/self/stat")
        .map(|s| stat_ticks(&s))
        .unwrap_or(0);
    let mut lab = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.starts_with(prefix) {
                lab += std::fs::read_to_string(t.path().join("stat"))
                    .map(|s| stat_ticks(&s))
                    .unwrap_or(0);
            }
        }
    }
    (total, lab)
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// Floors.

/// The network floor with sharing, in round trips, for the domains on one address.
#[derive(Debug, Clone, Copy)]
struct FloorModel {
    tls: bool,
    pipelining: bool,
    batch: usize,
    sessions: usize,
    domains_per_session: usize,
}

impl FloorModel {
    fn from_config(a: &Args, config: &CheckConfig) -> Self {
        Self {
            tls: a.tls,
            pipelining: a.pipelining,
            batch: config.smtp.max_rcpts_per_transaction.max(1) as usize,
            sessions: config.smtp.sessions_per_ip.max(1) as usize,
            domains_per_session: config.smtp.max_transactions_per_session.max(1) as usize,
        }
    }

    /// Connect + greeting, EHLO, [STARTTLS, TLS handshake, EHLO].
    fn setup(&self) -> usize {
        if self.tls { 5 } else { 2 }
    }

    /// Round trips for `domains` domains on one address: its sessions share them, each session
    /// a fresh set-up every `domains_per_session` domains, then its transactions.
    fn address(&self, domains: usize) -> usize {
        if domains == 0 {
            return 0;
        }
        let per_session = domains.div_ceil(self.sessions.min(domains));
        let transactions = per_session.div_ceil(self.batch);
        let exchanges = if self.pipelining {
            transactions
        } else {
            // MAIL, one per RCPT, RSET.
            2 * transactions + per_session
        };
        per_session.div_ceil(self.domains_per_session) * self.setup() + exchanges
    }

    /// How [`address`](Self::address) counts, in words.
    fn describe(&self, domains: usize) -> String {
        let sessions = self.sessions.min(domains).max(1);
        let per_session = domains.div_ceil(sessions);
        let setups = per_session.div_ceil(self.domains_per_session);
        let mut text = format!(
            "{}{} set-up + ceil({per_session} / {}) transactions",
            if setups > 1 {
                format!("{setups} × ")
            } else {
                String::new()
            },
            self.setup(),
            self.batch
        );
        if !self.pipelining {
            text.push_str(" × 2 RTT (MAIL, RSET) + 1 RTT per RCPT");
        }
        if sessions > 1 {
            text.push_str(&format!(" in each of {sessions} parallel sessions"));
        }
        text
    }

    /// The slowest address, in round trips.
    fn floor(&self, domains_per_address: &[usize]) -> usize {
        domains_per_address
            .iter()
            .map(|d| self.address(*d))
            .max()
            .unwrap_or(0)
    }
}

/// The sharing floor, raised to the in-flight bound when `-j` binds: each domain holds one of
/// the `-j` slots for at least one round trip, so N domains take ≥ ceil(N / -j) RTT.
fn with_inflight_bound(
    sharing: usize,
    n: usize,
    concurrency: usize,
    note: String,
) -> (usize, String) {
    let inflight = n.div_ceil(concurrency.max(1));
    if inflight > sharing {
        (
            inflight,
            format!(
                "-j bound ceil({n} / {concurrency}), above the sharing floor of {sharing} RTT ({note})"
            ),
        )
    } else {
        (sharing, note)
    }
}

/// The pre-sharing floors (per-reply model): the issue's (critical path × N / C) and the
/// politeness floor (one session per address, 3 replies per further domain), in seconds.
fn old_floors(a: &Args, n: usize, per_address: usize) -> (f64, f64, f64) {
    let l = a.rtt().as_secs_f64();
    let fresh = if a.tls { 7.0 } else { 5.0 };
    let issue = fresh * l * n as f64 / a.concurrency as f64;
    let polite = fresh * l + (per_address as f64 - 1.0).max(0.0) * 3.0 * l;
    (issue, polite, fresh)
}

// ---------------------------------------------------------------------------------------------
// The lab.

fn host_ip(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, 10 + k)
}

fn host_name(k: u8) -> String {
    format!("mx{k}.bench.test")
}

/// A lab SMTP server with the bench's latency model and extensions.
fn smtp_builder(a: &Args, hostname: &str, bind: SocketAddr) -> SmtpServerBuilder {
    let extensions = EXTENSIONS
        .iter()
        .filter(|e| a.pipelining || **e != "PIPELINING");
    SmtpServer::builder()
        .hostname(hostname)
        .bind(bind)
        .round_trip(a.rtt())
        .extensions(extensions)
}

/// What the auditor needs from a lab.
#[derive(Debug, Clone)]
struct LabAddr {
    dns: SocketAddr,
    smtp_port: u16,
    ca_pem: String,
}

struct Lab {
    addr: LabAddr,
    _dns: DnsServer,
    servers: Vec<SmtpServer>,
    /// Domains per server, in order.
    domains_per_server: Vec<usize>,
    csv: String,
}

fn spf_dmarc(
    dns: mailcheck_testkit::dns::DnsServerBuilder,
    d: &str,
) -> mailcheck_testkit::dns::DnsServerBuilder {
    dns.txt(d, "v=spf1 include:_spf.bench.test -all")
        .txt(&format!("_dmarc.{d}"), "v=DMARC1; p=reject")
}

/// The `--hosts` SMTP servers (127.0.1.10 + k, one port, a lab-CA certificate each unless
/// `--no-tls`), and their port.
async fn mx_servers(a: &Args, ca: &TestCa) -> (Vec<SmtpServer>, u16) {
    let mut servers: Vec<SmtpServer> = Vec::new();
    let mut port = 0;
    for k in 0..a.hosts {
        let mut b = smtp_builder(
            a,
            &host_name(k),
            SocketAddr::new(IpAddr::V4(host_ip(k)), port),
        );
        if a.tls {
            b = b.tls(ca.leaf(&[&host_name(k)]).server_config());
        }
        let s = b.build().await;
        port = s.addr().port();
        servers.push(s);
    }
    (servers, port)
}

/// `--domains` over `--hosts`.
async fn build_lab(a: &Args) -> Lab {
    let ca = TestCa::with_name("bench CA");
    let (servers, port) = mx_servers(a, &ca).await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    for k in 0..a.hosts {
        dns = dns
            .a(&host_name(k), host_ip(k))
            .ptr(IpAddr::V4(host_ip(k)), &host_name(k));
    }
    let mut csv = String::from("domain,client\n");
    let mut domains_per_server = vec![0; usize::from(a.hosts)];
    for i in 0..a.domains {
        let k = i % usize::from(a.hosts);
        domains_per_server[k] += 1;
        let d = format!("d{i}.bench.test");
        dns = spf_dmarc(dns.mx(&d, 10, &host_name(k as u8)), &d);
        csv.push_str(&format!("{d},client {i}\n"));
    }
    let dns = dns.build().await;
    Lab {
        addr: LabAddr {
            dns: dns.addr(),
            smtp_port: port,
            ca_pem: ca.ca_pem(),
        },
        _dns: dns,
        servers,
        domains_per_server,
        csv,
    }
}

/// `--shared-ip N [--sni]`: N names on one address.
async fn build_shared_lab(a: &Args, n: usize) -> Lab {
    let ca = TestCa::with_name("bench CA");
    let names: Vec<String> = (0..n).map(|i| format!("mx{i}.shared.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut b = smtp_builder(
        a,
        "mx.shared.test",
        SocketAddr::new(IpAddr::V4(host_ip(0)), 0),
    );
    if a.tls {
        b = if a.sni {
            let each: Vec<[&str; 1]> = refs.iter().map(|n| [*n]).collect();
            let leaves: Vec<(&str, &[&str])> = refs
                .iter()
                .zip(&each)
                .map(|(n, e)| (*n, e.as_slice()))
                .collect();
            b.tls(ca.sni_server_config(&leaves))
        } else {
            b.tls(ca.leaf(&refs).server_config())
        };
    }
    let server = b.build().await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    dns = dns
        .a("mx.shared.test", host_ip(0))
        .ptr(IpAddr::V4(host_ip(0)), "mx.shared.test");
    let mut csv = String::from("domain,client\n");
    for (i, mx) in names.iter().enumerate() {
        let d = format!("d{i}.shared.test");
        dns = spf_dmarc(dns.a(mx, host_ip(0)).mx(&d, 10, mx), &d);
        csv.push_str(&format!("{d},client {i}\n"));
    }
    let dns = dns.build().await;
    Lab {
        addr: LabAddr {
            dns: dns.addr(),
            smtp_port: server.addr().port(),
            ca_pem: ca.ca_pem(),
        },
        _dns: dns,
        servers: vec![server],
        domains_per_server: vec![n],
        csv,
    }
}

/// `--synthetic`: wildcard DNS, one zone per host (`*.h{k}.bench.test`).
async fn build_synthetic_lab(a: &Args) -> (DnsServer, Vec<SmtpServer>, String) {
    let ca = TestCa::with_name("bench CA");
    let (servers, _) = mx_servers(a, &ca).await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    for k in 0..a.hosts {
        let wildcard = format!("*.h{k}.bench.test");
        // One TXT set answers `d{i}.h{k}` (SPF), `_dmarc.d{i}.h{k}` (DMARC) and
        // `_smtp._tls.d{i}.h{k}` (TLS-RPT): each reader keeps only its own record.
        dns = dns
            .a(&host_name(k), host_ip(k))
            .ptr(IpAddr::V4(host_ip(k)), &host_name(k))
            .mx(&wildcard, 10, &host_name(k))
            .txt(&wildcard, "v=spf1 include:_spf.bench.test -all")
            .txt(&wildcard, "v=DMARC1; p=reject")
            .txt(&wildcard, "v=TLSRPTv1; rua=mailto:tlsrpt@bench.test");
    }
    (dns.build().await, servers, ca.ca_pem())
}

// ---------------------------------------------------------------------------------------------
// The run.

fn check_config(a: &Args, lab: &LabAddr) -> CheckConfig {
    let mut config = CheckConfig::default().allow_private(true);
    config.dns.resolver = ResolverChoice::Servers(vec![lab.dns]);
    config.dnsbl.enabled = false;
    config.smtp.port = lab.smtp_port;
    config.smtp.helo_name = "probe.bench.test".to_owned();
    config.smtp.extra_ca_pem = vec![lab.ca_pem.clone()];
    config.smtp.min_connect_interval = if a.sni {
        SNI_CONNECT_INTERVAL
    } else {
        Duration::ZERO
    };
    if let Some(b) = a.batch {
        config.smtp.max_rcpts_per_transaction = b;
    }
    if let Some(s) = a.sessions_per_ip {
        config.smtp.sessions_per_ip = s;
    }
    config.egress.enabled = false;
    config.auth.enabled = a.auth;
    config
}

/// A renderer that counts the rows it renders (the engine has no progress hook).
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Render>,
    rows: Arc<AtomicU64>,
}

impl Render for Counting {
    fn start(&self, columns: &[String]) -> String {
        self.inner.start(columns)
    }
    fn row(&self, item: Item<'_>) -> Chunk {
        let chunk = self.inner.row(item);
        self.rows.fetch_add(1, Ordering::Relaxed);
        chunk
    }
    fn separator(&self) -> &'static str {
        self.inner.separator()
    }
    fn finish(&self, summary: &Summary) -> Finish {
        self.inner.finish(summary)
    }
}

struct Measured {
    summary: Summary,
    wall: Duration,
    audit_cpu_ms: f64,
    lab_cpu_ms: f64,
}

/// Runs the engine over `source` with a CSV report (and a JSONL one when `jsonl`) in `out`;
/// `rows` counts rendered rows. CPU of threads named `bench-lab*` is the lab's.
fn audit(
    config: CheckConfig,
    source: Source,
    concurrency: usize,
    jsonl: bool,
    out: &Path,
    rows: &Arc<AtomicU64>,
) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ticks = clock_ticks_per_sec();
    let (cpu0, lab0) = cpu_ticks("bench-lab");
    let started = Instant::now();
    let summary = rt
        .block_on(async {
            let checker = Arc::new(Checker::new(config).expect("config"));
            let inputs = Inputs::open(vec![source]).expect("inputs");
            let cols = inputs.columns().to_vec();
            let counted: Arc<dyn Render> = Arc::new(Counting {
                inner: Arc::new(CsvRender),
                rows: Arc::clone(rows),
            });
            let mut sinks = vec![
                Sink::file(&out.join("bench.csv"), Format::Csv, counted, &cols, false)
                    .expect("csv"),
            ];
            if jsonl {
                sinks.push(
                    Sink::file(
                        &out.join("bench.jsonl"),
                        Format::Jsonl,
                        Arc::new(JsonlRender),
                        &cols,
                        false,
                    )
                    .expect("jsonl"),
                );
            }
            let opts = Options::new(concurrency);
            let summary = run(Arc::clone(&checker), inputs, sinks, None, None, &opts).await;
            checker.shutdown().await;
            summary
        })
        .expect("run");
    let wall = started.elapsed();
    let (cpu1, lab1) = cpu_ticks("bench-lab");
    Measured {
        summary,
        wall,
        audit_cpu_ms: ((cpu1 - cpu0).saturating_sub(lab1 - lab0)) as f64 * 1000.0 / ticks as f64,
        lab_cpu_ms: (lab1 - lab0) as f64 * 1000.0 / ticks as f64,
    }
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p mailcheck-audit --example bench -- {}",
        args.join(" ")
    )
}

fn lab_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-lab")
        .enable_all()
        .build()
        .expect("lab runtime")
}

fn print_common(a: &Args, config: &CheckConfig, n: usize, m: &Measured) {
    let cpu_note = if a.synthetic.is_some() {
        "the auditor process; the lab runs in its own".to_owned()
    } else {
        format!(
            "auditor threads; the lab's own {:.0} ms excluded",
            m.lab_cpu_ms
        )
    };
    let secs = m.wall.as_secs_f64();
    println!(
        "  settings             RTT {} ms, -j {}, TLS {}, PIPELINING {}, batch (max_rcpts_per_transaction) {}, sessions_per_ip {}, min_connect_interval {} ms, auth {}, DNSBL off",
        a.rtt().as_millis(),
        a.concurrency,
        if a.tls { "on" } else { "off" },
        if a.pipelining { "on" } else { "off" },
        config.smtp.max_rcpts_per_transaction,
        config.smtp.sessions_per_ip,
        config.smtp.min_connect_interval.as_millis(),
        if a.auth { "on" } else { "off" },
    );
    println!("  wall time            {secs:.2} s");
    println!("  domains/s            {:.1}", n as f64 / secs);
    println!(
        "  CPU per domain       {:.3} ms ({cpu_note})",
        m.audit_cpu_ms / n as f64,
    );
    println!(
        "  verdicts             {}",
        m.summary
            .verdict_counts()
            .iter()
            .map(|(v, c)| format!("{v} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  top codes            {}",
        m.summary
            .code_counts()
            .iter()
            .take(6)
            .map(|(code, c)| format!("{code} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn print_servers(servers: &[SmtpServer]) {
    let connections: usize = servers.iter().map(SmtpServer::connections).sum();
    let exchanges: usize = servers.iter().map(SmtpServer::exchanges).sum();
    let max_open = servers
        .iter()
        .map(SmtpServer::max_concurrent_connections)
        .max()
        .unwrap_or(0);
    println!(
        "  SMTP connections     {connections} over {} server(s); at most {max_open} open at once on one server",
        servers.len()
    );
    println!("  SMTP exchanges       {exchanges} reply writes (greetings included)");
}

fn print_floor(label: &str, rtts: usize, rtt: Duration, wall: Duration, note: &str) {
    let floor = rtts as f64 * rtt.as_secs_f64();
    let ratio = if floor > 0.0 {
        format!("floor/wall {:.2}", floor / wall.as_secs_f64())
    } else {
        "floor/wall n/a (RTT 0)".to_owned()
    };
    println!("  {label:<20} {floor:.2} s ({rtts} RTT: {note}) → {ratio}");
}

/// The default scenario.
fn bench_hosts(a: &Args) {
    let lab_rt = lab_runtime();
    let lab = lab_rt.block_on(build_lab(a));
    let config = check_config(a, &lab.addr);
    let model = FloorModel::from_config(a, &config);
    let dir = tempfile::tempdir().expect("temp dir");
    let rows = Arc::new(AtomicU64::new(0));
    let m = audit(
        config.clone(),
        Source::Text {
            name: "bench.csv".to_owned(),
            text: lab.csv.clone(),
        },
        a.concurrency,
        a.jsonl,
        dir.path(),
        &rows,
    );

    let n = a.domains;
    println!("$ {}", command_line());
    println!(
        "mailcheck-audit bench: {n} domains over {} MX addresses",
        a.hosts
    );
    print_common(a, &config, n, &m);
    println!(
        "  peak RSS             {:.1} MiB (process, lab included)",
        mib(status_kib("VmHWM:"))
    );
    print_servers(&lab.servers);
    let per_address = lab.domains_per_server.iter().copied().max().unwrap_or(0);
    let (rtts, note) = with_inflight_bound(
        model.floor(&lab.domains_per_server),
        n,
        a.concurrency,
        format!(
            "sharing, on the busiest address ({per_address} domains): {}",
            model.describe(per_address)
        ),
    );
    print_floor("network floor", rtts, a.rtt(), m.wall, &note);
    let (issue, polite, fresh) = old_floors(a, n, per_address);
    let old = |f: f64| {
        if f > 0.0 {
            format!("floor/wall {:.2}", f / m.wall.as_secs_f64())
        } else {
            "n/a".to_owned()
        }
    };
    println!(
        "  old issue floor      {issue:.2} s ({fresh:.0} replies × RTT per domain × N / -j) → {}",
        old(issue)
    );
    println!(
        "  old politeness floor {polite:.2} s (per-reply model: one session per address, {per_address} domains, 3 replies each after the first) → {}",
        old(polite)
    );
    // The one-domain-per-transaction path in this RTT model: MAIL+RCPT in one write, then RSET
    // (MAIL, RCPT, RSET one by one without PIPELINING).
    let per_domain = if a.pipelining { 2 } else { 3 };
    let setups = per_address.div_ceil(model.domains_per_session).max(1);
    let unbatched = setups * model.setup() + per_address * per_domain;
    let unbatched_s = unbatched as f64 * a.rtt().as_secs_f64();
    println!(
        "  unbatched floor      {unbatched_s:.2} s ({unbatched} RTT: {setups} × {} set-up + {per_address} domains × {per_domain} RTT, {} per domain) → {}",
        model.setup(),
        if a.pipelining {
            "MAIL+RCPT in one write then RSET"
        } else {
            "MAIL, RCPT, RSET one by one"
        },
        old(unbatched_s)
    );
    drop(lab);
    drop(lab_rt);
}

/// `--shared-ip N [--sni]`.
fn bench_shared(a: &Args, n: usize) {
    let lab_rt = lab_runtime();
    let lab = lab_rt.block_on(build_shared_lab(a, n));
    let config = check_config(a, &lab.addr);
    let model = FloorModel::from_config(a, &config);
    let dir = tempfile::tempdir().expect("temp dir");
    let rows = Arc::new(AtomicU64::new(0));
    let m = audit(
        config.clone(),
        Source::Text {
            name: "shared.csv".to_owned(),
            text: lab.csv.clone(),
        },
        a.concurrency,
        a.jsonl,
        dir.path(),
        &rows,
    );
    println!("$ {}", command_line());
    println!(
        "mailcheck-audit bench, shared IP: {n} domains, each with its own MX name mx{{i}}.shared.test, all on {}; {}",
        host_ip(0),
        if !a.tls {
            "no TLS".to_owned()
        } else if a.sni {
            format!(
                "the server picks the certificate by SNI (one leaf per name); min_connect_interval set to {} ms",
                SNI_CONNECT_INTERVAL.as_millis()
            )
        } else {
            "one certificate for all names (SNI ignored)".to_owned()
        }
    );
    print_common(a, &config, n, &m);
    println!(
        "  peak RSS             {:.1} MiB (process, lab included)",
        mib(status_kib("VmHWM:"))
    );
    print_servers(&lab.servers);
    print_floor(
        "network floor",
        model.floor(&lab.domains_per_server),
        a.rtt(),
        m.wall,
        &format!("sessions shared by all {n} names: {}", model.describe(n)),
    );
    let one = FloorModel {
        batch: 1,
        sessions: 1,
        ..model
    };
    let per_name = n * one.address(1);
    let spacing = config.smtp.min_connect_interval.as_secs_f64() * n.saturating_sub(1) as f64;
    let floor = per_name as f64 * a.rtt().as_secs_f64() + spacing;
    println!(
        "  per-name floor       {floor:.2} s (a session per name, one after another: {n} × {} RTT + {n}-1 connect intervals) → floor/wall {:.2}",
        one.address(1),
        floor / m.wall.as_secs_f64()
    );
    drop(lab);
    drop(lab_rt);
}

// ---------------------------------------------------------------------------------------------
// --synthetic: the lab in a child process.

/// Child side: serves the synthetic lab until stdin closes, then prints its counters.
fn serve_lab(a: &Args) {
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

struct LabChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl LabChild {
    fn spawn(a: &Args, ca_file: &Path) -> (Self, LabAddr) {
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
    fn finish(mut self) -> Vec<f64> {
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

/// Writes the synthetic CSV, streaming.
fn write_synthetic_csv(path: &Path, n: usize, hosts: u8) {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("create the CSV"));
    writeln!(w, "domain").expect("write");
    for i in 0..n {
        writeln!(w, "d{i}.h{}.bench.test", i % usize::from(hosts)).expect("write");
    }
    w.flush().expect("flush");
}

fn bench_synthetic(a: &Args, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("synthetic.csv");
    write_synthetic_csv(&csv, n, a.hosts);
    let (lab, addr) = LabChild::spawn(a, &dir.path().join("ca.pem"));
    let config = check_config(a, &addr);
    let model = FloorModel::from_config(a, &config);
    println!("$ {}", command_line());
    println!(
        "mailcheck-audit bench, synthetic: {n} domains d{{i}}.h{{k}}.bench.test over {} MX addresses, MX/SPF/DMARC/TLS-RPT by DNS wildcards; CSV streamed from {}; lab in child process {}",
        a.hosts,
        csv.display(),
        lab.child.id()
    );
    println!(
        "  before the run       peak RSS {:.1} MiB, RSS {:.1} MiB (auditor process only)",
        mib(status_kib("VmHWM:")),
        mib(status_kib("VmRSS:"))
    );

    let rows = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let watcher = {
        let rows = Arc::clone(&rows);
        let stop = Arc::clone(&stop);
        let marks: Vec<u64> = MARKS.iter().copied().filter(|m| *m <= n as u64).collect();
        std::thread::Builder::new()
            .name("bench-watch".to_owned())
            .spawn(move || {
                let mut next = 0;
                let mut max_rss = 0;
                let mut tick = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    tick += 1;
                    if tick.is_multiple_of(10) {
                        max_rss = max_rss.max(status_kib("VmRSS:"));
                    }
                    let done = rows.load(Ordering::Relaxed);
                    while next < marks.len() && done >= marks[next] {
                        max_rss = max_rss.max(status_kib("VmRSS:"));
                        println!(
                            "  passed {:>9} rows  peak RSS (VmHWM) {:.1} MiB, max sampled RSS {:.1} MiB, at {done} rows, {:.1} s",
                            marks[next],
                            mib(status_kib("VmHWM:")),
                            mib(max_rss),
                            started.elapsed().as_secs_f64()
                        );
                        next += 1;
                    }
                }
            })
            .expect("watcher thread")
    };
    let m = audit(
        config.clone(),
        Source::File(csv.clone()),
        a.concurrency,
        a.jsonl,
        dir.path(),
        &rows,
    );
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    println!(
        "  at the end           {} rows, peak RSS (VmHWM) {:.1} MiB (auditor process only; lab excluded)",
        rows.load(Ordering::Relaxed),
        mib(status_kib("VmHWM:"))
    );
    print_common(a, &config, n, &m);
    let stats = lab.finish();
    let stat = |i: usize| stats.get(i).copied().unwrap_or(f64::NAN);
    println!(
        "  SMTP connections     {:.0}; at most {:.0} open at once on one server; {:.0} reply writes",
        stat(0),
        stat(1),
        stat(2)
    );
    println!(
        "  lab process          {:.0} ms CPU, peak RSS {:.1} MiB (DNS query log emptied every 200 ms)",
        stat(3),
        stat(4) / 1024.0
    );
    let per_address = n.div_ceil(usize::from(a.hosts));
    let split: Vec<usize> = (0..usize::from(a.hosts))
        .map(|k| n / usize::from(a.hosts) + usize::from(k < n % usize::from(a.hosts)))
        .collect();
    let (rtts, note) = with_inflight_bound(
        model.floor(&split),
        n,
        a.concurrency,
        format!(
            "sharing, on the busiest address ({per_address} domains): {}",
            model.describe(per_address)
        ),
    );
    print_floor("network floor", rtts, a.rtt(), m.wall, &note);
    let size = |name: &str| {
        std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len()) as f64 / 1_048_576.0
    };
    println!(
        "  reports              bench.csv {:.1} MiB{}",
        size("bench.csv"),
        if a.jsonl {
            format!(", bench.jsonl {:.1} MiB", size("bench.jsonl"))
        } else {
            " (no JSONL: --jsonl adds it, about 9 KiB per domain)".to_owned()
        }
    );
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
