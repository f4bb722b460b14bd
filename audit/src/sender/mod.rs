//! `mailcheck-audit sender`: the sending side. "My mail to Gmail/Outlook bounces" is usually
//! about the sender: no PTR, a generic PTR, a HELO name that does not resolve or match, the IP
//! on Spamhaus (PBL for an office line sending direct to MX), SPF not authorizing the IP. This
//! subcommand checks one sending IP (`--ip IP [--helo NAME] [--domain DOMAIN]`), this machine
//! (`--ip self`, learned as `--vantage` learns it), or a CSV of every client's outbound gateway
//! (columns `ip`, `helo`, `domain` found by name), with the library's
//! [`mailcheck::Checker::check_sender`], and writes the reports in every format.
//!
//! - [`input`]: the rows to check (arguments, CSV files, stdin).
//! - [`render`]: text, JSON, JSON lines, CSV, HTML and Markdown.

pub mod input;
pub mod render;

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::StreamExt as _;
use mailcheck::config::ResolverChoice;
use mailcheck::sender::SenderReport;
use mailcheck::{CheckConfig, CheckOptions, Checker, SenderQuery};

use crate::app::Exit;
use crate::cli::{FailOn, StdoutFormat};
use crate::error::AuditError;
use crate::input::Source;
use crate::output::Format;
use input::{SenderInputs, SenderRow};
use render::SenderItem;

/// The `sender` subcommand's flags.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mailcheck-audit sender --ip 203.0.113.25 --helo mail.example.com --domain example.com
  mailcheck-audit sender --ip self --helo mail.example.com     this machine, as receivers see it
  mailcheck-audit sender gateways.csv -o senders.html -o senders.csv
  mailcheck-audit sender --demo                                the offline lab's sender cases

It checks what large receivers check of a sending server: reverse DNS (a PTR that resolves
back, not a generic/dynamic name), the HELO name (public, resolving to the IP or its PTR
name), the blocklists (Spamhaus PBL means: do not send direct to MX), and, with --domain,
SPF check_host() of the IP for the domain (with the evaluation trace) and DMARC. Each
finding says what to change and where (provider's rDNS panel, Postfix/Exim/Exchange HELO
setting, delisting page, the SPF mechanism to add), and a checklist marks what Gmail, Yahoo
and Microsoft require of a sender.

A CSV batch (one row per outbound gateway, e.g. per client of an MSP) needs a header
naming the `ip` column; `helo` and `domain` columns are optional, found by name in any
case (no header: ip,helo,domain in that order). Other columns are passed through to the
reports. A row whose address cannot be read is an `invalid` row, not an error.

Sender runs are not recorded in the history. Exit codes: 0 ok, 1 when some sender's verdict
is at or above --fail-on (default broken; invalid rows count as broken), 2 usage or input
error.")]
pub struct SenderArgs {
    /// The sending server's public IP address, or `self` for this machine's (learned as
    /// --vantage learns it: --public-ip, or the address the egress canaries echo)
    #[arg(long, value_name = "IP|self")]
    pub ip: Option<String>,

    /// The HELO/EHLO name the sending server announces (Postfix smtp_helo_name or myhostname,
    /// Exim helo_data, Exchange the Send connector's FQDN)
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// Its envelope sender (MAIL FROM) domain, or an address in it: SPF and DMARC are checked
    /// for it
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,

    /// CSV of senders with ip, helo, domain columns (found by name), or - for stdin
    #[arg(value_name = "CSV", conflicts_with = "ip")]
    pub inputs: Vec<String>,

    /// The same as a positional CSV (repeatable)
    #[arg(long = "input", value_name = "CSV", conflicts_with = "ip")]
    pub input: Vec<String>,

    /// Write a report; format from the extension: .csv .jsonl .json .html .md .txt (repeatable)
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<PathBuf>,

    /// Stdout format [default: text; none when -o is given]
    #[arg(long, value_enum, value_name = "F")]
    pub format: Option<StdoutFormat>,

    /// Senders checked at once
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub concurrency: u16,

    /// DNS server to use instead of the system's (repeatable)
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,

    /// Blocklist zone to query (repeatable; replaces the defaults)
    #[arg(long, value_name = "ZONE")]
    pub dnsbl: Vec<String>,

    /// Do not query blocklists
    #[arg(long, conflicts_with = "dnsbl")]
    pub no_dnsbl: bool,

    /// Check private, loopback and reserved addresses too (labs, internal audits)
    #[arg(long)]
    pub allow_private: bool,

    /// Per-lookup timeout in seconds (DNS; the egress canaries for --ip self)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,

    /// With --ip self: our public (NAT) address, if known (repeatable)
    #[arg(long, value_name = "IP")]
    pub public_ip: Vec<IpAddr>,

    /// With --ip self: canary host that echoes our address in its EHLO reply (repeatable)
    /// [default: big providers' MX hosts]
    #[arg(long, value_name = "HOST[:PORT]")]
    pub egress_canary: Vec<String>,

    /// Exit 1 when any sender's verdict is this bad or worse [default: broken; never with
    /// --demo]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,

    /// No summary on stderr
    #[arg(short, long)]
    pub quiet: bool,

    /// Offline demo: the built-in lab's sender cases (or the sender given with --ip, checked
    /// against the lab's DNS)
    #[arg(long)]
    pub demo: bool,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=3600.0).contains(&v) {
        return Err(format!("{s:?} is not between 0 and 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

impl SenderArgs {
    /// The check configuration these flags ask for.
    pub fn check_config(&self) -> Result<CheckConfig, AuditError> {
        let mut c = CheckConfig::default().allow_private(self.allow_private);
        c.dns.resolver = ResolverChoice::from_args(&self.resolver)
            .map_err(|e| AuditError::Usage(format!("--resolver: {e}")))?;
        self.apply_dnsbl(&mut c);
        // The sender check itself opens no SMTP connection; `--ip self` talks to the egress
        // canaries (EHLO as the HELO name given, the name this machine would announce).
        if let Some(h) = &self.helo {
            c.smtp.helo_name = h.trim().to_owned();
        }
        if !self.egress_canary.is_empty() {
            c.egress.canaries.clone_from(&self.egress_canary);
        }
        c.egress.public_ips.clone_from(&self.public_ip);
        if let Some(t) = self.timeout {
            c.set_timeout(t);
        }
        Ok(c)
    }

    fn apply_dnsbl(&self, c: &mut CheckConfig) {
        if self.no_dnsbl {
            c.dnsbl.enabled = false;
        } else if !self.dnsbl.is_empty() {
            c.dnsbl.zones = self
                .dnsbl
                .iter()
                .map(|z| z.trim().trim_end_matches('.').to_owned())
                .collect();
        }
    }

    fn sources(&self) -> Result<Vec<Source>, AuditError> {
        let all: Vec<String> = self.inputs.iter().chain(&self.input).cloned().collect();
        Source::classify(&all)
    }
}

/// The rows for `--ip`, or read from the CSV sources (off the async runtime: files and stdin
/// block).
async fn rows(args: &SenderArgs, demo: Option<Source>) -> Result<SenderInputs, AuditError> {
    if let Some(ip) = &args.ip {
        return Ok(SenderInputs {
            columns: Vec::new(),
            rows: vec![SenderRow {
                source: Arc::from("argument"),
                line: 1,
                ip: ip.clone(),
                helo: args.helo.clone(),
                domain: args.domain.clone(),
                columns: Vec::new(),
                problem: None,
            }],
        });
    }
    if args.helo.is_some() || args.domain.is_some() {
        return Err(AuditError::Usage(
            "--helo and --domain go with --ip (a CSV gives them per row)".to_owned(),
        ));
    }
    let mut sources = args.sources()?;
    if sources.is_empty() {
        match demo {
            Some(s) => sources.push(s),
            None => {
                return Err(AuditError::Usage(
                    "give a sender: --ip IP [--helo NAME] [--domain DOMAIN], --ip self, or a \
                     CSV file with ip, helo and domain columns"
                        .to_owned(),
                ));
            }
        }
    }
    tokio::task::spawn_blocking(move || input::read(sources))
        .await
        .map_err(|e| AuditError::Usage(format!("input thread failed: {e}")))?
}

/// Checks one row: `self` is this machine (one report per public address learned); an
/// address that cannot be read, or a malformed line, is an `invalid` report.
async fn check_row(checker: &Checker, row: SenderRow) -> Vec<SenderItem> {
    let one = |report| {
        vec![SenderItem {
            row: row.clone(),
            report,
        }]
    };
    if let Some(problem) = &row.problem {
        return one(SenderReport::invalid(
            &row.ip,
            None,
            None,
            format!("line {} is not valid CSV: {problem}", row.line),
        ));
    }
    let options = CheckOptions::default();
    if row.ip.trim().eq_ignore_ascii_case("self") {
        return checker
            .check_own_sender(row.helo.as_deref(), row.domain.as_deref(), options)
            .await
            .into_iter()
            .map(|report| SenderItem {
                row: row.clone(),
                report,
            })
            .collect();
    }
    match SenderQuery::parse(&row.ip, row.helo.as_deref(), row.domain.as_deref()) {
        Ok(q) => one(checker.check_sender_with(&q, options).await),
        Err(e) => one(SenderReport::invalid(
            &row.ip,
            row.helo.as_deref(),
            row.domain.as_deref(),
            e,
        )),
    }
}

/// Runs `mailcheck-audit sender`.
pub async fn main(args: &SenderArgs) -> Result<Exit, AuditError> {
    let mut formats = Vec::new();
    for path in &args.outputs {
        let f = Format::from_path(path).ok_or_else(|| {
            AuditError::Usage(format!(
                "-o {}: unknown report format; use .csv .jsonl .json .html .md .txt",
                path.display()
            ))
        })?;
        formats.push((path.clone(), f));
    }
    if let Some(f) = args.fail_on
        && f.needs_history()
    {
        return Err(AuditError::Usage(
            "--fail-on worse/new-broken compare with the history, which sender runs are not \
             recorded in: use never, degraded or broken"
                .to_owned(),
        ));
    }
    let (demo, config, demo_source) = if args.demo {
        let demo = crate::demo::start()
            .await
            .map_err(|e| AuditError::Usage(format!("cannot start the demo lab: {e}")))?;
        let mut config = demo.config.clone();
        config.dnsbl.zones = mailcheck_lab::lab::SENDER_DNSBL_ZONES
            .iter()
            .map(|z| (*z).to_owned())
            .collect();
        args.apply_dnsbl(&mut config);
        if let Some(t) = args.timeout {
            config.dns.timeout = t;
        }
        let source = Source::Text {
            name: "demo-senders.csv".to_owned(),
            text: mailcheck_lab::lab::senders_csv(),
        };
        (Some(demo), config, Some(source))
    } else {
        (None, args.check_config()?, None)
    };
    let inputs = rows(args, demo_source).await?;
    let checker = Checker::new(config)?;
    let concurrency = usize::from(args.concurrency);
    let items: Vec<SenderItem> = futures::stream::iter(inputs.rows)
        .map(|row| check_row(&checker, row))
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    checker.shutdown().await;
    drop(demo);

    let columns = inputs.columns;
    let single = items.len() == 1 && args.ip.is_some();
    let title = if args.demo {
        "Sender check (offline demo)"
    } else {
        "Sender check"
    };
    let stdout_format = match (args.format, args.outputs.is_empty()) {
        (Some(f), _) => Some(f),
        (None, true) => Some(StdoutFormat::Text),
        (None, false) => None,
    };
    if let Some(f) = stdout_format {
        let color = f == StdoutFormat::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let text = match f {
            StdoutFormat::Text => render::text(&items, single, color),
            StdoutFormat::Json => render::json(&columns, &items, single),
            StdoutFormat::Jsonl => render::jsonl(&columns, &items),
            StdoutFormat::Csv => render::csv(&columns, &items),
        };
        print!("{text}");
    }
    for (path, format) in &formats {
        let text = match format {
            Format::Text => render::text(&items, single, false),
            Format::Json => render::json(&columns, &items, single),
            Format::Jsonl => render::jsonl(&columns, &items),
            Format::Csv => render::csv(&columns, &items),
            Format::Html => render::html(&columns, &items, title),
            Format::Markdown => render::markdown(&columns, &items, title),
        };
        write_atomically(path, &text)?;
    }
    if !args.quiet && !single {
        eprintln!("{}", render::counts(&items));
    }
    let fail_on = args.fail_on.unwrap_or(if args.demo {
        FailOn::Never
    } else {
        FailOn::Broken
    });
    let worst = items.iter().map(|i| i.report.verdict).max();
    let failed = fail_on
        .threshold()
        .is_some_and(|t| worst.is_some_and(|w| w >= t));
    Ok(if failed { Exit::Failed } else { Exit::Ok })
}

/// Writes `text` to a temporary file beside `path`, then renames it into place.
fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), AuditError> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| AuditError::output(path, e))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.flush())
        .map_err(|e| AuditError::output(path, e))?;
    tmp.persist(path)
        .map_err(|e| AuditError::output(path, e.error))?;
    Ok(())
}
