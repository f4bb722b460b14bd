//! A sans-I/O, bounded parser for SMTP replies (RFC 5321 §4.2).
//!
//! Bytes go in with [`ReplyParser::feed`]; a complete [`Reply`] (or the reason the input is not
//! one) comes out. The parser never holds more than one line of a reply in its partial buffer and
//! never more than [`ReplyLimits::max_reply_bytes`] in a reply, so a hostile server can make it
//! give up but not grow without bound.

use crate::facts::Reply;
use crate::sanitize::{from_wire, truncate};

/// Caps applied while parsing a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest accepted line in bytes, CRLF included (RFC 5321 §4.5.3.1.5 says 512).
    pub max_line: usize,
    /// Most lines in one reply.
    pub max_lines: usize,
    /// Most bytes in one reply.
    pub max_reply_bytes: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            max_line: 2048,
            max_lines: 100,
            max_reply_bytes: 64 * 1024,
        }
    }
}

/// What [`ReplyParser::feed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A complete reply.
    Reply(Reply),
    /// The input breaks the protocol; the connection should not be used any more.
    Broken(String),
}

/// Incremental reply parser. Feed it bytes as they arrive; it consumes what it uses, so bytes of
/// the next (pipelined) reply stay in the caller's buffer.
#[derive(Debug, Clone, Default)]
pub struct ReplyParser {
    limits: ReplyLimits,
    partial: Vec<u8>,
    code: Option<u16>,
    lines: Vec<String>,
    enhanced: Option<String>,
    bytes: usize,
}

impl ReplyParser {
    /// A parser with these limits.
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Whether the parser is in the middle of a reply (some bytes of it were seen).
    pub fn in_progress(&self) -> bool {
        !self.partial.is_empty() || !self.lines.is_empty()
    }

    /// Consumes bytes from the front of `buf` until a reply is complete, the input is broken, or
    /// `buf` is exhausted. After a complete reply the parser is ready for the next one.
    pub fn feed(&mut self, buf: &mut Vec<u8>) -> Parsed {
        let mut used = 0;
        let result = loop {
            let rest = &buf[used..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                self.partial.extend_from_slice(rest);
                used = buf.len();
                if self.partial.len() > self.limits.max_line {
                    break Parsed::Broken(format!(
                        "reply line longer than {} bytes",
                        self.limits.max_line
                    ));
                }
                break Parsed::Incomplete;
            };
            self.partial.extend_from_slice(&rest[..=nl]);
            used += nl + 1;
            let line = std::mem::take(&mut self.partial);
            match self.line(&line) {
                Parsed::Incomplete => {}
                done => break done,
            }
        };
        buf.drain(..used);
        if !matches!(result, Parsed::Incomplete) {
            let limits = self.limits;
            *self = Self::new(limits);
        }
        result
    }

    /// Handles one complete line (LF included).
    fn line(&mut self, raw: &[u8]) -> Parsed {
        if raw.len() > self.limits.max_line {
            return Parsed::Broken(format!(
                "reply line longer than {} bytes",
                self.limits.max_line
            ));
        }
        self.bytes += raw.len();
        if self.bytes > self.limits.max_reply_bytes {
            return Parsed::Broken(format!(
                "reply longer than {} bytes",
                self.limits.max_reply_bytes
            ));
        }
        let mut body = raw.strip_suffix(b"\n").unwrap_or(raw);
        body = body.strip_suffix(b"\r").unwrap_or(body);
        let Some(code) = parse_code(body) else {
            return Parsed::Broken(format!(
                "not an SMTP reply line: {:?}",
                truncate(&from_wire(body), 80).0
            ));
        };
        let last = match body.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => {
                return Parsed::Broken(format!(
                    "not an SMTP reply line: {:?}",
                    truncate(&from_wire(body), 80).0
                ));
            }
        };
        match self.code {
            None => {
                self.code = Some(code);
                self.enhanced = enhanced_code(code, body.get(4..).unwrap_or_default());
            }
            Some(first) if first != code => {
                return Parsed::Broken(format!(
                    "reply code changed from {first} to {code} inside a multi-line reply"
                ));
            }
            Some(_) => {}
        }
        self.lines.push(from_wire(body));
        if last {
            return Parsed::Reply(Reply {
                code,
                enhanced: self.enhanced.take(),
                lines: std::mem::take(&mut self.lines),
            });
        }
        if self.lines.len() >= self.limits.max_lines {
            return Parsed::Broken(format!(
                "multi-line reply longer than {} lines",
                self.limits.max_lines
            ));
        }
        Parsed::Incomplete
    }
}

/// The three-digit code at the start of a line: first digit 2–5, second 0–5 (RFC 5321 §4.2).
fn parse_code(line: &[u8]) -> Option<u16> {
    let d = line.get(..3)?;
    if !(b'2'..=b'5').contains(&d[0]) || !(b'0'..=b'5').contains(&d[1]) || !d[2].is_ascii_digit() {
        return None;
    }
    Some(d.iter().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0')))
}

/// The enhanced status code (RFC 3463) from the token right after the reply code, when its class
/// agrees with the code's first digit.
fn enhanced_code(code: u16, text: &[u8]) -> Option<String> {
    let token = text.split(|&b| b == b' ' || b == b'\t').next()?;
    let token = std::str::from_utf8(token).ok()?;
    let mut parts = token.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let class_ok =
        class.len() == 1 && class.as_bytes()[0] == b'0' + u8::try_from(code / 100).ok()?;
    (class_ok && matches!(class, "2" | "4" | "5") && digits(subject, 3) && digits(detail, 3))
        .then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Parsed> {
        let mut p = ReplyParser::default();
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        loop {
            match p.feed(&mut buf) {
                Parsed::Incomplete => break,
                other => out.push(other),
            }
        }
        out
    }

    fn reply(p: &Parsed) -> &Reply {
        match p {
            Parsed::Reply(r) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn single_line_with_enhanced_code() {
        let out = parse_all(b"250 2.1.0 Ok\r\n");
        let r = reply(&out[0]);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced.as_deref(), Some("2.1.0"));
        assert_eq!(r.lines, vec!["250 2.1.0 Ok"]);
    }

    #[test]
    fn multi_line_ehlo() {
        let out = parse_all(
            b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n",
        );
        assert_eq!(out.len(), 1);
        let r = reply(&out[0]);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines.len(), 4);
        assert_eq!(r.lines[3], "250 STARTTLS");
    }

    #[test]
    fn bare_code_and_bare_lf() {
        let out = parse_all(b"250\n354\r\n");
        assert_eq!(reply(&out[0]).lines, vec!["250"]);
        assert_eq!(reply(&out[1]).code, 354);
    }

    #[test]
    fn enhanced_code_only_right_after_code_and_class_must_match() {
        let r = parse_all(b"550 see https://x.example/5.7.1 here\r\n");
        assert_eq!(reply(&r[0]).enhanced, None);
        let r = parse_all(b"550 2.1.0 class disagrees\r\n");
        assert_eq!(reply(&r[0]).enhanced, None);
        let r = parse_all(b"550-5.7.1 first\r\n550 5.7.2 last\r\n");
        assert_eq!(reply(&r[0]).enhanced.as_deref(), Some("5.7.1"));
        let r = parse_all(b"451 4.7.1234 too long\r\n");
        assert_eq!(reply(&r[0]).enhanced, None);
        let r = parse_all(b"550 5.1.10 RESOLVER.ADR.RecipientNotFound\r\n");
        assert_eq!(reply(&r[0]).enhanced.as_deref(), Some("5.1.10"));
    }

    #[test]
    fn pipelined_replies_in_one_segment() {
        let out = parse_all(
            b"250 2.1.0 Ok\r\n550 5.7.1 <postmaster@x>: Relay access denied\r\n250 Ok\r\n",
        );
        assert_eq!(out.len(), 3);
        assert_eq!(reply(&out[0]).code, 250);
        assert_eq!(reply(&out[1]).code, 550);
        assert_eq!(reply(&out[1]).enhanced.as_deref(), Some("5.7.1"));
        assert_eq!(reply(&out[2]).lines, vec!["250 Ok"]);
    }

    #[test]
    fn next_reply_bytes_stay_in_buffer() {
        let mut p = ReplyParser::default();
        let mut buf = b"220 go\r\n250 injected\r\n".to_vec();
        assert_eq!(reply(&p.feed(&mut buf)).code, 220);
        assert_eq!(buf, b"250 injected\r\n");
    }

    #[test]
    fn split_byte_by_byte() {
        let input = b"220-mx.example.org ESMTP\r\n220-second\r\n220 ready\r\n";
        let mut p = ReplyParser::default();
        let mut got = None;
        for (i, b) in input.iter().enumerate() {
            let mut buf = vec![*b];
            match p.feed(&mut buf) {
                Parsed::Incomplete => assert!(i + 1 < input.len()),
                Parsed::Reply(r) => got = Some(r),
                Parsed::Broken(e) => panic!("{e}"),
            }
            assert!(buf.is_empty());
        }
        let r = got.expect("complete reply");
        assert_eq!(
            r.lines,
            vec!["220-mx.example.org ESMTP", "220-second", "220 ready"]
        );
    }

    #[test]
    fn long_line_is_broken_without_waiting_for_its_end() {
        let mut p = ReplyParser::default();
        let mut buf = vec![b'2', b'2', b'0', b' '];
        buf.extend(std::iter::repeat_n(b'a', 3000));
        assert!(matches!(p.feed(&mut buf), Parsed::Broken(e) if e.contains("line longer")));
    }

    #[test]
    fn endless_multi_line_is_capped() {
        let mut input = Vec::new();
        for _ in 0..1000 {
            input.extend_from_slice(b"250-more\r\n");
        }
        let out = parse_all(&input);
        assert!(matches!(&out[0], Parsed::Broken(e) if e.contains("100 lines")));
    }

    #[test]
    fn reply_byte_cap() {
        let limits = ReplyLimits {
            max_line: 2048,
            max_lines: 1000,
            max_reply_bytes: 64 * 1024,
        };
        let mut p = ReplyParser::new(limits);
        let line = format!("250-{}\r\n", "x".repeat(1000));
        let mut buf = line.repeat(80).into_bytes();
        assert!(matches!(p.feed(&mut buf), Parsed::Broken(e) if e.contains("65536")));
    }

    #[test]
    fn garbage_and_code_changes_are_broken() {
        assert!(matches!(
            &parse_all(b"\x00\xff\x13binary\r\n")[0],
            Parsed::Broken(_)
        ));
        assert!(matches!(
            &parse_all(b"HTTP/1.1 400 Bad\r\n")[0],
            Parsed::Broken(_)
        ));
        assert!(matches!(&parse_all(b"250x\r\n")[0], Parsed::Broken(_)));
        assert!(matches!(&parse_all(b"650 no\r\n")[0], Parsed::Broken(_)));
        assert!(matches!(
            &parse_all(b"250-a\r\n251 b\r\n")[0],
            Parsed::Broken(e) if e.contains("changed")
        ));
    }

    #[test]
    fn lines_are_sanitised() {
        let out = parse_all(b"220 mx\x1b[31m \xff\xfe\tok\x07\r\n");
        assert_eq!(reply(&out[0]).lines, vec!["220 mx[31m \u{fffd}\u{fffd} ok"]);
    }
}
