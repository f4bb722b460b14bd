//! TLS-RPT findings (RFC 8460): `tlsrpt.invalid`, and `tlsrpt.absent` when MTA-STS or DANE is
//! in use (only then do senders have TLS failures to report). About the domain.

use crate::auth::AuthFacts;
use crate::facts::Facts;
use crate::finding::{Code, Finding};

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    if !super::spf::domain_resolves(facts) {
        return;
    }
    let Some(rpt) = &auth.tls_rpt else { return };
    let Some(lookup) = &rpt.lookup else { return };
    let domain = &facts.domain;
    let example = format!("`v=TLSRPTv1; rua=mailto:tls-reports@{domain}`");
    if rpt.records.len() > 1 {
        out.push(
            Finding::new(
                Code::TlsrptInvalid,
                domain,
                format!(
                    "{} holds {} TLS-RPT records: senders use none of them",
                    rpt.name,
                    rpt.records.len()
                ),
            )
            .evidence_lines(rpt.records.iter().map(|r| format!("TXT {}: {r}", rpt.name)))
            .advice(format!(
                "Senders that find more than one `v=TLSRPTv1` record assume the domain does not \
                 use TLS reporting. Keep one TXT record at {} with all the report addresses in \
                 its `rua=`, e.g. {example}, and delete the others.",
                rpt.name
            )),
        );
        return;
    }
    if let Some(error) = &rpt.error {
        let text = rpt
            .records
            .first()
            .or_else(|| rpt.ignored.first())
            .map_or("", String::as_str);
        let at = if error.field.is_empty() {
            format!("at byte {}", error.position)
        } else {
            format!("at byte {}, `{}`", error.position, error.field)
        };
        out.push(
            Finding::new(
                Code::TlsrptInvalid,
                domain,
                format!(
                    "the TLS-RPT record at {} is malformed: senders ignore it",
                    rpt.name
                ),
            )
            .evidence(format!("TXT {}: {text}", rpt.name))
            .evidence(format!("it breaks {at}: {error}", error = error.kind))
            .advice(format!(
                "A TLS-RPT record is `v=TLSRPTv1` (exactly so) followed by `;` and `rua=` with \
                 one or more `mailto:` or `https:` addresses separated by commas, e.g. {example}. \
                 Senders ignore a malformed record, so TLS failures on the way to your servers go \
                 unreported."
            )),
        );
        return;
    }
    if rpt.record.is_some() || lookup.is_failed() {
        return;
    }
    let mut using = Vec::new();
    if mta_sts_in_use(auth) {
        using.push("MTA-STS");
    }
    if dane_in_use(auth) {
        using.push("DANE");
    }
    if using.is_empty() {
        return;
    }
    let using = using.join(" and ");
    out.push(
        Finding::new(
            Code::TlsrptAbsent,
            domain,
            format!("{domain} uses {using} but publishes no TLS-RPT record"),
        )
        .evidence(format!("TXT {}: {}", rpt.name, lookup.describe()))
        .advice(format!(
            "With {using}, senders that cannot set up a valid TLS connection to your servers \
             refuse to deliver, and without TLS reporting nobody tells you. Publish a TXT record \
             at {}: {example}; senders then mail you a daily summary of their TLS successes and \
             failures.",
            rpt.name
        )),
    );
}

/// MTA-STS is in use: the domain publishes a usable `_mta-sts` record.
fn mta_sts_in_use(auth: &AuthFacts) -> bool {
    auth.mta_sts
        .as_ref()
        .is_some_and(|m| matches!(m.record, Some(Ok(_))))
}

/// DANE is in use: some MX host publishes TLSA records at `_25._tcp.<mx>`.
fn dane_in_use(auth: &AuthFacts) -> bool {
    auth.dane
        .as_ref()
        .is_some_and(|d| d.hosts.iter().any(|h| !h.tlsa_records().is_empty()))
}
