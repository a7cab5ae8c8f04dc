//! The servers' side of the one wire codec: an axum extractor and responder that read and write
//! the Anam wire types through anam-core's [`FromJson`]/[`ToJson`], the codec the browser client
//! uses, so that a protocol change is made in one place. Kept out of anam-core, which stays free
//! of any server framework.

use std::fmt;

use anam_core::json;
use anam_core::wire::rest::ApiErrorBody;
use anam_core::wire::{decode_payload, DecodeError, FromJson, ToJson};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A wire type as a request body (decoded with [`FromJson`]) or as a JSON response (encoded with
/// [`ToJson`], `content-type: application/json`).
#[derive(Debug, Clone, PartialEq)]
pub struct Wire<T>(pub T);

/// Why a request body is not the wire type a route expects.
#[derive(Debug)]
pub enum WireRejection {
    /// The body could not be read (over the body limit, connection lost): answered as axum
    /// answers it.
    Body(BytesRejection),
    /// The body is empty or only whitespace.
    Empty,
    /// The body is not UTF-8, not JSON, or not the type's shape.
    Invalid(DecodeError),
}

impl fmt::Display for WireRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireRejection::Body(rejection) => f.write_str(&rejection.body_text()),
            WireRejection::Empty => f.write_str("a JSON body is required"),
            WireRejection::Invalid(DecodeError::BadPayload { reason, .. }) => {
                write!(f, "invalid JSON body: {reason}")
            }
            WireRejection::Invalid(DecodeError::NotJson(reason)) => {
                write!(f, "invalid JSON body: {reason}")
            }
            WireRejection::Invalid(e) => write!(f, "invalid JSON body: {e}"),
        }
    }
}

impl std::error::Error for WireRejection {}

/// A refused body on its own: 400 with `{"error": "Bad Request", "message": …}`, the emulator's
/// error shape (a server with another shape converts the rejection into its own error first).
impl IntoResponse for WireRejection {
    fn into_response(self) -> Response {
        match self {
            WireRejection::Body(rejection) => rejection.into_response(),
            other => {
                let body = ApiErrorBody::new("Bad Request", &other.to_string());
                (StatusCode::BAD_REQUEST, Wire(body)).into_response()
            }
        }
    }
}

/// Decodes a request body as `T`: the extractor's rule, for a body already read.
pub fn decode_body<T: FromJson>(body: &[u8]) -> Result<T, WireRejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WireRejection::Empty);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| WireRejection::Invalid(DecodeError::NotJson("not UTF-8".to_owned())))?;
    let value = json::parse(text)
        .map_err(|e| WireRejection::Invalid(DecodeError::NotJson(e.to_string())))?;
    decode_payload("body", &value).map_err(WireRejection::Invalid)
}

impl<T> Wire<T> {
    /// The extraction of an optional body: an empty one is `None`, any other failure stays.
    pub fn optional(extracted: Result<Wire<T>, WireRejection>) -> Result<Option<T>, WireRejection> {
        match extracted {
            Ok(Wire(value)) => Ok(Some(value)),
            Err(WireRejection::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<T: FromJson, S: Send + Sync> FromRequest<S> for Wire<T> {
    type Rejection = WireRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(WireRejection::Body)?;
        decode_body(&body).map(Wire)
    }
}

impl<T: ToJson> IntoResponse for Wire<T> {
    fn into_response(self) -> Response {
        let text = self.0.to_json().into_value().to_json();
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            text,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests;
