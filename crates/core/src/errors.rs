//! Public error and status vocabularies (§10.7, §10.8, §10.9) and the mapping from a
//! start-session HTTP answer to success or a classified failure (§3.3).

use crate::json::{self, Value};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::wire::rest::{ApiErrorBody, SessionTokenResponse, StartSessionResponse};

/// Declares a string enum whose members serialize as their protocol strings, with `as_str`,
/// `ALL` and a lenient `parse`.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The protocol string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The member with this protocol string, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// `ErrorCode` of `ClientError` (§10.8).
    ErrorCode {
        /// A 429 without a more specific `error` in the body.
        UsageLimitReached => "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED",
        /// A 429 whose body says the spend cap is reached.
        SpendCapReached => "CLIENT_ERROR_CODE_SPEND_CAP_REACHED",
        /// A 400: the Core API rejected the request.
        ValidationError => "CLIENT_ERROR_CODE_VALIDATION_ERROR",
        /// A 401 or 403, or a token provider that failed.
        AuthenticationError => "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR",
        /// Any other status, a network failure, a timeout or a non-JSON body.
        ServerError => "CLIENT_ERROR_CODE_SERVER_ERROR",
        /// A 429 whose body says too many sessions run at once.
        MaxConcurrentSessionsReached => "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED",
        /// A 503: the service has no capacity now (retried).
        ServiceBusy => "CLIENT_ERROR_CODE_SERVICE_BUSY",
        /// A 402: the account has no plan.
        NoPlanFound => "CLIENT_ERROR_CODE_NO_PLAN_FOUND",
        /// Defined by the SDK, never produced.
        UnknownError => "CLIENT_ERROR_CODE_UNKNOWN_ERROR",
        /// Invalid client options or persona config (§2.3).
        ConfigurationError => "CLIENT_ERROR_CODE_CONFIGURATION_ERROR",
    }
}

string_enum! {
    /// `ConnectionClosedCode` of the `CONNECTION_CLOSED` event (§10.7).
    ConnectionClosedCode {
        /// The app stopped the session.
        Normal => "CONNECTION_CLOSED_CODE_NORMAL",
        /// The microphone was refused during WebRTC setup.
        MicrophonePermissionDenied => "CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED",
        /// The signalling socket could not be kept up (budget spent).
        SignallingClientConnectionFailure => "CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE",
        /// The peer connection failed (§8.6).
        WebrtcFailure => "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE",
        /// The server sent `endsession`.
        ServerClosedConnection => "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION",
    }
}

string_enum! {
    /// Microphone permission state of `InputAudioState` (§10.9).
    AudioPermissionState {
        /// The browser is asking the user.
        Pending => "pending",
        /// The user allowed the microphone.
        Granted => "granted",
        /// The microphone was refused or unavailable.
        Denied => "denied",
        /// No microphone was asked for yet.
        NotRequested => "not_requested",
    }
}

/// `body.error` values that refine a 429 (§3.3).
pub const CONCURRENT_SESSION_LIMIT_ERROR: &str = "Concurrent session limit reached";
/// `body.error` of a 429 that means the account's spend cap is reached.
pub const SPEND_CAP_ERROR: &str = "Spend cap reached";

/// A failed Core API call, classified like the official client's `ClientError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// How the failure is classified for the app.
    pub code: ErrorCode,
    /// The `statusCode` the client reports: the HTTP status, or 500 for network failures and
    /// unreadable bodies.
    pub status: u16,
    /// Human-readable summary.
    pub message: String,
    /// `details.cause`: the server's `message` when it sent one, else what went wrong locally.
    pub cause: Option<String>,
    /// Whether the start-session retry loop should try again (§3.4: `500 ≤ status ≤ 599`).
    pub retryable: bool,
}

impl ApiFailure {
    fn new(code: ErrorCode, status: u16, message: String, cause: Option<String>) -> Self {
        ApiFailure {
            code,
            status,
            message,
            cause,
            retryable: (500..=599).contains(&status),
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, HTTP {})", self.message, self.code, self.status)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiFailure {}

/// Maps a start-session answer to its response or failure, exactly as §3.3 says: the body is
/// parsed as JSON before the status is looked at, so a non-JSON body is a retryable 500 whatever
/// the status.
pub fn classify_start_session(status: u16, body: &str) -> Result<StartSessionResponse, ApiFailure> {
    let json: Value = match json::parse(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(ApiFailure::new(
                ErrorCode::ServerError,
                500,
                format!("start session answered HTTP {status} with a body that is not JSON"),
                Some(e.to_string()),
            ))
        }
    };
    if status == 200 || status == 201 {
        // The official client does not validate the body and fails later on a missing
        // `clientConfig`; failing here, as a server error, gives the app a clear message.
        return StartSessionResponse::from_value(&json).map_err(|e| {
            ApiFailure::new(
                ErrorCode::ServerError,
                500,
                "start session answered with an unusable body".to_owned(),
                Some(e.to_string()),
            )
        });
    }
    let error_body = ApiErrorBody::from_value(&json);
    let code = match status {
        400 => ErrorCode::ValidationError,
        401 | 403 => ErrorCode::AuthenticationError,
        402 => ErrorCode::NoPlanFound,
        429 => match error_body.error.as_deref() {
            Some(CONCURRENT_SESSION_LIMIT_ERROR) => ErrorCode::MaxConcurrentSessionsReached,
            Some(SPEND_CAP_ERROR) => ErrorCode::SpendCapReached,
            _ => ErrorCode::UsageLimitReached,
        },
        503 => ErrorCode::ServiceBusy,
        _ => ErrorCode::ServerError,
    };
    Err(ApiFailure::new(
        code,
        status,
        format!("start session failed with HTTP {status}"),
        error_body.message,
    ))
}

/// A start-session (or token) request that never got an HTTP answer: network error, CORS
/// refusal or the per-attempt timeout. Classified as a retryable server error with status 500.
pub fn classify_network_failure(detail: &str) -> ApiFailure {
    ApiFailure::new(
        ErrorCode::ServerError,
        500,
        "request failed before the server answered".to_owned(),
        Some(detail.to_owned()),
    )
}

/// Maps an answer of a session-token endpoint (`fetchSessionToken`, the app backend's; mapped
/// like the API-key path's, §2.4): 401/403 authentication, 429 usage limit (a rate limit, not a
/// malformed request), other 4xx validation, anything else server error; a 2xx without a
/// non-empty `sessionToken` is a server error with status 500. The token fetch is never
/// retried, so `retryable` is informational here.
pub fn classify_session_token(status: u16, body: &str) -> Result<SessionTokenResponse, ApiFailure> {
    // Empty or non-JSON bodies are tolerated: they simply carry no fields.
    let json: Value = json::parse(body).unwrap_or(Value::Null);
    if (200..=299).contains(&status) {
        return match json.get("sessionToken").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => Ok(SessionTokenResponse {
                session_token: token.to_owned(),
            }),
            _ => Err(ApiFailure::new(
                ErrorCode::ServerError,
                500,
                "Failed to get session token".to_owned(),
                Some("the response has no sessionToken".to_owned()),
            )),
        };
    }
    let error_body = ApiErrorBody::from_value(&json);
    let code = match status {
        401 | 403 => ErrorCode::AuthenticationError,
        429 => ErrorCode::UsageLimitReached,
        400..=499 => ErrorCode::ValidationError,
        _ => ErrorCode::ServerError,
    };
    let cause = error_body
        .message
        .or(error_body.error)
        .unwrap_or_else(|| format!("Request failed with HTTP status {status}"));
    Err(ApiFailure::new(
        code,
        status,
        "Failed to get session token".to_owned(),
        Some(cause),
    ))
}
