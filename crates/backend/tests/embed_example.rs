//! `examples/embed.rs` (included here, so the example that ships is the code under test): the
//! API mounted in a host app behind the app's own login, its user driving the limits.

mod common;

#[path = "../examples/embed.rs"]
mod embed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{config, send, FakeUpstream};

fn mint(cookie: Option<&str>, from: &str) -> Request<Body> {
    let mut b = Request::post("/api/session-token").header("host", "app.test");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    let mut r = b.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{from}:1234").parse().unwrap();
    r.extensions_mut().insert(ConnectInfo(addr));
    r
}

#[tokio::test]
async fn the_host_apps_login_guards_minting_and_its_user_owns_the_budget() {
    let cfg = config(
        &[
            ("ANAM_API_KEY", "k"),
            ("ANAM_PERSONA_ID", "persona-aria"),
            ("TOKENS_PER_USER_PER_HOUR", "1"),
        ],
        &[],
    );
    let sessions = embed::Sessions(Arc::new(HashMap::from([
        ("s-ann".to_owned(), "ann".to_owned()),
        ("s-bo".to_owned(), "bo".to_owned()),
    ])));
    let fake = FakeUpstream::default();
    let app = embed::app(&cfg, fake.clone(), sessions).unwrap();

    // The host's own route and anam-backend's read-only routes work without a login.
    let home = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(home.text(), "the app's own page");
    let cfg_page = send(
        &app,
        Request::get("/api/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(cfg_page.status, StatusCode::OK);

    // Anonymous and unknown sessions are refused by the host before anything is minted.
    assert_eq!(
        send(&app, mint(None, "192.0.2.1")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, mint(Some("sid=forged"), "192.0.2.1"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(fake.calls().is_empty());

    // Ann mints once; her second token, from another address, is over her budget; Bo, from
    // Ann's address, has his own.
    assert_eq!(
        send(&app, mint(Some("sid=s-ann"), "192.0.2.1"))
            .await
            .status,
        StatusCode::OK
    );
    let again = send(&app, mint(Some("theme=x; sid=s-ann"), "198.51.100.9")).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.error_code(), "token_budget_exhausted");
    assert_eq!(
        send(&app, mint(Some("sid=s-bo"), "192.0.2.1")).await.status,
        StatusCode::OK
    );
    assert_eq!(fake.calls().len(), 2);

    // The metrics page counts what happened.
    let metrics = send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    let text = metrics.text();
    assert!(
        text.contains(
            r#"anam_backend_tokens_minted_total{kind="stateful",persona="persona-aria"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"anam_backend_token_refusals_total{reason="token_budget_exhausted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("anam_backend_upstream_seconds_bucket"),
        "{text}"
    );
}
