//! Macro strings (RFC 7208 §7): `%{letter transformers delimiters}`, `%%`, `%_`, `%-` and
//! literal text. Parsing is pure and strict (a syntax error is a permerror in a record, and makes
//! an explanation be ignored); expansion is pure given the values, and bounded.
//!
//! This file holds the parsed form and the parser; `macros/expand.rs` the expansion.

mod expand;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use expand::{ExpansionTooLong, MacroValues, dotted_ip};

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
