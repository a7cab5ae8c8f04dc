//! Sans-IO core of anam-wasm: every wire type of the Anam protocol and every decision the client
//! makes. No IO, no clock, no randomness: time and random numbers arrive as inputs, so the whole
//! client logic is tested natively with a fake clock.
#![warn(missing_docs)]

pub mod base64;
pub mod claims;
pub mod decimal;
pub mod errors;
pub mod json;
pub mod retry;
pub mod session;
pub mod stats_report;
pub mod wire;

/// Version of this crate (and of the whole workspace).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
