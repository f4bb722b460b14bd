//! Judging a sending identity — an IP address, its reverse DNS and the HELO name it uses — the
//! way receivers do. Pure functions of recorded facts, shared by the two places that judge a
//! sender: our own vantage point ([`crate::diagnose::vantage`], the prober's identity) and the
//! sender check ([`crate::sender`], anyone's outbound gateway). The greeting-name check of an
//! MX ([`crate::diagnose`](mod@crate::diagnose)'s `smtp.banner_unresolvable`) uses the same
//! list of non-public suffixes.

use std::net::IpAddr;

use crate::facts::{AddressLookups, Lookup, PtrFacts};

/// Special-use and private suffixes a public mail server's name never has.
pub const NON_PUBLIC_SUFFIXES: &[&str] = &[
    "local",
    "localdomain",
    "lan",
    "internal",
    "home.arpa",
    "corp",
    "localhost",
    "invalid",
];

/// The special-use or private suffix of `name` (`local` for `mail.corp.local`), if it has one;
/// a name that is one of them (`localhost`) counts too.
pub fn non_public_suffix(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    NON_PUBLIC_SUFFIXES
        .iter()
        .copied()
        .find(|s| name == *s || name.ends_with(&format!(".{s}")))
}

/// Whether a HELO name is worth looking up in the DNS: it has a dot and is not an address.
/// (The prober's own EHLO name and a sender's HELO name are looked up by this same rule.)
pub fn worth_resolving(name: &str) -> bool {
    name.contains('.') && name.parse::<IpAddr>().is_err() && !name.starts_with('[')
}

/// What a HELO name is, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeloForm {
    /// A dotted name with a public suffix: look it up.
    Name,
    /// An address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`): allowed by RFC 5321 for hosts
    /// without a name, but not a name; many receivers score or refuse it.
    AddressLiteral(Option<IpAddr>),
    /// A bare address without brackets: not even valid syntax.
    BareAddress(IpAddr),
    /// No dot: not a fully qualified name (`localhost`, `mailserver`, a container id).
    NotQualified,
    /// A special-use or private suffix (`.local`, `.lan`, `.internal`…).
    NonPublic(&'static str),
}

/// Sorts a HELO name (as given, lower case, without a trailing dot) into a [`HeloForm`].
pub fn helo_form(helo: &str) -> HeloForm {
    let helo = helo.trim().trim_end_matches('.');
    if let Some(inner) = helo.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let addr = inner
            .strip_prefix("IPv6:")
            .or_else(|| inner.strip_prefix("ipv6:"))
            .unwrap_or(inner);
        return HeloForm::AddressLiteral(addr.parse().ok());
    }
    if let Ok(ip) = helo.parse::<IpAddr>() {
        return HeloForm::BareAddress(ip);
    }
    if !helo.contains('.') {
        return HeloForm::NotQualified;
    }
    match non_public_suffix(helo) {
        Some(suffix) => HeloForm::NonPublic(suffix),
        None => HeloForm::Name,
    }
}

/// What a HELO name's A/AAAA lookups say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeloResolution {
    /// NXDOMAIN or NODATA for both A and AAAA.
    Unresolvable,
    /// A lookup failed and none gave an address: we cannot tell.
    LookupFailed,
    /// It resolves to these addresses (A first).
    Resolves(Vec<IpAddr>),
}

/// Judges the lookups of a HELO name.
pub fn helo_resolution(lookups: &AddressLookups) -> HeloResolution {
    if lookups.both_negative() {
        return HeloResolution::Unresolvable;
    }
    let ips = lookups.ips();
    if ips.is_empty() {
        // One failed, the other is negative (or failed too).
        return HeloResolution::LookupFailed;
    }
    HeloResolution::Resolves(ips)
}

/// What the reverse DNS of an address says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtrState {
    /// The PTR lookup failed: not proof of anything.
    LookupFailed,
    /// NXDOMAIN or NODATA: there is no PTR.
    Missing,
    /// A PTR name exists, but its forward lookup failed: cannot confirm.
    ForwardFailed,
    /// No PTR name resolves back to the address (FCrDNS fails).
    NotConfirmed,
    /// A PTR name resolves back to the address (forward-confirmed reverse DNS).
    Confirmed,
}

/// Judges the PTR facts of `ip`.
pub fn ptr_state(ptr: &PtrFacts, ip: IpAddr) -> PtrState {
    match &ptr.lookup {
        Lookup::Failed { .. } => PtrState::LookupFailed,
        l if l.is_negative() => PtrState::Missing,
        _ => match ptr.confirms(ip) {
            Some(true) => PtrState::Confirmed,
            Some(false) => PtrState::NotConfirmed,
            None => PtrState::ForwardFailed,
        },
    }
}

/// Whether `name` is one of the PTR names (case and trailing dot ignored).
pub fn is_ptr_name(ptr: &PtrFacts, name: &str) -> bool {
    let name = name.trim_end_matches('.');
    ptr.names()
        .iter()
        .any(|p| p.trim_end_matches('.').eq_ignore_ascii_case(name))
}

/// Words that, as a whole label part of a PTR name, mark a dynamic or end-user range.
const GENERIC_WORDS: &[&str] = &[
    "dyn",
    "dynamic",
    "dynip",
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "sdsl",
    "pool",
    "dhcp",
    "cable",
    "dial",
    "dialup",
    "dialin",
    "ppp",
    "pppoe",
    "broadband",
    "residential",
    "subscriber",
    "subscribers",
    "customer",
    "customers",
    "cust",
    "client",
    "clients",
    "ftth",
    "fttx",
    "cpe",
    "wireless",
    "unassigned",
];

/// Words that mark a generic name only next to the address's own digits
/// (`static-113-45.example.net`, `ip-113-45.example.net`).
const WEAK_WORDS: &[&str] = &[
    "static", "ip", "host", "rev", "reverse", "addr", "unknown", "generic", "in-addr",
];

/// Why a PTR name looks dynamic or generic (`Some(reason)`), judged by receivers' usual
/// heuristics: the address's own digits in the name (three octets in a row, forwards or
/// backwards, or the whole address packed into one number or hex string), a word such as
/// `dyn`, `dsl`, `pool`, `dhcp` or `cable` in the host part, or a weaker word (`static`, `ip`,
/// `host`) next to the last two octets. Only the part left of the registered domain counts
/// (`mx.dyn.com` is not generic).
pub fn generic_ptr(name: &str, ip: IpAddr) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let org = crate::auth::dmarc::organizational_domain(&name);
    let host = name
        .strip_suffix(&org)
        .map(|h| h.trim_end_matches('.'))
        .unwrap_or_default();
    if host.is_empty() {
        return None;
    }
    let tokens = tokens(host);
    if let Some(word) = tokens.iter().find(|t| GENERIC_WORDS.contains(&t.as_str())) {
        return Some(format!(
            "the name has the word `{word}`, which providers use for dynamic and end-user ranges"
        ));
    }
    let pieces: Vec<&str> = host.split(['.', '-', '_']).collect();
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets().map(u32::from);
            let packed = u32::from(v4);
            let padded = format!("{:03}{:03}{:03}{:03}", o[0], o[1], o[2], o[3]);
            let hex = format!("{packed:08x}");
            if pieces
                .iter()
                .any(|p| *p == packed.to_string() || *p == padded || p.contains(&hex))
            {
                return Some("the name holds the whole address as one number".to_owned());
            }
            let numbers = numeric_runs(&tokens);
            let three = [
                [o[0], o[1], o[2]],
                [o[1], o[2], o[3]],
                [o[3], o[2], o[1]],
                [o[2], o[1], o[0]],
            ];
            if numbers
                .iter()
                .any(|run| run.windows(3).any(|w| three.iter().any(|t| w == t)))
            {
                return Some(format!("the name holds the address's own digits ({v4})"));
            }
            let weak = tokens.iter().find(|t| WEAK_WORDS.contains(&t.as_str()));
            let two = [[o[2], o[3]], [o[3], o[2]]];
            if let Some(word) = weak
                && numbers
                    .iter()
                    .any(|run| run.windows(2).any(|w| two.iter().any(|t| w == t)))
            {
                return Some(format!(
                    "the name has the word `{word}` next to the address's own digits ({v4})"
                ));
            }
            None
        }
        IpAddr::V6(v6) => {
            let full: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            if pieces.iter().any(|p| p.len() >= 16 && full.contains(*p)) {
                return Some("the name holds the address's own hex digits".to_owned());
            }
            let segments: Vec<u32> = v6.segments().iter().map(|s| u32::from(*s)).collect();
            let hex_run: Vec<Option<u32>> = pieces
                .iter()
                .map(|p| {
                    (!p.is_empty() && p.len() <= 4)
                        .then(|| u32::from_str_radix(p, 16).ok())
                        .flatten()
                })
                .collect();
            let hits = hex_run.windows(3).any(|w| {
                segments
                    .windows(3)
                    .any(|s| w.iter().zip(s).all(|(a, b)| *a == Some(*b)))
            });
            hits.then(|| format!("the name holds the address's own digits ({v6})"))
        }
    }
}

/// The host part split into lower-case tokens at `.`, `-`, `_` and between letters and digits
/// (`dsl203-0` → `dsl`, `203`, `0`).
fn tokens(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in host.split(['.', '-', '_']) {
        let mut current = String::new();
        let mut digit = None;
        for c in piece.chars() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|prev| prev != d) && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.push(c);
            digit = Some(d);
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    // `in-addr` is split at its `-`; keep it as one word too.
    if host.contains("in-addr") {
        out.push("in-addr".to_owned());
    }
    out
}

/// The runs of consecutive all-digit tokens, as numbers (`c-73-1-2-3.hsd1` → `[73, 1, 2, 3]`,
/// `[1]`).
fn numeric_runs(tokens: &[String]) -> Vec<Vec<u32>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for t in tokens {
        match t.parse::<u32>() {
            Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => run.push(n),
            _ => {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests;
