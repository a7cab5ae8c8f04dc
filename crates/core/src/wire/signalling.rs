//! Signalling WebSocket frames (§7.2, §7.3): `{"actionType", "sessionId", "payload"}`, where the
//! payload is an object for most actions and a string for `heartbeat`, `warning` and
//! `endsession`.

use crate::json::{Object, Value};

use super::{decode_payload, parse_object, DecodeError, FromJson, ToJson};
use crate::json::Fields;

/// Every `actionType` string of §7.3.
pub mod action {
    /// C→S: the client's SDP offer, initial or ICE restart.
    pub const OFFER: &str = "offer";
    /// S→C: the server's SDP answer.
    pub const ANSWER: &str = "answer";
    /// Both ways: one trickled ICE candidate.
    pub const ICE_CANDIDATE: &str = "icecandidate";
    /// S→C: the server ended the session; payload is the reason text.
    pub const END_SESSION: &str = "endsession";
    /// C→S keep-alive with an empty-string payload.
    pub const HEARTBEAT: &str = "heartbeat";
    /// S→C: a warning text for the console and `SERVER_WARNING`.
    pub const WARNING: &str = "warning";
    /// S→C: the server cut off a talk stream.
    pub const TALK_INPUT_STREAM_INTERRUPTED: &str = "talkinputstreaminterrupted";
    /// C→S: one chunk of a talk message stream.
    pub const TALK_STREAM: &str = "talkstream";
    /// S→C: the engine is ready; the session id is in the envelope.
    pub const SESSION_READY: &str = "sessionready";
    /// C→S: one chunk of agent audio to speak (passthrough).
    pub const AGENT_AUDIO_INPUT: &str = "agentaudioinput";
    /// C→S: end of the current agent-audio sequence.
    pub const AGENT_AUDIO_INPUT_END: &str = "agentaudioinputend";

    /// All of them, in the order of the SDK's `SignalMessageAction` enum.
    pub const ALL: [&str; 11] = [
        OFFER,
        ANSWER,
        ICE_CANDIDATE,
        END_SESSION,
        HEARTBEAT,
        WARNING,
        TALK_INPUT_STREAM_INTERRUPTED,
        TALK_STREAM,
        SESSION_READY,
        AGENT_AUDIO_INPUT,
        AGENT_AUDIO_INPUT_END,
    ];
}

/// An SDP blob with its type (`offer`, `answer`, …), like `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDescription {
    /// `type` on the wire: `offer`, `answer`, …
    pub kind: String,
    /// The SDP text.
    pub sdp: String,
}

/// `offer` payload (C→S): the description is wrapped, unlike the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPayload {
    /// The offer, under the `connectionDescription` key.
    pub connection_description: SessionDescription,
    /// The session id again. Tolerated when missing.
    pub user_uid: String,
}

/// `icecandidate` payload (both directions), like `RTCIceCandidateInit`. A server-sent one must
/// carry `sdpMid` and/or `sdpMLineIndex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// `candidate:…` line of the candidate.
    pub candidate: String,
    /// Media stream id the candidate belongs to; absent when only the index is given.
    pub sdp_mid: Option<String>,
    /// Index of the m-line the candidate belongs to; absent when only the mid is given.
    pub sdp_m_line_index: Option<u16>,
    /// ICE username fragment of the generation the candidate belongs to; absent when unknown.
    pub username_fragment: Option<String>,
}

/// `talkstream` payload (C→S), one chunk of a talk message stream (§10.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkStreamPayload {
    /// The text chunk.
    pub content: String,
    /// Whether this chunk opens a new utterance.
    pub start_of_speech: bool,
    /// Whether this chunk closes the utterance.
    pub end_of_speech: bool,
    /// Ties the chunks of one stream together and to its interruption.
    pub correlation_id: String,
    /// [4.27] lowercase UUID v4.
    pub utterance_id: Option<String>,
}

/// `talkinputstreaminterrupted` payload (S→C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkInterruptedPayload {
    /// Correlation id of the interrupted talk stream.
    pub correlation_id: String,
}

/// `agentaudioinput` payload (C→S): base64 PCM plus its format (§10.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAudioInputPayload {
    /// Base64-encoded PCM bytes.
    pub audio_data: String,
    /// `pcm_s16le`.
    pub encoding: String,
    /// Samples per second, e.g. 24000.
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: u16,
    /// Chunk counter, from 0 in each sequence.
    pub sequence_number: u64,
}

/// What a signalling frame says, by `actionType`.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalAction {
    /// C→S offer.
    Offer(OfferPayload),
    /// Sent unwrapped: the payload is the description itself.
    Answer(SessionDescription),
    /// Trickled ICE candidate, either direction.
    IceCandidate(IceCandidate),
    /// Payload `""`; whatever arrives is ignored.
    Heartbeat,
    /// C→S talk stream chunk.
    TalkStream(TalkStreamPayload),
    /// S→C notice that a talk stream was cut off.
    TalkInputStreamInterrupted(TalkInterruptedPayload),
    /// C→S agent audio chunk.
    AgentAudioInput(AgentAudioInputPayload),
    /// Payload `{}`.
    AgentAudioInputEnd,
    /// Payload `{}` (ignored by the client; the session id comes from the envelope).
    SessionReady,
    /// Payload is the warning text.
    Warning(String),
    /// Payload is the reason text.
    EndSession(String),
    /// An `actionType` this crate does not know; kept so that it can be logged or forwarded.
    Unknown {
        /// The unknown `actionType` value.
        action_type: String,
        /// The payload as received (`null` when missing).
        payload: Value,
    },
}

impl SignalAction {
    /// The `actionType` string of this action.
    pub fn action_type(&self) -> &str {
        match self {
            SignalAction::Offer(_) => action::OFFER,
            SignalAction::Answer(_) => action::ANSWER,
            SignalAction::IceCandidate(_) => action::ICE_CANDIDATE,
            SignalAction::Heartbeat => action::HEARTBEAT,
            SignalAction::TalkStream(_) => action::TALK_STREAM,
            SignalAction::TalkInputStreamInterrupted(_) => action::TALK_INPUT_STREAM_INTERRUPTED,
            SignalAction::AgentAudioInput(_) => action::AGENT_AUDIO_INPUT,
            SignalAction::AgentAudioInputEnd => action::AGENT_AUDIO_INPUT_END,
            SignalAction::SessionReady => action::SESSION_READY,
            SignalAction::Warning(_) => action::WARNING,
            SignalAction::EndSession(_) => action::END_SESSION,
            SignalAction::Unknown { action_type, .. } => action_type,
        }
    }

    fn payload(&self) -> Value {
        match self {
            SignalAction::Offer(p) => p.to_json().into(),
            SignalAction::Answer(p) => p.to_json().into(),
            SignalAction::IceCandidate(p) => p.to_json().into(),
            SignalAction::Heartbeat => Value::String(String::new()),
            SignalAction::TalkStream(p) => p.to_json().into(),
            SignalAction::TalkInputStreamInterrupted(p) => p.to_json().into(),
            SignalAction::AgentAudioInput(p) => p.to_json().into(),
            SignalAction::AgentAudioInputEnd | SignalAction::SessionReady => {
                Value::Object(Object::new())
            }
            SignalAction::Warning(text) | SignalAction::EndSession(text) => {
                Value::String(text.clone())
            }
            SignalAction::Unknown { payload, .. } => payload.clone(),
        }
    }
}

/// One signalling frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalMessage {
    /// Envelope `sessionId`; empty when a peer left it out.
    pub session_id: String,
    /// What the frame carries.
    pub action: SignalAction,
}

impl SignalMessage {
    /// A frame for `session_id` carrying `action`.
    pub fn new(session_id: impl Into<String>, action: SignalAction) -> Self {
        SignalMessage {
            session_id: session_id.into(),
            action,
        }
    }

    /// The frame as JSON text.
    pub fn encode(&self) -> String {
        encode(self)
    }
}

/// Turns a payload that should be text into text: strings as they are, `null`/missing as empty,
/// anything else as its JSON (a server that sends `{"reason": …}` still yields something
/// readable).
fn payload_text(payload: Value) -> String {
    match payload {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_json(),
    }
}

/// Decodes one signalling text frame.
pub fn decode(text: &str) -> Result<SignalMessage, DecodeError> {
    let mut map = parse_object(text)?;
    let action_type = match map.remove("actionType") {
        Some(Value::String(s)) => s,
        _ => return Err(DecodeError::MissingKind("actionType")),
    };
    let session_id = match map.remove("sessionId") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let payload = map.remove("payload").unwrap_or(Value::Null);
    let kind = action_type.as_str();
    let p = &payload;
    let action = match kind {
        action::OFFER => SignalAction::Offer(decode_payload(kind, p)?),
        action::ANSWER => SignalAction::Answer(decode_payload(kind, p)?),
        action::ICE_CANDIDATE => SignalAction::IceCandidate(decode_payload(kind, p)?),
        action::HEARTBEAT => SignalAction::Heartbeat,
        action::TALK_STREAM => SignalAction::TalkStream(decode_payload(kind, p)?),
        action::TALK_INPUT_STREAM_INTERRUPTED => {
            SignalAction::TalkInputStreamInterrupted(decode_payload(kind, p)?)
        }
        action::AGENT_AUDIO_INPUT => SignalAction::AgentAudioInput(decode_payload(kind, p)?),
        action::AGENT_AUDIO_INPUT_END => SignalAction::AgentAudioInputEnd,
        action::SESSION_READY => SignalAction::SessionReady,
        action::WARNING => SignalAction::Warning(payload_text(payload)),
        action::END_SESSION => SignalAction::EndSession(payload_text(payload)),
        _ => SignalAction::Unknown {
            action_type,
            payload,
        },
    };
    Ok(SignalMessage { session_id, action })
}

/// Encodes one signalling frame as JSON text.
pub fn encode(message: &SignalMessage) -> String {
    Object::new()
        .with("actionType", message.action.action_type())
        .with("sessionId", message.session_id.as_str())
        .with("payload", message.action.payload())
        .into_value()
        .to_json()
}

// ---------------------------------------------------------------------------------------------
// The JSON codecs of the payloads.

impl FromJson for SessionDescription {
    fn from_json(f: Fields<'_>) -> Self {
        SessionDescription {
            kind: f.string("type"),
            sdp: f.string("sdp"),
        }
    }
}

impl ToJson for SessionDescription {
    fn to_json(&self) -> Object {
        Object::new()
            .with("type", self.kind.as_str())
            .with("sdp", self.sdp.as_str())
    }
}

impl FromJson for OfferPayload {
    fn from_json(f: Fields<'_>) -> Self {
        OfferPayload {
            connection_description: decode_payload(action::OFFER, &f.any("connectionDescription"))
                .unwrap_or_else(|_| {
                    f.fail("field `connectionDescription` must be {type, sdp}");
                    SessionDescription::default()
                }),
            user_uid: f.string_or_empty("userUid"),
        }
    }
}

impl ToJson for OfferPayload {
    fn to_json(&self) -> Object {
        Object::new()
            .with(
                "connectionDescription",
                self.connection_description.to_json(),
            )
            .with("userUid", self.user_uid.as_str())
    }
}

impl FromJson for IceCandidate {
    fn from_json(f: Fields<'_>) -> Self {
        IceCandidate {
            candidate: f.string("candidate"),
            sdp_mid: f.opt_string("sdpMid"),
            sdp_m_line_index: f.opt_u16("sdpMLineIndex"),
            username_fragment: f.opt_string("usernameFragment"),
        }
    }
}

impl ToJson for IceCandidate {
    fn to_json(&self) -> Object {
        let mut o = Object::new().with("candidate", self.candidate.as_str());
        o.insert_some("sdpMid", self.sdp_mid.as_deref());
        o.insert_some("sdpMLineIndex", self.sdp_m_line_index);
        o.insert_some("usernameFragment", self.username_fragment.as_deref());
        o
    }
}

impl FromJson for TalkStreamPayload {
    fn from_json(f: Fields<'_>) -> Self {
        TalkStreamPayload {
            content: f.string("content"),
            start_of_speech: f.bool("startOfSpeech"),
            end_of_speech: f.bool("endOfSpeech"),
            correlation_id: f.string("correlationId"),
            utterance_id: f.opt_string("utteranceId"),
        }
    }
}

impl ToJson for TalkStreamPayload {
    fn to_json(&self) -> Object {
        let mut o = Object::new()
            .with("content", self.content.as_str())
            .with("startOfSpeech", self.start_of_speech)
            .with("endOfSpeech", self.end_of_speech)
            .with("correlationId", self.correlation_id.as_str());
        o.insert_some("utteranceId", self.utterance_id.as_deref());
        o
    }
}

impl FromJson for TalkInterruptedPayload {
    fn from_json(f: Fields<'_>) -> Self {
        TalkInterruptedPayload {
            correlation_id: f.string("correlationId"),
        }
    }
}

impl ToJson for TalkInterruptedPayload {
    fn to_json(&self) -> Object {
        Object::new().with("correlationId", self.correlation_id.as_str())
    }
}

impl FromJson for AgentAudioInputPayload {
    fn from_json(f: Fields<'_>) -> Self {
        AgentAudioInputPayload {
            audio_data: f.string("audioData"),
            encoding: f.string("encoding"),
            sample_rate: f.u32("sampleRate"),
            channels: f.u16("channels"),
            sequence_number: f.u64("sequenceNumber"),
        }
    }
}

impl ToJson for AgentAudioInputPayload {
    fn to_json(&self) -> Object {
        Object::new()
            .with("audioData", self.audio_data.as_str())
            .with("encoding", self.encoding.as_str())
            .with("sampleRate", self.sample_rate)
            .with("channels", self.channels)
            .with("sequenceNumber", self.sequence_number)
    }
}
