//! The HTTP surface: core API, engine routes, control API, CORS and JSON errors.
mod core_api;
mod engine;

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use anam_core::wire::rest::ApiErrorBody;
use anam_wire_http::{Wire, WireRejection};

use crate::faults::Fault;
use crate::registry::SessionCmd;
use crate::state::AppState;

/// Largest request body accepted on any route.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Every route, with CORS on all of them.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/v1/auth/session-token", post(core_api::session_token))
        .route("/v1/personas", get(core_api::personas))
        .route("/v1/engine/session", post(core_api::engine_session))
        .route("/v1/metrics/client", post(core_api::metrics))
        .route("/talk", post(engine::talk))
        .route("/ws", get(engine::websocket))
        .route("/healthz", get(|| async { Json(json!({"ok": true})) }));
    if state.config.control {
        app = app.nest("/_emulator", crate::control::routes());
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors())
        .layer(middleware::from_fn(preflight_no_content))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "this route does not accept that method",
    )
}

/// CORS on every route: the official client calls the core API and `/talk` straight from the
/// page, from any origin (the emulator is a local stand-in; it has no origin list to check).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-anam-target-url"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// tower-http answers a preflight with 200; the emulator has always answered 204, and the
/// protocol tests pin that. Only preflights are touched (an OPTIONS with
/// `Access-Control-Request-Method`, which the CORS layer answered itself).
async fn preflight_no_content(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = next.run(request).await;
    if preflight && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// An error answer: always a JSON body `{"error", "message"}` (the official client maps a
/// non-JSON error body to a retried 500, §3.3).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad Request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", message)
    }

    pub fn too_many(error: &str, message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, error, message);
        e.retry_after = Some(retry_after);
        e
    }

    /// The answer of an injected fault (`429` carries `Retry-After`).
    pub fn from_fault(f: Fault) -> Self {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self::new(status, &f.error, f.message);
        if f.status == 429 {
            e.retry_after = Some(1);
        }
        e
    }
}

/// A body that is not the wire type a route expects: 400 (`a JSON body is required`, `invalid
/// JSON body: …`), or the status of a body that could not be read (over the limit).
impl From<WireRejection> for ApiError {
    fn from(rejection: WireRejection) -> Self {
        match &rejection {
            WireRejection::Body(e) => {
                let status = e.status();
                let error = status.canonical_reason().unwrap_or("Bad Request");
                Self::new(status, error, rejection.to_string())
            }
            _ => Self::bad_request(rejection.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody::new(&self.error, &self.message);
        let mut resp = (self.status, Wire(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// The bearer credential of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Hands `cmd` to the live session `id`; 404 when there is none or it ended meanwhile. Shared by
/// the engine's `/talk` and the control API, which differ only in the command.
pub async fn send_to_session(state: &AppState, id: &str, cmd: SessionCmd) -> Result<(), ApiError> {
    let session = state
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::not_found("no live session with that id"))?;
    session
        .tx
        .send(cmd)
        .await
        .map_err(|_| ApiError::not_found("the session has ended"))
}

/// Parses an optional JSON body of the control API (not a wire type): empty means `None`.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Constant-time comparison for the API key.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
