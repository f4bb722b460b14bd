//! What refusals are about, reply by reply: relay and domain wording first, then the mailbox,
//! then us (sender, HELO name, client address), then greylisting; and how IP literals and names
//! are matched in reply text.

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
            "5.1.1 <postmaster@a.example>: Recipient address rejected: User unknown in relay \
             recipient table"
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
        "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to \
         our servers",
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
