//! Access logging on tower-http's parts: a request id for every request (`x-request-id`, a
//! UUID; ids sent by clients are dropped so nobody can make their requests look like someone
//! else's), a tracing span per request carrying it, and one line per answer. Failures are
//! logged here and nowhere else, so each is logged exactly once, with the error code and the
//! private detail from [`FailureNote`], never a header or a body (where keys and tokens live).

use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use crate::errors::{truncate, FailureNote};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Wraps `router` in the id and trace layers.
pub fn layer<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let id_header = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .layer(PropagateRequestIdLayer::new(id_header.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(RequestSpan)
                .on_request(())
                .on_response(LogLine)
                .on_eos(())
                // The answer's own line already says 5xx; no second line per failure.
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(id_header, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_client_request_id))
}

async fn drop_client_request_id(mut request: Request) -> Request {
    request.headers_mut().remove(REQUEST_ID_HEADER);
    request
}

#[derive(Clone, Copy)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // Path only: a query string is the client's to fill and has no place in our log.
        let path = truncate(request.uri().path(), 200);
        tracing::info_span!("request", request_id = %id, method = %request.method(), path)
    }
}

#[derive(Clone, Copy)]
struct LogLine;

impl<B> OnResponse<B> for LogLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let ms = latency.as_millis() as u64;
        // The id is on the line itself, not only on the span: a line must stand on its own in
        // any log pipeline (and the propagation layer inside has already stamped the answer).
        let request_id = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        if status < 400 {
            tracing::debug!(request_id = %request_id, status, ms, "request ok");
            return;
        }
        let note = response.extensions().get::<FailureNote>();
        let (code, detail) = match note {
            Some(n) => (n.code, n.detail.as_deref().unwrap_or("")),
            None => ("-", ""),
        };
        if status >= 500 {
            tracing::error!(request_id = %request_id, status, ms, code, detail, "request failed");
        } else {
            tracing::warn!(request_id = %request_id, status, ms, code, detail, "request failed");
        }
    }
}
