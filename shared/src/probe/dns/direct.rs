//! Questions sent to one DNS server directly, without a resolver in between: the MX query of
//! the consistency checks (RD bit as chosen, header bits kept), and the PTR of a loopback
//! address, which hickory answers itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use super::{HickoryDns, answer, failed, name_to_string, parse_name};
use crate::facts::{DnsFailure, Lookup, MxRecord};

/// What one server said when asked directly for a name's MX records (one UDP exchange, no
/// resolver in between), with the header bits that tell an authoritative answer from a cached
/// one or a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMx {
    /// The outcome: the MX records (sorted by preference, ties in answer order), NODATA,
    /// NXDOMAIN, or the failure (REFUSED, SERVFAIL, timeout, another response code or an I/O
    /// error).
    pub mx: Lookup<MxRecord>,
    /// The reply's response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, …); `None` when
    /// no reply came (timeout, I/O error).
    pub response_code: Option<u16>,
    /// The AA (authoritative answer) bit of the reply; `false` when there was no reply.
    pub authoritative: bool,
    /// The alias target when the answer holds a CNAME for the name (lower case, no trailing
    /// dot): a server asked without recursion does not follow it.
    pub cname: Option<String>,
    /// The smallest TTL of the MX records in the answer (from a resolver: what is left of its
    /// cached copy).
    pub ttl: Option<u32>,
    /// The reply had the TC bit set: its answer is incomplete (TCP is not tried).
    pub truncated: bool,
}

/// Asks `server` directly for the MX records of `name`: one UDP query, with the RD (recursion
/// desired) bit as given — unset to ask an authoritative name server about its own zone, set to
/// ask a resolver. A query that gets no reply in `timeout` is sent again, `tries` times in all
/// (at least once).
pub(crate) async fn direct_mx(
    server: SocketAddr,
    name: &str,
    recursion_desired: bool,
    timeout: std::time::Duration,
    tries: usize,
) -> DirectMx {
    use hickory_resolver::proto::op::{Edns, Message, Query};
    let no_reply = |mx| DirectMx {
        mx,
        response_code: None,
        authoritative: false,
        cname: None,
        ttl: None,
        truncated: false,
    };
    let qname = match parse_name(name) {
        Ok(n) => n,
        Err(detail) => return no_reply(failed(DnsFailure::Other, &detail)),
    };
    let mut query = Message::query();
    query.metadata.recursion_desired = recursion_desired;
    query.add_query(Query::query(qname, RecordType::MX));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    query.set_edns(edns);
    let id = query.metadata.id;
    let Ok(bytes) = query.to_vec() else {
        return no_reply(failed(DnsFailure::Other, "cannot encode the MX query"));
    };
    let mut last = failed(DnsFailure::Timeout, "no answer");
    for _ in 0..tries.max(1) {
        match direct_exchange(server, &bytes, id, timeout).await {
            Ok(response) => return direct_mx_answer(&response),
            Err(
                e @ Lookup::Failed {
                    failure: DnsFailure::Timeout,
                    ..
                },
            ) => last = e,
            Err(e) => return no_reply(e),
        }
    }
    no_reply(last)
}

fn direct_mx_answer(response: &hickory_resolver::proto::op::Message) -> DirectMx {
    let meta = &response.metadata;
    let mut ttl = None;
    let mut cname = None;
    let mx = match meta.response_code {
        ResponseCode::NoError => {
            let mut records: Vec<MxRecord> = Vec::new();
            for rec in &response.answers {
                match &rec.data {
                    RData::MX(mx) => {
                        ttl = Some(ttl.map_or(rec.ttl, |t: u32| t.min(rec.ttl)));
                        records.push(MxRecord {
                            preference: mx.preference,
                            exchange: name_to_string(&mx.exchange),
                        });
                    }
                    RData::CNAME(c) if cname.is_none() => cname = Some(name_to_string(&c.0)),
                    _ => {}
                }
            }
            records.sort_by_key(|r| r.preference);
            answer(records)
        }
        ResponseCode::NXDomain => Lookup::NxDomain,
        ResponseCode::ServFail => failed(DnsFailure::ServFail, ""),
        ResponseCode::Refused => failed(DnsFailure::Refused, ""),
        other => failed(
            DnsFailure::Other,
            &format!("response code {} ({other})", u16::from(other)),
        ),
    };
    DirectMx {
        mx,
        response_code: Some(u16::from(meta.response_code)),
        authoritative: meta.authoritative,
        cname,
        ttl,
        truncated: meta.truncation,
    }
}
impl HickoryDns {
    /// PTR of a loopback address asked directly of the configured servers.
    ///
    /// hickory-resolver answers every PTR under `127.in-addr.arpa.` and for `::1` itself with
    /// `localhost.` (RFC 6761) and never asks the server. A lab or an internal audit that serves
    /// its own reverse zone for loopback addresses (with `allow_private`) needs the real answer,
    /// so for those addresses we send one plain UDP query to the explicit servers.
    pub(super) async fn direct_ptr(&self, ip: IpAddr) -> Lookup<String> {
        use hickory_resolver::proto::op::{Message, Query};
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(Name::from(ip), RecordType::PTR));
        let id = query.metadata.id;
        let Ok(bytes) = query.to_vec() else {
            return failed(DnsFailure::Other, "cannot encode the PTR query");
        };
        let mut last = failed(DnsFailure::Timeout, "no answer");
        for server in &self.servers {
            for _ in 0..=self.attempts {
                match direct_exchange(*server, &bytes, id, self.timeout).await {
                    Ok(response) => return direct_answer(&response),
                    Err(e) => last = e,
                }
            }
        }
        last
    }
}

/// One UDP exchange with a DNS server: the decoded response with our query id.
async fn direct_exchange<T>(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: std::time::Duration,
) -> Result<hickory_resolver::proto::op::Message, Lookup<T>> {
    use hickory_resolver::proto::op::Message;
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| failed(DnsFailure::Other, &e.to_string());
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(io(e)),
            Err(_) => return Err(failed(DnsFailure::Timeout, "no answer")),
        };
        if let Ok(msg) = Message::from_vec(&buf[..n])
            && msg.metadata.id == id
        {
            return Ok(msg);
        }
    }
}

fn direct_answer(response: &hickory_resolver::proto::op::Message) -> Lookup<String> {
    match response.metadata.response_code {
        ResponseCode::NoError => answer(
            response
                .answers
                .iter()
                .filter_map(|rec| match &rec.data {
                    RData::PTR(p) => Some(name_to_string(&p.0)),
                    _ => None,
                })
                .collect(),
        ),
        ResponseCode::NXDomain => Lookup::NxDomain,
        ResponseCode::ServFail => failed(DnsFailure::ServFail, ""),
        ResponseCode::Refused => failed(DnsFailure::Refused, ""),
        other => failed(DnsFailure::Other, &other.to_string()),
    }
}
