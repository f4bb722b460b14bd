//! DNS outcomes as the probes record them: a [`Lookup`] tells an answer from NXDOMAIN, NODATA
//! and a failure ([`DnsFailure`]); MX records and the A/AAAA pair of one name.

use std::net::IpAddr;

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

    /// A short description for evidence lines: `NXDOMAIN`, `NODATA`, `SERVFAIL (detail)`,
    /// `3 records`.
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
