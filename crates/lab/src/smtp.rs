//! A scriptable SMTP server on loopback.
//!
//! By default it behaves like a small, strict MTA: a `220` greeting, `EHLO` with a few
//! extensions (and `STARTTLS` when a TLS configuration is set), `HELO`, `MAIL`, `RCPT`, `DATA`,
//! `RSET`, `NOOP`, `VRFY`, `QUIT`, STARTTLS, and `503` for commands out of sequence. Everything
//! can be overridden per command, per recipient, or replaced by a hostile behaviour. Each
//! connection is served by its own task; the server records what every client sent.
//!
//! Latency is modelled either per reply ([`SmtpServerBuilder::delay`],
//! [`SmtpServerBuilder::greeting_delay`]) or per packet exchange
//! ([`SmtpServerBuilder::round_trip`]: a pipelined group of commands costs one round trip). The
//! server counts connections, the most open at once, and reply writes ([`SmtpServer::exchanges`]).
//!
//! Replies are written as full reply lines; several lines are separated by `\n` (or `\r\n`), for
//! example `"250-first\n250 last"`. Every line goes out terminated by CRLF.
//!
//! The code, by job: the options and start-up in `builder`, one connection (greeting, command
//! loop, round trips) in `conn`, the replies in `reply`, the STARTTLS upgrade in `tls`, and the
//! TLS 1.0-only server's bytes in `legacy`.
//!
//! ```no_run
//! # async fn demo() {
//! use mailcheck_lab::smtp::{Command, SmtpServer};
//!
//! let smtp = SmtpServer::builder()
//!     .hostname("mx1.example.test")
//!     .rcpt_reply(|addr| {
//!         if addr.starts_with("postmaster@") {
//!             "250 2.1.5 Ok".to_owned()
//!         } else {
//!             "554 5.7.1 Relay access denied".to_owned()
//!         }
//!     })
//!     .reply(Command::Vrfy, "502 5.5.1 VRFY disabled")
//!     .build()
//!     .await;
//! let addr = smtp.addr();
//! # let _ = addr;
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio::task::JoinHandle;

mod builder;
mod conn;
mod legacy;
mod reply;
mod tls;

pub use builder::SmtpServerBuilder;

/// An SMTP command verb, as far as the server distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `HELO`
    Helo,
    /// `EHLO`
    Ehlo,
    /// `MAIL FROM:`
    Mail,
    /// `RCPT TO:`
    Rcpt,
    /// `DATA`
    Data,
    /// `RSET`
    Rset,
    /// `NOOP`
    Noop,
    /// `VRFY`
    Vrfy,
    /// `QUIT`
    Quit,
    /// `STARTTLS`
    StartTls,
    /// Anything else (answered `500 5.5.1 unknown` by default).
    Unknown,
}

impl Command {
    /// Splits a command line into its verb and the rest (arguments, trimmed).
    pub fn parse(line: &str) -> (Self, &str) {
        let line = line.trim_start();
        let (verb, args) = match line.find(' ') {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line.trim_end(), ""),
        };
        let command = match verb.to_ascii_uppercase().as_str() {
            "HELO" => Self::Helo,
            "EHLO" => Self::Ehlo,
            "MAIL" => Self::Mail,
            "RCPT" => Self::Rcpt,
            "DATA" => Self::Data,
            "RSET" => Self::Rset,
            "NOOP" => Self::Noop,
            "VRFY" => Self::Vrfy,
            "QUIT" => Self::Quit,
            "STARTTLS" => Self::StartTls,
            _ => Self::Unknown,
        };
        (command, args)
    }
}

/// A hostile server behaviour, replacing the normal session (or its greeting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// Sends the greeting one byte at a time, [`SmtpServerBuilder::byte_delay`] apart (default
    /// 10 ms), then serves normally.
    ByteAtATimeGreeting,
    /// Sends `220-` continuation lines forever (as fast as the client reads them).
    EndlessMultiline,
    /// Sends a greeting line of this many bytes (`220 ` then `a`s, then CRLF), then serves
    /// normally.
    HugeLine(usize),
    /// Sends 4 KiB of binary bytes (NULs, 0xFF, no SMTP code), then only listens.
    BinaryGarbage,
    /// Accepts and never sends anything; records what the client sends.
    Silence,
    /// Accepts and closes at once.
    CloseImmediately,
}

/// What the server recorded about one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transcript {
    /// The client's address.
    pub peer: SocketAddr,
    /// Every line the client sent, without the line ending, in order (DATA content included),
    /// before and after TLS.
    pub lines: Vec<String>,
    /// The index in `lines` of the first line received over TLS, if TLS was established.
    pub tls_from_line: Option<usize>,
    /// Whether the TLS handshake completed.
    pub tls: bool,
    /// Why the TLS handshake failed, if it was attempted and failed.
    pub tls_error: Option<String>,
    /// Bytes the client sent after `STARTTLS` in the same cleartext stream before the handshake
    /// (pipelined after STARTTLS); the server discards them, as it must.
    pub discarded_after_starttls: Vec<u8>,
    /// Whether the connection is over.
    pub closed: bool,
}

impl Transcript {
    fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            lines: Vec::new(),
            tls_from_line: None,
            tls: false,
            tls_error: None,
            discarded_after_starttls: Vec::new(),
            closed: false,
        }
    }

    /// The verbs of the lines the client sent (DATA content excluded).
    pub fn commands(&self) -> Vec<Command> {
        self.command_lines().map(|l| Command::parse(l).0).collect()
    }

    /// Whether the client sent this command.
    pub fn saw(&self, command: Command) -> bool {
        self.commands().contains(&command)
    }

    fn command_lines(&self) -> impl Iterator<Item = &str> {
        let mut in_data = false;
        self.lines.iter().filter_map(move |l| {
            if in_data {
                if l == "." {
                    in_data = false;
                }
                return None;
            }
            if Command::parse(l).0 == Command::Data {
                in_data = true;
            }
            Some(l.as_str())
        })
    }
}

/// The address between `<` and `>` in a MAIL/RCPT argument, or the text after the colon.
fn angle_address(args: &str) -> String {
    if let (Some(start), Some(end)) = (args.find('<'), args.find('>'))
        && start < end
    {
        return args[start + 1..end].to_owned();
    }
    args.split_once(':')
        .map_or(args, |(_, rest)| rest)
        .trim()
        .to_owned()
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    accepted: usize,
    closed: usize,
    /// Connections accepted whose session is not over yet (see [`Conn::release`]).
    ///
    /// [`Conn::release`]: conn::Conn::release
    open: usize,
    /// The most `open` ever was.
    max_open: usize,
}

#[derive(Debug)]
struct State {
    transcripts: Mutex<Vec<Transcript>>,
    counts: watch::Sender<Counts>,
    /// Writes of one or more replies (the greeting counts as one).
    exchanges: AtomicUsize,
}

impl State {
    fn with<R>(&self, id: usize, f: impl FnOnce(&mut Transcript) -> R) -> R {
        let mut all = self
            .transcripts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut all[id])
    }

    fn all(&self) -> Vec<Transcript> {
        self.transcripts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running scriptable SMTP server. It serves until dropped; dropping it closes every
/// connection.
pub struct SmtpServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Starts a builder for a well-behaved server.
    pub fn builder() -> SmtpServerBuilder {
        SmtpServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections the server accepted.
    pub fn connections(&self) -> usize {
        self.state.counts.borrow().accepted
    }

    /// The most connections that were open at the same time. A connection counts from its
    /// accept until the server received `QUIT` (or answered `421`, or dropped it, or the client
    /// closed it), so a client that sends `QUIT` and then opens the next session at once is
    /// not counted twice. One server is one address: this is the per-address session count.
    pub fn max_concurrent_connections(&self) -> usize {
        self.state.counts.borrow().max_open
    }

    /// How many times the server wrote replies to clients, over all connections: the greeting
    /// counts as one, and under [`round_trip`](SmtpServerBuilder::round_trip) the replies to a
    /// whole pipelined group count as one (otherwise every reply is one). The number of round
    /// trips the clients waited for, TLS handshakes excluded.
    pub fn exchanges(&self) -> usize {
        self.state.exchanges.load(Ordering::Relaxed)
    }

    /// The transcripts of all connections, in order of acceptance.
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.state.all()
    }

    /// The transcript of the `index`-th connection (0-based).
    pub fn transcript(&self, index: usize) -> Option<Transcript> {
        self.state.all().into_iter().nth(index)
    }

    /// The client addresses, one per connection, in order.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.state.all().iter().map(|t| t.peer).collect()
    }

    /// How many times `command` was received, over all connections.
    pub fn command_count(&self, command: Command) -> usize {
        self.state
            .all()
            .iter()
            .flat_map(Transcript::commands)
            .filter(|c| *c == command)
            .count()
    }

    /// Whether any client sent `command` (e.g. to assert that `DATA` never happens).
    pub fn saw_command(&self, command: Command) -> bool {
        self.command_count(command) > 0
    }

    /// Waits until at least `n` connections were accepted.
    pub async fn wait_for_connections(&self, n: usize) {
        let mut rx = self.state.counts.subscribe();
        let _ = rx.wait_for(|c| c.accepted >= n).await;
    }

    /// Waits until at least `n` connections are over (closed by either side), so their
    /// transcripts are complete.
    pub async fn wait_for_closed(&self, n: usize) {
        let mut rx = self.state.counts.subscribe();
        let _ = rx.wait_for(|c| c.closed >= n).await;
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::reply::wire;
    use super::*;

    #[test]
    fn parse_commands() {
        assert_eq!(
            Command::parse("mail FROM:<a@b>"),
            (Command::Mail, "FROM:<a@b>")
        );
        assert_eq!(Command::parse("STARTTLS"), (Command::StartTls, ""));
        assert_eq!(Command::parse("XYZZY 1"), (Command::Unknown, "1"));
        assert_eq!(
            angle_address("TO:<Postmaster@Example.Test> NOTIFY=NEVER"),
            "Postmaster@Example.Test"
        );
        assert_eq!(angle_address("TO: a@b"), "a@b");
        assert_eq!(wire("250-a\n250 b"), b"250-a\r\n250 b\r\n");
        assert_eq!(wire("250-a\r\n250 b"), b"250-a\r\n250 b\r\n");
    }

    #[test]
    fn transcript_commands_skip_data() {
        let mut t = Transcript::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)));
        t.lines = ["EHLO x", "DATA", "QUIT", ".", "QUIT"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(t.commands(), [Command::Ehlo, Command::Data, Command::Quit]);
    }
}
