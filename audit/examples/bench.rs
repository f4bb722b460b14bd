//! Benchmark of the audit engine (not a test):
//!
//! ```text
//! cargo run --release -p mailcheck-audit --example bench -- --domains 1000 --hosts 10 --latency-ms 20
//! ```
//!
//! Builds a synthetic lab in this process: a DNS server with `--domains` domains whose MX records
//! point at `--hosts` SMTP servers (127.0.0.N, one port, STARTTLS with a lab CA unless
//! `--no-tls`), each reply delayed by `--latency-ms` (greeting, EHLO, STARTTLS, MAIL, RCPT, RSET,
//! QUIT). Then runs the auditor's engine (`mailcheck_audit::run`) over the list with `-j`
//! domains in flight, writing JSONL and CSV reports to a temp dir, and prints:
//! domains/s, CPU ms per domain (the auditor's threads only: the lab runs on its own runtime,
//! whose threads are subtracted), peak RSS (whole process, lab included), SMTP connections
//! counted by the servers, and the ratio to two latency floors:
//! - the issue's floor: per-domain critical path × N / concurrency;
//! - the politeness floor: one connection at a time per MX address, so each address serves its
//!   N/M domains one after another on a reused session.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcheck::config::ResolverChoice;
use mailcheck::{CheckConfig, Checker};
use mailcheck_audit::input::{Inputs, Source};
use mailcheck_audit::output::csv::CsvRender;
use mailcheck_audit::output::jsonl::JsonlRender;
use mailcheck_audit::output::{Format, Sink};
use mailcheck_audit::run::{Options, run};
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::{Command, SmtpServer};

#[derive(Debug)]
struct Args {
    domains: usize,
    hosts: u8,
    latency: Duration,
    concurrency: usize,
    tls: bool,
    auth: bool,
}

fn args() -> Args {
    let mut a = Args {
        domains: 1000,
        hosts: 10,
        latency: Duration::from_millis(20),
        concurrency: 32,
        tls: true,
        auth: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--domains" => a.domains = value().parse().expect("--domains N"),
            "--hosts" => a.hosts = value().parse().expect("--hosts M (1..=50)"),
            "--latency-ms" => {
                a.latency = Duration::from_millis(value().parse().expect("--latency-ms L"));
            }
            "-j" | "--concurrency" => a.concurrency = value().parse().expect("-j C"),
            "--no-tls" => a.tls = false,
            "--no-auth" => a.auth = false,
            other => panic!(
                "unknown flag {other}; use --domains N --hosts M --latency-ms L -j C [--no-tls] [--no-auth]"
            ),
        }
    }
    assert!((1..=50).contains(&a.hosts), "--hosts 1..=50");
    a
}

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

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Lab {
    dns: DnsServer,
    servers: Vec<SmtpServer>,
    port: u16,
    ca_pem: String,
    csv: String,
}

async fn build_lab(a: &Args) -> Lab {
    let ca = TestCa::with_name("bench CA");
    let ip = |k: u8| Ipv4Addr::new(127, 0, 1, 10 + k);
    let host = |k: u8| format!("mx{k}.bench.test");
    let mut servers: Vec<SmtpServer> = Vec::new();
    let mut port = 0;
    for k in 0..a.hosts {
        let mut b = SmtpServer::builder()
            .hostname(&host(k))
            .bind(SocketAddr::new(IpAddr::V4(ip(k)), port))
            .greeting_delay(a.latency);
        for c in [
            Command::Ehlo,
            Command::StartTls,
            Command::Mail,
            Command::Rcpt,
            Command::Rset,
            Command::Quit,
        ] {
            b = b.delay(c, a.latency);
        }
        if a.tls {
            b = b.tls(ca.leaf(&[&host(k)]).server_config());
        }
        let s = b.build().await;
        port = s.addr().port();
        servers.push(s);
    }
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    for k in 0..a.hosts {
        dns = dns.a(&host(k), ip(k)).ptr(IpAddr::V4(ip(k)), &host(k));
    }
    let mut csv = String::from("domain,client\n");
    for i in 0..a.domains {
        let k = (i % usize::from(a.hosts)) as u8;
        let d = format!("d{i}.bench.test");
        dns = dns
            .mx(&d, 10, &host(k))
            .txt(&d, "v=spf1 include:_spf.bench.test -all")
            .txt(&format!("_dmarc.{d}"), "v=DMARC1; p=reject");
        csv.push_str(&format!("d{i}.bench.test,client {i}\n"));
    }
    Lab {
        dns: dns.build().await,
        servers,
        port,
        ca_pem: ca.ca_pem(),
        csv,
    }
}

fn main() {
    let a = args();
    let lab_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-lab")
        .enable_all()
        .build()
        .expect("lab runtime");
    let lab = lab_rt.block_on(build_lab(&a));

    let mut config = CheckConfig::default().allow_private(true);
    config.dns.resolver = ResolverChoice::Servers(vec![lab.dns.addr()]);
    config.dnsbl.enabled = false;
    config.smtp.port = lab.port;
    config.smtp.helo_name = "probe.bench.test".to_owned();
    config.smtp.extra_ca_pem = vec![lab.ca_pem.clone()];
    config.smtp.min_connect_interval = Duration::ZERO;
    config.egress.enabled = false;
    config.auth.enabled = a.auth;

    let dir = tempfile::tempdir().expect("temp dir");
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
            let inputs = Inputs::open(vec![Source::Text {
                name: "bench.csv".to_owned(),
                text: lab.csv.clone(),
            }])
            .expect("inputs");
            let cols = inputs.columns().to_vec();
            let sinks = vec![
                Sink::file(
                    &dir.path().join("bench.jsonl"),
                    Format::Jsonl,
                    Arc::new(JsonlRender),
                    &cols,
                    false,
                )
                .expect("jsonl"),
                Sink::file(
                    &dir.path().join("bench.csv"),
                    Format::Csv,
                    Arc::new(CsvRender),
                    &cols,
                    false,
                )
                .expect("csv"),
            ];
            let opts = Options::new(a.concurrency);
            let summary = run(Arc::clone(&checker), inputs, sinks, None, &opts).await;
            checker.shutdown().await;
            summary
        })
        .expect("run");
    let wall = started.elapsed();
    let (cpu1, lab1) = cpu_ticks("bench-lab");
    let audit_cpu_ms = ((cpu1 - cpu0).saturating_sub(lab1 - lab0)) as f64 * 1000.0 / ticks as f64;
    let lab_cpu_ms = (lab1 - lab0) as f64 * 1000.0 / ticks as f64;
    let connections: usize = lab.servers.iter().map(SmtpServer::connections).sum();

    let n = a.domains as f64;
    let l = a.latency.as_secs_f64();
    // Replies on a fresh session's path: greeting, EHLO, [STARTTLS, EHLO,] MAIL, RCPT, RSET.
    let fresh = if a.tls { 7.0 } else { 5.0 };
    // A reused session: MAIL, RCPT, RSET.
    let reused = 3.0;
    let issue_floor = fresh * l * n / a.concurrency as f64;
    let per_host = (n / f64::from(a.hosts)).ceil();
    let polite_floor = fresh * l + (per_host - 1.0).max(0.0) * reused * l;
    let floor = issue_floor.max(polite_floor);
    let secs = wall.as_secs_f64();
    let ratio = |floor: f64| {
        if floor > 0.0 {
            format!("{:.2}", secs / floor)
        } else {
            "n/a (no latency)".to_owned()
        }
    };

    println!(
        "mailcheck-audit bench: {} domains over {} MX hosts, {} ms per reply, -j {}, TLS {}",
        a.domains,
        a.hosts,
        a.latency.as_millis(),
        a.concurrency,
        if a.tls { "on" } else { "off" }
    );
    println!("  wall time            {secs:.2} s");
    println!("  domains/s            {:.1}", n / secs);
    println!(
        "  CPU per domain       {:.3} ms (auditor threads; the lab's own {:.0} ms excluded)",
        audit_cpu_ms / n,
        lab_cpu_ms
    );
    println!(
        "  peak RSS             {:.1} MiB (process, lab included)",
        peak_rss_kib() as f64 / 1024.0
    );
    println!("  SMTP connections     {connections}");
    println!(
        "  verdicts             {}",
        summary
            .verdict_counts()
            .iter()
            .map(|(v, c)| format!("{v} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  latency floor        {issue_floor:.2} s (critical path {:.0} ms × N / C) → ratio {}",
        fresh * l * 1000.0,
        ratio(issue_floor)
    );
    println!(
        "  politeness floor     {polite_floor:.2} s (one session per MX address, {per_host:.0} domains each) → ratio {}",
        ratio(floor)
    );
    drop(lab);
    drop(lab_rt);
}
