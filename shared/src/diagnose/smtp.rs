//! SMTP conversation findings: `smtp.*` and our own vantage point (`probe.egress_blocked`).

use std::net::IpAddr;

use crate::config::Policy;
use crate::facts::{
    AddressLookups, ConnectOutcome, Facts, HostFacts, Reply, SmtpFacts, Step, StepOutcome,
};
use crate::finding::{Code, Finding};

pub(super) fn check(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) {
    let egress_blocked = facts
        .egress
        .as_ref()
        .is_some_and(crate::facts::EgressFacts::blocked);
    if let Some(egress) = facts.egress.as_ref().filter(|e| e.blocked()) {
        out.push(
            Finding::new(Code::ProbeEgressBlocked, "this machine", "our own outbound port 25 appears blocked, so SMTP results from here mean nothing")
                .evidence_lines(egress.canaries.iter().map(|c| format!("canary {}: {}", c.target, connect_text(&c.outcome))))
                .advice("Many clouds and ISPs block outbound port 25. Run the check from a host that can reach port 25 (or ask the provider to lift the block); the target may be fine."),
        );
    }
    // A connection this machine could not even start (no route, e.g. no IPv6 here) is about
    // our vantage point; it matters only when no other address of the domain took the mail.
    let mut local_error_reported = facts
        .addresses()
        .any(|(_, a)| a.smtp.as_ref().is_some_and(SmtpFacts::accepted_postmaster));
    for (host, addr) in facts.addresses() {
        let Some(smtp) = &addr.smtp else { continue };
        let ctx = Ctx {
            subject: addr.ip.to_string(),
            host,
            ip: addr.ip,
            smtp,
            ptr_names: addr
                .ptr
                .as_ref()
                .map(|p| p.names().to_vec())
                .unwrap_or_default(),
        };
        match &smtp.connect {
            ConnectOutcome::Connected { .. } => {}
            ConnectOutcome::Refused => {
                out.push(ctx.finding(Code::SmtpRefused, format!("{} refused the connection to port {}: nothing listens there", ctx.at(), smtp.port))
                    .advice(format!("Start the mail server, or make it listen on {}:{} (not only on localhost), and check the port forward to it.", addr.ip, smtp.port)));
                continue;
            }
            ConnectOutcome::TimedOut { .. } | ConnectOutcome::Unreachable { .. } => {
                if !egress_blocked {
                    out.push(ctx.finding(Code::SmtpUnreachable, format!("{} could not be reached on port {}: the connection timed out or had no route", ctx.at(), smtp.port))
                        .advice("A firewall drops the connection or a port forward is missing. Open TCP port 25 from the Internet to the mail server (and check the provider's network firewall)."));
                }
                continue;
            }
            ConnectOutcome::Error { detail } => {
                if !local_error_reported {
                    local_error_reported = true;
                    out.push(
                        Finding::new(Code::ProbeEgressBlocked, "this machine", "this machine could not open SMTP connections")
                            .evidence(format!("connect to {}:{}: {detail}", addr.ip, smtp.port))
                            .advice("Check the source address (--source-ip) and this machine's network; the target was not tested."),
                    );
                }
                continue;
            }
        }
        let Some(greeting) = &smtp.greeting else {
            continue;
        };
        match &greeting.outcome {
            StepOutcome::Replied { reply } if reply.code == 220 => {
                if greeting.ms >= policy.slow_greeting_ms {
                    out.push(ctx.finding(Code::SmtpSlowGreeting, format!("{} sent its greeting only after {:.1} s", ctx.at(), greeting.ms as f64 / 1000.0))
                        .evidence(format!("greeting after {} ms: {}", greeting.ms, reply.one_line()))
                        .advice("A greeting delay (greet-pause, postscreen, tarpit) slows every sender and makes impatient ones give up. Keep it under a few seconds for clients that behave."));
                }
                banner(
                    &ctx,
                    reply,
                    greeting.hostname.as_deref(),
                    greeting.hostname_lookups.as_ref(),
                    out,
                );
            }
            StepOutcome::Replied { reply } => {
                if names_prober(reply, smtp) {
                    out.push(probe_blocked(&ctx, "greeting", reply));
                } else {
                    out.push(ctx.finding(Code::SmtpGreetingRejected, format!("{} refused the session in its greeting ({})", ctx.at(), reply.code))
                        .evidence(reply.one_line())
                        .advice("The server answered with an error instead of 220: it is overloaded (421) or refuses this client (554). Check its connection limits and client restrictions, and its logs."));
                }
                continue;
            }
            StepOutcome::Closed | StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
                out.push(ctx.finding(Code::SmtpNoGreeting, format!("{} accepted the connection but sent no greeting", ctx.at()))
                    .evidence(format!("after {} ms: {}", greeting.ms, outcome_text(&greeting.outcome)))
                    .advice("The port is open but no working SMTP server answers: the server is hung or overloaded, something else listens on port 25, or a middlebox swallows the banner."));
                continue;
            }
        }
        if !hello(&ctx, out) {
            continue;
        }
        starttls(&ctx, out);
        transaction(&ctx, out);
    }
}

struct Ctx<'a> {
    subject: String,
    host: &'a HostFacts,
    ip: IpAddr,
    smtp: &'a SmtpFacts,
    ptr_names: Vec<String>,
}

impl Ctx<'_> {
    fn at(&self) -> String {
        format!("{} [{}]", self.host.host, self.ip)
    }

    fn finding(&self, code: Code, summary: String) -> Finding {
        Finding::new(code, &self.subject, summary).evidence(format!(
            "MX host {} address {} port {}",
            self.host.host, self.ip, self.smtp.port
        ))
    }
}

fn banner(
    ctx: &Ctx<'_>,
    reply: &Reply,
    name: Option<&str>,
    lookups: Option<&AddressLookups>,
    out: &mut Vec<Finding>,
) {
    let first = reply.lines.first().cloned().unwrap_or_default();
    let Some(name) = name else {
        out.push(ctx.finding(Code::SmtpBannerUnresolvable, format!("{} does not announce a host name in its greeting", ctx.at()))
            .severity(crate::finding::Severity::Info)
            .evidence(format!("greeting: {first}"))
            .advice(format!("Put the server's public host name first in the 220 line (e.g. `220 {} ESMTP`); some strict senders expect it.", ctx.host.host)));
        return;
    };
    let Some(lookups) = lookups else { return };
    let matches_ptr = ctx.ptr_names.iter().any(|p| p.eq_ignore_ascii_case(name));
    if lookups.both_negative() {
        if !matches_ptr {
            out.push(ctx.finding(Code::SmtpBannerUnresolvable, format!("the greeting name {name} does not resolve"))
                .evidence(format!("greeting: {first}"))
                .evidence(format!("A {name}: {}; AAAA {name}: {}", lookups.a.describe(), lookups.aaaa.describe()))
                .advice(format!("Set the server's host name (Postfix `myhostname`, Exim `primary_hostname`) to a public name with an A record pointing to {} — ideally the PTR name — or publish that A record. The same name is usually used in EHLO when this server sends mail, and receivers reject unresolvable HELO names.", ctx.ip)));
        }
        return;
    }
    if lookups.any_failed() && lookups.ips().is_empty() {
        return;
    }
    let resolves_to_ip = lookups.ips().contains(&ctx.ip);
    if !matches_ptr && !resolves_to_ip {
        let ptr = if ctx.ptr_names.is_empty() {
            "none".to_owned()
        } else {
            ctx.ptr_names.join(", ")
        };
        let ips: Vec<String> = lookups.ips().iter().map(ToString::to_string).collect();
        out.push(ctx.finding(Code::SmtpBannerMismatch, format!("the greeting name {name} is neither the PTR name of {} nor resolves to it", ctx.ip))
            .evidence(format!("greeting: {first}"))
            .evidence(format!("{name} resolves to {}", ips.join(", ")))
            .evidence(format!("PTR {}: {ptr}", ctx.ip))
            .advice(format!("Make the greeting name, the PTR of {} and that name's A record agree (the seed rule: announce your publicly resolvable name). Harmless for receiving on pooled servers, but the same name is used in EHLO when this host sends, and strict receivers compare them.", ctx.ip)));
    }
}

/// EHLO/HELO; returns whether the conversation got past it.
fn hello(ctx: &Ctx<'_>, out: &mut Vec<Finding>) -> bool {
    let smtp = ctx.smtp;
    if smtp.ehlo.as_ref().is_some_and(Step::accepted)
        || smtp.helo.as_ref().is_some_and(Step::accepted)
    {
        return true;
    }
    let Some(ehlo) = &smtp.ehlo else { return false };
    let last = smtp.helo.as_ref().unwrap_or(ehlo);
    if let Some(reply) = last.reply().or_else(|| ehlo.reply())
        && names_prober(reply, smtp)
    {
        out.push(probe_blocked(ctx, "EHLO/HELO", reply));
        return false;
    }
    let evidence: Vec<String> = [Some(ehlo), smtp.helo.as_ref()]
        .into_iter()
        .flatten()
        .map(step_text)
        .collect();
    out.push(ctx.finding(Code::SmtpHeloRejected, format!("{} rejected both EHLO and HELO", ctx.at()))
        .evidence_lines(evidence)
        .advice("The server refuses to start an SMTP session after the greeting. Check its HELO restrictions and logs; a server that closes the connection here is broken or blocks by policy."));
    false
}

fn starttls(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let smtp = ctx.smtp;
    if !smtp.advertises_starttls() {
        out.push(ctx.finding(Code::SmtpStarttlsMissing, format!("{} does not offer STARTTLS: mail to it travels unencrypted", ctx.at()))
            .evidence(format!("extensions: {}", if smtp.extensions.is_empty() { "none (HELO only)".to_owned() } else { smtp.extensions.join(", ") }))
            .advice("Enable STARTTLS with a certificate for the MX host name (Postfix: smtpd_tls_security_level = may plus smtpd_tls_chain_files). If the banner or extensions look masked (asterisks, XXXXXXXA), a firewall's SMTP inspection is stripping it."));
        return;
    }
    let Some(st) = &smtp.starttls else { return };
    let command_ok = st.command.reply().is_some_and(|r| r.code == 220);
    let failure = if !command_ok {
        Some(format!("STARTTLS: {}", outcome_text(&st.command.outcome)))
    } else {
        match &st.handshake {
            Some(Err(e)) => Some(format!("TLS handshake failed: {e}")),
            None => Some("TLS handshake did not happen".to_owned()),
            Some(Ok(_)) => None,
        }
    };
    if let Some(failure) = failure {
        let mut f = ctx
            .finding(
                Code::SmtpStarttlsFailed,
                format!("{} offers STARTTLS but it fails", ctx.at()),
            )
            .evidence(failure);
        if smtp.retried_without_tls {
            f = f.evidence(
                "reconnected without TLS to finish the check, as opportunistic senders do",
            );
        }
        out.push(f.advice("Fix the TLS setup (certificate and key files readable, matching, supported key type) or stop advertising STARTTLS; senders that fail the handshake may retry in clear text or defer the mail."));
    }
}

fn transaction(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let smtp = ctx.smtp;
    if let Some(mail) = &smtp.mail {
        match &mail.outcome {
            StepOutcome::Replied { reply } if reply.is_positive() => {}
            StepOutcome::Replied { reply } if names_prober(reply, smtp) => {
                out.push(probe_blocked(ctx, "MAIL FROM", reply));
                return;
            }
            StepOutcome::Replied { reply } if reply.is_permanent() => {
                out.push(ctx.finding(Code::SmtpMailRejected, format!("{} rejected our MAIL FROM ({})", ctx.at(), reply.code))
                    .evidence(step_text(mail))
                    .advice(if sender_problem(reply) {
                        "The server refuses our sender address itself (its domain must resolve, and some servers verify the address). Run the check again with --mail-from set to a real address of yours; if it still refuses ordinary senders, legitimate mail bounces too."
                    } else {
                        "The server refuses the sender before any recipient is named. Check its sender restrictions; if it rejects most senders this way, legitimate mail bounces too."
                    }));
                return;
            }
            StepOutcome::Replied { reply } => {
                out.push(tempfail(ctx, mail, reply));
                return;
            }
            StepOutcome::Closed => {
                out.push(ctx.finding(Code::SmtpDisconnectAfterMail, format!("{} closed the connection right after MAIL FROM", ctx.at()))
                    .evidence(step_text(mail))
                    .advice("Dropping the connection after MAIL FROM usually means the sending IP is on a blocklist (RBL) the server uses, or a sender policy kills the session. Check the server's logs; if it is your own sending IP that is dropped elsewhere, look it up at Spamhaus."));
                return;
            }
            StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
                out.push(ctx.finding(Code::SmtpTempfail, format!("{} did not answer MAIL FROM properly", ctx.at()))
                    .evidence(step_text(mail))
                    .advice("The server stalls after MAIL FROM (tarpit, overload). Senders will retry; check its load and logs."));
                return;
            }
        }
    }
    let Some(rcpt) = &smtp.rcpt else { return };
    let postmaster = format!("postmaster@{}", smtp.rcpt_domain);
    match &rcpt.outcome {
        StepOutcome::Replied { reply } if reply.is_positive() => {}
        StepOutcome::Replied { reply } if names_prober(reply, smtp) => {
            out.push(probe_blocked(ctx, "RCPT TO", reply));
        }
        StepOutcome::Replied { reply }
            if reply.is_permanent() && reply.text().to_ascii_lowercase().contains("relay") =>
        {
            out.push(ctx.finding(Code::SmtpRelayDenied, format!("{} does not accept mail for {} (relay denied)", ctx.at(), smtp.rcpt_domain))
                .evidence(step_text(rcpt))
                .advice(format!("This server is not configured as a destination for {}: add the domain to its accepted/virtual domains (Postfix mydestination or virtual_mailbox_domains, Exim local_domains, Exchange accepted domains), or fix the MX record if it points at the wrong server. Never open relaying to fix this.", smtp.rcpt_domain)));
        }
        StepOutcome::Replied { reply } if reply.is_permanent() => {
            out.push(ctx.finding(Code::SmtpRcptRejected, format!("{} rejected {postmaster}", ctx.at()))
                .evidence(step_text(rcpt))
                .advice(format!("RFC 5321 requires every mail domain to accept postmaster. Create the postmaster address (or an alias to an admin) for {}; if other recipients are rejected the same way, the server is not set up for the domain's mailboxes.", smtp.rcpt_domain)));
        }
        StepOutcome::Replied { reply } => out.push(tempfail(ctx, rcpt, reply)),
        StepOutcome::Closed => {
            out.push(ctx.finding(Code::SmtpRcptRejected, format!("{} closed the connection after RCPT TO:<{postmaster}>", ctx.at()))
                .evidence(step_text(rcpt))
                .advice("The server drops the session when asked for postmaster; check its recipient restrictions and logs."));
        }
        StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
            out.push(
                ctx.finding(
                    Code::SmtpTempfail,
                    format!("{} did not answer RCPT TO properly", ctx.at()),
                )
                .evidence(step_text(rcpt))
                .advice("The server stalls at RCPT (tarpit or overload); senders will retry."),
            );
        }
    }
    if let Some(relay) = &smtp.relay_test
        && relay.accepted()
    {
        out.push(ctx.finding(Code::SmtpOpenRelay, format!("{} is an OPEN RELAY: it accepted a recipient in an outside domain", ctx.at()))
                .evidence(step_text(relay))
                .advice("Close it now: accept mail only for your own domains, and relay for others only after authentication (Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination). Open relays are abused for spam within hours and end up on every blocklist."));
    }
}

fn tempfail(ctx: &Ctx<'_>, step: &Step, reply: &Reply) -> Finding {
    ctx.finding(Code::SmtpTempfail, format!("{} answered {} with a temporary failure ({})", ctx.at(), verb(&step.command), reply.code))
        .evidence(step_text(step))
        .advice("A 4xx means \"try again later\": greylisting, a rate limit or a temporary problem. Real senders retry and usually get through; if it persists for hours, check the server's logs and limits.")
}

fn probe_blocked(ctx: &Ctx<'_>, stage: &str, reply: &Reply) -> Finding {
    let local = ctx
        .smtp
        .local_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    Finding::new(Code::SmtpProbeBlocked, &ctx.subject, format!("{} rejected us at {stage} because of who we are, not because of the domain", ctx.at()))
        .evidence(reply.one_line())
        .evidence(format!("our address: {local}"))
        .advice("The rejection names our own address or client (blocklisted, no reverse DNS, rate limit). It says nothing about the target; check again from a host with a clean, properly named address.")
}

/// Whether a rejection is about us: it names our local IP, or says our client host is blocked.
pub(super) fn names_prober(reply: &Reply, smtp: &SmtpFacts) -> bool {
    let text = reply.text().to_ascii_lowercase();
    if let Some(local) = smtp.local_addr()
        && contains_ip(&text, &local.ip().to_string().to_ascii_lowercase())
    {
        return true;
    }
    const WHO: &[&str] = &[
        "client host",
        "client ip",
        "client address",
        "your ip",
        "your address",
        "your host",
        "your server",
        "your network",
        "sending ip",
        "connecting ip",
        "sender ip",
        "remote host",
    ];
    const WHAT: &[&str] = &[
        "blocked",
        "listed",
        "blacklist",
        "blocklist",
        "black list",
        "block list",
        "rejected",
        "denied",
        "banned",
        "not allowed",
        "refused",
        "cannot find your",
        "reputation",
    ];
    WHO.iter().any(|w| text.contains(w)) && WHAT.iter().any(|w| text.contains(w))
}

fn contains_ip(text: &str, ip: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(ip) {
        let start = from + pos;
        let end = start + ip.len();
        let before_ok = start == 0
            || !(bytes[start - 1].is_ascii_hexdigit()
                || bytes[start - 1] == b'.'
                || bytes[start - 1] == b':');
        let after_ok = end == bytes.len()
            || !(bytes[end].is_ascii_hexdigit()
                || bytes[end] == b':'
                || (bytes[end] == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)));
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Whether a MAIL FROM rejection is about the sender address as such (X.1.7 bad sender
/// mailbox syntax, X.1.8 bad sender's system address, or saying the sender domain is unknown).
fn sender_problem(reply: &Reply) -> bool {
    let text = reply.text().to_ascii_lowercase();
    matches!(reply.enhanced.as_deref(), Some(e) if e.ends_with(".1.7") || e.ends_with(".1.8"))
        || (text.contains("sender")
            && (text.contains("domain not found")
                || text.contains("unknown")
                || text.contains("verif")))
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

fn connect_text(outcome: &ConnectOutcome) -> String {
    match outcome {
        ConnectOutcome::Connected { ms, .. } => format!("connected in {ms} ms"),
        ConnectOutcome::Refused => "connection refused".to_owned(),
        ConnectOutcome::TimedOut { ms } => format!("timed out after {ms} ms"),
        ConnectOutcome::Unreachable { detail } => format!("unreachable: {detail}"),
        ConnectOutcome::Error { detail } => format!("error: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{contains_ip, sender_problem};
    use crate::facts::Reply;

    fn reply(code: u16, enhanced: Option<&str>, text: &str) -> Reply {
        Reply {
            code,
            enhanced: enhanced.map(str::to_owned),
            lines: vec![format!("{code} {text}")],
        }
    }

    #[test]
    fn sender_address_rejections_are_told_apart() {
        assert!(sender_problem(&reply(
            553,
            Some("5.1.8"),
            "5.1.8 <a@b.invalid>: Sender address rejected: Domain not found"
        )));
        assert!(sender_problem(&reply(550, None, "Sender verify failed")));
        assert!(!sender_problem(&reply(
            553,
            Some("5.7.1"),
            "5.7.1 Sender address rejected: not accepted here"
        )));
    }

    #[test]
    fn ip_matching_respects_boundaries() {
        assert!(contains_ip("client host [127.0.0.2] blocked", "127.0.0.2"));
        assert!(!contains_ip(
            "client host [127.0.0.20] blocked",
            "127.0.0.2"
        ));
        assert!(!contains_ip("10.127.0.0.2", "127.0.0.2"));
        assert!(contains_ip("rejected 127.0.0.2.", "127.0.0.2"));
        assert!(contains_ip("ip=2001:db8::1 listed", "2001:db8::1"));
        assert!(!contains_ip("ip=2001:db8::10 listed", "2001:db8::1"));
    }
}
