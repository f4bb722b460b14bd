//! The command line ([`Cli`], clap derive) and its translation into a
//! [`CheckConfig`](mailcheck::CheckConfig). Nothing below this module reads flags.
//!
//! This file holds the flags; `mapping` beside it their translation (the check configuration,
//! the time limits, the history's location, and the flags named in advice).

mod mapping;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};
use mailcheck::Verdict;

pub use mapping::{flag_for, settings_hint};

/// Domains in flight by default.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// When the exit code says "failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Always exit 0 (unless the run itself failed).
    Never,
    /// Exit 1 when any domain is degraded or broken (or invalid).
    Degraded,
    /// Exit 1 when any domain is broken (or invalid).
    Broken,
    /// Exit 1 only when some domain got worse since its previous run (needs the history).
    Worse,
    /// Exit 1 only when some domain is broken now and was not in its previous run, or is new
    /// and broken (needs the history).
    NewBroken,
}

impl FailOn {
    /// The verdict from which the run fails: that one or worse (`None`: not a verdict level).
    pub const fn threshold(self) -> Option<Verdict> {
        match self {
            Self::Never | Self::Worse | Self::NewBroken => None,
            Self::Degraded => Some(Verdict::Degraded),
            Self::Broken => Some(Verdict::Broken),
        }
    }

    /// Whether this level compares with previous runs (and so needs the history).
    pub const fn needs_history(self) -> bool {
        matches!(self, Self::Worse | Self::NewBroken)
    }
}

/// Formats for stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StdoutFormat {
    /// Readable text: one domain in detail, or one line per row.
    Text,
    /// The Report JSON (an array for several domains).
    Json,
    /// One Report JSON per line.
    Jsonl,
    /// The CSV report schema.
    Csv,
}

/// A number of seconds between 0 and 86400 (flag parser).
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        return Err(format!("{s:?} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A concurrency between 1 and 10000 (flag parser).
pub fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not between 1 and 10000")),
    }
}

/// mailcheck-audit: why doesn't mail to this domain arrive? Checks MX, DNS, reverse DNS,
/// blocklists, the SMTP conversation and STARTTLS/certificates, for one domain or a CSV of
/// thousands, and says what is wrong and how to fix it.
#[derive(Debug, Parser)]
#[command(
    name = "mailcheck-audit",
    version,
    after_help = "\
Examples:
  mailcheck-audit example.com                      one domain, explained
  mailcheck-audit clients.csv -o audit.html -o audit.csv
  mailcheck-audit clients.csv -o run.jsonl --resume   continue a killed run
  mailcheck-audit --demo -o demo.html              offline demo against a built-in lab
  mailcheck-audit --vantage                        what this host looks like to mail servers
  mailcheck-audit plan big.csv --shards 8 --out plan/   split for 8 machines (no shared MX address)
  mailcheck-audit merge out/shard-*.jsonl -o audit.html -o audit.csv   their reports, in input order
  mailcheck-audit sender --ip 203.0.113.25 --helo mail.example.com --domain example.com
                                                   a sending server, as Gmail and Outlook judge it

Two sides: every observation is about the target or about us (this machine: its outbound
port 25, its public address, its EHLO name and sender). A finding about us (subject \"this
machine\", or smtp.probe_blocked) is never the target's fault, and a refusal we cannot pin on
the target is inconclusive. Run --vantage first on a new host: it checks outbound port 25
(per address family), learns the public address servers see (behind NAT it is not the local
one), and checks the EHLO name, reverse DNS, sender domain and blocklists. Give the prober a
good identity: --helo NAME where NAME resolves to the public address and is its
forward-confirmed PTR name, --mail-from an address in a domain that receives mail, and
--public-ip when you know the NAT address.

History: every run is recorded (run id, times, input name and hash, vantage, each domain's
verdict, findings and full report) in an SQLite file, by default
$XDG_DATA_HOME/mailcheck/history.sqlite3 (else ~/.local/share/mailcheck/history.sqlite3), or
where --history PATH|postgres://URL (or MAILCHECK_HISTORY) says; --no-history (or
MAILCHECK_HISTORY=off) records nothing; --demo records only with --history. Each
domain is compared with its previous run; the reports lead with what changed (CSV columns
previous_verdict, change, new_findings, resolved_findings; a JSONL `changes` object). For cron:
`--fail-on worse` exits 1 only when a domain got worse since the last run, `--fail-on
new-broken` only when one is newly broken. `mailcheck-audit history --help` lists the runs,
a domain's timeline, diffs, pruning and export.

Exit codes: 0 ok, 1 --fail-on reached (with --vantage: port 25 blocked), 2 usage or input error."
)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    /// `history`: the recorded runs; `plan`/`merge`: shards for very large audits; `sender`:
    /// check a sending server (see `mailcheck-audit sender --help`)
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A domain name (or e-mail address, or URL), a path to a CSV file, or - (CSV on stdin)
    #[arg(value_name = "INPUT", required_unless_present_any = ["demo", "vantage"])]
    pub inputs: Vec<String>,

    /// Write a report; format from the extension: .csv .jsonl .json .html .md (repeatable)
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<PathBuf>,

    /// Stdout format [default: text; none when -o is given]
    #[arg(long, value_enum, value_name = "F")]
    pub format: Option<StdoutFormat>,

    /// Domains in flight
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        default_value_t = DEFAULT_CONCURRENCY,
        value_parser = parse_concurrency
    )]
    pub concurrency: usize,

    /// DNS server to use instead of the system's (repeatable)
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,

    /// Resolver also asked for each domain's MX, to compare with its name servers (repeatable)
    #[arg(long = "compare-resolver", value_name = "IP[:PORT]")]
    pub compare_resolver: Vec<String>,

    /// Blocklist zone to query (repeatable; replaces the defaults)
    #[arg(long, value_name = "ZONE")]
    pub dnsbl: Vec<String>,

    /// Do not query blocklists
    #[arg(long, conflicts_with = "dnsbl")]
    pub no_dnsbl: bool,

    /// SMTP port to probe
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    pub smtp_port: u16,

    /// HTTPS port of the `mta-sts.<domain>` hosts whose MTA-STS policies are fetched (labs)
    #[arg(long, value_name = "PORT", default_value_t = 443)]
    pub mta_sts_port: u16,

    /// DNS port the domains' name servers are asked on directly, for the name-server
    /// consistency checks (labs and tests only)
    #[arg(long, value_name = "PORT", default_value_t = 53)]
    pub ns_port: u16,

    /// DNS checks only: no SMTP connections
    #[arg(long)]
    pub no_smtp: bool,

    /// Skip the mail authentication and transport policy checks (SPF, DMARC, TLS-RPT,
    /// MTA-STS, DNSSEC/DANE, name-server consistency)
    #[arg(long)]
    pub no_auth: bool,

    /// Extra DNSSEC trust anchor for the DANE/DNSSEC checks: DNSKEY records in zone-file
    /// syntax, or a file holding them (labs, internal zones; the IANA root keys are built in)
    #[arg(long, value_name = "FILE|RECORDS")]
    pub trust_anchor: Option<String>,

    /// Our EHLO name [default: this machine's name]
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// MAIL FROM address for the probe ("<>" or empty for the null sender)
    /// [default: postmaster@<HELO name>]
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,

    /// Also try an outside recipient to detect open relays (no mail is ever sent)
    #[arg(long)]
    pub open_relay_test: bool,

    /// Canary host for the egress check (repeatable) [default: big providers' MX hosts]
    #[arg(long, value_name = "HOST[:PORT]")]
    pub egress_canary: Vec<String>,

    /// Our public (NAT) address as servers see it (repeatable) [default: learned from the
    /// address servers echo in their EHLO replies]
    #[arg(long, value_name = "IP")]
    pub public_ip: Vec<IpAddr>,

    /// Print only the "From here" block: outbound port 25 per address family, our public
    /// address, EHLO name, sender domain, reverse DNS and blocklists (exit 1 when port 25 is
    /// blocked)
    #[arg(long)]
    pub vantage: bool,

    /// Never contact canary hosts to check our own outbound port 25
    #[arg(long, conflicts_with = "egress_canary")]
    pub no_egress_check: bool,

    /// Probe and accept private/loopback addresses (labs, internal audits)
    #[arg(long)]
    pub allow_private: bool,

    /// Extra trusted CA certificates, PEM (internal PKI, labs) (repeatable)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,

    /// Connect from this source address
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<IpAddr>,

    /// Per-step timeout in seconds (DNS, connect, greeting, each command, TLS)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,

    /// TCP connect timeout in seconds [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub connect_timeout: Option<Duration>,

    /// Time allowed for the SMTP greeting in seconds [default: 60]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub greeting_timeout: Option<Duration>,

    /// Time allowed for each SMTP reply in seconds [default: 30]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub command_timeout: Option<Duration>,

    /// Minimum seconds between new connections to one address [default: 0.5]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub connect_interval: Option<Duration>,

    /// Seconds to wait before retrying a transient outcome (timeout, 4xx, dropped connection)
    /// once, before it counts [default: 3]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub retry_backoff: Option<Duration>,

    /// Most SMTP sessions open to one address at the same time [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub sessions_per_ip: Option<u32>,

    /// Most domains sharing one SMTP transaction on an address (one MAIL FROM, one RCPT TO
    /// each); 1 gives each domain its own [default: 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rcpts_per_transaction: Option<u32>,

    /// Most MX hosts of a domain probed, by preference; the rest are listed as not checked
    /// (mx.not_all_checked) [default: 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_mx_hosts: Option<u16>,

    /// Most addresses probed per MX host [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_addresses_per_host: Option<u16>,

    /// Most addresses probed per domain, all hosts together [default: 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_addresses: Option<u16>,

    /// No progress bar
    #[arg(long)]
    pub no_progress: bool,

    /// No progress bar and no summary on stderr
    #[arg(short, long)]
    pub quiet: bool,

    /// More log output on stderr (-vv for debug)
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Exit 1 when any domain's verdict is this bad or worse, or (worse, new-broken) when a
    /// domain got worse / newly broken since its previous run [default: broken; never with --demo]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,

    /// Continue a killed run: skip rows already in the -o .jsonl report and append the rest
    /// (and continue the same run in the history)
    #[arg(long)]
    pub resume: bool,

    /// Run history: an SQLite file, or a postgres://user@host/db URL [default:
    /// $XDG_DATA_HOME/mailcheck/history.sqlite3; env: MAILCHECK_HISTORY, `off` = none]
    #[arg(long, value_name = "PATH|URL", global = true)]
    pub history: Option<String>,

    /// Record nothing and compare with nothing (overrides --history and MAILCHECK_HISTORY)
    #[arg(long)]
    pub no_history: bool,

    /// Offline demo: start a built-in lab (DNS, blocklist, SMTP servers with typical faults) and
    /// audit its sample domains (or the lab domains given as INPUT, e.g. `--demo expired.test`)
    #[arg(long)]
    pub demo: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The run history: list runs, show a domain's timeline, diff two runs, prune, export
    History(crate::history::command::HistoryArgs),
    /// Split a CSV into shards for several machines: domains sharing an MX address stay in one
    /// shard (DNS only); writes `DIR/shard-<i>.csv` (i from 0) and `DIR/plan.json`
    Plan(crate::shard::plan::PlanArgs),
    /// Rebuild the reports of a sharded audit from the shards' JSONL (`-o shard-<i>.jsonl`), in
    /// input order; fails when a shard is missing or incomplete
    Merge(crate::shard::merge::MergeArgs),
    /// Check a sending server as Gmail, Outlook and Yahoo judge it: its IP's reverse DNS, HELO
    /// name, blocklists, and SPF/DMARC for its domain
    Sender(Box<crate::sender::SenderArgs>),
}

#[cfg(test)]
mod tests;
