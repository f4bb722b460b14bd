//! DNSSEC and DANE findings (`dns.dnssec_bogus`, `dane.*`), pure over the recorded facts: the
//! validated lookups ([`crate::auth::dane::DaneFacts`]) and the certificate chain the SMTP probe
//! recorded for each MX address.
//!
//! - `dns.dnssec_bogus` (subject the domain): validation failed for the MX RRset, an MX host's
//!   A/AAAA RRset or its TLSA RRset. Never for a zone that is simply unsigned.
//! - `dane.unusable` (subject the MX host): TLSA records exist, but senders will not use them:
//!   the TLSA RRset, the host's addresses or the domain's MX RRset are not signed, or only the
//!   PKIX usages 0/1 (or no parameters a sender supports) are published.
//! - `dane.mismatch` / `dane.valid` (subject the MX host): usable TLSA records compared with the
//!   chain each address served: DANE-EE (3) against the leaf, DANE-TA (2) against the
//!   certificates above it. Any address whose chain matches nothing is a mismatch.
//!
//! Matching (in [`matching`]) uses the digests recorded in [`CertFacts`]: selector 0 is the
//! whole certificate, 1 its SubjectPublicKeyInfo; matching type 1 is SHA-256, 2 SHA-512, and 0
//! (the full data) is compared by hashing the record's data with SHA-256 and comparing with the
//! recorded SHA-256. DANE-TA is judged by the digest alone: the chain's signatures up to the
//! matched certificate are not verified again here.
//!
//! [`adjust`]: under a DANE-EE match on an address, `tls.cert_untrusted`,
//! `tls.cert_name_mismatch` and `tls.cert_expired` there become info (RFC 7672 §3.1.1: DANE-EE
//! senders check neither names nor dates nor the issuer); under a DANE-TA match,
//! `tls.cert_untrusted` becomes info.

mod matching;

use matching::match_chain;

use crate::auth::AuthFacts;
use crate::auth::dane::{DaneFacts, DaneHost, DnssecState, TlsaRecord, Validated};
use crate::facts::{CertFacts, Facts, Lookup};
use crate::finding::{Code, Finding, Severity};

pub(super) fn check(facts: &Facts, auth: &AuthFacts, out: &mut Vec<Finding>) {
    let Some(dane) = usable_facts(auth) else {
        return;
    };
    bogus(facts, dane, out);
    for host in &dane.hosts {
        judge_host(facts, dane, host, out);
    }
}

pub(super) fn adjust(facts: &Facts, auth: &AuthFacts, out: &mut [Finding]) {
    let Some(dane) = usable_facts(auth) else {
        return;
    };
    for host in &dane.hosts {
        if unusable_reason(dane, host).is_some() {
            continue;
        }
        let records = dane_records(host);
        for (ip, chain) in chains(facts, &host.host) {
            let Some(chain) = chain else { continue };
            let Some(matched) = match_chain(&records, chain) else {
                continue;
            };
            let softened: &[Code] = if matched.record.usage == 3 {
                &[
                    Code::TlsCertUntrusted,
                    Code::TlsCertNameMismatch,
                    Code::TlsCertExpired,
                ]
            } else {
                &[Code::TlsCertUntrusted]
            };
            let why = if matched.record.usage == 3 {
                format!(
                    "DNSSEC-validated DANE-EE record {} at {} matches this certificate: DANE \
                     senders check neither issuer, names nor dates (RFC 7672 §3.1.1)",
                    matched.record.describe(),
                    host.tlsa_name
                )
            } else {
                format!(
                    "DNSSEC-validated DANE-TA record {} at {} matches {} in the chain: DANE \
                     senders take it as the trust anchor (RFC 7672 §3.1.2)",
                    matched.record.describe(),
                    host.tlsa_name,
                    describe_cert(chain, matched.index)
                )
            };
            for finding in out
                .iter_mut()
                .filter(|f| f.subject == ip && softened.contains(&f.code))
            {
                finding.severity = Severity::Info;
                finding.evidence.push(why.clone());
            }
        }
    }
}

/// The DANE facts worth judging: recorded, and the validator worked.
fn usable_facts(auth: &AuthFacts) -> Option<&DaneFacts> {
    auth.dane.as_ref().filter(|d| d.unavailable.is_none())
}

/// One `dns.dnssec_bogus` for the domain, listing every lookup that failed validation.
fn bogus(facts: &Facts, dane: &DaneFacts, out: &mut Vec<Finding>) {
    let mut lines = Vec::new();
    if let Some(reason) = dane.mx.as_ref().and_then(Validated::bogus) {
        lines.push(format!("MX {}: {reason}", facts.domain));
    }
    for host in &dane.hosts {
        for (what, name, lookup) in [
            ("A", &host.host, host.a.bogus()),
            ("AAAA", &host.host, host.aaaa.bogus()),
            ("TLSA", &host.tlsa_name, host.tlsa.bogus()),
        ] {
            if let Some(reason) = lookup {
                lines.push(format!("{what} {name}: {reason}"));
            }
        }
    }
    if lines.is_empty() {
        return;
    }
    out.push(
        Finding::new(
            Code::DnsDnssecBogus,
            &facts.domain,
            format!(
                "DNSSEC validation fails for the mail records of {}: validating \
                 resolvers answer SERVFAIL",
                facts.domain
            ),
        )
        .evidence_lines(lines)
        .evidence(dane.validator.clone())
        .advice(
            "Fix the signing of the zone: re-sign it (expired or missing signatures), make the \
             DS records at the parent match the zone's current key-signing key (after a key \
             roll, or when the zone moved to another DNS host), or remove the DS at the registrar \
             to turn DNSSEC off cleanly. Large mail providers validate DNSSEC and cannot reach \
             the mail hosts until then.",
        ),
    );
}

fn judge_host(facts: &Facts, dane: &DaneFacts, host: &DaneHost, out: &mut Vec<Finding>) {
    let published = host.tlsa_records();
    // No TLSA, a bogus TLSA RRset (dns.dnssec_bogus says it) or a failed lookup: nothing here.
    if published.is_empty()
        || !matches!(
            host.tlsa.dnssec,
            DnssecState::Secure | DnssecState::Insecure
        )
    {
        return;
    }
    let listing = published
        .iter()
        .map(TlsaRecord::describe)
        .collect::<Vec<_>>()
        .join("; ");
    let tlsa_line = format!(
        "TLSA at {}: {listing} ({})",
        host.tlsa_name,
        host.tlsa.dnssec.describe()
    );
    if let Some(reason) = unusable_reason(dane, host) {
        out.push(
            Finding::new(
                Code::DaneUnusable,
                &host.host,
                format!(
                    "the TLSA records of {} cannot be used by DANE senders",
                    host.host
                ),
            )
            .evidence(tlsa_line)
            .evidence(reason.evidence)
            .advice(reason.advice),
        );
        return;
    }
    let records = dane_records(host);
    let mut matched = Vec::new();
    let mut mismatched = Vec::new();
    for (ip, chain) in chains(facts, &host.host) {
        let Some(chain) = chain else { continue };
        match match_chain(&records, chain) {
            Some(m) => matched.push(format!(
                "{ip}: {} matches {}",
                m.record.describe(),
                describe_cert(chain, m.index)
            )),
            None => mismatched.push((ip, chain)),
        }
    }
    if !mismatched.is_empty() {
        let mut finding = Finding::new(
            Code::DaneMismatch,
            &host.host,
            format!(
                "the DNSSEC-validated TLSA records of {} match no certificate it serves: DANE \
                 senders will not deliver there",
                host.host
            ),
        )
        .evidence(tlsa_line);
        for (ip, chain) in &mismatched {
            finding = finding.evidence(format!("{ip}: {}", served_digests(&records, chain)));
        }
        finding = finding.evidence_lines(matched);
        let suggestion = mismatched
            .first()
            .and_then(|(_, chain)| chain.first())
            .filter(|leaf| !leaf.spki_sha256.is_empty())
            .map(|leaf| {
                format!(
                    " For the certificate now served that is `{}. IN TLSA 3 1 1 {}`.",
                    host.tlsa_name, leaf.spki_sha256
                )
            })
            .unwrap_or_default();
        out.push(finding.advice(format!(
            "Publish TLSA records that match the certificate the server presents, or serve the \
             certificate the records name. When renewing or replacing a key, publish the new TLSA \
             record first, wait for the old one's TTL, then switch the certificate; a `3 1 1` \
             record (SHA-256 of the public key) survives renewals that keep the key.{suggestion}"
        )));
        return;
    }
    if !matched.is_empty() {
        out.push(
            Finding::new(
                Code::DaneValid,
                &host.host,
                format!(
                    "{} has DNSSEC-validated TLSA records that match the certificate it serves",
                    host.host
                ),
            )
            .evidence(tlsa_line)
            .evidence_lines(matched)
            .advice(
                "Nothing to do. Keep the TLSA records in step with certificate and key changes \
                 (publish the new record before switching).",
            ),
        );
    }
}

/// Why senders would not use this host's TLSA records.
struct Unusable {
    evidence: String,
    advice: &'static str,
}

fn unusable_reason(dane: &DaneFacts, host: &DaneHost) -> Option<Unusable> {
    const SIGN: &str = "Sign the zone with DNSSEC (and publish its DS at the parent), or \
                        remove the TLSA records: unsigned TLSA records give no protection, and \
                        DANE senders ignore them.";
    if host.tlsa.dnssec != DnssecState::Secure {
        return Some(Unusable {
            evidence: format!(
                "the TLSA RRset at {} is not DNSSEC-signed: senders cannot trust it",
                host.tlsa_name
            ),
            advice: SIGN,
        });
    }
    for (family, lookup) in [("A", &host.a), ("AAAA", &host.aaaa)] {
        if matches!(lookup.lookup, Lookup::Answer { .. }) && lookup.dnssec == DnssecState::Insecure
        {
            return Some(Unusable {
                evidence: format!(
                    "the {family} records of {} are not DNSSEC-signed: DANE senders look up TLSA \
                     only for hosts whose addresses are secure (RFC 7672 §2.2)",
                    host.host
                ),
                advice: "Sign the zone that holds the MX host's addresses (and any \
                         alias leading to them).",
            });
        }
    }
    if let Some(mx) = &dane.mx
        && matches!(mx.lookup, Lookup::Answer { .. })
        && mx.dnssec == DnssecState::Insecure
    {
        return Some(Unusable {
            evidence:
                "the domain's MX records are not DNSSEC-signed: DANE senders do not trust MX host \
                 names obtained insecurely, and deliver without DANE (RFC 7672 §2.2.1)"
                    .to_owned(),
            advice: "Sign the domain's zone with DNSSEC and publish its DS at the registrar, so \
                     the MX records validate; the MX host's TLSA records then apply.",
        });
    }
    let published = host.tlsa_records();
    if !published.iter().any(TlsaRecord::is_dane_usage) {
        return Some(Unusable {
            evidence: "only PKIX usages (0 PKIX-TA, 1 PKIX-EE) are published: SMTP senders treat \
                       them as unusable (RFC 7672 §3.1.3)"
                .to_owned(),
            advice: "Publish DANE-EE records (`3 1 1`, the SHA-256 of the server's public key) or \
                     DANE-TA records (`2 1 1` for the issuing CA's key) instead of usages 0 and 1.",
        });
    }
    if dane_records(host).is_empty() {
        return Some(Unusable {
            evidence: "no DANE-TA/DANE-EE record has a selector (0, 1) and matching type \
                       (0, 1, 2) senders support"
                .to_owned(),
            advice: "Publish records with selector 0 or 1 and matching type 1 \
                     (SHA-256), e.g. `3 1 1`.",
        });
    }
    None
}

/// The records senders apply: DANE-TA/DANE-EE with supported selector and matching type.
fn dane_records(host: &DaneHost) -> Vec<&TlsaRecord> {
    host.tlsa_records()
        .iter()
        .filter(|r| r.is_dane_usage() && r.selector <= 1 && r.matching <= 2)
        .collect()
}

/// Each probed address of `host` and the chain it served after STARTTLS (`None`: no TLS seen).
fn chains<'a>(
    facts: &'a Facts,
    host: &'a str,
) -> impl Iterator<Item = (String, Option<&'a [CertFacts]>)> + 'a {
    facts
        .hosts
        .iter()
        .filter(move |h| h.host.eq_ignore_ascii_case(host))
        .flat_map(|h| h.addresses.iter())
        .filter_map(|a| {
            let smtp = a.smtp.as_ref()?;
            let chain = smtp
                .tls()
                .map(|t| t.chain.as_slice())
                .filter(|c| !c.is_empty());
            Some((a.ip.to_string(), chain))
        })
}

fn describe_cert(chain: &[CertFacts], index: usize) -> String {
    let which = if index == 0 {
        "the leaf certificate".to_owned()
    } else {
        format!("chain certificate #{index}")
    };
    match chain.get(index) {
        Some(c) => format!("{which} ({})", c.subject),
        None => which,
    }
}

/// What the chain would need to match: the digests of the leaf (and, for DANE-TA records, of
/// the certificates above it) in the forms the records use.
fn served_digests(records: &[&TlsaRecord], chain: &[CertFacts]) -> String {
    let mut forms: Vec<(u8, u8)> = records
        .iter()
        .map(|r| (r.selector, if r.matching == 2 { 2 } else { 1 }))
        .collect();
    forms.sort_unstable();
    forms.dedup();
    let wants_ta = records.iter().any(|r| r.usage == 2);
    let upto = if wants_ta { chain.len() } else { 1 };
    let mut parts = Vec::new();
    for (i, cert) in chain.iter().enumerate().take(upto) {
        let digests = forms
            .iter()
            .map(|&(selector, matching)| {
                let (label, value) = match (selector, matching) {
                    (0, 2) => ("cert SHA-512", &cert.sha512),
                    (0, _) => ("cert SHA-256", &cert.sha256),
                    (_, 2) => ("SPKI SHA-512", &cert.spki_sha512),
                    _ => ("SPKI SHA-256", &cert.spki_sha256),
                };
                format!("{label} {value}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!("{}: {digests}", describe_cert(chain, i)));
    }
    format!("served {}", parts.join("; "))
}
