//! SMTP conversation findings (`smtp.*`, `tls.legacy_version` from the version probe) and the
//! vantage findings that bear on them (`probe.*`): every observation is about the target or
//! about us, and a finding about us is never reported as the target's fault.
//!
//! Each probed address also gets an [`AddressResult`], which the verdict reads: `broken` needs
//! every probed address to have failed hard.

use crate::classify::{About, Stage, Us, classify};
use crate::config::Policy;
use crate::facts::{
    AddressFacts, AddressLookups, ConnectOutcome, Facts, Family, HostFacts, Reply, SmtpFacts, Step,
    StepOutcome,
};
use crate::finding::{Code, Finding, Severity, THIS_MACHINE};

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

/// Words that stand where a greeting's host name would, without being one.
const NOT_A_NAME: &[&str] = &[
    "esmtp", "smtp", "ready", "welcome", "service", "hello", "mail",
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
        let result = address(facts, policy, &ctx, out, &mut identity);
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

fn address(
    facts: &Facts,
    policy: &Policy,
    ctx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    identity: &mut Vec<String>,
) -> Outcome {
    let smtp = ctx.smtp;
    let family = Family::of(ctx.addr.ip);
    let connect_failed = |what: String| {
        format!(
            "connect to {}:{} ({}): {what}",
            ctx.addr.ip, smtp.port, ctx.host.host
        )
    };
    match &smtp.connect {
        ConnectOutcome::Connected { .. } => {}
        other if facts.vantage.egress_blocked(family) => {
            return Outcome::EgressBlocked(connect_failed(connect_text(other)));
        }
        ConnectOutcome::Refused => {
            out.push(
                ctx.finding(
                    Code::SmtpRefused,
                    format!(
                        "{} refused the connection to port {}: nothing listens there",
                        ctx.at(),
                        smtp.port
                    ),
                )
                .evidence_lines(egress_evidence(facts, family))
                .advice(format!(
                    "Start the mail server, or make it listen on {}:{} (not only on localhost), \
                     and check the port forward to it.",
                    ctx.addr.ip, smtp.port
                )),
            );
            return Outcome::Done(AddressResult::HardFail);
        }
        ConnectOutcome::TimedOut { .. } | ConnectOutcome::Unreachable { .. } => {
            out.push(
                ctx.finding(
                    Code::SmtpUnreachable,
                    format!(
                        "{} could not be reached on port {}: the connection \
                         timed out or had no route",
                        ctx.at(),
                        smtp.port
                    ),
                )
                .evidence(connect_text(&smtp.connect))
                .evidence_lines(egress_evidence(facts, family))
                .advice(
                    "A firewall drops the connection or a port forward is missing. Open \
                     TCP port 25 from the Internet to the mail server (and check the \
                     provider's network firewall).",
                ),
            );
            return Outcome::Done(AddressResult::HardFail);
        }
        ConnectOutcome::Error { detail } => {
            return Outcome::LocalError(connect_failed(detail.clone()));
        }
    }
    let Some(greeting) = &smtp.greeting else {
        return Outcome::Done(AddressResult::Inconclusive);
    };
    match &greeting.outcome {
        StepOutcome::Replied { reply } if reply.is_positive() => {
            if greeting.ms >= policy.slow_greeting_ms {
                out.push(
                    ctx.finding(
                        Code::SmtpSlowGreeting,
                        format!(
                            "{} sent its greeting only {:.1} s after the connection was made",
                            ctx.at(),
                            greeting.ms as f64 / 1000.0
                        ),
                    )
                    .evidence(format!(
                        "greeting {} ms after the TCP connect completed: {}",
                        greeting.ms,
                        reply.one_line()
                    ))
                    .advice(
                        "A long greeting delay (greet-pause, tarpit) slows every sender \
                         and makes impatient ones give up. Keep it at a few seconds \
                         (postscreen's 6 s is fine).",
                    ),
                );
            }
            banner(
                ctx,
                reply,
                greeting.hostname.as_deref(),
                greeting.hostname_lookups.as_ref(),
                out,
            );
        }
        StepOutcome::Replied { reply } => {
            let about = classify(reply, Stage::Greeting, &ctx.us);
            if about.is_us() {
                out.push(probe_blocked(ctx, "the greeting", reply));
                return Outcome::Done(AddressResult::Inconclusive);
            }
            if reply.is_transient() {
                out.push(tempfail(ctx, "its greeting", reply.one_line()));
                return Outcome::Done(AddressResult::Deferred);
            }
            out.push(
                ctx.finding(
                    Code::SmtpGreetingRejected,
                    format!(
                        "{} refuses every session in its greeting ({})",
                        ctx.at(),
                        reply.code
                    ),
                )
                .evidence(reply.one_line())
                .advice(
                    "The server answers with a permanent error instead of 220: it refuses all \
                     clients. Check its client restrictions and logs.",
                ),
            );
            return Outcome::Done(AddressResult::HardFail);
        }
        StepOutcome::Closed | StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
            out.push(
                ctx.finding(
                    Code::SmtpNoGreeting,
                    format!("{} accepted the connection but sent no greeting", ctx.at()),
                )
                .evidence(format!(
                    "after {} ms: {}",
                    greeting.ms,
                    outcome_text(&greeting.outcome)
                ))
                .advice(
                    "The port is open but no working SMTP server answers: the server \
                     is hung or overloaded, something else listens on port 25, or a \
                     middlebox swallows the banner.",
                ),
            );
            return Outcome::Done(AddressResult::HardFail);
        }
    }
    if let Some(result) = hello(ctx, out, identity) {
        return Outcome::Done(result);
    }
    starttls(ctx, out);
    Outcome::Done(transaction(ctx, out, identity))
}

fn banner(
    ctx: &Ctx<'_>,
    reply: &Reply,
    name: Option<&str>,
    lookups: Option<&AddressLookups>,
    out: &mut Vec<Finding>,
) {
    let first = reply.lines.first().cloned().unwrap_or_default();
    let ip = ctx.addr.ip;
    let advice_name = format!(
        "Set the server's host name (Postfix `myhostname`, Exim `primary_hostname`) to a public \
         name with an A record pointing to {ip} — ideally its PTR name. The same name is \
         usually used in EHLO when this server sends mail, and receivers refuse unresolvable \
         or non-public HELO names."
    );
    let Some(name) = name else {
        match banner_token(&first) {
            Some(token) => out.push(
                ctx.finding(
                    Code::SmtpBannerUnresolvable,
                    format!(
                        "{} announces itself as {token}, which is not a public host name",
                        ctx.at()
                    ),
                )
                .evidence(format!("greeting: {first}"))
                .advice(advice_name),
            ),
            None => out.push(
                ctx.finding(
                    Code::SmtpBannerUnresolvable,
                    format!("{} does not announce a host name in its greeting", ctx.at()),
                )
                .severity(Severity::Info)
                .evidence(format!("greeting: {first}"))
                .advice(format!(
                    "Put the server's public host name first in the 220 line (e.g. \
                     `220 {} ESMTP`); some strict senders expect it.",
                    ctx.host.host
                )),
            ),
        }
        return;
    };
    if let Some(suffix) = crate::identity::non_public_suffix(name) {
        out.push(
            ctx.finding(
                Code::SmtpBannerUnresolvable,
                format!("the greeting name {name} is not a public name (.{suffix})"),
            )
            .evidence(format!("greeting: {first}"))
            .advice(advice_name),
        );
        return;
    }
    let Some(lookups) = lookups else { return };
    let ptr_confirmed = ctx.addr.ptr.as_ref().and_then(|p| p.confirms(ip)) == Some(true);
    if lookups.both_negative() {
        let mut f = ctx
            .finding(
                Code::SmtpBannerUnresolvable,
                format!("the greeting name {name} does not resolve"),
            )
            .evidence(format!("greeting: {first}"))
            .evidence(format!(
                "A {name}: {}; AAAA {name}: {}",
                lookups.a.describe(),
                lookups.aaaa.describe()
            ));
        if ptr_confirmed {
            f = f
                .severity(Severity::Info)
                .evidence(format!(
                    "PTR {ip}: {} (forward-confirmed)",
                    ctx.ptr_names().join(", ")
                ))
                .advice(
                    "A provider's internal node name; receiving works. If this host also sends \
                     mail, make its EHLO name the public, forward-confirmed PTR name.",
                );
        } else {
            f = f.advice(advice_name);
        }
        out.push(f);
        return;
    }
    if lookups.any_failed() && lookups.ips().is_empty() {
        return;
    }
    let matches_ptr = ctx.ptr_names().iter().any(|p| p.eq_ignore_ascii_case(name));
    let resolves_to_ip = lookups.ips().contains(&ip);
    if !matches_ptr && !resolves_to_ip {
        let ptr = if ctx.ptr_names().is_empty() {
            "none".to_owned()
        } else {
            ctx.ptr_names().join(", ")
        };
        let ips: Vec<String> = lookups.ips().iter().map(ToString::to_string).collect();
        let f = ctx
            .finding(
                Code::SmtpBannerMismatch,
                format!(
                    "the greeting name {name} is neither the PTR name of {ip} nor resolves to it"
                ),
            )
            .evidence(format!("greeting: {first}"))
            .evidence(format!("{name} resolves to {}", ips.join(", ")))
            .evidence(format!("PTR {ip}: {ptr}"));
        // An address the domain's own SPF record authorizes sends its mail, and its greeting
        // name is then its HELO name: receivers check that.
        out.push(match super::spf::sends_evidence(ctx.facts, ip) {
            Some(sends) => f
                .severity(Severity::Warning)
                .evidence(sends)
                .advice(format!(
                    "This host sends the domain's mail, usually under its greeting name as HELO \
                     name, and receivers check that the HELO name, the PTR of {ip} and that name's \
                     A record agree. Make them agree: set the server's host name to the PTR name \
                     of {ip}, or change the PTR and A records to the name it uses."
                )),
            None => f.advice(format!(
                "Harmless for receiving (pooled servers and large providers do this by design). It \
                 matters only if this host also sends mail under that name: then make the greeting \
                 name, the PTR of {ip} and that name's A record agree."
            )),
        });
    }
}

/// A greeting's first token when it is meant as a host name but is not a dotted one
/// (`localhost`, `mailserver`): `None` for protocol words, IP literals and masks.
fn banner_token(first_line: &str) -> Option<String> {
    let token = first_line.get(4..)?.split_whitespace().next()?;
    let t = token.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = !t.is_empty()
        && t.len() <= 63
        && t.bytes().any(|b| b.is_ascii_alphabetic())
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (label_ok && !NOT_A_NAME.contains(&t.as_str())).then_some(t)
}

/// EHLO/HELO; `None` when the conversation got past it, else how the address ended.
fn hello(
    ctx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    identity: &mut Vec<String>,
) -> Option<AddressResult> {
    let smtp = ctx.smtp;
    if smtp.ehlo.as_ref().is_some_and(Step::accepted)
        || smtp.helo.as_ref().is_some_and(Step::accepted)
    {
        return None;
    }
    let Some(ehlo) = smtp.ehlo.as_ref() else {
        // The conversation stopped before EHLO (the session deadline): no finding here.
        return Some(AddressResult::Inconclusive);
    };
    let last = smtp.helo.as_ref().unwrap_or(ehlo);
    let evidence: Vec<String> = [Some(ehlo), smtp.helo.as_ref()]
        .into_iter()
        .flatten()
        .map(step_text)
        .collect();
    if let Some(reply) = last.reply() {
        let about = classify(reply, Stage::Hello, &ctx.us);
        if about.is_us() {
            if about == About::OurHelo {
                identity.push(format!(
                    "{} refused our EHLO name: {}",
                    ctx.at(),
                    reply.one_line()
                ));
            }
            out.push(probe_blocked(ctx, "EHLO/HELO", reply));
            return Some(AddressResult::Inconclusive);
        }
        if reply.is_transient() {
            out.push(tempfail(ctx, "EHLO", evidence.join(" / ")));
            return Some(AddressResult::Deferred);
        }
    }
    out.push(
        ctx.finding(
            Code::SmtpHeloRejected,
            format!("{} rejected both EHLO and HELO", ctx.at()),
        )
        .evidence_lines(evidence)
        .advice(
            "The server refuses to start an SMTP session after the greeting, for reasons that are \
             not about our name. Check its HELO restrictions and logs; a server that closes the \
             connection here is broken or blocks by policy.",
        ),
    );
    Some(AddressResult::HardFail)
}

fn starttls(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let smtp = ctx.smtp;
    if !smtp.advertises_starttls() {
        out.push(
            ctx.finding(
                Code::SmtpStarttlsMissing,
                format!(
                    "{} does not offer STARTTLS: mail to it travels unencrypted",
                    ctx.at()
                ),
            )
            .evidence(format!(
                "extensions: {}",
                if smtp.extensions.is_empty() {
                    "none (HELO only)".to_owned()
                } else {
                    smtp.extensions.join(", ")
                }
            ))
            .advice(
                "Enable STARTTLS with a certificate for the MX host name (Postfix: \
                 smtpd_tls_security_level = may plus smtpd_tls_chain_files). If the \
                 banner or extensions look masked (asterisks, XXXXXXXA), a firewall's SMTP \
                 inspection is stripping it.",
            ),
        );
        return;
    }
    let Some(st) = &smtp.starttls else { return };
    if let Some(legacy) = st.legacy.as_ref().filter(|l| l.legacy_only()) {
        let version = legacy.outcome.as_deref().unwrap_or("an old version");
        out.push(
            ctx.finding(
                Code::TlsLegacyVersion,
                format!(
                    "{} speaks only {version}: modern senders cannot start TLS with it",
                    ctx.at()
                ),
            )
            .evidence(format!("TLS 1.2/1.3 handshake failed: {}", legacy.trigger))
            .evidence(format!("version probe: the server chose {version}"))
            .advice(
                "Enable TLS 1.2 and 1.3 on the mail server (TLS 1.0/1.1 are deprecated, RFC 8996); \
                 until then senders fall back to unencrypted delivery or defer.",
            ),
        );
        return;
    }
    let command_ok = st.command.reply().is_some_and(|r| r.code == 220);
    let failure = if !command_ok {
        Some(format!("STARTTLS: {}", outcome_text(&st.command.outcome)))
    } else {
        match (&st.handshake, &st.ehlo) {
            (Some(Err(e)), _) => Some(format!("TLS handshake failed: {e}")),
            (None, _) => Some("TLS handshake did not happen".to_owned()),
            (Some(Ok(_)), Some(ehlo)) if !ehlo.accepted() => {
                Some(format!("EHLO inside TLS failed: {}", step_text(ehlo)))
            }
            (Some(Ok(_)), _) => None,
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
        out.push(f.advice(
            "Fix the TLS setup (certificate and key files readable, matching, supported key \
             type) or stop advertising STARTTLS; senders that fail the handshake may retry in \
             clear text or defer the mail.",
        ));
    }
}

fn transaction(ctx: &Ctx<'_>, out: &mut Vec<Finding>, identity: &mut Vec<String>) -> AddressResult {
    let smtp = ctx.smtp;
    if let Some(retry) = &smtp.null_sender {
        let ours: Vec<String> = [smtp.mail.as_ref(), smtp.rcpt.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.accepted())
            .map(step_text)
            .collect();
        if retry.mail.accepted() {
            identity.push(format!(
                "{} refused our sender but accepted the null sender <>: {}",
                ctx.at(),
                ours.join(" / ")
            ));
        } else if let Some(reply) = retry.mail.reply().filter(|r| r.is_permanent()) {
            if classify(reply, Stage::Mail, &ctx.us) == About::OurClient {
                out.push(probe_blocked(ctx, "MAIL FROM", reply));
                return AddressResult::Inconclusive;
            }
            out.push(
                ctx.finding(
                    Code::SmtpMailRejected,
                    format!(
                        "{} refuses our sender and the null sender <> at MAIL FROM",
                        ctx.at()
                    ),
                )
                .evidence_lines(ours)
                .evidence(step_text(&retry.mail))
                .advice(
                    "The server refuses MAIL FROM even for the null sender, which RFC 5321 §4.5.5 \
                     requires it to accept (bounces use it): it rejects most senders this way. \
                     Check its sender restrictions and logs.",
                ),
            );
            return AddressResult::HardFail;
        }
    }
    let (mail, rcpt) = smtp.final_transaction();
    let Some(mail) = mail else {
        return AddressResult::Inconclusive;
    };
    match &mail.outcome {
        StepOutcome::Replied { reply } if reply.is_positive() => {}
        StepOutcome::Replied { reply } => {
            let about = classify(reply, Stage::Mail, &ctx.us);
            if about.is_us() {
                if about != About::OurClient {
                    identity.push(format!(
                        "{} refused us at MAIL FROM: {}",
                        ctx.at(),
                        reply.one_line()
                    ));
                }
                out.push(probe_blocked(ctx, "MAIL FROM", reply));
                return AddressResult::Inconclusive;
            }
            if reply.is_permanent() {
                out.push(
                    ctx.finding(
                        Code::SmtpMailRejected,
                        format!("{} rejected MAIL FROM ({})", ctx.at(), reply.code),
                    )
                    .evidence(step_text(mail))
                    .advice(
                        "The server refuses the sender before any recipient is named, for reasons \
                         that are not about our address. Check its sender restrictions; if it \
                         rejects most senders this way, legitimate mail bounces too.",
                    ),
                );
                return AddressResult::HardFail;
            }
            return deferral(ctx, out, mail, reply, about);
        }
        StepOutcome::Closed if smtp.mail_pipelined => {
            out.push(
                ctx.finding(
                    Code::SmtpIncomplete,
                    format!(
                        "{} closed the connection at MAIL FROM, sent together with RCPT TO",
                        ctx.at()
                    ),
                )
                .evidence(step_text(mail))
                .advice(
                    "A drop after pipelined commands cannot be pinned on MAIL \
                     FROM. Check again later.",
                ),
            );
            return AddressResult::Inconclusive;
        }
        StepOutcome::Closed => {
            out.push(
                ctx.finding(
                    Code::SmtpDisconnectAfterMail,
                    format!("{} closed the connection right after MAIL FROM", ctx.at()),
                )
                .evidence(step_text(mail))
                .evidence(our_blocklist_status(ctx.facts))
                .advice(
                    "The seed's rule: a drop after MAIL FROM usually means the SENDING IP is on a \
                     blocklist the server uses — here that is our own address, so this says more \
                     about us than about the target. Check again from a host with a clean address; \
                     if your own mail server's IP is dropped like this, look it up at Spamhaus.",
                ),
            );
            return AddressResult::Inconclusive;
        }
        StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
            out.push(tempfail(ctx, "MAIL FROM", step_text(mail)));
            return AddressResult::Deferred;
        }
    }
    let postmaster = format!("postmaster@{}", smtp.rcpt_domain);
    let Some(rcpt) = rcpt else {
        return AddressResult::Inconclusive;
    };
    let result = match &rcpt.outcome {
        StepOutcome::Replied { reply } if reply.is_positive() => AddressResult::Accepted,
        StepOutcome::Replied { reply } => {
            let about = classify(reply, Stage::Rcpt, &ctx.us);
            match about {
                About::Relay => {
                    out.push(
                        ctx.finding(
                            Code::SmtpRelayDenied,
                            format!(
                                "{} does not accept mail for {} (relay denied)",
                                ctx.at(),
                                smtp.rcpt_domain
                            ),
                        )
                        .evidence(step_text(rcpt))
                        .advice(format!(
                            "This server is not configured as a destination for {}: add the \
                             domain to its accepted/virtual domains (Postfix mydestination or \
                             virtual_mailbox_domains, Exim local_domains, Exchange accepted \
                             domains), or fix the MX record if it points at the wrong server. A \
                             4xx here only delays the bounce. Never open relaying to fix this.",
                            smtp.rcpt_domain
                        )),
                    );
                    AddressResult::HardFail
                }
                About::Mailbox if reply.is_permanent() => {
                    out.push(
                        ctx.finding(
                            Code::SmtpNoPostmaster,
                            format!("{} has no {postmaster}", ctx.at()),
                        )
                        .evidence(step_text(rcpt))
                        .advice(format!(
                            "The domain is hosted here, but RFC 5321 §4.5.1 requires every \
                             mail domain to accept postmaster. Create postmaster@{} (or an \
                             alias to an administrator); in Exchange Online, add it as an \
                             alias of a mailbox or group.",
                            smtp.rcpt_domain
                        )),
                    );
                    AddressResult::Accepted
                }
                About::OurSender | About::OurHelo | About::OurClient => {
                    if about != About::OurClient {
                        identity.push(format!(
                            "{} refused us at RCPT TO: {}",
                            ctx.at(),
                            reply.one_line()
                        ));
                    }
                    out.push(probe_blocked(ctx, "RCPT TO", reply));
                    AddressResult::Inconclusive
                }
                _ if reply.is_permanent() => {
                    out.push(
                        ctx.finding(
                            Code::SmtpRcptRejected,
                            format!("{} rejected {postmaster}", ctx.at()),
                        )
                        .evidence(step_text(rcpt))
                        .advice(format!(
                            "The server refuses mail for {}: the domain is not served or routed \
                             here. Add it to the server's domains, or point the MX record at the \
                             server that hosts the domain.",
                            smtp.rcpt_domain
                        )),
                    );
                    AddressResult::HardFail
                }
                _ => deferral(ctx, out, rcpt, reply, about),
            }
        }
        StepOutcome::Closed => {
            out.push(
                ctx.finding(
                    Code::SmtpRcptRejected,
                    format!(
                        "{} closed the connection after RCPT TO:<{postmaster}>",
                        ctx.at()
                    ),
                )
                .evidence(step_text(rcpt))
                .advice(
                    "The server drops the session when asked for postmaster; check its \
                     recipient restrictions and logs.",
                ),
            );
            AddressResult::HardFail
        }
        StepOutcome::TimedOut | StepOutcome::Broken { .. } => {
            out.push(tempfail(ctx, "RCPT TO", step_text(rcpt)));
            AddressResult::Deferred
        }
    };
    if let Some(relay) = &smtp.relay_test
        && relay.accepted()
    {
        out.push(
            ctx.finding(
                Code::SmtpOpenRelay,
                format!(
                    "{} is an OPEN RELAY: it accepted a recipient in an outside domain",
                    ctx.at()
                ),
            )
            .evidence(step_text(relay))
            .evidence("accepted at RCPT TO only; no DATA was sent")
            .advice(
                "Close it now: accept mail only for your own domains, and relay for others only \
                 after authentication (Postfix: smtpd_relay_restrictions = permit_mynetworks, \
                 permit_sasl_authenticated, reject_unauth_destination). Open relays are abused for \
                 spam within hours and end up on every blocklist.",
            ),
        );
    }
    result
}

/// A 4xx at MAIL or RCPT: greylisting (inconclusive) or another deferral (warning).
fn deferral(
    ctx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    step: &Step,
    reply: &Reply,
    about: About,
) -> AddressResult {
    if about == About::Greylisting {
        out.push(
            ctx.finding(
                Code::SmtpGreylisted,
                format!(
                    "{} deferred {} with greylisting ({})",
                    ctx.at(),
                    verb(&step.command),
                    reply.code
                ),
            )
            .evidence(step_text(step))
            .advice(
                "Greylisting: the server defers first-time senders and accepts them when they \
                 retry minutes later, as every real mail server does. Acceptance could not be \
                 confirmed in one check; it is normal, not a fault.",
            ),
        );
        return AddressResult::Inconclusive;
    }
    out.push(tempfail(ctx, &verb(&step.command), step_text(step)));
    AddressResult::Deferred
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

fn probe_blocked(ctx: &Ctx<'_>, stage: &str, reply: &Reply) -> Finding {
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
fn egress_evidence(facts: &Facts, family: Family) -> Vec<String> {
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
fn our_blocklist_status(facts: &Facts) -> String {
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
pub(super) fn poor_identity(v: &crate::facts::VantageFacts) -> Vec<String> {
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

fn identity_finding(facts: &Facts, evidence: Vec<String>) -> Finding {
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
pub(super) fn our_listings(
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

#[cfg(test)]
mod tests {
    use super::banner_token;

    #[test]
    fn greeting_tokens_that_mean_a_name() {
        assert_eq!(
            banner_token("220 localhost ESMTP").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            banner_token("220 mailserver ready").as_deref(),
            Some("mailserver")
        );
        assert_eq!(banner_token("220 ESMTP Postfix"), None);
        assert_eq!(banner_token("220 ****************"), None);
        assert_eq!(banner_token("220 [192.0.2.1] ready"), None);
        assert_eq!(banner_token("220 192.0.2.1"), None);
        assert_eq!(banner_token("220"), None);
    }
}
