//! Tests of the HTML report: hostile text escaped everywhere, the strict policy, changes and
//! trend, filter buttons and sort keys, base64.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use mailcheck::facts::AddressScope;
use mailcheck::report::{AddressSummary, MxSummary, SmtpSummary};
use mailcheck::{Code, Finding, Report, Severity};

use super::assets::base64;
use super::*;
use crate::history::{Baseline, Past, compare};
use crate::input::Row;

const HOSTILE: &str =
    "220 mx <script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=1\"> ' ESMTP";

fn row(line: u64, input: &str) -> Row {
    Row {
        source: Arc::from("list.csv"),
        line,
        input: input.to_owned(),
        columns: vec![format!("Client <b>{line}</b>")],
        problem: None,
        origin: None,
    }
}

fn hostile_report() -> Report {
    let mut r = Report::invalid("hostile.test", "");
    r.error = None;
    r.domain = "hostile.test".to_owned();
    r.verdict = Verdict::Broken;
    r.worst = Some(Severity::Error);
    r.findings = vec![
        Finding::new(
            Code::SmtpRcptRejected,
            "127.0.0.77",
            "refused <img src=x onerror=alert(1)>",
        )
        .evidence(HOSTILE),
    ];
    r.mx = vec![MxSummary {
        host: "mx.hostile.test".to_owned(),
        preference: 10,
        implicit: false,
        addresses: vec![AddressSummary {
            ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77)),
            scope: AddressScope::Loopback,
            ptr: vec!["mx.hostile.test".to_owned()],
            fcrdns: Some(true),
            smtp: SmtpSummary {
                status: mailcheck::report::SmtpStatus::Rejected,
                banner: Some(HOSTILE.to_owned()),
                starttls: Some(false),
                tls_version: None,
                cert_ok: None,
                last_reply: None,
                note: None,
            },
            dnsbl: Vec::new(),
        }],
    }];
    r
}

/// The whole page as the sink assembles it, with `history` rows compared with `baseline`.
fn page(reports: &[(Row, Report)], baseline: Option<&Baseline>, history: bool) -> String {
    let render = HtmlRender {
        columns: vec!["client <i>".to_owned()],
        title: "Audit <of> \"clients\"".to_owned(),
        history,
    };
    let mut summary = Summary::default();
    let mut rows = String::new();
    let trend = [Past {
        run_id: "r0".to_owned(),
        started_at: 0,
        verdict: Verdict::Ok,
    }];
    for (row, report) in reports {
        let changes = history.then(|| compare(baseline, report));
        summary.add(report);
        if let Some(c) = &changes {
            summary.add_changes(&report.domain, report, c);
        }
        let chunk = render.row(Item {
            row,
            report,
            columns: &render.columns,
            changes: changes.as_ref(),
            run_id: history.then_some("r1"),
            trend: if history { &trend } else { &[] },
        });
        assert!(chunk.details.is_empty(), "details live under each row");
        rows.push_str(&chunk.body);
    }
    let Finish::Document { head, middle, tail } = render.finish(&summary) else {
        panic!("HTML is a document");
    };
    format!("{head}{rows}{middle}{tail}")
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let reports = [
        (row(2, "hostile.test"), hostile_report()),
        (
            row(3, "<svg onload=alert(1)>"),
            Report::invalid("<svg onload=alert(1)>", "not a domain: <b>"),
        ),
    ];
    let p = page(&reports, None, false);
    assert!(
        p.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{p}"
    );
    assert!(p.contains("&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;"));
    assert!(p.contains("&lt;svg onload=alert(1)&gt;"));
    assert!(p.contains("Client &lt;b&gt;2&lt;/b&gt;") && p.contains("client &lt;i&gt;"));
    assert!(p.contains("<title>Audit &lt;of&gt; &quot;clients&quot;</title>"));
    for bad in ["<img", "<svg", "Client <b>", "client <i>", "onerror=\""] {
        assert!(!p.contains(bad), "{bad} unescaped");
    }
    assert_eq!(p.matches("<script>").count(), 1, "only our own script");
    // The search text and codes go into attributes: quotes are escaped there too.
    assert!(p.contains("data-verdict=\"broken\" data-codes=\"smtp.rcpt_rejected\""));
    assert!(p.contains(
        "data-text=\"hostile.test hostile.test client &lt;b&gt;2&lt;/b&gt; mx.hostile.test\""
    ));
}

#[test]
fn self_contained_with_a_strict_policy() {
    let p = page(&[(row(2, "hostile.test"), hostile_report())], None, false);
    let csp = content_security_policy();
    assert!(p.contains(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
    )));
    assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
    assert!(!csp.contains("unsafe"), "{csp}");
    // The hashes are those of the very style and script on the page.
    assert!(p.contains(&format!("<style>{STYLE}</style>")));
    assert!(p.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(
        !p.contains(" style=\""),
        "inline style attributes would be blocked"
    );
    // Nothing to fetch: no URL with a scheme at all, no external resource attributes.
    assert!(!p.contains("http://") && !p.contains("https://"), "{p}");
    assert!(!p.contains("src=\"") && !p.contains("<link") && !p.contains("url("));
    assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
    // Works without the script: controls hidden, domains in <details>; printable.
    assert!(p.contains("<div id=\"controls\" class=\"controls\" hidden>"));
    assert!(p.contains("<details><summary>Details: mail hosts"));
    assert!(STYLE.contains("@media print"));
    assert!(!p.contains("<th scope=\"col\"><button type=\"button\" class=\"sort\">Change"));
    assert!(!p.contains("class=\"trend\""), "no history, no trend");
}

#[test]
fn changes_come_first_and_rows_carry_change_and_trend() {
    let before = Baseline {
        run_id: "r0".to_owned(),
        started_at: 0,
        verdict: Verdict::Ok,
        findings: Vec::new(),
    };
    let p = page(
        &[(row(2, "hostile.test"), hostile_report())],
        Some(&before),
        true,
    );
    let changes = p.find("<section id=\"changes\">").expect("changes section");
    let summary = p.find("<section id=\"summary\">").unwrap();
    let table = p.find("<table id=\"domains\"").unwrap();
    assert!(changes < summary && summary < table, "changes on top");
    assert!(p.contains("<li class=\"ch-worse\"><b>worse</b> hostile.test: ok → broken"));
    assert!(p.contains("<td class=\"ch-worse\" data-sort=\"0\">worse</td>"));
    assert!(p.contains("<td class=\"trend\"><i class=\"ok\" title=\""));
    assert!(p.contains("<span class=\"sr\">ok → broken</span>"));
    // Pass-through column + 7 = every cell of the row.
    assert!(p.contains("<td colspan=\"8\">"));
}

#[test]
fn filter_buttons_and_sort_keys() {
    let mut ok = hostile_report();
    ok.domain = "fine.test".to_owned();
    ok.verdict = Verdict::Ok;
    ok.worst = None;
    ok.findings.clear();
    let p = page(
        &[
            (row(2, "hostile.test"), hostile_report()),
            (row(3, "fine.test"), ok),
        ],
        None,
        false,
    );
    assert!(p.contains(
        "data-filter=\"verdict\" data-value=\"broken\" aria-pressed=\"false\" \
                        class=\"broken\">broken <span class=\"n\">1</span>"
    ));
    assert!(p.contains("data-filter=\"code\" data-value=\"smtp.rcpt_rejected\""));
    assert!(p.contains("<td class=\"v broken\" data-sort=\"1\">broken</td>"));
    assert!(p.contains("<td class=\"v ok\" data-sort=\"5\">ok</td>"));
    assert_eq!(
        p.matches("<tbody id=\"r").count(),
        2,
        "one tbody per domain"
    );
}

#[test]
fn base64_matches_the_standard() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
