//! The "From here" view of our own vantage point: a few plain lines and the findings about this
//! machine (`probe.egress_blocked`, `probe.identity`, `probe.listed`, `dnsbl.unavailable`),
//! whatever any domain showed. `mailcheck-audit --vantage` prints it, reports put it on top, the
//! bot logs it at start-up. Pure: a function of recorded vantage facts.

use serde::{Deserialize, Serialize};

use super::smtp::{connect_text, our_listings, poor_identity};
use crate::dnsbl::{zone_problem, zone_problem_v6};
use crate::facts::{ConnectOutcome, Family, PublicIpSource, VantageFacts, ZoneHealth};
use crate::finding::{Code, Finding, THIS_MACHINE};

/// What the probe knows about itself, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageView {
    /// One line per fact: egress per family, public address, EHLO name, sender, blocklists.
    pub lines: Vec<String>,
    /// The findings about this machine.
    pub findings: Vec<Finding>,
    /// Outbound port 25 was checked and is open over no address family.
    pub port25_blocked: bool,
}

/// The view of `vantage` with the blocklist zones' self-tests.
pub fn view(vantage: &VantageFacts, zones: &[ZoneHealth]) -> VantageView {
    let mut lines = Vec::new();
    let mut findings = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        let Some(e) = vantage.egress(family) else {
            lines.push(format!(
                "outbound port 25 over {}: not checked",
                family.as_str()
            ));
            continue;
        };
        let describe: Vec<String> = e
            .canaries
            .iter()
            .map(|c| format!("{} {}", c.target, connect_text(&c.outcome)))
            .collect();
        let state = if e.open() {
            "open"
        } else if e.blocked() {
            "BLOCKED"
        } else {
            "unknown (no canary has an address of this family)"
        };
        lines.push(format!(
            "outbound port 25 over {}: {state} ({})",
            family.as_str(),
            describe.join("; ")
        ));
        if e.blocked() {
            findings.push(
                Finding::new(
                    Code::ProbeEgressBlocked,
                    THIS_MACHINE,
                    format!(
                        "our own outbound port 25 over {} is blocked",
                        family.as_str()
                    ),
                )
                .evidence_lines(describe)
                .advice(
                    "Many clouds and ISPs block outbound port 25, and a host firewall may reject \
                     it. SMTP checks over this family mean nothing from here: run them from a host \
                     that can reach port 25, or have the block lifted.",
                ),
            );
        }
    }
    if vantage.public_ips.is_empty() {
        lines.push(
            "public address: unknown (set it, or it is learned from servers that echo it in EHLO)"
                .to_owned(),
        );
    }
    for p in &vantage.public_ips {
        let source = match &p.source {
            PublicIpSource::Configured => "configured".to_owned(),
            PublicIpSource::Echoed { by } => format!("echoed by {by}"),
            PublicIpSource::Local => "our own address, no NAT".to_owned(),
        };
        let ptr = match &p.ptr {
            None => "PTR not looked up".to_owned(),
            Some(ptr) if ptr.names().is_empty() => format!("no PTR ({})", ptr.lookup.describe()),
            Some(ptr) => {
                let confirmed = match ptr.confirms(p.ip) {
                    Some(true) => "forward-confirmed",
                    Some(false) => "NOT forward-confirmed",
                    None => "forward check failed",
                };
                let generic = ptr
                    .names()
                    .iter()
                    .find_map(|n| crate::identity::generic_ptr(n, p.ip))
                    .map_or_else(String::new, |why| format!("; looks generic: {why}"));
                format!("PTR {} ({confirmed}{generic})", ptr.names().join(", "))
            }
        };
        lines.push(format!("public address: {} ({source}); {ptr}", p.ip));
    }
    if !vantage.helo_name.is_empty() {
        let resolves = vantage.helo_lookups.as_ref().map_or_else(
            || "not a fully qualified name".to_owned(),
            |l| {
                let ips = l.ips();
                if ips.is_empty() {
                    format!("does not resolve ({})", l.a.describe())
                } else {
                    format!(
                        "resolves to {}",
                        ips.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            },
        );
        lines.push(format!("EHLO name: {} ({resolves})", vantage.helo_name));
        let sender = if vantage.mail_from.is_empty() {
            "<> (the null sender)".to_owned()
        } else {
            let domain = vantage
                .sender_domain
                .as_ref()
                .map_or_else(String::new, |d| match d.resolves() {
                    Some(true) => format!(" (domain {} receives mail)", d.domain),
                    Some(false) => format!(" (domain {} has no MX or address)", d.domain),
                    None => format!(" (domain {}: lookup failed)", d.domain),
                });
            format!("{}{domain}", vantage.mail_from)
        };
        lines.push(format!("sender: {sender}"));
    }
    let identity = poor_identity(vantage);
    if !identity.is_empty() {
        findings.push(
            Finding::new(
                Code::ProbeIdentity,
                THIS_MACHINE,
                "our identity is poor: strict receivers may refuse us, and their refusals are \
                 about us",
            )
            .evidence_lines(identity)
            .advice(
                "Give the prober an EHLO name that resolves to its public address and is that \
                 address's forward-confirmed PTR name, and a sender address in a domain that \
                 receives mail.",
            ),
        );
    }
    findings.extend(our_listings(vantage, zones));
    for z in zones {
        let problem = zone_problem(z).or_else(|| zone_problem_v6(z));
        match problem {
            None => lines.push(format!("blocklist {}: answers us", z.zone)),
            Some(problem) => {
                lines.push(format!("blocklist {}: UNAVAILABLE ({problem})", z.zone));
                findings.push(
                    Finding::new(
                        Code::DnsblUnavailable,
                        THIS_MACHINE,
                        format!("the blocklist {} could not answer our resolver", z.zone),
                    )
                    .evidence(format!("{} {problem}", z.zone))
                    .advice(
                        "Blocklists refuse queries from public or unregistered resolvers: use your \
                         own recursive resolver or the list's registered/keyed access.",
                    ),
                );
            }
        }
    }
    let checked = !vantage.egress.is_empty();
    let open = vantage.egress.iter().any(|e| {
        e.canaries
            .iter()
            .any(|c| matches!(c.outcome, ConnectOutcome::Connected { .. }))
    });
    VantageView {
        lines,
        findings,
        port25_blocked: checked && !open,
    }
}
