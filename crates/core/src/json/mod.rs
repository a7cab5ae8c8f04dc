//! A small JSON value, parser and writer for the browser client.
//!
//! The wire types keep their serde derives for the servers, but the wasm client decodes and
//! encodes through this module instead: serde_json's generic machinery, its `BTreeMap` objects
//! and float formatting cost the wasm bundle far more than a purpose-built codec. Numbers keep
//! their JSON text, so user data round-trips exactly and nothing here formats a float.

mod access;
mod number;
mod parse;
mod serde_impl;
mod value;
mod write;

pub use access::{decode_with, field_error, Fields};
pub use parse::{parse, ParseError, MAX_DEPTH};
pub use serde_impl::{serialize_for_js, serialize_some_for_js, ForJs};
pub use value::{Number, Object, Value};
pub use write::{write_string, write_value};

#[cfg(test)]
mod tests;
