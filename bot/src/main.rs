//! `mailcheck-bot`: a thin host for the `/mailcheck` command (see the library crate).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use mailcheck::DomainName;
use mailcheck_bot::{BotConfig, Data, ProgressSender, RenderContext, render_report};

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

CONFIGURATION (file keys; each also as MAILCHECK_<KEY> in the environment, which wins)
  guild_id, resolver, dnsbl_zones, user_cooldown_secs (30), guild_cooldown_secs (5),
  cache_ttl_secs (300), max_concurrent_checks (4), check_deadline_secs (60),
  allow_private (false: private/loopback MX addresses are reported, not probed),
  smtp_port (25; lab only).
  The token comes only from DISCORD_TOKEN. Logs: RUST_LOG (default `info`).

  Try it without Discord:  mailcheck-bot preview example.com";

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
    },
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,serenity=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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
        Command::Preview { domain, file } => preview(config, &domain, file).await,
    }
}

async fn preview(config: BotConfig, input: &str, file: Option<PathBuf>) -> Result<()> {
    let domain = match DomainName::parse(input) {
        Ok(d) => d,
        Err(e) => anyhow::bail!("{}", mailcheck_bot::command::invalid_input_text(&e)),
    };
    let deadline = config.check_deadline();
    let data = Data::new(config)?;
    let (progress, _rx) = ProgressSender::channel();
    let report = tokio::time::timeout(deadline, data.diagnoser.diagnose(&domain, progress))
        .await
        .with_context(|| format!("the check did not finish within {deadline:?}"))?;
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
    let data = Data::new(config)?;
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
    // Give in-flight log lines a moment; nothing else to flush.
    tokio::time::sleep(Duration::from_millis(10)).await;
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
