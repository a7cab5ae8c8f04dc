//! The core API, engine REST routes and control API, driven in-process through the router (no
//! sockets): tokens, errors and their JSON bodies, CORS, faults, rate limits, personas.
use std::time::Duration;

use anam_emulator::config::Config;
use anam_emulator::http::router;
use anam_emulator::AppState;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "test-key";

fn app_with(f: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config {
        api_key: KEY.to_owned(),
        control: true,
        ..Config::default()
    };
    f(&mut config);
    router(AppState::new(config, "127.0.0.1:9".to_owned()))
}

fn app() -> Router {
    app_with(|_| {})
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header("authorization", format!("Bearer {a}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("non-JSON body {bytes:?}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn raw(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn mint(app: &Router, persona: Value) -> Reply {
    call(
        app,
        Method::POST,
        "/v1/auth/session-token",
        Some(KEY),
        Some(json!({ "personaConfig": persona })),
    )
    .await
}

async fn token(app: &Router, persona: Value) -> String {
    let r = mint(app, persona).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["sessionToken"].as_str().unwrap().to_owned()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = anam_core::base64::decode_url_strict(payload).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn start(app: &Router, token: &str) -> Reply {
    call(
        app,
        Method::POST,
        "/v1/engine/session",
        Some(token),
        Some(json!({"clientMetadata": {"client": "js-sdk", "version": "4.27.0"}})),
    )
    .await
}

fn assert_json_error(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert!(r.body["error"].is_string(), "no error string: {:?}", r.body);
    assert!(
        r.body["message"].is_string(),
        "no message string: {:?}",
        r.body
    );
}

#[tokio::test]
async fn stateful_and_ephemeral_tokens_carry_the_documented_claims() {
    let app = app();
    let t = token(&app, json!({"personaId": "persona-milo"})).await;
    let c = claims(&t);
    assert_eq!(c["type"], "stateful");
    assert_eq!(c["personaId"], "persona-milo");
    assert!(c["accountId"].is_string());
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        3600
    );
    // The older `id` spelling is accepted too.
    let t_old = token(&app, json!({"id": "persona-aria"})).await;
    assert_eq!(claims(&t_old)["type"], "stateful");

    let e = token(
        &app,
        json!({"name": "Cara", "avatarId": "av-1", "voiceId": "vo-1", "llmId": "l", "systemPrompt": "Be brief."}),
    )
    .await;
    let ec = claims(&e);
    assert_eq!(ec["type"], "ephemeral");
    assert_eq!(ec["personaConfig"]["name"], "Cara");
    assert_ne!(ec["jti"], c["jti"]);
    assert_ne!(claims(&t_old)["jti"], c["jti"]);
}

#[tokio::test]
async fn token_minting_errors() {
    let app = app();
    let persona = json!({"personaConfig": {"personaId": "persona-aria"}});
    let r = call(
        &app,
        Method::POST,
        "/v1/auth/session-token",
        None,
        Some(persona.clone()),
    )
    .await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    let r = call(
        &app,
        Method::POST,
        "/v1/auth/session-token",
        Some("wrong"),
        Some(persona),
    )
    .await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    let r = mint(&app, json!({"personaId": "persona-nobody"})).await;
    assert_json_error(&r, StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::POST,
        "/v1/auth/session-token",
        Some(KEY),
        Some(json!({"x": 1})),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST);
    let r = mint(&app, json!({"name": "no look"})).await;
    assert_json_error(&r, StatusCode::BAD_REQUEST);
    let r = mint(
        &app,
        json!({"name": "n", "avatarId": "a", "voiceId": "v", "directorNotes": {"expressivity": 3}}),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST);
    let bad = Request::post("/v1/auth/session-token")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let r = raw(&app, bad).await;
    assert_json_error(&r, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "Bad Request");
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("invalid JSON body: "), "{message}");
}

#[tokio::test]
async fn a_key_over_its_budget_gets_429_with_retry_after() {
    let app = app_with(|c| c.tokens_per_minute = 3);
    for _ in 0..3 {
        token(&app, json!({"personaId": "persona-aria"})).await;
    }
    let r = mint(&app, json!({"personaId": "persona-aria"})).await;
    assert_json_error(&r, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
}

#[tokio::test]
async fn start_session_answers_per_section_3_2() {
    let app = app();
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    let r = start(&app, &t).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["sessionId"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(r.body["engineHost"], "127.0.0.1:9");
    assert_eq!(r.body["engineProtocol"], "http");
    assert_eq!(r.body["signallingEndpoint"], "/ws");
    assert!(r.body["clientConfig"]["iceServers"].is_array());
    assert!(
        r.body["clientConfig"]["heartbeatIntervalSeconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // Reuse is allowed by default (the official client retries with the same token).
    let again = start(&app, &t).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_ne!(again.body["sessionId"], r.body["sessionId"]);
    let list = call(&app, Method::GET, "/_emulator/sessions", None, None).await;
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["personaId"], "persona-aria");
    assert_eq!(sessions[0]["wsConnections"], 0);
}

#[tokio::test]
async fn start_session_refuses_bad_tokens_and_says_why() {
    let app = app();
    let r = start(&app, "").await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    let r = call(&app, Method::POST, "/v1/engine/session", None, None).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    assert!(r.body["message"].as_str().unwrap().contains("missing"));
    let r = start(&app, "not.a.jwt").await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    assert!(r.body["message"].as_str().unwrap().contains("malformed"));

    // A token signed by another emulator (another secret) is a forgery here.
    let other = app_with(|_| {});
    let foreign = token(&other, json!({"personaId": "persona-aria"})).await;
    let r = start(&app, &foreign).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    assert!(r.body["message"].as_str().unwrap().contains("signature"));

    // Editing the payload breaks the signature.
    let good = token(&app, json!({"personaId": "persona-aria"})).await;
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut c = claims(&good);
    c["exp"] = json!(c["exp"].as_u64().unwrap() + 100_000);
    parts[1] = anam_core::base64::encode_url(c.to_string().as_bytes());
    let r = start(&app, &parts.join(".")).await;
    assert!(r.body["message"].as_str().unwrap().contains("signature"));
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = app_with(|c| c.token_ttl = Duration::from_secs(0));
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    let r = start(&app, &t).await;
    assert_json_error(&r, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["message"].as_str().unwrap().contains("expired"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn single_use_tokens_start_one_session_and_failed_starts_do_not_count() {
    let app = app_with(|c| c.single_use_tokens = true);
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    // A start that fails (injected 503) does not consume the token.
    let f = call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(json!({"endpoint": "engine-session", "status": 503})),
    )
    .await;
    assert_eq!(f.status, StatusCode::OK);
    assert_json_error(&start(&app, &t).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(start(&app, &t).await.status, StatusCode::OK);
    let replay = start(&app, &t).await;
    assert_json_error(&replay, StatusCode::UNAUTHORIZED);
    assert!(replay.body["message"]
        .as_str()
        .unwrap()
        .contains("already been used"));
}

#[tokio::test]
async fn faults_fire_count_times_with_the_chosen_body() {
    let app = app();
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    let arm = |endpoint: &str, status: u16, count: u32, error: &str| json!({"endpoint": endpoint, "status": status, "count": count, "error": error, "message": "injected"});
    let r = call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(arm("engine-session", 429, 2, "Spend cap reached")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for _ in 0..2 {
        let r = start(&app, &t).await;
        assert_json_error(&r, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.body["error"], "Spend cap reached");
        assert_eq!(r.body["message"], "injected");
        assert!(r.headers.contains_key("retry-after"));
    }
    assert_eq!(start(&app, &t).await.status, StatusCode::OK);

    call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(arm("session-token", 402, 1, "No plan")),
    )
    .await;
    assert_json_error(
        &mint(&app, json!({"personaId": "persona-aria"})).await,
        StatusCode::PAYMENT_REQUIRED,
    );
    assert_eq!(
        mint(&app, json!({"personaId": "persona-aria"}))
            .await
            .status,
        StatusCode::OK
    );

    call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(arm("talk", 500, 1, "Boom")),
    )
    .await;
    let r = call(
        &app,
        Method::POST,
        "/talk?session_id=whatever",
        None,
        Some(json!({"content": "hi"})),
    )
    .await;
    assert_json_error(&r, StatusCode::INTERNAL_SERVER_ERROR);

    let bad = call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(json!({"endpoint": "talk", "status": 200})),
    )
    .await;
    assert_json_error(&bad, StatusCode::BAD_REQUEST);
    let bad = call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(json!({"endpoint": "nope", "status": 500})),
    )
    .await;
    assert_json_error(&bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn talk_needs_a_live_session() {
    let app = app();
    let r = call(
        &app,
        Method::POST,
        "/talk?session_id=unknown",
        None,
        Some(json!({"content": "hi"})),
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND);
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    let id = start(&app, &t).await.body["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("/talk?session_id={id}"),
        None,
        Some(json!({"content": "hello"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &app,
        Method::POST,
        &format!("/talk?session_id={id}"),
        None,
        Some(json!({"nope": 1})),
    )
    .await;
    assert_json_error(&r, StatusCode::BAD_REQUEST);
    // The text reached the session (the session task records it asynchronously).
    let mut seen = false;
    for _ in 0..100 {
        let list = call(&app, Method::GET, "/_emulator/sessions", None, None).await;
        if list.body["sessions"][0]["talkTexts"][0] == "hello" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen);
    // Ending it makes /talk a 404.
    let r = call(
        &app,
        Method::POST,
        &format!("/_emulator/sessions/{id}/end"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut gone = false;
    for _ in 0..100 {
        let r = call(
            &app,
            Method::POST,
            &format!("/talk?session_id={id}"),
            None,
            Some(json!({"content": "x"})),
        )
        .await;
        if r.status == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone);
    let list = call(&app, Method::GET, "/_emulator/sessions", None, None).await;
    assert_eq!(list.body["sessions"][0]["state"], "ended");
    let r = call(
        &app,
        Method::POST,
        "/_emulator/sessions/unknown/drop-signalling",
        None,
        None,
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cors_on_every_route_and_preflights_answer_204() {
    let app = app();
    for path in [
        "/v1/auth/session-token",
        "/v1/engine/session",
        "/v1/metrics/client",
        "/talk?session_id=x",
    ] {
        let req = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header("origin", "http://page.test")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap();
        let r = raw(&app, req).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(r.headers["access-control-allow-origin"], "http://page.test");
        let allowed = r.headers["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert!(r.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }
    // Errors carry CORS headers too, or the page could not read them.
    let req = Request::post("/v1/engine/session")
        .header("origin", "http://page.test")
        .body(Body::empty())
        .unwrap();
    let r = raw(&app, req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["access-control-allow-origin"], "http://page.test");
}

#[tokio::test]
async fn metrics_personas_and_unknown_routes() {
    let app = app();
    let r = call(
        &app,
        Method::POST,
        "/v1/metrics/client",
        None,
        Some(json!({"metrics": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&app, Method::GET, "/v1/personas", Some(KEY), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.body["data"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["persona-aria", "persona-milo"]);
    assert_eq!(list[0]["name"], "Aria");
    assert_ne!(list[0]["avatarId"], list[1]["avatarId"]);
    assert_ne!(list[0]["voiceId"], list[1]["voiceId"]);
    assert_json_error(
        &call(&app, Method::GET, "/v1/personas", None, None).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_json_error(
        &call(&app, Method::GET, "/v1/nothing", None, None).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn sessions_beyond_the_limit_get_the_concurrent_limit_error() {
    let app = app_with(|c| c.max_sessions = 1);
    let t = token(&app, json!({"personaId": "persona-aria"})).await;
    assert_eq!(start(&app, &t).await.status, StatusCode::OK);
    let r = start(&app, &t).await;
    assert_json_error(&r, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"], "Concurrent session limit reached");
}

#[tokio::test]
async fn control_api_is_off_without_the_flag() {
    let app = app_with(|c| c.control = false);
    let r = call(&app, Method::GET, "/_emulator/sessions", None, None).await;
    assert_json_error(&r, StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::POST,
        "/_emulator/faults",
        None,
        Some(json!({"endpoint": "talk", "status": 500})),
    )
    .await;
    assert_json_error(&r, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn max_session_length_comes_from_ephemeral_configs() {
    let app = app();
    let t = token(
        &app,
        json!({"personaId": "persona-aria", "maxSessionLengthSeconds": 0.2}),
    )
    .await;
    let id = start(&app, &t).await.body["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ended = false;
    for _ in 0..200 {
        let list = call(&app, Method::GET, "/_emulator/sessions", None, None).await;
        let s = list.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .cloned();
        if s.is_some_and(|s| s["state"] == "ended") {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ended);
}
