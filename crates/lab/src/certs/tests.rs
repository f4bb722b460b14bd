//! Tests of the lab PKI: in-memory TLS handshakes that show which certificate a server
//! configuration presents to each name.

use rustls::{CertificateError, ClientConnection, Error, ServerConnection};
use rustls_pki_types::ServerName;

use super::*;

/// An in-memory handshake; the name the server saw (SNI) on success.
fn handshake(
    server: &Arc<ServerConfig>,
    client: ClientConfig,
    name: &str,
) -> Result<Option<String>, Error> {
    let name = ServerName::try_from(name.to_owned()).expect("a valid name");
    let mut c = ClientConnection::new(Arc::new(client), name)?;
    let mut s = ServerConnection::new(Arc::clone(server))?;
    for _ in 0..10 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).expect("to memory");
        }
        s.read_tls(&mut buf.as_slice()).expect("from memory");
        s.process_new_packets()?;
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).expect("to memory");
        }
        c.read_tls(&mut buf.as_slice()).expect("from memory");
        c.process_new_packets()?;
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(s.server_name().map(str::to_owned));
        }
    }
    panic!("the handshake did not finish");
}

fn not_valid_for_name(r: Result<Option<String>, Error>) -> bool {
    matches!(
        r,
        Err(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ))
    )
}

#[test]
fn sni_server_config_picks_the_leaf_by_name() {
    let ca = TestCa::new();
    let server = Arc::new(ca.sni_server_config(&[
        ("mx1.example.test", &["mx1.example.test"]),
        (
            "mx2.example.test",
            &["mx2.example.test", "alt.example.test"],
        ),
    ]));
    // Each name gets its own leaf: the client checks the name against it.
    for name in ["mx1.example.test", "MX2.example.test"] {
        let seen = handshake(&server, ca.client_config(), name).expect(name);
        assert_eq!(seen.as_deref(), Some(name.to_ascii_lowercase().as_str()));
    }
    // Another name is not listed: the default (first) leaf, issued for mx1 only.
    let r = handshake(&server, ca.client_config(), "alt.example.test");
    assert!(not_valid_for_name(r), "the default leaf");
    // No SNI at all: the default leaf too.
    let mut no_sni = ca.client_config();
    no_sni.enable_sni = false;
    assert_eq!(
        handshake(&server, no_sni.clone(), "mx1.example.test").expect("default leaf"),
        None
    );
    assert!(not_valid_for_name(handshake(
        &server,
        no_sni,
        "mx2.example.test"
    )));
}
