//! Blocklist findings: `dnsbl.listed`, `dnsbl.unavailable`.

use crate::dnsbl::{DnsblStatus, ListingKind, classify, zone_info};
use crate::facts::Facts;
use crate::finding::{Code, Finding, Severity};

pub(super) fn check(facts: &Facts, out: &mut Vec<Finding>) {
    for (host, addr) in facts.addresses() {
        let subject = addr.ip.to_string();
        let mut unavailable = Vec::new();
        for check in &addr.dnsbl {
            let health = facts.dnsbl_zones.iter().find(|z| z.zone == check.zone);
            match classify(check, health) {
                DnsblStatus::Listed {
                    kind,
                    codes,
                    meanings,
                } => {
                    let severity = match kind {
                        ListingKind::Abuse => Severity::Error,
                        ListingKind::Policy => Severity::Warning,
                    };
                    let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
                    let mut f = Finding::new(
                        Code::DnsblListed,
                        &subject,
                        format!("{} ({}) is listed on {}", addr.ip, host.host, check.zone),
                    )
                    .severity(severity)
                    .evidence(format!("{} -> {}", check.query, codes.join(", ")))
                    .evidence_lines(meanings)
                    .evidence_lines(check.txt.iter().map(|t| format!("TXT: {t}")));
                    let delist = zone_info(&check.zone).map_or_else(
                        || format!("the {} operator's lookup page", check.zone),
                        |z| z.delist.to_owned(),
                    );
                    f = f.advice(match kind {
                        ListingKind::Abuse => format!("Find out why (compromised account or host, open relay, bad mailing list), fix it, then request removal at {delist}. Receivers that use this list reject or junk mail from {}; it matters most if this address also sends mail.", addr.ip),
                        ListingKind::Policy => format!("A policy listing says this address should not send mail directly to receivers (e.g. a dynamic range). Harmless for receiving; if it also sends mail, send through your provider's smarthost or have the range owner update the listing ({delist})."),
                    });
                    out.push(f);
                }
                DnsblStatus::Unavailable { reason } => unavailable.push(reason),
                DnsblStatus::NotListed | DnsblStatus::NotCovered => {}
            }
        }
        if !unavailable.is_empty() {
            out.push(
                Finding::new(
                    Code::DnsblUnavailable,
                    &subject,
                    format!("{} blocklist(s) could not be checked for {}", unavailable.len(), addr.ip),
                )
                .evidence_lines(unavailable)
                .advice("This says nothing about the address. Blocklists refuse queries from public or unregistered resolvers: use your own recursive resolver (--resolver) or the list's registered/keyed access, then check again."),
            );
        }
    }
}
