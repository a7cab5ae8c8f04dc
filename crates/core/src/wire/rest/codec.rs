//! The JSON codecs of the REST bodies, both directions: the client encodes the start-session and
//! talk requests and decodes the start-session answer; the emulator decodes and answers them;
//! the backend encodes session-token requests and decodes their answers and persona listings.
//! Field rules are serde's (an absent or `null` optional field is `None`, unknown keys are
//! ignored or kept in `extra`).

use super::*;
use crate::json::Fields;
use crate::wire::{decode_payload, opt_nested, DecodeError, FromJson, ToJson};

/// The keys of `object` other than `known`, in their order: a config's pass-through `extra`.
fn extra_keys(object: &Object, known: &[&str]) -> Object {
    object
        .iter()
        .filter(|(k, _)| !known.contains(k))
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
}

/// A JS number field as JSON, written the way serde_json writes an `f64` (`5.0`, `0.25`);
/// non-finite values have no JSON form and are written as `null`, as `JSON.stringify` does.
fn f64_value(n: f64) -> Value {
    if n.is_finite() {
        Number::from_json_text(&format!("{n:?}")).map_or(Value::Null, Value::Number)
    } else {
        Value::Null
    }
}

/// Appends the pass-through keys of a config after its modelled ones, as serde's `flatten` does.
fn with_extra(mut o: Object, extra: &Object) -> Object {
    for (k, v) in extra.iter() {
        o.insert(k, v.clone());
    }
    o
}

impl ToJson for PersonaConfig {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some("personaId", self.persona_id.as_deref());
        o.insert_some("name", self.name.as_deref());
        o.insert_some("avatarId", self.avatar_id.as_deref());
        o.insert_some("voiceId", self.voice_id.as_deref());
        o.insert_some("llmId", self.llm_id.as_deref());
        o.insert_some("brainType", self.brain_type.as_deref());
        o.insert_some("systemPrompt", self.system_prompt.as_deref());
        o.insert_some(
            "maxSessionLengthSeconds",
            self.max_session_length_seconds.clone(),
        );
        o.insert_some("languageCode", self.language_code.as_deref());
        o.insert_some(
            "directorNotes",
            self.director_notes.as_ref().map(ToJson::to_json),
        );
        with_extra(o, &self.extra)
    }
}

impl FromJson for PersonaConfig {
    fn from_json(f: Fields<'_>) -> Self {
        PersonaConfig {
            persona_id: f.opt_string("personaId"),
            name: f.opt_string("name"),
            avatar_id: f.opt_string("avatarId"),
            voice_id: f.opt_string("voiceId"),
            llm_id: f.opt_string("llmId"),
            brain_type: f.opt_string("brainType"),
            system_prompt: f.opt_string("systemPrompt"),
            max_session_length_seconds: f.opt_number("maxSessionLengthSeconds"),
            language_code: f.opt_string("languageCode"),
            director_notes: opt_nested(&f, "directorNotes"),
            extra: extra_keys(f.object(), &PERSONA_CONFIG_KEYS),
        }
    }
}

impl FromJson for PersonaSelection {
    fn from_json(f: Fields<'_>) -> Self {
        let object = f.object();
        if EPHEMERAL_KEYS.iter().any(|k| object.contains_key(k)) {
            return PersonaSelection::Ephemeral(Box::new(PersonaConfig::from_json(f)));
        }
        // A bare reference: `personaId` is the documented key, `id` the older one.
        let id = object
            .get("personaId")
            .and_then(Value::as_str)
            .or_else(|| object.get("id").and_then(Value::as_str));
        match id {
            Some(id) => PersonaSelection::Saved {
                persona_id: id.to_owned(),
            },
            None => {
                f.fail("personaConfig needs a string personaId (or id), or a full persona config");
                PersonaSelection::Saved {
                    persona_id: String::new(),
                }
            }
        }
    }
}

impl ToJson for PersonaSelection {
    fn to_json(&self) -> Object {
        match self {
            PersonaSelection::Saved { persona_id } => {
                Object::new().with("personaId", persona_id.as_str())
            }
            PersonaSelection::Ephemeral(config) => config.to_json(),
        }
    }
}

impl ToJson for DirectorNotes {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some("presetStyle", self.preset_style.as_deref());
        o.insert_some("customStylePrompt", self.custom_style_prompt.as_deref());
        o.insert_some("expressivity", self.expressivity.clone());
        o
    }
}

impl FromJson for DirectorNotes {
    fn from_json(f: Fields<'_>) -> Self {
        DirectorNotes {
            preset_style: f.opt_string("presetStyle"),
            custom_style_prompt: f.opt_string("customStylePrompt"),
            expressivity: f.opt_number("expressivity"),
        }
    }
}

impl ToJson for VoiceDetection {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "endOfSpeechSensitivity",
            self.end_of_speech_sensitivity.clone(),
        );
        o
    }
}

impl FromJson for VoiceDetection {
    fn from_json(f: Fields<'_>) -> Self {
        VoiceDetection {
            end_of_speech_sensitivity: f.opt_number("endOfSpeechSensitivity"),
        }
    }
}

impl FromJson for SessionOptions {
    fn from_json(f: Fields<'_>) -> Self {
        SessionOptions {
            voice_detection: opt_nested(&f, "voiceDetection"),
            extra: extra_keys(f.object(), &["voiceDetection"]),
        }
    }
}

impl ToJson for SessionOptions {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "voiceDetection",
            self.voice_detection.as_ref().map(ToJson::to_json),
        );
        with_extra(o, &self.extra)
    }
}

impl FromJson for SessionTokenRequest {
    fn from_json(f: Fields<'_>) -> Self {
        SessionTokenRequest {
            persona_config: opt_nested(&f, "personaConfig"),
            client_label: f.opt_string("clientLabel"),
            session_options: opt_nested(&f, "sessionOptions"),
            expires_in: f.opt_string("expiresIn"),
        }
    }
}

impl ToJson for SessionTokenRequest {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "personaConfig",
            self.persona_config.as_ref().map(ToJson::to_json),
        );
        o.insert_some("clientLabel", self.client_label.as_deref());
        o.insert_some(
            "sessionOptions",
            self.session_options.as_ref().map(ToJson::to_json),
        );
        o.insert_some("expiresIn", self.expires_in.as_deref());
        o
    }
}

impl FromJson for SessionTokenResponse {
    fn from_json(f: Fields<'_>) -> Self {
        SessionTokenResponse {
            session_token: f.string("sessionToken"),
        }
    }
}

impl ToJson for SessionTokenResponse {
    fn to_json(&self) -> Object {
        Object::new().with("sessionToken", self.session_token.as_str())
    }
}

impl FromJson for ClientMetadata {
    fn from_json(f: Fields<'_>) -> Self {
        ClientMetadata {
            client: f.string("client"),
            version: f.string("version"),
        }
    }
}

impl ToJson for ClientMetadata {
    fn to_json(&self) -> Object {
        Object::new()
            .with("client", self.client.as_str())
            .with("version", self.version.as_str())
    }
}

impl ToJson for StartSessionRequest {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "personaConfig",
            self.persona_config.as_ref().map(ToJson::to_json),
        );
        o.insert_some(
            "sessionOptions",
            self.session_options.as_ref().map(ToJson::to_json),
        );
        o.insert_some(
            "clientMetadata",
            self.client_metadata.as_ref().map(ToJson::to_json),
        );
        o
    }
}

impl FromJson for StartSessionRequest {
    fn from_json(f: Fields<'_>) -> Self {
        StartSessionRequest {
            persona_config: opt_nested(&f, "personaConfig"),
            session_options: opt_nested(&f, "sessionOptions"),
            client_metadata: opt_nested(&f, "clientMetadata"),
        }
    }
}

impl FromJson for TalkRequest {
    fn from_json(f: Fields<'_>) -> Self {
        TalkRequest {
            content: f.string("content"),
        }
    }
}

impl ToJson for TalkRequest {
    fn to_json(&self) -> Object {
        Object::new().with("content", self.content.as_str())
    }
}

impl IceUrls {
    fn to_value(&self) -> Value {
        match self {
            IceUrls::One(url) => Value::from(url.as_str()),
            IceUrls::Many(urls) => Value::from(urls.as_slice()),
        }
    }

    fn from_value(value: &Value) -> Option<IceUrls> {
        match value {
            Value::String(url) => Some(IceUrls::One(url.clone())),
            Value::Array(items) => items
                .iter()
                .map(|u| u.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(IceUrls::Many),
            _ => None,
        }
    }
}

const START_SESSION: &str = "start session response";

impl ToJson for IceServer {
    fn to_json(&self) -> Object {
        let mut o = Object::new().with("urls", self.urls.to_value());
        o.insert_some("username", self.username.as_deref());
        o.insert_some("credential", self.credential.as_deref());
        o
    }
}

impl FromJson for IceServer {
    fn from_json(f: Fields<'_>) -> Self {
        let urls = match f.present("urls").map(IceUrls::from_value) {
            Some(Some(urls)) => urls,
            Some(None) => {
                f.fail("field `urls` must be a string or a list of strings");
                IceUrls::Many(Vec::new())
            }
            None => IceUrls::Many(Vec::new()),
        };
        IceServer {
            urls,
            username: f.opt_string("username"),
            credential: f.opt_string("credential"),
        }
    }
}

impl FromJson for ClientConfig {
    fn from_json(f: Fields<'_>) -> Self {
        let ice_servers = match f.present("iceServers") {
            None => Vec::new(),
            Some(Value::Array(items)) => f.or_record(
                items
                    .iter()
                    .map(|item| decode_payload(START_SESSION, item))
                    .collect(),
            ),
            Some(_) => {
                f.fail("field `iceServers` must be a list");
                Vec::new()
            }
        };
        ClientConfig {
            heartbeat_interval_seconds: f.opt_f64("heartbeatIntervalSeconds"),
            max_ws_reconnection_attempts: f.opt_f64("maxWsReconnectionAttempts"),
            ice_servers,
            ice_transport_policy: f.opt_string("iceTransportPolicy"),
            expected_heartbeat_interval_secs: f.opt_f64("expectedHeartbeatIntervalSecs"),
        }
    }
}

impl ToJson for ClientConfig {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some(
            "heartbeatIntervalSeconds",
            self.heartbeat_interval_seconds.map(f64_value),
        );
        o.insert_some(
            "maxWsReconnectionAttempts",
            self.max_ws_reconnection_attempts.map(f64_value),
        );
        let servers: Vec<Value> = self
            .ice_servers
            .iter()
            .map(|s| s.to_json().into())
            .collect();
        o.insert("iceServers", Value::Array(servers));
        o.insert_some("iceTransportPolicy", self.ice_transport_policy.as_deref());
        o.insert_some(
            "expectedHeartbeatIntervalSecs",
            self.expected_heartbeat_interval_secs.map(f64_value),
        );
        o
    }
}

impl ToJson for StartSessionResponse {
    fn to_json(&self) -> Object {
        let mut o = Object::new()
            .with("sessionId", self.session_id.as_str())
            .with("engineHost", self.engine_host.as_str())
            .with("engineProtocol", self.engine_protocol.as_str())
            .with("signallingEndpoint", self.signalling_endpoint.as_str());
        o.insert_some("region", self.region.as_deref());
        o.insert("clientConfig", self.client_config.to_json().into());
        o
    }
}

impl FromJson for StartSessionResponse {
    fn from_json(f: Fields<'_>) -> Self {
        let client_config = f
            .present("clientConfig")
            .map(|value| f.or_record(decode_payload(START_SESSION, value)))
            .unwrap_or_default();
        StartSessionResponse {
            session_id: f.string("sessionId"),
            engine_host: f.string("engineHost"),
            engine_protocol: f.string("engineProtocol"),
            signalling_endpoint: f.string("signallingEndpoint"),
            region: f.opt_string("region"),
            client_config,
        }
    }
}

impl StartSessionResponse {
    /// Decodes a start-session success body (already parsed).
    pub fn from_value(value: &Value) -> Result<StartSessionResponse, DecodeError> {
        decode_payload(START_SESSION, value)
    }
}

/// Lenient, like [`ApiErrorBody::from_value`]: a non-string field reads as absent.
impl FromJson for ApiErrorBody {
    fn from_json(f: Fields<'_>) -> Self {
        ApiErrorBody::from_value(&Value::Object(f.object().clone()))
    }
}

impl ToJson for ApiErrorBody {
    fn to_json(&self) -> Object {
        let mut o = Object::new();
        o.insert_some("error", self.error.as_deref());
        o.insert_some("message", self.message.as_deref());
        o.insert_some("solution", self.solution.as_deref());
        o
    }
}

impl FromJson for PersonaSummary {
    fn from_json(f: Fields<'_>) -> Self {
        PersonaSummary {
            id: f.string("id"),
            name: f.string("name"),
            extra: extra_keys(f.object(), &["id", "name"]),
        }
    }
}

impl ToJson for PersonaSummary {
    fn to_json(&self) -> Object {
        let o = Object::new()
            .with("id", self.id.as_str())
            .with("name", self.name.as_str());
        with_extra(o, &self.extra)
    }
}

/// The ICE servers as the JSON text `new RTCPeerConnection({iceServers})` is given.
pub fn ice_servers_json(servers: &[IceServer]) -> String {
    let items: Vec<Value> = servers.iter().map(|s| s.to_json().into()).collect();
    Value::Array(items).to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{field_error, parse};

    /// The start-session structure fields each fail with their own message, the first one read.
    #[test]
    fn start_session_structure_errors_name_their_field() {
        let decode = |text: &str| {
            decode_payload::<StartSessionResponse>(START_SESSION, &parse(text).unwrap())
        };
        let base = r#""sessionId":"s","engineHost":"h","engineProtocol":"http","signallingEndpoint":"/ws""#;
        for (config, reason) in [
            ("", "missing field `clientConfig`"),
            (r#","clientConfig":{}"#, "missing field `iceServers`"),
            (
                r#","clientConfig":{"iceServers":{}}"#,
                "field `iceServers` must be a list",
            ),
            (
                r#","clientConfig":{"iceServers":[{}]}"#,
                "missing field `urls`",
            ),
            (
                r#","clientConfig":{"iceServers":[{"urls":1}]}"#,
                "field `urls` must be a string or a list of strings",
            ),
        ] {
            let text = format!("{{{base}{config}}}");
            assert_eq!(
                decode(&text),
                Err(field_error(START_SESSION, reason)),
                "{text}"
            );
        }
        let ok = format!(r#"{{{base},"clientConfig":{{"iceServers":[{{"urls":"stun:x"}}]}}}}"#);
        assert!(decode(&ok).is_ok());
    }
}
