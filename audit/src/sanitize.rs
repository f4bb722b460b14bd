//! Making untrusted text safe for where it goes: terminals (no control characters or escape
//! sequences from a server's banner), HTML (escaped) and spreadsheets (no formula injection).
//! Pure functions.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` could change how a terminal shows what follows: C0/C1 controls, DEL, and the
/// bidirectional overrides that reorder text.
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text for a terminal or a log: every control character, escape sequence introducer and bidi
/// override becomes visible as `\xNN` / `\u{NNNN}`. Newlines are escaped too: one value, one line.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dangerous) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) {
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

/// HTML-escapes text for element content and quoted attribute values; control characters are
/// made visible as in [`terminal`].
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

/// A spreadsheet cell that Excel, LibreOffice and Google Sheets will not run as a formula: a
/// value starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.
pub fn spreadsheet(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Markdown table cell: terminal-clean, pipes and backticks escaped, HTML brackets escaped.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_controls_and_bidi() {
        assert_eq!(terminal("220 ok"), "220 ok");
        assert_eq!(terminal("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal("x\u{9b}y\u{202e}z\n"), "x\\x9by\\u{202e}z\\x0a");
    }

    #[test]
    fn html_escapes_everything_active() {
        assert_eq!(
            html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn spreadsheet_defuses_formulas() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(spreadsheet("example.com"), "example.com");
    }

    #[test]
    fn markdown_escapes_table_syntax() {
        assert_eq!(markdown("a|b <i>"), "a\\|b &lt;i&gt;");
    }
}
