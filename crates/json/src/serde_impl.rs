//! serde support for [`Value`], so that wire types holding untyped JSON keep their derives for
//! the servers (axum reads and writes them with serde_json), and the payloads the wasm client
//! hands to JavaScript serialize through serde-wasm-bindgen. The wasm client never deserializes
//! through serde (it parses with `parse`), so LTO leaves the `Deserialize` half out of the bundle.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::value::{Number, Object, Value};

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(n) = self.as_u64() {
            serializer.serialize_u64(n)
        } else if let Some(n) = self.as_i64() {
            serializer.serialize_i64(n)
        } else {
            serializer.serialize_f64(self.to_f64_for_serde())
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Number {
    /// Correctly rounded on the servers: `as_f64` may be an ulp off for long numbers, which
    /// changed the numbers a server relays. The wasm keeps `as_f64`: the standard library's
    /// float parser would add about 16 KB gzip to what a page loads (make pkg, size-check).
    #[cfg(not(target_arch = "wasm32"))]
    fn to_f64_for_serde(&self) -> f64 {
        self.as_str().parse().unwrap_or_else(|_| self.as_f64())
    }

    #[cfg(target_arch = "wasm32")]
    fn to_f64_for_serde(&self) -> f64 {
        self.as_f64()
    }
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `value` as JavaScript's `JSON.parse` gives it: integers beyond ±2^53 become the nearest
/// double (serde-wasm-bindgen refuses to turn such an integer into a number).
pub struct ForJs<'a>(pub &'a Value);

impl Serialize for ForJs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Number(n) => match n.as_i64() {
                Some(i) if i.unsigned_abs() <= MAX_SAFE_INTEGER => serializer.serialize_i64(i),
                _ => serializer.serialize_f64(n.as_f64()),
            },
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&ForJs(item))?;
                }
                seq.end()
            }
            Value::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.len()))?;
                for (k, v) in object.iter() {
                    map.serialize_entry(k, &ForJs(v))?;
                }
                map.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// `serialize_with` for a [`Value`] field of a payload handed to JavaScript.
pub fn serialize_for_js<S: Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    ForJs(value).serialize(serializer)
}

/// [`serialize_for_js`] for an optional field (with `skip_serializing_if = "Option::is_none"`).
pub fn serialize_some_for_js<S: Serializer>(
    value: &Option<Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.serialize_some(&ForJs(v)),
        None => serializer.serialize_none(),
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(object) => object.serialize(serializer),
        }
    }
}

/// A float from a serde source as a JSON number; non-finite values have no JSON form.
fn float(f: f64) -> Value {
    if f.is_finite() {
        Number::from_json_text(&f.to_string()).map_or(Value::Null, Value::Number)
    } else {
        Value::Null
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            object.insert(k, v);
        }
        Ok(Value::Object(object))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(object) => Ok(object),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(n),
            _ => Err(de::Error::custom("expected a number")),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                Number::from_json_text(&n.to_string()).map_or(Value::Null, Value::Number)
            }
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(v: Value) -> serde_json::Value {
        serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trips_keep_the_data() {
        let text = r#"{"b":[1,-2,2.5,true,null,"x\n"],"a":{"k":18446744073709551615}}"#;
        let ours = super::super::parse(text).unwrap();
        let via_serde: Value = serde_json::from_str(text).unwrap();
        assert_eq!(via_serde, ours);
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
        let back: Value = serde_json::Value::from(ours.clone()).into();
        assert_eq!(back, ours);
    }

    #[test]
    fn non_objects_are_not_objects() {
        assert!(serde_json::from_str::<Object>("[1]").is_err());
        assert_eq!(serde_json::from_str::<Object>("{}").unwrap(), Object::new());
    }

    #[test]
    fn values_for_javascript_keep_safe_integers_and_turn_larger_ones_into_doubles() {
        let text = r#"{"small":[9007199254740991,-9007199254740991,0,2.5],
            "big":[9007199254740993,18446744073709551615,-9223372036854775808],"n":null}"#;
        let value = super::super::parse(text).unwrap();
        let js = serde_json::to_value(ForJs(&value)).unwrap();
        assert_eq!(
            js,
            serde_json::json!({"small": [9007199254740991_i64, -9007199254740991_i64, 0, 2.5],
                "big": [9007199254740992.0, 18446744073709551616.0, -9223372036854775808.0],
                "n": null})
        );
        assert!(js["small"][0].is_i64() && js["big"][0].is_f64());
    }
}
