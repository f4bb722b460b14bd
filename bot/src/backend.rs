//! What runs a check: the [`Diagnoser`] trait, implemented by [`mailcheck::Checker`] and by test
//! doubles, and the [`Progress`] it can report while it works.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use mailcheck::{DomainName, Report};
use tokio::sync::mpsc;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something worth showing while a check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A stage, in words (e.g. "probing port 25…").
    Stage(String),
    /// DNS is done: the mail hosts (preference, host name) about to be probed.
    MxFound(Vec<(u16, String)>),
}

/// Where a [`Diagnoser`] sends [`Progress`]. Sending never fails: if nobody listens any more, the
/// message is dropped.
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
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report>;
}

impl Diagnoser for mailcheck::Checker {
    fn diagnose<'a>(
        &'a self,
        domain: &'a DomainName,
        progress: ProgressSender,
    ) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            progress.send(Progress::Stage(
                "Looking up MX records, then probing each mail server on port 25…".to_owned(),
            ));
            self.check(domain.as_str()).await
        })
    }
}
