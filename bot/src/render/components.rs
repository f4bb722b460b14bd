//! The buttons under an answer and their `custom_id`s.

use serenity::all::{ButtonStyle, CreateActionRow, CreateButton};

/// The `custom_id` prefix of our buttons: `mailcheck:<action>:<answer id>`.
pub const BUTTON_PREFIX: &str = "mailcheck:";

/// What a button under an answer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Check the domain again, fresh, and update the answer.
    Recheck,
    /// Send the SMTP transcript privately, as a file.
    Transcript,
    /// Explain the result step by step, privately.
    Explain,
}

impl ButtonAction {
    const fn word(self) -> &'static str {
        match self {
            Self::Recheck => "recheck",
            Self::Transcript => "transcript",
            Self::Explain => "explain",
        }
    }

    /// The button's `custom_id` for answer `id`.
    pub fn custom_id(self, id: u64) -> String {
        format!("{BUTTON_PREFIX}{}:{id}", self.word())
    }

    /// Reads one of our `custom_id`s (`None` for anyone else's).
    pub fn parse(custom_id: &str) -> Option<(Self, u64)> {
        let rest = custom_id.strip_prefix(BUTTON_PREFIX)?;
        let (word, id) = rest.split_once(':')?;
        let action = [Self::Recheck, Self::Transcript, Self::Explain]
            .into_iter()
            .find(|a| a.word() == word)?;
        Some((action, id.parse().ok()?))
    }
}

/// The buttons under an answer.
pub fn answer_buttons(id: u64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(ButtonAction::Recheck.custom_id(id))
            .label("Re-check")
            .emoji('🔄')
            .style(ButtonStyle::Primary),
        CreateButton::new(ButtonAction::Transcript.custom_id(id))
            .label("Show transcript")
            .style(ButtonStyle::Secondary),
        CreateButton::new(ButtonAction::Explain.custom_id(id))
            .label("Explain")
            .style(ButtonStyle::Secondary),
    ])]
}
