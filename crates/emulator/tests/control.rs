//! The error paths of the control API (`/_emulator/…`) and of `/talk`, over real sockets: every
//! refusal is a JSON `{"error", "message"}` with the status a test can act on, and a refused
//! command changes nothing (the live session still takes the next good one).
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::client::{http, start_session};

const KEY: &str = "control-errors-key";

async fn post(host: &str, path: &str, body: &Value) -> (u16, Value) {
    http(host, "POST", path, None, body).await
}

/// Asserts a refusal: `status` with a JSON error body whose message contains `says`.
fn assert_refused((status, body): (u16, Value), expected: u16, says: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert!(
        body["error"].is_string(),
        "{what}: a JSON error body: {body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{what}: message {message:?} should say {says:?}"
    );
}

#[tokio::test]
async fn control_routes_refuse_unknown_sessions_and_bad_bodies() {
    let host = support::serve_emulator(KEY, true).await;
    let unknown = "no-such-session";
    for route in [
        "end",
        "drop-signalling",
        "stop-media",
        "persona-config-update",
        "data-message",
    ] {
        let body = match route {
            "persona-config-update" => json!({"changedFields": {"voiceId": "v"}}),
            "data-message" => json!({"messageType": "x"}),
            _ => Value::Null,
        };
        let answer = post(
            &host,
            &format!("/_emulator/sessions/{unknown}/{route}"),
            &body,
        )
        .await;
        assert_refused(answer, 404, "no live session", route);
    }

    let id = start_session(&host, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let base = format!("/_emulator/sessions/{id}");
    // Bodies the routes cannot use, for a session that exists.
    assert_refused(
        post(
            &host,
            &format!("{base}/persona-config-update"),
            &Value::Null,
        )
        .await,
        400,
        "changedFields",
        "persona-config-update without a body",
    );
    assert_refused(
        post(
            &host,
            &format!("{base}/persona-config-update"),
            &json!({"changed": {}}),
        )
        .await,
        400,
        "invalid JSON body",
        "persona-config-update without changedFields",
    );
    assert_refused(
        post(&host, &format!("{base}/data-message"), &Value::Null).await,
        400,
        "JSON body is required",
        "data-message without a body",
    );
    let huge = json!({"messageType": "x", "data": "a".repeat(17 * 1024)});
    assert_refused(
        post(&host, &format!("{base}/data-message"), &huge).await,
        400,
        "at most",
        "an oversized data-message",
    );
    assert_refused(
        post(
            &host,
            "/_emulator/faults",
            &json!({"endpoint": "talk", "status": 200}),
        )
        .await,
        400,
        "4xx or 5xx",
        "a fault that is not a failure",
    );
    assert_refused(
        post(&host, "/_emulator/faults", &Value::Null).await,
        400,
        "JSON body is required",
        "a fault without a body",
    );

    // /talk: the session id is required, must be live, and a body is required.
    assert_refused(
        post(&host, "/talk", &json!({"content": "hello"})).await,
        400,
        "session_id",
        "/talk without a session id",
    );
    assert_refused(
        post(
            &host,
            &format!("/talk?session_id={unknown}"),
            &json!({"content": "hello"}),
        )
        .await,
        404,
        "no live session",
        "/talk for an unknown session",
    );
    assert_refused(
        post(&host, &format!("/talk?session_id={id}"), &Value::Null).await,
        400,
        "JSON body is required",
        "/talk without a body",
    );

    // None of that touched the session: it still takes a command, then ends, and its id is
    // unknown from then on.
    let (status, body) = post(
        &host,
        &format!("/talk?session_id={id}"),
        &json!({"content": "still here"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&host, &format!("{base}/end"), &Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sessionId"], id.as_str());
    let mut answer = (0, Value::Null);
    for _ in 0..200 {
        answer = post(&host, &format!("{base}/end"), &Value::Null).await;
        if answer.0 != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_refused(answer, 404, "", "a second end of the ended session");
    assert_refused(
        post(
            &host,
            &format!("{base}/persona-config-update"),
            &json!({"changedFields": {}}),
        )
        .await,
        404,
        "",
        "persona-config-update for the ended session",
    );
}

#[tokio::test]
async fn without_control_the_routes_do_not_exist() {
    let host = support::serve_emulator(KEY, false).await;
    let id = start_session(&host, KEY, json!({"personaId": "persona-aria"}))
        .await
        .unwrap();
    let (status, _) = http(&host, "GET", "/_emulator/sessions", None, &Value::Null).await;
    assert_eq!(status, 404);
    for route in ["end", "persona-config-update", "data-message"] {
        let (status, _) = post(
            &host,
            &format!("/_emulator/sessions/{id}/{route}"),
            &json!({"changedFields": {}}),
        )
        .await;
        assert_eq!(status, 404, "{route} without --control");
    }
}
