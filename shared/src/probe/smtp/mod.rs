//! The SMTP conversation probe: what an admin does with `telnet mx 25`, done carefully.
//!
//! The sans-I/O parts, tested without sockets:
//! - `command`: the commands as values whose `Display` is the wire form.
//! - [`reply`]: the bounded, incremental reply parser.
//! - `ehlo`: what a greeting and an EHLO reply say (extensions, host name).
//!
//! The conversation, over any stream (TCP, TLS, in-memory duplex):
//! - [`wire`]: a stream with its unparsed input: whole writes, one complete reply per read.
//! - `connect`: the TCP connect and the raw reconnect of the TLS version probe.
//! - `session`: one connection — its state, opening and `QUIT`. It owns its transcript.
//! - `establish`: the connect, the complete greeting, EHLO (HELO after a 5xx).
//! - `exchange`: commands and replies, one at a time or several in one write, and the tagged
//!   transcript lines.
//! - `starttls`: STARTTLS, the handshake and EHLO inside TLS, the version probe after a
//!   version or cipher failure, and the one reconnect without TLS.
//! - `transaction`: `MAIL FROM`, one `RCPT TO:<postmaster@domain>` per domain of a batch
//!   (retried with `<>` when our sender is refused), the optional open-relay recipient and
//!   `RSET`, in one write when the server pipelines. Never `DATA`.
//!
//! And the politeness layer:
//! - `pool`: [`SmtpProber`]: a per-address session limit, domains on one address batched
//!   into shared transactions, sessions reused across domains (and across the MX names of an
//!   address whose server ignores SNI), new connections spaced, a transient outcome retried
//!   once after a back-off, final connection failures remembered for the run.
//!
//! Everything observed lands in [`SmtpFacts`]; nothing here decides what is wrong.

pub(crate) mod command;
pub(crate) mod connect;
pub(crate) mod ehlo;
mod establish;
mod exchange;
pub(crate) mod pool;
pub mod reply;
pub(crate) mod session;
pub(crate) mod starttls;
pub(crate) mod transaction;
pub mod wire;

use std::net::IpAddr;
use std::sync::Arc;

pub use pool::SmtpProber;
pub use session::Session;
pub use transaction::Share;

use crate::config::SmtpConfig;
use crate::facts::SmtpFacts;
use crate::probe::tls::TlsClient;

/// The shared, validated set-up of SMTP probes: configuration, our EHLO name, the TLS client.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct SmtpClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    config: SmtpConfig,
    helo_name: String,
    mail_from: String,
    public_ips: Vec<IpAddr>,
    tls: TlsClient,
}

impl SmtpClient {
    /// Validates the configuration (EHLO name, sender and relay-test addresses must be single
    /// tokens without CR/LF or angle brackets; extra CAs must parse) and loads the TLS roots.
    /// An empty `helo_name` means [`default_helo_name`].
    pub fn new(config: &SmtpConfig) -> Result<Self, crate::Error> {
        Self::with_public_ips(config, &[])
    }

    /// [`SmtpClient::new`], knowing our public address(es) (configured, behind NAT), so a
    /// refusal that names them is recognised as being about us.
    pub(crate) fn with_public_ips(
        config: &SmtpConfig,
        public_ips: &[IpAddr],
    ) -> Result<Self, crate::Error> {
        let helo_name = if config.helo_name.trim().is_empty() {
            default_helo_name()
        } else {
            config.helo_name.trim().to_owned()
        };
        check_token("smtp.helo_name", &helo_name, false)?;
        let mail_from = effective_sender(&config.mail_from, &helo_name);
        check_token("smtp.mail_from", &mail_from, true)?;
        if config.open_relay_test {
            check_token("smtp.relay_test_rcpt", &config.relay_test_rcpt, false)?;
        }
        let tls = TlsClient::new(&config.extra_ca_pem)?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                config: config.clone(),
                helo_name,
                mail_from,
                public_ips: public_ips.to_vec(),
                tls,
            }),
        })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &SmtpConfig {
        &self.inner.config
    }

    /// The name we say in EHLO/HELO.
    pub(crate) fn helo_name(&self) -> &str {
        &self.inner.helo_name
    }

    /// The sender we give in `MAIL FROM` (empty: the null sender `<>`), after
    /// [`crate::config::AUTO_SENDER`] is replaced by `postmaster@<EHLO name>`.
    pub fn mail_from(&self) -> &str {
        &self.inner.mail_from
    }

    /// Our public addresses as configured (learned ones are in the vantage facts).
    pub(crate) fn public_ips(&self) -> &[IpAddr] {
        &self.inner.public_ips
    }

    /// The TLS client used after STARTTLS.
    pub(crate) fn tls(&self) -> &TlsClient {
        &self.inner.tls
    }

    /// One complete conversation for one domain on a fresh connection, without any pooling:
    /// [`Session::open`], [`Session::transaction`], [`Session::quit`].
    pub async fn probe(&self, ip: IpAddr, host: &str, domain: &str) -> SmtpFacts {
        let started = tokio::time::Instant::now();
        let (mut facts, session) = Session::open(self, ip, host).await;
        facts.rcpt_domain = domain.to_owned();
        if let Some(mut session) = session {
            session.transaction(domain, &mut facts).await;
            let (quit, lines) = session.quit().await;
            facts.closing.extend(quit);
            facts.transcript.extend(lines);
            facts.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        }
        facts
    }
}

/// The sender to use: [`crate::config::AUTO_SENDER`] becomes `postmaster@<EHLO name>` (an
/// address in a domain that resolves when this machine is properly named, which strict
/// receivers require); `<>` or empty is the null sender; anything else is used as given.
fn effective_sender(configured: &str, helo_name: &str) -> String {
    let configured = configured.trim();
    if configured == crate::config::AUTO_SENDER {
        format!("postmaster@{helo_name}")
    } else if configured == "<>" {
        String::new()
    } else {
        configured
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    }
}

/// Rejects values that would change the SMTP command they are put into.
fn check_token(setting: &str, value: &str, empty_ok: bool) -> Result<(), crate::Error> {
    if value.is_empty() && empty_ok {
        return Ok(());
    }
    let bad = value.is_empty()
        || value.len() > 254
        || value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'));
    if bad {
        return Err(crate::Error::Config(format!(
            "{setting} {value:?} must be one token without spaces, control characters or <>"
        )));
    }
    Ok(())
}

/// This machine's name for EHLO: the kernel host name when it is fully qualified; otherwise the
/// host name with the NIS domain name when one is set, else with `.localdomain`. Characters
/// that are not allowed in host names become `-`; an empty name gives `localhost.localdomain`.
pub fn default_helo_name() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    helo_name_from(
        &read("/proc/sys/kernel/hostname"),
        &read("/proc/sys/kernel/domainname"),
    )
}

/// The pure part of [`default_helo_name`].
fn helo_name_from(hostname: &str, domainname: &str) -> String {
    let clean = |s: &str| -> String {
        s.trim_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .map(|label| {
                let label: String = label
                    .chars()
                    .take(63)
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let label = label.trim_matches('-');
                if label.is_empty() {
                    "x".to_owned()
                } else {
                    label.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    let host = clean(hostname);
    if host.is_empty() {
        return "localhost.localdomain".to_owned();
    }
    if host.contains('.') {
        return host;
    }
    let domain = clean(domainname);
    if !domain.is_empty() && domain != "none" {
        return format!("{host}.{domain}");
    }
    format!("{host}.localdomain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_defaults_to_postmaster_at_our_name() {
        let name = "probe.example.net";
        assert_eq!(
            effective_sender(crate::config::AUTO_SENDER, name),
            "postmaster@probe.example.net"
        );
        assert_eq!(effective_sender("<>", name), "");
        assert_eq!(effective_sender("", name), "");
        assert_eq!(
            effective_sender("<ops@example.org>", name),
            "ops@example.org"
        );
        let cfg = SmtpConfig {
            helo_name: name.to_owned(),
            ..SmtpConfig::default()
        };
        assert_eq!(
            SmtpClient::new(&cfg).unwrap().mail_from(),
            "postmaster@probe.example.net"
        );
    }

    #[test]
    fn helo_names() {
        assert_eq!(
            helo_name_from("mx1.example.org", "(none)"),
            "mx1.example.org"
        );
        assert_eq!(helo_name_from("probe", "(none)"), "probe.localdomain");
        assert_eq!(helo_name_from("probe", ""), "probe.localdomain");
        assert_eq!(helo_name_from("probe", "lab.example"), "probe.lab.example");
        assert_eq!(helo_name_from("My_Box", "(none)"), "my-box.localdomain");
        assert_eq!(helo_name_from("", ""), "localhost.localdomain");
        let d = default_helo_name();
        assert!(d.contains('.'), "{d}");
        assert!(check_token("helo", &d, false).is_ok());
    }

    #[test]
    fn config_tokens_are_checked() {
        let mut cfg = SmtpConfig {
            helo_name: "probe.example".to_owned(),
            ..SmtpConfig::default()
        };
        assert!(SmtpClient::new(&cfg).is_ok());
        cfg.mail_from = String::new();
        assert!(SmtpClient::new(&cfg).is_ok());
        cfg.mail_from = "a@b>\r\nDATA".to_owned();
        assert!(matches!(
            SmtpClient::new(&cfg),
            Err(crate::Error::Config(_))
        ));
        cfg.mail_from = "a@b.example".to_owned();
        cfg.helo_name = "two words".to_owned();
        assert!(matches!(
            SmtpClient::new(&cfg),
            Err(crate::Error::Config(_))
        ));
    }
}
