//! Every failure this server answers, as one JSON shape the page can act on:
//! `{"error": "<stable code>", "message": "<what it means>", "solution": "<what to do>"}`.
//!
//! The codes are part of the API: pages switch on them, so they never change meaning. The
//! private `detail` of a failure (what exactly went wrong upstream) goes to the log line the
//! request logger writes, never to the page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::upstream::UpstreamError;

/// One kind of failure: its status and the public text of its body.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
    pub solution: &'static str,
}

/// A failure on its way to becoming a response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: &'static Kind,
    /// Seconds, or an HTTP date passed on from upstream.
    pub retry_after: Option<HeaderValue>,
    /// For the log line only. Must not hold the key or a token (callers redact).
    pub detail: Option<String>,
    /// `Allow` header value for 405 answers.
    pub allow: Option<&'static str>,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: &'static str,
    message: &'static str,
    solution: &'static str,
}

/// Put on every error response so the request logger can log the failure once, with its code
/// and private detail, after the response is built.
#[derive(Debug, Clone)]
pub struct FailureNote {
    pub code: &'static str,
    pub detail: Option<String>,
}

// The table of every failure. Codes are API: never change what one means.

pub const RATE_LIMITED: Kind = Kind {
    status: StatusCode::TOO_MANY_REQUESTS,
    code: "rate_limited",
    message: "Too many session tokens were requested from this address.",
    solution: "Wait the number of seconds in the Retry-After header, then try again.",
};
pub const UNAUTHENTICATED: Kind = Kind {
    status: StatusCode::UNAUTHORIZED,
    code: "unauthenticated",
    message: "Only signed-in users may get a session token, and this request carries no valid \
              sign-in.",
    solution: "Sign in to the app, then try again; the page must send its login token \
               (Authorization: Bearer, or the app's session cookie).",
};
pub const TOKEN_BUDGET_EXHAUSTED: Kind = Kind {
    status: StatusCode::TOO_MANY_REQUESTS,
    code: "token_budget_exhausted",
    message: "This user has used up their session tokens for the hour.",
    solution: "Wait the number of seconds in the Retry-After header, then try again.",
};
pub const TOO_MANY_ACTIVE_TOKENS: Kind = Kind {
    status: StatusCode::TOO_MANY_REQUESTS,
    code: "too_many_active_tokens",
    message: "This user already holds as many unexpired session tokens as allowed.",
    solution: "Use or end an existing session, or wait the number of seconds in the \
               Retry-After header.",
};
pub const LIMITS_UNAVAILABLE: Kind = Kind {
    status: StatusCode::SERVICE_UNAVAILABLE,
    code: "limits_unavailable",
    message: "This server cannot check its usage limits right now, so it mints no tokens.",
    solution: "Try again in a moment; the operator should check REDIS_URL and Redis.",
};
pub const BODY_TOO_LARGE: Kind = Kind {
    status: StatusCode::PAYLOAD_TOO_LARGE,
    code: "body_too_large",
    message: "The request body is larger than this server accepts.",
    solution: "Send at most a small JSON object such as {\"personaId\": \"...\"}.",
};
pub const UNSUPPORTED_MEDIA_TYPE: Kind = Kind {
    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
    code: "unsupported_media_type",
    message: "The request body is not JSON.",
    solution: "Send no body, or a JSON body with Content-Type: application/json.",
};
pub const INVALID_JSON: Kind = Kind {
    status: StatusCode::BAD_REQUEST,
    code: "invalid_json",
    message: "The request body is not a valid JSON object.",
    solution: "Send no body, or a JSON object such as {\"personaId\": \"...\"}.",
};
pub const UNKNOWN_PERSONA: Kind = Kind {
    status: StatusCode::BAD_REQUEST,
    code: "unknown_persona",
    message: "The requested persona is not one this server offers.",
    solution: "Pick a persona id from GET /api/config, or send no personaId for the default.",
};
pub const METHOD_NOT_ALLOWED: Kind = Kind {
    status: StatusCode::METHOD_NOT_ALLOWED,
    code: "method_not_allowed",
    message: "This method is not allowed on this path.",
    solution: "Use a method listed in the Allow header.",
};
pub const NOT_FOUND: Kind = Kind {
    status: StatusCode::NOT_FOUND,
    code: "not_found",
    message: "There is no API endpoint at this path.",
    solution: "Use POST /api/session-token, GET /api/config or GET /healthz.",
};
pub const ORIGIN_NOT_ALLOWED: Kind = Kind {
    status: StatusCode::FORBIDDEN,
    code: "origin_not_allowed",
    message: "Pages from this origin may not call this server.",
    solution: "Serve the page from this server's origin, or add its origin to ALLOWED_ORIGINS.",
};
pub const INVALID_API_KEY: Kind = Kind {
    status: StatusCode::UNAUTHORIZED,
    code: "invalid_api_key",
    message: "Anam rejected this server's API key: it is missing, invalid or revoked.",
    solution: "The operator must set ANAM_API_KEY to a valid key from Anam Lab and restart the \
               server.",
};
pub const FORBIDDEN: Kind = Kind {
    status: StatusCode::FORBIDDEN,
    code: "forbidden",
    message: "This server's API key is not allowed to create this session token.",
    solution: "The operator must use a key with access to this persona and feature, or check \
               the account's plan in Anam Lab.",
};
pub const PERSONA_NOT_FOUND: Kind = Kind {
    status: StatusCode::NOT_FOUND,
    code: "persona_not_found",
    message: "The persona configured on this server does not exist for this API key's account.",
    solution: "The operator must check ANAM_PERSONA_ID (or the persona config) against the \
               personas in Anam Lab.",
};
pub const UPSTREAM_RATE_LIMITED: Kind = Kind {
    status: StatusCode::TOO_MANY_REQUESTS,
    code: "rate_limited",
    message: "Anam is rate limiting session tokens for this account.",
    solution: "Wait the number of seconds in the Retry-After header (if any), then try again.",
};
pub const UPSTREAM_ERROR: Kind = Kind {
    status: StatusCode::BAD_GATEWAY,
    code: "upstream_error",
    message: "Anam's API failed to create a session token.",
    solution: "Try again in a moment; if it persists, check Anam's status page.",
};
pub const UPSTREAM_REJECTED: Kind = Kind {
    status: StatusCode::BAD_GATEWAY,
    code: "upstream_rejected",
    message: "Anam's API refused the session-token request this server sent.",
    solution: "The operator should check the server log and the persona configuration.",
};
pub const UPSTREAM_TIMEOUT: Kind = Kind {
    status: StatusCode::BAD_GATEWAY,
    code: "upstream_timeout",
    message: "Anam's API did not answer in time.",
    solution: "Try again in a moment.",
};
pub const UPSTREAM_UNAVAILABLE: Kind = Kind {
    status: StatusCode::BAD_GATEWAY,
    code: "upstream_unavailable",
    message: "This server cannot reach Anam's API.",
    solution: "Try again in a moment; the operator should check ANAM_API_BASE_URL and the \
               server's network.",
};
pub const UPSTREAM_BAD_RESPONSE: Kind = Kind {
    status: StatusCode::BAD_GATEWAY,
    code: "upstream_bad_response",
    message: "Anam's API answered with something that is not a session token.",
    solution: "Try again in a moment; the operator should check ANAM_API_BASE_URL.",
};

impl ApiError {
    const fn new(kind: &'static Kind) -> Self {
        Self {
            kind,
            retry_after: None,
            detail: None,
            allow: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_retry_after(mut self, value: Option<HeaderValue>) -> Self {
        self.retry_after = value;
        self
    }

    // ---- our own limits -------------------------------------------------------------------

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(&RATE_LIMITED).with_retry_after(Some(HeaderValue::from(retry_after_secs.max(1))))
    }

    pub fn unauthenticated(why: impl Into<String>) -> Self {
        Self::new(&UNAUTHENTICATED).with_detail(why)
    }

    pub fn budget_exhausted(retry_after_secs: u64) -> Self {
        Self::new(&TOKEN_BUDGET_EXHAUSTED)
            .with_retry_after(Some(HeaderValue::from(retry_after_secs.max(1))))
    }

    pub fn too_many_active(retry_after_secs: u64) -> Self {
        Self::new(&TOO_MANY_ACTIVE_TOKENS)
            .with_retry_after(Some(HeaderValue::from(retry_after_secs.max(1))))
    }

    pub fn limits_unavailable(why: impl Into<String>) -> Self {
        Self::new(&LIMITS_UNAVAILABLE)
            .with_detail(why)
            .with_retry_after(Some(HeaderValue::from_static("5")))
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(&BODY_TOO_LARGE).with_detail(format!("body over {limit} bytes"))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(&UNSUPPORTED_MEDIA_TYPE)
    }

    pub fn invalid_json(reason: impl Into<String>) -> Self {
        Self::new(&INVALID_JSON).with_detail(reason)
    }

    pub fn unknown_persona() -> Self {
        Self::new(&UNKNOWN_PERSONA)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut e = Self::new(&METHOD_NOT_ALLOWED);
        e.allow = Some(allow);
        e
    }

    pub fn not_found() -> Self {
        Self::new(&NOT_FOUND)
    }

    pub fn origin_not_allowed(origin: &str) -> Self {
        // The Origin header is public and one line (header values cannot hold newlines); it
        // tells the operator which value to add.
        Self::new(&ORIGIN_NOT_ALLOWED).with_detail(format!("origin {}", truncate(origin, 200)))
    }

    // ---- upstream answers -----------------------------------------------------------------

    /// Maps a failed upstream call to what the page is told. 401/403/404/429 keep their status
    /// (the page can act on each differently); everything else is this server's upstream
    /// being broken, which the page sees as 502.
    pub fn from_upstream(err: &UpstreamError) -> Self {
        let e = match err {
            UpstreamError::Status { status: 401, .. } => Self::new(&INVALID_API_KEY),
            UpstreamError::Status { status: 403, .. } => Self::new(&FORBIDDEN),
            UpstreamError::Status { status: 404, .. } => Self::new(&PERSONA_NOT_FOUND),
            UpstreamError::Status {
                status: 429,
                retry_after,
                ..
            } => Self::new(&UPSTREAM_RATE_LIMITED).with_retry_after(retry_after.clone()),
            UpstreamError::Status { status, .. } if *status >= 500 => Self::new(&UPSTREAM_ERROR),
            UpstreamError::Status { .. } => Self::new(&UPSTREAM_REJECTED),
            UpstreamError::Timeout => Self::new(&UPSTREAM_TIMEOUT),
            UpstreamError::Unreachable(_) => Self::new(&UPSTREAM_UNAVAILABLE),
            UpstreamError::BadResponse(_) => Self::new(&UPSTREAM_BAD_RESPONSE),
        };
        e.with_detail(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.kind.code,
            message: self.kind.message,
            solution: self.kind.solution,
        };
        let mut response = (self.kind.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        // Errors are about this one request; a cache must not replay them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(retry_after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, retry_after);
        }
        if self.kind.status == StatusCode::UNAUTHORIZED && self.kind.code == UNAUTHENTICATED.code {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response.extensions_mut().insert(FailureNote {
            code: self.kind.code,
            detail: self.detail,
        });
        response
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
