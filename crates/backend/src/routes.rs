//! The API: `POST /api/session-token`, `GET /api/config`, `GET /healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anam_core::wire::rest::{PersonaSelection, PersonaSummary, SessionTokenResponse};
use anam_wire_http::Wire;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth::{Authenticator, Identity};
use crate::config::{Config, PersonaSource};
use crate::errors::ApiError;
use crate::limits::{self, read_json_object, Limits, LimitsHealth};
use crate::metrics::Metrics;
use crate::upstream::Upstream;

/// What the handlers share: the upstream, the public facts about the personas, and who may
/// mint how much.
pub struct AppState<U> {
    upstream: U,
    source: PersonaSource,
    public: PublicConfig,
    auth: Option<Authenticator>,
    pub(crate) limits: Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    pub(crate) metrics: Metrics,
}

/// The body of `GET /api/config`: what the demo page needs and nothing secret.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublicConfig {
    pub api_base_url: String,
    pub personas: Vec<PersonaEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PersonaEntry {
    pub id: String,
    pub name: String,
}

impl<U: Upstream> AppState<U> {
    /// `known` is upstream's persona listing, when it could be had: it gives saved personas
    /// their display names. Without it a persona's name is its id.
    pub fn new(config: &Config, upstream: U, known: &[PersonaSummary]) -> Result<Self, String> {
        let personas = match &config.personas {
            PersonaSource::Saved { ids } => ids
                .iter()
                .map(|id| PersonaEntry {
                    id: id.clone(),
                    name: known
                        .iter()
                        .find(|p| &p.id == id)
                        .map(|p| p.name.clone())
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| id.clone()),
                })
                .collect(),
            PersonaSource::Ephemeral { id, name, .. } => vec![PersonaEntry {
                id: id.clone(),
                name: name.clone(),
            }],
        };
        let auth = config.auth.as_ref().map(Authenticator::new).transpose()?;
        Ok(Self {
            upstream,
            source: config.personas.clone(),
            public: PublicConfig {
                api_base_url: config.api_base_url.clone(),
                personas,
            },
            auth,
            limits: Limits::new(config)?,
            trusted_proxies: config.trusted_proxies.clone(),
            metrics: Metrics::new()?,
        })
    }

    /// The verifier, when `AUTH_*` is configured (tests read its JWKS fetch count).
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.auth.as_ref()
    }

    /// The persona to mint a token for: the default, or the page's pick from the list.
    fn select(&self, requested: Option<&str>) -> Result<PersonaSelection, ApiError> {
        match &self.source {
            PersonaSource::Saved { ids } => {
                let id = match requested {
                    None => ids.first(),
                    Some(wanted) => ids.iter().find(|id| *id == wanted),
                };
                id.map(|id| PersonaSelection::Saved {
                    persona_id: id.clone(),
                })
                .ok_or_else(ApiError::unknown_persona)
            }
            PersonaSource::Ephemeral { id, selection, .. } => match requested {
                Some(wanted) if wanted != id => Err(ApiError::unknown_persona()),
                _ => Ok(selection.clone()),
            },
        }
    }
}

/// `POST /api/session-token`: a fresh token for every call, never cached by anyone.
///
/// Order: who is asking (401), their limits (429/503), what they ask for (4xx), then upstream.
/// A user is the `Identity` an embedding app's own auth layer put on the request, else the
/// verified JWT when `AUTH_*` is set, else nobody (counted by client address).
pub async fn session_token<U: Upstream>(
    State(state): State<Arc<AppState<U>>>,
    request: Request,
) -> Result<Response, ApiError> {
    let result = mint(&state, request).await;
    if let Err(e) = &result {
        state.metrics.refused(e.kind.code);
    }
    result
}

async fn mint<U: Upstream>(state: &AppState<U>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let identity = match (parts.extensions.get::<Identity>(), &state.auth) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(auth)) => Some(auth.authenticate(&parts.headers).await?),
        (None, None) => None,
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let client = limits::client_address(peer, &parts.headers, &state.trusted_proxies);
    let key = limits::limit_key(identity.as_ref(), client);
    let reservation = match state.limits.acquire(&key).await {
        Ok(r) => r,
        Err(e) => {
            if e.kind.code == "limits_unavailable" {
                state.metrics.limiter_error();
            }
            return Err(e);
        }
    };
    let outcome = async {
        let body = read_json_object(&parts.headers, body).await?;
        let requested = match body.as_ref().and_then(|b| b.get("personaId")) {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.as_str()),
            Some(_) => return Err(ApiError::invalid_json("personaId is not a string")),
        };
        let persona = state.select(requested)?;
        let started = Instant::now();
        let answer = state.upstream.session_token(&persona).await;
        state.metrics.upstream(started.elapsed(), &answer);
        let token = answer.map_err(|e| ApiError::from_upstream(&e))?;
        Ok((persona, token))
    }
    .await;
    let (persona, token) = match outcome {
        Ok(minted) => minted,
        Err(e) => {
            if let Some(r) = reservation {
                state.limits.release(r).await;
            }
            return Err(e);
        }
    };
    if let Some(r) = &reservation {
        state.limits.settle(r, token_lifetime(&token)).await;
    }
    let kind = if persona.is_saved() {
        "stateful"
    } else {
        "ephemeral"
    };
    let persona_id = persona.persona_id().unwrap_or(EPHEMERAL_LABEL).to_owned();
    state.metrics.minted(&persona_id, kind);
    // Who got a token for what; never the token.
    tracing::info!(
        sub = identity.as_ref().map_or("-", |i| i.sub.as_str()),
        client = %client,
        persona = %persona_id,
        kind,
        "session token minted"
    );
    let mut response = Wire(SessionTokenResponse {
        session_token: token,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const EPHEMERAL_LABEL: &str = "ephemeral";

/// How long a minted token stays usable: its own `exp` when it is a JWT (read, not verified:
/// it only sizes the active-token budget), else [`limits::DEFAULT_TOKEN_LIFETIME`].
fn token_lifetime(token: &str) -> Duration {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: u64,
    }
    let now = jsonwebtoken::get_current_timestamp();
    match jsonwebtoken::dangerous::insecure_decode::<Exp>(token) {
        Ok(data) => Duration::from_secs(data.claims.exp.saturating_sub(now)),
        Err(_) => limits::DEFAULT_TOKEN_LIFETIME,
    }
}

/// `GET /api/config`.
pub async fn public_config<U: Upstream>(State(state): State<Arc<AppState<U>>>) -> Response {
    let mut response = Json(state.public.clone()).into_response();
    // Fixed for the life of the process, but a restart may change it: revalidate.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /healthz`: the process serves requests. It does not call upstream, so a load balancer
/// does not take every instance out when Anam has a hiccup. With Redis limits it says
/// `degraded` (still 200: every replica shares that Redis, so taking them all out of rotation
/// would only stop the page from loading too) while Redis is unreachable.
pub async fn healthz<U: Upstream>(State(state): State<Arc<AppState<U>>>) -> Response {
    let body = match state.limits.health().await {
        LimitsHealth::Ok => serde_json::json!({"status": "ok"}),
        LimitsHealth::Degraded => {
            serde_json::json!({"status": "degraded", "limits": "unavailable"})
        }
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Any other path under `/api/`.
pub async fn api_not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn only_post() -> ApiError {
    ApiError::method_not_allowed("POST")
}

pub async fn only_get() -> ApiError {
    ApiError::method_not_allowed("GET, HEAD")
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics<U: Upstream>(State(state): State<Arc<AppState<U>>>) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
