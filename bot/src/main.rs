//! `mailcheck-bot`: a thin host for the `/mailcheck` command (see the library crate).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use mailcheck::DomainName;
use mailcheck_bot::{BotConfig, Data, ProgressSender, RenderContext, render_report};

/// mimalloc returns freed memory to the system: a long-lived bot stays small.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SETUP: &str = "\
SETUP
  1. Create an application at https://discord.com/developers/applications
     (New Application), open \"Bot\" and press \"Reset Token\"; keep the token secret.
     No privileged intents are needed.
  2. Invite the bot: OAuth2 → URL Generator, scopes `bot` and `applications.commands`,
     permission \"Send Messages\" (and \"Attach Files\" for the report file); open the URL
     and pick your server.
  3. Run it:   DISCORD_TOKEN=... mailcheck-bot run --config mailcheck-bot.toml
     With `guild_id` set (or MAILCHECK_GUILD_ID), /mailcheck appears in that server at
     once; without, it is registered globally, which can take up to an hour.

CONFIGURATION (file keys; each also as MAILCHECK_<KEY> in the environment, which wins;
  lists comma-separated there)
  guild_id, resolver, dnsbl_zones, user_cooldown_secs (30), guild_cooldown_secs (5),
  cache_ttl_secs (300), max_concurrent_checks (4), check_deadline_secs (60),
  allow_private (false: private/loopback MX addresses are reported, not probed),
  smtp_port (25; lab only).
  Identity (every check is also about this host): helo_name (EHLO name; default this
  machine's name), mail_from (default postmaster@<helo_name>; \"<>\" the null sender),
  public_ip (the NAT address servers see), egress_canaries (host[:port] list; \"none\" turns
  the port 25 self-check off), ca_file (extra trusted CA PEM files).
  The token comes only from DISCORD_TOKEN. Logs: RUST_LOG (default `info`).

FROM HERE (start-up self-test)
  While it connects to Discord, `run` checks this host's vantage point once: outbound
  port 25 per address family (it greets the egress canaries, which also echo our public
  address), the EHLO name and its reverse DNS, the sender domain, our blocklist status.
  Each fact is logged as a \"From here\" line. With port 25 blocked every SMTP result is
  inconclusive (about this host, not the domain): that is logged as an ERROR with the fix.
  A poor identity is a loud warning. The bot starts either way.

PREVIEW (no Discord, no token needed)
  mailcheck-bot preview example.com
      checks a real domain and prints the exact embed JSON the bot would post.
  mailcheck-bot preview --lab closed.test
      starts a built-in lab of sample mail servers on loopback and checks one of its
      domains, so you can see what each kind of fault looks like without the internet.
      Lab domains: healthy.test, nomx.test, closed.test, listed.test, relay.test, … (see
      `mailcheck-bot preview --help`).

SAFETY
  Chat users never trigger the open-relay test; private, loopback and reserved MX
  addresses are reported but not probed unless allow_private is set (labs only);
  every answer goes out with no allowed mentions.

SHUTDOWN
  SIGINT or SIGTERM closes the gateway connection, lets running checks finish (up to
  check_deadline_secs), closes pooled SMTP sessions politely, then exits.";

/// Discord bot: `/mailcheck domain:<text>` diagnoses a domain's mail delivery in the channel.
#[derive(Debug, Parser)]
#[command(version, after_long_help = SETUP, after_help = "Run with --help for setup steps.")]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, env = "MAILCHECK_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to Discord and answer /mailcheck (the default).
    Run {
        /// Use this REST API base instead of https://discord.com (a test stand-in).
        #[arg(long, env = "MAILCHECK_DISCORD_API", hide = true)]
        discord_api: Option<String>,
    },
    /// Check a domain and print the exact embed JSON the bot would send (no Discord needed).
    Preview {
        /// A domain, e-mail address or URL.
        domain: String,
        /// Also write the attached report file here.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Check against the built-in lab of sample mail servers on loopback instead of the
        /// internet (demo and training; e.g. `preview --lab closed.test`).
        #[arg(long, long_help = lab_help())]
        lab: bool,
    },
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,serenity=warn,hickory_server=warn,hickory_proto=warn,hickory_resolver=warn",
        )
    });
    // key=value fields on one line per event; colours only on a terminal (journald, docker
    // logs and files get plain text).
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    match real_main(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the cause chain on one line, without a backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn real_main(cli: Cli) -> Result<()> {
    let config = BotConfig::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Run { discord_api: None }) {
        Command::Run { discord_api } => run(config, discord_api).await,
        Command::Preview { domain, file, lab } => preview(config, &domain, file, lab).await,
    }
}

fn lab_help() -> String {
    format!(
        "Check against the built-in lab instead of the internet: a DNS server and sample mail \
         servers on loopback (127.0.0.x), each domain showing one typical fault. The lab lives \
         only while the command runs. The open-relay test stays off, as in chat.\n\nLab \
         domains (expected verdict, what they show):\n{}",
        mailcheck_bot::lab::scenario_list()
    )
}

async fn preview(config: BotConfig, input: &str, file: Option<PathBuf>, lab: bool) -> Result<()> {
    let domain = match DomainName::parse(input) {
        Ok(d) => d,
        Err(e) => anyhow::bail!("{}", mailcheck_bot::command::invalid_input_text(&e)),
    };
    let deadline = config.check_deadline();
    // The lab must outlive the check; it stops when dropped at the end of this function.
    let (data, _lab) = if lab {
        let lab = mailcheck_bot::lab::Lab::start()
            .await
            .context("cannot start the lab on loopback")?;
        tracing::info!(resolver = %lab.resolver(), smtp_port = lab.smtp_port(), "lab started");
        (
            mailcheck_bot::lab::data(config, &lab.checker_hints())?,
            Some(lab),
        )
    } else {
        (Data::new(config)?, None)
    };
    let (progress, _rx) = ProgressSender::channel();
    let options = mailcheck::CheckOptions {
        deadline: Some(deadline),
        ..mailcheck::CheckOptions::default()
    };
    let report = tokio::time::timeout(
        deadline + Duration::from_secs(10),
        data.diagnoser.diagnose(&domain, options, progress),
    )
    .await
    .with_context(|| format!("the check did not finish within {deadline:?}"))?;
    data.diagnoser.shutdown().await;
    let rendered = render_report(&report, &RenderContext::default());
    let payload = serde_json::json!({
        "embeds": [rendered.embed_json()],
        "allowed_mentions": { "parse": [] },
        "attachments": [{ "id": 0, "filename": rendered.file_name }],
    });
    println!("{}", serde_json::to_string_pretty(&payload)?);
    if let Some(path) = file {
        std::fs::write(&path, &rendered.file)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

async fn run(config: BotConfig, discord_api: Option<String>) -> Result<()> {
    let token = mailcheck_bot::config::discord_token_from_env()?;
    tracing::info!(
        guild = ?config.guild_id,
        max_concurrent = config.max_concurrent_checks,
        cache_ttl_s = config.cache_ttl_secs,
        "starting mailcheck-bot"
    );
    if config.allow_private {
        tracing::warn!(
            "allow_private is on: chat users can make the bot connect to private and loopback \
             addresses; use this only for a lab"
        );
    }
    if config.smtp_port != 25 {
        tracing::warn!(
            port = config.smtp_port,
            "probing a port other than 25 (lab setting)"
        );
    }
    let drain_for = config.check_deadline() + Duration::from_secs(5);
    let data = Data::new(config)?;
    let diagnoser = Arc::clone(&data.diagnoser);
    let cap = data.cap.clone();
    // Our own side, once, while the gateway connects; it never stops the bot.
    let self_test = Arc::clone(&diagnoser);
    let note = data.host_note.clone();
    tokio::spawn(async move { mailcheck_bot::vantage::self_test(self_test.as_ref(), &note).await });
    let mut client = mailcheck_bot::client_builder(&token, discord_api.as_deref(), data)
        .await
        .context("cannot build the Discord client (is DISCORD_TOKEN valid?)")?;
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing the gateway connection");
        shards.shutdown_all().await;
    });
    client
        .start()
        .await
        .context("Discord client stopped with an error")?;
    // The gateway is closed, so no new command starts; running checks still finish and post
    // their answers over REST.
    let running = cap.running();
    if running > 0 {
        tracing::info!(running, "waiting for running checks to finish");
    }
    if tokio::time::timeout(drain_for, cap.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(?drain_for, "running checks did not finish; stopping anyway");
    }
    diagnoser.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGTERM: {e}");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
