//! The server's side of STARTTLS after its `220`: the TLS handshake (one more round trip),
//! its scripted failures, and the TLS 1.0-only server of
//! [`SmtpServerBuilder::tls_legacy_only`].
//!
//! [`SmtpServerBuilder::tls_legacy_only`]: super::SmtpServerBuilder::tls_legacy_only

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::conn::Conn;
use super::legacy;

impl Conn {
    /// Takes over after the `220` to STARTTLS: whatever the client pipelined after the command
    /// is discarded, then the handshake (or its scripted failure) and the session inside TLS.
    pub(super) async fn starttls(&self, plain: BufReader<TcpStream>) -> io::Result<()> {
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
    ///
    /// [`SmtpServerBuilder::tls_legacy_only`]: super::SmtpServerBuilder::tls_legacy_only
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
}
