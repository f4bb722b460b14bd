//! The settings a finding's advice speaks of. Advice names the setting ("the prober's EHLO
//! name"), never one front-end's flag; each front-end turns a [`Setting`] into its own hint of
//! where to change it (a CLI flag, a bot config key).

use crate::finding::Code;

/// A setting of the checker that a finding's advice may ask to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The EHLO name the prober announces.
    HeloName,
    /// The `MAIL FROM` address the prober uses.
    MailFrom,
    /// The prober's public (NAT) address as servers see it.
    PublicIp,
    /// The DNS resolver the checker asks.
    Resolver,
}

impl Setting {
    /// The setting in words.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::HeloName => "the prober's EHLO name",
            Self::MailFrom => "the prober's sender address",
            Self::PublicIp => "the prober's public address",
            Self::Resolver => "the DNS resolver",
        }
    }
}

/// The settings that fix what `code` reports, when it is about us and one of them can.
pub const fn settings_for(code: Code) -> &'static [Setting] {
    match code {
        Code::ProbeIdentity | Code::SmtpProbeBlocked => &[Setting::HeloName, Setting::MailFrom],
        Code::DnsblUnavailable => &[Setting::Resolver],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_about_us_name_their_settings_and_others_none() {
        assert_eq!(
            settings_for(Code::ProbeIdentity),
            &[Setting::HeloName, Setting::MailFrom]
        );
        assert_eq!(settings_for(Code::DnsblUnavailable), &[Setting::Resolver]);
        assert!(settings_for(Code::SmtpRelayDenied).is_empty());
        assert!(settings_for(Code::MxMissing).is_empty());
    }
}
