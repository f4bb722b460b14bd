//! The bot end to end through the real serenity gateway and REST code, against the loopback
//! Discord stand-in of the test kit. Checks are answered by a scripted [`Diagnoser`], so these
//! tests exercise the bot (defer, progress, rendering, safety, cooldowns, cache, cap) and not the
//! probes.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{Bot, assert_neutralized};
use mailcheck::check::MailHost;
use mailcheck::dnsbl::DnsblStatus;
use mailcheck::facts::AddressScope;
use mailcheck::report::{AddressSummary, DnsblSummary, MxSummary, SmtpSummary};
use mailcheck::{Code, DomainName, Finding, Report, Verdict};
use mailcheck_bot::backend::BoxFuture;
use mailcheck_bot::{BotConfig, Data, Diagnoser, Progress, ProgressSender};
use mailcheck_testkit::discord::{CommandSpec, DiscordEvent, Fault, RouteMatch};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);
const GUILD: u64 = 555_000_000_000_000_001;
const HOSTILE: &str = "mx1.example.test ESMTP @everyone <@123> **x** <@&77> @here";

/// Answers every check with a copy of `report`, after an optional gate opens.
#[derive(Debug)]
struct Scripted {
    report: Report,
    gate: watch::Receiver<bool>,
    calls: AtomicUsize,
}

impl Diagnoser for Scripted {
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        _options: mailcheck::CheckOptions,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            progress.send(Progress::MxFound(vec![MailHost {
                host: "mx1.example.test".to_owned(),
                preference: 10,
                addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25))],
            }]));
            let mut gate = self.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            let mut report = self.report.clone();
            domain.as_str().clone_into(&mut report.domain);
            report
        })
    }
}

fn sample_report() -> Report {
    let smtp = SmtpSummary {
        status: mailcheck::report::SmtpStatus::Accepted,
        banner: Some(HOSTILE.to_owned()),
        starttls: Some(true),
        tls_version: Some("TLSv1.3".to_owned()),
        cert_ok: Some(true),
        last_reply: Some("250 2.1.5 Ok".to_owned()),
        note: None,
    };
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25));
    let mut report = Report::invalid("example.test", "");
    report.error = None;
    report.verdict = Verdict::Broken;
    report.worst = Some(mailcheck::Severity::Error);
    report.resolver = "127.0.0.1:5353".to_owned();
    report.elapsed_ms = 1234;
    report.mx = vec![MxSummary {
        host: "mx1.example.test".to_owned(),
        preference: 10,
        implicit: false,
        addresses: vec![AddressSummary {
            ip,
            scope: AddressScope::Public,
            ptr: vec!["mx1.example.test".to_owned()],
            fcrdns: Some(true),
            smtp,
            dnsbl: vec![DnsblSummary {
                zone: "zen.example".to_owned(),
                status: DnsblStatus::Listed {
                    kind: mailcheck::dnsbl::ListingKind::Abuse,
                    codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
                    meanings: vec!["spam source".to_owned()],
                },
            }],
        }],
    }];
    report.findings = vec![
        Finding::new(
            Code::SmtpBannerMismatch,
            ip.to_string(),
            "The greeting names another host",
        )
        .evidence(format!("220 {HOSTILE}"))
        .advice("Make the greeting name the MX host."),
        Finding::new(Code::DnsblListed, ip.to_string(), "Listed on zen.example")
            .evidence("127.0.0.2")
            .advice("Find the cause, then request delisting."),
    ];
    report
}

struct Harness {
    bot: Bot,
    scripted: Arc<Scripted>,
    open_gate: watch::Sender<bool>,
}

async fn start(config: BotConfig, gate_open: bool) -> Harness {
    let (open_gate, gate) = watch::channel(gate_open);
    let scripted = Arc::new(Scripted {
        report: sample_report(),
        gate,
        calls: AtomicUsize::new(0),
    });
    let config = BotConfig {
        guild_id: Some(GUILD),
        ..config
    };
    let data = Data::with_diagnoser(config, Arc::clone(&scripted) as Arc<dyn Diagnoser>);
    Harness {
        bot: Bot::start(data, WAIT).await,
        scripted,
        open_gate,
    }
}

fn lenient() -> BotConfig {
    BotConfig {
        user_cooldown_secs: 0,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    }
}

#[tokio::test]
async fn registers_defers_first_then_shows_progress_and_a_safe_final_embed() {
    let h = start(lenient(), false).await;
    let registered = h
        .bot
        .discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::CreateCommand { .. }))
        .await
        .unwrap();
    let DiscordEvent::CreateCommand { command, .. } = &registered.event else {
        unreachable!()
    };
    assert_eq!(command["name"], "mailcheck");
    assert_eq!(command["options"][0]["name"], "domain");
    assert_eq!(command["options"][1]["name"], "private");
    // Upserted by name: never a bulk overwrite that would drop a host bot's other commands.
    assert!(
        !h.bot
            .discord
            .events()
            .iter()
            .any(|r| matches!(r.event, DiscordEvent::RegisterCommands { .. }))
    );

    let sent = h.bot.send(42, Some(GUILD), "Postmaster@Example.TEST");
    // The first answer is the defer, and it comes while the check is still held at the gate;
    // then progress: the MX list, still before the check is allowed to finish.
    let (first, progress) = h
        .bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    assert!(first.event.is_defer_of(&sent.token), "{first:?}");
    assert!(!first.event.is_ephemeral());
    assert!(progress.event.files().is_empty());
    h.open_gate.send_replace(true);

    let edit = h.bot.final_edit(&sent.token).await;
    let payload = edit.event.message_payload().unwrap();
    assert_eq!(payload["allowed_mentions"]["parse"], serde_json::json!([]));
    let embed = &edit.event.embeds()[0];
    assert_eq!(embed["title"], "Mail check: example.test");
    assert_eq!(embed["color"], 0xE7_4C_3C, "broken is red");
    let text = embed.to_string();
    assert!(text.contains("Broken"), "{text}");
    assert!(
        text.contains("dnsbl.listed") && text.contains("smtp.banner_mismatch"),
        "{text}"
    );
    assert!(
        text.contains("blocklists: **listed** on zen.example"),
        "{text}"
    );
    assert!(text.contains("TLSv1.3"), "{text}");
    // The hostile banner arrives neutralized.
    assert_neutralized(&text, &["@everyone", "@here", "<@123>", "<@&77>", "**x**"]);
    // Errors before warnings.
    let fields = embed["fields"].as_array().unwrap();
    let first_field = fields[0]["value"].as_str().unwrap();
    assert!(first_field.contains("dnsbl.listed"), "{fields:?}");
    assert!(embed["footer"]["text"].as_str().unwrap().contains("1.2 s"));
    // The full report as a file.
    let file = &edit.event.files()[0];
    assert_eq!(file.filename, "mailcheck-example.test.txt");
    assert!(file.text().contains("verdict: broken"));
    // Nothing else reached the API.
    let others: Vec<String> = h
        .bot
        .discord
        .events()
        .into_iter()
        .filter_map(|r| match r.event {
            DiscordEvent::Other { method, path, .. } => Some(format!("{method} {path}")),
            _ => None,
        })
        .collect();
    assert_eq!(others, ["GET /api/v10/gateway"]);
}

#[tokio::test]
async fn invalid_input_is_answered_privately_without_a_check() {
    let h = start(lenient(), true).await;
    let sent = h.bot.send(42, Some(GUILD), "not a domain <@1>");
    let answer = h.bot.answer(&sent.token).await;
    assert_eq!(answer.event.callback_type(), Some(4), "{answer:?}");
    assert!(answer.event.is_ephemeral());
    let content = answer.event.content().unwrap();
    assert!(content.starts_with("I can't check that"), "{content}");
    assert!(!content.contains("<@1>"), "{content}");
    assert_eq!(
        answer.event.message_payload().unwrap()["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn user_cooldown_answers_privately() {
    let config = BotConfig {
        user_cooldown_secs: 60,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    };
    let h = start(config, true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(42, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert_eq!(answer.event.callback_type(), Some(4));
    assert!(answer.event.is_ephemeral());
    assert!(
        answer.event.content().unwrap().contains("Please wait"),
        "{answer:?}"
    );
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn guild_cooldown_applies_to_other_users() {
    let config = BotConfig {
        user_cooldown_secs: 0,
        guild_cooldown_secs: 60,
        ..BotConfig::default()
    };
    let h = start(config, true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(43, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert!(answer.event.is_ephemeral());
    assert!(
        answer
            .event
            .content()
            .unwrap()
            .contains("This server ran a check"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn repeated_domain_comes_from_the_cache_and_says_so() {
    let h = start(lenient(), true).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&first.token).await;
    let second = h.bot.send(43, None, "https://EXAMPLE.test/x");
    let edit = h.bot.final_edit(&second.token).await;
    let description = edit.event.embeds()[0]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains("Cached result from"), "{description}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn busy_bot_answers_privately() {
    let config = BotConfig {
        max_concurrent_checks: 1,
        ..lenient()
    };
    let h = start(config, false).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .discord
        .wait_for(WAIT, |e| e.is_defer_of(&first.token))
        .await
        .unwrap();
    let second = h.bot.send(43, Some(GUILD), "other.test");
    let answer = h.bot.answer(&second.token).await;
    assert!(answer.event.is_ephemeral());
    assert!(
        answer.event.content().unwrap().contains("try again"),
        "{answer:?}"
    );
    h.open_gate.send_replace(true);
    h.bot.final_edit(&first.token).await;
}

#[tokio::test]
async fn deadline_ends_a_hanging_check_with_a_polite_message() {
    let config = BotConfig {
        check_deadline_secs: 1,
        ..lenient()
    };
    let h = start(config, false).await; // the gate never opens
    let sent = h.bot.send(42, None, "example.test");
    let edit = h
        .bot
        .discord
        .wait_for(WAIT, |e| {
            e.is_edit_original_of(&sent.token)
                && e.embeds()
                    .first()
                    .is_some_and(|m| m.to_string().contains("did not finish"))
        })
        .await
        .unwrap();
    let embed = edit.event.embeds()[0].to_string();
    assert!(embed.contains("Partial result"), "{embed}");
    // Its buttons are there, so the user can try again at once.
    let payload = edit.event.message_payload().unwrap().to_string();
    assert!(payload.contains("mailcheck:recheck:"), "{payload}");
}

#[tokio::test]
async fn private_answers_are_ephemeral_by_choice_or_by_the_guilds_default() {
    let h = start(
        BotConfig {
            private_guilds: vec![GUILD],
            ..lenient()
        },
        true,
    )
    .await;
    // The guild's default: private.
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    let defer = h.bot.answer(&sent.token).await;
    assert!(
        defer.event.is_defer_of(&sent.token) && defer.event.is_ephemeral(),
        "{defer:?}"
    );
    h.bot.final_edit(&sent.token).await;
    // The asker says public.
    let mut spec = CommandSpec::mailcheck(43, Some(GUILD), "other.test");
    spec.options = serde_json::json!([
        { "name": "domain", "type": 3, "value": "other.test" },
        { "name": "private", "type": 5, "value": false }
    ]);
    let sent = h.bot.discord.send_command(&spec).unwrap();
    let defer = h.bot.answer(&sent.token).await;
    assert!(
        defer.event.is_defer_of(&sent.token) && !defer.event.is_ephemeral(),
        "{defer:?}"
    );
    h.bot.final_edit(&sent.token).await;
    // In a DM, with no default: public unless asked.
    let mut spec = CommandSpec::mailcheck(44, None, "third.test");
    spec.options = serde_json::json!([
        { "name": "domain", "type": 3, "value": "third.test" },
        { "name": "private", "type": 5, "value": true }
    ]);
    let sent = h.bot.discord.send_command(&spec).unwrap();
    let defer = h.bot.answer(&sent.token).await;
    assert!(defer.event.is_ephemeral(), "{defer:?}");
}

#[tokio::test]
async fn two_users_checking_one_domain_at_once_share_one_probe() {
    let h = start(lenient(), false).await;
    let first = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&first.token, "DNS done")
        .await;
    let second = h.bot.send(43, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&second.token, "Someone is checking this domain right now")
        .await;
    h.open_gate.send(true).unwrap();
    let a = h.bot.final_edit(&first.token).await;
    let b = h.bot.final_edit(&second.token).await;
    assert_eq!(
        h.scripted.calls.load(Ordering::SeqCst),
        1,
        "one probe for both"
    );
    assert_eq!(
        a.event.embeds()[0]["title"],
        b.event.embeds()[0]["title"],
        "the same result"
    );
}

#[tokio::test]
async fn operators_choose_the_guilds_and_whether_dms_work() {
    let other_guild = GUILD + 1;
    let h = start(
        BotConfig {
            allowed_guilds: vec![GUILD],
            allow_dms: false,
            ..lenient()
        },
        true,
    )
    .await;
    for guild in [Some(other_guild), None] {
        let sent = h.bot.send(42, guild, "example.test");
        let answer = h.bot.answer(&sent.token).await;
        assert!(answer.event.is_ephemeral(), "{answer:?}");
        assert!(
            answer
                .event
                .content()
                .is_some_and(|c| c.contains("not enabled here")),
            "{answer:?}"
        );
    }
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 0);
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot.final_edit(&sent.token).await;
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);
}

/// The custom ids of the buttons on an answer's message.
fn button_ids(edit: &mailcheck_testkit::discord::Recorded) -> Vec<String> {
    let payload = edit.event.message_payload().unwrap();
    payload["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_buttons_recheck_show_the_transcript_and_explain() {
    let h = start(lenient(), true).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    let first = h.bot.final_edit(&sent.token).await;
    let ids = button_ids(&first);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[0].starts_with("mailcheck:recheck:"), "{ids:?}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 1);

    // Re-check: a fresh probe (not the cached result), the same message updated in place.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[0], 43, Some(GUILD))
        .unwrap();
    let ack = h.bot.answer(&click.token).await;
    assert_eq!(ack.event.callback_type(), Some(6), "{ack:?}");
    let updated = h.bot.final_edit(&click.token).await;
    assert!(updated.succeeded(), "{updated:?}");
    assert_eq!(h.scripted.calls.load(Ordering::SeqCst), 2, "a fresh probe");
    assert_eq!(button_ids(&updated), ids, "the buttons keep working");

    // Show transcript: privately, as a file.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[1], 44, Some(GUILD))
        .unwrap();
    let answer = h.bot.answer(&click.token).await;
    assert_eq!(answer.event.callback_type(), Some(4));
    assert!(
        answer.event.is_ephemeral() && answer.succeeded(),
        "{answer:?}"
    );
    let file = answer.event.files()[0].text();
    assert!(file.contains("mailcheck report for example.test"), "{file}");

    // Explain: privately, the step ladder.
    let click = h
        .bot
        .discord
        .click(sent.token.as_str(), &ids[2], 45, Some(GUILD))
        .unwrap();
    let answer = h.bot.answer(&click.token).await;
    assert!(
        answer.event.is_ephemeral() && answer.succeeded(),
        "{answer:?}"
    );
    let embed = answer.event.embeds()[0].to_string();
    assert!(embed.contains("Explained: example.test"), "{embed}");
}

#[tokio::test]
async fn an_answer_still_arrives_through_a_429_storm() {
    let h = start(lenient(), false).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot.discord.fail_next(
        RouteMatch::edit_original(),
        3,
        Fault::RateLimited {
            retry_after: Duration::from_millis(50),
            global: false,
        },
    );
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{edit:?}");
    let faults = h
        .bot
        .discord
        .events()
        .iter()
        .filter(|r| r.event.is_fault_on(&sent.token))
        .count();
    assert_eq!(faults, 3);
}

#[tokio::test]
async fn server_errors_are_retried_and_then_a_follow_up_carries_the_answer() {
    let h = start(lenient(), false).await;
    // A few 502s: the final edit is retried until it lands.
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot
        .discord
        .fail_next(RouteMatch::edit_original(), 2, Fault::ServerError(502));
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{edit:?}");

    // Editing keeps failing: the answer comes as a follow-up message instead.
    h.open_gate.send(false).unwrap();
    let sent = h.bot.send(43, Some(GUILD), "other.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot
        .discord
        .fail_next(RouteMatch::edit_original(), 10, Fault::ServerError(503));
    h.open_gate.send(true).unwrap();
    let followup = h
        .bot
        .discord
        .wait_for(WAIT, |e| {
            matches!(e, DiscordEvent::Followup { .. })
                && e.token() == Some(sent.token.as_str())
                && !e.files().is_empty()
        })
        .await
        .unwrap();
    assert!(followup.succeeded(), "{followup:?}");
    h.bot.discord.clear_faults();
}

#[tokio::test]
async fn an_answer_still_arrives_after_a_gateway_reconnect_mid_check() {
    let h = start(lenient(), false).await;
    let sent = h.bot.send(42, Some(GUILD), "example.test");
    h.bot
        .first_answer_and_progress(&sent.token, "MX 10 mx1.example.test")
        .await;
    h.bot.discord.drop_gateway().unwrap();
    h.open_gate.send(true).unwrap();
    let edit = h.bot.final_edit(&sent.token).await;
    assert!(edit.succeeded());
    // The client came back (a RESUME) and answers new commands.
    h.bot
        .discord
        .wait_for(WAIT, |e| matches!(e, DiscordEvent::Resume { .. }))
        .await
        .unwrap();
    let again = h.bot.send(43, Some(GUILD), "other.test");
    assert!(h.bot.final_edit(&again.token).await.succeeded());
}

#[tokio::test]
async fn a_rejected_late_acknowledgement_means_no_probe_at_all() {
    let (open_gate, gate) = watch::channel(true);
    let scripted = Arc::new(Scripted {
        report: sample_report(),
        gate,
        calls: AtomicUsize::new(0),
    });
    let data = Data::with_diagnoser(
        BotConfig {
            guild_id: Some(GUILD),
            ..lenient()
        },
        Arc::clone(&scripted) as Arc<dyn Diagnoser>,
    );
    let bot = Bot::start_with(
        mailcheck_testkit::discord::DiscordStandIn::builder().interaction_deadline(Duration::ZERO),
        data,
        WAIT,
    )
    .await;
    let sent = bot.send(42, Some(GUILD), "example.test");
    let refused = bot.answer(&sent.token).await;
    assert_eq!(refused.error_code(), Some(10062), "{refused:?}");
    // Discord's window again: the next command is answered, and only it was probed.
    bot.discord.set_interaction_deadline(Duration::from_secs(3));
    let next = bot.send(43, Some(GUILD), "other.test");
    assert!(bot.final_edit(&next.token).await.succeeded());
    assert_eq!(
        scripted.calls.load(Ordering::SeqCst),
        1,
        "the refused one never probed"
    );
    drop(open_gate);
}

#[tokio::test]
async fn oversized_server_text_never_makes_discord_refuse_the_answer() {
    let (open_gate, gate) = watch::channel(true);
    let mut report = sample_report();
    let huge = format!("{} {}", "x".repeat(5000), "\u{301}".repeat(500));
    report.mx = (0..30)
        .map(|i| {
            let mut mx = report.mx[0].clone();
            mx.host = format!("mx{i}.{}", "a".repeat(200));
            mx.addresses[0].smtp.banner = Some(huge.clone());
            mx
        })
        .collect();
    report.findings = (0..40)
        .map(|i| {
            Finding::new(
                Code::SmtpBannerMismatch,
                format!("192.0.2.{i}"),
                huge.clone(),
            )
            .evidence(huge.clone())
            .evidence(huge.clone())
            .advice(huge.clone())
        })
        .collect();
    report.error = Some(huge.clone());
    let scripted = Arc::new(Scripted {
        report,
        gate,
        calls: AtomicUsize::new(0),
    });
    let data = Data::with_diagnoser(
        BotConfig {
            guild_id: Some(GUILD),
            ..lenient()
        },
        Arc::clone(&scripted) as Arc<dyn Diagnoser>,
    );
    let bot = Bot::start(data, WAIT).await;
    let sent = bot.send(42, Some(GUILD), "example.test");
    let edit = bot.final_edit(&sent.token).await;
    assert!(edit.succeeded(), "{:?}", edit.error);
    // Explain renders the same flood within the limits too.
    let ids = button_ids(&edit);
    let click = bot
        .discord
        .click(sent.token.as_str(), &ids[2], 43, Some(GUILD))
        .unwrap();
    let answer = bot.answer(&click.token).await;
    assert!(answer.succeeded(), "{:?}", answer.error);
    // No call the bot made was refused.
    let refused: Vec<_> = bot
        .discord
        .events()
        .into_iter()
        .filter(|r| r.status.is_some_and(|s| s >= 400))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    drop(open_gate);
}
