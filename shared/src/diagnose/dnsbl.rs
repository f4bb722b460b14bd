//! Blocklist findings: `dnsbl.listed` (per MX IP) and `dnsbl.unavailable` (about this machine:
//! one finding per zone that could not answer us, however many MX IPs asked it).

use crate::dnsbl::{DnsblStatus, ListingKind, classify, zone_info};
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
                    let severity = match kind {
                        ListingKind::Abuse => Severity::Warning,
                        ListingKind::Policy => Severity::Info,
                    };
                    let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
                    let delist = zone_info(&check.zone).map_or_else(
                        || format!("the {} operator's lookup page", check.zone),
                        |z| z.delist.to_owned(),
                    );
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
                        .advice(match kind {
                            ListingKind::Abuse => format!("A listing hurts the mail this address SENDS, not what it receives. If {} also sends mail (often the same server), find out why it was listed (compromised account or host, open relay, bad mailing list), fix it, then request removal at {delist}.", addr.ip),
                            ListingKind::Policy => format!("A policy listing says this address should not send mail directly to receivers (e.g. a dynamic range). Harmless for receiving; if it also sends mail, send through your provider's smarthost or have the range owner update the listing ({delist})."),
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
            .advice("This is about our resolver, not the checked addresses. Blocklists refuse queries from public or unregistered resolvers: use your own recursive resolver or the list's registered/keyed access, then check again."),
        );
    }
}
