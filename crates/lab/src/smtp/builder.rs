//! [`SmtpServerBuilder`]: the options of a scriptable SMTP server (greeting, replies per
//! command, delays, drops, STARTTLS and its failures, hostile behaviours) and its start-up.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::conn::accept_loop;
use super::{Command, Counts, Hostile, SmtpServer, State, angle_address};

/// A function that computes a reply from a command's argument.
type ReplyFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Everything a server was built with; each connection reads it.
#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) bind: SocketAddr,
    pub(super) hostname: String,
    pub(super) greeting: Option<String>,
    pub(super) greeting_delay: Duration,
    pub(super) round_trip: Option<Duration>,
    pub(super) byte_delay: Duration,
    pub(super) ehlo_lines: Option<Vec<String>>,
    pub(super) extensions: Vec<String>,
    pub(super) advertise_starttls: Option<bool>,
    pub(super) replies: HashMap<Command, String>,
    pub(super) hooks: HashMap<Command, HookFn>,
    pub(super) delays: HashMap<Command, Duration>,
    pub(super) drop_after: HashSet<Command>,
    pub(super) tls: Option<Arc<ServerConfig>>,
    pub(super) tls_handshake_fails: bool,
    pub(super) tls_legacy_only: bool,
    pub(super) inject_after_starttls: Option<String>,
    pub(super) hostile: Option<Hostile>,
    pub(super) echo_client: Option<Option<IpAddr>>,
    pub(super) ehlo_in_tls: Option<String>,
    pub(super) rcpt_for_sender: Option<SenderHookFn>,
}

#[derive(Clone)]
pub(super) struct HookFn(pub(super) ReplyFn);

/// A RCPT reply that depends on the transaction's sender: `f(sender, recipient)`.
type SenderReplyFn = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

#[derive(Clone)]
pub(super) struct SenderHookFn(pub(super) SenderReplyFn);

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
    ///
    /// [`Transcript::discarded_after_starttls`]: super::Transcript::discarded_after_starttls
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
    ///
    /// [`Transcript::tls_error`]: super::Transcript::tls_error
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
