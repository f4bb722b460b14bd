//! One SMTP conversation with one address: connect, greeting, EHLO/HELO, STARTTLS, then one
//! transaction (MAIL, RCPT, optional relay test, RSET) per domain, and QUIT. Every step is
//! recorded in [`SmtpFacts`]; nothing here decides what is wrong.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::SmtpClient;
use super::reply::{Parsed, ReplyParser, truncate};
use crate::classify::{About, Stage, Us, classify, echoed_ip};
use crate::facts::{
    ConnectOutcome, Greeting, LegacyTlsProbe, Reply, SmtpFacts, Speaker, StartTlsFacts, Step,
    StepOutcome, TranscriptLine,
};

/// How long to wait for the 221 after QUIT at most.
const QUIT_WAIT: Duration = Duration::from_secs(5);
/// Read size; also the most unparsed bytes held beyond the parser's own caps.
const READ_CHUNK: usize = 4096;

/// Anything a session can talk over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection with its unparsed input.
struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Conn {
    fn new(io: Box<dyn Io>) -> Self {
        Self {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            parser: ReplyParser::default(),
        }
    }
}

/// An open SMTP session, ready for transactions (greeting and EHLO/HELO done, TLS when it
/// worked). Get one from [`Session::open`]; run [`Session::transaction`] once per domain; end
/// with [`Session::quit`].
#[derive(Debug)]
pub struct Session {
    client: SmtpClient,
    ip: IpAddr,
    port: u16,
    host: String,
    conn: Option<Conn>,
    /// When the connect started; transcript times count from here.
    t0: Instant,
    /// The current operation's deadline (`session_deadline` from its start).
    deadline: Instant,
    tls: bool,
    /// The server offers PIPELINING.
    pipelining: bool,
    /// We may use it (off for a retry after an ambiguous drop).
    pipelining_allowed: bool,
    transactions: u32,
    /// Refusals (4xx/5xx replies) collected on this connection: servers count them against an
    /// error budget (Postfix `smtpd_soft_error_limit`).
    errors: u32,
    last_used: Instant,
}

/// How STARTTLS went.
enum TlsOutcome {
    /// TLS is up and EHLO inside it worked.
    Ready,
    /// The conversation is over (after TLS the server refused EHLO, or sent 421).
    Ended,
    /// The command, the handshake or the EHLO inside TLS failed: reconnect without TLS.
    Retry,
}

impl Session {
    /// Connects to `ip` (port from the configuration), reads the complete greeting, says
    /// EHLO (HELO on 500/502), and runs STARTTLS when advertised, reconnecting once without
    /// TLS when STARTTLS fails. Returns the connection-level facts, and the session when it is
    /// ready for [`Session::transaction`]. `host` is the MX host name (SNI, certificate checks).
    pub async fn open(client: &SmtpClient, ip: IpAddr, host: &str) -> (SmtpFacts, Option<Self>) {
        let port = client.config().port;
        let (mut facts, mut session) = Self::start(client, SocketAddr::new(ip, port), host);
        let t0 = session.t0;
        let mut ready = session.establish(&mut facts).await;
        if ready && has_ext(&facts.extensions, "STARTTLS") {
            match session.starttls(&mut facts).await {
                TlsOutcome::Ready => {}
                TlsOutcome::Ended => ready = false,
                TlsOutcome::Retry => {
                    facts.retried_without_tls = true;
                    ready = session.retry_plain(&mut facts).await;
                }
            }
        }
        facts.elapsed_ms = ms_since(t0);
        session.last_used = Instant::now();
        (facts, ready.then_some(session))
    }

    /// Connect, greeting, EHLO (HELO fallback) and QUIT: no TLS, no transaction. What the
    /// vantage check says to a canary: it shows whether port 25 opens from here, and the
    /// canary's EHLO reply echoes our public address.
    pub async fn hello_only(client: &SmtpClient, addr: SocketAddr, host: &str) -> SmtpFacts {
        let (mut facts, mut session) = Self::start(client, addr, host);
        if session.establish(&mut facts).await {
            session.quit_inner(&mut facts).await;
        }
        facts.elapsed_ms = ms_since(session.t0);
        facts
    }

    fn start(client: &SmtpClient, addr: SocketAddr, host: &str) -> (SmtpFacts, Self) {
        let cfg = client.config();
        let t0 = Instant::now();
        let facts = SmtpFacts::new(host, addr.port(), ConnectOutcome::Refused);
        let session = Self {
            client: client.clone(),
            ip: addr.ip(),
            port: addr.port(),
            host: host.to_owned(),
            conn: None,
            t0,
            deadline: t0 + cfg.session_deadline,
            tls: false,
            pipelining: false,
            pipelining_allowed: true,
            transactions: 0,
            errors: 0,
            last_used: t0,
        };
        (facts, session)
    }

    /// The address.
    pub const fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The MX host name the session was opened for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the connection is still usable (not closed, no 421, no timeout or broken reply).
    pub const fn is_alive(&self) -> bool {
        self.conn.is_some()
    }

    /// Checks, without waiting, that the idle connection is still open and quiet: a server that
    /// closed it, or sent something unasked (a `421` idle timeout), makes the session unusable.
    pub fn poll_alive(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if !conn.buf.is_empty() {
            self.conn = None;
            return false;
        }
        let mut byte = [0u8; 1];
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut read_buf = tokio::io::ReadBuf::new(&mut byte);
        match std::pin::Pin::new(&mut conn.io).poll_read(&mut cx, &mut read_buf) {
            std::task::Poll::Pending => true,
            std::task::Poll::Ready(_) => {
                self.conn = None;
                false
            }
        }
    }

    /// Whether the session runs inside TLS.
    pub const fn is_tls(&self) -> bool {
        self.tls
    }

    /// How many transactions ran on this session.
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
    pub fn set_pipelining(&mut self, allowed: bool) {
        self.pipelining_allowed = allowed;
    }

    /// How long the session has been idle since its last operation.
    pub fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// One transaction for `domain` (ASCII): `MAIL FROM:<sender>`, `RCPT TO:<postmaster@domain>`,
    /// the open-relay recipient when enabled, then `RSET`. MAIL and RCPT go in one write when
    /// the server offers PIPELINING. When our sender is refused (a 5xx to `MAIL` that does not
    /// name our client, or a refusal that is about our sender), the transaction is retried once
    /// with the null sender `<>` (RFC 5321 §4.5.5). Never DATA. Sets `rcpt_domain` and records
    /// every step in `facts`; stops early when the server closes, times out or sends 421.
    pub async fn transaction(&mut self, domain: &str, facts: &mut SmtpFacts) {
        let cfg = self.client.config().clone();
        facts.rcpt_domain = domain.to_owned();
        if self.transactions > 0 {
            self.deadline = Instant::now() + cfg.session_deadline;
        }
        if !self.is_alive() {
            self.note(facts, "session is closed; no transaction".to_owned());
            return;
        }
        if !is_safe_domain(domain) {
            self.note(
                facts,
                format!("domain {domain:?} is not a plain ASCII name; no transaction"),
            );
            return;
        }
        self.transactions += 1;
        let sender = self.client.mail_from().to_owned();
        let (mail, rcpt, pipelined) = self.mail_rcpt(facts, &sender, domain).await;
        facts.mail_pipelined = pipelined;
        let retry_null = !sender.is_empty()
            && self.is_alive()
            && self.sender_refused(facts, &mail, rcpt.as_ref());
        let mut accepted_mail = mail.accepted();
        facts.mail = Some(mail);
        facts.rcpt = rcpt;
        if retry_null {
            self.note(
                facts,
                "our sender was refused: retrying once with the null sender <>, which receivers must accept (RFC 5321 §4.5.5)"
                    .to_owned(),
            );
            let rset = self
                .command(facts, "RSET".to_owned(), cfg.command_timeout)
                .await;
            let rset_ok = rset.accepted();
            facts.closing.push(rset);
            if rset_ok {
                let (mail, rcpt, _) = self.mail_rcpt(facts, "", domain).await;
                accepted_mail = mail.accepted();
                facts.null_sender = Some(crate::facts::NullSenderRetry { mail, rcpt });
            }
        }
        if self.is_alive() && cfg.open_relay_test && accepted_mail {
            let cmd = format!("RCPT TO:<{}>", cfg.relay_test_rcpt);
            facts.relay_test = Some(self.command(facts, cmd, cfg.command_timeout).await);
        }
        if self.is_alive() {
            let rset = self
                .command(facts, "RSET".to_owned(), cfg.command_timeout)
                .await;
            facts.closing.push(rset);
        }
        self.finish(facts);
    }

    /// `MAIL FROM:<sender>` and, when it is accepted (or pipelined with it),
    /// `RCPT TO:<postmaster@domain>`. Returns both steps and whether they went in one write.
    async fn mail_rcpt(
        &mut self,
        facts: &mut SmtpFacts,
        sender: &str,
        domain: &str,
    ) -> (Step, Option<Step>, bool) {
        let timeout = self.client.config().command_timeout;
        let mail_cmd = format!("MAIL FROM:<{sender}>");
        let rcpt_cmd = format!("RCPT TO:<postmaster@{domain}>");
        if self.pipelining && self.pipelining_allowed {
            let sent = Instant::now();
            if let Err(outcome) = self.send(facts, &[&mail_cmd, &rcpt_cmd], timeout).await {
                return (self.step(mail_cmd, outcome, sent), None, true);
            }
            let mail = self.read_step(facts, mail_cmd, sent, timeout).await;
            if stops(&mail) {
                return (mail, None, true);
            }
            let rcpt = self.read_step(facts, rcpt_cmd, sent, timeout).await;
            (mail, Some(rcpt), true)
        } else {
            let mail = self.command(facts, mail_cmd, timeout).await;
            let rcpt = if mail.accepted() {
                Some(self.command(facts, rcpt_cmd, timeout).await)
            } else {
                None
            };
            (mail, rcpt, false)
        }
    }

    /// Whether the refusal in this transaction is about our sender address, so a retry with
    /// `<>` tells whether the target refuses us or refuses bounces as well: any 5xx to `MAIL`
    /// that does not name our client, or a 4xx/5xx to `MAIL` or `RCPT` about our sender.
    fn sender_refused(&self, facts: &SmtpFacts, mail: &Step, rcpt: Option<&Step>) -> bool {
        let us = self.us(facts);
        if let Some(reply) = mail.reply().filter(|r| !r.is_positive()) {
            let about = classify(reply, Stage::Mail, &us);
            return match about {
                About::OurClient | About::OurHelo => false,
                About::OurSender => true,
                _ => reply.is_permanent(),
            };
        }
        mail.accepted()
            && rcpt
                .and_then(Step::reply)
                .filter(|r| !r.is_positive())
                .is_some_and(|r| classify(r, Stage::Rcpt, &us) == About::OurSender)
    }

    /// Who we are, as this conversation knows it.
    fn us(&self, facts: &SmtpFacts) -> Us {
        let mut ips: Vec<IpAddr> = self.client.public_ips().to_vec();
        ips.extend(facts.local_addr().map(|a| a.ip()));
        ips.extend(facts.echoed_ip);
        Us {
            ips,
            names: vec![self.client.helo_name().to_owned()],
            target: Some(self.ip),
            public_unknown: self.client.public_ips().is_empty() && facts.echoed_ip.is_none(),
        }
    }

    /// Ends the session politely: `QUIT`, waiting briefly for the 221, then closes. Records the
    /// step in `facts.closing` (nothing is sent when the connection is already gone).
    pub async fn quit(mut self, facts: &mut SmtpFacts) {
        self.quit_inner(facts).await;
        facts.elapsed_ms = facts.elapsed_ms.max(ms_since(self.t0));
    }

    /// QUIT without recording anywhere (idle sessions nobody reads about any more).
    pub async fn quit_silently(mut self) {
        let mut scratch = SmtpFacts::new(self.host.clone(), 0, ConnectOutcome::Refused);
        self.quit_inner(&mut scratch).await;
    }

    async fn quit_inner(&mut self, facts: &mut SmtpFacts) {
        if self.is_alive() {
            // QUIT gets its own short budget even when the session deadline has passed.
            self.deadline = self.deadline.max(Instant::now() + QUIT_WAIT);
            let wait = self.client.config().command_timeout.min(QUIT_WAIT);
            let step = self.command(facts, "QUIT".to_owned(), wait).await;
            facts.closing.push(step);
        }
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.io.shutdown()).await;
            self.note(facts, "connection closed".to_owned());
        }
    }

    fn finish(&mut self, facts: &mut SmtpFacts) {
        self.last_used = Instant::now();
        facts.elapsed_ms = ms_since(self.t0);
    }

    // ---- connection set-up ----

    /// Connect, greeting, EHLO (HELO fallback). True when ready for commands.
    async fn establish(&mut self, facts: &mut SmtpFacts) -> bool {
        let cfg = self.client.config().clone();
        let addr = SocketAddr::new(self.ip, self.port);
        self.note(facts, format!("connecting to {addr} ({})", self.host));
        let budget = cfg.connect_timeout.min(self.remaining());
        let (outcome, stream) = tcp_connect(addr, cfg.source_ip, budget).await;
        self.note(facts, describe_connect(&outcome));
        facts.connect = outcome;
        let Some(stream) = stream else {
            return false;
        };
        self.conn = Some(Conn::new(Box::new(stream)));
        // Greeting delays count from the completed TCP connect.
        let start = Instant::now();

        // The complete greeting before anything is sent.
        let outcome = self.read_reply(facts, cfg.greeting_timeout).await;
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
                self.drop_conn(facts);
                return false;
            }
            Some(_) => {
                // 554 and friends: the server answers QUIT, so say goodbye properly.
                self.quit_inner(facts).await;
                return false;
            }
        }

        let helo_name = self.client.helo_name().to_owned();
        let ehlo = self
            .command(facts, format!("EHLO {helo_name}"), cfg.command_timeout)
            .await;
        let ehlo_code = ehlo.reply().map(|r| r.code);
        if let Some(reply) = ehlo.reply().filter(|r| r.is_positive()) {
            facts.extensions = extensions(reply);
            facts.echoed_ip = echoed_ip(reply);
            self.pipelining = has_ext(&facts.extensions, "PIPELINING");
        }
        facts.ehlo = Some(ehlo);
        match ehlo_code {
            Some(c) if (200..300).contains(&c) => true,
            // Any permanent refusal of EHLO: old servers answer 500/502, strict ones 5xx with
            // a reason; HELO is what a sender tries next.
            Some(500..=599) => {
                let helo = self
                    .command(facts, format!("HELO {helo_name}"), cfg.command_timeout)
                    .await;
                let ok = helo.accepted();
                if let Some(reply) = helo.reply().filter(|r| r.is_positive()) {
                    facts.echoed_ip = echoed_ip(reply);
                }
                facts.helo = Some(helo);
                facts.extensions.clear();
                self.pipelining = false;
                if !ok {
                    self.quit_inner(facts).await;
                }
                ok
            }
            _ => {
                self.quit_inner(facts).await;
                false
            }
        }
    }

    /// STARTTLS, the handshake and EHLO again.
    async fn starttls(&mut self, facts: &mut SmtpFacts) -> TlsOutcome {
        let cfg = self.client.config().clone();
        let command = self
            .command(facts, "STARTTLS".to_owned(), cfg.command_timeout)
            .await;
        let code = command.reply().map(|r| r.code);
        let mut st = StartTlsFacts {
            command,
            handshake: None,
            ehlo: None,
            legacy: None,
        };
        match code {
            Some(220) => {}
            Some(421) => {
                facts.starttls = Some(st);
                return TlsOutcome::Ended;
            }
            Some(_) => {
                facts.starttls = Some(st);
                self.quit_inner(facts).await;
                return TlsOutcome::Retry;
            }
            None => {
                facts.starttls = Some(st);
                return TlsOutcome::Retry;
            }
        }
        let Some(conn) = self.conn.take() else {
            facts.starttls = Some(st);
            return TlsOutcome::Retry;
        };
        if !conn.buf.is_empty() {
            let detail = format!(
                "{} byte(s) arrived after the 220 to STARTTLS, before the TLS handshake \
                 (plaintext injection): {:?}; handshake not attempted",
                conn.buf.len(),
                truncate(&super::reply::sanitize(&conn.buf), 80)
            );
            self.note(facts, detail.clone());
            st.handshake = Some(Err(detail));
            facts.starttls = Some(st);
            self.note(facts, "connection closed".to_owned());
            return TlsOutcome::Retry;
        }
        let budget = cfg.tls_timeout.min(self.remaining());
        let result = self
            .client
            .tls()
            .handshake(conn.io, &self.host, self.ip, budget)
            .await;
        match result {
            Ok((stream, tls)) => {
                self.note(facts, describe_tls(&tls));
                st.handshake = Some(Ok(tls));
                self.conn = Some(Conn::new(Box::new(stream)));
                self.tls = true;
            }
            Err(detail) => {
                self.note(facts, detail.clone());
                self.note(facts, "connection closed".to_owned());
                if crate::probe::tls::is_version_or_cipher_failure(&detail) {
                    st.legacy = Some(self.version_probe(facts, detail.clone()).await);
                }
                st.handshake = Some(Err(detail));
                facts.starttls = Some(st);
                return TlsOutcome::Retry;
            }
        }
        let helo_name = self.client.helo_name().to_owned();
        let ehlo = self
            .command(facts, format!("EHLO {helo_name}"), cfg.command_timeout)
            .await;
        let ok = ehlo.accepted();
        if let Some(reply) = ehlo.reply().filter(|r| r.is_positive()) {
            facts.extensions = extensions(reply);
            self.pipelining = has_ext(&facts.extensions, "PIPELINING");
        }
        st.ehlo = Some(ehlo);
        facts.starttls = Some(st);
        if ok {
            TlsOutcome::Ready
        } else {
            // A server that cannot talk inside TLS is a failed STARTTLS: senders retry in clear.
            self.quit_inner(facts).await;
            self.tls = false;
            TlsOutcome::Retry
        }
    }

    /// After a handshake that failed on versions or ciphers: a new connection up to the `220`
    /// to STARTTLS, then our own minimal ClientHello (TLS 1.0–1.2) to read which version the
    /// server chooses. No handshake is completed; the connection is dropped.
    async fn version_probe(&mut self, facts: &mut SmtpFacts, trigger: String) -> LegacyTlsProbe {
        let cfg = self.client.config().clone();
        let wait = cfg.min_connect_interval.min(self.remaining());
        tokio::time::sleep(wait).await;
        self.note(
            facts,
            "version probe: reconnecting to see which TLS version the server speaks".to_owned(),
        );
        let addr = SocketAddr::new(self.ip, self.port);
        let budget = cfg.tls_timeout.min(self.remaining());
        let helo = format!("EHLO {}\r\n", self.client.helo_name());
        let host = self.host.clone();
        let outcome = tokio::time::timeout(budget, async move {
            let (connected, stream) = tcp_connect(addr, cfg.source_ip, cfg.connect_timeout).await;
            let Some(mut stream) = stream else {
                return Err(format!(
                    "reconnect failed: {}",
                    describe_connect(&connected)
                ));
            };
            let mut parser = ReplyParser::default();
            let mut buf = Vec::new();
            raw_reply(&mut stream, &mut parser, &mut buf, "greeting", 2).await?;
            stream
                .write_all(helo.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            raw_reply(&mut stream, &mut parser, &mut buf, "EHLO", 2).await?;
            stream
                .write_all(b"STARTTLS\r\n")
                .await
                .map_err(|e| e.to_string())?;
            raw_reply(&mut stream, &mut parser, &mut buf, "STARTTLS", 2).await?;
            if !buf.is_empty() {
                return Err("bytes arrived after the 220 to STARTTLS; not probed".to_owned());
            }
            crate::probe::tls_version::probe_version(&mut stream, &host, budget).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", budget.as_millis())));
        let said = match &outcome {
            Ok(v) => format!("version probe: the server chose {v}"),
            Err(e) => format!("version probe: {e}"),
        };
        self.note(facts, said);
        LegacyTlsProbe { trigger, outcome }
    }

    /// The one reconnect without TLS after STARTTLS failed. The first connection's connect,
    /// greeting and EHLO facts are kept; the second connection shows in the transcript.
    async fn retry_plain(&mut self, facts: &mut SmtpFacts) -> bool {
        self.conn = None;
        self.tls = false;
        let interval = self.client.config().min_connect_interval;
        let wait = interval.min(self.remaining());
        self.note(
            facts,
            "STARTTLS failed: reconnecting once without TLS, as opportunistic senders do"
                .to_owned(),
        );
        tokio::time::sleep(wait).await;
        let kept = (
            facts.connect.clone(),
            facts.greeting.clone(),
            facts.ehlo.clone(),
            facts.helo.clone(),
        );
        let ok = self.establish(facts).await;
        (facts.connect, facts.greeting, facts.ehlo, facts.helo) = kept;
        if !ok {
            self.note(
                facts,
                "the reconnect without TLS did not get ready for MAIL".to_owned(),
            );
        }
        ok
    }

    // ---- commands and replies ----

    /// Sends one command and reads its reply.
    async fn command(&mut self, facts: &mut SmtpFacts, cmd: String, timeout: Duration) -> Step {
        let sent = Instant::now();
        if let Err(outcome) = self.send(facts, &[&cmd], timeout).await {
            return self.step(cmd, outcome, sent);
        }
        self.read_step(facts, cmd, sent, timeout).await
    }

    fn step(&self, command: String, outcome: StepOutcome, sent: Instant) -> Step {
        Step {
            command,
            outcome,
            ms: ms_since(sent),
        }
    }

    async fn read_step(
        &mut self,
        facts: &mut SmtpFacts,
        cmd: String,
        sent: Instant,
        timeout: Duration,
    ) -> Step {
        let outcome = self.read_reply(facts, timeout).await;
        self.step(cmd, outcome, sent)
    }

    /// Writes the lines (CRLF appended) in one write.
    async fn send(
        &mut self,
        facts: &mut SmtpFacts,
        lines: &[&str],
        timeout: Duration,
    ) -> Result<(), StepOutcome> {
        let mut wire = Vec::new();
        for line in lines {
            self.push(facts, Speaker::Client, (*line).to_owned());
            wire.extend_from_slice(line.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        let budget = timeout.min(self.remaining());
        let Some(conn) = self.conn.as_mut() else {
            return Err(StepOutcome::Closed);
        };
        let result = tokio::time::timeout(budget, async {
            conn.io.write_all(&wire).await?;
            conn.io.flush().await
        })
        .await;
        let outcome = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) if is_closed(&e) => StepOutcome::Closed,
            Ok(Err(e)) => StepOutcome::Broken {
                detail: format!("write failed: {e}"),
            },
            Err(_) => StepOutcome::TimedOut,
        };
        self.note_outcome(facts, &outcome, budget);
        self.drop_conn(facts);
        Err(outcome)
    }

    /// Reads one complete reply under `timeout` (and the session deadline). Anything but a
    /// reply, or a 421, ends the connection.
    async fn read_reply(&mut self, facts: &mut SmtpFacts, timeout: Duration) -> StepOutcome {
        let budget = timeout.min(self.remaining());
        let until = Instant::now() + budget;
        let Some(conn) = self.conn.as_mut() else {
            return StepOutcome::Closed;
        };
        let mut chunk = [0u8; READ_CHUNK];
        let outcome = loop {
            match conn.parser.feed(&mut conn.buf) {
                Parsed::Reply(reply) => break StepOutcome::Replied { reply },
                Parsed::Broken(detail) => break StepOutcome::Broken { detail },
                Parsed::Incomplete => {}
            }
            match tokio::time::timeout_at(until, conn.io.read(&mut chunk)).await {
                Ok(Ok(0)) => break StepOutcome::Closed,
                Ok(Ok(n)) => conn.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) if is_closed(&e) => break StepOutcome::Closed,
                Ok(Err(e)) => {
                    break StepOutcome::Broken {
                        detail: format!("read failed: {e}"),
                    };
                }
                Err(_) => break StepOutcome::TimedOut,
            }
        };
        match &outcome {
            StepOutcome::Replied { reply } => {
                for line in &reply.lines {
                    self.push(facts, Speaker::Server, line.clone());
                }
                if reply.code >= 400 {
                    self.errors += 1;
                }
                if reply.code == 421 {
                    self.note(
                        facts,
                        "421: the server is closing the connection".to_owned(),
                    );
                    self.drop_conn(facts);
                }
            }
            other => {
                self.note_outcome(facts, other, budget);
                self.drop_conn(facts);
            }
        }
        outcome
    }

    fn note_outcome(&self, facts: &mut SmtpFacts, outcome: &StepOutcome, budget: Duration) {
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
        self.note(facts, text);
    }

    fn drop_conn(&mut self, facts: &mut SmtpFacts) {
        if self.conn.take().is_some() {
            self.note(facts, "connection closed".to_owned());
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn note(&self, facts: &mut SmtpFacts, text: String) {
        self.push(facts, Speaker::Note, text);
    }

    fn push(&self, facts: &mut SmtpFacts, who: Speaker, text: String) {
        facts.transcript.push(TranscriptLine {
            who,
            at_ms: ms_since(self.t0),
            text,
        });
    }
}

/// Reads one reply on a raw stream for the version probe; it must be of class `class` (2xx).
async fn raw_reply(
    stream: &mut TcpStream,
    parser: &mut ReplyParser,
    buf: &mut Vec<u8>,
    what: &str,
    class: u16,
) -> Result<Reply, String> {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match parser.feed(buf) {
            Parsed::Reply(reply) if reply.code / 100 == class => return Ok(reply),
            Parsed::Reply(reply) => return Err(format!("{what}: {}", reply.one_line())),
            Parsed::Broken(detail) => return Err(format!("{what}: broken reply: {detail}")),
            Parsed::Incomplete => {}
        }
        match stream.read(&mut chunk).await {
            Ok(0) => return Err(format!("{what}: the server closed the connection")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// Whether a step ends the transaction early (no reply, or 421).
fn stops(step: &Step) -> bool {
    step.reply().is_none_or(|r| r.code == 421)
}

fn reply_code(outcome: &StepOutcome) -> Option<u16> {
    match outcome {
        StepOutcome::Replied { reply } => Some(reply.code),
        _ => None,
    }
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn is_closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
    )
}

/// A domain that can go into `RCPT TO:<postmaster@…>` without changing the command.
fn is_safe_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Whether an extension keyword is in the list.
fn has_ext(extensions: &[String], keyword: &str) -> bool {
    extensions.iter().any(|e| {
        e.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// The EHLO keywords (upper case) with their parameters, from the lines after the first.
pub(crate) fn extensions(reply: &Reply) -> Vec<String> {
    reply
        .lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let text = line.get(4..)?.trim();
            let mut parts = text.splitn(2, char::is_whitespace);
            let keyword = parts.next().filter(|k| !k.is_empty())?.to_ascii_uppercase();
            Some(match parts.next().map(str::trim) {
                Some(params) if !params.is_empty() => format!("{keyword} {params}"),
                _ => keyword,
            })
        })
        .collect()
}

/// The first token after the greeting's code, when it looks like a host name (dotted, DNS
/// characters, not an IP address). Lower case, no trailing dot.
pub(crate) fn greeting_hostname(reply: &Reply) -> Option<String> {
    let first = reply.lines.first()?;
    let token = first.get(4..)?.split_whitespace().next()?;
    let name = token.trim_end_matches('.').to_ascii_lowercase();
    if name.len() > 253 || !name.contains('.') || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let labels_ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let tld_ok = name
        .rsplit('.')
        .next()
        .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    (labels_ok && tld_ok).then_some(name)
}

fn describe_connect(outcome: &ConnectOutcome) -> String {
    match outcome {
        ConnectOutcome::Connected { local, .. } => format!("connected from {}", local.ip()),
        ConnectOutcome::Refused => "connection refused".to_owned(),
        ConnectOutcome::TimedOut { ms } => format!("connect timed out after {ms} ms"),
        ConnectOutcome::Unreachable { detail } => format!("unreachable: {detail}"),
        ConnectOutcome::Error { detail } => format!("connect failed: {detail}"),
    }
}

fn describe_tls(tls: &crate::facts::TlsFacts) -> String {
    let subject = tls
        .chain
        .first()
        .map_or_else(|| "no certificate".to_owned(), |c| c.subject.clone());
    let problems = if tls.problems.is_empty() {
        "certificate verified".to_owned()
    } else {
        let kinds: Vec<&str> = tls
            .problems
            .iter()
            .map(|p| match p {
                crate::facts::CertProblem::Untrusted { .. } => "untrusted",
                crate::facts::CertProblem::Expired { .. } => "expired or not yet valid",
                crate::facts::CertProblem::NameMismatch { .. } => "name mismatch",
                crate::facts::CertProblem::Other { .. } => "other problem",
            })
            .collect();
        format!("certificate problems: {}", kinds.join(", "))
    };
    format!(
        "TLS established: {}, {}, certificate {subject:?} for {}; {problems}",
        tls.version, tls.cipher, tls.verified_name
    )
}

/// A TCP connect under `timeout`, optionally from `source_ip`, with the outcome told apart:
/// refused, timed out, unreachable, other error.
pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    source_ip: Option<IpAddr>,
    timeout: Duration,
) -> (ConnectOutcome, Option<TcpStream>) {
    let start = Instant::now();
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(s) => s,
        Err(e) => {
            let detail = format!("socket: {e}");
            return (ConnectOutcome::Error { detail }, None);
        }
    };
    if let Some(src) = source_ip {
        if src.is_ipv4() != addr.is_ipv4() {
            let detail = format!("source address {src} is not of the same family as {addr}");
            return (ConnectOutcome::Error { detail }, None);
        }
        if let Err(e) = socket.bind(SocketAddr::new(src, 0)) {
            let detail = format!("binding source address {src}: {e}");
            return (ConnectOutcome::Error { detail }, None);
        }
    }
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => {
            let local = stream
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::new(source_ip.unwrap_or(addr.ip()), 0));
            let ms = ms_since(start);
            (ConnectOutcome::Connected { local, ms }, Some(stream))
        }
        Ok(Err(e)) => {
            use std::io::ErrorKind as K;
            let outcome = match e.kind() {
                K::ConnectionRefused => ConnectOutcome::Refused,
                K::HostUnreachable => ConnectOutcome::Unreachable {
                    detail: e.to_string(),
                },
                // Our own routing table has no route (typically: no IPv6 on this machine).
                // That is about our vantage point, not the target.
                K::NetworkUnreachable => ConnectOutcome::Error {
                    detail: format!("no route from this machine to {addr} ({e})"),
                },
                K::TimedOut => ConnectOutcome::TimedOut {
                    ms: ms_since(start),
                },
                _ => ConnectOutcome::Error {
                    detail: e.to_string(),
                },
            };
            (outcome, None)
        }
        Err(_) => (ConnectOutcome::TimedOut { ms: timeout_ms }, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply {
            code: lines[0][..3].parse().unwrap(),
            enhanced: None,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn greeting_hostnames() {
        let name = |l: &str| greeting_hostname(&reply(&[l]));
        assert_eq!(
            name("220 MX.Example.org. ESMTP Postfix").as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(
            name("220-mx1.example.net ready"),
            Some("mx1.example.net".to_owned())
        );
        assert_eq!(name("220 ESMTP Postfix"), None);
        assert_eq!(name("220 192.0.2.1 ESMTP"), None);
        assert_eq!(name("220 [192.0.2.1]"), None);
        assert_eq!(name("220 ****************"), None);
        assert_eq!(name("220"), None);
        assert_eq!(name("220 localhost"), None);
    }

    #[test]
    fn ehlo_extensions() {
        let r = reply(&[
            "250-mx.example.org Hello",
            "250-pipelining",
            "250-SIZE 10240000",
            "250-auth PLAIN LOGIN",
            "250 STARTTLS",
        ]);
        let ext = extensions(&r);
        assert_eq!(
            ext,
            vec![
                "PIPELINING",
                "SIZE 10240000",
                "AUTH PLAIN LOGIN",
                "STARTTLS"
            ]
        );
        assert!(has_ext(&ext, "starttls"));
        assert!(has_ext(&ext, "SIZE"));
        assert!(!has_ext(&ext, "CHUNKING"));
    }

    #[test]
    fn safe_domains() {
        assert!(is_safe_domain("example.org"));
        assert!(is_safe_domain("xn--bcher-kva.example"));
        assert!(!is_safe_domain("example.org>\r\nDATA"));
        assert!(!is_safe_domain(""));
    }
}
