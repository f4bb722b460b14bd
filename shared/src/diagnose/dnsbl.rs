//! Blocklist findings: `dnsbl.listed` (per MX IP) and `dnsbl.unavailable` (about this machine:
//! one finding per zone that could not answer us, however many MX IPs asked it).

use crate::dnsbl::{DnsblStatus, ListingKind, classify, delist_hint};
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity, THIS_MACHINE};

pub(super) fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let mut unavailable: Vec<(String, Vec<String>)> = Vec::new();
    for (host, addr) in facts.addresses() {
        let subject = addr.ip.to_string();
        for check in &addr.dnsbl {
            let health = facts.dnsbl_zones.iter().find(|z| z.zone == check.zone);
            match classify(check, health) {
                DnsblStatus::Listed {
                    kind,
                    codes,
                    meanings,
                } => {
                    // An address the domain's own SPF record authorizes sends its mail: there
                    // a listing hurts the domain's mail directly.
                    let sends = super::spf::sends_for_domain(facts, addr.ip);
                    let severity = match (kind, sends) {
                        (ListingKind::Abuse, true) => Severity::Error,
                        (ListingKind::Abuse, false) | (ListingKind::Policy, true) => {
                            Severity::Warning
                        }
                        (ListingKind::Policy, false) => Severity::Info,
                    };
                    let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
                    let delist = delist_hint(&check.zone);
                    out.push(
                        Finding::new(
                            Code::DnsblListed,
                            &subject,
                            format!("{} ({}) is listed on {}", addr.ip, host.host, check.zone),
                        )
                        .severity(severity)
                        .evidence(format!("{} -> {}", check.query, codes.join(", ")))
                        .evidence_lines(meanings)
                        .evidence_lines(check.txt.iter().map(|t| format!("TXT: {t}")))
                        .evidence_lines(super::spf::sends_evidence(facts, addr.ip))
                        .advice(match (kind, sends) {
                            (ListingKind::Abuse, true) => format!(
                                "{} sends the domain's mail (its SPF record names it), so \
                                 receivers that use this list junk or refuse that mail now. Find \
                                 out why it was listed (compromised account or host, open relay, \
                                 bad mailing list), fix it, then request removal at {delist}.",
                                addr.ip
                            ),
                            (ListingKind::Policy, true) => format!(
                                "A policy listing says this address should not send mail directly \
                                 to receivers (e.g. a dynamic range), yet the domain's SPF record \
                                 names it as a sender. Send through your provider's smarthost, or \
                                 have the range owner update the listing ({delist})."
                            ),
                            (ListingKind::Abuse, false) => format!(
                                "A listing hurts the mail this address SENDS, not what it \
                                 receives. If {} also sends mail (often the same server), find out \
                                 why it was listed (compromised account or host, open relay, bad \
                                 mailing list), fix it, then request removal at {delist}.",
                                addr.ip
                            ),
                            (ListingKind::Policy, false) => format!(
                                "A policy listing says this address should not send mail directly \
                                 to receivers (e.g. a dynamic range). Harmless for receiving; if \
                                 it also sends mail, send through your provider's smarthost or \
                                 have the range owner update the listing ({delist})."
                            ),
                        }),
                    );
                }
                DnsblStatus::Unavailable { reason } => {
                    match unavailable.iter_mut().find(|(z, _)| *z == check.zone) {
                        Some((_, reasons)) => {
                            if !reasons.contains(&reason) {
                                reasons.push(reason);
                            }
                        }
                        None => unavailable.push((check.zone.clone(), vec![reason])),
                    }
                }
                DnsblStatus::NotListed | DnsblStatus::NotCovered => {}
            }
        }
    }
    for (zone, reasons) in unavailable {
        out.push(
            Finding::new(
                Code::DnsblUnavailable,
                THIS_MACHINE,
                format!("the blocklist {zone} could not answer our resolver"),
            )
            .evidence_lines(reasons)
            .advice(
                "This is about our resolver, not the checked addresses. Blocklists refuse queries \
                 from public or unregistered resolvers: use your own recursive resolver or the \
                 list's registered/keyed access, then check again.",
            ),
        );
    }
}
