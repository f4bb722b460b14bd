//! Pointing the bot at the in-process lab of [`mailcheck_lab::lab`]: sample domains with
//! one typical fault each, served on loopback. Used by `mailcheck-bot preview --lab <domain>`
//! (a demo for operators and volunteers, no internet needed) and by the end-to-end tests.
//!
//! Even in the lab the open-relay test stays off: the bot never runs it, whatever it points at.

use mailcheck::CheckConfig;
use mailcheck_lab::lab::CheckerHints;

pub use mailcheck_lab::lab::{Lab, SCENARIOS, Scenario};

use crate::{BotConfig, ConfigError, Data};

/// `base` with the lab's resolver, SMTP port and blocklist zone, and private (loopback)
/// addresses allowed: the lab's mail servers all live on `127.0.0.0/8`.
pub fn bot_config(base: BotConfig, hints: &CheckerHints) -> BotConfig {
    BotConfig {
        resolver: vec![hints.resolver.to_string()],
        dnsbl_zones: Some(hints.dnsbl_zones.clone()),
        allow_private: true,
        smtp_port: hints.smtp_port,
        ..base
    }
}

/// The library configuration for the lab: [`BotConfig::check_config`] (the bot's own settings:
/// caches, limits, deadlines, extra CA files) pointed at the lab with
/// [`CheckerHints::apply_to`]: the lab CA added, the lab's timeouts, no connect spacing, and
/// the lab's own identity (its EHLO name, the default sender, no configured public address, its
/// loopback egress canary with the check on even if the operator turned it off, so the lab
/// shows what it is meant to). The operator's identity settings would change the lab's expected
/// verdicts, so they do not apply here. The open-relay test stays off, as in chat.
pub fn check_config(config: &BotConfig, hints: &CheckerHints) -> Result<CheckConfig, ConfigError> {
    let mut c = config.check_config()?;
    hints.apply_to(&mut c);
    c.smtp.open_relay_test = false;
    Ok(c)
}

/// The command's state for a bot pointed at the lab (cooldowns, cache and limits from `base`).
pub fn data(base: BotConfig, hints: &CheckerHints) -> Result<Data, ConfigError> {
    let config = bot_config(base, hints);
    let check = check_config(&config, hints)?;
    Data::with_check_config(config, check)
}

/// One line per lab domain: `healthy.test  ok  MX, PTR, banner…` (for `--help` and errors).
pub fn scenario_list() -> String {
    let width = SCENARIOS.iter().map(|s| s.input.len()).max().unwrap_or(0);
    SCENARIOS
        .iter()
        .filter(|s| s.input.ends_with(".test"))
        .map(|s| {
            if s.codes.contains(&"smtp.open_relay") {
                // The library finds it only with the relay test, which the bot never runs.
                format!(
                    "  {:width$}  {:12}  {} (the bot never runs the open-relay test: shows ok)",
                    s.input, "ok", s.about
                )
            } else {
                format!("  {:width$}  {:12}  {}", s.input, s.verdict, s.about)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn lab_settings_keep_the_relay_test_off_and_stay_on_loopback() {
        let hints = CheckerHints {
            resolver: "127.0.0.1:5300".parse().unwrap(),
            smtp_port: 2525,
            mta_sts_port: 8443,
            ca_pem: "PEM".to_owned(),
            dnsbl_zones: vec!["bl.test".to_owned()],
            greeting_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            helo_name: "probe.mailcheck.test".to_owned(),
            retry_backoff: Duration::from_millis(300),
            canaries: vec!["127.0.0.10:2525".to_owned()],
            trust_anchor: Some(". 3600 IN DNSKEY 257 3 15 AAAA".to_owned()),
            ns_port: 5353,
        };
        // The operator's identity settings do not change what the lab shows.
        let operator = BotConfig {
            helo_name: "bot.example.net".to_owned(),
            mail_from: Some("<>".to_owned()),
            public_ip: vec!["192.0.2.99".parse().unwrap()],
            egress_canaries: vec!["none".to_owned()],
            ..BotConfig::default()
        };
        let c = check_config(&bot_config(operator, &hints), &hints).unwrap();
        assert_eq!(c.smtp.helo_name, "probe.mailcheck.test");
        assert_eq!(c.smtp.mail_from, mailcheck::config::AUTO_SENDER);
        assert!(c.egress.public_ips.is_empty());
        assert!(c.egress.enabled);
        assert_eq!(c.egress.canaries, ["127.0.0.10:2525"]);

        let config = bot_config(BotConfig::default(), &hints);
        assert!(config.allow_private);
        assert_eq!(
            config.user_cooldown_secs,
            BotConfig::default().user_cooldown_secs
        );
        let c = check_config(&config, &hints).unwrap();
        assert!(!c.smtp.open_relay_test);
        assert_eq!(c.egress.canaries, ["127.0.0.10:2525"]);
        assert_eq!(c.smtp.port, 2525);
        assert_eq!(c.auth.mta_sts_port, 8443);
        assert_eq!(c.auth.ns_port, 5353);
        assert_eq!(c.auth.trust_anchor, hints.trust_anchor);
        assert_eq!(c.dns.resolver.label(), "127.0.0.1:5300");
        assert_eq!(c.dnsbl.zones, ["bl.test"]);
        assert_eq!(c.smtp.extra_ca_pem, ["PEM"]);
        assert!(scenario_list().contains("closed.test"));
        assert!(!scenario_list().contains("not a domain"));
        assert!(scenario_list().contains("never runs the open-relay test"));
    }
}
