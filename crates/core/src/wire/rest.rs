//! REST bodies: session-token exchange (§2.1), start session (§3), talk (§4), error bodies,
//! persona listings and client metrics (§5).
//!
//! Field names are the camelCase JSON keys of the protocol. Every optional field is skipped when
//! absent so that encoded bodies look like what the official SDK sends (`JSON.stringify` drops
//! `undefined`). Unknown keys are ignored, or kept in an `extra` map where a server may need to
//! pass them on.

use crate::json::{Number, Object, Value};

/// Default signalling path when the server sends an empty `signallingEndpoint` (§7.1).
pub const DEFAULT_SIGNALLING_PATH: &str = "/ws";
/// Default heartbeat interval when `heartbeatIntervalSeconds` is falsy (§3.2).
pub const DEFAULT_HEARTBEAT_INTERVAL_SECS: u32 = 5;
/// Default WS reconnection budget when `maxWsReconnectionAttempts` is falsy (§3.2).
pub const DEFAULT_MAX_WS_RECONNECTION_ATTEMPTS: u32 = 5;
/// The preset director-note styles of §10.9.
pub const PRESET_STYLES: [&str; 7] = [
    "happy",
    "warm",
    "playful",
    "supportive",
    "sad",
    "angry",
    "distressed",
];
/// Maximum length (characters) of `directorNotes.customStylePrompt` (§10.9).
pub const MAX_CUSTOM_STYLE_PROMPT_CHARS: usize = 2000;

// ---------------------------------------------------------------------------------------------
// Persona configuration (§10.9)

/// A runtime persona configuration, as sent in an ephemeral token request or in the
/// start-session body. All fields are optional on the wire so that partial configs decode;
/// callers decide what they require.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonaConfig {
    /// Id of a saved persona; absent for a purely runtime persona.
    pub persona_id: Option<String>,
    /// Display name of the persona.
    pub name: Option<String>,
    /// Which avatar (face and body) to render.
    pub avatar_id: Option<String>,
    /// Which voice speaks.
    pub voice_id: Option<String>,
    /// Which language model answers.
    pub llm_id: Option<String>,
    /// Deprecated alias of `llmId`; kept so that old configs still round-trip.
    pub brain_type: Option<String>,
    /// Instructions given to the language model.
    pub system_prompt: Option<String>,
    /// Session length cap in seconds; absent for the server default.
    pub max_session_length_seconds: Option<Number>,
    /// Language of speech recognition and synthesis; absent for the server default.
    pub language_code: Option<String>,
    /// Speaking-style settings; checked by [`DirectorNotes::validate`].
    pub director_notes: Option<DirectorNotes>,
    /// Keys this crate does not model, kept verbatim (newer persona options must survive a
    /// backend or emulator that forwards the config).
    pub extra: Object,
}

/// `personaConfig.directorNotes`: a preset style or a custom prompt, each optionally with an
/// expressivity. Decoded permissively; [`DirectorNotes::validate`] applies the §10.9 rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectorNotes {
    /// One of [`PRESET_STYLES`]; exclusive with `customStylePrompt`.
    pub preset_style: Option<String>,
    /// Free-text style, at most [`MAX_CUSTOM_STYLE_PROMPT_CHARS`] characters.
    pub custom_style_prompt: Option<String>,
    /// How strongly the style shows, in `[0, 1]`.
    pub expressivity: Option<Number>,
}

/// Why a [`DirectorNotes`] value breaks the §10.9 / §2.3 rules.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectorNotesError {
    /// `expressivity` is not a finite number in `[0, 1]`.
    ExpressivityOutOfRange(f64),
    /// Both `presetStyle` and `customStylePrompt` are set.
    BothStyles,
    /// `presetStyle` is not one of [`PRESET_STYLES`].
    UnknownPresetStyle(String),
    /// `customStylePrompt` is longer than [`MAX_CUSTOM_STYLE_PROMPT_CHARS`].
    CustomPromptTooLong(usize),
}

impl std::fmt::Display for DirectorNotesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ExpressivityOutOfRange(v) => {
                write!(
                    f,
                    "directorNotes.expressivity must be a number in [0, 1], got {}",
                    crate::decimal::decimal(*v, 6)
                )
            }
            Self::BothStyles => {
                f.write_str("directorNotes takes presetStyle or customStylePrompt, not both")
            }
            Self::UnknownPresetStyle(s) => write!(f, "unknown directorNotes.presetStyle \"{s}\""),
            Self::CustomPromptTooLong(n) => write!(
                f,
                "directorNotes.customStylePrompt has {n} characters, more than {MAX_CUSTOM_STYLE_PROMPT_CHARS}"
            ),
        }
    }
}

impl std::error::Error for DirectorNotesError {}

impl DirectorNotes {
    /// Checks the documented constraints. Expressivity is checked first because it is the one
    /// rule the official client enforces at construction time (§2.3 item 4).
    pub fn validate(&self) -> Result<(), DirectorNotesError> {
        if let Some(e) = self.expressivity.as_ref().map(Number::as_f64) {
            if !(e.is_finite() && (0.0..=1.0).contains(&e)) {
                return Err(DirectorNotesError::ExpressivityOutOfRange(e));
            }
        }
        match (&self.preset_style, &self.custom_style_prompt) {
            (Some(_), Some(_)) => Err(DirectorNotesError::BothStyles),
            (Some(style), None) if !PRESET_STYLES.contains(&style.as_str()) => {
                Err(DirectorNotesError::UnknownPresetStyle(style.clone()))
            }
            (None, Some(prompt)) if prompt.chars().count() > MAX_CUSTOM_STYLE_PROMPT_CHARS => Err(
                DirectorNotesError::CustomPromptTooLong(prompt.chars().count()),
            ),
            _ => Ok(()),
        }
    }
}

/// `personaConfig` of a session-token request (§2.1): either a reference to a persona saved in
/// Anam Lab (stateful token) or a full runtime config (ephemeral token).
#[derive(Debug, Clone, PartialEq)]
pub enum PersonaSelection {
    /// `{"personaId": "…"}` (or the legacy spelling `{"id": "…"}`); encodes as `personaId`.
    Saved {
        /// Id of the saved persona.
        persona_id: String,
    },
    /// A full persona config (boxed: it is much larger than a bare id).
    Ephemeral(Box<PersonaConfig>),
}

/// The keys of [`PersonaConfig`] that are fields, not pass-through `extra`.
const PERSONA_CONFIG_KEYS: [&str; 10] = [
    "personaId",
    "name",
    "avatarId",
    "voiceId",
    "llmId",
    "brainType",
    "systemPrompt",
    "maxSessionLengthSeconds",
    "languageCode",
    "directorNotes",
];

/// Keys whose presence makes a `personaConfig` a runtime (ephemeral) config rather than a
/// reference to a saved persona: every field but the id.
const EPHEMERAL_KEYS: &[&str] = PERSONA_CONFIG_KEYS.split_at(1).1;

impl PersonaSelection {
    /// The persona id, for both a saved reference and a config that names one.
    pub fn persona_id(&self) -> Option<&str> {
        match self {
            PersonaSelection::Saved { persona_id } => Some(persona_id),
            PersonaSelection::Ephemeral(cfg) => cfg.persona_id.as_deref(),
        }
    }

    /// `true` for the stateful form (the token `type` an emulator should mint, §2.5).
    pub fn is_saved(&self) -> bool {
        matches!(self, PersonaSelection::Saved { .. })
    }
}

// ---------------------------------------------------------------------------------------------
// Session token (§2.1)

/// `sessionOptions` (§2.1 token body, §3.1 start-session body).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionOptions {
    /// Tuning of end-of-speech detection; absent for the server default.
    pub voice_detection: Option<VoiceDetection>,
    /// Options this crate does not model, kept verbatim.
    pub extra: Object,
}

/// `sessionOptions.voiceDetection`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoiceDetection {
    /// In `[0, 1]` (checked by the client at construction, §2.3 item 5).
    pub end_of_speech_sensitivity: Option<Number>,
}

/// Body of `POST /v1/auth/session-token`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionTokenRequest {
    /// Which persona the token is bound to.
    pub persona_config: Option<PersonaSelection>,
    /// Free label identifying the caller, for the server's logs.
    pub client_label: Option<String>,
    /// Options applied to sessions started with this token.
    pub session_options: Option<SessionOptions>,
    /// Older docs listed a token lifetime (`1h`, `12h`, `1d`, …).
    pub expires_in: Option<String>,
}

/// Success body of `POST /v1/auth/session-token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTokenResponse {
    /// The JWT the client passes to `createClient` (§2.2).
    pub session_token: String,
}

// ---------------------------------------------------------------------------------------------
// Start session (§3)

/// `clientMetadata` of the start-session body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// Client name (the SDK's package name).
    pub client: String,
    /// Client version string.
    pub version: String,
}

/// Body of `POST /v1/engine/session`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartSessionRequest {
    /// Persona config: always with an API key, with a token only after `setPersonaConfig()`.
    pub persona_config: Option<PersonaConfig>,
    /// Present only when the client was given `voiceDetection`.
    pub session_options: Option<SessionOptions>,
    /// Always sent by the client; optional on decode because servers ignore it.
    pub client_metadata: Option<ClientMetadata>,
}

/// `urls` of an ICE server: one URL or a list, like `RTCIceServer.urls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceUrls {
    /// A single URL.
    One(String),
    /// Several URLs for the same server.
    Many(Vec<String>),
}

impl IceUrls {
    /// The URLs as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            IceUrls::One(u) => vec![u.clone()],
            IceUrls::Many(v) => v.clone(),
        }
    }
}

/// One entry of `clientConfig.iceServers` (an `RTCIceServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:`/`turn:` URLs of the server.
    pub urls: IceUrls,
    /// TURN user name; absent for STUN.
    pub username: Option<String>,
    /// TURN password; absent for STUN.
    pub credential: Option<String>,
}

/// `clientConfig` of the start-session response. Required by the client (§3.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientConfig {
    /// Heartbeat period in seconds; falsy means 5 (see [`Self::heartbeat_interval_ms`]).
    pub heartbeat_interval_seconds: Option<f64>,
    /// Signalling reconnect budget; falsy means 5 (see [`Self::max_ws_reconnection_attempts`]).
    pub max_ws_reconnection_attempts: Option<f64>,
    /// Must be an array (possibly empty): a missing list is a decode error here, because the
    /// official client cannot set up its peer connection without one.
    pub ice_servers: Vec<IceServer>,
    /// `"all"` or `"relay"`.
    pub ice_transport_policy: Option<String>,
    /// Read by Anam's Python SDK; harmless for browser clients.
    pub expected_heartbeat_interval_secs: Option<f64>,
}

impl ClientConfig {
    /// Heartbeat period in milliseconds: a falsy or unusable value falls back to 5 s, like the
    /// official client (`0` cannot disable heartbeats).
    pub fn heartbeat_interval_ms(&self) -> u64 {
        match self.heartbeat_interval_seconds {
            Some(s) if s.is_finite() && s > 0.0 => (s * 1000.0) as u64,
            _ => u64::from(DEFAULT_HEARTBEAT_INTERVAL_SECS) * 1000,
        }
    }

    /// WS reconnection budget: falsy (absent, 0, NaN) falls back to 5, so 0 cannot disable
    /// reconnects; a negative value allows none (the JS comparison `attempts <= max` fails).
    pub fn max_ws_reconnection_attempts(&self) -> u32 {
        match self.max_ws_reconnection_attempts {
            Some(n) if n.is_nan() || n == 0.0 => DEFAULT_MAX_WS_RECONNECTION_ATTEMPTS,
            // Float-to-int casts saturate, so +inf becomes u32::MAX and negatives 0.
            Some(n) => n.floor() as u32,
            None => DEFAULT_MAX_WS_RECONNECTION_ATTEMPTS,
        }
    }
}

/// Success body of `POST /v1/engine/session` (status 200 or 201).
#[derive(Debug, Clone, PartialEq)]
pub struct StartSessionResponse {
    /// Id of the new session, used in the signalling and `/talk` URLs.
    pub session_id: String,
    /// `host[:port]`, no scheme, no path.
    pub engine_host: String,
    /// `http` or `https`; also the scheme of `/talk`.
    pub engine_protocol: String,
    /// WS path, e.g. `/ws`.
    pub signalling_endpoint: String,
    /// [4.27] optional, may be `null`.
    pub region: Option<String>,
    /// Heartbeat, reconnect and ICE settings for the client.
    pub client_config: ClientConfig,
}

impl StartSessionResponse {
    /// The signalling WebSocket URL of §7.1: `ws:` when `engineProtocol` is exactly `http`,
    /// `wss:` otherwise; the path is `signallingEndpoint` (default `/ws`); the session id goes
    /// in the `session_id` query parameter (form-encoded, as `URLSearchParams` would).
    pub fn signalling_url(&self) -> String {
        let scheme = if self.engine_protocol == "http" {
            "ws"
        } else {
            "wss"
        };
        let path = match self.signalling_endpoint.as_str() {
            "" => DEFAULT_SIGNALLING_PATH.to_owned(),
            p if p.starts_with('/') => p.to_owned(),
            // Assigning a relative path to `URL.pathname` gains a leading slash.
            p => format!("/{p}"),
        };
        format!(
            "{scheme}://{}{path}?session_id={}",
            self.engine_host,
            form_encode(&self.session_id)
        )
    }

    /// The `/talk` URL of §4: plain concatenation, the session id is not encoded (like the
    /// official client). An empty `engineProtocol` falls back to `https`.
    pub fn talk_url(&self) -> String {
        let scheme = if self.engine_protocol.is_empty() {
            "https"
        } else {
            &self.engine_protocol
        };
        format!(
            "{scheme}://{}/talk?session_id={}",
            self.engine_host, self.session_id
        )
    }
}

/// `application/x-www-form-urlencoded` encoding of one query value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Talk (§4), errors, personas, metrics

/// Body of `POST {engine}/talk?session_id=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkRequest {
    /// Text the persona should speak.
    pub content: String,
}

/// JSON error body of the Core API (and of our emulator and backend): any subset of
/// `{error, message, solution}`. Non-string values are ignored rather than rejected, because
/// this is read from failing servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// Short error kind; absent or non-string values read as `None`.
    pub error: Option<String>,
    /// Human-readable explanation; absent or non-string values read as `None`.
    pub message: Option<String>,
    /// Hint on how to fix the problem; absent or non-string values read as `None`.
    pub solution: Option<String>,
}

impl ApiErrorBody {
    /// Reads an error body from a JSON value; anything that is not an object yields an empty
    /// body (JS `body.message` on a non-object is just `undefined`).
    pub fn from_value(value: &Value) -> ApiErrorBody {
        match value {
            Value::Object(map) => {
                let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
                ApiErrorBody {
                    error: text("error"),
                    message: text("message"),
                    solution: text("solution"),
                }
            }
            _ => ApiErrorBody::default(),
        }
    }

    /// An error body with `error` and `message` set, as our servers answer.
    pub fn new(error: &str, message: &str) -> ApiErrorBody {
        ApiErrorBody {
            error: Some(error.to_owned()),
            message: Some(message.to_owned()),
            solution: None,
        }
    }
}

/// One persona in a persona listing (`{id, name, …}`).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaSummary {
    /// Persona id, usable as `personaConfig.personaId`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Any other fields (description, avatar, …), kept verbatim.
    pub extra: Object,
}

mod codec;
pub use codec::ice_servers_json;

/// Body of `POST /v1/metrics/client`: one metric or `{"metrics": [...]}`. Servers accept
/// anything (§5, §16 item 2), so it stays untyped.
pub type MetricsBody = Value;
