//! Tests of the settings: file then environment, limits and the deadline, errors that name the
//! setting, the documented example; the identity settings in `tests/identity.rs`.

mod identity;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn file_then_env() {
    let mut c = BotConfig::from_toml(
        "guild_id = 42\nresolver = [\"127.0.0.1:5353\"]\nuser_cooldown_secs = 7\n",
    )
    .unwrap();
    assert_eq!(c.guild_id, Some(42));
    c.apply_env(env(&[
        ("MAILCHECK_GUILD_ID", "global"),
        ("MAILCHECK_CACHE_TTL_SECS", "9"),
        ("MAILCHECK_DNSBL_ZONES", "a.example, b.example"),
        ("MAILCHECK_ALLOW_PRIVATE", "yes"),
        ("MAILCHECK_SMTP_PORT", "2525"),
        ("PATH", "/bin"),
    ]))
    .unwrap();
    assert_eq!(c.guild_id, None);
    assert_eq!(c.user_cooldown_secs, 7);
    assert_eq!(c.cache_ttl(), Duration::from_secs(9));
    assert!(c.allow_private);
    c.validate().unwrap();
    let check = c.check_config().unwrap();
    assert_eq!(check.dnsbl.zones, ["a.example", "b.example"]);
    assert!(check.allow_private);
    assert!(!check.smtp.open_relay_test);
    assert_eq!(check.smtp.port, 2525);
    assert_eq!(check.dns.resolver.label(), "127.0.0.1:5353");
}

#[test]
fn operator_and_politeness_settings() {
    let mut c =
        BotConfig::from_toml("allowed_guilds = [1, 2]\nprivate_guilds = [2]\nmax_mx_hosts = 3\n")
            .unwrap();
    c.apply_env(env(&[
        ("MAILCHECK_ALLOW_DMS", "off"),
        ("MAILCHECK_ADDRESS_BUDGET_SECS", "600"),
        ("MAILCHECK_MAX_SMTP_CONNECTIONS", "8"),
        ("MAILCHECK_FAILURE_CACHE_TTL_SECS", "30"),
        ("MAILCHECK_MAX_ADDRESSES_PER_DOMAIN", "5"),
    ]))
    .unwrap();
    c.validate().unwrap();
    assert!(c.allowed_in(Some(1)) && !c.allowed_in(Some(3)) && !c.allowed_in(None));
    assert!(c.private_default(Some(2)) && !c.private_default(Some(1)));
    assert_eq!(c.failure_cache_ttl(), Duration::from_secs(30));
    let check = c.check_config().unwrap();
    // The budget lives with the checker's caches (300 s by default).
    assert_eq!(check.smtp.address_budget, Duration::from_secs(300));
    assert_eq!(check.smtp.max_connections, 8);
    assert_eq!(
        (check.fan_out.max_hosts, check.fan_out.max_addresses),
        (3, 5)
    );
    assert!(
        BotConfig::default().allowed_in(Some(99)),
        "empty: any guild"
    );
    assert!(BotConfig::default().allowed_in(None), "DMs on by default");
}

#[test]
fn the_deadline_is_bounded_and_the_timeouts_fit_inside_it() {
    let too_long = BotConfig {
        check_deadline_secs: 841,
        ..BotConfig::default()
    };
    let err = too_long.validate().unwrap_err().to_string();
    assert!(
        err.contains("check_deadline_secs") && err.contains("840"),
        "{err}"
    );
    let short = BotConfig {
        check_deadline_secs: 20,
        ..BotConfig::default()
    };
    short.validate().unwrap();
    let check = short.check_config().unwrap();
    let deadline = Duration::from_secs(20);
    assert!(check.smtp.session_deadline <= deadline);
    for t in [
        check.smtp.greeting_timeout,
        check.smtp.command_timeout,
        check.smtp.connect_timeout,
        check.smtp.tls_timeout,
        check.dns.timeout,
        check.auth.https_timeout,
    ] {
        assert!(t < deadline, "{t:?}");
    }
    // The default 60 s deadline leaves each SMTP step up to 24 s (the library allows 60).
    let long = BotConfig::default().check_config().unwrap();
    assert_eq!(long.smtp.greeting_timeout, Duration::from_secs(24));
}

#[test]
fn bad_values_name_the_setting() {
    let err = BotConfig::default()
        .apply_env(env(&[("MAILCHECK_USER_COOLDOWN_SECS", "soon")]))
        .unwrap_err();
    assert!(
        err.to_string().contains("MAILCHECK_USER_COOLDOWN_SECS"),
        "{err}"
    );
    let c = BotConfig {
        resolver: vec!["nope".into()],
        ..BotConfig::default()
    };
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .starts_with("resolver")
    );
    assert!(BotConfig::from_toml("unknown_key = 1").is_err());
    let c = BotConfig {
        max_concurrent_checks: 0,
        ..BotConfig::default()
    };
    assert!(c.validate().is_err());
}

#[test]
fn compare_resolvers_from_toml_and_env() {
    let c = BotConfig::from_toml("compare_resolvers = [\"9.9.9.9\", \"[::1]:5353\"]\n").unwrap();
    assert_eq!(
        c.check_config().unwrap().auth.compare_resolvers,
        [
            "9.9.9.9:53".parse::<std::net::SocketAddr>().unwrap(),
            "[::1]:5353".parse().unwrap()
        ]
    );
    let mut c = BotConfig::default();
    c.apply_env(env(&[(
        "MAILCHECK_COMPARE_RESOLVERS",
        "1.1.1.1, 127.0.0.1:5353",
    )]))
    .unwrap();
    assert_eq!(c.compare_resolvers, ["1.1.1.1", "127.0.0.1:5353"]);
    assert_eq!(c.check_config().unwrap().auth.compare_resolvers.len(), 2);
    assert!(
        BotConfig::default()
            .check_config()
            .unwrap()
            .auth
            .compare_resolvers
            .is_empty()
    );
    c.apply_env(env(&[("MAILCHECK_COMPARE_RESOLVERS", "dns.example")]))
        .unwrap();
    assert_eq!(
        invalid_setting(&c.validate().unwrap_err()),
        "compare_resolvers"
    );
}

fn pem_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn invalid_setting(err: &ConfigError) -> &str {
    match err {
        ConfigError::Invalid { setting, .. } => setting,
        other => panic!("not an Invalid error: {other}"),
    }
}

#[test]
fn the_documented_example_parses() {
    let example: String = include_str!("../config.rs")
        .lines()
        .skip_while(|l| *l != "//! ```toml")
        .skip(1)
        .take_while(|l| *l != "//! ```")
        .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
        .collect::<Vec<_>>()
        .join("\n");
    let c = BotConfig::from_toml(&example).unwrap();
    assert_eq!(c.helo_name, "probe.example.net");
    assert_eq!(c.public_ip, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
    assert_eq!(c.ca_file, [PathBuf::from("/etc/mailcheck/lab-ca.pem")]);
    assert_eq!(c.egress_canaries.len(), 2);
}

#[test]
fn no_blocklists_when_empty() {
    let mut c = BotConfig::default();
    c.apply_env(env(&[("MAILCHECK_DNSBL_ZONES", "none")]))
        .unwrap();
    assert!(!c.check_config().unwrap().dnsbl.enabled);
}
