//! STARTTLS on a [`Session`]: the command, the handshake (every certificate problem recorded,
//! the chain kept for checks under other names), EHLO inside TLS; after a handshake that failed
//! on versions or ciphers, the minimal version probe; after any failure, the one reconnect
//! without TLS that opportunistic senders make.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;

use super::command::Command;
use super::connect::{describe_connect, raw_reply, tcp_connect};
use super::ehlo::{extensions, has_ext};
use super::reply::ReplyParser;
use super::session::{Dial, Session};
use super::wire::Wire;
use crate::facts::{LegacyTlsProbe, SmtpFacts, StartTlsFacts};
use crate::sanitize::{from_wire, truncate};

/// How STARTTLS went.
pub(super) enum TlsOutcome {
    /// TLS is up and EHLO inside it worked.
    Ready,
    /// The conversation is over (after TLS the server refused EHLO, or sent 421).
    Ended,
    /// The command, the handshake or the EHLO inside TLS failed: reconnect without TLS.
    Retry,
}

impl Session {
    /// STARTTLS, the handshake and EHLO again.
    pub(super) async fn starttls(&mut self, facts: &mut SmtpFacts) -> TlsOutcome {
        let cfg = self.client.config().clone();
        let command = self.command(Command::StartTls, cfg.command_timeout).await;
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
                facts.closing.extend(self.quit_inner().await);
                return TlsOutcome::Retry;
            }
            None => {
                facts.starttls = Some(st);
                return TlsOutcome::Retry;
            }
        }
        let Some(wire) = self.wire.take() else {
            facts.starttls = Some(st);
            return TlsOutcome::Retry;
        };
        if !wire.buffered().is_empty() {
            let detail = format!(
                "{} byte(s) arrived after the 220 to STARTTLS, before the TLS handshake \
                 (plaintext injection): {:?}; handshake not attempted",
                wire.buffered().len(),
                truncate(&from_wire(wire.buffered()), 80).0
            );
            self.note(detail.clone());
            st.handshake = Some(Err(detail));
            facts.starttls = Some(st);
            self.note("connection closed".to_owned());
            return TlsOutcome::Retry;
        }
        let budget = cfg.tls_timeout.min(self.remaining());
        let result = self
            .client
            .tls()
            .handshake(wire.into_io(), &self.host, self.ip, budget)
            .await;
        match result {
            Ok((stream, tls)) => {
                self.note(describe_tls(&tls));
                self.peer_chain = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.clone().into_owned())
                    .collect();
                st.handshake = Some(Ok(tls));
                self.wire = Some(Wire::new(Box::new(stream)));
                self.tls = true;
            }
            Err(detail) => {
                self.note(detail.clone());
                self.note("connection closed".to_owned());
                if crate::probe::tls::is_version_or_cipher_failure(&detail)
                    && matches!(self.dial, Dial::Tcp)
                {
                    st.legacy = Some(self.version_probe(detail.clone()).await);
                }
                st.handshake = Some(Err(detail));
                facts.starttls = Some(st);
                return TlsOutcome::Retry;
            }
        }
        let helo_name = self.client.helo_name().to_owned();
        let ehlo = self
            .command(Command::Ehlo(helo_name), cfg.command_timeout)
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
            facts.closing.extend(self.quit_inner().await);
            self.tls = false;
            self.peer_chain.clear();
            TlsOutcome::Retry
        }
    }

    /// After a handshake that failed on versions or ciphers: a new connection up to the `220`
    /// to STARTTLS, then our own minimal ClientHello (TLS 1.0–1.2) to read which version the
    /// server chooses. No handshake is completed; the connection is dropped.
    async fn version_probe(&mut self, trigger: String) -> LegacyTlsProbe {
        let cfg = self.client.config().clone();
        let wait = cfg.min_connect_interval.min(self.remaining());
        tokio::time::sleep(wait).await;
        self.note(
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
        self.note(said);
        LegacyTlsProbe { trigger, outcome }
    }

    /// The one reconnect without TLS after STARTTLS failed. The first connection's connect,
    /// greeting and EHLO facts are kept; the second connection shows in the transcript.
    pub(super) async fn retry_plain(&mut self, facts: &mut SmtpFacts) -> bool {
        self.wire = None;
        self.tls = false;
        self.peer_chain.clear();
        let interval = self.client.config().min_connect_interval;
        let wait = interval.min(self.remaining());
        self.note(
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
            self.note("the reconnect without TLS did not get ready for MAIL".to_owned());
        }
        ok
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
