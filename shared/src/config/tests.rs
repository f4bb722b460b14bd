//! Configuration defaults, resolver arguments and the serde round trip.

use super::*;

#[test]
fn defaults_tell_a_slow_greeting_from_none() {
    // Contract v2: slow from 10 s on, so postscreen's 6 s greet-wait is not slow; the
    // greeting timeout (60 s) lets a tarpit's greeting arrive.
    let smtp = SmtpConfig::default();
    let policy = Policy::default();
    assert_eq!(policy.slow_greeting_ms, 10_000);
    assert_eq!(smtp.greeting_timeout, Duration::from_secs(60));
}

#[test]
fn resolver_arguments() {
    assert_eq!(
        ResolverChoice::parse_server("127.0.0.1:5353").unwrap(),
        "127.0.0.1:5353".parse().unwrap()
    );
    assert_eq!(
        ResolverChoice::parse_server("192.0.2.1").unwrap(),
        "192.0.2.1:53".parse().unwrap()
    );
    assert_eq!(
        ResolverChoice::parse_server("[::1]:53").unwrap(),
        "[::1]:53".parse().unwrap()
    );
    assert!(ResolverChoice::parse_server("resolver.example").is_err());
    assert_eq!(
        ResolverChoice::from_args::<&str>(&[]).unwrap(),
        ResolverChoice::System
    );
}

#[test]
fn config_round_trips_and_defaults_fill_gaps() {
    let c: CheckConfig = serde_json::from_str(r#"{"smtp":{"port":2525}}"#).unwrap();
    assert_eq!(c.smtp.port, 2525);
    assert_eq!(
        c.smtp.greeting_timeout,
        SmtpConfig::default().greeting_timeout
    );
    assert!(!c.dnsbl.zones.is_empty());
    let back: CheckConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}
