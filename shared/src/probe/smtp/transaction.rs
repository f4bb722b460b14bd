//! Transactions on an open [`Session`]: one `MAIL FROM`, then `RCPT TO:<postmaster@…>` for
//! each domain of the batch, the optional open-relay recipient, and `RSET` — in one write (one
//! round trip) when the server offers PIPELINING, one command at a time otherwise. When our
//! sender is refused, the domains concerned are asked again with the null sender `<>`
//! (RFC 5321 §4.5.5). Never `DATA`.
//!
//! Each domain gets its own [`Share`]: the shared `MAIL` and `RSET` steps, its own `RCPT` step,
//! and the transcript lines that are about it (the shared lines and its own recipient), so no
//! domain's evidence shows another domain's recipient.

use tokio::time::Instant;

use super::command::Command;
use super::session::{Session, Tag, step};
use crate::classify::{About, Stage, classify};
use crate::facts::{NullSenderRetry, SmtpFacts, Speaker, Step, StepOutcome, TranscriptLine};

/// One domain's part of a (possibly shared) transaction.
#[derive(Debug, Clone, Default)]
pub struct Share {
    /// The domain whose postmaster was asked for.
    pub domain: String,
    /// `MAIL FROM:<our sender>` (shared by the batch).
    pub mail: Option<Step>,
    /// `MAIL` went out in one write with the recipients.
    pub mail_pipelined: bool,
    /// This domain's `RCPT TO:<postmaster@domain>`.
    pub rcpt: Option<Step>,
    /// The retry with the null sender, when our sender was refused.
    pub null_sender: Option<NullSenderRetry>,
    /// The open-relay recipient (about the server, so the same for the whole batch).
    pub relay_test: Option<Step>,
    /// `RSET`s.
    pub closing: Vec<Step>,
    /// The lines of the conversation that are about this domain.
    pub transcript: Vec<TranscriptLine>,
}

impl Share {
    fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_owned(),
            ..Self::default()
        }
    }

    /// Puts this share into a domain's facts (which hold the connection-level facts).
    pub fn apply(self, facts: &mut SmtpFacts) {
        facts.rcpt_domain = self.domain;
        facts.mail = self.mail;
        facts.mail_pipelined = self.mail_pipelined;
        facts.rcpt = self.rcpt;
        facts.null_sender = self.null_sender;
        facts.relay_test = self.relay_test;
        facts.closing.extend(self.closing);
        facts.transcript.extend(self.transcript);
    }
}

/// What one group (MAIL, recipients, relay test, RSET) saw.
struct Group {
    mail: Step,
    /// Per recipient (in the order given): its step, `None` when it was never sent.
    rcpts: Vec<Option<Step>>,
    relay: Option<Step>,
    rset: Option<Step>,
    pipelined: bool,
}

impl Session {
    /// One transaction for `domain`: [`Session::batch`] of one, put into `facts`.
    pub async fn transaction(&mut self, domain: &str, facts: &mut SmtpFacts) {
        let share = self
            .batch(&[domain.to_owned()])
            .await
            .pop()
            .unwrap_or_default();
        share.apply(facts);
    }

    /// One transaction shared by `domains` (ASCII names, all on this address): see the
    /// module documentation. Returns one [`Share`] per domain, in order. A domain that is not
    /// a plain ASCII name gets a note and no steps.
    pub async fn batch(&mut self, domains: &[String]) -> Vec<Share> {
        let cfg = self.client.config().clone();
        let mut shares: Vec<Share> = domains.iter().map(|d| Share::new(d)).collect();
        if self.transactions > 0 {
            self.deadline = Instant::now() + cfg.session_deadline;
        }
        if !self.is_alive() {
            self.note("session is closed; no transaction".to_owned());
            return self.hand_out(shares);
        }
        let mut live = Vec::new();
        for (i, d) in domains.iter().enumerate() {
            if is_safe_domain(d) {
                live.push(i);
            } else {
                let text = format!("domain {d:?} is not a plain ASCII name; no transaction");
                self.push_tagged(Tag::One(i), Speaker::Note, text);
            }
        }
        if live.is_empty() {
            return self.hand_out(shares);
        }
        self.transactions += u32::try_from(live.len()).unwrap_or(u32::MAX);
        if live.len() > 1 {
            self.tag = Tag::Group(live.clone().into());
            self.note(format!(
                "one transaction for {} domains on this address: one MAIL FROM, one RCPT TO each",
                live.len()
            ));
        }
        let sender = self.client.mail_from().to_owned();
        let relay = cfg.open_relay_test.then(|| cfg.relay_test_rcpt.clone());
        let first = self.group(&sender, &live, domains, relay.as_deref()).await;
        let mail_ok = first.mail.accepted();
        for (k, &i) in live.iter().enumerate() {
            let share = &mut shares[i];
            share.mail = Some(first.mail.clone());
            share.mail_pipelined = first.pipelined;
            share.rcpt.clone_from(&first.rcpts[k]);
            share.closing.extend(first.rset.clone());
            if mail_ok {
                share.relay_test.clone_from(&first.relay);
            }
        }

        // Our sender refused: once more with <> for the domains concerned.
        let retry: Vec<usize> = if sender.is_empty() || !self.is_alive() {
            Vec::new()
        } else {
            live.iter()
                .enumerate()
                .filter(|&(k, _)| self.sender_refused(&first.mail, first.rcpts[k].as_ref()))
                .map(|(_, &i)| i)
                .collect()
        };
        let rset_ok = first.rset.as_ref().is_some_and(Step::accepted);
        if !retry.is_empty() && rset_ok {
            for &i in &retry {
                self.push_tagged(
                    Tag::One(i),
                    Speaker::Note,
                    "our sender was refused: retrying once with the null sender <>, which \
                     receivers must accept (RFC 5321 §4.5.5)"
                        .to_owned(),
                );
            }
            let relay = relay.filter(|_| !mail_ok);
            let second = self.group("", &retry, domains, relay.as_deref()).await;
            for (k, &i) in retry.iter().enumerate() {
                let share = &mut shares[i];
                share.null_sender = Some(NullSenderRetry {
                    mail: second.mail.clone(),
                    rcpt: second.rcpts[k].clone(),
                });
                share.closing.extend(second.rset.clone());
                if second.mail.accepted() && second.relay.is_some() {
                    share.relay_test.clone_from(&second.relay);
                }
            }
        }
        self.touch();
        self.hand_out(shares)
    }

    fn hand_out(&mut self, mut shares: Vec<Share>) -> Vec<Share> {
        self.tag = Tag::All;
        let logs = self.take_log_for(shares.len());
        for (share, log) in shares.iter_mut().zip(logs) {
            share.transcript = log;
        }
        shares
    }

    /// `MAIL FROM:<sender>`, a `RCPT TO:<postmaster@…>` for each of `which` (indices into
    /// `domains`, whose lines are tagged with them), the relay recipient, `RSET`.
    async fn group(
        &mut self,
        sender: &str,
        which: &[usize],
        domains: &[String],
        relay: Option<&str>,
    ) -> Group {
        let timeout = self.client.config().command_timeout;
        let members = Tag::Group(which.into());
        let mail_cmd = Command::MailFrom(sender.to_owned());
        let rcpt = |i: usize| Command::postmaster(&domains[i]);
        let mut group = Group {
            mail: step(mail_cmd.to_string(), StepOutcome::Closed, Instant::now()),
            rcpts: vec![None; which.len()],
            relay: None,
            rset: None,
            pipelined: self.pipelines(),
        };
        if group.pipelined {
            let mut cmds = vec![(members.clone(), mail_cmd.clone())];
            cmds.extend(which.iter().map(|&i| (Tag::One(i), rcpt(i))));
            cmds.extend(relay.map(|r| (members.clone(), Command::RcptTo(r.to_owned()))));
            cmds.push((members.clone(), Command::Rset));
            let sent = Instant::now();
            if let Err(outcome) = self.send(&cmds, timeout).await {
                group.mail = step(mail_cmd.to_string(), outcome, sent);
                return group;
            }
            self.tag = members.clone();
            group.mail = self.read_step(mail_cmd.to_string(), sent, timeout).await;
            if stops(&group.mail) {
                return group;
            }
            for (k, &i) in which.iter().enumerate() {
                self.tag = Tag::One(i);
                let s = self.read_step(rcpt(i).to_string(), sent, timeout).await;
                let stop = stops(&s);
                group.rcpts[k] = Some(s);
                if stop {
                    self.unanswered(&mut group.rcpts[k + 1..], &which[k + 1..], domains);
                    self.tag = members.clone();
                    return group;
                }
            }
            self.tag = members.clone();
            if let Some(r) = relay {
                let s = self
                    .read_step(Command::RcptTo(r.to_owned()).to_string(), sent, timeout)
                    .await;
                let stop = stops(&s);
                group.relay = Some(s);
                if stop {
                    return group;
                }
            }
            group.rset = Some(self.read_step("RSET".to_owned(), sent, timeout).await);
            return group;
        }

        self.tag = members.clone();
        group.mail = self.command(mail_cmd, timeout).await;
        if group.mail.accepted() {
            for (k, &i) in which.iter().enumerate() {
                self.tag = Tag::One(i);
                let s = self.command(rcpt(i), timeout).await;
                let stop = stops(&s);
                group.rcpts[k] = Some(s);
                if stop {
                    self.unanswered(&mut group.rcpts[k + 1..], &which[k + 1..], domains);
                    break;
                }
            }
            self.tag = members.clone();
            if let Some(r) = relay.filter(|_| self.is_alive()) {
                group.relay = Some(self.command(Command::RcptTo(r.to_owned()), timeout).await);
            }
        }
        if self.is_alive() {
            group.rset = Some(self.command(Command::Rset, timeout).await);
        }
        group
    }

    /// Recipients after the connection ended: each domain's step says the connection closed
    /// before its recipient was answered (a transient outcome, asked again alone).
    fn unanswered(&mut self, slots: &mut [Option<Step>], which: &[usize], domains: &[String]) {
        for (slot, &i) in slots.iter_mut().zip(which) {
            self.push_tagged(
                Tag::One(i),
                Speaker::Note,
                "no reply for this recipient: the connection ended before its turn".to_owned(),
            );
            *slot = Some(Step {
                command: Command::postmaster(&domains[i]).to_string(),
                outcome: StepOutcome::Closed,
                ms: 0,
            });
        }
    }

    /// Whether the refusal in this transaction is about our sender address, so a retry with
    /// `<>` tells whether the target refuses us or refuses bounces as well: any 5xx to `MAIL`
    /// that does not name our client, or a 4xx/5xx to `MAIL` or `RCPT` about our sender.
    fn sender_refused(&self, mail: &Step, rcpt: Option<&Step>) -> bool {
        let us = self.us();
        if let Some(reply) = mail.reply().filter(|r| !r.is_positive()) {
            let about = classify(reply, Stage::Mail, &us);
            return match about {
                About::OurClient | About::OurHelo => false,
                About::OurSender => true,
                _ => reply.is_permanent(),
            };
        }
        mail.accepted()
            && rcpt
                .and_then(Step::reply)
                .filter(|r| !r.is_positive())
                .is_some_and(|r| classify(r, Stage::Rcpt, &us) == About::OurSender)
    }
}

/// How many more recipients a session may be given in one transaction: the configured batch,
/// within what is left of its error budget (each recipient may be refused).
pub(crate) fn batch_room(max_rcpts: u32, max_errors: u32, errors: u32) -> usize {
    let room = max_rcpts.min(max_errors.saturating_sub(errors)).max(1);
    usize::try_from(room).unwrap_or(1)
}

/// Whether a step ends the transaction early (no reply, or 421).
fn stops(step: &Step) -> bool {
    step.reply().is_none_or(|r| r.code == 421)
}

/// A domain that can go into `RCPT TO:<postmaster@…>` without changing the command.
pub(crate) fn is_safe_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_domains() {
        assert!(is_safe_domain("example.org"));
        assert!(is_safe_domain("xn--bcher-kva.example"));
        assert!(!is_safe_domain("example.org>\r\nDATA"));
        assert!(!is_safe_domain(""));
    }

    #[test]
    fn batch_room_stays_inside_the_error_budget() {
        assert_eq!(batch_room(10, 10, 0), 10);
        assert_eq!(batch_room(10, 10, 7), 3);
        assert_eq!(batch_room(10, 10, 10), 1);
        assert_eq!(batch_room(1, 10, 0), 1);
        assert_eq!(batch_room(0, 10, 0), 1);
    }
}
