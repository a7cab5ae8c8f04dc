//! The validated options a session machine runs with.

use crate::retry::RetryPolicy;

/// Name sent as `clientMetadata.client`.
pub const CLIENT_NAME: &str = "anam-wasm";
/// Default Core API origin and version (§12).
pub const DEFAULT_BASE_URL: &str = "https://api.anam.ai";
pub const DEFAULT_API_VERSION: &str = "/v1";

/// Where session tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// One token given to `createClient`; reused for every session (as the official client does).
    Fixed(String),
    /// An app function returning a token: called for each new session, and once more when the
    /// token turns out expired.
    Provider,
}

/// The validated options the machine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub base_url: String,
    pub api_version: String,
    pub retry: RetryPolicy,
    /// Kept as the app's JSON number text, so the wire carries exactly what it gave.
    pub end_of_speech_sensitivity: Option<crate::json::Number>,
    pub disable_input_audio: bool,
    pub token: TokenSource,
    /// `autoResume`: how many fresh sessions to try after a lost one (`None`: never resume).
    /// Only meaningful with [`TokenSource::Provider`]; the shell refuses it with a fixed token.
    pub auto_resume: Option<u32>,
}

impl SessionConfig {
    /// Defaults of the official client for a token source.
    pub fn new(token: TokenSource) -> SessionConfig {
        SessionConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            retry: RetryPolicy::default(),
            end_of_speech_sensitivity: None,
            disable_input_audio: false,
            token,
            auto_resume: None,
        }
    }
}
