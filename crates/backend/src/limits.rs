//! Abuse limits: who a request counts against (the signed-in user, else the client address,
//! read through `TRUSTED_PROXIES` only), the per-minute rate limit and the per-user budgets on
//! token minting, kept in this process or in Redis for every replica at once, and the bounded,
//! typed reading of the request body.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use ipnet::IpNet;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::auth::Identity;
use crate::config::Config;
use crate::errors::ApiError;

/// The issue's body limit. A token request body is `{"personaId": "…"}`: tens of bytes.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// How long a minted token counts as active when its own `exp` cannot be read.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
const HOUR: Duration = Duration::from_secs(3600);
/// Every this many checks, forget clients whose limits are back to full, so memory stays
/// bounded under a flood of distinct addresses.
const PRUNE_EVERY: u64 = 4096;
/// A Redis call slower than this counts as Redis being unavailable.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1500);

// ---- who is asking ---------------------------------------------------------------------------

/// The client address of a request: the peer, or, when the peer is one of `TRUSTED_PROXIES`,
/// the address that proxy says it forwarded for. Headers from any other peer are ignored: a
/// client could otherwise pick a fresh address for every request.
pub fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // Without connection info (router tests without sockets) every request is one client:
    // stricter, never looser.
    let Some(peer) = peer.map(|p| canonical(p.ip())) else {
        return IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_for(headers);
    // Walk from the nearest hop back: the first address not of our own proxies is the client.
    // Anything further left was written by the client itself and proves nothing.
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

/// The addresses of `Forwarded: for=` (RFC 7239) or, without it, `X-Forwarded-For`, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: header::HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let forwarded = values(header::FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for").then(|| parse_node(v))?
                })
            })
            .collect();
    }
    values(header::HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| parse_node(v))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = v.parse::<SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = v.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// IPv6 clients usually hold a whole /64, so they are limited per /64, not per address.
fn address_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// What the limits count against: the signed-in user when known, else the address.
pub fn limit_key(identity: Option<&Identity>, client: IpAddr) -> String {
    match identity {
        Some(id) => format!("sub:{}", id.sub),
        None => format!("ip:{}", address_key(client)),
    }
}

// ---- the limits ------------------------------------------------------------------------------

/// The rate limit and budgets of the token route, in memory or in Redis.
pub struct Limits {
    per_minute: u32,
    per_hour: Option<u32>,
    max_active: Option<u32>,
    fail_open: bool,
    store: Store,
    /// Set while the store is unreachable, so the outage is logged once, not per request.
    degraded: AtomicBool,
    next_id: AtomicU64,
    /// A random prefix for reservation ids, unique across replicas sharing one Redis.
    instance: u64,
}

enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// A slot taken in the budgets, given back if no token comes of it.
#[derive(Debug)]
pub struct Reservation {
    key: String,
    id: String,
}

/// The limits' health, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitsHealth {
    Ok,
    /// The shared store is unreachable: minting is refused (or unlimited with fail-open).
    Degraded,
}

impl Limits {
    pub fn new(config: &Config) -> Result<Self, String> {
        let store = match &config.redis_url {
            None => Store::Memory(MemoryStore::new(config.rate_limit_per_minute)),
            Some(url) => Store::Redis(RedisStore::new(url.expose())?),
        };
        Ok(Self {
            per_minute: config.rate_limit_per_minute.max(1),
            per_hour: config.tokens_per_user_per_hour,
            max_active: config.max_active_tokens_per_user,
            fail_open: config.limits_fail_open,
            store,
            degraded: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            instance: random_u64(),
        })
    }

    /// `"memory"` or `"redis"`, for the startup line and metrics.
    pub fn backend_name(&self) -> &'static str {
        match self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Counts one mint attempt against `key`: the reservation to settle or release, `None` when
    /// the store is down and fail-open lets the request through unlimited, or the refusal.
    pub async fn acquire(&self, key: &str) -> Result<Option<Reservation>, ApiError> {
        let id = format!(
            "{:016x}-{}",
            self.instance,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let outcome = match &self.store {
            Store::Memory(m) => Ok(m.acquire(key, &id, self.per_hour, self.max_active)),
            Store::Redis(r) => {
                r.acquire(key, &id, self.per_minute, self.per_hour, self.max_active)
                    .await
            }
        };
        match outcome {
            Ok(Verdict::Allowed) => {
                self.mark_up();
                Ok(Some(Reservation {
                    key: key.to_owned(),
                    id,
                }))
            }
            Ok(refused) => {
                self.mark_up();
                Err(refused.into_error(key))
            }
            Err(e) => {
                self.mark_down(&e);
                if self.fail_open {
                    Ok(None)
                } else {
                    Err(ApiError::limits_unavailable(e))
                }
            }
        }
    }

    /// The minted token is active until `expires_in` from now.
    pub async fn settle(&self, reservation: &Reservation, expires_in: Duration) {
        if self.max_active.is_none() {
            return;
        }
        match &self.store {
            Store::Memory(m) => m.settle(reservation, expires_in),
            Store::Redis(r) => {
                if let Err(e) = r.settle(reservation, expires_in).await {
                    self.mark_down(&e);
                }
            }
        }
    }

    /// No token came of the reservation: give its budget slots back (the rate limit keeps
    /// counting the attempt).
    pub async fn release(&self, reservation: Reservation) {
        match &self.store {
            Store::Memory(m) => m.release(&reservation),
            Store::Redis(r) => {
                if let Err(e) = r.release(&reservation).await {
                    self.mark_down(&e);
                }
            }
        }
    }

    /// Checks the store now (a Redis `PING`), so `/healthz` is current even when nobody mints.
    pub async fn health(&self) -> LimitsHealth {
        if let Store::Redis(r) = &self.store {
            match r.ping().await {
                Ok(()) => self.mark_up(),
                Err(e) => self.mark_down(&e),
            }
        }
        if self.degraded.load(Ordering::Relaxed) {
            LimitsHealth::Degraded
        } else {
            LimitsHealth::Ok
        }
    }

    fn mark_down(&self, error: &str) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::error!(
                error,
                fail_open = self.fail_open,
                "limits store unreachable: {}",
                if self.fail_open {
                    "minting WITHOUT limits until it is back (LIMITS_FAIL_OPEN)"
                } else {
                    "refusing to mint until it is back"
                }
            );
        }
    }

    fn mark_up(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("limits store reachable again");
        }
    }
}

enum Verdict {
    Allowed,
    RateLimited(Duration),
    BudgetExhausted(Duration),
    TooManyActive(Duration),
}

impl Verdict {
    fn into_error(self, key: &str) -> ApiError {
        let secs = |d: Duration| d.as_secs_f64().ceil() as u64;
        let detail = format!("limit key {}", crate::errors::truncate(key, 200));
        match self {
            Self::Allowed => unreachable!("an allowed verdict is not a refusal"),
            Self::RateLimited(d) => ApiError::rate_limited(secs(d)).with_detail(detail),
            Self::BudgetExhausted(d) => ApiError::budget_exhausted(secs(d)).with_detail(detail),
            Self::TooManyActive(d) => ApiError::too_many_active(secs(d)).with_detail(detail),
        }
    }
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std seeds every RandomState from the OS: a random number without a random-number crate.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

// ---- in this process -------------------------------------------------------------------------

struct MemoryStore {
    rate: DefaultKeyedRateLimiter<String>,
    budgets: Mutex<HashMap<String, Budget>>,
    checks: AtomicU64,
}

#[derive(Default)]
struct Budget {
    /// When each token of the last hour was reserved, oldest first.
    minted: VecDeque<(Instant, String)>,
    /// Until when each token counts as active.
    active: Vec<(Instant, String)>,
}

impl MemoryStore {
    fn new(per_minute: u32) -> Self {
        let burst = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            rate: governor::RateLimiter::keyed(Quota::per_minute(burst)),
            budgets: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
        }
    }

    fn acquire(
        &self,
        key: &str,
        id: &str,
        per_hour: Option<u32>,
        max_active: Option<u32>,
    ) -> Verdict {
        let now = Instant::now();
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune(now);
        }
        if let Err(not_until) = self.rate.check_key(&key.to_owned()) {
            return Verdict::RateLimited(not_until.wait_time_from(DefaultClock::default().now()));
        }
        if per_hour.is_none() && max_active.is_none() {
            return Verdict::Allowed;
        }
        // A poisoned lock only means another request panicked mid-update; the counters are
        // still usable, and refusing every later request would be worse.
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        let budget = budgets.entry(key.to_owned()).or_default();
        budget.forget_before(now);
        if let Some(limit) = per_hour {
            if budget.minted.len() >= limit as usize {
                let oldest = budget.minted.front().map_or(now, |(t, _)| *t);
                return Verdict::BudgetExhausted((oldest + HOUR).saturating_duration_since(now));
            }
        }
        if let Some(limit) = max_active {
            if budget.active.len() >= limit as usize {
                let first = budget.active.iter().map(|(t, _)| *t).min().unwrap_or(now);
                return Verdict::TooManyActive(first.saturating_duration_since(now));
            }
        }
        if per_hour.is_some() {
            budget.minted.push_back((now, id.to_owned()));
        }
        if max_active.is_some() {
            budget
                .active
                .push((now + DEFAULT_TOKEN_LIFETIME, id.to_owned()));
        }
        Verdict::Allowed
    }

    fn settle(&self, r: &Reservation, expires_in: Duration) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = budgets.get_mut(&r.key) {
            for (until, id) in &mut b.active {
                if *id == r.id {
                    *until = Instant::now() + expires_in;
                }
            }
        }
    }

    fn release(&self, r: &Reservation) {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = budgets.get_mut(&r.key) {
            b.minted.retain(|(_, id)| *id != r.id);
            b.active.retain(|(_, id)| *id != r.id);
        }
    }

    fn prune(&self, now: Instant) {
        self.rate.retain_recent();
        self.rate.shrink_to_fit();
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        budgets.retain(|_, b| {
            b.forget_before(now);
            !b.minted.is_empty() || !b.active.is_empty()
        });
        budgets.shrink_to_fit();
    }

    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        (
            self.rate.len(),
            self.budgets.lock().unwrap_or_else(|e| e.into_inner()).len(),
        )
    }
}

impl Budget {
    fn forget_before(&mut self, now: Instant) {
        while self
            .minted
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= HOUR)
        {
            self.minted.pop_front();
        }
        self.active.retain(|(until, _)| *until > now);
    }
}

// ---- in Redis --------------------------------------------------------------------------------

/// One script checks and takes all three limits in a single atomic step, on Redis's clock (the
/// replicas' clocks may differ). Each limit is a sorted set of reservation ids scored by time;
/// every key expires by itself once its newest entry is out of its window.
const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, per_minute = ARGV[1], tonumber(ARGV[2])
local per_hour, max_active, lifetime = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function oldest(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tonumber(first[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
if redis.call('ZCARD', KEYS[1]) >= per_minute then
  return {1, oldest(KEYS[1]) + 60000 - now}
end
redis.call('ZADD', KEYS[1], now, id)
redis.call('PEXPIRE', KEYS[1], 60000)
if per_hour > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600000)
  if redis.call('ZCARD', KEYS[2]) >= per_hour then
    return {2, oldest(KEYS[2]) + 3600000 - now}
  end
end
if max_active > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= max_active then
    return {3, oldest(KEYS[3]) - now}
  end
end
if per_hour > 0 then
  redis.call('ZADD', KEYS[2], now, id)
  redis.call('PEXPIRE', KEYS[2], 3600000)
end
if max_active > 0 then
  redis.call('ZADD', KEYS[3], now + lifetime, id)
  if redis.call('PTTL', KEYS[3]) < lifetime then
    redis.call('PEXPIRE', KEYS[3], lifetime)
  end
end
return {0, 0}
"#;

/// Moves one active token's expiry to its real `exp`.
const SETTLE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lifetime = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lifetime, ARGV[1]) == 1 then
  if redis.call('PTTL', KEYS[1]) < lifetime then
    redis.call('PEXPIRE', KEYS[1], lifetime)
  end
end
return 0
"#;

struct RedisStore {
    manager: redis::aio::ConnectionManager,
    acquire: redis::Script,
    settle: redis::Script,
}

impl RedisStore {
    fn new(url: &str) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("REDIS_URL is not usable: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        // Lazy: the server starts (and serves the page) while Redis is still coming up.
        let manager = redis::aio::ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            manager,
            acquire: redis::Script::new(ACQUIRE),
            settle: redis::Script::new(SETTLE),
        })
    }

    /// The three keys of one client. The `{...}` hash tag keeps them in one cluster slot, which
    /// a multi-key script needs.
    fn keys(key: &str) -> [String; 3] {
        let tag = key.replace(['{', '}'], "_");
        [
            format!("anam-backend:{{{tag}}}:rate"),
            format!("anam-backend:{{{tag}}}:hour"),
            format!("anam-backend:{{{tag}}}:active"),
        ]
    }

    async fn acquire(
        &self,
        key: &str,
        id: &str,
        per_minute: u32,
        per_hour: Option<u32>,
        max_active: Option<u32>,
    ) -> Result<Verdict, String> {
        let [rate, hour, active] = Self::keys(key);
        let mut conn = self.manager.clone();
        let mut call = self.acquire.key(rate);
        call.key(hour)
            .key(active)
            .arg(id)
            .arg(per_minute)
            .arg(per_hour.unwrap_or(0))
            .arg(max_active.unwrap_or(0))
            .arg(DEFAULT_TOKEN_LIFETIME.as_millis() as u64);
        let (verdict, wait_ms): (i64, i64) = timed(call.invoke_async(&mut conn)).await?;
        let wait = Duration::from_millis(wait_ms.max(0) as u64);
        Ok(match verdict {
            0 => Verdict::Allowed,
            1 => Verdict::RateLimited(wait),
            2 => Verdict::BudgetExhausted(wait),
            _ => Verdict::TooManyActive(wait),
        })
    }

    async fn settle(&self, r: &Reservation, expires_in: Duration) -> Result<(), String> {
        let [_, _, active] = Self::keys(&r.key);
        let mut conn = self.manager.clone();
        let mut call = self.settle.key(active);
        call.arg(&r.id).arg(expires_in.as_millis() as u64);
        let _: i64 = timed(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn release(&self, r: &Reservation) -> Result<(), String> {
        let [_, hour, active] = Self::keys(&r.key);
        let mut conn = self.manager.clone();
        let mut pipe = redis::pipe();
        pipe.zrem(hour, &r.id).ignore().zrem(active, &r.id).ignore();
        let () = timed(pipe.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), String> {
        let mut conn = self.manager.clone();
        let pong: String = timed(redis::cmd("PING").query_async(&mut conn)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(format!("PING answered {pong:?}"))
        }
    }
}

async fn timed<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(REDIS_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("redis: {e}")),
        Err(_) => Err("redis: no answer in time".to_owned()),
    }
}

// ---- the request body ------------------------------------------------------------------------

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

    fn memory(per_minute: u32, per_hour: Option<u32>, max_active: Option<u32>) -> Limits {
        Limits {
            per_minute,
            per_hour,
            max_active,
            fail_open: false,
            store: Store::Memory(MemoryStore::new(per_minute)),
            degraded: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            instance: 7,
        }
    }

    #[tokio::test]
    async fn burst_then_refused_with_retry_after() {
        let limits = memory(3, None, None);
        for _ in 0..3 {
            assert!(limits.acquire("ip:10.0.0.1").await.is_ok());
        }
        let refused = limits.acquire("ip:10.0.0.1").await.unwrap_err();
        assert_eq!(refused.kind.code, "rate_limited");
        // 3 per minute refills one every 20 s.
        let wait: u64 = refused
            .retry_after
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((19..=20).contains(&wait), "{wait}");
        assert!(limits.acquire("ip:10.0.0.2").await.is_ok());
    }

    #[tokio::test]
    async fn hourly_budget_and_active_tokens_per_key() {
        let limits = memory(100, Some(3), None);
        for _ in 0..3 {
            limits.acquire("sub:a").await.unwrap();
        }
        let e = limits.acquire("sub:a").await.unwrap_err();
        assert_eq!(e.kind.code, "token_budget_exhausted");
        assert!(limits.acquire("sub:b").await.is_ok());

        // A released reservation (no token came of it) gives its slot back.
        let limits = memory(100, Some(1), None);
        let r = limits.acquire("sub:a").await.unwrap().unwrap();
        limits.release(r).await;
        assert!(limits.acquire("sub:a").await.is_ok());

        let limits = memory(100, None, Some(2));
        let r1 = limits.acquire("sub:a").await.unwrap().unwrap();
        let _r2 = limits.acquire("sub:a").await.unwrap().unwrap();
        let e = limits.acquire("sub:a").await.unwrap_err();
        assert_eq!(e.kind.code, "too_many_active_tokens");
        // A token that has expired no longer counts.
        limits.settle(&r1, Duration::ZERO).await;
        assert!(limits.acquire("sub:a").await.is_ok());
    }

    #[test]
    fn idle_clients_are_pruned() {
        let store = MemoryStore::new(60);
        for i in 0..100u32 {
            let _ = store.acquire(&format!("ip:{i}"), "x", Some(5), None);
        }
        assert_eq!(store.tracked(), (100, 100));
        store.prune(Instant::now() + HOUR + Duration::from_secs(1));
        assert_eq!(store.tracked().1, 0);
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        assert_eq!(
            limit_key(None, ip("2001:db8:1:2::1")),
            limit_key(None, ip("2001:db8:1:2::ffff"))
        );
        assert_ne!(
            limit_key(None, ip("2001:db8:1:2::1")),
            limit_key(None, ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            limit_key(None, ip("::ffff:192.0.2.7")),
            limit_key(None, ip("192.0.2.7"))
        );
    }

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = |s: &str| Some(SocketAddr::new(ip(s), 1234));
        let xff = hdrs(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1")]);
        // From an untrusted peer the header is the client's own claim: ignored.
        assert_eq!(
            client_address(peer("203.0.113.5"), &xff, &trusted),
            ip("203.0.113.5")
        );
        // From our proxy: the nearest hop that is not ours. The left-most entry was forged.
        assert_eq!(
            client_address(peer("10.0.0.2"), &xff, &trusted),
            ip("198.51.100.9")
        );
        let fwd = hdrs(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"",
        )]);
        assert_eq!(
            client_address(peer("10.0.0.2"), &fwd, &trusted),
            ip("2001:db8::1")
        );
        // A trusted peer without a header is the client.
        assert_eq!(
            client_address(peer("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        // Without TRUSTED_PROXIES nobody is trusted.
        assert_eq!(client_address(peer("10.0.0.2"), &xff, &[]), ip("10.0.0.2"));
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
