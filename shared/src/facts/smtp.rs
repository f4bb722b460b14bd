//! One SMTP conversation with one address: the TCP connect, each command and its reply, the
//! greeting, the null-sender retry and the transcript.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::{AddressLookups, StartTlsFacts, TlsFacts};

/// How a TCP connect ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// Connected.
    Connected {
        /// Our side of the connection (the prober's address).
        local: SocketAddr,
        /// How long the connect took.
        ms: u64,
    },
    /// RST: nothing listens.
    Refused,
    /// No answer within the connect timeout (a filter dropping SYNs).
    TimedOut {
        /// The timeout that expired.
        ms: u64,
    },
    /// No route / network unreachable / host unreachable.
    Unreachable {
        /// The OS's words.
        detail: String,
    },
    /// Another error (e.g. binding the source address failed).
    Error {
        /// The OS's words.
        detail: String,
    },
}

/// An SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (`5.7.1`) right after the code on the first line, if any.
    pub enhanced: Option<String>,
    /// The reply lines as received (code included), sanitised and bounded.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub const fn is_positive(&self) -> bool {
        self.code >= 200 && self.code < 300
    }

    /// 4xx.
    pub const fn is_transient(&self) -> bool {
        self.code >= 400 && self.code < 500
    }

    /// 5xx.
    pub const fn is_permanent(&self) -> bool {
        self.code >= 500 && self.code < 600
    }

    /// The text of all lines without the code prefixes, joined with spaces.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.get(4..).unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// All lines joined with ` / ` for one-line evidence.
    pub fn one_line(&self) -> String {
        self.lines.join(" / ")
    }
}

/// How one SMTP command ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepOutcome {
    /// A complete reply arrived.
    Replied {
        /// The reply.
        reply: Reply,
    },
    /// The server closed the connection instead of replying.
    Closed,
    /// No complete reply in time.
    TimedOut,
    /// The reply broke the protocol (too long, not a reply, garbage) or I/O failed.
    Broken {
        /// What was wrong.
        detail: String,
    },
}

/// One command and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The command as sent (without CRLF).
    pub command: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Milliseconds from sending the command to the end of the reply.
    pub ms: u64,
}

impl Step {
    /// The reply, if one arrived.
    pub const fn reply(&self) -> Option<&Reply> {
        match &self.outcome {
            StepOutcome::Replied { reply } => Some(reply),
            _ => None,
        }
    }

    /// Whether the reply was 2xx.
    pub fn accepted(&self) -> bool {
        self.reply().is_some_and(Reply::is_positive)
    }
}

/// The greeting, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Greeting {
    /// How reading the greeting ended.
    pub outcome: StepOutcome,
    /// Milliseconds from the completed TCP connect to the complete greeting (or to giving up).
    pub ms: u64,
    /// The greeting hostname (first word after the code), when it has one that looks like a name.
    pub hostname: Option<String>,
    /// The A/AAAA lookups of that hostname.
    pub hostname_lookups: Option<AddressLookups>,
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Speaker {
    /// Us.
    #[serde(rename = "C")]
    Client,
    /// The server.
    #[serde(rename = "S")]
    Server,
    /// A note of ours (connects, TLS, timeouts).
    #[serde(rename = "*")]
    Note,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Who.
    pub who: Speaker,
    /// Milliseconds since the connect started.
    pub at_ms: u64,
    /// The line (sanitised, bounded).
    pub text: String,
}

/// One SMTP conversation with one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpFacts {
    /// The port.
    pub port: u16,
    /// The MX host name this address belongs to (used for TLS name checks).
    pub host: String,
    /// The TCP connect.
    pub connect: ConnectOutcome,
    /// The greeting.
    pub greeting: Option<Greeting>,
    /// `EHLO <our name>`.
    pub ehlo: Option<Step>,
    /// `HELO <our name>`, sent when EHLO got 500/502.
    pub helo: Option<Step>,
    /// Extensions advertised in the last EHLO (keywords upper case, with parameters).
    pub extensions: Vec<String>,
    /// Our address as the server saw it, echoed in its EHLO/HELO reply (`Hello name [IP]`).
    #[serde(default)]
    pub echoed_ip: Option<IpAddr>,
    /// The STARTTLS step, when it was advertised.
    pub starttls: Option<StartTlsFacts>,
    /// After a failed STARTTLS the probe reconnects once without TLS, as senders do.
    pub retried_without_tls: bool,
    /// `MAIL FROM:<…>`.
    pub mail: Option<Step>,
    /// `MAIL FROM` went out in one write with `RCPT TO` (PIPELINING): a drop after it cannot be
    /// pinned on `MAIL`.
    #[serde(default)]
    pub mail_pipelined: bool,
    /// `RCPT TO:<postmaster@domain>`.
    pub rcpt: Option<Step>,
    /// The transaction retried with the null sender `<>` after our sender was refused.
    #[serde(default)]
    pub null_sender: Option<NullSenderRetry>,
    /// The domain whose postmaster was asked for.
    pub rcpt_domain: String,
    /// The open-relay test recipient, when enabled.
    pub relay_test: Option<Step>,
    /// `RSET`, `QUIT`.
    pub closing: Vec<Step>,
    /// The session was reused from an earlier domain's check (same address, same run).
    pub reused_session: bool,
    /// How many domains shared this transaction (one `MAIL FROM`, one `RCPT TO` each); 0 or 1:
    /// it was this domain's alone.
    #[serde(default)]
    pub transaction_domains: u32,
    /// The MX name the session was opened for, when it is not `host`: the address presented
    /// the same certificate chain for two of its names (it ignores SNI), so its names share
    /// sessions, and the certificate was checked for `host`.
    #[serde(default)]
    pub session_host: Option<String>,
    /// Earlier attempts that ended transiently (timeout, 4xx, drop) and were retried once after
    /// a back-off; what each saw, in order. These facts are of the last attempt.
    #[serde(default)]
    pub retried: Vec<String>,
    /// The whole conversation, `C:`/`S:` style.
    pub transcript: Vec<TranscriptLine>,
    /// Milliseconds the whole conversation took.
    pub elapsed_ms: u64,
}

impl SmtpFacts {
    /// A conversation that has not started.
    pub fn new(host: impl Into<String>, port: u16, connect: ConnectOutcome) -> Self {
        Self {
            port,
            host: host.into(),
            connect,
            greeting: None,
            ehlo: None,
            helo: None,
            extensions: Vec::new(),
            starttls: None,
            retried_without_tls: false,
            echoed_ip: None,
            mail: None,
            mail_pipelined: false,
            rcpt: None,
            null_sender: None,
            rcpt_domain: String::new(),
            relay_test: None,
            closing: Vec::new(),
            reused_session: false,
            transaction_domains: 0,
            session_host: None,
            retried: Vec::new(),
            transcript: Vec::new(),
            elapsed_ms: 0,
        }
    }

    /// The local address of the connection, if it connected.
    pub const fn local_addr(&self) -> Option<SocketAddr> {
        match &self.connect {
            ConnectOutcome::Connected { local, .. } => Some(*local),
            _ => None,
        }
    }

    /// Whether the recipient `postmaster@domain` was accepted (in a transaction whose
    /// `MAIL FROM` was accepted: a pipelined RCPT reply after a refused MAIL means nothing),
    /// with our sender or with the null sender.
    pub fn accepted_postmaster(&self) -> bool {
        let ours = self.mail.as_ref().is_some_and(Step::accepted)
            && self.rcpt.as_ref().is_some_and(Step::accepted);
        ours || self
            .null_sender
            .as_ref()
            .is_some_and(NullSenderRetry::accepted)
    }

    /// The `MAIL` and `RCPT` steps that decide the result: those of the null-sender retry when
    /// there was one, else ours.
    pub fn final_transaction(&self) -> (Option<&Step>, Option<&Step>) {
        match &self.null_sender {
            Some(retry) => (Some(&retry.mail), retry.rcpt.as_ref()),
            None => (self.mail.as_ref(), self.rcpt.as_ref()),
        }
    }

    /// Whether a `RCPT TO` reply arrived (with our sender or the null sender).
    pub fn reached_rcpt(&self) -> bool {
        let (_, rcpt) = self.final_transaction();
        rcpt.is_some_and(|r| r.reply().is_some())
            || self.rcpt.as_ref().is_some_and(|r| r.reply().is_some())
    }

    /// The TLS facts, if a handshake completed.
    pub fn tls(&self) -> Option<&TlsFacts> {
        self.starttls
            .as_ref()
            .and_then(|s| s.handshake.as_ref())
            .and_then(|h| h.as_ref().ok())
    }

    /// Whether STARTTLS was advertised (in the first EHLO).
    pub fn advertises_starttls(&self) -> bool {
        self.starttls.is_some()
            || self
                .extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case("STARTTLS"))
    }

    /// The transcript as text, one `C: `/`S: `/`* ` line each.
    pub fn transcript_text(&self) -> String {
        let mut out = String::new();
        for line in &self.transcript {
            let who = match line.who {
                Speaker::Client => "C: ",
                Speaker::Server => "S: ",
                Speaker::Note => "*  ",
            };
            out.push_str(who);
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }
}

/// A transaction retried with the null sender `<>` after our sender address was refused
/// (RFC 5321 §4.5.5 requires receivers to accept `<>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullSenderRetry {
    /// `MAIL FROM:<>`.
    pub mail: Step,
    /// `RCPT TO:<postmaster@domain>`, when `MAIL` was accepted.
    pub rcpt: Option<Step>,
}

impl NullSenderRetry {
    /// Whether `<>` and then postmaster were accepted.
    pub fn accepted(&self) -> bool {
        self.mail.accepted() && self.rcpt.as_ref().is_some_and(Step::accepted)
    }
}
