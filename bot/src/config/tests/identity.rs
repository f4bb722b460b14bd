//! Tests of the identity settings (EHLO name, sender, public address, egress canaries, CA files):
//! from TOML and from the environment into the check configuration, defaults, and errors that
//! name the setting.

use mailcheck::CheckConfig;
use mailcheck::probe::smtp::SmtpClient;

use super::*;

#[test]
fn identity_settings_from_toml_map_to_the_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pem_file(
        dir.path(),
        "lab-ca.pem",
        &mailcheck_testkit::certs::TestCa::new().ca_pem(),
    );
    let c = BotConfig::from_toml(&format!(
        "helo_name = \"probe.example.net\"\n\
         mail_from = \"ops@example.net\"\n\
         public_ip = [\"192.0.2.7\", \"2001:db8::7\"]\n\
         egress_canaries = [\"mx.example.org\", \"192.0.2.25:2525\", \"[2001:db8::25]:25\"]\n\
         ca_file = [{:?}]\n",
        ca.display().to_string()
    ))
    .unwrap();
    c.validate().unwrap();
    let check = c.check_config().unwrap();
    assert_eq!(check.smtp.helo_name, "probe.example.net");
    assert_eq!(check.smtp.mail_from, "ops@example.net");
    let ips: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()];
    assert_eq!(check.egress.public_ips, ips);
    assert!(check.egress.enabled);
    assert_eq!(
        check.egress.canaries,
        ["mx.example.org", "192.0.2.25:2525", "[2001:db8::25]:25"]
    );
    assert_eq!(check.smtp.extra_ca_pem.len(), 1);
    assert!(check.smtp.extra_ca_pem[0].contains("-----BEGIN CERTIFICATE-----"));
    // The checker accepts all of it.
    mailcheck::Checker::new(check).unwrap();
}

#[test]
fn identity_defaults_are_the_librarys() {
    let check = BotConfig::default().check_config().unwrap();
    let library = CheckConfig::default();
    assert_eq!(check.smtp.helo_name, "");
    assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
    assert_eq!(check.egress, library.egress);
    assert_eq!(
        check.egress.canaries,
        mailcheck::config::DEFAULT_CANARIES.to_vec()
    );
    assert!(check.egress.enabled && check.egress.public_ips.is_empty());
    assert!(check.smtp.extra_ca_pem.is_empty());
    // An empty sender in the file means the default too, not the null sender.
    let c = BotConfig::from_toml("mail_from = \"\"\negress_canaries = []\n").unwrap();
    let check = c.check_config().unwrap();
    assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
    assert_eq!(check.egress, library.egress);
}

#[test]
fn identity_settings_from_env() {
    let dir = tempfile::tempdir().unwrap();
    let pem = mailcheck_testkit::certs::TestCa::new().ca_pem();
    let a = pem_file(dir.path(), "a.pem", &pem);
    let b = pem_file(dir.path(), "b.pem", &pem);
    let mut c = BotConfig::from_toml("helo_name = \"file.example\"\n").unwrap();
    c.apply_env(env(&[
        ("MAILCHECK_HELO_NAME", " probe.example.net "),
        ("MAILCHECK_MAIL_FROM", "<>"),
        ("MAILCHECK_PUBLIC_IP", "192.0.2.7, 198.51.100.9"),
        (
            "MAILCHECK_EGRESS_CANARIES",
            "127.0.0.10:2525 , canary.example:25",
        ),
        (
            "MAILCHECK_CA_FILE",
            &format!("{}, {}", a.display(), b.display()),
        ),
    ]))
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.helo_name, "probe.example.net");
    assert_eq!(c.mail_from.as_deref(), Some("<>"));
    assert_eq!(c.ca_file, [a, b]);
    let check = c.check_config().unwrap();
    assert_eq!(check.smtp.helo_name, "probe.example.net");
    assert_eq!(
        check.egress.canaries,
        ["127.0.0.10:2525", "canary.example:25"]
    );
    assert_eq!(check.egress.public_ips.len(), 2);
    assert_eq!(check.smtp.extra_ca_pem.len(), 2);
    // `<>` reaches the library as the null sender.
    assert_eq!(SmtpClient::new(&check.smtp).unwrap().mail_from(), "");

    // `none` turns the egress check off; empty values go back to the defaults.
    c.apply_env(env(&[
        ("MAILCHECK_EGRESS_CANARIES", "none"),
        ("MAILCHECK_MAIL_FROM", ""),
        ("MAILCHECK_HELO_NAME", ""),
        ("MAILCHECK_PUBLIC_IP", ""),
        ("MAILCHECK_CA_FILE", ""),
    ]))
    .unwrap();
    c.validate().unwrap();
    let check = c.check_config().unwrap();
    assert!(!check.egress.enabled);
    assert_eq!(check.smtp.mail_from, mailcheck::config::AUTO_SENDER);
    assert_eq!(check.smtp.helo_name, "");
    assert!(check.egress.public_ips.is_empty() && check.smtp.extra_ca_pem.is_empty());
    // In the file, ["none"] does the same.
    let c = BotConfig::from_toml("egress_canaries = [\"none\"]\n").unwrap();
    c.validate().unwrap();
    assert!(!c.check_config().unwrap().egress.enabled);
}

#[test]
fn bad_identity_values_name_the_setting() {
    // Addresses: in the environment the variable is named, in the file the key.
    let err = BotConfig::default()
        .apply_env(env(&[("MAILCHECK_PUBLIC_IP", "192.0.2.7, nat-box")]))
        .unwrap_err();
    assert_eq!(invalid_setting(&err), "MAILCHECK_PUBLIC_IP");
    assert!(err.to_string().contains("nat-box"), "{err}");
    let err = BotConfig::from_toml("public_ip = [\"192.0.2.300\"]").unwrap_err();
    assert!(err.contains("public_ip"), "{err}");
    let c = BotConfig {
        public_ip: vec!["0.0.0.0".parse().unwrap()],
        ..BotConfig::default()
    };
    assert_eq!(invalid_setting(&c.validate().unwrap_err()), "public_ip");

    // One token each: the library's own check, surfaced at load.
    for (c, setting) in [
        (
            BotConfig {
                helo_name: "two words".into(),
                ..BotConfig::default()
            },
            "helo_name",
        ),
        (
            BotConfig {
                helo_name: "probe.example.net".into(),
                mail_from: Some("a@b.example>\r\nDATA".into()),
                ..BotConfig::default()
            },
            "mail_from",
        ),
        (
            BotConfig {
                mail_from: Some("ops @example.net".into()),
                ..BotConfig::default()
            },
            "mail_from",
        ),
    ] {
        let err = c.validate().unwrap_err();
        assert_eq!(invalid_setting(&err), setting, "{err}");
        assert!(err.to_string().contains("one token"), "{err}");
    }

    // Canaries.
    for canaries in [
        vec!["mx.example.org:smtp"],
        vec!["mx.example.org:0"],
        vec!["two words"],
        vec![":25"],
        vec!["none", "mx.example.org"],
    ] {
        let c = BotConfig {
            egress_canaries: canaries.iter().map(|s| (*s).to_owned()).collect(),
            ..BotConfig::default()
        };
        let err = c.validate().unwrap_err();
        assert_eq!(
            invalid_setting(&err),
            "egress_canaries",
            "{canaries:?}: {err}"
        );
    }

    // CA files: missing, not PEM, PEM that is not a certificate.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = pem_file(dir.path(), "key.txt", "just some text\n");
    let broken = pem_file(
        dir.path(),
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    );
    for (path, says) in [
        (&missing, "cannot read"),
        (&not_pem, "-----BEGIN CERTIFICATE-----"),
        (&broken, "broken.pem"),
    ] {
        let c = BotConfig {
            ca_file: vec![path.clone()],
            ..BotConfig::default()
        };
        for err in [c.validate().unwrap_err(), c.check_config().unwrap_err()] {
            assert_eq!(invalid_setting(&err), "ca_file", "{err}");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(says), "{text}");
        }
    }
    // From the environment the path is only taken; reading it is part of validation.
    let mut c = BotConfig::default();
    c.apply_env(env(&[(
        "MAILCHECK_CA_FILE",
        &not_pem.display().to_string(),
    )]))
    .unwrap();
    assert_eq!(invalid_setting(&c.validate().unwrap_err()), "ca_file");
}

#[test]
fn load_validates_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let file = pem_file(dir.path(), "bot.toml", "helo_name = \"no good\"\n");
    // `load` also reads the process's MAILCHECK_* variables; none of them is about the
    // EHLO name in a test run, so the file's bad value must be reported.
    if std::env::var_os("MAILCHECK_HELO_NAME").is_none() {
        let err = BotConfig::load(Some(&file)).unwrap_err();
        assert_eq!(invalid_setting(&err), "helo_name", "{err}");
    }
}
