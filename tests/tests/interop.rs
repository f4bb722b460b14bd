//! Interop harness (`harness = false`): every row of `tests/lab/scenarios.tsv` through the built
//! `mailcheck-audit`, inside the row's namespace (the lab's own, or a prober namespace beside it:
//! behind NAT, outbound port 25 rejected or dropped), asserting the exact verdict, the exact set
//! of finding codes, the exit code and the real server's greeting in the transcript; a
//! `--vantage` row asserts the exit code of `mailcheck-audit --vantage` from there.
//!
//! Then the **batch run**: every row probed from the lab's own namespace with the standard flags,
//! all in ONE `mailcheck-audit` run, as an MSP's nightly list would be. The domains that share
//! a real Postfix, Exim or OpenSMTPD then share its sessions and transactions (one `MAIL FROM`,
//! a `RCPT TO` each, pipelined): each domain must still get exactly its row's verdict, codes and
//! greeting, and some domains must really have shared a transaction.
//!
//! Then the **sending side**: every row of `tests/lab/senders.tsv` through `mailcheck-audit
//! sender` from the lab's own namespace — a sending IP, HELO name and domain judged against the
//! real Knot records (PTRs, HELO names, SPF, DMARC) and rbldnsd zones (bl.test, the lab's
//! zen.spamhaus.org with its PBL code): the exact verdict and codes, exit 1 exactly when broken.
//!
//! `cargo test -p mailcheck-interop [-- FILTER…]` (FILTER: substring of a row name such as
//! `relay.test`, `wan.test@mxrej`, `vantage@mxdrop`, `sender:pbl`). Environment:
//! * `MXLAB_REQUIRED=1` — a missing lab or binary is a failure, not a skip (CI, tests/run-all.sh).
//! * `MXLAB_JOBS` — scenarios run at once (default 16: most of them wait on deliberate
//!   timeouts); `MXLAB_SCENARIO_TIMEOUT` — seconds (120).
//! * `MAILCHECK_AUDIT_BIN`, `MXLAB_*` (see tests/lab/env.sh), `MXLAB_AUDIT_ARGS` (extra flags).

use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mailcheck_interop::sender::{SenderRow, check_sender, load_senders, run_sender};
use mailcheck_interop::{
    Lab, Scenario, audit_binary, batchable, load_scenarios, run_batch, run_scenario,
};

fn skip_or_fail(reason: &str) -> ExitCode {
    if std::env::var("MXLAB_REQUIRED").is_ok_and(|v| v == "1") {
        println!(
            "interop: FAILED — the lab tier is required (MXLAB_REQUIRED=1) but cannot run: {reason}"
        );
        ExitCode::FAILURE
    } else {
        println!("interop: SKIPPED — {reason}");
        ExitCode::SUCCESS
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    // libtest-style flags (--nocapture, --test-threads …) are accepted and ignored; other
    // arguments filter scenarios by substring of the domain.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        for s in load_scenarios().unwrap_or_default() {
            println!("{}: test", s.name);
        }
        for s in load_senders().unwrap_or_default() {
            println!("{}: test", s.label());
        }
        return ExitCode::SUCCESS;
    }
    let mut scenarios: Vec<Scenario> = match load_scenarios() {
        Ok(s) => s
            .into_iter()
            .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name.contains(f.as_str())))
            .collect(),
        Err(e) => {
            println!("interop: FAILED — {e}");
            return ExitCode::FAILURE;
        }
    };

    let senders: Vec<SenderRow> = match load_senders() {
        Ok(s) => s
            .into_iter()
            .filter(|s| {
                filters.is_empty() || filters.iter().any(|f| s.label().contains(f.as_str()))
            })
            .collect(),
        Err(e) => {
            println!("interop: FAILED — {e}");
            return ExitCode::FAILURE;
        }
    };

    let lab = Lab::from_env();
    if let Err(why) = lab.availability() {
        return skip_or_fail(&why);
    }
    let mut namespaces: Vec<&str> = Vec::new();
    for sc in &scenarios {
        match lab.prober(sc.from.as_deref()) {
            Ok(p) if !namespaces.contains(&p.ns.as_str()) => namespaces.push(&p.ns),
            Ok(_) => {}
            Err(e) => {
                println!("interop: FAILED — scenarios.tsv line {}: {e}", sc.line);
                return ExitCode::FAILURE;
            }
        }
    }
    for ns in &namespaces {
        if let Err(why) = lab.namespace_usable(ns) {
            return skip_or_fail(&why);
        }
    }
    let bin = audit_binary();
    if !bin.is_file() {
        return skip_or_fail(&format!(
            "{} not built (cargo build -p mailcheck-audit, or set MAILCHECK_AUDIT_BIN)",
            bin.display()
        ));
    }
    // Until mailcheck-audit has the CLI of issue 4 there is nothing to test against: say so loudly.
    let help = Command::new(&bin).arg("--help").output();
    let help = help.map(|o| {
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    });
    if !help.as_deref().is_ok_and(|h| h.contains("--allow-private")) {
        println!(
            "interop: SKIPPED — {} --help does not offer --allow-private: the mailcheck-audit CLI \
             (issue 4) is not implemented yet, so the {} lab scenarios were NOT run",
            bin.display(),
            scenarios.len()
        );
        return ExitCode::SUCCESS;
    }
    // The DNSSEC/DANE rows need mailcheck to trust the lab's root key (Knot signs the fake root).
    let has_trust_anchor = help.as_deref().is_ok_and(|h| h.contains("--trust-anchor"));
    let lab = Lab {
        trust_anchor: lab.trust_anchor.clone().filter(|_| has_trust_anchor),
        ..lab.clone()
    };
    if !has_trust_anchor {
        let (skipped, rest): (Vec<Scenario>, Vec<Scenario>) = scenarios
            .into_iter()
            .partition(Scenario::needs_trust_anchor);
        scenarios = rest;
        let names: Vec<&str> = skipped.iter().map(|s| s.name.as_str()).collect();
        println!(
            "interop: SKIPPED — {} --help does not offer --trust-anchor (the lab root key): \
             the {} DNSSEC/DANE rows were NOT run: {}",
            bin.display(),
            names.len(),
            names.join(", ")
        );
    }

    let jobs = usize::try_from(env_num("MXLAB_JOBS", 16))
        .unwrap_or(16)
        .max(1);
    let timeout = Duration::from_secs(env_num("MXLAB_SCENARIO_TIMEOUT", 120));
    println!(
        "interop: {} scenarios against lab netns {} (probers in {}; CA {}), {jobs} at a time, \
         binary {}",
        scenarios.len(),
        lab.ns,
        namespaces.join(", "),
        lab.ca.display(),
        bin.display()
    );
    let start = Instant::now();
    let queue = Mutex::new(scenarios.iter());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(sc) = queue.lock().map(|mut q| q.next()).ok().flatten() {
                    let out = run_scenario(&lab, &bin, sc, timeout);
                    let secs = out.elapsed.as_secs_f64();
                    match out.check(sc) {
                        Ok(()) => println!("scenario {} ... ok ({secs:.1} s)", sc.name),
                        Err(msg) => {
                            println!("scenario {} ... FAILED ({secs:.1} s)", sc.name);
                            if let Ok(mut f) = failures.lock() {
                                f.push(msg);
                            }
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_default();
    let batch: Vec<&Scenario> = scenarios.iter().filter(|s| batchable(s)).collect();
    let mut batch_ok = 0;
    if batch.len() > 1 {
        let out = run_batch(&lab, &bin, &batch, timeout);
        for sc in &batch {
            match out
                .for_domain(sc.domain.as_deref().unwrap_or_default())
                .check_in_batch(sc)
            {
                Ok(()) => batch_ok += 1,
                Err(msg) => failures.push(format!("[batch run] {msg}")),
            }
        }
        let shared = out
            .stdout
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|r| shared_transaction(&r))
            })
            .count();
        println!(
            "batch run: {} domains in one run ({:.1} s): {batch_ok} as their rows say; \
             {shared} shared an SMTP transaction with other domains",
            batch.len(),
            out.elapsed.as_secs_f64()
        );
        if shared < 2 {
            failures.push(format!(
                "[batch run] only {shared} domain(s) shared a transaction: the domains on one \
                 server should\n{}",
                out.command
            ));
        }
    }
    // The sending side: a sender IP against the real Knot records and rbldnsd zones.
    let has_sender = Command::new(&bin)
        .args(["sender", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut senders_run = 0;
    if !has_sender && !senders.is_empty() {
        println!(
            "interop: SKIPPED — {} has no `sender` subcommand: the {} sender rows were NOT run",
            bin.display(),
            senders.len()
        );
    } else {
        for row in &senders {
            let out = run_sender(&lab, &bin, row, timeout);
            let secs = out.elapsed.as_secs_f64();
            senders_run += 1;
            match check_sender(&out, row) {
                Ok(()) => println!("{} ... ok ({secs:.1} s)", row.label()),
                Err(msg) => {
                    println!("{} ... FAILED ({secs:.1} s)", row.label());
                    failures.push(msg);
                }
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for f in &failures {
            println!("{f}");
        }
    }
    println!(
        "\ninterop result: {}. {} passed; {} failed; finished in {:.1} s",
        if failures.is_empty() { "ok" } else { "FAILED" },
        (scenarios.len() + batch.len() + senders_run).saturating_sub(failures.len()),
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether any SMTP conversation in a report shared its transaction with other domains.
fn shared_transaction(report: &serde_json::Value) -> bool {
    match report {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "transaction_domains" && v.as_u64().is_some_and(|n| n > 1))
                || shared_transaction(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(shared_transaction),
        _ => false,
    }
}
