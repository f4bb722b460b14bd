//! DNSSEC and DANE end to end: the test kit's signed DNS server (a lab root trusted through the
//! configured trust anchor), SMTP servers with the test CA's certificate, and the whole check.
//!
//! - `good.test`: signed, TLSA `3 1 1` of the served key → `dane.valid`, and the certificate's
//!   unknown issuer is only info (DANE-EE).
//! - `bad.test`: signed, TLSA that names another key → `dane.mismatch`.
//! - `plain.test`: unsigned (insecure delegation), TLSA present → `dane.unusable`.
//! - `bogus.test`: signed, but the parent's DS names another key → `dns.dnssec_bogus`.
//! - `sig.test`: signed, the TLSA RRset's signature corrupted → `dns.dnssec_bogus`.
//! - `none.test`: signed, no TLSA → no DANE finding.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mailcheck::auth::dane::{DaneFacts, DnssecState, Validator};
use mailcheck::auth::{AuthContext, dane};
use mailcheck::config::{AuthConfig, DnsConfig, ResolverChoice};
use mailcheck::facts::Lookup;
use mailcheck::finding::{Code, Severity};
use mailcheck::probe::dns::HickoryDns;
use mailcheck::report::Verdict;
use mailcheck::{CheckConfig, Checker, Report};
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::dns::RecordType;
use mailcheck_testkit::dns::signed::{SignedDnsServer, Signing};
use mailcheck_testkit::smtp::SmtpServer;

const DOMAINS: [&str; 6] = ["good", "bad", "plain", "bogus", "sig", "none"];

fn ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 53, 2 + u8::try_from(i).unwrap())
}

fn spki_sha256(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw)
        .as_ref()
        .to_vec()
}

struct World {
    dns: SignedDnsServer,
    _smtp: Vec<SmtpServer>,
    port: u16,
    leaf_spki: Vec<u8>,
}

async fn world() -> World {
    let ca = TestCa::with_name("mailcheck DANE test CA");
    let names: Vec<String> = DOMAINS.iter().map(|d| format!("mx.{d}.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cert = ca.leaf(&refs);
    let leaf_spki = spki_sha256(cert.cert_der().as_ref());
    let mut smtp = Vec::new();
    let mut port = 0;
    for (i, name) in names.iter().enumerate() {
        let server = SmtpServer::builder()
            .hostname(name)
            .tls(cert.server_config())
            .bind(SocketAddr::new(IpAddr::V4(ip(i)), port))
            .build()
            .await;
        port = server.addr().port();
        smtp.push(server);
    }
    let mut b = SignedDnsServer::builder()
        .zone("test", Signing::Signed)
        .zone("good.test", Signing::Signed)
        .zone("bad.test", Signing::Signed)
        .zone("plain.test", Signing::Unsigned)
        .zone("bogus.test", Signing::WrongDs)
        .zone("sig.test", Signing::Signed)
        .zone("none.test", Signing::Signed);
    for (i, d) in DOMAINS.iter().enumerate() {
        let host = format!("mx.{d}.test");
        b = b.mx(&format!("{d}.test"), 10, &host).a(&host, ip(i));
        let data = if *d == "bad" {
            vec![0xab; 32]
        } else {
            leaf_spki.clone()
        };
        if *d != "none" {
            b = b.tlsa(&format!("_25._tcp.{host}"), 3, 1, 1, data);
        }
    }
    let dns = b
        .corrupt_signature("_25._tcp.mx.sig.test", RecordType::TLSA)
        .build()
        .await;
    World {
        dns,
        _smtp: smtp,
        port,
        leaf_spki,
    }
}

fn dns_config(w: &World) -> DnsConfig {
    DnsConfig {
        resolver: ResolverChoice::Servers(vec![w.dns.addr()]),
        timeout: Duration::from_secs(2),
        attempts: 1,
        ..DnsConfig::default()
    }
}

fn auth_config(w: &World) -> AuthConfig {
    AuthConfig {
        trust_anchor: Some(w.dns.trust_anchor().to_owned()),
        ..AuthConfig::default()
    }
}

async fn collect(w: &World, validator: &Validator, domain: &str) -> DaneFacts {
    let dns = HickoryDns::new(&dns_config(w)).unwrap();
    let config = auth_config(w);
    let hosts = vec![format!("mx.{domain}")];
    let ctx = AuthContext {
        dns: &dns,
        config: &config,
        allow_private: false,
        domain,
        mx_hosts: &hosts,
        mx_ips: &[],
        mta_sts: None,
        dnssec: Some(validator),
    };
    dane::collect(&ctx).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_records_each_proof_state() {
    let w = world().await;
    let validator = Validator::new(&dns_config(&w), &auth_config(&w)).unwrap();
    assert_eq!(
        validator.unavailable().await,
        None,
        "the lab root validates"
    );

    let good = collect(&w, &validator, "good.test").await;
    assert_eq!(good.unavailable, None);
    let mx = good.mx.as_ref().unwrap();
    assert_eq!(mx.dnssec, DnssecState::Secure, "{good:#?}");
    let host = &good.hosts[0];
    assert_eq!(host.tlsa_name, "_25._tcp.mx.good.test");
    assert_eq!(host.a.dnssec, DnssecState::Secure, "{host:#?}");
    assert_eq!(host.a.lookup.records(), &[IpAddr::V4(ip(0))]);
    assert_eq!(host.aaaa.lookup, Lookup::NoData, "{host:#?}");
    assert_eq!(
        host.aaaa.dnssec,
        DnssecState::Secure,
        "a signed denial: {host:#?}"
    );
    assert_eq!(host.tlsa.dnssec, DnssecState::Secure, "{host:#?}");
    let tlsa = host.tlsa_records();
    assert_eq!(tlsa.len(), 1);
    assert_eq!(
        (tlsa[0].usage, tlsa[0].selector, tlsa[0].matching),
        (3, 1, 1)
    );
    assert_eq!(
        tlsa[0].data,
        w.leaf_spki
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );

    let plain = collect(&w, &validator, "plain.test").await;
    assert_eq!(
        plain.mx.as_ref().unwrap().dnssec,
        DnssecState::Insecure,
        "{plain:#?}"
    );
    assert_eq!(
        plain.hosts[0].tlsa.dnssec,
        DnssecState::Insecure,
        "{plain:#?}"
    );
    assert_eq!(plain.hosts[0].tlsa_records().len(), 1);

    let bogus = collect(&w, &validator, "bogus.test").await;
    let reason = bogus.mx.as_ref().unwrap().bogus().expect("bogus MX");
    assert!(reason.contains("matches its DS records"), "{reason}");
    assert_eq!(
        bogus.mx.as_ref().unwrap().lookup.records().len(),
        1,
        "the records as published, fetched with checking disabled"
    );
    assert!(bogus.hosts[0].tlsa.bogus().is_some(), "{bogus:#?}");

    let sig = collect(&w, &validator, "sig.test").await;
    assert_eq!(
        sig.mx.as_ref().unwrap().dnssec,
        DnssecState::Secure,
        "{sig:#?}"
    );
    assert_eq!(sig.hosts[0].a.dnssec, DnssecState::Secure, "{sig:#?}");
    let reason = sig.hosts[0].tlsa.bogus().expect("bogus TLSA");
    assert!(reason.contains("does not verify"), "{reason}");

    let none = collect(&w, &validator, "none.test").await;
    assert_eq!(none.hosts[0].tlsa.lookup, Lookup::NxDomain, "{none:#?}");
    assert_eq!(none.hosts[0].tlsa.dnssec, DnssecState::Secure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lab_anchor_nothing_is_judged() {
    let w = world().await;
    // Only the IANA root keys: the lab root does not validate, so DNSSEC is "not checked"
    // rather than every domain bogus.
    let validator = Validator::new(&dns_config(&w), &AuthConfig::default()).unwrap();
    let reason = validator.unavailable().await.expect("unavailable");
    assert!(reason.contains("DNSKEY ."), "{reason}");
    let facts = collect(&w, &validator, "bogus.test").await;
    assert!(facts.unavailable.is_some() && facts.mx.is_none() && facts.hosts.is_empty());
}

fn checker_config(w: &World) -> CheckConfig {
    let mut c = CheckConfig::default().allow_private(true);
    c.dns = dns_config(w);
    c.auth = auth_config(w);
    c.dnsbl.enabled = false;
    c.egress.enabled = false;
    c.smtp.port = w.port;
    c.smtp.helo_name = "probe.test".into();
    c.smtp.min_connect_interval = Duration::ZERO;
    c.smtp.retry_backoff = Duration::from_millis(100);
    c
}

fn codes(r: &Report, wanted: &[Code]) -> Vec<(Code, Severity)> {
    let mut v: Vec<(Code, Severity)> = r
        .findings
        .iter()
        .filter(|f| wanted.contains(&f.code))
        .map(|f| (f.code, f.severity))
        .collect();
    v.sort_by_key(|(c, s)| (*c, *s));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dane_code_end_to_end() {
    let w = world().await;
    let checker = Checker::new(checker_config(&w)).unwrap();
    let watched = [
        Code::DaneValid,
        Code::DaneMismatch,
        Code::DaneUnusable,
        Code::DnsDnssecBogus,
        Code::TlsCertUntrusted,
    ];
    let explain = |r: &Report| serde_json::to_string_pretty(&r.findings).unwrap();

    let r = checker.check_input("good.test").await;
    assert_eq!(
        codes(&r, &watched),
        vec![
            (Code::TlsCertUntrusted, Severity::Info),
            (Code::DaneValid, Severity::Info)
        ],
        "{}",
        explain(&r)
    );
    let untrusted = r
        .findings
        .iter()
        .find(|f| f.code == Code::TlsCertUntrusted)
        .unwrap();
    assert!(
        untrusted.evidence.iter().any(|e| e.contains("DANE-EE")),
        "{untrusted:?}"
    );

    let r = checker.check_input("bad.test").await;
    assert_eq!(
        codes(&r, &watched),
        vec![
            (Code::TlsCertUntrusted, Severity::Warning),
            (Code::DaneMismatch, Severity::Error)
        ],
        "{}",
        explain(&r)
    );
    assert_eq!(r.verdict, Verdict::Degraded);

    let r = checker.check_input("plain.test").await;
    assert_eq!(
        codes(&r, &watched),
        vec![
            (Code::TlsCertUntrusted, Severity::Warning),
            (Code::DaneUnusable, Severity::Warning)
        ],
        "{}",
        explain(&r)
    );

    for domain in ["bogus.test", "sig.test"] {
        let r = checker.check_input(domain).await;
        let found = codes(&r, &watched);
        assert!(
            found.contains(&(Code::DnsDnssecBogus, Severity::Error))
                && !found.iter().any(|(c, _)| c.as_str().starts_with("dane.")),
            "{domain}: {}",
            explain(&r)
        );
        assert_eq!(r.verdict, Verdict::Broken, "{domain}: {}", explain(&r));
    }

    let r = checker.check_input("none.test").await;
    assert_eq!(
        codes(&r, &watched),
        vec![(Code::TlsCertUntrusted, Severity::Warning)],
        "{}",
        explain(&r)
    );
}
