//! Per-API-key budget of token mints per minute (fixed one-minute windows).
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);
/// Bound on remembered keys, so that a flood of made-up keys cannot grow memory without limit
/// (only the real key gets this far, but the limiter does not rely on that).
const MAX_KEYS: usize = 1024;

pub struct RateLimiter {
    per_window: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_window: per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key`; `Err(retry_after_secs)` once the budget is spent.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_KEYS && !windows.contains_key(key) {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_per_key_and_resets_each_minute() {
        let rl = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(rl.check("a", t0).is_ok());
        assert!(rl.check("a", t0).is_ok());
        let retry = rl.check("a", t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(retry, 50);
        assert!(rl.check("b", t0).is_ok());
        assert!(rl.check("a", t0 + Duration::from_secs(61)).is_ok());
    }
}
