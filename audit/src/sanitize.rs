//! Making untrusted text safe for where it goes: terminals (no control characters or escape
//! sequences from a server's banner), HTML (escaped), Markdown tables and spreadsheets (no formula
//! injection). The audit's names for [`mailcheck::sanitize`], which holds the one set of rules
//! every front-end uses.

pub use mailcheck::sanitize::{html, markdown, spreadsheet, terminal};

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
