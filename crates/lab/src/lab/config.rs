//! Pointing a checker at the lab: the one place that turns [`CheckerHints`] into a
//! [`CheckConfig`]. Front-ends start from [`Lab::check_config`] (or apply
//! [`CheckerHints::apply_to`] to a configuration of their own) and then change only what is
//! theirs, e.g. the bot turns the open-relay test off.

use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::{AUTO_SENDER, ResolverChoice};

use super::{CheckerHints, Lab};

impl CheckerHints {
    /// Points `config` at the lab: its resolver, SMTP, MTA-STS and name-server ports, its CA
    /// (added to any CA already trusted) and DNSSEC trust anchor; the lab's identity (its EHLO
    /// name, the default sender, no configured public address, and its loopback egress canary,
    /// with the egress check on, so nothing leaves the machine); the lab's DNS and SMTP
    /// timeouts, its short retry back-off and no connect spacing.
    ///
    /// It leaves alone what a front-end chooses: private addresses, blocklist zones, the
    /// open-relay test, caches and limits.
    pub fn apply_to(&self, config: &mut CheckConfig) {
        config.dns.resolver = ResolverChoice::Servers(vec![self.resolver]);
        config.dns.timeout = Duration::from_secs(2);
        config.smtp.port = self.smtp_port;
        config.auth.mta_sts_port = self.mta_sts_port;
        config.auth.ns_port = self.ns_port;
        config.auth.trust_anchor.clone_from(&self.trust_anchor);
        config.smtp.extra_ca_pem.push(self.ca_pem.clone());
        config.smtp.greeting_timeout = self.greeting_timeout;
        config.smtp.command_timeout = self.command_timeout;
        config.smtp.connect_timeout = self.connect_timeout;
        config.smtp.min_connect_interval = Duration::ZERO;
        config.smtp.retry_backoff = self.retry_backoff;
        self.helo_name.clone_into(&mut config.smtp.helo_name);
        AUTO_SENDER.clone_into(&mut config.smtp.mail_from);
        config.egress.public_ips.clear();
        config.egress.enabled = true;
        config.egress.canaries.clone_from(&self.canaries);
    }

    /// The demo's configuration: the library's defaults pointed at the lab
    /// ([`Self::apply_to`]), private (loopback) addresses allowed, the lab's blocklist zone, and
    /// the open-relay test on.
    pub fn check_config(&self) -> CheckConfig {
        let mut config = CheckConfig::default().allow_private(true);
        self.apply_to(&mut config);
        config.dnsbl.zones.clone_from(&self.dnsbl_zones);
        config.smtp.open_relay_test = true;
        config
    }
}

impl Lab {
    /// The configuration that points a checker at this lab, as the demo uses it: see
    /// [`CheckerHints::check_config`].
    pub fn check_config(&self) -> CheckConfig {
        self.checker_hints().check_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints() -> CheckerHints {
        CheckerHints {
            resolver: "127.0.0.1:5300".parse().unwrap(),
            smtp_port: 2525,
            mta_sts_port: 8443,
            ca_pem: "PEM".to_owned(),
            dnsbl_zones: vec!["bl.test".to_owned()],
            greeting_timeout: Duration::from_secs(12),
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            helo_name: "probe.mailcheck.test".to_owned(),
            retry_backoff: Duration::from_millis(300),
            canaries: vec!["127.0.0.45:2525".to_owned()],
            trust_anchor: Some(". 3600 IN DNSKEY 257 3 15 AAAA".to_owned()),
            ns_port: 5353,
        }
    }

    #[test]
    fn the_demo_configuration_points_at_the_lab_and_runs_the_relay_test() {
        let h = hints();
        let c = h.check_config();
        assert_eq!(c.dns.resolver.label(), "127.0.0.1:5300");
        assert_eq!(c.dns.timeout, Duration::from_secs(2));
        assert_eq!(
            (c.smtp.port, c.auth.mta_sts_port, c.auth.ns_port),
            (2525, 8443, 5353)
        );
        assert_eq!(c.auth.trust_anchor, h.trust_anchor);
        assert_eq!(c.smtp.extra_ca_pem, ["PEM"]);
        assert_eq!(c.dnsbl.zones, ["bl.test"]);
        assert!(c.allow_private);
        assert!(c.smtp.open_relay_test);
        assert_eq!(c.smtp.helo_name, "probe.mailcheck.test");
        assert_eq!(c.smtp.mail_from, AUTO_SENDER);
        assert_eq!(c.smtp.min_connect_interval, Duration::ZERO);
        assert_eq!(c.smtp.retry_backoff, Duration::from_millis(300));
        assert!(c.egress.enabled && c.egress.public_ips.is_empty());
        assert_eq!(c.egress.canaries, ["127.0.0.45:2525"]);
    }

    #[test]
    fn applying_the_lab_keeps_the_front_ends_choices() {
        let mut c = CheckConfig::default();
        c.smtp.extra_ca_pem = vec!["OPERATOR".to_owned()];
        c.dnsbl.zones = vec!["sender.test".to_owned()];
        c.egress.enabled = false;
        c.egress.public_ips = vec!["192.0.2.99".parse().unwrap()];
        c.smtp.helo_name = "bot.example.net".to_owned();
        hints().apply_to(&mut c);
        assert_eq!(c.smtp.extra_ca_pem, ["OPERATOR", "PEM"]);
        assert_eq!(c.dnsbl.zones, ["sender.test"]);
        assert!(!c.allow_private && !c.smtp.open_relay_test);
        assert!(c.egress.enabled && c.egress.public_ips.is_empty());
        assert_eq!(c.smtp.helo_name, "probe.mailcheck.test");
    }
}
