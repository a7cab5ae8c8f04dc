//! Types for every message on the wire (docs/PROTOCOL.md sections 2-9), with two codecs: serde
//! derives for the servers (axum), and hand-written [`FromJson`]/[`ToJson`] codecs on
//! [`crate::json`] for the browser client, which keep serde out of the wasm bundle. The
//! `codec_agreement` tests hold the two to one wire format.
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

/// Hand-written decoding of a wire type from JSON: the client's path. The serde derives of the
/// same types serve the servers; core tests check that both codecs agree.
///
/// A decoder reads every field through `fields`, which records the first failure (see
/// [`json::decode_with`]).
pub trait FromJson: Sized {
    /// Reads the type from its payload fields; failures are recorded in `fields`.
    fn from_json(fields: Fields<'_>) -> Self;
}

/// Hand-written encoding of a wire type as a JSON object (keys as serde would write them,
/// absent optional fields left out).
pub trait ToJson {
    /// The type as a JSON object, ready to wrap in its envelope.
    fn to_json(&self) -> Object;
}

/// Decodes the payload of message `kind`, which must be an object.
pub fn decode_payload<T: FromJson>(kind: &str, value: &Value) -> Result<T, DecodeError> {
    json::decode_with(kind, value, T::from_json)
}

/// Decodes a typed payload with serde, naming the message kind in the error. Only the servers'
/// decoders use it (the client's go through [`FromJson`]).
pub(crate) fn payload_as<T: serde::de::DeserializeOwned>(
    kind: &str,
    value: Value,
) -> Result<T, DecodeError> {
    serde_json::from_value(serde_json::Value::from(value)).map_err(|e| DecodeError::BadPayload {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}

/// Serializes a typed payload with serde (servers only). Our payload types are plain structs
/// with string keys, for which serialization cannot fail; `Null` is a harmless fallback.
pub(crate) fn to_value<T: serde::Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).map_or(Value::Null, Value::from)
}
