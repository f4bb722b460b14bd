//! Our own vantage point, part one: can we reach port 25 at all, per address family? Each
//! configured canary (public mail servers of unrelated providers by default) is resolved to an
//! address of the family through our resolver and greeted like a sender would: connect, read
//! the greeting, `EHLO`, `QUIT` — no transaction. Its EHLO reply usually echoes our public
//! address (`Hello name [IP]`), which tells us what receivers see behind NAT.

use std::net::{IpAddr, SocketAddr};

use crate::config::EgressConfig;
use crate::facts::{CanaryProbe, ConnectOutcome, EgressFacts, Family, SmtpFacts, StepOutcome};
use crate::probe::dns::DnsSource;
use crate::probe::smtp::{Session, SmtpClient};

/// Greets every canary over `family`, concurrently, each under the canary timeout (connect and
/// greeting). A canary whose name has no address of the family is recorded with `addr: None`
/// and does not count either way.
pub async fn check_egress(
    config: &EgressConfig,
    family: Family,
    dns: &dyn DnsSource,
    client: &SmtpClient,
) -> EgressFacts {
    let probes = config
        .canaries
        .iter()
        .map(|target| probe_canary(target, family, dns, client, config));
    EgressFacts {
        family,
        canaries: futures::future::join_all(probes).await,
    }
}

async fn probe_canary(
    target: &str,
    family: Family,
    dns: &dyn DnsSource,
    client: &SmtpClient,
    config: &EgressConfig,
) -> CanaryProbe {
    let mut probe = CanaryProbe {
        target: target.to_owned(),
        addr: None,
        outcome: ConnectOutcome::Error {
            detail: String::new(),
        },
        greeting: None,
        echoed_ip: None,
    };
    let addr = match tokio::time::timeout(config.timeout, resolve(target, family, dns)).await {
        Ok(Ok(Some(addr))) => addr,
        Ok(Ok(None)) => {
            probe.outcome = ConnectOutcome::Error {
                detail: format!("{target} has no {} address", family.as_str()),
            };
            return probe;
        }
        Ok(Err(detail)) => {
            probe.outcome = ConnectOutcome::Error { detail };
            return probe;
        }
        Err(_) => {
            probe.outcome = ConnectOutcome::Error {
                detail: format!("resolving {target} timed out"),
            };
            return probe;
        }
    };
    probe.addr = Some(addr);
    let host = host_part(target);
    let facts = Session::hello_only(client, addr, &host).await;
    probe.outcome = facts.connect.clone();
    probe.greeting = greeting_line(&facts);
    probe.echoed_ip = facts.echoed_ip;
    probe
}

fn greeting_line(facts: &SmtpFacts) -> Option<String> {
    match &facts.greeting.as_ref()?.outcome {
        StepOutcome::Replied { reply } => reply.lines.first().cloned(),
        _ => None,
    }
}

/// The host part of a canary target, for the transcript.
fn host_part(target: &str) -> String {
    let t = target.trim();
    if let Ok(sa) = t.parse::<SocketAddr>() {
        return sa.ip().to_string();
    }
    let bare = t.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return bare.to_owned();
    }
    t.rsplit_once(':').map_or(t, |(h, _)| h).to_owned()
}

/// `host`, `host:port`, `IP`, `IP:PORT` or `[v6]:port` → one socket address of `family`
/// (port 25 by default); `Ok(None)` when it has none of that family.
async fn resolve(
    target: &str,
    family: Family,
    dns: &dyn DnsSource,
) -> Result<Option<SocketAddr>, String> {
    let target = target.trim();
    let of_family = |ip: IpAddr| Family::of(ip) == family;
    if let Ok(sa) = target.parse::<SocketAddr>() {
        return Ok(of_family(sa.ip()).then_some(sa));
    }
    let bare = target.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(of_family(ip).then_some(SocketAddr::new(ip, 25)));
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in canary {target:?}"))?,
        ),
        None => (target, 25),
    };
    if host.is_empty() {
        return Err(format!("empty host in canary {target:?}"));
    }
    let answer = match family {
        Family::Ipv4 => dns.a(host).await,
        Family::Ipv6 => dns.aaaa(host).await,
    };
    if answer.lookup.is_failed() {
        return Err(format!("resolving {host}: {}", answer.lookup.describe()));
    }
    Ok(answer
        .lookup
        .records()
        .first()
        .map(|ip| SocketAddr::new(*ip, port)))
}

#[cfg(test)]
mod tests {
    use super::host_part;

    #[test]
    fn canary_host_parts() {
        assert_eq!(host_part("127.0.0.10:25"), "127.0.0.10");
        assert_eq!(host_part("[::1]:25"), "::1");
        assert_eq!(host_part("::1"), "::1");
        assert_eq!(host_part("mx.example.net:2525"), "mx.example.net");
        assert_eq!(host_part("mx.example.net"), "mx.example.net");
    }
}
