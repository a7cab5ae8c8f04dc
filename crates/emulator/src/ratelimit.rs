//! The API key's budget of token mints per minute: `governor`'s GCRA, a burst of the whole
//! minute's budget, then one more every `60 s / per_minute`. One limiter, not one per key: the
//! check runs after the key is verified, and the emulator accepts a single key.
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

pub struct RateLimiter {
    limiter: DefaultDirectRateLimiter,
}

impl RateLimiter {
    /// `per_minute` of 0 is treated as 1 (the command line refuses 0).
    pub fn new(per_minute: u32) -> Self {
        let burst = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        RateLimiter {
            limiter: governor::RateLimiter::direct(Quota::per_minute(burst)),
        }
    }

    /// Counts one mint; `Err(retry_after_secs)` once the budget is spent.
    pub fn check(&self) -> Result<(), u64> {
        self.limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_the_budget_then_retry_after_one_refill() {
        let rl = RateLimiter::new(2);
        assert!(rl.check().is_ok());
        assert!(rl.check().is_ok());
        let retry = rl.check().unwrap_err();
        // 2 per minute refills one every 30 s.
        assert!((29..=30).contains(&retry), "{retry}");
    }
}
