//! Registering our commands with Discord without touching anybody else's.
//!
//! poise's `register_in_guild`/`register_globally` replace the application's whole command list
//! (`PUT …/commands`): run inside a host bot, they would delete its other commands. Here each of
//! our commands is created on its own (`POST …/commands`), which Discord treats as an upsert by
//! name: a command that exists is updated in place, others are left alone.
//!
//! Where: in every guild of `allowed_guilds` plus `guild_id` when any is set (guild commands
//! appear at once), globally otherwise (global commands can take up to an hour to show).
//! Each command says explicitly where it may be installed and used ([`set_contexts`]): servers,
//! plus user installs, DMs and group DMs when `allow_dms` is on. Discord applies those two
//! lists to global commands; a guild command only ever appears in its guild.
//!
//! A failed registration is an error ([`RegisterError`]) that names the command, the place and
//! Discord's own words, so the operator can fix the invite or the token.

use std::fmt;

use serenity::all::{Command, GuildId, Http, HttpError, InstallationContext, InteractionContext};

use crate::BotConfig;

/// Where commands are registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// For every server and (with `allow_dms`) DMs; can take up to an hour to appear.
    Global,
    /// In one guild only; appears at once.
    Guild(u64),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("globally"),
            Self::Guild(id) => write!(f, "in guild {id}"),
        }
    }
}

/// Where the configuration wants the commands: each guild of `allowed_guilds`, then
/// `guild_id` (once each); globally when neither is set.
pub fn scopes(config: &BotConfig) -> Vec<Scope> {
    let mut guilds: Vec<u64> = Vec::new();
    for id in config.allowed_guilds.iter().chain(&config.guild_id) {
        if !guilds.contains(id) {
            guilds.push(*id);
        }
    }
    if guilds.is_empty() {
        vec![Scope::Global]
    } else {
        guilds.into_iter().map(Scope::Guild).collect()
    }
}

/// The installation contexts (`integration_types`) and interaction contexts (`contexts`) the
/// configuration allows: servers only, or with `allow_dms` also user installs, the bot's DMs
/// and other DMs and group DMs.
pub fn contexts(config: &BotConfig) -> (Vec<InstallationContext>, Vec<InteractionContext>) {
    if config.allow_dms {
        (
            vec![InstallationContext::Guild, InstallationContext::User],
            vec![
                InteractionContext::Guild,
                InteractionContext::BotDm,
                InteractionContext::PrivateChannel,
            ],
        )
    } else {
        (
            vec![InstallationContext::Guild],
            vec![InteractionContext::Guild],
        )
    }
}

/// Sets each command's `install_context` and `interaction_context` from the configuration
/// ([`contexts`]), so the registered definition states them instead of leaving Discord's
/// defaults. A host bot registering our commands itself can call this first.
pub fn set_contexts<U, E>(commands: &mut [poise::Command<U, E>], config: &BotConfig) {
    let (install, interaction) = contexts(config);
    for command in commands {
        command.install_context = Some(install.clone());
        command.interaction_context = Some(interaction.clone());
    }
}

/// A command Discord would not register.
#[derive(Debug, thiserror::Error)]
#[error("cannot register /{command} {scope}: {reason} ({hint})")]
pub struct RegisterError {
    /// The command's name.
    pub command: String,
    /// Where it was being registered.
    pub scope: Scope,
    /// Discord's words (its message, HTTP status and error code), or the transport error.
    pub reason: String,
    /// What the operator should check.
    pub hint: &'static str,
    /// The error serenity returned.
    pub error: serenity::Error,
}

impl RegisterError {
    fn new(command: &str, scope: Scope, error: serenity::Error) -> Self {
        let reason = match &error {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(answer)) => discord_words(
                // serenity's text: Discord's message and its per-field explanations.
                &HttpError::UnsuccessfulRequest(answer.clone()).to_string(),
                answer.status_code.as_u16(),
                answer.error.code,
            ),
            other => other.to_string(),
        };
        let hint = match scope {
            Scope::Guild(_) => "is the bot invited with the applications.commands scope?",
            Scope::Global => "is DISCORD_TOKEN the token of this application's bot?",
        };
        Self {
            command: command.to_owned(),
            scope,
            reason,
            hint,
            error,
        }
    }
}

/// `Missing Access [HTTP 403, code 50001]`.
fn discord_words(message: &str, status: u16, code: isize) -> String {
    format!("{message} [HTTP {status}, code {code}]")
}

/// Creates or updates each of `commands` (slash form and context-menu forms, as poise builds
/// them) in every place [`scopes`] names, one `POST` per command and place. Stops at the first
/// failure. Returns where the commands were registered.
pub async fn register<U, E>(
    http: &Http,
    commands: &[poise::Command<U, E>],
    config: &BotConfig,
) -> Result<Vec<Scope>, RegisterError> {
    let scopes = scopes(config);
    for &scope in &scopes {
        for command in commands {
            for builder in poise::builtins::create_application_commands(std::iter::once(command)) {
                let created = match scope {
                    Scope::Guild(id) => GuildId::new(id).create_command(http, builder).await,
                    Scope::Global => Command::create_global_command(http, builder).await,
                };
                let created = created.map_err(|e| RegisterError::new(&command.name, scope, e))?;
                tracing::info!(
                    command = %created.name,
                    id = %created.id,
                    "registered /{} {scope}",
                    created.name
                );
            }
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guilds_when_any_is_set_else_global() {
        assert_eq!(scopes(&BotConfig::default()), [Scope::Global]);
        let c = BotConfig {
            guild_id: Some(7),
            allowed_guilds: vec![5, 7, 6, 5],
            ..BotConfig::default()
        };
        assert_eq!(
            scopes(&c),
            [Scope::Guild(5), Scope::Guild(7), Scope::Guild(6)]
        );
        let c = BotConfig {
            guild_id: Some(9),
            ..BotConfig::default()
        };
        assert_eq!(scopes(&c), [Scope::Guild(9)]);
        assert_eq!(Scope::Guild(9).to_string(), "in guild 9");
    }

    #[test]
    fn the_registered_definition_states_its_contexts() {
        for (allow_dms, integration_types, contexts) in [
            (
                true,
                serde_json::json!([0, 1]),
                serde_json::json!([0, 1, 2]),
            ),
            (false, serde_json::json!([0]), serde_json::json!([0])),
        ] {
            let config = BotConfig {
                allow_dms,
                ..BotConfig::default()
            };
            let mut commands = crate::commands::<crate::Data>();
            set_contexts(&mut commands, &config);
            let built = poise::builtins::create_application_commands(&commands);
            assert_eq!(built.len(), 2);
            for (command, first_option) in [
                (0, ("mailcheck", "domain")),
                (1, ("mailcheck-sender", "ip")),
            ] {
                let json = serde_json::to_value(&built[command]).unwrap();
                assert_eq!(json["name"], first_option.0);
                assert_eq!(json["integration_types"], integration_types, "{json}");
                assert_eq!(json["contexts"], contexts, "{json}");
                assert_eq!(json["options"][0]["name"], first_option.1);
            }
        }
    }

    #[test]
    fn the_error_names_command_place_and_discords_words() {
        let e = RegisterError {
            reason: discord_words("Missing Access", 403, 50001),
            ..RegisterError::new(
                "mailcheck",
                Scope::Guild(123),
                serenity::Error::Other("stand-in"),
            )
        };
        assert_eq!(
            e.to_string(),
            "cannot register /mailcheck in guild 123: Missing Access [HTTP 403, code 50001] \
             (is the bot invited with the applications.commands scope?)"
        );
        let e = RegisterError::new(
            "mailcheck",
            Scope::Global,
            serenity::Error::Other("connection refused"),
        );
        assert_eq!(
            e.to_string(),
            "cannot register /mailcheck globally: connection refused \
             (is DISCORD_TOKEN the token of this application's bot?)"
        );
    }
}
