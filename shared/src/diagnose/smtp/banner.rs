//! The host name an MX announces in its greeting: `smtp.banner_unresolvable` (not a public
//! name, or it does not resolve) and `smtp.banner_mismatch` (neither the PTR name nor resolving
//! to the address).

use super::Ctx;
use crate::facts::{AddressLookups, Reply};
use crate::finding::{Code, Finding, Severity};

/// Words that stand where a greeting's host name would, without being one.
const NOT_A_NAME: &[&str] = &[
    "esmtp", "smtp", "ready", "welcome", "service", "hello", "mail",
];

pub(super) fn banner(
    ctx: &Ctx<'_>,
    reply: &Reply,
    name: Option<&str>,
    lookups: Option<&AddressLookups>,
    out: &mut Vec<Finding>,
) {
    let first = reply.lines.first().cloned().unwrap_or_default();
    let ip = ctx.addr.ip;
    let advice_name = format!(
        "Set the server's host name (Postfix `myhostname`, Exim `primary_hostname`) to a public \
         name with an A record pointing to {ip} — ideally its PTR name. The same name is \
         usually used in EHLO when this server sends mail, and receivers refuse unresolvable \
         or non-public HELO names."
    );
    let Some(name) = name else {
        match banner_token(&first) {
            Some(token) => out.push(
                ctx.finding(
                    Code::SmtpBannerUnresolvable,
                    format!(
                        "{} announces itself as {token}, which is not a public host name",
                        ctx.at()
                    ),
                )
                .evidence(format!("greeting: {first}"))
                .advice(advice_name),
            ),
            None => out.push(
                ctx.finding(
                    Code::SmtpBannerUnresolvable,
                    format!("{} does not announce a host name in its greeting", ctx.at()),
                )
                .severity(Severity::Info)
                .evidence(format!("greeting: {first}"))
                .advice(format!(
                    "Put the server's public host name first in the 220 line (e.g. \
                     `220 {} ESMTP`); some strict senders expect it.",
                    ctx.host.host
                )),
            ),
        }
        return;
    };
    if let Some(suffix) = crate::identity::non_public_suffix(name) {
        out.push(
            ctx.finding(
                Code::SmtpBannerUnresolvable,
                format!("the greeting name {name} is not a public name (.{suffix})"),
            )
            .evidence(format!("greeting: {first}"))
            .advice(advice_name),
        );
        return;
    }
    let Some(lookups) = lookups else { return };
    let ptr_confirmed = ctx.addr.ptr.as_ref().and_then(|p| p.confirms(ip)) == Some(true);
    if lookups.both_negative() {
        let mut f = ctx
            .finding(
                Code::SmtpBannerUnresolvable,
                format!("the greeting name {name} does not resolve"),
            )
            .evidence(format!("greeting: {first}"))
            .evidence(format!(
                "A {name}: {}; AAAA {name}: {}",
                lookups.a.describe(),
                lookups.aaaa.describe()
            ));
        if ptr_confirmed {
            f = f
                .severity(Severity::Info)
                .evidence(format!(
                    "PTR {ip}: {} (forward-confirmed)",
                    ctx.ptr_names().join(", ")
                ))
                .advice(
                    "A provider's internal node name; receiving works. If this host also sends \
                     mail, make its EHLO name the public, forward-confirmed PTR name.",
                );
        } else {
            f = f.advice(advice_name);
        }
        out.push(f);
        return;
    }
    if lookups.any_failed() && lookups.ips().is_empty() {
        return;
    }
    let matches_ptr = ctx.ptr_names().iter().any(|p| p.eq_ignore_ascii_case(name));
    let resolves_to_ip = lookups.ips().contains(&ip);
    if !matches_ptr && !resolves_to_ip {
        let ptr = if ctx.ptr_names().is_empty() {
            "none".to_owned()
        } else {
            ctx.ptr_names().join(", ")
        };
        let ips: Vec<String> = lookups.ips().iter().map(ToString::to_string).collect();
        let f = ctx
            .finding(
                Code::SmtpBannerMismatch,
                format!(
                    "the greeting name {name} is neither the PTR name of {ip} nor resolves to it"
                ),
            )
            .evidence(format!("greeting: {first}"))
            .evidence(format!("{name} resolves to {}", ips.join(", ")))
            .evidence(format!("PTR {ip}: {ptr}"));
        // An address the domain's own SPF record authorizes sends its mail, and its greeting
        // name is then its HELO name: receivers check that.
        out.push(match crate::diagnose::spf::sends_evidence(ctx.facts, ip) {
            Some(sends) => f
                .severity(Severity::Warning)
                .evidence(sends)
                .advice(format!(
                    "This host sends the domain's mail, usually under its greeting name as HELO \
                     name, and receivers check that the HELO name, the PTR of {ip} and that name's \
                     A record agree. Make them agree: set the server's host name to the PTR name \
                     of {ip}, or change the PTR and A records to the name it uses."
                )),
            None => f.advice(format!(
                "Harmless for receiving (pooled servers and large providers do this by design). It \
                 matters only if this host also sends mail under that name: then make the greeting \
                 name, the PTR of {ip} and that name's A record agree."
            )),
        });
    }
}

/// A greeting's first token when it is meant as a host name but is not a dotted one
/// (`localhost`, `mailserver`): `None` for protocol words, IP literals and masks.
fn banner_token(first_line: &str) -> Option<String> {
    let token = first_line.get(4..)?.split_whitespace().next()?;
    let t = token.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = !t.is_empty()
        && t.len() <= 63
        && t.bytes().any(|b| b.is_ascii_alphabetic())
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (label_ok && !NOT_A_NAME.contains(&t.as_str())).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::banner_token;

    #[test]
    fn greeting_tokens_that_mean_a_name() {
        assert_eq!(
            banner_token("220 localhost ESMTP").as_deref(),
            Some("localhost")
        );
        assert_eq!(
            banner_token("220 mailserver ready").as_deref(),
            Some("mailserver")
        );
        assert_eq!(banner_token("220 ESMTP Postfix"), None);
        assert_eq!(banner_token("220 ****************"), None);
        assert_eq!(banner_token("220 [192.0.2.1] ready"), None);
        assert_eq!(banner_token("220 192.0.2.1"), None);
        assert_eq!(banner_token("220"), None);
    }
}
