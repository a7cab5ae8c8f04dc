//! Reading a session token's JWT payload the way the official client does (§2.2): no signature
//! or expiry check, just a lenient base64 decode of the middle segment and a JSON parse.
//!
//! The client only needs `type` (to reject legacy tokens, §2.3) and `accountId` (a telemetry
//! tag); `exp`/`iat` are exposed so callers can warn about a stale token early.

use crate::json::{self, Object, Value};
use std::fmt;

/// The token `type` claim, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenType {
    /// A token bound to a persona saved in Anam Lab.
    Stateful,
    /// A token minted for a runtime persona config.
    Ephemeral,
    /// No longer supported: rejected by [`TokenClaims::validate_for_client`].
    Legacy,
    /// Any other string, as written in the token.
    Other(String),
    /// No `type` claim, or one that is not a string.
    Missing,
}

impl TokenType {
    fn from_claim(value: Option<&Value>) -> TokenType {
        match value {
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "stateful" => TokenType::Stateful,
                "ephemeral" => TokenType::Ephemeral,
                "legacy" => TokenType::Legacy,
                _ => TokenType::Other(s.clone()),
            },
            _ => TokenType::Missing,
        }
    }
}

/// The claims a client reads from a session token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    /// The `type` claim.
    pub token_type: TokenType,
    /// `accountId`, reported as the organization id in telemetry.
    pub account_id: Option<String>,
    /// `exp`, seconds since the Unix epoch.
    pub exp: Option<i64>,
    /// `iat`, seconds since the Unix epoch.
    pub iat: Option<i64>,
    /// Every other claim, verbatim.
    pub rest: Object,
}

/// Why a token's payload could not be read (§2.2 steps 1-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimsError {
    /// The token does not have three `.`-separated parts, or its payload part is empty.
    NotThreeParts {
        /// How many `.`-separated parts the token had.
        parts: usize,
    },
    /// The payload part holds no base64 character (the decoder skips everything else).
    BadBase64,
    /// The payload bytes are not UTF-8 JSON.
    BadJson(String),
    /// The payload is JSON but not an object.
    NotAnObject,
}

impl fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimsError::NotThreeParts { parts } => {
                write!(
                    f,
                    "session token is not a JWT: expected 3 parts, found {parts}"
                )
            }
            ClaimsError::BadBase64 => f.write_str("session token payload is not valid base64"),
            ClaimsError::BadJson(e) => write!(f, "session token payload is not JSON: {e}"),
            ClaimsError::NotAnObject => f.write_str("session token payload is not a JSON object"),
        }
    }
}

impl std::error::Error for ClaimsError {}

/// Why a readable token is refused when a client is created (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// `type: legacy` tokens are no longer supported.
    LegacyToken,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRejection::LegacyToken => f.write_str(
                "legacy session tokens are no longer supported; mint a new session token",
            ),
        }
    }
}

impl std::error::Error for TokenRejection {}

impl TokenClaims {
    /// Reads the payload of `token`. Never verifies anything; never panics.
    pub fn decode(token: &str) -> Result<TokenClaims, ClaimsError> {
        let parts: Vec<&str> = token.split('.').collect();
        // A missing or empty second segment is what the JS decode trips over first; a JWT has
        // exactly three parts, so anything else is refused rather than guessed at.
        let payload = match parts.as_slice() {
            [_, payload, _] if !payload.is_empty() => *payload,
            _ => {
                return Err(ClaimsError::NotThreeParts { parts: parts.len() });
            }
        };
        let bytes = decode_base64_lenient(payload).ok_or(ClaimsError::BadBase64)?;
        // JSON text is UTF-8; anything else is not JSON (serde_json's `from_slice` said the same).
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ClaimsError::BadJson("invalid UTF-8".to_owned()))?;
        let value = json::parse(text).map_err(|e| ClaimsError::BadJson(e.to_string()))?;
        let Value::Object(mut rest) = value else {
            return Err(ClaimsError::NotAnObject);
        };
        let token_type = TokenType::from_claim(rest.get("type"));
        rest.remove("type");
        let account_id = match rest.remove("accountId") {
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                // Keep a non-string value where a caller can still see it.
                rest.insert("accountId", other);
                None
            }
            None => None,
        };
        let exp = take_seconds(&mut rest, "exp");
        let iat = take_seconds(&mut rest, "iat");
        Ok(TokenClaims {
            token_type,
            account_id,
            exp,
            iat,
            rest,
        })
    }

    /// The construction-time rule of §2.3: a legacy token is a configuration error; every other
    /// type (including none) is accepted.
    pub fn validate_for_client(&self) -> Result<(), TokenRejection> {
        match self.token_type {
            TokenType::Legacy => Err(TokenRejection::LegacyToken),
            _ => Ok(()),
        }
    }

    /// Whether `exp` has passed at `now_unix_secs`, allowing `skew_secs` of clock difference.
    /// A token without `exp` never expires as far as the client can tell.
    pub fn is_expired(&self, now_unix_secs: i64, skew_secs: i64) -> bool {
        match self.exp {
            Some(exp) => now_unix_secs.saturating_sub(skew_secs) >= exp,
            None => false,
        }
    }
}

/// Takes a numeric time claim; integral values and floats (floored) are accepted, others are
/// left in `rest`.
fn take_seconds(rest: &mut Object, key: &str) -> Option<i64> {
    let seconds = match rest.get(key) {
        Some(Value::Number(n)) => n.as_i64().or_else(|| {
            Some(n.as_f64())
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    }?;
    rest.remove(key);
    Some(seconds)
}

/// Kept under its old name for callers that think of it as part of token decoding.
pub use crate::base64::decode_lenient as decode_base64_lenient;
