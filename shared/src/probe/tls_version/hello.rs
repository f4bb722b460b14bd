//! The probe's ClientHello: one TLS record offering up to a chosen version, a broad list of
//! cipher suites old and new, and the few extensions old servers expect.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{HANDSHAKE, LegacyVersion};

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
