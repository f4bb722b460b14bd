//! The TLS bytes of [`SmtpServerBuilder::tls_legacy_only`]: reading a ClientHello and writing
//! the one record a TLS 1.0-only server answers.
//!
//! [`SmtpServerBuilder::tls_legacy_only`]: super::SmtpServerBuilder::tls_legacy_only

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const SUPPORTED_VERSIONS: u16 = 0x002b;
pub(super) const DECODE_ERROR: u8 = 50;
const PROTOCOL_VERSION: u8 = 70;
const HANDSHAKE_FAILURE: u8 = 40;
const TLS10: u16 = 0x0301;
/// The most ClientHello bytes read (a hello is a few hundred bytes).
const MAX_HELLO: usize = 64 * 1024;
/// The suites this server accepts, in its order of preference.
const CBC_SUITES: [u16; 9] = [
    0x002f, 0x0035, 0x000a, 0xc013, 0xc014, 0xc009, 0xc00a, 0x0033, 0x0039,
];

/// What the server looks at in a ClientHello.
#[derive(Debug)]
pub(super) struct ClientHello {
    legacy_version: u16,
    suites: Vec<u16>,
    supported_versions: Vec<u16>,
}

impl ClientHello {
    /// The record to send back, and what happened in words.
    pub(super) fn answer(&self) -> (Vec<u8>, String) {
        let offered = format!(
            "legacy_version 0x{:04x}, supported_versions {:04x?}",
            self.legacy_version, self.supported_versions
        );
        let modern = self.legacy_version > 0x0303
            || self
                .supported_versions
                .iter()
                .any(|v| matches!(v, 0x0303 | 0x0304));
        if modern || self.legacy_version < TLS10 {
            return (
                alert(PROTOCOL_VERSION),
                format!("legacy TLS: refused a hello ({offered}) with a protocol_version alert"),
            );
        }
        match CBC_SUITES.iter().find(|s| self.suites.contains(s)) {
            Some(&suite) => (
                server_hello(suite),
                format!(
                    "legacy TLS: answered a hello ({offered}) with a TLS 1.0 ServerHello, \
                     cipher suite 0x{suite:04x}"
                ),
            ),
            None => (
                alert(HANDSHAKE_FAILURE),
                format!(
                    "legacy TLS: no common cipher suite in a hello ({offered}); sent a \
                     handshake_failure alert"
                ),
            ),
        }
    }
}

fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0x03, 0x01];
    let len = u16::try_from(payload.len()).expect("a small record");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A fatal alert record.
pub(super) fn alert(description: u8) -> Vec<u8> {
    record(ALERT, &[2, description])
}

/// A ServerHello choosing TLS 1.0 and `suite`: a fixed random, no session id, null
/// compression, no extensions.
fn server_hello(suite: u16) -> Vec<u8> {
    let mut body = TLS10.to_be_bytes().to_vec();
    body.extend((0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c));
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut msg = vec![SERVER_HELLO, 0, 0, u8::try_from(body.len()).expect("short")];
    msg.extend_from_slice(&body);
    record(HANDSHAKE, &msg)
}

/// Reads handshake records until a whole ClientHello message is there. `Ok(Err(why))` for
/// anything else (including the client closing early).
pub(super) async fn read_client_hello<S: AsyncRead + Unpin>(
    io: &mut S,
) -> io::Result<Result<ClientHello, String>> {
    let mut message = Vec::new();
    loop {
        let mut header = [0u8; 5];
        if let Err(e) = io.read_exact(&mut header).await {
            return if e.kind() == io::ErrorKind::UnexpectedEof {
                Ok(Err(
                    "the client closed before a whole ClientHello".to_owned()
                ))
            } else {
                Err(e)
            };
        }
        if header[0] != HANDSHAKE || header[1] != 3 {
            return Ok(Err(format!("a record header {header:02x?}")));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > 16_384 || message.len() + len > MAX_HELLO {
            return Ok(Err(format!("a handshake record of {len} bytes")));
        }
        let start = message.len();
        message.resize(start + len, 0);
        if let Err(e) = io.read_exact(&mut message[start..]).await {
            return if e.kind() == io::ErrorKind::UnexpectedEof {
                Ok(Err("the client closed inside a record".to_owned()))
            } else {
                Err(e)
            };
        }
        if message.len() >= 4 {
            if message[0] != CLIENT_HELLO {
                return Ok(Err(format!("handshake message type {}", message[0])));
            }
            let body_len = usize::from(message[1]) << 16
                | usize::from(message[2]) << 8
                | usize::from(message[3]);
            if 4 + body_len > MAX_HELLO {
                return Ok(Err(format!("a ClientHello of {body_len} bytes")));
            }
            if message.len() >= 4 + body_len {
                return Ok(parse(&message[4..4 + body_len]));
            }
        }
    }
}

/// A bounds-checked reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!("the ClientHello ends inside its {what}"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect()
}

/// Parses a ClientHello body (after the 4-byte handshake header).
fn parse(body: &[u8]) -> Result<ClientHello, String> {
    let mut r = Reader(body);
    let legacy_version = r.u16("version")?;
    r.bytes(32, "random")?;
    let n = usize::from(r.u8("session id length")?);
    r.bytes(n, "session id")?;
    let n = usize::from(r.u16("cipher suites length")?);
    let suites = u16s(r.bytes(n, "cipher suites")?);
    let n = usize::from(r.u8("compression methods length")?);
    r.bytes(n, "compression methods")?;
    let mut supported_versions = Vec::new();
    if !r.0.is_empty() {
        let n = usize::from(r.u16("extensions length")?);
        let mut ext = Reader(r.bytes(n, "extensions")?);
        while !ext.0.is_empty() {
            let kind = ext.u16("extension type")?;
            let n = usize::from(ext.u16("extension length")?);
            let data = ext.bytes(n, "extension")?;
            if kind == SUPPORTED_VERSIONS {
                let mut sv = Reader(data);
                let n = usize::from(sv.u8("supported_versions length")?);
                supported_versions = u16s(sv.bytes(n, "supported_versions")?);
            }
        }
    }
    Ok(ClientHello {
        legacy_version,
        suites,
        supported_versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(version: u16, suites: &[u16], supported: &[u16]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
        for s in suites {
            b.extend_from_slice(&s.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]);
        if !supported.is_empty() {
            let n = u8::try_from(supported.len() * 2).unwrap();
            let mut ext = vec![0x00, 0x2b, 0, n + 1, n];
            for v in supported {
                ext.extend_from_slice(&v.to_be_bytes());
            }
            b.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
            b.extend_from_slice(&ext);
        }
        b
    }

    fn answer(body: &[u8]) -> Vec<u8> {
        parse(body).unwrap().answer().0
    }

    #[test]
    fn answers() {
        let tls10 = [0x16, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1];
        let a = answer(&hello(0x0301, &[0xc02f, 0x0035, 0x002f], &[]));
        assert_eq!(a[..11], tls10);
        assert_eq!(a[a.len() - 3..], [0x00, 0x2f, 0], "first in our preference");
        let a = answer(&hello(0x0303, &[0x000a], &[]));
        assert_eq!(a[..11], tls10);
        assert_eq!(a[a.len() - 3..a.len() - 1], [0x00, 0x0a]);
        let protocol_version = [0x15, 3, 1, 0, 2, 2, 70];
        assert_eq!(
            answer(&hello(0x0303, &[0x002f], &[0x0304, 0x0303])),
            protocol_version
        );
        assert_eq!(
            answer(&hello(0x0301, &[0x002f], &[0x0303])),
            protocol_version
        );
        assert_eq!(answer(&hello(0x0304, &[0x002f], &[])), protocol_version);
        assert_eq!(answer(&hello(0x0300, &[0x002f], &[])), protocol_version);
        assert_eq!(
            answer(&hello(0x0301, &[0xc02f], &[])),
            [0x15, 3, 1, 0, 2, 2, 40]
        );
    }

    #[test]
    fn truncated_hellos_are_errors() {
        let full = hello(0x0303, &[0x002f, 0x0035], &[0x0304]);
        assert!(parse(&full).is_ok());
        for cut in 0..full.len() {
            // Right after the compression methods, a hello without extensions is valid.
            if cut == 2 + 32 + 1 + 2 + 4 + 2 {
                continue;
            }
            assert!(parse(&full[..cut]).is_err(), "{cut}");
        }
    }
}
