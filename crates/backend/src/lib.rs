//! anam-backend: the app's token server. It holds the Anam API key and hands the page
//! short-lived session tokens (stateful for saved personas, ephemeral for a runtime persona
//! config), so the key never reaches a browser.
//!
//! [`app`] builds the whole HTTP service from a [`config::Config`] and any [`upstream::Upstream`];
//! `main.rs` only adds the environment, the real upstream and the socket.

pub mod config;
pub mod errors;
pub mod limits;
pub mod origin;
pub mod request_log;
pub mod routes;
pub mod security_headers;
pub mod static_files;
pub mod upstream;

use std::sync::Arc;

use anam_core::wire::rest::PersonaSummary;
use axum::http::{header, HeaderValue};
use axum::routing::{any, get, post};
use axum::{middleware, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::limits::RateLimiter;
use crate::origin::AllowedOrigins;
use crate::routes::AppState;
use crate::upstream::Upstream;

/// The complete service. `known_personas` is upstream's persona listing if it could be had
/// (for display names); pass `&[]` otherwise.
pub fn app<U: Upstream>(config: &Config, upstream: U, known_personas: &[PersonaSummary]) -> Router {
    let state = Arc::new(AppState::new(config, upstream, known_personas));
    let limiter = Arc::new(RateLimiter::new(config.rate_limit_per_minute));
    let allowed = AllowedOrigins(config.allowed_origins.clone());

    // Only minting costs anything upstream, so only minting is rate limited.
    let token_route = post(routes::session_token::<U>)
        .fallback(routes::only_post)
        .route_layer(middleware::from_fn_with_state(limiter, limits::rate_limit));

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
        ))
        .with_state(state);

    let mut router = Router::new()
        .route("/healthz", get(routes::healthz).fallback(routes::only_get))
        .merge(api);
    router = static_files::mount(router, &config.www_dir, &config.pkg_dir);
    let policy = security_headers::policy_from_env(&config.api_base_url);
    router = security_headers::apply(router, policy.as_deref());
    if let Some(cors) = origin::cors_layer(&allowed) {
        router = router.layer(cors);
    }
    router
        // Browsers must not guess a different type than the one served (a .js served as
        // text/plain must not run).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn(request_log::track))
}
