//! The sending IP on blocklists: `sender.listed` (an error for abuse listings and for policy
//! listings that forbid direct-to-MX sending, a warning for other policy listings), and
//! `dnsbl.unavailable` about this machine for a list that cannot answer us.

use std::net::IpAddr;

use crate::dnsbl::{ListingKind, SendingListing, sending_listings};
use crate::finding::{Code, Finding, Severity, THIS_MACHINE};
use crate::sender::SenderFacts;

fn listing_advice(ip: IpAddr, l: &SendingListing) -> String {
    let delist = &l.delist;
    match (l.kind, l.direct_to_mx) {
        (ListingKind::Abuse, _) => format!(
            "Receivers that use {} refuse mail from {ip} (the seed: \"if you get disconnected \
             after MAIL FROM, you probably have an RBL problem on your sending IP\"). Find out \
             why it was listed first — the list's lookup page says: usually a compromised mailbox \
             or password sending spam, an infected machine behind the same address (NAT), an open \
             relay, or a web form that mails anyone. Fix that, then request removal at {delist}. \
             Until then, send through another, clean relay.",
            l.zone
        ),
        (ListingKind::Policy, true) => format!(
            "{} says {ip} is in an end-user range that should not deliver mail directly to \
             receivers (Spamhaus PBL: an office, home or dynamic line), and receivers that use it \
             refuse such direct mail. Send through your provider's smarthost (its SMTP server on \
             port 587 with authentication: Postfix `relayhost`, Exchange a smart host on the Send \
             connector, a firewall's \"relay\" setting). If this is a static address meant for a \
             mail server, ask the ISP to take it out of the PBL, or use the PBL removal at \
             {delist}.",
            l.zone
        ),
        (ListingKind::Policy, false) => format!(
            "A policy listing, not an accusation of spam, but some receivers score it. If {ip} \
             should send mail directly, ask the range owner to update the listing ({delist}); \
             otherwise send through your provider's smarthost."
        ),
    }
}

pub(super) fn listings(f: &SenderFacts, out: &mut Vec<Finding>) {
    if !f.dnsbl_enabled {
        return;
    }
    let ip = f.ip;
    let (listed, unavailable) = sending_listings(&f.dnsbl, &f.dnsbl_zones);
    for l in &listed {
        let codes: Vec<String> = l.codes.iter().map(ToString::to_string).collect();
        let what = match (l.kind, l.direct_to_mx) {
            (ListingKind::Abuse, _) => "an abuse listing",
            (ListingKind::Policy, true) => "a policy listing: no direct-to-MX sending",
            (ListingKind::Policy, false) => "a policy listing",
        };
        out.push(
            Finding::new(
                Code::SenderListed,
                ip.to_string(),
                format!("{ip} is listed on {} ({what})", l.zone),
            )
            .severity(if l.blocks_sending() {
                Severity::Error
            } else {
                Severity::Warning
            })
            .evidence(format!("{} -> {}", l.query, codes.join(", ")))
            .evidence_lines(l.meanings.iter().cloned())
            .evidence_lines(l.txt.iter().map(|t| format!("TXT: {t}")))
            .evidence(format!("look up and delist: {}", l.delist))
            .advice(listing_advice(ip, l)),
        );
    }
    let mut zones: Vec<(String, Vec<String>)> = Vec::new();
    for (zone, reason) in unavailable {
        match zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, reasons)) => reasons.push(reason),
            None => zones.push((zone, vec![reason])),
        }
    }
    for (zone, reasons) in zones {
        out.push(
            Finding::new(
                Code::DnsblUnavailable,
                THIS_MACHINE,
                format!(
                    "the blocklist {zone} could not answer our resolver: whether {ip} is listed \
                     there is unknown"
                ),
            )
            .evidence_lines(reasons)
            .advice(
                "This is about our resolver, not the sender. Blocklists refuse queries from \
                 public or unregistered resolvers: use your own recursive resolver or the list's \
                 registered/keyed access, or look the address up on the list's own page.",
            ),
        );
    }
}
