//! A domain's whole SPF tree, independent of any client address, and the pure count of the
//! DNS-querying terms a receiver reaches in it (the contract's `spf.too_many_lookups` rule).
//!
//! A receiver evaluates terms left to right and stops at the first match, so the worst case —
//! a sender that matches late or not at all — reaches every directive up to the first `all` of
//! each record, the whole subtree of every include on the way, and the `redirect` of a record
//! without `all`. [`resolve_tree`] fetches exactly those records (TXT lookups only);
//! [`lookup_count`] adds up their terms.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::dns::SpfDns;
use super::eval::Via;
use super::macros::{MacroLetter, MacroToken, MacroValues};
use super::name::{check_domain, target_name};
use super::record::{DomainSpec, Mechanism, Modifier, ParseError, TermKind, is_spf_record};
use super::{MAX_DNS_TERMS, parse_record};
use crate::facts::Lookup;

/// The most records [`resolve_tree`] fetches.
pub const TREE_MAX_NODES: usize = 64;

/// The deepest include/redirect chain [`resolve_tree`] follows.
pub const TREE_MAX_DEPTH: usize = 16;

/// What was found at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Exactly one valid `v=spf1` record.
    Ok,
    /// No `v=spf1` record (NXDOMAIN, NODATA or only other TXT records): `none` at the root, a
    /// permerror when included or redirected to.
    NoRecord,
    /// Several `v=spf1` records: permerror.
    MultipleRecords,
    /// One record with a syntax error: permerror.
    SyntaxError,
    /// The TXT lookup failed: temperror, and the subtree is unknown.
    LookupFailed,
    /// The name cannot be queried (empty label, label over 63 octets…).
    MalformedName,
    /// The domain is already on the way from the root: permerror.
    Loop,
    /// The target uses macros that depend on the sender or client (`%{i}`, `%{l}`…): not
    /// followed.
    DependsOnMacros,
    /// Not followed: the tree is larger or deeper than we fetch.
    NotFollowed,
}

/// One record of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyNode {
    /// The domain (macros expanded when they could be).
    pub domain: String,
    /// How it was reached.
    pub via: Via,
    /// The parent's term that leads here.
    pub term: Option<String>,
    /// What was found.
    pub status: NodeStatus,
    /// How the TXT lookup went; empty when none was made.
    pub lookup: String,
    /// The `v=spf1` records found.
    pub records: Vec<String>,
    /// The record's syntax error, for evidence.
    pub syntax_error: Option<ParseError>,
    /// DNS-querying terms of this record a receiver reaches when nothing matches (children
    /// not included).
    pub dns_terms: u32,
    /// The includes reached, then the redirect, in order.
    pub children: Vec<Self>,
}

impl PolicyNode {
    fn new(domain: String, via: Via, term: Option<String>, status: NodeStatus) -> Self {
        Self {
            domain,
            via,
            term,
            status,
            lookup: String::new(),
            records: Vec::new(),
            syntax_error: None,
            dns_terms: 0,
            children: Vec::new(),
        }
    }

    /// DNS-querying terms of this node and everything below it.
    pub fn subtree_dns_terms(&self) -> u32 {
        self.children.iter().fold(self.dns_terms, |n, c| {
            n.saturating_add(c.subtree_dns_terms())
        })
    }

    /// This node and all below it, depth first.
    pub fn walk(&self) -> Vec<&Self> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

/// A domain's SPF tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfTree {
    /// The domain's own record, with what it includes and redirects to.
    pub root: PolicyNode,
    /// Some nodes were not followed ([`TREE_MAX_NODES`], [`TREE_MAX_DEPTH`]).
    pub truncated: bool,
}

/// DNS-querying terms over the whole tree against the limit of 10 (§4.6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupCount {
    /// Terms a receiver reaches for a sender that matches late or never.
    pub total: u32,
    /// The limit ([`MAX_DNS_TERMS`]).
    pub limit: u32,
    /// Every subtree was seen; when false, `total` is a lower bound (a failed lookup, a target
    /// built from the sender's data, a loop, or a tree too large to follow).
    pub complete: bool,
}

impl LookupCount {
    /// More terms than the limit: such a sender gets permerror.
    pub const fn exceeded(&self) -> bool {
        self.total > self.limit
    }
}

/// Counts the DNS-querying terms over the tree. Pure.
pub fn lookup_count(tree: &SpfTree) -> LookupCount {
    let complete = !tree.truncated
        && tree.root.walk().iter().all(|n| {
            !matches!(
                n.status,
                NodeStatus::LookupFailed
                    | NodeStatus::DependsOnMacros
                    | NodeStatus::Loop
                    | NodeStatus::NotFollowed
            )
        });
    LookupCount {
        total: tree.root.subtree_dns_terms(),
        limit: MAX_DNS_TERMS,
        complete,
    }
}

/// Fetches the tree of `domain`: its record, then every include reached and the redirect of a
/// record without `all`, recursively (bounded, loops detected). Only TXT lookups are made.
pub async fn resolve_tree(domain: &str, dns: &dyn SpfDns) -> SpfTree {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let mut resolver = Resolver {
        dns,
        origin: domain.to_owned(),
        fetched: 0,
        truncated: false,
        stack: Vec::new(),
    };
    let root = resolver.node(domain.to_owned(), Via::Root, None, 0).await;
    SpfTree {
        root,
        truncated: resolver.truncated,
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct Resolver<'a> {
    dns: &'a dyn SpfDns,
    origin: String,
    fetched: usize,
    truncated: bool,
    stack: Vec<String>,
}

impl Resolver<'_> {
    fn node(
        &mut self,
        domain: String,
        via: Via,
        term: Option<String>,
        depth: usize,
    ) -> BoxFuture<'_, PolicyNode> {
        Box::pin(async move {
            let mut node = PolicyNode::new(domain.clone(), via, term, NodeStatus::Ok);
            if check_domain(&domain).is_err() {
                node.status = NodeStatus::MalformedName;
                return node;
            }
            if self.stack.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
                node.status = NodeStatus::Loop;
                return node;
            }
            if self.fetched >= TREE_MAX_NODES || depth > TREE_MAX_DEPTH {
                node.status = NodeStatus::NotFollowed;
                self.truncated = true;
                return node;
            }
            self.fetched += 1;
            let lookup = self.dns.txt(&domain).await;
            node.lookup = lookup.describe();
            node.records = match lookup {
                Lookup::Failed { .. } => {
                    node.status = NodeStatus::LookupFailed;
                    return node;
                }
                Lookup::NxDomain | Lookup::NoData => Vec::new(),
                Lookup::Answer { records } => {
                    records.into_iter().filter(|r| is_spf_record(r)).collect()
                }
            };
            let text = match node.records.as_slice() {
                [] => {
                    node.status = NodeStatus::NoRecord;
                    return node;
                }
                [one] => one.clone(),
                _ => {
                    node.status = NodeStatus::MultipleRecords;
                    return node;
                }
            };
            let record = match parse_record(&text) {
                Ok(record) => record,
                Err(e) => {
                    node.status = NodeStatus::SyntaxError;
                    node.syntax_error = Some(e);
                    return node;
                }
            };
            node.dns_terms = record.reached_dns_terms();
            self.stack.push(domain.clone());
            for term in record.reached_terms() {
                let (spec, via) = match &term.kind {
                    TermKind::Directive(d) => match &d.mechanism {
                        Mechanism::Include(spec) => (spec, Via::Include),
                        _ => continue,
                    },
                    TermKind::Modifier(Modifier::Redirect(spec)) => (spec, Via::Redirect),
                    TermKind::Modifier(_) => continue,
                };
                let child = match self.target(spec, &domain) {
                    Ok(name) => {
                        self.node(name, via, Some(term.text.clone()), depth + 1)
                            .await
                    }
                    Err(status) => {
                        PolicyNode::new(spec.to_string(), via, Some(term.text.clone()), status)
                    }
                };
                node.children.push(child);
            }
            self.stack.pop();
            node
        })
    }

    /// Expands a target that only uses `%{d}` and `%{o}` (known without a sender).
    fn target(&self, spec: &DomainSpec, domain: &str) -> Result<String, NodeStatus> {
        let independent = spec.macros().tokens().iter().all(|t| match t {
            MacroToken::Expand(e) => {
                matches!(e.letter, MacroLetter::Domain | MacroLetter::SenderDomain)
            }
            _ => true,
        });
        if !independent {
            return Err(NodeStatus::DependsOnMacros);
        }
        let sender = format!("postmaster@{}", self.origin);
        let expanded = spec
            .macros()
            .expand(&MacroValues {
                sender: &sender,
                local_part: "postmaster",
                sender_domain: &self.origin,
                domain,
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                helo: "",
                validated_name: None,
                receiver: "unknown",
                timestamp: 0,
            })
            .map_err(|_| NodeStatus::MalformedName)?;
        target_name(&expanded).map_err(|_| NodeStatus::MalformedName)
    }
}

#[cfg(test)]
mod tests;
