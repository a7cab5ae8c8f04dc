//! The client decodes and encodes with hand-written codecs (`anam_core::json`), the servers with
//! the serde derives of the same types. These tests hold the two to the same wire format: every
//! server → client value serde writes, the hand decoder reads back equal; every client → server
//! value the hand encoder writes, serde reads back equal, as the same JSON.

use anam_core::errors::classify_start_session;
use anam_core::json::{self, Number};
use anam_core::wire::datachannel::*;
use anam_core::wire::rest::*;
use anam_core::wire::signalling::{self, *};
use anam_core::wire::{decode_payload, ToJson};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Strings that exercise escaping: quotes, backslashes, controls, non-ASCII, astral planes.
const TRICKY: [&str; 4] = [
    "",
    "plain",
    "q\"uote\\ back/slash\n\t\r\u{8}\u{c}\u{1}\u{1f}",
    "héllo wörld ✓ 日本語 😀 \u{7f}",
];

fn num(text: &str) -> Number {
    Number::from_json_text(text).expect("test number")
}

fn opt(i: usize) -> Option<String> {
    (i % 2 == 1).then(|| TRICKY[i % TRICKY.len()].to_owned())
}

fn s(i: usize) -> String {
    TRICKY[i % TRICKY.len()].to_owned()
}

// ---------------------------------------------------------------------------------------------
// Server → client: serde encodes, the hand decoder must read the same value.

fn server_frame<T: Serialize>(kind: &str, data: &T) -> String {
    json!({"messageType": kind, "data": data}).to_string()
}

fn decodes_back(kind: &str, expected: ServerDataMessage, data: &impl Serialize) {
    let text = server_frame(kind, data);
    assert_eq!(ServerDataMessage::decode(&text), Ok(expected), "{text}");
}

#[test]
fn server_data_messages_decode_as_serde_wrote_them() {
    for i in 0..TRICKY.len() * 2 {
        let speech = SpeechText {
            message_id: s(i),
            content_index: (i % 2 == 0).then_some(i as u32),
            content: s(i + 1),
            role: [
                MessageRole::User,
                MessageRole::Persona,
                MessageRole::Other(s(i)),
            ][i % 3]
                .clone(),
            end_of_speech: i % 2 == 0,
            interrupted: i % 3 == 0,
            cue_tag: opt(i),
            user_action_correlation_id: opt(i + 1),
            correlation_id: opt(i),
            utterance_id: opt(i + 1),
        };
        decodes_back(
            server_type::SPEECH_TEXT,
            ServerDataMessage::SpeechText(speech.clone()),
            &speech,
        );
        let reasoning = ReasoningText {
            message_id: s(i),
            content_index: (i % 2 == 1).then_some(7),
            content: s(i + 2),
            role: MessageRole::from(s(i + 3)),
            end_of_thought: i % 2 == 1,
        };
        decodes_back(
            server_type::REASONING_TEXT,
            ServerDataMessage::ReasoningText(reasoning.clone()),
            &reasoning,
        );
        let user = UserSpeech {
            user_action_correlation_id: opt(i),
        };
        decodes_back(
            server_type::USER_SPEECH_STARTED,
            ServerDataMessage::UserSpeechStarted(user.clone()),
            &user,
        );
        decodes_back(
            server_type::USER_SPEECH_ENDED,
            ServerDataMessage::UserSpeechEnded(user.clone()),
            &user,
        );
        let base = ToolCallBase {
            event_uid: s(i),
            session_id: s(i + 1),
            tool_call_id: s(i + 2),
            tool_name: s(i + 3),
            tool_type: ["client", "server"][i % 2].to_owned(),
            tool_subtype: opt(i),
            arguments: json!({"url": s(i), "n": [1, -2, 2.5, null, true], "o": {"k": s(i + 1)}})
                .into(),
            timestamp: s(i),
            timestamp_user_action: s(i + 1),
            user_action_correlation_id: s(i + 2),
            used_outside_engine: i % 2 == 0,
        };
        let started = ToolCallStarted { base: base.clone() };
        decodes_back(
            server_type::TOOL_CALL_STARTED,
            ServerDataMessage::ToolCallStarted(started.clone()),
            &started,
        );
        let completed = ToolCallCompleted {
            base: base.clone(),
            result: [
                json!(s(i)),
                json!(null),
                json!({"answer": s(i + 1)}),
                json!([1, 2]),
            ][i % 4]
                .clone()
                .into(),
            documents_accessed: (i % 2 == 0).then(|| vec![s(i), s(i + 1)]),
        };
        decodes_back(
            server_type::TOOL_CALL_COMPLETED,
            ServerDataMessage::ToolCallCompleted(completed.clone()),
            &completed,
        );
        let failed = ToolCallFailed {
            base: base.clone(),
            error_message: s(i + 3),
        };
        decodes_back(
            server_type::TOOL_CALL_FAILED,
            ServerDataMessage::ToolCallFailed(failed.clone()),
            &failed,
        );
        let legacy = ClientToolEvent {
            event_uid: s(i),
            session_id: s(i + 1),
            event_name: s(i + 2),
            event_data: json!({"k": s(i), "deep": [[{"x": 1}]]}).into(),
            timestamp: s(i),
            timestamp_user_action: s(i + 1),
            user_action_correlation_id: s(i + 2),
            used_outside_engine: i % 2 == 1,
        };
        decodes_back(
            server_type::CLIENT_TOOL_EVENT,
            ServerDataMessage::ClientToolEvent(legacy.clone()),
            &legacy,
        );
        let applied = DirectorNoteCueApplied {
            session_id: opt(i),
            user_action_correlation_id: opt(i + 1),
            timestamp_user_action: opt(i),
            cue_tag: opt(i + 1),
        };
        decodes_back(
            server_type::DIRECTOR_NOTE_CUE_APPLIED,
            ServerDataMessage::DirectorNoteCueApplied(applied.clone()),
            &applied,
        );
        let update = PersonaConfigUpdateApplied {
            session_id: opt(i),
            changed_fields:
                json!({"voiceId": {"before": s(i), "after": s(i + 1)}, "n": {"after": 3}})
                    .as_object()
                    .map(|m| json::Value::from(Value::Object(m.clone())))
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default(),
        };
        decodes_back(
            server_type::PERSONA_CONFIG_UPDATE_APPLIED,
            ServerDataMessage::PersonaConfigUpdateApplied(update.clone()),
            &update,
        );
    }
}

/// A decoded frame must match serde's reading of it too (both accept or both refuse), for the
/// odd inputs a server could send: nulls, wrong types, missing fields.
#[test]
fn both_codecs_accept_and_refuse_the_same_server_data() {
    let datas = [
        json!({}),
        json!({"content_index": null, "cue_tag": null}),
        json!({"content": null}),
        json!({"role": null}),
        json!({"role": 3}),
        json!({"content_index": -1}),
        json!({"content_index": 1.5}),
        json!({"content_index": 4294967296u64}),
        json!({"end_of_speech": "yes"}),
        json!({"arguments": null, "result": null}),
        json!({"documents_accessed": [1]}),
        json!({"documents_accessed": null}),
        json!({"changed_fields": null}),
        json!({"changed_fields": []}),
        json!({"event_data": "x"}),
        json!({"error_message": 5}),
        json!("not an object"),
        json!([1]),
    ];
    fn serde_ok<T: DeserializeOwned>(v: &Value) -> bool {
        serde_json::from_value::<T>(v.clone()).is_ok()
    }
    for data in &datas {
        for (kind, serde_accepts) in [
            (server_type::SPEECH_TEXT, serde_ok::<SpeechText>(data)),
            (server_type::REASONING_TEXT, serde_ok::<ReasoningText>(data)),
            (
                server_type::USER_SPEECH_STARTED,
                serde_ok::<UserSpeech>(data),
            ),
            (
                server_type::TOOL_CALL_STARTED,
                serde_ok::<ToolCallStarted>(data),
            ),
            (
                server_type::TOOL_CALL_COMPLETED,
                serde_ok::<ToolCallCompleted>(data),
            ),
            (
                server_type::TOOL_CALL_FAILED,
                serde_ok::<ToolCallFailed>(data),
            ),
            (
                server_type::CLIENT_TOOL_EVENT,
                serde_ok::<ClientToolEvent>(data),
            ),
            (
                server_type::DIRECTOR_NOTE_CUE_APPLIED,
                serde_ok::<DirectorNoteCueApplied>(data),
            ),
            (
                server_type::PERSONA_CONFIG_UPDATE_APPLIED,
                serde_ok::<PersonaConfigUpdateApplied>(data),
            ),
        ] {
            let text = server_frame(kind, data);
            let ours = ServerDataMessage::decode(&text);
            assert_eq!(ours.is_ok(), serde_accepts, "{text}: {ours:?}");
            if let Ok(msg) = ours {
                // Where both accept, they read the same value.
                let via_serde = ServerDataMessage::decode(&server_frame(kind, &serde_reread(&msg)));
                assert_eq!(via_serde, Ok(msg), "{text}");
            }
        }
    }
}

/// The serde writing of a decoded message's data (through its derives).
fn serde_reread(msg: &ServerDataMessage) -> Value {
    let encoded: Value = serde_json::from_str(&msg.encode()).expect("encode is JSON");
    encoded.get("data").cloned().unwrap_or(Value::Null)
}

#[test]
fn signalling_frames_decode_as_serde_wrote_them() {
    for i in 0..TRICKY.len() * 2 {
        let description = SessionDescription {
            kind: ["offer", "answer"][i % 2].to_owned(),
            sdp: format!("v=0\r\n{}", s(i)),
        };
        let candidate = IceCandidate {
            candidate: s(i),
            sdp_mid: opt(i),
            sdp_m_line_index: (i % 2 == 0).then_some(i as u16),
            username_fragment: opt(i + 1),
        };
        let cases = [
            (
                action::ANSWER,
                serde_json::to_value(&description),
                SignalAction::Answer(description.clone()),
            ),
            (
                action::OFFER,
                serde_json::to_value(OfferPayload {
                    connection_description: description.clone(),
                    user_uid: s(i),
                }),
                SignalAction::Offer(OfferPayload {
                    connection_description: description.clone(),
                    user_uid: s(i),
                }),
            ),
            (
                action::ICE_CANDIDATE,
                serde_json::to_value(&candidate),
                SignalAction::IceCandidate(candidate.clone()),
            ),
            (
                action::TALK_INPUT_STREAM_INTERRUPTED,
                serde_json::to_value(TalkInterruptedPayload {
                    correlation_id: s(i),
                }),
                SignalAction::TalkInputStreamInterrupted(TalkInterruptedPayload {
                    correlation_id: s(i),
                }),
            ),
            (
                action::WARNING,
                serde_json::to_value(s(i)),
                SignalAction::Warning(s(i)),
            ),
            (
                action::END_SESSION,
                serde_json::to_value(s(i + 1)),
                SignalAction::EndSession(s(i + 1)),
            ),
        ];
        for (kind, payload, expected) in cases {
            let text = json!({"actionType": kind, "sessionId": s(i), "payload": payload.unwrap()})
                .to_string();
            assert_eq!(
                signalling::decode(&text),
                Ok(SignalMessage::new(s(i), expected)),
                "{text}"
            );
        }
    }
}

#[test]
fn start_session_responses_decode_as_serde_wrote_them() {
    for i in 0..TRICKY.len() * 2 {
        let response = StartSessionResponse {
            session_id: s(i),
            engine_host: format!("127.0.0.1:{}", 8000 + i),
            engine_protocol: ["http", "https"][i % 2].to_owned(),
            signalling_endpoint: s(i + 1),
            region: opt(i),
            client_config: ClientConfig {
                heartbeat_interval_seconds: (i % 2 == 0).then_some(2.5),
                max_ws_reconnection_attempts: (i % 3 == 0).then_some(-1.0),
                ice_servers: (0..i % 3)
                    .map(|k| IceServer {
                        urls: if k % 2 == 0 {
                            IceUrls::One(format!("stun:{}", s(i)))
                        } else {
                            IceUrls::Many(vec![s(i), s(i + 1)])
                        },
                        username: opt(i + k),
                        credential: opt(i + k + 1),
                    })
                    .collect(),
                ice_transport_policy: opt(i + 1),
                expected_heartbeat_interval_secs: (i % 2 == 1).then_some(0.125),
            },
        };
        let text = serde_json::to_string(&response).unwrap();
        assert_eq!(classify_start_session(200, &text), Ok(response), "{text}");
    }
    // Both codecs refuse a response without its clientConfig or with a non-list iceServers.
    for bad in [
        json!({"sessionId": "s", "engineHost": "h", "engineProtocol": "http", "signallingEndpoint": "/ws"}),
        json!({"sessionId": "s", "engineHost": "h", "engineProtocol": "http", "signallingEndpoint": "/ws",
               "clientConfig": {"iceServers": {}}}),
        json!({"sessionId": 1, "engineHost": "h", "engineProtocol": "http", "signallingEndpoint": "/ws",
               "clientConfig": {"iceServers": []}}),
    ] {
        assert!(serde_json::from_value::<StartSessionResponse>(bad.clone()).is_err());
        assert!(
            classify_start_session(200, &bad.to_string()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn director_notes_decode_as_serde_wrote_them() {
    for notes in [
        DirectorNotes::default(),
        DirectorNotes {
            preset_style: Some("warm".into()),
            custom_style_prompt: Some(s(2)),
            expressivity: Some(num("0.25")),
        },
    ] {
        let value: json::Value = json::parse(&serde_json::to_string(&notes).unwrap()).unwrap();
        let decoded = decode_payload::<DirectorNotes>("directorNotes", &value);
        assert_eq!(decoded, Ok(notes));
    }
}

// ---------------------------------------------------------------------------------------------
// Client → server: the hand encoder writes, serde must read the same value and JSON.

/// Checks one encoded object against serde: same value read back, same JSON as serde writes.
fn serde_reads<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    text_object: Value,
    expected: &T,
) {
    let read: T = serde_json::from_value(text_object.clone()).expect("serde reads it");
    assert_eq!(&read, expected);
    assert_eq!(text_object, serde_json::to_value(expected).unwrap());
}

fn client_message_agrees<T>(msg: ClientDataMessage, payload: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut value: Value = serde_json::from_str(&msg.encode()).expect("JSON");
    let kind = value.as_object_mut().and_then(|o| o.remove("message_type"));
    assert_eq!(kind, Some(json!(msg.message_type())));
    serde_reads(value, payload);
}

#[test]
fn client_data_messages_encode_as_serde_reads_them() {
    for i in 0..TRICKY.len() * 2 {
        let speech = Speech {
            content: s(i),
            timestamp: s(i + 1),
            session_id: s(i + 2),
        };
        client_message_agrees(ClientDataMessage::Speech(speech.clone()), &speech);
        let interrupt = Interrupt {
            session_id: s(i),
            timestamp: s(i + 3),
        };
        client_message_agrees(ClientDataMessage::Interrupt(interrupt.clone()), &interrupt);
        let context = Context {
            session_id: s(i),
            content: s(i + 1),
        };
        client_message_agrees(ClientDataMessage::Context(context.clone()), &context);
        let cue = DirectorNoteCue {
            cue: Cue { tag: s(i) },
            in_seconds: (i % 3 == 1).then(|| num("1.5")),
            at_seconds: (i % 3 == 2).then(|| num("3")),
        };
        client_message_agrees(ClientDataMessage::DirectorNoteCue(cue.clone()), &cue);
        let result = ToolResult {
            session_id: s(i),
            tool_call_id: s(i + 1),
            user_action_correlation_id: s(i + 2),
            timestamp_user_action: s(i + 3),
            result: opt(i),
            error: opt(i + 1),
        };
        client_message_agrees(ClientDataMessage::ToolResult(result.clone()), &result);
        let stats = RemoteRtpStats {
            data: json!({"type": "inbound-rtp", "kind": s(i), "jitter": 0.004, "packetsLost": -1})
                .into(),
        };
        client_message_agrees(ClientDataMessage::RemoteRtpStats(stats.clone()), &stats);
    }
}

#[test]
fn signalling_frames_encode_as_serde_reads_them() {
    for i in 0..TRICKY.len() * 2 {
        let description = SessionDescription {
            kind: "offer".into(),
            sdp: s(i),
        };
        let offer = OfferPayload {
            connection_description: description,
            user_uid: s(i + 1),
        };
        let candidate = IceCandidate {
            candidate: s(i),
            sdp_mid: opt(i),
            sdp_m_line_index: (i % 2 == 1).then_some(3),
            username_fragment: opt(i + 1),
        };
        let talk = TalkStreamPayload {
            content: s(i),
            start_of_speech: i % 2 == 0,
            end_of_speech: i % 2 == 1,
            correlation_id: s(i + 1),
            utterance_id: opt(i),
        };
        let audio = AgentAudioInputPayload {
            audio_data: s(i),
            encoding: "pcm_s16le".into(),
            sample_rate: 24_000,
            channels: 1,
            sequence_number: u64::MAX - i as u64,
        };
        let frame = |action: SignalAction| -> Value {
            let text = SignalMessage::new(s(i), action).encode();
            let value: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(value["sessionId"], json!(s(i)));
            value["payload"].clone()
        };
        serde_reads(frame(SignalAction::Offer(offer.clone())), &offer);
        serde_reads(
            frame(SignalAction::IceCandidate(candidate.clone())),
            &candidate,
        );
        serde_reads(frame(SignalAction::TalkStream(talk.clone())), &talk);
        serde_reads(frame(SignalAction::AgentAudioInput(audio.clone())), &audio);
        assert_eq!(frame(SignalAction::Heartbeat), json!(""));
        assert_eq!(frame(SignalAction::AgentAudioInputEnd), json!({}));
    }
}

#[test]
fn rest_bodies_encode_as_serde_reads_them() {
    let extra = json!({"futureOption": [1, "two", {"three": null}], "ünïcode": "\"q\""});
    let extra: json::Object = json::Value::from(extra).as_object().cloned().unwrap();
    let full = StartSessionRequest {
        persona_config: Some(PersonaConfig {
            persona_id: Some(s(3)),
            name: Some(s(2)),
            avatar_id: Some("a".into()),
            voice_id: Some("v".into()),
            llm_id: Some("l".into()),
            brain_type: Some("b".into()),
            system_prompt: Some(s(2)),
            max_session_length_seconds: Some(num("600")),
            language_code: Some("en".into()),
            director_notes: Some(DirectorNotes {
                preset_style: Some("warm".into()),
                custom_style_prompt: None,
                expressivity: Some(num("0.5")),
            }),
            extra: extra.clone(),
        }),
        session_options: Some(SessionOptions {
            voice_detection: Some(VoiceDetection {
                end_of_speech_sensitivity: Some(num("0.75")),
            }),
            extra,
        }),
        client_metadata: Some(ClientMetadata {
            client: "js-sdk".to_owned(),
            version: "4.27.0".to_owned(),
        }),
    };
    for request in [StartSessionRequest::default(), full] {
        let text = request.to_json().into_value().to_json();
        serde_reads(serde_json::from_str(&text).unwrap(), &request);
    }
    for content in TRICKY {
        let talk = TalkRequest {
            content: content.to_owned(),
        };
        serde_reads(
            serde_json::from_str(&talk.to_json().into_value().to_json()).unwrap(),
            &talk,
        );
    }
    let servers = vec![
        IceServer {
            urls: IceUrls::One("stun:127.0.0.1:3478".into()),
            username: None,
            credential: None,
        },
        IceServer {
            urls: IceUrls::Many(vec!["turn:a".into(), "turn:b".into()]),
            username: Some(s(2)),
            credential: Some(s(3)),
        },
    ];
    serde_reads(
        serde_json::from_str(&ice_servers_json(&servers)).unwrap(),
        &servers,
    );
}

proptest! {
    /// Arbitrary text in every string field survives serde → hand decoder and hand encoder →
    /// serde.
    #[test]
    fn arbitrary_strings_agree(a in any::<String>(), b in any::<String>(), c in any::<Option<String>>()) {
        let speech = SpeechText {
            message_id: a.clone(),
            content: b.clone(),
            role: MessageRole::from(a.clone()),
            cue_tag: c.clone(),
            ..SpeechText::default()
        };
        let text = server_frame(server_type::SPEECH_TEXT, &speech);
        prop_assert_eq!(ServerDataMessage::decode(&text), Ok(ServerDataMessage::SpeechText(speech)));
        let result = ToolResult {
            session_id: a.clone(),
            tool_call_id: b.clone(),
            user_action_correlation_id: a,
            timestamp_user_action: b,
            result: c.clone(),
            error: c,
        };
        let encoded = ClientDataMessage::ToolResult(result.clone()).encode();
        let mut value: Value = serde_json::from_str(&encoded).unwrap();
        value.as_object_mut().map(|o| o.remove("message_type"));
        prop_assert_eq!(serde_json::from_value::<ToolResult>(value).unwrap(), result);
    }
}
