//! Answering queries: the zones a server holds (created on demand, changed at runtime) and the
//! request handler that logs each query, injects the configured faults and fills the gaps of
//! hickory-server's DNSSEC answers.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::SOA;
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponse, MessageResponseBuilder, ZoneHandler, ZoneType,
};

use super::{Fault, FaultRule, NEGATIVE_TTL, QueryLogEntry, key_of, lock};

/// The SOA record every zone the server creates gets.
pub(super) fn soa_record(apex: &Name) -> Record {
    let ns = Name::from_ascii("ns")
        .expect("label")
        .append_domain(apex)
        .expect("ns name");
    let rname = Name::from_ascii("hostmaster")
        .expect("label")
        .append_domain(apex)
        .expect("rname");
    let soa = SOA::new(ns, rname, 1, 3600, 600, 86_400, NEGATIVE_TTL);
    Record::from_rdata(apex.clone(), NEGATIVE_TTL, RData::SOA(soa))
}

pub(super) type Zone = InMemoryZoneHandler;

/// State shared between the handle and the request handler.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) catalog: tokio::sync::RwLock<Catalog>,
    pub(super) zones: Mutex<BTreeMap<LowerName, Arc<Zone>>>,
    pub(super) faults: Mutex<Vec<FaultRule>>,
    pub(super) log: Mutex<Vec<QueryLogEntry>>,
    /// Whether the zones are signed ([`DnsServerBuilder::dnssec`]).
    ///
    /// [`DnsServerBuilder::dnssec`]: super::DnsServerBuilder::dnssec
    pub(super) dnssec: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Creates the zone `apex` (with SOA) if it does not exist yet.
    pub(super) async fn ensure_zone(&self, apex: &Name) -> Arc<Zone> {
        let key = LowerName::new(apex);
        if let Some(zone) = lock(&self.zones).get(&key) {
            return Arc::clone(zone);
        }
        let mut catalog = self.catalog.write().await;
        // Re-check under the catalog lock: another task may have created it meanwhile.
        if let Some(zone) = lock(&self.zones).get(&key) {
            return Arc::clone(zone);
        }
        let mut zone = Zone::empty(apex.clone(), ZoneType::Primary, AxfrPolicy::Deny, None);
        zone.upsert_mut(soa_record(apex), 1);
        let zone = Arc::new(zone);
        catalog.upsert(key.clone(), vec![Arc::clone(&zone) as Arc<dyn ZoneHandler>]);
        lock(&self.zones).insert(key, Arc::clone(&zone));
        zone
    }

    /// The zone `owner` belongs to (the longest apex that contains it), created at the last two
    /// labels of `owner` if there is none.
    pub(super) async fn zone_for(&self, owner: &Name) -> Arc<Zone> {
        let lower = LowerName::new(owner);
        let found = lock(&self.zones)
            .iter()
            .filter(|(apex, _)| apex.zone_of(&lower))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(_, zone)| Arc::clone(zone));
        match found {
            Some(zone) => zone,
            None => {
                let labels = owner.num_labels();
                let apex = if labels > 2 {
                    owner.trim_to(2)
                } else {
                    owner.clone()
                };
                self.ensure_zone(&apex).await
            }
        }
    }

    /// Adds `record`; with `replace`, first removes the records of the same name and type.
    pub(super) async fn insert(&self, record: Record, replace: bool) -> io::Result<()> {
        let zone = self.zone_for(&record.name).await;
        if replace {
            let key = RrKey::new(LowerName::new(&record.name), record.record_type());
            zone.records_mut().await.remove(&key);
        }
        let serial = zone.serial().await;
        let what = format!("{} {}", record.name, record.record_type());
        if zone.upsert(record, serial).await {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the zone refused the record {what}"
            )))
        }
    }

    /// When `qname` does not exist in a signed zone: the records of the NXDOMAIN answer's
    /// authority section (SOA, the NSEC covering `qname` and the one covering the wildcard at
    /// the closest encloser, each with its RRSIG). hickory-server proves the wildcard's absence
    /// at `qname`'s parent rather than at the closest encloser, so a name two labels below an
    /// existing one (`_25._tcp.host`) could validate as bogus.
    pub(super) async fn nxdomain_in_signed_zone(&self, qname: &LowerName) -> Option<Vec<Record>> {
        let zone = {
            let zones = lock(&self.zones);
            zones
                .iter()
                .filter(|(apex, _)| apex.zone_of(qname))
                .max_by_key(|(apex, _)| apex.num_labels())
                .map(|(_, zone)| Arc::clone(zone))?
        };
        let records = zone.records().await;
        let exists = |n: &LowerName| records.keys().any(|k| n.zone_of(&k.name));
        if exists(qname) {
            return None;
        }
        let nsecs: Vec<&Arc<hickory_server::proto::rr::RecordSet>> = records
            .values()
            .filter(|r| r.record_type() == RecordType::NSEC)
            .collect();
        if nsecs.is_empty() {
            return None; // not signed
        }
        let mut encloser = qname.base_name();
        while !exists(&encloser) && !encloser.is_root() {
            encloser = encloser.base_name();
        }
        let wildcard = Name::from_ascii("*")
            .ok()
            .and_then(|w| w.append_domain(&Name::from(&encloser)).ok())
            .map(|w| LowerName::new(&w))?;
        let cover = |target: &LowerName| {
            nsecs
                .iter()
                .filter(|r| LowerName::new(r.name()) <= *target)
                .max_by(|a, b| LowerName::new(a.name()).cmp(&LowerName::new(b.name())))
                .or_else(|| nsecs.iter().max_by(|a, b| a.name().cmp(b.name())))
                .map(|r| Arc::clone(r))
        };
        let mut out: Vec<Record> = Vec::new();
        let soa_key = RrKey::new(zone.origin().clone(), RecordType::SOA);
        if let Some(soa) = records.get(&soa_key) {
            out.extend(soa.records(true).cloned());
        }
        let a = cover(qname);
        let b = cover(&wildcard);
        for set in [
            a.clone(),
            b.filter(|b| Some(b.name()) != a.as_ref().map(|a| a.name())),
        ]
        .into_iter()
        .flatten()
        {
            out.extend(set.records(true).cloned());
        }
        Some(out)
    }

    /// When `qname` is the apex of a zone other than the root: the zone above it (its apex and
    /// handler), where its DS records live.
    pub(super) fn parent_of_apex(&self, qname: &LowerName) -> Option<(LowerName, Arc<Zone>)> {
        if !self.dnssec.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let zones = lock(&self.zones);
        if qname.is_root() || !zones.contains_key(qname) {
            return None;
        }
        zones
            .iter()
            .filter(|(apex, _)| *apex != qname && apex.zone_of(qname))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(apex, zone)| (apex.clone(), Arc::clone(zone)))
    }

    pub(super) async fn remove(&self, owner: &Name, record_type: RecordType) -> bool {
        let zone = self.zone_for(owner).await;
        let key = RrKey::new(LowerName::new(owner), record_type);
        zone.records_mut().await.remove(&key).is_some()
    }
}

/// The request handler: logs the query, applies faults, then asks the catalog.
pub(super) struct Handler(pub(super) Arc<Shared>);

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let tcp = request.protocol() == Protocol::Tcp;
        let mut fault = None;
        if let Some(query) = request.queries.queries().first() {
            let qname = query.name().clone();
            let qtype = query.query_type();
            lock(&self.0.log).push(QueryLogEntry {
                name: key_of(&Name::from(&qname)),
                record_type: qtype,
                tcp,
                recursion_desired: request.metadata.recursion_desired,
                src: request.src(),
            });
            fault = lock(&self.0.faults)
                .iter()
                .rev()
                .find(|rule| rule.matches(&qname, qtype))
                .map(|rule| rule.fault);
            if fault.is_none()
                && request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
                && let Some(info) = self.0.nxdomain_in_signed_zone(&qname).await
            {
                return send_nxdomain(request, response_handle, &info).await;
            }
            if fault.is_none()
                && qtype == RecordType::DS
                && let Some(parent) = self.0.parent_of_apex(&qname)
            {
                // The DS of a zone lives in its parent, which the catalog would not ask.
                let mut catalog = Catalog::new();
                catalog.upsert(parent.0, vec![parent.1 as Arc<dyn ZoneHandler>]);
                return catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await;
            }
        }
        match fault {
            Some(Fault::ServFail) => {
                return send_code(request, response_handle, ResponseCode::ServFail).await;
            }
            Some(Fault::Refused) => {
                return send_code(request, response_handle, ResponseCode::Refused).await;
            }
            Some(Fault::Hang) => std::future::pending::<()>().await,
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::TruncateUdp) if !tcp => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.truncation = true;
                let response = MessageResponseBuilder::from_message_request(request)
                    .build_no_records(metadata);
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => failed(request),
                };
            }
            Some(Fault::NotAuthoritative) => {
                let catalog = self.0.catalog.read().await;
                return catalog
                    .handle_request::<_, T>(request, NotAuthoritative(response_handle))
                    .await;
            }
            Some(Fault::TruncateUdp) | None => {}
        }
        let catalog = self.0.catalog.read().await;
        catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// Sends the catalog's response with the AA bit cleared ([`Fault::NotAuthoritative`]).
#[derive(Clone)]
struct NotAuthoritative<R>(R);

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for NotAuthoritative<R> {
    async fn send_response<'a>(
        &mut self,
        mut response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        response.metadata_mut().authoritative = false;
        self.0.send_response(response).await
    }
}

async fn send_code<R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    code: ResponseCode,
) -> ResponseInfo {
    let response =
        MessageResponseBuilder::from_message_request(request).error_msg(&request.metadata, code);
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => failed(request),
    }
}

/// An authoritative NXDOMAIN answer with these authority records.
async fn send_nxdomain<R: ResponseHandler>(
    request: &Request,
    mut response_handle: R,
    authority: &[Record],
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::NXDomain;
    metadata.authoritative = true;
    let response = MessageResponseBuilder::from_message_request(request).build(
        metadata,
        std::iter::empty(),
        authority.iter(),
        std::iter::empty(),
        std::iter::empty(),
    );
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => failed(request),
    }
}

fn failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}
