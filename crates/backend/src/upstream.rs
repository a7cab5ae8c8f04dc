//! The one call this server makes: Anam's `POST /v1/auth/session-token` (plus a best-effort
//! persona listing at startup for display names).
//!
//! The routes only see the [`Upstream`] trait, so router tests plug in a fake without sockets;
//! [`HttpUpstream`] is the real client.

use std::future::Future;
use std::time::Duration;

use anam_core::json::{self, Value};
use anam_core::wire::rest::{
    ApiErrorBody, PersonaSelection, PersonaSummary, SessionTokenRequest, SessionTokenResponse,
};
use anam_core::wire::{decode_payload, ToJson};
use anam_wire_http::decode_body;
use axum::http::HeaderValue;

use crate::config::ApiKey;
use crate::errors::truncate;

/// How long a token request waits for upstream: a page waiting longer than this is better told
/// to retry.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A session-token answer is a few hundred bytes; more than this is not one.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why the upstream call failed. `Display` is what the log line shows: it never contains the
/// key (it is only ever in a request header) nor a token (success bodies are never echoed).
#[derive(Debug, Clone)]
pub enum UpstreamError {
    /// Upstream answered with a non-success status.
    Status {
        status: u16,
        retry_after: Option<HeaderValue>,
        /// Upstream's own `error`/`message`, for the log; trimmed and cut short.
        reason: Option<String>,
    },
    /// No answer within the timeout.
    Timeout,
    /// Connection refused, DNS failure, TLS failure, reset...
    Unreachable(String),
    /// A success status whose body is not a session token.
    BadResponse(String),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, reason, .. } => match reason {
                Some(r) => write!(f, "upstream answered {status}: {r}"),
                None => write!(f, "upstream answered {status}"),
            },
            Self::Timeout => f.write_str("upstream did not answer in time"),
            Self::Unreachable(why) => write!(f, "upstream unreachable: {why}"),
            Self::BadResponse(why) => write!(f, "upstream answered garbage: {why}"),
        }
    }
}

/// Anam's Core API as the routes need it.
pub trait Upstream: Send + Sync + 'static {
    /// Mints one new session token for `persona`.
    fn session_token(
        &self,
        persona: &PersonaSelection,
    ) -> impl Future<Output = Result<String, UpstreamError>> + Send;

    /// The account's personas (id and name), used once at startup for display names.
    fn personas(&self) -> impl Future<Output = Result<Vec<PersonaSummary>, UpstreamError>> + Send;
}

/// The real upstream over HTTP(S).
#[derive(Clone)]
pub struct HttpUpstream {
    client: reqwest::Client,
    base_url: String,
    key: ApiKey,
}

impl HttpUpstream {
    pub fn new(base_url: &str, key: ApiKey, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A token endpoint has no business redirecting; following one could carry the
            // Authorization header somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("anam-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends the request and returns the body of a 2xx answer, or the failure.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, UpstreamError> {
        let response = request
            .bearer_auth(self.key.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.classify(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .filter(|v| is_sane_retry_after(v))
            .cloned();
        let body = read_limited(response)
            .await
            .map_err(|e| self.classify_body(e))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(UpstreamError::Status {
            status: status.as_u16(),
            retry_after,
            reason: self.error_reason(&body),
        })
    }

    fn classify(&self, e: &reqwest::Error) -> UpstreamError {
        if e.is_timeout() {
            UpstreamError::Timeout
        } else {
            UpstreamError::Unreachable(self.redact(&error_chain(e)))
        }
    }

    fn classify_body(&self, e: BodyError) -> UpstreamError {
        match e {
            BodyError::Transport(e) => self.classify(&e),
            BodyError::TooLarge => {
                UpstreamError::BadResponse(format!("body over {MAX_RESPONSE_BYTES} bytes"))
            }
        }
    }

    /// Upstream's `error`/`message` from an error body, for the log only.
    fn error_reason(&self, body: &[u8]) -> Option<String> {
        let value = json::parse(std::str::from_utf8(body).ok()?).ok()?;
        let parsed = ApiErrorBody::from_value(&value);
        let text = match (parsed.error, parsed.message) {
            (Some(e), Some(m)) => format!("{e}: {m}"),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return None,
        };
        let one_line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Some(self.redact(truncate(&one_line, 200)))
    }

    /// Belt and braces: an upstream that echoes the key in an error must not put it in our log.
    fn redact(&self, text: &str) -> String {
        let key = self.key.expose();
        if key.is_empty() {
            text.to_owned()
        } else {
            text.replace(key, "[redacted]")
        }
    }
}

impl Upstream for HttpUpstream {
    async fn session_token(&self, persona: &PersonaSelection) -> Result<String, UpstreamError> {
        let body = SessionTokenRequest {
            persona_config: Some(persona.clone()),
            ..SessionTokenRequest::default()
        };
        let request = self
            .client
            .post(self.url("/v1/auth/session-token"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_json().into_value().to_json());
        let bytes = self.send(request).await?;
        let parsed: SessionTokenResponse = decode_body(&bytes).map_err(|_| {
            UpstreamError::BadResponse(format!(
                "{} bytes without a sessionToken string",
                bytes.len()
            ))
        })?;
        let token = parsed.session_token;
        // A token goes into an Authorization header later: it must be non-empty visible ASCII.
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UpstreamError::BadResponse(
                "sessionToken is empty or not printable ASCII".to_owned(),
            ));
        }
        Ok(token)
    }

    async fn personas(&self) -> Result<Vec<PersonaSummary>, UpstreamError> {
        let bytes = self.send(self.client.get(self.url("/v1/personas"))).await?;
        parse_persona_listing(&bytes)
            .ok_or_else(|| UpstreamError::BadResponse("not a persona listing".to_owned()))
    }
}

/// Persona listings come as a bare array or wrapped as `{"data": [...]}` / `{"personas":
/// [...]}`; entries without a string id and name are skipped.
pub fn parse_persona_listing(body: &[u8]) -> Option<Vec<PersonaSummary>> {
    let value = json::parse(std::str::from_utf8(body).ok()?).ok()?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("data").or_else(|| map.remove("personas")) {
            Some(Value::Array(items)) => items,
            _ => return None,
        },
        _ => return None,
    };
    Some(
        items
            .iter()
            .filter_map(|item| decode_payload::<PersonaSummary>("persona", item).ok())
            .collect(),
    )
}

/// Only plain values are passed on to the page: delay-seconds or an HTTP date.
fn is_sane_retry_after(v: &reqwest::header::HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ')
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads the body chunk by chunk so that a misbehaving upstream cannot make us buffer an
/// unbounded answer.
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// "error sending request: connection refused" instead of only the outermost layer.
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    // Error chains are short; the bound only guards against a pathological cycle.
    for _ in 0..8 {
        let Some(s) = source else { break };
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persona_listing_shapes() {
        let bare = br#"[{"id":"a","name":"Aria"},{"id":"b"},{"id":"m","name":"Milo","x":1}]"#;
        let got = parse_persona_listing(bare).unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
            .collect();
        assert_eq!(ids, vec![("a", "Aria"), ("m", "Milo")]);

        let wrapped = br#"{"data":[{"id":"a","name":"Aria"}],"meta":{}}"#;
        assert_eq!(parse_persona_listing(wrapped).unwrap().len(), 1);
        let named = br#"{"personas":[{"id":"a","name":"Aria"}]}"#;
        assert_eq!(parse_persona_listing(named).unwrap().len(), 1);

        assert!(parse_persona_listing(b"{}").is_none());
        assert!(parse_persona_listing(b"garbage").is_none());
    }

    #[test]
    fn retry_after_must_be_plain() {
        use reqwest::header::HeaderValue as H;
        assert!(is_sane_retry_after(&H::from_static("30")));
        assert!(is_sane_retry_after(&H::from_static(
            "Wed, 21 Oct 2015 07:28:00 GMT"
        )));
        assert!(!is_sane_retry_after(&H::from_static("")));
        assert!(!is_sane_retry_after(&H::from_bytes(&[b'1'; 100]).unwrap()));
    }
}
