//! MTA-STS findings (RFC 8461): `mtasts.invalid`, `mtasts.mx_mismatch`, `mtasts.absent`, and a
//! failed lookup as `dns.lookup_failed` (inconclusive: a failed lookup is not "absent").
//! [`adjust`] makes certificate and STARTTLS problems of an MX host errors under a policy in
//! `enforce` mode: compliant senders will not deliver there.

use std::net::IpAddr;

use crate::auth::AuthFacts;
use crate::auth::mtasts::{FetchErrorKind, MtaStsFacts, PolicyFetch, StsMode, StsPolicy};
use crate::facts::{Facts, Lookup};
use crate::finding::{Code, Finding, Severity};

const FIX_RECORD: &str = "Publish exactly one TXT record at _mta-sts.<domain> of the form \
                          \"v=STSv1; id=20250101T000000\" (the id: 1 to 32 letters and digits, \
                          changed whenever the policy changes), or remove it to drop MTA-STS. \
                          Senders ignore a malformed record, so the domain has no policy now.";

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    let Some(m) = &auth.mta_sts else { return };
    let domain = facts.domain.as_str();
    let txt_name = format!("_mta-sts.{domain}");
    let txt_line = format!("TXT {txt_name}: {}", describe_txt(&m.txt));
    if m.txt.is_failed() {
        out.push(
            Finding::new(
                Code::DnsLookupFailed,
                &txt_name,
                format!(
                    "could not tell whether {domain} publishes an MTA-STS policy: the \
                     {txt_name} TXT lookup failed"
                ),
            )
            .evidence(txt_line)
            .advice(
                "Not proof that there is no policy; try again later. If it persists, the domain's \
                 name servers fail for this name, and senders cannot find the policy either.",
            ),
        );
        return;
    }
    let record = match &m.record {
        None => {
            // A TXT at `_mta-sts` that is meant as a record but does not start `v=STSv1`
            // (wrong case, a version typo) is malformed; anything else there (a wildcard SPF
            // record, say) is simply not an MTA-STS record.
            let attempts: Vec<&String> = m
                .txt
                .records()
                .iter()
                .filter(|r| r.trim_start().to_ascii_lowercase().starts_with("v=sts"))
                .collect();
            if !attempts.is_empty() {
                out.push(
                    Finding::new(
                        Code::MtastsInvalid,
                        domain,
                        format!(
                            "the MTA-STS record of {domain} does not start with \
                             v=STSv1, so senders ignore it"
                        ),
                    )
                    .evidence_lines(attempts.iter().map(|r| format!("TXT {txt_name}: \"{r}\"")))
                    .evidence("a record must start with v=STSv1 exactly (case matters)")
                    .advice(FIX_RECORD),
                );
            } else if !facts.hosts.is_empty() {
                out.push(
                    Finding::new(
                        Code::MtastsAbsent,
                        domain,
                        format!(
                            "{domain} has no MTA-STS policy: senders fall back to opportunistic \
                             TLS, which an attacker on the path can strip"
                        ),
                    )
                    .evidence(txt_line)
                    .advice(
                        "Optional hardening: serve a policy at \
                         https://mta-sts.<domain>/.well-known/mta-sts.txt (start with mode: \
                         testing), publish _mta-sts TXT \"v=STSv1; id=...\", and a TLS-RPT record \
                         to receive failure reports.",
                    ),
                );
            }
            return;
        }
        Some(Err(error)) => {
            out.push(
                Finding::new(
                    Code::MtastsInvalid,
                    domain,
                    format!(
                        "the MTA-STS record of {domain} is malformed, so senders ignore the policy"
                    ),
                )
                .evidence_lines(
                    m.sts_records
                        .iter()
                        .map(|r| format!("TXT {txt_name}: \"{r}\"")),
                )
                .evidence(format!("problem: {error}"))
                .advice(FIX_RECORD),
            );
            return;
        }
        Some(Ok(_)) => m.sts_records.first().map_or("", String::as_str),
    };
    let record_line = format!("TXT {txt_name}: \"{record}\"");
    let Some(fetch) = &m.fetch else { return };
    if let Some(error) = &fetch.error {
        let host = format!("mta-sts.{domain}");
        if error.kind == FetchErrorKind::DnsFailed {
            out.push(
                Finding::new(
                    Code::DnsLookupFailed,
                    &host,
                    format!(
                        "could not fetch the MTA-STS policy of {domain}: the address \
                         lookup of {host} failed"
                    ),
                )
                .evidence(record_line)
                .evidence(format!("policy URL: {}", fetch.url))
                .evidence(error.detail.clone())
                .advice("Not proof that the policy host is missing; try again later."),
            );
            return;
        }
        out.push(
            Finding::new(
                Code::MtastsInvalid,
                domain,
                format!(
                    "the MTA-STS policy of {domain} cannot be fetched: {}",
                    fetch_summary(error.kind)
                ),
            )
            .evidence(record_line)
            .evidence(format!("policy URL: {}", fetch.url))
            .evidence_lines(fetch_lines(fetch))
            .evidence(format!("failed: {}", error.detail))
            .advice(fetch_advice(error.kind, &host)),
        );
        return;
    }
    let policy = match &m.policy {
        None => return,
        Some(Err(error)) => {
            let mut f = Finding::new(
                Code::MtastsInvalid,
                domain,
                format!("the MTA-STS policy of {domain} does not parse, so senders ignore it"),
            )
            .evidence(record_line)
            .evidence(format!("policy URL: {}", fetch.url))
            .evidence(format!("problem: {error}"));
            if let Some(body) = &fetch.body {
                f = f.evidence(format!("policy: {}", shorten(body)));
            }
            out.push(f.advice(
                "Serve a policy of CRLF- or LF-separated lines: \"version: STSv1\", \
                 \"mode: enforce\" (or testing or none), one \"mx: <host or *.domain>\" line \
                 per MX, and \"max_age: <seconds, at most 31557600>\"; then change the id \
                 in the _mta-sts TXT record.",
            ));
            return;
        }
        Some(Ok(policy)) => policy,
    };
    let severity = match policy.mode {
        StsMode::Enforce => Severity::Error,
        StsMode::Testing => Severity::Warning,
        StsMode::None => return,
    };
    for host in facts.hosts.iter().filter(|h| !h.addresses.is_empty()) {
        if policy.matching_pattern(&host.host).is_some() {
            continue;
        }
        let consequence = if policy.mode == StsMode::Enforce {
            "senders that enforce the policy will not deliver there"
        } else {
            "in testing mode senders still deliver, but report the failure; under enforce \
             they would not deliver there"
        };
        out.push(
            Finding::new(
                Code::MtastsMxMismatch,
                &host.host,
                format!(
                    "MX host {} matches none of the mx: patterns of {domain}'s MTA-STS policy \
                     ({} mode): {consequence}",
                    host.host, policy.mode
                ),
            )
            .severity(severity)
            .evidence(format!("MX {} {}", host.preference, host.host))
            .evidence(policy_line(policy, &fetch.url))
            .advice(format!(
                "Add \"mx: {}\" (or a *. pattern covering it) to the policy, change the id in the \
                 _mta-sts TXT record, or point the MX at a host the policy lists.",
                host.host
            )),
        );
    }
}

/// Under an `enforce` policy, the certificate and STARTTLS problems of a covered MX host stop
/// delivery from compliant senders: they become errors.
pub(super) fn adjust(facts: &Facts, auth: &AuthFacts, out: &mut [Finding]) {
    let Some(policy) = auth
        .mta_sts
        .as_ref()
        .and_then(MtaStsFacts::policy_in_force)
        .filter(|p| p.mode == StsMode::Enforce)
    else {
        return;
    };
    for f in out.iter_mut() {
        if !ESCALATED.contains(&f.code) || f.severity == Severity::Inconclusive {
            continue;
        }
        let Ok(ip) = f.subject.parse::<IpAddr>() else {
            continue;
        };
        let covered = facts
            .hosts
            .iter()
            .filter(|h| h.addresses.iter().any(|a| a.ip == ip))
            .find_map(|h| policy.matching_pattern(&h.host).map(|p| (h, p)));
        let Some((host, pattern)) = covered else {
            continue;
        };
        if f.severity < Severity::Error {
            f.severity = Severity::Error;
        }
        f.evidence.push(format!(
            "MTA-STS: {}'s policy is in enforce mode and covers {} (mx: {pattern}): senders that \
             apply it deliver there only over STARTTLS with a valid, trusted certificate for {}, \
             so they will not deliver to {ip}",
            facts.domain, host.host, host.host
        ));
    }
}

/// The findings an enforced policy turns into errors.
const ESCALATED: &[Code] = &[
    Code::SmtpStarttlsMissing,
    Code::SmtpStarttlsFailed,
    Code::TlsCertUntrusted,
    Code::TlsCertNameMismatch,
    Code::TlsCertExpired,
];

fn describe_txt(txt: &Lookup<String>) -> String {
    match txt {
        Lookup::Answer { records } if !records.is_empty() => records
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.describe(),
    }
}

fn policy_line(policy: &StsPolicy, url: &str) -> String {
    format!(
        "policy at {url}: mode {}, mx: {}, max_age {}",
        policy.mode,
        policy.mx.join(", "),
        policy.max_age
    )
}

/// What the HTTP exchange showed, for the evidence.
fn fetch_lines(fetch: &PolicyFetch) -> Vec<String> {
    let mut lines = Vec::new();
    let addresses: Vec<String> = fetch
        .lookups
        .a
        .records()
        .iter()
        .chain(fetch.lookups.aaaa.records())
        .map(ToString::to_string)
        .collect();
    if !addresses.is_empty() {
        lines.push(format!("mta-sts host addresses: {}", addresses.join(", ")));
    }
    if let Some(status) = fetch.status {
        let mut line = format!("HTTP status {status}");
        if let Some(ct) = &fetch.content_type {
            line.push_str(&format!("; Content-Type: {ct}"));
        }
        if let Some(loc) = &fetch.location {
            line.push_str(&format!("; Location: {loc}"));
        }
        if let Some(size) = fetch.size {
            line.push_str(&format!("; {size} bytes"));
        }
        lines.push(line);
    }
    lines
}

fn fetch_summary(kind: FetchErrorKind) -> &'static str {
    match kind {
        FetchErrorKind::DnsFailed => "the policy host's address lookup failed",
        FetchErrorKind::NoAddress => "the policy host does not resolve",
        FetchErrorKind::PrivateAddress => "the policy host has only non-public addresses",
        FetchErrorKind::Connect => "no connection to the policy host",
        FetchErrorKind::Timeout => "the policy host did not answer in time",
        FetchErrorKind::Certificate => {
            "its HTTPS certificate is refused (not for this name, not from a \
             trusted CA, or expired)"
        }
        FetchErrorKind::Tls => "the TLS handshake failed",
        FetchErrorKind::Redirect => "the URL redirects, and senders do not follow redirects",
        FetchErrorKind::Status => "the server did not answer 200 OK",
        FetchErrorKind::ContentType => "it is not served as text/plain",
        FetchErrorKind::TooLarge => "it is larger than 64 KiB",
        FetchErrorKind::Http => "the HTTP exchange failed",
    }
}

fn fetch_advice(kind: FetchErrorKind, host: &str) -> String {
    let serve = format!(
        "Serve the policy at https://{host}/.well-known/mta-sts.txt directly (status 200, \
         Content-Type: text/plain)"
    );
    match kind {
        FetchErrorKind::NoAddress | FetchErrorKind::PrivateAddress => format!(
            "Give {host} a public A/AAAA record pointing at a web server that serves the policy. \
             {serve}; until then senders treat the domain as having no policy."
        ),
        FetchErrorKind::Certificate => format!(
            "Install a current certificate from a public CA whose names include {host} (one for \
             the bare domain or www does not count), and serve the full chain."
        ),
        FetchErrorKind::Redirect => format!(
            "{serve}: senders never follow redirects (RFC 8461 §3.3), so a redirect to another \
             host or path makes the policy unreachable."
        ),
        FetchErrorKind::TooLarge => format!("{serve}: a policy is a few lines of text."),
        _ => format!(
            "{serve}; until it can be fetched, senders treat the domain as having no policy."
        ),
    }
}

/// The policy text on one line, cut to a readable length.
fn shorten(body: &str) -> String {
    let one_line = body.replace("\r\n", "\\n").replace('\n', "\\n");
    if one_line.chars().count() > 300 {
        format!("{}…", one_line.chars().take(300).collect::<String>())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::auth::AuthFacts;
    use crate::auth::mtasts::*;
    use crate::config::Policy;
    use crate::facts::*;
    use crate::finding::{Code, Finding, Severity};
    use crate::report::Verdict;

    const RECORD: &str = "v=STSv1; id=20250101";

    fn policy_text(mode: &str, mx: &[&str]) -> String {
        let mut t = format!("version: STSv1\nmode: {mode}\n");
        for p in mx {
            t.push_str(&format!("mx: {p}\n"));
        }
        t.push_str("max_age: 604800\n");
        t
    }

    fn fetched(body: &str) -> PolicyFetch {
        PolicyFetch {
            url: format!("https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"),
            lookups: AddressLookups {
                a: answer(vec!["45.33.10.80".parse().unwrap()]),
                aaaa: Lookup::NoData,
            },
            peer: Some("45.33.10.80:443".parse().unwrap()),
            status: Some(200),
            content_type: Some("text/plain".into()),
            location: None,
            size: Some(body.len() as u64),
            body: Some(body.to_owned()),
            error: None,
            ms: 20,
        }
    }

    /// MTA-STS facts as collected for `body` served at the policy URL.
    fn sts(body: &str) -> MtaStsFacts {
        MtaStsFacts {
            txt: answer(vec![RECORD.to_owned()]),
            sts_records: vec![RECORD.to_owned()],
            record: Some(parse_record(RECORD)),
            fetch: Some(fetched(body)),
            policy: Some(parse_policy(body)),
            mx: vec![],
        }
    }

    fn with(mut f: Facts, m: MtaStsFacts) -> Facts {
        f.auth = Some(AuthFacts {
            mta_sts: Some(m),
            ..AuthFacts::default()
        });
        f
    }

    fn findings(f: &Facts) -> Vec<Finding> {
        let r = super::super::diagnose(f, &Policy::default(), &f.domain, 1);
        for finding in &r.findings {
            assert!(
                !finding.summary.is_empty()
                    && !finding.advice.is_empty()
                    && !finding.evidence.is_empty(),
                "{finding:?}"
            );
        }
        r.findings
    }

    fn codes(f: &Facts) -> Vec<(Code, Severity)> {
        findings(f).iter().map(|x| (x.code, x.severity)).collect()
    }

    #[test]
    fn a_good_enforced_policy_is_quiet() {
        for mx in [&[HOST][..], &["*.example.test"], &["other.test", HOST]] {
            let f = with(healthy(), sts(&policy_text("enforce", mx)));
            assert_eq!(codes(&f), vec![], "{mx:?}");
            assert_eq!(
                super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
                Verdict::Ok
            );
        }
    }

    #[test]
    fn an_mx_outside_the_patterns_is_an_error_in_enforce_a_warning_in_testing() {
        let f = with(
            healthy(),
            sts(&policy_text("enforce", &["mx.elsewhere.test"])),
        );
        let all = findings(&f);
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].code, Code::MtastsMxMismatch);
        assert_eq!(all[0].severity, Severity::Error);
        assert_eq!(all[0].subject, HOST);
        assert!(
            all[0]
                .evidence
                .iter()
                .any(|e| e.contains("mx.elsewhere.test"))
        );
        // `*.` is one label only.
        let f = with(healthy(), sts(&policy_text("enforce", &["*.test"])));
        assert_eq!(codes(&f), vec![(Code::MtastsMxMismatch, Severity::Error)]);

        let f = with(
            healthy(),
            sts(&policy_text("testing", &["mx.elsewhere.test"])),
        );
        assert_eq!(codes(&f), vec![(Code::MtastsMxMismatch, Severity::Warning)]);
        assert_eq!(
            super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
            Verdict::Degraded
        );

        let f = with(healthy(), sts(&policy_text("none", &["mx.elsewhere.test"])));
        assert_eq!(codes(&f), vec![]);
    }

    #[test]
    fn a_host_without_addresses_is_not_a_live_mx() {
        let mut facts = healthy();
        let mut dead = host_ok();
        dead.host = "mx2.example.test".into();
        dead.preference = 20;
        dead.addresses.clear();
        dead.lookups = AddressLookups {
            a: Lookup::NxDomain,
            aaaa: Lookup::NxDomain,
        };
        facts.hosts.push(dead);
        let f = with(facts, sts(&policy_text("enforce", &[HOST])));
        assert!(
            !codes(&f).iter().any(|(c, _)| *c == Code::MtastsMxMismatch),
            "{:?}",
            codes(&f)
        );
    }

    #[test]
    fn no_record_is_absent_info() {
        for txt in [
            Lookup::NxDomain,
            Lookup::NoData,
            answer(vec!["v=spf1 -all".to_owned()]),
        ] {
            let m = MtaStsFacts {
                txt,
                sts_records: vec![],
                record: None,
                fetch: None,
                policy: None,
                mx: vec![],
            };
            let f = with(healthy(), m);
            assert_eq!(codes(&f), vec![(Code::MtastsAbsent, Severity::Info)]);
            assert_eq!(
                super::super::diagnose(&f, &Policy::default(), DOMAIN, 1).verdict,
                Verdict::Ok
            );
        }
    }

    #[test]
    fn a_failed_lookup_is_not_absent() {
        let m = MtaStsFacts {
            txt: failed(DnsFailure::ServFail),
            sts_records: vec![],
            record: None,
            fetch: None,
            policy: None,
            mx: vec![],
        };
        let all = findings(&with(healthy(), m));
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(all[0].code, Code::DnsLookupFailed);
        assert_eq!(all[0].severity, Severity::Inconclusive);
        assert_eq!(all[0].subject, format!("_mta-sts.{DOMAIN}"));
    }

    #[test]
    fn malformed_records_are_invalid() {
        let two = vec![RECORD.to_owned(), "v=STSv1; id=2".to_owned()];
        let m = MtaStsFacts {
            txt: answer(two.clone()),
            sts_records: two,
            record: Some(Err("2 records start with v=STSv1".into())),
            fetch: None,
            policy: None,
            mx: vec![],
        };
        assert_eq!(
            codes(&with(healthy(), m)),
            vec![(Code::MtastsInvalid, Severity::Error)]
        );
        let m = MtaStsFacts {
            txt: answer(vec!["v=STSv1; id=not-valid".to_owned()]),
            sts_records: vec!["v=STSv1; id=not-valid".to_owned()],
            record: Some(parse_record("v=STSv1; id=not-valid")),
            fetch: None,
            policy: None,
            mx: vec![],
        };
        assert_eq!(
            codes(&with(healthy(), m)),
            vec![(Code::MtastsInvalid, Severity::Error)]
        );
        // A lower-case attempt is ignored by senders: malformed, not absent.
        let m = MtaStsFacts {
            txt: answer(vec!["v=stsv1; id=1".to_owned()]),
            sts_records: vec![],
            record: None,
            fetch: None,
            policy: None,
            mx: vec![],
        };
        assert_eq!(
            codes(&with(healthy(), m)),
            vec![(Code::MtastsInvalid, Severity::Error)]
        );
    }

    #[test]
    fn fetch_failures_are_invalid_and_say_what_failed() {
        for (kind, detail) in [
            (
                FetchErrorKind::Certificate,
                "certificate not valid for name",
            ),
            (
                FetchErrorKind::Redirect,
                "HTTP 301 redirect to https://www.example.test/",
            ),
            (FetchErrorKind::Status, "HTTP 404 Not Found"),
            (FetchErrorKind::ContentType, "Content-Type text/html"),
            (
                FetchErrorKind::TooLarge,
                "the body exceeds the 65536-byte limit",
            ),
            (
                FetchErrorKind::NoAddress,
                "mta-sts.example.test: A NXDOMAIN",
            ),
            (FetchErrorKind::Timeout, "operation timed out"),
        ] {
            let mut m = sts(&policy_text("enforce", &[HOST]));
            let fetch = m.fetch.as_mut().unwrap();
            fetch.error = Some(FetchError {
                kind,
                detail: detail.to_owned(),
            });
            fetch.body = None;
            m.policy = None;
            let all = findings(&with(healthy(), m));
            assert_eq!(all.len(), 1, "{kind:?}: {all:#?}");
            assert_eq!(all[0].code, Code::MtastsInvalid);
            assert_eq!(all[0].severity, Severity::Error);
            assert_eq!(all[0].subject, DOMAIN);
            let evidence = all[0].evidence.join("\n");
            assert!(evidence.contains(RECORD), "{evidence}");
            assert!(evidence.contains("/.well-known/mta-sts.txt"), "{evidence}");
            assert!(evidence.contains(detail), "{evidence}");
        }
        // The policy host's lookup failed: we cannot tell.
        let mut m = sts(&policy_text("enforce", &[HOST]));
        m.fetch.as_mut().unwrap().error = Some(FetchError {
            kind: FetchErrorKind::DnsFailed,
            detail: "SERVFAIL".into(),
        });
        m.policy = None;
        assert_eq!(
            codes(&with(healthy(), m)),
            vec![(Code::DnsLookupFailed, Severity::Inconclusive)]
        );
    }

    #[test]
    fn unparsable_policies_are_invalid() {
        for body in [
            "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 99999999\n",
            "<html>hello</html>",
        ] {
            let f = with(healthy(), sts(body));
            let all = findings(&f);
            assert_eq!(all.len(), 1, "{all:#?}");
            assert_eq!(all[0].code, Code::MtastsInvalid);
            assert!(all[0].evidence.iter().any(|e| e.starts_with("problem: ")));
        }
    }

    fn with_cert_problem(mut f: Facts, problem: CertProblem) -> Facts {
        let tls = smtp(&mut f)
            .starttls
            .as_mut()
            .unwrap()
            .handshake
            .as_mut()
            .unwrap()
            .as_mut()
            .unwrap();
        tls.problems = vec![problem];
        f
    }

    fn name_mismatch() -> CertProblem {
        CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec!["other.test".into()],
        }
    }

    #[test]
    fn a_dane_match_does_not_undo_an_enforced_policy() {
        use crate::auth::dane::{DaneFacts, DaneHost, DnssecState, TlsaRecord, Validated};
        let spki = "ab".repeat(32);
        let mut f = with_cert_problem(
            healthy(),
            CertProblem::Untrusted {
                detail: "UnknownIssuer".into(),
            },
        );
        if let Some(Ok(tls)) = smtp(&mut f)
            .starttls
            .as_mut()
            .and_then(|s| s.handshake.as_mut())
        {
            tls.chain[0].spki_sha256.clone_from(&spki);
        }
        fn secure<T>(lookup: Lookup<T>) -> Validated<T> {
            Validated {
                lookup,
                dnssec: DnssecState::Secure,
            }
        }
        let dane = DaneFacts {
            validator: "validating resolver".into(),
            unavailable: None,
            mx: Some(secure(answer(vec![MxRecord {
                preference: 10,
                exchange: HOST.into(),
            }]))),
            hosts: vec![DaneHost {
                host: HOST.into(),
                a: secure(answer(vec![ip()])),
                aaaa: secure(Lookup::NoData),
                tlsa_name: format!("_25._tcp.{HOST}"),
                tlsa: secure(answer(vec![TlsaRecord {
                    usage: 3,
                    selector: 1,
                    matching: 1,
                    data: spki,
                }])),
            }],
        };
        // DANE alone: the untrusted certificate is only info (DANE senders deliver).
        let mut dane_only = f.clone();
        dane_only.auth = Some(AuthFacts {
            dane: Some(dane.clone()),
            ..AuthFacts::default()
        });
        assert!(
            codes(&dane_only).contains(&(Code::TlsCertUntrusted, Severity::Info)),
            "{:?}",
            codes(&dane_only)
        );
        // DANE and an enforced MTA-STS policy: MTA-STS senders still refuse, so it is an error.
        let mut both = with(f, sts(&policy_text("enforce", &[HOST])));
        both.auth.as_mut().unwrap().dane = Some(dane);
        assert!(
            codes(&both).contains(&(Code::TlsCertUntrusted, Severity::Error)),
            "{:?}",
            codes(&both)
        );
    }

    #[test]
    fn enforce_makes_certificate_problems_errors() {
        let base = with_cert_problem(healthy(), name_mismatch());
        assert_eq!(
            codes(&base),
            vec![(Code::TlsCertNameMismatch, Severity::Warning)]
        );

        let f = with(base.clone(), sts(&policy_text("enforce", &[HOST])));
        let all = findings(&f);
        assert_eq!(all.len(), 1, "{all:#?}");
        assert_eq!(
            (all[0].code, all[0].severity),
            (Code::TlsCertNameMismatch, Severity::Error)
        );
        assert!(
            all[0]
                .evidence
                .last()
                .is_some_and(|e| e.contains("enforce") && e.contains(HOST)),
            "{all:#?}"
        );

        let untrusted = with_cert_problem(
            healthy(),
            CertProblem::Untrusted {
                detail: "UnknownIssuer".into(),
            },
        );
        let f = with(untrusted, sts(&policy_text("enforce", &["*.example.test"])));
        assert_eq!(codes(&f), vec![(Code::TlsCertUntrusted, Severity::Error)]);

        let mut no_tls = healthy();
        let s = smtp(&mut no_tls);
        s.starttls = None;
        s.extensions.retain(|e| e != "STARTTLS");
        assert_eq!(
            codes(&no_tls),
            vec![(Code::SmtpStarttlsMissing, Severity::Warning)]
        );
        let f = with(no_tls, sts(&policy_text("enforce", &[HOST])));
        assert_eq!(
            codes(&f),
            vec![(Code::SmtpStarttlsMissing, Severity::Error)]
        );
    }

    #[test]
    fn testing_none_and_broken_policies_do_not_escalate() {
        let base = with_cert_problem(healthy(), name_mismatch());
        for m in [
            sts(&policy_text("testing", &[HOST])),
            sts(&policy_text("none", &[])),
            sts("version: STSv1\nmode: enforce\nmx: mx1.example.test\n"),
        ] {
            let f = with(base.clone(), m);
            assert!(
                codes(&f).contains(&(Code::TlsCertNameMismatch, Severity::Warning)),
                "{:?}",
                codes(&f)
            );
        }
        // An MX the policy does not cover: the mismatch says it; the certificate stays a
        // warning.
        let f = with(base, sts(&policy_text("enforce", &["mx.elsewhere.test"])));
        let got = codes(&f);
        assert!(
            got.contains(&(Code::TlsCertNameMismatch, Severity::Warning)),
            "{got:?}"
        );
        assert!(
            got.contains(&(Code::MtastsMxMismatch, Severity::Error)),
            "{got:?}"
        );
    }
}
