//! Browser IO adapters. Each one is an RAII value: dropping it detaches its listeners, clears its
//! timers and closes what it opened, so a torn-down session leaves nothing behind.

pub mod http;
pub mod listener;
pub mod media;
pub mod peer;
pub mod socket;
pub mod timer;

/// The current time in Unix milliseconds, the clock of the core machine.
pub fn now() -> u64 {
    js_sys::Date::now() as u64
}
