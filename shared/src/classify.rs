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
mod tests;
