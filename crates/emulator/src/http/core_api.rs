//! Core API routes (§2, §3, §5): session tokens, personas, start-session, metrics.
use anam_core::json::{Object, Value};
use anam_core::wire::rest::{
    ClientConfig, PersonaConfig, PersonaSelection, PersonaSummary, SessionTokenRequest,
    SessionTokenResponse, StartSessionRequest, StartSessionResponse,
};
use anam_core::wire::ToJson;
use anam_wire_http::{Wire, WireRejection};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{bearer, same_secret, ApiError};
use crate::clock::unix_now;
use crate::faults::FaultEndpoint;
use crate::personas::{builtin, SessionPersona, BUILTIN};
use crate::state::AppState;
use crate::tokens::{Claims, TokenKind};

/// The `accountId` claim of every token (the emulator has one account).
pub const ACCOUNT_ID: &str = "emulator-account";

fn check_api_key(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        None => Err(ApiError::unauthorized(
            "missing API key: send Authorization: Bearer <API key>",
        )),
        Some(key) if same_secret(key, &state.config.api_key) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("invalid API key")),
    }
}

/// `POST /v1/auth/session-token`.
pub async fn session_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Wire<SessionTokenRequest>, WireRejection>,
) -> Result<Wire<SessionTokenResponse>, ApiError> {
    if let Some(f) = state.faults.take(FaultEndpoint::SessionToken) {
        return Err(ApiError::from_fault(f));
    }
    check_api_key(&state, &headers)?;
    if let Err(retry) = state.rate.check() {
        return Err(ApiError::too_many(
            "Too Many Requests",
            format!("session-token budget of this API key exhausted; retry in {retry} s"),
            retry,
        ));
    }
    let Wire(req) = body?;
    let selection = req
        .persona_config
        .ok_or_else(|| ApiError::bad_request("personaConfig is required"))?;
    let (kind, persona_id, persona_config) = match selection {
        PersonaSelection::Saved { persona_id } => {
            if builtin(&persona_id).is_none() {
                return Err(unknown_persona(&persona_id));
            }
            (TokenKind::Stateful, Some(persona_id), None)
        }
        PersonaSelection::Ephemeral(cfg) => {
            validate_ephemeral(&cfg)?;
            (TokenKind::Ephemeral, cfg.persona_id.clone(), Some(*cfg))
        }
    };
    let now = unix_now();
    let claims = Claims {
        kind,
        account_id: ACCOUNT_ID.to_owned(),
        persona_id,
        persona_config,
        iat: now,
        exp: now.saturating_add(state.config.token_ttl.as_secs()),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    Ok(Wire(SessionTokenResponse {
        session_token: state.signer.mint(&claims),
    }))
}

fn unknown_persona(id: &str) -> ApiError {
    let known: Vec<&str> = BUILTIN.iter().map(|p| p.id).collect();
    ApiError::not_found(format!(
        "persona `{id}` not found (built-in personas: {})",
        known.join(", ")
    ))
}

/// An ephemeral config must say what the persona looks and sounds like, either directly or by
/// naming a built-in persona to start from.
fn validate_ephemeral(cfg: &PersonaConfig) -> Result<(), ApiError> {
    if let Some(notes) = &cfg.director_notes {
        notes
            .validate()
            .map_err(|e| ApiError::bad_request(format!("personaConfig.directorNotes: {e}")))?;
    }
    if let Some(s) = cfg.max_session_length_seconds.as_ref().map(|n| n.as_f64()) {
        if !s.is_finite() || s <= 0.0 {
            return Err(ApiError::bad_request(
                "personaConfig.maxSessionLengthSeconds must be a positive number",
            ));
        }
    }
    let has_look = cfg
        .avatar_id
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
        && cfg
            .voice_id
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
    match cfg.persona_id.as_deref() {
        Some(id) if builtin(id).is_some() => Ok(()),
        Some(id) if !has_look => Err(unknown_persona(id)),
        _ if has_look => Ok(()),
        _ => Err(ApiError::bad_request(
            "an ephemeral personaConfig needs avatarId and voiceId (or the personaId of a built-in persona)",
        )),
    }
}

/// `GET /v1/personas`.
pub async fn personas(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Wire<Object>, ApiError> {
    check_api_key(&state, &headers)?;
    let list: Vec<Value> = BUILTIN
        .iter()
        .map(|p| {
            let extra = Object::new()
                .with("avatarId", p.avatar_id)
                .with("voiceId", p.voice_id)
                .with("description", p.description);
            let summary = PersonaSummary {
                id: p.id.to_owned(),
                name: p.name.to_owned(),
                extra,
            };
            summary.to_json().into()
        })
        .collect();
    let total = list.len();
    // Shaped like Anam's paginated list answers.
    Ok(Wire(Object::new().with("data", list).with(
        "meta",
        Object::new().with("total", u64::try_from(total).unwrap_or(u64::MAX)),
    )))
}

/// `POST /v1/engine/session`.
pub async fn engine_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Wire<StartSessionRequest>, WireRejection>,
) -> Result<Wire<StartSessionResponse>, ApiError> {
    if let Some(f) = state.faults.take(FaultEndpoint::EngineSession) {
        return Err(ApiError::from_fault(f));
    }
    let token = bearer(&headers).ok_or_else(|| {
        ApiError::unauthorized("missing session token: send Authorization: Bearer <session token>")
    })?;
    let now = unix_now();
    let claims = state
        .signer
        .verify(token, now)
        .map_err(|e| ApiError::unauthorized(e.message()))?;
    if state.config.single_use_tokens && state.token_used(&claims.jti) {
        return Err(used_token());
    }
    let req = Wire::optional(body)?;
    // API-key mode sends the full persona config with every start (§3.1); it wins.
    let override_cfg = req.and_then(|r| r.persona_config);
    let persona = match (&override_cfg, claims.kind) {
        (Some(cfg), _) => {
            validate_ephemeral(cfg)?;
            SessionPersona::from_config(cfg)
        }
        (None, TokenKind::Ephemeral) => match &claims.persona_config {
            Some(cfg) => SessionPersona::from_config(cfg),
            None => return Err(ApiError::bad_request("token carries no persona config")),
        },
        (None, TokenKind::Stateful) => {
            let id = claims.persona_id.as_deref().unwrap_or("");
            let p = builtin(id).ok_or_else(|| unknown_persona(id))?;
            SessionPersona::from_builtin(p)
        }
    };
    let max = state.config.max_sessions;
    if state.sessions.live_count() >= max {
        return Err(ApiError::too_many(
            "Concurrent session limit reached",
            format!("at most {max} sessions may run at once"),
            5,
        ));
    }
    // Consumed only now that nothing can fail any more: a failed start leaves the token usable.
    if state.config.single_use_tokens && !state.consume_token(&claims.jti, claims.exp, now) {
        return Err(used_token());
    }
    let session_id = uuid::Uuid::new_v4().to_string();
    crate::session::spawn(state.clone(), session_id.clone(), persona);
    Ok(Wire(StartSessionResponse {
        session_id,
        engine_host: state.engine_host.clone(),
        engine_protocol: "http".to_owned(),
        signalling_endpoint: anam_core::wire::rest::DEFAULT_SIGNALLING_PATH.to_owned(),
        region: Some("local-emulator".to_owned()),
        client_config: ClientConfig {
            heartbeat_interval_seconds: Some(5.0),
            max_ws_reconnection_attempts: Some(5.0),
            ice_servers: Vec::new(),
            ice_transport_policy: None,
            expected_heartbeat_interval_secs: Some(5.0),
        },
    }))
}

fn used_token() -> ApiError {
    ApiError::unauthorized("session token has already been used to start a session")
}

/// `POST /v1/metrics/client`: telemetry is accepted and dropped.
pub async fn metrics(_body: Bytes) -> Response {
    StatusCode::NO_CONTENT.into_response()
}
