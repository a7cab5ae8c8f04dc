//! The JSON codecs of the data-channel payloads, both directions: the client encodes the
//! client → server messages and decodes the server → client ones; the emulator the reverse.

use super::*;
use crate::json::Fields;
use crate::wire::FromJson;

impl FromJson for Speech {
    fn from_json(f: Fields<'_>) -> Self {
        Speech {
            content: f.string("content"),
            timestamp: f.string_or_empty("timestamp"),
            session_id: f.string_or_empty("session_id"),
        }
    }
}

impl FromJson for Interrupt {
    fn from_json(f: Fields<'_>) -> Self {
        Interrupt {
            session_id: f.string_or_empty("session_id"),
            timestamp: f.string_or_empty("timestamp"),
        }
    }
}

impl FromJson for Context {
    fn from_json(f: Fields<'_>) -> Self {
        Context {
            session_id: f.string_or_empty("session_id"),
            content: f.string("content"),
        }
    }
}

impl FromJson for Cue {
    fn from_json(f: Fields<'_>) -> Self {
        Cue {
            tag: f.string("tag"),
        }
    }
}

impl FromJson for DirectorNoteCue {
    fn from_json(f: Fields<'_>) -> Self {
        let cue = match f.present("cue") {
            Some(value) => crate::wire::decode_payload(client_type::DIRECTOR_NOTE_CUE, value)
                .unwrap_or_else(|e| {
                    f.record(e);
                    Cue { tag: String::new() }
                }),
            None => Cue { tag: String::new() },
        };
        DirectorNoteCue {
            cue,
            in_seconds: f.opt_number("in_seconds"),
            at_seconds: f.opt_number("at_seconds"),
        }
    }
}

impl FromJson for ToolResult {
    fn from_json(f: Fields<'_>) -> Self {
        ToolResult {
            session_id: f.string_or_empty("session_id"),
            tool_call_id: f.string("tool_call_id"),
            user_action_correlation_id: f.string_or_empty("user_action_correlation_id"),
            timestamp_user_action: f.string_or_empty("timestamp_user_action"),
            result: f.opt_string("result"),
            error: f.opt_string("error"),
        }
    }
}

impl FromJson for RemoteRtpStats {
    fn from_json(f: Fields<'_>) -> Self {
        RemoteRtpStats {
            data: f.any("data"),
        }
    }
}

impl ToJson for SpeechText {
    fn to_json(&self) -> Object {
        let mut o = Object::new().with("message_id", self.message_id.as_str());
        o.insert_some("content_index", self.content_index);
        o.insert("content", self.content.as_str().into());
        o.insert("role", self.role.as_str().into());
        o.insert("end_of_speech", self.end_of_speech.into());
        o.insert("interrupted", self.interrupted.into());
        o.insert_some("cue_tag", self.cue_tag.as_deref());
        o.insert_some(
            "user_action_correlation_id",
            self.user_action_correlation_id.as_deref(),
        );
        o.insert_some("correlationId", self.correlation_id.as_deref());
        o.insert_some("utterance_id", self.utterance_id.as_deref());
        o
    }
}

impl ToJson for ReasoningText {
    fn to_json(&self) -> Object {
        let mut o = Object::new().with("message_id", self.message_id.as_str());
        o.insert_some("content_index", self.content_index);
        o.insert("content", self.content.as_str().into());
        o.insert("role", self.role.as_str().into());
        o.insert("end_of_thought", self.end_of_thought.into());
        o
    }
}

impl ToJson for UserSpeech {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "user_action_correlation_id",
            self.user_action_correlation_id.as_deref(),
        );
        o
    }
}

impl ToJson for ToolCallBase {
    fn to_json(&self) -> Object {
        let mut o = Object::new()
            .with("event_uid", self.event_uid.as_str())
            .with("session_id", self.session_id.as_str())
            .with("tool_call_id", self.tool_call_id.as_str())
            .with("tool_name", self.tool_name.as_str())
            .with("tool_type", self.tool_type.as_str());
        o.insert_some("tool_subtype", self.tool_subtype.as_deref());
        o.insert("arguments", self.arguments.clone());
        o.insert("timestamp", self.timestamp.as_str().into());
        o.insert(
            "timestamp_user_action",
            self.timestamp_user_action.as_str().into(),
        );
        o.insert(
            "user_action_correlation_id",
            self.user_action_correlation_id.as_str().into(),
        );
        o.insert("used_outside_engine", self.used_outside_engine.into());
        o
    }
}

impl ToJson for ToolCallStarted {
    fn to_json(&self) -> Object {
        self.base.to_json()
    }
}

impl ToJson for ToolCallCompleted {
    fn to_json(&self) -> Object {
        let mut o = self.base.to_json().with("result", self.result.clone());
        o.insert_some("documents_accessed", self.documents_accessed.as_deref());
        o
    }
}

impl ToJson for ToolCallFailed {
    fn to_json(&self) -> Object {
        self.base
            .to_json()
            .with("error_message", self.error_message.as_str())
    }
}

impl ToJson for ClientToolEvent {
    fn to_json(&self) -> Object {
        Object::new()
            .with("event_uid", self.event_uid.as_str())
            .with("session_id", self.session_id.as_str())
            .with("event_name", self.event_name.as_str())
            .with("event_data", self.event_data.clone())
            .with("timestamp", self.timestamp.as_str())
            .with("timestamp_user_action", self.timestamp_user_action.as_str())
            .with(
                "user_action_correlation_id",
                self.user_action_correlation_id.as_str(),
            )
            .with("used_outside_engine", self.used_outside_engine)
    }
}

impl ToJson for DirectorNoteCueApplied {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some("session_id", self.session_id.as_deref());
        o.insert_some(
            "user_action_correlation_id",
            self.user_action_correlation_id.as_deref(),
        );
        o.insert_some(
            "timestamp_user_action",
            self.timestamp_user_action.as_deref(),
        );
        o.insert_some("cue_tag", self.cue_tag.as_deref());
        o
    }
}

impl ToJson for PersonaConfigUpdateApplied {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some("session_id", self.session_id.as_deref());
        o.insert("changed_fields", self.changed_fields.clone().into());
        o
    }
}

impl ToJson for Speech {
    fn to_json(&self) -> Object {
        Object::new()
            .with("content", self.content.as_str())
            .with("timestamp", self.timestamp.as_str())
            .with("session_id", self.session_id.as_str())
    }
}

impl ToJson for Interrupt {
    fn to_json(&self) -> Object {
        Object::new()
            .with("session_id", self.session_id.as_str())
            .with("timestamp", self.timestamp.as_str())
    }
}

impl ToJson for Context {
    fn to_json(&self) -> Object {
        Object::new()
            .with("session_id", self.session_id.as_str())
            .with("content", self.content.as_str())
    }
}

impl ToJson for DirectorNoteCue {
    fn to_json(&self) -> Object {
        let mut o = Object::new().with("cue", Object::new().with("tag", self.cue.tag.as_str()));
        o.insert_some("in_seconds", self.in_seconds.clone());
        o.insert_some("at_seconds", self.at_seconds.clone());
        o
    }
}

impl ToJson for ToolResult {
    fn to_json(&self) -> Object {
        let mut o = Object::new()
            .with("session_id", self.session_id.as_str())
            .with("tool_call_id", self.tool_call_id.as_str())
            .with(
                "user_action_correlation_id",
                self.user_action_correlation_id.as_str(),
            )
            .with("timestamp_user_action", self.timestamp_user_action.as_str());
        o.insert_some("result", self.result.as_deref());
        o.insert_some("error", self.error.as_deref());
        o
    }
}

impl ToJson for RemoteRtpStats {
    fn to_json(&self) -> Object {
        Object::new().with("data", self.data.clone())
    }
}

/// A role field: absent reads as the persona; present must be a string.
fn role(f: &Fields<'_>) -> MessageRole {
    f.opt_string_not_null("role")
        .map(MessageRole::from)
        .unwrap_or_default()
}

impl FromJson for SpeechText {
    fn from_json(f: Fields<'_>) -> Self {
        SpeechText {
            message_id: f.string_or_empty("message_id"),
            content_index: f.opt_u32("content_index"),
            content: f.string_or_empty("content"),
            role: role(&f),
            end_of_speech: f.bool_or_false("end_of_speech"),
            interrupted: f.bool_or_false("interrupted"),
            cue_tag: f.opt_string("cue_tag"),
            user_action_correlation_id: f.opt_string("user_action_correlation_id"),
            correlation_id: f.opt_string("correlationId"),
            utterance_id: f.opt_string("utterance_id"),
        }
    }
}

impl FromJson for ReasoningText {
    fn from_json(f: Fields<'_>) -> Self {
        ReasoningText {
            message_id: f.string_or_empty("message_id"),
            content_index: f.opt_u32("content_index"),
            content: f.string_or_empty("content"),
            role: role(&f),
            end_of_thought: f.bool_or_false("end_of_thought"),
        }
    }
}

impl FromJson for UserSpeech {
    fn from_json(f: Fields<'_>) -> Self {
        UserSpeech {
            user_action_correlation_id: f.opt_string("user_action_correlation_id"),
        }
    }
}

/// An untyped field that defaults to `{}` when absent (but keeps an explicit `null`).
fn object_or_empty(f: &Fields<'_>, key: &str) -> Value {
    f.object()
        .get(key)
        .cloned()
        .unwrap_or_else(|| Value::Object(Object::new()))
}

impl FromJson for ToolCallBase {
    fn from_json(f: Fields<'_>) -> Self {
        ToolCallBase {
            event_uid: f.string_or_empty("event_uid"),
            session_id: f.string_or_empty("session_id"),
            tool_call_id: f.string_or_empty("tool_call_id"),
            tool_name: f.string_or_empty("tool_name"),
            tool_type: f.string_or_empty("tool_type"),
            tool_subtype: f.opt_string("tool_subtype"),
            arguments: object_or_empty(&f, "arguments"),
            timestamp: f.string_or_empty("timestamp"),
            timestamp_user_action: f.string_or_empty("timestamp_user_action"),
            user_action_correlation_id: f.string_or_empty("user_action_correlation_id"),
            used_outside_engine: f.bool_or_false("used_outside_engine"),
        }
    }
}

impl FromJson for ToolCallStarted {
    fn from_json(f: Fields<'_>) -> Self {
        ToolCallStarted {
            base: ToolCallBase::from_json(f),
        }
    }
}

impl FromJson for ToolCallCompleted {
    fn from_json(f: Fields<'_>) -> Self {
        ToolCallCompleted {
            base: ToolCallBase::from_json(f),
            result: f.any("result"),
            documents_accessed: f.opt_strings("documents_accessed"),
        }
    }
}

impl FromJson for ToolCallFailed {
    fn from_json(f: Fields<'_>) -> Self {
        ToolCallFailed {
            base: ToolCallBase::from_json(f),
            error_message: f.string_or_empty("error_message"),
        }
    }
}

impl FromJson for ClientToolEvent {
    fn from_json(f: Fields<'_>) -> Self {
        ClientToolEvent {
            event_uid: f.string_or_empty("event_uid"),
            session_id: f.string_or_empty("session_id"),
            event_name: f.string_or_empty("event_name"),
            event_data: object_or_empty(&f, "event_data"),
            timestamp: f.string_or_empty("timestamp"),
            timestamp_user_action: f.string_or_empty("timestamp_user_action"),
            user_action_correlation_id: f.string_or_empty("user_action_correlation_id"),
            used_outside_engine: f.bool_or_false("used_outside_engine"),
        }
    }
}

impl FromJson for DirectorNoteCueApplied {
    fn from_json(f: Fields<'_>) -> Self {
        DirectorNoteCueApplied {
            session_id: f.opt_string("session_id"),
            user_action_correlation_id: f.opt_string("user_action_correlation_id"),
            timestamp_user_action: f.opt_string("timestamp_user_action"),
            cue_tag: f.opt_string("cue_tag"),
        }
    }
}

impl FromJson for PersonaConfigUpdateApplied {
    fn from_json(f: Fields<'_>) -> Self {
        PersonaConfigUpdateApplied {
            session_id: f.opt_string("session_id"),
            changed_fields: f.object_or_empty("changed_fields"),
        }
    }
}
