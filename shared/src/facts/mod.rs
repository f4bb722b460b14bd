//! Facts: everything observed about one domain, recorded by the probes and read by the pure
//! diagnosis. Plain serde data, so a real case can be saved as JSON and replayed in a test.
//!
//! [`Facts`] and [`ProbeScope`] are here; the rest is grouped by what was observed, and every
//! type is re-exported here (`crate::facts::X`):
//! - `dns`: DNS outcomes told apart ([`Lookup`], [`DnsFailure`]), MX records, A/AAAA pairs;
//! - `host`: each mail host and its addresses: scope, reverse DNS, blocklist answers;
//! - `smtp`: one SMTP conversation: the connect, replies and steps, the transcript;
//! - `tls`: STARTTLS, the certificate chain and its problems, the legacy version probe;
//! - `vantage`: our own vantage point: egress per address family, public addresses, our sender
//!   domain.

mod dns;
mod host;
mod smtp;
mod tls;
mod vantage;

use serde::{Deserialize, Serialize};

pub use dns::{AddressLookups, DnsFailure, Lookup, MxRecord};
pub use host::{
    AddressFacts, AddressScope, DnsblCheck, ForwardCheck, HostFacts, PtrFacts, ZoneHealth,
};
pub use smtp::{
    ConnectOutcome, Greeting, NullSenderRetry, Reply, SmtpFacts, Speaker, Step, StepOutcome,
    TranscriptLine,
};
pub use tls::{CertFacts, CertProblem, LegacyTlsProbe, StartTlsFacts, TlsFacts};
pub use vantage::{
    CanaryProbe, EgressFacts, Family, PublicIp, PublicIpSource, SenderDomainFacts, VantageFacts,
};

/// What was asked of the probes, so the diagnosis knows what "not observed" means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeScope {
    /// SMTP conversations were attempted.
    pub smtp: bool,
    /// Blocklists were queried.
    pub dnsbl: bool,
    /// The open-relay test was enabled.
    pub open_relay_test: bool,
    /// Private/loopback addresses were allowed to be probed.
    pub allow_private: bool,
    /// The SMTP port probed.
    pub smtp_port: u16,
}

impl Default for ProbeScope {
    fn default() -> Self {
        Self {
            smtp: true,
            dnsbl: true,
            open_relay_test: false,
            allow_private: false,
            smtp_port: 25,
        }
    }
}

/// Everything observed about one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The normalised domain (ASCII).
    pub domain: String,
    /// When the observation was made (Unix seconds); the diagnosis uses it for certificate dates.
    pub observed_at: i64,
    /// Which probes ran.
    pub scope: ProbeScope,
    /// The resolver(s) used, for the record (`system` or `IP:PORT`).
    pub resolver: String,
    /// The MX query.
    pub mx: Lookup<MxRecord>,
    /// The domain's own A and AAAA, looked up only when the MX answer is empty (implicit MX).
    pub implicit: Option<AddressLookups>,
    /// Every mail host: the MX targets (or the domain itself for an implicit MX), by preference.
    pub hosts: Vec<HostFacts>,
    /// Per blocklist zone: the RFC 5782 canary self-test (made once per run).
    pub dnsbl_zones: Vec<ZoneHealth>,
    /// More hosts or addresses than the configured caps: these were listed, not probed.
    #[serde(default)]
    pub not_checked: Vec<String>,
    /// Our own vantage point (recorded once per run, copied into every domain's facts).
    #[serde(default)]
    pub vantage: VantageFacts,
    /// Mail authentication, transport policy and DNS consistency; `None` when not checked
    /// (turned off, or the domain itself does not resolve).
    #[serde(default)]
    pub auth: Option<crate::auth::AuthFacts>,
    /// The check stopped at its deadline before everything finished: what did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

impl Facts {
    /// An empty record for a domain, to be filled by the probes.
    pub fn new(domain: impl Into<String>, observed_at: i64, scope: ProbeScope) -> Self {
        Self {
            domain: domain.into(),
            observed_at,
            scope,
            resolver: String::new(),
            mx: Lookup::NoData,
            implicit: None,
            hosts: Vec::new(),
            dnsbl_zones: Vec::new(),
            not_checked: Vec::new(),
            partial: None,
            vantage: VantageFacts::default(),
            auth: None,
        }
    }

    /// Every probed address of every host.
    pub fn addresses(&self) -> impl Iterator<Item = (&HostFacts, &AddressFacts)> {
        self.hosts
            .iter()
            .flat_map(|h| h.addresses.iter().map(move |a| (h, a)))
    }
}
