//! DMARC findings (RFC 7489): `dmarc.missing` (inconclusive when a lookup failed),
//! `dmarc.invalid`, `dmarc.policy_none`, `dmarc.report_unauthorized`, all about the domain.
//!
//! The lookups are judged in the order receivers make them: `_dmarc.<domain>`, then the
//! organizational domain's when the first kept no `v=DMARC1` record.

use crate::auth::AuthFacts;
use crate::auth::dmarc::{DmarcErrorKind, DmarcFacts, DmarcLookup, DmarcPolicy, DmarcRecord};
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    if !super::spf::domain_resolves(facts) {
        return;
    }
    let Some(dmarc) = &auth.dmarc else { return };
    let domain = &facts.domain;
    let mut invalid = false;
    for lookup in &dmarc.lookups {
        if lookup.lookup.is_failed() {
            out.push(
                Finding::new(
                    Code::DmarcMissing,
                    domain,
                    format!("the DMARC record of {domain} could not be looked up"),
                )
                .severity(Severity::Inconclusive)
                .evidence_lines(asked(dmarc))
                .advice(format!(
                    "Receivers that cannot look up {} judge the mail without DMARC or \
                     defer it. If the name is in your zone, check that all its name servers \
                     answer; then check again.",
                    lookup.name
                )),
            );
            return;
        }
        if lookup.records.len() > 1 {
            out.push(
                Finding::new(
                    Code::DmarcInvalid,
                    domain,
                    format!(
                        "{} holds {} DMARC records: receivers apply none of them",
                        lookup.name,
                        lookup.records.len()
                    ),
                )
                .evidence_lines(
                    lookup
                        .records
                        .iter()
                        .map(|r| format!("TXT {}: {r}", lookup.name)),
                )
                .advice(format!(
                    "RFC 7489 says a receiver that finds more than one `v=DMARC1` record applies \
                     no DMARC policy at all. Keep one TXT record at {} (merge the tags you want \
                     into it) and delete the others.",
                    lookup.name
                )),
            );
            return;
        }
        if let Some(error) = &lookup.error {
            out.push(invalid_record(domain, lookup, error));
            invalid = true;
        }
        if let Some(record) = &lookup.record {
            policy(facts, dmarc, lookup, record, out);
            reports(domain, dmarc, lookup, out);
            return;
        }
        if lookup.found() {
            // Kept but broken: receivers stop here.
            return;
        }
    }
    if invalid {
        return;
    }
    let null_mx = {
        let mx = facts.mx.records();
        !mx.is_empty() && mx.iter().all(|m| m.exchange == ".")
    };
    let example = if null_mx {
        format!(
            "`v=DMARC1; p=reject` — {domain} sends no mail, so receivers may refuse everything \
             that claims to come from it"
        )
    } else {
        format!(
            "`v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}` to start: receivers then send \
             you daily reports of who sends mail as {domain}. Once the reports show that all your \
             own mail passes SPF or DKIM, move to `p=quarantine` (failing mail goes to the spam \
             folder) and then `p=reject` (it is refused)"
        )
    };
    let org_note = if dmarc.organizational_domain != *domain {
        format!(
            " (a record at _dmarc.{} would cover {domain} too)",
            dmarc.organizational_domain
        )
    } else {
        String::new()
    };
    out.push(
        Finding::new(
            Code::DmarcMissing,
            domain,
            format!("{domain} publishes no DMARC record"),
        )
        .evidence_lines(asked(dmarc))
        .advice(format!(
            "Without DMARC, receivers have no policy for mail that forges {domain}, and large \
             providers (Gmail, Yahoo, Microsoft) require one from bulk senders. Publish a TXT \
             record at _dmarc.{domain}{org_note}: {example}."
        )),
    );
}

/// One line per lookup made: the name and what it gave.
fn asked(dmarc: &DmarcFacts) -> Vec<String> {
    dmarc
        .lookups
        .iter()
        .map(|l| {
            let what = match (l.lookup.records(), l.found()) {
                ([], _) => l.lookup.describe(),
                (_, true) => l.records.join(" | "),
                (txt, false) => format!("{} TXT record(s), none starts with v=DMARC1", txt.len()),
            };
            let org = if l.domain == dmarc.domain {
                ""
            } else {
                " (the organizational domain)"
            };
            format!("TXT {}{org}: {what}", l.name)
        })
        .collect()
}

fn invalid_record(
    domain: &str,
    lookup: &DmarcLookup,
    error: &crate::auth::dmarc::DmarcParseError,
) -> Finding {
    let text = if lookup.found() {
        lookup.records.first()
    } else {
        lookup.ignored.first()
    };
    let text = text.map_or("", String::as_str);
    let (summary, fix) = match &error.kind {
        DmarcErrorKind::NotFirst | DmarcErrorKind::BadVersion { .. } => (
            format!(
                "the TXT record at {} does not start with `v=DMARC1`: receivers ignore it",
                lookup.name
            ),
            "Start the record with exactly `v=DMARC1;` (upper case), then `p=`.".to_owned(),
        ),
        DmarcErrorKind::MissingPolicy {
            treated_as_none: true,
        } => (
            format!(
                "the DMARC record at {} has no `p=`: receivers treat it as `p=none`",
                lookup.name
            ),
            "Add the policy right after the version: `v=DMARC1; p=none; …` (or \
             `p=quarantine`, `p=reject`)."
                .to_owned(),
        ),
        DmarcErrorKind::MissingPolicy {
            treated_as_none: false,
        } => (
            format!(
                "the DMARC record at {} has no `p=`: receivers ignore it",
                lookup.name
            ),
            "Add the policy right after the version: `v=DMARC1; p=none; …` (or \
             `p=quarantine`, `p=reject`)."
                .to_owned(),
        ),
        DmarcErrorKind::BadUri { .. } => (
            format!(
                "the DMARC record at {} has a report address receivers cannot use",
                lookup.name
            ),
            "Write each report address as a URI with `mailto:` in front, separated by commas: \
             `rua=mailto:dmarc@example.com,mailto:other@example.net`."
                .to_owned(),
        ),
        _ => (
            format!("the DMARC record at {} does not parse", lookup.name),
            "Correct the tag named above.".to_owned(),
        ),
    };
    let at = if error.tag.is_empty() {
        format!("at byte {}", error.position)
    } else {
        format!("at byte {}, `{}`", error.position, error.tag)
    };
    Finding::new(Code::DmarcInvalid, domain, summary)
        .evidence(format!("TXT {}: {text}", lookup.name))
        .evidence(format!("it breaks {at}: {}", error.kind))
        .advice(format!(
            "{fix} A DMARC record is one TXT record at {}: `v=DMARC1` first, then \
             `p=` (none, quarantine or reject), then optional tags separated by \
             semicolons — `rua=mailto:…` (aggregate reports), `sp=` (policy \
             for subdomains), `pct=` (0–100), `adkim=`/`aspf=` (r or s). Example: \
             `v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}`.",
            lookup.name
        ))
}

/// `dmarc.policy_none` for the policy that applies to the domain.
fn policy(
    facts: &Facts,
    dmarc: &DmarcFacts,
    lookup: &DmarcLookup,
    record: &DmarcRecord,
    out: &mut Vec<Finding>,
) {
    let domain = &facts.domain;
    let applied = record.policy_for(&dmarc.domain, &lookup.domain);
    if applied != DmarcPolicy::None {
        return;
    }
    let via_sp = lookup.domain != dmarc.domain && record.subdomain_policy.is_some();
    let summary = if via_sp {
        format!(
            "the DMARC policy for subdomains of {} is `sp=none`, and it applies to \
             {domain}: monitoring only",
            lookup.domain
        )
    } else {
        format!("the DMARC policy of {domain} is `p=none`: monitoring only")
    };
    let reports = if record.rua.is_empty() {
        format!(
            " First add `rua=mailto:dmarc-reports@{domain}` to receive reports of \
             who sends mail as {domain}."
        )
    } else {
        String::new()
    };
    let mut f = Finding::new(Code::DmarcPolicyNone, domain, summary)
        .evidence(format!("TXT {}: {}", lookup.name, record.text));
    if lookup.domain != dmarc.domain {
        f = f.evidence(format!(
            "{domain} has no record of its own; the organizational domain's applies"
        ));
    }
    out.push(f.advice(format!(
        "With `none` receivers deliver mail that fails DMARC as usual, so mail forged as {domain} \
         still arrives.{reports} Once the aggregate reports show that all your own mail passes \
         SPF or DKIM, move to `p=quarantine` (failing mail goes to the spam folder), then \
         `p=reject` (it is refused)."
    )));
}

/// `dmarc.report_unauthorized` for report destinations in other organizational domains.
fn reports(domain: &str, dmarc: &DmarcFacts, lookup: &DmarcLookup, out: &mut Vec<Finding>) {
    let unauthorized: Vec<_> = dmarc
        .report_authorizations
        .iter()
        .filter(|a| a.authorized == Some(false))
        .collect();
    let unknown: Vec<_> = dmarc
        .report_authorizations
        .iter()
        .filter(|a| a.authorized.is_none())
        .collect();
    let lines = |list: &[&crate::auth::dmarc::ReportAuthorization]| -> Vec<String> {
        list.iter()
            .map(|a| {
                format!(
                    "{}: TXT {}: {}",
                    a.uris.join(", "),
                    a.name,
                    match a.lookup.records() {
                        [] => a.lookup.describe(),
                        txt => format!("{} (none starts with v=DMARC1)", txt.join(" | ")),
                    }
                )
            })
            .collect()
    };
    let advice = |dests: &str| {
        format!(
            "Reports to an address in another organization's domain are sent only when \
             that domain agrees to receive them, by publishing the TXT record `v=DMARC1` at \
             `{}._report._dmarc.<its domain>` (RFC 7489 §7.1). If {dests} is your reporting \
             service, ask it to publish that record (most do when you register {} with them); \
             otherwise send the reports to an address in your own domain.",
            lookup.domain, lookup.domain
        )
    };
    if !unauthorized.is_empty() {
        let dests: Vec<&str> = unauthorized
            .iter()
            .map(|a| a.destination.as_str())
            .collect();
        let verb = if dests.len() == 1 { "does" } else { "do" };
        let dests = dests.join(", ");
        out.push(
            Finding::new(
                Code::DmarcReportUnauthorized,
                domain,
                format!(
                    "DMARC reports for {domain} go to {dests}, which {verb} not agree to receive \
                     them: receivers drop those reports"
                ),
            )
            .evidence(format!(
                "TXT {}: {}",
                lookup.name,
                lookup.records.join(" | ")
            ))
            .evidence_lines(lines(&unauthorized))
            .evidence_lines(lines(&unknown))
            .advice(advice(&dests)),
        );
    } else if !unknown.is_empty() {
        let dests: Vec<&str> = unknown.iter().map(|a| a.destination.as_str()).collect();
        let dests = dests.join(", ");
        // Reports do not decide delivery: a failed check is worth knowing, not inconclusive.
        out.push(
            Finding::new(
                Code::DmarcReportUnauthorized,
                domain,
                format!(
                    "whether {dests} agrees to receive DMARC reports for {domain} \
                     could not be checked"
                ),
            )
            .severity(Severity::Info)
            .evidence(format!(
                "TXT {}: {}",
                lookup.name,
                lookup.records.join(" | ")
            ))
            .evidence_lines(lines(&unknown))
            .advice(advice(&dests)),
        );
    }
}
