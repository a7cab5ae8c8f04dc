//! Data-channel messages (§9): both directions decode and encode, with the exact key spelling
//! of each direction; missing optional fields are tolerated; unknown types are kept.
mod common;

use anam_core::wire::datachannel::*;
use anam_core::wire::DecodeError;
use common::{assert_same_json, fixture, fixture_names, with_unknown_fields};

fn client_round_trip(name: &str) -> ClientDataMessage {
    let text = fixture(name);
    let first = ClientDataMessage::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let encoded = first.encode();
    let second = ClientDataMessage::decode(&encoded).expect("re-decode");
    assert_eq!(first, second, "{name}");
    assert_same_json(name, &encoded, &text);
    first
}

fn server_round_trip(name: &str) -> ServerDataMessage {
    let text = fixture(name);
    let first = ServerDataMessage::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let encoded = first.encode();
    let second = ServerDataMessage::decode(&encoded).expect("re-decode");
    assert_eq!(first, second, "{name}");
    assert_same_json(name, &encoded, &text);
    first
}

#[test]
fn every_client_message_type_has_a_fixture_that_round_trips() {
    let mut seen = Vec::new();
    for name in fixture_names("dc_out_") {
        let msg = client_round_trip(&name);
        assert!(!matches!(msg, ClientDataMessage::Unknown { .. }), "{name}");
        seen.push(msg.message_type().to_owned());
    }
    for kind in client_type::ALL {
        assert!(seen.iter().any(|s| s == kind), "no fixture for {kind}");
    }
}

#[test]
fn every_server_message_type_has_a_fixture_that_round_trips() {
    let mut seen = Vec::new();
    for name in fixture_names("dc_in_") {
        let msg = server_round_trip(&name);
        assert!(!matches!(msg, ServerDataMessage::Unknown { .. }), "{name}");
        seen.push(msg.message_type().to_owned());
    }
    for kind in server_type::ALL {
        assert!(seen.iter().any(|s| s == kind), "no fixture for {kind}");
    }
}

#[test]
fn client_messages_have_the_documented_fields() {
    let ClientDataMessage::Speech(s) = client_round_trip("dc_out_speech") else {
        panic!("speech");
    };
    assert!(!s.timestamp.ends_with('Z'), "speech timestamps drop the Z");
    let ClientDataMessage::Interrupt(i) = client_round_trip("dc_out_interrupt") else {
        panic!("interrupt");
    };
    assert!(
        i.timestamp.ends_with('Z'),
        "interrupt timestamps keep the Z"
    );
    let ClientDataMessage::DirectorNoteCue(cue) = client_round_trip("dc_out_director_note_cue_in")
    else {
        panic!("cue");
    };
    assert_eq!(
        (
            cue.cue.tag.as_str(),
            cue.in_seconds.map(|n| n.as_f64()),
            cue.at_seconds
        ),
        ("happy", Some(1.5), None)
    );
    let ClientDataMessage::ToolResult(t) = client_round_trip("dc_out_tool_result_error") else {
        panic!("tool_result");
    };
    assert_eq!(
        (t.result, t.error.as_deref()),
        (None, Some("Error in handler: boom"))
    );
}

#[test]
fn director_cue_encoding_carries_no_session_id() {
    let msg = ClientDataMessage::DirectorNoteCue(DirectorNoteCue {
        cue: Cue {
            tag: "happy".into(),
        },
        in_seconds: None,
        at_seconds: None,
    });
    assert_eq!(
        msg.encode(),
        r#"{"cue":{"tag":"happy"},"message_type":"director_note_cue"}"#
    );
}

#[test]
fn speech_text_fields_and_correlation_fallback() {
    let ServerDataMessage::SpeechText(s) = server_round_trip("dc_in_speech_text") else {
        panic!("speechText");
    };
    assert_eq!(s.role, MessageRole::Persona);
    assert_eq!(s.content_index, Some(0));
    assert_eq!(s.effective_correlation_id(), Some("c-9"));
    assert_eq!(s.cue_tag.as_deref(), Some("warm"));
    let ServerDataMessage::SpeechText(u) = server_round_trip("dc_in_speech_text_user") else {
        panic!("speechText");
    };
    assert_eq!(u.role, MessageRole::User);
    assert!(u.end_of_speech);
    assert_eq!(u.effective_correlation_id(), None);
    // Only the alias present.
    let alias = r#"{"messageType":"speechText","data":{"message_id":"m","content":"x","role":"persona","end_of_speech":true,"interrupted":false,"correlationId":"c-2"}}"#;
    let ServerDataMessage::SpeechText(a) = ServerDataMessage::decode(alias).expect("decode") else {
        panic!("speechText");
    };
    assert_eq!(a.effective_correlation_id(), Some("c-2"));
}

#[test]
fn tool_call_payloads() {
    let ServerDataMessage::ToolCallStarted(s) = server_round_trip("dc_in_tool_call_started") else {
        panic!("started");
    };
    assert_eq!(s.base.tool_name, "open_page");
    assert_eq!(
        s.base.arguments,
        serde_json::json!({"url": "/pricing"}).into()
    );
    assert!(s.base.used_outside_engine);
    let ServerDataMessage::ToolCallCompleted(c) = server_round_trip("dc_in_tool_call_completed")
    else {
        panic!("completed");
    };
    assert_eq!(c.base.tool_subtype.as_deref(), Some("rag"));
    assert_eq!(
        c.result.get("answer").and_then(|a| a.as_str()),
        Some("30 days")
    );
    assert_eq!(c.documents_accessed.map(|d| d.len()), Some(2));
    let ServerDataMessage::ToolCallFailed(f) = server_round_trip("dc_in_tool_call_failed") else {
        panic!("failed");
    };
    assert_eq!(f.error_message, "webhook returned 502");
}

#[test]
fn missing_fields_fall_back_instead_of_failing() {
    let cases = [
        (r#"{"messageType":"speechText","data":{}}"#, "speechText"),
        (
            r#"{"messageType":"userSpeechStarted"}"#,
            "userSpeechStarted",
        ),
        (
            r#"{"messageType":"userSpeechEnded","data":null}"#,
            "userSpeechEnded",
        ),
        (
            r#"{"messageType":"toolCallStarted","data":{"tool_name":"x"}}"#,
            "toolCallStarted",
        ),
        (
            r#"{"messageType":"directorNoteCueApplied","data":{}}"#,
            "directorNoteCueApplied",
        ),
        (
            r#"{"messageType":"personaConfigUpdateApplied","data":{}}"#,
            "personaConfigUpdateApplied",
        ),
        (
            r#"{"messageType":"clientToolEvent","data":{}}"#,
            "clientToolEvent",
        ),
    ];
    for (text, kind) in cases {
        let msg = ServerDataMessage::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(msg.message_type(), kind);
    }
    let ServerDataMessage::UserSpeechStarted(u) =
        ServerDataMessage::decode(r#"{"messageType":"userSpeechStarted","data":{}}"#).expect("ok")
    else {
        panic!("userSpeechStarted");
    };
    assert_eq!(u.user_action_correlation_id, None);
    let ServerDataMessage::ToolCallStarted(t) =
        ServerDataMessage::decode(r#"{"messageType":"toolCallStarted","data":{}}"#).expect("ok")
    else {
        panic!("toolCallStarted");
    };
    assert_eq!(t.base.arguments, serde_json::json!({}).into());
}

#[test]
fn unknown_types_are_kept() {
    let text = r#"{"messageType":"somethingNew","data":{"k":1}}"#;
    assert_eq!(
        ServerDataMessage::decode(text).expect("decode"),
        ServerDataMessage::Unknown {
            message_type: "somethingNew".into(),
            data: serde_json::json!({"k": 1}).into()
        }
    );
    let text = r#"{"message_type":"future_type","session_id":"s","x":[1]}"#;
    let msg = ClientDataMessage::decode(text).expect("decode");
    assert_eq!(msg.message_type(), "future_type");
    assert_same_json("client unknown", &msg.encode(), text);
}

#[test]
fn unknown_fields_are_tolerated() {
    for name in fixture_names("dc_out_") {
        let text = fixture(&name);
        let plain = ClientDataMessage::decode(&text).expect("plain");
        let noisy = ClientDataMessage::decode(&with_unknown_fields(&text, &["cue"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if name == "dc_out_remote_rtp_stats" {
            continue; // `data` is an opaque stats dictionary: nothing to drop there
        }
        assert_eq!(plain, noisy, "{name}");
    }
    for name in fixture_names("dc_in_") {
        let text = fixture(&name);
        let plain = ServerDataMessage::decode(&text).expect("plain");
        let noisy = ServerDataMessage::decode(&with_unknown_fields(&text, &["data"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain, noisy, "{name}");
    }
}

#[test]
fn directions_are_not_confused() {
    // An inbound-shaped frame has no `message_type`, and vice versa.
    let inbound = fixture("dc_in_speech_text");
    assert_eq!(
        ClientDataMessage::decode(&inbound),
        Err(DecodeError::MissingKind("message_type"))
    );
    let outbound = fixture("dc_out_speech");
    assert_eq!(
        ServerDataMessage::decode(&outbound),
        Err(DecodeError::MissingKind("messageType"))
    );
    assert!(matches!(
        ServerDataMessage::decode(r#"{"messageType":"speechText","data":{"content_index":"x"}}"#),
        Err(DecodeError::BadPayload { .. })
    ));
}

#[test]
fn constants_match_the_protocol() {
    assert_eq!(CHANNEL_LABEL, "session");
    assert_eq!(DIRECTOR_NOTE_CUE_TAGS.len(), 11);
    assert!(DIRECTOR_NOTE_CUE_TAGS.contains(&"laughter"));
    assert_eq!(MAX_CUE_TAG_BYTES, 64);
}

mod every_message_round_trips {
    //! Both directions are encoded and decoded by the one codec (the client one way, the
    //! emulator the other): any value of every message survives encode → decode unchanged.
    use super::*;
    use anam_core::json::{Number, Object, Value};
    use proptest::prelude::*;

    fn num(text: &str) -> Number {
        Number::from_json_text(text).expect("test number")
    }

    fn client(msg: ClientDataMessage) -> Result<(), TestCaseError> {
        let text = msg.encode();
        prop_assert_eq!(ClientDataMessage::decode(&text), Ok(msg), "{}", text);
        Ok(())
    }

    fn server(msg: ServerDataMessage) -> Result<(), TestCaseError> {
        let text = msg.encode();
        prop_assert_eq!(ServerDataMessage::decode(&text), Ok(msg), "{}", text);
        Ok(())
    }

    proptest! {
        #[test]
        fn client_messages(a in any::<String>(), b in any::<String>(), c in any::<Option<String>>(), n in any::<u32>()) {
            client(ClientDataMessage::Speech(Speech { content: a.clone(), timestamp: b.clone(), session_id: a.clone() }))?;
            client(ClientDataMessage::Interrupt(Interrupt { session_id: a.clone(), timestamp: b.clone() }))?;
            client(ClientDataMessage::Context(Context { session_id: b.clone(), content: a.clone() }))?;
            client(ClientDataMessage::DirectorNoteCue(DirectorNoteCue {
                cue: Cue { tag: a.clone() },
                in_seconds: c.as_ref().map(|_| num(&n.to_string())),
                at_seconds: None,
            }))?;
            client(ClientDataMessage::ToolResult(ToolResult {
                session_id: a.clone(),
                tool_call_id: b.clone(),
                user_action_correlation_id: a.clone(),
                timestamp_user_action: b.clone(),
                result: c.clone(),
                error: c.clone(),
            }))?;
            client(ClientDataMessage::RemoteRtpStats(RemoteRtpStats {
                data: Object::new().with(&a, b.as_str()).with("jitter", num("0.004")).into_value(),
            }))?;
        }

        #[test]
        fn server_messages(a in any::<String>(), b in any::<String>(), c in any::<Option<String>>(), n in any::<Option<u32>>(), yes in any::<bool>()) {
            server(ServerDataMessage::SpeechText(SpeechText {
                message_id: a.clone(),
                content_index: n,
                content: b.clone(),
                role: MessageRole::from(a.clone()),
                end_of_speech: yes,
                interrupted: !yes,
                cue_tag: c.clone(),
                user_action_correlation_id: c.clone(),
                correlation_id: c.clone(),
                utterance_id: c.clone(),
            }))?;
            server(ServerDataMessage::ReasoningText(ReasoningText {
                message_id: a.clone(),
                content_index: n,
                content: b.clone(),
                role: MessageRole::from(b.clone()),
                end_of_thought: yes,
            }))?;
            let speech = UserSpeech { user_action_correlation_id: c.clone() };
            server(ServerDataMessage::UserSpeechStarted(speech.clone()))?;
            server(ServerDataMessage::UserSpeechEnded(speech))?;
            let base = ToolCallBase {
                event_uid: a.clone(),
                session_id: b.clone(),
                tool_call_id: a.clone(),
                tool_name: b.clone(),
                tool_type: a.clone(),
                tool_subtype: c.clone(),
                arguments: Object::new().with(&b, a.as_str()).into_value(),
                timestamp: a.clone(),
                timestamp_user_action: b.clone(),
                user_action_correlation_id: a.clone(),
                used_outside_engine: yes,
            };
            server(ServerDataMessage::ToolCallStarted(ToolCallStarted { base: base.clone() }))?;
            server(ServerDataMessage::ToolCallCompleted(ToolCallCompleted {
                base: base.clone(),
                result: c.clone().map_or(Value::Null, Value::from),
                documents_accessed: c.clone().map(|d| vec![d, a.clone()]),
            }))?;
            server(ServerDataMessage::ToolCallFailed(ToolCallFailed { base, error_message: b.clone() }))?;
            server(ServerDataMessage::ClientToolEvent(ClientToolEvent {
                event_uid: a.clone(),
                session_id: b.clone(),
                event_name: a.clone(),
                event_data: Object::new().with("x", b.as_str()).into_value(),
                timestamp: b.clone(),
                timestamp_user_action: a.clone(),
                user_action_correlation_id: b.clone(),
                used_outside_engine: yes,
            }))?;
            server(ServerDataMessage::DirectorNoteCueApplied(DirectorNoteCueApplied {
                session_id: c.clone(),
                user_action_correlation_id: c.clone(),
                timestamp_user_action: c.clone(),
                cue_tag: c.clone(),
            }))?;
            server(ServerDataMessage::PersonaConfigUpdateApplied(PersonaConfigUpdateApplied {
                session_id: c.clone(),
                changed_fields: Object::new().with(&a, Object::new().with("before", b.as_str())),
            }))?;
        }
    }

    /// The exact bytes the emulator sends for a transcript chunk: snake_case inside `data`,
    /// optional fields left out, the `correlationId` alias kept camelCase.
    #[test]
    fn a_server_frame_has_the_documented_bytes() {
        let msg = ServerDataMessage::SpeechText(SpeechText {
            message_id: "m1".into(),
            content_index: Some(0),
            content: "Hi \"you\"".into(),
            role: MessageRole::Persona,
            end_of_speech: true,
            correlation_id: Some("c1".into()),
            ..SpeechText::default()
        });
        assert_eq!(
            msg.encode(),
            r#"{"messageType":"speechText","data":{"message_id":"m1","content_index":0,"content":"Hi \"you\"","role":"persona","end_of_speech":true,"interrupted":false,"correlationId":"c1"}}"#
        );
    }
}
