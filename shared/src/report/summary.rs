//! The summaries a [`Report`](super::Report) carries for tables and CSV columns: per MX host
//! and address (PTR, SMTP and blocklist results in brief), and the domain's authentication and
//! TLS policy as short states (`spf`, `dmarc`, `mta_sts`, `dane`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::dnsbl::DnsblStatus;
use crate::facts::AddressScope;

/// Mail authentication and TLS policy of a domain in short states, for tables and CSV columns
/// (`spf`, `dmarc`, `mta_sts`, `dane`). Derived from the findings and facts; the findings
/// carry the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSummary {
    /// The SPF record's state.
    pub spf: SpfState,
    /// The DMARC policy, or why there is none.
    pub dmarc: DmarcState,
    /// The MTA-STS policy mode, or why there is none.
    pub mta_sts: MtaStsState,
    /// Whether DANE protects the MX hosts.
    pub dane: DaneState,
}

/// Defines a short-state enum of the report: serde and [`as_str`](SpfState::as_str) spell each
/// variant as given (the JSON and CSV words), `Display` the same.
macro_rules! states {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// The word in the JSON report and the CSV.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

states! {
    /// The SPF record of a domain in one word.
    SpfState {
        /// A single valid record that is not permissive.
        Ok = "ok",
        /// No `v=spf1` record.
        Missing = "missing",
        /// Several records, a syntax error or too many lookups (permerror).
        Invalid = "invalid",
        /// `+all`, `?all`, or neither `all` nor `redirect`.
        Permissive = "permissive",
        /// A lookup failed.
        Unknown = "unknown",
    }
}

states! {
    /// The DMARC policy of a domain in one word.
    DmarcState {
        /// `p=reject`.
        Reject = "reject",
        /// `p=quarantine`.
        Quarantine = "quarantine",
        /// `p=none` (monitoring only).
        None = "none",
        /// No DMARC record.
        Missing = "missing",
        /// The record does not parse, lacks `p=`, or there is more than one.
        Invalid = "invalid",
        /// The lookup failed, or no policy could be read.
        Unknown = "unknown",
    }
}

states! {
    /// The MTA-STS policy of a domain in one word.
    MtaStsState {
        /// Mode `enforce`.
        Enforce = "enforce",
        /// Mode `testing`.
        Testing = "testing",
        /// Mode `none`.
        None = "none",
        /// No MTA-STS policy.
        Missing = "missing",
        /// A malformed record, or a policy that cannot be fetched or parsed.
        Invalid = "invalid",
        /// No policy in force could be read.
        Unknown = "unknown",
    }
}

states! {
    /// DANE for the MX hosts of a domain in one word.
    DaneState {
        /// Validated TLSA records match the served chain.
        Valid = "valid",
        /// Validated TLSA records match no certificate served.
        Mismatch = "mismatch",
        /// TLSA records exist but cannot be used.
        Unusable = "unusable",
        /// DNSSEC validation fails.
        Bogus = "bogus",
        /// No TLSA records.
        None = "none",
        /// Not checked: no DNSSEC from our resolver.
        Unknown = "unknown",
    }
}

states! {
    /// The SMTP conversation with one address in one word: how the connection went, and when it
    /// went through, how far the conversation got.
    SmtpStatus {
        /// `RCPT TO:<postmaster@domain>` was accepted.
        Accepted = "accepted",
        /// A permanent refusal at MAIL (when MAIL was refused) or RCPT.
        Rejected = "rejected",
        /// A temporary (4xx) refusal at the step that decided.
        Tempfail = "tempfail",
        /// Greeted with 220, but no transaction was reached.
        Greeted = "greeted",
        /// The TCP connection was refused.
        Refused = "refused",
        /// The TCP connection timed out or had no route.
        Unreachable = "unreachable",
        /// Not reachable from here: our own outbound port 25 is blocked for this address family.
        EgressBlocked = "egress_blocked",
        /// The connection or the conversation failed otherwise.
        Error = "error",
        /// Connected, but no complete greeting arrived.
        NoGreeting = "no_greeting",
        /// The greeting was not 220 (a refusal of every client).
        GreetingRejected = "greeting_rejected",
        /// Not probed, for a reason the note gives (SMTP probing off, a private address, a cap,
        /// the same address under another name).
        Skipped = "skipped",
        /// Not finished: the check's deadline came first.
        Unfinished = "unfinished",
        /// Not probed, and no reason recorded.
        NotProbed = "not_probed",
    }
}

impl SmtpStatus {
    /// Whether a conversation was attempted: not skipped, not probed at all.
    pub const fn tested(self) -> bool {
        !matches!(self, Self::Skipped | Self::NotProbed)
    }
}

/// One mail host in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MxSummary {
    /// Host name.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// The domain itself, used because there is no MX.
    pub implicit: bool,
    /// Each address.
    pub addresses: Vec<AddressSummary>,
}

/// One address in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressSummary {
    /// The address.
    pub ip: IpAddr,
    /// Public or not.
    pub scope: AddressScope,
    /// PTR names.
    pub ptr: Vec<String>,
    /// Forward-confirmed reverse DNS: true/false, absent when unknown.
    pub fcrdns: Option<bool>,
    /// The SMTP conversation in brief.
    pub smtp: SmtpSummary,
    /// Each blocklist's verdict.
    pub dnsbl: Vec<DnsblSummary>,
}

/// The SMTP conversation in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSummary {
    /// How the connection and the conversation went.
    pub status: SmtpStatus,
    /// The first greeting line.
    pub banner: Option<String>,
    /// STARTTLS advertised.
    pub starttls: Option<bool>,
    /// TLS version negotiated.
    pub tls_version: Option<String>,
    /// Certificate verified without problems.
    pub cert_ok: Option<bool>,
    /// The last reply that mattered (e.g. the RCPT reply).
    pub last_reply: Option<String>,
    /// Why not probed.
    pub note: Option<String>,
}

/// One blocklist result in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblSummary {
    /// The zone.
    pub zone: String,
    /// The classified status.
    #[serde(flatten)]
    pub status: DnsblStatus,
}
