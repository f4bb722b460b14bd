//! Tests of the command line: flags into the check configuration, compare resolvers, the
//! history flags and subcommand, usage errors, the flags named in advice.

use mailcheck::config::ResolverChoice;

use super::*;
use crate::error::AuditError;

#[test]
fn advice_about_us_gets_the_flags_of_its_settings() {
    assert_eq!(
        settings_hint(mailcheck::Code::ProbeIdentity),
        " (set with --helo, --mail-from)"
    );
    assert_eq!(
        settings_hint(mailcheck::Code::DnsblUnavailable),
        " (set with --resolver)"
    );
    assert_eq!(settings_hint(mailcheck::Code::SmtpRelayDenied), "");
}

#[test]
fn flags_build_the_config() {
    let cli = Cli::try_parse_from([
        "mailcheck-audit",
        "--resolver",
        "127.0.0.1:5353",
        "--dnsbl",
        "bl.test.",
        "--timeout",
        "1.5",
        "--greeting-timeout",
        "7",
        "--no-egress-check",
        "--allow-private",
        "--sessions-per-ip",
        "3",
        "--rcpts-per-transaction",
        "1",
        "--max-mx-hosts",
        "3",
        "--max-addresses-per-host",
        "2",
        "--max-addresses",
        "5",
        "example.com",
    ])
    .unwrap();
    let c = cli.check_config().unwrap();
    assert_eq!(
        (
            c.fan_out.max_hosts,
            c.fan_out.max_addresses_per_host,
            c.fan_out.max_addresses
        ),
        (3, 2, 5)
    );
    assert_eq!(c.smtp.sessions_per_ip, 3);
    assert_eq!(c.smtp.max_rcpts_per_transaction, 1);
    assert!(Cli::try_parse_from(["mailcheck-audit", "--sessions-per-ip", "0", "x.test"]).is_err());
    assert_eq!(
        c.dns.resolver,
        ResolverChoice::Servers(vec!["127.0.0.1:5353".parse().unwrap()])
    );
    assert_eq!(c.dnsbl.zones, ["bl.test"]);
    assert_eq!(c.smtp.connect_timeout, Duration::from_millis(1500));
    assert_eq!(c.smtp.greeting_timeout, Duration::from_secs(7));
    assert!(!c.egress.enabled && c.allow_private);
}

#[test]
fn compare_resolvers() {
    let cli = Cli::try_parse_from([
        "mailcheck-audit",
        "--compare-resolver",
        "9.9.9.9",
        "--compare-resolver",
        "[2001:db8::53]:5353",
        "example.com",
    ])
    .unwrap();
    assert_eq!(
        cli.check_config().unwrap().auth.compare_resolvers,
        [
            "9.9.9.9:53".parse::<std::net::SocketAddr>().unwrap(),
            "[2001:db8::53]:5353".parse().unwrap()
        ]
    );
    let none = Cli::try_parse_from(["mailcheck-audit", "example.com"]).unwrap();
    assert!(
        none.check_config()
            .unwrap()
            .auth
            .compare_resolvers
            .is_empty()
    );
    let bad = Cli::try_parse_from([
        "mailcheck-audit",
        "--compare-resolver",
        "dns.example",
        "example.com",
    ])
    .unwrap();
    assert!(matches!(
        bad.check_config(),
        Err(AuditError::Usage(m)) if m.starts_with("--compare-resolver")
    ));
}

#[test]
fn history_flags_and_subcommand() {
    let cli = Cli::try_parse_from([
        "mailcheck-audit",
        "--fail-on",
        "new-broken",
        "--history",
        "/tmp/h.sqlite3",
        "list.csv",
    ])
    .unwrap();
    assert_eq!(cli.fail_on, Some(FailOn::NewBroken));
    assert!(cli.fail_on.unwrap().needs_history() && FailOn::Worse.needs_history());
    assert_eq!(FailOn::Worse.threshold(), None);
    assert_eq!(
        cli.history_location().unwrap(),
        Some(crate::history::Location::Sqlite("/tmp/h.sqlite3".into()))
    );
    let demo = Cli::try_parse_from(["mailcheck-audit", "--demo"]).unwrap();
    assert_eq!(
        demo.history_location().unwrap(),
        None,
        "--demo records only when asked"
    );
    let off = Cli::try_parse_from([
        "mailcheck-audit",
        "--no-history",
        "--history",
        "x",
        "a.test",
    ])
    .unwrap();
    assert_eq!(off.history_location().unwrap(), None);

    let cli = Cli::try_parse_from([
        "mailcheck-audit",
        "history",
        "show",
        "example.com",
        "--format",
        "json",
        "--history",
        "postgres://u@db/mc",
    ])
    .unwrap();
    let Some(Command::History(h)) = &cli.command else {
        panic!("no history subcommand: {cli:?}");
    };
    assert_eq!(h.format, crate::history::command::HistoryFormat::Json);
    assert!(matches!(
        &h.action,
        crate::history::command::Action::Show { domain, .. } if domain == "example.com"
    ));
    assert!(
        cli.history
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://"))
    );
    assert!(Cli::try_parse_from(["mailcheck-audit", "history"]).is_err());
}

#[test]
fn default_canaries_and_usage_errors() {
    let cli = Cli::try_parse_from(["mailcheck-audit", "example.com"]).unwrap();
    assert_eq!(
        cli.check_config().unwrap().egress.canaries.len(),
        mailcheck::config::DEFAULT_CANARIES.len()
    );
    let cli =
        Cli::try_parse_from(["mailcheck-audit", "--public-ip", "192.0.2.7", "--vantage"]).unwrap();
    assert_eq!(
        cli.check_config().unwrap().egress.public_ips,
        ["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    assert!(Cli::try_parse_from(["mailcheck-audit"]).is_err());
    assert!(Cli::try_parse_from(["mailcheck-audit", "-j", "0", "x.com"]).is_err());
    assert!(Cli::try_parse_from(["mailcheck-audit", "--demo"]).is_ok());
}
