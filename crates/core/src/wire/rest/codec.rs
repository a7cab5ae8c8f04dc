//! Hand-written JSON codecs of the REST bodies the client sends and reads (the start-session
//! request and response, talk, director notes). Field rules match the serde derives in the parent
//! module (checked by the cross-codec tests).

use super::*;
use crate::json::Fields;
use crate::wire::{decode_payload, DecodeError, FromJson, ToJson};

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
