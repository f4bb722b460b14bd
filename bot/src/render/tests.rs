//! Tests of the rendering.

use std::time::Duration;

use mailcheck::finding::THIS_MACHINE;
use mailcheck::report::{AddressSummary, MxSummary, SmtpStatus};
use mailcheck::{Code, Finding, Report, Verdict};

use super::*;

fn field(n: usize, len: usize) -> FieldDraft {
    FieldDraft {
        name: format!("f{n}"),
        value: "v".repeat(len),
        inline: false,
    }
}

#[test]
fn fit_respects_every_limit() {
    let mut e = EmbedDraft {
        title: "t".repeat(400),
        description: "d".repeat(5000),
        colour: 0,
        fields: (0..40).map(|n| field(n, 2000)).collect(),
        footer: "f".repeat(3000),
    };
    assert!(e.fit());
    assert!(e.title.chars().count() <= limits::TITLE);
    assert!(e.description.chars().count() <= limits::DESCRIPTION);
    assert!(e.footer.chars().count() <= limits::FOOTER);
    assert!(e.fields.len() <= limits::FIELDS);
    assert!(
        e.fields
            .iter()
            .all(|f| f.value.chars().count() <= limits::FIELD_VALUE)
    );
    assert!(e.total_chars() <= limits::TOTAL, "{}", e.total_chars());
    assert!(e.fields.last().unwrap().value.contains("did not fit"));
}

#[test]
fn fit_leaves_small_embeds_alone() {
    let mut e = EmbedDraft {
        title: "t".into(),
        description: "d".into(),
        colour: 0,
        fields: vec![field(0, 10)],
        footer: "f".into(),
    };
    let before = e.clone();
    assert!(!e.fit());
    assert_eq!(e, before);
}

#[test]
fn exactly_25_fields_fit_without_a_note() {
    let mut e = EmbedDraft {
        title: "t".into(),
        description: String::new(),
        colour: 0,
        fields: (0..25).map(|n| field(n, 10)).collect(),
        footer: String::new(),
    };
    assert!(!e.fit());
    assert_eq!(e.fields.len(), 25);
}

#[test]
fn durations() {
    assert_eq!(human_duration(Duration::from_millis(850)), "850 ms");
    assert_eq!(human_duration(Duration::from_millis(4200)), "4.2 s");
    assert_eq!(human_duration(Duration::from_secs(190)), "3 min");
}

#[test]
fn huge_hostile_report_fits_and_serializes_within_limits() {
    use mailcheck::{Code, Finding};
    let mut report = Report::invalid("example.test", "");
    "example.test".clone_into(&mut report.domain);
    report.error = None;
    report.verdict = Verdict::Degraded;
    report.findings = (0..60)
        .map(|i| {
            Finding::new(
                Code::SmtpBannerMismatch,
                format!("192.0.2.{i}"),
                "@everyone ".repeat(100),
            )
            .evidence("x".repeat(3000))
            .advice("<@1> **y** ".repeat(300))
        })
        .collect();
    let r = render_report(&report, &RenderContext::default());
    assert!(r.truncated);
    let json = r.embed_json();
    let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let fields = json["fields"].as_array().unwrap();
    assert!(fields.len() <= limits::FIELDS);
    let total = n(&json["title"])
        + n(&json["description"])
        + n(&json["footer"]["text"])
        + fields
            .iter()
            .map(|f| n(&f["name"]) + n(&f["value"]))
            .sum::<usize>();
    assert!(total <= limits::TOTAL, "{total}");
    for f in fields {
        assert!(n(&f["value"]) <= limits::FIELD_VALUE && n(&f["name"]) <= limits::FIELD_NAME);
    }
    let text = json.to_string();
    assert!(
        !text.contains("@everyone") && !text.contains("<@1>"),
        "{text}"
    );
    let file = String::from_utf8(r.file).unwrap();
    assert_eq!(file.matches("smtp.banner_mismatch").count(), 60);
}

fn summary(ip: &str, status: SmtpStatus, note: Option<&str>) -> AddressSummary {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    AddressSummary {
        ip,
        scope: mailcheck::facts::AddressScope::of(ip),
        ptr: Vec::new(),
        fcrdns: None,
        smtp: mailcheck::report::SmtpSummary {
            status,
            banner: None,
            starttls: None,
            tls_version: None,
            cert_ok: None,
            last_reply: None,
            note: note.map(str::to_owned),
        },
        dnsbl: Vec::new(),
    }
}

fn report_with(findings: Vec<Finding>, addresses: Vec<AddressSummary>) -> Report {
    let mut report = Report::invalid("example.test", "");
    "example.test".clone_into(&mut report.domain);
    report.error = None;
    report.verdict = Verdict::Degraded;
    report.findings = findings;
    report.mx = vec![MxSummary {
        host: "mx.example.test".to_owned(),
        preference: 10,
        implicit: false,
        addresses,
    }];
    report
}

#[test]
fn findings_about_this_machine_come_last_and_are_labelled() {
    let report = report_with(
        vec![
            Finding::new(
                Code::DnsblUnavailable,
                THIS_MACHINE,
                "zen refused our resolver",
            )
            .advice("Use your own resolver."),
            Finding::new(Code::ProbeListed, THIS_MACHINE, "our address is listed"),
            Finding::new(Code::RdnsMissing, "192.0.2.10", "no PTR"),
            Finding::new(
                Code::MxNotAllChecked,
                "example.test",
                "more MX than the cap",
            ),
        ],
        vec![summary("192.0.2.10", SmtpStatus::Accepted, None)],
    );
    let r = render_report(&report, &RenderContext::default());
    let names: Vec<&str> = r.embed.fields.iter().map(|f| f.name.as_str()).collect();
    assert!(names[0].starts_with("🟠 Warning: no PTR"), "{names:#?}");
    assert!(names[1].starts_with("MX 10 mx.example.test"), "{names:#?}");
    assert!(names[2].starts_with("ℹ️ Note: more MX"), "{names:#?}");
    for (i, summary) in [
        (3, "zen refused our resolver"),
        (4, "our address is listed"),
    ] {
        assert_eq!(
            names[i],
            format!("🖥️ Could not check ({THIS_MACHINE_LABEL}): {summary}"),
            "{names:#?}"
        );
        let value = &r.embed.fields[i].value;
        assert!(
            value.contains("the bot's own host (this machine), not the checked domain"),
            "{value}"
        );
    }
    assert!(
        r.embed.fields[3]
            .value
            .contains("**Fix (for the bot's operator):** Use your own resolver.")
    );
    // Counted apart: one problem of the domain, one note, two notes about us.
    let d = &r.embed.description;
    assert!(
        d.contains("**1 problem to fix**")
            && d.contains("· 1 note(s) ·")
            && d.contains("2 note(s) about the bot's own host"),
        "{d}"
    );
    assert!(!d.contains("cannot reach port 25"), "{d}");
    // The attachment lists them after the domain's findings too.
    let file = String::from_utf8(r.file).unwrap();
    let pos = |needle: &str| file.find(needle).unwrap();
    assert!(
        pos("rdns.missing") < pos("probe.listed this machine"),
        "{file}"
    );
    assert!(pos("mx.not_all_checked") < pos("dnsbl.unavailable this machine"));
}

#[test]
fn address_lines_do_not_blame_the_target_for_what_is_about_us() {
    let report = report_with(
        vec![
            Finding::new(Code::SmtpProbeBlocked, "192.0.2.10", "refused us"),
            Finding::new(Code::SmtpGreylisted, "192.0.2.11", "greylisted"),
            Finding::new(Code::SmtpNoPostmaster, "192.0.2.12", "no postmaster"),
            Finding::new(Code::SmtpIncomplete, "192.0.2.14", "stopped early"),
        ],
        vec![
            summary("192.0.2.10", SmtpStatus::Rejected, None),
            summary("192.0.2.11", SmtpStatus::Tempfail, None),
            summary("192.0.2.12", SmtpStatus::Rejected, None),
            summary("192.0.2.13", SmtpStatus::Rejected, None),
            summary("192.0.2.14", SmtpStatus::Greeted, None),
        ],
    );
    let text = |i: usize| address_status_text(&report.mx[0].addresses[i], &report);
    assert!(text(0).contains("refuses the bot itself"), "{}", text(0));
    assert!(!text(0).contains("refuses mail for the domain"));
    assert!(text(1).contains("greylists"), "{}", text(1));
    assert!(
        text(2).contains("postmaster@ does not exist"),
        "{}",
        text(2)
    );
    // No finding pins it on anyone else: the plain status stands.
    assert_eq!(text(3), smtp_status_text(SmtpStatus::Rejected));
    assert!(
        text(4).contains("stopped before the recipient"),
        "{}",
        text(4)
    );
}

#[test]
fn advice_about_the_bots_host_names_the_bot_settings_to_change() {
    let mut report = Report::invalid("example.com", "x");
    report.verdict = Verdict::Inconclusive;
    report.error = None;
    report.findings = vec![
        Finding::new(
            Code::ProbeIdentity,
            THIS_MACHINE,
            "our EHLO name does not resolve",
        )
        .evidence("EHLO probe.local")
        .advice("Give the prober an EHLO name that resolves to its public address."),
    ];
    let r = render_report(&report, &RenderContext::default());
    let text = serde_json::to_string(&r.embed_json()).unwrap();
    assert!(
        text.contains("(bot settings: `helo_name`, `mail_from`)"),
        "{text}"
    );
}

#[test]
fn a_blocked_port_25_here_shows_in_every_answers_footer() {
    let report = Report::invalid("example.com", "x");
    let plain = render_report(&report, &RenderContext::default());
    assert!(!plain.embed.footer.contains("port 25"));
    let ctx = RenderContext {
        host_note: Some(crate::vantage::FOOTER_PORT25_BLOCKED.to_owned()),
        ..RenderContext::default()
    };
    let noted = render_report(&report, &ctx);
    assert!(
        noted
            .embed
            .footer
            .starts_with("⚠ the bot's host cannot reach port 25"),
        "{}",
        noted.embed.footer
    );
}

#[test]
fn buttons_carry_the_answer_id_and_parse_back() {
    for action in [
        ButtonAction::Recheck,
        ButtonAction::Transcript,
        ButtonAction::Explain,
    ] {
        let id = action.custom_id(77);
        assert!(id.len() <= 100, "Discord's custom_id limit");
        assert_eq!(ButtonAction::parse(&id), Some((action, 77)));
    }
    assert_eq!(ButtonAction::parse("mailcheck:recheck:x"), None);
    assert_eq!(ButtonAction::parse("other:recheck:1"), None);
    assert_eq!(answer_buttons(1).len(), 1);
}

#[test]
fn untested_addresses_say_why() {
    let report = report_with(
        Vec::new(),
        vec![
            summary(
                "93.184.216.20",
                SmtpStatus::Skipped,
                Some("not checked: MX host mx11.example.test over the cap of 10 hosts"),
            ),
            summary(
                "10.0.0.1",
                SmtpStatus::Skipped,
                Some("private address: not probed (only allowed for labs and internal audits)"),
            ),
        ],
    );
    let r = render_report(&report, &RenderContext::default());
    let value = &r.embed.fields[0].value;
    assert!(
        value.contains("port 25: not tested · not checked: MX host mx11.example.test over the cap"),
        "{value}"
    );
    assert!(
        value.contains("a private address (not shown; not tested from chat)"),
        "{value}"
    );
    assert!(!value.contains("only allowed for labs"), "{value}");
}

#[test]
fn idn_domains_show_both_forms() {
    assert_eq!(
        display_domain("xn--bcher-kva.example"),
        "bücher.example (xn--bcher-kva.example)"
    );
    assert_eq!(display_domain("example.com"), "example.com");
}
