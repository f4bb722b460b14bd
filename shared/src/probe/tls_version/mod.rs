//! A minimal TLS version probe of our own, for servers rustls cannot talk to.
//!
//! rustls speaks only TLS 1.2 and 1.3, so against a server that offers nothing newer than
//! TLS 1.0/1.1 (or only the old CBC/RSA cipher suites) our handshake simply fails. To say which
//! version such a server does speak, [`probe_version`] sends one ClientHello of our own that
//! offers up to TLS 1.2 with a broad list of cipher suites, and reads only the server's first
//! reply: a ServerHello names the version the server chose, an alert says it refused. The
//! handshake is never completed (no key exchange, nothing is verified or encrypted); the caller
//! drops the connection afterwards.
//!
//! The writer (`hello.rs`: `client_hello`) and the reader (`reply.rs`: `parse_server_reply`)
//! are pure functions; this file holds the exchange over a stream and the names of versions
//! and alerts. The reader looks at no more than the first records, checks every length against
//! what is there and never panics, whatever the bytes.

mod hello;
mod reply;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub(crate) use hello::client_hello;
pub(crate) use reply::parse_server_reply;

/// The highest protocol version a probe ClientHello offers (its `legacy_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyVersion {
    /// TLS 1.0 (`0x0301`).
    Tls10,
    /// TLS 1.1 (`0x0302`).
    Tls11,
    /// TLS 1.2 (`0x0303`).
    Tls12,
}

impl LegacyVersion {
    /// The version's wire value.
    pub const fn wire(self) -> u16 {
        match self {
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
        }
    }
}

/// What the first record(s) of a server's answer to a ClientHello say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerReply {
    /// A ServerHello: the version the server chose (from the ServerHello body, not the record
    /// header) and its cipher suite.
    ServerHello {
        /// The negotiated version, e.g. `0x0301` for TLS 1.0.
        version: u16,
        /// The chosen cipher suite, e.g. `0x002f`.
        cipher: u16,
    },
    /// An alert before any ServerHello. Warning alerts followed by more records are skipped;
    /// one is returned only when nothing follows it yet.
    Alert {
        /// 1 = warning, 2 = fatal.
        level: u8,
        /// The alert description, e.g. 70 = `protocol_version` (see [`alert_name`]).
        description: u8,
    },
    /// The bytes so far are a valid beginning: read more.
    NeedMore,
    /// Not a TLS answer to a ClientHello; why, in words.
    NotTls(String),
}

/// Record content types.
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const CHANGE_CIPHER_SPEC: u8 = 20;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// [`probe_version`] reads in pieces of this size.
const CHUNK: usize = 1024;
/// [`probe_version`] reads at most this many bytes from the server.
const MAX_REPLY: usize = 4096;

/// `TLSv1.0`-style name of a version's wire value (`SSLv3`, `TLSv1.0` … `TLSv1.3`), or its hex
/// value (`0x7f1c`) for anything else.
pub(crate) fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSLv2".to_owned(),
        0x0300 => "SSLv3".to_owned(),
        0x0301 => "TLSv1.0".to_owned(),
        0x0302 => "TLSv1.1".to_owned(),
        0x0303 => "TLSv1.2".to_owned(),
        0x0304 => "TLSv1.3".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

/// The RFC name of an alert description (`protocol_version` for 70), or `alert <n>`.
pub(crate) fn alert_name(description: u8) -> String {
    let name = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("alert {other}"),
    };
    name.to_owned()
}

/// Sends a ClientHello offering up to TLS 1.2 (so the server picks its best version ≤ 1.2,
/// see `client_hello`) over `stream` (e.g. a connection right after the `220` to STARTTLS)
/// and returns the version the server chose: `Ok("SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1.2")`.
/// Otherwise `Err` says what happened: the alert the server sent (e.g. `fatal alert
/// handshake_failure (40)`), that it closed the connection, that it answered something that is
/// not TLS, chose a version we did not offer, or did not answer within `timeout` (which covers
/// the whole exchange). Reads at most 4 KiB and never completes the handshake: drop the
/// connection afterwards.
pub async fn probe_version<S>(
    stream: &mut S,
    server_name: &str,
    timeout: Duration,
) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(timeout, exchange(stream, server_name)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "timed out after {} ms waiting for a ServerHello",
            timeout.as_millis()
        )),
    }
}

async fn exchange<S>(stream: &mut S, server_name: &str) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = client_hello(server_name, LegacyVersion::Tls12);
    stream
        .write_all(&hello)
        .await
        .map_err(|e| format!("sending the ClientHello failed: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("sending the ClientHello failed: {e}"))?;
    let mut reply = Vec::with_capacity(1024);
    let mut chunk = [0u8; CHUNK];
    let mut warning = None;
    loop {
        let room = MAX_REPLY - reply.len();
        if room == 0 {
            return Err(format!("no ServerHello in the first {MAX_REPLY} bytes"));
        }
        let n = stream
            .read(&mut chunk[..room.min(CHUNK)])
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if n == 0 {
            return Err(match warning {
                Some(d) => format!(
                    "the server closed the connection after a warning alert {} ({d})",
                    alert_name(d)
                ),
                None if reply.is_empty() => {
                    "the server closed the connection without answering".to_owned()
                }
                None => format!(
                    "the server closed the connection after {} byte(s) of an incomplete answer",
                    reply.len()
                ),
            });
        }
        reply.extend_from_slice(&chunk[..n]);
        match parse_server_reply(&reply) {
            ServerReply::ServerHello { version, .. } => {
                return if (0x0300..=0x0303).contains(&version) {
                    Ok(version_name(version))
                } else {
                    Err(format!(
                        "the server chose {}, which we did not offer",
                        version_name(version)
                    ))
                };
            }
            ServerReply::Alert {
                level: 1,
                description,
            } if description != 0 => {
                warning = Some(description);
            }
            ServerReply::Alert { level, description } => {
                let level = match level {
                    1 => "warning".to_owned(),
                    2 => "fatal".to_owned(),
                    other => format!("level-{other}"),
                };
                return Err(format!(
                    "{level} alert {} ({description})",
                    alert_name(description)
                ));
            }
            ServerReply::NeedMore => {}
            ServerReply::NotTls(why) => return Err(format!("not TLS: {why}")),
        }
    }
}
