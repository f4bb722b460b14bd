//! The seed's step ladder, per probed address: MX ✓ → port 25 ✓ → greeting ✓ → EHLO ✓ →
//! STARTTLS ✓ → MAIL ✓ → RCPT ✗ — where the conversation got to, what each step answered, and
//! the one piece of advice that matters most there. A pure function of a [`Report`] (its facts
//! and findings), for front-ends that explain a result step by step (the bot's "Explain"
//! button); it adds no finding and no severity.

use std::net::IpAddr;

use serde::Serialize;

use crate::facts::{AddressFacts, ConnectOutcome, SmtpFacts, Step, StepOutcome};
use crate::finding::Finding;
use crate::report::Report;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// It worked.
    Ok,
    /// It failed: this is where mail stops.
    Failed,
    /// It answered "later" (a 4xx), or we could not tell.
    Unsure,
    /// Not reached, or not applicable (STARTTLS not offered is [`Mark::Failed`] only as a
    /// warning: mail still flows).
    Skipped,
}

impl Mark {
    /// A one-character symbol: ✓ ✗ ? –
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "✓",
            Self::Failed => "✗",
            Self::Unsure => "?",
            Self::Skipped => "–",
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rung {
    /// The step: `MX`, `port 25`, `greeting`, `EHLO`, `STARTTLS`, `MAIL FROM`, `RCPT TO`.
    pub step: String,
    /// How it went.
    pub mark: Mark,
    /// What was seen (server text: untrusted, to be sanitised by the front-end).
    pub detail: String,
}

/// The ladder of one probed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ladder {
    /// The MX host name.
    pub host: String,
    /// The address.
    pub ip: IpAddr,
    /// The rungs, in conversation order, up to the first that stopped the conversation.
    pub rungs: Vec<Rung>,
    /// The advice of the worst finding about this address, if any.
    pub advice: Option<String>,
}

/// The ladders of every probed address of a report (addresses not probed have none).
pub fn ladders(report: &Report) -> Vec<Ladder> {
    let Some(facts) = &report.facts else {
        return Vec::new();
    };
    facts
        .addresses()
        .filter(|(_, a)| a.smtp.is_some() || a.unfinished.is_some())
        .map(|(host, addr)| Ladder {
            host: host.host.clone(),
            ip: addr.ip,
            rungs: rungs(&host.host, addr, facts.scope.smtp_port),
            advice: worst_advice(report, addr.ip),
        })
        .collect()
}

fn worst_advice(report: &Report, ip: IpAddr) -> Option<String> {
    let subject = ip.to_string();
    report
        .findings
        .iter()
        .filter(|f| f.subject == subject && !f.advice.is_empty())
        .max_by_key(|f: &&Finding| f.severity)
        .map(|f| f.advice.clone())
}

fn rung(step: &str, mark: Mark, detail: impl Into<String>) -> Rung {
    Rung {
        step: step.to_owned(),
        mark,
        detail: detail.into(),
    }
}

fn rungs(host: &str, addr: &AddressFacts, port: u16) -> Vec<Rung> {
    let mut out = vec![rung("MX", Mark::Ok, format!("{host} → {}", addr.ip))];
    let Some(smtp) = &addr.smtp else {
        let why = addr.unfinished.clone().unwrap_or_default();
        out.push(rung(&format!("port {port}"), Mark::Unsure, why));
        return out;
    };
    let port_step = format!("port {port}");
    match &smtp.connect {
        ConnectOutcome::Connected { ms, .. } => {
            out.push(rung(&port_step, Mark::Ok, format!("connected in {ms} ms")));
        }
        ConnectOutcome::Refused => {
            out.push(rung(
                &port_step,
                Mark::Failed,
                "connection refused: nothing listens",
            ));
            return out;
        }
        ConnectOutcome::TimedOut { ms } => {
            out.push(rung(
                &port_step,
                Mark::Failed,
                format!("no answer within {ms} ms (a firewall?)"),
            ));
            return out;
        }
        ConnectOutcome::Unreachable { detail } | ConnectOutcome::Error { detail } => {
            out.push(rung(&port_step, Mark::Failed, detail.clone()));
            return out;
        }
    }
    let Some(greeting) = &smtp.greeting else {
        out.push(rung("greeting", Mark::Unsure, "not read"));
        return out;
    };
    let (mark, detail) = outcome(&greeting.outcome);
    out.push(rung("greeting", mark, detail));
    if mark != Mark::Ok {
        return out;
    }
    let hello = smtp.helo.as_ref().or(smtp.ehlo.as_ref());
    let Some(hello) = hello else {
        return with_unreached(out, smtp);
    };
    let name = if smtp.helo.is_some() { "HELO" } else { "EHLO" };
    let (mark, detail) = step_outcome(hello);
    out.push(rung(name, mark, detail));
    if mark != Mark::Ok {
        return out;
    }
    out.push(starttls(smtp));
    let (mail, rcpt) = smtp.final_transaction();
    let Some(mail) = mail else {
        return with_unreached(out, smtp);
    };
    let (mark, detail) = step_outcome(mail);
    out.push(rung("MAIL FROM", mark, detail));
    if mark != Mark::Ok {
        return out;
    }
    match rcpt {
        Some(rcpt) => {
            let (mark, detail) = step_outcome(rcpt);
            out.push(rung("RCPT TO", mark, detail));
        }
        None => out.push(rung("RCPT TO", Mark::Skipped, "not sent")),
    }
    out
}

/// The last transcript note says why the conversation stopped before a step.
fn with_unreached(mut out: Vec<Rung>, smtp: &SmtpFacts) -> Vec<Rung> {
    let why = smtp
        .transcript
        .iter()
        .rev()
        .find(|l| l.who == crate::facts::Speaker::Note)
        .map_or_else(|| "not reached".to_owned(), |l| l.text.clone());
    out.push(rung("RCPT TO", Mark::Unsure, why));
    out
}

fn starttls(smtp: &SmtpFacts) -> Rung {
    let Some(st) = &smtp.starttls else {
        let mark = if smtp.advertises_starttls() {
            Mark::Unsure
        } else {
            Mark::Failed
        };
        return rung("STARTTLS", mark, "not offered: mail travels unencrypted");
    };
    match &st.handshake {
        Some(Ok(tls)) if tls.problems.is_empty() => rung(
            "STARTTLS",
            Mark::Ok,
            format!("{}, certificate valid", tls.version),
        ),
        Some(Ok(tls)) => rung(
            "STARTTLS",
            Mark::Unsure,
            format!("{}, certificate not valid for the name", tls.version),
        ),
        Some(Err(e)) => rung("STARTTLS", Mark::Failed, format!("handshake failed: {e}")),
        None => {
            let (_, detail) = step_outcome(&st.command);
            rung("STARTTLS", Mark::Failed, detail)
        }
    }
}

fn step_outcome(step: &Step) -> (Mark, String) {
    let (mark, detail) = outcome(&step.outcome);
    (mark, format!("{} → {detail}", step.command))
}

fn outcome(outcome: &StepOutcome) -> (Mark, String) {
    match outcome {
        StepOutcome::Replied { reply } => {
            let mark = if reply.is_positive() {
                Mark::Ok
            } else if reply.is_transient() {
                Mark::Unsure
            } else {
                Mark::Failed
            };
            (mark, reply.one_line())
        }
        StepOutcome::Closed => (Mark::Failed, "the server closed the connection".to_owned()),
        StepOutcome::TimedOut => (Mark::Unsure, "no reply in time".to_owned()),
        StepOutcome::Broken { detail } => (Mark::Failed, format!("broken reply: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testutil::{healthy, smtp, step};
    use crate::facts::Facts;

    fn marks(l: &Ladder) -> Vec<(&str, Mark)> {
        l.rungs.iter().map(|r| (r.step.as_str(), r.mark)).collect()
    }

    fn ladder(facts: &Facts) -> Ladder {
        let report = crate::diagnose(facts, &crate::Policy::default(), "example.test", 0);
        ladders(&report).remove(0)
    }

    #[test]
    fn an_accepting_server_climbs_every_rung() {
        let l = ladder(&healthy());
        assert_eq!(
            marks(&l),
            vec![
                ("MX", Mark::Ok),
                ("port 25", Mark::Ok),
                ("greeting", Mark::Ok),
                ("EHLO", Mark::Ok),
                ("STARTTLS", Mark::Ok),
                ("MAIL FROM", Mark::Ok),
                ("RCPT TO", Mark::Ok),
            ]
        );
        assert_eq!(l.advice, None);
    }

    #[test]
    fn a_relay_denial_stops_at_rcpt_with_its_advice() {
        let mut f = healthy();
        smtp(&mut f).rcpt = Some(step(
            "RCPT TO:<postmaster@example.test>",
            554,
            "5.7.1 <postmaster@example.test>: Relay access denied",
        ));
        let l = ladder(&f);
        let last = l.rungs.last().unwrap();
        assert_eq!((last.step.as_str(), last.mark), ("RCPT TO", Mark::Failed));
        assert!(last.detail.contains("Relay access denied"), "{last:?}");
        assert!(l.advice.as_deref().is_some_and(|a| !a.is_empty()));
    }

    #[test]
    fn a_refused_port_stops_at_port_25() {
        let mut f = healthy();
        let s = smtp(&mut f);
        s.connect = ConnectOutcome::Refused;
        s.greeting = None;
        s.ehlo = None;
        s.starttls = None;
        s.mail = None;
        s.rcpt = None;
        let l = ladder(&f);
        assert_eq!(marks(&l), vec![("MX", Mark::Ok), ("port 25", Mark::Failed)]);
    }

    #[test]
    fn no_starttls_is_marked_but_the_ladder_goes_on() {
        let mut f = healthy();
        let s = smtp(&mut f);
        s.starttls = None;
        s.extensions.retain(|e| e != "STARTTLS");
        let l = ladder(&f);
        assert!(marks(&l).contains(&("STARTTLS", Mark::Failed)));
        assert_eq!(l.rungs.last().map(|r| r.mark), Some(Mark::Ok));
    }
}
