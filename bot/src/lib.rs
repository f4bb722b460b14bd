//! # mailcheck-bot
//!
//! A Discord front-end for [`mailcheck`]: `/mailcheck domain:<text>` diagnoses a domain's mail
//! delivery (MX, DNS, port 25, TLS, blocklists) and answers in the channel with one embed and the
//! full report as a text file.
//!
//! ## Plugin shape
//!
//! The command is a library item. A poise bot registers it alongside its own commands; its user
//! data only has to hand out a [`Data`] through [`HasMailcheck`]:
//!
//! ```no_run
//! use mailcheck_bot::{BotConfig, Data, HasMailcheck};
//!
//! struct MyData {
//!     mailcheck: Data,
//!     // … the host bot's own state
//! }
//! impl HasMailcheck for MyData {
//!     fn mailcheck(&self) -> &Data {
//!         &self.mailcheck
//!     }
//! }
//! # fn build() -> Result<(), Box<dyn std::error::Error>> {
//! let mut commands = mailcheck_bot::commands::<MyData>();
//! // commands.push(my_own_command());
//! let data = MyData { mailcheck: Data::new(BotConfig::default())? };
//! # let _ = (commands, data); Ok(()) }
//! ```
//!
//! The binary `mailcheck-bot` is a thin host: [`framework`] plus [`client_builder`].
//!
//! ## What a check looks like in the channel
//!
//! The command defers at once (Discord's 3 s rule), edits the answer to "looking up the mail
//! servers", then — when [`mailcheck::Checker::check_with_progress`] reports that DNS is done —
//! to the list of MX hosts and addresses being tested, and finally to the verdict embed with the
//! full report and SMTP transcript attached. [`lab`] points all of it at the in-process sample
//! mail servers (`mailcheck-bot preview --lab closed.test`).
//!
//! ## Safety
//!
//! Everything servers and DNS say is untrusted ([`sanitize`]); every message goes out with no
//! allowed mentions; private/loopback MX addresses are reported, not probed (unless
//! `allow_private` is set for a lab); there is no open-relay test from chat; cooldowns, a
//! concurrency cap, a result cache and a hard deadline keep the bot polite ([`guard`]).
//!
//! ## Its own side
//!
//! Every result is also about the host the bot runs on. At start-up the binary checks that
//! host's vantage point once ([`vantage::self_test`]: outbound port 25, public address, EHLO
//! name, sender, blocklists) and logs it; findings about "this machine" are shown in the
//! channel apart from the domain's, as being about the bot's host.

pub mod answer;
pub mod backend;
pub mod buttons;
pub mod command;
pub mod config;
pub mod guard;
pub mod lab;
pub mod render;
pub mod sanitize;
pub mod vantage;

use std::sync::Arc;

pub use backend::{Diagnoser, Progress, ProgressSender};
pub use config::{BotConfig, ConfigError};
pub use render::{RenderContext, RenderedReport, render_report};

/// The command error type (the poise convention).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The state the command needs: configuration, the checker, cooldowns, cache and the cap.
#[derive(Debug)]
pub struct Data {
    /// The settings.
    pub config: BotConfig,
    /// What runs checks.
    pub diagnoser: Arc<dyn Diagnoser>,
    /// Per-user and per-guild cooldowns.
    pub cooldowns: guard::Cooldowns,
    /// Per-domain result cache.
    pub cache: guard::ReportCache,
    /// Global cap on concurrent checks.
    pub cap: guard::ConcurrencyCap,
    /// Checks running now, shared by everyone asking for the same domain.
    pub running: Arc<guard::RunningChecks>,
    /// The answers the buttons act on.
    pub answers: guard::Answers,
    /// A warning about the bot's own host for every answer's footer (port 25 blocked here).
    pub host_note: vantage::HostNote,
}

/// How many answers keep working buttons (the oldest are forgotten first).
pub const KEPT_ANSWERS: usize = 1000;

impl Data {
    /// State with a [`mailcheck::Checker`] built from the configuration.
    pub fn new(config: BotConfig) -> Result<Self, ConfigError> {
        let check = config.check_config()?;
        Self::with_check_config(config, check)
    }

    /// State with a [`mailcheck::Checker`] built from `check` (e.g. [`lab::check_config`]);
    /// `config` supplies cooldowns, cache and limits.
    pub fn with_check_config(
        config: BotConfig,
        check: mailcheck::CheckConfig,
    ) -> Result<Self, ConfigError> {
        let checker = mailcheck::Checker::new(check).map_err(|e| ConfigError::Invalid {
            setting: "check".to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self::with_diagnoser(config, Arc::new(checker)))
    }

    /// State with any [`Diagnoser`] (tests, or a host with its own checker).
    pub fn with_diagnoser(config: BotConfig, diagnoser: Arc<dyn Diagnoser>) -> Self {
        Self {
            cooldowns: guard::Cooldowns::new(config.user_cooldown(), config.guild_cooldown()),
            cache: guard::ReportCache::new(config.cache_ttl(), config.failure_cache_ttl()),
            cap: guard::ConcurrencyCap::new(config.max_concurrent_checks),
            running: Arc::default(),
            answers: guard::Answers::new(KEPT_ANSWERS),
            host_note: vantage::HostNote::default(),
            diagnoser,
            config,
        }
    }
}

/// Access to the command's [`Data`] from a host bot's user data.
pub trait HasMailcheck: Send + Sync + 'static {
    /// The mailcheck state.
    fn mailcheck(&self) -> &Data;
}

impl HasMailcheck for Data {
    fn mailcheck(&self) -> &Data {
        self
    }
}

/// The commands to register: `/mailcheck`.
pub fn commands<U: HasMailcheck>() -> Vec<poise::Command<U, Error>> {
    vec![command::mailcheck()]
}

/// The poise framework of the stand-alone bot: registers the commands in the configured guild
/// (or globally) once connected, and logs command errors.
pub fn framework(data: Data) -> poise::Framework<Data, Error> {
    poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands(),
            on_error: |error| {
                Box::pin(async move {
                    match error {
                        poise::FrameworkError::Command { error, ctx, .. } => {
                            tracing::error!(command = %ctx.command().name, "command failed: {error}");
                        }
                        other => {
                            if let Err(e) = poise::builtins::on_error(other).await {
                                tracing::error!("error while handling an error: {e}");
                            }
                        }
                    }
                })
            },
            event_handler: |framework, event| {
                Box::pin(async move {
                    if let serenity::all::FullEvent::InteractionCreate {
                        interaction: serenity::all::Interaction::Component(click),
                    } = event
                    {
                        let http = &framework.serenity_context.http;
                        buttons::on_click(http, framework.user_data, click).await?;
                    }
                    Ok(())
                })
            },
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                match data.config.guild_id {
                    Some(guild) => {
                        let guild = serenity::all::GuildId::new(guild);
                        poise::builtins::register_in_guild(ctx, commands, guild).await?;
                        tracing::info!(bot = %ready.user.name, %guild, "registered /mailcheck in the guild");
                    }
                    None => {
                        poise::builtins::register_globally(ctx, commands).await?;
                        tracing::info!(bot = %ready.user.name, "registered /mailcheck globally (may take up to an hour to appear)");
                    }
                }
                Ok(data)
            })
        })
        .build()
}

/// A serenity client builder for the stand-alone bot. `api_base` replaces
/// `https://discord.com` (a loopback stand-in in tests); the rate limiter is then disabled,
/// because it would ignore the replacement.
pub fn client_builder(
    token: &str,
    api_base: Option<&str>,
    data: Data,
) -> serenity::all::ClientBuilder {
    let mut http = serenity::all::HttpBuilder::new(token);
    if let Some(base) = api_base {
        http = http.proxy(base).ratelimiter_disabled(true);
    }
    serenity::all::ClientBuilder::new_with_http(http.build(), serenity::all::GatewayIntents::GUILDS)
        .framework(framework(data))
}
