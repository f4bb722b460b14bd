//! The lines every scenario prints: settings, wall time, rates, CPU, verdicts and codes, the SMTP
//! servers' counters, and a floor against the wall time.

use std::time::Duration;

use mailcheck::CheckConfig;
use mailcheck_testkit::smtp::SmtpServer;

use crate::Args;
use crate::measure::Measured;

pub(crate) fn print_common(a: &Args, config: &CheckConfig, n: usize, m: &Measured) {
    let cpu_note = if a.synthetic.is_some() {
        "the auditor process; the lab runs in its own".to_owned()
    } else {
        format!(
            "auditor threads; the lab's own {:.0} ms excluded",
            m.lab_cpu_ms
        )
    };
    let secs = m.wall.as_secs_f64();
    println!(
        "  settings             RTT {} ms, -j {}, TLS {}, PIPELINING {}, batch \
         (max_rcpts_per_transaction) {}, sessions_per_ip {}, min_connect_interval {} ms, auth {}, \
         DNSBL off",
        a.rtt().as_millis(),
        a.concurrency,
        if a.tls { "on" } else { "off" },
        if a.pipelining { "on" } else { "off" },
        config.smtp.max_rcpts_per_transaction,
        config.smtp.sessions_per_ip,
        config.smtp.min_connect_interval.as_millis(),
        if a.auth { "on" } else { "off" },
    );
    println!("  wall time            {secs:.2} s");
    println!("  domains/s            {:.1}", n as f64 / secs);
    println!(
        "  CPU per domain       {:.3} ms ({cpu_note})",
        m.audit_cpu_ms / n as f64,
    );
    println!(
        "  verdicts             {}",
        m.summary
            .verdict_counts()
            .iter()
            .map(|(v, c)| format!("{v} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  top codes            {}",
        m.summary
            .code_counts()
            .iter()
            .take(6)
            .map(|(code, c)| format!("{code} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

pub(crate) fn print_servers(servers: &[SmtpServer]) {
    let connections: usize = servers.iter().map(SmtpServer::connections).sum();
    let exchanges: usize = servers.iter().map(SmtpServer::exchanges).sum();
    let max_open = servers
        .iter()
        .map(SmtpServer::max_concurrent_connections)
        .max()
        .unwrap_or(0);
    println!(
        "  SMTP connections     {connections} over {} server(s); at most {max_open} open at once \
         on one server",
        servers.len()
    );
    println!("  SMTP exchanges       {exchanges} reply writes (greetings included)");
}

pub(crate) fn print_floor(label: &str, rtts: usize, rtt: Duration, wall: Duration, note: &str) {
    let floor = rtts as f64 * rtt.as_secs_f64();
    let ratio = if floor > 0.0 {
        format!("floor/wall {:.2}", floor / wall.as_secs_f64())
    } else {
        "floor/wall n/a (RTT 0)".to_owned()
    };
    println!("  {label:<20} {floor:.2} s ({rtts} RTT: {note}) → {ratio}");
}
