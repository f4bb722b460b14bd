//! Making untrusted text safe to show in Discord.
//!
//! Everything a mail server or a DNS zone says (banners, reply lines, PTR names, TXT records) and
//! everything a user typed is untrusted: it could ping `@everyone`, mention users or roles, fake
//! formatting or links, or carry terminal and bidi control characters. [`untrusted`] makes such
//! text inert; messages are also sent with no allowed mentions, so a mention that slipped through
//! would still not ping anyone.

/// Zero-width space, inserted to break mention syntax without changing what a reader sees.
pub const ZWSP: char = '\u{200B}';

/// Whether `c` is a character we drop: C0/C1 controls and the Unicode bidi/formatting controls
/// that can reorder or hide text.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200E}' | '\u{200F}'             // LRM, RLM
            | '\u{202A}'..='\u{202E}'           // embeddings and overrides
            | '\u{2066}'..='\u{2069}'           // isolates
            | '\u{FEFF}'                        // BOM / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'           // interlinear annotations
        )
}

/// One line of text: control characters removed, tabs and line breaks turned into single spaces,
/// surrounding space trimmed.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !is_unsafe_char(c) {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Multi-line text (for attachments): control characters other than `\n` and `\t` removed,
/// `\r\n` turned into `\n`.
pub fn clean_multiline(s: &str) -> String {
    s.chars()
        .filter(|&c| c == '\n' || c == '\t' || !is_unsafe_char(c))
        .collect()
}

/// Escapes Discord markdown so the text shows literally: emphasis, strike, code, spoilers,
/// masked links, and (at the start of a line) quotes, headings and list markers.
pub fn escape_markdown(s: &str) -> String {
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

/// Breaks `@everyone`, `@here` and every `<…>` construct (user, role and channel mentions, slash
/// command mentions, custom emoji, timestamps) with a zero-width space.
pub fn neutralize_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        match c {
            '<' => out.push(ZWSP),
            '@' => {
                let lower = rest
                    .get(..8)
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default();
                let lower4 = rest
                    .get(..4)
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default();
                if lower == "everyone" || lower4 == "here" {
                    out.push(ZWSP);
                }
            }
            _ => {}
        }
    }
    out
}

/// Untrusted single-line text made safe for an embed: [`clean_line`], then
/// [`escape_markdown`], then [`neutralize_mentions`].
pub fn untrusted(s: &str) -> String {
    neutralize_mentions(&escape_markdown(&clean_line(s)))
}

/// Cuts `s` to at most `max` characters, ending with `…` when something was cut. Never leaves a
/// dangling escape backslash. Returns the text and whether it was cut.
pub fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    if s.chars().count() <= max {
        return (s.to_owned(), false);
    }
    if max == 0 {
        return (String::new(), true);
    }
    let mut cut: String = s.chars().take(max - 1).collect();
    let trailing_backslashes = cut.chars().rev().take_while(|&c| c == '\\').count();
    if trailing_backslashes % 2 == 1 {
        cut.pop();
    }
    cut.push('…');
    (cut, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_hostile_banner_is_inert() {
        let s = untrusted("220 @everyone <@123> **x** <@&9> <#5> @here\r\n");
        assert_eq!(
            s,
            "220 @\u{200B}everyone <\u{200B}@123> \\*\\*x\\*\\* <\u{200B}@&9> <\u{200B}#5> \
             @\u{200B}here"
        );
        assert!(!s.contains("@everyone") && !s.contains("<@") && !s.contains("**"));
    }

    #[test]
    fn control_and_bidi_characters_go() {
        assert_eq!(
            clean_line("a\u{1b}[31mb\u{202E}c\u{0}d\te\nf"),
            "a[31mbcd e f"
        );
        assert_eq!(clean_multiline("a\r\nb\u{7}\tc"), "a\nb\tc");
    }

    #[test]
    fn markdown_escapes() {
        assert_eq!(escape_markdown("> quote"), "\\> quote");
        assert_eq!(escape_markdown("a > b - c"), "a > b - c");
        assert_eq!(escape_markdown("[x](http://e)"), "\\[x\\]\\(http://e\\)");
        assert_eq!(
            escape_markdown("||spoiler|| `c` ~~s~~ _i_"),
            "\\|\\|spoiler\\|\\| \\`c\\` \\~\\~s\\~\\~ \\_i\\_"
        );
        assert_eq!(escape_markdown("a\\b"), "a\\\\b");
    }

    #[test]
    fn mentions_case_insensitive_and_utf8_safe() {
        assert_eq!(neutralize_mentions("@EveryOne"), "@\u{200B}EveryOne");
        assert_eq!(neutralize_mentions("ü@é"), "ü@é");
        assert_eq!(neutralize_mentions("a@b.c"), "a@b.c");
        assert_eq!(neutralize_mentions("</cmd:1>"), "<\u{200B}/cmd:1>");
    }

    #[test]
    fn truncation_counts_chars_and_keeps_escapes_whole() {
        assert_eq!(truncate_chars("hello", 5), ("hello".to_owned(), false));
        assert_eq!(truncate_chars("héllo!", 5), ("héll…".to_owned(), true));
        let (t, cut) = truncate_chars("ab\\*cd", 4);
        assert!(cut);
        assert_eq!(t, "ab…");
        assert_eq!(truncate_chars("abc", 0), (String::new(), true));
    }
}
