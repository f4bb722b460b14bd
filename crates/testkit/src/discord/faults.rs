//! Scripted faults: which requests a script (or a hold) applies to ([`RouteMatch`]), what is
//! answered instead of serving them ([`Fault`]), and [`DiscordStandIn::fail_next`] to script
//! them.

use std::time::Duration;

use super::DiscordStandIn;
use super::http::Response;
use super::limits::{Bucket, headers, too_many};

/// Which requests a scripted fault or hold applies to: a method (or any) and a path prefix,
/// optionally a path suffix too. Paths are matched without the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    method: Option<String>,
    prefix: String,
    suffix: Option<String>,
}

impl RouteMatch {
    /// Requests with `method` (`"*"` for any) whose path starts with `path_prefix`, e.g.
    /// `RouteMatch::new("GET", "/api/v10/gateway")`.
    pub fn new(method: &str, path_prefix: &str) -> Self {
        Self {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            prefix: path_prefix.to_owned(),
            suffix: None,
        }
    }

    /// Also requires the path to end with `suffix`.
    pub fn ending_with(mut self, suffix: &str) -> Self {
        self.suffix = Some(suffix.to_owned());
        self
    }

    /// Any interaction callback: `POST /api/v10/interactions/{id}/{token}/callback`.
    pub fn callback() -> Self {
        Self::new("POST", "/api/v10/interactions/").ending_with("/callback")
    }

    /// Edits of any original response: `PATCH /api/v10/webhooks/{app}/{token}/messages/@original`.
    pub fn edit_original() -> Self {
        Self::new("PATCH", "/api/v10/webhooks/").ending_with("/messages/@original")
    }

    /// Any command creation, global or in a guild: `POST /api/v10/applications/{app}/commands`
    /// and `POST /api/v10/applications/{app}/guilds/{g}/commands`.
    pub fn create_command() -> Self {
        Self::new("POST", "/api/v10/applications/").ending_with("/commands")
    }

    /// Any follow-up message: `POST /api/v10/webhooks/{app}/{token}`.
    pub fn followup() -> Self {
        Self::new("POST", "/api/v10/webhooks/")
    }

    /// Whether a request matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&self.prefix)
            && self.suffix.as_deref().is_none_or(|s| path.ends_with(s))
    }
}

/// What a scripted fault answers instead of serving the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `retry-after` and `{"message":"You are being rate limited.","retry_after":…,
    /// "global":…}`; a global one carries `x-ratelimit-global: true`, a per-route one the
    /// bucket's headers with `remaining: 0`.
    RateLimited {
        /// How long the client must wait.
        retry_after: Duration,
        /// Whether it is the global limit.
        global: bool,
    },
    /// A bare server error (500, 502, 503…), as from Discord's edge: no rate-limit headers.
    ServerError(u16),
    /// Any JSON error answer `{"code":code,"message":message}`.
    Error {
        /// The HTTP status.
        status: u16,
        /// Discord's error code.
        code: u64,
        /// The message.
        message: String,
    },
    /// The connection is closed without an answer.
    HangUp,
}

impl Fault {
    /// The HTTP status the fault answers with (`None` for [`Fault::HangUp`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::RateLimited { .. } => Some(429),
            Self::ServerError(status) | Self::Error { status, .. } => Some(*status),
            Self::HangUp => None,
        }
    }
}

impl Fault {
    /// The answer to this fault on a request of `bucket`, whose limit is `limit` requests per
    /// window.
    pub(super) fn response(&self, bucket: Bucket, limit: u32) -> Response {
        match self {
            Self::RateLimited {
                retry_after,
                global: true,
            } => too_many(*retry_after, true),
            Self::RateLimited {
                retry_after,
                global: false,
            } => {
                too_many(*retry_after, false).with_headers(headers(bucket, limit, 0, *retry_after))
            }
            Self::ServerError(status) => {
                Response::error(*status, 0, &format!("{status}: Server Error"))
            }
            Self::Error {
                status,
                code,
                message,
            } => Response::error(*status, *code, message),
            Self::HangUp => Response::hang_up(),
        }
    }
}

#[derive(Debug)]
struct Scripted {
    matcher: RouteMatch,
    remaining: usize,
    fault: Fault,
}

/// The faults scripted and not used up yet, in the order they were added.
#[derive(Debug, Default)]
pub(super) struct Faults {
    scripted: Vec<Scripted>,
}

impl Faults {
    pub(super) fn script(&mut self, matcher: RouteMatch, times: usize, fault: Fault) {
        self.scripted.push(Scripted {
            matcher,
            remaining: times,
            fault,
        });
    }

    pub(super) fn clear(&mut self) {
        self.scripted.clear();
    }

    /// The first scripted fault that matches, counted down.
    pub(super) fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let found = self
            .scripted
            .iter_mut()
            .find(|f| f.remaining > 0 && f.matcher.matches(method, path))?;
        found.remaining -= 1;
        let fault = found.fault.clone();
        self.scripted.retain(|f| f.remaining > 0);
        Some(fault)
    }
}

impl DiscordStandIn {
    /// Answers the next `times` requests that `matcher` accepts with `fault` instead of serving
    /// them. Each is recorded as [`DiscordEvent::Fault`](super::DiscordEvent::Fault), so a test
    /// can count a client's retries. Scripts apply in the order they were added.
    pub fn fail_next(&self, matcher: RouteMatch, times: usize, fault: Fault) {
        self.shared.lock_faults().script(matcher, times, fault);
    }

    /// Drops every scripted fault not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock_faults().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
        &h.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn scripted_faults_match_and_count_down() {
        let mut faults = Faults::default();
        faults.script(RouteMatch::edit_original(), 2, Fault::ServerError(502));
        let path = "/api/v10/webhooks/1/tok/messages/@original";
        assert_eq!(faults.take("GET", path), None);
        assert_eq!(faults.take("PATCH", "/api/v10/webhooks/1/tok"), None);
        assert_eq!(faults.take("PATCH", path), Some(Fault::ServerError(502)));
        assert_eq!(faults.take("patch", path), Some(Fault::ServerError(502)));
        assert_eq!(faults.take("PATCH", path), None);
        let global = Fault::RateLimited {
            retry_after: Duration::from_millis(250),
            global: true,
        };
        let response = global.response(Bucket::Webhook, 1000);
        assert_eq!(header(&response.headers, "x-ratelimit-global"), "true");
        assert_eq!(header(&response.headers, "retry-after"), "0.250");
        assert_eq!(response.body.unwrap()["retry_after"], 0.25);
    }
}
