//! One SMTP connection: the accept loop, the greeting (or a hostile behaviour), and the command
//! loop with its round-trip model (a pipelined group answered in one exchange), up to a
//! STARTTLS that `tls` takes over.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::builder::Config;
use super::reply::{reply_code, wire};
use super::{Command, Hostile, State, Transcript, angle_address};

pub(super) async fn accept_loop(listener: TcpListener, cfg: Arc<Config>, state: Arc<State>) {
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

/// How a session ended: the connection is over, or STARTTLS was accepted.
pub(super) enum Next {
    Close,
    StartTls,
}

/// The state of the SMTP dialogue that the default replies depend on.
#[derive(Default)]
pub(super) struct Session {
    pub(super) greeted: bool,
    pub(super) mail: bool,
    pub(super) sender: String,
    pub(super) rcpts: usize,
}

/// One accepted connection: the server's configuration, where its transcript is recorded,
/// and the client.
pub(super) struct Conn {
    pub(super) cfg: Arc<Config>,
    pub(super) state: Arc<State>,
    pub(super) id: usize,
    pub(super) peer: SocketAddr,
    /// Whether this connection no longer counts as open.
    released: AtomicBool,
}

impl Conn {
    /// The session is over (QUIT received, 421, dropped, closed): the connection no longer
    /// counts towards [`SmtpServer::max_concurrent_connections`]. Idempotent.
    ///
    /// [`SmtpServer::max_concurrent_connections`]: super::SmtpServer::max_concurrent_connections
    fn release(&self) {
        if !self.released.swap(true, Ordering::Relaxed) {
            self.state.counts.send_modify(|c| c.open -= 1);
        }
    }

    /// Waits one round trip, under [`SmtpServerBuilder::round_trip`].
    ///
    /// [`SmtpServerBuilder::round_trip`]: super::SmtpServerBuilder::round_trip
    pub(super) async fn round_trip(&self) {
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
            Next::Close => Ok(()),
            Next::StartTls => self.starttls(plain).await,
        }
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
    ///
    /// [`SmtpServerBuilder::round_trip`]: super::SmtpServerBuilder::round_trip
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
    ///
    /// [`SmtpServerBuilder::round_trip`]: super::SmtpServerBuilder::round_trip
    fn group_continues<S: AsyncRead>(&self, io: &BufReader<S>) -> bool {
        self.cfg.round_trip.is_some() && io.buffer().contains(&b'\n')
    }

    /// Serves commands until the client quits or closes, or STARTTLS succeeds.
    ///
    /// Replies collect in `out` and are written when no further complete line was read with
    /// the last one (under [`SmtpServerBuilder::round_trip`]) or at once (otherwise).
    ///
    /// [`SmtpServerBuilder::round_trip`]: super::SmtpServerBuilder::round_trip
    pub(super) async fn session<S: AsyncRead + AsyncWrite + Unpin>(
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
            let reply = self.reply(command, &args, &s, tls_active);
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
