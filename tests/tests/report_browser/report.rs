//! The report the browser test opens: made in-process by the audit library, twice into one
//! history, against the test kit's DNS and SMTP servers on loopback (one of them hostile).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser as _;
use mailcheck_testkit::dns::{DnsServer, DnsServerBuilder};
use mailcheck_testkit::smtp::SmtpServer;

/// The hostile server's greeting: what a page that builds HTML from banners would run.
const HOSTILE_BANNER: &str = "220 mx.hostile.test <script>window.__pwned=1</script> ESMTP";
/// Its RCPT reply.
pub(crate) const HOSTILE_RCPT: &str = "<img src=x onerror=\"window.__pwned=2\">";

/// The two DNS views: before (changing.test has a mail host) and now (it has none).
async fn dns(before: bool, hostile: Ipv4Addr, plain: Ipv4Addr) -> DnsServer {
    let b: DnsServerBuilder = DnsServer::builder()
        .mx("hostile.test", 10, "mx.hostile.test")
        .a("mx.hostile.test", hostile)
        .ptr(IpAddr::V4(hostile), "mx.hostile.test")
        .mx("plain.test", 10, "mx.plain.test")
        .a("mx.plain.test", plain)
        .ptr(IpAddr::V4(plain), "mx.plain.test")
        .mx("nullmx.test", 0, ".");
    let b = if before {
        b.mx("changing.test", 10, "mx.plain.test")
    } else {
        b
    };
    b.build().await
}

/// Runs the audit in-process: `mailcheck-audit ARGS`.
async fn audit(args: &[String]) {
    let mut argv = vec!["mailcheck-audit".to_owned()];
    argv.extend(args.iter().cloned());
    let cli = mailcheck_audit::cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("flags {argv:?}: {e}"));
    let exit = tokio::time::timeout(Duration::from_secs(120), mailcheck_audit::app::main(cli))
        .await
        .expect("the audit finishes")
        .unwrap_or_else(|e| panic!("audit {argv:?}: {e}"));
    assert_eq!(exit, mailcheck_audit::app::Exit::Ok, "--fail-on never");
}

/// Makes the report: two runs into one history, the second one's HTML report kept.
pub(crate) async fn make_report(dir: &Path) -> PathBuf {
    let (hostile_ip, plain_ip) = (Ipv4Addr::new(127, 0, 0, 91), Ipv4Addr::new(127, 0, 0, 92));
    let hostile = SmtpServer::builder()
        .hostname("mx.hostile.test")
        .greeting(HOSTILE_BANNER)
        .rcpt_reply(|_| format!("550 5.7.1 {HOSTILE_RCPT} rejected"))
        .bind(SocketAddr::new(IpAddr::V4(hostile_ip), 0))
        .build()
        .await;
    let port = hostile.addr().port();
    let plain = SmtpServer::builder()
        .hostname("mx.plain.test")
        .bind(SocketAddr::new(IpAddr::V4(plain_ip), port))
        .build()
        .await;
    let history = dir.join("history.sqlite3");
    let report = dir.join("report.html");
    let csv = dir.join("clients.csv");
    std::fs::write(
        &csv,
        "client,domain,notes\n\
         Hostile Ltd,hostile.test,banner from an attacker\n\
         Plain Co,plain.test,no TLS yet\n\
         Changing plc,changing.test,moved its mail\n\
         Nobody,nullmx.test,parked\n\
         Typo Inc,not a domain!,fix the sheet\n",
    )
    .unwrap();
    for before in [true, false] {
        let dns = dns(before, hostile_ip, plain_ip).await;
        let args: Vec<String> = [
            "--resolver",
            &dns.addr().to_string(),
            "--smtp-port",
            &port.to_string(),
            "--allow-private",
            "--no-dnsbl",
            "--no-egress-check",
            "--timeout",
            "10",
            "--no-progress",
            "--quiet",
            "--fail-on",
            "never",
            "--history",
            history.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
            csv.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        audit(&args).await;
    }
    drop((hostile, plain));
    report
}
