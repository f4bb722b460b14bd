//! What runs a check: the [`Diagnoser`] trait, implemented by [`mailcheck::Checker`] and by test
//! doubles, and the [`Progress`] it can report while it works.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use mailcheck::check::MailHost;
use mailcheck::diagnose::vantage::VantageView;
use mailcheck::{CheckOptions, DomainName, Report, SenderQuery, SenderReport};
use tokio::sync::mpsc;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something worth showing while a check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A stage, in words (e.g. "probing port 25…").
    Stage(String),
    /// DNS is done: the mail hosts (by preference, with their addresses) about to be probed.
    /// Empty when the domain has no mail host.
    MxFound(Vec<MailHost>),
}

/// Where a [`Diagnoser`] sends [`Progress`]. Sending never blocks and never fails: if nobody
/// listens any more, the message is dropped. It can be called from synchronous code (such as
/// the library's progress callback).
#[derive(Debug, Clone)]
pub struct ProgressSender(mpsc::UnboundedSender<Progress>);

impl ProgressSender {
    /// A sender and the receiving end.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Progress>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    /// Reports progress.
    pub fn send(&self, progress: Progress) {
        let _ = self.0.send(progress);
    }
}

/// Runs checks. The bot only renders what comes back; it never decides severities.
pub trait Diagnoser: Send + Sync + fmt::Debug {
    /// Checks one (already validated) domain. Never fails: problems are findings in the report.
    /// `options` asks for a fresh look (a re-check) and sets the deadline, at which the report
    /// shows what was checked so far.
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        options: CheckOptions,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report>;

    /// Releases what the diagnoser holds (e.g. pooled SMTP sessions) at shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Checks our own vantage point now (outbound port 25, public address, EHLO name, sender,
    /// blocklists) and returns the "From here" view; `None` when this diagnoser has no vantage
    /// point of its own (test doubles). See [`crate::vantage::self_test`].
    fn vantage_view(&self) -> BoxFuture<'_, Option<VantageView>> {
        Box::pin(async { None })
    }

    /// Checks a sending server (its IP, HELO name and sender domain) as large receivers judge
    /// it; `None` when this diagnoser cannot (test doubles). See [`crate::sender`].
    fn check_sender<'a>(
        &'a self,
        query: &'a SenderQuery,
        options: CheckOptions,
    ) -> BoxFuture<'a, Option<SenderReport>> {
        let _ = (query, options);
        Box::pin(async { None })
    }
}

impl Diagnoser for mailcheck::Checker {
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        options: CheckOptions,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            // The library calls back synchronously once DNS is done; the channel carries the
            // news to the command, which edits the Discord message.
            let on_progress = |p: mailcheck::check::Progress| {
                if let mailcheck::check::Progress::MailHosts { hosts } = p {
                    progress.send(Progress::MxFound(hosts));
                }
            };
            self.check_with(domain, options, &on_progress).await
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(Self::shutdown(self))
    }

    fn vantage_view(&self) -> BoxFuture<'_, Option<VantageView>> {
        Box::pin(async move {
            let (facts, zones) = Self::vantage(self).await;
            Some(mailcheck::diagnose::vantage::view(&facts, &zones))
        })
    }

    fn check_sender<'a>(
        &'a self,
        query: &'a SenderQuery,
        options: CheckOptions,
    ) -> BoxFuture<'a, Option<SenderReport>> {
        Box::pin(async move { Some(self.check_sender_with(query, options).await) })
    }
}
