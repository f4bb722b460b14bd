//! Per-IP politeness through the binary: 1000 generated domains whose MX hosts are 10 shared
//! SMTP servers make at most 10 connections, counted by the servers themselves.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::SmtpServer;

const DOMAINS: usize = 1000;
const HOSTS: u8 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_domains_on_ten_mx_addresses_make_at_most_ten_connections() {
    let ip = |k: u8| Ipv4Addr::new(127, 0, 0, 200 + k);
    let host = |k: u8| format!("mx{k}.pool.test");
    let first = SmtpServer::builder()
        .hostname(&host(0))
        .bind(SocketAddr::new(IpAddr::V4(ip(0)), 0))
        .build()
        .await;
    let port = first.addr().port();
    let mut servers = vec![first];
    for k in 1..HOSTS {
        servers.push(
            SmtpServer::builder()
                .hostname(&host(k))
                .bind(SocketAddr::new(IpAddr::V4(ip(k)), port))
                .build()
                .await,
        );
    }
    let mut dns = DnsServer::builder();
    for k in 0..HOSTS {
        dns = dns.a(&host(k), ip(k)).ptr(IpAddr::V4(ip(k)), &host(k));
    }
    let mut csv = String::from("domain,n\n");
    for i in 0..DOMAINS {
        let k = (i % usize::from(HOSTS)) as u8;
        dns = dns.mx(&format!("d{i}.test"), 10, &host(k));
        csv.push_str(&format!("d{i}.test,{i}\n"));
    }
    let dns = dns.build().await;

    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("domains.csv");
    std::fs::write(&list, csv).unwrap();
    let report = dir.path().join("out.csv");
    let args: Vec<String> = [
        "--resolver",
        &dns.addr().to_string(),
        "--smtp-port",
        &port.to_string(),
        "--allow-private",
        "--no-dnsbl",
        "--no-egress-check",
        // Connections are what is counted here; the authentication checks add nothing.
        "--no-auth",
        "--helo",
        "probe.pool.test",
        "--timeout",
        "5",
        "--no-progress",
        "-j",
        "32",
        "-o",
        report.to_str().unwrap(),
        list.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = crate::common::run(&args, &[], None).await;
    assert_eq!(
        crate::common::code(&out),
        0,
        "{}",
        crate::common::stderr(&out)
    );

    let (header, rows) = crate::common::read_csv(&report);
    assert_eq!(rows.len(), DOMAINS);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            crate::common::col(&header, row, "n"),
            i.to_string(),
            "input order"
        );
        // No TLS on these servers: degraded for a missing STARTTLS, nothing else.
        assert_eq!(
            crate::common::col(&header, row, "findings"),
            "smtp.starttls_missing"
        );
    }
    let total: usize = servers.iter().map(SmtpServer::connections).sum();
    assert!(total <= usize::from(HOSTS), "{total} connections");
    for s in &servers {
        assert!(s.connections() >= 1, "{} unused", s.addr());
    }
}
