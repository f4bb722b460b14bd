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
pub mod events;
pub mod guard;
pub mod health;
pub mod lab;
pub mod register;
pub mod render;
pub mod sanitize;
pub mod sender;
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
    /// What `/healthz` reports; each finished check calls
    /// [`health::HealthState::check_finished`].
    pub health: health::HealthState,
}

/// How many answers keep working buttons (the oldest are forgotten first).
pub const KEPT_ANSWERS: usize = 500;

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
        let cap = guard::ConcurrencyCap::new(config.max_concurrent_checks);
        Self {
            cooldowns: guard::Cooldowns::new(config.user_cooldown(), config.guild_cooldown()),
            cache: guard::ReportCache::new(config.cache_ttl(), config.failure_cache_ttl()),
            running: Arc::default(),
            answers: guard::Answers::new(KEPT_ANSWERS),
            host_note: vantage::HostNote::default(),
            health: health::HealthState::new(cap.clone()),
            cap,
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

/// The commands to register: `/mailcheck` and `/mailcheck-sender`. A host bot registering them
/// itself can state where they may be used with [`register::set_contexts`].
pub fn commands<U: HasMailcheck>() -> Vec<poise::Command<U, Error>> {
    vec![command::mailcheck(), sender::mailcheck_sender()]
}

/// The poise framework of the stand-alone bot.
///
/// Once connected it registers the commands one by one ([`register`]: never replacing other
/// commands of the application) in the configured guilds, or globally. If Discord refuses, it
/// logs why, records it in [`Data::health`] ([`health::HealthState::fatal`]) and stops every
/// shard, so the client returns instead of idling on a gateway connection that answers
/// nothing. Gateway events go to [`events::on_event`]; command errors are logged.
pub fn framework(data: Data) -> poise::Framework<Data, Error> {
    let mut commands = commands();
    register::set_contexts(&mut commands, &data.config);
    poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands,
            event_handler: |framework, event| {
                Box::pin(async move {
                    events::on_event(framework.serenity_context, event, framework.user_data).await;
                    Ok(())
                })
            },
            on_error: |error| {
                Box::pin(async move {
                    match error {
                        poise::FrameworkError::Command { error, ctx, .. } => {
                            tracing::error!(
                                command = %ctx.command().name,
                                "command failed: {error}"
                            );
                        }
                        // Logged by the setup, which also stopped the shards.
                        poise::FrameworkError::Setup { .. } => {}
                        other => {
                            if let Err(e) = poise::builtins::on_error(other).await {
                                tracing::error!("error while handling an error: {e}");
                            }
                        }
                    }
                })
            },
            ..Default::default()
        })
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let shards = framework.shard_manager();
                data.health.attach_shard_manager(Arc::clone(shards));
                let commands = &framework.options().commands;
                match register::register(&ctx.http, commands, &data.config).await {
                    Ok(scopes) => {
                        if data.config.allow_dms && !scopes.contains(&register::Scope::Global) {
                            tracing::info!(
                                "/mailcheck is registered per guild, so it is not offered in \
                                 DMs (that needs global registration: no guild_id, no \
                                 allowed_guilds)"
                            );
                        }
                        if scopes.contains(&register::Scope::Global) {
                            tracing::info!(
                                bot = %ready.user.name,
                                "registered globally: new or changed commands can take up to \
                                 an hour to appear"
                            );
                        }
                        Ok(data)
                    }
                    Err(e) => {
                        tracing::error!("{e}; stopping");
                        data.health.set_fatal(e.to_string());
                        shards.shutdown_all().await;
                        Err(e.into())
                    }
                }
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
