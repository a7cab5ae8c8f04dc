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
