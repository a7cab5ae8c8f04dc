//! Helpers shared by the wire tests: loading fixtures and comparing JSON by meaning.
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::path::PathBuf;

/// Directory of the JSON fixtures written from docs/PROTOCOL.md.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The text of fixture `name` (without `.json`).
pub fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Names of all fixtures whose name starts with `prefix`, sorted.
pub fn fixture_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Rewrites every number as an f64 so that `5` and `5.0` compare equal (fields that are JS
/// numbers are `f64` in Rust and serialize with a fraction).
pub fn normalise(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        other => other.clone(),
    }
}

/// Asserts that `encoded` carries exactly the keys and values of `fixture_text` (numbers
/// compared by value), naming the first differing key path on failure.
pub fn assert_same_json(fixture_name: &str, encoded: &str, fixture_text: &str) {
    let got = normalise(&parse(encoded));
    let want = normalise(&parse(fixture_text));
    if let Some(path) = first_difference(&got, &want, String::new()) {
        panic!("{fixture_name}: encoded JSON differs at `{path}`\n got: {got}\nwant: {want}");
    }
}

fn first_difference(got: &Value, want: &Value, path: String) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for key in g.keys().chain(w.keys()) {
                let sub = format!("{path}/{key}");
                match (g.get(key), w.get(key)) {
                    (Some(a), Some(b)) => {
                        if let Some(p) = first_difference(a, b, sub) {
                            return Some(p);
                        }
                    }
                    _ => return Some(sub),
                }
            }
            None
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!("{path}[len]"));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (a, b))| first_difference(a, b, format!("{path}[{i}]")))
        }
        (a, b) if a == b => None,
        _ => Some(path),
    }
}

/// Adds `"zzUnknownField": {...}` to the top-level object and to the object under each key in
/// `nested` (when present), to check that unknown keys are tolerated everywhere.
pub fn with_unknown_fields(text: &str, nested: &[&str]) -> String {
    let mut value = parse(text);
    let extra = serde_json::json!({"future": [1, 2, {"x": null}]});
    if let Value::Object(map) = &mut value {
        for key in nested {
            if let Some(Value::Object(inner)) = map.get_mut(*key) {
                inner.insert("zzUnknownField".to_owned(), extra.clone());
            }
        }
        map.insert("zzUnknownField".to_owned(), extra);
    }
    value.to_string()
}

/// Whatever a decoder accepts must survive a round trip: our own encoding of it decodes again
/// to an equal value. A server's serde path may rewrite a number's text (`1.50` as `1.5`) and
/// reorder object keys; then the value must still hold the same numbers, as doubles, and a
/// second round trip must change nothing `JSON.parse` could see. A lossy codec would make a
/// server relay something other than what it received.
pub fn assert_round_trip<T: PartialEq + std::fmt::Debug, E: std::fmt::Debug>(
    what: &str,
    input: &str,
    msg: &T,
    encode: impl Fn(&T) -> String,
    decode: impl Fn(&str) -> Result<T, E>,
) {
    let text = encode(msg);
    let again = decode(&text)
        .unwrap_or_else(|e| panic!("{what}: our encoding {text:?} of {input:?} fails: {e:?}"));
    if again != *msg {
        assert_eq!(
            numbers(&again),
            numbers(msg),
            "{what} round trip of {input:?} changed a number: {msg:?} became {again:?}"
        );
        assert_eq!(
            js_view(&encode(&again)),
            js_view(&text),
            "{what}: a second round trip of {input:?} changed {again:?}"
        );
    }
}

/// The JSON numbers a decoded value holds (its `Number("…")` texts), as sorted doubles.
pub fn numbers<T: std::fmt::Debug>(value: &T) -> Vec<u64> {
    let debug = format!("{value:?}");
    let mut out: Vec<u64> = debug
        .split("Number(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse::<f64>().ok())
        .map(|f| (f + 0.0).to_bits())
        .collect();
    out.sort_unstable();
    out
}

/// A JSON text as `JSON.parse` sees it: numbers as doubles, object keys in no order.
pub fn js_view(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("our encoding {text:?} is not JSON: {e}"))
}

/// Decodes a REST body (or any one JSON object) as `T` through the wire codec.
pub fn decode_body<T: anam_core::wire::FromJson>(
    text: &str,
) -> Result<T, anam_core::wire::DecodeError> {
    let value = anam_core::json::parse(text)
        .map_err(|e| anam_core::wire::DecodeError::NotJson(e.to_string()))?;
    anam_core::wire::decode_payload("body", &value)
}

/// Encodes `value` as the JSON text of its wire codec.
pub fn encode_body<T: anam_core::wire::ToJson>(value: &T) -> String {
    value.to_json().into_value().to_json()
}

/// [`assert_round_trip`] for a REST body: what `decode_body` accepts, `encode_body` writes back.
pub fn assert_body_round_trip<T>(what: &str, text: &str)
where
    T: anam_core::wire::FromJson + anam_core::wire::ToJson + PartialEq + std::fmt::Debug,
{
    if let Ok(body) = decode_body::<T>(text) {
        assert_round_trip(what, text, &body, encode_body, decode_body::<T>);
    }
}
