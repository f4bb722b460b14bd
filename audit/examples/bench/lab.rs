//! The in-process labs of the default and `--shared-ip` scenarios (DNS and SMTP servers on
//! 127.0.1.x with the round-trip latency model), the wildcard lab of `--synthetic`, and the
//! auditor's configuration for a lab.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;
use mailcheck_testkit::certs::TestCa;
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::{SmtpServer, SmtpServerBuilder};

use crate::{Args, SNI_CONNECT_INTERVAL};

/// Extensions the lab servers advertise besides STARTTLS (the testkit's default set).
const EXTENSIONS: [&str; 4] = [
    "PIPELINING",
    "SIZE 10240000",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
];

pub(crate) fn host_ip(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, 10 + k)
}

pub(crate) fn host_name(k: u8) -> String {
    format!("mx{k}.bench.test")
}

/// A lab SMTP server with the bench's latency model and extensions.
pub(crate) fn smtp_builder(a: &Args, hostname: &str, bind: SocketAddr) -> SmtpServerBuilder {
    let extensions = EXTENSIONS
        .iter()
        .filter(|e| a.pipelining || **e != "PIPELINING");
    SmtpServer::builder()
        .hostname(hostname)
        .bind(bind)
        .round_trip(a.rtt())
        .extensions(extensions)
}

/// What the auditor needs from a lab.
#[derive(Debug, Clone)]
pub(crate) struct LabAddr {
    pub(crate) dns: SocketAddr,
    pub(crate) smtp_port: u16,
    pub(crate) ca_pem: String,
}

pub(crate) struct Lab {
    pub(crate) addr: LabAddr,
    _dns: DnsServer,
    pub(crate) servers: Vec<SmtpServer>,
    /// Domains per server, in order.
    pub(crate) domains_per_server: Vec<usize>,
    pub(crate) csv: String,
}

pub(crate) fn spf_dmarc(
    dns: mailcheck_testkit::dns::DnsServerBuilder,
    d: &str,
) -> mailcheck_testkit::dns::DnsServerBuilder {
    dns.txt(d, "v=spf1 include:_spf.bench.test -all")
        .txt(&format!("_dmarc.{d}"), "v=DMARC1; p=reject")
}

/// The `--hosts` SMTP servers (127.0.1.10 + k, one port, a lab-CA certificate each unless
/// `--no-tls`), and their port.
pub(crate) async fn mx_servers(a: &Args, ca: &TestCa) -> (Vec<SmtpServer>, u16) {
    let mut servers: Vec<SmtpServer> = Vec::new();
    let mut port = 0;
    for k in 0..a.hosts {
        let mut b = smtp_builder(
            a,
            &host_name(k),
            SocketAddr::new(IpAddr::V4(host_ip(k)), port),
        );
        if a.tls {
            b = b.tls(ca.leaf(&[&host_name(k)]).server_config());
        }
        let s = b.build().await;
        port = s.addr().port();
        servers.push(s);
    }
    (servers, port)
}

/// `--domains` over `--hosts`.
pub(crate) async fn build_lab(a: &Args) -> Lab {
    let ca = TestCa::with_name("bench CA");
    let (servers, port) = mx_servers(a, &ca).await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    for k in 0..a.hosts {
        dns = dns
            .a(&host_name(k), host_ip(k))
            .ptr(IpAddr::V4(host_ip(k)), &host_name(k));
    }
    let mut csv = String::from("domain,client\n");
    let mut domains_per_server = vec![0; usize::from(a.hosts)];
    for i in 0..a.domains {
        let k = i % usize::from(a.hosts);
        domains_per_server[k] += 1;
        let d = format!("d{i}.bench.test");
        dns = spf_dmarc(dns.mx(&d, 10, &host_name(k as u8)), &d);
        csv.push_str(&format!("{d},client {i}\n"));
    }
    let dns = dns.build().await;
    Lab {
        addr: LabAddr {
            dns: dns.addr(),
            smtp_port: port,
            ca_pem: ca.ca_pem(),
        },
        _dns: dns,
        servers,
        domains_per_server,
        csv,
    }
}

/// `--shared-ip N [--sni]`: N names on one address.
pub(crate) async fn build_shared_lab(a: &Args, n: usize) -> Lab {
    let ca = TestCa::with_name("bench CA");
    let names: Vec<String> = (0..n).map(|i| format!("mx{i}.shared.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut b = smtp_builder(
        a,
        "mx.shared.test",
        SocketAddr::new(IpAddr::V4(host_ip(0)), 0),
    );
    if a.tls {
        b = if a.sni {
            let each: Vec<[&str; 1]> = refs.iter().map(|n| [*n]).collect();
            let leaves: Vec<(&str, &[&str])> = refs
                .iter()
                .zip(&each)
                .map(|(n, e)| (*n, e.as_slice()))
                .collect();
            b.tls(ca.sni_server_config(&leaves))
        } else {
            b.tls(ca.leaf(&refs).server_config())
        };
    }
    let server = b.build().await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    dns = dns
        .a("mx.shared.test", host_ip(0))
        .ptr(IpAddr::V4(host_ip(0)), "mx.shared.test");
    let mut csv = String::from("domain,client\n");
    for (i, mx) in names.iter().enumerate() {
        let d = format!("d{i}.shared.test");
        dns = spf_dmarc(dns.a(mx, host_ip(0)).mx(&d, 10, mx), &d);
        csv.push_str(&format!("{d},client {i}\n"));
    }
    let dns = dns.build().await;
    Lab {
        addr: LabAddr {
            dns: dns.addr(),
            smtp_port: server.addr().port(),
            ca_pem: ca.ca_pem(),
        },
        _dns: dns,
        servers: vec![server],
        domains_per_server: vec![n],
        csv,
    }
}

/// `--synthetic`: wildcard DNS, one zone per host (`*.h{k}.bench.test`).
pub(crate) async fn build_synthetic_lab(a: &Args) -> (DnsServer, Vec<SmtpServer>, String) {
    let ca = TestCa::with_name("bench CA");
    let (servers, _) = mx_servers(a, &ca).await;
    let mut dns = DnsServer::builder().txt("_spf.bench.test", "v=spf1 ip4:192.0.2.0/24 -all");
    for k in 0..a.hosts {
        let wildcard = format!("*.h{k}.bench.test");
        // One TXT set answers `d{i}.h{k}` (SPF), `_dmarc.d{i}.h{k}` (DMARC) and
        // `_smtp._tls.d{i}.h{k}` (TLS-RPT): each reader keeps only its own record.
        dns = dns
            .a(&host_name(k), host_ip(k))
            .ptr(IpAddr::V4(host_ip(k)), &host_name(k))
            .mx(&wildcard, 10, &host_name(k))
            .txt(&wildcard, "v=spf1 include:_spf.bench.test -all")
            .txt(&wildcard, "v=DMARC1; p=reject")
            .txt(&wildcard, "v=TLSRPTv1; rua=mailto:tlsrpt@bench.test");
    }
    (dns.build().await, servers, ca.ca_pem())
}

pub(crate) fn check_config(a: &Args, lab: &LabAddr) -> CheckConfig {
    let mut config = CheckConfig::default().allow_private(true);
    config.dns.resolver = ResolverChoice::Servers(vec![lab.dns]);
    config.dnsbl.enabled = false;
    config.smtp.port = lab.smtp_port;
    config.smtp.helo_name = "probe.bench.test".to_owned();
    config.smtp.extra_ca_pem = vec![lab.ca_pem.clone()];
    config.smtp.min_connect_interval = if a.sni {
        SNI_CONNECT_INTERVAL
    } else {
        Duration::ZERO
    };
    if let Some(b) = a.batch {
        config.smtp.max_rcpts_per_transaction = b;
    }
    if let Some(s) = a.sessions_per_ip {
        config.smtp.sessions_per_ip = s;
    }
    config.egress.enabled = false;
    config.auth.enabled = a.auth;
    config
}

pub(crate) fn lab_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-lab")
        .enable_all()
        .build()
        .expect("lab runtime")
}
