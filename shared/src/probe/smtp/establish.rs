//! Opening a [`Session`]'s connection: the stream (TCP, or the one given), the complete
//! greeting before anything is sent, EHLO, and HELO after a permanent refusal of EHLO.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use super::command::Command;
use super::connect::{describe_connect, tcp_connect};
use super::ehlo::{extensions, greeting_hostname, has_ext};
use super::session::{Dial, Session, ms_since};
use super::wire::{Io, Wire};
use crate::classify::echoed_ip;
use crate::facts::{ConnectOutcome, Greeting, SmtpFacts, StepOutcome};

impl Session {
    /// A new stream: TCP, or the given one (once).
    async fn dial(&mut self, budget: Duration) -> (ConnectOutcome, Option<Box<dyn Io>>) {
        match &mut self.dial {
            Dial::Tcp => {
                let addr = SocketAddr::new(self.ip, self.port);
                let source = self.client.config().source_ip;
                let (outcome, stream) = tcp_connect(addr, source, budget).await;
                (outcome, stream.map(|s| Box::new(s) as Box<dyn Io>))
            }
            Dial::Given(stream) => match stream.take() {
                Some(stream) => {
                    // Our end of a given stream is unknown: unspecified, never the peer's.
                    let unknown = match self.ip {
                        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    };
                    let local = SocketAddr::new(unknown, 0);
                    (ConnectOutcome::Connected { local, ms: 0 }, Some(stream))
                }
                None => (
                    ConnectOutcome::Error {
                        detail: "no second connection on a given stream".to_owned(),
                    },
                    None,
                ),
            },
        }
    }

    /// Connect, greeting, EHLO (HELO fallback). True when ready for commands.
    pub(super) async fn establish(&mut self, facts: &mut SmtpFacts) -> bool {
        let cfg = self.client.config().clone();
        let addr = SocketAddr::new(self.ip, self.port);
        self.note(format!("connecting to {addr} ({})", self.host));
        let budget = cfg.connect_timeout.min(self.remaining());
        let (outcome, stream) = self.dial(budget).await;
        self.note(describe_connect(&outcome));
        if let ConnectOutcome::Connected { local, .. } = &outcome
            && !local.ip().is_unspecified()
        {
            self.local_ip = Some(local.ip());
        }
        facts.connect = outcome;
        let Some(stream) = stream else {
            return false;
        };
        self.wire = Some(Wire::new(stream));
        // Greeting delays count from the completed TCP connect.
        let start = Instant::now();

        // The complete greeting before anything is sent.
        let outcome = self.read_reply(cfg.greeting_timeout).await;
        let hostname = match &outcome {
            StepOutcome::Replied { reply } => greeting_hostname(reply),
            _ => None,
        };
        let code = reply_code(&outcome);
        facts.greeting = Some(Greeting {
            outcome,
            ms: ms_since(start),
            hostname,
            hostname_lookups: None,
        });
        match code {
            Some(220) => {}
            Some(421) | None => {
                self.drop_wire();
                return false;
            }
            Some(_) => {
                // 554 and friends: the server answers QUIT, so say goodbye properly.
                facts.closing.extend(self.quit_inner().await);
                return false;
            }
        }

        let helo_name = self.client.helo_name().to_owned();
        let ehlo = self
            .command(Command::Ehlo(helo_name.clone()), cfg.command_timeout)
            .await;
        let ehlo_code = ehlo.reply().map(|r| r.code);
        if let Some(reply) = ehlo.reply().filter(|r| r.is_positive()) {
            facts.extensions = extensions(reply);
            facts.echoed_ip = echoed_ip(reply);
            self.echoed = facts.echoed_ip;
            self.pipelining = has_ext(&facts.extensions, "PIPELINING");
        }
        facts.ehlo = Some(ehlo);
        match ehlo_code {
            Some(c) if (200..300).contains(&c) => true,
            // Any permanent refusal of EHLO: old servers answer 500/502, strict ones 5xx with
            // a reason; HELO is what a sender tries next.
            Some(500..=599) => {
                let helo = self
                    .command(Command::Helo(helo_name), cfg.command_timeout)
                    .await;
                let ok = helo.accepted();
                if let Some(reply) = helo.reply().filter(|r| r.is_positive()) {
                    facts.echoed_ip = echoed_ip(reply);
                    self.echoed = facts.echoed_ip;
                }
                facts.helo = Some(helo);
                facts.extensions.clear();
                self.pipelining = false;
                if !ok {
                    facts.closing.extend(self.quit_inner().await);
                }
                ok
            }
            _ => {
                facts.closing.extend(self.quit_inner().await);
                false
            }
        }
    }
}

fn reply_code(outcome: &StepOutcome) -> Option<u16> {
    match outcome {
        StepOutcome::Replied { reply } => Some(reply.code),
        _ => None,
    }
}
