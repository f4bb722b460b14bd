//! Scripted holds: requests a [`RouteMatch`] accepts wait, unanswered, until the test releases
//! them ([`DiscordStandIn::hold`]), so a test can look at a client while its call is pending.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::body::decode_body;
use super::faults::RouteMatch;
use super::http::Request;
use super::state::Shared;
use super::{DiscordStandIn, StandInError};

/// A request that reached a [`Hold`], as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRequest {
    /// The HTTP method.
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// The JSON body (of a multipart body, its `payload_json` part); `Null` when there is none.
    pub body: Value,
}

/// One hold: what it matches, whether it is released, and what reached it.
#[derive(Debug)]
pub(super) struct Gate {
    matcher: RouteMatch,
    open: watch::Sender<bool>,
    arrived: watch::Sender<Vec<HeldRequest>>,
}

impl Gate {
    fn is_open(&self) -> bool {
        *self.open.borrow()
    }
}

/// Waits while a closed hold matches `req` (recording the request in it first); returns at
/// once when none does.
pub(super) async fn wait(shared: &Shared, req: &Request) {
    let gate = {
        let mut holds = shared.lock_holds();
        holds.retain(|g| !g.is_open());
        holds
            .iter()
            .find(|g| g.matcher.matches(&req.method, req.path()))
            .cloned()
    };
    let Some(gate) = gate else {
        return;
    };
    let held = HeldRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        body: decode_body(req).map(|d| d.json).unwrap_or(Value::Null),
    };
    gate.arrived.send_modify(|arrived| arrived.push(held));
    let mut open = gate.open.subscribe();
    // The sender lives in `gate`, which is held here: the wait ends only by a release.
    let _ = open.wait_for(|open| *open).await;
}

/// Holds requests until [`release`](Self::release)d or dropped; see [`DiscordStandIn::hold`].
#[derive(Debug)]
pub struct Hold {
    gate: Arc<Gate>,
    shared: Arc<Shared>,
}

impl Hold {
    /// Lets every held request (and every later one) through, to be answered as usual.
    pub fn release(&self) {
        self.gate.open.send_replace(true);
    }

    /// The requests that reached the hold so far, in arrival order.
    pub fn arrived(&self) -> Vec<HeldRequest> {
        self.gate.arrived.borrow().clone()
    }

    /// Waits until at least `n` requests reached the hold and returns them all.
    pub async fn wait_arrived(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<HeldRequest>, StandInError> {
        let mut arrived = self.gate.arrived.subscribe();
        let waited = tokio::time::timeout(timeout, arrived.wait_for(|a| a.len() >= n)).await;
        match waited {
            Ok(Ok(arrived)) => Ok(arrived.to_vec()),
            // The sender lives in `self.gate`: it cannot be dropped.
            Ok(Err(_)) | Err(_) => Err(StandInError::Timeout {
                after: timeout,
                what: format!("{n} request(s) to reach the hold"),
                recorded: self.shared.summary(),
            }),
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.release();
    }
}

impl DiscordStandIn {
    /// Holds every request that `matcher` accepts, unanswered, until the returned [`Hold`] is
    /// released or dropped; [`Hold::wait_arrived`] waits for them to come. A released request
    /// is then served as usual (scripted faults and rate limits apply at that moment) and
    /// recorded when it is answered. When several holds match, the oldest holds the request.
    pub fn hold(&self, matcher: RouteMatch) -> Hold {
        let gate = Arc::new(Gate {
            matcher,
            open: watch::Sender::new(false),
            arrived: watch::Sender::new(Vec::new()),
        });
        self.shared.lock_holds().push(Arc::clone(&gate));
        Hold {
            gate,
            shared: Arc::clone(&self.shared),
        }
    }
}
