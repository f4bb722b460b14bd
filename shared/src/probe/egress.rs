//! Our own vantage point: can we reach port 25 at all? Plain TCP connects to configured canary
//! hosts (no SMTP is spoken: connect, then close), all at once, each under the canary timeout.

use std::net::{IpAddr, SocketAddr};

use crate::config::EgressConfig;
use crate::facts::{CanaryProbe, ConnectOutcome, EgressFacts};
use crate::probe::smtp::session::tcp_connect;

/// Connects to every canary `host`, `host:port` or `[v6]:port` (port 25 by default),
/// concurrently, from `source_ip` when given. A name that does not resolve is
/// [`ConnectOutcome::Error`]. A host name is tried on its first resolved address.
pub async fn check_egress(config: &EgressConfig, source_ip: Option<IpAddr>) -> EgressFacts {
    let probes = config
        .canaries
        .iter()
        .map(|target| probe_canary(target, source_ip, config.timeout));
    EgressFacts {
        canaries: futures::future::join_all(probes).await,
    }
}

async fn probe_canary(
    target: &str,
    source_ip: Option<IpAddr>,
    timeout: std::time::Duration,
) -> CanaryProbe {
    let outcome = match tokio::time::timeout(timeout, resolve(target, source_ip)).await {
        Ok(Ok(addr)) => {
            let (outcome, stream) = tcp_connect(addr, source_ip, timeout).await;
            drop(stream);
            outcome
        }
        Ok(Err(detail)) => ConnectOutcome::Error { detail },
        Err(_) => ConnectOutcome::Error {
            detail: format!("resolving {target} timed out"),
        },
    };
    CanaryProbe {
        target: target.to_owned(),
        outcome,
    }
}

/// `host`, `host:port`, `IP`, `IP:PORT` or `[v6]:port` → one socket address (of the source
/// address's family when one is given).
async fn resolve(target: &str, source_ip: Option<IpAddr>) -> Result<SocketAddr, String> {
    let target = target.trim();
    if let Ok(sa) = target.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let bare = target.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 25));
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
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
        .collect();
    let family_ok = |a: &&SocketAddr| source_ip.is_none_or(|s| s.is_ipv4() == a.is_ipv4());
    addrs
        .iter()
        .find(family_ok)
        .copied()
        .ok_or_else(|| format!("{host} has no usable address"))
}
