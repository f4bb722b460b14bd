//! The interop tier: the built `mailcheck-audit` against real Postfix, Exim, OpenSMTPD, Knot,
//! Unbound and rbldnsd in the lab network namespace (`tests/lab/`, see `tests/lab/up.sh`).
//!
//! * [`load_scenarios`] (`scenarios`) reads `tests/lab/scenarios.tsv`: per lab domain, the
//!   expected verdict, the exact set of finding codes, a greeting the transcript must show, the
//!   namespace the prober runs in and extra command-line flags. A row without a domain runs
//!   `--vantage` alone.
//! * [`Lab`] (here) describes the running lab (namespaces, resolvers, CA, the prober's identity
//!   in each namespace), tells whether it is usable, and builds each row's command line.
//! * [`run_scenario`] (`run`) runs the binary for one row inside its namespace;
//!   [`Outcome::check`] (`check`) compares the report with the scenario and, on a mismatch,
//!   explains it with the findings, the transcript and the whole report JSON, so a CI log alone
//!   is enough to diagnose it.
//!
//! * [`sender`]: the sending side, `tests/lab/senders.tsv`: `mailcheck-audit sender` per row
//!   against the real Knot records (PTRs, HELO names, SPF, DMARC) and rbldnsd zones.
//!
//! The harness is `tests/interop.rs` (`cargo test -p mailcheck-interop`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod check;
mod run;
mod scenarios;
pub mod sender;

pub use run::{Outcome, audit_binary, batchable, run_batch, run_in, run_scenario, workspace_root};
pub use scenarios::{
    Scenario, VANTAGE_VERDICTS, VERDICTS, load_scenarios, parse_scenarios, scenarios_path,
};

/// Where the prober runs: a network namespace, with the resolver, egress canary and EHLO name
/// that work from there (a good identity: the name's A and PTR are the address servers see).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prober {
    /// Network namespace.
    pub ns: String,
    /// Recursive resolver reachable from it.
    pub resolver: String,
    /// A port-25 host that answers unless our own egress is blocked.
    pub egress_canary: String,
    /// Our EHLO name from there.
    pub helo: String,
}

/// The running lab, from the same `MXLAB_*` variables as `tests/lab/env.sh` (same defaults).
#[derive(Debug, Clone)]
pub struct Lab {
    /// Network namespace holding the lab (and the default prober).
    pub ns: String,
    /// Lab CA, for `--ca-file`.
    pub ca: PathBuf,
    /// DNSBL zone served by rbldnsd.
    pub dnsbl_zone: String,
    /// TCP connect timeout passed to the prober (seconds): the lab's intentional timeouts need
    /// not take the default 10 s, twice (a timed-out connect is retried once).
    pub connect_timeout: String,
    /// The prober namespaces: the lab's own first, then `mxnat`, `mxrej`, `mxdrop`.
    pub probers: Vec<Prober>,
    /// The lab root's DNSKEY (Knot signs `.`), for `--trust-anchor`; `None` when the binary
    /// does not offer that flag (the harness then skips the rows that need it).
    pub trust_anchor: Option<PathBuf>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

impl Lab {
    /// The lab as `tests/lab/env.sh` describes it.
    pub fn from_env() -> Self {
        let run = env_or("MXLAB_RUN", "/run/mxlab");
        let wan_resolver = env_or("MXLAB_WAN_RESOLVER", "198.18.25.53");
        let wan_canary = env_or("MXLAB_WAN_CANARY", "198.18.25.10:25");
        let outside = |ns_var: &str, ns: &str, helo_var: &str, helo: &str| Prober {
            ns: env_or(ns_var, ns),
            resolver: wan_resolver.clone(),
            egress_canary: wan_canary.clone(),
            helo: env_or(helo_var, helo),
        };
        let lab = Prober {
            ns: env_or("MXLAB_NS", "mxlab"),
            resolver: env_or("MXLAB_RESOLVER", "127.0.0.53"),
            egress_canary: env_or("MXLAB_EGRESS_CANARY", "127.0.0.10:25"),
            helo: env_or("MXLAB_HELO", "probe.test"),
        };
        Self {
            ns: lab.ns.clone(),
            ca: PathBuf::from(env_or("MXLAB_CA", &format!("{run}/tls/ca.pem"))),
            dnsbl_zone: env_or("MXLAB_DNSBL_ZONE", "bl.test"),
            connect_timeout: env_or("MXLAB_CONNECT_TIMEOUT", "3"),
            trust_anchor: Some(PathBuf::from(env_or(
                "MXLAB_TRUST_ANCHOR",
                &format!("{run}/dnssec/root.key"),
            ))),
            probers: vec![
                lab,
                outside("MXLAB_NAT_NS", "mxnat", "MXLAB_NAT_HELO", "nat.probe.test"),
                outside("MXLAB_REJ_NS", "mxrej", "MXLAB_REJ_HELO", "rej.probe.test"),
                outside(
                    "MXLAB_DROP_NS",
                    "mxdrop",
                    "MXLAB_DROP_HELO",
                    "drop.probe.test",
                ),
            ],
        }
    }

    /// The prober of a scenario (`from` = `None`: the lab's own namespace).
    pub fn prober(&self, from: Option<&str>) -> Result<&Prober, String> {
        let ns = from.unwrap_or(&self.ns);
        self.probers.iter().find(|p| p.ns == ns).ok_or_else(|| {
            let known: Vec<&str> = self.probers.iter().map(|p| p.ns.as_str()).collect();
            format!("unknown prober namespace {ns:?} (known: {known:?})")
        })
    }

    /// `Ok` when the lab looks up and usable from here; otherwise why not.
    pub fn availability(&self) -> Result<(), String> {
        if !self.ca.exists() {
            return Err(format!(
                "lab CA {} is missing (is the lab up? sudo bash tests/lab/up.sh)",
                self.ca.display()
            ));
        }
        self.namespace_usable(&self.ns)
    }

    /// `Ok` when namespace `ns` exists and we can enter it.
    pub fn namespace_usable(&self, ns: &str) -> Result<(), String> {
        let netns = Path::new("/run/netns").join(ns);
        if !netns.exists() {
            return Err(format!(
                "namespace {ns} does not exist (bring the lab up with: sudo bash tests/lab/up.sh)"
            ));
        }
        let probe = Command::new("ip")
            .args(["netns", "exec", ns, "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match probe {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "cannot enter namespace {ns} (root needed): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run `ip netns exec`: {e}")),
        }
    }

    /// The standard command line from a prober's namespace, one token per flag (`--flag=value`).
    pub fn base_args(&self, prober: &Prober) -> Vec<String> {
        let mut args = vec![
            format!("--resolver={}", prober.resolver),
            "--allow-private".to_owned(),
            format!("--ca-file={}", self.ca.display()),
            format!("--dnsbl={}", self.dnsbl_zone),
            format!("--egress-canary={}", prober.egress_canary),
            format!("--helo={}", prober.helo),
            format!("--connect-timeout={}", self.connect_timeout),
            "--format=json".to_owned(),
            "--no-progress".to_owned(),
            // The scenarios are not anybody's history (tests/history_pg.rs drops this flag).
            "--no-history".to_owned(),
        ];
        if let Some(t) = &self.trust_anchor {
            args.push(format!("--trust-anchor={}", t.display()));
        }
        // extra flags for experiments, e.g. MXLAB_AUDIT_ARGS="--command-timeout=5"
        if let Ok(extra) = std::env::var("MXLAB_AUDIT_ARGS") {
            let extra: Vec<String> = extra.split_whitespace().map(str::to_owned).collect();
            args = merge_args(args, &extra);
        }
        args
    }

    /// The command line for one row (without the `ip netns exec` prefix): the standard flags of
    /// its namespace, merged with the row's own, then the domain.
    pub fn audit_args(&self, sc: &Scenario) -> Result<Vec<String>, String> {
        let prober = self.prober(sc.from.as_deref())?;
        let mut args = merge_args(self.base_args(prober), &sc.args);
        args.extend(sc.domain.iter().cloned());
        Ok(args)
    }
}

/// The flag name of a `--flag` / `--flag=value` token.
fn flag_name(token: &str) -> &str {
    token.split_once('=').map_or(token, |(f, _)| f)
}

/// `base` with `extra` applied: `!--flag` drops every `--flag` of `base`; any other flag of
/// `extra` replaces every occurrence of the same flag in `base` (so `--dnsbl=a --dnsbl=b` in
/// `extra` gives exactly those two) and is appended.
pub fn merge_args(base: Vec<String>, extra: &[String]) -> Vec<String> {
    let mut drop: BTreeSet<&str> = BTreeSet::new();
    for e in extra {
        drop.insert(flag_name(e.strip_prefix('!').unwrap_or(e)));
    }
    let mut out: Vec<String> = base
        .into_iter()
        .filter(|b| !drop.contains(flag_name(b)))
        .collect();
    out.extend(extra.iter().filter(|e| !e.starts_with('!')).cloned());
    out
}

#[cfg(test)]
mod tests;
