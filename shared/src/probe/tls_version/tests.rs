//! Unit tests of the version probe: the ClientHello read back field by field, the reader
//! against ServerHellos, alerts, prefixes, non-TLS answers and garbage, and the exchange with a
//! fake server. Long on purpose: the strict ClientHello reader and the ServerHello writer
//! at the top serve the writer's, the reader's and the end-to-end tests alike.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::reply::u16_at;
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
