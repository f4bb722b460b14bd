//! Facts: everything observed about one domain, recorded by the probes and read by the pure
//! diagnosis. Plain serde data, so a real case can be saved as JSON and replayed in a test.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// Why a DNS lookup produced no answer we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// The resolver answered SERVFAIL.
    ServFail,
    /// The resolver answered REFUSED.
    Refused,
    /// No answer in time.
    Timeout,
    /// Anything else (I/O error, malformed answer).
    Other,
}

impl DnsFailure {
    /// Human spelling, as dig would print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServFail => "SERVFAIL",
            Self::Refused => "REFUSED",
            Self::Timeout => "timeout",
            Self::Other => "error",
        }
    }
}

/// The outcome of one DNS query, told apart the way mail needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Lookup<T> {
    /// NOERROR with records.
    Answer {
        /// The records, in the order the resolver gave them.
        records: Vec<T>,
    },
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of this type.
    NoData,
    /// The lookup failed; we do not know.
    Failed {
        /// Which failure.
        failure: DnsFailure,
        /// The resolver's own words.
        detail: String,
    },
}

impl<T> Lookup<T> {
    /// The records of an answer; empty otherwise.
    pub fn records(&self) -> &[T] {
        match self {
            Self::Answer { records } => records,
            _ => &[],
        }
    }

    /// Whether the lookup failed (as opposed to a definite negative answer).
    pub const fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }

    /// Whether the answer says definitely "nothing here" (NXDOMAIN or NODATA, or an empty answer).
    pub fn is_negative(&self) -> bool {
        match self {
            Self::NxDomain | Self::NoData => true,
            Self::Answer { records } => records.is_empty(),
            Self::Failed { .. } => false,
        }
    }

    /// A short description for evidence lines: `NXDOMAIN`, `NODATA`, `SERVFAIL (detail)`, `3 records`.
    pub fn describe(&self) -> String {
        match self {
            Self::Answer { records } => format!("{} record(s)", records.len()),
            Self::NxDomain => "NXDOMAIN".to_owned(),
            Self::NoData => "NOERROR, no records (NODATA)".to_owned(),
            Self::Failed { failure, detail } if detail.is_empty() => failure.as_str().to_owned(),
            Self::Failed { failure, detail } => format!("{} ({detail})", failure.as_str()),
        }
    }

    /// Maps the records.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Lookup<U> {
        match self {
            Self::Answer { records } => Lookup::Answer {
                records: records.into_iter().map(f).collect(),
            },
            Self::NxDomain => Lookup::NxDomain,
            Self::NoData => Lookup::NoData,
            Self::Failed { failure, detail } => Lookup::Failed { failure, detail },
        }
    }
}

/// One MX record as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxRecord {
    /// Lower is preferred.
    pub preference: u16,
    /// The exchange host, lower case, without the trailing dot; `.` for a null MX.
    pub exchange: String,
}

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

/// A and AAAA lookups of one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressLookups {
    /// The A query.
    pub a: Lookup<IpAddr>,
    /// The AAAA query.
    pub aaaa: Lookup<IpAddr>,
}

impl AddressLookups {
    /// All addresses found, A first.
    pub fn ips(&self) -> Vec<IpAddr> {
        self.a
            .records()
            .iter()
            .chain(self.aaaa.records())
            .copied()
            .collect()
    }

    /// Whether both lookups came back with a definite negative answer.
    pub fn both_negative(&self) -> bool {
        self.a.is_negative() && self.aaaa.is_negative()
    }

    /// Whether either lookup failed.
    pub fn any_failed(&self) -> bool {
        self.a.is_failed() || self.aaaa.is_failed()
    }

    /// Whether either lookup says the name does not exist.
    pub fn nxdomain(&self) -> bool {
        matches!(self.a, Lookup::NxDomain) || matches!(self.aaaa, Lookup::NxDomain)
    }
}

/// One mail host of the domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The host name (lower case, no trailing dot).
    pub host: String,
    /// Its MX preference (0 for an implicit MX).
    pub preference: u16,
    /// True when there is no MX and the domain itself is the mail host (RFC 5321 §5.1).
    pub implicit: bool,
    /// The name is an IP address written as a name (`MX 10 192.0.2.1`).
    pub ip_literal: bool,
    /// The CNAME chain if the host is an alias (names the resolver followed), else empty.
    pub cname_chain: Vec<String>,
    /// Its A and AAAA lookups.
    pub lookups: AddressLookups,
    /// Every address found, with what was observed about it.
    pub addresses: Vec<AddressFacts>,
}

/// How an address may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressScope {
    /// A public, routable address.
    Public,
    /// Loopback (127.0.0.0/8, ::1).
    Loopback,
    /// RFC 1918 / unique local.
    Private,
    /// Link-local.
    LinkLocal,
    /// Documentation (including IPv6 2001:db8::/32 and 3fff::/20), benchmarking, shared,
    /// multicast, unspecified or otherwise reserved.
    Reserved,
}

impl AddressScope {
    /// Classifies an address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_loopback() {
                    Self::Loopback
                } else if v4.is_private() {
                    Self::Private
                } else if v4.is_link_local() {
                    Self::LinkLocal
                } else if v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.is_documentation()
                    || o[0] == 0
                    || o[0] >= 240
                    || (o[0] == 100 && (o[1] & 0xc0) == 64)
                    || (o[0] == 198 && (o[1] & 0xfe) == 18)
                    || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Self::of(IpAddr::V4(v4));
                }
                let seg = v6.segments();
                if v6.is_loopback() {
                    Self::Loopback
                } else if (seg[0] & 0xfe00) == 0xfc00 {
                    Self::Private
                } else if (seg[0] & 0xffc0) == 0xfe80 {
                    Self::LinkLocal
                } else if v6.is_unspecified()
                    || v6.is_multicast()
                    || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                    || (seg[0] == 0x3fff && seg[1] < 0x1000)
                    || (seg[0] & 0xe000) != 0x2000
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
        }
    }

    /// Whether the address is not publicly routable.
    pub const fn is_private(self) -> bool {
        !matches!(self, Self::Public)
    }

    /// Human spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Reserved => "reserved",
        }
    }
}

/// What was observed about one address of a mail host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressFacts {
    /// The address.
    pub ip: IpAddr,
    /// Public, private, loopback…
    pub scope: AddressScope,
    /// Reverse DNS, if looked up.
    pub ptr: Option<PtrFacts>,
    /// Blocklist answers for this address, one per zone.
    pub dnsbl: Vec<DnsblCheck>,
    /// The SMTP conversation, if one was attempted.
    pub smtp: Option<SmtpFacts>,
    /// Why no SMTP conversation was attempted, when it was not.
    pub smtp_skipped: Option<String>,
    /// Why the probe of this address did not finish (the check's deadline came first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
}

impl AddressFacts {
    /// A record for an address with nothing observed yet.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            scope: AddressScope::of(ip),
            ptr: None,
            dnsbl: Vec::new(),
            smtp: None,
            smtp_skipped: None,
            unfinished: None,
        }
    }
}

/// Reverse DNS of an address and the forward check of each PTR name (FCrDNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrFacts {
    /// The PTR query (names lower case, no trailing dot).
    pub lookup: Lookup<String>,
    /// For each PTR name, its A (IPv4) or AAAA (IPv6) lookup.
    pub forward: Vec<ForwardCheck>,
}

impl PtrFacts {
    /// The PTR names.
    pub fn names(&self) -> &[String] {
        self.lookup.records()
    }

    /// `Some(true)` when a PTR name resolves back to `ip`, `Some(false)` when none does (and
    /// all forward lookups answered), `None` when it cannot be told.
    pub fn confirms(&self, ip: IpAddr) -> Option<bool> {
        if self
            .forward
            .iter()
            .any(|f| f.lookup.records().contains(&ip))
        {
            return Some(true);
        }
        if self.names().is_empty() || self.forward.iter().any(|f| f.lookup.is_failed()) {
            return None;
        }
        Some(false)
    }
}

/// A forward lookup of one PTR name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardCheck {
    /// The PTR name.
    pub name: String,
    /// Its A or AAAA lookup (the family of the address being checked).
    pub lookup: Lookup<IpAddr>,
}

/// The RFC 5782 self-test of one blocklist zone, made once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneHealth {
    /// The zone, e.g. `zen.spamhaus.org`.
    pub zone: String,
    /// The positive test point (127.0.0.2) lookup: must be listed.
    pub positive: Lookup<std::net::Ipv4Addr>,
    /// The negative test point (127.0.0.1) lookup: must not be listed.
    pub negative: Lookup<std::net::Ipv4Addr>,
    /// The IPv6 positive test point (`::ffff:7f00:2`), for lists that cover IPv6.
    #[serde(default)]
    pub positive_v6: Option<Lookup<std::net::Ipv4Addr>>,
    /// The IPv6 negative test point (`::ffff:7f00:1`), for lists that cover IPv6.
    #[serde(default)]
    pub negative_v6: Option<Lookup<std::net::Ipv4Addr>>,
}

/// One blocklist query for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblCheck {
    /// The zone.
    pub zone: String,
    /// The name queried (reversed address + zone), empty when not queried.
    pub query: String,
    /// The A answer; `None` when the list does not cover this address family.
    pub answer: Option<Lookup<std::net::Ipv4Addr>>,
    /// TXT explanation, if the address is listed and the list publishes one.
    pub txt: Vec<String>,
}

/// How a TCP connect ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// Connected.
    Connected {
        /// Our side of the connection (the prober's address).
        local: SocketAddr,
        /// How long the connect took.
        ms: u64,
    },
    /// RST: nothing listens.
    Refused,
    /// No answer within the connect timeout (a filter dropping SYNs).
    TimedOut {
        /// The timeout that expired.
        ms: u64,
    },
    /// No route / network unreachable / host unreachable.
    Unreachable {
        /// The OS's words.
        detail: String,
    },
    /// Another error (e.g. binding the source address failed).
    Error {
        /// The OS's words.
        detail: String,
    },
}

/// An SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (`5.7.1`) right after the code on the first line, if any.
    pub enhanced: Option<String>,
    /// The reply lines as received (code included), sanitised and bounded.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub const fn is_positive(&self) -> bool {
        self.code >= 200 && self.code < 300
    }

    /// 4xx.
    pub const fn is_transient(&self) -> bool {
        self.code >= 400 && self.code < 500
    }

    /// 5xx.
    pub const fn is_permanent(&self) -> bool {
        self.code >= 500 && self.code < 600
    }

    /// The text of all lines without the code prefixes, joined with spaces.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.get(4..).unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// All lines joined with ` / ` for one-line evidence.
    pub fn one_line(&self) -> String {
        self.lines.join(" / ")
    }
}

/// How one SMTP command ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepOutcome {
    /// A complete reply arrived.
    Replied {
        /// The reply.
        reply: Reply,
    },
    /// The server closed the connection instead of replying.
    Closed,
    /// No complete reply in time.
    TimedOut,
    /// The reply broke the protocol (too long, not a reply, garbage) or I/O failed.
    Broken {
        /// What was wrong.
        detail: String,
    },
}

/// One command and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The command as sent (without CRLF).
    pub command: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Milliseconds from sending the command to the end of the reply.
    pub ms: u64,
}

impl Step {
    /// The reply, if one arrived.
    pub const fn reply(&self) -> Option<&Reply> {
        match &self.outcome {
            StepOutcome::Replied { reply } => Some(reply),
            _ => None,
        }
    }

    /// Whether the reply was 2xx.
    pub fn accepted(&self) -> bool {
        self.reply().is_some_and(Reply::is_positive)
    }
}

/// The greeting, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Greeting {
    /// How reading the greeting ended.
    pub outcome: StepOutcome,
    /// Milliseconds from the completed TCP connect to the complete greeting (or to giving up).
    pub ms: u64,
    /// The greeting hostname (first word after the code), when it has one that looks like a name.
    pub hostname: Option<String>,
    /// The A/AAAA lookups of that hostname.
    pub hostname_lookups: Option<AddressLookups>,
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Speaker {
    /// Us.
    #[serde(rename = "C")]
    Client,
    /// The server.
    #[serde(rename = "S")]
    Server,
    /// A note of ours (connects, TLS, timeouts).
    #[serde(rename = "*")]
    Note,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Who.
    pub who: Speaker,
    /// Milliseconds since the connect started.
    pub at_ms: u64,
    /// The line (sanitised, bounded).
    pub text: String,
}

/// A certificate as presented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// DNS names (SANs).
    pub dns_names: Vec<String>,
    /// Not valid before (Unix seconds).
    pub not_before: i64,
    /// Not valid after (Unix seconds).
    pub not_after: i64,
    /// SHA-256 of the whole certificate (DER), lower-case hex: what a TLSA record with
    /// selector 0 and matching type 1 publishes. Empty in facts recorded before digests were.
    /// A TLSA record with matching type 0 (the full DER) is compared by hashing its data with
    /// SHA-256 and comparing with this digest, so the certificate itself need not be kept.
    #[serde(default)]
    pub sha256: String,
    /// SHA-512 of the whole certificate (DER), lower-case hex (selector 0, matching type 2).
    #[serde(default)]
    pub sha512: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lower-case hex (selector 1,
    /// matching type 1; type 0 compares the SHA-256 of the data, as for [`Self::sha256`]).
    #[serde(default)]
    pub spki_sha256: String,
    /// SHA-512 of the SubjectPublicKeyInfo (DER), lower-case hex (selector 1, matching type 2).
    #[serde(default)]
    pub spki_sha512: String,
}

/// One thing wrong with the certificate, as the verifier saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CertProblem {
    /// The chain does not lead to a trusted root.
    Untrusted {
        /// The verifier's words.
        detail: String,
    },
    /// Expired or not yet valid.
    Expired {
        /// The verifier's words.
        detail: String,
    },
    /// The certificate does not cover the name we connected to.
    NameMismatch {
        /// The name we expected.
        expected: String,
        /// The names presented.
        presented: Vec<String>,
    },
    /// Anything else.
    Other {
        /// The verifier's words.
        detail: String,
    },
}

/// What TLS looked like after STARTTLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    /// `TLSv1.3`, `TLSv1.2`, …
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
    /// The chain as presented, leaf first.
    pub chain: Vec<CertFacts>,
    /// Every verification problem found (none for a good certificate).
    pub problems: Vec<CertProblem>,
    /// The name verified against (the MX host name).
    pub verified_name: String,
}

/// The STARTTLS step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTlsFacts {
    /// The STARTTLS command and its reply.
    pub command: Step,
    /// The handshake result: facts on success, the error text on failure.
    pub handshake: Option<Result<TlsFacts, String>>,
    /// The EHLO sent again inside TLS.
    pub ehlo: Option<Step>,
    /// After a handshake that failed on versions or ciphers, the minimal version probe.
    #[serde(default)]
    pub legacy: Option<LegacyTlsProbe>,
}

/// The version probe made when a handshake failed on protocol versions or ciphers we do not
/// speak: a minimal TLS 1.0–1.2 ClientHello of our own, reading only the ServerHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTlsProbe {
    /// The alert or error that made us probe.
    pub trigger: String,
    /// The version the server chose (`TLSv1.0`, `TLSv1.1`, …), or what happened instead.
    pub outcome: Result<String, String>,
}

impl LegacyTlsProbe {
    /// Whether the server chose a version below TLS 1.2.
    pub fn legacy_only(&self) -> bool {
        matches!(&self.outcome, Ok(v) if matches!(v.as_str(), "SSLv3" | "TLSv1.0" | "TLSv1.1"))
    }
}

/// One SMTP conversation with one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpFacts {
    /// The port.
    pub port: u16,
    /// The MX host name this address belongs to (used for TLS name checks).
    pub host: String,
    /// The TCP connect.
    pub connect: ConnectOutcome,
    /// The greeting.
    pub greeting: Option<Greeting>,
    /// `EHLO <our name>`.
    pub ehlo: Option<Step>,
    /// `HELO <our name>`, sent when EHLO got 500/502.
    pub helo: Option<Step>,
    /// Extensions advertised in the last EHLO (keywords upper case, with parameters).
    pub extensions: Vec<String>,
    /// Our address as the server saw it, echoed in its EHLO/HELO reply (`Hello name [IP]`).
    #[serde(default)]
    pub echoed_ip: Option<IpAddr>,
    /// The STARTTLS step, when it was advertised.
    pub starttls: Option<StartTlsFacts>,
    /// After a failed STARTTLS the probe reconnects once without TLS, as senders do.
    pub retried_without_tls: bool,
    /// `MAIL FROM:<…>`.
    pub mail: Option<Step>,
    /// `MAIL FROM` went out in one write with `RCPT TO` (PIPELINING): a drop after it cannot be
    /// pinned on `MAIL`.
    #[serde(default)]
    pub mail_pipelined: bool,
    /// `RCPT TO:<postmaster@domain>`.
    pub rcpt: Option<Step>,
    /// The transaction retried with the null sender `<>` after our sender was refused.
    #[serde(default)]
    pub null_sender: Option<NullSenderRetry>,
    /// The domain whose postmaster was asked for.
    pub rcpt_domain: String,
    /// The open-relay test recipient, when enabled.
    pub relay_test: Option<Step>,
    /// `RSET`, `QUIT`.
    pub closing: Vec<Step>,
    /// The session was reused from an earlier domain's check (same address, same run).
    pub reused_session: bool,
    /// How many domains shared this transaction (one `MAIL FROM`, one `RCPT TO` each); 0 or 1:
    /// it was this domain's alone.
    #[serde(default)]
    pub transaction_domains: u32,
    /// The MX name the session was opened for, when it is not `host`: the address presented
    /// the same certificate chain for two of its names (it ignores SNI), so its names share
    /// sessions, and the certificate was checked for `host`.
    #[serde(default)]
    pub session_host: Option<String>,
    /// Earlier attempts that ended transiently (timeout, 4xx, drop) and were retried once after
    /// a back-off; what each saw, in order. These facts are of the last attempt.
    #[serde(default)]
    pub retried: Vec<String>,
    /// The whole conversation, `C:`/`S:` style.
    pub transcript: Vec<TranscriptLine>,
    /// Milliseconds the whole conversation took.
    pub elapsed_ms: u64,
}

impl SmtpFacts {
    /// A conversation that has not started.
    pub fn new(host: impl Into<String>, port: u16, connect: ConnectOutcome) -> Self {
        Self {
            port,
            host: host.into(),
            connect,
            greeting: None,
            ehlo: None,
            helo: None,
            extensions: Vec::new(),
            starttls: None,
            retried_without_tls: false,
            echoed_ip: None,
            mail: None,
            mail_pipelined: false,
            rcpt: None,
            null_sender: None,
            rcpt_domain: String::new(),
            relay_test: None,
            closing: Vec::new(),
            reused_session: false,
            transaction_domains: 0,
            session_host: None,
            retried: Vec::new(),
            transcript: Vec::new(),
            elapsed_ms: 0,
        }
    }

    /// The local address of the connection, if it connected.
    pub const fn local_addr(&self) -> Option<SocketAddr> {
        match &self.connect {
            ConnectOutcome::Connected { local, .. } => Some(*local),
            _ => None,
        }
    }

    /// Whether the recipient `postmaster@domain` was accepted (in a transaction whose
    /// `MAIL FROM` was accepted: a pipelined RCPT reply after a refused MAIL means nothing),
    /// with our sender or with the null sender.
    pub fn accepted_postmaster(&self) -> bool {
        let ours = self.mail.as_ref().is_some_and(Step::accepted)
            && self.rcpt.as_ref().is_some_and(Step::accepted);
        ours || self
            .null_sender
            .as_ref()
            .is_some_and(NullSenderRetry::accepted)
    }

    /// The `MAIL` and `RCPT` steps that decide the result: those of the null-sender retry when
    /// there was one, else ours.
    pub fn final_transaction(&self) -> (Option<&Step>, Option<&Step>) {
        match &self.null_sender {
            Some(retry) => (Some(&retry.mail), retry.rcpt.as_ref()),
            None => (self.mail.as_ref(), self.rcpt.as_ref()),
        }
    }

    /// Whether a `RCPT TO` reply arrived (with our sender or the null sender).
    pub fn reached_rcpt(&self) -> bool {
        let (_, rcpt) = self.final_transaction();
        rcpt.is_some_and(|r| r.reply().is_some())
            || self.rcpt.as_ref().is_some_and(|r| r.reply().is_some())
    }

    /// The TLS facts, if a handshake completed.
    pub fn tls(&self) -> Option<&TlsFacts> {
        self.starttls
            .as_ref()
            .and_then(|s| s.handshake.as_ref())
            .and_then(|h| h.as_ref().ok())
    }

    /// Whether STARTTLS was advertised (in the first EHLO).
    pub fn advertises_starttls(&self) -> bool {
        self.starttls.is_some()
            || self
                .extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case("STARTTLS"))
    }

    /// The transcript as text, one `C: `/`S: `/`* ` line each.
    pub fn transcript_text(&self) -> String {
        let mut out = String::new();
        for line in &self.transcript {
            let who = match line.who {
                Speaker::Client => "C: ",
                Speaker::Server => "S: ",
                Speaker::Note => "*  ",
            };
            out.push_str(who);
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }
}

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// The family of an address.
    pub const fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::Ipv4,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Self::Ipv4,
            IpAddr::V6(_) => Self::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        }
    }
}

/// One canary connection made to check our own outbound port 25.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryProbe {
    /// `host:port` as configured.
    pub target: String,
    /// The address tried, when the name resolved to one of this family.
    #[serde(default)]
    pub addr: Option<SocketAddr>,
    /// How the connect ended (a failed name resolution is `Error`).
    pub outcome: ConnectOutcome,
    /// The greeting line, when the canary greeted.
    #[serde(default)]
    pub greeting: Option<String>,
    /// Our address as the canary echoed it in its EHLO reply.
    #[serde(default)]
    pub echoed_ip: Option<IpAddr>,
}

/// Outbound port 25 over one address family, from canary hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressFacts {
    /// The family checked.
    pub family: Family,
    /// The canaries tried over that family.
    pub canaries: Vec<CanaryProbe>,
}

impl EgressFacts {
    /// Port 25 looks blocked over this family: canaries were tried and none connected.
    pub fn blocked(&self) -> bool {
        let tried: Vec<_> = self.canaries.iter().filter(|c| c.addr.is_some()).collect();
        !tried.is_empty()
            && tried
                .iter()
                .all(|c| !matches!(c.outcome, ConnectOutcome::Connected { .. }))
    }

    /// Whether a canary connected over this family.
    pub fn open(&self) -> bool {
        self.canaries
            .iter()
            .any(|c| matches!(c.outcome, ConnectOutcome::Connected { .. }))
    }
}

/// How we know one of our public addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublicIpSource {
    /// Configured by the operator (`public_ip`).
    Configured,
    /// A server echoed it in its EHLO reply (`Hello name [IP]`).
    Echoed {
        /// Which server (MX host or canary).
        by: String,
    },
    /// The local address of our connections is itself public (no NAT).
    Local,
}

/// One of our public egress addresses and what receivers see when they look it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIp {
    /// The address.
    pub ip: IpAddr,
    /// How we know it.
    pub source: PublicIpSource,
    /// Its reverse DNS and the forward check of each PTR name.
    pub ptr: Option<PtrFacts>,
    /// Its blocklist answers, one per configured zone.
    pub dnsbl: Vec<DnsblCheck>,
}

/// Whether our sender domain can receive the bounces strict receivers verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderDomainFacts {
    /// The domain part of our `MAIL FROM`.
    pub domain: String,
    /// Its MX query.
    pub mx: Lookup<MxRecord>,
    /// Its own A/AAAA (looked up when it has no MX).
    pub addresses: Option<AddressLookups>,
}

impl SenderDomainFacts {
    /// `Some(true)` when the domain has an MX or an address, `Some(false)` when DNS says it has
    /// neither, `None` when a lookup failed.
    pub fn resolves(&self) -> Option<bool> {
        match &self.mx {
            Lookup::Answer { records }
                if records.iter().all(|r| r.exchange == ".") && !records.is_empty() =>
            {
                return Some(false);
            }
            Lookup::Answer { records } if !records.is_empty() => return Some(true),
            Lookup::Failed { .. } => return None,
            Lookup::NxDomain => return Some(false),
            _ => {}
        }
        let a = self.addresses.as_ref()?;
        if !a.ips().is_empty() {
            Some(true)
        } else if a.any_failed() {
            None
        } else {
            Some(false)
        }
    }
}

/// Our own vantage point: what the probe knows about itself, recorded once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VantageFacts {
    /// Outbound port 25, per address family checked (a family is checked when a connect over
    /// it failed, or by `--vantage`).
    pub egress: Vec<EgressFacts>,
    /// Our public egress addresses, configured or learned.
    pub public_ips: Vec<PublicIp>,
    /// Our EHLO name.
    pub helo_name: String,
    /// Its A and AAAA lookups.
    pub helo_lookups: Option<AddressLookups>,
    /// Our `MAIL FROM` address (empty: the null sender).
    pub mail_from: String,
    /// Our sender domain's DNS.
    pub sender_domain: Option<SenderDomainFacts>,
}

impl VantageFacts {
    /// The egress check of a family, when it was made.
    pub fn egress(&self, family: Family) -> Option<&EgressFacts> {
        self.egress.iter().find(|e| e.family == family)
    }

    /// Whether outbound port 25 is known to be blocked over `family`.
    pub fn egress_blocked(&self, family: Family) -> bool {
        self.egress(family).is_some_and(EgressFacts::blocked)
    }

    /// Our public addresses.
    pub fn public_addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.public_ips.iter().map(|p| p.ip)
    }
}

/// A transaction retried with the null sender `<>` after our sender address was refused
/// (RFC 5321 §4.5.5 requires receivers to accept `<>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullSenderRetry {
    /// `MAIL FROM:<>`.
    pub mail: Step,
    /// `RCPT TO:<postmaster@domain>`, when `MAIL` was accepted.
    pub rcpt: Option<Step>,
}

impl NullSenderRetry {
    /// Whether `<>` and then postmaster were accepted.
    pub fn accepted(&self) -> bool {
        self.mail.accepted() && self.rcpt.as_ref().is_some_and(Step::accepted)
    }
}
