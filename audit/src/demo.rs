//! `--demo`: the in-process demo lab of `mailcheck-lab` (a DNS server with a blocklist zone and
//! SMTP servers on 127.0.0.N, each sample domain showing one typical fault) and the settings
//! that point a checker at it ([`Lab::check_config`]: private addresses allowed, open-relay test
//! on, a loopback egress canary, short timeouts and back-off). Nothing leaves the machine:
//! loopback only, the egress canary is the lab's own.

use mailcheck::CheckConfig;
use mailcheck_lab::lab::Lab;

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

/// Starts the lab.
pub async fn start() -> std::io::Result<Demo> {
    let lab = Lab::start().await?;
    let config = lab.check_config();
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
