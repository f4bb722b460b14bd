//! DMARC discovery (RFC 7489 §6.6.3, the organizational domain by the Public Suffix List), report
//! authorization (§7.1), TLS-RPT (RFC 8460) and the SPF checks of the MX addresses, collected
//! against the in-process authoritative server.

use std::net::{IpAddr, Ipv4Addr};

use crate::common::resolver;
use mailcheck::auth::dmarc::{DmarcPolicy, organizational_domain};
use mailcheck::auth::{AuthContext, AuthFacts, collect};
use mailcheck::config::AuthConfig;
use mailcheck::facts::Lookup;
use mailcheck::spf::SpfResult;
use mailcheck_testkit::dns::{DnsServer, RecordType};

async fn run(server: &DnsServer, domain: &str, mx_ips: &[IpAddr]) -> AuthFacts {
    let dns = resolver(server);
    let config = AuthConfig::default();
    let mx_hosts = vec![format!("mx.{domain}")];
    let ctx = AuthContext {
        dns: &dns,
        config: &config,
        allow_private: false,
        domain,
        mx_hosts: &mx_hosts,
        mx_ips,
        mta_sts: None,
        dnssec: None,
    };
    collect(&ctx).await
}

#[tokio::test]
async fn a_subdomain_falls_back_to_its_organizational_domain() {
    let server = DnsServer::builder()
        .zone("uk")
        .txt(
            "_dmarc.example.co.uk",
            "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.co.uk",
        )
        // A record at an intermediate name is not looked at (RFC 7489 goes straight to the
        // organizational domain).
        .txt("_dmarc.b.example.co.uk", "v=DMARC1; p=none")
        .txt("a.b.example.co.uk", "v=spf1 -all")
        .build()
        .await;
    assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
    let auth = run(&server, "a.b.example.co.uk", &[]).await;
    let dmarc = auth.dmarc.as_ref().unwrap();
    assert_eq!(dmarc.organizational_domain, "example.co.uk");
    assert_eq!(dmarc.lookups.len(), 2);
    assert_eq!(dmarc.lookups[0].name, "_dmarc.a.b.example.co.uk");
    assert_eq!(dmarc.lookups[0].lookup, Lookup::NxDomain);
    assert_eq!(dmarc.lookups[1].name, "_dmarc.example.co.uk");
    let found = dmarc.policy_lookup().unwrap();
    assert_eq!(found.domain, "example.co.uk");
    let record = dmarc.record().unwrap();
    assert_eq!(
        record.policy_for(&dmarc.domain, &found.domain),
        DmarcPolicy::Quarantine
    );
    // Same organizational domain: no authorization needed.
    assert!(dmarc.report_authorizations.is_empty());
    assert_eq!(server.queries_for("_dmarc.b.example.co.uk"), 0);
}

#[tokio::test]
async fn reports_to_other_domains_are_checked() {
    let server = DnsServer::builder()
        .zone("example.net")
        .zone("example.org")
        .txt(
            "_dmarc.example.test",
            "v=DMARC1; p=none; rua=mailto:d@example.test,mailto:agg@reports.example.net; \
             ruf=mailto:f@reports.example.net,mailto:x@example.org",
        )
        .txt(
            "example.test._report._dmarc.reports.example.net",
            "v=DMARC1",
        )
        .txt("example.org", "v=spf1 -all")
        .build()
        .await;
    let auth = run(&server, "example.test", &[]).await;
    let dmarc = auth.dmarc.as_ref().unwrap();
    assert_eq!(
        dmarc.lookups.len(),
        1,
        "the domain is its own organizational domain"
    );
    assert_eq!(dmarc.record().unwrap().policy, DmarcPolicy::None);
    let got: Vec<(&str, Vec<String>, Option<bool>)> = dmarc
        .report_authorizations
        .iter()
        .map(|a| (a.destination.as_str(), a.uris.clone(), a.authorized))
        .collect();
    assert_eq!(
        got,
        [
            (
                "reports.example.net",
                vec![
                    "rua=mailto:agg@reports.example.net".to_owned(),
                    "ruf=mailto:f@reports.example.net".to_owned()
                ],
                Some(true)
            ),
            (
                "example.org",
                vec!["ruf=mailto:x@example.org".to_owned()],
                Some(false)
            ),
        ]
    );
    assert_eq!(
        dmarc.report_authorizations[1].name,
        "example.test._report._dmarc.example.org"
    );
    assert_eq!(dmarc.report_authorizations[1].lookup, Lookup::NxDomain);
    // One query per destination, however many addresses go there.
    assert_eq!(
        server.queries_for("example.test._report._dmarc.reports.example.net"),
        1
    );
}

#[tokio::test]
async fn failures_are_told_apart_from_absence() {
    let server = DnsServer::builder()
        .servfail("_dmarc.mail.example.test")
        .txt("_dmarc.example.test", "v=DMARC1; p=reject")
        .txt("_dmarc.broken.test", "v=DMARC1; p=reject")
        .txt("_dmarc.broken.test", "v=DMARC1; p=none")
        .txt("_smtp._tls.broken.test", "v=TLSRPTv1; rua=tls@broken.test")
        .build()
        .await;
    // A failed lookup is not "no record": receivers would not go on to the organizational
    // domain, and neither do we.
    let auth = run(&server, "mail.example.test", &[]).await;
    let dmarc = auth.dmarc.as_ref().unwrap();
    assert_eq!(dmarc.lookups.len(), 1);
    assert!(dmarc.lookups[0].lookup.is_failed());
    assert!(dmarc.policy_lookup().is_none());
    assert_eq!(server.queries_for("_dmarc.example.test"), 0);
    let rpt = auth.tls_rpt.as_ref().unwrap();
    assert_eq!(rpt.name, "_smtp._tls.mail.example.test");
    assert_eq!(rpt.lookup, Some(Lookup::NxDomain));

    // Two records: found, but no policy; a malformed TLS-RPT record says where.
    let auth = run(&server, "broken.test", &[]).await;
    let dmarc = auth.dmarc.as_ref().unwrap();
    assert_eq!(dmarc.lookups[0].records.len(), 2);
    assert!(dmarc.record().is_none());
    let rpt = auth.tls_rpt.as_ref().unwrap();
    assert!(rpt.record.is_none());
    assert_eq!(rpt.error.as_ref().unwrap().field, "rua=tls@broken.test");
}

#[tokio::test]
async fn tls_rpt_and_the_spf_checks_of_the_mx_addresses() {
    let mx_ip = Ipv4Addr::new(192, 0, 2, 10);
    let other_ip = Ipv4Addr::new(192, 0, 2, 77);
    let server = DnsServer::builder()
        .mx("example.test", 10, "mx.example.test")
        .a("mx.example.test", mx_ip)
        .txt("example.test", "v=spf1 mx include:_spf.example.test -all")
        .txt("_spf.example.test", "v=spf1 ip4:192.0.2.77 -all")
        .txt("_dmarc.example.test", "v=DMARC1; p=reject")
        .txt(
            "_smtp._tls.example.test",
            "v=TLSRPTv1; rua=mailto:tls@example.test,https://reports.example.test/tls",
        )
        .build()
        .await;
    let auth = run(
        &server,
        "example.test",
        &[IpAddr::V4(mx_ip), IpAddr::V4(other_ip)],
    )
    .await;
    let rpt = auth.tls_rpt.as_ref().unwrap();
    assert_eq!(rpt.record.as_ref().unwrap().rua.len(), 2);

    let spf = auth.spf.as_ref().unwrap();
    assert_eq!(spf.lookups.total, 2);
    let ips = auth.spf_ips.as_ref().unwrap();
    let mx = ips.for_ip(IpAddr::V4(mx_ip)).unwrap();
    assert_eq!(
        (mx.result, mx.matched.as_deref(), mx.direct),
        (SpfResult::Pass, Some("mx"), true)
    );
    let other = ips.for_ip(IpAddr::V4(other_ip)).unwrap();
    assert_eq!(other.result, SpfResult::Pass);
    assert!(!other.direct, "authorized through an include only");
    let unlisted = ips.unlisted.as_ref().unwrap();
    assert_eq!(unlisted.result, SpfResult::Fail);
    assert_eq!(unlisted.void_lookups, 0);
    // The SPF record was fetched once for the tree and all three checks.
    assert_eq!(server.queries_for_type("example.test", RecordType::TXT), 1);
    let json = serde_json::to_string(&auth).unwrap();
    assert_eq!(serde_json::from_str::<AuthFacts>(&json).unwrap(), auth);
}
