//! The SMTP session without sockets: [`Session::over`] an in-memory stream
//! (`tokio::io::duplex`) whose other end is a small scripted server (`server.rs`). Every command
//! and reply path, pipelined and not, batched and not, and hostile replies.
//!
//! The fake server records each read as the command lines it completed, so a test can tell one
//! pipelined write (one read holding `MAIL`, the `RCPT`s and `RSET`) from commands sent one at a
//! time (one line per read). Before answering a read it lets the client run, then looks without
//! waiting for more bytes: anything that arrived while replies were still owed is recorded as
//! `early` (a client that does not wait for its replies). That check cannot give a false alarm;
//! it only might miss a violation.
//!
//! Timeouts: tokio's `test-util` feature (paused time) is not enabled in this workspace, so the
//! few timeout tests use short real timeouts against a server that never answers: their outcome
//! does not depend on timing.
//!
//! Files: `server.rs` the fake server (and a test of the harness itself); this one the
//! client-side helpers; `batch.rs` healthy batches, refusals and the null-sender retry;
//! `ends.rs` connections that end in the middle, hostile replies and timeouts; `session.rs`
//! what comes before `MAIL`, reuse and `QUIT`; `relay_and_unsafe.rs` the open-relay recipient
//! and domains that get no transaction.

mod batch;
mod ends;
mod relay_and_unsafe;
mod server;
mod session;

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{MX, code, smtp_config};
use futures::FutureExt;
use mailcheck::classify::{About, Stage, Us, classify};
use mailcheck::config::SmtpConfig;
use mailcheck::facts::{ConnectOutcome, SmtpFacts, Speaker, Step, StepOutcome, TranscriptLine};
use mailcheck::probe::smtp::{Session, Share, SmtpClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

use server::*;

const GREETING: &[u8] = b"220 mx.example.test ESMTP fake\r\n";
const EHLO: &str = "EHLO probe.example.test";
const HELO: &str = "HELO probe.example.test";
const OUR_MAIL: &str = "MAIL FROM:<postmaster@probe.example.test>";
const NULL_MAIL: &str = "MAIL FROM:<>";
const RELAY_RCPT: &str = "RCPT TO:<relay-test@mailcheck-relay-test.invalid>";
const RETRY_NOTE: &str = "our sender was refused: retrying once with the null sender <>";
const UNANSWERED_NOTE: &str = "no reply for this recipient: the connection ended before its turn";

// ---- the client side ----

fn config() -> SmtpConfig {
    smtp_config(25)
}

fn peer() -> SocketAddr {
    "192.0.2.25:25".parse().unwrap()
}

/// A fake server answering with `respond`, and a session opened over the pipe to it.
async fn connect(
    cfg: &SmtpConfig,
    greeting: &[u8],
    respond: impl FnMut(&str) -> Answer + Send + 'static,
) -> (SmtpFacts, Option<Session>, JoinHandle<Seen>) {
    let (stream, server) = serve(greeting, respond);
    let client = SmtpClient::new(cfg).expect("config");
    let (facts, session) = Session::over(&client, stream, peer(), MX).await;
    (facts, session, server)
}

/// Drops the session (closing our end), and returns what the server read.
async fn finish(session: Option<Session>, server: JoinHandle<Seen>) -> Seen {
    drop(session);
    server.await.expect("fake server task")
}

fn names(ds: &[&str]) -> Vec<String> {
    ds.iter().map(|d| (*d).to_owned()).collect()
}

fn rcpt(domain: &str) -> String {
    format!("RCPT TO:<postmaster@{domain}>")
}

/// The lines of a pipelined group as the server must read them.
fn group(mail: &str, domains: &[String], relay: bool) -> Vec<String> {
    let mut lines = vec![mail.to_owned()];
    lines.extend(domains.iter().map(|d| rcpt(d)));
    if relay {
        lines.push(RELAY_RCPT.to_owned());
    }
    lines.push("RSET".to_owned());
    lines
}

/// The transcript as text, `C: `/`S: `/`*  ` lines.
fn text(lines: &[TranscriptLine]) -> String {
    let mut facts = SmtpFacts::new(MX, 25, ConnectOutcome::Refused);
    facts.transcript = lines.to_vec();
    facts.transcript_text()
}

/// The commands and replies of a transcript (notes left out), as `C: …`/`S: …`.
fn dialogue(lines: &[TranscriptLine]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| match l.who {
            Speaker::Client => Some(format!("C: {}", l.text)),
            Speaker::Server => Some(format!("S: {}", l.text)),
            Speaker::Note => None,
        })
        .collect()
}

fn steps(steps: &[Step]) -> Vec<(&str, Option<u16>)> {
    steps
        .iter()
        .map(|s| (s.command.as_str(), code(Some(s))))
        .collect()
}

/// A share put into a copy of the connection-level facts, as the prober does.
fn applied(facts: &SmtpFacts, share: &Share) -> SmtpFacts {
    let mut facts = facts.clone();
    share.clone().apply(&mut facts);
    facts
}

/// No domain's evidence names another domain's postmaster.
fn assert_own_evidence(shares: &[Share]) {
    for share in shares {
        let t = text(&share.transcript);
        for other in shares.iter().filter(|o| o.domain != share.domain) {
            assert!(
                !t.contains(&format!("postmaster@{}", other.domain)),
                "{} shows {}:\n{t}",
                share.domain,
                other.domain
            );
        }
    }
}

fn is_broken(outcome: &StepOutcome, words: &str) -> bool {
    matches!(outcome, StepOutcome::Broken { detail } if detail.contains(words))
}
