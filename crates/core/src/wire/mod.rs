//! Serde types for every message on the wire (ANAM_PROTOCOL.md sections 2-9).
//!
//! Everything here decodes input from the network, so decoders return typed errors and never
//! panic; unknown JSON keys are ignored and unknown message kinds decode to an `Unknown` variant.
pub mod datachannel;
pub mod rest;
pub mod signalling;

use std::fmt;

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
    BadPayload { kind: String, reason: String },
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
pub(crate) fn parse_object(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, DecodeError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(DecodeError::NotAnObject),
        Err(e) => Err(DecodeError::NotJson(e.to_string())),
    }
}

/// Decodes a typed payload, naming the message kind in the error.
pub(crate) fn payload_as<T: serde::de::DeserializeOwned>(
    kind: &str,
    value: serde_json::Value,
) -> Result<T, DecodeError> {
    serde_json::from_value(value).map_err(|e| DecodeError::BadPayload {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}

/// Serializes a typed payload to a JSON value. Our payload types are plain structs with string
/// keys, for which serialization cannot fail; `Null` is a harmless fallback all the same.
pub(crate) fn to_value<T: serde::Serialize>(payload: &T) -> serde_json::Value {
    serde_json::to_value(payload).unwrap_or(serde_json::Value::Null)
}
