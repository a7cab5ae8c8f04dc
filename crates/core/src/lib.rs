//! Sans-IO core of anam-wasm: every wire type of the Anam protocol and every decision the client
//! makes. No IO, no clock, no randomness: time and random numbers arrive as inputs, so the whole
//! client logic is tested natively with a fake clock.
#![warn(missing_docs)]

pub mod base64;
pub mod claims;
pub mod decimal;
pub mod errors;
pub mod retry;
pub mod session;
pub mod stats_report;
pub mod wire;

/// The JSON value, parser and writer (the crate `anam-json`), with the typed field reads the
/// wire decoders are written with.
pub mod json {
    pub use crate::wire::fields::{decode_with, field_error, Fields};
    pub use anam_json::*;
}

/// Version of this crate (and of the whole workspace).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
