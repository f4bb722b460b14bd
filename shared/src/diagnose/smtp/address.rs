//! One address's conversation up to EHLO: the connect (`smtp.refused`, `smtp.unreachable`, or
//! our own blocked egress), the greeting (`smtp.slow_greeting`, `smtp.greeting_rejected`,
//! `smtp.no_greeting`) and EHLO/HELO (`smtp.helo_rejected`); then STARTTLS and the
//! transaction.

use super::about_us::{egress_evidence, probe_blocked};
use super::banner::banner;
use super::starttls::starttls;
use super::transaction::transaction;
use super::{AddressResult, Ctx, Outcome, connect_text, outcome_text, step_text, tempfail};
use crate::classify::{About, Stage, classify};
use crate::config::Policy;
use crate::facts::{ConnectOutcome, Facts, Family, Step, StepOutcome};
use crate::finding::{Code, Finding};

pub(super) fn address(
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
