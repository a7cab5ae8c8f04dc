//! REST bodies (§2-§5): fixtures round-trip, unknown keys are tolerated, URL helpers build the
//! documented URLs.
mod common;

use anam_core::wire::rest::*;
use anam_core::wire::{FromJson, ToJson};
use common::{assert_same_json, decode_body, encode_body, fixture, parse, with_unknown_fields};
use std::fmt::Debug;

/// decode -> encode -> decode gives the same value, and the encoding has the fixture's keys.
fn round_trip<T>(name: &str) -> T
where
    T: FromJson + ToJson + PartialEq + Debug,
{
    let text = fixture(name);
    let first: T = decode_body(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let encoded = encode_body(&first);
    let second: T = decode_body(&encoded).expect("re-decode");
    assert_eq!(first, second, "{name}: round trip changed the value");
    assert_same_json(name, &encoded, &text);
    first
}

#[test]
fn stateful_token_request_round_trips() {
    let req: SessionTokenRequest = round_trip("rest_session_token_request_stateful");
    let persona = req.persona_config.expect("personaConfig");
    assert!(persona.is_saved());
    assert_eq!(persona.persona_id(), Some("persona-aria"));
    assert_eq!(req.client_label.as_deref(), Some("my-backend"));
}

#[test]
fn legacy_id_key_is_accepted_and_reencoded_as_persona_id() {
    let text = fixture("rest_session_token_request_legacy_id");
    let req: SessionTokenRequest = decode_body(&text).expect("decode");
    assert_eq!(
        req.persona_config,
        Some(PersonaSelection::Saved {
            persona_id: "persona-milo".into()
        })
    );
    let encoded = parse(&encode_body(&req));
    assert_eq!(
        encoded,
        serde_json::json!({"personaConfig": {"personaId": "persona-milo"}})
    );
}

#[test]
fn ephemeral_token_request_round_trips_all_persona_fields() {
    let req: SessionTokenRequest = round_trip("rest_session_token_request_ephemeral");
    let Some(PersonaSelection::Ephemeral(cfg)) = req.persona_config else {
        panic!("expected an ephemeral persona config");
    };
    assert_eq!(cfg.name.as_deref(), Some("Cara"));
    assert_eq!(cfg.avatar_id.as_deref(), Some("av-1"));
    assert_eq!(cfg.voice_id.as_deref(), Some("vo-1"));
    assert_eq!(cfg.llm_id.as_deref(), Some("llm-1"));
    assert_eq!(cfg.system_prompt.as_deref(), Some("Be brief."));
    assert_eq!(
        cfg.max_session_length_seconds.map(|n| n.as_f64()),
        Some(600.0)
    );
    assert_eq!(cfg.language_code.as_deref(), Some("en"));
    let notes = cfg.director_notes.expect("directorNotes");
    assert_eq!(notes.preset_style.as_deref(), Some("warm"));
    assert_eq!(notes.validate(), Ok(()));
    let sensitivity = req
        .session_options
        .and_then(|o| o.voice_detection)
        .and_then(|v| v.end_of_speech_sensitivity);
    assert_eq!(sensitivity.map(|n| n.as_f64()), Some(0.5));
    assert_eq!(req.expires_in.as_deref(), Some("1h"));
}

#[test]
fn persona_selection_without_any_id_or_config_is_rejected() {
    for body in [
        r#"{"personaConfig": {}}"#,
        r#"{"personaConfig": {"personaId": 7}}"#,
    ] {
        assert!(
            decode_body::<SessionTokenRequest>(body).is_err(),
            "{body} should not decode"
        );
    }
    // An absent personaConfig is left for the server to judge.
    let empty: SessionTokenRequest = decode_body("{}").expect("empty body");
    assert_eq!(empty.persona_config, None);
}

#[test]
fn unknown_persona_keys_are_kept_for_forwarding() {
    let body = r#"{"personaConfig": {"name": "Cara", "avatarId": "a", "voiceId": "v",
        "futureKnob": {"level": 3}}, "someNewKey": true}"#;
    let req: SessionTokenRequest = decode_body(body).expect("decode");
    let Some(PersonaSelection::Ephemeral(cfg)) = &req.persona_config else {
        panic!("expected ephemeral");
    };
    assert_eq!(
        cfg.extra.get("futureKnob"),
        Some(&anam_core::json::Value::from(
            serde_json::json!({"level": 3})
        ))
    );
    let encoded = parse(&encode_body(&req));
    assert_eq!(encoded["personaConfig"]["futureKnob"]["level"], 3);
}

#[test]
fn token_response_round_trips() {
    let resp: SessionTokenResponse = round_trip("rest_session_token_response");
    assert_eq!(resp.session_token.split('.').count(), 3);
}

#[test]
fn start_session_requests_round_trip() {
    let token_mode: StartSessionRequest = round_trip("rest_start_session_request_token_mode");
    assert_eq!(
        token_mode.client_metadata,
        Some(ClientMetadata {
            client: "js-sdk".to_owned(),
            version: "4.27.0".to_owned(),
        })
    );
    assert_eq!(token_mode.persona_config, None);
    let full: StartSessionRequest = round_trip("rest_start_session_request_full");
    let cfg = full.persona_config.expect("personaConfig");
    assert_eq!(cfg.persona_id.as_deref(), Some("persona-aria"));
    let notes = cfg.director_notes.expect("directorNotes");
    assert_eq!(
        notes.custom_style_prompt.as_deref(),
        Some("Calm and curious.")
    );
    assert_eq!(notes.expressivity.map(|n| n.as_f64()), Some(0.25));
}

#[test]
fn token_mode_start_session_body_matches_the_sdk_bytes() {
    let req = StartSessionRequest {
        client_metadata: Some(ClientMetadata {
            client: "js-sdk".to_owned(),
            version: "4.27.0".to_owned(),
        }),
        ..Default::default()
    };
    assert_eq!(
        encode_body(&req),
        r#"{"clientMetadata":{"client":"js-sdk","version":"4.27.0"}}"#
    );
}

#[test]
fn start_session_response_round_trips() {
    let resp: StartSessionResponse = round_trip("rest_start_session_response");
    assert_eq!(resp.session_id, "3f1c2a9e-8d2b-4c1e-9a55-0b7f1e2d3c4b");
    assert_eq!(resp.region.as_deref(), Some("local-dev"));
    let ice = &resp.client_config.ice_servers;
    assert_eq!(ice.len(), 2);
    assert_eq!(ice[0].urls.to_vec(), vec!["stun:stun.l.google.com:19302"]);
    assert_eq!(ice[1].urls.to_vec().len(), 2);
    assert_eq!(ice[1].username.as_deref(), Some("user-1"));
    assert_eq!(resp.client_config.heartbeat_interval_ms(), 5000);
    assert_eq!(resp.client_config.max_ws_reconnection_attempts(), 5);
    assert_eq!(
        resp.client_config.ice_transport_policy.as_deref(),
        Some("all")
    );

    let minimal: StartSessionResponse = round_trip("rest_start_session_response_minimal");
    assert_eq!(minimal.region, None);
    assert!(minimal.client_config.ice_servers.is_empty());
}

#[test]
fn start_session_response_needs_client_config_and_ice_servers() {
    let base = parse(&fixture("rest_start_session_response_minimal"));
    let mut no_config = base.clone();
    no_config
        .as_object_mut()
        .expect("object")
        .remove("clientConfig");
    assert!(decode_body::<StartSessionResponse>(&no_config.to_string()).is_err());
    let mut no_ice = base;
    no_ice["clientConfig"] = serde_json::json!({"heartbeatIntervalSeconds": 5});
    assert!(decode_body::<StartSessionResponse>(&no_ice.to_string()).is_err());
}

#[test]
fn null_region_reads_as_none() {
    let mut value = parse(&fixture("rest_start_session_response_minimal"));
    value["region"] = serde_json::Value::Null;
    let resp: StartSessionResponse = decode_body(&value.to_string()).expect("decode");
    assert_eq!(resp.region, None);
}

#[test]
fn falsy_client_config_values_fall_back_to_defaults() {
    let cfg = |hb: Option<f64>, ws: Option<f64>| ClientConfig {
        heartbeat_interval_seconds: hb,
        max_ws_reconnection_attempts: ws,
        ..Default::default()
    };
    assert_eq!(cfg(None, None).heartbeat_interval_ms(), 5000);
    assert_eq!(cfg(Some(0.0), None).heartbeat_interval_ms(), 5000);
    assert_eq!(cfg(Some(f64::NAN), None).heartbeat_interval_ms(), 5000);
    assert_eq!(cfg(Some(2.5), None).heartbeat_interval_ms(), 2500);
    assert_eq!(cfg(None, Some(0.0)).max_ws_reconnection_attempts(), 5);
    assert_eq!(cfg(None, Some(2.0)).max_ws_reconnection_attempts(), 2);
    assert_eq!(cfg(None, Some(-1.0)).max_ws_reconnection_attempts(), 0);
}

fn response(protocol: &str, host: &str, endpoint: &str, session_id: &str) -> StartSessionResponse {
    StartSessionResponse {
        session_id: session_id.into(),
        engine_host: host.into(),
        engine_protocol: protocol.into(),
        signalling_endpoint: endpoint.into(),
        region: None,
        client_config: ClientConfig::default(),
    }
}

#[test]
fn signalling_url_follows_section_7_1() {
    assert_eq!(
        response("http", "127.0.0.1:8788", "/ws", "3f1c2a9e").signalling_url(),
        "ws://127.0.0.1:8788/ws?session_id=3f1c2a9e"
    );
    // Anything but exactly "http" is secure.
    for protocol in ["https", "HTTP", "", "wss"] {
        assert_eq!(
            response(protocol, "engine.test", "/ws", "s").signalling_url(),
            "wss://engine.test/ws?session_id=s",
            "protocol {protocol:?}"
        );
    }
    assert_eq!(
        response("http", "h:1", "", "s").signalling_url(),
        "ws://h:1/ws?session_id=s"
    );
    assert_eq!(
        response("http", "h:1", "signal", "s").signalling_url(),
        "ws://h:1/signal?session_id=s"
    );
    // The query value is form-encoded, like URLSearchParams.
    assert_eq!(
        response("http", "h:1", "/ws", "a b&c=d/é").signalling_url(),
        "ws://h:1/ws?session_id=a+b%26c%3Dd%2F%C3%A9"
    );
}

#[test]
fn talk_url_follows_section_4() {
    assert_eq!(
        response("http", "127.0.0.1:8788", "/ws", "3f1c2a9e").talk_url(),
        "http://127.0.0.1:8788/talk?session_id=3f1c2a9e"
    );
    assert_eq!(
        response("https", "engine.test", "/ws", "s-1").talk_url(),
        "https://engine.test/talk?session_id=s-1"
    );
    assert_eq!(
        response("", "engine.test", "/ws", "s").talk_url(),
        "https://engine.test/talk?session_id=s"
    );
}

#[test]
fn talk_request_round_trips() {
    let talk: TalkRequest = round_trip("rest_talk_request");
    assert_eq!(talk.content, "Hello from the test suite");
}

#[test]
fn api_error_body_round_trips_and_is_lenient() {
    let body: ApiErrorBody = round_trip("rest_api_error");
    assert_eq!(body.error.as_deref(), Some("Spend cap reached"));
    // Non-string fields are ignored, not rejected.
    let odd: ApiErrorBody =
        decode_body(r#"{"error": {"code": 7}, "message": "m", "solution": null}"#).expect("decode");
    assert_eq!(
        odd,
        ApiErrorBody {
            error: None,
            message: Some("m".into()),
            solution: None
        }
    );
    assert_eq!(
        ApiErrorBody::from_value(&serde_json::json!([1, 2]).into()),
        ApiErrorBody::default()
    );
    assert_eq!(
        encode_body(&ApiErrorBody::new("not_found", "no such session")),
        r#"{"error":"not_found","message":"no such session"}"#
    );
}

#[test]
fn persona_summary_round_trips() {
    let p: PersonaSummary = round_trip("rest_persona_summary");
    assert_eq!((p.id.as_str(), p.name.as_str()), ("persona-aria", "Aria"));
    assert_eq!(
        p.extra.get("description"),
        Some(&anam_core::json::Value::from("Friendly guide"))
    );
}

#[test]
fn unknown_fields_are_tolerated_in_every_rest_body() {
    // Unknown keys at the top level and inside nested objects that are not forwarded are
    // dropped, so the value decodes exactly as without them.
    fn check<T: FromJson + PartialEq + Debug>(name: &str, nested: &[&str]) {
        let text = fixture(name);
        let plain: T = decode_body(&text).expect("plain");
        let noisy = with_unknown_fields(&text, nested);
        let decoded: T = decode_body(&noisy).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain, decoded, "{name}");
    }
    check::<SessionTokenRequest>("rest_session_token_request_stateful", &["personaConfig"]);
    check::<SessionTokenRequest>("rest_session_token_request_legacy_id", &["personaConfig"]);
    check::<SessionTokenResponse>("rest_session_token_response", &[]);
    check::<StartSessionRequest>("rest_start_session_request_full", &["clientMetadata"]);
    check::<StartSessionResponse>("rest_start_session_response", &["clientConfig"]);
    check::<TalkRequest>("rest_talk_request", &[]);
    check::<ApiErrorBody>("rest_api_error", &[]);
}

#[test]
fn director_notes_validation() {
    let notes = |preset: Option<&str>, custom: Option<&str>, e: Option<f64>| DirectorNotes {
        preset_style: preset.map(str::to_owned),
        custom_style_prompt: custom.map(str::to_owned),
        // Test values are plain decimals, whose Display text is valid JSON.
        expressivity: e.map(|x| {
            let text = if x.is_finite() {
                x.to_string()
            } else {
                "1e999".to_owned()
            };
            anam_core::json::Number::from_json_text(&text).expect("number")
        }),
    };
    assert_eq!(notes(Some("happy"), None, Some(1.0)).validate(), Ok(()));
    assert_eq!(notes(None, None, Some(0.0)).validate(), Ok(()));
    assert!(matches!(
        notes(None, None, Some(1.01)).validate(),
        Err(DirectorNotesError::ExpressivityOutOfRange(_))
    ));
    assert!(matches!(
        notes(None, None, Some(f64::INFINITY)).validate(),
        Err(DirectorNotesError::ExpressivityOutOfRange(_))
    ));
    assert_eq!(
        notes(Some("happy"), Some("x"), None).validate(),
        Err(DirectorNotesError::BothStyles)
    );
    assert_eq!(
        notes(Some("laughter"), None, None).validate(),
        Err(DirectorNotesError::UnknownPresetStyle("laughter".into()))
    );
    let long = "x".repeat(MAX_CUSTOM_STYLE_PROMPT_CHARS + 1);
    assert_eq!(
        notes(None, Some(&long), None).validate(),
        Err(DirectorNotesError::CustomPromptTooLong(
            MAX_CUSTOM_STYLE_PROMPT_CHARS + 1
        ))
    );
}

mod every_body_round_trips {
    //! Each body is encoded on one side and decoded on the other (client, emulator, backend),
    //! all through the one codec: any value survives encode → decode unchanged.
    use super::*;
    use anam_core::json::{Number, Object};
    use proptest::prelude::*;

    fn num(text: &str) -> Number {
        Number::from_json_text(text).expect("test number")
    }

    fn body<T: FromJson + ToJson + PartialEq + Debug>(value: T) -> Result<(), TestCaseError> {
        let text = encode_body(&value);
        prop_assert_eq!(decode_body::<T>(&text).ok(), Some(value), "{}", text);
        Ok(())
    }

    fn config(a: &str, b: &str, c: &Option<String>) -> PersonaConfig {
        PersonaConfig {
            persona_id: c.clone(),
            name: Some(a.to_owned()),
            avatar_id: Some(b.to_owned()),
            voice_id: c.clone(),
            llm_id: c.clone(),
            brain_type: c.clone(),
            system_prompt: Some(b.to_owned()),
            max_session_length_seconds: Some(num("600")),
            language_code: c.clone(),
            director_notes: Some(DirectorNotes {
                preset_style: c.clone(),
                custom_style_prompt: Some(a.to_owned()),
                expressivity: Some(num("0.5")),
            }),
            extra: Object::new().with(&format!("x{a}"), b),
        }
    }

    proptest! {
        #[test]
        fn rest_bodies(a in any::<String>(), b in any::<String>(), c in any::<Option<String>>(), f in any::<Option<u16>>()) {
            let options = SessionOptions {
                voice_detection: Some(VoiceDetection { end_of_speech_sensitivity: Some(num("0.25")) }),
                extra: Object::new().with(&format!("x{b}"), a.as_str()),
            };
            body(SessionTokenRequest {
                persona_config: Some(PersonaSelection::Ephemeral(Box::new(config(&a, &b, &c)))),
                client_label: c.clone(),
                session_options: Some(options.clone()),
                expires_in: c.clone(),
            })?;
            body(SessionTokenRequest {
                persona_config: Some(PersonaSelection::Saved { persona_id: a.clone() }),
                ..SessionTokenRequest::default()
            })?;
            body(SessionTokenResponse { session_token: a.clone() })?;
            body(StartSessionRequest {
                persona_config: Some(config(&b, &a, &c)),
                session_options: Some(options),
                client_metadata: Some(ClientMetadata { client: a.clone(), version: b.clone() }),
            })?;
            body(StartSessionResponse {
                session_id: a.clone(),
                engine_host: b.clone(),
                engine_protocol: a.clone(),
                signalling_endpoint: b.clone(),
                region: c.clone(),
                client_config: ClientConfig {
                    heartbeat_interval_seconds: f.map(f64::from),
                    max_ws_reconnection_attempts: f.map(|n| f64::from(n) / 8.0),
                    ice_servers: vec![
                        IceServer { urls: IceUrls::One(a.clone()), username: None, credential: None },
                        IceServer {
                            urls: IceUrls::Many(vec![a.clone(), b.clone()]),
                            username: c.clone(),
                            credential: c.clone(),
                        },
                    ],
                    ice_transport_policy: c.clone(),
                    expected_heartbeat_interval_secs: Some(5.0),
                },
            })?;
            body(TalkRequest { content: a.clone() })?;
            body(ApiErrorBody { error: c.clone(), message: Some(a.clone()), solution: c.clone() })?;
            body(PersonaSummary {
                id: a.clone(),
                name: b.clone(),
                extra: Object::new().with(&format!("x{a}"), b.as_str()),
            })?;
        }
    }

    /// The exact bytes the emulator answers a start with: serde's order and its `5.0` for a JS
    /// number field, as the servers wrote it before they shared the client's codec.
    #[test]
    fn a_start_session_answer_has_the_documented_bytes() {
        let answer = StartSessionResponse {
            session_id: "s".into(),
            engine_host: "127.0.0.1:1".into(),
            engine_protocol: "http".into(),
            signalling_endpoint: "/ws".into(),
            region: Some("local-emulator".into()),
            client_config: ClientConfig {
                heartbeat_interval_seconds: Some(5.0),
                max_ws_reconnection_attempts: Some(0.5),
                ice_servers: Vec::new(),
                ice_transport_policy: None,
                expected_heartbeat_interval_secs: Some(5.0),
            },
        };
        assert_eq!(
            encode_body(&answer),
            r#"{"sessionId":"s","engineHost":"127.0.0.1:1","engineProtocol":"http","signallingEndpoint":"/ws","region":"local-emulator","clientConfig":{"heartbeatIntervalSeconds":5.0,"maxWsReconnectionAttempts":0.5,"iceServers":[],"expectedHeartbeatIntervalSecs":5.0}}"#
        );
    }
}
