//! Types for every message on the wire (docs/PROTOCOL.md sections 2-9), with one codec: the
//! hand-written [`FromJson`]/[`ToJson`] on [`crate::json`], used by the browser client and the
//! servers alike (serde would add 18-32 KB to the wasm bundle, docs/BENCHMARKS.md). A few types
//! the client also hands to JavaScript keep a serde `Serialize` for serde-wasm-bindgen only.
//!
//! Everything here decodes input from the network, so decoders return typed errors and never
//! panic; unknown JSON keys are ignored and unknown message kinds decode to an `Unknown` variant.
pub mod datachannel;
pub(crate) mod fields;
pub mod rest;
pub mod signalling;

use std::fmt;

use crate::json::{self, Fields, Object, Value};

/// Why a signalling or data-channel frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is not valid JSON.
    NotJson(String),
    /// The frame is JSON but not an object.
    NotAnObject,
    /// The discriminating key (`actionType`, `message_type`, `messageType`) is absent or not a
    /// string.
    MissingKind(&'static str),
    /// The kind is known but its payload does not have the documented shape.
    BadPayload {
        /// The message kind (or nested field) whose payload failed.
        kind: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotJson(e) => write!(f, "frame is not JSON: {e}"),
            DecodeError::NotAnObject => f.write_str("frame is not a JSON object"),
            DecodeError::MissingKind(key) => write!(f, "frame has no string `{key}`"),
            DecodeError::BadPayload { kind, reason } => {
                write!(f, "malformed `{kind}` message: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Parses a frame into a JSON object, the first step of every frame decoder.
pub(crate) fn parse_object(text: &str) -> Result<Object, DecodeError> {
    match json::parse(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(DecodeError::NotAnObject),
        Err(e) => Err(DecodeError::NotJson(e.to_string())),
    }
}

/// Decoding of a wire type from JSON, for the client and the servers.
///
/// A decoder reads every field through `fields`, which records the first failure (see
/// [`json::decode_with`]).
pub trait FromJson: Sized {
    /// Reads the type from its payload fields; failures are recorded in `fields`.
    fn from_json(fields: Fields<'_>) -> Self;
}

/// Encoding of a wire type as a JSON object (camelCase or snake_case keys as the protocol has
/// them, absent optional fields left out).
pub trait ToJson {
    /// The type as a JSON object, ready to wrap in its envelope.
    fn to_json(&self) -> Object;
}

/// An untyped object (a listing's envelope, a relayed payload) is its own encoding.
impl ToJson for Object {
    fn to_json(&self) -> Object {
        self.clone()
    }
}

/// Decodes the payload of message `kind`, which must be an object.
pub fn decode_payload<T: FromJson>(kind: &str, value: &Value) -> Result<T, DecodeError> {
    json::decode_with(kind, value, T::from_json)
}

/// An optional nested object field: absent or `null` reads as `None`; a malformed one is
/// recorded in `f` (under the field's name) and reads as `None`.
pub(crate) fn opt_nested<T: FromJson>(f: &Fields<'_>, key: &str) -> Option<T> {
    match f.object().get(key) {
        None | Some(Value::Null) => None,
        Some(value) => decode_payload(key, value).map_err(|e| f.record(e)).ok(),
    }
}
