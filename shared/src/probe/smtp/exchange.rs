//! Commands and replies on a [`Session`]: one command and its reply, several commands in one
//! write, a bounded read of one reply (a 421 or anything but a reply ends the connection), and
//! the transcript, each line tagged with whose evidence it is.

use std::time::Duration;

use tokio::time::Instant;

use super::command::Command;
use super::session::{Session, Tag, Tagged, ms_since, step};
use crate::facts::{Speaker, Step, StepOutcome, TranscriptLine};

impl Session {
    /// Sends one command and reads its reply.
    pub(super) async fn command(&mut self, cmd: Command, timeout: Duration) -> Step {
        let sent = Instant::now();
        let text = cmd.to_string();
        if let Err(outcome) = self.send(&[(self.tag.clone(), cmd)], timeout).await {
            return step(text, outcome, sent);
        }
        let step = self.read_step(text, sent, timeout).await;
        if step.reply().is_some() {
            let took = sent.elapsed();
            self.round_trip = Some(self.round_trip.map_or(took, |rt| rt.min(took)));
        }
        step
    }

    pub(super) async fn read_step(
        &mut self,
        command: String,
        sent: Instant,
        timeout: Duration,
    ) -> Step {
        let outcome = self.read_reply(timeout).await;
        step(command, outcome, sent)
    }

    /// Writes the commands in one write (one round trip when the server pipelines), each
    /// logged under its tag.
    pub(super) async fn send(
        &mut self,
        cmds: &[(Tag, Command)],
        timeout: Duration,
    ) -> Result<(), StepOutcome> {
        let mut wire = Vec::new();
        for (tag, cmd) in cmds {
            self.push_tagged(tag.clone(), Speaker::Client, cmd.to_string());
            cmd.write_to(&mut wire);
        }
        let budget = timeout.min(self.remaining());
        let Some(conn) = self.wire.as_mut() else {
            return Err(StepOutcome::Closed);
        };
        let result = conn.write(&wire, budget).await;
        if let Err(outcome) = &result {
            self.note_outcome(outcome, budget);
            self.drop_wire();
        }
        result
    }

    /// Reads one complete reply under `timeout` (and the session deadline), logged under the
    /// current tag. Anything but a reply, or a 421, ends the connection.
    pub(super) async fn read_reply(&mut self, timeout: Duration) -> StepOutcome {
        let budget = timeout.min(self.remaining());
        let until = Instant::now() + budget;
        let Some(conn) = self.wire.as_mut() else {
            return StepOutcome::Closed;
        };
        let outcome = conn.read_reply(until).await;
        match &outcome {
            StepOutcome::Replied { reply } => {
                for line in &reply.lines {
                    self.push(Speaker::Server, line.clone());
                }
                if reply.code >= 400 {
                    self.errors += 1;
                }
                if reply.code == 421 {
                    self.note("421: the server is closing the connection".to_owned());
                    self.drop_wire();
                }
            }
            other => {
                self.note_outcome(other, budget);
                self.drop_wire();
            }
        }
        outcome
    }

    fn note_outcome(&mut self, outcome: &StepOutcome, budget: Duration) {
        let text = match outcome {
            StepOutcome::Replied { .. } => return,
            StepOutcome::Closed => "the server closed the connection".to_owned(),
            StepOutcome::TimedOut if Instant::now() >= self.deadline => format!(
                "session deadline of {} ms reached",
                self.client.config().session_deadline.as_millis()
            ),
            StepOutcome::TimedOut => format!("no reply within {} ms", budget.as_millis()),
            StepOutcome::Broken { detail } => format!("broken reply: {detail}"),
        };
        self.note(text);
    }

    pub(super) fn drop_wire(&mut self) {
        if self.wire.take().is_some() {
            self.note("connection closed".to_owned());
        }
    }

    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(super) fn note(&mut self, text: String) {
        self.push(Speaker::Note, text);
    }

    fn push(&mut self, who: Speaker, text: String) {
        self.push_tagged(self.tag.clone(), who, text);
    }

    pub(super) fn push_tagged(&mut self, tag: Tag, who: Speaker, text: String) {
        let line = TranscriptLine {
            who,
            at_ms: ms_since(self.t0),
            text,
        };
        self.log.push(Tagged { tag, line });
    }

    /// Every line logged since the last hand-out, whatever its tag.
    pub(super) fn take_log(&mut self) -> Vec<TranscriptLine> {
        self.log.drain(..).map(|t| t.line).collect()
    }

    /// The lines logged since the last hand-out, split among `n` domains: each gets the lines
    /// for everybody, those of the groups it was in, and its own.
    pub(super) fn take_log_for(&mut self, n: usize) -> Vec<Vec<TranscriptLine>> {
        let mut out = vec![Vec::new(); n];
        for t in self.log.drain(..) {
            for (i, o) in out.iter_mut().enumerate() {
                if t.tag.includes(i) {
                    o.push(t.line.clone());
                }
            }
        }
        out
    }

    pub(super) fn touch(&mut self) {
        self.last_used = Instant::now();
    }
}
