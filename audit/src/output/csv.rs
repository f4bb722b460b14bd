//! The CSV report: the pass-through columns of the input, then [`COLUMNS`]. One row per input row,
//! Excel-safe (a cell that would start a formula gets a leading `'`).
//!
//! Pass-through cells (and their header names) are the client's data: they come back exactly as
//! they were read (quoted newlines, quotes, commas, non-ASCII), only a formula-trigger cell gets
//! the `'`. The fixed columns carry text from servers, so control characters in them are made
//! visible (`\x1b`), one value, one line.
//!
//! | column | content |
//! |---|---|
//! | `domain` | the checked domain (the input as given when it is not a domain: [`Report::display_name`]) |
//! | `verdict` | `ok`, `degraded`, `broken`, `no_mail`, `inconclusive`, `invalid` |
//! | `worst` | the worst finding severity (`critical`, `error`, `warning`, `info`), empty if none |
//! | `mx_hosts` | the mail hosts, space-separated, in preference order |
//! | `missing_mx` | `yes` when the domain has no MX (`mx.missing`, `mx.no_mail_host`) |
//! | `null_mx` | `yes` for a null MX (`mx.null`, `mx.null_mixed`) |
//! | `unreachable` | `yes` when an MX address refused, timed out or never greeted (`smtp.refused`, `smtp.unreachable`, `smtp.no_greeting`) |
//! | `banner_mismatch` | `yes` for `smtp.banner_mismatch` or `smtp.banner_unresolvable` |
//! | `dnsbl_listed` | `yes` when an MX address is blocklisted (a finding of the blocklist group: `dnsbl.listed`) |
//! | `starttls` | `yes` (offered), `no` (`smtp.starttls_missing`), `failed` (`smtp.starttls_failed`), empty if not seen |
//! | `tls_problem` | the codes of the TLS group found (`tls.*`), space-separated |
//! | `spf` | `ok`, `missing`, `invalid`, `permissive`, `unknown` (a lookup failed) |
//! | `dmarc` | the policy `reject`, `quarantine`, `none`; or `missing`, `invalid`, `unknown` |
//! | `mta_sts` | the policy mode `enforce`, `testing`, `none`; or `missing`, `invalid`, `unknown` |
//! | `dane` | `valid`, `mismatch`, `unusable`, `bogus` (DNSSEC fails), `none` (no TLSA), `unknown` |
//! | `findings` | every finding code, worst first, space-separated |
//! | `top_issue` | the worst finding as `code: summary`, or why the input is invalid ([`Report::top_issue`]) |
//! | `previous_verdict` | the verdict in the run compared with (empty: new domain, or no history) |
//! | `change` | `new`, `worse`, `better`, `same` (see [`crate::history::changes`]); empty without history |
//! | `new_findings` | findings that appeared, as `code (subject)`, `; `-separated |
//! | `resolved_findings` | findings that went away, the same way |
//!
//! The yes/no columns are empty for invalid rows (nothing was checked), the authentication
//! columns when those checks did not run (`--no-auth`, or the domain does not resolve). Every
//! value is derived from the report's findings (grouped by [`Code::group`]) and MX summary;
//! nothing is judged here.

use mailcheck::finding::Group;
use mailcheck::{Code, Report};

use super::{Chunk, Finish, Item, Render};
use crate::history::Changes;
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
    "previous_verdict",
    "change",
    "new_findings",
    "resolved_findings",
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
fn auth(
    report: &Report,
    state: impl Fn(&mailcheck::report::AuthSummary) -> &'static str,
) -> String {
    report
        .auth
        .as_ref()
        .map(|a| state(a).to_owned())
        .unwrap_or_default()
}

/// Whether the report has a finding of the group.
fn has_group(report: &Report, group: Group) -> bool {
    report.findings.iter().any(|f| f.code.group() == group)
}

/// The fixed columns' values for one report.
pub fn values(report: &Report) -> Vec<String> {
    let checked = report.facts.is_some();
    let mut codes: Vec<Code> = Vec::new();
    for f in &report.findings {
        if !codes.contains(&f.code) {
            codes.push(f.code);
        }
    }
    let tls: Vec<&str> = codes
        .iter()
        .filter(|c| c.group() == Group::Tls)
        .map(|c| c.as_str())
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
    vec![
        report.display_name().to_owned(),
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
        yes_no(checked, has_group(report, Group::Blocklist)),
        starttls,
        tls.join(" "),
        auth(report, |a| a.spf.as_str()),
        auth(report, |a| a.dmarc.as_str()),
        auth(report, |a| a.mta_sts.as_str()),
        auth(report, |a| a.dane.as_str()),
        codes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        report.top_issue(),
    ]
}

/// The change columns' values (all empty without history).
pub fn change_values(changes: Option<&Changes>) -> [String; 4] {
    let Some(c) = changes else {
        return Default::default();
    };
    [
        c.previous
            .as_ref()
            .map(|p| p.verdict.as_str().to_owned())
            .unwrap_or_default(),
        c.change.as_str().to_owned(),
        c.new_labels(),
        c.resolved_labels(),
    ]
}

/// One CSV line: `passed` (client data) as it is, `ours` free of control characters; every
/// cell Excel-safe.
pub fn line<P: AsRef<str>, S: AsRef<str>>(
    passed: impl IntoIterator<Item = P>,
    ours: impl IntoIterator<Item = S>,
) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let cells: Vec<String> = passed
        .into_iter()
        .map(|c| sanitize::spreadsheet(c.as_ref()).into_owned())
        .chain(
            ours.into_iter()
                .map(|c| sanitize::spreadsheet(&sanitize::terminal(c.as_ref())).into_owned()),
        )
        .collect();
    // Writing to a Vec cannot fail; an error would only mean no line.
    let _ = w.write_record(&cells);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Render for CsvRender {
    fn start(&self, columns: &[String]) -> String {
        line(columns, COLUMNS)
    }

    fn row(&self, item: Item<'_>) -> Chunk {
        let mut ours = values(item.report);
        ours.extend(change_values(item.changes));
        Chunk {
            body: line(&item.row.columns, ours),
            details: String::new(),
        }
    }

    fn finish(&self, _summary: &Summary) -> Finish {
        Finish::Append(String::new())
    }
}
