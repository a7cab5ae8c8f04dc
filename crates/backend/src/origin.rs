//! Who may call the API from a browser: the page's own origin, plus the exact origins listed in
//! `ALLOWED_ORIGINS`.
//!
//! CORS headers alone only stop a foreign page from *reading* an answer; the request would
//! still mint a token billed to this key. So the API routes also refuse, with 403, any request
//! whose `Origin` is neither this server nor an allowed origin. (A non-browser client can forge
//! `Origin`; the rate limit and the app's own login are the defences there.)

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::access_log::REQUEST_ID_HEADER;
use crate::config::normalize_origin;
use crate::errors::ApiError;

/// The allowed cross-origin callers, normalized as browsers send `Origin`.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(pub Vec<String>);

impl AllowedOrigins {
    fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == origin)
    }
}

/// The CORS layer for `ALLOWED_ORIGINS`, or `None` when only same-origin pages may call (then
/// no CORS header is ever sent).
/// `credentials`: the page's login travels in a cookie (`AUTH_COOKIE`), which a cross-origin
/// `fetch(..., {credentials: "include"})` only sends when the answer allows credentials.
pub fn cors_layer(allowed: &AllowedOrigins, credentials: bool) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = allowed
        .0
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            // Authorization: the signed-in user's bearer token (`AUTH_*`).
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .allow_credentials(credentials)
            // The page needs these to wait out a 429 and to quote a failure to support.
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static(REQUEST_ID_HEADER),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Middleware on the API routes: 403 for a browser request from a foreign origin.
pub async fn guard(
    State(allowed): State<Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        // Not a cross-origin browser request (or a same-origin GET): nothing to check.
        return next.run(request).await;
    };
    let origin = origin.to_str().unwrap_or("<non-ASCII>");
    if is_allowed(origin, request.headers(), &allowed) {
        next.run(request).await
    } else {
        ApiError::origin_not_allowed(origin).into_response()
    }
}

fn is_allowed(origin: &str, headers: &HeaderMap, allowed: &AllowedOrigins) -> bool {
    // `Origin: null` (sandboxed frames, file:// pages) is never same-origin.
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if allowed.allows(&origin) {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    // Same origin: the Origin names the host the request was sent to. A reverse proxy may
    // rewrite Host; it then usually passes the original in X-Forwarded-Host (a header a
    // foreign page cannot set without a preflight that fails).
    ["host", "x-forwarded-host"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|host| same_authority(scheme, authority, host.trim()))
    })
}

/// `authority` (from a normalized origin, default port dropped) against a `Host` header value
/// (which may carry the default port explicitly).
fn same_authority(scheme: &str, authority: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    host == authority
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_by_host() {
        let none = AllowedOrigins::default();
        let h = headers(&[("host", "127.0.0.1:8080")]);
        assert!(is_allowed("http://127.0.0.1:8080", &h, &none));
        assert!(!is_allowed("http://127.0.0.1:8081", &h, &none));
        assert!(!is_allowed("http://evil.example", &h, &none));
        assert!(!is_allowed("null", &h, &none));
        let h = headers(&[("host", "App.Example.com:443")]);
        assert!(is_allowed("https://app.example.com", &h, &none));
    }

    #[test]
    fn same_origin_behind_a_proxy() {
        let none = AllowedOrigins::default();
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "app.example.com"),
        ]);
        assert!(is_allowed("https://app.example.com", &h, &none));
    }

    #[test]
    fn listed_origins() {
        let allowed = AllowedOrigins(vec!["http://localhost:5173".into()]);
        let h = headers(&[("host", "127.0.0.1:8080")]);
        assert!(is_allowed("http://localhost:5173", &h, &allowed));
        assert!(is_allowed("HTTP://LOCALHOST:5173", &h, &allowed));
        assert!(!is_allowed("http://localhost:5174", &h, &allowed));
    }
}
