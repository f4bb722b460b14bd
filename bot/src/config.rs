//! The bot's settings: a TOML file, then `MAILCHECK_*` environment variables on top.
//!
//! ```toml
//! # mailcheck-bot.toml — every key is optional
//! guild_id = 123456789012345678   # register /mailcheck in this guild only (instant); omit: global
//! resolver = ["9.9.9.9", "1.1.1.1:53"]  # omit: the system resolver
//! dnsbl_zones = ["zen.spamhaus.org", "bl.spamcop.net"]  # omit: the library's defaults
//! user_cooldown_secs = 30
//! guild_cooldown_secs = 5
//! cache_ttl_secs = 300
//! max_concurrent_checks = 4
//! check_deadline_secs = 60
//! allow_private = false           # lab only: probe private/loopback MX addresses
//! smtp_port = 25                  # lab only: probe this port instead of 25
//! ```
//!
//! | variable | key |
//! |---|---|
//! | `MAILCHECK_CONFIG` | path of the file (the `--config` flag wins) |
//! | `MAILCHECK_GUILD_ID` | `guild_id` (`global` or empty: global registration) |
//! | `MAILCHECK_RESOLVER` | `resolver`, comma-separated (`system`: the system resolver) |
//! | `MAILCHECK_DNSBL_ZONES` | `dnsbl_zones`, comma-separated (`none`: no blocklists) |
//! | `MAILCHECK_USER_COOLDOWN_SECS` | `user_cooldown_secs` |
//! | `MAILCHECK_GUILD_COOLDOWN_SECS` | `guild_cooldown_secs` |
//! | `MAILCHECK_CACHE_TTL_SECS` | `cache_ttl_secs` |
//! | `MAILCHECK_MAX_CONCURRENT_CHECKS` | `max_concurrent_checks` |
//! | `MAILCHECK_CHECK_DEADLINE_SECS` | `check_deadline_secs` |
//! | `MAILCHECK_ALLOW_PRIVATE` | `allow_private` (`true`/`false`) |
//! | `MAILCHECK_SMTP_PORT` | `smtp_port` |
//!
//! The Discord token is read from `DISCORD_TOKEN` only, never from the file.

use std::path::Path;
use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;
use serde::{Deserialize, Serialize};

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A setting has an unusable value.
    #[error("{setting}: {message}")]
    Invalid {
        /// The key or variable.
        setting: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

/// The bot's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    /// Register the command in this guild (instant) instead of globally (can take up to an hour).
    pub guild_id: Option<u64>,
    /// DNS servers (`IP` or `IP:PORT`); empty: the system resolver.
    pub resolver: Vec<String>,
    /// Blocklist zones; `None`: the library's defaults; empty: no blocklist queries.
    pub dnsbl_zones: Option<Vec<String>>,
    /// Seconds a user waits between two checks (0: no limit).
    pub user_cooldown_secs: u64,
    /// Seconds a guild waits between two checks (0: no limit).
    pub guild_cooldown_secs: u64,
    /// Seconds a domain's result is reused (0: no cache).
    pub cache_ttl_secs: u64,
    /// Checks running at once across all guilds.
    pub max_concurrent_checks: usize,
    /// Hard deadline of one check, in seconds.
    pub check_deadline_secs: u64,
    /// Lab only: probe private/loopback/reserved MX addresses instead of reporting them.
    pub allow_private: bool,
    /// Lab only: the SMTP port to probe (25 everywhere in real life).
    pub smtp_port: u16,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            guild_id: None,
            resolver: Vec::new(),
            dnsbl_zones: None,
            user_cooldown_secs: 30,
            guild_cooldown_secs: 5,
            cache_ttl_secs: 300,
            max_concurrent_checks: 4,
            check_deadline_secs: 60,
            allow_private: false,
            smtp_port: 25,
        }
    }
}

impl BotConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Loads the file (if any), then applies the process's `MAILCHECK_*` variables, then
    /// validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None => Self::default(),
        };
        config.apply_env(std::env::vars())?;
        config.validate()?;
        Ok(config)
    }

    /// Applies `MAILCHECK_*` variables from `vars` (other variables are ignored).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
            value
                .trim()
                .parse()
                .map_err(|_| invalid(key, format!("{value:?} is not a number")))
        }
        fn list(value: &str) -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        }
        for (key, value) in vars {
            let v = value.trim();
            match key.as_str() {
                "MAILCHECK_GUILD_ID" => {
                    self.guild_id = match v {
                        "" | "global" => None,
                        _ => Some(num(&key, v)?),
                    };
                }
                "MAILCHECK_RESOLVER" => {
                    self.resolver = if v == "system" { Vec::new() } else { list(v) };
                }
                "MAILCHECK_DNSBL_ZONES" => {
                    self.dnsbl_zones = Some(if v == "none" { Vec::new() } else { list(v) });
                }
                "MAILCHECK_USER_COOLDOWN_SECS" => self.user_cooldown_secs = num(&key, v)?,
                "MAILCHECK_GUILD_COOLDOWN_SECS" => self.guild_cooldown_secs = num(&key, v)?,
                "MAILCHECK_CACHE_TTL_SECS" => self.cache_ttl_secs = num(&key, v)?,
                "MAILCHECK_MAX_CONCURRENT_CHECKS" => self.max_concurrent_checks = num(&key, v)?,
                "MAILCHECK_CHECK_DEADLINE_SECS" => self.check_deadline_secs = num(&key, v)?,
                "MAILCHECK_SMTP_PORT" => self.smtp_port = num(&key, v)?,
                "MAILCHECK_ALLOW_PRIVATE" => {
                    self.allow_private = match v.to_ascii_lowercase().as_str() {
                        "1" | "true" | "yes" | "on" => true,
                        "0" | "false" | "no" | "off" | "" => false,
                        _ => return Err(invalid(&key, format!("{v:?} is not true/false"))),
                    };
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks the values make sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent_checks == 0 {
            return Err(invalid("max_concurrent_checks", "must be at least 1"));
        }
        if self.smtp_port == 0 {
            return Err(invalid("smtp_port", "must be a port number (1-65535)"));
        }
        if self.check_deadline_secs == 0 {
            return Err(invalid("check_deadline_secs", "must be at least 1"));
        }
        for server in &self.resolver {
            ResolverChoice::parse_server(server).map_err(|e| invalid("resolver", e.to_string()))?;
        }
        Ok(())
    }

    /// The per-user cooldown.
    pub const fn user_cooldown(&self) -> Duration {
        Duration::from_secs(self.user_cooldown_secs)
    }

    /// The per-guild cooldown.
    pub const fn guild_cooldown(&self) -> Duration {
        Duration::from_secs(self.guild_cooldown_secs)
    }

    /// How long a result is reused.
    pub const fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }

    /// The hard deadline of one check.
    pub const fn check_deadline(&self) -> Duration {
        Duration::from_secs(self.check_deadline_secs)
    }

    /// The library configuration for checks made from chat. The open-relay test is always off
    /// (never from chat), whatever else is configured.
    pub fn check_config(&self) -> Result<CheckConfig, ConfigError> {
        let mut config = CheckConfig::default().allow_private(self.allow_private);
        if !self.resolver.is_empty() {
            let servers = self
                .resolver
                .iter()
                .map(|s| ResolverChoice::parse_server(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("resolver", e.to_string()))?;
            config.dns.resolver = ResolverChoice::Servers(servers);
        }
        if let Some(zones) = &self.dnsbl_zones {
            config.dnsbl.enabled = !zones.is_empty();
            config.dnsbl.zones.clone_from(zones);
        }
        config.smtp.port = self.smtp_port;
        config.smtp.open_relay_test = false;
        // The bot's checker lives for days: its DNS/blocklist/SMTP caches (and remembered
        // failures) expire with the result cache, so a fixed server is seen as fixed.
        config.cache_ttl = Some(self.cache_ttl());
        // One domain per check: close each SMTP session at once (the transcript ends in QUIT).
        config.smtp.reuse_idle = Duration::ZERO;
        Ok(config)
    }
}

/// Reads `DISCORD_TOKEN` (trimmed; a leading `Bot ` is accepted).
pub fn discord_token_from_env() -> Result<String, ConfigError> {
    let token = std::env::var("DISCORD_TOKEN").unwrap_or_default();
    let token = token.trim();
    let token = token.strip_prefix("Bot ").unwrap_or(token).trim();
    if token.is_empty() {
        return Err(invalid(
            "DISCORD_TOKEN",
            "not set: copy the bot token from the Developer Portal (Bot → Reset Token)",
        ));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn file_then_env() {
        let mut c = BotConfig::from_toml(
            "guild_id = 42\nresolver = [\"127.0.0.1:5353\"]\nuser_cooldown_secs = 7\n",
        )
        .unwrap();
        assert_eq!(c.guild_id, Some(42));
        c.apply_env(env(&[
            ("MAILCHECK_GUILD_ID", "global"),
            ("MAILCHECK_CACHE_TTL_SECS", "9"),
            ("MAILCHECK_DNSBL_ZONES", "a.example, b.example"),
            ("MAILCHECK_ALLOW_PRIVATE", "yes"),
            ("MAILCHECK_SMTP_PORT", "2525"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert_eq!(c.guild_id, None);
        assert_eq!(c.user_cooldown_secs, 7);
        assert_eq!(c.cache_ttl(), Duration::from_secs(9));
        assert!(c.allow_private);
        c.validate().unwrap();
        let check = c.check_config().unwrap();
        assert_eq!(check.dnsbl.zones, ["a.example", "b.example"]);
        assert!(check.smtp.allow_private && check.policy.allow_private);
        assert!(!check.smtp.open_relay_test);
        assert_eq!(check.smtp.port, 2525);
        assert_eq!(check.dns.resolver.describe(), "127.0.0.1:5353");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = BotConfig::default()
            .apply_env(env(&[("MAILCHECK_USER_COOLDOWN_SECS", "soon")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("MAILCHECK_USER_COOLDOWN_SECS"),
            "{err}"
        );
        let c = BotConfig {
            resolver: vec!["nope".into()],
            ..BotConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("resolver")
        );
        assert!(BotConfig::from_toml("unknown_key = 1").is_err());
        let c = BotConfig {
            max_concurrent_checks: 0,
            ..BotConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn no_blocklists_when_empty() {
        let mut c = BotConfig::default();
        c.apply_env(env(&[("MAILCHECK_DNSBL_ZONES", "none")]))
            .unwrap();
        assert!(!c.check_config().unwrap().dnsbl.enabled);
    }
}
