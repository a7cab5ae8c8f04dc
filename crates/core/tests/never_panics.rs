//! Every decoder of remote input returns (Ok or a typed error) for arbitrary text and for
//! mutated fixtures: a panic here would be a crash on a hostile or buggy server.
mod common;

use anam_core::claims::{decode_base64_lenient, TokenClaims};
use anam_core::errors::{classify_session_token, classify_start_session};
use anam_core::wire::datachannel::{ClientDataMessage, ServerDataMessage};
use anam_core::wire::rest::{
    ApiErrorBody, PersonaSummary, SessionTokenRequest, SessionTokenResponse, StartSessionRequest,
    StartSessionResponse, TalkRequest,
};
use anam_core::wire::signalling;
use proptest::prelude::*;
use proptest::test_runner::Config;

use common::{assert_body_round_trip, assert_round_trip};

/// Runs every decoder on `text`; what they accept must survive a round trip.
fn decode_everything(text: &str) {
    if let Ok(msg) = signalling::decode(text) {
        assert_round_trip("signalling", text, &msg, |m| m.encode(), signalling::decode);
    }
    if let Ok(msg) = ClientDataMessage::decode(text) {
        assert_round_trip(
            "client data",
            text,
            &msg,
            |m| m.encode(),
            ClientDataMessage::decode,
        );
    }
    if let Ok(msg) = ServerDataMessage::decode(text) {
        assert_round_trip(
            "server data",
            text,
            &msg,
            |m| m.encode(),
            ServerDataMessage::decode,
        );
    }
    let _ = TokenClaims::decode(text).map(|c| c.validate_for_client());
    let _ = decode_base64_lenient(text);
    for status in [200, 201, 400, 429, 503] {
        let _ = classify_start_session(status, text);
        let _ = classify_session_token(status, text);
    }
    let _ = anam_core::json::parse(text).map(|v| ApiErrorBody::from_value(&v));
    assert_body_round_trip::<SessionTokenRequest>("session-token request", text);
    assert_body_round_trip::<SessionTokenResponse>("session-token response", text);
    assert_body_round_trip::<StartSessionRequest>("start-session request", text);
    assert_body_round_trip::<StartSessionResponse>("start-session response", text);
    assert_body_round_trip::<TalkRequest>("talk request", text);
    assert_body_round_trip::<PersonaSummary>("persona summary", text);
}

/// All fixture texts, the seeds of the mutation strategy.
fn fixtures() -> Vec<String> {
    common::fixture_names("")
        .iter()
        .map(|n| common::fixture(n))
        .collect()
}

/// A fixture with a few bytes overwritten, inserted or deleted (kept valid UTF-8 by working on
/// chars).
fn mutated_fixture() -> impl Strategy<Value = String> {
    let seeds = fixtures();
    (
        0..seeds.len(),
        proptest::collection::vec((any::<usize>(), 0u8..3, any::<char>()), 1..6),
    )
        .prop_map(move |(index, edits)| {
            let mut chars: Vec<char> = seeds[index].chars().collect();
            for (pos, op, c) in edits {
                if chars.is_empty() {
                    chars.push(c);
                    continue;
                }
                let i = pos % chars.len();
                match op {
                    0 => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ => {
                        chars.remove(i);
                    }
                }
            }
            chars.into_iter().collect()
        })
}

/// A structurally valid envelope with an arbitrary kind and payload type, to reach the typed
/// payload decoders rather than stopping at the JSON parser.
fn envelope_with_random_payload() -> impl Strategy<Value = String> {
    let kinds = prop_oneof![
        Just("offer"),
        Just("answer"),
        Just("icecandidate"),
        Just("talkstream"),
        Just("agentaudioinput"),
        Just("endsession"),
        Just("speechText"),
        Just("toolCallCompleted"),
        Just("personaConfigUpdateApplied"),
        Just("speech"),
        Just("director_note_cue"),
        Just("tool_result"),
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,8}".prop_map(serde_json::Value::String),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("content".to_owned()),
                    Just("sdp".to_owned()),
                    Just("type".to_owned()),
                    Just("candidate".to_owned()),
                    Just("cue".to_owned()),
                    Just("role".to_owned()),
                    Just("content_index".to_owned()),
                    ".{0,4}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    (kinds, value).prop_map(|(kind, payload)| {
        serde_json::json!({
            "actionType": kind, "sessionId": "s", "payload": payload.clone(),
            "messageType": kind, "data": payload.clone(),
            "message_type": kind, "cue": payload,
        })
        .to_string()
    })
}

proptest! {
    // Moderate case counts keep the whole file well under a few seconds.
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        decode_everything(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        decode_everything(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_fixtures_never_panic(text in mutated_fixture()) {
        decode_everything(&text);
    }

    #[test]
    fn envelopes_with_random_payloads_never_panic(text in envelope_with_random_payload()) {
        decode_everything(&text);
    }

    #[test]
    fn tokens_with_random_segments_never_panic(
        a in "[A-Za-z0-9_=+/.-]{0,20}",
        b in "[A-Za-z0-9_=+/*-]{0,60}",
        c in "[A-Za-z0-9_-]{0,10}",
    ) {
        let token = format!("{a}.{b}.{c}");
        let _ = TokenClaims::decode(&token);
    }
}

/// Inputs the long run found: numbers past what the fast number reader rounds exactly, which a
/// server's serde path re-encoded as a neighbouring double (1e300 came back as
/// 1.0000000000000002e300).
#[test]
fn long_numbers_survive_a_round_trip() {
    decode_everything(
        r#"{"messageType":"clientToolEvent","data":{"event_data":1e+300,"event_name":"redirect","event_uid":"e4","session_id":"sid-1","timestamp":"2026-07-23T10:01:00.000Z","timestamp_user_action":"2026-07-23T10:00:59.000Z","used_outside_engine":true,"user_action_correlation_id":"c-14"}}"#,
    );
    decode_everything(
        r#"{"message_type":"remote_rtp_stats","data":{"packetsLost":-1.7096957415738978e-184,"bytesReceived":0.5}}"#,
    );
}
