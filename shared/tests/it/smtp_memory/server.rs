//! The fake SMTP server at the other end of the in-memory pipe: scripted answers per command
//! line, each read recorded as the lines it completed, bytes sent before their replies were
//! owed recorded as `early`; and a test that the harness catches such a client.

use super::*;

// ---- the fake server ----

/// Capacity of the in-memory pipe, and the fake server's read size: a whole pipelined group
/// always fits in one read.
const PIPE: usize = 64 * 1024;

/// How often the fake server yields to the client before checking for early bytes.
const YIELDS: usize = 16;

/// What the fake server does with one command line.
#[derive(Debug, Clone)]
pub(super) enum Answer {
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

pub(super) fn say(text: &str) -> Answer {
    Answer::Say(text.to_owned())
}

/// What the fake server read.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// One entry per read: the command lines it completed, CRLF removed.
    pub(super) chunks: Vec<Vec<String>>,
    /// Bytes that arrived while replies to an earlier read were still owed.
    pub(super) early: Vec<String>,
}

impl Seen {
    /// Every line, in order.
    pub(super) fn lines(&self) -> Vec<&str> {
        self.chunks.iter().flatten().map(String::as_str).collect()
    }

    pub(super) fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| **l == line).count()
    }

    /// Each command came in a read of its own, and only after the reply to the previous one.
    pub(super) fn one_at_a_time(&self) -> bool {
        self.early.is_empty() && self.chunks.iter().all(|c| c.len() == 1)
    }
}

/// The server's end of a fresh pipe: sends `greeting` (raw bytes: it may be incomplete), then
/// answers each command line with `respond`. The task returns what it read once the stream
/// ends (the client closed it, or the server did).
pub(super) fn serve(
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
pub(super) fn verb(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// What follows the first colon (`<a@b>` of `RCPT TO:<a@b>`).
pub(super) fn arg(line: &str) -> &str {
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
pub(super) fn mta(
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
