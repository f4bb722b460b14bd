//! DNSSEC for the lab's DNS servers: signing the zones of a [`DnsServerBuilder::dnssec`] server
//! under a lab root, and the key, DS, trust-anchor and corruption helpers both servers share.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::dnssec::NxProofKind;
use hickory_server::proto::dnssec::crypto::Ed25519SigningKey;
use hickory_server::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_server::proto::dnssec::{DigestType, DnssecSigner, PublicKeyBuf, SigningKey};
use hickory_server::proto::rr::rdata::NS;
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, ZoneHandler, ZoneType};

use super::server::{Shared, Zone, soa_record};
use super::{DEFAULT_TTL, DnsServerBuilder, lock};

impl DnsServerBuilder {
    /// [`dnssec`](Self::dnssec): builds, signs and installs every zone; returns the root's
    /// trust anchor.
    pub(super) async fn install_signed(&self, shared: &Shared) -> io::Result<String> {
        let err = |e: &dyn fmt::Display| io::Error::other(e.to_string());
        let mut apexes: Vec<Name> = vec![Name::root()];
        for z in &self.zones {
            if !apexes.contains(z) {
                apexes.push(z.clone());
            }
        }
        // Zones made for records outside every apex (at their last two labels).
        for (owner, _, _) in &self.records {
            if !apexes.iter().any(|a| a.zone_of(owner) && !a.is_root()) {
                let apex = if owner.num_labels() > 2 {
                    owner.trim_to(2)
                } else {
                    owner.clone()
                };
                if !apexes.contains(&apex) {
                    apexes.push(apex);
                }
            }
        }
        type Keys = Option<(DnssecSigner, PublicKeyBuf)>;
        let mut zones: BTreeMap<LowerName, (Zone, Keys)> = BTreeMap::new();
        for apex in &apexes {
            let keys = Some(new_key_for(apex).map_err(|e| err(&e))?);
            let mut zone = Zone::empty(
                apex.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                keys.as_ref().map(|_| NxProofKind::Nsec),
            );
            zone.upsert_mut(soa_record(apex), 1);
            zones.insert(LowerName::new(apex), (zone, keys));
        }
        for apex in apexes.iter().filter(|a| !a.is_root()) {
            let parent = holder(&apexes, &apex.base_name());
            let rdata = match &zones[&LowerName::new(apex)].1 {
                Some((_, public)) => RData::DNSSEC(DNSSECRData::DS(ds_for(public, apex)?)),
                None => RData::NS(NS(Name::from_ascii("ns")
                    .expect("label")
                    .append_domain(apex)
                    .expect("ns name"))),
            };
            let zone = &mut zones.get_mut(&LowerName::new(&parent)).expect("parent").0;
            zone.upsert_mut(Record::from_rdata(apex.clone(), DEFAULT_TTL, rdata), 1);
        }
        for (owner, ttl, rdata) in &self.records {
            let apex = holder(&apexes, owner);
            let zone = &mut zones.get_mut(&LowerName::new(&apex)).expect("a zone").0;
            let what = format!("{owner} {}", rdata.record_type());
            let record = Record::from_rdata(
                owner.clone(),
                ttl.unwrap_or(self.default_ttl),
                rdata.clone(),
            );
            if !zone.upsert_mut(record, 1) {
                return Err(io::Error::other(format!(
                    "the zone refused the record {what}"
                )));
            }
        }
        let mut anchor = String::new();
        let mut signed_zones = BTreeMap::new();
        for (apex, (mut zone, keys)) in zones {
            let Some((signer, public)) = keys else {
                signed_zones.insert(apex, zone);
                continue;
            };
            if apex.is_root() {
                anchor = root_anchor(&public);
            }
            zone.add_zone_signing_key_mut(signer).map_err(|e| err(&e))?;
            zone.secure_zone_mut().map_err(|e| err(&e))?;
            signed_zones.insert(apex, zone);
        }
        for (owner, record_type) in &self.corrupt {
            let apex = holder(&apexes, owner);
            let zone = signed_zones
                .get_mut(&LowerName::new(&apex))
                .expect("a zone");
            corrupt(zone, owner, *record_type)?;
        }
        let mut catalog = shared.catalog.write().await;
        for (apex, zone) in signed_zones {
            let zone = Arc::new(zone);
            catalog.upsert(
                apex.clone(),
                vec![Arc::clone(&zone) as Arc<dyn ZoneHandler>],
            );
            lock(&shared.zones).insert(apex, zone);
        }
        Ok(anchor)
    }
}

/// A fresh Ed25519 key-signing key for `apex`, as a signer (signatures valid for a day) and its
/// public key.
pub(super) fn new_key_for(apex: &Name) -> Result<(DnssecSigner, PublicKeyBuf), String> {
    let pkcs8 = Ed25519SigningKey::generate_pkcs8().map_err(|e| e.to_string())?;
    let key = Ed25519SigningKey::from_pkcs8(&pkcs8).map_err(|e| e.to_string())?;
    let public = key.to_public_key().map_err(|e| e.to_string())?;
    let signer = DnssecSigner::new(
        DNSKEY::from_key(&public),
        Box::new(key),
        apex.clone(),
        Duration::from_secs(86_400),
    );
    Ok((signer, public))
}

pub(super) fn ds_for(public: &PublicKeyBuf, apex: &Name) -> io::Result<DS> {
    DS::from_key(public, apex, DigestType::SHA256).map_err(|e| io::Error::other(e.to_string()))
}

/// The root's DNSKEY as a trust-anchor line: `. 3600 IN DNSKEY 257 3 15 <base64>`.
pub(super) fn root_anchor(public: &PublicKeyBuf) -> String {
    let record = Record::from_rdata(
        Name::root(),
        3600,
        RData::DNSSEC(DNSSECRData::DNSKEY(DNSKEY::from_key(public))),
    );
    record.to_string()
}

/// The longest apex that holds `owner`.
pub(super) fn holder(apexes: &[Name], owner: &Name) -> Name {
    apexes
        .iter()
        .filter(|apex| apex.zone_of(owner))
        .max_by_key(|apex| apex.num_labels())
        .cloned()
        .unwrap_or_else(Name::root)
}

/// Flips a byte in every signature over `owner`/`record_type`.
pub(super) fn corrupt(
    zone: &mut InMemoryZoneHandler,
    owner: &Name,
    record_type: RecordType,
) -> io::Result<()> {
    let key = RrKey::new(LowerName::new(owner), record_type);
    let records = zone.records_get_mut();
    let Some(rrset) = records.get_mut(&key) else {
        return Err(io::Error::other(format!(
            "no {record_type} records at {owner} to corrupt"
        )));
    };
    let rrset = Arc::make_mut(rrset);
    let broken: Vec<Record> = rrset
        .rrsigs()
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
                let mut bytes = sig.sig().to_vec();
                if let Some(b) = bytes.first_mut() {
                    *b ^= 0xff;
                }
                let sig = RRSIG::from_sig(sig.input().clone(), bytes);
                Some(Record::from_rdata(
                    r.name.clone(),
                    r.ttl,
                    RData::DNSSEC(DNSSECRData::RRSIG(sig)),
                ))
            }
            _ => None,
        })
        .collect();
    if broken.is_empty() {
        return Err(io::Error::other(format!(
            "the {record_type} records at {owner} are not signed"
        )));
    }
    rrset.clear_rrsigs();
    for r in broken {
        rrset.insert_rrsig(r);
    }
    Ok(())
}
