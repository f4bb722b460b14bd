//! Every code fires in its scenario and stays quiet on a healthy domain; verdict rules.
//!
//! The shared helpers and the cross-area rules are here; the scenarios are grouped by area:
//! `dns` (MX, mail hosts, reverse DNS, name-server consistency), `smtp` (connect, greeting,
//! banner, EHLO, STARTTLS), `transaction` (`MAIL FROM`, `RCPT TO`, open relay), `tls`
//! (certificates), `vantage` (findings about us), `dnsbl`, `spf`, `auth` (DMARC, TLS-RPT,
//! MTA-STS) and `dane` (DNSSEC and DANE).

mod auth;
mod dane;
mod dns;
mod dnsbl;
mod smtp;
mod spf;
mod tls;
mod transaction;
mod vantage;

use std::net::{IpAddr, Ipv4Addr};

use super::testutil::*;
use super::{diagnose, findings};
use crate::config::Policy;
use crate::facts::*;
use crate::finding::{Code, Severity};
use crate::report::Verdict;

/// Ends the conversation right after the greeting (no EHLO, no transaction).
fn cut_after_greeting(s: &mut SmtpFacts) {
    s.ehlo = None;
    s.extensions.clear();
    s.starttls = None;
    s.mail = None;
    s.rcpt = None;
    s.closing.clear();
}

/// The verdict and the sorted codes under the default policy.
fn run(f: &Facts) -> (Verdict, Vec<Code>) {
    run_with(f, &Policy::default())
}

/// [`run`] under `p`; every finding must have a summary, advice and evidence.
fn run_with(f: &Facts, p: &Policy) -> (Verdict, Vec<Code>) {
    let r = diagnose(f, p, &f.domain, 1);
    let mut codes: Vec<Code> = r.findings.iter().map(|x| x.code).collect();
    codes.sort();
    for finding in &r.findings {
        assert!(
            !finding.summary.is_empty() && !finding.advice.is_empty(),
            "{finding:?}"
        );
        assert!(
            !finding.evidence.is_empty(),
            "evidence missing: {finding:?}"
        );
    }
    (r.verdict, codes)
}

/// The verdict, asserting that `code` is the only finding.
fn only(f: &Facts, code: Code) -> Verdict {
    let (v, codes) = run(f);
    assert_eq!(codes, vec![code], "expected only {code}");
    v
}

/// The findings with their severities, and the verdict.
fn judged(f: &Facts) -> (Verdict, Vec<(Code, Severity)>) {
    let (v, _) = run(f);
    let r = diagnose(f, &Policy::default(), &f.domain, 1);
    (v, r.findings.iter().map(|x| (x.code, x.severity)).collect())
}

/// The one finding with `code`.
fn the(f: &Facts, code: Code) -> crate::finding::Finding {
    let r = diagnose(f, &Policy::default(), &f.domain, 1);
    let mut found: Vec<_> = r.findings.into_iter().filter(|x| x.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} expected");
    found.remove(0)
}

/// A healthy domain whose MX address is listed on `zone` with `codes`.
fn listed(codes: &[[u8; 4]], zone: &str) -> Facts {
    let mut f = healthy();
    f.dnsbl_zones[0].zone = zone.into();
    let c = &mut addr(&mut f).dnsbl[0];
    c.zone = zone.into();
    c.answer = Some(answer(codes.iter().map(|c| Ipv4Addr::from(*c)).collect()));
    c.txt = vec!["listed for testing".into()];
    f
}

/// A healthy domain whose TLS facts after STARTTLS are edited by `edit`.
fn with_tls(edit: impl FnOnce(&mut TlsFacts)) -> Facts {
    let mut f = healthy();
    let st = smtp(&mut f).starttls.as_mut().unwrap();
    if let Some(Ok(tls)) = st.handshake.as_mut() {
        edit(tls);
    }
    f
}

#[test]
fn healthy_domain_is_ok_and_clean() {
    let (v, codes) = run(&healthy());
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(v, Verdict::Ok);
}

#[test]
fn facts_round_trip_through_json() {
    let f = healthy();
    let json = serde_json::to_string(&f).unwrap();
    let back: Facts = serde_json::from_str(&json).unwrap();
    assert_eq!(f, back);
    let r = diagnose(&f, &Policy::default(), "x", 1);
    let json = serde_json::to_value(&r).unwrap();
    for key in ["domain", "input", "verdict", "findings", "mx", "elapsed_ms"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["mx"][0]["addresses"][0]["smtp"]["status"], "accepted");
}

#[test]
fn inconclusive_never_hides_a_fault() {
    let mut f = listed(&[[127, 0, 0, 2]], "bl.test");
    smtp(&mut f).rcpt = Some(step(
        "RCPT TO:<postmaster@example.test>",
        450,
        "4.2.0 Greylisted",
    ));
    f.hosts[0].addresses[0].ptr.as_mut().unwrap().lookup = failed(DnsFailure::Timeout);
    let (v, _) = run(&f);
    assert_eq!(v, Verdict::Degraded);
}

#[test]
fn every_code_has_a_scenario_here() {
    // Keeps these files honest: a new code must get a test in one of them (the sender codes: in
    // the sender module's tests).
    let src = concat!(
        include_str!("mod.rs"),
        include_str!("auth.rs"),
        include_str!("dane.rs"),
        include_str!("dns.rs"),
        include_str!("dnsbl.rs"),
        include_str!("smtp.rs"),
        include_str!("spf.rs"),
        include_str!("tls.rs"),
        include_str!("transaction.rs"),
        include_str!("vantage.rs"),
        include_str!("../../sender/tests.rs"),
    );
    for code in Code::ALL {
        let variant = format!("{code:?}");
        assert!(
            src.contains(&format!("Code::{variant}")),
            "no test names Code::{variant}"
        );
    }
}
