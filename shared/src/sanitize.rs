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
//!   not publicly routable, as [`AddressScope`](crate::facts::AddressScope) classifies them,
//!   become the words [`PRIVATE_ADDRESS`].
//!
//! ## Forms and targets
//! Each form, what it is for, and what it does:
//! - [`clean`], one line anywhere (the bot's `clean_line`): removal, mark cap, whitespace runs
//!   to one space, trimmed.
//! - [`clean_multiline`], attachments and transcripts (the bot's report file): removal and mark
//!   cap, `\n` and `\t` kept, `\r` dropped.
//! - [`from_wire`], bytes received from a server, before they are stored (SMTP replies): lossy
//!   UTF-8, removal and mark cap, tabs to spaces, other spacing kept.
//! - [`discord`], Discord messages and embeds (the bot's `untrusted`): clean, private addresses
//!   hidden unless [`DiscordOptions::show_private`], defang, [`escape_discord_markdown`],
//!   [`neutralize_mentions`], bound.
//! - [`terminal`], terminals and logs (the audit's text output and CSV): removed characters and
//!   surplus marks shown as `\xNN` / `\u{NNNN}`, newlines too.
//! - [`html`], HTML element content and quoted attributes (the audit's HTML report):
//!   [`terminal`], then `& < > " '` escaped.
//! - [`markdown`], Markdown table cells (the audit's Markdown report): [`terminal`], then pipes,
//!   backticks, emphasis, brackets and `< > &` escaped.
//! - [`spreadsheet`], CSV cells (the audit's CSV output): a leading `'` before `= + - @`, tab or
//!   CR; otherwise the text byte for byte.
//!
//! [`terminal`], [`html`] and [`markdown`] show what they would otherwise remove, so an admin
//! reading a report sees that a server sent an escape sequence; [`spreadsheet`] removes nothing,
//! so client data round-trips. Only [`discord`] defangs links and hides addresses: the audit's
//! reports are read by the admin who ran them and carry our own advice links (delisting pages);
//! a front-end that wants it calls [`defang`] or [`hide_private_addresses`] itself. None of the
//! report forms bounds length on its own; [`truncate`] is there for that.
//!
//! ## Layout
//! The removal rules, the mark cap, the cleaning forms and [`truncate`] are here; the link and
//! address rules ([`defang`], [`hide_private_addresses`]) are in `links`, the per-target forms
//! ([`discord`], [`terminal`], [`html`], [`markdown`], [`spreadsheet`]) in `forms`; both are
//! re-exported here.

mod forms;
mod links;

use unicode_general_category::{GeneralCategory, get_general_category};

pub use forms::{
    DiscordOptions, discord, escape_discord_markdown, html, markdown, neutralize_mentions,
    spreadsheet, terminal,
};
pub use links::{defang, hide_private_addresses};

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

#[cfg(test)]
mod tests;
