//! The real HTTP upstream client against a scripted local server on 127.0.0.1: the exact
//! request it sends, and how each kind of bad answer is classified.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anam_backend::config::ApiKey;
use anam_backend::upstream::{HttpUpstream, Upstream, UpstreamError};
use anam_core::wire::rest::PersonaSelection;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

const KEY: &str = "sk-upstream-test-key-123";

/// One request as the fake saw it: its Authorization header and its JSON body.
type Seen = (Option<String>, Value);

#[derive(Clone, Default)]
struct Script {
    /// What the next session-token call answers.
    mode: Arc<Mutex<&'static str>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn mint(State(s): State<Script>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.seen.lock().unwrap().push((auth, body));
    let mode = *s.mode.lock().unwrap();
    match mode {
        "ok" => (
            StatusCode::CREATED,
            axum::Json(json!({"sessionToken": "a.b.c"})),
        )
            .into_response(),
        "garbage" => (StatusCode::OK, "<html>proxy error</html>").into_response(),
        "empty-token" => axum::Json(json!({"sessionToken": ""})).into_response(),
        "huge" => (StatusCode::OK, "x".repeat(200_000)).into_response(),
        "401-echo" => (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "unauthorized", "message": format!("bad key {KEY}\nline two")}),
            ),
        )
            .into_response(),
        "429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "42")],
            axum::Json(json!({"message": "slow down"})),
        )
            .into_response(),
        "503" => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        "redirect" => (
            StatusCode::FOUND,
            [("location", "http://127.0.0.1:1/steal")],
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(json!({"sessionToken": "late"})).into_response()
        }
        other => panic!("unknown mode {other}"),
    }
}

async fn personas() -> Response {
    axum::Json(
        json!([{"id": "persona-aria", "name": "Aria"}, {"id": "persona-milo", "name": "Milo"}]),
    )
    .into_response()
}

async fn start_fake() -> (String, Script) {
    let script = Script::default();
    *script.mode.lock().unwrap() = "ok";
    let app = Router::new()
        .route("/v1/auth/session-token", post(mint))
        .route("/v1/personas", get(personas))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), script)
}

fn saved(id: &str) -> PersonaSelection {
    PersonaSelection::Saved {
        persona_id: id.to_owned(),
    }
}

#[tokio::test]
async fn sends_bearer_key_and_persona_config_and_reads_the_token() {
    let (base, script) = start_fake().await;
    let up = HttpUpstream::new(&base, ApiKey::new(KEY), Duration::from_secs(5)).unwrap();
    let token = up.session_token(&saved("persona-aria")).await.unwrap();
    assert_eq!(token, "a.b.c");
    let seen = script.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(
        seen[0].1,
        json!({"personaConfig": {"personaId": "persona-aria"}})
    );

    let listing = up.personas().await.unwrap();
    let names: Vec<_> = listing.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Aria", "Milo"]);
}

#[tokio::test]
async fn bad_answers_are_classified_and_never_echo_the_key() {
    let (base, script) = start_fake().await;
    let up = HttpUpstream::new(&base, ApiKey::new(KEY), Duration::from_secs(5)).unwrap();
    let call = |mode: &'static str| {
        *script.mode.lock().unwrap() = mode;
        let up = up.clone();
        async move { up.session_token(&saved("p")).await.unwrap_err() }
    };

    assert!(matches!(
        call("garbage").await,
        UpstreamError::BadResponse(_)
    ));
    assert!(matches!(
        call("empty-token").await,
        UpstreamError::BadResponse(_)
    ));
    assert!(matches!(call("huge").await, UpstreamError::BadResponse(_)));
    assert!(matches!(
        call("503").await,
        UpstreamError::Status { status: 503, .. }
    ));
    // Redirects are not followed: the key stays with the configured host.
    assert!(matches!(
        call("redirect").await,
        UpstreamError::Status { status: 302, .. }
    ));

    match call("429").await {
        UpstreamError::Status {
            status: 429,
            retry_after,
            reason,
        } => {
            assert_eq!(retry_after.unwrap(), "42");
            assert_eq!(reason.as_deref(), Some("slow down"));
        }
        other => panic!("{other:?}"),
    }

    let echoed = call("401-echo").await;
    let text = echoed.to_string();
    assert!(matches!(echoed, UpstreamError::Status { status: 401, .. }));
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(!text.contains('\n'), "log detail must be one line: {text}");
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let (base, script) = start_fake().await;
    *script.mode.lock().unwrap() = "slow";
    let up = HttpUpstream::new(&base, ApiKey::new(KEY), Duration::from_millis(300)).unwrap();
    let started = tokio::time::Instant::now();
    let err = up.session_token(&saved("p")).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    // Bind then drop: the port is very likely closed right after.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let up = HttpUpstream::new(
        &format!("http://{addr}"),
        ApiKey::new(KEY),
        Duration::from_secs(2),
    )
    .unwrap();
    let err = up.session_token(&saved("p")).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Unreachable(_)), "{err:?}");
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn https_works_with_the_bundled_tls_stack() {
    // A plain TCP server that hangs up on the TLS hello: the client must initialise rustls
    // (crypto provider, roots) and report a clean failure, not panic.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            use tokio::io::AsyncWriteExt;
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let up = HttpUpstream::new(
        &format!("https://{addr}"),
        ApiKey::new(KEY),
        Duration::from_secs(2),
    )
    .unwrap();
    let err = up.session_token(&saved("p")).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Unreachable(_)), "{err:?}");
}
