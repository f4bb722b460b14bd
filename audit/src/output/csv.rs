//! The CSV report: the pass-through columns of the input, then [`COLUMNS`]. One row per input row,
//! Excel-safe (a cell that would start a formula gets a leading `'`).
//!
//! | column | content |
//! |---|---|
//! | `domain` | the checked domain (the input as given when it is not a domain) |
//! | `verdict` | `ok`, `degraded`, `broken`, `no_mail`, `inconclusive`, `invalid` |
//! | `worst` | the worst finding severity (`critical`, `error`, `warning`, `info`), empty if none |
//! | `mx_hosts` | the mail hosts, space-separated, in preference order |
//! | `missing_mx` | `yes` when the domain has no MX (`mx.missing`, `mx.no_mail_host`) |
//! | `null_mx` | `yes` for a null MX (`mx.null`, `mx.null_mixed`) |
//! | `unreachable` | `yes` when an MX address refused, timed out or never greeted (`smtp.refused`, `smtp.unreachable`, `smtp.no_greeting`) |
//! | `banner_mismatch` | `yes` for `smtp.banner_mismatch` or `smtp.banner_unresolvable` |
//! | `dnsbl_listed` | `yes` when an MX address is blocklisted (`dnsbl.listed`) |
//! | `starttls` | `yes` (offered), `no` (`smtp.starttls_missing`), `failed` (`smtp.starttls_failed`), empty if not seen |
//! | `tls_problem` | the `tls.*` codes found, space-separated |
//! | `spf` | `ok`, `missing`, `invalid`, `permissive`, `unknown` (a lookup failed) |
//! | `dmarc` | the policy `reject`, `quarantine`, `none`; or `missing`, `invalid`, `unknown` |
//! | `mta_sts` | the policy mode `enforce`, `testing`, `none`; or `missing`, `invalid`, `unknown` |
//! | `dane` | `valid`, `mismatch`, `unusable`, `bogus` (DNSSEC fails), `none` (no TLSA), `unknown` |
//! | `findings` | every finding code, worst first, space-separated |
//! | `top_issue` | the worst finding as `code: summary`, or why the input is invalid |
//!
//! The yes/no columns are empty for invalid rows (nothing was checked), the authentication
//! columns when those checks did not run (`--no-auth`, or the domain does not resolve). Every value is derived
//! from the report's findings and MX summary; nothing is judged here.

use mailcheck::{Code, Report};

use super::{Chunk, Finish, Item, Render};
use crate::sanitize;
use crate::summary::Summary;

/// The fixed columns after the pass-through ones.
pub const COLUMNS: &[&str] = &[
    "domain",
    "verdict",
    "worst",
    "mx_hosts",
    "missing_mx",
    "null_mx",
    "unreachable",
    "banner_mismatch",
    "dnsbl_listed",
    "starttls",
    "tls_problem",
    "spf",
    "dmarc",
    "mta_sts",
    "dane",
    "findings",
    "top_issue",
];

/// Renders the CSV report.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvRender;

fn has(report: &Report, codes: &[Code]) -> bool {
    report.findings.iter().any(|f| codes.contains(&f.code))
}

fn yes_no(checked: bool, yes: bool) -> String {
    match (checked, yes) {
        (false, _) => String::new(),
        (true, true) => "yes".to_owned(),
        (true, false) => "no".to_owned(),
    }
}

/// One short authentication state, empty when the checks did not run.
fn auth(report: &Report, state: impl Fn(&mailcheck::report::AuthSummary) -> &String) -> String {
    report
        .auth
        .as_ref()
        .map(|a| state(a).clone())
        .unwrap_or_default()
}

/// The fixed columns' values for one report.
pub fn values(input: &str, report: &Report) -> Vec<String> {
    let checked = report.facts.is_some();
    let domain = if report.domain.is_empty() {
        input.to_owned()
    } else {
        report.domain.clone()
    };
    let mut codes: Vec<&str> = Vec::new();
    for f in &report.findings {
        if !codes.contains(&f.code.as_str()) {
            codes.push(f.code.as_str());
        }
    }
    let tls: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| c.starts_with("tls."))
        .collect();
    let starttls = if has(report, &[Code::SmtpStarttlsFailed]) {
        "failed".to_owned()
    } else if has(report, &[Code::SmtpStarttlsMissing]) {
        "no".to_owned()
    } else if report
        .mx
        .iter()
        .flat_map(|m| &m.addresses)
        .any(|a| a.smtp.starttls == Some(true))
    {
        "yes".to_owned()
    } else {
        String::new()
    };
    let top = match (report.findings.first(), &report.error) {
        (_, Some(e)) => e.clone(),
        (Some(f), None) => format!("{}: {}", f.code, f.summary),
        (None, None) => String::new(),
    };
    vec![
        domain,
        report.verdict.as_str().to_owned(),
        report
            .worst
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        report
            .mx
            .iter()
            .map(|m| m.host.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        yes_no(checked, has(report, &[Code::MxMissing, Code::MxNoMailHost])),
        yes_no(checked, has(report, &[Code::MxNull, Code::MxNullMixed])),
        yes_no(
            checked,
            has(
                report,
                &[
                    Code::SmtpRefused,
                    Code::SmtpUnreachable,
                    Code::SmtpNoGreeting,
                ],
            ),
        ),
        yes_no(
            checked,
            has(
                report,
                &[Code::SmtpBannerMismatch, Code::SmtpBannerUnresolvable],
            ),
        ),
        yes_no(checked, has(report, &[Code::DnsblListed])),
        starttls,
        tls.join(" "),
        auth(report, |a| &a.spf),
        auth(report, |a| &a.dmarc),
        auth(report, |a| &a.mta_sts),
        auth(report, |a| &a.dane),
        codes.join(" "),
        top,
    ]
}

/// One CSV line from cells, each made Excel-safe and free of control characters.
pub fn line<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let cells: Vec<String> = cells
        .into_iter()
        .map(|c| sanitize::spreadsheet(&sanitize::terminal(c.as_ref())).into_owned())
        .collect();
    // Writing to a Vec cannot fail; an error would only mean no line.
    let _ = w.write_record(&cells);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Render for CsvRender {
    fn start(&self, columns: &[String]) -> String {
        line(
            columns
                .iter()
                .map(String::as_str)
                .chain(COLUMNS.iter().copied()),
        )
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let mut cells: Vec<String> = item.row.columns.clone();
        cells.extend(values(&item.row.input, item.report));
        Chunk {
            body: line(cells),
            details: String::new(),
        }
    }

    fn finish(&self, _summary: &Summary) -> Finish {
        Finish::Append(String::new())
    }
}
