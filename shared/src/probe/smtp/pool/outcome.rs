//! Which outcomes are transient (retried once, never remembered) and which are final
//! connection failures (remembered for the run), what a transient attempt saw in a few words,
//! and the notes added to facts copied for another domain.

use crate::facts::{SmtpFacts, Speaker, Step, TranscriptLine};

/// Whether an outcome is transient, and at which level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transient {
    /// The connection never got ready for MAIL: connect timeout or no route, no greeting, a
    /// 4xx greeting or EHLO. Says the same for every domain on the address.
    Connection,
    /// The transaction deferred or dropped: a 4xx, a timeout or a close at MAIL or RCPT.
    Transaction,
}

/// Whether the facts end in a transient outcome (worth one retry, never worth remembering).
pub(super) fn transient(facts: &SmtpFacts) -> Option<Transient> {
    use crate::facts::ConnectOutcome as C;
    match &facts.connect {
        C::Connected { .. } => {}
        C::TimedOut { .. } | C::Unreachable { .. } => return Some(Transient::Connection),
        C::Refused | C::Error { .. } => return None,
    }
    let not_final = |step: Option<&Step>| {
        step.is_some_and(|s| s.reply().is_none_or(crate::facts::Reply::is_transient))
    };
    let Some(greeting) = &facts.greeting else {
        return None;
    };
    if greeting_transient(greeting) {
        return Some(Transient::Connection);
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    if !hello.is_some_and(Step::accepted) {
        return not_final(hello).then_some(Transient::Connection);
    }
    let (mail, rcpt) = facts.final_transaction();
    if not_final(mail) || (mail.is_some_and(Step::accepted) && not_final(rcpt)) {
        return Some(Transient::Transaction);
    }
    None
}

fn greeting_transient(greeting: &crate::facts::Greeting) -> bool {
    match &greeting.outcome {
        crate::facts::StepOutcome::Replied { reply } => reply.is_transient(),
        _ => true,
    }
}

/// A connection-level failure that will not change on a retry: refused, a 5xx greeting, EHLO
/// and HELO refused permanently.
pub(super) fn final_connection_failure(facts: &SmtpFacts) -> bool {
    use crate::facts::ConnectOutcome as C;
    match &facts.connect {
        C::Refused => return true,
        C::Connected { .. } => {}
        _ => return false,
    }
    let Some(greeting) = &facts.greeting else {
        return false;
    };
    match &greeting.outcome {
        crate::facts::StepOutcome::Replied { reply } if reply.is_permanent() => return true,
        crate::facts::StepOutcome::Replied { reply } if reply.is_positive() => {}
        _ => return false,
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    hello
        .and_then(Step::reply)
        .is_some_and(crate::facts::Reply::is_permanent)
}

/// The connection closed (no reply) right after a `MAIL FROM`.
pub(super) fn dropped_at_mail(facts: &SmtpFacts) -> bool {
    let (mail, _) = facts.final_transaction();
    mail.is_some_and(|m| matches!(m.outcome, crate::facts::StepOutcome::Closed))
}

/// What a transient attempt saw, in a few words.
pub(super) fn describe_transient(facts: &SmtpFacts) -> String {
    use crate::facts::{ConnectOutcome as C, StepOutcome as O};
    let step = |s: &Step| match &s.outcome {
        O::Replied { reply } => format!("{} → {}", s.command, reply.one_line()),
        O::Closed => format!("{} → connection closed", s.command),
        O::TimedOut => format!("{} → no reply in time", s.command),
        O::Broken { detail } => format!("{} → broken reply: {detail}", s.command),
    };
    match &facts.connect {
        C::TimedOut { ms } => return format!("connect timed out after {ms} ms"),
        C::Unreachable { detail } => return format!("unreachable: {detail}"),
        _ => {}
    }
    if let Some(g) = facts.greeting.as_ref().filter(|g| greeting_transient(g)) {
        return match &g.outcome {
            O::Replied { reply } => format!("greeting {}", reply.one_line()),
            O::Closed => "closed before the greeting".to_owned(),
            O::TimedOut => "no greeting in time".to_owned(),
            O::Broken { detail } => format!("broken greeting: {detail}"),
        };
    }
    let hello = facts.helo.as_ref().or(facts.ehlo.as_ref());
    if let Some(h) = hello.filter(|h| !h.accepted()) {
        return step(h);
    }
    let (mail, rcpt) = facts.final_transaction();
    match (mail, rcpt) {
        (Some(m), _) if !m.accepted() => step(m),
        (_, Some(r)) => step(r),
        _ => "transient failure".to_owned(),
    }
}

/// A remembered outcome, copied for another domain on the same address.
pub(super) fn reused(facts: &SmtpFacts, host: &str, domain: &str, note: String) -> SmtpFacts {
    let mut facts = facts.clone();
    facts.host = host.to_owned();
    facts.rcpt_domain = domain.to_owned();
    facts.elapsed_ms = 0;
    push_note(&mut facts, note);
    facts
}

pub(super) fn push_note(facts: &mut SmtpFacts, text: String) {
    let at_ms = facts.transcript.last().map_or(0, |l| l.at_ms);
    facts.transcript.push(TranscriptLine {
        who: Speaker::Note,
        at_ms,
        text,
    });
}
