//! anam-backend: the app's token server. It holds the Anam API key and hands the page
//! short-lived session tokens (stateful for saved personas, ephemeral for a runtime persona
//! config), so the key never reaches a browser.
//!
//! Two ways to use it:
//!
//! - [`app`]: the whole HTTP service the `anam-backend` binary runs (API, demo static files,
//!   request ids, access log).
//! - [`router`]: only the API, as an [`axum::Router`] an existing axum app mounts next to its
//!   own routes, behind its own layers. Its routes are `POST /api/session-token`,
//!   `GET /api/config`, `GET /healthz` and `GET /metrics`.
//!
//! With [`router`], the host app's auth layer may put an [`auth::Identity`] in the request's
//! extensions: the token route then counts the request against that user (limits, budgets,
//! the mint log line) and skips its own `AUTH_*` check. Without one, `AUTH_*` applies if set,
//! else the request is anonymous and counted by client address.
//!
//! ```no_run
//! use anam_backend::{auth::Identity, config::Config, upstream::HttpUpstream};
//! use axum::{extract::Request, middleware::{self, Next}, response::Response, Router};
//!
//! async fn my_login(mut request: Request, next: Next) -> Response {
//!     // ... the app's own session check ...
//!     request.extensions_mut().insert(Identity { sub: "user-42".into() });
//!     next.run(request).await
//! }
//!
//! # async fn run() -> Result<(), String> {
//! let config = Config::from_process_env().map_err(|e| e.to_string())?;
//! let upstream = HttpUpstream::new(&config.api_base_url, config.api_key.clone(),
//!     anam_backend::upstream::DEFAULT_TIMEOUT)?;
//! let app: Router = Router::new()
//!     .merge(anam_backend::router(&config, upstream)?)
//!     .layer(middleware::from_fn(my_login));
//! # let _ = app; Ok(()) }
//! ```

pub mod access_log;
pub mod auth;
pub mod config;
pub mod errors;
pub mod limits;
pub mod metrics;
pub mod origin;
pub mod routes;
pub mod security_headers;
pub mod static_files;
pub mod upstream;

use std::sync::Arc;

use anam_core::wire::rest::PersonaSummary;
use axum::routing::{any, get, post};
use axum::{middleware, Router};

use crate::config::Config;
use crate::origin::AllowedOrigins;
use crate::routes::AppState;
use crate::upstream::Upstream;

/// The API routes alone (see the crate documentation). Fails only when a part cannot be set
/// up (an HTTP client for the JWKS, the Redis client): the message says which.
pub fn router<U: Upstream>(config: &Config, upstream: U) -> Result<Router, String> {
    router_with_personas(config, upstream, &[])
}

/// [`router`], with upstream's persona listing (for display names in `/api/config`).
pub fn router_with_personas<U: Upstream>(
    config: &Config,
    upstream: U,
    known_personas: &[PersonaSummary],
) -> Result<Router, String> {
    Ok(with_cors(config, api(config, upstream, known_personas)?))
}

fn with_cors(config: &Config, router: Router) -> Router {
    let allowed = AllowedOrigins(config.allowed_origins.clone());
    let cookie = config.auth.as_ref().is_some_and(|a| a.cookie.is_some());
    match origin::cors_layer(&allowed, cookie) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

fn api<U: Upstream>(
    config: &Config,
    upstream: U,
    known_personas: &[PersonaSummary],
) -> Result<Router, String> {
    let state = Arc::new(AppState::new(config, upstream, known_personas)?);
    let allowed = AllowedOrigins(config.allowed_origins.clone());

    let token_route = post(routes::session_token::<U>).fallback(routes::only_post);
    let api = Router::new()
        .route("/api/session-token", token_route)
        .route(
            "/api/config",
            get(routes::public_config::<U>).fallback(routes::only_get),
        )
        .route("/api/{*rest}", any(routes::api_not_found))
        .layer(middleware::from_fn_with_state(
            Arc::new(allowed.clone()),
            origin::guard,
        ));

    Ok(Router::new()
        .route(
            "/healthz",
            get(routes::healthz::<U>).fallback(routes::only_get),
        )
        .route(
            "/metrics",
            get(routes::metrics::<U>).fallback(routes::only_get),
        )
        .merge(api)
        .with_state(state))
}

/// The complete service the binary runs: [`router_with_personas`], the demo's static files,
/// `nosniff`, request ids and the access log. `known_personas` is upstream's persona listing
/// if it could be had; pass `&[]` otherwise.
pub fn app<U: Upstream>(
    config: &Config,
    upstream: U,
    known_personas: &[PersonaSummary],
) -> Result<Router, String> {
    let router = api(config, upstream, known_personas)?;
    let router = static_files::mount(router, &config.www_dir, &config.pkg_dir);
    let policy = security_headers::policy_from_env(&config.api_base_url);
    let router = security_headers::apply(with_cors(config, router), policy.as_deref());
    Ok(access_log::layer(router))
}
