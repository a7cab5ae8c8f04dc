//! Signalling envelope (§7.2, §7.3): every action's fixture round-trips, payload shapes are
//! exact (offer wrapped, answer not, heartbeat a string), unknown actions are kept.
mod common;

use anam_core::wire::signalling::{self, action, SignalAction, SignalMessage};
use anam_core::wire::DecodeError;
use common::{assert_same_json, fixture, fixture_names, with_unknown_fields};

fn round_trip(name: &str) -> SignalMessage {
    let text = fixture(name);
    let first = signalling::decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let encoded = signalling::encode(&first);
    let second = signalling::decode(&encoded).expect("re-decode");
    assert_eq!(first, second, "{name}: round trip changed the message");
    assert_same_json(name, &encoded, &text);
    first
}

#[test]
fn every_action_has_a_fixture_that_round_trips() {
    let names = fixture_names("signal_");
    let mut seen: Vec<String> = Vec::new();
    for name in &names {
        let msg = round_trip(name);
        assert_eq!(msg.session_id, "sid-1", "{name}");
        assert!(
            !matches!(msg.action, SignalAction::Unknown { .. }),
            "{name} decoded as Unknown"
        );
        seen.push(msg.action.action_type().to_owned());
    }
    for kind in action::ALL {
        assert!(
            seen.iter().any(|s| s == kind),
            "no fixture for action {kind}"
        );
    }
}

#[test]
fn offer_is_wrapped_and_answer_is_not() {
    let SignalAction::Offer(offer) = round_trip("signal_offer").action else {
        panic!("not an offer");
    };
    assert_eq!(offer.connection_description.kind, "offer");
    assert!(offer.connection_description.sdp.starts_with("v=0\r\n"));
    assert_eq!(offer.user_uid, "sid-1");
    let SignalAction::Answer(answer) = round_trip("signal_answer").action else {
        panic!("not an answer");
    };
    assert_eq!(answer.kind, "answer");
    // A wrapped answer is not the documented shape.
    let wrapped = r#"{"actionType":"answer","sessionId":"s","payload":{"connectionDescription":{"type":"answer","sdp":"x"}}}"#;
    assert!(matches!(
        signalling::decode(wrapped),
        Err(DecodeError::BadPayload { .. })
    ));
}

#[test]
fn ice_candidates_keep_optional_fields_optional() {
    let SignalAction::IceCandidate(c) = round_trip("signal_icecandidate_client").action else {
        panic!("not a candidate");
    };
    assert_eq!(c.sdp_mid.as_deref(), Some("0"));
    assert_eq!(c.sdp_m_line_index, Some(0));
    assert_eq!(c.username_fragment.as_deref(), Some("abcd"));
    let SignalAction::IceCandidate(s) = round_trip("signal_icecandidate_server").action else {
        panic!("not a candidate");
    };
    assert_eq!((s.sdp_mid, s.sdp_m_line_index), (None, Some(1)));
    // RTCIceCandidate.toJSON() may carry nulls.
    let nulls = r#"{"actionType":"icecandidate","sessionId":"s","payload":{"candidate":"c","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null}}"#;
    let msg = signalling::decode(nulls).expect("decode");
    // Keys in the order the official SDK writes them.
    assert_eq!(
        msg.encode(),
        r#"{"actionType":"icecandidate","sessionId":"s","payload":{"candidate":"c"}}"#
    );
}

#[test]
fn heartbeat_payload_is_the_empty_string() {
    let msg = SignalMessage::new("sid-9", SignalAction::Heartbeat);
    let value: serde_json::Value = serde_json::from_str(&msg.encode()).expect("json");
    assert_eq!(
        value,
        serde_json::json!({"actionType": "heartbeat", "sessionId": "sid-9", "payload": ""})
    );
    // A server-sent heartbeat with any payload is still a heartbeat.
    let odd = r#"{"actionType":"heartbeat","sessionId":"s","payload":{"t":1}}"#;
    assert_eq!(
        signalling::decode(odd).expect("decode").action,
        SignalAction::Heartbeat
    );
}

#[test]
fn text_payloads_are_read_as_text() {
    assert_eq!(
        round_trip("signal_endsession").action,
        SignalAction::EndSession("Session length limit reached".into())
    );
    assert_eq!(
        round_trip("signal_warning").action,
        SignalAction::Warning("Persona is warming up".into())
    );
    let no_payload = r#"{"actionType":"endsession","sessionId":"s"}"#;
    assert_eq!(
        signalling::decode(no_payload).expect("decode").action,
        SignalAction::EndSession(String::new())
    );
    let object = r#"{"actionType":"warning","sessionId":"s","payload":{"reason":"x"}}"#;
    assert_eq!(
        signalling::decode(object).expect("decode").action,
        SignalAction::Warning(r#"{"reason":"x"}"#.into())
    );
}

#[test]
fn talk_stream_and_agent_audio_payloads() {
    let SignalAction::TalkStream(t) = round_trip("signal_talkstream").action else {
        panic!("not talkstream");
    };
    assert!(t.start_of_speech && !t.end_of_speech);
    assert_eq!(t.correlation_id, "k3j2h1g0f9");
    assert!(t.utterance_id.is_some());
    let SignalAction::AgentAudioInput(a) = round_trip("signal_agentaudioinput").action else {
        panic!("not agentaudioinput");
    };
    assert_eq!(
        (a.sample_rate, a.channels, a.sequence_number),
        (24000, 1, 0)
    );
    assert_eq!(a.encoding, "pcm_s16le");
    let SignalAction::TalkInputStreamInterrupted(i) =
        round_trip("signal_talkinputstreaminterrupted").action
    else {
        panic!("not talkinputstreaminterrupted");
    };
    assert_eq!(i.correlation_id, "k3j2h1g0f9");
}

#[test]
fn unknown_action_is_kept_not_rejected() {
    let text = r#"{"actionType":"futurething","sessionId":"s","payload":{"a":[1,2]}}"#;
    let msg = signalling::decode(text).expect("decode");
    assert_eq!(
        msg.action,
        SignalAction::Unknown {
            action_type: "futurething".into(),
            payload: serde_json::json!({"a": [1, 2]}).into(),
        }
    );
    assert_same_json("unknown", &msg.encode(), text);
}

#[test]
fn unknown_fields_are_tolerated() {
    for name in fixture_names("signal_") {
        let text = fixture(&name);
        let plain = signalling::decode(&text).expect("plain");
        let noisy = signalling::decode(&with_unknown_fields(&text, &["payload"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain, noisy, "{name}");
    }
}

#[test]
fn malformed_frames_give_typed_errors() {
    assert!(matches!(
        signalling::decode("not json"),
        Err(DecodeError::NotJson(_))
    ));
    assert_eq!(signalling::decode("[1]"), Err(DecodeError::NotAnObject));
    assert_eq!(
        signalling::decode(r#"{"sessionId":"s","payload":{}}"#),
        Err(DecodeError::MissingKind("actionType"))
    );
    assert_eq!(
        signalling::decode(r#"{"actionType":5,"sessionId":"s"}"#),
        Err(DecodeError::MissingKind("actionType"))
    );
    assert!(matches!(
        signalling::decode(r#"{"actionType":"offer","sessionId":"s","payload":"x"}"#),
        Err(DecodeError::BadPayload { kind, .. }) if kind == "offer"
    ));
    // A missing session id is tolerated (reads as empty).
    let msg = signalling::decode(r#"{"actionType":"sessionready","payload":{}}"#).expect("ok");
    assert_eq!(msg, SignalMessage::new("", SignalAction::SessionReady));
}
