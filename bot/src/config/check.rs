//! Whether the settings make sense ([`BotConfig::validate`]: limits, the deadline, the identity,
//! the CA files) and their mapping into the library's configuration
//! ([`BotConfig::check_config`], the open-relay test always off, timeouts fitted inside the
//! deadline).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;
use mailcheck::probe::smtp::SmtpClient;
use mailcheck::probe::tls::TlsClient;

use super::{BotConfig, ConfigError, MAX_DEADLINE_SECS, NO_EGRESS_CHECK, invalid};

impl BotConfig {
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
