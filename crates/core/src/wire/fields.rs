//! Typed reads of an object's fields, for the hand-written decoders of the wire types.
//!
//! The rules are serde's, so that the wire format reads as it did with serde derives: a
//! required field must be present with the right type; a defaulted field may be absent but not
//! `null`; an optional field may be absent or `null`. Failures are
//! [`DecodeError::BadPayload`] naming the message kind and the field.
//!
//! A read never fails by itself: a failed one is recorded, returns the type's default, and the
//! decoder goes on; [`decode_with`] then answers the first failure, the one a stop at the first
//! bad field would give. The decoders thus carry no early return per field (with the clean-up of
//! every field read before it): with them, decoders and reads were 17 KB of the wasm build's
//! code, now 10 KB.

use std::cell::Cell;

use crate::json::{Number, Object, Value};
use crate::wire::DecodeError;

/// A `BadPayload` error for message `kind`.
pub fn field_error(kind: &str, reason: impl Into<String>) -> DecodeError {
    DecodeError::BadPayload {
        kind: kind.to_owned(),
        reason: reason.into(),
    }
}

/// Decodes `value`, the payload of message `kind`, with `read`: the first failed read, if any,
/// is the error.
pub fn decode_with<T>(
    kind: &str,
    value: &Value,
    read: impl FnOnce(Fields<'_>) -> T,
) -> Result<T, DecodeError> {
    let Value::Object(object) = value else {
        return Err(field_error(kind, "expected an object"));
    };
    let failure = Cell::new(None);
    let decoded = read(Fields {
        kind,
        object,
        failure: &failure,
    });
    failure.into_inner().map_or(Ok(decoded), Err)
}

/// The fields of one payload object of message `kind`.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    kind: &'a str,
    object: &'a Object,
    /// The first failed read (see the module's comment).
    failure: &'a Cell<Option<DecodeError>>,
}

/// How a JSON value reads as a field of some Rust type.
type Read<'v, T> = fn(&'v Value) -> Option<T>;

impl<'a> Fields<'a> {
    /// The whole payload object.
    pub fn object(&self) -> &'a Object {
        self.object
    }

    /// Records `error` unless an earlier read failed.
    pub fn record(&self, error: DecodeError) {
        let first = self.failure.take().unwrap_or(error);
        self.failure.set(Some(first));
    }

    /// Records a failure of this payload with `reason`.
    pub fn fail(&self, reason: &str) {
        self.record(field_error(self.kind, reason));
    }

    /// The value of a nested decode, or the default once its failure is recorded.
    pub fn or_record<T: Default>(&self, result: Result<T, DecodeError>) -> T {
        result.unwrap_or_else(|e| {
            self.record(e);
            T::default()
        })
    }

    /// `value` read with `read`; `None`, recorded, when it has the wrong type.
    fn checked<T>(&self, key: &str, value: &'a Value, read: Read<'a, T>, what: &str) -> Option<T> {
        let read = read(value);
        if read.is_none() {
            self.record(wrong_type(self.kind, key, what));
        }
        read
    }

    fn typed<T: Default>(&self, key: &str, value: &'a Value, read: Read<'a, T>, what: &str) -> T {
        self.checked(key, value, read, what).unwrap_or_default()
    }

    /// A field that must be present, of a type the caller checks; `None`, recorded, when absent.
    pub fn present(&self, key: &str) -> Option<&'a Value> {
        let value = self.object.get(key);
        if value.is_none() {
            self.record(missing(self.kind, key));
        }
        value
    }

    fn required<T: Default>(&self, key: &str, read: Read<'a, T>, what: &str) -> T {
        self.present(key)
            .map_or_else(T::default, |value| self.typed(key, value, read, what))
    }

    fn defaulted<T: Default>(&self, key: &str, read: Read<'a, T>, what: &str) -> T {
        match self.object.get(key) {
            Some(value) => self.typed(key, value, read, what),
            None => T::default(),
        }
    }

    fn optional<T>(&self, key: &str, read: Read<'a, T>, what: &str) -> Option<T> {
        match self.object.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => self.checked(key, value, read, what),
        }
    }

    /// A string that must be present.
    pub fn string(&self, key: &str) -> String {
        self.required(key, read_string, "a string")
    }

    /// A string that reads as `""` when absent.
    pub fn string_or_empty(&self, key: &str) -> String {
        self.defaulted(key, read_string, "a string")
    }

    /// A string that may be absent or `null`.
    pub fn opt_string(&self, key: &str) -> Option<String> {
        self.optional(key, read_string, "a string")
    }

    /// A boolean that must be present.
    pub fn bool(&self, key: &str) -> bool {
        self.required(key, Value::as_bool, "a boolean")
    }

    /// A boolean that reads as `false` when absent.
    pub fn bool_or_false(&self, key: &str) -> bool {
        self.defaulted(key, Value::as_bool, "a boolean")
    }

    /// A non-negative integer that must be present.
    pub fn u64(&self, key: &str) -> u64 {
        self.required(key, Value::as_u64, "a non-negative integer")
    }

    /// A `u32` that must be present.
    pub fn u32(&self, key: &str) -> u32 {
        self.required(key, read_u32, "a 32-bit non-negative integer")
    }

    /// A `u16` that must be present.
    pub fn u16(&self, key: &str) -> u16 {
        self.required(key, read_u16, "a 16-bit non-negative integer")
    }

    /// A `u32` that may be absent or `null`.
    pub fn opt_u32(&self, key: &str) -> Option<u32> {
        self.optional(key, read_u32, "a 32-bit non-negative integer")
    }

    /// A `u16` that may be absent or `null`.
    pub fn opt_u16(&self, key: &str) -> Option<u16> {
        self.optional(key, read_u16, "a 16-bit non-negative integer")
    }

    /// A number that may be absent or `null`.
    pub fn opt_f64(&self, key: &str) -> Option<f64> {
        self.optional(key, Value::as_f64, "a number")
    }

    /// A string that may be absent but not `null` (serde's rule for a non-`Option` field with
    /// a default, such as an enum read from a string).
    pub fn opt_string_not_null(&self, key: &str) -> Option<String> {
        let value = self.object.get(key)?;
        self.checked(key, value, read_string, "a string")
    }

    /// A list of strings that may be absent or `null`.
    pub fn opt_strings(&self, key: &str) -> Option<Vec<String>> {
        self.optional(key, read_strings, "a list of strings")
    }

    /// An object that reads as `{}` when absent.
    pub fn object_or_empty(&self, key: &str) -> Object {
        self.defaulted(key, |v| v.as_object().cloned(), "an object")
    }

    /// A number (kept as its text) that may be absent or `null`.
    pub fn opt_number(&self, key: &str) -> Option<Number> {
        self.optional(key, |v| v.as_number().cloned(), "a number")
    }

    /// Any JSON, `null` when absent.
    pub fn any(&self, key: &str) -> Value {
        self.object.get(key).cloned().unwrap_or(Value::Null)
    }
}

// The two field errors are built out of line: the reads are generic over the field type, and an
// inlined `format!` in each of their copies cost the wasm build 1.6 KB (0.4 KB gzip).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_answers_its_first_failed_read_whatever_follows() {
        let value = crate::json::parse(r#"{"a": true, "c": "ok", "d": -1}"#).expect("test JSON");
        // Four reads, three bad: "a" has the wrong type, "b" is missing, "d" is negative.
        let decoded = decode_with("kind", &value, |f| {
            (f.string("a"), f.string("b"), f.string("c"), f.u64("d"))
        });
        assert_eq!(
            decoded,
            Err(field_error("kind", "field `a` must be a string"))
        );
        // Good reads decode, and a nested failure recorded later does not replace the first one.
        let decoded = decode_with("kind", &value, |f| {
            let c = f.string("c");
            f.fail("first");
            f.record(field_error("other", "second"));
            c
        });
        assert_eq!(decoded, Err(field_error("kind", "first")));
        assert_eq!(
            decode_with("kind", &value, |f| f.string("c")),
            Ok("ok".to_owned())
        );
        assert_eq!(
            decode_with("kind", &Value::Null, |f| f.string("c")),
            Err(field_error("kind", "expected an object"))
        );
    }
}
