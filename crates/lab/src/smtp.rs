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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

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

/// A function that computes a reply from a command's argument.
type ReplyFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

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

#[derive(Debug, Clone)]
struct Config {
    bind: SocketAddr,
    hostname: String,
    greeting: Option<String>,
    greeting_delay: Duration,
    round_trip: Option<Duration>,
    byte_delay: Duration,
    ehlo_lines: Option<Vec<String>>,
    extensions: Vec<String>,
    advertise_starttls: Option<bool>,
    replies: HashMap<Command, String>,
    hooks: HashMap<Command, HookFn>,
    delays: HashMap<Command, Duration>,
    drop_after: HashSet<Command>,
    tls: Option<Arc<ServerConfig>>,
    tls_handshake_fails: bool,
    tls_legacy_only: bool,
    inject_after_starttls: Option<String>,
    hostile: Option<Hostile>,
    echo_client: Option<Option<IpAddr>>,
    ehlo_in_tls: Option<String>,
    rcpt_for_sender: Option<SenderHookFn>,
}

#[derive(Clone)]
struct HookFn(ReplyFn);

/// A RCPT reply that depends on the transaction's sender: `f(sender, recipient)`.
type SenderReplyFn = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

#[derive(Clone)]
struct SenderHookFn(SenderReplyFn);

impl fmt::Debug for SenderHookFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<rcpt-for-sender fn>")
    }
}

impl fmt::Debug for HookFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<reply fn>")
    }
}

/// Builds an [`SmtpServer`]. Start with [`SmtpServer::builder`].
#[derive(Debug, Clone)]
pub struct SmtpServerBuilder {
    cfg: Config,
}

impl Default for SmtpServerBuilder {
    fn default() -> Self {
        Self {
            cfg: Config {
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                hostname: "mx.example.test".to_owned(),
                greeting: None,
                greeting_delay: Duration::ZERO,
                round_trip: None,
                byte_delay: Duration::from_millis(10),
                ehlo_lines: None,
                extensions: vec![
                    "PIPELINING".to_owned(),
                    "SIZE 10240000".to_owned(),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ],
                advertise_starttls: None,
                replies: HashMap::new(),
                hooks: HashMap::new(),
                delays: HashMap::new(),
                drop_after: HashSet::new(),
                tls: None,
                tls_handshake_fails: false,
                tls_legacy_only: false,
                inject_after_starttls: None,
                hostile: None,
                echo_client: None,
                ehlo_in_tls: None,
                rcpt_for_sender: None,
            },
        }
    }
}

impl SmtpServerBuilder {
    /// Listens on this address instead of `127.0.0.1:0` (any `127.0.0.N` works on Linux).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.cfg.bind = addr;
        self
    }

    /// The host name used in the default greeting, HELO and EHLO replies
    /// (default `mx.example.test`).
    #[must_use]
    pub fn hostname(mut self, hostname: &str) -> Self {
        hostname.clone_into(&mut self.cfg.hostname);
        self
    }

    /// The greeting, as full reply lines (default `220 <hostname> ESMTP mailcheck-testkit`: the
    /// name predates `mailcheck-lab` and stays, as recorded fixtures and demo reports carry it).
    /// A greeting that starts with `421` is followed by closing the connection.
    #[must_use]
    pub fn greeting(mut self, text: &str) -> Self {
        self.cfg.greeting = Some(text.to_owned());
        self
    }

    /// Waits this long after accepting before sending the greeting.
    #[must_use]
    pub fn greeting_delay(mut self, delay: Duration) -> Self {
        self.cfg.greeting_delay = delay;
        self
    }

    /// Models a network round trip of `rtt` per packet exchange, instead of a delay per reply:
    ///
    /// - the greeting goes out one `rtt` after the accept (the TCP handshake and the greeting's
    ///   trip), after any [`greeting_delay`](Self::greeting_delay);
    /// - each time the server reads client input it answers **every complete command line
    ///   available in that read** (a pipelined group: `MAIL`, several `RCPT`s and `RSET`
    ///   written at once), computes all their replies, waits one `rtt`, then writes the replies
    ///   in one go: one [exchange](SmtpServer::exchanges). A line that arrives in pieces is
    ///   completed first; the complete lines read with its last piece join its group;
    /// - the TLS handshake after `STARTTLS` costs one more `rtt` (waited before the server
    ///   reads the ClientHello).
    ///
    /// `STARTTLS` ends a group: what follows it in the same cleartext read is never processed
    /// (it is recorded in [`Transcript::discarded_after_starttls`]). A group cut short by
    /// [`drop_after`](Self::drop_after), `QUIT` or a `421` reply has the replies before it
    /// written first. Per-command [`delay`](Self::delay)s still apply, on top. `rtt` may be
    /// zero: replies are then grouped without waiting (for tests counting exchanges).
    #[must_use]
    pub fn round_trip(mut self, rtt: Duration) -> Self {
        self.cfg.round_trip = Some(rtt);
        self
    }

    /// The pause between bytes for [`Hostile::ByteAtATimeGreeting`] (default 10 ms).
    #[must_use]
    pub fn byte_delay(mut self, delay: Duration) -> Self {
        self.cfg.byte_delay = delay;
        self
    }

    /// Replaces the whole EHLO reply by these full lines (e.g. `["250-mx1", "250 STARTTLS"]`),
    /// sent as they are before and after TLS.
    #[must_use]
    pub fn ehlo_lines<S: AsRef<str>>(mut self, lines: impl IntoIterator<Item = S>) -> Self {
        self.cfg.ehlo_lines = Some(lines.into_iter().map(|l| l.as_ref().to_owned()).collect());
        self
    }

    /// The EHLO extension keywords (default `PIPELINING`, `SIZE 10240000`, `8BITMIME`,
    /// `ENHANCEDSTATUSCODES`). `STARTTLS` is added on its own, see
    /// [`advertise_starttls`](Self::advertise_starttls).
    #[must_use]
    pub fn extensions<S: AsRef<str>>(mut self, extensions: impl IntoIterator<Item = S>) -> Self {
        self.cfg.extensions = extensions
            .into_iter()
            .map(|l| l.as_ref().to_owned())
            .collect();
        self
    }

    /// Whether the default EHLO reply advertises `STARTTLS` before TLS. By default it does when
    /// a TLS configuration, a STARTTLS reply, a handshake failure or an injection is configured.
    #[must_use]
    pub fn advertise_starttls(mut self, advertise: bool) -> Self {
        self.cfg.advertise_starttls = Some(advertise);
        self
    }

    /// A HELO-only server: EHLO is answered `502 5.5.1 Error: command not implemented`.
    #[must_use]
    pub fn helo_only(self) -> Self {
        self.reply(Command::Ehlo, "502 5.5.1 Error: command not implemented")
    }

    /// Always answers `command` with this reply (full lines), whatever the session state.
    /// A reply starting with `421` is followed by closing the connection. For
    /// [`Command::StartTls`], a `220` reply starts the TLS handshake.
    #[must_use]
    pub fn reply(mut self, command: Command, text: &str) -> Self {
        self.cfg.replies.insert(command, text.to_owned());
        self
    }

    /// Answers `command` with whatever `f` returns for the command's argument text (for example
    /// `FROM:<a@b> SIZE=10` for MAIL). Takes precedence over [`reply`](Self::reply).
    #[must_use]
    pub fn reply_with(
        mut self,
        command: Command,
        f: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.cfg.hooks.insert(command, HookFn(Arc::new(f)));
        self
    }

    /// Answers each `RCPT TO:` with `f(address)`, where `address` is what is between `<` and
    /// `>` (e.g. `postmaster@example.test`).
    #[must_use]
    pub fn rcpt_reply(self, f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.reply_with(Command::Rcpt, move |args| f(&angle_address(args)))
    }

    /// Waits this long before answering `command`.
    #[must_use]
    pub fn delay(mut self, command: Command, delay: Duration) -> Self {
        self.cfg.delays.insert(command, delay);
        self
    }

    /// Closes the connection right after receiving `command`, without replying.
    #[must_use]
    pub fn drop_after(mut self, command: Command) -> Self {
        self.cfg.drop_after.insert(command);
        self
    }

    /// Offers STARTTLS with this rustls configuration (see
    /// [`TestCert::server_config`](crate::certs::TestCert::server_config)).
    #[must_use]
    pub fn tls(mut self, config: impl Into<Arc<ServerConfig>>) -> Self {
        self.cfg.tls = Some(config.into());
        self
    }

    /// Answers STARTTLS with this reply (e.g. `454 4.7.0 TLS not available`), while still
    /// advertising it.
    #[must_use]
    pub fn starttls_reply(self, text: &str) -> Self {
        self.reply(Command::StartTls, text)
    }

    /// Answers STARTTLS with `220`, then aborts the handshake: reads the ClientHello, sends a
    /// fatal `handshake_failure` alert and closes.
    #[must_use]
    pub fn tls_handshake_fails(mut self) -> Self {
        self.cfg.tls_handshake_fails = true;
        self
    }

    /// A server that speaks only TLS 1.0, as an old MTA does: it advertises STARTTLS, answers
    /// `220`, reads the ClientHello (its own minimal TLS parser, independent of mailcheck's)
    /// and answers one TLS record, then closes:
    ///
    /// - a fatal `protocol_version` alert (level 2, description 70) to a hello from a modern
    ///   client, one whose supported_versions extension lists TLS 1.2 or 1.3 (`0x0303`,
    ///   `0x0304`, as rustls sends) or whose legacy_version is above TLS 1.2, and to an SSLv3
    ///   hello;
    /// - otherwise, to a hello whose maximum is TLS 1.0, 1.1 or 1.2 (legacy_version `0x0301` to
    ///   `0x0303`, no supported_versions), a ServerHello choosing TLS 1.0 (`0x0301`) with the
    ///   first offered of the classic CBC suites `0x002f`, `0x0035`, `0x000a`, `0xc013`,
    ///   `0xc014`, `0xc009`, `0xc00a`, `0x0033`, `0x0039` (a fatal `handshake_failure` alert if
    ///   none is offered): a TLS 1.0 server negotiates down to the version it has;
    /// - a fatal `decode_error` alert to anything that is not a ClientHello.
    ///
    /// What it answered is recorded in [`Transcript::tls_error`].
    #[must_use]
    pub fn tls_legacy_only(mut self) -> Self {
        self.cfg.tls_legacy_only = true;
        self
    }

    /// After STARTTLS, sends `220 2.0.0 Ready to start TLS` and these extra lines in the same
    /// segment (the STARTTLS command-injection pattern), then proceeds with the handshake if
    /// a TLS configuration is set (otherwise closes).
    #[must_use]
    pub fn inject_after_starttls(mut self, text: &str) -> Self {
        self.cfg.inject_after_starttls = Some(text.to_owned());
        self
    }

    /// Echoes the client's address in the EHLO/HELO reply, as Exim, Sendmail, Exchange and
    /// Gmail do: `250-<hostname> Hello <name> [<client IP>]`.
    #[must_use]
    pub fn echo_client(mut self) -> Self {
        self.cfg.echo_client = Some(None);
        self
    }

    /// Like [`echo_client`](Self::echo_client), but echoes `ip` whatever the client's address:
    /// what a server behind the prober's NAT would see (its public address).
    #[must_use]
    pub fn echo_as(mut self, ip: IpAddr) -> Self {
        self.cfg.echo_client = Some(Some(ip));
        self
    }

    /// Answers EHLO inside TLS with this reply (e.g. `554 5.5.1 Error: no valid recipients`),
    /// while EHLO before STARTTLS works.
    #[must_use]
    pub fn ehlo_in_tls_reply(mut self, text: &str) -> Self {
        self.cfg.ehlo_in_tls = Some(text.to_owned());
        self
    }

    /// Answers each `RCPT TO:` with `f(sender, recipient)`: the transaction's `MAIL FROM`
    /// address (empty for the null sender) and the recipient, both without angle brackets.
    /// How a stock Exim with `require verify = sender` behaves. Takes precedence over
    /// [`rcpt_reply`](Self::rcpt_reply).
    #[must_use]
    pub fn rcpt_reply_for_sender(
        mut self,
        f: impl Fn(&str, &str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.cfg.rcpt_for_sender = Some(SenderHookFn(Arc::new(f)));
        self
    }

    /// Replaces the normal behaviour by a hostile one.
    #[must_use]
    pub fn hostile(mut self, hostile: Hostile) -> Self {
        self.cfg.hostile = Some(hostile);
        self
    }

    /// Binds and starts serving.
    ///
    /// # Panics
    /// If the address cannot be bound; use [`try_build`](Self::try_build) to get the error.
    pub async fn build(self) -> SmtpServer {
        self.try_build().await.expect("bind the test SMTP server")
    }

    /// Binds and starts serving.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn try_build(self) -> io::Result<SmtpServer> {
        let listener = TcpListener::bind(self.cfg.bind).await?;
        let addr = listener.local_addr()?;
        let (counts, _) = watch::channel(Counts::default());
        let state = Arc::new(State {
            transcripts: Mutex::new(Vec::new()),
            counts,
            exchanges: AtomicUsize::new(0),
        });
        let cfg = Arc::new(self.cfg);
        let task = tokio::spawn(accept_loop(listener, cfg, Arc::clone(&state)));
        Ok(SmtpServer { addr, state, task })
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

async fn accept_loop(listener: TcpListener, cfg: Arc<Config>, state: Arc<State>) {
    let mut tasks = JoinSet::new();
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            // e.g. out of file descriptors: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while tasks.try_join_next().is_some() {}
        let id = {
            let mut all = state
                .transcripts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            all.push(Transcript::new(peer));
            all.len() - 1
        };
        state.counts.send_modify(|c| {
            c.accepted += 1;
            c.open += 1;
            c.max_open = c.max_open.max(c.open);
        });
        let conn = Conn {
            cfg: Arc::clone(&cfg),
            state: Arc::clone(&state),
            id,
            peer,
            released: AtomicBool::new(false),
        };
        tasks.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let _ = conn.serve(tcp).await;
            conn.release();
            conn.state.with(conn.id, |t| t.closed = true);
            conn.state.counts.send_modify(|c| c.closed += 1);
        });
    }
}

/// Turns reply text into wire format: every line CRLF-terminated.
fn wire(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    for line in text.split('\n') {
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn reply_code(text: &str) -> &str {
    text.get(..3).unwrap_or("")
}

enum Next {
    Close,
    StartTls,
}

#[derive(Default)]
struct Session {
    greeted: bool,
    mail: bool,
    sender: String,
    rcpts: usize,
}

struct Conn {
    cfg: Arc<Config>,
    state: Arc<State>,
    id: usize,
    peer: SocketAddr,
    /// Whether this connection no longer counts as open.
    released: AtomicBool,
}

impl Conn {
    /// The session is over (QUIT received, 421, dropped, closed): the connection no longer
    /// counts towards [`SmtpServer::max_concurrent_connections`]. Idempotent.
    fn release(&self) {
        if !self.released.swap(true, Ordering::Relaxed) {
            self.state.counts.send_modify(|c| c.open -= 1);
        }
    }

    /// Waits one round trip, under [`SmtpServerBuilder::round_trip`].
    async fn round_trip(&self) {
        if let Some(rtt) = self.cfg.round_trip
            && !rtt.is_zero()
        {
            tokio::time::sleep(rtt).await;
        }
    }

    fn count_exchange(&self) {
        self.state.exchanges.fetch_add(1, Ordering::Relaxed);
    }

    async fn serve(&self, mut tcp: TcpStream) -> io::Result<()> {
        if !self.cfg.greeting_delay.is_zero() {
            tokio::time::sleep(self.cfg.greeting_delay).await;
        }
        self.round_trip().await;
        let greeting = self
            .cfg
            .greeting
            .clone()
            .unwrap_or_else(|| format!("220 {} ESMTP mailcheck-testkit", self.cfg.hostname));
        match self.cfg.hostile {
            Some(Hostile::CloseImmediately) => return Ok(()),
            Some(Hostile::Silence) => return self.listen_only(tcp).await,
            Some(Hostile::EndlessMultiline) => {
                let line = format!("220-{} still greeting you\r\n", self.cfg.hostname);
                let chunk = line.repeat(64);
                loop {
                    tcp.write_all(chunk.as_bytes()).await?;
                }
            }
            Some(Hostile::BinaryGarbage) => {
                tcp.write_all(&garbage(4096)).await?;
                return self.listen_only(tcp).await;
            }
            Some(Hostile::HugeLine(n)) => {
                self.count_exchange();
                let mut line = Vec::with_capacity(n + 6);
                line.extend_from_slice(b"220 ");
                line.resize(n + 4, b'a');
                line.extend_from_slice(b"\r\n");
                tcp.write_all(&line).await?;
            }
            Some(Hostile::ByteAtATimeGreeting) => {
                self.count_exchange();
                for byte in wire(&greeting) {
                    tcp.write_all(&[byte]).await?;
                    tcp.flush().await?;
                    tokio::time::sleep(self.cfg.byte_delay).await;
                }
            }
            None => {
                self.count_exchange();
                tcp.write_all(&wire(&greeting)).await?;
                if reply_code(&greeting) == "421" {
                    return Ok(());
                }
            }
        }

        let mut plain = BufReader::new(tcp);
        match self.session(&mut plain, false).await? {
            Next::Close => return Ok(()),
            Next::StartTls => {}
        }
        let discarded = plain.buffer().to_vec();
        self.state
            .with(self.id, |t| t.discarded_after_starttls = discarded);
        let mut tcp = plain.into_inner();
        // The TLS handshake's round trip: the ClientHello waits in the socket meanwhile.
        self.round_trip().await;

        if self.cfg.tls_legacy_only {
            return self.legacy_tls(tcp).await;
        }
        if self.cfg.tls_handshake_fails {
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello).await?;
            // A TLS 1.2 record: fatal alert, handshake_failure.
            tcp.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                .await?;
            self.state.with(self.id, |t| {
                t.tls_error = Some("aborted by the server".to_owned());
            });
            return Ok(());
        }
        let Some(tls_config) = self.cfg.tls.clone() else {
            self.state.with(self.id, |t| {
                t.tls_error = Some("no TLS configuration".to_owned());
            });
            return Ok(());
        };
        let tls = match TlsAcceptor::from(tls_config).accept(tcp).await {
            Ok(tls) => tls,
            Err(e) => {
                self.state
                    .with(self.id, |t| t.tls_error = Some(e.to_string()));
                return Ok(());
            }
        };
        self.state.with(self.id, |t| {
            t.tls = true;
            t.tls_from_line = Some(t.lines.len());
        });
        let mut secure = BufReader::new(tls);
        self.session(&mut secure, true).await?;
        let _ = secure.shutdown().await;
        Ok(())
    }

    /// [`SmtpServerBuilder::tls_legacy_only`]: one answer to the ClientHello, then close.
    async fn legacy_tls(&self, mut tcp: TcpStream) -> io::Result<()> {
        let (answer, outcome) = match legacy::read_client_hello(&mut tcp).await? {
            Err(why) => (
                legacy::alert(legacy::DECODE_ERROR),
                format!("legacy TLS: not a ClientHello ({why}); sent a decode_error alert"),
            ),
            Ok(hello) => hello.answer(),
        };
        self.state.with(self.id, |t| t.tls_error = Some(outcome));
        tcp.write_all(&answer).await?;
        tcp.flush().await?;
        let _ = tcp.shutdown().await;
        Ok(())
    }

    /// Records whatever the client sends until it closes; never writes.
    async fn listen_only(&self, tcp: TcpStream) -> io::Result<()> {
        let mut reader = BufReader::new(tcp);
        while let Some(line) = self.read_line(&mut reader).await? {
            self.state.with(self.id, |t| t.lines.push(line));
        }
        Ok(())
    }

    /// Reads one line (without its line ending); `None` at end of stream.
    async fn read_line<S: AsyncRead + Unpin>(
        &self,
        reader: &mut BufReader<S>,
    ) -> io::Result<Option<String>> {
        let mut buf = Vec::new();
        if reader.read_until(b'\n', &mut buf).await? == 0 {
            return Ok(None);
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// Writes the replies in `out` (if any) as one exchange, one round trip after their
    /// commands were read under [`SmtpServerBuilder::round_trip`].
    async fn flush_replies<S: AsyncWrite + Unpin>(
        &self,
        io: &mut S,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        self.round_trip().await;
        self.count_exchange();
        io.write_all(out).await?;
        out.clear();
        io.flush().await
    }

    /// Whether the replies computed so far wait for more commands of the same group: under
    /// [`SmtpServerBuilder::round_trip`], while another complete line was already read.
    fn group_continues<S: AsyncRead>(&self, io: &BufReader<S>) -> bool {
        self.cfg.round_trip.is_some() && io.buffer().contains(&b'\n')
    }

    fn advertises_starttls(&self) -> bool {
        self.cfg.advertise_starttls.unwrap_or(
            self.cfg.tls.is_some()
                || self.cfg.replies.contains_key(&Command::StartTls)
                || self.cfg.tls_handshake_fails
                || self.cfg.tls_legacy_only
                || self.cfg.inject_after_starttls.is_some(),
        )
    }

    fn ehlo_reply(&self, args: &str, tls_active: bool) -> String {
        if let Some(lines) = &self.cfg.ehlo_lines {
            return lines.join("\n");
        }
        let mut items = vec![format!("{} Hello {args}{}", self.cfg.hostname, self.echo())];
        items.extend(self.cfg.extensions.iter().cloned());
        if !tls_active && self.advertises_starttls() {
            items.push("STARTTLS".to_owned());
        }
        let last = items.len() - 1;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("250{}{item}", if i == last { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// ` [<client IP>]` when echoing the client, else nothing.
    fn echo(&self) -> String {
        match self.cfg.echo_client {
            Some(Some(ip)) => format!(" [{ip}]"),
            Some(None) => format!(" [{}]", self.peer.ip()),
            None => String::new(),
        }
    }

    fn default_reply(&self, command: Command, args: &str, s: &Session, tls_active: bool) -> String {
        let host = &self.cfg.hostname;
        match command {
            Command::Helo => format!("250 {host}{}", self.echo()),
            Command::Ehlo => self.ehlo_reply(args, tls_active),
            Command::Mail if !s.greeted => "503 5.5.1 Error: send HELO/EHLO first".to_owned(),
            Command::Mail if s.mail => "503 5.5.1 Error: nested MAIL command".to_owned(),
            Command::Mail => "250 2.1.0 Ok".to_owned(),
            Command::Rcpt if !s.mail => "503 5.5.1 Error: need MAIL command".to_owned(),
            Command::Rcpt => "250 2.1.5 Ok".to_owned(),
            Command::Data if s.rcpts == 0 => "503 5.5.1 Error: need RCPT command".to_owned(),
            Command::Data => "354 End data with <CR><LF>.<CR><LF>".to_owned(),
            Command::Rset | Command::Noop => "250 2.0.0 Ok".to_owned(),
            Command::Vrfy => "252 2.0.0 Cannot VRFY user, but will accept message".to_owned(),
            Command::Quit => "221 2.0.0 Bye".to_owned(),
            Command::StartTls if tls_active => "503 5.5.1 Error: TLS already active".to_owned(),
            Command::StartTls if !self.advertises_starttls() => {
                "502 5.5.1 Error: command not implemented".to_owned()
            }
            Command::StartTls => "220 2.0.0 Ready to start TLS".to_owned(),
            Command::Unknown => "500 5.5.1 unknown".to_owned(),
        }
    }

    /// Serves commands until the client quits or closes, or STARTTLS succeeds.
    ///
    /// Replies collect in `out` and are written when no further complete line was read with
    /// the last one (under [`SmtpServerBuilder::round_trip`]) or at once (otherwise).
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufReader<S>,
        tls_active: bool,
    ) -> io::Result<Next> {
        let mut s = Session::default();
        let mut out = Vec::new();
        loop {
            if !self.group_continues(io) {
                self.flush_replies(io.get_mut(), &mut out).await?;
            }
            let Some(line) = self.read_line(io).await? else {
                return Ok(Next::Close);
            };
            let (command, args) = Command::parse(&line);
            let args = args.to_owned();
            self.state.with(self.id, |t| t.lines.push(line));
            if self.cfg.drop_after.contains(&command) {
                self.release();
                self.flush_replies(io.get_mut(), &mut out).await?;
                return Ok(Next::Close);
            }
            if let Some(delay) = self.cfg.delays.get(&command) {
                tokio::time::sleep(*delay).await;
            }
            let reply = if let (Command::Rcpt, Some(hook), true) =
                (command, &self.cfg.rcpt_for_sender, s.mail)
            {
                (hook.0)(&s.sender, &angle_address(&args))
            } else if let (Command::Ehlo, Some(text), true) =
                (command, &self.cfg.ehlo_in_tls, tls_active)
            {
                text.clone()
            } else if let Some(hook) = self.cfg.hooks.get(&command) {
                (hook.0)(&args)
            } else if let Some(text) = self.cfg.replies.get(&command) {
                text.clone()
            } else {
                self.default_reply(command, &args, &s, tls_active)
            };
            let code = reply_code(&reply).to_owned();
            let positive = code.starts_with('2');

            match command {
                Command::StartTls if code == "220" && !tls_active => {
                    // Whatever follows STARTTLS stays unread in `io` (discarded by the caller).
                    out.extend_from_slice(&wire(&reply));
                    if let Some(injected) = &self.cfg.inject_after_starttls {
                        out.extend_from_slice(&wire(injected));
                    }
                    self.flush_replies(io.get_mut(), &mut out).await?;
                    return Ok(Next::StartTls);
                }
                Command::Data if code == "354" => {
                    out.extend_from_slice(&wire(&reply));
                    self.flush_replies(io.get_mut(), &mut out).await?;
                    loop {
                        let Some(body) = self.read_line(io).await? else {
                            return Ok(Next::Close);
                        };
                        let end = body == ".";
                        self.state.with(self.id, |t| t.lines.push(body));
                        if end {
                            break;
                        }
                    }
                    s.mail = false;
                    s.rcpts = 0;
                    out.extend_from_slice(&wire("250 2.0.0 Ok: queued as TESTKIT"));
                    continue;
                }
                Command::Helo | Command::Ehlo if positive => {
                    s = Session {
                        greeted: true,
                        ..Session::default()
                    }
                }
                Command::Mail if positive => {
                    s.mail = true;
                    s.sender = angle_address(&args);
                }
                Command::Rcpt if positive => s.rcpts += 1,
                Command::Rset if positive => {
                    s.mail = false;
                    s.rcpts = 0;
                }
                _ => {}
            }
            out.extend_from_slice(&wire(&reply));
            if command == Command::Quit || code == "421" {
                self.release();
                self.flush_replies(io.get_mut(), &mut out).await?;
                return Ok(Next::Close);
            }
        }
    }
}

/// The TLS bytes of [`SmtpServerBuilder::tls_legacy_only`]: reading a ClientHello and writing
/// the one record a TLS 1.0-only server answers.
mod legacy {
    use std::io;

    use tokio::io::{AsyncRead, AsyncReadExt};

    const HANDSHAKE: u8 = 22;
    const ALERT: u8 = 21;
    const CLIENT_HELLO: u8 = 1;
    const SERVER_HELLO: u8 = 2;
    const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub(super) const DECODE_ERROR: u8 = 50;
    const PROTOCOL_VERSION: u8 = 70;
    const HANDSHAKE_FAILURE: u8 = 40;
    const TLS10: u16 = 0x0301;
    /// The most ClientHello bytes read (a hello is a few hundred bytes).
    const MAX_HELLO: usize = 64 * 1024;
    /// The suites this server accepts, in its order of preference.
    const CBC_SUITES: [u16; 9] = [
        0x002f, 0x0035, 0x000a, 0xc013, 0xc014, 0xc009, 0xc00a, 0x0033, 0x0039,
    ];

    /// What the server looks at in a ClientHello.
    #[derive(Debug)]
    pub(super) struct ClientHello {
        legacy_version: u16,
        suites: Vec<u16>,
        supported_versions: Vec<u16>,
    }

    impl ClientHello {
        /// The record to send back, and what happened in words.
        pub(super) fn answer(&self) -> (Vec<u8>, String) {
            let offered = format!(
                "legacy_version 0x{:04x}, supported_versions {:04x?}",
                self.legacy_version, self.supported_versions
            );
            let modern = self.legacy_version > 0x0303
                || self
                    .supported_versions
                    .iter()
                    .any(|v| matches!(v, 0x0303 | 0x0304));
            if modern || self.legacy_version < TLS10 {
                return (
                    alert(PROTOCOL_VERSION),
                    format!(
                        "legacy TLS: refused a hello ({offered}) with a protocol_version alert"
                    ),
                );
            }
            match CBC_SUITES.iter().find(|s| self.suites.contains(s)) {
                Some(&suite) => (
                    server_hello(suite),
                    format!(
                        "legacy TLS: answered a hello ({offered}) with a TLS 1.0 ServerHello, \
                         cipher suite 0x{suite:04x}"
                    ),
                ),
                None => (
                    alert(HANDSHAKE_FAILURE),
                    format!(
                        "legacy TLS: no common cipher suite in a hello ({offered}); sent a \
                         handshake_failure alert"
                    ),
                ),
            }
        }
    }

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 0x03, 0x01];
        let len = u16::try_from(payload.len()).expect("a small record");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// A fatal alert record.
    pub(super) fn alert(description: u8) -> Vec<u8> {
        record(ALERT, &[2, description])
    }

    /// A ServerHello choosing TLS 1.0 and `suite`: a fixed random, no session id, null
    /// compression, no extensions.
    fn server_hello(suite: u16) -> Vec<u8> {
        let mut body = TLS10.to_be_bytes().to_vec();
        body.extend((0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c));
        body.push(0);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        let mut msg = vec![SERVER_HELLO, 0, 0, u8::try_from(body.len()).expect("short")];
        msg.extend_from_slice(&body);
        record(HANDSHAKE, &msg)
    }

    /// Reads handshake records until a whole ClientHello message is there. `Ok(Err(why))` for
    /// anything else (including the client closing early).
    pub(super) async fn read_client_hello<S: AsyncRead + Unpin>(
        io: &mut S,
    ) -> io::Result<Result<ClientHello, String>> {
        let mut message = Vec::new();
        loop {
            let mut header = [0u8; 5];
            if let Err(e) = io.read_exact(&mut header).await {
                return if e.kind() == io::ErrorKind::UnexpectedEof {
                    Ok(Err(
                        "the client closed before a whole ClientHello".to_owned()
                    ))
                } else {
                    Err(e)
                };
            }
            if header[0] != HANDSHAKE || header[1] != 3 {
                return Ok(Err(format!("a record header {header:02x?}")));
            }
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            if len == 0 || len > 16_384 || message.len() + len > MAX_HELLO {
                return Ok(Err(format!("a handshake record of {len} bytes")));
            }
            let start = message.len();
            message.resize(start + len, 0);
            if let Err(e) = io.read_exact(&mut message[start..]).await {
                return if e.kind() == io::ErrorKind::UnexpectedEof {
                    Ok(Err("the client closed inside a record".to_owned()))
                } else {
                    Err(e)
                };
            }
            if message.len() >= 4 {
                if message[0] != CLIENT_HELLO {
                    return Ok(Err(format!("handshake message type {}", message[0])));
                }
                let body_len = usize::from(message[1]) << 16
                    | usize::from(message[2]) << 8
                    | usize::from(message[3]);
                if 4 + body_len > MAX_HELLO {
                    return Ok(Err(format!("a ClientHello of {body_len} bytes")));
                }
                if message.len() >= 4 + body_len {
                    return Ok(parse(&message[4..4 + body_len]));
                }
            }
        }
    }

    /// A bounds-checked reader over a byte slice.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
            if n > self.0.len() {
                return Err(format!("the ClientHello ends inside its {what}"));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }

        fn u8(&mut self, what: &str) -> Result<u8, String> {
            Ok(self.bytes(1, what)?[0])
        }

        fn u16(&mut self, what: &str) -> Result<u16, String> {
            let b = self.bytes(2, what)?;
            Ok(u16::from_be_bytes([b[0], b[1]]))
        }
    }

    fn u16s(bytes: &[u8]) -> Vec<u16> {
        bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect()
    }

    /// Parses a ClientHello body (after the 4-byte handshake header).
    fn parse(body: &[u8]) -> Result<ClientHello, String> {
        let mut r = Reader(body);
        let legacy_version = r.u16("version")?;
        r.bytes(32, "random")?;
        let n = usize::from(r.u8("session id length")?);
        r.bytes(n, "session id")?;
        let n = usize::from(r.u16("cipher suites length")?);
        let suites = u16s(r.bytes(n, "cipher suites")?);
        let n = usize::from(r.u8("compression methods length")?);
        r.bytes(n, "compression methods")?;
        let mut supported_versions = Vec::new();
        if !r.0.is_empty() {
            let n = usize::from(r.u16("extensions length")?);
            let mut ext = Reader(r.bytes(n, "extensions")?);
            while !ext.0.is_empty() {
                let kind = ext.u16("extension type")?;
                let n = usize::from(ext.u16("extension length")?);
                let data = ext.bytes(n, "extension")?;
                if kind == SUPPORTED_VERSIONS {
                    let mut sv = Reader(data);
                    let n = usize::from(sv.u8("supported_versions length")?);
                    supported_versions = u16s(sv.bytes(n, "supported_versions")?);
                }
            }
        }
        Ok(ClientHello {
            legacy_version,
            suites,
            supported_versions,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn hello(version: u16, suites: &[u16], supported: &[u16]) -> Vec<u8> {
            let mut b = version.to_be_bytes().to_vec();
            b.extend_from_slice(&[7; 32]);
            b.push(0);
            b.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
            for s in suites {
                b.extend_from_slice(&s.to_be_bytes());
            }
            b.extend_from_slice(&[1, 0]);
            if !supported.is_empty() {
                let n = u8::try_from(supported.len() * 2).unwrap();
                let mut ext = vec![0x00, 0x2b, 0, n + 1, n];
                for v in supported {
                    ext.extend_from_slice(&v.to_be_bytes());
                }
                b.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
                b.extend_from_slice(&ext);
            }
            b
        }

        fn answer(body: &[u8]) -> Vec<u8> {
            parse(body).unwrap().answer().0
        }

        #[test]
        fn answers() {
            let tls10 = [0x16, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1];
            let a = answer(&hello(0x0301, &[0xc02f, 0x0035, 0x002f], &[]));
            assert_eq!(a[..11], tls10);
            assert_eq!(a[a.len() - 3..], [0x00, 0x2f, 0], "first in our preference");
            let a = answer(&hello(0x0303, &[0x000a], &[]));
            assert_eq!(a[..11], tls10);
            assert_eq!(a[a.len() - 3..a.len() - 1], [0x00, 0x0a]);
            let protocol_version = [0x15, 3, 1, 0, 2, 2, 70];
            assert_eq!(
                answer(&hello(0x0303, &[0x002f], &[0x0304, 0x0303])),
                protocol_version
            );
            assert_eq!(
                answer(&hello(0x0301, &[0x002f], &[0x0303])),
                protocol_version
            );
            assert_eq!(answer(&hello(0x0304, &[0x002f], &[])), protocol_version);
            assert_eq!(answer(&hello(0x0300, &[0x002f], &[])), protocol_version);
            assert_eq!(
                answer(&hello(0x0301, &[0xc02f], &[])),
                [0x15, 3, 1, 0, 2, 2, 40]
            );
        }

        #[test]
        fn truncated_hellos_are_errors() {
            let full = hello(0x0303, &[0x002f, 0x0035], &[0x0304]);
            assert!(parse(&full).is_ok());
            for cut in 0..full.len() {
                // Right after the compression methods, a hello without extensions is valid.
                if cut == 2 + 32 + 1 + 2 + 4 + 2 {
                    continue;
                }
                assert!(parse(&full[..cut]).is_err(), "{cut}");
            }
        }
    }
}

/// Deterministic binary junk: NULs, 0xFF, high bytes, a few line feeds, no SMTP code.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match i % 97 {
                0 => 0x00,
                1 => 0xff,
                50 => b'\n',
                _ => (x >> 24) as u8 | 0x80,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
