//! The JSON data model: [`Value`], [`Number`] (kept as its JSON text) and [`Object`] (keys in
//! insertion order).

use std::fmt;

/// Any JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, kept as its JSON text.
    Number(Number),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in their original order.
    Object(Object),
}

/// A JSON number, stored as validated JSON number text.
///
/// Keeping the text (rather than an `f64`) means a number a user passed through the client comes
/// out exactly as it went in, and writing one never needs float formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// Checks `text` against the JSON number grammar. `NaN`, `Infinity`, leading zeros, a bare
    /// `-` or `.5` are not JSON numbers and give `None`. JS's `Number.prototype.toString()`
    /// output for finite numbers (`1e+21`, `-0`, `5e-7`) is accepted as it is.
    pub fn from_json_text(text: &str) -> Option<Number> {
        match super::parse::number_len(text.as_bytes(), 0) {
            Some(len) if len == text.len() => Some(Number(text.to_owned())),
            _ => None,
        }
    }

    /// The number's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an `f64` (out of range gives ±inf). Exact for every short decimal; see
    /// `json::number` for why this is not `str::parse`.
    pub fn as_f64(&self) -> f64 {
        super::number::to_f64(&self.0)
    }

    /// The number as a `u64`, when it is written as a non-negative integer in range (no
    /// fraction or exponent, like serde_json).
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The number as an `i64`, when it is written as an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// Built from text the parser has already validated.
    pub(super) fn from_validated(text: &str) -> Number {
        Number(text.to_owned())
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(n.to_string())
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(n.to_string())
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number(n.to_string())
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A JSON object: key/value pairs in the order they were parsed or inserted.
///
/// A `Vec` rather than a map: client messages have a handful of keys, where a linear scan is as
/// fast as a tree and far smaller in wasm. Duplicate keys from the wire are kept; [`Object::get`]
/// answers the last one, as `JSON.parse` does. Equality ignores order, as JSON's does.
#[derive(Debug, Clone, Default)]
pub struct Object(Vec<(String, Value)>);

impl Eq for Object {}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        let covers = |a: &Object, b: &Object| a.iter().all(|(k, _)| a.get(k) == b.get(k));
        covers(self, other) && covers(other, self)
    }
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object(Vec::new())
    }

    /// The value of `key` (the last one when the key is duplicated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` occurs at least once.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Sets `key` to `value`: an existing key keeps its position (its last occurrence is
    /// replaced), a new one goes to the end.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.0.iter_mut().rev().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Sets `key` only when there is a value: absent optional fields are left out, as
    /// `JSON.stringify` drops `undefined` and serde's `skip_serializing_if` does.
    pub fn insert_some<T: Into<Value>>(&mut self, key: &str, value: Option<T>) {
        if let Some(value) = value {
            self.insert(key, value.into());
        }
    }

    /// Builder form of [`Object::insert`].
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Object {
        self.insert(key, value.into());
        self
    }

    /// Wraps the object as a [`Value`].
    pub fn into_value(self) -> Value {
        Value::Object(self)
    }

    /// Removes every occurrence of `key`, returning the value `get` would have returned.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut last = None;
        self.0.retain_mut(|(k, v)| {
            if k == key {
                last = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        last
    }

    /// Number of entries, duplicated keys counted each time.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in order, duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Appends a pair without looking for an earlier one (what the parser does).
    pub(super) fn push(&mut self, key: String, value: Value) {
        self.0.push((key, value));
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Object {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Value {
    /// The text of a string; `None` for any other kind.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a boolean; `None` for any other kind.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number of a number; `None` for any other kind.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// A number as `f64`; `None` for any other kind.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    /// A number as `u64`; `None` for other kinds and numbers that are not a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// A number as `i64`; `None` for other kinds and numbers that are not an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The items of an array; `None` for any other kind.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries of an object; `None` for any other kind.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `self[key]` for an object, `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// The compact JSON text of this value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        super::write_value(&mut out, self);
        out
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Number(n.into())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::from(u64::from(n))
    }
}

/// A list of strings as a JSON array of strings.
impl From<&[String]> for Value {
    fn from(items: &[String]) -> Value {
        Value::Array(items.iter().map(|s| Value::from(s.as_str())).collect())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(o)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_text_is_checked() {
        for ok in ["0", "-0", "12", "1.5", "1e+21", "5e-7", "-3.25E10"] {
            assert_eq!(
                Number::from_json_text(ok).map(|n| n.to_string()).as_deref(),
                Some(ok)
            );
        }
        for bad in [
            "",
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            "-",
            ".5",
            "1.",
            "1e",
            "+1",
            "1 ",
        ] {
            assert_eq!(Number::from_json_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn number_conversions() {
        let n = Number::from_json_text("42").unwrap();
        assert_eq!(
            (n.as_u64(), n.as_i64(), n.as_f64()),
            (Some(42), Some(42), 42.0)
        );
        let n = Number::from_json_text("-7").unwrap();
        assert_eq!((n.as_u64(), n.as_i64()), (None, Some(-7)));
        let n = Number::from_json_text("2.5e1").unwrap();
        assert_eq!((n.as_u64(), n.as_f64()), (None, 25.0));
        let n = Number::from_json_text("1e999").unwrap();
        assert_eq!(n.as_f64(), f64::INFINITY);
        assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Number::from(i64::MIN).as_i64(), Some(i64::MIN));
    }

    #[test]
    fn object_keeps_order_and_answers_the_last_duplicate() {
        let mut o = Object::new();
        o.insert("b", Value::from(1u64));
        o.insert("a", Value::from(2u64));
        o.push("b".into(), Value::from(3u64));
        assert_eq!(o.get("b"), Some(&Value::from(3u64)));
        o.insert("b", Value::from(4u64));
        let keys: Vec<_> = o
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_json()))
            .collect();
        assert_eq!(keys, ["b=1", "a=2", "b=4"]);
        assert_eq!(o.remove("b"), Some(Value::from(4u64)));
        assert_eq!(o.len(), 1);
        assert!(!o.contains_key("b"));
        assert_eq!(o.remove("b"), None);
    }

    #[test]
    fn object_equality_ignores_order_but_not_content() {
        let ab: Object = [("a".to_owned(), Value::Null), ("b".to_owned(), true.into())]
            .into_iter()
            .collect();
        let ba: Object = [("b".to_owned(), true.into()), ("a".to_owned(), Value::Null)]
            .into_iter()
            .collect();
        assert_eq!(ab, ba);
        let mut other = ba.clone();
        other.insert("b", false.into());
        assert_ne!(ab, other);
        other.insert("b", true.into());
        other.insert("c", Value::Null);
        assert_ne!(ab, other);
        assert_ne!(other, ab);
    }
}
