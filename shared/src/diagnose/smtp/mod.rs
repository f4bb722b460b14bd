//! SMTP conversation findings (`smtp.*`, `tls.legacy_version` from the version probe) and the
//! vantage findings that bear on them (`probe.*`): every observation is about the target or
//! about us, and a finding about us is never reported as the target's fault.
//!
//! Each probed address also gets an [`AddressResult`], which the verdict reads: `broken` needs
//! every probed address to have failed hard.
//!
//! This module holds the walk over every probed address and what is said across addresses
//! (our blocked egress, our identity, our listings); each stage of one conversation has its own:
//! - [`address`]: the connect, the greeting and EHLO/HELO of one address;
//! - [`banner`]: the host name in the greeting (`smtp.banner_*`);
//! - [`starttls`]: STARTTLS and the legacy TLS version probe;
//! - [`transaction`]: `MAIL FROM`, `RCPT TO`, the null-sender retry, deferrals and the open
//!   relay test;
//! - [`about_us`]: the findings and evidence about us, the prober (`smtp.probe_blocked`,
//!   `probe.identity`, `probe.listed`, our egress and blocklist status).

mod about_us;
mod address;
mod banner;
mod starttls;
mod transaction;

use crate::classify::Us;
use crate::config::Policy;
use crate::facts::{
    AddressFacts, ConnectOutcome, Facts, Family, HostFacts, SmtpFacts, Step, StepOutcome,
};
use crate::finding::{Code, Finding, THIS_MACHINE};

use about_us::identity_finding;
pub(super) use about_us::{our_listings, poor_identity};

/// How one probed address ended, for the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AddressResult {
    /// `RCPT TO:<postmaster@domain>` was accepted, or refused only as an unknown user (the
    /// domain is hosted there).
    Accepted,
    /// A hard failure of the target (refused, unreachable, no greeting, 5xx, relay denied…).
    HardFail,
    /// Deferred (4xx): real senders retry.
    Deferred,
    /// We could not tell: about us, greylisted, an ambiguous drop, our egress.
    Inconclusive,
}

/// Outcomes of an address that our own identity or blocklist listing may explain.
const EXPLAINABLE_BY_US: &[Code] = &[
    Code::SmtpUnreachable,
    Code::SmtpNoGreeting,
    Code::SmtpGreetingRejected,
    Code::SmtpHeloRejected,
    Code::SmtpMailRejected,
    Code::SmtpDisconnectAfterMail,
    Code::SmtpRcptRejected,
    Code::SmtpTempfail,
    Code::SmtpProbeBlocked,
    Code::SmtpIncomplete,
];

/// Findings that say why a conversation ended before `RCPT TO` (a missing STARTTLS or an odd
/// banner does not).
const STOPS_THE_CONVERSATION: &[Code] = &[
    Code::SmtpRefused,
    Code::SmtpUnreachable,
    Code::SmtpNoGreeting,
    Code::SmtpGreetingRejected,
    Code::SmtpHeloRejected,
    Code::SmtpStarttlsFailed,
    Code::SmtpMailRejected,
    Code::SmtpDisconnectAfterMail,
    Code::SmtpRelayDenied,
    Code::SmtpRcptRejected,
    Code::SmtpNoPostmaster,
    Code::SmtpGreylisted,
    Code::SmtpTempfail,
    Code::SmtpProbeBlocked,
    Code::SmtpOpenRelay,
    Code::SmtpIncomplete,
];

pub(super) fn check(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) -> Vec<AddressResult> {
    let us = us(facts);
    let mut results = Vec::new();
    let mut identity = Vec::new();
    let mut blocked_families: Vec<(Family, Vec<String>)> = Vec::new();
    let mut local_errors = Vec::new();
    let mut bad_outcome = false;
    for (host, addr) in facts.addresses() {
        let Some(smtp) = &addr.smtp else {
            if let Some(why) = &addr.unfinished {
                out.push(
                    Finding::new(
                        Code::SmtpIncomplete,
                        addr.ip.to_string(),
                        format!(
                            "the conversation with {} ({}) did not finish",
                            addr.ip, host.host
                        ),
                    )
                    .evidence(why.clone())
                    .advice(
                        "The check ran out of time before this server answered everything: it may \
                         be very slow (a tarpit) or filtering us. Check again later; the other \
                         findings are of what was checked so far.",
                    ),
                );
                results.push(AddressResult::Inconclusive);
            }
            continue;
        };
        let ctx = Ctx {
            facts,
            subject: addr.ip.to_string(),
            host,
            addr,
            smtp,
            us: us_for(&us, addr.ip, smtp),
        };
        let before = out.len();
        let result = address::address(facts, policy, &ctx, out, &mut identity);
        let result = match result {
            Outcome::Done(r) => r,
            Outcome::EgressBlocked(detail) => {
                let family = Family::of(addr.ip);
                match blocked_families.iter_mut().find(|(f, _)| *f == family) {
                    Some((_, lines)) => lines.push(detail),
                    None => blocked_families.push((family, vec![detail])),
                }
                results.push(AddressResult::Inconclusive);
                continue;
            }
            Outcome::LocalError(detail) => {
                local_errors.push(detail);
                results.push(AddressResult::Inconclusive);
                continue;
            }
        };
        // Our identity or listing may explain a refusal, a drop or a timeout — not a port
        // that refuses everyone, a relay or mailbox answer, or greylisting.
        if out[before..]
            .iter()
            .any(|f| f.subject == ctx.subject && EXPLAINABLE_BY_US.contains(&f.code))
        {
            bad_outcome = true;
        }
        let said_why = out[before..]
            .iter()
            .any(|f| f.subject == ctx.subject && STOPS_THE_CONVERSATION.contains(&f.code))
            || out[before..]
                .iter()
                .any(|f| f.code == Code::TlsLegacyVersion);
        if !smtp.reached_rcpt() && !said_why {
            out.push(
                ctx.finding(
                    Code::SmtpIncomplete,
                    format!("the conversation with {} stopped before RCPT TO", ctx.at()),
                )
                .evidence_lines(last_lines(smtp))
                .advice(
                    "Nothing specific was refused, but the check did not get far enough to tell \
                     whether the server accepts mail for the domain. Check again later.",
                ),
            );
        }
        results.push(result);
    }
    let accepted = results.contains(&AddressResult::Accepted);
    for (family, lines) in blocked_families {
        let egress = facts.vantage.egress(family);
        out.push(
            Finding::new(
                Code::ProbeEgressBlocked,
                THIS_MACHINE,
                format!(
                    "our own outbound port 25 over {} is blocked, so SMTP results over \
                     it from here mean nothing",
                    family.as_str()
                ),
            )
            .evidence_lines(lines)
            .evidence_lines(
                egress
                    .into_iter()
                    .flat_map(|e| e.canaries.iter())
                    .map(|c| format!("canary {}: {}", c.target, connect_text(&c.outcome))),
            )
            .advice(
                "Many clouds and ISPs block outbound port 25, and a host firewall (ufw, iptables, \
                 nftables) may reject it. Run the check from a host that can reach port 25, or \
                 have the block lifted; the target may be fine.",
            ),
        );
    }
    if !local_errors.is_empty() && !accepted {
        out.push(
            Finding::new(
                Code::ProbeEgressBlocked,
                THIS_MACHINE,
                "this machine could not open SMTP connections",
            )
            .evidence_lines(local_errors)
            .advice(
                "Check the source address setting and this machine's network and firewall; \
                 the target was not tested.",
            ),
        );
    }
    if bad_outcome {
        identity.extend(poor_identity(&facts.vantage));
        if let Some(f) = our_listings(&facts.vantage, &facts.dnsbl_zones) {
            out.push(f);
        }
    }
    if !identity.is_empty() {
        out.push(identity_finding(facts, identity));
    }
    results
}

enum Outcome {
    Done(AddressResult),
    EgressBlocked(String),
    LocalError(String),
}

struct Ctx<'a> {
    facts: &'a Facts,
    subject: String,
    host: &'a HostFacts,
    addr: &'a AddressFacts,
    smtp: &'a SmtpFacts,
    us: Us,
}

impl Ctx<'_> {
    fn at(&self) -> String {
        format!("{} [{}]", self.host.host, self.addr.ip)
    }

    fn finding(&self, code: Code, summary: String) -> Finding {
        let mut f = Finding::new(code, &self.subject, summary).evidence(format!(
            "MX host {} address {} port {}",
            self.host.host, self.addr.ip, self.smtp.port
        ));
        for seen in &self.smtp.retried {
            f = f.evidence(format!(
                "first attempt: {seen}; retried once after a back-off"
            ));
        }
        f
    }

    fn ptr_names(&self) -> &[String] {
        self.addr.ptr.as_ref().map_or(&[], |p| p.names())
    }
}

/// Who we are: our public addresses and their PTR names, our EHLO name.
fn us(facts: &Facts) -> Us {
    let v = &facts.vantage;
    let mut names = vec![v.helo_name.clone()];
    for p in &v.public_ips {
        names.extend(p.ptr.iter().flat_map(|p| p.names().iter().cloned()));
    }
    names.retain(|n| !n.is_empty());
    Us {
        ips: v.public_addrs().collect(),
        names,
        target: None,
        public_unknown: v.public_ips.is_empty(),
    }
}

/// [`us`] plus what one conversation knows: its local address and the address echoed to it.
fn us_for(us: &Us, ip: std::net::IpAddr, smtp: &SmtpFacts) -> Us {
    let mut us = us.clone();
    us.ips.extend(smtp.local_addr().map(|a| a.ip()));
    us.ips.extend(smtp.echoed_ip);
    us.target = Some(ip);
    us.public_unknown = us.public_unknown && smtp.echoed_ip.is_none();
    us
}

fn tempfail(ctx: &Ctx<'_>, stage: &str, evidence: String) -> Finding {
    ctx.finding(
        Code::SmtpTempfail,
        format!("{} answered {stage} with a temporary failure", ctx.at()),
    )
    .evidence(evidence)
    .advice(
        "A 4xx means \"try again later\": too many connections, a rate limit, a local error or \
         full storage. Real senders retry; if it persists for hours, mail is delayed and then \
         bounces. Check the server's logs, limits and disk space.",
    )
}

fn last_lines(smtp: &SmtpFacts) -> Vec<String> {
    let n = smtp.transcript.len();
    smtp.transcript[n.saturating_sub(3)..]
        .iter()
        .map(|l| l.text.clone())
        .collect()
}

fn verb(command: &str) -> String {
    command.split(':').next().unwrap_or(command).to_owned()
}

pub(super) fn outcome_text(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Replied { reply } => reply.one_line(),
        StepOutcome::Closed => "the server closed the connection".to_owned(),
        StepOutcome::TimedOut => "no reply before the timeout".to_owned(),
        StepOutcome::Broken { detail } => format!("broken reply: {detail}"),
    }
}

fn step_text(step: &Step) -> String {
    format!("C: {}  →  {}", step.command, outcome_text(&step.outcome))
}

pub(super) fn connect_text(outcome: &ConnectOutcome) -> String {
    match outcome {
        ConnectOutcome::Connected { ms, .. } => format!("connected in {ms} ms"),
        ConnectOutcome::Refused => "connection refused".to_owned(),
        ConnectOutcome::TimedOut { ms } => format!("timed out after {ms} ms"),
        ConnectOutcome::Unreachable { detail } => format!("unreachable: {detail}"),
        ConnectOutcome::Error { detail } => format!("error: {detail}"),
    }
}
