//! Links and addresses in untrusted text: [`defang`] makes links non-clickable but readable,
//! [`hide_private_addresses`] replaces non-public IP literals with [`PRIVATE_ADDRESS`].

use std::net::IpAddr;

use super::PRIVATE_ADDRESS;
use crate::facts::AddressScope;

/// Whether `c` is a dot in a host name (ASCII, ideographic, full-width and half-width).
fn is_host_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// Whether `c` ends the host part of a URL.
fn ends_host(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '/' | '?'
                | '#'
                | '\\'
                | '<'
                | '>'
                | '"'
                | '\''
                | '('
                | ')'
                | '{'
                | '}'
                | '|'
                | '^'
                | '`'
                | ','
                | ';'
        )
}

/// Turns a trailing `http` / `https` scheme in `out` into `hxxp` / `hxxps`.
fn rewrite_scheme(out: &mut String) {
    let letters = out
        .bytes()
        .rev()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let start = out.len() - letters;
    let scheme = &out[start..];
    let new = if scheme.eq_ignore_ascii_case("http") {
        "hxxp"
    } else if scheme.eq_ignore_ascii_case("https") {
        "hxxps"
    } else {
        return;
    };
    out.truncate(start);
    out.push_str(new);
}

/// Makes links in untrusted text non-clickable while keeping them readable: every `://` becomes
/// `[:]//` (whatever the scheme: `http`, `steam`, `discord`…), `http`/`https` become
/// `hxxp`/`hxxps`, and the dots of the host that follows, or of a host starting with `www.`,
/// become `[.]`. Plain host names without a scheme or `www.` are left alone.
pub fn defang(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut in_host = false;
    let mut prev: Option<char> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        let rest = &s[i..];
        if rest.starts_with("://") {
            rewrite_scheme(&mut out);
            out.push_str("[:]//");
            chars.nth(1);
            in_host = true;
            prev = Some('/');
            continue;
        }
        if !in_host
            && rest
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("www."))
            && prev.is_none_or(|p| !(p.is_alphanumeric() || matches!(p, '.' | '-' | '_' | '@')))
        {
            in_host = true;
        }
        prev = Some(c);
        if in_host {
            if ends_host(c) {
                in_host = false;
            } else if is_host_dot(c) {
                out.push_str("[.]");
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Characters an IP literal is written with.
fn is_ip_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'.' || b == b':'
}

/// The IP address in `run` (a maximal run of [`is_ip_byte`]s): where it starts and how many
/// bytes it takes. Tried in order: the whole run; the run less trailing `.`/`:` (punctuation
/// after it); an IPv4 address before `:port`; and each of those less one leading `.` or `:`
/// (`IP:10.0.0.1`). Only candidates with a decimal digit count, so `::` and words like `add::`
/// are not addresses.
fn ip_in(run: &str) -> Option<(IpAddr, usize, usize)> {
    let skip =
        usize::from((run.starts_with(':') && !run.starts_with("::")) || run.starts_with('.'));
    [0, skip].into_iter().find_map(|start| {
        let run = &run[start..];
        let trimmed = run.trim_end_matches(['.', ':']);
        let before_port = run
            .split_once(':')
            .map(|(a, _)| a)
            .filter(|a| a.contains('.'));
        [Some(run), Some(trimmed), before_port]
            .into_iter()
            .flatten()
            .filter(|c| c.bytes().any(|b| b.is_ascii_digit()))
            .find_map(|c| c.parse().ok().map(|ip| (ip, start, c.len())))
    })
}

/// Replaces every IP literal that is not publicly routable (loopback, RFC 1918, CGNAT,
/// link-local, unique-local, documentation, benchmarking, unspecified, multicast, reserved,
/// 0/8, and IPv4-mapped forms of those: [`AddressScope::is_private`]) with the words
/// [`PRIVATE_ADDRESS`]. Literals are found by a small scanner: a run of hex digits, dots and
/// colons not glued to a word on either side (`mx10.0.0.1`, `10.0.0.1.example` are names, not
/// literals), validated by the standard parser. Public addresses stay.
pub fn hide_private_addresses(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_ip_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let end = i + bytes[i..].iter().take_while(|&&b| is_ip_byte(b)).count();
        let glued_before = bytes[i].is_ascii_hexdigit()
            && s[..i]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
        let glued_after = bytes[end - 1].is_ascii_hexdigit()
            && s[end..].chars().next().is_some_and(char::is_alphanumeric);
        if !glued_before
            && !glued_after
            && let Some((ip, start, len)) = ip_in(&s[i..end])
            && AddressScope::of(ip).is_private()
        {
            out.push_str(&s[copied..i + start]);
            out.push_str(PRIVATE_ADDRESS);
            copied = i + start + len;
        }
        i = end;
    }
    out.push_str(&s[copied..]);
    out
}
