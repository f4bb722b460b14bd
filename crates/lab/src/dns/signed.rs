//! A DNSSEC-signed authoritative DNS server on loopback, for DNSSEC and DANE tests.
//!
//! Apart from the unsigned [`super::DnsServer`]: this one serves a whole tree, from a signed lab
//! root `.` down, so a validating resolver pointed at it (as its only upstream) can follow the
//! chain of trust. Trust the lab root with [`SignedDnsServer::trust_anchor`], the root's DNSKEY
//! in zone-file syntax.
//!
//! Every zone is delegated from the nearest zone above it (NS records in the parent), and:
//! - [`Signing::Signed`]: signed (Ed25519, NSEC), its DS published in the parent: **secure**.
//! - [`Signing::Unsigned`]: not signed, delegated without DS; the parent's signed NSEC proves
//!   there is no DS: **insecure**.
//! - [`Signing::WrongDs`]: signed, but the parent's DS names another key: **bogus**.
//!
//! [`SignedDnsBuilder::corrupt_signature`] breaks the signatures over one RRset of a signed
//! zone (the rest of the zone stays secure).
//!
//! hickory-server's catalog answers a query from the most specific zone it holds, so a `DS`
//! query at a delegation point would reach the child (which has no DS). This server sends `DS`
//! queries for a zone apex to the parent zone, where the DS records (or the signed proof that
//! there are none) live.
//!
//! ```no_run
//! # async fn demo() {
//! use mailcheck_lab::dns::signed::{SignedDnsServer, Signing};
//! let dns = SignedDnsServer::builder()
//!     .zone("test", Signing::Signed)
//!     .zone("good.test", Signing::Signed)
//!     .mx("good.test", 10, "mx.good.test")
//!     .a("mx.good.test", std::net::Ipv4Addr::LOCALHOST)
//!     .tlsa("_25._tcp.mx.good.test", 3, 1, 1, vec![0; 32])
//!     .build()
//!     .await;
//! let anchor: &str = dns.trust_anchor(); // ". 3600 IN DNSKEY 257 3 15 …"
//! # let _ = anchor;
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::proto::dnssec::rdata::DNSSECRData;
use hickory_server::proto::dnssec::{DnssecSigner, PublicKeyBuf};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{A, AAAA, MX, NS, SOA, TLSA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};

use super::builder::bind_pair;
use super::dnssec::{corrupt, ds_for, holder, new_key_for, root_anchor};
use super::{DEFAULT_TTL, NEGATIVE_TTL, QueryLogEntry, key_of, lock, name};

/// How a zone of a [`SignedDnsServer`] is signed and delegated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signing {
    /// Signed, with its DS in the parent zone: answers validate as secure.
    Signed,
    /// Unsigned, delegated without a DS (the parent proves its absence): answers are insecure.
    Unsigned,
    /// Signed, but the parent's DS is made from another key: answers are bogus.
    WrongDs,
}

/// Builds a [`SignedDnsServer`]. Start with [`SignedDnsServer::builder`].
#[derive(Debug, Clone, Default)]
pub struct SignedDnsBuilder {
    zones: Vec<(Name, Signing)>,
    records: Vec<(Name, RData)>,
    corrupt: Vec<(Name, RecordType)>,
}

impl SignedDnsBuilder {
    /// Adds a zone (the root `.` is always there, signed).
    #[must_use]
    pub fn zone(mut self, apex: &str, signing: Signing) -> Self {
        let apex = name(apex);
        self.zones.retain(|(z, _)| *z != apex);
        self.zones.push((apex, signing));
        self
    }

    /// Adds a record to the zone that holds `owner` (the longest apex above it).
    #[must_use]
    pub fn record(mut self, owner: &str, rdata: RData) -> Self {
        self.records.push((name(owner), rdata));
        self
    }

    /// Adds an A record.
    #[must_use]
    pub fn a(self, owner: &str, ip: Ipv4Addr) -> Self {
        self.record(owner, RData::A(A(ip)))
    }

    /// Adds an A or AAAA record.
    #[must_use]
    pub fn ip(self, owner: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => self.a(owner, v4),
            IpAddr::V6(v6) => self.record(owner, RData::AAAA(AAAA(v6))),
        }
    }

    /// Adds an MX record.
    #[must_use]
    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Self {
        self.record(owner, RData::MX(MX::new(preference, name(exchange))))
    }

    /// Adds a TXT record.
    #[must_use]
    pub fn txt(self, owner: &str, text: &str) -> Self {
        self.record(owner, RData::TXT(TXT::new(vec![text.to_owned()])))
    }

    /// Adds a TLSA record (`owner` is the full name, e.g. `_25._tcp.mx.example.test`).
    #[must_use]
    pub fn tlsa(self, owner: &str, usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Self {
        self.record(
            owner,
            RData::TLSA(TLSA::new(
                CertUsage::from(usage),
                Selector::from(selector),
                Matching::from(matching),
                data,
            )),
        )
    }

    /// Replaces the signatures over the `record_type` RRset at `owner` by corrupted ones (one
    /// byte flipped): that RRset validates as bogus, the rest of its zone stays secure.
    #[must_use]
    pub fn corrupt_signature(mut self, owner: &str, record_type: RecordType) -> Self {
        self.corrupt.push((name(owner), record_type));
        self
    }

    /// Signs the zones, binds UDP and TCP on `127.0.0.1` and starts serving.
    ///
    /// # Panics
    /// If a key cannot be made, a zone cannot be signed or the sockets cannot be bound.
    pub async fn build(self) -> SignedDnsServer {
        self.try_build()
            .await
            .expect("start the signed test DNS server")
    }

    /// Signs the zones, binds UDP and TCP on `127.0.0.1` and starts serving.
    ///
    /// # Errors
    /// If a key cannot be made, a zone cannot be signed or the sockets cannot be bound.
    pub async fn try_build(self) -> io::Result<SignedDnsServer> {
        let err = |e: &dyn fmt::Display| io::Error::other(e.to_string());
        let mut zones: Vec<(Name, Signing)> = vec![(Name::root(), Signing::Signed)];
        zones.extend(self.zones.into_iter().filter(|(z, _)| !z.is_root()));
        let apexes: Vec<Name> = zones.iter().map(|(z, _)| z.clone()).collect();

        // Keys, zones with SOA and apex NS.
        let mut built: BTreeMap<LowerName, Building> = BTreeMap::new();
        for (apex, signing) in &zones {
            let key = match signing {
                Signing::Unsigned => None,
                Signing::Signed | Signing::WrongDs => Some(new_key_for(apex).map_err(|e| err(&e))?),
            };
            let nx = key.as_ref().map(|_| NxProofKind::Nsec);
            let mut zone =
                InMemoryZoneHandler::empty(apex.clone(), ZoneType::Primary, AxfrPolicy::Deny, nx);
            let ns = prefixed("ns", apex);
            let soa = SOA::new(
                ns.clone(),
                prefixed("hostmaster", apex),
                1,
                3600,
                600,
                86_400,
                NEGATIVE_TTL,
            );
            zone.upsert_mut(
                Record::from_rdata(apex.clone(), NEGATIVE_TTL, RData::SOA(soa)),
                1,
            );
            zone.upsert_mut(
                Record::from_rdata(apex.clone(), DEFAULT_TTL, RData::NS(NS(ns))),
                1,
            );
            built.insert(LowerName::new(apex), Building { zone, key });
        }

        // Delegations: NS (and DS) in the parent.
        for (apex, signing) in zones.iter().filter(|(z, _)| !z.is_root()) {
            let parent = holder(&apexes, &apex.base_name());
            let ds = match (signing, &built[&LowerName::new(apex)].key) {
                (Signing::Signed, Some((_, public))) => Some(ds_for(public, apex)?),
                (Signing::WrongDs, Some(_)) => {
                    let (_, other) = new_key_for(apex).map_err(|e| err(&e))?;
                    Some(ds_for(&other, apex)?)
                }
                _ => None,
            };
            let zone = &mut built
                .get_mut(&LowerName::new(&parent))
                .expect("the parent zone")
                .zone;
            zone.upsert_mut(
                Record::from_rdata(
                    apex.clone(),
                    DEFAULT_TTL,
                    RData::NS(NS(prefixed("ns", apex))),
                ),
                1,
            );
            if let Some(ds) = ds {
                zone.upsert_mut(
                    Record::from_rdata(
                        apex.clone(),
                        DEFAULT_TTL,
                        RData::DNSSEC(DNSSECRData::DS(ds)),
                    ),
                    1,
                );
            }
        }

        for (owner, rdata) in self.records {
            let apex = holder(&apexes, &owner);
            let zone = &mut built.get_mut(&LowerName::new(&apex)).expect("a zone").zone;
            let what = format!("{owner} {}", rdata.record_type());
            if !zone.upsert_mut(Record::from_rdata(owner, DEFAULT_TTL, rdata), 1) {
                return Err(io::Error::other(format!("the zone refused {what}")));
            }
        }

        // Sign, then break what was asked to be broken.
        let mut anchor = String::new();
        for (apex, b) in &mut built {
            let Some((signer, public)) = b.key.take() else {
                continue;
            };
            if apex.is_root() {
                anchor = root_anchor(&public);
            }
            b.zone
                .add_zone_signing_key_mut(signer)
                .map_err(|e| err(&e))?;
            b.zone.secure_zone_mut().map_err(|e| err(&e))?;
        }
        for (owner, record_type) in &self.corrupt {
            let apex = holder(&apexes, owner);
            let zone = &mut built.get_mut(&LowerName::new(&apex)).expect("a zone").zone;
            corrupt(zone, owner, *record_type)?;
        }

        // The catalogs: every zone; and, per zone, every zone but it (for DS queries).
        let handlers: BTreeMap<LowerName, Arc<dyn ZoneHandler>> = built
            .into_iter()
            .map(|(apex, b)| (apex, Arc::new(b.zone) as Arc<dyn ZoneHandler>))
            .collect();
        let catalog_without = |skip: Option<&LowerName>| {
            let mut catalog = Catalog::new();
            for (apex, handler) in &handlers {
                if Some(apex) != skip {
                    catalog.upsert(apex.clone(), vec![Arc::clone(handler)]);
                }
            }
            catalog
        };
        let main = catalog_without(None);
        let parents = handlers
            .keys()
            .filter(|apex| !apex.is_root())
            .map(|apex| (apex.clone(), catalog_without(Some(apex))))
            .collect();
        let shared = Arc::new(SignedShared {
            main,
            parents,
            log: Mutex::new(Vec::new()),
        });

        let (udp, tcp) = bind_pair(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(SignedHandler(Arc::clone(&shared)));
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 32);
        Ok(SignedDnsServer {
            addr,
            anchor,
            shared,
            _server: server,
        })
    }
}

/// A zone being built: the handler, its key (signer and public key) until it is signed.
struct Building {
    zone: InMemoryZoneHandler,
    key: Option<(DnssecSigner, PublicKeyBuf)>,
}

/// `label.apex`.
fn prefixed(label: &str, apex: &Name) -> Name {
    Name::from_ascii(label)
        .expect("label")
        .append_domain(apex)
        .expect("name")
}

struct SignedShared {
    main: Catalog,
    /// Per zone apex: a catalog without that zone, which answers DS queries at the apex from
    /// the parent.
    parents: BTreeMap<LowerName, Catalog>,
    log: Mutex<Vec<QueryLogEntry>>,
}

/// Logs the query, then asks the catalog (the parent's for DS at a zone apex).
struct SignedHandler(Arc<SignedShared>);

#[async_trait::async_trait]
impl RequestHandler for SignedHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let mut catalog = &self.0.main;
        if let Some(query) = request.queries.queries().first() {
            let qname = query.name().clone();
            let qtype = query.query_type();
            lock(&self.0.log).push(QueryLogEntry {
                name: key_of(&Name::from(&qname)),
                record_type: qtype,
                tcp: request.protocol() == hickory_server::net::xfer::Protocol::Tcp,
                recursion_desired: request.metadata.recursion_desired,
                src: request.src(),
            });
            if qtype == RecordType::DS
                && let Some(parent) = self.0.parents.get(&qname)
            {
                catalog = parent;
            }
        }
        catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// A running signed DNS server on loopback (UDP and TCP on the same port); serves until
/// dropped. Build one with [`SignedDnsServer::builder`].
pub struct SignedDnsServer {
    addr: SocketAddr,
    anchor: String,
    shared: Arc<SignedShared>,
    _server: Server<SignedHandler>,
}

impl fmt::Debug for SignedDnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedDnsServer")
            .field("addr", &self.addr)
            .field("anchor", &self.anchor)
            .finish_non_exhaustive()
    }
}

impl SignedDnsServer {
    /// Starts a builder (the signed root `.` is always there).
    pub fn builder() -> SignedDnsBuilder {
        SignedDnsBuilder::default()
    }

    /// The address the server listens on, for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The lab root's DNSKEY in zone-file syntax (`. 3600 IN DNSKEY 257 3 15 <base64>`): the
    /// trust anchor a validating resolver needs for this server's tree.
    pub fn trust_anchor(&self) -> &str {
        &self.anchor
    }

    /// Every query received so far, in order of arrival.
    pub fn query_log(&self) -> Vec<QueryLogEntry> {
        lock(&self.shared.log).clone()
    }
}
