//! Abuse limits: the per-client rate limit on token minting and the bounded, typed reading of
//! the request body.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::errors::ApiError;

/// The body limit. A token request body is `{"personaId": "…"}`: tens of bytes.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// Start pruning idle clients once this many are tracked, so memory stays bounded under a
/// flood of distinct addresses.
const PRUNE_THRESHOLD: usize = 4096;

/// A token bucket per client address: up to `per_minute` requests at once, refilled at
/// `per_minute` per minute. It lives in this process only; several instances each keep their
/// own (README "Going to production").
pub struct RateLimiter {
    per_minute: u32,
    inner: Mutex<Buckets>,
}

struct Buckets {
    by_client: HashMap<IpAddr, Bucket>,
    prune_at: usize,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            inner: Mutex::new(Buckets {
                by_client: HashMap::new(),
                prune_at: PRUNE_THRESHOLD,
            }),
        }
    }

    fn capacity(&self) -> f64 {
        f64::from(self.per_minute)
    }

    fn refill_per_sec(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// Takes one request from `client`'s budget, or says how long until one is available.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(client);
        let capacity = self.capacity();
        let rate = self.refill_per_sec();
        // A poisoned lock only means another request panicked mid-update; the counters are
        // still usable, and refusing every later request would be worse.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.by_client.len() >= inner.prune_at {
            inner.by_client.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate < capacity
            });
            inner.prune_at = (inner.by_client.len() * 2).max(PRUNE_THRESHOLD);
        }
        let bucket = inner.by_client.entry(key).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

/// IPv6 clients usually hold a whole /64, so they are limited per /64, not per address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Middleware on the token route: 429 with `Retry-After` once the client's budget is spent.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    // Without connection info (router tests without sockets) every request counts against one
    // shared bucket: stricter, never looser.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match limiter.check(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => ApiError::rate_limited(wait.as_secs_f64().ceil() as u64)
            .with_detail(format!("client {}", client_key(client)))
            .into_response(),
    }
}

/// Reads an optional JSON object body: `Ok(None)` for an empty body, 413 past
/// [`BODY_LIMIT_BYTES`], 415 for a body that is not declared as JSON, 400 for bad JSON.
pub async fn read_json_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<Map<String, Value>>, ApiError> {
    // Refuse a declared oversize body before reading a byte of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT_BYTES as u64) {
        return Err(ApiError::body_too_large(BODY_LIMIT_BYTES));
    }
    let bytes = match Limited::new(body, BODY_LIMIT_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::body_too_large(BODY_LIMIT_BYTES))
        }
        Err(e) => return Err(ApiError::invalid_json(format!("body unreadable: {e}"))),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json_content_type(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::invalid_json("body is JSON but not an object")),
        Err(e) => Err(ApiError::invalid_json(format!("body is not JSON: {e}"))),
    }
}

/// `application/json`, with or without parameters such as `charset=utf-8`.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip("10.0.0.1"), t0).is_ok());
        }
        let wait = limiter.check(ip("10.0.0.1"), t0).unwrap_err();
        // 3 per minute refills one every 20 s.
        assert!((wait.as_secs_f64() - 20.0).abs() < 0.01, "{wait:?}");
        // Another client has its own budget.
        assert!(limiter.check(ip("10.0.0.2"), t0).is_ok());
        // After 20 s exactly one more request fits.
        let t1 = t0 + Duration::from_secs(20);
        assert!(limiter.check(ip("10.0.0.1"), t1).is_ok());
        assert!(limiter.check(ip("10.0.0.1"), t1).is_err());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let limiter = RateLimiter::new(1);
        let t0 = Instant::now();
        assert!(limiter.check(ip("2001:db8:1:2::1"), t0).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2::ffff"), t0).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1"), t0).is_ok());
        // An IPv4-mapped address is the IPv4 client.
        assert!(limiter.check(ip("192.0.2.7"), t0).is_ok());
        assert!(limiter.check(ip("::ffff:192.0.2.7"), t0).is_err());
    }

    #[test]
    fn idle_clients_are_pruned() {
        let limiter = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..PRUNE_THRESHOLD as u32 {
            let _ = limiter.check(IpAddr::V4(i.into()), t0);
        }
        // A minute later all of them are full again, so the next insert prunes them.
        let _ = limiter.check(ip("10.9.9.9"), t0 + Duration::from_secs(61));
        let inner = limiter.inner.lock().unwrap();
        assert_eq!(inner.by_client.len(), 1);
    }

    #[test]
    fn content_type_essence() {
        let mut h = HeaderMap::new();
        assert!(!is_json_content_type(&h));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json_content_type(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json_content_type(&h));
    }
}
