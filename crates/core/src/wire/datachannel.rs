//! Data-channel messages on the `session` channel (§9).
//!
//! The two directions are shaped differently, and both are modelled exactly:
//! * client → server ([`ClientDataMessage`]): a flat object with `message_type` and snake_case
//!   fields;
//! * server → client ([`ServerDataMessage`]): `{"messageType": "<camelCase>", "data": {…}}` with
//!   snake_case fields inside `data`.
//!
//! Both directions decode and encode: the client encodes what the emulator decodes and vice
//! versa. Server messages tolerate missing fields (the official client falls back to
//! `"unknown"` / `{}`, §11.1 item 10), so every `data` field has a default.

use crate::json::{Number, Object, Value};

use super::{decode_payload, parse_object, DecodeError, ToJson};

/// Label of the one data channel the client creates.
pub const CHANNEL_LABEL: &str = "session";
/// Allowed director-note cue tags (§10.9), in the SDK's order.
pub const DIRECTOR_NOTE_CUE_TAGS: [&str; 11] = [
    "happy",
    "warm",
    "playful",
    "laughter",
    "curious",
    "supportive",
    "concerned",
    "sad",
    "surprised",
    "angry",
    "distressed",
];
/// Maximum UTF-8 length of a cue tag.
pub const MAX_CUE_TAG_BYTES: usize = 64;

/// `message_type` values of client → server messages (§9.1).
pub mod client_type {
    /// A typed user message for the persona to answer.
    pub const SPEECH: &str = "speech";
    /// Asks the persona to stop talking now.
    pub const INTERRUPT: &str = "interrupt";
    /// Text added to the persona's context without a reply.
    pub const CONTEXT: &str = "context";
    /// A director-note cue that changes the persona's delivery.
    pub const DIRECTOR_NOTE_CUE: &str = "director_note_cue";
    /// The outcome of a client-side tool handler.
    pub const TOOL_RESULT: &str = "tool_result";
    /// A periodic inbound-rtp stats report (every 5 s, §8.7).
    pub const REMOTE_RTP_STATS: &str = "remote_rtp_stats";
    /// Every client → server type, in §9.1 order.
    pub const ALL: [&str; 6] = [
        SPEECH,
        INTERRUPT,
        CONTEXT,
        DIRECTOR_NOTE_CUE,
        TOOL_RESULT,
        REMOTE_RTP_STATS,
    ];
}

/// `messageType` values of server → client messages (§9.2), the SDK's `DataChannelMessage`.
pub mod server_type {
    /// One transcript chunk, user or persona.
    pub const SPEECH_TEXT: &str = "speechText";
    /// A legacy client tool event.
    pub const CLIENT_TOOL_EVENT: &str = "clientToolEvent";
    /// A tool call began on the engine.
    pub const TOOL_CALL_STARTED: &str = "toolCallStarted";
    /// A tool call finished with a result.
    pub const TOOL_CALL_COMPLETED: &str = "toolCallCompleted";
    /// A tool call ended with an error.
    pub const TOOL_CALL_FAILED: &str = "toolCallFailed";
    /// One chunk of the persona's visible reasoning.
    pub const REASONING_TEXT: &str = "reasoningText";
    /// The user began speaking.
    pub const USER_SPEECH_STARTED: &str = "userSpeechStarted";
    /// The user stopped speaking.
    pub const USER_SPEECH_ENDED: &str = "userSpeechEnded";
    /// The engine applied a director-note cue.
    pub const DIRECTOR_NOTE_CUE_APPLIED: &str = "directorNoteCueApplied";
    /// The engine applied a persona config change.
    pub const PERSONA_CONFIG_UPDATE_APPLIED: &str = "personaConfigUpdateApplied";
    /// Every server → client type, in the SDK's order.
    pub const ALL: [&str; 10] = [
        SPEECH_TEXT,
        CLIENT_TOOL_EVENT,
        TOOL_CALL_STARTED,
        TOOL_CALL_COMPLETED,
        TOOL_CALL_FAILED,
        REASONING_TEXT,
        USER_SPEECH_STARTED,
        USER_SPEECH_ENDED,
        DIRECTOR_NOTE_CUE_APPLIED,
        PERSONA_CONFIG_UPDATE_APPLIED,
    ];
}

// ---------------------------------------------------------------------------------------------
// Client → server (§9.1)

/// `speech`: a typed user message. `timestamp` is ISO-8601 UTC with the trailing `Z` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    /// What the user typed.
    pub content: String,
    /// When the message was sent, ISO-8601 UTC without the trailing `Z`.
    pub timestamp: String,
    /// Active session id; empty when absent on decode.
    pub session_id: String,
}

/// `interrupt`: stop the persona. `timestamp` keeps its `Z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupt {
    /// Active session id; empty when absent on decode.
    pub session_id: String,
    /// When the interrupt was sent, ISO-8601 UTC with its `Z`.
    pub timestamp: String,
}

/// `context`: silent context for the persona.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Active session id; empty when absent on decode.
    pub session_id: String,
    /// Text the persona should take into account.
    pub content: String,
}

/// The `cue` object of a director-note cue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// One of [`DIRECTOR_NOTE_CUE_TAGS`], at most [`MAX_CUE_TAG_BYTES`] bytes.
    pub tag: String,
}

/// `director_note_cue`: no `session_id`; at most one of `in_seconds` / `at_seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectorNoteCue {
    /// Which cue to apply.
    pub cue: Cue,
    /// Apply the cue this many seconds from now; absent for "now" or when `at_seconds` is set.
    pub in_seconds: Option<Number>,
    /// Apply the cue at this offset in seconds; absent when `in_seconds` is set or for "now".
    pub at_seconds: Option<Number>,
}

/// `tool_result`: the outcome of a client tool handler (§9.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// Active session id; empty when absent on decode.
    pub session_id: String,
    /// Id of the tool call this answers, copied from `toolCallStarted`.
    pub tool_call_id: String,
    /// Correlation id copied from the tool call.
    pub user_action_correlation_id: String,
    /// User-action timestamp copied from the tool call.
    pub timestamp_user_action: String,
    /// The handler's returned string; absent on error or when it returned nothing.
    pub result: Option<String>,
    /// `Error in handler: <message>` when the handler threw; absent on success.
    pub error: Option<String>,
}

/// `remote_rtp_stats`: one `inbound-rtp` stats report, as the browser produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRtpStats {
    /// The `inbound-rtp` report as a JSON object.
    pub data: Value,
}

/// A client → server data-channel message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientDataMessage {
    /// `speech`.
    Speech(Speech),
    /// `interrupt`.
    Interrupt(Interrupt),
    /// `context`.
    Context(Context),
    /// `director_note_cue`.
    DirectorNoteCue(DirectorNoteCue),
    /// `tool_result`.
    ToolResult(ToolResult),
    /// `remote_rtp_stats`.
    RemoteRtpStats(RemoteRtpStats),
    /// Any other `message_type`; `fields` holds the object without the `message_type` key.
    Unknown {
        /// The unrecognised `message_type` value.
        message_type: String,
        /// Remaining keys of the frame.
        fields: Object,
    },
}

impl ClientDataMessage {
    /// The `message_type` of this message.
    pub fn message_type(&self) -> &str {
        match self {
            ClientDataMessage::Speech(_) => client_type::SPEECH,
            ClientDataMessage::Interrupt(_) => client_type::INTERRUPT,
            ClientDataMessage::Context(_) => client_type::CONTEXT,
            ClientDataMessage::DirectorNoteCue(_) => client_type::DIRECTOR_NOTE_CUE,
            ClientDataMessage::ToolResult(_) => client_type::TOOL_RESULT,
            ClientDataMessage::RemoteRtpStats(_) => client_type::REMOTE_RTP_STATS,
            ClientDataMessage::Unknown { message_type, .. } => message_type,
        }
    }

    /// Decodes one client → server frame.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let mut map = parse_object(text)?;
        let message_type = match map.remove("message_type") {
            Some(Value::String(s)) => s,
            _ => return Err(DecodeError::MissingKind("message_type")),
        };
        let kind = message_type.as_str();
        let fields = Value::Object(map);
        let f = &fields;
        Ok(match kind {
            client_type::SPEECH => ClientDataMessage::Speech(decode_payload(kind, f)?),
            client_type::INTERRUPT => ClientDataMessage::Interrupt(decode_payload(kind, f)?),
            client_type::CONTEXT => ClientDataMessage::Context(decode_payload(kind, f)?),
            client_type::DIRECTOR_NOTE_CUE => {
                ClientDataMessage::DirectorNoteCue(decode_payload(kind, f)?)
            }
            client_type::TOOL_RESULT => ClientDataMessage::ToolResult(decode_payload(kind, f)?),
            client_type::REMOTE_RTP_STATS => {
                ClientDataMessage::RemoteRtpStats(decode_payload(kind, f)?)
            }
            _ => ClientDataMessage::Unknown {
                message_type,
                fields: match fields {
                    Value::Object(m) => m,
                    _ => Object::new(),
                },
            },
        })
    }

    /// Encodes this message as JSON text (flat object with `message_type`).
    pub fn encode(&self) -> String {
        let mut map = match self {
            ClientDataMessage::Speech(m) => m.to_json(),
            ClientDataMessage::Interrupt(m) => m.to_json(),
            ClientDataMessage::Context(m) => m.to_json(),
            ClientDataMessage::DirectorNoteCue(m) => m.to_json(),
            ClientDataMessage::ToolResult(m) => m.to_json(),
            ClientDataMessage::RemoteRtpStats(m) => m.to_json(),
            ClientDataMessage::Unknown { fields, .. } => fields.clone(),
        };
        map.insert("message_type", Value::from(self.message_type()));
        map.into_value().to_json()
    }
}

// ---------------------------------------------------------------------------------------------
// Server → client (§9.2)

/// Speaker of a transcript chunk. Roles other than `user`/`persona` are kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MessageRole {
    /// The human side of the conversation (`"user"`).
    User,
    /// The avatar (`"persona"`); assumed when the role is missing.
    #[default]
    Persona,
    /// Any other role text, kept verbatim.
    Other(String),
}

impl MessageRole {
    /// The role as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            MessageRole::User => "user",
            MessageRole::Persona => "persona",
            MessageRole::Other(s) => s,
        }
    }
}

impl From<String> for MessageRole {
    fn from(s: String) -> Self {
        match s.as_str() {
            "user" => MessageRole::User,
            "persona" => MessageRole::Persona,
            _ => MessageRole::Other(s),
        }
    }
}

impl From<MessageRole> for String {
    fn from(role: MessageRole) -> String {
        role.as_str().to_owned()
    }
}

/// `speechText` data: one transcript chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpeechText {
    /// Id shared by all chunks of one message (and by the user and persona sides of an exchange).
    pub message_id: String,
    /// 0-based chunk index within `message_id`.
    pub content_index: Option<u32>,
    /// The text of this chunk.
    pub content: String,
    /// Who is speaking.
    pub role: MessageRole,
    /// Whether this chunk closes the message.
    pub end_of_speech: bool,
    /// Whether the persona was cut off during this message.
    pub interrupted: bool,
    /// Director-note cue active for this chunk; absent when none.
    pub cue_tag: Option<String>,
    /// Correlates the chunk with the user action that triggered it; absent when unknown.
    pub user_action_correlation_id: Option<String>,
    /// Alias of `user_action_correlation_id` sent by some engines.
    pub correlation_id: Option<String>,
    /// [4.27]
    pub utterance_id: Option<String>,
}

impl SpeechText {
    /// The correlation id the client reports: `user_action_correlation_id`, else the
    /// `correlationId` alias, omitted when empty (§9.3).
    pub fn effective_correlation_id(&self) -> Option<&str> {
        self.user_action_correlation_id
            .as_deref()
            .or(self.correlation_id.as_deref())
            .filter(|s| !s.is_empty())
    }
}

/// `reasoningText` data: one chunk of the persona's visible reasoning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningText {
    /// Id shared by all chunks of one reasoning message.
    pub message_id: String,
    /// 0-based chunk index within `message_id`; absent when the engine omits it.
    pub content_index: Option<u32>,
    /// The text of this chunk.
    pub content: String,
    /// Whose reasoning it is (normally the persona).
    pub role: MessageRole,
    /// Whether this chunk closes the reasoning message.
    pub end_of_thought: bool,
}

/// `userSpeechStarted` / `userSpeechEnded` data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpeech {
    /// Correlates the speech with a user action; absent means `"unknown"` for the client.
    pub user_action_correlation_id: Option<String>,
}

/// Fields shared by the three tool-call messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallBase {
    /// Unique id of this event.
    pub event_uid: String,
    /// Session the tool call belongs to; only the active session's calls are tracked (§9.4).
    pub session_id: String,
    /// Id shared by the started, completed and failed messages of one call.
    pub tool_call_id: String,
    /// Name the handler is registered under.
    pub tool_name: String,
    /// `client`, `server`, …
    pub tool_type: String,
    /// `webhook`, `rag`, …
    pub tool_subtype: Option<String>,
    /// Arguments as a JSON object; `{}` when absent.
    pub arguments: Value,
    /// When the event happened, ISO-8601; the start and end give the execution time.
    pub timestamp: String,
    /// When the triggering user action happened, ISO-8601.
    pub timestamp_user_action: String,
    /// Correlates the call with the user action that triggered it.
    pub user_action_correlation_id: String,
    /// Whether the tool ran outside the engine (client tools).
    pub used_outside_engine: bool,
}

impl Default for ToolCallBase {
    fn default() -> Self {
        ToolCallBase {
            event_uid: String::new(),
            session_id: String::new(),
            tool_call_id: String::new(),
            tool_name: String::new(),
            tool_type: String::new(),
            tool_subtype: None,
            // An absent argument list reads as "no arguments".
            arguments: Value::Object(Object::new()),
            timestamp: String::new(),
            timestamp_user_action: String::new(),
            user_action_correlation_id: String::new(),
            used_outside_engine: false,
        }
    }
}

/// `toolCallStarted` data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallStarted {
    /// Fields common to all tool-call messages.
    pub base: ToolCallBase,
}

/// `toolCallCompleted` data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallCompleted {
    /// Fields common to all tool-call messages.
    pub base: ToolCallBase,
    /// Any JSON.
    pub result: Value,
    /// RAG tools only.
    pub documents_accessed: Option<Vec<String>>,
}

/// `toolCallFailed` data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallFailed {
    /// Fields common to all tool-call messages.
    pub base: ToolCallBase,
    /// Why the tool failed.
    pub error_message: String,
}

/// `clientToolEvent` data (legacy client tools).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientToolEvent {
    /// Unique id of this event.
    pub event_uid: String,
    /// Session the event belongs to.
    pub session_id: String,
    /// Name of the client tool to run.
    pub event_name: String,
    /// Arguments for the tool as a JSON object; `{}` when absent.
    pub event_data: Value,
    /// When the event happened, ISO-8601.
    pub timestamp: String,
    /// When the triggering user action happened, ISO-8601.
    pub timestamp_user_action: String,
    /// Correlates the event with the user action that triggered it.
    pub user_action_correlation_id: String,
    /// Whether the tool runs outside the engine.
    pub used_outside_engine: bool,
}

impl Default for ClientToolEvent {
    fn default() -> Self {
        ClientToolEvent {
            event_uid: String::new(),
            session_id: String::new(),
            event_name: String::new(),
            event_data: Value::Object(Object::new()),
            timestamp: String::new(),
            timestamp_user_action: String::new(),
            user_action_correlation_id: String::new(),
            used_outside_engine: false,
        }
    }
}

/// `directorNoteCueApplied` data. Missing ids are reported as `"unknown"` by the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorNoteCueApplied {
    /// Session the cue was applied in; absent when not sent.
    pub session_id: Option<String>,
    /// Correlation id of the cue request; absent when not sent.
    pub user_action_correlation_id: Option<String>,
    /// When the cue was requested, ISO-8601; absent when not sent.
    pub timestamp_user_action: Option<String>,
    /// The applied cue tag; absent when not sent.
    pub cue_tag: Option<String>,
}

/// `personaConfigUpdateApplied` data: `changed_fields` maps a config path to
/// `{"before": …, "after": …}`; kept as JSON because the values can be anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonaConfigUpdateApplied {
    /// Session the update was applied in; absent when not sent.
    pub session_id: Option<String>,
    /// Config path → `{"before", "after"}`; `{}` when absent.
    pub changed_fields: Object,
}

/// A server → client data-channel message.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerDataMessage {
    /// `speechText`.
    SpeechText(SpeechText),
    /// `reasoningText`.
    ReasoningText(ReasoningText),
    /// `userSpeechStarted`.
    UserSpeechStarted(UserSpeech),
    /// `userSpeechEnded`.
    UserSpeechEnded(UserSpeech),
    /// `toolCallStarted`.
    ToolCallStarted(ToolCallStarted),
    /// `toolCallCompleted`.
    ToolCallCompleted(ToolCallCompleted),
    /// `toolCallFailed`.
    ToolCallFailed(ToolCallFailed),
    /// `clientToolEvent`.
    ClientToolEvent(ClientToolEvent),
    /// `directorNoteCueApplied`.
    DirectorNoteCueApplied(DirectorNoteCueApplied),
    /// `personaConfigUpdateApplied`.
    PersonaConfigUpdateApplied(PersonaConfigUpdateApplied),
    /// Any other `messageType` (ignored by clients, kept for logging).
    Unknown {
        /// The unrecognised `messageType` value.
        message_type: String,
        /// The `data` payload as received (`{}` when missing or `null`).
        data: Value,
    },
}

impl ServerDataMessage {
    /// The `messageType` of this message.
    pub fn message_type(&self) -> &str {
        match self {
            ServerDataMessage::SpeechText(_) => server_type::SPEECH_TEXT,
            ServerDataMessage::ReasoningText(_) => server_type::REASONING_TEXT,
            ServerDataMessage::UserSpeechStarted(_) => server_type::USER_SPEECH_STARTED,
            ServerDataMessage::UserSpeechEnded(_) => server_type::USER_SPEECH_ENDED,
            ServerDataMessage::ToolCallStarted(_) => server_type::TOOL_CALL_STARTED,
            ServerDataMessage::ToolCallCompleted(_) => server_type::TOOL_CALL_COMPLETED,
            ServerDataMessage::ToolCallFailed(_) => server_type::TOOL_CALL_FAILED,
            ServerDataMessage::ClientToolEvent(_) => server_type::CLIENT_TOOL_EVENT,
            ServerDataMessage::DirectorNoteCueApplied(_) => server_type::DIRECTOR_NOTE_CUE_APPLIED,
            ServerDataMessage::PersonaConfigUpdateApplied(_) => {
                server_type::PERSONA_CONFIG_UPDATE_APPLIED
            }
            ServerDataMessage::Unknown { message_type, .. } => message_type,
        }
    }

    /// Decodes one server → client frame. A missing or `null` `data` reads as `{}`.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let mut map = parse_object(text)?;
        let message_type = match map.remove("messageType") {
            Some(Value::String(s)) => s,
            _ => return Err(DecodeError::MissingKind("messageType")),
        };
        let data = match map.remove("data") {
            None | Some(Value::Null) => Value::Object(Object::new()),
            Some(other) => other,
        };
        let kind = message_type.as_str();
        let d = &data;
        Ok(match kind {
            server_type::SPEECH_TEXT => ServerDataMessage::SpeechText(decode_payload(kind, d)?),
            server_type::REASONING_TEXT => {
                ServerDataMessage::ReasoningText(decode_payload(kind, d)?)
            }
            server_type::USER_SPEECH_STARTED => {
                ServerDataMessage::UserSpeechStarted(decode_payload(kind, d)?)
            }
            server_type::USER_SPEECH_ENDED => {
                ServerDataMessage::UserSpeechEnded(decode_payload(kind, d)?)
            }
            server_type::TOOL_CALL_STARTED => {
                ServerDataMessage::ToolCallStarted(decode_payload(kind, d)?)
            }
            server_type::TOOL_CALL_COMPLETED => {
                ServerDataMessage::ToolCallCompleted(decode_payload(kind, d)?)
            }
            server_type::TOOL_CALL_FAILED => {
                ServerDataMessage::ToolCallFailed(decode_payload(kind, d)?)
            }
            server_type::CLIENT_TOOL_EVENT => {
                ServerDataMessage::ClientToolEvent(decode_payload(kind, d)?)
            }
            server_type::DIRECTOR_NOTE_CUE_APPLIED => {
                ServerDataMessage::DirectorNoteCueApplied(decode_payload(kind, d)?)
            }
            server_type::PERSONA_CONFIG_UPDATE_APPLIED => {
                ServerDataMessage::PersonaConfigUpdateApplied(decode_payload(kind, d)?)
            }
            _ => ServerDataMessage::Unknown { message_type, data },
        })
    }

    /// Encodes this message as `{"messageType", "data"}` JSON text.
    pub fn encode(&self) -> String {
        let data = match self {
            ServerDataMessage::SpeechText(d) => d.to_json().into(),
            ServerDataMessage::ReasoningText(d) => d.to_json().into(),
            ServerDataMessage::UserSpeechStarted(d) | ServerDataMessage::UserSpeechEnded(d) => {
                d.to_json().into()
            }
            ServerDataMessage::ToolCallStarted(d) => d.to_json().into(),
            ServerDataMessage::ToolCallCompleted(d) => d.to_json().into(),
            ServerDataMessage::ToolCallFailed(d) => d.to_json().into(),
            ServerDataMessage::ClientToolEvent(d) => d.to_json().into(),
            ServerDataMessage::DirectorNoteCueApplied(d) => d.to_json().into(),
            ServerDataMessage::PersonaConfigUpdateApplied(d) => d.to_json().into(),
            ServerDataMessage::Unknown { data, .. } => data.clone(),
        };
        Object::new()
            .with("messageType", self.message_type())
            .with("data", data)
            .into_value()
            .to_json()
    }
}

mod codec;
