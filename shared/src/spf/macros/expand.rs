//! Expanding a parsed macro string (RFC 7208 §7.3, §7.4): each letter's value, the transformers
//! (keep the rightmost parts, reverse, split on delimiters), URL escaping for upper-case
//! letters, and the bound on the result's length.

use std::net::IpAddr;

use super::{MAX_EXPANSION, MacroExpand, MacroLetter, MacroString, MacroToken};

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
