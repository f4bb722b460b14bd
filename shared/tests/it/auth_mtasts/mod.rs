//! MTA-STS end to end: the test kit's DNS server publishes `_mta-sts` TXT records and points
//! `mta-sts.<domain>` at loopback, where the test kit's HTTPS server serves the policies; the
//! whole check runs (SMTP off unless the test needs it) and the `mtasts.*` findings are read
//! from the report.
//!
//! This file holds the helpers and the policies that work or are judged; `failures.rs` the
//! fetches that fail (certificates, HTTP, the policy text, a private, silent or closed host).

mod failures;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mailcheck::auth::mtasts::{FetchErrorKind, MtaStsFacts, StsMode};
use mailcheck::{CheckConfig, Checker, Code, Finding, Report, Severity};
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::dns::{DnsServer, DnsServerBuilder};
use mailcheck_testkit::https::{HttpResponse, HttpsServer, MTA_STS_PATH};
use mailcheck_testkit::smtp::SmtpServer;

/// What a broken policy case must show: a fetch failure of this kind, or a parse error
/// containing this text.
#[derive(Debug)]
enum Want {
    Fetch(FetchErrorKind),
    Parse(&'static str),
}
use Want::{Fetch, Parse};

const RECORD: &str = "v=STSv1; id=20250101";

fn policy(mode: &str, mx: &[&str]) -> String {
    let mut t = format!("version: STSv1\r\nmode: {mode}\r\n");
    for p in mx {
        t.push_str(&format!("mx: {p}\r\n"));
    }
    t.push_str("max_age: 604800\r\n");
    t
}

/// `domain` with MX `mx.<domain>` (at 127.0.0.1), the `_mta-sts` record, and
/// `mta-sts.<domain>` at `https_ip`.
fn sts_domain(b: DnsServerBuilder, domain: &str, https_ip: Ipv4Addr) -> DnsServerBuilder {
    b.mx(domain, 10, &format!("mx.{domain}"))
        .a(&format!("mx.{domain}"), Ipv4Addr::LOCALHOST)
        .txt(&format!("_mta-sts.{domain}"), RECORD)
        .a(&format!("mta-sts.{domain}"), https_ip)
}

fn config(dns: &DnsServer, https_port: u16, ca: &TestCa) -> CheckConfig {
    let mut c = CheckConfig::default().allow_private(true);
    c.dns = crate::common::dns_config(dns.addr(), crate::common::DNS_TIMEOUT);
    c.smtp.enabled = false;
    c.dnsbl.enabled = false;
    c.egress.enabled = false;
    c.auth.mta_sts_port = https_port;
    c.auth.https_timeout = Duration::from_secs(5);
    c.smtp.extra_ca_pem = vec![ca.ca_pem()];
    c
}

fn checker(c: CheckConfig, dns: &DnsServer) -> Checker {
    Checker::with_dns(c, crate::common::dns(dns), "test kit").expect("config")
}

/// The findings about MTA-STS: `mtasts.*`, and lookups of its names that failed.
fn sts_findings(r: &Report) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| {
            f.code.as_str().starts_with("mtasts.")
                || (f.code == Code::DnsLookupFailed && f.subject.contains("mta-sts"))
        })
        .collect()
}

fn codes(r: &Report) -> Vec<(Code, Severity)> {
    sts_findings(r)
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

fn facts(r: &Report) -> &MtaStsFacts {
    r.facts
        .as_ref()
        .and_then(|f| f.auth.as_ref())
        .and_then(|a| a.mta_sts.as_ref())
        .expect("MTA-STS facts")
}

fn explain(r: &Report) -> String {
    format!(
        "{}\n{}",
        serde_json::to_string_pretty(&r.findings).unwrap(),
        serde_json::to_string_pretty(&r.facts.as_ref().and_then(|f| f.auth.as_ref())).unwrap()
    )
}

#[tokio::test]
async fn a_good_enforced_policy_says_nothing() {
    let ca = TestCa::new();
    let ip = Ipv4Addr::new(127, 0, 0, 7);
    let https = HttpsServer::builder()
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .cert(&ca.leaf(&["mta-sts.good.test"]))
        .mta_sts_policy(
            "good.test",
            HttpResponse::text(&policy("enforce", &["*.good.test"]))
                .header("Cache-Control", "max-age=60"),
        )
        .build()
        .await;
    let dns = sts_domain(DnsServer::builder(), "good.test", ip)
        .build()
        .await;
    let checker = checker(config(&dns, https.addr().port(), &ca), &dns);
    let r = checker.check_input("good.test").await;
    assert_eq!(codes(&r), vec![], "{}", explain(&r));
    let m = facts(&r);
    assert_eq!(m.record.as_ref().unwrap().as_ref().unwrap().id, "20250101");
    let fetch = m.fetch.as_ref().unwrap();
    assert_eq!(
        fetch.url,
        "https://mta-sts.good.test/.well-known/mta-sts.txt"
    );
    assert_eq!(fetch.status, Some(200));
    assert_eq!(fetch.peer, Some(https.addr()));
    assert_eq!(fetch.error, None);
    let p = m.policy_in_force().unwrap();
    assert_eq!(p.mode, StsMode::Enforce);
    assert_eq!(m.mx[0].host, "mx.good.test");
    assert_eq!(m.mx[0].pattern.as_deref(), Some("*.good.test"));
    let seen = https.requests();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].sni.as_deref(), Some("mta-sts.good.test"));
    assert_eq!(seen[0].host.as_deref(), Some("mta-sts.good.test"));
    assert_eq!(seen[0].path, MTA_STS_PATH);
    checker.shutdown().await;
}

#[tokio::test]
async fn an_mx_outside_the_patterns_is_an_error_in_enforce_and_a_warning_in_testing() {
    let ca = TestCa::new();
    // One server and one certificate for both domains, as a lab would do.
    let https = HttpsServer::builder()
        .cert(&ca.leaf(&["mta-sts.enforced.test", "mta-sts.trying.test"]))
        .mta_sts_policy(
            "enforced.test",
            HttpResponse::text(&policy("enforce", &["mx.elsewhere.test"])),
        )
        .mta_sts_policy(
            "trying.test",
            HttpResponse::text(&policy("testing", &["*.mx.trying.test"])),
        )
        .build()
        .await;
    let b = sts_domain(DnsServer::builder(), "enforced.test", Ipv4Addr::LOCALHOST);
    let dns = sts_domain(b, "trying.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let checker = checker(config(&dns, https.addr().port(), &ca), &dns);

    let r = checker.check_input("enforced.test").await;
    assert_eq!(
        codes(&r),
        vec![(Code::MtastsMxMismatch, Severity::Error)],
        "{}",
        explain(&r)
    );
    let f = sts_findings(&r)[0];
    assert_eq!(f.subject, "mx.enforced.test");
    assert!(
        f.evidence.iter().any(|e| e.contains("mx.elsewhere.test")),
        "{f:#?}"
    );
    assert_eq!(facts(&r).mx[0].pattern, None);

    let r = checker.check_input("trying.test").await;
    assert_eq!(
        codes(&r),
        vec![(Code::MtastsMxMismatch, Severity::Warning)],
        "{}",
        explain(&r)
    );
    checker.shutdown().await;
}

#[tokio::test]
async fn no_record_is_absent_and_a_failed_lookup_is_not() {
    let ca = TestCa::new();
    let https = HttpsServer::builder()
        .cert(&ca.leaf(&["mta-sts.nohost.test"]))
        .build()
        .await;
    let dns = DnsServer::builder()
        .mx("plain.test", 10, "mx.plain.test")
        .a("mx.plain.test", Ipv4Addr::LOCALHOST)
        // A wildcard SPF record answers at _mta-sts too: not an MTA-STS record.
        .mx("wild.test", 10, "mx.wild.test")
        .a("mx.wild.test", Ipv4Addr::LOCALHOST)
        .txt("*.wild.test", "v=spf1 -all")
        .mx("broken.test", 10, "mx.broken.test")
        .a("mx.broken.test", Ipv4Addr::LOCALHOST)
        .servfail("_mta-sts.broken.test")
        // The record is there, the policy host is not.
        .mx("nohost.test", 10, "mx.nohost.test")
        .a("mx.nohost.test", Ipv4Addr::LOCALHOST)
        .txt("_mta-sts.nohost.test", RECORD)
        // Two records: senders ignore both.
        .mx("two.test", 10, "mx.two.test")
        .a("mx.two.test", Ipv4Addr::LOCALHOST)
        .txt("_mta-sts.two.test", RECORD)
        .txt("_mta-sts.two.test", "v=STSv1; id=2")
        .a("mta-sts.two.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let checker = checker(config(&dns, https.addr().port(), &ca), &dns);

    for domain in ["plain.test", "wild.test"] {
        let r = checker.check_input(domain).await;
        assert_eq!(
            codes(&r),
            vec![(Code::MtastsAbsent, Severity::Info)],
            "{domain}: {}",
            explain(&r)
        );
    }

    let r = checker.check_input("broken.test").await;
    assert_eq!(
        codes(&r),
        vec![(Code::DnsLookupFailed, Severity::Inconclusive)],
        "{}",
        explain(&r)
    );
    assert_eq!(sts_findings(&r)[0].subject, "_mta-sts.broken.test");
    assert!(facts(&r).txt.is_failed());

    let r = checker.check_input("nohost.test").await;
    assert_eq!(
        codes(&r),
        vec![(Code::MtastsInvalid, Severity::Error)],
        "{}",
        explain(&r)
    );
    let error = facts(&r).fetch.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(error.kind, FetchErrorKind::NoAddress, "{error:?}");

    let r = checker.check_input("two.test").await;
    assert_eq!(
        codes(&r),
        vec![(Code::MtastsInvalid, Severity::Error)],
        "{}",
        explain(&r)
    );
    assert_eq!(facts(&r).fetch, None);
    assert!(https.requests().is_empty(), "{:#?}", https.requests());
    checker.shutdown().await;
}

#[tokio::test]
async fn enforce_makes_a_certificate_problem_of_a_covered_mx_an_error() {
    let ca = TestCa::new();
    let https = HttpsServer::builder()
        .cert(&ca.leaf(&["mta-sts.strict.test", "mta-sts.relaxed.test"]))
        .mta_sts_policy(
            "strict.test",
            HttpResponse::text(&policy("enforce", &["mx.strict.test"])),
        )
        .mta_sts_policy(
            "relaxed.test",
            HttpResponse::text(&policy("testing", &["mx.relaxed.test"])),
        )
        .build()
        .await;
    // Both MX hosts present a certificate for another name.
    let smtp = SmtpServer::builder()
        .hostname("mx.strict.test")
        .tls(ca.wrong_name(&["mail.other.test"]).server_config())
        .build()
        .await;
    let b = sts_domain(DnsServer::builder(), "strict.test", Ipv4Addr::LOCALHOST);
    let dns = sts_domain(b, "relaxed.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let mut c = config(&dns, https.addr().port(), &ca);
    c.smtp = crate::common::smtp_config(smtp.addr().port());
    c.smtp.extra_ca_pem = vec![ca.ca_pem()];
    let checker = checker(c, &dns);
    for (domain, severity) in [
        ("strict.test", Severity::Error),
        ("relaxed.test", Severity::Warning),
    ] {
        let r = checker.check_input(domain).await;
        let mismatch = r
            .findings
            .iter()
            .find(|f| f.code == Code::TlsCertNameMismatch)
            .unwrap_or_else(|| panic!("{domain}: {}", explain(&r)));
        assert_eq!(mismatch.severity, severity, "{domain}: {mismatch:#?}");
        assert_eq!(
            mismatch.evidence.iter().any(|e| e.contains("enforce mode")),
            severity == Severity::Error,
            "{mismatch:#?}"
        );
        assert_eq!(codes(&r), vec![], "{domain}: {}", explain(&r));
    }
    checker.shutdown().await;
}
