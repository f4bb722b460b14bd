//! Making untrusted text safe to show in Discord: the bot's names for [`mailcheck::sanitize`],
//! which holds the one set of rules every front-end uses.
//!
//! Everything a mail server or a DNS zone says (banners, reply lines, PTR names, TXT records) and
//! everything a user typed is untrusted: it could ping `@everyone`, mention users or roles, fake
//! formatting or links, or carry terminal and bidi control characters. [`untrusted`] makes such
//! text inert; messages are also sent with no allowed mentions, so a mention that slipped through
//! would still not ping anyone.

use mailcheck::sanitize::{DiscordOptions, discord};

pub use mailcheck::sanitize::{
    ZWSP, clean as clean_line, clean_multiline, escape_discord_markdown as escape_markdown,
    neutralize_mentions, truncate as truncate_chars,
};

/// Untrusted single-line text made safe for an embed: [`mailcheck::sanitize::discord`] with the
/// default bound, links defanged, and non-public IP addresses shown as "private address" (an
/// internal network's layout is nobody's business in a chat).
pub fn untrusted(s: &str) -> String {
    discord(s, DiscordOptions::default())
}

/// [`untrusted`], but showing non-public IP addresses: for a lab (`allow_private`), whose
/// servers all live on loopback.
pub fn untrusted_lab(s: &str) -> String {
    discord(
        s,
        DiscordOptions {
            show_private: true,
            ..DiscordOptions::default()
        },
    )
}

/// [`untrusted`] or [`untrusted_lab`].
pub fn shown(s: &str, show_private: bool) -> String {
    if show_private {
        untrusted_lab(s)
    } else {
        untrusted(s)
    }
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
    fn links_are_defanged_and_private_addresses_hidden_outside_a_lab() {
        assert_eq!(
            untrusted("550 see https://evil.example/x from 10.0.0.1"),
            "550 see hxxps\\[:\\]//evil\\[.\\]example/x from private address"
        );
        assert_eq!(
            untrusted_lab("550 from 10.0.0.1 and 192.0.2.1"),
            "550 from 10.0.0.1 and 192.0.2.1"
        );
        assert_eq!(untrusted("from 8.8.8.8"), "from 8.8.8.8");
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
