//! Reading a server's first answer to the ClientHello: the records joined and bounded, the
//! ServerHello's version and cipher, an alert, or why the bytes are not TLS.

use super::{ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, HEARTBEAT, ServerReply};

/// A TLS record's fragment is at most 2^14 bytes (plus 2048 of expansion when protected).
const MAX_RECORD: usize = 16_384 + 2048;
/// A ServerHello body holds at least a version, a random, a session id length, a cipher suite
/// and a compression method.
const MIN_SERVER_HELLO: usize = 2 + 32 + 1 + 2 + 1;
/// A ServerHello body is at most about this long (fixed fields, a 32-byte session id and 64 KiB
/// of extensions); a longer one is garbage.
const MAX_SERVER_HELLO: usize = 2 + 32 + 1 + 32 + 2 + 1 + 2 + 65_535;
/// [`parse_server_reply`] looks at no more than this many bytes.
const MAX_SCAN: usize = 64 * 1024;

pub(super) fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Words for bytes that do not start a TLS record: the text if it is text, else the first
/// bytes in hex.
fn not_a_record(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let text = head
        .iter()
        .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t'));
    if text {
        format!(
            "the server answered with text: {:?}",
            String::from_utf8_lossy(head).trim_end()
        )
    } else {
        let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!(
            "the answer starts with bytes {} (not a TLS record)",
            hex.join(" ")
        )
    }
}

/// Reads the start of a handshake stream: `None` until the ServerHello's version and cipher
/// are there.
fn server_hello(hs: &[u8]) -> Option<ServerReply> {
    let header = hs.get(..4)?;
    let kind = header[0];
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if kind != 2 {
        return Some(ServerReply::NotTls(format!(
            "the first handshake message is of type {kind}, not a ServerHello (2)"
        )));
    }
    if !(MIN_SERVER_HELLO..=MAX_SERVER_HELLO).contains(&len) {
        return Some(ServerReply::NotTls(format!(
            "a ServerHello of {len} bytes cannot be right"
        )));
    }
    let body = &hs[4..];
    let version = u16_at(body, 0)?;
    let sid_len = usize::from(*body.get(34)?);
    if sid_len > 32 || 35 + sid_len + 3 > len {
        return Some(ServerReply::NotTls(format!(
            "the ServerHello's session id of {sid_len} bytes does not fit"
        )));
    }
    let cipher = u16_at(body, 35 + sid_len)?;
    Some(ServerReply::ServerHello { version, cipher })
}

/// Reads a server's first answer to a ClientHello from the bytes received so far. Handshake
/// records are joined (a ServerHello may be fragmented, and may share its record with the
/// next messages, which are not read); a record may be incomplete as long as the ServerHello's
/// fields are there. Warning alerts followed by more records are skipped. Every length is
/// checked against the data and against TLS's limits; at most 64 KiB are looked at.
pub(crate) fn parse_server_reply(bytes: &[u8]) -> ServerReply {
    let bytes = &bytes[..bytes.len().min(MAX_SCAN)];
    let mut handshake: Vec<u8> = Vec::new();
    let mut warning: Option<u8> = None;
    let mut pos = 0;
    loop {
        let rest = &bytes[pos..];
        if let Some(&kind) = rest.first()
            && !matches!(
                kind,
                HANDSHAKE | ALERT | CHANGE_CIPHER_SPEC | APPLICATION_DATA | HEARTBEAT
            )
        {
            return ServerReply::NotTls(not_a_record(rest));
        }
        if let Some(&major) = rest.get(1)
            && major != 3
        {
            return ServerReply::NotTls(not_a_record(rest));
        }
        let Some(header) = rest.get(..5) else {
            return match warning {
                Some(description) if rest.is_empty() && handshake.is_empty() => {
                    ServerReply::Alert {
                        level: 1,
                        description,
                    }
                }
                _ => ServerReply::NeedMore,
            };
        };
        let kind = header[0];
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_RECORD {
            return ServerReply::NotTls(format!(
                "a record of {len} bytes is longer than TLS allows"
            ));
        }
        let fragment = &rest[5..rest.len().min(5 + len)];
        let complete = fragment.len() == len;
        match kind {
            HANDSHAKE => {
                handshake.extend_from_slice(fragment);
                if let Some(reply) = server_hello(&handshake) {
                    return reply;
                }
                if !complete {
                    return ServerReply::NeedMore;
                }
            }
            ALERT => {
                let (Some(&level), Some(&description)) = (fragment.first(), fragment.get(1)) else {
                    return if complete {
                        ServerReply::NotTls(format!("an alert record of {len} byte(s)"))
                    } else {
                        ServerReply::NeedMore
                    };
                };
                if level != 1 || description == 0 {
                    return ServerReply::Alert { level, description };
                }
                warning = Some(description);
                if !complete {
                    return ServerReply::NeedMore;
                }
            }
            other => {
                let what = match other {
                    CHANGE_CIPHER_SPEC => "change_cipher_spec",
                    APPLICATION_DATA => "application_data",
                    _ => "heartbeat",
                };
                return ServerReply::NotTls(format!("a {what} record before any ServerHello"));
            }
        }
        pos += 5 + len;
    }
}
