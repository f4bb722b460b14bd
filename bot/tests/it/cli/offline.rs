//! The binary without Discord: `--help` explains setup and names `preview`; `preview --lab`
//! prints the exact embed JSON for a lab domain and refuses what is not a domain.

use super::bot;

#[test]
fn help_explains_setup_and_names_preview() {
    let out = bot().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "preview",
        "run",
        "DISCORD_TOKEN",
        "applications.commands",
        "guild_id",
        "MAILCHECK_",
        "--lab",
        "helo_name",
        "mail_from",
        "public_ip",
        "egress_canaries",
        "ca_file",
        "From here",
        "inconclusive",
        "allowed_guilds",
        "allow_dms",
        "private_by_default",
        "private_guilds",
        "failure_cache_ttl_secs",
        "address_budget_secs",
        "max_smtp_connections",
        "max_mx_hosts",
        "max_addresses_per_host",
        "max_addresses_per_domain",
        "--health-addr",
        "/healthz",
        "--shards",
        "--log-format",
        "exits 1",
    ] {
        assert!(help.contains(needle), "{needle:?} missing in\n{help}");
    }
    let out = bot().args(["preview", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("closed.test") && help.contains("healthy.test"),
        "{help}"
    );
}

#[test]
fn preview_lab_closed_test_prints_the_embed_a_volunteer_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.txt");
    let out = bot()
        .args(["preview", "--lab", "closed.test", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(
        json["attachments"][0]["filename"],
        "mailcheck-closed.test.txt"
    );
    let embed = &json["embeds"][0];
    assert_eq!(embed["title"], "Mail check: closed.test");
    assert_eq!(embed["color"], 0xE7_4C_3C);
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("Broken") && description.contains("cannot be delivered"),
        "{description}"
    );
    assert!(description.contains("1 problem to fix"), "{description}");
    let problem = &embed["fields"][0];
    let name = problem["name"].as_str().unwrap();
    assert!(name.starts_with("🔴 Error: mx.closed.test"), "{name}");
    let value = problem["value"].as_str().unwrap();
    assert!(
        value.contains("`smtp.refused`") && value.contains("**Fix:**"),
        "{value}"
    );
    let host = embed["fields"][1].to_string();
    assert!(host.contains("MX 10 mx.closed.test"), "{host}");
    assert!(
        host.contains("connection refused: no mail server listening"),
        "{host}"
    );
    let footer = embed["footer"]["text"].as_str().unwrap();
    assert!(footer.contains("attached file"), "{footer}");
    let report = std::fs::read_to_string(&file).unwrap();
    assert!(report.contains("verdict: broken"), "{report}");
    assert!(report.contains("smtp.refused"), "{report}");
}

#[test]
fn preview_rejects_input_that_is_not_a_domain() {
    let out = bot()
        .args(["preview", "--lab", "not a domain!"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("I can't check that"), "{stderr}");
    assert!(out.stdout.is_empty());
}
