//! Configuration of a check: which resolver, which blocklists, how to talk SMTP, timeouts, and the
//! diagnosis [`Policy`]. Plain data with sensible defaults; front-ends fill it from flags or files.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Knobs of the pure diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// A certificate expiring within this many days is `tls.cert_expiring`.
    pub cert_expiring_days: u32,
    /// A greeting slower than this many milliseconds is `smtp.slow_greeting`.
    pub slow_greeting_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            cert_expiring_days: 14,
            slow_greeting_ms: 10_000,
        }
    }
}

/// Which DNS server answers our queries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResolverChoice {
    /// The system's configuration (`/etc/resolv.conf`).
    #[default]
    System,
    /// These servers, tried in order (`IP` or `IP:PORT`; the port defaults to 53).
    Servers(Vec<SocketAddr>),
}

impl ResolverChoice {
    /// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`.
    pub fn parse_server(s: &str) -> Result<SocketAddr, crate::Error> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(sa);
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(SocketAddr::new(ip, 53));
        }
        Err(crate::Error::Config(format!(
            "resolver {s:?} is not IP or IP:PORT (e.g. 127.0.0.1:5353 or [::1]:53)"
        )))
    }

    /// How it is shown in reports.
    pub fn label(&self) -> String {
        match self {
            Self::System => "system resolver".to_owned(),
            Self::Servers(list) => list
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Convenience for front-ends: explicit servers from `IP[:PORT]` strings (empty: system).
    pub fn from_args<S: AsRef<str>>(servers: &[S]) -> Result<Self, crate::Error> {
        if servers.is_empty() {
            return Ok(Self::System);
        }
        servers
            .iter()
            .map(|s| Self::parse_server(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Servers)
    }
}

/// DNS settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    /// The resolver.
    pub resolver: ResolverChoice,
    /// Per-try timeout.
    pub timeout: Duration,
    /// Retries after the first try (total tries = attempts + 1).
    pub attempts: usize,
    /// Answers kept by the resolver, each for its TTL (0: no cache; every query asks the
    /// server). Identical queries in flight at the same time are always asked once.
    pub cache_size: u64,
    /// The most queries outstanding at the resolver at once: a burst beyond what a resolver's
    /// socket holds is dropped and costs a retransmission timeout.
    pub max_in_flight: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            resolver: ResolverChoice::System,
            timeout: Duration::from_secs(3),
            attempts: 1,
            cache_size: 8192,
            max_in_flight: 64,
        }
    }
}

/// The default sender: replaced by `postmaster@<our EHLO name>` when the probe starts.
pub const AUTO_SENDER: &str = "postmaster@{helo}";

/// SMTP probe settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    /// Probe SMTP at all.
    pub enabled: bool,
    /// The port (25).
    pub port: u16,
    /// Our EHLO name. Empty: this machine's FQDN.
    pub helo_name: String,
    /// The MAIL FROM address; empty or `<>` means the null sender; [`AUTO_SENDER`] (the
    /// default) means `postmaster@<our EHLO name>`.
    pub mail_from: String,
    /// After the postmaster probe, try an outside recipient (open-relay test).
    pub open_relay_test: bool,
    /// The outside recipient for the open-relay test.
    pub relay_test_rcpt: String,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time allowed for the complete greeting.
    pub greeting_timeout: Duration,
    /// Time allowed for each command's reply.
    pub command_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub tls_timeout: Duration,
    /// Overall deadline for one conversation.
    pub session_deadline: Duration,
    /// Extra trusted CA certificates, PEM (internal PKI, labs).
    pub extra_ca_pem: Vec<String>,
    /// Connect from this source address.
    pub source_ip: Option<IpAddr>,
    /// Minimum time between two new connections to the same address.
    pub min_connect_interval: Duration,
    /// How long an open session may idle, waiting to be reused for another domain, before QUIT.
    pub reuse_idle: Duration,
    /// How many domains one session may serve before it is closed and a new one opened.
    pub max_transactions_per_session: u32,
    /// How many refusals (4xx/5xx replies) one session may collect before a fresh one is
    /// opened, and so how many recipients a transaction may risk: within the servers' error
    /// budgets (Postfix starts slowing a client down after more than `smtpd_soft_error_limit`,
    /// 10).
    pub max_session_errors: u32,
    /// A transient outcome (timeout, 4xx, dropped connection) is retried once after this wait
    /// before it counts.
    pub retry_backoff: Duration,
    /// How many domains sharing an address share one transaction: one `MAIL FROM`, then one
    /// `RCPT TO:<postmaster@…>` per domain (1: a transaction per domain). Kept below the
    /// servers' error budgets.
    pub max_rcpts_per_transaction: u32,
    /// How many sessions may be open to one address at the same time (MTAs keep a few; 1 is
    /// the politest).
    pub sessions_per_ip: u32,
    /// Per-address budget: after a new connection to an address, no other new connection to it
    /// is opened for this long. A domain asking meanwhile is served on the open session if
    /// there is one; otherwise it gets that connection's facts (with their age) and no
    /// `RCPT TO` of its own (`smtp.incomplete`, saying why). Zero: no budget (the audit, where
    /// `min_connect_interval` spaces connections); the bot sets minutes, so chat users cannot
    /// make it hammer one server.
    pub address_budget: Duration,
    /// At most this many SMTP connections open at once across all addresses, idle ones
    /// included (0: no cap beyond `sessions_per_ip` per address).
    pub max_connections: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 25,
            helo_name: String::new(),
            mail_from: AUTO_SENDER.to_owned(),
            open_relay_test: false,
            relay_test_rcpt: "relay-test@mailcheck-relay-test.invalid".to_owned(),
            connect_timeout: Duration::from_secs(10),
            greeting_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(30),
            tls_timeout: Duration::from_secs(20),
            session_deadline: Duration::from_secs(90),
            extra_ca_pem: Vec::new(),
            source_ip: None,
            min_connect_interval: Duration::from_millis(500),
            reuse_idle: Duration::from_secs(5),
            max_transactions_per_session: 100,
            max_session_errors: 10,
            retry_backoff: Duration::from_secs(3),
            max_rcpts_per_transaction: 10,
            sessions_per_ip: 1,
            address_budget: Duration::ZERO,
            max_connections: 0,
        }
    }
}

/// Public-internet mail servers of unrelated providers that always listen on port 25: when
/// none of them can be reached, our own outbound port 25 is blocked. Each echoes our public
/// address in its EHLO reply.
pub const DEFAULT_CANARIES: &[&str] = &[
    "gmail-smtp-in.l.google.com",
    "outlook-com.olc.protection.outlook.com",
    "mta5.am0.yahoodns.net",
    "in1-smtp.messagingengine.com",
];

/// Our vantage point: the outbound port 25 check and what we know of our public identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EgressConfig {
    /// Check the canaries when an SMTP connect fails (timeout, refusal, no route).
    pub enabled: bool,
    /// Canary hosts, `host`, `host:port`, `IP`, `IP:port` or `[v6]:port` (port 25 by default);
    /// [`DEFAULT_CANARIES`] unless configured.
    pub canaries: Vec<String>,
    /// Connect (and greeting) timeout for a canary.
    pub timeout: Duration,
    /// Our public egress address(es), when known (behind NAT the local address is not it).
    /// Otherwise learned from the `[IP]` servers echo in their EHLO replies.
    pub public_ips: Vec<IpAddr>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            canaries: DEFAULT_CANARIES.iter().map(|c| (*c).to_owned()).collect(),
            timeout: Duration::from_secs(5),
            public_ips: Vec::new(),
        }
    }
}

/// How much of a domain's MX set is probed: more hosts or addresses are listed, not probed
/// (`mx.not_all_checked`), so one check never turns into a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FanOut {
    /// MX hosts probed, by preference.
    pub max_hosts: usize,
    /// Addresses probed per host.
    pub max_addresses_per_host: usize,
    /// Addresses probed per domain.
    pub max_addresses: usize,
}

impl Default for FanOut {
    fn default() -> Self {
        Self {
            max_hosts: 10,
            max_addresses_per_host: 4,
            max_addresses: 16,
        }
    }
}

/// Blocklist settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsblConfig {
    /// Query blocklists at all.
    pub enabled: bool,
    /// The zones; see [`crate::dnsbl::DEFAULT_ZONES`].
    pub zones: Vec<String>,
}

impl Default for DnsblConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            zones: crate::dnsbl::DEFAULT_ZONES
                .iter()
                .map(|z| (*z).to_owned())
                .collect(),
        }
    }
}

/// The authentication, transport policy and DNS consistency checks (SPF, DMARC, TLS-RPT,
/// MTA-STS, DNSSEC/DANE, authoritative name servers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Run them at all (`--no-auth` turns them off).
    pub enabled: bool,
    /// The HTTPS port of `mta-sts.<domain>` (443; labs serve policies elsewhere).
    pub mta_sts_port: u16,
    /// Time allowed for one MTA-STS policy fetch (connection, TLS and body together).
    pub https_timeout: Duration,
    /// Extra DNSSEC trust anchors, trusted besides the IANA root keys (labs, internal zones):
    /// DNSKEY records in zone-file syntax (`lab. 3600 IN DNSKEY 257 3 15 <base64>`; an owner
    /// of `.` replaces nothing, it adds a root key), or the path of a file holding such
    /// records. A value containing `DNSKEY` is taken as the records themselves. DS records
    /// are not accepted (hickory's trust-anchor reader takes DNSKEY only).
    pub trust_anchor: Option<String>,
    /// Resolvers (`IP:PORT`) also asked for the domain's MX records, with recursion, to compare
    /// with its authoritative name servers (`dns.inconsistent`): e.g. the public resolver the
    /// senders that matter use. Empty: only the resolver in use is compared.
    pub compare_resolvers: Vec<SocketAddr>,
    /// The port the domain's name servers are asked on directly (53). Labs and tests only:
    /// their name servers listen on loopback addresses at another port, the same for all.
    pub ns_port: u16,
    /// How long one direct query to a name server or compared resolver waits for its reply
    /// (it is sent twice before it counts as a timeout).
    pub ns_timeout: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mta_sts_port: 443,
            https_timeout: Duration::from_secs(10),
            trust_anchor: None,
            compare_resolvers: Vec::new(),
            ns_port: 53,
            ns_timeout: Duration::from_secs(2),
        }
    }
}

/// Everything a [`crate::Checker`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckConfig {
    /// DNS.
    pub dns: DnsConfig,
    /// Blocklists.
    pub dnsbl: DnsblConfig,
    /// SMTP.
    pub smtp: SmtpConfig,
    /// Vantage point.
    pub egress: EgressConfig,
    /// How many MX hosts and addresses are probed.
    pub fan_out: FanOut,
    /// Mail authentication and transport policy checks.
    pub auth: AuthConfig,
    /// Diagnosis knobs.
    pub policy: Policy,
    /// Private, loopback and reserved addresses are targets like any other (labs, internal
    /// audits): MX addresses are probed over SMTP, name servers asked directly, MTA-STS policy
    /// hosts fetched, a sender address checked, and the diagnosis expects them (no
    /// `mx.private_address`; it reads the choice back from [`crate::facts::ProbeScope`]).
    /// Otherwise such addresses are reported but never connected to: nobody on the Internet can
    /// reach them. The one home of this choice; set it with [`CheckConfig::allow_private()`].
    pub allow_private: bool,
    /// How long per-run caches (DNS answers, blocklist answers, pooled SMTP sessions and
    /// remembered failures) live. `None`: the checker's whole life (one audit run). A long-lived
    /// checker such as the bot sets a few minutes so changes are seen.
    pub cache_ttl: Option<Duration>,
}

impl CheckConfig {
    /// Allows private/loopback addresses everywhere (probe and diagnosis): labs, internal audits.
    #[must_use]
    pub fn allow_private(mut self, yes: bool) -> Self {
        self.allow_private = yes;
        self
    }

    /// One time limit for every network step: each DNS query, the SMTP connect, greeting,
    /// command replies and TLS handshake, and the egress check (what a single `--timeout`
    /// sets; per-step settings may then refine it).
    pub fn set_timeout(&mut self, t: Duration) {
        self.dns.timeout = t;
        self.smtp.connect_timeout = t;
        self.smtp.greeting_timeout = t;
        self.smtp.command_timeout = t;
        self.smtp.tls_timeout = t;
        self.egress.timeout = t;
    }
}

#[cfg(test)]
mod tests;
