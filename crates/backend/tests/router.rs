//! The whole router against a fake upstream, without sockets: every answer the page can get.

mod common;

use std::net::SocketAddr;

use anam_backend::upstream::UpstreamError;
use anam_core::wire::rest::{PersonaSelection, PersonaSummary};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode};
use common::{config, send, token_request, FakeUpstream};
use serde_json::json;

const KEY: (&str, &str) = ("ANAM_API_KEY", "test-key");

fn stateful_app(extra: &[(&str, &str)]) -> (axum::Router, FakeUpstream) {
    let mut vars = vec![KEY, ("ANAM_PERSONA_ID", "persona-aria,persona-milo")];
    vars.extend_from_slice(extra);
    let fake = FakeUpstream::default();
    (
        anam_backend::app(&config(&vars, &[]), fake.clone(), &[]).unwrap(),
        fake,
    )
}

fn saved(id: &str) -> PersonaSelection {
    PersonaSelection::Saved {
        persona_id: id.to_owned(),
    }
}

#[tokio::test]
async fn default_persona_gets_a_fresh_uncached_token_each_call() {
    let (app, fake) = stateful_app(&[]);
    let first = send(&app, token_request(None)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json(), json!({"sessionToken": "tok-1"}));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert!(first.header("x-request-id").is_some());

    let second = send(&app, token_request(Some("{}"))).await;
    assert_eq!(second.json(), json!({"sessionToken": "tok-2"}));
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
    assert_eq!(
        fake.calls(),
        vec![saved("persona-aria"), saved("persona-aria")]
    );
}

#[tokio::test]
async fn page_may_pick_a_listed_persona_and_nothing_else() {
    let (app, fake) = stateful_app(&[]);
    let ok = send(
        &app,
        token_request(Some(r#"{"personaId": "persona-milo"}"#)),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(fake.calls(), vec![saved("persona-milo")]);

    let null = send(&app, token_request(Some(r#"{"personaId": null}"#))).await;
    assert_eq!(null.status, StatusCode::OK);

    let other = send(
        &app,
        token_request(Some(r#"{"personaId": "persona-evil"}"#)),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.error_code(), "unknown_persona");

    let number = send(&app, token_request(Some(r#"{"personaId": 7}"#))).await;
    assert_eq!(number.status, StatusCode::BAD_REQUEST);
    assert_eq!(number.error_code(), "invalid_json");
    // Neither refused request reached upstream.
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn persona_config_file_mints_ephemeral_tokens() {
    let file = r#"{"name": "Cara", "avatarId": "av-1", "voiceId": "vo-1", "systemPrompt": "Be brief.", "futureOption": true}"#;
    let cfg = config(
        &[KEY, ("ANAM_PERSONA_CONFIG", "/cara.json")],
        &[("/cara.json", file)],
    );
    let fake = FakeUpstream::default();
    let app = anam_backend::app(&cfg, fake.clone(), &[]).unwrap();

    let config_answer = send(
        &app,
        Request::get("/api/config").body(Body::empty()).unwrap(),
    )
    .await;
    let personas = config_answer.json()["personas"].clone();
    assert_eq!(personas, json!([{"id": "ephemeral", "name": "Cara"}]));

    for body in [None, Some(r#"{"personaId": "ephemeral"}"#)] {
        let a = send(&app, token_request(body)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    }
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let PersonaSelection::Ephemeral(sent) = &calls[0] else {
        panic!("expected a runtime config, got {:?}", calls[0]);
    };
    assert_eq!(sent.name.as_deref(), Some("Cara"));
    assert_eq!(sent.voice_id.as_deref(), Some("vo-1"));
    // Unknown keys of the file travel upstream unchanged.
    assert_eq!(
        sent.extra.get("futureOption"),
        Some(&anam_core::json::Value::Bool(true))
    );

    let other = send(
        &app,
        token_request(Some(r#"{"personaId": "persona-aria"}"#)),
    )
    .await;
    assert_eq!(other.error_code(), "unknown_persona");
}

#[tokio::test]
async fn every_upstream_failure_maps_to_a_status_and_code_the_page_can_act_on() {
    let status = |status: u16| UpstreamError::Status {
        status,
        retry_after: None,
        reason: Some("upstream words".into()),
    };
    let cases: Vec<(UpstreamError, StatusCode, &str)> = vec![
        (status(401), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (status(403), StatusCode::FORBIDDEN, "forbidden"),
        (status(404), StatusCode::NOT_FOUND, "persona_not_found"),
        (status(429), StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        (status(500), StatusCode::BAD_GATEWAY, "upstream_error"),
        (status(503), StatusCode::BAD_GATEWAY, "upstream_error"),
        (status(400), StatusCode::BAD_GATEWAY, "upstream_rejected"),
        (status(302), StatusCode::BAD_GATEWAY, "upstream_rejected"),
        (
            UpstreamError::Timeout,
            StatusCode::BAD_GATEWAY,
            "upstream_timeout",
        ),
        (
            UpstreamError::Unreachable("connection refused".into()),
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
        ),
        (
            UpstreamError::BadResponse("not JSON".into()),
            StatusCode::BAD_GATEWAY,
            "upstream_bad_response",
        ),
    ];
    let (app, fake) = stateful_app(&[("RATE_LIMIT_PER_MINUTE", "1000")]);
    for (err, want_status, want_code) in cases {
        let label = err.to_string();
        fake.push(Err(err));
        let a = send(&app, token_request(None)).await;
        assert_eq!(a.status, want_status, "{label}");
        assert_eq!(a.error_code(), want_code, "{label}");
        assert_eq!(a.header("cache-control"), Some("no-store"), "{label}");
        assert!(a.header("x-request-id").is_some(), "{label}");
        // Upstream's own words go to the log, not to the page.
        assert!(!a.text().contains("upstream words"), "{label}");
    }
}

#[tokio::test]
async fn upstream_retry_after_is_passed_on() {
    let (app, fake) = stateful_app(&[]);
    fake.push(Err(UpstreamError::Status {
        status: 429,
        retry_after: Some(HeaderValue::from_static("17")),
        reason: None,
    }));
    let a = send(&app, token_request(None)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("retry-after"), Some("17"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_declared_or_streamed() {
    let (app, fake) = stateful_app(&[]);
    let big = format!(r#"{{"personaId": "{}"}}"#, "x".repeat(17 * 1024));
    let declared = send(&app, token_request(Some(&big))).await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.error_code(), "body_too_large");

    // Chunked, without Content-Length: the limit holds while reading.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..40).map(|_| Ok("x".repeat(1024))).collect();
    let streamed = Request::post("/api/session-token")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let a = send(&app, streamed).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.error_code(), "body_too_large");

    // Just under the limit is fine (and then the persona is simply unknown).
    let fits = format!(r#"{{"personaId": "{}"}}"#, "x".repeat(16 * 1024 - 20));
    let a = send(&app, token_request(Some(&fits))).await;
    assert_eq!(a.error_code(), "unknown_persona");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn wrong_content_type_and_bad_json() {
    let (app, fake) = stateful_app(&[]);
    let text = Request::post("/api/session-token")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"personaId": "persona-aria"}"#))
        .unwrap();
    let a = send(&app, text).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.error_code(), "unsupported_media_type");

    // An empty body needs no content type at all.
    let empty_text = Request::post("/api/session-token")
        .header("content-type", "text/plain")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, empty_text).await.status, StatusCode::OK);

    for bad in ["{", "[]", "\"persona-aria\"", "null"] {
        let a = send(&app, token_request(Some(bad))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.error_code(), "invalid_json", "{bad}");
    }
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow_and_json() {
    let (app, fake) = stateful_app(&[]);
    for (method, path, allow) in [
        ("GET", "/api/session-token", "POST"),
        ("PUT", "/api/session-token", "POST"),
        ("DELETE", "/api/session-token", "POST"),
        ("POST", "/api/config", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let a = send(
            &app,
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(a.error_code(), "method_not_allowed");
        assert_eq!(a.header("allow"), Some(allow));
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn unknown_api_paths_are_json_404() {
    let (app, _) = stateful_app(&[]);
    let a = send(&app, Request::get("/api/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_code(), "not_found");
}

#[tokio::test]
async fn public_config_lists_personas_with_names_and_never_the_key() {
    let cfg = config(
        &[
            ("ANAM_API_KEY", "secret-key-xyz"),
            ("ANAM_API_BASE_URL", "http://127.0.0.1:8787/"),
            ("ANAM_PERSONA_ID", "persona-aria,persona-x"),
        ],
        &[],
    );
    let known = vec![PersonaSummary {
        id: "persona-aria".into(),
        name: "Aria".into(),
        extra: Default::default(),
    }];
    let app = anam_backend::app(&cfg, FakeUpstream::default(), &known).unwrap();
    let a = send(
        &app,
        Request::get("/api/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        json!({
            "apiBaseUrl": "http://127.0.0.1:8787",
            "personas": [
                {"id": "persona-aria", "name": "Aria"},
                {"id": "persona-x", "name": "persona-x"}
            ]
        })
    );
    assert!(!a.text().contains("secret-key-xyz"));
}

#[tokio::test]
async fn healthz_answers_without_calling_upstream() {
    let (app, fake) = stateful_app(&[]);
    let a = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"status": "ok"}));
    assert!(fake.calls().is_empty());
}

fn from_origin(method: &str, origin: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("/api/session-token")
        .header("host", "127.0.0.1:8080")
        .header("origin", origin)
        .body(Body::empty())
        .unwrap()
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri("/api/session-token")
        .header("host", "127.0.0.1:8080")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_only_for_allowed_origins() {
    let (app, fake) = stateful_app(&[("ALLOWED_ORIGINS", "http://localhost:5173")]);

    let pre = send(&app, preflight("http://localhost:5173")).await;
    assert!(pre.status.is_success(), "{:?}", pre.status);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(pre
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));

    let ok = send(&app, from_origin("POST", "http://localhost:5173")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(ok
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("retry-after")));

    // A foreign origin gets no CORS grant, and its request does not mint anything.
    let pre = send(&app, preflight("https://evil.example")).await;
    assert_eq!(pre.header("access-control-allow-origin"), None);
    let evil = send(&app, from_origin("POST", "https://evil.example")).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert_eq!(evil.error_code(), "origin_not_allowed");
    assert_eq!(evil.header("access-control-allow-origin"), None);

    // The page's own origin always works.
    let same = send(&app, from_origin("POST", "http://127.0.0.1:8080")).await;
    assert_eq!(same.status, StatusCode::OK);

    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn without_allowed_origins_only_the_same_origin_may_call() {
    let (app, fake) = stateful_app(&[]);
    let pre = send(&app, preflight("http://localhost:5173")).await;
    assert_eq!(pre.status, StatusCode::FORBIDDEN);
    assert_eq!(pre.header("access-control-allow-origin"), None);

    let other = send(&app, from_origin("POST", "http://localhost:5173")).await;
    assert_eq!(other.error_code(), "origin_not_allowed");
    let null = send(&app, from_origin("POST", "null")).await;
    assert_eq!(null.error_code(), "origin_not_allowed");

    let same = send(&app, from_origin("POST", "http://127.0.0.1:8080")).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.header("access-control-allow-origin"), None);
    assert_eq!(fake.calls().len(), 1);
}

fn token_from(ip: &str) -> Request<Body> {
    let mut r = Request::post("/api/session-token")
        .header("origin", "http://localhost:5173")
        .body(Body::empty())
        .unwrap();
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

#[tokio::test]
async fn rate_limit_per_client_with_retry_after() {
    let (app, fake) = stateful_app(&[
        ("RATE_LIMIT_PER_MINUTE", "3"),
        ("ALLOWED_ORIGINS", "http://localhost:5173"),
    ]);
    for i in 0..3 {
        let a = send(&app, token_from("10.0.0.1")).await;
        assert_eq!(a.status, StatusCode::OK, "request {i}");
    }
    let limited = send(&app, token_from("10.0.0.1")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "rate_limited");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "retry-after {wait}");
    // The page can read the 429 cross-origin.
    assert_eq!(
        limited.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );

    // Another client is not affected; the limited one did not reach upstream.
    assert_eq!(
        send(&app, token_from("10.0.0.2")).await.status,
        StatusCode::OK
    );
    assert_eq!(fake.calls().len(), 4);

    // Reading the config is not rate limited.
    for _ in 0..5 {
        let a = send(
            &app,
            Request::get("/api/config").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn request_ids_are_ours_not_the_clients() {
    let (app, _) = stateful_app(&[]);
    let r = Request::get("/healthz")
        .header("x-request-id", "forged")
        .body(Body::empty())
        .unwrap();
    let a = send(&app, r).await;
    let id = a.header("x-request-id").unwrap();
    assert_ne!(id, "forged");
    assert!(!id.is_empty());
}
