//! `mailcheck-bot`: a thin host for the `/mailcheck` command (see the library crate). Long on
//! purpose: the binary's whole surface in one file (the `--help` text, a sixth of it; the flags,
//! logging and the three subcommands); everything they call is in the library.

use std::net::SocketAddr;
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
     With `guild_id` set (or MAILCHECK_GUILD_ID), /mailcheck and /mailcheck-sender (a
     sending server's PTR, HELO, blocklists, SPF) appear in that server at once; without,
     they are registered globally, which can take up to an hour.

CONFIGURATION (file keys; each also as MAILCHECK_<KEY> in the environment, which wins;
  lists comma-separated there; every key is described in the crate's config module)
  Where: guild_id (register /mailcheck in this guild, at once; omit: globally, up to an
  hour), allowed_guilds (only these servers; the command is registered in each),
  allow_dms (true: DMs, group DMs and user installs too; global registration only).
  Answers: private_by_default (false), private_guilds (answers private by default there).
  Limits: user_cooldown_secs (30), guild_cooldown_secs (5), cache_ttl_secs (300),
  failure_cache_ttl_secs (60), max_concurrent_checks (4), check_deadline_secs (60),
  address_budget_secs (120: one new connection per MX address per that long),
  max_smtp_connections (16), max_mx_hosts (10), max_addresses_per_host (4),
  max_addresses_per_domain (16).
  Probing: resolver, compare_resolvers, dnsbl_zones, allow_private (false:
  private/loopback MX addresses are reported, not probed), smtp_port (25; lab only).
  Identity (every check is also about this host): helo_name (EHLO name; default this
  machine's name), mail_from (default postmaster@<helo_name>; \"<>\" the null sender),
  public_ip (the NAT address servers see), egress_canaries (host[:port] list; \"none\" turns
  the port 25 self-check off), ca_file (extra trusted CA PEM files).
  The token comes only from DISCORD_TOKEN. Logs: RUST_LOG (default `info`).

RUNNING IT AS A SERVICE (flags of `run`, each also an environment variable)
  --health-addr 127.0.0.1:8080  (MAILCHECK_HEALTH_ADDR) serves GET /healthz: 200 and
      {\"status\":\"ok\",...} when every shard is connected, else 503 \"degraded\";
      `mailcheck-bot health` asks it (exit 0 when 200), e.g. for a Docker HEALTHCHECK.
  --shards N  (MAILCHECK_SHARDS) runs N shards; without it the bot runs as many as Discord
      recommends (GET /gateway/bot), which is 1 until it is in about 2,500 servers.
  --log-format json  (MAILCHECK_LOG_FORMAT) one JSON object per line (docker, journald
      collectors); default text.
  If Discord refuses the command registration, `run` stops and exits 1 with Discord's
  words. Examples: deploy/ (Dockerfile, systemd unit, sample configuration).

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

/// Discord bot: `/mailcheck domain:<text>` diagnoses a domain's mail delivery in the channel;
/// `/mailcheck-sender ip:<ip> [helo:<name>] [domain:<domain>]` checks a sending server.
#[derive(Debug, Parser)]
#[command(version, after_long_help = SETUP, after_help = "Run with --help for setup steps.")]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, env = "MAILCHECK_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log lines as plain text or as one JSON object per line.
    #[arg(
        long,
        value_enum,
        env = "MAILCHECK_LOG_FORMAT",
        default_value_t = LogFormat::Text,
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `time LEVEL target: message key=value`, colours only on a terminal.
    Text,
    /// One JSON object per line: timestamp, level, target, message and fields.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to Discord and answer /mailcheck (the default).
    Run(RunArgs),
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
    /// Ask a running bot's /healthz endpoint; exit 0 when it answers 200 (every shard
    /// connected), 1 otherwise. For a container HEALTHCHECK.
    Health {
        /// The address `run --health-addr` listens on (0.0.0.0 means this host).
        #[arg(long, env = "MAILCHECK_HEALTH_ADDR")]
        health_addr: SocketAddr,
    },
}

/// The flags of `run`.
#[derive(Debug, Parser)]
struct RunArgs {
    /// Use this REST API base instead of https://discord.com (a test stand-in).
    #[arg(long, env = "MAILCHECK_DISCORD_API", hide = true)]
    discord_api: Option<String>,
    /// Serve GET /healthz on this address (e.g. 127.0.0.1:8080): 200 when every shard is
    /// connected, else 503; JSON either way. Off when not given.
    #[arg(long, env = "MAILCHECK_HEALTH_ADDR")]
    health_addr: Option<SocketAddr>,
    /// Run this many shards instead of the number Discord recommends (GET /gateway/bot).
    #[arg(long, env = "MAILCHECK_SHARDS", value_parser = clap::value_parser!(u32).range(1..))]
    shards: Option<u32>,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,serenity=warn,hickory_server=warn,hickory_proto=warn,hickory_resolver=warn",
        )
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // key=value fields on one line per event; colours only on a terminal (journald, docker
        // logs and files get plain text).
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // {"timestamp":…,"level":"INFO","message":…,<fields>,"target":…} per line.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    init_logs(format);
    match real_main(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // `{:#}` prints the cause chain on one line, without a backtrace.
        Err(e) if format == LogFormat::Json => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn real_main(cli: Cli) -> Result<()> {
    // Without a subcommand: `run`, with its flags from the environment.
    let command = cli
        .command
        .unwrap_or_else(|| Command::Run(RunArgs::parse_from(["mailcheck-bot run"])));
    if let Command::Health { health_addr } = command {
        return health(health_addr).await;
    }
    let config = BotConfig::load(cli.config.as_deref())?;
    match command {
        Command::Run(args) => run(config, args).await,
        Command::Preview { domain, file, lab } => preview(config, &domain, file, lab).await,
        Command::Health { .. } => unreachable!("answered above"),
    }
}

async fn health(addr: SocketAddr) -> Result<()> {
    let (status, body) = mailcheck_bot::health::probe(addr, Duration::from_secs(5))
        .await
        .with_context(|| format!("no answer from http://{addr}/healthz"))?;
    println!("{body}");
    anyhow::ensure!(status == 200, "http://{addr}/healthz answered {status}");
    Ok(())
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

async fn run(config: BotConfig, args: RunArgs) -> Result<()> {
    let token = mailcheck_bot::config::discord_token_from_env()?;
    tracing::info!(
        guild = ?config.guild_id,
        allowed_guilds = ?config.allowed_guilds,
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
    let health = data.health.clone();
    // Bound before connecting, so an orchestrator sees 503 while the bot starts.
    let health_server = match args.health_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /healthz"))?;
            let addr = listener.local_addr()?;
            tracing::info!("serving GET /healthz on http://{addr}/healthz");
            Some(tokio::spawn(mailcheck_bot::health::serve(
                listener,
                health.clone(),
            )))
        }
        None => None,
    };
    // Our own side, once, while the gateway connects; it never stops the bot.
    let self_test = Arc::clone(&diagnoser);
    let note = data.host_note.clone();
    tokio::spawn(async move { mailcheck_bot::vantage::self_test(self_test.as_ref(), &note).await });
    let mut client = mailcheck_bot::client_builder(&token, args.discord_api.as_deref(), data)
        .await
        .context("cannot build the Discord client (is DISCORD_TOKEN valid?)")?;
    let shards = match args.shards {
        Some(n) => {
            tracing::info!(shards = n, "running {n} shard(s) (--shards)");
            n
        }
        None => recommended_shards(&client.http).await?,
    };
    health.set_expected_shards(shards);
    let manager = client.shard_manager.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing the gateway connection");
        manager.shutdown_all().await;
    });
    let stopped = client.start_shards(shards).await;
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
    if let Some(server) = health_server {
        server.abort();
    }
    // The bot stopped itself (the command could not be registered): that is the error.
    if let Some(reason) = health.fatal() {
        anyhow::bail!(reason);
    }
    stopped.context("Discord client stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// The shard count Discord recommends (`GET /gateway/bot`), which is what serenity's
/// `start_autosharded` uses; asked here so that `/healthz` knows the total and so that a bot
/// out of session starts does not try (Discord resets the token of a bot that exceeds them).
async fn recommended_shards(http: &serenity::all::Http) -> Result<u32> {
    let gateway = http
        .get_bot_gateway()
        .await
        .context("cannot ask Discord how many shards to run (GET /gateway/bot)")?;
    let limit = &gateway.session_start_limit;
    tracing::info!(
        shards = gateway.shards,
        session_starts_left = limit.remaining,
        session_starts_per_day = limit.total,
        "running {} shard(s), as Discord recommends",
        gateway.shards
    );
    anyhow::ensure!(
        gateway.shards > 0,
        "Discord recommended 0 shards (GET /gateway/bot); use --shards"
    );
    anyhow::ensure!(
        limit.remaining >= u64::from(gateway.shards),
        "Discord allows {} more gateway session start(s) for the next {} s, fewer than the {} \
         shard(s) to start; wait (a bot that exceeds the limit gets its token reset)",
        limit.remaining,
        limit.reset_after.div_ceil(1000),
        gateway.shards
    );
    Ok(gateway.shards)
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
