//! Helpers shared by the integration tests in `shared/tests/`: a resolver pointed at the test
//! kit's DNS server, and the SMTP probe configuration used against its SMTP server. Each test file
//! is its own crate doing `mod common;` and uses only its part (DNS or SMTP), hence the allows.

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mailcheck::config::{DnsConfig, ResolverChoice, SmtpConfig};
use mailcheck::facts::{SmtpFacts, Step};
use mailcheck::probe::dns::{DnsSource, HickoryDns};
use mailcheck_testkit::dns::DnsServer;
use mailcheck_testkit::smtp::SmtpServer;

/// The resolver timeout of the DNS tests that do not test timeouts.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks only `addr`, once (no retries), giving up after `timeout`.
pub fn dns_config(addr: SocketAddr, timeout: Duration) -> DnsConfig {
    DnsConfig {
        resolver: ResolverChoice::Servers(vec![addr]),
        timeout,
        attempts: 0,
        ..DnsConfig::default()
    }
}

/// The real resolver, asking only `server`, with the given timeout.
pub fn resolver_with_timeout(server: &DnsServer, timeout: Duration) -> HickoryDns {
    HickoryDns::new(&dns_config(server.addr(), timeout)).expect("resolver")
}

/// The real resolver, asking only `server`.
pub fn resolver(server: &DnsServer) -> HickoryDns {
    resolver_with_timeout(server, DNS_TIMEOUT)
}

/// [`resolver_with_timeout`] as the shared DNS source the probes take.
pub fn dns_with_timeout(server: &DnsServer, timeout: Duration) -> Arc<dyn DnsSource> {
    Arc::new(resolver_with_timeout(server, timeout))
}

/// [`resolver`] as the shared DNS source the probes take.
pub fn dns(server: &DnsServer) -> Arc<dyn DnsSource> {
    dns_with_timeout(server, DNS_TIMEOUT)
}

/// The MX host name the SMTP tests probe.
pub const MX: &str = "mx.example.test";

/// SMTP probing of a loopback server on `port`: private addresses allowed, no connect spacing,
/// generous timeouts.
pub fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        port,
        helo_name: "probe.example.test".to_owned(),
        connect_timeout: Duration::from_secs(5),
        greeting_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
        tls_timeout: Duration::from_secs(5),
        session_deadline: Duration::from_secs(20),
        min_connect_interval: Duration::ZERO,
        ..SmtpConfig::default()
    }
}

/// The address the server listens on.
pub fn ip(server: &SmtpServer) -> IpAddr {
    server.addr().ip()
}

/// A loopback port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// The reply code of a step, if it got a reply.
pub fn code(step: Option<&Step>) -> Option<u16> {
    step.and_then(|s| s.reply()).map(|r| r.code)
}

/// The commands of the closing steps, in order (`RSET`, `QUIT`).
pub fn closing(facts: &SmtpFacts) -> Vec<&str> {
    facts.closing.iter().map(|s| s.command.as_str()).collect()
}
