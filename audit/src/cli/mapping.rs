//! The flags' translation: [`Cli::check_config`] (the library's [`CheckConfig`], reading the
//! `--ca-file`s), the time limits, the history's location, and the flags that change a setting
//! named in a finding's advice.

use mailcheck::CheckConfig;
use mailcheck::config::ResolverChoice;

use super::Cli;
use crate::error::AuditError;

/// Where a [`mailcheck::setting::Setting`] is changed on this command line.
pub const fn flag_for(setting: mailcheck::setting::Setting) -> &'static str {
    use mailcheck::setting::Setting;
    match setting {
        Setting::HeloName => "--helo",
        Setting::MailFrom => "--mail-from",
        Setting::PublicIp => "--public-ip",
        Setting::Resolver => "--resolver",
    }
}

/// The hint that follows a finding's advice: the flags of the settings it speaks of (empty
/// when it speaks of none).
pub fn settings_hint(code: mailcheck::Code) -> String {
    let flags: Vec<&str> = mailcheck::setting::settings_for(code)
        .iter()
        .map(|s| flag_for(*s))
        .collect();
    if flags.is_empty() {
        String::new()
    } else {
        format!(" (set with {})", flags.join(", "))
    }
}

impl Cli {
    /// The time-limit flags, in one place: `--timeout` for every step, then the per-step
    /// flags on top. Used for real runs and for `--demo` alike.
    pub fn apply_timeouts(&self, c: &mut mailcheck::CheckConfig) {
        if let Some(t) = self.timeout {
            c.set_timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            c.smtp.connect_timeout = t;
        }
        if let Some(t) = self.greeting_timeout {
            c.smtp.greeting_timeout = t;
        }
        if let Some(t) = self.command_timeout {
            c.smtp.command_timeout = t;
        }
    }

    /// Where the history is for this invocation (`None`: no history). A normal run (and the
    /// `history` subcommand) uses `--history`, else `MAILCHECK_HISTORY`, else the default file;
    /// `--demo` records only with an explicit `--history` (the lab's domains are not yours).
    pub fn history_location(
        &self,
    ) -> Result<Option<crate::history::Location>, crate::history::HistoryError> {
        let normal = !self.demo && !self.vantage;
        let env = if normal {
            std::env::var(crate::history::ENV).ok()
        } else {
            None
        };
        crate::history::choose(
            self.no_history,
            self.history.as_deref(),
            env.as_deref(),
            normal,
        )
    }

    /// The check configuration these flags ask for (reads `--ca-file`s).
    pub fn check_config(&self) -> Result<CheckConfig, AuditError> {
        let mut c = CheckConfig::default().allow_private(self.allow_private);
        c.dns.resolver = ResolverChoice::from_args(&self.resolver)
            .map_err(|e| AuditError::Usage(format!("--resolver: {e}")))?;
        c.auth.compare_resolvers = self
            .compare_resolver
            .iter()
            .map(|s| ResolverChoice::parse_server(s))
            .collect::<Result<_, _>>()
            .map_err(|e| AuditError::Usage(format!("--compare-resolver: {e}")))?;
        if self.no_dnsbl {
            c.dnsbl.enabled = false;
        } else if !self.dnsbl.is_empty() {
            c.dnsbl.zones = self
                .dnsbl
                .iter()
                .map(|z| z.trim().trim_end_matches('.').to_owned())
                .collect();
        }
        c.smtp.enabled = !self.no_smtp;
        c.auth.enabled = !self.no_auth;
        c.auth.trust_anchor.clone_from(&self.trust_anchor);
        c.smtp.port = self.smtp_port;
        c.auth.mta_sts_port = self.mta_sts_port;
        c.auth.ns_port = self.ns_port;
        if let Some(h) = &self.helo {
            c.smtp.helo_name = h.clone();
        }
        if let Some(m) = &self.mail_from {
            c.smtp.mail_from = m.clone();
        }
        c.smtp.open_relay_test = self.open_relay_test;
        c.smtp.source_ip = self.source_ip;
        if self.no_egress_check {
            c.egress.enabled = false;
        } else if !self.egress_canary.is_empty() {
            c.egress.canaries.clone_from(&self.egress_canary);
        }
        c.egress.public_ips.clone_from(&self.public_ip);
        for path in &self.ca_file {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| AuditError::input(path, None, format!("cannot read CA file: {e}")))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(AuditError::input(
                    path,
                    None,
                    "no PEM certificate (-----BEGIN CERTIFICATE-----) in the CA file",
                ));
            }
            c.smtp.extra_ca_pem.push(pem);
        }
        self.apply_timeouts(&mut c);
        if let Some(t) = self.connect_interval {
            c.smtp.min_connect_interval = t;
        }
        if let Some(t) = self.retry_backoff {
            c.smtp.retry_backoff = t;
        }
        if let Some(n) = self.sessions_per_ip {
            c.smtp.sessions_per_ip = n;
        }
        if let Some(n) = self.rcpts_per_transaction {
            c.smtp.max_rcpts_per_transaction = n;
        }
        if let Some(n) = self.max_mx_hosts {
            c.fan_out.max_hosts = n.into();
        }
        if let Some(n) = self.max_addresses_per_host {
            c.fan_out.max_addresses_per_host = n.into();
        }
        if let Some(n) = self.max_addresses {
            c.fan_out.max_addresses = n.into();
        }
        Ok(c)
    }
}
