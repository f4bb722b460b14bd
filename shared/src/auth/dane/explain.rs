//! Why an answer did not validate: the same query again with checking disabled (CD=1, DO=1)
//! over our own UDP/TCP exchange, then the first defect found in what comes back (no
//! signature, a signature out of its period, an unknown key, a DNSKEY set the parent's DS
//! records do not match).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::validator::unknown;
use super::{DnssecState, Validated, Validator};
use crate::facts::{DnsFailure, Lookup};

impl Validator {
    /// Why `name`/`rtype` did not validate, from the same query with checking disabled and the
    /// signer's DNSKEY and DS records. `servfail` is set when our upstream (a validating
    /// resolver) answered SERVFAIL rather than our validator failing.
    pub(super) async fn explain<T>(
        &self,
        name: &Name,
        rtype: RecordType,
        pick: fn(&RData) -> Option<T>,
        servfail: Option<&str>,
    ) -> Validated<T> {
        let response = match self.raw(name, rtype).await {
            Ok(m) => m,
            Err((failure, detail)) => {
                let what = servfail.map_or_else(
                    || {
                        format!(
                            "validation failed, and asking again with checking \
                             disabled failed too: {detail}"
                        )
                    },
                    |code| format!("{code}, and {detail} with checking disabled too"),
                );
                return unknown(failure, &what);
            }
        };
        let code = response.metadata.response_code;
        if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
            let detail = servfail.map_or_else(
                || format!("validation failed; with checking disabled: {code}"),
                |c| format!("{c}; with checking disabled: {code}"),
            );
            return unknown(DnsFailure::ServFail, &detail);
        }
        let records: Vec<T> = response
            .answers
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
            .filter_map(|r| pick(&r.data))
            .collect();
        let lookup = if !records.is_empty() {
            Lookup::Answer { records }
        } else if code == ResponseCode::NXDomain {
            Lookup::NxDomain
        } else {
            Lookup::NoData
        };
        let reason = self.reason(name, rtype, &response).await;
        let reason = match servfail {
            Some(code) => format!(
                "the resolver answers {code}, but returns the records with \
                 checking disabled: {reason}"
            ),
            None => reason,
        };
        Validated {
            lookup,
            dnssec: DnssecState::Bogus { reason },
        }
    }

    /// The first defect found in a response fetched with checking disabled.
    async fn reason(&self, name: &Name, rtype: RecordType, response: &Message) -> String {
        let now = u32::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
        .unwrap_or(u32::MAX);
        let positive = response
            .answers
            .iter()
            .any(|r| r.record_type() == rtype && r.record_type() != RecordType::RRSIG);
        // The signatures that should prove the answer (or the denial).
        let section = if positive {
            &response.answers
        } else {
            &response.authorities
        };
        let sigs: Vec<&RRSIG> = section
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig))
                    if !positive || sig.input().type_covered == rtype =>
                {
                    Some(sig)
                }
                _ => None,
            })
            .collect();
        if sigs.is_empty() {
            return if positive {
                format!("the {rtype} records of {name} carry no signature (RRSIG)")
            } else {
                format!(
                    "the answer that {name} has no {rtype} records carries no signed \
                     proof (NSEC/NSEC3 with RRSIG)"
                )
            };
        }
        let current: Vec<&&RRSIG> = sigs
            .iter()
            .filter(|s| {
                let input = s.input();
                input.sig_inception.get() <= now && now <= input.sig_expiration.get()
            })
            .collect();
        let Some(sig) = current.first() else {
            let input = sigs[0].input();
            return if input.sig_expiration.get() < now {
                format!(
                    "the signature over {name} {rtype} expired at {} (Unix time)",
                    input.sig_expiration.get()
                )
            } else {
                format!(
                    "the signature over {name} {rtype} is not valid before {} (Unix time)",
                    input.sig_inception.get()
                )
            };
        };
        let signer = sig.input().signer_name.clone();
        let tag = sig.input().key_tag;
        let keys = match self.raw(&signer, RecordType::DNSKEY).await {
            Ok(m) => m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                    _ => None,
                })
                .collect::<Vec<DNSKEY>>(),
            Err((_, detail)) => {
                return format!(
                    "the signer {signer}'s DNSKEY records cannot be fetched ({detail})"
                );
            }
        };
        if keys.is_empty() {
            return format!("the signer {signer} publishes no DNSKEY records");
        }
        let tags: Vec<u16> = keys
            .iter()
            .filter_map(|k| k.calculate_key_tag().ok())
            .collect();
        if !tags.contains(&tag) {
            return format!(
                "{name} {rtype} is signed with key tag {tag}, which is not in {signer}'s \
                 DNSKEY set (tags {})",
                join(&tags)
            );
        }
        if !signer.is_root()
            && let Ok(m) = self.raw(&signer, RecordType::DS).await
        {
            let ds: Vec<&DS> = m
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DS(d)) => Some(d),
                    _ => None,
                })
                .collect();
            let matched = ds
                .iter()
                .any(|d| keys.iter().any(|k| d.covers(&signer, k).unwrap_or(false)));
            if !ds.is_empty() && !matched {
                let ds_tags: Vec<u16> = ds.iter().map(|d| d.key_tag()).collect();
                return format!(
                    "none of {signer}'s DNSKEYs (tags {}) matches its DS records in \
                     the parent zone (tags {})",
                    join(&tags),
                    join(&ds_tags)
                );
            }
        }
        format!(
            "the signatures over {name} {rtype} are current and the keys of {signer} match its \
             DS records, yet validation fails: a signature does not verify, or the chain of \
             trust above {signer} is broken"
        )
    }

    /// One query with DO=1 and CD=1 to the upstreams in turn (UDP, then TCP when truncated).
    async fn raw(&self, name: &Name, rtype: RecordType) -> Result<Message, (DnsFailure, String)> {
        let mut query = Message::query();
        query.add_query(Query::query(name.clone(), rtype));
        query.metadata.recursion_desired = true;
        query.metadata.checking_disabled = true;
        let mut edns = Edns::new();
        edns.enable_dnssec();
        edns.set_max_payload(4096);
        query.edns = Some(edns);
        let id = query.metadata.id;
        let bytes = query
            .to_vec()
            .map_err(|e| (DnsFailure::Other, e.to_string()))?;
        let mut last = (DnsFailure::Other, "no server to ask".to_owned());
        for server in &self.upstreams {
            for _ in 0..=self.attempts {
                match exchange(*server, &bytes, id, self.timeout).await {
                    Ok(m) => return Ok(m),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }
}

fn join(tags: &[u16]) -> String {
    tags.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One DNS exchange with `server`: UDP, and TCP when the UDP answer is truncated.
async fn exchange(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message, (DnsFailure, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = |e: std::io::Error| (DnsFailure::Other, e.to_string());
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || (DnsFailure::Timeout, "no answer in time".to_owned());
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    let udp = loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(io(e)),
            Err(_) => return Err(timed_out()),
        };
        if let Ok(msg) = Message::from_vec(&buf[..n])
            && msg.metadata.id == id
        {
            break msg;
        }
    };
    if !udp.metadata.truncation {
        return Ok(udp);
    }
    let tcp = async {
        let mut stream = tokio::net::TcpStream::connect(server).await.map_err(io)?;
        let len = u16::try_from(query.len())
            .map_err(|_| (DnsFailure::Other, "query too long".to_owned()))?;
        stream.write_all(&len.to_be_bytes()).await.map_err(io)?;
        stream.write_all(query).await.map_err(io)?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(io)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.map_err(io)?;
        Message::from_vec(&body).map_err(|e| (DnsFailure::Other, e.to_string()))
    };
    tokio::time::timeout_at(deadline, tcp)
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}
