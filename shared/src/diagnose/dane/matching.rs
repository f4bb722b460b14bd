//! Matching TLSA records against a recorded certificate chain: DANE-EE (3) against the leaf,
//! DANE-TA (2) against the certificates above it, by the digests recorded in [`CertFacts`]
//! (selector 0 the whole certificate, 1 its SubjectPublicKeyInfo; matching type 1 SHA-256,
//! 2 SHA-512, 0 the full data compared through its SHA-256).

use crate::auth::dane::TlsaRecord;
use crate::facts::CertFacts;

/// A record and the index in the chain of the certificate it matched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainMatch<'a> {
    pub(crate) record: &'a TlsaRecord,
    pub(crate) index: usize,
}

/// The first record that matches the chain: DANE-EE (3) the leaf, DANE-TA (2) a certificate
/// above the leaf. Records of other usages never match.
pub(crate) fn match_chain<'a>(
    records: &[&'a TlsaRecord],
    chain: &[CertFacts],
) -> Option<ChainMatch<'a>> {
    records.iter().find_map(|record| {
        let candidates = match record.usage {
            3 => 0..chain.len().min(1),
            2 => 1.min(chain.len())..chain.len(),
            _ => 0..0,
        };
        candidates
            .into_iter()
            .find(|&i| cert_matches(record, &chain[i]))
            .map(|index| ChainMatch { record, index })
    })
}

/// Whether one certificate matches one record's selector, matching type and data.
pub(crate) fn cert_matches(record: &TlsaRecord, cert: &CertFacts) -> bool {
    let recorded = match (record.selector, record.matching) {
        (0, 0 | 1) => &cert.sha256,
        (0, 2) => &cert.sha512,
        (1, 0 | 1) => &cert.spki_sha256,
        (1, 2) => &cert.spki_sha512,
        _ => return false,
    };
    if recorded.is_empty() {
        return false;
    }
    if record.matching == 0 {
        // The full DER is published: compare its SHA-256 with the recorded one.
        return unhex(&record.data).is_some_and(|der| {
            crate::probe::tls::hex_digest(&ring::digest::SHA256, &der) == *recorded
        });
    }
    record.data.eq_ignore_ascii_case(recorded)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(tag: &str) -> CertFacts {
        let der = format!("certificate {tag}");
        let spki = format!("key {tag}");
        let h = |alg, data: &str| crate::probe::tls::hex_digest(alg, data.as_bytes());
        CertFacts {
            subject: format!("CN={tag}"),
            sha256: h(&ring::digest::SHA256, &der),
            sha512: h(&ring::digest::SHA512, &der),
            spki_sha256: h(&ring::digest::SHA256, &spki),
            spki_sha512: h(&ring::digest::SHA512, &spki),
            ..CertFacts::default()
        }
    }

    fn rec(usage: u8, selector: u8, matching: u8, data: &str) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector,
            matching,
            data: data.to_owned(),
        }
    }

    #[test]
    fn every_selector_and_matching_type() {
        let leaf = cert("leaf");
        let full_der = crate::probe::tls::hex(b"certificate leaf");
        let full_spki = crate::probe::tls::hex(b"key leaf");
        let yes = [
            rec(3, 0, 0, &full_der),
            rec(3, 0, 1, &leaf.sha256),
            rec(3, 0, 2, &leaf.sha512),
            rec(3, 1, 0, &full_spki),
            rec(3, 1, 1, &leaf.spki_sha256),
            rec(3, 1, 2, &leaf.spki_sha512),
            rec(3, 1, 1, &leaf.spki_sha256.to_uppercase()),
        ];
        for r in &yes {
            assert!(cert_matches(r, &leaf), "{r:?}");
        }
        let no = [
            // The right digest under the wrong selector or matching type.
            rec(3, 0, 1, &leaf.spki_sha256),
            rec(3, 1, 1, &leaf.sha256),
            rec(3, 1, 2, &leaf.spki_sha256),
            rec(3, 1, 0, &full_der),
            rec(3, 0, 0, "zz"),
            rec(3, 0, 0, "abc"),
            // Unassigned selector or matching type.
            rec(3, 2, 1, &leaf.sha256),
            rec(3, 1, 3, &leaf.spki_sha256),
            rec(3, 1, 1, &cert("other").spki_sha256),
        ];
        for r in &no {
            assert!(!cert_matches(r, &leaf), "{r:?}");
        }
        // Facts recorded before digests existed never match.
        assert!(!cert_matches(&rec(3, 1, 1, ""), &CertFacts::default()));
    }

    #[test]
    fn usages_look_at_the_right_certificates() {
        let chain = vec![cert("leaf"), cert("ca")];
        let ee_leaf = rec(3, 1, 1, &chain[0].spki_sha256);
        let ee_ca = rec(3, 1, 1, &chain[1].spki_sha256);
        let ta_ca = rec(2, 0, 1, &chain[1].sha256);
        let ta_leaf = rec(2, 0, 1, &chain[0].sha256);
        let pkix = rec(1, 1, 1, &chain[0].spki_sha256);
        let m = match_chain(&[&ee_leaf], &chain).unwrap();
        assert_eq!(m.index, 0);
        assert!(
            match_chain(&[&ee_ca], &chain).is_none(),
            "DANE-EE is the leaf only"
        );
        let m = match_chain(&[&ta_ca], &chain).unwrap();
        assert_eq!(m.index, 1);
        assert!(
            match_chain(&[&ta_leaf], &chain).is_none(),
            "DANE-TA is above the leaf"
        );
        assert!(match_chain(&[&pkix], &chain).is_none());
        assert!(match_chain(&[&ta_ca], &chain[..1]).is_none());
        assert!(match_chain(&[&ee_leaf], &[]).is_none());
        // The first record that matches wins.
        let m = match_chain(&[&ee_ca, &ta_ca, &ee_leaf], &chain).unwrap();
        assert_eq!((m.record.usage, m.index), (2, 1));
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("gg"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }
}
