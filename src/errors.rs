//! JS error values: `ClientError`s (real `Error` instances with `name = "ClientError"`, `code`,
//! `statusCode`, `details`, §10.8) and plain `Error`s for state checks.

use anam_core::errors::{ApiFailure, ErrorCode};
use js_sys::Object;
use wasm_bindgen::JsValue;

use crate::io::http::set;

/// A `ClientError` with `details` as given (`undefined` when `None`).
pub fn client_error(
    code: ErrorCode,
    status: u16,
    message: &str,
    details: Option<Object>,
) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ClientError");
    set(&error, "code", &JsValue::from_str(code.as_str()));
    set(&error, "statusCode", &JsValue::from_f64(f64::from(status)));
    set(
        &error,
        "details",
        &details.map(JsValue::from).unwrap_or(JsValue::UNDEFINED),
    );
    error.into()
}

/// `details = {cause}` (or no details without a cause).
pub fn cause_details(cause: Option<&str>) -> Option<Object> {
    cause.map(|c| {
        let d = Object::new();
        set(&d, "cause", &JsValue::from_str(c));
        d
    })
}

/// A construction-time validation failure (§2.3): `CONFIGURATION_ERROR`, status 400.
pub fn configuration_error(message: &str) -> JsValue {
    client_error(ErrorCode::ConfigurationError, 400, message, None)
}

/// A classified Core API failure.
pub fn api_error(f: &ApiFailure) -> JsValue {
    client_error(
        f.code,
        f.status,
        &f.message,
        cause_details(f.cause.as_deref()),
    )
}

/// A plain `Error` (state checks and `/talk` failures, §11.2).
pub fn plain_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}
