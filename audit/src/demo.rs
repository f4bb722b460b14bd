//! `--demo`: the in-process lab from the test kit (a DNS server with a blocklist zone and SMTP
//! servers on 127.0.0.N, each sample domain showing one typical fault) and the settings that
//! point a checker at it. Nothing leaves the machine: loopback only, the egress canary is the
//! lab's healthy server.

use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;
use mailcheck_testkit::lab::Lab;

use crate::input::Source;

/// The running lab, the configuration for it, and its sample list as an input.
#[derive(Debug)]
pub struct Demo {
    /// Keep it alive for the run: dropping it stops the servers.
    pub lab: Lab,
    /// Resolver, ports, CA, blocklist zone, timeouts for the lab.
    pub config: CheckConfig,
    /// The lab's sample CSV (`client,domain`).
    pub source: Source,
}

/// The configuration that points a checker at `lab`: its resolver, SMTP port, CA and blocklist
/// zone; private addresses allowed; open-relay test on; a loopback egress canary; short
/// timeouts and back-off.
pub fn config_for(lab: &Lab) -> CheckConfig {
    let hints = lab.checker_hints();
    let mut c = CheckConfig::default().allow_private(true);
    c.dns.resolver = ResolverChoice::Servers(vec![hints.resolver]);
    c.dns.timeout = Duration::from_secs(2);
    c.dnsbl.zones.clone_from(&hints.dnsbl_zones);
    c.smtp.port = hints.smtp_port;
    c.auth.mta_sts_port = hints.mta_sts_port;
    c.auth.trust_anchor.clone_from(&hints.trust_anchor);
    c.auth.ns_port = hints.ns_port;
    c.smtp.extra_ca_pem = vec![hints.ca_pem.clone()];
    c.smtp.greeting_timeout = hints.greeting_timeout;
    c.smtp.command_timeout = hints.command_timeout;
    c.smtp.connect_timeout = hints.connect_timeout;
    c.smtp.helo_name.clone_from(&hints.helo_name);
    c.smtp.open_relay_test = true;
    c.smtp.min_connect_interval = Duration::ZERO;
    c.smtp.retry_backoff = hints.retry_backoff;
    c.egress.canaries.clone_from(&hints.canaries);
    c
}

/// Starts the lab.
pub async fn start() -> std::io::Result<Demo> {
    let lab = Lab::start().await?;
    let config = config_for(&lab);
    let source = Source::Text {
        name: "demo-domains.csv".to_owned(),
        text: lab.domains_csv(),
    };
    Ok(Demo {
        lab,
        config,
        source,
    })
}
