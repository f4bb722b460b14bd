//! The harness of the Discord end-to-end tests: a [`Diagnoser`] that answers every check with a
//! scripted report (after an optional gate opens), that report (hostile server text included),
//! and the bot started against the Discord stand-in.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::Bot;
use mailcheck::check::MailHost;
use mailcheck::dnsbl::DnsblStatus;
use mailcheck::facts::AddressScope;
use mailcheck::report::{AddressSummary, DnsblSummary, MxSummary, SmtpSummary};
use mailcheck::{Code, DomainName, Finding, Report, Verdict};
use mailcheck_bot::backend::BoxFuture;
use mailcheck_bot::{BotConfig, Data, Diagnoser, Progress, ProgressSender};
use tokio::sync::watch;

pub(super) const WAIT: Duration = Duration::from_secs(20);
pub(super) const GUILD: u64 = 555_000_000_000_000_001;
pub(super) const HOSTILE: &str = "mx1.example.test ESMTP @everyone <@123> **x** <@&77> @here";

/// Answers every check with a copy of `report`, after an optional gate opens.
#[derive(Debug)]
pub(super) struct Scripted {
    pub(super) report: Report,
    pub(super) gate: watch::Receiver<bool>,
    pub(super) calls: AtomicUsize,
}

impl Diagnoser for Scripted {
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        _options: mailcheck::CheckOptions,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            progress.send(Progress::MxFound(vec![MailHost {
                host: "mx1.example.test".to_owned(),
                preference: 10,
                addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25))],
            }]));
            let mut gate = self.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            let mut report = self.report.clone();
            domain.as_str().clone_into(&mut report.domain);
            report
        })
    }
}

pub(super) fn sample_report() -> Report {
    let smtp = SmtpSummary {
        status: mailcheck::report::SmtpStatus::Accepted,
        banner: Some(HOSTILE.to_owned()),
        starttls: Some(true),
        tls_version: Some("TLSv1.3".to_owned()),
        cert_ok: Some(true),
        last_reply: Some("250 2.1.5 Ok".to_owned()),
        note: None,
    };
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 25));
    let mut report = Report::invalid("example.test", "");
    report.error = None;
    report.verdict = Verdict::Broken;
    report.worst = Some(mailcheck::Severity::Error);
    report.resolver = "127.0.0.1:5353".to_owned();
    report.elapsed_ms = 1234;
    report.mx = vec![MxSummary {
        host: "mx1.example.test".to_owned(),
        preference: 10,
        implicit: false,
        addresses: vec![AddressSummary {
            ip,
            scope: AddressScope::Public,
            ptr: vec!["mx1.example.test".to_owned()],
            fcrdns: Some(true),
            smtp,
            dnsbl: vec![DnsblSummary {
                zone: "zen.example".to_owned(),
                status: DnsblStatus::Listed {
                    kind: mailcheck::dnsbl::ListingKind::Abuse,
                    codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
                    meanings: vec!["spam source".to_owned()],
                },
            }],
        }],
    }];
    report.findings = vec![
        Finding::new(
            Code::SmtpBannerMismatch,
            ip.to_string(),
            "The greeting names another host",
        )
        .evidence(format!("220 {HOSTILE}"))
        .advice("Make the greeting name the MX host."),
        Finding::new(Code::DnsblListed, ip.to_string(), "Listed on zen.example")
            .evidence("127.0.0.2")
            .advice("Find the cause, then request delisting."),
    ];
    report
}

pub(super) struct Harness {
    pub(super) bot: Bot,
    pub(super) scripted: Arc<Scripted>,
    pub(super) open_gate: watch::Sender<bool>,
}

pub(super) async fn start(config: BotConfig, gate_open: bool) -> Harness {
    let (open_gate, gate) = watch::channel(gate_open);
    let scripted = Arc::new(Scripted {
        report: sample_report(),
        gate,
        calls: AtomicUsize::new(0),
    });
    let config = BotConfig {
        guild_id: Some(GUILD),
        ..config
    };
    let data = Data::with_diagnoser(config, Arc::clone(&scripted) as Arc<dyn Diagnoser>);
    Harness {
        bot: Bot::start(data, WAIT).await,
        scripted,
        open_gate,
    }
}

pub(super) fn lenient() -> BotConfig {
    BotConfig {
        user_cooldown_secs: 0,
        guild_cooldown_secs: 0,
        ..BotConfig::default()
    }
}
