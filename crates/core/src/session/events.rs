//! The public events a client fires (docs/PROTOCOL.md §10.6), as the session machine decides
//! them. Events that carry browser objects (media streams) carry no data here: the browser shell
//! attaches the stream it holds.

use super::history::Message;
use super::tools::{ClientToolEventPayload, ToolCallEvent};
use serde::Serialize;

/// Every public event name, in the order of §10.6, then this client's extensions. `js/enums.js`
/// must list exactly these (a test in the root crate checks it).
pub const EVENT_NAMES: [&str; 29] = [
    "MESSAGE_HISTORY_UPDATED",
    "MESSAGE_STREAM_EVENT_RECEIVED",
    "CONNECTION_ESTABLISHED",
    "DATA_CHANNEL_OPEN",
    "CONNECTION_CLOSED",
    "INPUT_AUDIO_STREAM_STARTED",
    "VIDEO_STREAM_STARTED",
    "VIDEO_PLAY_STARTED",
    "AUDIO_STREAM_STARTED",
    "TALK_STREAM_INTERRUPTED",
    "SESSION_READY",
    "SERVER_WARNING",
    "MIC_PERMISSION_PENDING",
    "MIC_PERMISSION_GRANTED",
    "MIC_PERMISSION_DENIED",
    "INPUT_AUDIO_DEVICE_CHANGED",
    "CLIENT_TOOL_EVENT_RECEIVED",
    "TOOL_CALL_STARTED",
    "TOOL_CALL_COMPLETED",
    "TOOL_CALL_FAILED",
    "REASONING_HISTORY_UPDATED",
    "REASONING_STREAM_EVENT_RECEIVED",
    "USER_SPEECH_STARTED",
    "USER_SPEECH_ENDED",
    "DIRECTOR_NOTE_CUE_APPLIED",
    "PERSONA_CONFIG_UPDATE_APPLIED",
    // Extensions beyond the official API.
    "AUTOPLAY_BLOCKED",
    "RECONNECTING",
    "RECONNECTED",
];

/// `MessageStreamEvent` of §9.3, serialized with the official camelCase keys (absent options
/// are left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStreamEvent {
    /// `<role>::<message_id>`: the role prefix keeps user and persona ids apart.
    pub id: String,
    /// The text of this chunk.
    pub content: String,
    /// `user` or `persona` (or any other role text the server sent).
    pub role: String,
    /// Whether this chunk closes the message.
    pub end_of_speech: bool,
    /// Whether the persona was cut off.
    pub interrupted: bool,
    /// 0-based chunk index within the message; absent when the server sent none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_index: Option<u32>,
    /// Correlation id of the triggering user action; absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Director-note cue of this chunk; absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue_tag: Option<String>,
    /// Utterance the chunk belongs to (4.27); absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utterance_id: Option<String>,
}

/// `ReasoningStreamEvent` of §9.3 (one chunk of the persona's visible reasoning), serialized
/// with the official camelCase keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningStreamEvent {
    /// `<role>::<message_id>`, as for transcript events.
    pub id: String,
    /// The text of this chunk.
    pub content: String,
    /// Whether this chunk closes the reasoning message.
    pub end_of_thought: bool,
    /// Whose reasoning it is, as the server sent it.
    pub role: String,
}

/// One public event with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message finished: the whole transcript so far.
    MessageHistoryUpdated(Vec<Message>),
    /// One transcript chunk arrived.
    MessageStreamEventReceived(MessageStreamEvent),
    /// ICE reached `connected`/`completed` for the first time in the session.
    ConnectionEstablished,
    /// The `session` data channel opened.
    DataChannelOpen,
    /// Close code string (`CONNECTION_CLOSED_CODE_*`) and optional details.
    ConnectionClosed {
        /// One of the `CONNECTION_CLOSED_CODE_*` strings (§10.7).
        code: &'static str,
        /// Extra text about the close; absent when there is none.
        details: Option<String>,
    },
    /// A microphone or app track was attached to the audio sender.
    InputAudioStreamStarted,
    /// The remote video track arrived.
    VideoStreamStarted,
    /// The `<video>` presented its first frame.
    VideoPlayStarted,
    /// The remote audio track arrived.
    AudioStreamStarted,
    /// The server interrupted a talk stream; carries its correlation id.
    TalkStreamInterrupted(String),
    /// The server reported the session ready; carries the session id.
    SessionReady(String),
    /// The server sent a warning; carries its message.
    ServerWarning(String),
    /// The microphone request started.
    MicPermissionPending,
    /// The user allowed the microphone.
    MicPermissionGranted,
    /// The microphone request failed; carries the error message.
    MicPermissionDenied(String),
    /// The input device switch succeeded; carries the device id.
    InputAudioDeviceChanged(String),
    /// The user began speaking; carries the correlation id or `"unknown"`.
    UserSpeechStarted(String),
    /// The user stopped speaking; carries the correlation id or `"unknown"`.
    UserSpeechEnded(String),
    /// One reasoning chunk arrived.
    ReasoningStreamEventReceived(ReasoningStreamEvent),
    /// A reasoning message finished: all reasoning messages so far.
    ReasoningHistoryUpdated(Vec<Message>),
    /// `{changedFields}` as JSON text (`{}` when the server sent none).
    PersonaConfigUpdateApplied(String),
    /// A legacy client tool event arrived.
    ClientToolEventReceived(ClientToolEventPayload),
    /// A tool call started.
    ToolCallStarted(ToolCallEvent),
    /// A tool call completed; reported once per call, unlike the official client (§11.3).
    ToolCallCompleted(ToolCallEvent),
    /// A tool call failed; reported once per call.
    ToolCallFailed(ToolCallEvent),
    /// `{cueTag, correlationId}`, `"unknown"` where the server sent none.
    DirectorNoteCueApplied {
        /// The applied cue tag.
        cue_tag: String,
        /// Correlation id of the cue request.
        correlation_id: String,
    },
    /// The browser refused to play the persona with sound (autoplay policy); `playing_muted`
    /// says whether the video plays muted instead. `unlock()` from a user gesture unmutes.
    AutoplayBlocked {
        /// Whether the video plays muted instead of being paused.
        playing_muted: bool,
    },
    /// A lost session is being replaced: try `attempt` (from 1) starts; `reason` is the close
    /// code string the lost session ended with.
    Reconnecting {
        /// 1-based number of the replacement try.
        attempt: u32,
        /// Close code string the lost session ended with.
        reason: &'static str,
    },
    /// The replacement session delivers media; the new session id.
    Reconnected(String),
}

impl Event {
    /// The public event name (an `AnamEvent` value).
    pub fn name(&self) -> &'static str {
        match self {
            Event::MessageHistoryUpdated(_) => "MESSAGE_HISTORY_UPDATED",
            Event::MessageStreamEventReceived(_) => "MESSAGE_STREAM_EVENT_RECEIVED",
            Event::ConnectionEstablished => "CONNECTION_ESTABLISHED",
            Event::DataChannelOpen => "DATA_CHANNEL_OPEN",
            Event::ConnectionClosed { .. } => "CONNECTION_CLOSED",
            Event::InputAudioStreamStarted => "INPUT_AUDIO_STREAM_STARTED",
            Event::VideoStreamStarted => "VIDEO_STREAM_STARTED",
            Event::VideoPlayStarted => "VIDEO_PLAY_STARTED",
            Event::AudioStreamStarted => "AUDIO_STREAM_STARTED",
            Event::TalkStreamInterrupted(_) => "TALK_STREAM_INTERRUPTED",
            Event::SessionReady(_) => "SESSION_READY",
            Event::ServerWarning(_) => "SERVER_WARNING",
            Event::MicPermissionPending => "MIC_PERMISSION_PENDING",
            Event::MicPermissionGranted => "MIC_PERMISSION_GRANTED",
            Event::MicPermissionDenied(_) => "MIC_PERMISSION_DENIED",
            Event::InputAudioDeviceChanged(_) => "INPUT_AUDIO_DEVICE_CHANGED",
            Event::UserSpeechStarted(_) => "USER_SPEECH_STARTED",
            Event::UserSpeechEnded(_) => "USER_SPEECH_ENDED",
            Event::ReasoningStreamEventReceived(_) => "REASONING_STREAM_EVENT_RECEIVED",
            Event::ReasoningHistoryUpdated(_) => "REASONING_HISTORY_UPDATED",
            Event::PersonaConfigUpdateApplied(_) => "PERSONA_CONFIG_UPDATE_APPLIED",
            Event::ClientToolEventReceived(_) => "CLIENT_TOOL_EVENT_RECEIVED",
            Event::ToolCallStarted(_) => "TOOL_CALL_STARTED",
            Event::ToolCallCompleted(_) => "TOOL_CALL_COMPLETED",
            Event::ToolCallFailed(_) => "TOOL_CALL_FAILED",
            Event::DirectorNoteCueApplied { .. } => "DIRECTOR_NOTE_CUE_APPLIED",
            Event::AutoplayBlocked { .. } => "AUTOPLAY_BLOCKED",
            Event::Reconnecting { .. } => "RECONNECTING",
            Event::Reconnected(_) => "RECONNECTED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_is_listed_once() {
        let mut names = EVENT_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_NAMES.len());
        for e in [
            Event::ConnectionEstablished,
            Event::SessionReady(String::new()),
            Event::UserSpeechEnded(String::new()),
            Event::Reconnecting {
                attempt: 1,
                reason: "",
            },
            Event::Reconnected(String::new()),
        ] {
            assert!(EVENT_NAMES.contains(&e.name()));
        }
    }
}
