//! Recorded-facts builders for the diagnosis tests: a healthy domain to mutate.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::facts::*;

pub(crate) const NOW: i64 = 1_790_000_000;
pub(crate) const IP: &str = "45.33.10.10";
pub(crate) const HOST: &str = "mx1.example.test";
pub(crate) const DOMAIN: &str = "example.test";

pub(crate) fn ip() -> IpAddr {
    IP.parse().unwrap()
}

pub(crate) fn reply(code: u16, text: &str) -> Reply {
    let enhanced = text
        .split_whitespace()
        .next()
        .filter(|t| t.split('.').count() == 3 && t.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_owned);
    Reply {
        code,
        enhanced,
        lines: vec![format!("{code} {text}")],
    }
}

pub(crate) fn step(command: &str, code: u16, text: &str) -> Step {
    Step {
        command: command.to_owned(),
        outcome: StepOutcome::Replied {
            reply: reply(code, text),
        },
        ms: 5,
    }
}

pub(crate) fn answer<T>(records: Vec<T>) -> Lookup<T> {
    Lookup::Answer { records }
}

pub(crate) fn failed<T>(failure: DnsFailure) -> Lookup<T> {
    Lookup::Failed {
        failure,
        detail: String::new(),
    }
}

pub(crate) fn tls_ok() -> TlsFacts {
    TlsFacts {
        version: "TLSv1.3".to_owned(),
        cipher: "TLS13_AES_256_GCM_SHA384".to_owned(),
        chain: vec![CertFacts {
            subject: format!("CN={HOST}"),
            issuer: "CN=Test CA".to_owned(),
            dns_names: vec![HOST.to_owned()],
            not_before: NOW - 86_400 * 30,
            not_after: NOW + 86_400 * 60,
            ..CertFacts::default()
        }],
        problems: vec![],
        verified_name: HOST.to_owned(),
    }
}

pub(crate) fn smtp_ok() -> SmtpFacts {
    let mut s = SmtpFacts::new(
        HOST,
        25,
        ConnectOutcome::Connected {
            local: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 40000),
            ms: 3,
        },
    );
    s.greeting = Some(Greeting {
        outcome: StepOutcome::Replied {
            reply: reply(220, &format!("{HOST} ESMTP ready")),
        },
        ms: 40,
        hostname: Some(HOST.to_owned()),
        hostname_lookups: Some(AddressLookups {
            a: answer(vec![ip()]),
            aaaa: Lookup::NoData,
        }),
    });
    s.ehlo = Some(step("EHLO probe.example.net", 250, HOST));
    s.extensions = vec!["PIPELINING".into(), "STARTTLS".into(), "8BITMIME".into()];
    s.starttls = Some(StartTlsFacts {
        command: step("STARTTLS", 220, "2.0.0 Ready to start TLS"),
        handshake: Some(Ok(tls_ok())),
        ehlo: Some(step("EHLO probe.example.net", 250, HOST)),
        legacy: None,
    });
    s.mail = Some(step("MAIL FROM:<probe@example.net>", 250, "2.1.0 Ok"));
    s.rcpt = Some(step(
        &format!("RCPT TO:<postmaster@{DOMAIN}>"),
        250,
        "2.1.5 Ok",
    ));
    s.rcpt_domain = DOMAIN.to_owned();
    s.closing = vec![
        step("RSET", 250, "2.0.0 Ok"),
        step("QUIT", 221, "2.0.0 Bye"),
    ];
    s
}

pub(crate) fn address_ok() -> AddressFacts {
    let mut a = AddressFacts::new(ip());
    a.ptr = Some(PtrFacts {
        lookup: answer(vec![HOST.to_owned()]),
        forward: vec![ForwardCheck {
            name: HOST.to_owned(),
            lookup: answer(vec![ip()]),
        }],
    });
    a.dnsbl = vec![DnsblCheck {
        zone: "bl.test".into(),
        query: "10.10.33.45.bl.test.".into(),
        answer: Some(Lookup::NxDomain),
        txt: vec![],
    }];
    a.smtp = Some(smtp_ok());
    a
}

pub(crate) fn host_ok() -> HostFacts {
    HostFacts {
        host: HOST.to_owned(),
        preference: 10,
        implicit: false,
        ip_literal: false,
        cname_chain: vec![],
        lookups: AddressLookups {
            a: answer(vec![ip()]),
            aaaa: Lookup::NoData,
        },
        addresses: vec![address_ok()],
    }
}

pub(crate) fn healthy() -> Facts {
    let mut f = Facts::new(DOMAIN, NOW, ProbeScope::default());
    f.resolver = "127.0.0.1:53".into();
    f.mx = answer(vec![MxRecord {
        preference: 10,
        exchange: HOST.to_owned(),
    }]);
    f.hosts = vec![host_ok()];
    f.dnsbl_zones = vec![ZoneHealth {
        zone: "bl.test".into(),
        positive: answer(vec![Ipv4Addr::new(127, 0, 0, 2)]),
        negative: Lookup::NxDomain,
        positive_v6: None,
        negative_v6: None,
    }];
    f
}

/// Our public address in the tests.
pub(crate) const OUR_IP: &str = "198.51.100.7";
/// Our EHLO name in the tests.
pub(crate) const OUR_NAME: &str = "probe.example.net";

/// A prober with a good identity: its EHLO name resolves to its public address, which has a
/// forward-confirmed PTR and no listing; its sender domain receives mail.
pub(crate) fn good_vantage() -> VantageFacts {
    let ours: IpAddr = OUR_IP.parse().unwrap();
    VantageFacts {
        egress: vec![],
        public_ips: vec![PublicIp {
            ip: ours,
            source: PublicIpSource::Configured,
            ptr: Some(PtrFacts {
                lookup: answer(vec![OUR_NAME.to_owned()]),
                forward: vec![ForwardCheck {
                    name: OUR_NAME.to_owned(),
                    lookup: answer(vec![ours]),
                }],
            }),
            dnsbl: vec![DnsblCheck {
                zone: "bl.test".into(),
                query: "7.100.51.198.bl.test".into(),
                answer: Some(Lookup::NxDomain),
                txt: vec![],
            }],
        }],
        helo_name: OUR_NAME.to_owned(),
        helo_lookups: Some(AddressLookups {
            a: answer(vec![ours]),
            aaaa: Lookup::NoData,
        }),
        mail_from: format!("postmaster@{OUR_NAME}"),
        sender_domain: Some(SenderDomainFacts {
            domain: OUR_NAME.to_owned(),
            mx: Lookup::NoData,
            addresses: Some(AddressLookups {
                a: answer(vec![ours]),
                aaaa: Lookup::NoData,
            }),
        }),
    }
}

/// An egress check of one family whose only canary ended so.
pub(crate) fn egress(family: Family, outcome: ConnectOutcome) -> EgressFacts {
    EgressFacts {
        family,
        canaries: vec![CanaryProbe {
            target: "canary.example:25".into(),
            addr: Some("192.0.2.25:25".parse().unwrap()),
            outcome,
            greeting: None,
            echoed_ip: None,
        }],
    }
}

/// The only address's facts.
pub(crate) fn addr(f: &mut Facts) -> &mut AddressFacts {
    &mut f.hosts[0].addresses[0]
}

/// The only address's SMTP facts.
pub(crate) fn smtp(f: &mut Facts) -> &mut SmtpFacts {
    addr(f).smtp.as_mut().unwrap()
}

/// The SPF zone of a domain in order: `v=spf1 mx -all`, the MX host and its address.
pub(crate) fn spf_zone(record: &str) -> crate::spf::MemoryZone {
    let mut z = crate::spf::MemoryZone::new();
    z.add_txt(DOMAIN, record)
        .add_mx(DOMAIN, 10, HOST)
        .add_address(HOST, ip());
    z
}

/// What the authentication probes record for `zone`: the SPF tree of [`DOMAIN`] and the
/// checks of the MX address and of an unlisted sender.
pub(crate) fn spf_facts(
    zone: &crate::spf::MemoryZone,
) -> (crate::spf::SpfFacts, crate::auth::spf_ips::SpfIpFacts) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        (
            crate::spf::SpfFacts::collect(DOMAIN, zone).await,
            crate::auth::spf_ips::collect(DOMAIN, &[ip()], zone).await,
        )
    })
}

/// A DMARC lookup at `_dmarc.<domain>` that answered these TXT records (none: NXDOMAIN).
pub(crate) fn dmarc_lookup(domain: &str, txt: &[&str]) -> crate::auth::dmarc::DmarcLookup {
    let lookup = if txt.is_empty() {
        Lookup::NxDomain
    } else {
        answer(txt.iter().map(|t| (*t).to_owned()).collect())
    };
    crate::auth::dmarc::DmarcLookup::from_answer(domain, lookup)
}

/// DMARC facts of [`DOMAIN`] with this record at `_dmarc.` (none: NXDOMAIN).
pub(crate) fn dmarc_facts(txt: &[&str]) -> crate::auth::dmarc::DmarcFacts {
    crate::auth::dmarc::DmarcFacts {
        domain: DOMAIN.to_owned(),
        organizational_domain: DOMAIN.to_owned(),
        lookups: vec![dmarc_lookup(DOMAIN, txt)],
        report_authorizations: vec![],
    }
}

/// Authentication in order: `v=spf1 mx -all` (which authorizes the MX address directly),
/// `v=DMARC1; p=reject; rua=mailto:dmarc@example.test`, a TLS-RPT record; no MTA-STS, no DANE.
pub(crate) fn good_auth() -> crate::auth::AuthFacts {
    let (spf, spf_ips) = spf_facts(&spf_zone("v=spf1 mx -all"));
    crate::auth::AuthFacts {
        spf: Some(spf),
        spf_ips: Some(spf_ips),
        dmarc: Some(dmarc_facts(&[&format!(
            "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"
        )])),
        tls_rpt: Some(crate::auth::tlsrpt::TlsRptFacts::from_answer(
            DOMAIN,
            answer(vec![format!("v=TLSRPTv1; rua=mailto:tls@{DOMAIN}")]),
        )),
        ..crate::auth::AuthFacts::default()
    }
}

/// [`healthy`] with the authentication checks run and in order ([`good_auth`]).
pub(crate) fn healthy_with_auth() -> Facts {
    let mut f = healthy();
    f.auth = Some(good_auth());
    f
}

/// The recorded authentication facts, to change.
pub(crate) fn auth(f: &mut Facts) -> &mut crate::auth::AuthFacts {
    f.auth.as_mut().unwrap()
}

/// [`healthy_with_auth`] whose SPF facts come from `zone`.
pub(crate) fn with_spf_zone(zone: &crate::spf::MemoryZone) -> Facts {
    let mut f = healthy_with_auth();
    let (spf, spf_ips) = spf_facts(zone);
    auth(&mut f).spf = Some(spf);
    auth(&mut f).spf_ips = Some(spf_ips);
    f
}

/// [`healthy_with_auth`] with this SPF record.
pub(crate) fn with_spf(record: &str) -> Facts {
    with_spf_zone(&spf_zone(record))
}

/// [`healthy_with_auth`] with these TXT records at `_dmarc.` (none: NXDOMAIN).
pub(crate) fn with_dmarc(txt: &[&str]) -> Facts {
    let mut f = healthy_with_auth();
    auth(&mut f).dmarc = Some(dmarc_facts(txt));
    f
}

/// MX records as a lookup answer.
pub(crate) fn mx(records: &[(u16, &str)]) -> Lookup<MxRecord> {
    answer(
        records
            .iter()
            .map(|(p, x)| MxRecord {
                preference: *p,
                exchange: (*x).to_owned(),
            })
            .collect(),
    )
}

/// A name server's (or resolver's) direct reply with this outcome, with or without the AA bit.
pub(crate) fn ns_reply(mx: Lookup<MxRecord>, aa: bool) -> crate::probe::dns::DirectMx {
    let response_code = match &mx {
        Lookup::Answer { .. } | Lookup::NoData => Some(0),
        Lookup::NxDomain => Some(3),
        Lookup::Failed {
            failure: DnsFailure::ServFail,
            ..
        } => Some(2),
        Lookup::Failed {
            failure: DnsFailure::Refused,
            ..
        } => Some(5),
        Lookup::Failed { .. } => None,
    };
    crate::probe::dns::DirectMx {
        ttl: mx.records().first().map(|_| 300),
        mx,
        response_code,
        authoritative: aa,
        cname: None,
        truncated: false,
    }
}

/// A delegated name server with one IPv4 address (asked on port 53) that gave `reply`.
pub(crate) fn name_server(
    name: &str,
    ip: &str,
    reply: crate::probe::dns::DirectMx,
) -> crate::auth::consistency::NameServerFacts {
    let ip: IpAddr = ip.parse().unwrap();
    crate::auth::consistency::NameServerFacts {
        name: name.to_owned(),
        lookups: AddressLookups {
            a: answer(vec![ip]),
            aaaa: Lookup::NoData,
        },
        answers: vec![crate::auth::consistency::AskedServer {
            server: SocketAddr::new(ip, 53),
            reply,
        }],
    }
}

/// Two name servers of [`DOMAIN`] that agree with each other and with [`healthy`]'s resolver.
pub(crate) fn agreeing_name_servers() -> crate::auth::consistency::ConsistencyFacts {
    let same = || mx(&[(10, HOST)]);
    crate::auth::consistency::ConsistencyFacts {
        zone: DOMAIN.to_owned(),
        servers: vec![
            name_server("ns1.example.test", "192.0.2.53", ns_reply(same(), true)),
            name_server("ns2.example.test", "198.51.100.53", ns_reply(same(), true)),
        ],
        ..Default::default()
    }
}
