//! Typed reads of an object's fields, for the hand-written decoders of the wire types.
//!
//! The rules mirror what the serde derives accept, so both codecs agree on every input: a
//! required field must be present with the right type; a defaulted field may be absent but not
//! `null`; an optional field may be absent or `null`. Failures are
//! [`DecodeError::BadPayload`] naming the message kind and the field.

use super::value::{Number, Object, Value};
use crate::wire::DecodeError;

/// A `BadPayload` error for message `kind`.
pub fn field_error(kind: &str, reason: impl Into<String>) -> DecodeError {
    DecodeError::BadPayload {
        kind: kind.to_owned(),
        reason: reason.into(),
    }
}

/// The fields of one payload object of message `kind`.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    kind: &'a str,
    object: &'a Object,
}

/// How a JSON value reads as a field of some Rust type.
type Read<'v, T> = fn(&'v Value) -> Option<T>;

impl<'a> Fields<'a> {
    /// The payload must be an object.
    pub fn of(kind: &'a str, value: &'a Value) -> Result<Fields<'a>, DecodeError> {
        match value {
            Value::Object(object) => Ok(Fields { kind, object }),
            _ => Err(field_error(kind, "expected an object")),
        }
    }

    pub fn new(kind: &'a str, object: &'a Object) -> Fields<'a> {
        Fields { kind, object }
    }

    pub fn object(&self) -> &'a Object {
        self.object
    }

    fn typed<T>(
        &self,
        key: &str,
        value: &'a Value,
        read: Read<'a, T>,
        what: &str,
    ) -> Result<T, DecodeError> {
        read(value).ok_or_else(|| wrong_type(self.kind, key, what))
    }

    fn required<T>(&self, key: &str, read: Read<'a, T>, what: &str) -> Result<T, DecodeError> {
        match self.object.get(key) {
            Some(value) => self.typed(key, value, read, what),
            None => Err(missing(self.kind, key)),
        }
    }

    fn defaulted<T: Default>(
        &self,
        key: &str,
        read: Read<'a, T>,
        what: &str,
    ) -> Result<T, DecodeError> {
        match self.object.get(key) {
            Some(value) => self.typed(key, value, read, what),
            None => Ok(T::default()),
        }
    }

    fn optional<T>(
        &self,
        key: &str,
        read: Read<'a, T>,
        what: &str,
    ) -> Result<Option<T>, DecodeError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => self.typed(key, value, read, what).map(Some),
        }
    }

    /// A string that must be present.
    pub fn string(&self, key: &str) -> Result<String, DecodeError> {
        self.required(key, read_string, "a string")
    }

    /// A string that reads as `""` when absent.
    pub fn string_or_empty(&self, key: &str) -> Result<String, DecodeError> {
        self.defaulted(key, read_string, "a string")
    }

    /// A string that may be absent or `null`.
    pub fn opt_string(&self, key: &str) -> Result<Option<String>, DecodeError> {
        self.optional(key, read_string, "a string")
    }

    pub fn bool(&self, key: &str) -> Result<bool, DecodeError> {
        self.required(key, Value::as_bool, "a boolean")
    }

    pub fn bool_or_false(&self, key: &str) -> Result<bool, DecodeError> {
        self.defaulted(key, Value::as_bool, "a boolean")
    }

    pub fn u64(&self, key: &str) -> Result<u64, DecodeError> {
        self.required(key, Value::as_u64, "a non-negative integer")
    }

    pub fn u32(&self, key: &str) -> Result<u32, DecodeError> {
        self.required(key, read_u32, "a 32-bit non-negative integer")
    }

    pub fn u16(&self, key: &str) -> Result<u16, DecodeError> {
        self.required(key, read_u16, "a 16-bit non-negative integer")
    }

    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, DecodeError> {
        self.optional(key, read_u32, "a 32-bit non-negative integer")
    }

    pub fn opt_u16(&self, key: &str) -> Result<Option<u16>, DecodeError> {
        self.optional(key, read_u16, "a 16-bit non-negative integer")
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, DecodeError> {
        self.optional(key, Value::as_f64, "a number")
    }

    /// A string that may be absent but not `null` (serde's rule for a non-`Option` field with
    /// a default, such as an enum read from a string).
    pub fn opt_string_not_null(&self, key: &str) -> Result<Option<String>, DecodeError> {
        match self.object.get(key) {
            None => Ok(None),
            Some(value) => self.typed(key, value, read_string, "a string").map(Some),
        }
    }

    /// A list of strings that may be absent or `null`.
    pub fn opt_strings(&self, key: &str) -> Result<Option<Vec<String>>, DecodeError> {
        self.optional(key, read_strings, "a list of strings")
    }

    /// An object that reads as `{}` when absent.
    pub fn object_or_empty(&self, key: &str) -> Result<Object, DecodeError> {
        self.defaulted(key, |v| v.as_object().cloned(), "an object")
    }

    /// A number (kept as its text) that may be absent or `null`.
    pub fn opt_number(&self, key: &str) -> Result<Option<Number>, DecodeError> {
        self.optional(key, |v| v.as_number().cloned(), "a number")
    }

    /// Any JSON, `null` when absent.
    pub fn any(&self, key: &str) -> Value {
        self.object.get(key).cloned().unwrap_or(Value::Null)
    }
}

// The two field errors are built out of line: `typed` and `required` are generic over the field
// type, and an inlined `format!` in each of their copies cost the wasm build 1.6 KB (0.4 KB gzip).
#[cold]
#[inline(never)]
fn wrong_type(kind: &str, key: &str, what: &str) -> DecodeError {
    field_error(kind, format!("field `{key}` must be {what}"))
}

#[cold]
#[inline(never)]
fn missing(kind: &str, key: &str) -> DecodeError {
    field_error(kind, format!("missing field `{key}`"))
}

fn read_string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn read_strings(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(read_string).collect()
}

fn read_u32(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn read_u16(value: &Value) -> Option<u16> {
    value.as_u64().and_then(|n| u16::try_from(n).ok())
}
