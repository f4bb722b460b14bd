//! The SPF record parser (RFC 7208 §4.5, §4.6.1, §5, §6, §12): pure and bounded.
//!
//! [`parse_record`] reads the whole record and rejects it on the first syntax error, because
//! §4.6 requires errors anywhere to be found before evaluation. Every error that §4.6 and §7
//! make a permerror carries the term and its byte position, for evidence.
//!
//! Files: this one holds the parsed record (its terms, mechanisms and modifiers, and the
//! `domain-spec` grammar); `error.rs` why a record is not valid SPF; `parse.rs` the parser.

mod error;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::SpfResult;
use super::macros::{MacroString, MacroToken, MacroUse};

pub use error::{ParseError, ParseErrorKind};
pub use parse::parse_record;

/// The longest record we parse, in bytes (far more than fits in a DNS answer over UDP).
pub const MAX_RECORD_LEN: usize = 16 * 1024;

/// The most terms we parse in one record.
pub const MAX_TERMS: usize = 2048;

const VERSION: &str = "v=spf1";

/// Whether a TXT string is an SPF record (§4.5): `v=spf1` in any case, then a space or the end.
pub fn is_spf_record(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= VERSION.len()
        && b[..VERSION.len()].eq_ignore_ascii_case(VERSION.as_bytes())
        && b.get(VERSION.len()).is_none_or(|&c| c == b' ')
}

/// A qualifier (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Qualifier {
    /// `+` (the default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

impl Qualifier {
    /// The result a match gives.
    pub const fn result(self) -> SpfResult {
        match self {
            Self::Pass => SpfResult::Pass,
            Self::Fail => SpfResult::Fail,
            Self::SoftFail => SpfResult::SoftFail,
            Self::Neutral => SpfResult::Neutral,
        }
    }

    const fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'+' => Some(Self::Pass),
            b'-' => Some(Self::Fail),
            b'~' => Some(Self::SoftFail),
            b'?' => Some(Self::Neutral),
            _ => None,
        }
    }
}

/// A `domain-spec` (§7.1): a macro string that ends in a macro or in `.toplabel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec(MacroString);

impl DomainSpec {
    /// Parses and checks the §7.1 grammar.
    ///
    /// # Errors
    /// A macro syntax error, an empty spec, or no valid top label at the end.
    pub fn parse(text: &str) -> Result<Self, ParseErrorKind> {
        if text.is_empty() {
            return Err(ParseErrorKind::EmptyDomainSpec);
        }
        let macros = MacroString::parse(text, MacroUse::Domain)
            .map_err(|error| ParseErrorKind::Macro { error })?;
        match macros.tokens().last() {
            Some(MacroToken::Literal(tail)) => {
                let tail = tail.strip_suffix('.').unwrap_or(tail);
                let top = tail.rsplit_once('.').map(|(_, top)| top);
                if !top.is_some_and(is_toplabel) {
                    return Err(ParseErrorKind::BadDomainEnd {
                        spec: text.to_owned(),
                    });
                }
            }
            Some(_) => {}
            None => return Err(ParseErrorKind::EmptyDomainSpec),
        }
        Ok(Self(macros))
    }

    /// The macro string.
    pub const fn macros(&self) -> &MacroString {
        &self.0
    }
}

impl fmt::Display for DomainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && (b.contains(&b'-') || b.iter().any(u8::is_ascii_alphabetic))
        }
        _ => false,
    }
}

/// CIDR prefix lengths of `a` and `mx` (§5.6): `/v4//v6`, 32 and 128 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DualCidr {
    /// IPv4 prefix length (0–32).
    pub v4: u8,
    /// IPv6 prefix length (0–128).
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        Self { v4: 32, v6: 128 }
    }
}

/// A mechanism (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain-spec>`.
    Include(DomainSpec),
    /// `a[:<domain-spec>][/v4][//v6]`.
    A {
        /// The target; the current domain when absent.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx[:<domain-spec>][/v4][//v6]`.
    Mx {
        /// The target; the current domain when absent.
        domain: Option<DomainSpec>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr[:<domain-spec>]` (discouraged by §5.5).
    Ptr(Option<DomainSpec>),
    /// `ip4:<network>[/len]`.
    Ip4 {
        /// The network.
        network: Ipv4Addr,
        /// Prefix length (0–32).
        prefix: u8,
    },
    /// `ip6:<network>[/len]`.
    Ip6 {
        /// The network.
        network: Ipv6Addr,
        /// Prefix length (0–128).
        prefix: u8,
    },
    /// `exists:<domain-spec>`.
    Exists(DomainSpec),
}

impl Mechanism {
    /// The mechanism's name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Include(_) => "include",
            Self::A { .. } => "a",
            Self::Mx { .. } => "mx",
            Self::Ptr(_) => "ptr",
            Self::Ip4 { .. } => "ip4",
            Self::Ip6 { .. } => "ip6",
            Self::Exists(_) => "exists",
        }
    }

    /// Whether it counts against the 10 DNS-querying terms (§4.6.4).
    pub const fn queries_dns(&self) -> bool {
        matches!(
            self,
            Self::Include(_) | Self::A { .. } | Self::Mx { .. } | Self::Ptr(_) | Self::Exists(_)
        )
    }
}

/// A qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// `+ - ~ ?`.
    pub qualifier: Qualifier,
    /// What to match.
    pub mechanism: Mechanism,
}

/// A modifier (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=<domain-spec>`.
    Redirect(DomainSpec),
    /// `exp=<domain-spec>`.
    Explanation(DomainSpec),
    /// Any other `name=value`: checked, then ignored.
    Unknown {
        /// The name as written.
        name: String,
        /// The value.
        value: MacroString,
    },
}

/// What a term is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// A mechanism with its qualifier.
    Directive(Directive),
    /// A modifier.
    Modifier(Modifier),
}

/// One term with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Byte offset in the record.
    pub position: usize,
    /// The term as written.
    pub text: String,
    /// What it is.
    pub kind: TermKind,
}

impl Term {
    /// The directive, if the term is one.
    pub const fn directive(&self) -> Option<&Directive> {
        match &self.kind {
            TermKind::Directive(d) => Some(d),
            TermKind::Modifier(_) => None,
        }
    }
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record as published.
    pub text: String,
    /// Its terms, in order.
    pub terms: Vec<Term>,
}

impl Record {
    /// The `redirect=` target and its term.
    pub fn redirect(&self) -> Option<(&Term, &DomainSpec)> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Redirect(d)) => Some((t, d)),
            _ => None,
        })
    }

    /// The `exp=` domain-spec.
    pub fn explanation(&self) -> Option<&DomainSpec> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Explanation(d)) => Some(d),
            _ => None,
        })
    }

    /// Whether an `all` mechanism appears (then `redirect` is ignored, §6.1).
    pub fn has_all(&self) -> bool {
        self.terms
            .iter()
            .any(|t| t.directive().is_some_and(|d| d.mechanism == Mechanism::All))
    }

    /// The terms a receiver evaluates when nothing matches before: every directive up to the
    /// first `all` (included), then `redirect` when there is no `all`.
    pub fn reached_terms(&self) -> impl Iterator<Item = &Term> {
        let cut = self
            .terms
            .iter()
            .position(|t| t.directive().is_some_and(|d| d.mechanism == Mechanism::All));
        let directives = self
            .terms
            .iter()
            .take(cut.map_or(self.terms.len(), |i| i + 1))
            .filter(|t| t.directive().is_some());
        let redirect = if cut.is_none() {
            self.redirect().map(|(t, _)| t)
        } else {
            None
        };
        directives.chain(redirect)
    }

    /// DNS-querying terms reached when nothing matches (this record only, §4.6.4).
    pub fn reached_dns_terms(&self) -> u32 {
        let n = self
            .reached_terms()
            .filter(|t| match &t.kind {
                TermKind::Directive(d) => d.mechanism.queries_dns(),
                TermKind::Modifier(_) => true,
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}
