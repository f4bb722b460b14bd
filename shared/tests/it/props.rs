//! Property tests of the parsers that read hostile input: SMTP replies (any bytes, split
//! anywhere), domain input, and the SPF, DMARC, MTA-STS and TLS-RPT records. No panic, bounded
//! memory, and a round trip where one exists.
//!
//! Each property runs 256 cases by default (CI's budget). The long run sets
//! `MAILCHECK_PROPTEST_CASES` (e.g. `1000000`): see the README's "Property tests" section for
//! its figures.

use mailcheck::DomainName;
use mailcheck::probe::smtp::reply::{Parsed, ReplyLimits, ReplyParser};
use proptest::prelude::*;

/// The number of cases per property: `MAILCHECK_PROPTEST_CASES`, else 256.
fn cases() -> u32 {
    std::env::var("MAILCHECK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Feeds `bytes` to a parser in the given chunk sizes; every finished reply and the parser's
/// largest buffered input.
fn feed_in_chunks(bytes: &[u8], chunks: &[usize], limits: ReplyLimits) -> (Vec<Parsed>, usize) {
    let mut parser = ReplyParser::new(limits);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut at = 0;
    let mut most = 0;
    let mut sizes = chunks.iter().copied().cycle();
    while at < bytes.len() {
        let n = sizes.next().unwrap_or(1).clamp(1, bytes.len() - at);
        buf.extend_from_slice(&bytes[at..at + n]);
        at += n;
        loop {
            match parser.feed(&mut buf) {
                Parsed::Incomplete => break,
                done => out.push(done),
            }
            if buf.is_empty() {
                break;
            }
        }
        most = most.max(buf.len());
    }
    (out, most)
}

/// A well-formed multi-line reply: `code-text` lines then `code text`.
fn reply_strategy() -> impl Strategy<Value = (u16, Vec<String>)> {
    // RFC 5321 §4.2: first digit 2–5, second 0–5.
    (
        (2u16..=5, 0u16..=5, 0u16..=9).prop_map(|(a, b, c)| a * 100 + b * 10 + c),
        prop::collection::vec("[ -~&&[^\r\n]]{0,60}", 1..6),
    )
}

fn wire(code: u16, lines: &[String]) -> Vec<u8> {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{sep}{line}\r\n"));
    }
    out.into_bytes()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reply_parser_survives_any_bytes_split_anywhere(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        chunks in prop::collection::vec(1usize..64, 1..8),
    ) {
        let limits = ReplyLimits { max_line: 512, max_lines: 20, max_reply_bytes: 4096 };
        let (_, most) = feed_in_chunks(&bytes, &chunks, limits);
        // The parser keeps at most one line in its buffer; the caller's buffer holds at most
        // one chunk past what the parser took.
        prop_assert!(most <= 64 + 512, "{most}");
    }

    #[test]
    fn a_well_formed_reply_parses_the_same_however_it_is_split(
        (code, lines) in reply_strategy(),
        chunks in prop::collection::vec(1usize..32, 1..8),
    ) {
        let bytes = wire(code, &lines);
        let (out, _) = feed_in_chunks(&bytes, &chunks, ReplyLimits::default());
        prop_assert_eq!(out.len(), 1, "{:?}", out);
        let Parsed::Reply(reply) = &out[0] else {
            return Err(TestCaseError::fail(format!("{:?}", out[0])));
        };
        prop_assert_eq!(reply.code, code);
        prop_assert_eq!(reply.lines.len(), lines.len());
        for (i, (got, want)) in reply.lines.iter().zip(&lines).enumerate() {
            // Stored lines are the lines as sent (code and separator included), without CRLF
            // and trailing space.
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let sent = format!("{code}{sep}{want}");
            prop_assert_eq!(got.trim_end(), sent.trim_end());
        }
    }

    #[test]
    fn domain_input_never_panics_and_normalising_is_idempotent(input in "\\PC{0,300}") {
        if let Ok(d) = DomainName::parse(&input) {
            let s = d.as_str();
            prop_assert!(s.len() <= 253, "{s}");
            prop_assert!(s.is_ascii() && s == s.to_ascii_lowercase(), "{s}");
            let again = DomainName::parse(s).expect("a normalised name parses");
            prop_assert_eq!(again.as_str(), s);
        }
    }

    #[test]
    fn domain_like_input_round_trips(
        // Hyphens in the third and fourth places are reserved (RFC 5891 §4.2.3.1: `xn--` is an
        // A-label that must decode), so such labels are not plain names.
        labels in prop::collection::vec(
            "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?"
                .prop_filter("reserved --", |l: &String| l.get(2..4) != Some("--")),
            1..4,
        ),
        tld in "[a-zA-Z]{2,6}",
        user in proptest::option::of("[a-z]{1,8}"),
        url in any::<bool>(),
    ) {
        let name = format!("{}.{tld}", labels.join("."));
        let input = match (user, url) {
            (Some(u), _) => format!("{u}@{name}"),
            (None, true) => format!("https://{name}/path?q=1"),
            (None, false) => name.clone(),
        };
        let d = DomainName::parse(&input);
        prop_assert!(d.is_ok(), "{input}: {d:?}");
        let d = d.unwrap();
        prop_assert_eq!(d.as_str(), name.to_ascii_lowercase());
    }

    #[test]
    fn spf_parser_never_panics(text in "\\PC{0,400}") {
        let _ = mailcheck::spf::record::parse_record(&text);
        let _ = mailcheck::spf::record::parse_record(&format!("v=spf1 {text}"));
    }

    #[test]
    fn spf_records_of_known_terms_parse(
        terms in prop::collection::vec(
            prop_oneof![
                Just("mx".to_owned()),
                Just("a".to_owned()),
                Just("-all".to_owned()),
                Just("~all".to_owned()),
                "ip4:(25[0-5]|1[0-9]{2}|[1-9]?[0-9])\\.1\\.2\\.3(/[0-9]|/[12][0-9]|/3[0-2])?",
                "include:[a-z]{1,10}\\.example",
                "exists:%\\{i\\}\\.[a-z]{1,8}\\.example",
            ],
            0..8,
        ),
    ) {
        let text = format!("v=spf1 {}", terms.join(" "));
        prop_assert!(
            mailcheck::spf::record::parse_record(&text).is_ok(),
            "{text}: {:?}",
            mailcheck::spf::record::parse_record(&text)
        );
    }

    #[test]
    fn dmarc_parser_never_panics_and_reads_the_policy(
        text in "\\PC{0,300}",
        policy in prop_oneof![Just("none"), Just("quarantine"), Just("reject")],
        rest in "(; [a-z]{1,5}=[a-z0-9:@.]{0,20}){0,4}",
    ) {
        let _ = mailcheck::auth::dmarc::parse_record(&text);
        let record = format!("v=DMARC1; p={policy}{rest}");
        if let Ok(parsed) = mailcheck::auth::dmarc::parse_record(&record) {
            prop_assert_eq!(parsed.text, record);
        }
    }

    #[test]
    fn mta_sts_and_tls_rpt_parsers_never_panic(text in "\\PC{0,400}") {
        let _ = mailcheck::auth::mtasts::parse_record(&text);
        let _ = mailcheck::auth::mtasts::parse_policy(&text);
        let _ = mailcheck::auth::mtasts::parse_policy(&text.replace(';', "\n"));
        let _ = mailcheck::auth::tlsrpt::parse_record(&text);
    }
}
