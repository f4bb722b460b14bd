//! The `MAILCHECK_*` environment variables, applied over the file's settings
//! ([`BotConfig::apply_env`]).

use std::path::PathBuf;

use super::{BotConfig, ConfigError, invalid};

impl BotConfig {
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
}
