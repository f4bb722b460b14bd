//! The scenario table, `tests/lab/scenarios.tsv`: one [`Scenario`] per row, read and checked
//! (columns, flags, verdicts, duplicates) by [`parse_scenarios`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One row of `tests/lab/scenarios.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Unique name of the row: the domain, `DOMAIN@NAMESPACE` when the prober runs outside the
    /// lab namespace, `vantage@NAMESPACE` for a `--vantage` row. Command-line filters match it.
    pub name: String,
    /// The lab domain, e.g. `relay.test`; `None` for a `--vantage` row (no domain is checked).
    pub domain: Option<String>,
    /// Expected verdict: `invalid`, `broken`, `no_mail`, `degraded`, `inconclusive` or `ok`; for a
    /// `--vantage` row `usable` (exit 0) or `blocked` (exit 1).
    pub verdict: String,
    /// Expected finding codes, exactly.
    pub codes: BTreeSet<String>,
    /// Text the report's SMTP transcript must contain (the real server's own greeting); for a
    /// `--vantage` row, text its output must contain.
    pub greeting: Option<String>,
    /// Network namespace the prober runs in; `None` = the lab's own (`mxlab`).
    pub from: Option<String>,
    /// Extra flags, each one token (`--flag` or `--flag=value`). A flag given here replaces the
    /// same flag of the standard command line; `!--flag` removes it from there.
    pub args: Vec<String>,
    /// Which lab server answers for it.
    pub server: String,
    /// What the scenario is about.
    pub about: String,
    /// Line number in the TSV file.
    pub line: usize,
}

impl Scenario {
    /// Whether this row runs `mailcheck-audit --vantage` instead of checking a domain.
    pub fn is_vantage(&self) -> bool {
        self.domain.is_none()
    }

    /// Whether this row's outcome depends on mailcheck validating DNSSEC from the lab's root key
    /// (`--trust-anchor`): it expects a `dane.*` code or `dns.dnssec_bogus`.
    pub fn needs_trust_anchor(&self) -> bool {
        self.codes
            .iter()
            .any(|c| c.starts_with("dane.") || c == "dns.dnssec_bogus")
    }
}

/// The verdicts of `spec/findings.md`.
pub const VERDICTS: &[&str] = &[
    "invalid",
    "broken",
    "no_mail",
    "degraded",
    "inconclusive",
    "ok",
];

/// Expected outcomes of a `--vantage` row: port 25 usable from there (exit 0) or blocked (exit 1).
pub const VANTAGE_VERDICTS: &[&str] = &["usable", "blocked"];

/// Path of the scenario table.
pub fn scenarios_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/scenarios.tsv")
}

/// Read and parse `tests/lab/scenarios.tsv`.
pub fn load_scenarios() -> Result<Vec<Scenario>, String> {
    let path = scenarios_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_scenarios(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse the scenario table: tab-separated `domain verdict codes greeting from args server about`
/// (the older six-column form without `from` and `args` is still read), a header row starting with
/// `domain`, `#` comments, `-` for "none"/"default".
pub fn parse_scenarios(text: &str) -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') || raw.starts_with("domain\t") {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        let (domain, verdict, codes, greeting, from, args, server, about) = match cols[..] {
            [d, v, c, g, f, a, s, ab] => (d, v, c, g, f, a, s, ab),
            [d, v, c, g, s, ab] => (d, v, c, g, "-", "-", s, ab),
            _ => {
                return Err(format!(
                    "line {line}: want 8 tab-separated columns (or the older 6), got {}",
                    cols.len()
                ));
            }
        };
        let none = |c: &str| c.trim() == "-" || c.trim().is_empty();
        let args: Vec<String> = if none(args) {
            Vec::new()
        } else {
            args.split_whitespace().map(str::to_owned).collect()
        };
        if let Some(bad) = args
            .iter()
            .find(|a| !a.starts_with("--") && !a.starts_with("!--"))
        {
            return Err(format!(
                "line {line}: argument {bad:?} is not --flag, --flag=value or !--flag"
            ));
        }
        let vantage = args.iter().any(|a| a == "--vantage");
        let domain = (!none(domain)).then(|| domain.to_owned());
        let from = (!none(from)).then(|| from.to_owned());
        match (&domain, vantage) {
            (None, false) => return Err(format!("line {line}: no domain and no --vantage")),
            (Some(d), true) => {
                return Err(format!("line {line}: --vantage row names a domain ({d})"));
            }
            _ => {}
        }
        let verdicts = if vantage { VANTAGE_VERDICTS } else { VERDICTS };
        if !verdicts.contains(&verdict) {
            return Err(format!(
                "line {line}: unknown verdict {verdict:?} (want one of {verdicts:?})"
            ));
        }
        let name = match (&domain, &from) {
            (Some(d), None) => d.clone(),
            (Some(d), Some(f)) => format!("{d}@{f}"),
            (None, f) => format!("vantage@{}", f.as_deref().unwrap_or("lab")),
        };
        if out.iter().any(|s| s.name == name) {
            return Err(format!("line {line}: duplicate row {name}"));
        }
        let codes = match codes {
            "-" => BTreeSet::new(),
            c => c.split(',').map(|c| c.trim().to_owned()).collect(),
        };
        out.push(Scenario {
            name,
            domain,
            verdict: verdict.to_owned(),
            codes,
            greeting: (greeting != "-").then(|| greeting.to_owned()),
            from,
            args,
            server: server.to_owned(),
            about: about.to_owned(),
            line,
        });
    }
    if out.is_empty() {
        return Err("no scenarios".into());
    }
    Ok(out)
}
