//! JS error values: `ClientError`s (real `Error` instances with `name = "ClientError"`, `code`,
//! `statusCode`, `details`, §10.8) and plain `Error`s for state checks.

use anam_core::errors::{ApiFailure, ErrorCode};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::js::{set, to_js};

/// A `ClientError`'s `details`: `{cause?, error?, message?, solution?, responseBody?}`.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Details<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<&'a str>,
}

/// A `ClientError` with `details` as given (`undefined` when `None`).
pub fn client_error(
    code: ErrorCode,
    status: u16,
    message: &str,
    details: Option<Details<'_>>,
) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ClientError");
    set(&error, "code", &JsValue::from_str(code.as_str()));
    set(&error, "statusCode", &JsValue::from_f64(f64::from(status)));
    let details = details.map_or(JsValue::UNDEFINED, |d| to_js(&d));
    set(&error, "details", &details);
    error.into()
}

/// `details = {cause}` (or no details without a cause).
pub fn cause_details(cause: Option<&str>) -> Option<Details<'_>> {
    cause.map(|c| Details {
        cause: Some(c),
        ..Details::default()
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
