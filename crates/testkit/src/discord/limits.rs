//! Rate limits as Discord applies them: a bucket per route group and major parameter, the
//! `x-ratelimit-*` headers on every answer, a 429 when a bucket is empty; and the faults a test
//! scripts with [`DiscordStandIn::fail_next`]. (Over 400 lines only by its unit tests.)

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::DiscordStandIn;
use super::http::Response;

/// A group of routes that share a rate limit (each major parameter, e.g. each interaction token,
/// gets its own bucket of the group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// `GET /gateway`, `GET /gateway/bot`.
    Gateway,
    /// `GET /users/@me`.
    User,
    /// Command registration, per application.
    Commands,
    /// Interaction callbacks, per interaction.
    Callback,
    /// The interaction webhook (original response and follow-ups), per token.
    Webhook,
    /// Every route the stand-in does not know.
    Other,
}

impl Bucket {
    /// The value of `x-ratelimit-bucket` (an opaque id, like Discord's hashes).
    pub fn id(self) -> &'static str {
        match self {
            Self::Gateway => "standin-gateway",
            Self::User => "standin-user",
            Self::Commands => "standin-commands",
            Self::Callback => "standin-callback",
            Self::Webhook => "standin-webhook",
            Self::Other => "standin-other",
        }
    }
}

/// How many requests a bucket allows per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per window.
    pub limit: u32,
    /// The window; it starts with the first request after the previous one ended.
    pub window: Duration,
}

impl RateLimit {
    /// The default for every bucket: 1000 requests per second, far more than a test sends.
    pub const GENEROUS: Self = Self {
        limit: 1000,
        window: Duration::from_secs(1),
    };

    /// `limit` requests per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }
}

/// Which requests a scripted fault applies to: a method (or any) and a path prefix, optionally
/// a path suffix too. Paths are matched without the query string.
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

#[derive(Debug)]
struct Scripted {
    matcher: RouteMatch,
    remaining: usize,
    fault: Fault,
}

#[derive(Debug, Clone, Copy)]
struct BucketState {
    remaining: u32,
    resets_at: Instant,
}

/// The outcome of counting a request against its bucket.
#[derive(Debug)]
pub(super) enum Hit {
    /// Served; these are the headers to send.
    Allowed(Vec<(String, String)>),
    /// The bucket is empty: answer this 429.
    Limited {
        retry_after: Duration,
        response: Response,
    },
}

/// Limits per bucket, the buckets' state and the scripted faults.
#[derive(Debug, Default)]
pub(super) struct Limits {
    limits: HashMap<Bucket, RateLimit>,
    buckets: HashMap<(Bucket, String), BucketState>,
    faults: Vec<Scripted>,
}

/// Seconds with three decimals, rounded up: a client adding this to its own (later) clock never
/// expects the window to end before the stand-in does.
fn secs(d: Duration) -> String {
    format!("{:.3}", (d.as_secs_f64() * 1000.0).ceil() / 1000.0)
}

fn headers(
    bucket: Bucket,
    limit: u32,
    remaining: u32,
    reset_after: Duration,
) -> Vec<(String, String)> {
    let reset = SystemTime::now()
        .checked_add(reset_after)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    vec![
        ("x-ratelimit-limit".to_owned(), limit.to_string()),
        ("x-ratelimit-remaining".to_owned(), remaining.to_string()),
        ("x-ratelimit-reset".to_owned(), secs(reset)),
        ("x-ratelimit-reset-after".to_owned(), secs(reset_after)),
        ("x-ratelimit-bucket".to_owned(), bucket.id().to_owned()),
    ]
}

fn too_many(retry_after: Duration, global: bool) -> Response {
    let scope = if global { "global" } else { "user" };
    let mut response = Response::json(
        429,
        json!({
            "message": "You are being rate limited.",
            "retry_after": (retry_after.as_secs_f64() * 1000.0).ceil() / 1000.0,
            "global": global,
        }),
    );
    // Discord rounds `retry-after` up to whole seconds; a fraction keeps tests fast and serenity
    // parses it as a float.
    response
        .headers
        .push(("retry-after".to_owned(), secs(retry_after)));
    response
        .headers
        .push(("x-ratelimit-scope".to_owned(), scope.to_owned()));
    if global {
        response
            .headers
            .push(("x-ratelimit-global".to_owned(), "true".to_owned()));
    }
    response
}

impl Limits {
    pub(super) fn set(&mut self, bucket: Bucket, limit: RateLimit) {
        self.limits.insert(bucket, limit);
        self.buckets.retain(|(b, _), _| *b != bucket);
    }

    fn limit(&self, bucket: Bucket) -> RateLimit {
        self.limits
            .get(&bucket)
            .copied()
            .unwrap_or(RateLimit::GENEROUS)
    }

    pub(super) fn script(&mut self, matcher: RouteMatch, times: usize, fault: Fault) {
        self.faults.push(Scripted {
            matcher,
            remaining: times,
            fault,
        });
    }

    pub(super) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The first scripted fault that matches, counted down.
    pub(super) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let found = self
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && f.matcher.matches(method, path))?;
        found.remaining -= 1;
        let fault = found.fault.clone();
        self.faults.retain(|f| f.remaining > 0);
        Some(fault)
    }

    /// The answer to a scripted fault on a request of `bucket`/`major`.
    pub(super) fn fault_response(&self, fault: &Fault, bucket: Bucket) -> Response {
        match fault {
            Fault::RateLimited {
                retry_after,
                global: true,
            } => too_many(*retry_after, true),
            Fault::RateLimited {
                retry_after,
                global: false,
            } => too_many(*retry_after, false).with_headers(headers(
                bucket,
                self.limit(bucket).limit,
                0,
                *retry_after,
            )),
            Fault::ServerError(status) => {
                Response::error(*status, 0, &format!("{status}: Server Error"))
            }
            Fault::Error {
                status,
                code,
                message,
            } => Response::error(*status, *code, message),
            Fault::HangUp => Response::hang_up(),
        }
    }

    /// Counts a request against its bucket at `now`.
    pub(super) fn hit(&mut self, bucket: Bucket, major: &str, now: Instant) -> Hit {
        let RateLimit { limit, window } = self.limit(bucket);
        let state = self
            .buckets
            .entry((bucket, major.to_owned()))
            .or_insert(BucketState {
                remaining: limit,
                resets_at: now + window,
            });
        if now >= state.resets_at {
            *state = BucketState {
                remaining: limit,
                resets_at: now + window,
            };
        }
        let reset_after = state.resets_at.saturating_duration_since(now);
        if state.remaining == 0 {
            return Hit::Limited {
                retry_after: reset_after,
                response: too_many(reset_after, false).with_headers(headers(
                    bucket,
                    limit,
                    0,
                    reset_after,
                )),
            };
        }
        state.remaining -= 1;
        Hit::Allowed(headers(bucket, limit, state.remaining, reset_after))
    }
}

impl DiscordStandIn {
    /// Answers the next `times` requests that `matcher` accepts with `fault` instead of serving
    /// them. Each is recorded as [`DiscordEvent::Fault`](super::DiscordEvent::Fault), so a test
    /// can count a client's retries. Scripts apply in the order they were added.
    pub fn fail_next(&self, matcher: RouteMatch, times: usize, fault: Fault) {
        self.shared.lock_limits().script(matcher, times, fault);
    }

    /// Drops every scripted fault not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock_limits().clear_faults();
    }

    /// Sets the rate limit of a bucket group (and empties its current windows).
    pub fn set_rate_limit(&self, bucket: Bucket, limit: RateLimit) {
        self.shared.lock_limits().set(bucket, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
        &h.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn bucket_counts_down_then_refuses_until_the_window_ends() {
        let mut limits = Limits::default();
        limits.set(Bucket::Webhook, RateLimit::new(2, Duration::from_secs(10)));
        let t0 = Instant::now();
        let Hit::Allowed(h) = limits.hit(Bucket::Webhook, "tok", t0) else {
            panic!()
        };
        assert_eq!(header(&h, "x-ratelimit-limit"), "2");
        assert_eq!(header(&h, "x-ratelimit-remaining"), "1");
        assert_eq!(header(&h, "x-ratelimit-reset-after"), "10.000");
        assert_eq!(header(&h, "x-ratelimit-bucket"), "standin-webhook");
        assert!(matches!(
            limits.hit(Bucket::Webhook, "tok", t0),
            Hit::Allowed(_)
        ));
        // Another token has its own bucket.
        assert!(matches!(
            limits.hit(Bucket::Webhook, "other", t0),
            Hit::Allowed(_)
        ));
        let t1 = t0 + Duration::from_secs(4);
        let Hit::Limited {
            retry_after,
            response,
        } = limits.hit(Bucket::Webhook, "tok", t1)
        else {
            panic!()
        };
        assert_eq!(retry_after, Duration::from_secs(6));
        assert_eq!(response.status, 429);
        assert_eq!(response.body.as_ref().unwrap()["retry_after"], 6.0);
        assert_eq!(response.body.as_ref().unwrap()["global"], false);
        assert_eq!(header(&response.headers, "retry-after"), "6.000");
        assert!(
            !response
                .headers
                .iter()
                .any(|(n, _)| n == "x-ratelimit-global")
        );
        let t2 = t0 + Duration::from_secs(10);
        assert!(matches!(
            limits.hit(Bucket::Webhook, "tok", t2),
            Hit::Allowed(_)
        ));
    }

    #[test]
    fn scripted_faults_match_and_count_down() {
        let mut limits = Limits::default();
        limits.script(RouteMatch::edit_original(), 2, Fault::ServerError(502));
        let path = "/api/v10/webhooks/1/tok/messages/@original";
        assert_eq!(limits.take_fault("GET", path), None);
        assert_eq!(limits.take_fault("PATCH", "/api/v10/webhooks/1/tok"), None);
        assert_eq!(
            limits.take_fault("PATCH", path),
            Some(Fault::ServerError(502))
        );
        assert_eq!(
            limits.take_fault("patch", path),
            Some(Fault::ServerError(502))
        );
        assert_eq!(limits.take_fault("PATCH", path), None);
        let global = Fault::RateLimited {
            retry_after: Duration::from_millis(250),
            global: true,
        };
        let response = limits.fault_response(&global, Bucket::Webhook);
        assert_eq!(header(&response.headers, "x-ratelimit-global"), "true");
        assert_eq!(header(&response.headers, "retry-after"), "0.250");
        assert_eq!(response.body.unwrap()["retry_after"], 0.25);
    }
}
