//! Tests of the comparison with a domain's previous run: the first run, verdict moves, findings
//! matched by code and subject, inconclusive and null-MX ranks, invalid rows, the JSON form.

use super::*;
use mailcheck::{Code, Finding};

fn report(verdict: Verdict, findings: &[(Code, &str)]) -> Report {
    let mut r = Report::invalid("x.test", "unused");
    r.domain = "x.test".to_owned();
    r.error = None;
    r.verdict = verdict;
    r.findings = findings
        .iter()
        .map(|(c, s)| Finding::new(*c, *s, "summary"))
        .collect();
    r
}

fn base(verdict: Verdict, findings: &[(Code, &str)]) -> Baseline {
    Baseline {
        run_id: "r1".to_owned(),
        started_at: 1_000,
        verdict,
        findings: FindingKey::of(&report(verdict, findings)),
    }
}

fn codes(keys: &[FindingKey]) -> Vec<String> {
    keys.iter().map(FindingKey::label).collect()
}

#[test]
fn changes_json_round_trip() {
    let before = base(Verdict::Ok, &[(Code::SmtpRefused, "mx.x")]);
    let c = compare(
        Some(&before),
        &report(Verdict::Broken, &[(Code::DnsNxdomain, "x.test")]),
    );
    assert_eq!(Changes::from_json(&c.to_json()), Some(c));
    let new = compare(None, &report(Verdict::Ok, &[]));
    assert_eq!(Changes::from_json(&new.to_json()), Some(new));
    assert_eq!(
        Changes::from_json(&serde_json::json!({"change": "?"})),
        None
    );
}

#[test]
fn first_run_is_new() {
    let c = compare(
        None,
        &report(Verdict::Broken, &[(Code::SmtpRefused, "mx.x")]),
    );
    assert_eq!(c.change, Change::New);
    assert!(
        c.new_broken,
        "a broken domain seen for the first time is news"
    );
    assert!(c.previous.is_none() && !c.is_change());
    let c = compare(None, &report(Verdict::Ok, &[]));
    assert!(!c.new_broken);
}

#[test]
fn verdict_moves_and_findings_match_by_code_and_subject() {
    let b = base(Verdict::Ok, &[(Code::SmtpRefused, "mx1.x")]);
    let now = report(
        Verdict::Broken,
        &[
            (Code::SmtpRefused, "mx2.x"),
            (Code::DnsblListed, "192.0.2.1"),
        ],
    );
    let c = compare(Some(&b), &now);
    assert_eq!(c.change, Change::Worse);
    assert!(c.new_broken && c.is_change());
    assert_eq!(
        codes(&c.new_findings),
        ["smtp.refused (mx2.x)", "dnsbl.listed (192.0.2.1)"]
    );
    assert_eq!(codes(&c.resolved_findings), ["smtp.refused (mx1.x)"]);
    assert_eq!(c.previous.unwrap().verdict, Verdict::Ok);

    let c = compare(
        Some(&base(Verdict::Broken, &[])),
        &report(Verdict::Degraded, &[]),
    );
    assert_eq!(c.change, Change::Better);
    assert!(!c.new_broken);
    let c = compare(
        Some(&base(Verdict::Broken, &[])),
        &report(Verdict::Broken, &[]),
    );
    assert_eq!(c.change, Change::Same);
    assert!(!c.new_broken, "broken yesterday too: not new");
}

#[test]
fn same_verdict_with_other_findings_stays_same() {
    let b = base(Verdict::Degraded, &[(Code::SmtpStarttlsMissing, "mx.x")]);
    let c = compare(
        Some(&b),
        &report(Verdict::Degraded, &[(Code::MxCname, "x.test")]),
    );
    assert_eq!(c.change, Change::Same);
    assert!(c.is_change(), "the finding lists changed");
    assert_eq!(c.new_findings.len(), 1);
    assert_eq!(c.resolved_findings.len(), 1);
}

#[test]
fn inconclusive_is_never_worse_or_better() {
    for was in [Verdict::Ok, Verdict::Broken, Verdict::Degraded] {
        let c = compare(
            Some(&base(was, &[(Code::SmtpRefused, "mx.x")])),
            &report(Verdict::Inconclusive, &[(Code::DnsLookupFailed, "x.test")]),
        );
        assert_eq!(c.change, Change::Same, "{was} -> inconclusive");
        assert!(!c.new_broken);
        assert!(c.resolved_findings.is_empty(), "unchecked is not resolved");
        assert_eq!(codes(&c.new_findings), ["dns.lookup_failed (x.test)"]);
    }
}

#[test]
fn inconclusive_baseline_only_when_nothing_better_was_recorded() {
    let b = base(Verdict::Inconclusive, &[]);
    assert_eq!(
        compare(Some(&b), &report(Verdict::Broken, &[])).change,
        Change::Worse
    );
    assert!(compare(Some(&b), &report(Verdict::Broken, &[])).new_broken);
    assert_eq!(
        compare(Some(&b), &report(Verdict::Ok, &[])).change,
        Change::Same
    );
}

#[test]
fn null_mx_ranks_below_ok() {
    assert_eq!(
        compare(Some(&base(Verdict::Ok, &[])), &report(Verdict::NoMail, &[])).change,
        Change::Worse
    );
    assert_eq!(
        compare(Some(&base(Verdict::NoMail, &[])), &report(Verdict::Ok, &[])).change,
        Change::Better
    );
    assert_eq!(
        compare(
            Some(&base(Verdict::NoMail, &[])),
            &report(Verdict::Degraded, &[])
        )
        .change,
        Change::Worse
    );
}

#[test]
fn invalid_rows_compare_like_broken() {
    let c = compare(
        Some(&base(Verdict::Invalid, &[])),
        &report(Verdict::Invalid, &[]),
    );
    assert_eq!(c.change, Change::Same);
    assert!(!c.new_broken);
}
