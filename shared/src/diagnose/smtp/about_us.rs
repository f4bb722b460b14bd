//! Findings and evidence about us, the prober, never the target's fault: a refusal of who we
//! are (`smtp.probe_blocked`), our poor identity (`probe.identity`), our listing on an abuse
//! blocklist (`probe.listed`), and what our egress check and our blocklist status say.

use super::Ctx;
use crate::facts::{ConnectOutcome, Facts, Family, Reply};
use crate::finding::{Code, Finding, THIS_MACHINE};

pub(super) fn probe_blocked(ctx: &Ctx<'_>, stage: &str, reply: &Reply) -> Finding {
    let local = ctx
        .smtp
        .local_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let public: Vec<String> = ctx.us.ips.iter().map(ToString::to_string).collect();
    let mut f = Finding::new(
        Code::SmtpProbeBlocked,
        &ctx.subject,
        format!(
            "{} refused us at {stage} because of who we are, not because of the domain",
            ctx.at()
        ),
    )
    .evidence(reply.one_line())
    .evidence(format!(
        "our local address: {local}; addresses that are us: {}",
        public.join(", ")
    ));
    for seen in &ctx.smtp.retried {
        f = f.evidence(format!(
            "first attempt: {seen}; retried once after a back-off"
        ));
    }
    f.advice(
        "The refusal names our own address, client, sender or HELO name (a blocklist \
         listing, missing reverse DNS, a sender the server cannot verify). It says nothing \
         about the target; check again from a host with a clean, properly named address \
         and a real sender address.",
    )
}

/// Evidence of the egress check for a family, when it was made and found port 25 open.
pub(super) fn egress_evidence(facts: &Facts, family: Family) -> Vec<String> {
    facts
        .vantage
        .egress(family)
        .filter(|e| e.open())
        .map(|e| {
            let open: Vec<&str> = e
                .canaries
                .iter()
                .filter(|c| matches!(c.outcome, ConnectOutcome::Connected { .. }))
                .map(|c| c.target.as_str())
                .collect();
            vec![format!(
                "our outbound port 25 over {} works (canary {} answered), so \
                 this is the target's side",
                family.as_str(),
                open.join(", ")
            )]
        })
        .unwrap_or_default()
}

/// Our public address(es) and their blocklist status, for a drop after MAIL FROM.
pub(super) fn our_blocklist_status(facts: &Facts) -> String {
    use crate::dnsbl::{DnsblStatus, classify as classify_dnsbl};
    let v = &facts.vantage;
    if v.public_ips.is_empty() {
        return "our public address is not known (configure it, or it is learned from servers that \
                echo it in EHLO), so its blocklist status is unknown".to_owned();
    }
    let parts: Vec<String> = v
        .public_ips
        .iter()
        .map(|p| {
            let states: Vec<String> = p
                .dnsbl
                .iter()
                .map(|check| {
                    let health = facts.dnsbl_zones.iter().find(|z| z.zone == check.zone);
                    let state = match classify_dnsbl(check, health) {
                        DnsblStatus::Listed { codes, .. } => format!(
                            "LISTED ({})",
                            codes
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        DnsblStatus::NotListed => "not listed".to_owned(),
                        DnsblStatus::NotCovered => "not covered".to_owned(),
                        DnsblStatus::Unavailable { .. } => "unavailable".to_owned(),
                    };
                    format!("{}: {state}", check.zone)
                })
                .collect();
            if states.is_empty() {
                format!("{}: no blocklists configured", p.ip)
            } else {
                format!("{}: {}", p.ip, states.join(", "))
            }
        })
        .collect();
    format!("our public address on the blocklists: {}", parts.join("; "))
}

/// What is poor about our identity: strict receivers refuse such clients.
pub(in crate::diagnose) fn poor_identity(v: &crate::facts::VantageFacts) -> Vec<String> {
    let mut problems = Vec::new();
    if v.helo_name.is_empty() {
        return problems;
    }
    use crate::identity::{HeloResolution, PtrState, helo_resolution, ptr_state};
    match &v.helo_lookups {
        None => problems.push(format!(
            "our EHLO name {} is not a fully qualified host name",
            v.helo_name
        )),
        Some(l) => match helo_resolution(l) {
            HeloResolution::Unresolvable => problems.push(format!(
                "our EHLO name {} does not resolve (A: {}; AAAA: {})",
                v.helo_name,
                l.a.describe(),
                l.aaaa.describe()
            )),
            HeloResolution::LookupFailed => {}
            HeloResolution::Resolves(ips) => {
                for p in &v.public_ips {
                    if !ips.contains(&p.ip) {
                        problems.push(format!(
                            "our EHLO name {} resolves to {}, not to our public address {}",
                            v.helo_name,
                            ips.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            p.ip
                        ));
                    }
                }
            }
        },
    }
    for p in &v.public_ips {
        let Some(ptr) = &p.ptr else { continue };
        match ptr_state(ptr, p.ip) {
            PtrState::Missing => problems.push(format!(
                "our public address {} has no reverse DNS (PTR)",
                p.ip
            )),
            PtrState::NotConfirmed => problems.push(format!(
                "the PTR of our public address {} ({}) does not resolve back to it",
                p.ip,
                ptr.names().join(", ")
            )),
            PtrState::LookupFailed | PtrState::ForwardFailed | PtrState::Confirmed => {}
        }
    }
    if let Some(sender) = &v.sender_domain
        && sender.resolves() == Some(false)
    {
        problems.push(format!(
            "our sender domain {} has no MX or address (MX: {})",
            sender.domain,
            sender.mx.describe()
        ));
    }
    problems
}

pub(super) fn identity_finding(facts: &Facts, evidence: Vec<String>) -> Finding {
    let v = &facts.vantage;
    let public: Vec<String> = v
        .public_ips
        .iter()
        .map(|p| {
            let ptr = p
                .ptr
                .as_ref()
                .map(|x| x.names().join(", "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "no PTR".to_owned());
            format!("{} (PTR {ptr})", p.ip)
        })
        .collect();
    let sender = if v.mail_from.is_empty() {
        "<>".to_owned()
    } else {
        v.mail_from.clone()
    };
    Finding::new(
        Code::ProbeIdentity,
        THIS_MACHINE,
        "receivers may refuse us for who we are: our EHLO name, sender or address, \
         not the target's fault",
    )
    .evidence_lines(evidence)
    .evidence(format!(
        "our EHLO name: {}; sender: {sender}; public address: {}",
        v.helo_name,
        if public.is_empty() {
            "unknown".to_owned()
        } else {
            public.join(", ")
        }
    ))
    .advice(
        "Give the prober a good identity: an EHLO name that resolves to its public address and \
         is that address's forward-confirmed PTR name, and a real sender address in a domain that \
         receives mail. Until then, refusals of our sender or name say nothing about the target.",
    )
}

/// `probe.listed`: our public address on an abuse blocklist.
pub(in crate::diagnose) fn our_listings(
    vantage: &crate::facts::VantageFacts,
    zones: &[crate::facts::ZoneHealth],
) -> Option<Finding> {
    use crate::dnsbl::{ListingKind, sending_listings};
    let mut lines = Vec::new();
    for p in &vantage.public_ips {
        let (listings, _) = sending_listings(&p.dnsbl, zones);
        for l in listings.iter().filter(|l| l.kind == ListingKind::Abuse) {
            let codes: Vec<String> = l.codes.iter().map(ToString::to_string).collect();
            lines.push(format!(
                "{} is listed on {}: {} ({})",
                p.ip,
                l.zone,
                codes.join(", "),
                l.meanings.join("; ")
            ));
        }
    }
    (!lines.is_empty()).then(|| {
        Finding::new(
            Code::ProbeListed,
            THIS_MACHINE,
            "our public address is on an abuse blocklist: receivers that drop or refuse us \
             may do it for that reason",
        )
        .evidence_lines(lines)
        .advice(
            "Check from an address that is not listed, or have this one delisted (find out why it \
             was listed first). Refusals and drops seen from here may be about us.",
        )
    })
}
