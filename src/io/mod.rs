//! Browser IO adapters. Each one is an RAII value: dropping it detaches its listeners, clears its
//! timers and closes what it opened, so a torn-down session leaves nothing behind.

pub mod http;
pub mod media;
pub mod peer;
pub mod socket;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(thread_local_v2, js_namespace = performance, js_name = timeOrigin)]
    static TIME_ORIGIN: f64;
}

/// The current time in Unix milliseconds, the clock of the core machine: the wall clock read
/// once, when the page started, advanced by the monotonic clock. Every deadline of the core
/// (heartbeats, watchdogs, backoff) is armed as a `setTimeout` of `deadline - now()`, so with
/// `Date.now()` a wall-clock step (NTP, a resumed VM) would fire them all at once when it went
/// forward and hold them back by the step when it went back.
pub fn now() -> u64 {
    (TIME_ORIGIN.with(|origin| *origin) + performance_now()) as u64
}
