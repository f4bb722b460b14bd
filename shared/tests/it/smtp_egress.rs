//! Our own vantage point: the canaries, per address family, greeted like a sender would (connect,
//! greeting, EHLO, QUIT), and the address they echo back.

use std::net::Ipv4Addr;
use std::time::Duration;

use mailcheck::config::EgressConfig;
use mailcheck::facts::{ConnectOutcome, Family};
use mailcheck::probe::egress::check_egress;
use mailcheck::probe::smtp::SmtpClient;
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::{Command, SmtpServer};

#[tokio::test]
async fn canaries_connected_refused_and_bad() {
    let open = SmtpServer::builder().echo_client().build().await;
    let open_port = open.addr().port();
    let closed_port = crate::common::unused_port();
    let dns = DnsServer::builder()
        .a("canary.test", Ipv4Addr::LOCALHOST)
        .build()
        .await;
    let dns = crate::common::dns(&dns);
    let client = SmtpClient::new(&crate::common::smtp_config(open_port)).unwrap();
    let config = EgressConfig {
        enabled: true,
        canaries: vec![
            format!("127.0.0.1:{open_port}"),
            format!("canary.test:{open_port}"),
            format!("127.0.0.1:{closed_port}"),
            "canary.test:notaport".to_owned(),
            format!("[::1]:{open_port}"),
        ],
        timeout: Duration::from_secs(5),
        public_ips: vec![],
    };
    let facts = check_egress(&config, Family::Ipv4, dns.as_ref(), &client).await;
    assert_eq!(facts.family, Family::Ipv4);
    assert_eq!(facts.canaries.len(), 5);
    let first = &facts.canaries[0];
    assert!(
        matches!(first.outcome, ConnectOutcome::Connected { .. }),
        "{first:?}"
    );
    // The canary was greeted like a sender would and echoed our address.
    assert!(
        first
            .greeting
            .as_deref()
            .is_some_and(|g| g.starts_with("220 ")),
        "{first:?}"
    );
    assert_eq!(first.echoed_ip, Some("127.0.0.1".parse().unwrap()));
    let named = &facts.canaries[1];
    assert!(
        matches!(named.outcome, ConnectOutcome::Connected { .. }),
        "{named:?}"
    );
    assert_eq!(facts.canaries[2].outcome, ConnectOutcome::Refused);
    assert!(matches!(
        facts.canaries[3].outcome,
        ConnectOutcome::Error { .. }
    ));
    // An IPv6 canary does not count for IPv4.
    assert_eq!(facts.canaries[4].addr, None);
    assert!(facts.open() && !facts.blocked());
    // Every command the canary saw: EHLO and QUIT, never a transaction.
    let seen = open.transcript(0).unwrap().commands();
    assert_eq!(seen, [Command::Ehlo, Command::Quit]);

    let only_closed = EgressConfig {
        canaries: vec![format!("127.0.0.1:{closed_port}")],
        ..config.clone()
    };
    let facts = check_egress(&only_closed, Family::Ipv4, dns.as_ref(), &client).await;
    assert!(facts.blocked() && !facts.open());
    // No canary of the family: neither blocked nor open.
    let facts = check_egress(&only_closed, Family::Ipv6, dns.as_ref(), &client).await;
    assert!(!facts.blocked() && !facts.open());
    let none = EgressConfig {
        canaries: vec![],
        ..config
    };
    assert!(
        check_egress(&none, Family::Ipv4, dns.as_ref(), &client)
            .await
            .canaries
            .is_empty()
    );
}
