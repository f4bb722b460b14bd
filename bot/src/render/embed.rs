//! The embed as plain strings ([`EmbedDraft`]), fitted to Discord's limits, then converted to
//! serenity's builder.

use serenity::all::{Colour, CreateEmbed, CreateEmbedFooter};

use crate::sanitize::truncate_chars;

/// Discord's embed limits (characters).
pub mod limits {
    /// Title.
    pub const TITLE: usize = 256;
    /// Description.
    pub const DESCRIPTION: usize = 4096;
    /// Number of fields.
    pub const FIELDS: usize = 25;
    /// Field name.
    pub const FIELD_NAME: usize = 256;
    /// Field value.
    pub const FIELD_VALUE: usize = 1024;
    /// Footer text.
    pub const FOOTER: usize = 2048;
    /// Title + description + field names and values + footer, across all embeds of a message.
    pub const TOTAL: usize = 6000;
    /// Message content.
    pub const CONTENT: usize = 2000;
}

/// Largest attachment we send (Discord's base limit is 8 MiB; stay well under it).
pub const MAX_ATTACHMENT_BYTES: usize = 1024 * 1024;

/// One embed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDraft {
    /// Name (at most 256 characters).
    pub name: String,
    /// Value (at most 1024 characters).
    pub value: String,
    /// Shown side by side with neighbours.
    pub inline: bool,
}

/// An embed as plain strings, before it is fitted and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedDraft {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Sidebar colour (`0xRRGGBB`).
    pub colour: u32,
    /// Fields, most important first (fitting drops from the end).
    pub fields: Vec<FieldDraft>,
    /// Footer text.
    pub footer: String,
}

impl EmbedDraft {
    /// Characters counted against Discord's 6000 total.
    pub fn total_chars(&self) -> usize {
        let n = |s: &str| s.chars().count();
        n(&self.title)
            + n(&self.description)
            + n(&self.footer)
            + self
                .fields
                .iter()
                .map(|f| n(&f.name) + n(&f.value))
                .sum::<usize>()
    }

    /// Fits the draft to every Discord limit: each part is truncated with `…`, surplus fields are
    /// replaced by one note field, and the description is cut if the total is still too large.
    /// Returns whether anything was cut or dropped.
    pub fn fit(&mut self) -> bool {
        let mut cut = false;
        let mut clip = |s: &mut String, max: usize| {
            let (t, c) = truncate_chars(s, max);
            *s = t;
            cut |= c;
        };
        clip(&mut self.title, limits::TITLE);
        clip(&mut self.description, limits::DESCRIPTION);
        clip(&mut self.footer, limits::FOOTER);
        for f in &mut self.fields {
            clip(&mut f.name, limits::FIELD_NAME);
            clip(&mut f.value, limits::FIELD_VALUE);
            if f.name.is_empty() {
                f.name = "\u{200B}".to_owned();
            }
            if f.value.is_empty() {
                f.value = "\u{200B}".to_owned();
            }
        }
        // Room for the note field when something must go.
        const NOTE_RESERVE: usize = 160;
        if self.fields.len() > limits::FIELDS || self.total_chars() > limits::TOTAL {
            let mut dropped = 0usize;
            while !self.fields.is_empty()
                && (self.fields.len() >= limits::FIELDS
                    || self.total_chars() + NOTE_RESERVE > limits::TOTAL)
            {
                self.fields.pop();
                dropped += 1;
            }
            if dropped > 0 {
                cut = true;
                self.fields.push(FieldDraft {
                    name: "More".to_owned(),
                    value: format!(
                        "{dropped} more section(s) did not fit in Discord's limits; the \
                         attached file has the full report."
                    ),
                    inline: false,
                });
            }
        }
        let total = self.total_chars();
        if total > limits::TOTAL {
            let keep = self
                .description
                .chars()
                .count()
                .saturating_sub(total - limits::TOTAL);
            let (t, _) = truncate_chars(&self.description, keep);
            self.description = t;
            cut = true;
        }
        cut
    }

    /// The serenity builder for this draft (call [`EmbedDraft::fit`] first).
    pub fn to_embed(&self) -> CreateEmbed {
        let mut embed = CreateEmbed::new()
            .title(&self.title)
            .description(&self.description)
            .colour(Colour::new(self.colour))
            .footer(CreateEmbedFooter::new(&self.footer));
        for f in &self.fields {
            embed = embed.field(&f.name, &f.value, f.inline);
        }
        embed
    }
}
