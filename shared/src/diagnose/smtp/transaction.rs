//! The transaction: `MAIL FROM` (with the null-sender retry) and `RCPT TO:<postmaster@domain>`,
//! each refusal told apart by what it is about (relay, domain, mailbox, us), deferrals and
//! greylisting, and the open relay test.

use super::about_us::{our_blocklist_status, probe_blocked};
use super::{AddressResult, Ctx, step_text, tempfail, verb};
use crate::classify::{About, Stage, classify};
use crate::facts::{Reply, Step, StepOutcome};
use crate::finding::{Code, Finding};

pub(super) fn transaction(
    ctx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    identity: &mut Vec<String>,
) -> AddressResult {
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
