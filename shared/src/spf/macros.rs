//! Macro strings (RFC 7208 §7): `%{letter transformers delimiters}`, `%%`, `%_`, `%-` and
//! literal text. Parsing is pure and strict (a syntax error is a permerror in a record, and makes
//! an explanation be ignored); expansion is pure given the values, and bounded.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The longest expansion we produce, in bytes; a longer one is an error (a hostile record and a
/// long sender could otherwise multiply).
pub const MAX_EXPANSION: usize = 8192;

/// Where a macro string appears, which decides the letters it may use (§7.2) and whether spaces
/// are literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroUse {
    /// A domain-spec: `s l o d i p h v` only.
    Domain,
    /// The value of an unknown modifier: any letter (it is never expanded).
    Modifier,
    /// An explanation string fetched by `exp=`: also `c r t`, and spaces.
    Explanation,
}

/// A macro letter (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacroLetter {
    /// `s`: the sender (`local@domain`).
    Sender,
    /// `l`: the local-part of the sender.
    LocalPart,
    /// `o`: the domain of the sender.
    SenderDomain,
    /// `d`: the domain being checked (changes with include and redirect).
    Domain,
    /// `i`: the client IP, dotted (nibbles for IPv6).
    Ip,
    /// `p`: the validated reverse name of the client IP (discouraged).
    ValidatedName,
    /// `v`: `in-addr` or `ip6`.
    IpVersion,
    /// `h`: the HELO/EHLO name.
    Helo,
    /// `c`: the client IP in its usual form (explanations only).
    ClientIp,
    /// `r`: the name of the receiving host (explanations only).
    Receiver,
    /// `t`: the current time in seconds since the epoch (explanations only).
    Timestamp,
}

impl MacroLetter {
    fn from_char(c: char) -> Option<Self> {
        Some(match c.to_ascii_lowercase() {
            's' => Self::Sender,
            'l' => Self::LocalPart,
            'o' => Self::SenderDomain,
            'd' => Self::Domain,
            'i' => Self::Ip,
            'p' => Self::ValidatedName,
            'v' => Self::IpVersion,
            'h' => Self::Helo,
            'c' => Self::ClientIp,
            'r' => Self::Receiver,
            't' => Self::Timestamp,
            _ => return None,
        })
    }

    const fn explanation_only(self) -> bool {
        matches!(self, Self::ClientIp | Self::Receiver | Self::Timestamp)
    }
}

/// One `%{…}` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroExpand {
    /// Which value.
    pub letter: MacroLetter,
    /// Upper-case letter: the result is URL-escaped.
    pub url_escape: bool,
    /// Keep this many right-hand parts (never 0).
    pub keep: Option<u32>,
    /// Reverse the parts first.
    pub reverse: bool,
    /// Split on these (`.` when empty).
    pub delimiters: Vec<char>,
}

/// One piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroToken {
    /// Literal text.
    Literal(String),
    /// `%{…}`.
    Expand(MacroExpand),
    /// `%%`: a percent sign.
    Percent,
    /// `%_`: a space.
    Space,
    /// `%-`: `%20`.
    UrlSpace,
}

/// Why a macro string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MacroError {
    /// `%` followed by something other than `{`, `%`, `_` or `-`.
    #[error("'%' at offset {offset} is not followed by '{{', '%', '_' or '-'")]
    BadPercent {
        /// Byte offset in the string.
        offset: usize,
    },
    /// `%{` without its `}`.
    #[error("unterminated macro at offset {offset}")]
    Unterminated {
        /// Byte offset in the string.
        offset: usize,
    },
    /// A letter that is not a macro letter.
    #[error("unknown macro letter {letter:?} at offset {offset}")]
    UnknownLetter {
        /// The letter.
        letter: char,
        /// Byte offset in the string.
        offset: usize,
    },
    /// `c`, `r` or `t` outside an explanation.
    #[error("macro letter {letter:?} is allowed only in explanation text (offset {offset})")]
    ExplanationOnly {
        /// The letter.
        letter: char,
        /// Byte offset in the string.
        offset: usize,
    },
    /// `%{d0}`: the digit transformer must be non-zero.
    #[error("macro at offset {offset} keeps zero parts")]
    ZeroParts {
        /// Byte offset in the string.
        offset: usize,
    },
    /// A character that is not a transformer or delimiter inside `%{…}`.
    #[error("invalid character {ch:?} inside the macro at offset {offset}")]
    BadTransformer {
        /// The character.
        ch: char,
        /// Byte offset in the string.
        offset: usize,
    },
    /// A character that may not appear literally (controls, non-ASCII, a space in a
    /// domain-spec).
    #[error("invalid character {ch:?} at offset {offset}")]
    BadCharacter {
        /// The character.
        ch: char,
        /// Byte offset in the string.
        offset: usize,
    },
}

/// A parsed macro string; displays as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    text: String,
    tokens: Vec<MacroToken>,
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The values macros expand to for one evaluation step.
#[derive(Debug, Clone, Copy)]
pub struct MacroValues<'a> {
    /// `s`.
    pub sender: &'a str,
    /// `l`.
    pub local_part: &'a str,
    /// `o`.
    pub sender_domain: &'a str,
    /// `d`.
    pub domain: &'a str,
    /// `i`, `c`, `v` (already mapped to IPv4 for an IPv4-mapped address).
    pub ip: IpAddr,
    /// `h`.
    pub helo: &'a str,
    /// `p`: `None` expands to `unknown`.
    pub validated_name: Option<&'a str>,
    /// `r`.
    pub receiver: &'a str,
    /// `t`.
    pub timestamp: u64,
}

/// An expansion longer than [`MAX_EXPANSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("macro expansion longer than {MAX_EXPANSION} bytes")]
pub struct ExpansionTooLong;

impl MacroString {
    /// Parses `text` for the given use.
    ///
    /// # Errors
    /// The first syntax error (§7.1: a `%` not followed by `{ % _ -`, an unknown letter, a
    /// letter not allowed here, `%{d0}`, a bad delimiter, a character that may not appear).
    pub fn parse(text: &str, usage: MacroUse) -> Result<Self, MacroError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            if c != '%' {
                let allowed = match c {
                    '!'..='~' => true,
                    ' ' => usage == MacroUse::Explanation,
                    _ => false,
                };
                if !allowed {
                    return Err(MacroError::BadCharacter { ch: c, offset });
                }
                literal.push(c);
                continue;
            }
            let token = match chars.next() {
                Some((_, '%')) => MacroToken::Percent,
                Some((_, '_')) => MacroToken::Space,
                Some((_, '-')) => MacroToken::UrlSpace,
                Some((_, '{')) => MacroToken::Expand(parse_expand(&mut chars, offset, usage)?),
                _ => return Err(MacroError::BadPercent { offset }),
            };
            if !literal.is_empty() {
                tokens.push(MacroToken::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(token);
        }
        if !literal.is_empty() {
            tokens.push(MacroToken::Literal(literal));
        }
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The pieces.
    pub fn tokens(&self) -> &[MacroToken] {
        &self.tokens
    }

    /// Whether a `%{…}` of this letter appears.
    pub fn uses(&self, letter: MacroLetter) -> bool {
        self.expands().any(|e| e.letter == letter)
    }

    /// Whether any `%{…}` appears.
    pub fn has_macros(&self) -> bool {
        self.expands().next().is_some()
    }

    fn expands(&self) -> impl Iterator<Item = &MacroExpand> {
        self.tokens.iter().filter_map(|t| match t {
            MacroToken::Expand(e) => Some(e),
            _ => None,
        })
    }

    /// Expands with `values` (§7.3, §7.4).
    ///
    /// # Errors
    /// [`ExpansionTooLong`] past [`MAX_EXPANSION`] bytes.
    pub fn expand(&self, values: &MacroValues<'_>) -> Result<String, ExpansionTooLong> {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                MacroToken::Literal(s) => out.push_str(s),
                MacroToken::Percent => out.push('%'),
                MacroToken::Space => out.push(' '),
                MacroToken::UrlSpace => out.push_str("%20"),
                MacroToken::Expand(e) => expand_one(e, values, &mut out)?,
            }
            if out.len() > MAX_EXPANSION {
                return Err(ExpansionTooLong);
            }
        }
        Ok(out)
    }
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// After `%{`: letter, digits, `r`, delimiters, `}`.
fn parse_expand(
    chars: &mut Chars<'_>,
    offset: usize,
    usage: MacroUse,
) -> Result<MacroExpand, MacroError> {
    let Some((_, letter_char)) = chars.next() else {
        return Err(MacroError::Unterminated { offset });
    };
    let Some(letter) = MacroLetter::from_char(letter_char) else {
        return Err(if letter_char == '}' {
            MacroError::BadTransformer {
                ch: letter_char,
                offset,
            }
        } else {
            MacroError::UnknownLetter {
                letter: letter_char,
                offset,
            }
        });
    };
    if letter.explanation_only() && usage == MacroUse::Domain {
        return Err(MacroError::ExplanationOnly {
            letter: letter_char,
            offset,
        });
    }
    let mut digits: Option<u32> = None;
    while let Some(&(_, d)) = chars.peek() {
        let Some(v) = d.to_digit(10) else { break };
        chars.next();
        // Saturates: any count past the number of parts keeps them all.
        digits = Some(digits.unwrap_or(0).saturating_mul(10).saturating_add(v));
    }
    if digits == Some(0) {
        return Err(MacroError::ZeroParts { offset });
    }
    let mut reverse = false;
    if let Some(&(_, 'r' | 'R')) = chars.peek() {
        chars.next();
        reverse = true;
    }
    let mut delimiters = Vec::new();
    loop {
        match chars.next() {
            None => return Err(MacroError::Unterminated { offset }),
            Some((_, '}')) => break,
            Some((_, d @ ('.' | '-' | '+' | ',' | '/' | '_' | '='))) => {
                if !delimiters.contains(&d) {
                    delimiters.push(d);
                }
            }
            Some((_, ch)) => return Err(MacroError::BadTransformer { ch, offset }),
        }
    }
    Ok(MacroExpand {
        letter,
        url_escape: letter_char.is_ascii_uppercase(),
        keep: digits,
        reverse,
        delimiters,
    })
}

fn expand_one(
    e: &MacroExpand,
    v: &MacroValues<'_>,
    out: &mut String,
) -> Result<(), ExpansionTooLong> {
    let value: std::borrow::Cow<'_, str> = match e.letter {
        MacroLetter::Sender => v.sender.into(),
        MacroLetter::LocalPart => v.local_part.into(),
        MacroLetter::SenderDomain => v.sender_domain.into(),
        MacroLetter::Domain => v.domain.into(),
        MacroLetter::Ip => dotted_ip(v.ip).into(),
        MacroLetter::ValidatedName => v.validated_name.unwrap_or("unknown").into(),
        MacroLetter::IpVersion => match v.ip {
            IpAddr::V4(_) => "in-addr".into(),
            IpAddr::V6(_) => "ip6".into(),
        },
        MacroLetter::Helo => v.helo.into(),
        MacroLetter::ClientIp => v.ip.to_string().into(),
        MacroLetter::Receiver => v.receiver.into(),
        MacroLetter::Timestamp => v.timestamp.to_string().into(),
    };
    if value.len() > MAX_EXPANSION {
        return Err(ExpansionTooLong);
    }
    let transformed = if e.keep.is_none() && !e.reverse && e.delimiters.is_empty() {
        value
    } else {
        let delims: &[char] = if e.delimiters.is_empty() {
            &['.']
        } else {
            &e.delimiters
        };
        let mut parts: Vec<&str> = value.split(delims).collect();
        if e.reverse {
            parts.reverse();
        }
        if let Some(keep) = e.keep {
            let keep = usize::try_from(keep).unwrap_or(usize::MAX);
            if keep < parts.len() {
                parts.drain(..parts.len() - keep);
            }
        }
        parts.join(".").into()
    };
    if e.url_escape {
        url_escape(&transformed, out);
    } else {
        out.push_str(&transformed);
    }
    Ok(())
}

/// `i`: dotted quad for IPv4, 32 dot-separated nibbles for IPv6 (§7.3).
pub fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0xf] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                }
            }
            s
        }
    }
}

/// Escapes everything but the URI unreserved characters (`ALPHA DIGIT - . _ ~`), byte by byte.
fn url_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 7208 §7.4.
    fn values(ip: &str) -> MacroValues<'static> {
        MacroValues {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            validated_name: Some("mx.example.org"),
            receiver: "receiver.example.net",
            timestamp: 1_700_000_000,
        }
    }

    fn x(text: &str, ip: &str) -> String {
        MacroString::parse(text, MacroUse::Explanation)
            .unwrap()
            .expand(&values(ip))
            .unwrap()
    }

    #[test]
    fn rfc7208_7_4_single_macros() {
        let ip = "192.0.2.3";
        for (macro_, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
        ] {
            assert_eq!(x(macro_, ip), want, "{macro_}");
        }
    }

    #[test]
    fn rfc7208_7_4_macro_strings() {
        let ip = "192.0.2.3";
        for (text, want) in [
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(x(text, ip), want, "{text}");
        }
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_explanation_letters() {
        assert_eq!(x("%%%_%-", "192.0.2.3"), "% %20");
        assert_eq!(x("%{c} %{v}", "2001:db8::cb01"), "2001:db8::cb01 ip6");
        assert_eq!(x("%{c}", "192.0.2.3"), "192.0.2.3");
        assert_eq!(
            x("%{r} %{t} %{p}", "192.0.2.3"),
            "receiver.example.net 1700000000 mx.example.org"
        );
        let mut v = values("192.0.2.3");
        v.local_part = "~jack&jill=up-a_b3.c";
        let s = MacroString::parse("l=%{L}", MacroUse::Explanation).unwrap();
        assert_eq!(s.expand(&v).unwrap(), "l=~jack%26jill%3Dup-a_b3.c");
        v.validated_name = None;
        let s = MacroString::parse("%{p}", MacroUse::Domain).unwrap();
        assert_eq!(s.expand(&v).unwrap(), "unknown");
        // Several delimiters; a huge count keeps everything.
        v.local_part = "foo-bar+zip+quux";
        let s = MacroString::parse("%{l2r+-}|%{l99999999999999r+-}", MacroUse::Modifier).unwrap();
        assert_eq!(s.expand(&v).unwrap(), "bar.foo|quux.zip.bar.foo");
    }

    #[test]
    fn syntax_errors() {
        let bad = |t: &str, u| MacroString::parse(t, u).unwrap_err();
        assert!(matches!(
            bad("%(ir)", MacroUse::Domain),
            MacroError::BadPercent { offset: 0 }
        ));
        assert!(matches!(
            bad("foo%", MacroUse::Domain),
            MacroError::BadPercent { offset: 3 }
        ));
        assert!(matches!(
            bad("%{x}", MacroUse::Domain),
            MacroError::UnknownLetter { letter: 'x', .. }
        ));
        assert!(matches!(
            bad("%{r}", MacroUse::Domain),
            MacroError::ExplanationOnly { letter: 'r', .. }
        ));
        assert!(matches!(
            bad("%{C}", MacroUse::Domain),
            MacroError::ExplanationOnly { .. }
        ));
        assert!(matches!(
            bad("%{d0}", MacroUse::Domain),
            MacroError::ZeroParts { .. }
        ));
        assert!(matches!(
            bad("%{d2", MacroUse::Domain),
            MacroError::Unterminated { .. }
        ));
        assert!(matches!(
            bad("%{d2x}", MacroUse::Domain),
            MacroError::BadTransformer { ch: 'x', .. }
        ));
        assert!(matches!(
            bad("%{}", MacroUse::Domain),
            MacroError::BadTransformer { .. }
        ));
        assert!(matches!(
            bad("a b", MacroUse::Domain),
            MacroError::BadCharacter { ch: ' ', .. }
        ));
        assert!(matches!(
            bad("a\u{ef}b", MacroUse::Explanation),
            MacroError::BadCharacter { .. }
        ));
        assert!(MacroString::parse("%{c} a b", MacroUse::Explanation).is_ok());
        assert!(MacroString::parse("%{dR.}", MacroUse::Domain).is_ok());
    }

    #[test]
    fn expansion_is_bounded() {
        let mut v = values("192.0.2.3");
        let long = "a".repeat(5000);
        v.sender = &long;
        let s = MacroString::parse("%{s}%{s}", MacroUse::Domain).unwrap();
        assert_eq!(s.expand(&v), Err(ExpansionTooLong));
        let s = MacroString::parse(&"%{S}".repeat(1000), MacroUse::Domain).unwrap();
        assert_eq!(s.expand(&v), Err(ExpansionTooLong));
    }
}
