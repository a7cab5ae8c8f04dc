//! A request id for every request (the `x-request-id` response header) and the one log line
//! per failure. Failures are logged here and nowhere else, so each is logged exactly once; the
//! line carries the error code and the private detail from [`FailureNote`], never a header or a
//! body (which is where keys and tokens live).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::errors::{truncate, FailureNote};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Identifies one request in the logs and in the answer the page sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// `<process prefix>-<counter>`: unique within a process, and unlikely to collide across
    /// the instances of a deployment thanks to the random prefix. Client-sent ids are ignored so
    /// that nobody can make their requests look like someone else's in the log.
    fn next() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        static PREFIX: OnceLock<u32> = OnceLock::new();
        // std seeds every RandomState from the OS; hashing nothing yields a random number
        // without pulling in a random-number crate.
        let prefix = *PREFIX.get_or_init(|| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish() as u32
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{prefix:08x}-{n}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Outermost middleware: assigns the id, runs the request, stamps the id on the answer and
/// writes the log line.
pub async fn track(mut request: Request, next: Next) -> Response {
    let id = RequestId::next();
    request.extensions_mut().insert(id.clone());
    let method = request.method().clone();
    // Path only: a query string is the client's to fill and has no place in our log.
    let path = truncate(request.uri().path(), 200).to_owned();
    let started = Instant::now();

    let mut response = next.run(request).await;

    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let ms = started.elapsed().as_millis();
    let note = response.extensions_mut().remove::<FailureNote>();
    if status >= 400 {
        let (code, detail) = match &note {
            Some(n) => (n.code, n.detail.as_deref().unwrap_or("")),
            None => ("-", ""),
        };
        if status >= 500 {
            tracing::error!(request_id = %id, %method, path, status, ms, code, detail, "request failed");
        } else {
            tracing::warn!(request_id = %id, %method, path, status, ms, code, detail, "request failed");
        }
    } else if path.starts_with("/api/") {
        tracing::info!(request_id = %id, %method, path, status, ms, "request ok");
    } else {
        tracing::debug!(request_id = %id, %method, path, status, ms, "request ok");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_share_the_process_prefix() {
        let a = RequestId::next();
        let b = RequestId::next();
        assert_ne!(a, b);
        assert_eq!(a.as_str().split('-').next(), b.as_str().split('-').next());
    }
}
