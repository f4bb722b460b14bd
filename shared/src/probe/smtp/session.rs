//! One SMTP session with one address: its state, opening and QUIT. The connect, greeting and
//! EHLO (HELO after a 5xx) are in [`super::establish`], commands and replies in
//! [`super::exchange`], STARTTLS in [`super::starttls`], transactions in
//! [`super::transaction`]. The session owns its transcript: every line it sends or receives is
//! logged, tagged with the domain it belongs to when several domains share a transaction, and
//! handed to the facts of whoever asked.
//!
//! A session talks over any [`Io`] stream: TCP (from [`Session::open`]) or a stream given by
//! the caller ([`Session::over`], in-memory duplex streams in tests).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::time::Instant;

use super::SmtpClient;
use super::command::Command;
use super::ehlo::has_ext;
use super::starttls::TlsOutcome;
use super::wire::{Io, Wire};
use crate::classify::Us;
use crate::facts::{ConnectOutcome, SmtpFacts, Step, StepOutcome, TlsFacts, TranscriptLine};

/// How long to wait for the 221 after QUIT at most.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// How a session gets its connections.
pub(super) enum Dial {
    /// TCP to the address, from the configured source address.
    Tcp,
    /// One stream given by the caller; a reconnect is not possible.
    Given(Option<Box<dyn Io>>),
}

/// Whose evidence a transcript line belongs to, when several domains share a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Tag {
    /// Everybody's: the connection, and notes about the session.
    #[default]
    All,
    /// One domain's (by its index in the batch): its recipient and the reply.
    One(usize),
    /// The domains of one command group (`MAIL`, `RSET`, the relay test of a group that not
    /// every domain of the batch is in).
    Group(Arc<[usize]>),
}

impl Tag {
    pub(super) fn includes(&self, i: usize) -> bool {
        match self {
            Self::All => true,
            Self::One(k) => *k == i,
            Self::Group(ks) => ks.contains(&i),
        }
    }
}

/// A transcript line, and whose evidence it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub(crate) tag: Tag,
    pub(crate) line: TranscriptLine,
}

/// An open SMTP session, ready for transactions (greeting and EHLO/HELO done, TLS when it
/// worked). Get one from [`Session::open`] (or [`Session::over`]); run
/// [`Session::transaction`] or [`Session::batch`]; end with [`Session::quit`].
pub struct Session {
    pub(super) client: SmtpClient,
    pub(super) ip: IpAddr,
    pub(super) port: u16,
    pub(super) host: String,
    pub(super) dial: Dial,
    pub(super) wire: Option<Wire>,
    /// When the first connect started; transcript times count from here.
    pub(super) t0: Instant,
    /// The current operation's deadline (`session_deadline` from its start).
    pub(super) deadline: Instant,
    pub(super) tls: bool,
    /// The server offers PIPELINING.
    pub(super) pipelining: bool,
    /// We may use it (off for a retry after an ambiguous drop).
    pub(super) pipelining_allowed: bool,
    /// Domains served on this session.
    pub(super) transactions: u32,
    /// Refusals (4xx/5xx replies) collected on this connection: servers count them against an
    /// error budget (Postfix `smtpd_soft_error_limit`).
    pub(super) errors: u32,
    pub(super) last_used: Instant,
    /// Lines not handed out yet.
    pub(super) log: Vec<Tagged>,
    /// The tag of lines logged now.
    pub(super) tag: Tag,
    pub(super) local_ip: Option<IpAddr>,
    pub(super) echoed: Option<IpAddr>,
    /// The certificate chain the server presented (DER, leaf first), to check it for other
    /// names of this address.
    pub(super) peer_chain: Vec<CertificateDer<'static>>,
    /// The fastest reply to a single command seen so far: the round trip to the server.
    pub(super) round_trip: Option<Duration>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("ip", &self.ip)
            .field("host", &self.host)
            .field("tls", &self.tls)
            .field("alive", &self.wire.is_some())
            .field("transactions", &self.transactions)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects to `ip` (port from the configuration), reads the complete greeting, says
    /// EHLO (HELO after a 5xx), and runs STARTTLS when advertised, reconnecting once without
    /// TLS when STARTTLS fails. Returns the connection-level facts, and the session when it is
    /// ready for transactions. `host` is the MX host name (SNI, certificate checks).
    pub async fn open(client: &SmtpClient, ip: IpAddr, host: &str) -> (SmtpFacts, Option<Self>) {
        let port = client.config().port;
        let session = Self::start(client, SocketAddr::new(ip, port), host, Dial::Tcp);
        session.ready().await
    }

    /// [`Session::open`] over a stream the caller connected (or an in-memory duplex):
    /// `peer` is what the facts record as the address. A failed STARTTLS cannot reconnect
    /// here; the facts say so.
    pub async fn over(
        client: &SmtpClient,
        stream: impl Io + 'static,
        peer: SocketAddr,
        host: &str,
    ) -> (SmtpFacts, Option<Self>) {
        let dial = Dial::Given(Some(Box::new(stream)));
        Self::start(client, peer, host, dial).ready().await
    }

    async fn ready(mut self) -> (SmtpFacts, Option<Self>) {
        let mut facts = SmtpFacts::new(&self.host, self.port, ConnectOutcome::Refused);
        let mut ready = self.establish(&mut facts).await;
        if ready && has_ext(&facts.extensions, "STARTTLS") {
            match self.starttls(&mut facts).await {
                TlsOutcome::Ready => {}
                TlsOutcome::Ended => ready = false,
                TlsOutcome::Retry => {
                    facts.retried_without_tls = true;
                    ready = self.retry_plain(&mut facts).await;
                }
            }
        }
        facts.elapsed_ms = ms_since(self.t0);
        facts.transcript = self.take_log();
        self.last_used = Instant::now();
        (facts, ready.then_some(self))
    }

    /// Connect, greeting, EHLO (HELO fallback) and QUIT: no TLS, no transaction. What the
    /// vantage check says to a canary: it shows whether port 25 opens from here, and the
    /// canary's EHLO reply echoes our public address.
    pub(crate) async fn hello_only(client: &SmtpClient, addr: SocketAddr, host: &str) -> SmtpFacts {
        let mut session = Self::start(client, addr, host, Dial::Tcp);
        let mut facts = SmtpFacts::new(host, addr.port(), ConnectOutcome::Refused);
        if session.establish(&mut facts).await {
            facts.closing.extend(session.quit_inner().await);
        }
        facts.elapsed_ms = ms_since(session.t0);
        facts.transcript = session.take_log();
        facts
    }

    fn start(client: &SmtpClient, addr: SocketAddr, host: &str, dial: Dial) -> Self {
        let t0 = Instant::now();
        Self {
            client: client.clone(),
            ip: addr.ip(),
            port: addr.port(),
            host: host.to_owned(),
            dial,
            wire: None,
            t0,
            deadline: t0 + client.config().session_deadline,
            tls: false,
            pipelining: false,
            pipelining_allowed: true,
            transactions: 0,
            errors: 0,
            last_used: t0,
            log: Vec::new(),
            tag: Tag::All,
            local_ip: None,
            echoed: None,
            peer_chain: Vec::new(),
            round_trip: None,
        }
    }

    /// The address.
    pub const fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The MX host name the session was opened for (SNI, certificate name).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Whether the connection is still usable (not closed, no 421, no timeout or broken reply).
    pub const fn is_alive(&self) -> bool {
        self.wire.is_some()
    }

    /// Checks, without waiting, that the idle connection is still open and quiet: a server that
    /// closed it, or sent something unasked (a `421` idle timeout), makes the session unusable.
    pub fn poll_alive(&mut self) -> bool {
        let quiet = self.wire.as_mut().is_some_and(Wire::poll_quiet);
        if !quiet {
            self.wire = None;
        }
        quiet
    }

    /// Whether the session runs inside TLS.
    pub const fn is_tls(&self) -> bool {
        self.tls
    }

    /// How many domains this session served.
    pub const fn transactions(&self) -> u32 {
        self.transactions
    }

    /// How many refusals (4xx/5xx replies) this session collected.
    pub const fn errors(&self) -> u32 {
        self.errors
    }

    /// Allows or forbids PIPELINING for the next transactions (when the server offers it).
    /// A retry after a connection dropped at a pipelined `MAIL`+`RCPT` goes one command at a
    /// time, so a drop after `MAIL` can be told apart.
    pub(crate) fn set_pipelining(&mut self, allowed: bool) {
        self.pipelining_allowed = allowed;
    }

    /// Whether the next transaction will be pipelined.
    pub const fn pipelines(&self) -> bool {
        self.pipelining && self.pipelining_allowed
    }

    /// The round trip to the server as this session measured it (the fastest reply to a
    /// single command), once one was answered.
    pub(crate) const fn round_trip(&self) -> Option<Duration> {
        self.round_trip
    }

    /// How long the session has been idle since its last operation.
    pub(crate) fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// The SHA-256 digests of the presented certificate chain, leaf first (empty without TLS).
    pub(crate) fn chain_digests(&self) -> Vec<String> {
        self.peer_chain
            .iter()
            .map(|c| crate::probe::tls::cert_facts(c).sha256)
            .collect()
    }

    /// The TLS facts of this session checked for another MX name of the same address: the
    /// recorded chain, with its problems for `name`. `None` without TLS.
    pub(crate) fn tls_for_name(&self, facts: &TlsFacts, name: &str) -> Option<TlsFacts> {
        let (leaf, rest) = self.peer_chain.split_first()?;
        let (verified_name, problems) = self.client.tls().check_chain(leaf, rest, name, self.ip);
        Some(TlsFacts {
            problems,
            verified_name,
            ..facts.clone()
        })
    }

    /// Who we are, as this conversation knows it.
    pub(super) fn us(&self) -> Us {
        let mut ips: Vec<IpAddr> = self.client.public_ips().to_vec();
        ips.extend(self.local_ip);
        ips.extend(self.echoed);
        Us {
            ips,
            names: vec![self.client.helo_name().to_owned()],
            target: Some(self.ip),
            public_unknown: self.client.public_ips().is_empty() && self.echoed.is_none(),
        }
    }

    /// Ends the session politely: `QUIT`, waiting briefly for the 221, then closes. Returns
    /// the QUIT step (none when the connection was already gone) and the lines logged since
    /// the last hand-out.
    pub async fn quit(mut self) -> (Option<Step>, Vec<TranscriptLine>) {
        let step = self.quit_inner().await;
        (step, self.take_log())
    }

    /// QUIT without recording anywhere (idle sessions nobody reads about any more).
    pub(crate) async fn quit_silently(self) {
        let _ = self.quit().await;
    }

    pub(super) async fn quit_inner(&mut self) -> Option<Step> {
        let mut step = None;
        if self.is_alive() {
            // QUIT gets its own short budget even when the session deadline has passed.
            self.deadline = self.deadline.max(Instant::now() + QUIT_WAIT);
            let wait = self.client.config().command_timeout.min(QUIT_WAIT);
            step = Some(self.command(Command::Quit, wait).await);
        }
        if let Some(wire) = self.wire.take() {
            wire.shutdown().await;
            self.note("connection closed".to_owned());
        }
        self.last_used = Instant::now();
        step
    }
}

pub(super) fn step(command: String, outcome: StepOutcome, sent: Instant) -> Step {
    Step {
        command,
        outcome,
        ms: ms_since(sent),
    }
}

pub(super) fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
