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
//! The writer (`client_hello`) and the reader (`parse_server_reply`) are pure functions.
//! The reader looks at no more than the first records, checks every length against what is
//! there and never panics, whatever the bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
/// [`probe_version`] reads in pieces of this size.
const CHUNK: usize = 1024;
/// [`probe_version`] reads at most this many bytes from the server.
const MAX_REPLY: usize = 4096;

/// The cipher suites a probe offers: the modern ECDHE/AEAD ones first, then the CBC, DHE and
/// plain-RSA suites TLS 1.0 servers pick, then 3DES and RC4 for the oldest, and the
/// renegotiation SCSV (RFC 5746) that some old servers want to see.
const CIPHER_SUITES: [u16; 33] = [
    0xc02b, // ECDHE-ECDSA-AES128-GCM-SHA256
    0xc02f, // ECDHE-RSA-AES128-GCM-SHA256
    0xc02c, // ECDHE-ECDSA-AES256-GCM-SHA384
    0xc030, // ECDHE-RSA-AES256-GCM-SHA384
    0xcca9, // ECDHE-ECDSA-CHACHA20-POLY1305
    0xcca8, // ECDHE-RSA-CHACHA20-POLY1305
    0x009e, // DHE-RSA-AES128-GCM-SHA256
    0x009f, // DHE-RSA-AES256-GCM-SHA384
    0xc023, // ECDHE-ECDSA-AES128-SHA256
    0xc027, // ECDHE-RSA-AES128-SHA256
    0xc024, // ECDHE-ECDSA-AES256-SHA384
    0xc028, // ECDHE-RSA-AES256-SHA384
    0xc009, // ECDHE-ECDSA-AES128-SHA
    0xc013, // ECDHE-RSA-AES128-SHA
    0xc00a, // ECDHE-ECDSA-AES256-SHA
    0xc014, // ECDHE-RSA-AES256-SHA
    0x0033, // DHE-RSA-AES128-SHA
    0x0039, // DHE-RSA-AES256-SHA
    0x009c, // AES128-GCM-SHA256
    0x009d, // AES256-GCM-SHA384
    0x003c, // AES128-SHA256
    0x003d, // AES256-SHA256
    0x002f, // AES128-SHA
    0x0035, // AES256-SHA
    0x0041, // CAMELLIA128-SHA
    0x0084, // CAMELLIA256-SHA
    0xc012, // ECDHE-RSA-DES-CBC3-SHA
    0x0016, // EDH-RSA-DES-CBC3-SHA
    0x000a, // DES-CBC3-SHA
    0x0005, // RC4-SHA
    0x0004, // RC4-MD5
    0x0007, // IDEA-CBC-SHA
    0x00ff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
];

/// x25519, secp256r1, secp384r1.
const GROUPS: [u16; 3] = [0x001d, 0x0017, 0x0018];

/// ECDSA, RSA-PSS and RSA-PKCS#1 with SHA-256/384/512, then the SHA-1 ones.
const SIGNATURE_ALGORITHMS: [u16; 11] = [
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
];

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `len` as a big-endian u16 length; every length written here is far below 64 KiB.
fn put_len16(out: &mut Vec<u8>, len: usize) {
    put_u16(out, u16::try_from(len).unwrap_or(u16::MAX));
}

fn put_extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    put_u16(out, kind);
    put_len16(out, body.len());
    out.extend_from_slice(body);
}

/// The host name for SNI: lower case, without a trailing dot; `None` for an IP address
/// literal (RFC 6066 forbids those), an empty, overlong or non-ASCII name.
fn sni_name(server_name: &str) -> Option<String> {
    let name = server_name.trim().trim_end_matches('.');
    let usable = !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    usable.then(|| name.to_ascii_lowercase())
}

/// 32 bytes for the hello's random. They only have to differ between hellos (this handshake
/// never derives keys), so a clock-based fallback is fine if the system RNG fails.
fn hello_random() -> [u8; 32] {
    let mut random = [0u8; 32];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut random).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in random.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)).to_le_bytes()[0] ^ u8::try_from(i).unwrap_or(0);
        }
    }
    random
}

/// One TLS record (record version TLS 1.0, as most clients use for the first flight) holding a
/// ClientHello that offers at most `max`: a fresh random, an empty session id, a broad list of
/// cipher suites (modern AEAD ones and the classic CBC/RSA suites TLS 1.0 servers choose, such
/// as `0x002f`, `0x0035`, `0x000a`, `0xc013`, `0xc014`, `0xc009`, `0xc00a`, `0x0033`, `0x0039`),
/// null compression, and the extensions server_name (unless `server_name` is an IP address or
/// unusable), supported_groups (x25519, secp256r1, secp384r1), ec_point_formats
/// (uncompressed), and for TLS 1.2 signature_algorithms. There is no supported_versions
/// extension, so a server answers with at most `max`.
pub(crate) fn client_hello(server_name: &str, max: LegacyVersion) -> Vec<u8> {
    let mut extensions = Vec::new();
    if let Some(name) = sni_name(server_name) {
        let mut body = Vec::with_capacity(name.len() + 5);
        put_len16(&mut body, name.len() + 3);
        body.push(0); // host_name
        put_len16(&mut body, name.len());
        body.extend_from_slice(name.as_bytes());
        put_extension(&mut extensions, 0x0000, &body);
    }
    let mut groups = Vec::new();
    put_len16(&mut groups, GROUPS.len() * 2);
    for g in GROUPS {
        put_u16(&mut groups, g);
    }
    put_extension(&mut extensions, 0x000a, &groups);
    put_extension(&mut extensions, 0x000b, &[1, 0]);
    if max == LegacyVersion::Tls12 {
        let mut algs = Vec::new();
        put_len16(&mut algs, SIGNATURE_ALGORITHMS.len() * 2);
        for a in SIGNATURE_ALGORITHMS {
            put_u16(&mut algs, a);
        }
        put_extension(&mut extensions, 0x000d, &algs);
    }

    let mut hello = Vec::with_capacity(256);
    put_u16(&mut hello, max.wire());
    hello.extend_from_slice(&hello_random());
    hello.push(0); // session id: empty
    put_len16(&mut hello, CIPHER_SUITES.len() * 2);
    for s in CIPHER_SUITES {
        put_u16(&mut hello, s);
    }
    hello.extend_from_slice(&[1, 0]); // compression methods: null only
    put_len16(&mut hello, extensions.len());
    hello.extend_from_slice(&extensions);

    let mut record = Vec::with_capacity(hello.len() + 9);
    record.extend_from_slice(&[HANDSHAKE, 0x03, 0x01]);
    put_len16(&mut record, hello.len() + 4);
    record.push(1); // client_hello
    let len = u32::try_from(hello.len()).unwrap_or(0).to_be_bytes();
    record.extend_from_slice(&len[1..]);
    record.extend_from_slice(&hello);
    record
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a ClientHello says, read back by a strict little parser that insists every length
    /// adds up exactly.
    #[derive(Debug)]
    struct Hello {
        record_version: u16,
        version: u16,
        random: Vec<u8>,
        session_id: Vec<u8>,
        suites: Vec<u16>,
        compression: Vec<u8>,
        extensions: Vec<(u16, Vec<u8>)>,
    }

    impl Hello {
        fn extension(&self, kind: u16) -> Option<&[u8]> {
            self.extensions
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, b)| b.as_slice())
        }

        fn sni(&self) -> Option<String> {
            let b = self.extension(0x0000)?;
            assert_eq!(usize::from(u16_at(b, 0).unwrap()), b.len() - 2);
            assert_eq!(b[2], 0, "host_name");
            assert_eq!(usize::from(u16_at(b, 3).unwrap()), b.len() - 5);
            Some(String::from_utf8(b[5..].to_vec()).unwrap())
        }
    }

    fn u16_list(b: &[u8]) -> Vec<u16> {
        assert_eq!(usize::from(u16_at(b, 0).unwrap()), b.len() - 2);
        b[2..]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    fn read_hello(rec: &[u8]) -> Hello {
        struct Cursor<'a>(&'a [u8]);
        impl<'a> Cursor<'a> {
            fn take(&mut self, n: usize) -> &'a [u8] {
                let (a, b) = self.0.split_at(n);
                self.0 = b;
                a
            }
            fn u8(&mut self) -> u8 {
                self.take(1)[0]
            }
            fn u16(&mut self) -> u16 {
                let b = self.take(2);
                u16::from_be_bytes([b[0], b[1]])
            }
        }
        let mut c = Cursor(rec);
        assert_eq!(c.u8(), 22, "handshake record");
        let record_version = c.u16();
        assert_eq!(usize::from(c.u16()), c.0.len(), "record length");
        assert_eq!(c.u8(), 1, "client_hello");
        let len = c.take(3);
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        assert_eq!(len, c.0.len(), "handshake length");
        let version = c.u16();
        let random = c.take(32).to_vec();
        let n = usize::from(c.u8());
        let session_id = c.take(n).to_vec();
        let n = usize::from(c.u16());
        assert_eq!(n % 2, 0);
        let suites = c
            .take(n)
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        let suites = suites.collect();
        let n = usize::from(c.u8());
        let compression = c.take(n).to_vec();
        assert_eq!(usize::from(c.u16()), c.0.len(), "extensions length");
        let mut extensions = Vec::new();
        while !c.0.is_empty() {
            let kind = c.u16();
            let n = usize::from(c.u16());
            extensions.push((kind, c.take(n).to_vec()));
        }
        Hello {
            record_version,
            version,
            random,
            session_id,
            suites,
            compression,
            extensions,
        }
    }

    #[test]
    fn client_hello_fields_round_trip() {
        for max in [
            LegacyVersion::Tls10,
            LegacyVersion::Tls11,
            LegacyVersion::Tls12,
        ] {
            let h = read_hello(&client_hello("MX.Example.Test.", max));
            assert_eq!(h.record_version, 0x0301);
            assert_eq!(h.version, max.wire());
            assert_eq!(h.random.len(), 32);
            assert!(h.session_id.is_empty());
            for classic in [
                0x002f, 0x0035, 0x000a, 0xc013, 0xc014, 0xc009, 0xc00a, 0x0033, 0x0039,
            ] {
                assert!(h.suites.contains(&classic), "{classic:04x}");
            }
            for modern in [0xc02b, 0xc02f, 0xc030, 0xcca8] {
                assert!(h.suites.contains(&modern), "{modern:04x}");
            }
            assert_eq!(h.compression, [0]);
            assert_eq!(h.sni().as_deref(), Some("mx.example.test"));
            assert_eq!(
                u16_list(h.extension(0x000a).unwrap()),
                [0x001d, 0x0017, 0x0018]
            );
            assert_eq!(h.extension(0x000b), Some(&[1, 0][..]));
            let sigalgs = h.extension(0x000d).map(u16_list);
            if max == LegacyVersion::Tls12 {
                let sigalgs = sigalgs.expect("signature_algorithms for TLS 1.2");
                assert!(sigalgs.contains(&0x0401) && sigalgs.contains(&0x0403));
            } else {
                assert!(sigalgs.is_none(), "{max:?}");
            }
            assert!(h.extension(0x002b).is_none(), "no supported_versions");
            let kinds: Vec<u16> = h.extensions.iter().map(|(k, _)| *k).collect();
            let mut unique = kinds.clone();
            unique.dedup();
            assert_eq!(kinds, unique);
        }
        let a = read_hello(&client_hello("mx.example.test", LegacyVersion::Tls12));
        let b = read_hello(&client_hello("mx.example.test", LegacyVersion::Tls12));
        assert_ne!(a.random, b.random, "a fresh random each time");
    }

    #[test]
    fn no_sni_for_addresses_or_unusable_names() {
        for name in [
            "192.0.2.1",
            "2001:db8::25",
            "",
            ".",
            "bad name.test",
            "bücher.test",
        ] {
            let h = read_hello(&client_hello(name, LegacyVersion::Tls12));
            assert!(h.sni().is_none(), "{name:?}");
            assert!(h.extension(0x000a).is_some());
        }
        let long = format!("{}.test", "a".repeat(300));
        assert!(
            read_hello(&client_hello(&long, LegacyVersion::Tls10))
                .sni()
                .is_none()
        );
    }

    /// A ServerHello record: version, 32 bytes of random, a session id, the cipher, null
    /// compression, then `tail` (extensions) inside the message.
    fn server_hello_record(version: u16, sid: &[u8], cipher: u16, tail: &[u8]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[0x5a; 32]);
        body.push(u8::try_from(sid.len()).unwrap());
        body.extend_from_slice(sid);
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0);
        body.extend_from_slice(tail);
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut msg = vec![2, len[1], len[2], len[3]];
        msg.extend_from_slice(&body);
        record(22, &msg)
    }

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 1];
        r.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    const TLS10_AES128: ServerReply = ServerReply::ServerHello {
        version: 0x0301,
        cipher: 0x002f,
    };

    #[test]
    fn reads_server_hellos() {
        let plain = server_hello_record(0x0301, &[], 0x002f, &[]);
        assert_eq!(parse_server_reply(&plain), TLS10_AES128);
        let with_sid = server_hello_record(0x0302, &[7; 32], 0xc014, &[0, 5, 0xff, 1, 0, 1, 0]);
        assert_eq!(
            parse_server_reply(&with_sid),
            ServerReply::ServerHello {
                version: 0x0302,
                cipher: 0xc014
            }
        );
        // Followed by more records (certificate…), which are not read.
        let mut flight = plain.clone();
        flight.extend_from_slice(&record(22, &[11, 0, 0, 3, 0, 0, 0]));
        assert_eq!(parse_server_reply(&flight), TLS10_AES128);

        // The ServerHello fragmented over three records.
        let msg = &plain[5..];
        let mut split = record(22, &msg[..3]);
        split.extend_from_slice(&record(22, &msg[3..20]));
        split.extend_from_slice(&record(22, &msg[20..]));
        assert_eq!(parse_server_reply(&split), TLS10_AES128);

        // The ServerHello and a large certificate in one record, only its start received.
        let mut big = msg.to_vec();
        big.extend_from_slice(&[11, 0, 0x30, 0]);
        big.resize(msg.len() + 12_000, 0x30);
        let big = record(22, &big);
        assert_eq!(parse_server_reply(&big[..200]), TLS10_AES128);
        assert_eq!(parse_server_reply(&big), TLS10_AES128);
    }

    #[test]
    fn every_prefix_of_a_reply_needs_more() {
        let hello = server_hello_record(0x0301, &[9; 32], 0x002f, &[]);
        // The fields end with the cipher: 5 + 4 + 2 + 32 + 1 + 32 + 2.
        let needed = 5 + 4 + 2 + 32 + 1 + 32 + 2;
        for cut in 0..needed {
            assert_eq!(
                parse_server_reply(&hello[..cut]),
                ServerReply::NeedMore,
                "{cut}"
            );
        }
        for cut in needed..=hello.len() {
            assert!(
                matches!(
                    parse_server_reply(&hello[..cut]),
                    ServerReply::ServerHello {
                        version: 0x0301,
                        ..
                    }
                ),
                "{cut}"
            );
        }
        let alert = record(21, &[2, 70]);
        for cut in 0..alert.len() {
            assert_eq!(
                parse_server_reply(&alert[..cut]),
                ServerReply::NeedMore,
                "{cut}"
            );
        }
    }

    #[test]
    fn reads_alerts() {
        assert_eq!(
            parse_server_reply(&record(21, &[2, 70])),
            ServerReply::Alert {
                level: 2,
                description: 70
            }
        );
        assert_eq!(
            parse_server_reply(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
            ServerReply::Alert {
                level: 2,
                description: 40
            }
        );
        // A warning alone is reported; followed by a ServerHello, it is skipped.
        let warning = record(21, &[1, 112]);
        assert_eq!(
            parse_server_reply(&warning),
            ServerReply::Alert {
                level: 1,
                description: 112
            }
        );
        let mut then = warning.clone();
        then.extend_from_slice(&[22, 3]);
        assert_eq!(parse_server_reply(&then), ServerReply::NeedMore);
        let mut then = warning.clone();
        then.extend_from_slice(&server_hello_record(0x0301, &[], 0x002f, &[]));
        assert_eq!(parse_server_reply(&then), TLS10_AES128);
        // close_notify at warning level ends the exchange.
        assert_eq!(
            parse_server_reply(&record(21, &[1, 0])),
            ServerReply::Alert {
                level: 1,
                description: 0
            }
        );
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(250), "alert 250");
    }

    fn not_tls(bytes: &[u8]) -> String {
        match parse_server_reply(bytes) {
            ServerReply::NotTls(why) => why,
            other => panic!("{bytes:?}: {other:?}"),
        }
    }

    #[test]
    fn rejects_what_is_not_tls() {
        let why = not_tls(b"454 4.7.0 TLS not available\r\n");
        assert!(why.contains("454 4.7.0 TLS not available"), "{why}");
        assert!(not_tls(b"4").contains("text"));
        assert!(not_tls(&[0x80, 0x2e, 0x04, 0x00]).contains("80 2e 04 00"));
        // A record version that is not 3.x.
        assert!(!not_tls(&[22, 2, 0]).is_empty());
        // Record types that cannot come first.
        assert!(not_tls(&record(20, &[1])).contains("change_cipher_spec"));
        assert!(not_tls(&record(23, &[1, 2, 3])).contains("application_data"));
        // Longer than TLS allows.
        assert!(not_tls(&[22, 3, 1, 0xff, 0xff]).contains("65535"));
        // Another handshake message than ServerHello.
        assert!(not_tls(&record(22, &[11, 0, 0, 0])).contains("type 11"));
        // A ServerHello too short to hold its fields, or with an oversized session id.
        assert!(!not_tls(&record(22, &[2, 0, 0, 10, 3, 1])).is_empty());
        let mut bad_sid = server_hello_record(0x0301, &[], 0x002f, &[]);
        bad_sid[5 + 4 + 34] = 33;
        assert!(not_tls(&bad_sid).contains("session id"));
        // An alert record too short to hold an alert.
        assert!(not_tls(&record(21, &[2])).contains("alert record"));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let good = server_hello_record(0x0301, &[1; 16], 0x002f, &[0, 0]);
        for round in 0..20_000 {
            let mut bytes = if round % 2 == 0 {
                good.clone()
            } else {
                let len = usize::try_from(next() % 300).unwrap();
                (0..len).map(|_| next().to_le_bytes()[0]).collect()
            };
            // Flip a few bytes, keeping a plausible record header half of the time.
            for _ in 0..3 {
                if bytes.is_empty() {
                    break;
                }
                let at = usize::try_from(next()).unwrap() % bytes.len();
                bytes[at] = next().to_le_bytes()[0];
            }
            if round % 4 == 1 && bytes.len() > 2 {
                bytes[0] = 22;
                bytes[1] = 3;
            }
            let cut = usize::try_from(next()).unwrap() % (bytes.len() + 1);
            let _ = parse_server_reply(&bytes[..cut]);
            let _ = parse_server_reply(&bytes);
        }
        // Many tiny records: bounded by the scan limit.
        let many = record(22, &[]).repeat(100_000);
        assert_eq!(parse_server_reply(&many), ServerReply::NeedMore);
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x0301), "TLSv1.0");
        assert_eq!(version_name(0x0302), "TLSv1.1");
        assert_eq!(version_name(0x0303), "TLSv1.2");
        assert_eq!(version_name(0x0304), "TLSv1.3");
        assert_eq!(version_name(0x7f1c), "0x7f1c");
    }

    /// Runs `probe_version` against a fake server that reads the whole ClientHello, checks it
    /// offers TLS 1.2 at most, then sends `answer` (in `pieces` writes) and closes, or stays
    /// silent when `answer` is `None`.
    async fn probe_against(
        answer: Option<Vec<u8>>,
        pieces: usize,
        timeout: Duration,
    ) -> Result<String, String> {
        let (mut client, mut server) = tokio::io::duplex(64);
        let fake = tokio::spawn(async move {
            let mut got = vec![0u8; 5];
            server.read_exact(&mut got).await.unwrap();
            let len = usize::from(u16::from_be_bytes([got[3], got[4]]));
            got.resize(5 + len, 0);
            server.read_exact(&mut got[5..]).await.unwrap();
            let hello = read_hello(&got);
            assert_eq!(hello.version, 0x0303);
            assert_eq!(hello.sni().as_deref(), Some("mx.example.test"));
            match answer {
                Some(bytes) => {
                    let size = bytes.len().div_ceil(pieces).max(1);
                    for piece in bytes.chunks(size) {
                        server.write_all(piece).await.unwrap();
                        server.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                None => tokio::time::sleep(Duration::from_secs(5)).await,
            }
        });
        let result = probe_version(&mut client, "mx.example.test", timeout).await;
        drop(client);
        fake.abort();
        result
    }

    #[tokio::test]
    async fn probe_over_a_fake_server() {
        let second = Duration::from_secs(5);
        let hello = server_hello_record(0x0301, &[3; 32], 0x002f, &[]);
        assert_eq!(
            probe_against(Some(hello.clone()), 1, second).await,
            Ok("TLSv1.0".to_owned())
        );
        assert_eq!(
            probe_against(Some(hello), 40, second).await,
            Ok("TLSv1.0".to_owned())
        );
        for (version, name) in [(0x0300, "SSLv3"), (0x0302, "TLSv1.1"), (0x0303, "TLSv1.2")] {
            let hello = server_hello_record(version, &[], 0xc013, &[]);
            assert_eq!(
                probe_against(Some(hello), 1, second).await,
                Ok(name.to_owned())
            );
        }
        // A warning first, then the ServerHello.
        let mut warned = record(21, &[1, 112]);
        warned.extend_from_slice(&server_hello_record(0x0302, &[], 0x0035, &[]));
        assert_eq!(
            probe_against(Some(warned), 3, second).await,
            Ok("TLSv1.1".to_owned())
        );

        let err = |r: Result<String, String>| r.expect_err("must fail");
        let e = err(probe_against(Some(record(21, &[2, 70])), 1, second).await);
        assert_eq!(e, "fatal alert protocol_version (70)");
        let e = err(probe_against(Some(record(21, &[1, 112])), 1, second).await);
        assert!(
            e.contains("closed") && e.contains("unrecognized_name"),
            "{e}"
        );
        let e = err(probe_against(Some(Vec::new()), 1, second).await);
        assert!(e.contains("closed the connection without answering"), "{e}");
        let hello = server_hello_record(0x0301, &[], 0x002f, &[]);
        let e = err(probe_against(Some(hello[..20].to_vec()), 1, second).await);
        assert!(e.contains("incomplete") && e.contains("20 byte"), "{e}");
        let e = err(probe_against(Some(b"500 5.5.1 what?\r\n".to_vec()), 1, second).await);
        assert!(e.starts_with("not TLS") && e.contains("500 5.5.1"), "{e}");
        let e = err(probe_against(None, 1, Duration::from_millis(100)).await);
        assert!(e.contains("timed out after 100 ms"), "{e}");
        let tls13 = server_hello_record(0x0304, &[], 0x1301, &[]);
        let e = err(probe_against(Some(tls13), 1, second).await);
        assert!(e.contains("TLSv1.3") && e.contains("did not offer"), "{e}");
        // Endless warnings: the probe stops after a few KiB.
        let warnings = record(21, &[1, 112]).repeat(2000);
        let e = err(probe_against(Some(warnings), 50, second).await);
        assert!(e.contains("first 4096 bytes"), "{e}");
    }
}
