//! The per-target forms of untrusted text: Discord messages ([`discord`], with its markdown
//! escape and mention breaker), terminals and logs ([`terminal`]), HTML ([`html`]), Markdown
//! table cells ([`markdown`]) and spreadsheet cells ([`spreadsheet`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{
    DISCORD_DEFAULT_MAX_CHARS, MarkCap, ZWSP, clean, defang, hide_private_addresses, is_removed,
    truncate,
};

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
    /// Show non-public IP literals as they are instead of
    /// [`PRIVATE_ADDRESS`](super::PRIVATE_ADDRESS).
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
