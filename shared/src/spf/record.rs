//! The SPF record parser (RFC 7208 §4.5, §4.6.1, §5, §6, §12): pure and bounded.
//!
//! [`parse_record`] reads the whole record and rejects it on the first syntax error, because
//! §4.6 requires errors anywhere to be found before evaluation. Every error that §4.6 and §7
//! make a permerror carries the term and its byte position, for evidence.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::SpfResult;
use super::macros::{MacroError, MacroString, MacroToken, MacroUse};

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

/// Why a record is not valid SPF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// Does not start with `v=spf1` followed by a space or the end.
    #[error("not an SPF record (must start with \"v=spf1\")")]
    NotSpf,
    /// Longer than [`MAX_RECORD_LEN`].
    #[error("record of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// More than [`MAX_TERMS`] terms.
    #[error("more than {max} terms")]
    TooManyTerms {
        /// The cap.
        max: usize,
    },
    /// A character other than a visible ASCII character inside a term (terms are separated by
    /// spaces only).
    #[error("invalid character {ch:?}")]
    BadCharacter {
        /// The character.
        ch: char,
    },
    /// A mechanism name that does not exist (`redirect:`, `all.`, `moo.cow/…`).
    #[error("unknown mechanism {name:?}")]
    UnknownMechanism {
        /// The name as written.
        name: String,
    },
    /// A modifier name that does not match `ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
    #[error("invalid modifier name")]
    BadModifierName,
    /// A qualifier before a modifier.
    #[error("a modifier takes no qualifier")]
    QualifiedModifier,
    /// `all:x`, `all/8`, `ptr/0`, `include:x/24`…: text the mechanism does not take.
    #[error("{mechanism} does not take {rest:?}")]
    UnexpectedArgument {
        /// The mechanism.
        mechanism: String,
        /// What follows its name.
        rest: String,
    },
    /// `include`, `exists`, `ip4`, `ip6` without their `:` argument.
    #[error("{mechanism} needs a ':' argument")]
    MissingArgument {
        /// The mechanism.
        mechanism: String,
    },
    /// `a:`, `exists:`, `redirect=`, `exp=` with nothing after.
    #[error("empty domain-spec")]
    EmptyDomainSpec,
    /// A domain-spec that does not end in a macro or `.toplabel` (`foo-bar`, `abc.123`,
    /// `example.com:8080`, `museum.`).
    #[error("domain-spec {spec:?} does not end with a valid top-level label")]
    BadDomainEnd {
        /// The domain-spec.
        spec: String,
    },
    /// A macro syntax error (§7.1).
    #[error("macro error: {error}")]
    Macro {
        /// What is wrong with the macro.
        error: MacroError,
    },
    /// A prefix length out of range or written with leading zeros.
    #[error("invalid CIDR length {text:?}")]
    BadCidr {
        /// The text as written.
        text: String,
    },
    /// Not an IPv4 dotted quad.
    #[error("invalid IPv4 network {text:?}")]
    BadIp4 {
        /// The text as written.
        text: String,
    },
    /// Not an IPv6 address.
    #[error("invalid IPv6 network {text:?}")]
    BadIp6 {
        /// The text as written.
        text: String,
    },
    /// `redirect` or `exp` twice (§6).
    #[error("modifier {name:?} appears more than once")]
    DuplicateModifier {
        /// `redirect` or `exp`.
        name: String,
    },
}

/// A syntax error with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind} (term {term:?} at byte {position})")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The offending term as written (empty for whole-record problems).
    pub term: String,
    /// Byte offset of the term (or of the bad character) in the record.
    pub position: usize,
}

/// Parses one record (the TXT strings already joined).
///
/// # Errors
/// The first syntax error: everything §4.6 and §7 call a permerror.
pub fn parse_record(text: &str) -> Result<Record, ParseError> {
    let whole = |kind| ParseError {
        kind,
        term: String::new(),
        position: 0,
    };
    if text.len() > MAX_RECORD_LEN {
        return Err(whole(ParseErrorKind::TooLong {
            len: text.len(),
            max: MAX_RECORD_LEN,
        }));
    }
    if !is_spf_record(text) {
        return Err(whole(ParseErrorKind::NotSpf));
    }
    let mut terms: Vec<Term> = Vec::new();
    let mut offset = VERSION.len();
    for piece in text[VERSION.len()..].split(' ') {
        let position = offset;
        offset += piece.len() + 1;
        if piece.is_empty() {
            continue;
        }
        let error = |kind| ParseError {
            kind,
            term: piece.to_owned(),
            position,
        };
        if terms.len() == MAX_TERMS {
            return Err(error(ParseErrorKind::TooManyTerms { max: MAX_TERMS }));
        }
        if let Some((i, ch)) = piece.char_indices().find(|(_, c)| !matches!(c, '!'..='~')) {
            return Err(ParseError {
                position: position + i,
                ..error(ParseErrorKind::BadCharacter { ch })
            });
        }
        let kind = parse_term(piece).map_err(error)?;
        if let TermKind::Modifier(m @ (Modifier::Redirect(_) | Modifier::Explanation(_))) = &kind {
            let twice = terms.iter().any(|t| {
                matches!(
                    (&t.kind, m),
                    (
                        TermKind::Modifier(Modifier::Redirect(_)),
                        Modifier::Redirect(_)
                    ) | (
                        TermKind::Modifier(Modifier::Explanation(_)),
                        Modifier::Explanation(_)
                    )
                )
            });
            if twice {
                let name = if matches!(m, Modifier::Redirect(_)) {
                    "redirect"
                } else {
                    "exp"
                };
                return Err(error(ParseErrorKind::DuplicateModifier {
                    name: name.to_owned(),
                }));
            }
        }
        terms.push(Term {
            position,
            text: piece.to_owned(),
            kind,
        });
    }
    Ok(Record {
        text: text.to_owned(),
        terms,
    })
}

/// One term, already known to be visible ASCII only.
fn parse_term(term: &str) -> Result<TermKind, ParseErrorKind> {
    let bytes = term.as_bytes();
    let qualifier = Qualifier::from_byte(bytes[0]);
    let body = if qualifier.is_some() {
        &term[1..]
    } else {
        term
    };
    let name_len = name_length(body);
    let (name, rest) = body.split_at(name_len);
    if let Some(value) = rest.strip_prefix('=') {
        if qualifier.is_some() {
            return Err(ParseErrorKind::QualifiedModifier);
        }
        if name.is_empty() {
            return Err(ParseErrorKind::BadModifierName);
        }
        return parse_modifier(name, value).map(TermKind::Modifier);
    }
    if name.is_empty() && body.contains('=') {
        return Err(ParseErrorKind::BadModifierName);
    }
    let mechanism = parse_mechanism(name, rest)?;
    Ok(TermKind::Directive(Directive {
        qualifier: qualifier.unwrap_or(Qualifier::Pass),
        mechanism,
    }))
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`: its length at the start of `s`.
fn name_length(s: &str) -> usize {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    b.iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')))
        .unwrap_or(b.len())
}

fn parse_modifier(name: &str, value: &str) -> Result<Modifier, ParseErrorKind> {
    if name.eq_ignore_ascii_case("redirect") {
        DomainSpec::parse(value).map(Modifier::Redirect)
    } else if name.eq_ignore_ascii_case("exp") {
        DomainSpec::parse(value).map(Modifier::Explanation)
    } else {
        let value = MacroString::parse(value, MacroUse::Modifier)
            .map_err(|error| ParseErrorKind::Macro { error })?;
        Ok(Modifier::Unknown {
            name: name.to_owned(),
            value,
        })
    }
}

/// `network[/length]` of `ip4:`/`ip6:`: the address (`bad` names an unparsable one) and the
/// prefix length, `max` when none is given.
fn network_arg<A: std::str::FromStr>(
    arg: &str,
    max: u8,
    bad: impl FnOnce(&str) -> ParseErrorKind,
) -> Result<(A, u8), ParseErrorKind> {
    let (net, len) = arg
        .split_once('/')
        .map_or((arg, None), |(n, l)| (n, Some(l)));
    let network = net.parse::<A>().map_err(|_| bad(net))?;
    let prefix = len.map_or(Ok(max), |l| parse_cidr_length(l, max))?;
    Ok((network, prefix))
}

fn parse_mechanism(name: &str, rest: &str) -> Result<Mechanism, ParseErrorKind> {
    let lower = name.to_ascii_lowercase();
    let unexpected = || ParseErrorKind::UnexpectedArgument {
        mechanism: lower.clone(),
        rest: rest.to_owned(),
    };
    let missing = || ParseErrorKind::MissingArgument {
        mechanism: lower.clone(),
    };
    // The `:argument` a mechanism cannot do without.
    let required = || {
        rest.strip_prefix(':').ok_or_else(|| {
            if rest.is_empty() {
                missing()
            } else {
                unexpected()
            }
        })
    };
    match lower.as_str() {
        "all" => {
            if rest.is_empty() {
                Ok(Mechanism::All)
            } else {
                Err(unexpected())
            }
        }
        "include" | "exists" => {
            let arg = required()?;
            let spec = DomainSpec::parse(arg)?;
            Ok(if lower == "include" {
                Mechanism::Include(spec)
            } else {
                Mechanism::Exists(spec)
            })
        }
        "a" | "mx" => {
            let (domain, cidr) = if let Some(arg) = rest.strip_prefix(':') {
                let (spec, cidr) = split_dual_cidr(arg);
                (Some(DomainSpec::parse(spec)?), parse_dual_cidr(cidr)?)
            } else if rest.is_empty() || rest.starts_with('/') {
                (None, parse_dual_cidr(rest)?)
            } else {
                return Err(unexpected());
            };
            Ok(if lower == "a" {
                Mechanism::A { domain, cidr }
            } else {
                Mechanism::Mx { domain, cidr }
            })
        }
        "ptr" => {
            if rest.is_empty() {
                Ok(Mechanism::Ptr(None))
            } else if let Some(arg) = rest.strip_prefix(':') {
                Ok(Mechanism::Ptr(Some(DomainSpec::parse(arg)?)))
            } else {
                Err(unexpected())
            }
        }
        "ip4" => {
            let (network, prefix) = network_arg(required()?, 32, |net| ParseErrorKind::BadIp4 {
                text: net.to_owned(),
            })?;
            Ok(Mechanism::Ip4 { network, prefix })
        }
        "ip6" => {
            let (network, prefix) = network_arg(required()?, 128, |net| ParseErrorKind::BadIp6 {
                text: net.to_owned(),
            })?;
            Ok(Mechanism::Ip6 { network, prefix })
        }
        _ => Err(ParseErrorKind::UnknownMechanism {
            name: format!("{name}{rest}")
                .split([':', '/'])
                .next()
                .unwrap_or_default()
                .to_owned(),
        }),
    }
}

/// Splits a trailing `/v4`, `//v6` or `/v4//v6` (digits only) off a domain-spec.
fn split_dual_cidr(arg: &str) -> (&str, &str) {
    let mut end = arg.len();
    if let Some(cut) = trailing_digits_after(arg, end, "//") {
        end = cut;
    }
    if let Some(cut) = trailing_digits_after(arg, end, "/") {
        end = cut;
    }
    arg.split_at(end)
}

/// If `s[..end]` ends with `sep` followed by one or more digits, where that `sep` starts.
fn trailing_digits_after(s: &str, end: usize, sep: &str) -> Option<usize> {
    let head = &s[..end];
    let digits = head.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let before = &head[..head.len() - digits];
    let cut = before.strip_suffix(sep)?.len();
    // `a:x///24` is not `//24` after `x/`: a third slash belongs to neither.
    if sep == "/" && before[..cut].ends_with('/') {
        return None;
    }
    Some(cut)
}

/// `""`, `/v4`, `//v6` or `/v4//v6`.
fn parse_dual_cidr(s: &str) -> Result<DualCidr, ParseErrorKind> {
    let mut cidr = DualCidr::default();
    if s.is_empty() {
        return Ok(cidr);
    }
    let bad = || ParseErrorKind::BadCidr { text: s.to_owned() };
    let (v4, v6) = match s.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (s, None),
    };
    if !v4.is_empty() {
        let v4 = v4.strip_prefix('/').ok_or_else(bad)?;
        cidr.v4 = parse_cidr_length(v4, 32).map_err(|_| bad())?;
    }
    if let Some(v6) = v6 {
        cidr.v6 = parse_cidr_length(v6, 128).map_err(|_| bad())?;
    }
    Ok(cidr)
}

/// Decimal, no leading zero, at most `max`.
fn parse_cidr_length(s: &str, max: u8) -> Result<u8, ParseErrorKind> {
    let bad = || ParseErrorKind::BadCidr { text: s.to_owned() };
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad());
    }
    let n: u8 = s.parse().map_err(|_| bad())?;
    if n > max {
        return Err(bad());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Record {
        parse_record(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> ParseError {
        parse_record(text).expect_err(text)
    }

    fn mechanisms(text: &str) -> Vec<(Qualifier, Mechanism)> {
        ok(text)
            .terms
            .iter()
            .filter_map(|t| t.directive().map(|d| (d.qualifier, d.mechanism.clone())))
            .collect()
    }

    #[test]
    fn selection_is_case_insensitive_and_exact() {
        assert!(is_spf_record("v=spf1"));
        assert!(is_spf_record("V=SpF1 -all"));
        assert!(!is_spf_record("v=spf10"));
        assert!(!is_spf_record("v=spf1mx"));
        assert!(!is_spf_record(" v=spf1"));
        assert!(!is_spf_record("v=spf"));
        assert!(!is_spf_record("\u{96}"));
        assert!(ok("v=spf1").terms.is_empty());
        assert_eq!(ok("v=spf1 a  -all ").terms.len(), 2);
    }

    #[test]
    fn good_records() {
        let m = mechanisms(
            "v=spf1 +a -mx:mail.example.com/24 ~ptr ?ip4:192.0.2.0/24 ip6:2001:db8::/32 \
             include:_spf.example.net exists:%{ir}.%{v}._spf.%{d} a/24//64 mx//0 ALL",
        );
        assert_eq!(m.len(), 10);
        assert_eq!(
            m[0],
            (
                Qualifier::Pass,
                Mechanism::A {
                    domain: None,
                    cidr: DualCidr::default()
                }
            )
        );
        match &m[1] {
            (
                Qualifier::Fail,
                Mechanism::Mx {
                    domain: Some(d),
                    cidr,
                },
            ) => {
                assert_eq!(d.to_string(), "mail.example.com");
                assert_eq!(*cidr, DualCidr { v4: 24, v6: 128 });
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m[2], (Qualifier::SoftFail, Mechanism::Ptr(None)));
        assert_eq!(
            m[3],
            (
                Qualifier::Neutral,
                Mechanism::Ip4 {
                    network: Ipv4Addr::new(192, 0, 2, 0),
                    prefix: 24
                }
            )
        );
        assert_eq!(
            m[4].1,
            Mechanism::Ip6 {
                network: "2001:db8::".parse().unwrap(),
                prefix: 32
            }
        );
        assert!(matches!(&m[5].1, Mechanism::Include(d) if d.to_string() == "_spf.example.net"));
        assert!(matches!(&m[6].1, Mechanism::Exists(d) if d.macros().has_macros()));
        assert_eq!(
            m[7].1,
            Mechanism::A {
                domain: None,
                cidr: DualCidr { v4: 24, v6: 64 }
            }
        );
        assert_eq!(
            m[8].1,
            Mechanism::Mx {
                domain: None,
                cidr: DualCidr { v4: 32, v6: 0 }
            }
        );
        assert_eq!(m[9], (Qualifier::Pass, Mechanism::All));
    }

    #[test]
    fn modifiers() {
        let r = ok("v=spf1 mx REDIRECT=_spf.example.com exp=explain.%{d} \
                    moo.cow-far_out=man:dog/cat default=+");
        assert_eq!(r.redirect().unwrap().1.to_string(), "_spf.example.com");
        assert_eq!(r.explanation().unwrap().to_string(), "explain.%{d}");
        assert!(matches!(
            &r.terms[3].kind,
            TermKind::Modifier(Modifier::Unknown { name, value })
                if name == "moo.cow-far_out" && value.as_str() == "man:dog/cat"
        ));
        assert!(!r.has_all());
        assert_eq!(r.reached_dns_terms(), 2);
        let r = ok("v=spf1 a include:x.example redirect=y.example -all mx");
        assert!(r.has_all());
        assert_eq!(
            r.reached_dns_terms(),
            2,
            "redirect ignored, mx after all never reached"
        );
    }

    #[test]
    fn domains_with_odd_characters_and_cidr() {
        let m = mechanisms(
            "v=spf1 a:foo:bar/baz.example.com mx:foo.example.com/24 a:%{d}/24//64 \
             a:foo.example.xn--zckzah",
        );
        assert!(matches!(
            &m[0].1,
            Mechanism::A { domain: Some(d), cidr }
                if d.to_string() == "foo:bar/baz.example.com" && *cidr == DualCidr::default()
        ));
        assert!(matches!(
            &m[1].1,
            Mechanism::Mx { domain: Some(d), cidr }
                if d.to_string() == "foo.example.com" && cidr.v4 == 24
        ));
        assert!(matches!(
            &m[2].1,
            Mechanism::A { domain: Some(d), cidr }
                if d.to_string() == "%{d}" && *cidr == DualCidr { v4: 24, v6: 64 }
        ));
        assert!(matches!(
            &m[3].1,
            Mechanism::A {
                domain: Some(_),
                ..
            }
        ));
        ok("v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all");
        ok("v=spf1 redirect=%{d}.d.spf.example.com.");
        ok("v=spf1 include:o.spf.example.com. ~all");
    }

    #[test]
    fn every_permerror_kind() {
        use ParseErrorKind as K;
        type IsKind = fn(&K) -> bool;
        let cases: &[(&str, IsKind)] = &[
            ("v=spf10", |k| *k == K::NotSpf),
            ("spf1 -all", |k| *k == K::NotSpf),
            (
                "v=spf1 ip4:1.2.3.4 -all moo",
                |k| matches!(k, K::UnknownMechanism { name } if name == "moo"),
            ),
            (
                "v=spf1 redirect:t2.example.com",
                |k| matches!(k, K::UnknownMechanism { name } if name == "redirect"),
            ),
            (
                "v=spf1 -all.",
                |k| matches!(k, K::UnknownMechanism { name } if name == "all."),
            ),
            ("v=spf1 moo.cow/far_out=man:dog/cat", |k| {
                matches!(k, K::UnknownMechanism { .. })
            }),
            ("v=spf1 moo.cow:far_out=man:dog/cat", |k| {
                matches!(k, K::UnknownMechanism { .. })
            }),
            ("v=spf1 1up=foo", |k| *k == K::BadModifierName),
            ("v=spf1 =all", |k| *k == K::BadModifierName),
            ("v=spf1 +redirect=x.example", |k| *k == K::QualifiedModifier),
            ("v=spf1 -all:foobar", |k| {
                matches!(k, K::UnexpectedArgument { .. })
            }),
            ("v=spf1 -all/8", |k| {
                matches!(k, K::UnexpectedArgument { .. })
            }),
            ("v=spf1 ptr/0 -all", |k| {
                matches!(k, K::UnexpectedArgument { .. })
            }),
            ("v=spf1 include +all", |k| {
                matches!(k, K::MissingArgument { .. })
            }),
            ("v=spf1 exists", |k| matches!(k, K::MissingArgument { .. })),
            ("v=spf1 ip4", |k| matches!(k, K::MissingArgument { .. })),
            ("v=spf1 -all ip6", |k| {
                matches!(k, K::MissingArgument { .. })
            }),
            ("v=spf1 a:", |k| *k == K::EmptyDomainSpec),
            ("v=spf1 ptr:", |k| *k == K::EmptyDomainSpec),
            ("v=spf1 include: -all", |k| *k == K::EmptyDomainSpec),
            ("v=spf1 exp= -all", |k| *k == K::EmptyDomainSpec),
            ("v=spf1 ?all redirect=", |k| *k == K::EmptyDomainSpec),
            ("v=spf1 a:foo-bar -all", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 a:111.222.33.44", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 a:abc.123", |k| matches!(k, K::BadDomainEnd { .. })),
            ("v=spf1 a:museum.", |k| matches!(k, K::BadDomainEnd { .. })),
            ("v=spf1 a:example.-com", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 mx:example.com:8080", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 include:ip5.example.com/24 -all", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 exists:mail.example.com/24", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 redirect=-all ?all", |k| {
                matches!(k, K::BadDomainEnd { .. })
            }),
            ("v=spf1 exp=-all", |k| matches!(k, K::BadDomainEnd { .. })),
            ("v=spf1 exists:%(ir).sbl.example.com", |k| {
                matches!(
                    k,
                    K::Macro {
                        error: MacroError::BadPercent { .. }
                    }
                )
            }),
            ("v=spf1 exists:foo%.sbl.example.com", |k| {
                matches!(
                    k,
                    K::Macro {
                        error: MacroError::BadPercent { .. }
                    }
                )
            }),
            ("v=spf1 -all exp=%{r}.example.com", |k| {
                matches!(
                    k,
                    K::Macro {
                        error: MacroError::ExplanationOnly { .. }
                    }
                )
            }),
            ("v=spf1 a:%{a}.example.com", |k| {
                matches!(
                    k,
                    K::Macro {
                        error: MacroError::UnknownLetter { .. }
                    }
                )
            }),
            ("v=spf1 -all foo=%abc", |k| matches!(k, K::Macro { .. })),
            ("v=spf1 a/33 -all", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 a//129 -all", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 a/24/64 -all", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 ip4:1.2.3.4/33", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 ip4:1.2.3.4/032", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 ip4:1.2.3.4//32", |k| matches!(k, K::BadCidr { .. })),
            ("v=spf1 ip6:::1.1.1.1/129", |k| {
                matches!(k, K::BadCidr { .. })
            }),
            ("v=spf1 ip6:::1.1.1.1//33", |k| {
                matches!(k, K::BadCidr { .. })
            }),
            ("v=spf1 ip4:1.2.3", |k| matches!(k, K::BadIp4 { .. })),
            ("v=spf1 ip4:1.2.3.4:8080", |k| matches!(k, K::BadIp4 { .. })),
            ("v=spf1 ip4:01.2.3.4", |k| matches!(k, K::BadIp4 { .. })),
            ("v=spf1 ip6::CAFE::BABE", |k| matches!(k, K::BadIp6 { .. })),
            (
                "v=spf1 redirect=a.example -all redirect=a.example",
                |k| matches!(k, K::DuplicateModifier { name } if name == "redirect"),
            ),
            (
                "v=spf1 exp=a.example -all exp=b.example",
                |k| matches!(k, K::DuplicateModifier { name } if name == "exp"),
            ),
            ("v=spf1 a:ctrl.example.com\rptr -all", |k| {
                *k == K::BadCharacter { ch: '\r' }
            }),
            ("v=spf1 ip4:192.0.2.5\n include:x.example ~all", |k| {
                *k == K::BadCharacter { ch: '\n' }
            }),
            ("v=spf1 a:foo.example.com\0", |k| {
                *k == K::BadCharacter { ch: '\0' }
            }),
            ("v=spf1 \u{80}a:example.net -all", |k| {
                matches!(k, K::BadCharacter { .. })
            }),
            ("v=spf1 a:\u{ef}\u{bb}\u{bf}garbage.example.net -all", |k| {
                matches!(k, K::BadCharacter { .. })
            }),
            ("v=spf1\ta", |k| *k == K::NotSpf),
        ];
        for (text, is_kind) in cases {
            let e = err(text);
            assert!(is_kind(&e.kind), "{text:?} gave {e}");
        }
    }

    #[test]
    fn errors_say_where() {
        let e = err("v=spf1 ip4:192.0.2.1 a:bad-domain -all");
        assert_eq!(e.term, "a:bad-domain");
        assert_eq!(e.position, 21);
        let e = err("v=spf1 a:ctrl.example.com\rptr -all");
        assert_eq!(e.position, 25);
        assert!(e.to_string().contains("at byte 25"), "{e}");
        let json = serde_json::to_string(&err("v=spf1 -all/8")).unwrap();
        assert!(json.contains("\"kind\":\"unexpected_argument\""), "{json}");
    }

    #[test]
    fn hostile_records_are_bounded() {
        let huge = format!("v=spf1 {}", "a ".repeat(MAX_RECORD_LEN));
        assert!(matches!(err(&huge).kind, ParseErrorKind::TooLong { .. }));
        let many = format!("v=spf1 {}", "a ".repeat(MAX_TERMS + 1));
        assert!(matches!(
            err(&many).kind,
            ParseErrorKind::TooManyTerms { .. }
        ));
        let nested = format!("v=spf1 a:{}x.example", "%{d}".repeat(3000));
        assert!(parse_record(&nested).is_ok());
        for text in [
            "v=spf1 %",
            "v=spf1 a:%{",
            "v=spf1 a:%{d99999999999999999999}.x",
            "v=spf1 a//",
            "v=spf1 a:/",
            "v=spf1 ip6:",
            "v=spf1 ip4:/",
            "v=spf1 -",
            "v=spf1 +",
            "v=spf1 ===",
            "v=spf1 a:x.example/99999999999999999999",
            "v=spf1 é",
        ] {
            let _ = parse_record(text);
        }
    }
}
