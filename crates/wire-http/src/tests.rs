use axum::body::Body;
use axum::routing::post;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use anam_core::wire::rest::TalkRequest;

/// Echoes a talk body back through the responder; an empty body answers `{}`.
async fn echo(body: Result<Wire<TalkRequest>, WireRejection>) -> Result<Response, WireRejection> {
    Ok(match Wire::optional(body)? {
        Some(talk) => Wire(talk).into_response(),
        None => Wire(json::Object::new()).into_response(),
    })
}

async fn strict(Wire(talk): Wire<TalkRequest>) -> Wire<TalkRequest> {
    Wire(talk)
}

async fn call(route: &str, body: &'static str) -> (StatusCode, String, String) {
    let app = Router::new()
        .route("/echo", post(echo))
        .route("/strict", post(strict))
        .layer(axum::extract::DefaultBodyLimit::max(64));
    let response = app
        .oneshot(
            Request::post(route)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn a_wire_body_decodes_and_encodes_through_the_hand_codec() {
    let (status, content_type, body) =
        call("/strict", r#" {"zz": [1], "content": "h\u00e9 \"x\"\n"} "#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"content":"hé \"x\"\n"}"#);
}

#[tokio::test]
async fn bad_bodies_are_400_with_a_json_error() {
    for (body, message) in [
        ("", "a JSON body is required"),
        ("  \n", "a JSON body is required"),
        ("{", "invalid JSON body: "),
        ("[1]", "invalid JSON body: "),
        ("{}", "invalid JSON body: missing field `content`"),
        (
            r#"{"content": 5}"#,
            "invalid JSON body: field `content` must be a string",
        ),
    ] {
        let (status, content_type, text) = call("/strict", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(content_type, "application/json", "{body:?}");
        let value = json::parse(&text).unwrap();
        assert_eq!(
            value.get("error").and_then(json::Value::as_str),
            Some("Bad Request")
        );
        let got = value.get("message").and_then(json::Value::as_str).unwrap();
        assert!(got.starts_with(message), "{body:?}: {got}");
    }
}

#[tokio::test]
async fn an_optional_body_may_be_empty_but_not_bad() {
    assert_eq!(call("/echo", "").await.2, "{}");
    assert_eq!(
        call("/echo", r#"{"content":"a"}"#).await.2,
        r#"{"content":"a"}"#
    );
    assert_eq!(call("/echo", "nope").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_oversized_body_is_answered_as_axum_answers_it() {
    let body: &'static str =
        "{\"content\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
    let (status, _, _) = call("/strict", body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
