//! Error vocabularies (§10.7-§10.9) and the start-session status table of §3.3, row by row.
mod common;

use anam_core::errors::*;

const OK_BODY: &str = r#"{"sessionId":"s-1","engineHost":"127.0.0.1:8788","engineProtocol":"http","signallingEndpoint":"/ws","clientConfig":{"iceServers":[]}}"#;

fn fail(status: u16, body: &str) -> ApiFailure {
    match classify_start_session(status, body) {
        Ok(resp) => panic!("HTTP {status} {body} unexpectedly succeeded: {resp:?}"),
        Err(f) => f,
    }
}

#[test]
fn string_enums_have_every_protocol_value() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED",
            "CLIENT_ERROR_CODE_SPEND_CAP_REACHED",
            "CLIENT_ERROR_CODE_VALIDATION_ERROR",
            "CLIENT_ERROR_CODE_AUTHENTICATION_ERROR",
            "CLIENT_ERROR_CODE_SERVER_ERROR",
            "CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED",
            "CLIENT_ERROR_CODE_SERVICE_BUSY",
            "CLIENT_ERROR_CODE_NO_PLAN_FOUND",
            "CLIENT_ERROR_CODE_UNKNOWN_ERROR",
            "CLIENT_ERROR_CODE_CONFIGURATION_ERROR",
        ]
    );
    let closed: Vec<&str> = ConnectionClosedCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        closed,
        [
            "CONNECTION_CLOSED_CODE_NORMAL",
            "CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED",
            "CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE",
            "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE",
            "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION",
        ]
    );
    let perms: Vec<&str> = AudioPermissionState::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(perms, ["pending", "granted", "denied", "not_requested"]);
}

#[test]
fn string_enums_serialize_parse_and_display_as_their_strings() {
    for code in ErrorCode::ALL {
        let json = serde_json::to_string(code).expect("encode");
        assert_eq!(json, format!("\"{}\"", code.as_str()));
        assert_eq!(
            serde_json::from_str::<ErrorCode>(&json).expect("decode"),
            *code
        );
        assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
        assert_eq!(code.to_string(), code.as_str());
    }
    for code in ConnectionClosedCode::ALL {
        assert_eq!(ConnectionClosedCode::parse(code.as_str()), Some(*code));
    }
    for state in AudioPermissionState::ALL {
        assert_eq!(AudioPermissionState::parse(state.as_str()), Some(*state));
    }
    assert_eq!(ErrorCode::parse("SERVER_ERROR"), None);
}

#[test]
fn success_statuses_decode_the_response() {
    for status in [200, 201] {
        let resp = classify_start_session(status, OK_BODY).expect("success");
        assert_eq!(resp.session_id, "s-1");
        assert_eq!(
            resp.signalling_url(),
            "ws://127.0.0.1:8788/ws?session_id=s-1"
        );
    }
    let fixture = common::fixture("rest_start_session_response");
    assert!(classify_start_session(200, &fixture).is_ok());
}

#[test]
fn status_table_row_by_row() {
    let body = r#"{"error":"x","message":"the reason"}"#;
    // (status, error text, expected code, expected statusCode, retried?)
    let rows: [(u16, Option<&str>, ErrorCode, u16, bool); 14] = [
        (400, None, ErrorCode::ValidationError, 400, false),
        (401, None, ErrorCode::AuthenticationError, 401, false),
        (402, None, ErrorCode::NoPlanFound, 402, false),
        (403, None, ErrorCode::AuthenticationError, 403, false),
        (
            429,
            Some("Concurrent session limit reached"),
            ErrorCode::MaxConcurrentSessionsReached,
            429,
            false,
        ),
        (
            429,
            Some("Spend cap reached"),
            ErrorCode::SpendCapReached,
            429,
            false,
        ),
        (
            429,
            Some("Rate limited"),
            ErrorCode::UsageLimitReached,
            429,
            false,
        ),
        (429, None, ErrorCode::UsageLimitReached, 429, false),
        (503, None, ErrorCode::ServiceBusy, 503, true),
        (404, None, ErrorCode::ServerError, 404, false),
        (409, None, ErrorCode::ServerError, 409, false),
        (500, None, ErrorCode::ServerError, 500, true),
        (502, None, ErrorCode::ServerError, 502, true),
        (202, None, ErrorCode::ServerError, 202, false),
    ];
    for (status, error, code, status_code, retried) in rows {
        let text = match error {
            Some(e) => serde_json::json!({"error": e, "message": "the reason"}).to_string(),
            None => body.to_owned(),
        };
        let f = fail(status, &text);
        assert_eq!(
            (f.code, f.status, f.retryable),
            (code, status_code, retried),
            "row {status} {error:?}"
        );
        assert_eq!(
            f.cause.as_deref(),
            Some("the reason"),
            "cause is body.message"
        );
    }
}

#[test]
fn the_429_match_is_exact() {
    // Only the exact documented texts refine a 429.
    for text in [
        "spend cap reached",
        "Spend cap reached.",
        " Concurrent session limit reached",
    ] {
        let body = serde_json::json!({ "error": text }).to_string();
        assert_eq!(
            fail(429, &body).code,
            ErrorCode::UsageLimitReached,
            "{text:?}"
        );
    }
}

#[test]
fn non_json_bodies_are_retryable_500s_whatever_the_status() {
    for status in [200, 201, 400, 401, 429, 503, 404] {
        for body in ["", "<html>Bad Gateway</html>", "{\"sessionId\":"] {
            let f = fail(status, body);
            assert_eq!(
                (f.code, f.status, f.retryable),
                (ErrorCode::ServerError, 500, true),
                "HTTP {status} body {body:?}"
            );
        }
    }
}

#[test]
fn json_error_bodies_without_message_have_no_cause() {
    for body in ["{}", "[]", "\"text\"", "null", r#"{"message": 12}"#] {
        let f = fail(401, body);
        assert_eq!(
            (f.code, f.cause),
            (ErrorCode::AuthenticationError, None),
            "{body}"
        );
    }
}

#[test]
fn unusable_success_bodies_are_server_errors() {
    for body in [
        "{}",
        "[]",
        r#"{"sessionId":"s"}"#,
        r#"{"sessionId":"s","engineHost":"h","engineProtocol":"http","signallingEndpoint":"/ws"}"#,
    ] {
        let f = fail(200, body);
        assert_eq!(
            (f.code, f.status, f.retryable),
            (ErrorCode::ServerError, 500, true),
            "{body}"
        );
    }
}

#[test]
fn network_failures_are_retryable_server_errors() {
    let f = classify_network_failure("timed out after 10000 ms");
    assert_eq!(
        (f.code, f.status, f.retryable),
        (ErrorCode::ServerError, 500, true)
    );
    assert_eq!(f.cause.as_deref(), Some("timed out after 10000 ms"));
    assert!(f.to_string().contains("CLIENT_ERROR_CODE_SERVER_ERROR"));
}

#[test]
fn session_token_answers_follow_section_2_4() {
    let ok = classify_session_token(201, r#"{"sessionToken":"a.b.c"}"#).expect("token");
    assert_eq!(ok.session_token, "a.b.c");
    for body in ["", "{}", r#"{"sessionToken":""}"#, r#"{"sessionToken":5}"#] {
        let f = classify_session_token(200, body).expect_err(body);
        assert_eq!((f.code, f.status), (ErrorCode::ServerError, 500), "{body}");
    }
    let rows = [
        (401, ErrorCode::AuthenticationError),
        (403, ErrorCode::AuthenticationError),
        (400, ErrorCode::ValidationError),
        (422, ErrorCode::ValidationError),
        (429, ErrorCode::UsageLimitReached),
        (500, ErrorCode::ServerError),
        (302, ErrorCode::ServerError),
    ];
    for (status, code) in rows {
        let f = classify_session_token(status, "not json").expect_err("failure");
        assert_eq!((f.code, f.status), (code, status));
        assert_eq!(
            f.cause,
            Some(format!("Request failed with HTTP status {status}"))
        );
    }
    let by_message = classify_session_token(401, r#"{"error":"e","message":"m"}"#).expect_err("f");
    assert_eq!(by_message.cause.as_deref(), Some("m"));
    let by_error = classify_session_token(401, r#"{"error":"e"}"#).expect_err("f");
    assert_eq!(by_error.cause.as_deref(), Some("e"));
}
