//! Mounting anam-backend's API in an existing axum app, behind the app's own login.
//!
//! The app already knows its users (here: a session cookie looked up in the app's session
//! store). Its middleware puts an `anam_backend::auth::Identity` on each signed-in request;
//! the token route then keys its limits and its mint log line by that user, and this app
//! refuses anonymous token requests before they reach it.
//!
//! Run it against the emulator (`make emulator` in another terminal):
//!
//! ```sh
//! ANAM_API_KEY=... ANAM_PERSONA_ID=... ANAM_API_BASE_URL=http://127.0.0.1:8787 \
//!   cargo run -p anam-backend --example embed
//! curl -X POST -b sid=demo-session http://127.0.0.1:8080/api/session-token
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anam_backend::auth::Identity;
use anam_backend::config::Config;
use anam_backend::upstream::{HttpUpstream, Upstream, DEFAULT_TIMEOUT};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The app's sessions: cookie value -> user id. A real app has a database or its auth library.
#[derive(Clone, Default)]
pub struct Sessions(pub Arc<HashMap<String, String>>);

/// The host app: its own page plus anam-backend's API under its login.
pub fn app<U: Upstream>(
    config: &Config,
    upstream: U,
    sessions: Sessions,
) -> Result<Router, String> {
    let anam = anam_backend::router(config, upstream)?
        .route_layer(middleware::from_fn_with_state(sessions, login));
    Ok(Router::new()
        .route("/", get(|| async { "the app's own page" }))
        .merge(anam))
}

/// The app's login check: signed-in requests carry the user; an anonymous token request is
/// refused here, before any token is minted.
async fn login(State(sessions): State<Sessions>, mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "sid")
        .and_then(|(_, sid)| sessions.0.get(sid).cloned());
    match user {
        Some(sub) => {
            request.extensions_mut().insert(Identity { sub });
            next.run(request).await
        }
        None if request.method() == Method::POST => {
            (StatusCode::UNAUTHORIZED, "sign in first").into_response()
        }
        // Reading the persona list and the health check need no login.
        None => next.run(request).await,
    }
}

#[allow(dead_code)] // the tests include this file for `app` and never call `main`
#[tokio::main]
async fn main() -> Result<(), String> {
    let config = Config::from_process_env().map_err(|e| e.to_string())?;
    let upstream = HttpUpstream::new(
        &config.api_base_url,
        config.api_key.clone(),
        DEFAULT_TIMEOUT,
    )?;
    let sessions = Sessions(Arc::new(HashMap::from([(
        "demo-session".to_owned(),
        "demo-user".to_owned(),
    )])));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| e.to_string())?;
    println!("embed example on http://{}", config.listen);
    axum::serve(
        listener,
        app(&config, upstream, sessions)?.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| e.to_string())
}
