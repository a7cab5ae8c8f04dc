//! Generic JavaScript helpers: property access, error text, and the one serializer through which
//! every value the client hands to JavaScript is built.

use js_sys::Reflect;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

/// How Rust values become JavaScript values: maps as plain objects (not `Map`s), and `None` and
/// JSON `null` as `null`. Optional payload fields that the typings mark `?:` are left out by
/// their `skip_serializing_if`, so `undefined` never appears as a value.
const SERIALIZER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new()
    .serialize_maps_as_objects(true)
    .serialize_missing_as_null(true);

/// `value` as a fresh JavaScript value (`undefined` if it cannot be represented, which the
/// client's payload types never hit: their JSON numbers are made safe by `serialize_for_js`).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&SERIALIZER).unwrap_or(JsValue::UNDEFINED)
}

/// Reads `obj[key]` (undefined when `obj` is not an object).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets `obj[key] = value`, ignoring failures on frozen objects.
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The text of a thrown or rejected value: an `Error`'s message, a string as is.
pub fn describe_js_error(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        String::from(err.message())
    } else {
        e.as_string().unwrap_or_else(|| "unknown error".to_owned())
    }
}
