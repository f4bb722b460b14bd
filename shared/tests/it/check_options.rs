//! What keeps a long-lived checker (the bot) polite and honest: the per-address budget, the
//! global connection cap, a fresh look ("I fixed it, check again") and a deadline that still
//! gives a report of what was checked so far.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::common::{MX, ip, smtp_config, unused_port};
use hickory_resolver::proto::rr::rdata::A;
use mailcheck::config::{ResolverChoice, SmtpConfig};
use mailcheck::facts::ConnectOutcome;
use mailcheck::finding::Code;
use mailcheck::probe::smtp::SmtpProber;
use mailcheck::{CheckConfig, CheckOptions, Checker, DomainName, Verdict};
use mailcheck_testkit::dns::{DnsServer, RData};
use mailcheck_testkit::smtp::{Command, SmtpServer};

fn budget_config(port: u16, reuse_idle: Duration) -> SmtpConfig {
    SmtpConfig {
        address_budget: Duration::from_secs(600),
        reuse_idle,
        ..smtp_config(port)
    }
}

#[tokio::test]
async fn within_the_budget_a_second_domain_opens_no_new_connection() {
    let server = SmtpServer::builder().build().await;
    // No idle session to reuse: the second domain gets the first connection's facts.
    let prober = SmtpProber::new(&budget_config(server.addr().port(), Duration::ZERO)).unwrap();
    let first = prober.probe(ip(&server), MX, "one.example").await;
    assert!(first.accepted_postmaster());
    let second = prober.probe(ip(&server), MX, "two.example").await;
    assert_eq!(
        server.connections(),
        1,
        "no new connection within the budget"
    );
    assert_eq!(second.rcpt_domain, "two.example");
    assert!(second.rcpt.is_none() && second.mail.is_none(), "{second:?}");
    assert_eq!(second.greeting, first.greeting);
    let text = second.transcript_text();
    assert!(text.contains("per-address budget"), "{text}");
    assert!(
        text.contains("RCPT TO for this domain was not sent"),
        "{text}"
    );
    assert!(!text.contains("one.example"), "{text}");

    // Forgetting the address lifts the budget.
    prober.forget(ip(&server)).await;
    let third = prober.probe(ip(&server), MX, "three.example").await;
    assert!(third.accepted_postmaster());
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn within_the_budget_an_open_session_serves_the_next_domain() {
    let server = SmtpServer::builder().build().await;
    let prober = SmtpProber::new(&budget_config(
        server.addr().port(),
        Duration::from_secs(60),
    ))
    .unwrap();
    assert!(
        prober
            .probe(ip(&server), MX, "one.example")
            .await
            .accepted_postmaster()
    );
    let second = prober.probe(ip(&server), MX, "two.example").await;
    assert!(second.accepted_postmaster(), "{second:?}");
    assert!(second.reused_session);
    assert_eq!(server.connections(), 1);
    prober.close_all().await;
}

#[tokio::test]
async fn without_a_budget_each_domain_may_connect() {
    let server = SmtpServer::builder().build().await;
    let cfg = SmtpConfig {
        reuse_idle: Duration::ZERO,
        ..smtp_config(server.addr().port())
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    for d in ["one.example", "two.example"] {
        assert!(prober.probe(ip(&server), MX, d).await.accepted_postmaster());
    }
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn the_global_cap_ends_an_idle_session_before_opening_another() {
    let a = SmtpServer::builder().build().await;
    let port = a.addr().port();
    let b = SmtpServer::builder()
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            port,
        ))
        .build()
        .await;
    let cfg = |cap| SmtpConfig {
        max_connections: cap,
        reuse_idle: Duration::from_secs(60),
        ..smtp_config(port)
    };

    // Capped at one: B's connection needs A's idle session's place.
    let prober = SmtpProber::new(&cfg(1)).unwrap();
    assert!(
        prober
            .probe(ip(&a), MX, "a.example")
            .await
            .accepted_postmaster()
    );
    assert!(
        prober
            .probe(ip(&b), MX, "b.example")
            .await
            .accepted_postmaster()
    );
    a.wait_for_closed(1).await;
    assert_eq!(a.command_count(Command::Quit), 1);
    assert_eq!(prober.idle_sessions().await, 1);
    prober.close_all().await;

    // Not capped: both stay open.
    let prober = SmtpProber::new(&cfg(0)).unwrap();
    prober.probe(ip(&a), MX, "a.example").await;
    prober.probe(ip(&b), MX, "b.example").await;
    assert_eq!(prober.idle_sessions().await, 2);
    prober.close_all().await;
}

#[tokio::test]
async fn forget_lifts_a_remembered_refusal() {
    let port = unused_port();
    let prober = SmtpProber::new(&smtp_config(port)).unwrap();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let first = prober.probe(lo, MX, "one.example").await;
    assert_eq!(first.connect, ConnectOutcome::Refused);
    let server = SmtpServer::builder()
        .bind(SocketAddr::new(lo, port))
        .build()
        .await;
    // Remembered for the run: no new connection.
    let again = prober.probe(lo, MX, "one.example").await;
    assert_eq!(again.connect, ConnectOutcome::Refused);
    assert_eq!(server.connections(), 0);
    // "Check again": a new connection.
    prober.forget(lo).await;
    let fresh = prober.probe(lo, MX, "one.example").await;
    assert!(fresh.accepted_postmaster(), "{fresh:?}");
    assert_eq!(server.connections(), 1);
}

/// A checker for `dns`, SMTP on `port`, nothing else (no blocklists, no authentication checks,
/// no egress canaries).
fn checker(dns: &DnsServer, port: u16) -> Checker {
    let mut c = CheckConfig::default().allow_private(true);
    c.dns.resolver = ResolverChoice::Servers(vec![dns.addr()]);
    c.dns.timeout = Duration::from_secs(2);
    c.dnsbl.enabled = false;
    c.auth.enabled = false;
    c.egress.enabled = false;
    c.smtp = SmtpConfig {
        greeting_timeout: Duration::from_secs(60),
        ..smtp_config(port)
    };
    Checker::new(c).unwrap()
}

#[tokio::test]
async fn a_fresh_check_sees_a_fix_the_cached_one_does_not() {
    let port = unused_port();
    let dns = DnsServer::builder()
        .zone("fix.test")
        .mx("fix.test", 10, "mx.fix.test")
        .a("mx.fix.test", Ipv4Addr::new(127, 0, 0, 3))
        .build()
        .await;
    let checker = checker(&dns, port);
    let before = checker.check_input("fix.test").await;
    assert_eq!(before.verdict, Verdict::Broken, "{:?}", before.findings);
    assert!(before.findings.iter().any(|f| f.code == Code::SmtpRefused));

    // The admin moves the MX host to a server that works.
    let server = SmtpServer::builder()
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)),
            port,
        ))
        .build()
        .await;
    dns.set("mx.fix.test", 300, RData::A(A(Ipv4Addr::new(127, 0, 0, 4))))
        .await
        .unwrap();
    let cached = checker.check_input("fix.test").await;
    assert_eq!(
        cached.verdict,
        Verdict::Broken,
        "the run's memo still answers"
    );
    assert_eq!(server.connections(), 0);

    let fresh = checker
        .check_with(
            &DomainName::parse("fix.test").unwrap(),
            CheckOptions {
                fresh: true,
                ..CheckOptions::default()
            },
            &|_| {},
        )
        .await;
    // Degraded only by what a bare test server lacks (PTR, STARTTLS, a resolvable banner).
    assert_eq!(fresh.verdict, Verdict::Degraded, "{:?}", fresh.findings);
    assert!(!fresh.findings.iter().any(|f| f.code == Code::SmtpRefused));
    assert_eq!(server.connections(), 1);
    assert!(fresh.partial.is_none());
    checker.shutdown().await;
}

#[tokio::test]
async fn at_the_deadline_the_report_shows_what_was_checked_so_far() {
    let server = SmtpServer::builder()
        .greeting_delay(Duration::from_secs(30))
        .build()
        .await;
    let dns = DnsServer::builder()
        .zone("slow.test")
        .mx("slow.test", 10, "mx.slow.test")
        .a("mx.slow.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let checker = checker(&dns, server.addr().port());
    let options = CheckOptions {
        deadline: Some(Duration::from_millis(300)),
        ..CheckOptions::default()
    };
    let report = checker
        .check_with(&DomainName::parse("slow.test").unwrap(), options, &|_| {})
        .await;
    let partial = report.partial.as_deref().expect("marked partial");
    assert!(partial.contains("SMTP conversation"), "{partial}");
    assert_eq!(
        report.verdict,
        Verdict::Inconclusive,
        "{:?}",
        report.findings
    );
    let incomplete = report
        .findings
        .iter()
        .find(|f| f.code == Code::SmtpIncomplete)
        .expect("smtp.incomplete");
    assert_eq!(incomplete.subject, "127.0.0.1");
    assert!(incomplete.evidence.iter().any(|e| e.contains("deadline")));
    // What was checked is there: the MX host and its address.
    assert_eq!(report.mx.len(), 1);
    assert_eq!(
        report.mx[0].addresses[0].smtp.status,
        mailcheck::report::SmtpStatus::Unfinished
    );

    // Without a deadline nothing is marked partial (the healthy counter-case).
    let dns_ok = DnsServer::builder()
        .zone("fine.test")
        .mx("fine.test", 10, "mx.fine.test")
        .a("mx.fine.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let fine = SmtpServer::builder().build().await;
    let checker = self::checker(&dns_ok, fine.addr().port());
    let report = checker
        .check_with(
            &DomainName::parse("fine.test").unwrap(),
            CheckOptions {
                deadline: Some(Duration::from_secs(30)),
                ..CheckOptions::default()
            },
            &|_| {},
        )
        .await;
    assert!(report.partial.is_none());
    assert_eq!(report.verdict, Verdict::Degraded, "{:?}", report.findings);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.code == Code::SmtpIncomplete)
    );
    checker.shutdown().await;
}

#[tokio::test]
async fn three_hundred_mx_names_probe_only_the_caps_and_say_what_was_skipped() {
    let server = SmtpServer::builder().build().await;
    let mut b = DnsServer::builder().zone("many.test");
    for i in 0..300u16 {
        let host = format!("mx{i}.many.test");
        b = b.mx("many.test", 10 + i, &host);
        // Every name on its own address; the first one is the only server.
        let [hi, lo] = i.to_be_bytes();
        let ip = if i == 0 {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::new(127, 1 + hi, lo, 1)
        };
        b = b.a(&host, ip);
    }
    let dns = b.build().await;
    let checker = checker(&dns, server.addr().port());
    let report = checker.check_input("many.test").await;
    let facts = report.facts.as_ref().unwrap();
    let probed = facts.addresses().filter(|(_, a)| a.smtp.is_some()).count();
    let skipped = facts
        .addresses()
        .filter(|(_, a)| {
            a.smtp_skipped
                .as_deref()
                .is_some_and(|s| s.starts_with("not checked"))
        })
        .count();
    assert_eq!(probed, 10, "the default cap of 10 hosts");
    assert_eq!(skipped, facts.addresses().count() - 10);
    assert!(skipped >= 290);
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == Code::MxNotAllChecked)
        .expect("mx.not_all_checked");
    assert!(
        finding
            .evidence
            .iter()
            .any(|e| e.contains("mx299.many.test")),
        "the skipped names are listed: {:?}",
        finding.evidence
    );
    assert_eq!(server.connections(), 1);

    // Tighter caps from the configuration.
    let mut config = checker.config().clone();
    config.fan_out.max_hosts = 3;
    let tight = Checker::new(config).unwrap();
    let report = tight.check_input("many.test").await;
    let facts = report.facts.as_ref().unwrap();
    assert_eq!(
        facts.addresses().filter(|(_, a)| a.smtp.is_some()).count(),
        3
    );

    // A domain within the caps: nothing skipped, no finding.
    let small = DnsServer::builder()
        .zone("few.test")
        .mx("few.test", 10, "mx.few.test")
        .a("mx.few.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let report = self::checker(&small, server.addr().port())
        .check_input("few.test")
        .await;
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.code == Code::MxNotAllChecked)
    );
}

#[tokio::test]
async fn the_budget_never_holds_back_the_retry_of_a_transient_outcome() {
    let server = SmtpServer::builder()
        .reply(
            Command::Rcpt,
            "450 4.2.0 <postmaster@one.example>: Recipient address rejected: Greylisted",
        )
        .build()
        .await;
    let cfg = SmtpConfig {
        retry_backoff: Duration::from_millis(10),
        ..budget_config(server.addr().port(), Duration::ZERO)
    };
    let prober = SmtpProber::new(&cfg).unwrap();
    let facts = prober.probe(ip(&server), MX, "one.example").await;
    assert_eq!(facts.retried.len(), 1, "{facts:?}");
    assert_eq!(server.connections(), 2, "the retry reconnected");
    assert_eq!(
        facts.rcpt.as_ref().and_then(|r| r.reply()).map(|r| r.code),
        Some(450)
    );
}
