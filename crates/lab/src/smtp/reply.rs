//! What the server answers: the scripted reply to each command (in order of precedence), the
//! default replies of a small strict MTA, the EHLO reply, and the wire format of replies.

use super::conn::{Conn, Session};
use super::{Command, angle_address};

/// Turns reply text into wire format: every line CRLF-terminated.
pub(super) fn wire(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    for line in text.split('\n') {
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub(super) fn reply_code(text: &str) -> &str {
    text.get(..3).unwrap_or("")
}

impl Conn {
    /// The reply to `command`, the first that applies of: the sender-dependent RCPT reply
    /// (inside a transaction), the EHLO reply inside TLS, the command's reply function, its
    /// fixed reply, and the default reply.
    pub(super) fn reply(
        &self,
        command: Command,
        args: &str,
        s: &Session,
        tls_active: bool,
    ) -> String {
        if let (Command::Rcpt, Some(hook), true) = (command, &self.cfg.rcpt_for_sender, s.mail) {
            (hook.0)(&s.sender, &angle_address(args))
        } else if let (Command::Ehlo, Some(text), true) =
            (command, &self.cfg.ehlo_in_tls, tls_active)
        {
            text.clone()
        } else if let Some(hook) = self.cfg.hooks.get(&command) {
            (hook.0)(args)
        } else if let Some(text) = self.cfg.replies.get(&command) {
            text.clone()
        } else {
            self.default_reply(command, args, s, tls_active)
        }
    }

    fn advertises_starttls(&self) -> bool {
        self.cfg.advertise_starttls.unwrap_or(
            self.cfg.tls.is_some()
                || self.cfg.replies.contains_key(&Command::StartTls)
                || self.cfg.tls_handshake_fails
                || self.cfg.tls_legacy_only
                || self.cfg.inject_after_starttls.is_some(),
        )
    }

    fn ehlo_reply(&self, args: &str, tls_active: bool) -> String {
        if let Some(lines) = &self.cfg.ehlo_lines {
            return lines.join("\n");
        }
        let mut items = vec![format!("{} Hello {args}{}", self.cfg.hostname, self.echo())];
        items.extend(self.cfg.extensions.iter().cloned());
        if !tls_active && self.advertises_starttls() {
            items.push("STARTTLS".to_owned());
        }
        let last = items.len() - 1;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("250{}{item}", if i == last { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// ` [<client IP>]` when echoing the client, else nothing.
    fn echo(&self) -> String {
        match self.cfg.echo_client {
            Some(Some(ip)) => format!(" [{ip}]"),
            Some(None) => format!(" [{}]", self.peer.ip()),
            None => String::new(),
        }
    }

    fn default_reply(&self, command: Command, args: &str, s: &Session, tls_active: bool) -> String {
        let host = &self.cfg.hostname;
        match command {
            Command::Helo => format!("250 {host}{}", self.echo()),
            Command::Ehlo => self.ehlo_reply(args, tls_active),
            Command::Mail if !s.greeted => "503 5.5.1 Error: send HELO/EHLO first".to_owned(),
            Command::Mail if s.mail => "503 5.5.1 Error: nested MAIL command".to_owned(),
            Command::Mail => "250 2.1.0 Ok".to_owned(),
            Command::Rcpt if !s.mail => "503 5.5.1 Error: need MAIL command".to_owned(),
            Command::Rcpt => "250 2.1.5 Ok".to_owned(),
            Command::Data if s.rcpts == 0 => "503 5.5.1 Error: need RCPT command".to_owned(),
            Command::Data => "354 End data with <CR><LF>.<CR><LF>".to_owned(),
            Command::Rset | Command::Noop => "250 2.0.0 Ok".to_owned(),
            Command::Vrfy => "252 2.0.0 Cannot VRFY user, but will accept message".to_owned(),
            Command::Quit => "221 2.0.0 Bye".to_owned(),
            Command::StartTls if tls_active => "503 5.5.1 Error: TLS already active".to_owned(),
            Command::StartTls if !self.advertises_starttls() => {
                "502 5.5.1 Error: command not implemented".to_owned()
            }
            Command::StartTls => "220 2.0.0 Ready to start TLS".to_owned(),
            Command::Unknown => "500 5.5.1 unknown".to_owned(),
        }
    }
}
