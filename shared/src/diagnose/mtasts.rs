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
mod tests;
