//! Start-session retry policy (§3.4): bounded attempts, equal-jitter exponential backoff and a
//! per-attempt timeout. Pure: the random number is an argument, so delays are testable.

/// Defaults of the official client.
pub const DEFAULT_START_ATTEMPTS: u32 = 3;
/// Backoff cap after the first failed attempt, in ms (doubles per attempt).
pub const DEFAULT_INITIAL_BACKOFF_MS: u64 = 250;
/// Upper bound of any retry delay, in ms.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 2000;
/// Per-attempt timeout of the start-session request, in ms.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// A normalised retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first; at least 1.
    pub max_attempts: u32,
    /// Backoff cap after the first failure, doubling per attempt; never negative.
    pub initial_backoff_ms: u64,
    /// At least `initial_backoff_ms`.
    pub max_backoff_ms: u64,
    /// Per-attempt timeout; 0 disables it.
    pub request_timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_START_ATTEMPTS,
            initial_backoff_ms: DEFAULT_INITIAL_BACKOFF_MS,
            max_backoff_ms: DEFAULT_MAX_BACKOFF_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

/// A finite option value, or `None` for absent/NaN/±infinity (which all mean "use the default").
fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// Converts a non-negative finite millisecond count to `u64`. Fractions are dropped: delays are
/// floored at the end anyway, and timers have millisecond resolution. The cast saturates.
fn to_ms(value: f64) -> u64 {
    value.max(0.0) as u64
}

impl RetryPolicy {
    /// Builds a policy from the app's raw numeric options (JS numbers, so possibly NaN or
    /// infinite), applying the normalisation table of §3.4 in order: attempts (non-finite →
    /// default, floored, min 1), initial backoff (non-finite → default, min 0), max backoff
    /// (non-finite → default, min = initial backoff), timeout (non-finite → default, min 0).
    pub fn from_options(
        max_attempts: Option<f64>,
        initial_backoff_ms: Option<f64>,
        max_backoff_ms: Option<f64>,
        request_timeout_ms: Option<f64>,
    ) -> RetryPolicy {
        let max_attempts = finite(max_attempts)
            .map(|n| n.floor().max(1.0) as u32)
            .unwrap_or(DEFAULT_START_ATTEMPTS);
        let initial_backoff_ms = finite(initial_backoff_ms)
            .map(to_ms)
            .unwrap_or(DEFAULT_INITIAL_BACKOFF_MS);
        let max_backoff_ms = finite(max_backoff_ms)
            .map(to_ms)
            .unwrap_or(DEFAULT_MAX_BACKOFF_MS)
            .max(initial_backoff_ms);
        let request_timeout_ms = finite(request_timeout_ms)
            .map(to_ms)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
        RetryPolicy {
            max_attempts,
            initial_backoff_ms,
            max_backoff_ms,
            request_timeout_ms,
        }
    }

    /// The per-attempt timeout, or `None` when disabled.
    pub fn request_timeout(&self) -> Option<u64> {
        (self.request_timeout_ms > 0).then_some(self.request_timeout_ms)
    }

    /// Whether another attempt may follow failed attempt `attempt_1based` (given the failure
    /// itself is retryable).
    pub fn allows_another_attempt(&self, attempt_1based: u32) -> bool {
        attempt_1based < self.max_attempts
    }

    /// The upper bound of the delay after failed attempt `attempt_1based`:
    /// `min(max_backoff, initial_backoff · 2^(n−1))`.
    pub fn backoff_cap_ms(&self, attempt_1based: u32) -> u64 {
        let exponent = attempt_1based.saturating_sub(1);
        // 2^64 already exceeds any u64 cap, so larger exponents change nothing.
        let doubled = if exponent >= 64 {
            u64::MAX
        } else {
            self.initial_backoff_ms.saturating_mul(1u64 << exponent)
        };
        doubled.min(self.max_backoff_ms)
    }

    /// "Equal jitter" delay after failed attempt `attempt_1based`:
    /// `floor(cap/2 + random · cap/2)`, with `random` in `[0, 1)` (clamped; NaN counts as 0).
    /// Defaults give 125–249 ms after attempt 1 and 250–499 ms after attempt 2.
    pub fn delay_after(&self, attempt_1based: u32, random_0_to_1: f64) -> u64 {
        let random = if random_0_to_1.is_nan() {
            0.0
        } else {
            random_0_to_1.clamp(0.0, 1.0)
        };
        let half = self.backoff_cap_ms(attempt_1based) as f64 / 2.0;
        let delay = (half + random * half).floor() as u64;
        // With random = 1.0 exactly the formula would reach the cap; keep it strictly below a
        // non-zero cap, as with JS `Math.random()` which never returns 1.
        let cap = self.backoff_cap_ms(attempt_1based);
        if cap > 0 && delay >= cap {
            cap - 1
        } else {
            delay
        }
    }
}
