//! One SMTP session with one address: connect, complete greeting, EHLO (HELO after a 5xx),
//! QUIT. STARTTLS is in [`super::starttls`], transactions in [`super::transaction`]. The
//! session owns its transcript: every line it sends or receives is logged, tagged with the
//! domain it belongs to when several domains share a transaction, and handed to the facts of
//! whoever asked.
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
use super::connect::{describe_connect, tcp_connect};
use super::ehlo::{extensions, greeting_hostname, has_ext};
use super::starttls::TlsOutcome;
use super::wire::{Io, Wire};
use crate::classify::{Us, echoed_ip};
use crate::facts::{
    ConnectOutcome, Greeting, SmtpFacts, Speaker, Step, StepOutcome, TlsFacts, TranscriptLine,
};

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
    fn includes(&self, i: usize) -> bool {
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
    t0: Instant,
    /// The current operation's deadline (`session_deadline` from its start).
    pub(super) deadline: Instant,
    pub(super) tls: bool,
    /// The server offers PIPELINING.
    pub(super) pipelining: bool,
    /// We may use it (off for a retry after an ambiguous drop).
    pipelining_allowed: bool,
    /// Domains served on this session.
    pub(super) transactions: u32,
    /// Refusals (4xx/5xx replies) collected on this connection: servers count them against an
    /// error budget (Postfix `smtpd_soft_error_limit`).
    errors: u32,
    last_used: Instant,
    /// Lines not handed out yet.
    log: Vec<Tagged>,
    /// The tag of lines logged now.
    pub(super) tag: Tag,
    local_ip: Option<IpAddr>,
    echoed: Option<IpAddr>,
    /// The certificate chain the server presented (DER, leaf first), to check it for other
    /// names of this address.
    pub(super) peer_chain: Vec<CertificateDer<'static>>,
    /// The fastest reply to a single command seen so far: the round trip to the server.
    round_trip: Option<Duration>,
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

    // ---- connection set-up ----

    /// A new stream: TCP, or the given one (once).
    async fn dial(&mut self, budget: Duration) -> (ConnectOutcome, Option<Box<dyn Io>>) {
        match &mut self.dial {
            Dial::Tcp => {
                let addr = SocketAddr::new(self.ip, self.port);
                let source = self.client.config().source_ip;
                let (outcome, stream) = tcp_connect(addr, source, budget).await;
                (outcome, stream.map(|s| Box::new(s) as Box<dyn Io>))
            }
            Dial::Given(stream) => match stream.take() {
                Some(stream) => {
                    // Our end of a given stream is unknown: unspecified, never the peer's.
                    let unknown = match self.ip {
                        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    };
                    let local = SocketAddr::new(unknown, 0);
                    (ConnectOutcome::Connected { local, ms: 0 }, Some(stream))
                }
                None => (
                    ConnectOutcome::Error {
                        detail: "no second connection on a given stream".to_owned(),
                    },
                    None,
                ),
            },
        }
    }

    /// Connect, greeting, EHLO (HELO fallback). True when ready for commands.
    pub(super) async fn establish(&mut self, facts: &mut SmtpFacts) -> bool {
        let cfg = self.client.config().clone();
        let addr = SocketAddr::new(self.ip, self.port);
        self.note(format!("connecting to {addr} ({})", self.host));
        let budget = cfg.connect_timeout.min(self.remaining());
        let (outcome, stream) = self.dial(budget).await;
        self.note(describe_connect(&outcome));
        if let ConnectOutcome::Connected { local, .. } = &outcome
            && !local.ip().is_unspecified()
        {
            self.local_ip = Some(local.ip());
        }
        facts.connect = outcome;
        let Some(stream) = stream else {
            return false;
        };
        self.wire = Some(Wire::new(stream));
        // Greeting delays count from the completed TCP connect.
        let start = Instant::now();

        // The complete greeting before anything is sent.
        let outcome = self.read_reply(cfg.greeting_timeout).await;
        let hostname = match &outcome {
            StepOutcome::Replied { reply } => greeting_hostname(reply),
            _ => None,
        };
        let code = reply_code(&outcome);
        facts.greeting = Some(Greeting {
            outcome,
            ms: ms_since(start),
            hostname,
            hostname_lookups: None,
        });
        match code {
            Some(220) => {}
            Some(421) | None => {
                self.drop_wire();
                return false;
            }
            Some(_) => {
                // 554 and friends: the server answers QUIT, so say goodbye properly.
                facts.closing.extend(self.quit_inner().await);
                return false;
            }
        }

        let helo_name = self.client.helo_name().to_owned();
        let ehlo = self
            .command(Command::Ehlo(helo_name.clone()), cfg.command_timeout)
            .await;
        let ehlo_code = ehlo.reply().map(|r| r.code);
        if let Some(reply) = ehlo.reply().filter(|r| r.is_positive()) {
            facts.extensions = extensions(reply);
            facts.echoed_ip = echoed_ip(reply);
            self.echoed = facts.echoed_ip;
            self.pipelining = has_ext(&facts.extensions, "PIPELINING");
        }
        facts.ehlo = Some(ehlo);
        match ehlo_code {
            Some(c) if (200..300).contains(&c) => true,
            // Any permanent refusal of EHLO: old servers answer 500/502, strict ones 5xx with
            // a reason; HELO is what a sender tries next.
            Some(500..=599) => {
                let helo = self
                    .command(Command::Helo(helo_name), cfg.command_timeout)
                    .await;
                let ok = helo.accepted();
                if let Some(reply) = helo.reply().filter(|r| r.is_positive()) {
                    facts.echoed_ip = echoed_ip(reply);
                    self.echoed = facts.echoed_ip;
                }
                facts.helo = Some(helo);
                facts.extensions.clear();
                self.pipelining = false;
                if !ok {
                    facts.closing.extend(self.quit_inner().await);
                }
                ok
            }
            _ => {
                facts.closing.extend(self.quit_inner().await);
                false
            }
        }
    }

    // ---- commands and replies ----

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

    fn drop_wire(&mut self) {
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

pub(super) fn step(command: String, outcome: StepOutcome, sent: Instant) -> Step {
    Step {
        command,
        outcome,
        ms: ms_since(sent),
    }
}

fn reply_code(outcome: &StepOutcome) -> Option<u16> {
    match outcome {
        StepOutcome::Replied { reply } => Some(reply.code),
        _ => None,
    }
}

pub(super) fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
