//! The bot's settings: a TOML file, then `MAILCHECK_*` environment variables on top.
//!
//! ```toml
//! # mailcheck-bot.toml — every key is optional
//! guild_id = 123456789012345678   # register /mailcheck in this guild only (instant); omit: global
//! resolver = ["9.9.9.9", "1.1.1.1:53"]  # omit: the system resolver
//! compare_resolvers = ["8.8.8.8"] # also asked for each domain's MX, to compare with its name
//!                                 # servers (dns.inconsistent); omit: only the resolver in use
//! dnsbl_zones = ["zen.spamhaus.org", "bl.spamcop.net"]  # omit: the library's defaults
//! user_cooldown_secs = 30
//! guild_cooldown_secs = 5
//! cache_ttl_secs = 300
//! max_concurrent_checks = 4
//! check_deadline_secs = 60
//! allow_private = false           # lab only: probe private/loopback MX addresses
//! smtp_port = 25                  # lab only: probe this port instead of 25
//!
//! # Our identity: strict receivers judge the prober (see "From here" in the start-up log).
//! helo_name = "probe.example.net" # EHLO name; omit or "": this machine's name. Best: resolves
//!                                 # to public_ip, and public_ip's PTR is this name
//! mail_from = "postmaster@example.net"  # sender; "<>": the null sender;
//!                                 # omit: postmaster@<helo_name>
//! public_ip = ["192.0.2.7"]       # our NAT address as servers see it; omit: learned from the
//!                                 # canaries' EHLO replies
//! egress_canaries = ["mx.example.org", "192.0.2.25:25"]  # host[:port] greeted to check our own
//!                                 # outbound port 25; omit or []: big providers' MX hosts;
//!                                 # ["none"]: never check
//! ca_file = ["/etc/mailcheck/lab-ca.pem"]  # extra trusted CAs, PEM (labs, private PKI)
//!
//! # Who may use it, and how answers are shown.
//! allowed_guilds = [123456789012345678]  # only these servers (the command is registered in
//!                                 # each, at once); omit or []: any server, registered globally
//! allow_dms = true                # /mailcheck in DMs and group DMs (user installs too)
//! private_by_default = false      # answers only the asker sees, unless they pick private:false
//! private_guilds = [123456789012345678]  # guilds where answers are private by default
//!
//! # Politeness towards other people's servers.
//! failure_cache_ttl_secs = 60     # broken, inconclusive or partial answers are reused this long
//! address_budget_secs = 120       # an MX address is connected to at most once per this long
//!                                 # from chat (at most cache_ttl_secs); later checks reuse
//!                                 # that result and say its age
//! max_smtp_connections = 16       # SMTP connections open at once, all checks together
//! max_mx_hosts = 10               # MX hosts probed per domain (the rest listed, not probed)
//! max_addresses_per_host = 4
//! max_addresses_per_domain = 16
//! ```
//!
//! | variable | key |
//! |---|---|
//! | `MAILCHECK_CONFIG` | path of the file (the `--config` flag wins) |
//! | `MAILCHECK_GUILD_ID` | `guild_id` (`global` or empty: global registration) |
//! | `MAILCHECK_RESOLVER` | `resolver`, comma-separated (`system`: the system resolver) |
//! | `MAILCHECK_COMPARE_RESOLVERS` | `compare_resolvers`, comma-separated |
//! | `MAILCHECK_DNSBL_ZONES` | `dnsbl_zones`, comma-separated (`none`: no blocklists) |
//! | `MAILCHECK_USER_COOLDOWN_SECS` | `user_cooldown_secs` |
//! | `MAILCHECK_GUILD_COOLDOWN_SECS` | `guild_cooldown_secs` |
//! | `MAILCHECK_CACHE_TTL_SECS` | `cache_ttl_secs` |
//! | `MAILCHECK_MAX_CONCURRENT_CHECKS` | `max_concurrent_checks` |
//! | `MAILCHECK_CHECK_DEADLINE_SECS` | `check_deadline_secs` |
//! | `MAILCHECK_ALLOW_PRIVATE` | `allow_private` (`true`/`false`) |
//! | `MAILCHECK_SMTP_PORT` | `smtp_port` |
//! | `MAILCHECK_HELO_NAME` | `helo_name` (empty: this machine's name) |
//! | `MAILCHECK_MAIL_FROM` | `mail_from` (`<>`: the null sender; empty: the default) |
//! | `MAILCHECK_PUBLIC_IP` | `public_ip`, comma-separated |
//! | `MAILCHECK_EGRESS_CANARIES` | `egress_canaries`, comma-separated (`none`: no egress check; empty: the defaults) |
//! | `MAILCHECK_CA_FILE` | `ca_file`, comma-separated paths |
//! | `MAILCHECK_ALLOWED_GUILDS` | `allowed_guilds`, comma-separated (empty: any) |
//! | `MAILCHECK_ALLOW_DMS` | `allow_dms` (`true`/`false`) |
//! | `MAILCHECK_PRIVATE_BY_DEFAULT` | `private_by_default` (`true`/`false`) |
//! | `MAILCHECK_PRIVATE_GUILDS` | `private_guilds`, comma-separated |
//! | `MAILCHECK_FAILURE_CACHE_TTL_SECS` | `failure_cache_ttl_secs` |
//! | `MAILCHECK_ADDRESS_BUDGET_SECS` | `address_budget_secs` |
//! | `MAILCHECK_MAX_SMTP_CONNECTIONS` | `max_smtp_connections` |
//! | `MAILCHECK_MAX_MX_HOSTS` | `max_mx_hosts` |
//! | `MAILCHECK_MAX_ADDRESSES_PER_HOST` | `max_addresses_per_host` |
//! | `MAILCHECK_MAX_ADDRESSES_PER_DOMAIN` | `max_addresses_per_domain` |
//!
//! Relative `ca_file` paths are read from the working directory. Every identity setting is
//! checked at load: IP syntax, one-token EHLO name and sender (the library's own check), canary
//! syntax, and each CA file must be readable and hold a PEM certificate.
//!
//! The Discord token is read from `DISCORD_TOKEN` only, never from the file.

mod check;
mod env;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Resolvers (`IP` or `IP:PORT`) also asked for each domain's MX records, to compare with
    /// its name servers; empty: only the resolver in use is compared.
    pub compare_resolvers: Vec<String>,
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
    /// Our EHLO name; empty: this machine's name.
    pub helo_name: String,
    /// Our `MAIL FROM` address; `<>`: the null sender; `None` or empty: the library's default
    /// (`postmaster@<EHLO name>`).
    pub mail_from: Option<String>,
    /// Our public (NAT) address(es) as servers see them; empty: learned from the canaries'
    /// EHLO replies.
    pub public_ip: Vec<IpAddr>,
    /// Egress canaries, `host[:port]`; empty: the library's public defaults; exactly
    /// [`NO_EGRESS_CHECK`]: no egress check at all.
    pub egress_canaries: Vec<String>,
    /// Extra trusted CA certificates (PEM files): labs, private PKI.
    pub ca_file: Vec<PathBuf>,
    /// Only these guilds may use the command (it is registered in each of them); empty: any
    /// guild (registered globally).
    pub allowed_guilds: Vec<u64>,
    /// The command works in DMs and group DMs (and for user installs).
    pub allow_dms: bool,
    /// Answers are private (only the asker sees them) unless the asker says otherwise.
    pub private_by_default: bool,
    /// Guilds where answers are private by default.
    pub private_guilds: Vec<u64>,
    /// Seconds a broken, inconclusive or partial result is reused (shorter than ok ones).
    pub failure_cache_ttl_secs: u64,
    /// Seconds between two new connections to one MX address from chat (0: no budget; at
    /// most `cache_ttl_secs`, with whose caches it is kept).
    pub address_budget_secs: u64,
    /// SMTP connections open at once across all checks (0: no cap).
    pub max_smtp_connections: usize,
    /// MX hosts probed per domain.
    pub max_mx_hosts: usize,
    /// Addresses probed per MX host.
    pub max_addresses_per_host: usize,
    /// Addresses probed per domain.
    pub max_addresses_per_domain: usize,
}

/// Where a [`mailcheck::setting::Setting`] is changed for the bot: its config key.
pub const fn config_key(setting: mailcheck::setting::Setting) -> &'static str {
    use mailcheck::setting::Setting;
    match setting {
        Setting::HeloName => "helo_name",
        Setting::MailFrom => "mail_from",
        Setting::PublicIp => "public_ip",
        Setting::Resolver => "resolver",
    }
}

/// The longest `check_deadline_secs`: a check must answer well within the 15 minutes an
/// interaction token lives.
pub const MAX_DEADLINE_SECS: u64 = 840;

/// The `egress_canaries` value (`["none"]`, `MAILCHECK_EGRESS_CANARIES=none`) that turns the
/// egress check off.
pub const NO_EGRESS_CHECK: &str = "none";

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            guild_id: None,
            resolver: Vec::new(),
            compare_resolvers: Vec::new(),
            dnsbl_zones: None,
            user_cooldown_secs: 30,
            guild_cooldown_secs: 5,
            cache_ttl_secs: 300,
            max_concurrent_checks: 4,
            check_deadline_secs: 60,
            allow_private: false,
            smtp_port: 25,
            helo_name: String::new(),
            mail_from: None,
            public_ip: Vec::new(),
            egress_canaries: Vec::new(),
            ca_file: Vec::new(),
            allowed_guilds: Vec::new(),
            allow_dms: true,
            private_by_default: false,
            private_guilds: Vec::new(),
            failure_cache_ttl_secs: 60,
            address_budget_secs: 120,
            max_smtp_connections: 16,
            max_mx_hosts: 10,
            max_addresses_per_host: 4,
            max_addresses_per_domain: 16,
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

    /// How long a broken, inconclusive or partial result is reused.
    pub fn failure_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.failure_cache_ttl_secs.min(self.cache_ttl_secs))
    }

    /// Whether answers in `guild` (`None`: a DM) are private unless the asker says otherwise.
    pub fn private_default(&self, guild: Option<u64>) -> bool {
        self.private_by_default || guild.is_some_and(|g| self.private_guilds.contains(&g))
    }

    /// Whether the command may be used in `guild` (`None`: a DM or group DM).
    pub fn allowed_in(&self, guild: Option<u64>) -> bool {
        match guild {
            None => self.allow_dms,
            Some(g) => self.allowed_guilds.is_empty() || self.allowed_guilds.contains(&g),
        }
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
mod tests;
