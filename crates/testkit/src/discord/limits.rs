//! Rate limits as Discord applies them: a bucket per route group and major parameter, the
//! `x-ratelimit-*` headers on every answer, a 429 when a bucket is empty.

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

/// Limits per bucket and the buckets' state.
#[derive(Debug, Default)]
pub(super) struct Limits {
    limits: HashMap<Bucket, RateLimit>,
    buckets: HashMap<(Bucket, String), BucketState>,
}

/// Seconds with three decimals, rounded up: a client adding this to its own (later) clock never
/// expects the window to end before the stand-in does.
fn secs(d: Duration) -> String {
    format!("{:.3}", (d.as_secs_f64() * 1000.0).ceil() / 1000.0)
}

/// The `x-ratelimit-*` headers of an answer in `bucket`.
pub(super) fn headers(
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

/// A 429 answer (`global`: Discord's global limit, else the route's).
pub(super) fn too_many(retry_after: Duration, global: bool) -> Response {
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

    /// The limit of `bucket`: as set, else [`RateLimit::GENEROUS`].
    pub(super) fn limit(&self, bucket: Bucket) -> RateLimit {
        self.limits
            .get(&bucket)
            .copied()
            .unwrap_or(RateLimit::GENEROUS)
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
}
