//! One set of rules for untrusted text, for every front-end.
//!
//! Everything a mail server or a DNS zone says (banners, reply lines, PTR and MX names, TXT
//! records) and everything a user typed is untrusted. Before it is stored or shown it goes
//! through this module; no front-end keeps a character list of its own.
//!
//! ## The rules
//! - **Removed characters** ([`is_removed`]): C0 and C1 controls (general category Cc; the
//!   multi-line form keeps `\n` and `\t`), every format character (Cf: LRM/RLM/ALM, the bidi
//!   embeddings, overrides and isolates, zero-width space and joiners, word joiner and invisible
//!   operators, BOM, soft hyphen, U+180E, U+061C, the interlinear annotation marks, the tag
//!   characters), the unassigned code points of the default-ignorable blocks (U+2065,
//!   U+FFF0–FFF8, the rest of U+E0000–E0FFF), noncharacters (U+FDD0–FDEF and every
//!   U+xFFFE/xFFFF), private-use characters (they show as nothing, as tofu or as a vendor's logo,
//!   and only confuse) and the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0 (invisible letters
//!   used for blank names). Variation selectors are kept. Removing the zero-width joiner splits
//!   emoji ZWJ sequences into their parts, which stay readable.
//! - **Combining marks capped** ([`MAX_COMBINING_MARKS`]): at most that many nonspacing or
//!   enclosing marks (Mn, Me) in a row; the rest of a "Zalgo" flood is dropped.
//! - **Bounded length** ([`truncate`]): counted in characters, cut with [`ELLIPSIS`], never inside
//!   a character and never after a lone escaping backslash.
//! - **Links defanged** ([`defang`]): every `://` becomes `[:]//`, `http`/`https` before it become
//!   `hxxp`/`hxxps`, and the dots of the host after it (and of a `www.` host) become `[.]`:
//!   `https://evil.example/x` shows as `hxxps[:]//evil[.]example/x`, readable and not a link. The
//!   output never contains `://`. Plain host names (`mx1.example.com`) are left alone.
//! - **Non-public addresses hidden** ([`hide_private_addresses`]): IPv4 and IPv6 literals that are
//!   not publicly routable, as [`AddressScope`] classifies them, become the words
//!   [`PRIVATE_ADDRESS`].
//!
//! ## Forms and targets
//! | function | for | does |
//! | --- | --- | --- |
//! | [`clean`] | one line anywhere (the bot's `clean_line`) | removal, mark cap, whitespace runs to one space, trimmed |
//! | [`clean_multiline`] | attachments and transcripts (the bot's report file) | removal and mark cap, `\n` and `\t` kept, `\r` dropped |
//! | [`from_wire`] | bytes received from a server, before they are stored (SMTP replies) | lossy UTF-8, removal and mark cap, tabs to spaces, other spacing kept |
//! | [`discord`] | Discord messages and embeds (the bot's `untrusted`) | clean, private addresses hidden unless [`DiscordOptions::show_private`], defang, [`escape_discord_markdown`], [`neutralize_mentions`], bound |
//! | [`terminal`] | terminals and logs (the audit's text output and CSV) | removed characters and surplus marks shown as `\xNN` / `\u{NNNN}`, newlines too |
//! | [`html`] | HTML element content and quoted attributes (the audit's HTML report) | [`terminal`], then `& < > " '` escaped |
//! | [`markdown`] | Markdown table cells (the audit's Markdown report) | [`terminal`], then pipes, backticks, emphasis, brackets and `< > &` escaped |
//! | [`spreadsheet`] | CSV cells (the audit's CSV output) | a leading `'` before `= + - @`, tab or CR; otherwise the text byte for byte |
//!
//! [`terminal`], [`html`] and [`markdown`] show what they would otherwise remove, so an admin
//! reading a report sees that a server sent an escape sequence; [`spreadsheet`] removes nothing,
//! so client data round-trips. Only [`discord`] defangs links and hides addresses: the audit's
//! reports are read by the admin who ran them and carry our own advice links (delisting pages);
//! a front-end that wants it calls [`defang`] or [`hide_private_addresses`] itself. None of the
//! report forms bounds length on its own; [`truncate`] is there for that.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use unicode_general_category::{GeneralCategory, get_general_category};

use crate::facts::AddressScope;

/// Zero-width space: [`neutralize_mentions`] inserts it on purpose, after cleaning, to break
/// mention syntax without changing what a reader sees.
pub const ZWSP: char = '\u{200B}';

/// What ends a cut text.
pub const ELLIPSIS: char = '…';

/// At most this many combining marks (Mn, Me) in a row are kept.
pub const MAX_COMBINING_MARKS: usize = 2;

/// What [`hide_private_addresses`] writes instead of a non-public IP literal.
pub const PRIVATE_ADDRESS: &str = "private address";

/// The bound [`DiscordOptions::default`] uses: Discord's limit for one embed field value.
pub const DISCORD_DEFAULT_MAX_CHARS: usize = 1024;

/// Whether `c` is removed from untrusted text (see the module documentation for the list).
/// `\n` and `\t` are among them; the multi-line form keeps those two itself.
pub fn is_removed(c: char) -> bool {
    use GeneralCategory as G;
    match get_general_category(c) {
        G::Control | G::Format | G::PrivateUse | G::Surrogate => true,
        G::Unassigned => {
            is_noncharacter(c)
                || matches!(c, '\u{2065}' | '\u{FFF0}'..='\u{FFF8}' | '\u{E0000}'..='\u{E0FFF}')
        }
        _ => matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'),
    }
}

/// U+FDD0–FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// Whether `c` is a nonspacing or enclosing combining mark (Mn, Me), the kind that stacks on
/// the character before it. Spacing marks (Mc) take room of their own and are not counted.
pub fn is_combining_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
    )
}

/// Counts combining marks in a row.
#[derive(Default)]
struct MarkCap(usize);

impl MarkCap {
    /// Whether `c`, coming next, stays within the cap.
    fn admit(&mut self, c: char) -> bool {
        if is_combining_mark(c) {
            self.0 += 1;
            self.0 <= MAX_COMBINING_MARKS
        } else {
            self.0 = 0;
            true
        }
    }
}

/// How the cleaning forms treat spacing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// One line: whitespace runs become one space, ends trimmed.
    Line,
    /// Several lines: `\n` and `\t` kept, line and paragraph separators become `\n`.
    Text,
    /// Received text: tabs and line separators become spaces, other spacing as it came.
    Wire,
}

fn filter(s: &str, form: Form) -> String {
    let mut out = String::with_capacity(s.len());
    let mut cap = MarkCap::default();
    let mut pending_space = false;
    for c in s.chars() {
        let c = match form {
            Form::Line if c.is_whitespace() => {
                pending_space = !out.is_empty();
                continue;
            }
            Form::Line => c,
            Form::Text => match c {
                '\u{85}' | '\u{2028}' | '\u{2029}' => '\n',
                c => c,
            },
            Form::Wire => match c {
                '\t' | '\u{2028}' | '\u{2029}' => ' ',
                c => c,
            },
        };
        let keep_anyway = form == Form::Text && matches!(c, '\n' | '\t');
        if is_removed(c) && !keep_anyway {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
            cap.admit(' ');
        }
        if cap.admit(c) {
            out.push(c);
        }
    }
    out
}

/// One line of untrusted text: removed characters dropped, combining marks capped, every run of
/// whitespace (tabs and line breaks too) one space, surrounding space trimmed.
pub fn clean(s: &str) -> String {
    filter(s, Form::Line)
}

/// Multi-line untrusted text (attachments, transcripts): as [`clean`], but `\n` and `\t` are
/// kept, `\r` is dropped (so `\r\n` becomes `\n`), U+0085, U+2028 and U+2029 become `\n`, and
/// other spacing is left as it is.
pub fn clean_multiline(s: &str) -> String {
    filter(s, Form::Text)
}

/// Bytes received from a server, made safe to store and print: invalid UTF-8 becomes U+FFFD,
/// tabs become spaces, removed characters (line breaks too) are dropped, combining marks are
/// capped; other spacing is kept as it came, for the parsers that read it.
pub fn from_wire(bytes: &[u8]) -> String {
    filter(&String::from_utf8_lossy(bytes), Form::Wire)
}

/// Cuts `s` to at most `max` characters, ending with [`ELLIPSIS`] when something was cut. Never
/// splits a character and never leaves a dangling escape backslash before the ellipsis. Returns
/// the text and whether it was cut.
pub fn truncate(s: &str, max: usize) -> (String, bool) {
    if s.char_indices().nth(max).is_none() {
        return (s.to_owned(), false);
    }
    if max == 0 {
        return (String::new(), true);
    }
    let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
    let mut cut = s[..end].to_owned();
    if cut.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1 {
        cut.pop();
    }
    cut.push(ELLIPSIS);
    (cut, true)
}

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

/// Escapes Discord markdown so the text shows literally: emphasis, strike, code, spoilers,
/// masked links, and (at the start of a line) quotes, headings and list markers.
pub fn escape_discord_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut line_start = true;
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            '>' | '#' | '-' | '+' if line_start => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        line_start = c == '\n' || (line_start && c.is_whitespace());
    }
    out
}

/// Breaks `@everyone`, `@here` (any case) and every `<…>` construct (user, role and channel
/// mentions, slash command mentions, custom emoji, timestamps) with a [`ZWSP`].
pub fn neutralize_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        let starts = |word: &str| {
            rest.get(..word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        };
        if c == '<' || (c == '@' && (starts("everyone") || starts("here"))) {
            out.push(ZWSP);
        }
    }
    out
}

/// How [`discord`] treats text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscordOptions {
    /// The bound, in characters of the result (escapes and ellipsis included).
    pub max_chars: usize,
    /// Show non-public IP literals as they are instead of [`PRIVATE_ADDRESS`].
    pub show_private: bool,
}

impl Default for DiscordOptions {
    /// [`DISCORD_DEFAULT_MAX_CHARS`], private addresses hidden.
    fn default() -> Self {
        Self {
            max_chars: DISCORD_DEFAULT_MAX_CHARS,
            show_private: false,
        }
    }
}

/// Untrusted single-line text made inert for a Discord message or embed: [`clean`], non-public
/// addresses hidden (unless `opts.show_private`), [`defang`], [`escape_discord_markdown`],
/// [`neutralize_mentions`], then [`truncate`] to `opts.max_chars`.
pub fn discord(s: &str, opts: DiscordOptions) -> String {
    let mut text = clean(s);
    if !opts.show_private {
        text = hide_private_addresses(&text);
    }
    let text = neutralize_mentions(&escape_discord_markdown(&defang(&text)));
    truncate(&text, opts.max_chars).0
}

/// Whether [`terminal`] shows `c` as an escape.
fn shown_escaped(c: char) -> bool {
    is_removed(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Text for a terminal or a log: every removed character (controls, escape sequence
/// introducers, bidi and other format characters…), line separator and combining mark over the
/// cap becomes visible as `\xNN` / `\u{NNNN}`. Newlines are escaped too: one value, one line.
/// Nothing is dropped.
pub fn terminal(s: &str) -> Cow<'_, str> {
    let mut cap = MarkCap::default();
    if s.chars().all(|c| !shown_escaped(c) && cap.admit(c)) {
        return Cow::Borrowed(s);
    }
    let mut cap = MarkCap::default();
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if shown_escaped(c) || !cap.admit(c) {
            let n = u32::from(c);
            if n < 0x100 {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:04x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// HTML-escapes text for element content and quoted attribute values (`& < > " '`); removed
/// characters are made visible as in [`terminal`].
pub fn html(s: &str) -> String {
    let s = terminal(s);
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown table cell: [`terminal`]-clean (so line breaks cannot end the row), pipes,
/// backticks, emphasis, brackets and backslashes escaped, `< > &` as entities.
pub fn markdown(s: &str) -> String {
    let s = terminal(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A spreadsheet cell that Excel, LibreOffice and Google Sheets will not run as a formula: a
/// value starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`. Anything
/// else is returned byte for byte: nothing is removed, so client data round-trips.
pub fn spreadsheet(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests;
