//! Options of a stand-in and its start-up (binding the listeners, spawning the servers), and
//! the settings a test changes while it runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::limits::{Bucket, Limits, RateLimit};
use super::state::{Settings, Shared};
use super::{
    DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_INTERACTION_DEADLINE, DEFAULT_TOKEN_LIFETIME,
    DiscordStandIn, StandInError, gateway, http, tls,
};

/// Options of a stand-in; [`DiscordStandIn::builder`] starts from Discord's values.
#[derive(Debug, Clone)]
pub struct DiscordStandInBuilder {
    tls: bool,
    settings: Settings,
    rate_limits: Vec<(Bucket, RateLimit)>,
}

impl DiscordStandInBuilder {
    /// Also serve REST over HTTPS as `discord.com` (see the module doc).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// The HELLO `heartbeat_interval`; a client silent for 1.5 intervals is disconnected.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.settings.heartbeat_interval = interval;
        self
    }

    /// How long after delivery the initial response may come (zero: every callback is late).
    pub fn interaction_deadline(mut self, deadline: Duration) -> Self {
        self.settings.interaction_deadline = deadline;
        self
    }

    /// How long an interaction token works for webhook calls (zero: expired at once).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.token_lifetime = lifetime;
        self
    }

    /// The rate limit of a bucket group.
    pub fn rate_limit(mut self, bucket: Bucket, limit: RateLimit) -> Self {
        self.rate_limits.push((bucket, limit));
        self
    }

    /// Binds the servers on `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> Result<DiscordStandIn, StandInError> {
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StandInError::Bind)?;
        let gateway = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StandInError::Bind)?;
        let http_addr = http.local_addr().map_err(StandInError::Bind)?;
        let gateway_addr = gateway.local_addr().map_err(StandInError::Bind)?;
        let mut limits = Limits::default();
        for (bucket, limit) in self.rate_limits {
            limits.set(bucket, limit);
        }
        let shared = Arc::new(Shared::new(
            format!("ws://{gateway_addr}"),
            format!("http://{http_addr}"),
            self.settings,
            limits,
        ));
        let mut tasks = vec![
            tokio::spawn(http::serve_plain(http, Arc::clone(&shared))),
            tokio::spawn(gateway::serve(gateway, Arc::clone(&shared))),
        ];
        let tls = if self.tls {
            let (listener, acceptor, mode) = tls::bind().await?;
            tasks.push(tokio::spawn(tls::serve(
                listener,
                acceptor,
                Arc::clone(&shared),
            )));
            Some(mode)
        } else {
            None
        };
        Ok(DiscordStandIn {
            shared,
            http_addr,
            gateway_addr,
            tls,
            tasks,
        })
    }
}

impl DiscordStandIn {
    /// Options starting from Discord's: no TLS, 3 s callback window, 15 min tokens, 45 s
    /// heartbeats, generous rate limits.
    pub fn builder() -> DiscordStandInBuilder {
        DiscordStandInBuilder {
            tls: false,
            settings: Settings {
                interaction_deadline: DEFAULT_INTERACTION_DEADLINE,
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            },
            rate_limits: Vec::new(),
        }
    }
}

impl DiscordStandIn {
    /// Changes the callback window for interactions whose callback has not come yet.
    pub fn set_interaction_deadline(&self, deadline: Duration) {
        self.shared
            .update_settings(|s| s.interaction_deadline = deadline);
    }

    /// Changes the webhook token lifetime.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.update_settings(|s| s.token_lifetime = lifetime);
    }

    /// Changes the HELLO `heartbeat_interval` for connections opened from now on.
    pub fn set_heartbeat_interval(&self, interval: Duration) {
        self.shared
            .update_settings(|s| s.heartbeat_interval = interval);
    }
}
