//! SPF (RFC 7208): which hosts a domain allows to send its mail, and whether a given address is
//! one of them.
//!
//! A self-contained building block: nothing here is wired into [`crate::Facts`] or the diagnosis
//! yet, but [`SpfFacts`] is plain serde data made to go there.
//!
//! - [`record`]: the pure parser of one `v=spf1` record (§4.5, §4.6, §5, §6, §12), bounded,
//!   with the term and position where it breaks.
//! - [`macros`]: macro strings (§7): parsing, the `%{s l o d i p h c r t v}` expansion with
//!   transformers and delimiters, URL escaping.
//! - [`name`]: domain-name checks (§4.3 initial processing, §7.3 truncation) and reverse names.
//! - [`dns`]: [`SpfDns`], the five lookups SPF needs, and [`DnsSourceAdapter`] over the library's
//!   [`crate::probe::dns::DnsSource`].
//! - [`zone`]: [`MemoryZone`], an in-memory [`SpfDns`] for tests and "what if" evaluations.
//! - [`eval`]: [`check_host`] (§4–§6) with its [`SpfTrace`]: the include/redirect tree, the
//!   DNS-querying terms (10 at most, §4.6.4), void lookups (2 at most), loops, `exp=`.
//! - [`tree`]: the whole include/redirect tree of a domain independent of any address, and the
//!   pure [`lookup_count`] a receiver reaches for a sender that matches late or never.

pub mod dns;
pub mod eval;
pub mod macros;
pub mod name;
pub mod record;
pub mod tree;
pub mod zone;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use dns::{DnsSourceAdapter, SpfDns};
pub use eval::{
    SpfEvaluation, SpfOptions, SpfTrace, TraceNode, Via, check_host, check_host_with, check_sender,
    sender_identity,
};
pub use record::{ParseError, ParseErrorKind, Record, parse_record};
pub use tree::{LookupCount, NodeStatus, PolicyNode, SpfTree, lookup_count, resolve_tree};
pub use zone::MemoryZone;

/// The most DNS-querying terms (`include a mx ptr exists redirect`) one check may reach (§4.6.4).
pub const MAX_DNS_TERMS: u32 = 10;

/// The most void lookups (NXDOMAIN or an empty answer) one check may see (§4.6.4).
pub const MAX_VOID_LOOKUPS: u32 = 2;

/// The most MX names an `mx` term may look up, and PTR names a `ptr` term or `%{p}` may use
/// (§4.6.4).
pub const MAX_NAME_LOOKUPS: usize = 10;

/// The result of `check_host()` (RFC 7208 §2.6), in the RFC's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    /// The address is authorized.
    Pass,
    /// The address is explicitly not authorized.
    Fail,
    /// Probably not authorized (`~`): a weak statement.
    SoftFail,
    /// The domain makes no assertion about the address (`?`, or nothing matched).
    Neutral,
    /// No SPF record, or the domain is not a usable name.
    None,
    /// The published records cannot be interpreted: syntax errors, limits exceeded, loops.
    PermError,
    /// A transient (DNS) error: try again later.
    TempError,
}

impl SpfResult {
    /// The RFC's word: `pass`, `fail`, `softfail`, `neutral`, `none`, `permerror`, `temperror`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::PermError => "permerror",
            Self::TempError => "temperror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the seven results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SPF result: {0:?}")]
pub struct UnknownResult(pub String);

impl FromStr for SpfResult {
    type Err = UnknownResult;

    /// Case-insensitive RFC spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Pass,
            Self::Fail,
            Self::SoftFail,
            Self::Neutral,
            Self::None,
            Self::PermError,
            Self::TempError,
        ]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownResult(s.to_owned()))
    }
}

/// What SPF says about one domain, ready to be stored with the other facts: the record tree as a
/// receiver reaches it (every record, per-node lookup counts), the total against the limit, and
/// optionally a full [`check_host`] for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfFacts {
    /// The domain whose policy this is.
    pub domain: String,
    /// The include/redirect tree with the record text(s) at each node.
    pub tree: SpfTree,
    /// DNS-querying terms over the whole tree (the `spf.too_many_lookups` rule).
    pub lookups: LookupCount,
    /// `check_host()` for one address, when one was asked.
    pub evaluation: Option<SpfEvaluation>,
}

impl SpfFacts {
    /// Resolves the tree of `domain` and counts its lookups; no address is checked.
    pub async fn collect(domain: &str, dns: &dyn SpfDns) -> Self {
        let tree = resolve_tree(domain, dns).await;
        let lookups = lookup_count(&tree);
        Self {
            domain: tree.root.domain.clone(),
            tree,
            lookups,
            evaluation: None,
        }
    }

    /// Also runs `check_host()` for `ip` sending as `mail_from` (empty for `<>`) after `helo`.
    pub async fn with_evaluation(
        mut self,
        ip: std::net::IpAddr,
        mail_from: &str,
        helo: &str,
        dns: &dyn SpfDns,
    ) -> Self {
        self.evaluation = Some(check_sender(ip, mail_from, helo, dns).await);
        self
    }

    /// The `v=spf1` record(s) published at the domain itself (one when all is well).
    pub fn records(&self) -> &[String] {
        &self.tree.root.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_spell_as_the_rfc() {
        for r in [
            SpfResult::Pass,
            SpfResult::Fail,
            SpfResult::SoftFail,
            SpfResult::Neutral,
            SpfResult::None,
            SpfResult::PermError,
            SpfResult::TempError,
        ] {
            assert_eq!(r.as_str().parse::<SpfResult>(), Ok(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!("PermError".parse::<SpfResult>(), Ok(SpfResult::PermError));
        assert!("unknown".parse::<SpfResult>().is_err());
    }

    #[tokio::test]
    async fn facts_hold_records_tree_count_and_evaluation() {
        let mut z = MemoryZone::new();
        z.add_txt("example.test", "v=spf1 include:_spf.example.test ~all")
            .add_txt("example.test", "some-verification=abc")
            .add_txt("_spf.example.test", "v=spf1 a mx ip4:192.0.2.0/24 -all")
            .add_a("example.test", "198.51.100.1".parse().unwrap())
            .add_a("_spf.example.test", "198.51.100.2".parse().unwrap());
        let facts = SpfFacts::collect("example.test", &z)
            .await
            .with_evaluation(
                "192.0.2.9".parse().unwrap(),
                "a@example.test",
                "h.example",
                &z,
            )
            .await;
        assert_eq!(facts.records(), ["v=spf1 include:_spf.example.test ~all"]);
        assert_eq!(
            facts.tree.root.children[0].records,
            ["v=spf1 a mx ip4:192.0.2.0/24 -all"]
        );
        assert_eq!(
            facts.lookups,
            LookupCount {
                total: 3,
                limit: 10,
                complete: true
            }
        );
        let eval = facts.evaluation.as_ref().unwrap();
        assert_eq!(eval.result, SpfResult::Pass);
        assert_eq!(eval.trace.dns_terms, 3);
        let json = serde_json::to_string(&facts).unwrap();
        assert_eq!(serde_json::from_str::<SpfFacts>(&json).unwrap(), facts);
    }
}
