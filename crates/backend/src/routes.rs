//! The API: `POST /api/session-token`, `GET /api/config`, `GET /healthz`.

use std::sync::Arc;

use anam_core::wire::rest::{PersonaSelection, PersonaSummary, SessionTokenResponse};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, PersonaSource};
use crate::errors::ApiError;
use crate::limits::read_json_object;
use crate::upstream::Upstream;

/// What the handlers share: the upstream and the public facts about the personas.
pub struct AppState<U> {
    upstream: U,
    source: PersonaSource,
    public: PublicConfig,
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
    pub fn new(config: &Config, upstream: U, known: &[PersonaSummary]) -> Self {
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
        Self {
            upstream,
            source: config.personas.clone(),
            public: PublicConfig {
                api_base_url: config.api_base_url.clone(),
                personas,
            },
        }
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
pub async fn session_token<U: Upstream>(
    State(state): State<Arc<AppState<U>>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_json_object(&parts.headers, body).await?;
    let requested = match body.as_ref().and_then(|b| b.get("personaId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(_) => return Err(ApiError::invalid_json("personaId is not a string")),
    };
    let persona = state.select(requested)?;
    let token = state
        .upstream
        .session_token(&persona)
        .await
        .map_err(|e| ApiError::from_upstream(&e))?;
    let mut response = Json(SessionTokenResponse {
        session_token: token,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
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
/// does not take every instance out when Anam has a hiccup.
pub async fn healthz() -> Response {
    let mut response = (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response();
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
