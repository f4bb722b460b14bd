//! The walk over a domain's include/redirect tree: one [`TraceNode`] per `check_host()`, the
//! record selected and parsed, its terms in order until one matches, the limits of §4.6.4
//! counted as terms are reached, and the targets and explanation expanded from macros.

use super::{Abort, BoxFuture, Evaluator, MatchedTerm, Outcome, TraceNode, Via};
use crate::facts::Lookup;
use crate::spf::macros::{ExpansionTooLong, MacroLetter, MacroString, MacroUse, MacroValues};
use crate::spf::name::{check_domain, is_same_or_subdomain, target_name};
use crate::spf::record::{DomainSpec, Record, is_spf_record};
use crate::spf::{MAX_DNS_TERMS, MAX_VOID_LOOKUPS, SpfResult, parse_record};

impl Evaluator<'_> {
    /// One `check_host()` on `domain`: its node and outcome.
    pub(super) fn evaluate_domain(
        &mut self,
        domain: String,
        via: Via,
        term: Option<String>,
    ) -> BoxFuture<'_, (TraceNode, Outcome)> {
        Box::pin(async move {
            let mut node = TraceNode::new(domain, via, term);
            let outcome = self.evaluate_node(&mut node).await;
            node.result = outcome.result;
            node.reason.clone_from(&outcome.reason);
            (node, outcome)
        })
    }

    async fn evaluate_node(&mut self, node: &mut TraceNode) -> Outcome {
        let domain = node.domain.clone();
        if let Err(problem) = check_domain(&domain) {
            return Outcome::with_reason(
                SpfResult::None,
                format!("{domain:?} is not a domain SPF can check: {problem}"),
            );
        }
        if self.stack.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            return Abort::Perm(format!("loop: {} → {domain}", self.stack.join(" → "))).into();
        }
        let lookup = self.dns.txt(&domain).await;
        node.lookup = lookup.describe();
        let records: Vec<String> = match lookup {
            Lookup::Failed { .. } => {
                return Abort::Temp(format!("TXT lookup of {domain}: {}", node.lookup)).into();
            }
            Lookup::NxDomain | Lookup::NoData => {
                return Outcome::with_reason(
                    SpfResult::None,
                    format!("no SPF record at {domain} (TXT: {})", node.lookup),
                );
            }
            Lookup::Answer { records } => {
                records.into_iter().filter(|r| is_spf_record(r)).collect()
            }
        };
        node.records.clone_from(&records);
        let text = match records.as_slice() {
            [] => {
                return Outcome::with_reason(
                    SpfResult::None,
                    format!("no v=spf1 record among the TXT records of {domain}"),
                );
            }
            [one] => one,
            several => {
                return Abort::Perm(format!(
                    "{} v=spf1 records at {domain} (exactly one is allowed)",
                    several.len()
                ))
                .into();
            }
        };
        let record = match parse_record(text) {
            Ok(record) => record,
            Err(e) => {
                let why = format!("syntax error in the record of {domain}: {e}");
                node.syntax_error = Some(e);
                return Abort::Perm(why).into();
            }
        };
        self.stack.push(domain);
        let outcome = self.evaluate_record(&record, node).await;
        self.stack.pop();
        outcome
    }

    async fn evaluate_record(&mut self, record: &Record, node: &mut TraceNode) -> Outcome {
        let domain = node.domain.clone();
        for term in &record.terms {
            let Some(directive) = term.directive() else {
                continue;
            };
            if directive.mechanism.queries_dns()
                && let Err(abort) = self.count_dns_term(node)
            {
                return abort.into();
            }
            match self.matches(&directive.mechanism, term, node).await {
                Ok(false) => {}
                Ok(true) => {
                    let result = directive.qualifier.result();
                    node.matched = Some(term.text.clone());
                    let exp = match (result, record.explanation()) {
                        (SpfResult::Fail, Some(spec)) => Some((spec.clone(), domain.clone())),
                        _ => None,
                    };
                    return Outcome {
                        result,
                        reason: None,
                        exp,
                        matched: Some(MatchedTerm {
                            domain,
                            term: term.text.clone(),
                        }),
                    };
                }
                Err(abort) => return abort.into(),
            }
        }
        // An `all` always matches, so a redirect is only reached in a record without one (§6.1).
        if let Some((term, target)) = record.redirect() {
            if let Err(abort) = self.count_dns_term(node) {
                return abort.into();
            }
            let name = match self.target(target, &domain).await {
                Ok(name) => name,
                Err(why) => return Abort::Perm(format!("{}: {why}", term.text)).into(),
            };
            let (child, outcome) = self
                .evaluate_domain(name.clone(), Via::Redirect, Some(term.text.clone()))
                .await;
            node.children.push(child);
            if outcome.result == SpfResult::None {
                return Abort::Perm(format!("{}: {name} has no SPF record", term.text)).into();
            }
            return outcome;
        }
        Outcome::with_reason(
            SpfResult::Neutral,
            format!("no term of {domain} matched (default result)"),
        )
    }

    pub(super) fn count_dns_term(&mut self, node: &mut TraceNode) -> Result<(), Abort> {
        self.dns_terms += 1;
        node.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(Abort::Perm(format!(
                "more than {MAX_DNS_TERMS} DNS-querying terms (include, a, mx, ptr, exists, \
                 redirect)"
            )));
        }
        Ok(())
    }

    pub(super) fn count_void(&mut self, node: &mut TraceNode, what: &str) -> Result<(), Abort> {
        self.void_lookups += 1;
        node.void_lookups += 1;
        if self.void_lookups > MAX_VOID_LOOKUPS {
            return Err(Abort::Perm(format!(
                "more than {MAX_VOID_LOOKUPS} void lookups (the last: {what})"
            )));
        }
        Ok(())
    }

    /// The target of `a`, `mx`, `ptr`, `exists` (`None` spec: the current domain); `None` when
    /// the expanded name cannot be queried, which is a no-match (noted in the trace).
    pub(super) async fn optional_target(
        &mut self,
        spec: Option<&DomainSpec>,
        node: &mut TraceNode,
        term: &str,
    ) -> Option<String> {
        let Some(spec) = spec else {
            return Some(node.domain.clone());
        };
        match self.target(spec, &node.domain.clone()).await {
            Ok(name) => Some(name),
            Err(why) => {
                node.notes.push(format!("{term}: {why}; no match"));
                None
            }
        }
    }

    /// Expands a domain-spec into a name to query (§7.3, §4.8).
    pub(super) async fn target(
        &mut self,
        spec: &DomainSpec,
        domain: &str,
    ) -> Result<String, String> {
        let expanded = self
            .expand(spec.macros(), domain)
            .await
            .map_err(|e| format!("{spec}: {e}"))?;
        target_name(&expanded).map_err(|p| format!("{expanded:?} cannot be queried: {p}"))
    }

    async fn expand(
        &mut self,
        macros: &MacroString,
        domain: &str,
    ) -> Result<String, ExpansionTooLong> {
        let validated = if macros.uses(MacroLetter::ValidatedName) {
            let names = self.ptr_names().await;
            pick_validated(&names.validated, domain)
        } else {
            None
        };
        macros.expand(&MacroValues {
            sender: &self.sender,
            local_part: &self.local_part,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: &self.helo,
            validated_name: validated.as_deref(),
            receiver: &self.receiver,
            timestamp: self.timestamp,
        })
    }

    /// §6.2: the explanation for a fail. Any problem (no name, DNS error, not exactly one TXT
    /// record, a syntax error, non-ASCII text) means no explanation. Not counted in the limits.
    pub(super) async fn explanation(&mut self, spec: &DomainSpec, domain: &str) -> Option<String> {
        let name = self.target(spec, domain).await.ok()?;
        let Lookup::Answer { records } = self.dns.txt(&name).await else {
            return None;
        };
        let [text] = records.as_slice() else {
            return None;
        };
        let macros = MacroString::parse(text, MacroUse::Explanation).ok()?;
        self.expand(&macros, domain).await.ok()
    }
}

/// `%{p}` (§7.3): the domain itself if validated, else a subdomain of it, else any validated
/// name.
fn pick_validated(validated: &[String], domain: &str) -> Option<String> {
    validated
        .iter()
        .find(|n| n.eq_ignore_ascii_case(domain))
        .or_else(|| validated.iter().find(|n| is_same_or_subdomain(n, domain)))
        .or_else(|| validated.first())
        .cloned()
}
