//! What an SMTP refusal is about, in the contract's order of precedence ("blame the right
//! side"): the recipient domain (relay or domain wording, X.1.2/X.1.10), then the mailbox (X.1.1,
//! user unknown), then us (our sender, our HELO name, our client address), then greylisting.
//!
//! Pure and shared: the probe asks it whether to retry with the null sender, the diagnosis asks
//! it which finding a reply is. It reads the reply code, the enhanced status code (RFC 3463) and
//! the text; "us" is whatever [`Us`] lists (our local and public addresses, our names).

use std::net::IpAddr;

use crate::facts::Reply;

/// The command a reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The 220 greeting.
    Greeting,
    /// `EHLO` or `HELO`.
    Hello,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
}

/// What a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// Relay wording: the server does not accept mail for the recipient's domain.
    Relay,
    /// The recipient domain is not served or not routable here (X.1.2, X.1.10, wording).
    Domain,
    /// The recipient mailbox does not exist (X.1.1, "user unknown", Exchange's 5.4.1).
    Mailbox,
    /// Our sender address (X.1.7, X.1.8, X.7.27, "Sender address rejected", sender verify).
    OurSender,
    /// Our HELO name (X.7.25 at EHLO, "Helo command rejected", "Invalid name").
    OurHelo,
    /// Our client: our IP, our reverse DNS, a blocklist listing of us.
    OurClient,
    /// Greylisting or a retry-later deferral (4xx at MAIL or RCPT only).
    Greylisting,
    /// Nothing more specific.
    Other,
}

impl About {
    /// Whether the refusal is about the prober rather than the target.
    pub const fn is_us(self) -> bool {
        matches!(self, Self::OurSender | Self::OurHelo | Self::OurClient)
    }
}

/// Who we are, as far as a rejection text could name us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Us {
    /// Our addresses: the connection's local address, our public addresses, the address the
    /// server echoed in its EHLO reply.
    pub ips: Vec<IpAddr>,
    /// Our names: the EHLO name, the PTR names of our public addresses.
    pub names: Vec<String>,
    /// The target's own address: never "us".
    pub target: Option<IpAddr>,
    /// Our public address is not known (not configured, not echoed): behind NAT, an address
    /// a refusal names is then most likely ours (servers name the client they refuse).
    pub public_unknown: bool,
}

const RELAY: &[&str] = &[
    "relay access denied",
    "relaying denied",
    "relay denied",
    "relay not permitted",
    "relaying not permitted",
    "not permitted to relay",
    "relaying not allowed",
    "relay not allowed",
    "not allowed to relay",
    "relaying is not allowed",
    "unable to relay",
    "we do not relay",
    "does not relay",
    "relaying prohibited",
    "relay prohibited",
    "no relaying",
    "relaying to",
    "relay not granted",
    "isn't in my list of allowed rcpthosts",
    "not in my list of allowed rcpthosts",
];

const DOMAIN: &[&str] = &[
    "domain not found",
    "domain not served",
    "domain is not served",
    "not a local domain",
    "unrouteable address",
    "unrouteable mail domain",
    "unroutable address",
    "no such domain",
    "domain does not accept mail",
    "does not accept mail",
    "domain isn't in my list",
    "not accepting mail for this domain",
    "not a valid domain",
    "domain not allowed",
    "unknown domain",
];

const MAILBOX: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "user not found",
    "unknown recipient",
    "recipient unknown",
    "recipient not found",
    "recipientnotfound",
    "invalid recipient",
    "mailbox not found",
    "mailbox unavailable",
    "no mailbox",
    "does not exist",
    "address rejected: access denied",
];

const SENDER: &[&str] = &[
    "sender address rejected",
    "sender verify",
    "verification failed for",
    "sender rejected",
    "sender domain",
    "sender unknown",
    "unknown sender",
    "bad sender",
    "invalid sender",
    "sender not allowed",
    "unverified sender",
    "could not complete sender verify",
];

const HELO: &[&str] = &[
    "helo command rejected",
    "ehlo command rejected",
    "invalid name",
    "helo name",
    "helo hostname",
    "ehlo hostname",
    "your helo",
    "bad helo",
    "invalid helo",
    "need fully-qualified hostname",
];

const CLIENT: &[&str] = &[
    "client host rejected",
    "client host [",
    "is in a black list",
    "in an rbl",
    "ip you're using",
    "ip address you're using",
    "cannot find your hostname",
    "cannot find your reverse hostname",
    "reverse dns",
    "does not have a ptr",
    "banned sending ip",
    "blocked using",
    "listed at",
    "listed in",
    "on our block list",
];

const WHO: &[&str] = &[
    "client host",
    "client ip",
    "client address",
    "your ip",
    "your address",
    "your host",
    "your server",
    "your network",
    "sending ip",
    "connecting ip",
    "sender ip",
    "remote host",
];

const WHAT: &[&str] = &[
    "blocked",
    "listed",
    "blacklist",
    "blocklist",
    "black list",
    "block list",
    "rejected",
    "denied",
    "banned",
    "not allowed",
    "refused",
    "not authorized",
    "reputation",
];

const GREYLIST: &[&str] = &["greylist", "graylist", "grey-list", "gray-list"];

const RETRY_LATER: &[&str] = &[
    "try again later",
    "try later",
    "come back later",
    "please retry",
    "retry later",
    "retry in",
    "temporarily deferred",
];

fn any(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(p))
}

/// The enhanced code's subject and detail (`1.1` of `5.1.1`).
fn subject_detail(reply: &Reply) -> Option<&str> {
    let e = reply.enhanced.as_deref()?;
    e.split_once('.').map(|(_, rest)| rest)
}

/// What a refusal (4xx or 5xx) answering `stage` is about. Positive replies are `Other`.
pub fn classify(reply: &Reply, stage: Stage, us: &Us) -> About {
    if reply.is_positive() {
        return About::Other;
    }
    let text = reply.text().to_ascii_lowercase();
    let sd = subject_detail(reply);
    let sender_verify = any(&text, &["sender verify", "verification failed for"]);
    let about_sender_text = any(
        &text,
        &["sender", "mail from", "return path", "return-path"],
    );

    // 1. The recipient domain (relay, not served), but only for recipient replies, and never
    //    when the words are about our sender ("Sender address rejected: Domain not found",
    //    Exim's "Verification failed … Unrouteable address").
    if stage == Stage::Rcpt && !sender_verify {
        if any(&text, RELAY) && !text.contains("relay recipient table") {
            return About::Relay;
        }
        let microsoft_not_found = any(&text, &["recipientnotfound", "recipient not found"]);
        let domain_code = matches!(sd, Some("1.2" | "1.10")) && !microsoft_not_found;
        let domain_text = any(&text, DOMAIN) && (!about_sender_text || text.contains("recipient"));
        if domain_code || domain_text {
            return About::Domain;
        }
        // 2. The mailbox.
        if matches!(sd, Some("1.1")) || any(&text, MAILBOX) || microsoft_not_found {
            return About::Mailbox;
        }
        if sd == Some("4.1") && text.contains("access denied") {
            return About::Mailbox;
        }
    }
    // 3. Us: our sender, our HELO name, our client.
    if matches!(sd, Some("1.7" | "1.8" | "7.27")) || any(&text, SENDER) {
        return About::OurSender;
    }
    if (stage == Stage::Hello && matches!(sd, Some("7.25"))) || any(&text, HELO) {
        return About::OurHelo;
    }
    if names_us(&text, us)
        || matches!(sd, Some("7.25"))
        || any(&text, CLIENT)
        || (text.contains("not authorized to send") && text.contains("directly"))
        || (any(&text, WHO) && any(&text, WHAT))
    {
        return About::OurClient;
    }
    // 4. Greylisting: a deferral of MAIL or RCPT that says so, or asks to come back later
    //    with a greylisting code (4.2.0, 4.7.1, or none); postscreen's first-contact 4.3.2.
    let deferral = reply.is_transient() && reply.code != 421;
    if deferral && matches!(stage, Stage::Mail | Stage::Rcpt) {
        let retry_code = matches!(sd, None | Some("2.0" | "7.1"));
        let postscreen = sd == Some("3.2")
            && (text.contains("service currently unavailable") || any(&text, RETRY_LATER));
        if any(&text, GREYLIST) || (retry_code && any(&text, RETRY_LATER)) || postscreen {
            return About::Greylisting;
        }
    }
    About::Other
}

/// Whether the text names one of our addresses or names — or, while our public address is
/// unknown, any address other than the target's and loopback.
pub fn names_us(text_lower: &str, us: &Us) -> bool {
    let other_address = |ip: IpAddr| {
        Some(ip) != us.target
            && crate::facts::AddressScope::of(ip) != crate::facts::AddressScope::Loopback
    };
    if us.public_unknown && ip_literals(text_lower).any(other_address) {
        return true;
    }
    us.ips
        .iter()
        .any(|ip| contains_ip(text_lower, &ip.to_string().to_ascii_lowercase()))
        || us.names.iter().any(|n| {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            n.contains('.') && contains_token(text_lower, &n)
        })
}

/// The IP addresses written in a text (IPv4 dotted quads, IPv6 with at least two colons).
fn ip_literals(text: &str) -> impl Iterator<Item = IpAddr> + '_ {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .map(|t| t.trim_matches(|c| c == '.' || c == ':'))
        .filter(|t| t.contains('.') || t.matches(':').count() >= 2)
        .filter_map(|t| t.parse::<IpAddr>().ok())
}

/// Whether `ip` occurs in `text` on its own (not as part of a longer address).
pub fn contains_ip(text: &str, ip: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(ip) {
        let start = from + pos;
        let end = start + ip.len();
        let before_ok = start == 0
            || !(bytes[start - 1].is_ascii_hexdigit()
                || bytes[start - 1] == b'.'
                || bytes[start - 1] == b':');
        let after_ok = end == bytes.len()
            || !(bytes[end].is_ascii_hexdigit()
                || bytes[end] == b':'
                || (bytes[end] == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)));
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Whether a host name occurs in `text` as a whole name (not inside a longer name or an
/// address's local part).
fn contains_token(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'@' | b'_');
    let mut from = 0;
    while let Some(pos) = text[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        let before_ok = start == 0 || !is_name(bytes[start - 1]);
        let after_ok = end == bytes.len()
            || !is_name(bytes[end])
            || (bytes[end] == b'.' && !bytes.get(end + 1).is_some_and(|b| is_name(*b)));
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// The address a server echoed in its EHLO/HELO reply (`Hello name [192.0.2.7]`, Gmail's
/// `at your service, [192.0.2.7]`): the first bracketed IP address of the first line.
pub fn echoed_ip(reply: &Reply) -> Option<IpAddr> {
    let first = reply.lines.first()?;
    let mut rest = first.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']')?;
        let inside = after[..close].trim();
        let inside = inside
            .strip_prefix("IPv6:")
            .or_else(|| inside.strip_prefix("ipv6:"))
            .unwrap_or(inside);
        if let Ok(ip) = inside.parse::<IpAddr>() {
            return Some(ip);
        }
        rest = &after[close + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, enhanced: Option<&str>, lines: &[&str]) -> Reply {
        Reply {
            code,
            enhanced: enhanced.map(str::to_owned),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    fn us() -> Us {
        Us {
            ips: vec![
                "198.51.100.7".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
            names: vec!["probe.example.net".to_owned()],
            target: Some("203.0.113.25".parse().unwrap()),
            public_unknown: false,
        }
    }

    #[test]
    fn an_unknown_address_in_a_refusal_is_ours_while_our_public_one_is_unknown() {
        let refusal = reply(
            550,
            Some("5.7.1"),
            &["550 5.7.1 198.18.9.2 is not welcome here"],
        );
        let mut behind_nat = us();
        behind_nat.ips = vec!["192.168.25.2".parse().unwrap()];
        assert_eq!(classify(&refusal, Stage::Rcpt, &behind_nat), About::Other);
        behind_nat.public_unknown = true;
        assert_eq!(
            classify(&refusal, Stage::Rcpt, &behind_nat),
            About::OurClient
        );
        // The target's own address, or a version number, is not us.
        let own = reply(550, None, &["550 203.0.113.25 says: not here, v4.96"]);
        assert_eq!(classify(&own, Stage::Rcpt, &behind_nat), About::Other);
        // Domain and mailbox answers still come first.
        let relay = reply(
            554,
            Some("5.7.1"),
            &["554 5.7.1 Relay access denied for 198.18.9.2"],
        );
        assert_eq!(classify(&relay, Stage::Rcpt, &behind_nat), About::Relay);
    }

    fn at_rcpt(code: u16, enh: Option<&str>, text: &str) -> About {
        classify(
            &reply(code, enh, &[&format!("{code} {text}")]),
            Stage::Rcpt,
            &us(),
        )
    }

    #[test]
    fn relay_wording_wins_with_any_code() {
        assert_eq!(
            at_rcpt(
                454,
                Some("4.7.1"),
                "4.7.1 <postmaster@a.example>: Relay access denied"
            ),
            About::Relay
        );
        assert_eq!(
            at_rcpt(554, Some("5.7.1"), "5.7.1 <x@y>: Relay access denied"),
            About::Relay
        );
        assert_eq!(at_rcpt(550, None, "relay not permitted"), About::Relay);
        // Relay wording beats a client-naming text: the target's code wins.
        assert_eq!(
            at_rcpt(
                554,
                Some("5.7.1"),
                "5.7.1 Relaying denied for client 198.51.100.7"
            ),
            About::Relay
        );
        // Postfix's "User unknown in relay recipient table" is the mailbox, not relaying.
        assert_eq!(
            at_rcpt(
                550,
                Some("5.1.1"),
                "5.1.1 <postmaster@a.example>: Recipient address rejected: User unknown in relay recipient table"
            ),
            About::Mailbox
        );
    }

    #[test]
    fn recipient_domain_before_mailbox() {
        assert_eq!(
            at_rcpt(
                550,
                Some("5.1.2"),
                "5.1.2 <postmaster@a.example>: Recipient address rejected: Domain not found"
            ),
            About::Domain
        );
        assert_eq!(
            at_rcpt(556, Some("5.1.10"), "5.1.10 domain does not accept mail"),
            About::Domain
        );
        assert_eq!(at_rcpt(550, None, "Unrouteable address"), About::Domain);
        // Microsoft reuses 5.1.10 for a missing recipient.
        assert_eq!(
            at_rcpt(
                550,
                Some("5.1.10"),
                "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
            ),
            About::Mailbox
        );
    }

    #[test]
    fn mailbox_refusals() {
        assert_eq!(
            at_rcpt(550, Some("5.1.1"), "5.1.1 <postmaster@a>: User unknown"),
            About::Mailbox
        );
        assert_eq!(
            at_rcpt(
                550,
                Some("5.4.1"),
                "5.4.1 Recipient address rejected: Access denied. AS(201806281)"
            ),
            About::Mailbox
        );
        assert_eq!(at_rcpt(550, None, "Invalid recipient"), About::Mailbox);
    }

    #[test]
    fn our_sender_at_mail_and_at_rcpt() {
        let exim = reply(
            550,
            None,
            &[
                "550-Verification failed for <postmaster@probe.localdomain>",
                "550-Unrouteable address",
                "550 Sender verify failed",
            ],
        );
        assert_eq!(classify(&exim, Stage::Rcpt, &us()), About::OurSender);
        let postfix = reply(
            553,
            Some("5.1.8"),
            &["553 5.1.8 <a@b.invalid>: Sender address rejected: Domain not found"],
        );
        assert_eq!(classify(&postfix, Stage::Mail, &us()), About::OurSender);
        assert_eq!(classify(&postfix, Stage::Rcpt, &us()), About::OurSender);
        let nullmx = reply(550, Some("5.7.27"), &["550 5.7.27 sender has a null MX"]);
        assert_eq!(classify(&nullmx, Stage::Mail, &us()), About::OurSender);
        // A plain 5xx at MAIL is not about us.
        let plain = reply(550, Some("5.7.1"), &["550 5.7.1 Command rejected"]);
        assert_eq!(classify(&plain, Stage::Mail, &us()), About::Other);
    }

    #[test]
    fn our_helo_and_our_client() {
        let helo = reply(
            504,
            Some("5.5.2"),
            &["504 5.5.2 <probe>: Helo command rejected: need fully-qualified hostname"],
        );
        assert_eq!(classify(&helo, Stage::Rcpt, &us()), About::OurHelo);
        let x725 = reply(550, Some("5.7.25"), &["550 5.7.25 PTR check failed"]);
        assert_eq!(classify(&x725, Stage::Hello, &us()), About::OurHelo);
        assert_eq!(classify(&x725, Stage::Rcpt, &us()), About::OurClient);
        for text in [
            "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
            "550 5.7.1 rejected because 203.0.113.9 is in a black list at zen.spamhaus.org",
            "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers",
            "550 198.51.100.7 is not welcome here",
            "550 go away probe.example.net",
        ] {
            let r = reply(550, None, &[text]);
            assert_eq!(classify(&r, Stage::Rcpt, &us()), About::OurClient, "{text}");
            assert_eq!(
                classify(&r, Stage::Greeting, &us()),
                About::OurClient,
                "{text}"
            );
        }
        // Another address, or our name inside a longer name, is not us.
        let other = reply(550, None, &["550 198.51.100.70 is not welcome here"]);
        assert_eq!(classify(&other, Stage::Rcpt, &us()), About::Other);
        let longer = reply(550, None, &["550 go away xprobe.example.net.evil"]);
        assert_eq!(classify(&longer, Stage::Rcpt, &us()), About::Other);
    }

    #[test]
    fn greylisting_only_for_deferred_mail_and_rcpt() {
        assert_eq!(
            at_rcpt(
                450,
                Some("4.2.0"),
                "4.2.0 <postmaster@a>: Recipient address rejected: Greylisted"
            ),
            About::Greylisting
        );
        assert_eq!(
            at_rcpt(
                451,
                Some("4.7.1"),
                "4.7.1 Greylisting in action, please come back later"
            ),
            About::Greylisting
        );
        assert_eq!(
            at_rcpt(450, Some("4.3.2"), "4.3.2 Service currently unavailable"),
            About::Greylisting
        );
        // A 421 or a greeting deferral is not greylisting.
        assert_eq!(
            at_rcpt(
                421,
                Some("4.7.0"),
                "4.7.0 Too many connections, try again later"
            ),
            About::Other
        );
        let busy = reply(421, Some("4.3.2"), &["421 4.3.2 try again later"]);
        assert_eq!(classify(&busy, Stage::Greeting, &us()), About::Other);
        // A 5xx with retry words is not greylisting.
        assert_eq!(at_rcpt(550, None, "try again later"), About::Other);
        assert_eq!(
            at_rcpt(452, Some("4.3.1"), "4.3.1 Insufficient system storage"),
            About::Other
        );
        assert_eq!(
            at_rcpt(451, Some("4.3.0"), "4.3.0 local error, try later"),
            About::Other
        );
        assert_eq!(
            at_rcpt(451, None, "Please try again later"),
            About::Greylisting
        );
    }

    #[test]
    fn echoed_addresses() {
        let r = |l: &str| reply(250, None, &[l, "250 PIPELINING"]);
        assert_eq!(
            echoed_ip(&r("250-mx.exim.test Hello probe.test [198.18.9.2]")),
            Some("198.18.9.2".parse().unwrap())
        );
        assert_eq!(
            echoed_ip(&r("250-mx.google.com at your service, [203.0.113.5]")),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(
            echoed_ip(&r("250-host Hello [IPv6:2001:db8::7]")),
            Some("2001:db8::7".parse().unwrap())
        );
        assert_eq!(
            echoed_ip(&r("250-host Hello probe [not an ip] [192.0.2.1]")),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(echoed_ip(&r("250-mx1.good.test")), None);
        assert_eq!(echoed_ip(&r("250-x [")), None);
    }

    #[test]
    fn ip_matching_respects_boundaries() {
        assert!(contains_ip("client host [127.0.0.2] blocked", "127.0.0.2"));
        assert!(!contains_ip(
            "client host [127.0.0.20] blocked",
            "127.0.0.2"
        ));
        assert!(!contains_ip("10.127.0.0.2", "127.0.0.2"));
        assert!(contains_ip("rejected 127.0.0.2.", "127.0.0.2"));
        assert!(contains_ip("ip=2001:db8::1 listed", "2001:db8::1"));
        assert!(!contains_ip("ip=2001:db8::10 listed", "2001:db8::1"));
    }
}
