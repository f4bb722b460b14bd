//! The start-up self-test of the bot's own vantage point: [`mailcheck::Checker::vantage`] once,
//! its "From here" view ([`mailcheck::diagnose::vantage::view`]) written to the log.
//!
//! Every check the bot makes is also a statement about the host it runs on: its outbound port
//! 25, its public address, its EHLO name and sender. When port 25 is blocked, every SMTP answer
//! from this host is inconclusive (our side), never "broken" (the domain's); when its identity
//! is poor, strict receivers refuse it. Operators learn that at start-up, not from users.

use std::time::Duration;

use mailcheck::Code;
use mailcheck::diagnose::vantage::VantageView;

use crate::backend::Diagnoser;
use crate::sanitize::clean_line;

/// How long the start-up self-test may take before it is given up (canaries time out after
/// 5 s each, concurrently; DNS and blocklist lookups come on top).
pub const SELF_TEST_DEADLINE: Duration = Duration::from_secs(60);

/// How loud a log message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A fact.
    Info,
    /// A finding about this machine.
    Warn,
    /// Every SMTP result from here will be inconclusive.
    Error,
}

/// What a poor identity means and which settings fix it (the bot's own hint; the finding's
/// advice speaks of the settings in general).
pub const IDENTITY_HINT: &str = "this host's mail identity is poor: strict receivers may refuse \
the bot's probes, and such refusals are reported as inconclusive (about us), not as the \
domain's fault. Set helo_name to a name that resolves to the public address and is that \
address's forward-confirmed PTR name, mail_from to an address in a domain that receives mail, \
and public_ip when behind NAT (MAILCHECK_HELO_NAME, MAILCHECK_MAIL_FROM, MAILCHECK_PUBLIC_IP)";

/// What port 25 being blocked means for the bot, and how to fix it.
pub const PORT25_BLOCKED: &str = "OUTBOUND PORT 25 IS BLOCKED ON THIS HOST: the bot cannot reach \
any mail server, so every SMTP result it posts will be inconclusive (about this host), never \
\"broken\" (about the domain). DNS, MX and blocklist checks still work. Fix: run the bot on a \
host with outbound port 25 open, or ask the hosting provider to lift the block (many clouds \
block port 25 by default); egress_canaries lists the servers used for this test";

/// The log messages for a view, in order: each "From here" line (info), each finding about
/// this machine (warn), then the loud ones: a poor identity (warn) and a blocked port 25
/// (error). Text from servers and DNS is reduced to one clean line.
pub fn messages(view: &VantageView) -> Vec<(Level, String)> {
    let mut out: Vec<(Level, String)> = view
        .lines
        .iter()
        .map(|l| (Level::Info, format!("From here: {}", clean_line(l))))
        .collect();
    for f in &view.findings {
        let mut text = format!(
            "this machine: {} ({}): {}",
            f.code,
            f.severity,
            clean_line(&f.summary)
        );
        if !f.evidence.is_empty() {
            let evidence: Vec<String> = f.evidence.iter().map(|e| clean_line(e)).collect();
            text.push_str(&format!(" [{}]", evidence.join("; ")));
        }
        if !f.advice.is_empty() {
            text.push_str(&format!(" fix: {}", clean_line(&f.advice)));
        }
        out.push((Level::Warn, text));
    }
    if view.findings.iter().any(|f| f.code == Code::ProbeIdentity) {
        out.push((Level::Warn, IDENTITY_HINT.to_owned()));
    }
    if view.port25_blocked {
        out.push((Level::Error, PORT25_BLOCKED.to_owned()));
    }
    out
}

/// Writes [`messages`] to the log.
pub fn log_view(view: &VantageView) {
    for (level, text) in messages(view) {
        match level {
            Level::Info => tracing::info!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            Level::Error => tracing::error!("{text}"),
        }
    }
}

/// The footer note every answer carries while the self-test found this host's outbound port 25
/// blocked.
pub const FOOTER_PORT25_BLOCKED: &str =
    "the bot's host cannot reach port 25: SMTP results are inconclusive";

/// A warning about the bot's own host that answers show in their footer (set by
/// [`self_test`]). Cheap to clone; all clones share it.
#[derive(Debug, Clone, Default)]
pub struct HostNote(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl HostNote {
    /// The note, if any.
    pub fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets or clears the note.
    pub fn set(&self, note: Option<String>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = note;
    }
}

/// Runs the self-test (at most [`SELF_TEST_DEADLINE`]), logs it, and puts a footer note on
/// every answer while port 25 is blocked here. Never fails: a diagnoser without a vantage
/// point (a test double) is skipped, a slow one is noted and left behind.
pub async fn self_test(diagnoser: &dyn Diagnoser, note: &HostNote) {
    tracing::info!(
        "checking this host's own vantage point (outbound port 25, public address, EHLO name, \
         sender, blocklists)…"
    );
    match tokio::time::timeout(SELF_TEST_DEADLINE, diagnoser.vantage_view()).await {
        Ok(Some(view)) => {
            log_view(&view);
            note.set(
                view.port25_blocked
                    .then(|| FOOTER_PORT25_BLOCKED.to_owned()),
            );
        }
        Ok(None) => tracing::info!("no vantage self-test for this checker"),
        Err(_) => tracing::warn!(
            deadline = ?SELF_TEST_DEADLINE,
            "the vantage self-test did not finish; the bot runs anyway"
        ),
    }
}

#[cfg(test)]
mod tests {
    use mailcheck::Finding;
    use mailcheck::finding::THIS_MACHINE;

    use super::*;

    fn view(findings: Vec<Finding>, port25_blocked: bool) -> VantageView {
        VantageView {
            lines: vec![
                "outbound port 25 over IPv4: BLOCKED (gmail-smtp-in.l.google.com timed out)"
                    .to_owned(),
                "EHLO name: box.localdomain\r\n(not a fully qualified name)\u{1b}[31m".to_owned(),
            ],
            findings,
            port25_blocked,
        }
    }

    #[test]
    fn a_blocked_port_25_is_an_error_that_says_inconclusive_and_how_to_fix_it() {
        let egress = Finding::new(
            Code::ProbeEgressBlocked,
            THIS_MACHINE,
            "our own outbound port 25 over IPv4 is blocked",
        )
        .evidence("gmail-smtp-in.l.google.com timed out")
        .advice("Run from a host that can reach port 25.");
        let m = messages(&view(vec![egress], true));
        assert_eq!(m.len(), 4, "{m:#?}");
        assert_eq!(m[0].0, Level::Info);
        assert!(
            m[0].1
                .starts_with("From here: outbound port 25 over IPv4: BLOCKED")
        );
        // Server and DNS text stays on one line, without control characters.
        assert_eq!(
            m[1].1,
            "From here: EHLO name: box.localdomain (not a fully qualified name)[31m"
        );
        assert_eq!(m[2].0, Level::Warn);
        assert!(
            m[2].1.starts_with(
                "this machine: probe.egress_blocked (inconclusive): our own outbound port 25"
            ) && m[2].1.contains("[gmail-smtp-in.l.google.com timed out]")
                && m[2].1.contains("fix: Run from a host"),
            "{}",
            m[2].1
        );
        let (level, loud) = &m[3];
        assert_eq!(*level, Level::Error);
        for needle in [
            "inconclusive",
            "never \"broken\"",
            "outbound port 25 open",
            "provider",
        ] {
            assert!(loud.contains(needle), "{needle:?} missing in {loud}");
        }
        assert!(!m.iter().any(|(_, t)| t == IDENTITY_HINT));
    }

    #[test]
    fn a_poor_identity_is_a_loud_warning_naming_the_settings() {
        let identity = Finding::new(Code::ProbeIdentity, THIS_MACHINE, "our identity is poor")
            .evidence("our EHLO name box.localdomain does not resolve");
        let m = messages(&view(vec![identity], false));
        assert!(m.iter().all(|(l, _)| *l != Level::Error), "{m:#?}");
        let (level, hint) = m.last().unwrap();
        assert_eq!(*level, Level::Warn);
        assert_eq!(hint, IDENTITY_HINT);
        for needle in ["helo_name", "mail_from", "public_ip", "MAILCHECK_HELO_NAME"] {
            assert!(hint.contains(needle), "{needle:?}");
        }
    }

    #[test]
    fn a_good_vantage_point_is_only_facts() {
        let m = messages(&view(Vec::new(), false));
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|(l, _)| *l == Level::Info));
    }

    #[derive(Debug)]
    struct NoVantage;

    impl Diagnoser for NoVantage {
        fn diagnose<'a>(
            &'a self,
            _domain: &'a mailcheck::DomainName,
            _options: mailcheck::CheckOptions,
            _progress: crate::ProgressSender,
        ) -> crate::backend::BoxFuture<'a, mailcheck::Report> {
            Box::pin(async { mailcheck::Report::invalid("x", "test double") })
        }
    }

    #[tokio::test]
    async fn a_diagnoser_without_a_vantage_point_is_skipped() {
        assert!(NoVantage.vantage_view().await.is_none());
        let note = HostNote::default();
        self_test(&NoVantage, &note).await;
        assert_eq!(note.get(), None);
    }
}
