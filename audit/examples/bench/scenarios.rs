//! The three scenarios: `--hosts` (the default), `--shared-ip` and `--synthetic`; each builds
//! its lab, runs the engine and prints what it measured against the floors.

use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailcheck_audit::input::Source;

use crate::child::LabChild;
use crate::floor::{FloorModel, old_floors, with_inflight_bound};
use crate::lab::{build_lab, build_shared_lab, check_config, host_ip, lab_runtime};
use crate::measure::{audit, mib, status_kib};
use crate::print::{print_common, print_floor, print_servers};
use crate::{Args, SNI_CONNECT_INTERVAL, command_line};

/// Processed-row marks at which `--synthetic` prints the peak RSS.
const MARKS: [u64; 3] = [10_000, 100_000, 1_000_000];

/// The default scenario.
pub(crate) fn bench_hosts(a: &Args) {
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
        "  old issue floor      {issue:.2} s ({fresh:.0} replies × RTT per domain × N / -j) \
         → {}",
        old(issue)
    );
    println!(
        "  old politeness floor {polite:.2} s (per-reply model: one session per address, \
         {per_address} domains, 3 replies each after the first) → {}",
        old(polite)
    );
    // The one-domain-per-transaction path in this RTT model: MAIL+RCPT in one write, then RSET
    // (MAIL, RCPT, RSET one by one without PIPELINING).
    let per_domain = if a.pipelining { 2 } else { 3 };
    let setups = per_address.div_ceil(model.domains_per_session).max(1);
    let unbatched = setups * model.setup() + per_address * per_domain;
    let unbatched_s = unbatched as f64 * a.rtt().as_secs_f64();
    println!(
        "  unbatched floor      {unbatched_s:.2} s ({unbatched} RTT: {setups} × {} set-up + \
         {per_address} domains × {per_domain} RTT, {} per domain) → {}",
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
pub(crate) fn bench_shared(a: &Args, n: usize) {
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
        "mailcheck-audit bench, shared IP: {n} domains, each with its own MX name \
         mx{{i}}.shared.test, all on {}; {}",
        host_ip(0),
        if !a.tls {
            "no TLS".to_owned()
        } else if a.sni {
            format!(
                "the server picks the certificate by SNI (one leaf per name); \
                 min_connect_interval set to {} ms",
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
        "  per-name floor       {floor:.2} s (a session per name, one after another: {n} × {} RTT \
         + {n}-1 connect intervals) → floor/wall {:.2}",
        one.address(1),
        floor / m.wall.as_secs_f64()
    );
    drop(lab);
    drop(lab_rt);
}

/// Writes the synthetic CSV, streaming.
pub(crate) fn write_synthetic_csv(path: &Path, n: usize, hosts: u8) {
    let mut w = BufWriter::new(std::fs::File::create(path).expect("create the CSV"));
    writeln!(w, "domain").expect("write");
    for i in 0..n {
        writeln!(w, "d{i}.h{}.bench.test", i % usize::from(hosts)).expect("write");
    }
    w.flush().expect("flush");
}

pub(crate) fn bench_synthetic(a: &Args, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("synthetic.csv");
    write_synthetic_csv(&csv, n, a.hosts);
    let (lab, addr) = LabChild::spawn(a, &dir.path().join("ca.pem"));
    let config = check_config(a, &addr);
    let model = FloorModel::from_config(a, &config);
    println!("$ {}", command_line());
    println!(
        "mailcheck-audit bench, synthetic: {n} domains d{{i}}.h{{k}}.bench.test over {} MX \
         addresses, MX/SPF/DMARC/TLS-RPT by DNS wildcards; CSV streamed from {}; lab in child \
         process {}",
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
                            "  passed {:>9} rows  peak RSS (VmHWM) {:.1} MiB, max sampled RSS \
                             {:.1} MiB, at {done} rows, {:.1} s",
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
        "  at the end           {} rows, peak RSS (VmHWM) {:.1} MiB (auditor process only; lab \
         excluded)",
        rows.load(Ordering::Relaxed),
        mib(status_kib("VmHWM:"))
    );
    print_common(a, &config, n, &m);
    let stats = lab.finish();
    let stat = |i: usize| stats.get(i).copied().unwrap_or(f64::NAN);
    println!(
        "  SMTP connections     {:.0}; at most {:.0} open at once on one server; {:.0} reply \
         writes",
        stat(0),
        stat(1),
        stat(2)
    );
    println!(
        "  lab process          {:.0} ms CPU, peak RSS {:.1} MiB (DNS query log emptied \
         every 200 ms)",
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
