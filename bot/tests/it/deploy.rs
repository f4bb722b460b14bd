//! The deployment files under `deploy/` agree with the code: the sample configuration loads
//! and validates (with every example setting too) and names every key; the systemd unit and
//! the Dockerfile start the binary with subcommands and flags it has; the binaries' manifests
//! ship no test-only crate.

use std::path::PathBuf;
use std::process::Command;

use mailcheck_bot::BotConfig;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcheck-bot"))
        .args(args)
        .arg("--help")
        .env_remove("MAILCHECK_HEALTH_ADDR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Each `--flag` among `args` is listed by `mailcheck-bot <subcommand> --help`.
fn assert_flags_exist(args: &[&str], what: &str) {
    let (subcommand, flags) = args.split_first().expect("a subcommand");
    let help = help(&[subcommand]);
    for flag in flags.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(&format!("{flag} ")),
            "{what}: `mailcheck-bot {subcommand}` has no {flag}:\n{help}"
        );
    }
}

#[test]
fn the_sample_configuration_validates_and_names_every_key() {
    let text = read("deploy/mailcheck-bot.toml");
    let shipped = BotConfig::from_toml(&text).unwrap();
    shipped.validate().unwrap();
    // As shipped it behaves like no file at all.
    assert_eq!(shipped, BotConfig::default());

    // The examples ("#key = value") are valid too.
    let examples: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let all = BotConfig::from_toml(&examples).unwrap_or_else(|e| panic!("{e}\n{examples}"));
    all.validate().unwrap();
    assert_eq!(all.guild_id, Some(123_456_789_012_345_678));
    assert_eq!(all.helo_name, "probe.example.net");

    // Every setting is at least mentioned.
    let keys = serde_json::to_value(BotConfig::default()).unwrap();
    for key in keys.as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("{key} =")),
            "deploy/mailcheck-bot.toml does not mention {key}"
        );
    }
}

#[test]
fn the_systemd_unit_runs_flags_that_exist_and_is_hardened() {
    let unit = read("deploy/systemd/mailcheck-bot.service");
    let directive = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{key}= missing"))
            .to_owned()
    };
    let exec = directive("ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/mailcheck-bot"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--health-addr"), "{exec}");
    assert_flags_exist(&args, "ExecStart");
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("Restart", "on-failure"),
        ("EnvironmentFile", "/etc/mailcheck/mailcheck-bot.env"),
    ] {
        assert_eq!(directive(key), value, "{key}");
    }
    assert!(!directive("RestartSec").is_empty());
    // A refused registration (exit 1) must not restart in a hot loop.
    assert!(
        unit.contains("StartLimitBurst=") || unit.contains("\nRestartPreventExitStatus=1"),
        "{unit}"
    );

    // systemd's own check, where it is installed (it wants the binary to exist).
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("mailcheck-bot.service");
        let text = unit
            .replace(
                "/usr/local/bin/mailcheck-bot",
                env!("CARGO_BIN_EXE_mailcheck-bot"),
            )
            .replace("EnvironmentFile=/", "EnvironmentFile=-/");
        std::fs::write(&local, text).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&local)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.trim().is_empty(), "{said}");
    }
}

#[test]
fn the_dockerfile_builds_the_bot_and_runs_what_exists() {
    let dockerfile = read("deploy/docker/Dockerfile");
    let instruction = |name: &str| {
        dockerfile
            .lines()
            .filter(|l| l.starts_with(&format!("{name} ")))
            .map(|l| l[name.len() + 1..].to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        instruction("FROM"),
        ["rust:1-bookworm AS build", "debian:bookworm-slim"]
    );
    assert_eq!(instruction("ENTRYPOINT"), [r#"["mailcheck-bot"]"#]);
    let cmd = instruction("CMD");
    assert_eq!(
        cmd,
        [r#"["run", "--config", "/etc/mailcheck/mailcheck-bot.toml"]"#]
    );
    let args: Vec<String> = serde_json::from_str(&cmd[0]).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_flags_exist(&args, "CMD");
    assert!(
        dockerfile.contains(r#"CMD ["mailcheck-bot", "health"]"#),
        "HEALTHCHECK"
    );
    assert!(help(&["health"]).contains("MAILCHECK_HEALTH_ADDR"));
    assert!(dockerfile.contains("ENV MAILCHECK_HEALTH_ADDR="));
    assert_eq!(instruction("USER"), ["mailcheck"]);
    assert!(!dockerfile.to_lowercase().contains("libssl"));

    // The dependency layer copies every workspace member's manifest.
    let workspace: toml::Table = read("Cargo.toml").parse().unwrap();
    for member in workspace["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let copy = format!("COPY {member}/Cargo.toml {member}/");
        assert!(dockerfile.contains(&copy), "{copy:?} missing");
    }
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "{ignore}");
}

/// What ships holds no test-only code: the binaries (and the library and the demo lab under
/// them) take `mailcheck-testkit` (the Discord stand-in with its WebSocket server, and the test
/// helpers) as a dev-dependency only, and the demo lab brings no Discord crates.
/// `cargo tree -e normal -p mailcheck-audit` shows the same; this checks the manifests, cheaply.
#[test]
fn the_binaries_ship_without_the_test_kit() {
    let normal = |manifest: &str| -> Vec<String> {
        let toml: toml::Table = read(manifest).parse().unwrap();
        let mut names: Vec<String> = toml
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        // [target.'cfg(..)'.dependencies] are normal dependencies too.
        if let Some(targets) = toml.get("target").and_then(toml::Value::as_table) {
            for t in targets.values() {
                if let Some(deps) = t.get("dependencies").and_then(toml::Value::as_table) {
                    names.extend(deps.keys().cloned());
                }
            }
        }
        names
    };
    for manifest in [
        "audit/Cargo.toml",
        "bot/Cargo.toml",
        "shared/Cargo.toml",
        "crates/lab/Cargo.toml",
    ] {
        let deps = normal(manifest);
        assert!(
            !deps.iter().any(|d| d == "mailcheck-testkit"),
            "{manifest}: mailcheck-testkit must be a dev-dependency only: {deps:?}"
        );
    }
    for binary in ["audit/Cargo.toml", "bot/Cargo.toml"] {
        assert!(
            normal(binary).iter().any(|d| d == "mailcheck-lab"),
            "{binary}: the demo lab is a normal dependency (--demo, preview --lab)"
        );
    }
    let lab = normal("crates/lab/Cargo.toml");
    for test_only in [
        "tokio-tungstenite",
        "serenity",
        "poise",
        "mailcheck-audit",
        "mailcheck-bot",
    ] {
        assert!(
            !lab.iter().any(|d| d == test_only),
            "crates/lab/Cargo.toml depends on {test_only}: {lab:?}"
        );
    }
}
