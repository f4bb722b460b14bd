//! The SMTP session without sockets: [`Session::over`] an in-memory stream
//! (`tokio::io::duplex`) whose other end is a small scripted server in this file. Every command
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

// ---- the fake server ----

/// Capacity of the in-memory pipe, and the fake server's read size: a whole pipelined group
/// always fits in one read.
const PIPE: usize = 64 * 1024;

/// How often the fake server yields to the client before checking for early bytes.
const YIELDS: usize = 16;

const GREETING: &[u8] = b"220 mx.example.test ESMTP fake\r\n";
const EHLO: &str = "EHLO probe.example.test";
const HELO: &str = "HELO probe.example.test";
const OUR_MAIL: &str = "MAIL FROM:<postmaster@probe.example.test>";
const NULL_MAIL: &str = "MAIL FROM:<>";
const RELAY_RCPT: &str = "RCPT TO:<relay-test@mailcheck-relay-test.invalid>";
const RETRY_NOTE: &str = "our sender was refused: retrying once with the null sender <>";
const UNANSWERED_NOTE: &str = "no reply for this recipient: the connection ended before its turn";

/// What the fake server does with one command line.
#[derive(Debug, Clone)]
enum Answer {
    /// A reply; `\n` separates its lines, each is sent with CRLF. After a `421` (and after the
    /// reply to `QUIT`) the server closes the stream.
    Say(String),
    /// A reply, then the stream is closed.
    SayThenClose(String),
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// The stream is closed without an answer to this command or any later one of its read
    /// (answers to earlier commands of the read are sent first).
    Close,
    /// No answer to this command or any later one; the server keeps reading until the client
    /// goes away.
    Ignore,
}

impl Answer {
    fn is_positive(&self) -> bool {
        match self {
            Self::Say(s) | Self::SayThenClose(s) => s.starts_with('2'),
            Self::Raw(b) => b.starts_with(b"2"),
            Self::Close | Self::Ignore => false,
        }
    }
}

fn say(text: &str) -> Answer {
    Answer::Say(text.to_owned())
}

/// What the fake server read.
#[derive(Debug, Default)]
struct Seen {
    /// One entry per read: the command lines it completed, CRLF removed.
    chunks: Vec<Vec<String>>,
    /// Bytes that arrived while replies to an earlier read were still owed.
    early: Vec<String>,
}

impl Seen {
    /// Every line, in order.
    fn lines(&self) -> Vec<&str> {
        self.chunks.iter().flatten().map(String::as_str).collect()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| **l == line).count()
    }

    /// Each command came in a read of its own, and only after the reply to the previous one.
    fn one_at_a_time(&self) -> bool {
        self.early.is_empty() && self.chunks.iter().all(|c| c.len() == 1)
    }
}

/// The server's end of a fresh pipe: sends `greeting` (raw bytes: it may be incomplete), then
/// answers each command line with `respond`. The task returns what it read once the stream
/// ends (the client closed it, or the server did).
fn serve(
    greeting: &[u8],
    mut respond: impl FnMut(&str) -> Answer + Send + 'static,
) -> (DuplexStream, JoinHandle<Seen>) {
    let (client, mut io) = tokio::io::duplex(PIPE);
    let greeting = greeting.to_vec();
    let task = tokio::spawn(async move {
        let mut seen = Seen::default();
        if io.write_all(&greeting).await.is_err() {
            return seen;
        }
        let mut partial = Vec::new();
        let mut queued: Option<Vec<u8>> = None;
        let mut silent = false;
        loop {
            let chunk = match queued.take() {
                Some(chunk) => chunk,
                None => match read_chunk(&mut io).await {
                    Some(chunk) => chunk,
                    None => return seen,
                },
            };
            partial.extend_from_slice(&chunk);
            let lines = complete_lines(&mut partial);
            if lines.is_empty() {
                continue;
            }
            seen.chunks.push(lines.clone());
            let mut out = Vec::new();
            let mut close = false;
            for line in &lines {
                if silent {
                    break;
                }
                match respond(line) {
                    Answer::Say(text) => {
                        push_reply(&mut out, &text);
                        close = text.starts_with("421") || line.eq_ignore_ascii_case("QUIT");
                    }
                    Answer::SayThenClose(text) => {
                        push_reply(&mut out, &text);
                        close = true;
                    }
                    Answer::Raw(bytes) => out.extend_from_slice(&bytes),
                    Answer::Close => close = true,
                    Answer::Ignore => silent = true,
                }
                if close {
                    break;
                }
            }
            if !close && let Some(extra) = arrived_early(&mut io).await {
                seen.early
                    .push(String::from_utf8_lossy(&extra).into_owned());
                queued = Some(extra);
            }
            if !out.is_empty() && io.write_all(&out).await.is_err() {
                return seen;
            }
            if close {
                return seen;
            }
        }
    });
    (client, task)
}

/// One read; `None` at the end of the stream.
async fn read_chunk(io: &mut DuplexStream) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; PIPE];
    match io.read(&mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(buf[..n].to_vec()),
    }
}

/// Lets the client run, then reads without waiting: bytes it sent before getting its replies.
async fn arrived_early(io: &mut DuplexStream) -> Option<Vec<u8>> {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
    let mut buf = vec![0u8; PIPE];
    match io.read(&mut buf).now_or_never() {
        Some(Ok(n)) if n > 0 => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// The complete lines at the front of `partial` (CRLF or LF removed); the rest stays.
fn complete_lines(partial: &mut Vec<u8>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(nl) = partial.iter().position(|&b| b == b'\n') {
        let raw: Vec<u8> = partial.drain(..=nl).collect();
        let body = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        lines.push(String::from_utf8_lossy(body).into_owned());
    }
    lines
}

fn push_reply(out: &mut Vec<u8>, text: &str) {
    for line in text.split('\n') {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The command verb, upper case (`MAIL` of `MAIL FROM:<…>`).
fn verb(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// What follows the first colon (`<a@b>` of `RCPT TO:<a@b>`).
fn arg(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, a)| a)
}

fn ehlo_reply(pipelining: bool) -> String {
    let mut lines = vec!["250-mx.example.test Hello probe.example.test"];
    if pipelining {
        lines.push("250-PIPELINING");
    }
    lines.extend([
        "250-SIZE 10240000",
        "250-ENHANCEDSTATUSCODES",
        "250 8BITMIME",
    ]);
    lines.join("\n")
}

/// A well-behaved server (PIPELINING offered when asked, no STARTTLS): `special` answers first
/// when it has something to say. `RCPT` without an accepted `MAIL` gets 503; an accepted
/// recipient's reply names it, so a test can tell whose reply a line is.
fn mta(
    pipelining: bool,
    mut special: impl FnMut(&str) -> Option<Answer> + Send + 'static,
) -> impl FnMut(&str) -> Answer + Send + 'static {
    let mut in_mail = false;
    move |line: &str| {
        let verb = verb(line);
        let answer = special(line).unwrap_or_else(|| match verb.as_str() {
            "EHLO" => Answer::Say(ehlo_reply(pipelining)),
            "HELO" => say("250 mx.example.test"),
            "MAIL" => say("250 2.1.0 Ok"),
            "RCPT" if in_mail => Answer::Say(format!("250 2.1.5 {} ok", arg(line))),
            "RCPT" => say("503 5.5.1 Error: need MAIL command"),
            "RSET" => say("250 2.0.0 Ok"),
            "QUIT" => say("221 2.0.0 Bye"),
            _ => say("502 5.5.2 Error: command not recognized"),
        });
        match verb.as_str() {
            "MAIL" => in_mail = answer.is_positive(),
            "RSET" => in_mail = false,
            _ => {}
        }
        answer
    }
}

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

// ---- a healthy batch ----

async fn healthy_batch(pipelining: bool) {
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, |_| None)).await;
    let greeting = facts.greeting.as_ref().expect("greeting");
    assert_eq!(greeting.hostname.as_deref(), Some("mx.example.test"));
    assert_eq!(code(facts.ehlo.as_ref()), Some(250));
    assert_eq!(
        facts.extensions.iter().any(|e| e == "PIPELINING"),
        pipelining
    );
    assert!(facts.starttls.is_none() && facts.mail.is_none());
    let mut session = session.expect("ready for MAIL");
    assert_eq!(session.pipelines(), pipelining);

    let shares = session.batch(&ds).await;
    assert!(session.is_alive());
    assert!(session.poll_alive(), "idle and quiet");
    assert_eq!(session.transactions(), 3);
    assert_eq!(session.errors(), 0);
    let seen = finish(Some(session), server).await;

    // What the server read: the whole group in one write, or one command per reply.
    if pipelining {
        assert_eq!(
            seen.chunks,
            vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
        );
        assert!(seen.early.is_empty(), "{seen:?}");
    } else {
        assert!(seen.one_at_a_time(), "{seen:?}");
        let mut all = vec![EHLO.to_owned()];
        all.extend(group(OUR_MAIL, &ds, false));
        assert_eq!(seen.lines(), all);
    }

    assert_eq!(shares.len(), 3);
    for (share, d) in shares.iter().zip(&ds) {
        assert_eq!(&share.domain, d);
        let mail = share.mail.as_ref().expect("MAIL step");
        assert_eq!(
            (mail.command.as_str(), code(Some(mail))),
            (OUR_MAIL, Some(250))
        );
        assert_eq!(share.mail_pipelined, pipelining);
        let r = share.rcpt.as_ref().expect("RCPT step");
        assert_eq!(r.command, rcpt(d));
        let own_reply = format!("250 2.1.5 <postmaster@{d}> ok");
        assert_eq!(r.reply().unwrap().lines, vec![own_reply.clone()]);
        assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
        assert!(share.null_sender.is_none() && share.relay_test.is_none());
        // Its evidence: the shared lines and its own recipient, in the order of the wire.
        let want: Vec<String> = if pipelining {
            vec![
                format!("C: {OUR_MAIL}"),
                format!("C: {}", rcpt(d)),
                "C: RSET".to_owned(),
                "S: 250 2.1.0 Ok".to_owned(),
                format!("S: {own_reply}"),
                "S: 250 2.0.0 Ok".to_owned(),
            ]
        } else {
            vec![
                format!("C: {OUR_MAIL}"),
                "S: 250 2.1.0 Ok".to_owned(),
                format!("C: {}", rcpt(d)),
                format!("S: {own_reply}"),
                "C: RSET".to_owned(),
                "S: 250 2.0.0 Ok".to_owned(),
            ]
        };
        assert_eq!(dialogue(&share.transcript), want, "{d}");
        assert!(text(&share.transcript).contains("one transaction for 3 domains"));
        let f = applied(&facts, share);
        assert!(f.accepted_postmaster(), "{d}");
        assert_eq!(&f.rcpt_domain, d);
        assert_eq!(steps(&f.closing), [("RSET", Some(250))]);
    }
    assert_own_evidence(&shares);
}

#[tokio::test]
async fn healthy_pipelined_batch_is_one_write() {
    healthy_batch(true).await;
}

#[tokio::test]
async fn healthy_batch_without_pipelining_goes_one_command_at_a_time() {
    healthy_batch(false).await;
}

// ---- refusals, attributed to the right domain ----

#[tokio::test]
async fn refusals_belong_to_their_own_domain() {
    let unknown = "550 5.1.1 <postmaster@b.example>: Recipient address rejected: User unknown in virtual mailbox table";
    let grey =
        "450 4.7.1 <postmaster@c.example>: Recipient address rejected: Greylisted, try again later";
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example", "d.example"]);
        let special = move |line: &str| match line {
            "RCPT TO:<postmaster@b.example>" => Some(say(unknown)),
            "RCPT TO:<postmaster@c.example>" => Some(say(grey)),
            _ => None,
        };
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(session.is_alive());
        assert_eq!(session.errors(), 2);
        let seen = finish(Some(session), server).await;
        if pipelining {
            assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, false));
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
        }
        assert_eq!(seen.count(NULL_MAIL), 0, "no retry: not about our sender");

        let by_code: Vec<Option<u16>> = shares.iter().map(|s| code(s.rcpt.as_ref())).collect();
        assert_eq!(by_code, [Some(250), Some(550), Some(450), Some(250)]);
        let b = shares[1].rcpt.as_ref().unwrap().reply().unwrap();
        assert_eq!(b.enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(b.lines, vec![unknown.to_owned()]);
        let c = shares[2].rcpt.as_ref().unwrap().reply().unwrap();
        assert_eq!(c.enhanced.as_deref(), Some("4.7.1"));
        for (i, share) in shares.iter().enumerate() {
            assert!(share.null_sender.is_none());
            assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
            let t = text(&share.transcript);
            assert_eq!(t.contains("User unknown"), i == 1, "{}:\n{t}", share.domain);
            assert_eq!(t.contains("Greylisted"), i == 2, "{}:\n{t}", share.domain);
            assert_eq!(
                applied(&facts, share).accepted_postmaster(),
                i == 0 || i == 3
            );
        }
        assert_own_evidence(&shares);
    }
}

#[tokio::test]
async fn refused_sender_at_mail_retries_every_domain_with_the_null_sender() {
    for pipelining in [true, false] {
        for refusal in [
            "553 5.1.8 sender address domain does not exist",
            "550 5.7.1 sender rejected",
        ] {
            let ds = names(&["a.example", "b.example"]);
            let special = move |line: &str| (line == OUR_MAIL).then(|| say(refusal));
            let (facts, session, server) =
                connect(&config(), GREETING, mta(pipelining, special)).await;
            let mut session = session.expect("ready");
            let shares = session.batch(&ds).await;
            assert!(session.is_alive());
            let seen = finish(Some(session), server).await;
            let case = format!("pipelining {pipelining}, {refusal}");

            if pipelining {
                // Both groups went out whole: ours, then the retry with <>.
                assert_eq!(
                    seen.chunks,
                    vec![
                        vec![EHLO.to_owned()],
                        group(OUR_MAIL, &ds, false),
                        group(NULL_MAIL, &ds, false),
                    ],
                    "{case}"
                );
                assert!(seen.early.is_empty(), "{case}: {seen:?}");
            } else {
                assert!(seen.one_at_a_time(), "{case}: {seen:?}");
                let mut all = vec![EHLO, OUR_MAIL, "RSET"];
                let retry = group(NULL_MAIL, &ds, false);
                all.extend(retry.iter().map(String::as_str));
                assert_eq!(seen.lines(), all, "{case}");
            }

            for (share, d) in shares.iter().zip(&ds) {
                let mail = share.mail.as_ref().unwrap();
                assert_eq!(mail.reply().unwrap().lines, vec![refusal.to_owned()]);
                // Pipelined, the recipient's reply (503) was read; otherwise it was never sent.
                let want = if pipelining { Some(503) } else { None };
                assert_eq!(code(share.rcpt.as_ref()), want, "{case}");
                let retry = share.null_sender.as_ref().expect("null-sender retry");
                assert_eq!(retry.mail.command, NULL_MAIL);
                assert!(retry.mail.accepted());
                let r = retry.rcpt.as_ref().expect("retry RCPT");
                assert_eq!((r.command.clone(), code(Some(r))), (rcpt(d), Some(250)));
                assert_eq!(
                    steps(&share.closing),
                    [("RSET", Some(250)), ("RSET", Some(250))]
                );
                assert!(text(&share.transcript).contains(RETRY_NOTE), "{case}");
                let f = applied(&facts, share);
                assert!(f.accepted_postmaster(), "{case}");
                assert_eq!(f.final_transaction().0.unwrap().command, NULL_MAIL);
            }
            assert_own_evidence(&shares);
        }
    }
}

/// Answers `RCPT TO:<postmaster@b.example>` with a refusal of our sender while our sender is
/// the transaction's; accepts it with `<>`.
fn refuses_our_sender_for_b() -> impl FnMut(&str) -> Option<Answer> + Send + 'static {
    let mut sender = String::new();
    move |line: &str| {
        if verb(line) == "MAIL" {
            arg(line).clone_into(&mut sender);
            return None;
        }
        (line == rcpt("b.example") && sender != "<>").then(|| {
            say("550 5.7.1 <postmaster@probe.example.test>: Sender address rejected: not owned by any user")
        })
    }
}

#[tokio::test]
async fn refused_sender_at_one_rcpt_retries_only_that_domain() {
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example"]);
        let (facts, session, server) = connect(
            &config(),
            GREETING,
            mta(pipelining, refuses_our_sender_for_b()),
        )
        .await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(session.is_alive());
        let seen = finish(Some(session), server).await;
        let only_b = names(&["b.example"]);
        if pipelining {
            assert_eq!(
                seen.chunks,
                vec![
                    vec![EHLO.to_owned()],
                    group(OUR_MAIL, &ds, false),
                    group(NULL_MAIL, &only_b, false),
                ]
            );
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            let mut all = vec![EHLO.to_owned()];
            all.extend(group(OUR_MAIL, &ds, false));
            all.extend(group(NULL_MAIL, &only_b, false));
            assert_eq!(seen.lines(), all);
        }
        assert_eq!(seen.count(&rcpt("a.example")), 1);
        assert_eq!(seen.count(&rcpt("c.example")), 1);
        assert_eq!(seen.count(&rcpt("b.example")), 2);

        for (i, share) in shares.iter().enumerate() {
            let t = text(&share.transcript);
            if i == 1 {
                assert_eq!(code(share.rcpt.as_ref()), Some(550));
                let retry = share.null_sender.as_ref().expect("b retried");
                assert_eq!(retry.mail.command, NULL_MAIL);
                assert_eq!(
                    retry.rcpt.as_ref().map(|r| r.command.clone()),
                    Some(rcpt("b.example"))
                );
                assert!(retry.accepted());
                assert_eq!(
                    steps(&share.closing),
                    [("RSET", Some(250)), ("RSET", Some(250))]
                );
                assert!(
                    t.contains(RETRY_NOTE) && t.contains("C: MAIL FROM:<>"),
                    "{t}"
                );
            } else {
                assert_eq!(code(share.rcpt.as_ref()), Some(250));
                assert!(share.null_sender.is_none(), "{}", share.domain);
                assert_eq!(steps(&share.closing), [("RSET", Some(250))]);
                assert!(!t.contains(RETRY_NOTE), "{}:\n{t}", share.domain);
            }
            assert!(applied(&facts, share).accepted_postmaster());
        }
        assert_own_evidence(&shares);
    }
}

/// The null-sender retry's `MAIL FROM:<>` and `RSET` lines belong to the domains retried only,
/// not to the others of the batch (whose facts show no retry and one `RSET`).
#[tokio::test]
async fn the_retry_is_not_in_the_evidence_of_domains_left_out_of_it() {
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (_facts, session, server) =
        connect(&config(), GREETING, mta(true, refuses_our_sender_for_b())).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    finish(Some(session), server).await;
    assert!(shares[1].null_sender.is_some());
    for share in [&shares[0], &shares[2]] {
        let t = text(&share.transcript);
        let rsets = dialogue(&share.transcript)
            .iter()
            .filter(|l| *l == "C: RSET")
            .count();
        assert!(
            !t.contains(NULL_MAIL) && rsets == share.closing.len(),
            "{} was not retried, yet its evidence shows the retry:\n{t}",
            share.domain
        );
    }
}

// ---- the connection ends in the middle ----

#[tokio::test]
async fn a_421_to_the_second_rcpt_ends_the_batch() {
    let bye = "421 4.7.0 mx.example.test Error: too many errors";
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example", "c.example", "d.example"]);
        let special = move |line: &str| (line == rcpt("b.example")).then(|| say(bye));
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(!session.is_alive(), "a 421 ends the session");
        assert!(!session.poll_alive());
        // Nothing more is sent: a later batch gets a note and no steps; QUIT is not sent.
        let later = session.batch(&names(&["e.example"])).await;
        assert!(later[0].mail.is_none());
        assert!(text(&later[0].transcript).contains("session is closed; no transaction"));
        let (quit, lines) = session.quit().await;
        assert!(quit.is_none(), "{quit:?}");
        assert!(dialogue(&lines).is_empty(), "{lines:?}");
        let seen = server.await.expect("server");

        if pipelining {
            assert_eq!(
                seen.chunks,
                vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
            );
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            assert_eq!(
                seen.lines(),
                [
                    EHLO,
                    OUR_MAIL,
                    rcpt("a.example").as_str(),
                    rcpt("b.example").as_str()
                ]
            );
        }

        for (i, share) in shares.iter().enumerate() {
            let t = text(&share.transcript);
            assert_eq!(code(share.mail.as_ref()), Some(250));
            assert!(share.closing.is_empty(), "no RSET after 421");
            assert!(share.null_sender.is_none());
            let r = share.rcpt.as_ref().expect("every domain has a RCPT step");
            assert_eq!(r.command, rcpt(&ds[i]));
            match i {
                0 => assert_eq!(code(Some(r)), Some(250)),
                1 => {
                    assert_eq!(r.reply().unwrap().lines, vec![bye.to_owned()]);
                    assert!(
                        t.contains("421: the server is closing the connection"),
                        "{t}"
                    );
                }
                _ => {
                    assert_eq!(r.outcome, StepOutcome::Closed, "{}", ds[i]);
                    assert!(t.contains(UNANSWERED_NOTE), "{t}");
                }
            }
            if i < 2 {
                assert!(!t.contains(UNANSWERED_NOTE), "{}:\n{t}", ds[i]);
            }
            assert_eq!(applied(&facts, share).accepted_postmaster(), i == 0);
        }
        assert_own_evidence(&shares);
    }
}

#[tokio::test]
async fn the_server_closing_without_an_answer_is_a_closed_mail() {
    for pipelining in [true, false] {
        let ds = names(&["a.example", "b.example"]);
        let special = |line: &str| (verb(line) == "MAIL").then_some(Answer::Close);
        let (facts, session, server) = connect(&config(), GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        assert!(!session.is_alive());
        let seen = finish(Some(session), server).await;
        if pipelining {
            // It read the whole group, then closed.
            assert_eq!(
                seen.chunks,
                vec![vec![EHLO.to_owned()], group(OUR_MAIL, &ds, false)]
            );
        } else {
            assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
        }
        for share in &shares {
            let mail = share.mail.as_ref().expect("MAIL step");
            assert_eq!(mail.command, OUR_MAIL);
            assert_eq!(mail.outcome, StepOutcome::Closed);
            // Pipelined, a drop cannot be pinned on MAIL: the facts say it was pipelined.
            assert_eq!(share.mail_pipelined, pipelining);
            assert!(share.rcpt.is_none() && share.closing.is_empty());
            assert!(share.null_sender.is_none());
            let t = text(&share.transcript);
            assert!(t.contains("the server closed the connection"), "{t}");
            assert!(!applied(&facts, share).accepted_postmaster());
        }
    }
}

// ---- hostile replies ----

#[tokio::test]
async fn a_reply_that_is_not_smtp_ends_the_session() {
    // At EHLO: an HTTP server on port 25.
    let special = |line: &str| {
        (verb(line) == "EHLO")
            .then(|| Answer::Raw(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n".to_vec()))
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().expect("EHLO step");
    assert!(
        is_broken(&ehlo.outcome, "not an SMTP reply line"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.helo.is_none() && facts.closing.is_empty());
    assert!(facts.transcript_text().contains("broken reply: "));
    assert_eq!(finish(session, server).await.lines(), [EHLO]);

    // Binary garbage to a pipelined MAIL.
    let special = |line: &str| {
        (verb(line) == "MAIL").then(|| Answer::Raw(b"\x00\xff\x13\x10binary\r\n".to_vec()))
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example", "b.example"])).await;
    assert!(!session.is_alive());
    finish(Some(session), server).await;
    for share in &shares {
        let mail = share.mail.as_ref().unwrap();
        assert!(
            is_broken(&mail.outcome, "not an SMTP reply line"),
            "{mail:?}"
        );
        assert!(share.rcpt.is_none() && share.closing.is_empty());
        assert!(!text(&share.transcript).contains('\0'));
    }
}

#[tokio::test]
async fn an_over_long_reply_line_ends_the_session() {
    // 2048 bytes with CRLF is the limit: a's reply is exactly that, b's one byte more.
    let longest = format!("250 {}", "x".repeat(2048 - 6));
    let too_long = format!("250 {}", "y".repeat(2048 - 5));
    assert_eq!((longest.len() + 2, too_long.len() + 2), (2048, 2049));
    let ds = names(&["a.example", "b.example", "c.example"]);
    let (a, b) = (longest.clone(), too_long.clone());
    let special = move |line: &str| {
        if line == rcpt("a.example") {
            Some(Answer::Say(a.clone()))
        } else if line == rcpt("b.example") {
            Some(Answer::Say(b.clone()))
        } else {
            None
        }
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    finish(Some(session), server).await;

    let a = shares[0].rcpt.as_ref().unwrap();
    assert_eq!(a.reply().unwrap().lines, vec![longest]);
    let b = shares[1].rcpt.as_ref().unwrap();
    assert!(
        is_broken(&b.outcome, "reply line longer than 2048 bytes"),
        "{:?}",
        b.outcome
    );
    assert_eq!(
        shares[2].rcpt.as_ref().unwrap().outcome,
        StepOutcome::Closed
    );
    assert!(shares.iter().all(|s| s.closing.is_empty()));
    // The flood is not in the evidence.
    assert!(!text(&shares[1].transcript).contains("yyyy"));
    assert!(text(&shares[2].transcript).contains(UNANSWERED_NOTE));
}

#[tokio::test]
async fn a_reply_code_changing_inside_a_multi_line_reply_ends_the_session() {
    // In the EHLO reply.
    let special = |line: &str| {
        (verb(line) == "EHLO").then(|| say("250-mx.example.test\n250-PIPELINING\n251 SIZE 1000"))
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().unwrap();
    assert!(
        is_broken(&ehlo.outcome, "reply code changed from 250 to 251"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.extensions.is_empty() && facts.helo.is_none());
    finish(session, server).await;

    // In the reply to MAIL, one command at a time.
    let special = |line: &str| {
        (verb(line) == "MAIL").then(|| say("250-2.1.0 sender ok\n550 5.7.1 changed my mind"))
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(false, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
    let mail = shares[0].mail.as_ref().unwrap();
    assert!(
        is_broken(&mail.outcome, "reply code changed from 250 to 550"),
        "{mail:?}"
    );
    assert!(shares[0].rcpt.is_none() && shares[0].closing.is_empty());
}

#[tokio::test]
async fn control_characters_and_invalid_utf8_are_sanitized() {
    let greeting = b"220 mx.example.test \x1b]0;pwned\x07 ESMTP\r\n";
    let special = |line: &str| {
        (line == rcpt("a.example")).then(|| {
            Answer::Raw(b"250 2.1.5 \x1b[31mred\x1b[0m \xff\xfe\x00ok\x07\tdone\r\n".to_vec())
        })
    };
    let ds = names(&["a.example", "b.example"]);
    let (facts, session, server) = connect(&config(), greeting, mta(true, special)).await;
    let g = facts.greeting.as_ref().unwrap();
    match &g.outcome {
        StepOutcome::Replied { reply } => {
            assert_eq!(reply.lines, vec!["220 mx.example.test ]0;pwned ESMTP"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(g.hostname.as_deref(), Some("mx.example.test"));
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(session.is_alive(), "sanitised, not broken");
    finish(Some(session), server).await;

    let a = shares[0].rcpt.as_ref().unwrap().reply().unwrap();
    assert_eq!(a.code, 250);
    assert_eq!(a.enhanced.as_deref(), Some("2.1.5"));
    assert_eq!(
        a.lines,
        vec!["250 2.1.5 [31mred[0m \u{fffd}\u{fffd}ok done"]
    );
    assert!(shares[1].rcpt.as_ref().unwrap().accepted());
    let all = facts
        .transcript
        .iter()
        .chain(shares.iter().flat_map(|s| &s.transcript));
    for line in all {
        assert!(!line.text.chars().any(char::is_control), "{:?}", line.text);
    }
    assert!(
        text(&shares[0].transcript).contains("S: 250 2.1.5 [31mred[0m \u{fffd}\u{fffd}ok done")
    );
}

#[tokio::test]
async fn an_endless_multi_line_reply_is_cut_off() {
    let flood = vec!["250-more"; 500].join("\n");
    let special = move |line: &str| (verb(line) == "EHLO").then(|| Answer::Say(flood.clone()));
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(session.is_none());
    let ehlo = facts.ehlo.as_ref().unwrap();
    assert!(
        is_broken(&ehlo.outcome, "longer than 100 lines"),
        "{:?}",
        ehlo.outcome
    );
    assert!(facts.transcript.len() < 20, "{}", facts.transcript_text());
    finish(session, server).await;
}

#[tokio::test]
async fn a_greeting_that_never_completes_times_out() {
    let mut cfg = config();
    cfg.greeting_timeout = Duration::from_millis(100);
    let greeting = b"220-mx.example.test ESMTP\r\n220-please wait";
    let (facts, session, server) = connect(&cfg, greeting, mta(true, |_| None)).await;
    assert!(session.is_none());
    let g = facts.greeting.as_ref().unwrap();
    assert_eq!(g.outcome, StepOutcome::TimedOut);
    assert!(g.hostname.is_none());
    assert!(facts.ehlo.is_none() && facts.closing.is_empty());
    assert!(
        facts.transcript_text().contains("no reply within 100 ms"),
        "{}",
        facts.transcript_text()
    );
    // Nothing was sent before the complete greeting, and nothing after giving up.
    let seen = finish(session, server).await;
    assert!(seen.chunks.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn a_reply_that_never_comes_times_out() {
    let mut cfg = config();
    // Long enough for the replies that do come, even on a loaded machine (real time).
    cfg.command_timeout = Duration::from_millis(500);
    // Pipelined: b's recipient is never answered.
    let ds = names(&["a.example", "b.example", "c.example"]);
    let special = |line: &str| (line == rcpt("b.example")).then_some(Answer::Ignore);
    let (_facts, session, server) = connect(&cfg, GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, false));
    assert!(shares[0].rcpt.as_ref().unwrap().accepted());
    assert_eq!(
        shares[1].rcpt.as_ref().unwrap().outcome,
        StepOutcome::TimedOut
    );
    assert!(text(&shares[1].transcript).contains("no reply within 500 ms"));
    assert_eq!(
        shares[2].rcpt.as_ref().unwrap().outcome,
        StepOutcome::Closed
    );
    assert!(text(&shares[2].transcript).contains(UNANSWERED_NOTE));

    // One at a time: MAIL is never answered; nothing else is sent.
    let special = |line: &str| (verb(line) == "MAIL").then_some(Answer::Ignore);
    let (_facts, session, server) = connect(&cfg, GREETING, mta(false, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert!(!session.is_alive());
    let seen = finish(Some(session), server).await;
    assert_eq!(seen.lines(), [EHLO, OUR_MAIL]);
    for share in &shares {
        assert_eq!(share.mail.as_ref().unwrap().outcome, StepOutcome::TimedOut);
        assert!(share.rcpt.is_none() && share.closing.is_empty());
    }
}

// ---- before MAIL ----

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo_without_pipelining() {
    let special = |line: &str| {
        (verb(line) == "EHLO").then(|| say("500 5.5.1 Command unrecognized: \"EHLO\""))
    };
    let ds = names(&["a.example", "b.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert_eq!(code(facts.ehlo.as_ref()), Some(500));
    let helo = facts.helo.as_ref().expect("HELO step");
    assert_eq!((helo.command.as_str(), code(Some(helo))), (HELO, Some(250)));
    assert!(facts.extensions.is_empty());
    let mut session = session.expect("ready after HELO");
    assert!(!session.pipelines());
    let shares = session.batch(&ds).await;
    let seen = finish(Some(session), server).await;
    assert!(seen.one_at_a_time(), "{seen:?}");
    let mut all = vec![EHLO.to_owned(), HELO.to_owned()];
    all.extend(group(OUR_MAIL, &ds, false));
    assert_eq!(seen.lines(), all);
    for share in &shares {
        assert!(!share.mail_pipelined);
        assert!(
            applied(&facts, share).accepted_postmaster(),
            "{}",
            share.domain
        );
    }
    assert_own_evidence(&shares);
}

#[tokio::test]
async fn refusals_before_mail_end_without_a_session() {
    // (greeting, EHLO reply, HELO reply, what the server must read)
    let cases: [(&[u8], &str, &str, &[&str]); 5] = [
        (b"554 5.7.1 no SMTP service here\r\n", "", "", &["QUIT"]),
        (b"421 4.3.2 try later\r\n", "", "", &[]),
        (GREETING, "421 4.3.2 shutting down", "", &[EHLO]),
        (GREETING, "451 4.3.0 try again later", "", &[EHLO, "QUIT"]),
        (
            GREETING,
            "550 5.7.1 go away",
            "504 5.5.2 <probe.example.test>: Helo command rejected: need fully-qualified hostname",
            &[EHLO, HELO, "QUIT"],
        ),
    ];
    for (greeting, ehlo, helo, wire) in cases {
        let special = move |line: &str| match verb(line).as_str() {
            "EHLO" if !ehlo.is_empty() => Some(say(ehlo)),
            "HELO" if !helo.is_empty() => Some(say(helo)),
            _ => None,
        };
        let (facts, session, server) = connect(&config(), greeting, mta(true, special)).await;
        let case = String::from_utf8_lossy(greeting).into_owned() + ehlo;
        assert!(session.is_none(), "{case}");
        assert!(facts.mail.is_none(), "{case}");
        let quit_sent = wire.contains(&"QUIT");
        assert_eq!(
            facts.closing.iter().any(|s| s.command == "QUIT"),
            quit_sent,
            "{case}"
        );
        let seen = finish(session, server).await;
        assert_eq!(seen.lines(), wire, "{case}");
        assert!(seen.one_at_a_time(), "{case}: {seen:?}");
    }
}

#[tokio::test]
async fn starttls_454_over_a_given_stream_ends_without_a_second_connection() {
    let special = |line: &str| match verb(line).as_str() {
        "EHLO" => Some(say(
            "250-mx.example.test\n250-PIPELINING\n250-STARTTLS\n250 ENHANCEDSTATUSCODES",
        )),
        "STARTTLS" => Some(say("454 4.7.0 TLS not available due to local problem")),
        _ => None,
    };
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    assert!(
        session.is_none(),
        "no reconnect possible over a given stream"
    );
    assert!(facts.advertises_starttls());
    let st = facts.starttls.as_ref().expect("STARTTLS step");
    assert_eq!(code(Some(&st.command)), Some(454));
    assert!(st.handshake.is_none() && st.ehlo.is_none());
    assert!(facts.retried_without_tls);
    assert!(facts.tls().is_none() && facts.mail.is_none());
    // The first connection's facts are kept; it was ended with QUIT.
    assert!(matches!(facts.connect, ConnectOutcome::Connected { .. }));
    assert_eq!(code(facts.ehlo.as_ref()), Some(250));
    assert_eq!(steps(&facts.closing), [("QUIT", Some(221))]);
    let t = facts.transcript_text();
    assert!(t.contains("no second connection on a given stream"), "{t}");
    assert!(t.contains("did not get ready for MAIL"), "{t}");
    let seen = finish(session, server).await;
    assert_eq!(seen.lines(), [EHLO, "STARTTLS", "QUIT"]);
}

/// Over a given stream our local address is unknown: the peer's address must not be taken for
/// ours, or a permanent refusal of `MAIL` that names the server's own address would be taken for
/// a refusal of our client and not retried with `<>`, as it is over TCP.
#[tokio::test]
async fn the_peer_address_is_not_taken_for_ours_over_a_given_stream() {
    let refusal = "550 5.7.0 mx.example.test [192.0.2.25]: message refused by policy";
    let special = move |line: &str| (line == OUR_MAIL).then(|| say(refusal));
    let (facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    let seen = finish(Some(session), server).await;
    // What decides it: with our real local address (loopback here, as over TCP from this
    // machine) the refusal is about nothing specific, and a 5xx to MAIL is retried with <>;
    // with the peer's address among ours it is about our client.
    let reply = shares[0].mail.as_ref().unwrap().reply().unwrap().clone();
    let us = |local: &str| Us {
        ips: vec![local.parse().unwrap()],
        names: vec!["probe.example.test".to_owned()],
        target: Some(peer().ip()),
        public_unknown: true,
    };
    assert_eq!(
        classify(&reply, Stage::Mail, &us("127.0.0.1")),
        About::Other
    );
    assert_eq!(
        classify(&reply, Stage::Mail, &us("192.0.2.25")),
        About::OurClient
    );
    let local = facts.local_addr().map(|a| a.ip());
    assert!(
        local != Some(peer().ip()) && shares[0].null_sender.is_some(),
        "recorded local address {local:?} (the peer's), null-sender retry sent: {}\n{}",
        seen.count(NULL_MAIL) > 0,
        facts.transcript_text()
    );
}

// ---- the open-relay test ----

#[tokio::test]
async fn the_relay_test_rides_in_the_group_and_reaches_every_share() {
    let denied = "554 5.7.1 <relay-test@mailcheck-relay-test.invalid>: Relay access denied";
    let mut cfg = config();
    cfg.open_relay_test = true;
    let ds = names(&["a.example", "b.example"]);
    for pipelining in [true, false] {
        let special = move |line: &str| (line == RELAY_RCPT).then(|| say(denied));
        let (facts, session, server) = connect(&cfg, GREETING, mta(pipelining, special)).await;
        let mut session = session.expect("ready");
        let shares = session.batch(&ds).await;
        let seen = finish(Some(session), server).await;
        if pipelining {
            assert_eq!(seen.chunks[1], group(OUR_MAIL, &ds, true));
        } else {
            assert!(seen.one_at_a_time(), "{seen:?}");
            assert_eq!(seen.lines()[1..], group(OUR_MAIL, &ds, true));
        }
        for share in &shares {
            let relay = share
                .relay_test
                .as_ref()
                .expect("relay step in every share");
            assert_eq!(relay.command, RELAY_RCPT);
            assert_eq!(relay.reply().unwrap().lines, vec![denied.to_owned()]);
            assert!(text(&share.transcript).contains(&format!("C: {RELAY_RCPT}")));
            assert!(applied(&facts, share).accepted_postmaster());
        }
        assert_own_evidence(&shares);
    }

    // Our sender refused at MAIL: the relay test is asked again in the <> group, and that is
    // the one every share keeps (the first answer, 503 without a transaction, means nothing).
    let special = {
        let mut in_null = false;
        move |line: &str| {
            if verb(line) == "MAIL" {
                in_null = line == NULL_MAIL;
            }
            match line {
                OUR_MAIL => Some(say("553 5.1.8 sender address domain does not exist")),
                RELAY_RCPT if in_null => Some(say(denied)),
                _ => None,
            }
        }
    };
    let (_facts, session, server) = connect(&cfg, GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    let seen = finish(Some(session), server).await;
    assert_eq!(
        seen.chunks[1..],
        [group(OUR_MAIL, &ds, true), group(NULL_MAIL, &ds, true)]
    );
    for share in &shares {
        assert!(share.null_sender.as_ref().unwrap().accepted());
        let relay = share
            .relay_test
            .as_ref()
            .expect("relay step from the retry");
        assert_eq!(code(Some(relay)), Some(554));
    }
}

// ---- unsafe domains ----

#[tokio::test]
async fn an_unsafe_domain_gets_no_transaction_and_the_others_are_served() {
    let ds = names(&["a.example", "bad>domain", "c.example"]);
    let (facts, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    assert_eq!(session.transactions(), 2);
    // A batch of nothing but unsafe names sends nothing.
    let evil = names(&["x.example>\r\nDATA", ""]);
    let none = session.batch(&evil).await;
    assert!(session.is_alive());
    assert_eq!(session.transactions(), 2);
    let seen = finish(Some(session), server).await;

    let served = names(&["a.example", "c.example"]);
    assert_eq!(
        seen.chunks,
        vec![vec![EHLO.to_owned()], group(OUR_MAIL, &served, false)]
    );
    assert!(
        !seen
            .lines()
            .iter()
            .any(|l| l.contains("bad") || l.contains("DATA"))
    );

    let bad = &shares[1];
    assert_eq!(bad.domain, "bad>domain");
    assert!(bad.mail.is_none() && bad.rcpt.is_none() && bad.relay_test.is_none());
    assert!(bad.closing.is_empty() && bad.null_sender.is_none());
    assert!(
        text(&bad.transcript)
            .contains("domain \"bad>domain\" is not a plain ASCII name; no transaction")
    );
    for share in [&shares[0], &shares[2]] {
        assert!(
            applied(&facts, share).accepted_postmaster(),
            "{}",
            share.domain
        );
        assert!(!text(&share.transcript).contains("bad>domain"));
    }
    assert!(text(&shares[0].transcript).contains("one transaction for 2 domains"));
    for (share, d) in none.iter().zip(&evil) {
        assert!(share.mail.is_none() && share.rcpt.is_none());
        assert!(
            text(&share.transcript).contains(&format!("domain {d:?} is not a plain ASCII name"))
        );
    }
    assert_own_evidence(&shares);
}

/// The lines of the transaction shared by the others (`MAIL`, `RSET`, their replies and the
/// "one transaction" note) are not in the evidence of an unsafe domain that had none.
#[tokio::test]
async fn an_unsafe_domain_shows_no_transaction_in_its_evidence() {
    let ds = names(&["a.example", "bad>domain"]);
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&ds).await;
    finish(Some(session), server).await;
    let bad = &shares[1];
    assert!(bad.mail.is_none());
    assert!(
        dialogue(&bad.transcript).is_empty(),
        "no transaction, yet its evidence shows one:\n{}",
        text(&bad.transcript)
    );
}

// ---- single transactions, reuse, QUIT ----

#[tokio::test]
async fn transactions_reuse_the_session_then_quit_gets_221() {
    let (base, session, server) = connect(&config(), GREETING, mta(true, |_| None)).await;
    let mut session = session.expect("ready");
    let mut facts = base.clone();
    session.transaction("a.example", &mut facts).await;
    assert_eq!(facts.rcpt_domain, "a.example");
    assert!(facts.accepted_postmaster() && facts.mail_pipelined);
    assert_eq!(steps(&facts.closing), [("RSET", Some(250))]);
    assert!(
        facts
            .transcript_text()
            .contains("C: RCPT TO:<postmaster@a.example>")
    );
    let shares = session.batch(&names(&["b.example", "c.example"])).await;
    assert!(shares.iter().all(|s| s.rcpt.as_ref().unwrap().accepted()));
    assert_eq!(session.transactions(), 3);
    assert!(session.poll_alive());

    let (quit, lines) = session.quit().await;
    let quit = quit.expect("QUIT step");
    assert_eq!(
        (quit.command.as_str(), code(Some(&quit))),
        ("QUIT", Some(221))
    );
    assert_eq!(dialogue(&lines), ["C: QUIT", "S: 221 2.0.0 Bye"]);
    assert!(
        lines
            .iter()
            .any(|l| l.who == Speaker::Note && l.text == "connection closed"),
        "{lines:?}"
    );
    let seen = server.await.expect("server");
    assert_eq!(seen.chunks.last().unwrap(), &vec!["QUIT".to_owned()]);
    assert_eq!(seen.chunks.len(), 4, "EHLO, two groups, QUIT: {seen:?}");
    assert!(seen.early.is_empty());
}

#[tokio::test]
async fn an_idle_session_notices_an_unasked_421_or_a_close() {
    // A 421 right behind the reply to RSET.
    let special = |line: &str| {
        (line == "RSET").then(|| {
            Answer::Raw(
                b"250 2.0.0 Ok\r\n421 4.4.2 mx.example.test Error: timeout exceeded\r\n".to_vec(),
            )
        })
    };
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert_eq!(steps(&shares[0].closing), [("RSET", Some(250))]);
    assert!(session.is_alive());
    assert!(!session.poll_alive(), "the unasked 421 is noticed");
    assert!(!session.is_alive());
    let (quit, _) = session.quit().await;
    assert!(quit.is_none());
    finish(None, server).await;

    // The server closes after answering RSET.
    let special =
        |line: &str| (line == "RSET").then(|| Answer::SayThenClose("250 2.0.0 Ok".into()));
    let (_facts, session, server) = connect(&config(), GREETING, mta(true, special)).await;
    let mut session = session.expect("ready");
    let shares = session.batch(&names(&["a.example"])).await;
    assert!(shares[0].rcpt.as_ref().unwrap().accepted());
    let seen = server.await.expect("server");
    assert!(!session.poll_alive(), "the close is noticed");
    let (quit, _) = session.quit().await;
    assert!(quit.is_none());
    assert_eq!(seen.count("QUIT"), 0);
}

// ---- the harness itself ----

/// The fake server catches a client that does not wait for its replies: commands written back
/// to back arrive in one read, and a command written while a reply is owed is `early`.
#[tokio::test]
async fn the_fake_server_catches_a_client_that_does_not_wait() {
    let mut replies = Vec::new();
    let (mut client, server) = serve(GREETING, mta(false, |_| None));
    client
        .write_all(b"EHLO x\r\nMAIL FROM:<>\r\nQUIT\r\n")
        .await
        .unwrap();
    client.read_to_end(&mut replies).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(seen.chunks, [["EHLO x", "MAIL FROM:<>", "QUIT"]]);
    assert!(!seen.one_at_a_time());

    let (mut client, server) = serve(GREETING, mta(false, |_| None));
    client.write_all(b"EHLO x\r\n").await.unwrap();
    // The server reads EHLO and holds its reply while the next commands go out.
    tokio::task::yield_now().await;
    client.write_all(b"MAIL FROM:<>\r\nQUIT\r\n").await.unwrap();
    client.read_to_end(&mut replies).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(seen.chunks, [vec!["EHLO x"], vec!["MAIL FROM:<>", "QUIT"]]);
    assert_eq!(seen.early, ["MAIL FROM:<>\r\nQUIT\r\n"]);
    assert!(!seen.one_at_a_time());
}
