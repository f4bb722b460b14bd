//! SMTP commands as values: [`Command`]'s `Display` is the exact wire form (without CRLF), so
//! what is sent and what the transcript shows are the same text by construction.

use std::fmt;

/// A command the probe sends. Arguments are checked by their makers ([`super::SmtpClient`]
/// validates our name and sender; recipients are built from checked domain names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `EHLO <name>`
    Ehlo(String),
    /// `HELO <name>`
    Helo(String),
    /// `STARTTLS`
    StartTls,
    /// `MAIL FROM:<sender>` (empty: the null sender `<>`).
    MailFrom(String),
    /// `RCPT TO:<recipient>`
    RcptTo(String),
    /// `RSET`
    Rset,
    /// `QUIT`
    Quit,
}

impl Command {
    /// `RCPT TO:<postmaster@domain>`.
    pub(crate) fn postmaster(domain: &str) -> Self {
        Self::RcptTo(format!("postmaster@{domain}"))
    }

    /// The wire form followed by CRLF, appended to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// Whether RFC 2920 lets this command stand anywhere in a pipelined group (the server
    /// answers it without changing what the next command means).
    #[cfg(test)]
    pub(crate) const fn pipelinable(&self) -> bool {
        matches!(self, Self::MailFrom(_) | Self::RcptTo(_) | Self::Rset)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ehlo(name) => write!(f, "EHLO {name}"),
            Self::Helo(name) => write!(f, "HELO {name}"),
            Self::StartTls => f.write_str("STARTTLS"),
            Self::MailFrom(sender) => write!(f, "MAIL FROM:<{sender}>"),
            Self::RcptTo(rcpt) => write!(f, "RCPT TO:<{rcpt}>"),
            Self::Rset => f.write_str("RSET"),
            Self::Quit => f.write_str("QUIT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let cases = [
            (Command::Ehlo("probe.example".into()), "EHLO probe.example"),
            (Command::Helo("probe.example".into()), "HELO probe.example"),
            (Command::StartTls, "STARTTLS"),
            (Command::MailFrom(String::new()), "MAIL FROM:<>"),
            (
                Command::MailFrom("a@b.example".into()),
                "MAIL FROM:<a@b.example>",
            ),
            (
                Command::postmaster("d.example"),
                "RCPT TO:<postmaster@d.example>",
            ),
            (Command::Rset, "RSET"),
            (Command::Quit, "QUIT"),
        ];
        for (cmd, wire) in cases {
            assert_eq!(cmd.to_string(), wire);
            let mut out = Vec::new();
            cmd.write_to(&mut out);
            assert_eq!(out, format!("{wire}\r\n").into_bytes());
        }
        assert!(Command::Rset.pipelinable());
        assert!(!Command::StartTls.pipelinable());
        assert!(!Command::Quit.pipelinable());
    }
}
