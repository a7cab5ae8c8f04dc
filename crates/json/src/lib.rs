//! A small JSON value, parser and writer: the one codec of the Anam wire types, for the browser
//! client and the servers alike (anam-core's `FromJson`/`ToJson` are built on it).
//!
//! It exists instead of serde: serde_json's generic machinery, its `BTreeMap` objects and float
//! formatting cost the wasm bundle far more than this purpose-built codec (docs/BENCHMARKS.md).
//! Numbers keep their JSON text, so user data round-trips exactly and nothing here formats a
//! float.
#![warn(missing_docs)]

mod number;
mod parse;
mod serde_impl;
mod value;
mod write;

pub use parse::{parse, ParseError, MAX_DEPTH};
pub use serde_impl::{serialize_for_js, serialize_some_for_js, ForJs};
pub use value::{Number, Object, Value};
pub use write::{write_string, write_value};

#[cfg(test)]
mod tests;
