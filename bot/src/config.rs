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
//! mail_from = "postmaster@example.net"  # sender; "<>": the null sender; omit: postmaster@<helo_name>
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

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;
use mailcheck::probe::smtp::SmtpClient;
use mailcheck::probe::tls::TlsClient;
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
        fn flag(key: &str, value: &str) -> Result<bool, ConfigError> {
            match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" | "" => Ok(false),
                _ => Err(invalid(key, format!("{value:?} is not true/false"))),
            }
        }
        fn ids(key: &str, value: &str) -> Result<Vec<u64>, ConfigError> {
            list(value).iter().map(|v| num(key, v)).collect()
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
                "MAILCHECK_COMPARE_RESOLVERS" => self.compare_resolvers = list(v),
                "MAILCHECK_DNSBL_ZONES" => {
                    self.dnsbl_zones = Some(if v == "none" { Vec::new() } else { list(v) });
                }
                "MAILCHECK_USER_COOLDOWN_SECS" => self.user_cooldown_secs = num(&key, v)?,
                "MAILCHECK_GUILD_COOLDOWN_SECS" => self.guild_cooldown_secs = num(&key, v)?,
                "MAILCHECK_CACHE_TTL_SECS" => self.cache_ttl_secs = num(&key, v)?,
                "MAILCHECK_MAX_CONCURRENT_CHECKS" => self.max_concurrent_checks = num(&key, v)?,
                "MAILCHECK_CHECK_DEADLINE_SECS" => self.check_deadline_secs = num(&key, v)?,
                "MAILCHECK_SMTP_PORT" => self.smtp_port = num(&key, v)?,
                "MAILCHECK_HELO_NAME" => v.clone_into(&mut self.helo_name),
                "MAILCHECK_MAIL_FROM" => {
                    self.mail_from = (!v.is_empty()).then(|| v.to_owned());
                }
                "MAILCHECK_PUBLIC_IP" => {
                    self.public_ip = list(v)
                        .iter()
                        .map(|ip| {
                            ip.parse()
                                .map_err(|_| invalid(&key, format!("{ip:?} is not an IP address")))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "MAILCHECK_EGRESS_CANARIES" => self.egress_canaries = list(v),
                "MAILCHECK_CA_FILE" => {
                    self.ca_file = list(v).into_iter().map(PathBuf::from).collect();
                }
                "MAILCHECK_ALLOW_PRIVATE" => self.allow_private = flag(&key, v)?,
                "MAILCHECK_ALLOWED_GUILDS" => self.allowed_guilds = ids(&key, v)?,
                "MAILCHECK_ALLOW_DMS" => self.allow_dms = flag(&key, v)?,
                "MAILCHECK_PRIVATE_BY_DEFAULT" => self.private_by_default = flag(&key, v)?,
                "MAILCHECK_PRIVATE_GUILDS" => self.private_guilds = ids(&key, v)?,
                "MAILCHECK_FAILURE_CACHE_TTL_SECS" => {
                    self.failure_cache_ttl_secs = num(&key, v)?;
                }
                "MAILCHECK_ADDRESS_BUDGET_SECS" => self.address_budget_secs = num(&key, v)?,
                "MAILCHECK_MAX_SMTP_CONNECTIONS" => self.max_smtp_connections = num(&key, v)?,
                "MAILCHECK_MAX_MX_HOSTS" => self.max_mx_hosts = num(&key, v)?,
                "MAILCHECK_MAX_ADDRESSES_PER_HOST" => {
                    self.max_addresses_per_host = num(&key, v)?;
                }
                "MAILCHECK_MAX_ADDRESSES_PER_DOMAIN" => {
                    self.max_addresses_per_domain = num(&key, v)?;
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
        if self.check_deadline_secs == 0 || self.check_deadline_secs > MAX_DEADLINE_SECS {
            return Err(invalid(
                "check_deadline_secs",
                format!(
                    "must be between 1 and {MAX_DEADLINE_SECS} (an answer must arrive while the \
                     15-minute interaction token is valid)"
                ),
            ));
        }
        for (key, n) in [
            ("max_mx_hosts", self.max_mx_hosts),
            ("max_addresses_per_host", self.max_addresses_per_host),
            ("max_addresses_per_domain", self.max_addresses_per_domain),
        ] {
            if n == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.egress_canaries.iter().any(|c| c == NO_EGRESS_CHECK) {
            if self.egress_canaries.len() > 1 {
                return Err(invalid(
                    "egress_canaries",
                    "\"none\" turns the egress check off; it cannot be mixed with canary hosts",
                ));
            }
        } else {
            for canary in &self.egress_canaries {
                check_canary(canary).map_err(|m| invalid("egress_canaries", m))?;
            }
        }
        for ip in &self.public_ip {
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(invalid(
                    "public_ip",
                    format!("{ip} cannot be the address servers see us from"),
                ));
            }
        }
        // The mapping reads and checks every CA file; then the library checks the EHLO name
        // and the sender exactly as it will when the checker is built, one setting at a time
        // so the error names the right one.
        let check = self.check_config()?;
        let mut smtp = check.smtp.clone();
        smtp.extra_ca_pem.clear();
        smtp.mail_from = mailcheck::config::AUTO_SENDER.to_owned();
        SmtpClient::new(&smtp).map_err(|e| invalid("helo_name", library_message(e)))?;
        smtp.mail_from.clone_from(&check.smtp.mail_from);
        SmtpClient::new(&smtp).map_err(|e| invalid("mail_from", library_message(e)))?;
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

    /// The library configuration for checks made from chat. The open-relay test is always off
    /// (never from chat), whatever else is configured.
    pub fn check_config(&self) -> Result<CheckConfig, ConfigError> {
        let mut config = CheckConfig::default().allow_private(self.allow_private);
        config.dns.resolver = ResolverChoice::from_args(&self.resolver)
            .map_err(|e| invalid("resolver", e.to_string()))?;
        config.auth.compare_resolvers = self
            .compare_resolvers
            .iter()
            .map(|s| ResolverChoice::parse_server(s))
            .collect::<Result<_, _>>()
            .map_err(|e| invalid("compare_resolvers", e.to_string()))?;
        if let Some(zones) = &self.dnsbl_zones {
            config.dnsbl.enabled = !zones.is_empty();
            config.dnsbl.zones.clone_from(zones);
        }
        config.smtp.port = self.smtp_port;
        config.smtp.open_relay_test = false;
        self.helo_name.trim().clone_into(&mut config.smtp.helo_name);
        if let Some(from) = self.mail_from.as_deref().map(str::trim)
            && !from.is_empty()
        {
            from.clone_into(&mut config.smtp.mail_from);
        }
        config.egress.public_ips.clone_from(&self.public_ip);
        match self.egress_canaries.as_slice() {
            [] => {}
            [only] if only == NO_EGRESS_CHECK => config.egress.enabled = false,
            canaries => {
                config.egress.canaries = canaries.iter().map(|c| c.trim().to_owned()).collect();
            }
        }
        config.smtp.extra_ca_pem = self
            .ca_file
            .iter()
            .map(|path| read_ca_file(path))
            .collect::<Result<_, _>>()?;
        // The bot's checker lives for days: its DNS/blocklist/SMTP caches (and remembered
        // failures) expire with the result cache, so a fixed server is seen as fixed.
        config.cache_ttl = Some(self.cache_ttl());
        // One domain per check: close each SMTP session at once (the transcript ends in QUIT).
        config.smtp.reuse_idle = Duration::ZERO;
        // The budget is kept with the checker's caches, so it cannot outlast them.
        config.smtp.address_budget =
            Duration::from_secs(self.address_budget_secs.min(self.cache_ttl_secs));
        config.smtp.max_connections = self.max_smtp_connections;
        config.fan_out.max_hosts = self.max_mx_hosts;
        config.fan_out.max_addresses_per_host = self.max_addresses_per_host;
        config.fan_out.max_addresses = self.max_addresses_per_domain;
        fit_timeouts(&mut config, self.check_deadline());
        Ok(config)
    }
}

/// Fits the library's timeouts inside the check's deadline, so a slow step ends (and is
/// reported) before the deadline cuts the whole check off.
fn fit_timeouts(config: &mut CheckConfig, deadline: Duration) {
    let most = deadline.mul_f64(0.8);
    let smtp = &mut config.smtp;
    smtp.session_deadline = smtp.session_deadline.min(most);
    for t in [
        &mut smtp.connect_timeout,
        &mut smtp.greeting_timeout,
        &mut smtp.command_timeout,
        &mut smtp.tls_timeout,
    ] {
        *t = (*t).min(most / 2);
    }
    config.dns.timeout = config.dns.timeout.min(most / 4);
    config.auth.https_timeout = config.auth.https_timeout.min(most / 2);
    config.egress.timeout = config.egress.timeout.min(most / 4);
}

/// The library's message without its `configuration: ` prefix (the setting is named already).
fn library_message(e: mailcheck::Error) -> String {
    match e {
        mailcheck::Error::Config(message) => message,
        other => other.to_string(),
    }
}

/// Reads one `ca_file`: it must hold at least one PEM certificate the TLS client accepts.
fn read_ca_file(path: &Path) -> Result<String, ConfigError> {
    let shown = path.display();
    let pem = std::fs::read_to_string(path)
        .map_err(|e| invalid("ca_file", format!("cannot read {shown}: {e}")))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            "ca_file",
            format!("{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
    }
    TlsClient::new(std::slice::from_ref(&pem))
        .map_err(|e| invalid("ca_file", format!("{shown}: {}", library_message(e))))?;
    Ok(pem)
}

/// `host`, `host:port`, `IP`, `IP:port` or `[v6]:port`, as the library's egress check reads it.
fn check_canary(canary: &str) -> Result<(), String> {
    let c = canary.trim();
    if c.parse::<SocketAddr>().is_ok()
        || c.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
    {
        return Ok(());
    }
    let (host, port) = c.rsplit_once(':').map_or((c, None), |(h, p)| (h, Some(p)));
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p != 0)
    {
        return Err(format!("{canary:?}: bad port {port:?} (host[:port])"));
    }
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '.' | '_'));
    if !name_ok {
        return Err(format!(
            "{canary:?} is not host[:port] (e.g. mx.example.org or 192.0.2.25:25)"
        ));
    }
    Ok(())
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
        assert!(check.allow_private);
        assert!(!check.smtp.open_relay_test);
        assert_eq!(check.smtp.port, 2525);
        assert_eq!(check.dns.resolver.label(), "127.0.0.1:5353");
    }

    #[test]
    fn operator_and_politeness_settings() {
        let mut c = BotConfig::from_toml(
            "allowed_guilds = [1, 2]\nprivate_guilds = [2]\nmax_mx_hosts = 3\n",
        )
        .unwrap();
        c.apply_env(env(&[
            ("MAILCHECK_ALLOW_DMS", "off"),
            ("MAILCHECK_ADDRESS_BUDGET_SECS", "600"),
            ("MAILCHECK_MAX_SMTP_CONNECTIONS", "8"),
            ("MAILCHECK_FAILURE_CACHE_TTL_SECS", "30"),
            ("MAILCHECK_MAX_ADDRESSES_PER_DOMAIN", "5"),
        ]))
        .unwrap();
        c.validate().unwrap();
        assert!(c.allowed_in(Some(1)) && !c.allowed_in(Some(3)) && !c.allowed_in(None));
        assert!(c.private_default(Some(2)) && !c.private_default(Some(1)));
        assert_eq!(c.failure_cache_ttl(), Duration::from_secs(30));
        let check = c.check_config().unwrap();
        // The budget lives with the checker's caches (300 s by default).
        assert_eq!(check.smtp.address_budget, Duration::from_secs(300));
        assert_eq!(check.smtp.max_connections, 8);
        assert_eq!(
            (check.fan_out.max_hosts, check.fan_out.max_addresses),
            (3, 5)
        );
        assert!(
            BotConfig::default().allowed_in(Some(99)),
            "empty: any guild"
        );
        assert!(BotConfig::default().allowed_in(None), "DMs on by default");
    }

    #[test]
    fn the_deadline_is_bounded_and_the_timeouts_fit_inside_it() {
        let too_long = BotConfig {
            check_deadline_secs: 841,
            ..BotConfig::default()
        };
        let err = too_long.validate().unwrap_err().to_string();
        assert!(
            err.contains("check_deadline_secs") && err.contains("840"),
            "{err}"
        );
        let short = BotConfig {
            check_deadline_secs: 20,
            ..BotConfig::default()
        };
        short.validate().unwrap();
        let check = short.check_config().unwrap();
        let deadline = Duration::from_secs(20);
        assert!(check.smtp.session_deadline <= deadline);
        for t in [
            check.smtp.greeting_timeout,
            check.smtp.command_timeout,
            check.smtp.connect_timeout,
            check.smtp.tls_timeout,
            check.dns.timeout,
            check.auth.https_timeout,
        ] {
            assert!(t < deadline, "{t:?}");
        }
        // The default 60 s deadline leaves each SMTP step up to 24 s (the library allows 60).
        let long = BotConfig::default().check_config().unwrap();
        assert_eq!(long.smtp.greeting_timeout, Duration::from_secs(24));
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
    fn compare_resolvers_from_toml_and_env() {
        let c =
            BotConfig::from_toml("compare_resolvers = [\"9.9.9.9\", \"[::1]:5353\"]\n").unwrap();
        assert_eq!(
            c.check_config().unwrap().auth.compare_resolvers,
            [
                "9.9.9.9:53".parse::<std::net::SocketAddr>().unwrap(),
                "[::1]:5353".parse().unwrap()
            ]
        );
        let mut c = BotConfig::default();
        c.apply_env(env(&[(
            "MAILCHECK_COMPARE_RESOLVERS",
            "1.1.1.1, 127.0.0.1:5353",
        )]))
        .unwrap();
        assert_eq!(c.compare_resolvers, ["1.1.1.1", "127.0.0.1:5353"]);
        assert_eq!(c.check_config().unwrap().auth.compare_resolvers.len(), 2);
        assert!(
            BotConfig::default()
                .check_config()
                .unwrap()
                .auth
                .compare_resolvers
                .is_empty()
        );
        c.apply_env(env(&[("MAILCHECK_COMPARE_RESOLVERS", "dns.example")]))
            .unwrap();
        assert_eq!(
            invalid_setting(&c.validate().unwrap_err()),
            "compare_resolvers"
        );
    }

    fn pem_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn invalid_setting(err: &ConfigError) -> &str {
        match err {
            ConfigError::Invalid { setting, .. } => setting,
            other => panic!("not an Invalid error: {other}"),
        }
    }

    #[test]
    fn identity_settings_from_toml_map_to_the_check_config() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pem_file(
            dir.path(),
            "lab-ca.pem",
            &mailcheck_testkit::certs::TestCa::new().ca_pem(),
        );
        let c = BotConfig::from_toml(&format!(
            "helo_name = \"probe.example.net\"\n\
             mail_from = \"ops@example.net\"\n\
             public_ip = [\"192.0.2.7\", \"2001:db8::7\"]\n\
             egress_canaries = [\"mx.example.org\", \"192.0.2.25:2525\", \"[2001:db8::25]:25\"]\n\
             ca_file = [{:?}]\n",
            ca.display().to_string()
        ))
        .unwrap();
        c.validate().unwrap();
        let check = c.check_config().unwrap();
        assert_eq!(check.smtp.helo_name, "probe.example.net");
        assert_eq!(check.smtp.mail_from, "ops@example.net");
        let ips: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()];
        assert_eq!(check.egress.public_ips, ips);
        assert!(check.egress.enabled);
        assert_eq!(
            check.egress.canaries,
            ["mx.example.org", "192.0.2.25:2525", "[2001:db8::25]:25"]
        );
        assert_eq!(check.smtp.extra_ca_pem.len(), 1);
        assert!(check.smtp.extra_ca_pem[0].contains("-----BEGIN CERTIFICATE-----"));
        // The checker accepts all of it.
        mailcheck::Checker::new(check).unwrap();
    }

    #[test]
    fn identity_defaults_are_the_librarys() {
        let check = BotConfig::default().check_config().unwrap();
        let library = CheckConfig::default();
        assert_eq!(check.smtp.helo_name, "");
        assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
        assert_eq!(check.egress, library.egress);
        assert_eq!(
            check.egress.canaries,
            mailcheck::config::DEFAULT_CANARIES.to_vec()
        );
        assert!(check.egress.enabled && check.egress.public_ips.is_empty());
        assert!(check.smtp.extra_ca_pem.is_empty());
        // An empty sender in the file means the default too, not the null sender.
        let c = BotConfig::from_toml("mail_from = \"\"\negress_canaries = []\n").unwrap();
        let check = c.check_config().unwrap();
        assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
        assert_eq!(check.egress, library.egress);
    }

    #[test]
    fn identity_settings_from_env() {
        let dir = tempfile::tempdir().unwrap();
        let pem = mailcheck_testkit::certs::TestCa::new().ca_pem();
        let a = pem_file(dir.path(), "a.pem", &pem);
        let b = pem_file(dir.path(), "b.pem", &pem);
        let mut c = BotConfig::from_toml("helo_name = \"file.example\"\n").unwrap();
        c.apply_env(env(&[
            ("MAILCHECK_HELO_NAME", " probe.example.net "),
            ("MAILCHECK_MAIL_FROM", "<>"),
            ("MAILCHECK_PUBLIC_IP", "192.0.2.7, 198.51.100.9"),
            (
                "MAILCHECK_EGRESS_CANARIES",
                "127.0.0.10:2525 , canary.example:25",
            ),
            (
                "MAILCHECK_CA_FILE",
                &format!("{}, {}", a.display(), b.display()),
            ),
        ]))
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.helo_name, "probe.example.net");
        assert_eq!(c.mail_from.as_deref(), Some("<>"));
        assert_eq!(c.ca_file, [a, b]);
        let check = c.check_config().unwrap();
        assert_eq!(check.smtp.helo_name, "probe.example.net");
        assert_eq!(
            check.egress.canaries,
            ["127.0.0.10:2525", "canary.example:25"]
        );
        assert_eq!(check.egress.public_ips.len(), 2);
        assert_eq!(check.smtp.extra_ca_pem.len(), 2);
        // `<>` reaches the library as the null sender.
        assert_eq!(SmtpClient::new(&check.smtp).unwrap().mail_from(), "");

        // `none` turns the egress check off; empty values go back to the defaults.
        c.apply_env(env(&[
            ("MAILCHECK_EGRESS_CANARIES", "none"),
            ("MAILCHECK_MAIL_FROM", ""),
            ("MAILCHECK_HELO_NAME", ""),
            ("MAILCHECK_PUBLIC_IP", ""),
            ("MAILCHECK_CA_FILE", ""),
        ]))
        .unwrap();
        c.validate().unwrap();
        let check = c.check_config().unwrap();
        assert!(!check.egress.enabled);
        assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
        assert_eq!(check.smtp.helo_name, "");
        assert!(check.egress.public_ips.is_empty() && check.smtp.extra_ca_pem.is_empty());
        // In the file, ["none"] does the same.
        let c = BotConfig::from_toml("egress_canaries = [\"none\"]\n").unwrap();
        c.validate().unwrap();
        assert!(!c.check_config().unwrap().egress.enabled);
    }

    #[test]
    fn bad_identity_values_name_the_setting() {
        // Addresses: in the environment the variable is named, in the file the key.
        let err = BotConfig::default()
            .apply_env(env(&[("MAILCHECK_PUBLIC_IP", "192.0.2.7, nat-box")]))
            .unwrap_err();
        assert_eq!(invalid_setting(&err), "MAILCHECK_PUBLIC_IP");
        assert!(err.to_string().contains("nat-box"), "{err}");
        let err = BotConfig::from_toml("public_ip = [\"192.0.2.300\"]").unwrap_err();
        assert!(err.contains("public_ip"), "{err}");
        let c = BotConfig {
            public_ip: vec!["0.0.0.0".parse().unwrap()],
            ..BotConfig::default()
        };
        assert_eq!(invalid_setting(&c.validate().unwrap_err()), "public_ip");

        // One token each: the library's own check, surfaced at load.
        for (c, setting) in [
            (
                BotConfig {
                    helo_name: "two words".into(),
                    ..BotConfig::default()
                },
                "helo_name",
            ),
            (
                BotConfig {
                    helo_name: "probe.example.net".into(),
                    mail_from: Some("a@b.example>\r\nDATA".into()),
                    ..BotConfig::default()
                },
                "mail_from",
            ),
            (
                BotConfig {
                    mail_from: Some("ops @example.net".into()),
                    ..BotConfig::default()
                },
                "mail_from",
            ),
        ] {
            let err = c.validate().unwrap_err();
            assert_eq!(invalid_setting(&err), setting, "{err}");
            assert!(err.to_string().contains("one token"), "{err}");
        }

        // Canaries.
        for canaries in [
            vec!["mx.example.org:smtp"],
            vec!["mx.example.org:0"],
            vec!["two words"],
            vec![":25"],
            vec!["none", "mx.example.org"],
        ] {
            let c = BotConfig {
                egress_canaries: canaries.iter().map(|s| (*s).to_owned()).collect(),
                ..BotConfig::default()
            };
            let err = c.validate().unwrap_err();
            assert_eq!(
                invalid_setting(&err),
                "egress_canaries",
                "{canaries:?}: {err}"
            );
        }

        // CA files: missing, not PEM, PEM that is not a certificate.
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let not_pem = pem_file(dir.path(), "key.txt", "just some text\n");
        let broken = pem_file(
            dir.path(),
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
        );
        for (path, says) in [
            (&missing, "cannot read"),
            (&not_pem, "-----BEGIN CERTIFICATE-----"),
            (&broken, "broken.pem"),
        ] {
            let c = BotConfig {
                ca_file: vec![path.clone()],
                ..BotConfig::default()
            };
            for err in [c.validate().unwrap_err(), c.check_config().unwrap_err()] {
                assert_eq!(invalid_setting(&err), "ca_file", "{err}");
                let text = err.to_string();
                assert!(text.contains(&path.display().to_string()), "{text}");
                assert!(text.contains(says), "{text}");
            }
        }
        // From the environment the path is only taken; reading it is part of validation.
        let mut c = BotConfig::default();
        c.apply_env(env(&[(
            "MAILCHECK_CA_FILE",
            &not_pem.display().to_string(),
        )]))
        .unwrap();
        assert_eq!(invalid_setting(&c.validate().unwrap_err()), "ca_file");
    }

    #[test]
    fn load_validates_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let file = pem_file(dir.path(), "bot.toml", "helo_name = \"no good\"\n");
        // `load` also reads the process's MAILCHECK_* variables; none of them is about the
        // EHLO name in a test run, so the file's bad value must be reported.
        if std::env::var_os("MAILCHECK_HELO_NAME").is_none() {
            let err = BotConfig::load(Some(&file)).unwrap_err();
            assert_eq!(invalid_setting(&err), "helo_name", "{err}");
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let example: String = include_str!("config.rs")
            .lines()
            .skip_while(|l| *l != "//! ```toml")
            .skip(1)
            .take_while(|l| *l != "//! ```")
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let c = BotConfig::from_toml(&example).unwrap();
        assert_eq!(c.helo_name, "probe.example.net");
        assert_eq!(c.public_ip, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.ca_file, [PathBuf::from("/etc/mailcheck/lab-ca.pem")]);
        assert_eq!(c.egress_canaries.len(), 2);
    }

    #[test]
    fn no_blocklists_when_empty() {
        let mut c = BotConfig::default();
        c.apply_env(env(&[("MAILCHECK_DNSBL_ZONES", "none")]))
            .unwrap();
        assert!(!c.check_config().unwrap().dnsbl.enabled);
    }
}
