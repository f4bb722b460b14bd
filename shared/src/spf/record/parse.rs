//! The parser: the whole record read term by term and rejected on the first syntax error, each
//! mechanism's argument, CIDR lengths and modifier checked against §4.6.1, §5 and §6.

use super::{
    Directive, DomainSpec, DualCidr, MAX_RECORD_LEN, MAX_TERMS, Mechanism, Modifier, ParseError,
    ParseErrorKind, Qualifier, Record, Term, TermKind, VERSION, is_spf_record,
};
use crate::spf::macros::{MacroString, MacroUse};

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
