//! Whether a mechanism matches the client (§5): `all`, `ip4`/`ip6`, `include`, `a`, `mx`,
//! `ptr` and `exists`, with their lookups, the void-lookup count and the per-mechanism limits.

use std::net::IpAddr;

use super::{Abort, Evaluator, PtrNames, TraceNode, Via};
use crate::facts::Lookup;
use crate::spf::name::is_same_or_subdomain;
use crate::spf::record::{DualCidr, Mechanism, Term};
use crate::spf::{MAX_NAME_LOOKUPS, SpfResult};

impl Evaluator<'_> {
    pub(super) async fn matches(
        &mut self,
        mechanism: &Mechanism,
        term: &Term,
        node: &mut TraceNode,
    ) -> Result<bool, Abort> {
        let domain = node.domain.clone();
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V4(*network), *prefix))
            }
            Mechanism::Ip6 { network, prefix } => {
                Ok(in_network(self.ip, IpAddr::V6(*network), *prefix))
            }
            Mechanism::Include(spec) => {
                let name = self
                    .target(spec, &domain)
                    .await
                    .map_err(|why| Abort::Perm(format!("{}: {why}", term.text)))?;
                let (child, outcome) = self
                    .evaluate_domain(name.clone(), Via::Include, Some(term.text.clone()))
                    .await;
                node.children.push(child);
                let why = || {
                    format!(
                        "{}: {}",
                        term.text,
                        outcome.reason.as_deref().unwrap_or_default()
                    )
                };
                match outcome.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(Abort::Temp(why())),
                    SpfResult::PermError => Err(Abort::Perm(why())),
                    SpfResult::None => Err(Abort::Perm(format!(
                        "{}: {name} has no SPF record",
                        term.text
                    ))),
                }
            }
            Mechanism::A { domain: spec, cidr } => {
                let Some(name) = self.optional_target(spec.as_ref(), node, &term.text).await else {
                    return Ok(false);
                };
                let lookup = self.addresses(&name).await;
                self.address_match(lookup, *cidr, node, &term.text, &name)
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let Some(name) = self.optional_target(spec.as_ref(), node, &term.text).await else {
                    return Ok(false);
                };
                self.mx_match(&name, *cidr, node, &term.text).await
            }
            Mechanism::Ptr(spec) => {
                let Some(target) = self.optional_target(spec.as_ref(), node, &term.text).await
                else {
                    return Ok(false);
                };
                let names = self.ptr_names().await;
                if names.failed {
                    node.notes.push(format!(
                        "{}: the PTR lookup of {} failed; no match",
                        term.text, self.ip
                    ));
                    return Ok(false);
                }
                if names.void {
                    self.count_void(node, &format!("{}: no PTR for {}", term.text, self.ip))?;
                    return Ok(false);
                }
                Ok(names
                    .validated
                    .iter()
                    .any(|n| is_same_or_subdomain(n, &target)))
            }
            Mechanism::Exists(spec) => {
                let Some(name) = self.optional_target(Some(spec), node, &term.text).await else {
                    return Ok(false);
                };
                match self.dns.a(&name).await {
                    Lookup::Answer { records } if !records.is_empty() => Ok(true),
                    failed @ Lookup::Failed { .. } => Err(Abort::Temp(format!(
                        "{}: A lookup of {name}: {}",
                        term.text,
                        failed.describe()
                    ))),
                    _ => {
                        self.count_void(node, &format!("{}: {name}", term.text))?;
                        Ok(false)
                    }
                }
            }
        }
    }

    /// `a`: any address of the target within the prefix.
    fn address_match(
        &mut self,
        lookup: Lookup<IpAddr>,
        cidr: DualCidr,
        node: &mut TraceNode,
        term: &str,
        name: &str,
    ) -> Result<bool, Abort> {
        match lookup {
            Lookup::Answer { records } if !records.is_empty() => {
                let prefix = self.prefix(cidr);
                Ok(records.iter().any(|a| in_network(self.ip, *a, prefix)))
            }
            failed @ Lookup::Failed { .. } => Err(Abort::Temp(format!(
                "{term}: address lookup of {name}: {}",
                failed.describe()
            ))),
            _ => {
                self.count_void(node, &format!("{term}: {name}"))?;
                Ok(false)
            }
        }
    }

    /// `mx`: any address of any exchange (10 at most, §4.6.4) within the prefix.
    async fn mx_match(
        &mut self,
        name: &str,
        cidr: DualCidr,
        node: &mut TraceNode,
        term: &str,
    ) -> Result<bool, Abort> {
        let records = match self.dns.mx(name).await {
            Lookup::Answer { records } if !records.is_empty() => records,
            failed @ Lookup::Failed { .. } => {
                return Err(Abort::Temp(format!(
                    "{term}: MX lookup of {name}: {}",
                    failed.describe()
                )));
            }
            _ => {
                self.count_void(node, &format!("{term}: {name}"))?;
                return Ok(false);
            }
        };
        if records.len() > MAX_NAME_LOOKUPS {
            return Err(Abort::Perm(format!(
                "{term}: {name} has {} MX records, more than {MAX_NAME_LOOKUPS}",
                records.len()
            )));
        }
        let prefix = self.prefix(cidr);
        for mx in records {
            if mx.exchange == "." || mx.exchange.is_empty() {
                continue;
            }
            match self.addresses(&mx.exchange).await {
                Lookup::Answer { records } => {
                    if records.iter().any(|a| in_network(self.ip, *a, prefix)) {
                        return Ok(true);
                    }
                }
                failed @ Lookup::Failed { .. } => {
                    return Err(Abort::Temp(format!(
                        "{term}: address lookup of {}: {}",
                        mx.exchange,
                        failed.describe()
                    )));
                }
                Lookup::NxDomain | Lookup::NoData => {}
            }
        }
        Ok(false)
    }

    const fn prefix(&self, cidr: DualCidr) -> u8 {
        match self.ip {
            IpAddr::V4(_) => cidr.v4,
            IpAddr::V6(_) => cidr.v6,
        }
    }

    /// A or AAAA by the client's family.
    async fn addresses(&self, name: &str) -> Lookup<IpAddr> {
        match self.ip {
            IpAddr::V4(_) => self.dns.a(name).await,
            IpAddr::V6(_) => self.dns.aaaa(name).await,
        }
    }

    /// The PTR names of the client, validated, looked up once per check.
    pub(super) async fn ptr_names(&mut self) -> PtrNames {
        if let Some(names) = &self.ptr {
            return names.clone();
        }
        let names = match self.dns.ptr(self.ip).await {
            Lookup::Failed { .. } => PtrNames {
                failed: true,
                ..PtrNames::default()
            },
            Lookup::Answer { records } if !records.is_empty() => {
                let mut validated = Vec::new();
                // Only the first ten names are considered (§4.6.4); a failed lookup skips the
                // name (§5.5).
                for name in records.iter().take(MAX_NAME_LOOKUPS) {
                    if let Lookup::Answer { records: addrs } = self.addresses(name).await
                        && addrs.contains(&self.ip)
                    {
                        validated.push(name.clone());
                    }
                }
                PtrNames {
                    validated,
                    ..PtrNames::default()
                }
            }
            _ => PtrNames {
                void: true,
                ..PtrNames::default()
            },
        };
        self.ptr = Some(names.clone());
        names
    }
}

/// Whether `ip` is in `network/prefix` (same family only).
fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}
