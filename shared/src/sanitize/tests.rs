//! The sanitizer's rules one by one (removed characters, spacing, marks, truncation, links,
//! addresses, each target's escapes), then properties of every form on hostile input.

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

fn hidden() -> DiscordOptions {
    DiscordOptions::default()
}

fn shown() -> DiscordOptions {
    DiscordOptions {
        show_private: true,
        ..DiscordOptions::default()
    }
}

#[test]
fn controls_and_format_characters_go() {
    assert_eq!(clean("a\u{1b}[31mb\u{202E}c\u{0}d\te\nf"), "a[31mbcd e f");
    for c in [
        '\u{200E}', '\u{200F}', '\u{061C}', '\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}',
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{2064}', '\u{FEFF}', '\u{00AD}',
        '\u{180E}', '\u{FFF9}', '\u{FFFB}', '\u{9B}', '\u{7F}',
    ] {
        assert!(is_removed(c), "U+{:04X}", u32::from(c));
        assert_eq!(clean(&format!("a{c}b")), "ab", "U+{:04X}", u32::from(c));
    }
    // NEL is a control and a line break: a space on one line.
    assert!(is_removed('\u{85}'));
    assert_eq!(clean("a\u{85}b"), "a b");
}

#[test]
fn tags_noncharacters_private_use_and_fillers_go_variation_selectors_stay() {
    for c in [
        '\u{E0000}',
        '\u{E0001}',
        '\u{E0041}',
        '\u{E007F}',
        '\u{FDD0}',
        '\u{FFFE}',
        '\u{10FFFF}',
        '\u{E000}',
        '\u{F8FF}',
        '\u{F0000}',
        '\u{3164}',
        '\u{2065}',
    ] {
        assert!(is_removed(c), "U+{:04X}", u32::from(c));
    }
    for c in [
        '\u{FE0F}',
        '\u{E0100}',
        'a',
        'é',
        '€',
        '\u{FFFD}',
        ' ',
        '😀',
    ] {
        assert!(!is_removed(c), "U+{:04X}", u32::from(c));
    }
    assert_eq!(clean("ok\u{2764}\u{FE0F}"), "ok\u{2764}\u{FE0F}");
}

#[test]
fn whitespace_collapses_on_one_line_and_stays_in_multiline() {
    assert_eq!(clean("  a \t\r\n b\u{2028}c  "), "a b c");
    assert_eq!(clean_multiline("a\r\nb\u{7}\tc"), "a\nb\tc");
    assert_eq!(clean_multiline("a\u{2028}b  c\u{202E}"), "a\nb  c");
}

#[test]
fn wire_text_keeps_spacing_and_drops_the_rest() {
    assert_eq!(from_wire(b"250-SIZE  1000\tx"), "250-SIZE  1000 x");
    assert_eq!(from_wire(b"220 a\x1b[2J\r\x00b"), "220 a[2Jb");
    assert_eq!(from_wire(b"220 \xff ok"), "220 \u{FFFD} ok");
    assert_eq!(from_wire("x\u{202E}y".as_bytes()), "xy");
}

#[test]
fn combining_marks_are_capped() {
    let zalgo = format!("Z{}a", "\u{0301}\u{0336}\u{20DD}".repeat(20));
    assert_eq!(clean(&zalgo), "Z\u{0301}\u{0336}a");
    // Legitimate text is untouched: one or two marks, spacing marks (Mc) not counted.
    assert_eq!(clean("e\u{0301}\u{0323}"), "e\u{0301}\u{0323}");
    assert_eq!(clean("नमस्ते"), "नमस्ते");
    // A removed character between marks does not split the count.
    assert_eq!(
        clean("e\u{0301}\u{200B}\u{0301}\u{0301}"),
        "e\u{0301}\u{0301}"
    );
    // Marks after a space belong to the space.
    assert_eq!(clean("a \u{0301}\u{0301}\u{0301}"), "a \u{0301}\u{0301}");
    assert_eq!(
        terminal("e\u{0301}\u{0302}\u{0303}"),
        "e\u{0301}\u{0302}\\u{0303}"
    );
}

#[test]
fn truncation_counts_chars_and_keeps_escapes_whole() {
    assert_eq!(truncate("hello", 5), ("hello".to_owned(), false));
    assert_eq!(truncate("héllo!", 5), ("héll…".to_owned(), true));
    assert_eq!(truncate("ab\\*cd", 4), ("ab…".to_owned(), true));
    assert_eq!(truncate("ab\\\\cd", 5), ("ab\\\\…".to_owned(), true));
    assert_eq!(truncate("abc", 0), (String::new(), true));
    assert_eq!(truncate("", 0), (String::new(), false));
    assert_eq!(truncate("日本語テキスト", 3), ("日本…".to_owned(), true));
}

#[test]
fn links_are_defanged_and_stay_readable() {
    assert_eq!(
        defang("see https://evil.example/path?q=a.b now"),
        "see hxxps[:]//evil[.]example/path?q=a.b now"
    );
    assert_eq!(defang("HTTP://A.B"), "hxxp[:]//A[.]B");
    assert_eq!(
        defang("steam://run/1 discord://x.y ftp://f.example:21/a"),
        "steam[:]//run/1 discord[:]//x[.]y ftp[:]//f[.]example:21/a"
    );
    assert_eq!(
        defang("go to www.evil.example/x."),
        "go to www[.]evil[.]example/x."
    );
    assert_eq!(defang("(WWW.a.b)"), "(WWW[.]a[.]b)");
    assert_eq!(defang("http://evil。example"), "hxxp[:]//evil[.]example");
    assert_eq!(defang("u://user:pw@h.x:8"), "u[:]//user:pw@h[.]x:8");
    // Plain names, e-mail addresses and odd spellings.
    assert_eq!(
        defang("220 mx1.example.com ESMTP postmaster@www.example.com"),
        "220 mx1.example.com ESMTP postmaster@www.example.com"
    );
    assert_eq!(defang("xhttp://a"), "xhttp[:]//a");
    assert_eq!(defang(":////"), "[:]////");
    assert_eq!(defang("a:::// b"), "a::[:]// b");
}

#[test]
fn private_addresses_are_hidden_public_ones_stay() {
    for ip in [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "100.64.0.1",
        "169.254.1.1",
        "192.0.2.7",
        "198.18.0.1",
        "0.1.2.3",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::25",
        "2001:db8::1",
        "3fff::1",
        "ff02::1",
        "::ffff:10.1.2.3",
    ] {
        assert_eq!(
            hide_private_addresses(&format!("at {ip} now")),
            if ip == "::" {
                "at :: now".to_owned()
            } else {
                "at private address now".to_owned()
            },
            "{ip}"
        );
    }
    for s in [
        "93.184.216.34",
        "2606:4700::1111",
        "mx10.0.0.1",
        "10.0.0.1.example",
        "version 1.2.3",
        "12:30:45",
        "please add:: it",
        "cafe::face",
    ] {
        assert_eq!(hide_private_addresses(s), s);
    }
    assert_eq!(
        hide_private_addresses("[10.0.0.1]:25, IP:192.168.0.9. [fe80::1%eth0] 10.0.0.2:587"),
        "[private address]:25, IP:private address. [private address%eth0] private address:587"
    );
    assert_eq!(
        hide_private_addresses("http://127.0.0.1:8080/x"),
        "http://private address:8080/x"
    );
    assert_eq!(
        hide_private_addresses("ü10.0.0.1 é 10.0.0.1"),
        "ü10.0.0.1 é private address"
    );
}

#[test]
fn discord_markdown_and_mentions() {
    assert_eq!(escape_discord_markdown("> quote"), "\\> quote");
    assert_eq!(escape_discord_markdown("a > b - c"), "a > b - c");
    assert_eq!(
        escape_discord_markdown("[x](http://e)"),
        "\\[x\\]\\(http://e\\)"
    );
    assert_eq!(neutralize_mentions("@EveryOne"), "@\u{200B}EveryOne");
    assert_eq!(neutralize_mentions("@HERE"), "@\u{200B}HERE");
    assert_eq!(neutralize_mentions("ü@é"), "ü@é");
    assert_eq!(neutralize_mentions("a@b.c"), "a@b.c");
    assert_eq!(neutralize_mentions("</cmd:1>"), "<\u{200B}/cmd:1>");
}

#[test]
fn discord_puts_it_all_together() {
    let s = discord(
        "220 @everyone <@123> **x** http://10.0.0.1/a.b www.x.y 8.8.8.8\r\n",
        hidden(),
    );
    assert_eq!(
        s,
        "220 @\u{200B}everyone <\u{200B}@123> \\*\\*x\\*\\* hxxp\\[:\\]//private address/a.b \
         www\\[.\\]x\\[.\\]y 8.8.8.8"
    );
    assert_eq!(
        discord("from 10.0.0.1", shown()),
        "from 10.0.0.1",
        "show_private keeps addresses"
    );
    let long = discord(
        &"a*".repeat(100),
        DiscordOptions {
            max_chars: 10,
            ..hidden()
        },
    );
    assert_eq!(long, "a\\*a\\*a\\*…");
    assert_eq!(
        discord(
            "x\u{202E}y",
            DiscordOptions {
                max_chars: 0,
                ..hidden()
            }
        ),
        ""
    );
}

#[test]
fn terminal_escapes_controls_and_bidi() {
    assert_eq!(terminal("220 ok"), "220 ok");
    assert!(matches!(terminal("220 ok"), Cow::Borrowed(_)));
    assert_eq!(terminal("a\x1b[2Jb"), "a\\x1b[2Jb");
    assert_eq!(terminal("x\u{9b}y\u{202e}z\n"), "x\\x9by\\u{202e}z\\x0a");
    assert_eq!(terminal("a\u{200B}b\u{E0041}"), "a\\u{200b}b\\u{e0041}");
}

#[test]
fn html_escapes_everything_active() {
    assert_eq!(
        html("<script>alert('x')</script>&\""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
    );
    assert_eq!(html("a\u{1b}b"), "a\\x1bb");
}

#[test]
fn markdown_escapes_table_syntax() {
    assert_eq!(markdown("a|b <i>"), "a\\|b &lt;i&gt;");
    assert_eq!(
        markdown("l1\nl2 [x](y) `c`"),
        "l1\\\\x0al2 \\[x\\](y) \\`c\\`"
    );
}

#[test]
fn spreadsheet_defuses_formulas_and_keeps_everything_else() {
    for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
        assert_eq!(spreadsheet(bad), format!("'{bad}"), "{bad}");
    }
    for good in ["example.com", "a\u{202E}b\u{200B}", "", " =1", "'x"] {
        assert!(matches!(spreadsheet(good), Cow::Borrowed(g) if g == good));
    }
}

/// Text likely to hit the rules: arbitrary characters mixed with the pieces attacks use.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => prop::sample::select(vec![
            '\n', '\r', '\t', '\u{1b}', '\u{9b}', '\u{0}', '\u{7f}', '\u{85}', '\u{200B}',
            '\u{200D}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{00AD}', '\u{E0041}', '\u{E0001}',
            '\u{FFFE}', '\u{E000}', '\u{0301}', '\u{0336}', '\u{20DD}', '\u{FE0F}', '\u{2028}',
            '\\', '*', '_', '`', '|', '[', ']', '(', ')', '<', '>', '"', '\'', '&', '@', '#',
            '-', '=', '+', ':', '/', '.', ' ', 'w', '1', '0', 'é', '。',
        ])
        .prop_map(String::from),
        1 => prop::sample::select(vec![
            "@everyone", "@here", "@EVERYONE", "<@123>", "://", "http", "https://", "www.",
            "10.0.0.1", "::1", "fe80::1", "192.168.1.1:25", "8.8.8.8", "evil.example",
            "\u{0301}\u{0301}\u{0301}\u{0301}",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|v| v.concat())
}

fn max_mark_run(s: &str) -> usize {
    let (mut run, mut max) = (0, 0);
    for c in s.chars() {
        run = if is_combining_mark(c) { run + 1 } else { 0 };
        max = max.max(run);
    }
    max
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn discord_output_is_inert(s in hostile(), max in 0usize..80, show in any::<bool>()) {
        let out = discord(&s, DiscordOptions { max_chars: max, show_private: show });
        prop_assert!(out.chars().count() <= max);
        prop_assert!(out.chars().all(|c| c == ZWSP || !is_removed(c)), "{out:?}");
        let lower = out.to_ascii_lowercase();
        prop_assert!(!lower.contains("@everyone") && !lower.contains("@here"), "{out:?}");
        prop_assert!(!out.contains("://"), "{out:?}");
        prop_assert!(!out.contains("<@"), "{out:?}");
        prop_assert!(max_mark_run(&out) <= MAX_COMBINING_MARKS, "{out:?}");
    }

    #[test]
    fn a_private_literal_standing_alone_is_always_hidden(
        a in hostile(),
        b in hostile(),
        ip in prop::sample::select(vec!["10.0.0.1", "192.168.1.1", "fe80::1", "::ffff:127.0.0.1"]),
    ) {
        let out = hide_private_addresses(&format!("{a} {ip} {b}"));
        let expected = format!(
            "{} {PRIVATE_ADDRESS} {}",
            hide_private_addresses(&a),
            hide_private_addresses(&b)
        );
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn clean_forms_are_idempotent_and_safe(s in hostile()) {
        let one = clean(&s);
        prop_assert_eq!(clean(&one), one.clone());
        prop_assert!(one.chars().all(|c| !is_removed(c)));
        prop_assert!(!one.starts_with(' ') && !one.ends_with(' ') && !one.contains("  "));
        prop_assert!(max_mark_run(&one) <= MAX_COMBINING_MARKS);
        let many = clean_multiline(&s);
        prop_assert_eq!(clean_multiline(&many), many.clone());
        prop_assert!(many.chars().all(|c| matches!(c, '\n' | '\t') || !is_removed(c)));
        let wire = from_wire(s.as_bytes());
        prop_assert_eq!(from_wire(wire.as_bytes()), wire.clone());
        prop_assert!(wire.chars().all(|c| !is_removed(c)));
    }

    #[test]
    fn truncate_bounds_and_keeps_a_prefix(s in hostile(), max in 0usize..64) {
        let (t, cut) = truncate(&s, max);
        prop_assert!(t.chars().count() <= max);
        prop_assert_eq!(cut, s.chars().count() > max);
        let kept = t.strip_suffix(ELLIPSIS).filter(|_| cut).unwrap_or(&t);
        prop_assert!(s.starts_with(kept));
    }

    #[test]
    fn html_and_markdown_have_no_raw_markup(s in hostile()) {
        let h = html(&s);
        prop_assert!(!h.contains(['<', '>', '"', '\'']), "{h:?}");
        prop_assert!(h.chars().all(|c| !is_removed(c)));
        let m = markdown(&s);
        prop_assert!(!m.contains(['<', '>', '\n', '\r']), "{m:?}");
        prop_assert!(m.chars().all(|c| !is_removed(c)));
        prop_assert!(max_mark_run(&m) <= MAX_COMBINING_MARKS);
        let t = terminal(&s);
        prop_assert!(t.chars().all(|c| !is_removed(c)));
    }

    #[test]
    fn spreadsheet_is_identity_on_other_cells(s in hostile()) {
        let out = spreadsheet(&s);
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            prop_assert_eq!(out.as_ref(), format!("'{s}"));
        } else {
            prop_assert_eq!(out.as_ref(), s.as_str());
        }
    }
}
