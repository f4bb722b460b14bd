//! TLS mode: REST over rustls as `https://discord.com`, with a leaf for `discord.com` signed by
//! a test CA, and the reqwest 0.12 client (the one serenity 0.12.5 uses) that resolves
//! discord.com to the stand-in and trusts only that CA — so serenity's rate limiter, which
//! ignores `HttpBuilder::proxy`, can be tested.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::state::Shared;
use super::{DiscordStandIn, StandInError};
use crate::certs::TestCa;

/// The host name the TLS leaf is issued for.
pub const DISCORD_HOST: &str = "discord.com";
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of a stand-in.
#[derive(Debug)]
pub(super) struct TlsMode {
    pub(super) addr: SocketAddr,
    pub(super) ca: TestCa,
}

/// Installs rustls's ring provider as the process default. Harmless when one is installed
/// already; needed as soon as anything in the build enables a second rustls provider.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Binds the HTTPS listener and makes the CA and the leaf.
pub(super) async fn bind() -> Result<(TcpListener, TlsAcceptor, TlsMode), StandInError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(StandInError::Bind)?;
    let addr = listener.local_addr().map_err(StandInError::Bind)?;
    let ca = TestCa::new();
    let leaf = ca.leaf(&[DISCORD_HOST]);
    let acceptor = TlsAcceptor::from(Arc::new(leaf.server_config()));
    Ok((listener, acceptor, TlsMode { addr, ca }))
}

/// Accepts TLS connections and serves each on its own task.
pub(super) async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!("stand-in TLS handshake failed: {e}");
                    return;
                }
                Err(_) => return,
            };
            if let Err(e) = super::http::serve_connection(tls, &shared).await {
                tracing::debug!("stand-in HTTPS connection failed: {e}");
            }
        });
    }
}

impl DiscordStandIn {
    fn tls_mode(&self) -> Result<&TlsMode, StandInError> {
        self.tls.as_ref().ok_or(StandInError::NotTls)
    }

    /// The HTTPS server's address (TLS mode only).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|t| t.addr)
    }

    /// The test CA that signed the `discord.com` leaf, DER (TLS mode only).
    pub fn ca_der(&self) -> Option<CertificateDer<'static>> {
        self.tls.as_ref().map(|t| t.ca.ca_der())
    }

    /// The test CA that signed the `discord.com` leaf, PEM (TLS mode only).
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|t| t.ca.ca_pem())
    }

    /// A reqwest client that sends `https://discord.com` to this stand-in and trusts only its
    /// CA, for `serenity::all::HttpBuilder::new(token).client(client)` with the rate limiter on
    /// (no proxy). Installs the ring provider first (see [`install_ring_provider`]).
    pub fn reqwest_client(&self) -> Result<reqwest::Client, StandInError> {
        let tls = self.tls_mode()?;
        install_ring_provider();
        let ca = reqwest::Certificate::from_der(tls.ca.ca_der().as_ref())
            .map_err(|e| StandInError::Client(e.to_string()))?;
        reqwest::Client::builder()
            .use_rustls_tls()
            .resolve(DISCORD_HOST, tls.addr)
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .map_err(|e| StandInError::Client(e.to_string()))
    }
}
