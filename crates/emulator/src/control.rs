//! The test control API under `/_emulator/` (only with `--control`).
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use anam_core::wire::datachannel::{PersonaConfigUpdateApplied, ServerDataMessage};

use crate::faults::FaultRequest;
use crate::http::{parse_json, send_to_session, ApiError};
use crate::registry::SessionCmd;
use crate::state::AppState;

/// Largest message the data-message routes send: every data channel takes 16 KiB messages
/// (str0m refuses more than the peer's advertised maximum, and a refused message would stay
/// queued ahead of everything after it).
pub const MAX_DATA_MESSAGE_BYTES: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/faults", post(arm_fault).delete(clear_faults))
        .route("/sessions", get(sessions))
        .route("/sessions/{id}/drop-signalling", post(drop_signalling))
        .route("/sessions/{id}/end", post(end_session))
        .route("/sessions/{id}/stop-media", post(stop_media))
        .route(
            "/sessions/{id}/persona-config-update",
            post(persona_config_update),
        )
        .route("/sessions/{id}/data-message", post(data_message))
}

async fn arm_fault(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: FaultRequest =
        parse_json(&body)?.ok_or_else(|| ApiError::bad_request("a JSON body is required"))?;
    let fault = state.faults.arm(req).map_err(ApiError::bad_request)?;
    Ok(Json(json!({
        "status": fault.status,
        "error": fault.error,
        "message": fault.message,
        "count": fault.remaining,
    })))
}

async fn clear_faults(State(state): State<AppState>) -> Json<Value> {
    state.faults.clear();
    Json(json!({ "ok": true }))
}

async fn sessions(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "sessions": state.sessions.snapshots() }))
}

async fn send(state: &AppState, id: &str, cmd: SessionCmd) -> Result<Json<Value>, ApiError> {
    send_to_session(state, id, cmd).await?;
    Ok(Json(json!({ "ok": true, "sessionId": id })))
}

async fn drop_signalling(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    send(&state, &id, SessionCmd::DropSignalling).await
}

/// Stops the session's media path for good (no ICE answers, no media, no data channel) while
/// its signalling stays up: the fault behind a client's ICE restarts and `WEBRTC_FAILURE`.
async fn stop_media(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    send(&state, &id, SessionCmd::StopMedia).await
}

#[derive(Deserialize, Default)]
struct EndRequest {
    #[serde(default)]
    reason: Option<String>,
}

async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: EndRequest = parse_json(&body)?.unwrap_or_default();
    let reason = req
        .reason
        .unwrap_or_else(|| "The session was ended by the emulator".to_owned());
    send(&state, &id, SessionCmd::End { reason }).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonaConfigUpdate {
    changed_fields: anam_core::json::Object,
}

/// Reports a persona configuration change to the client (`personaConfigUpdateApplied`), the
/// way the real engine does after a change made elsewhere (the SDK cannot request one).
async fn persona_config_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: PersonaConfigUpdate = parse_json(&body)?.ok_or_else(|| {
        ApiError::bad_request("a JSON body {\"changedFields\": {...}} is required")
    })?;
    let message = ServerDataMessage::PersonaConfigUpdateApplied(PersonaConfigUpdateApplied {
        session_id: Some(id.clone()),
        changed_fields: req.changed_fields,
    });
    send_data(&state, &id, message.encode()).await
}

/// Sends the body, any JSON, verbatim as one data-channel message: lets tests feed a client
/// messages the toy model never produces (unknown types, missing fields, odd values).
async fn data_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if parse_json::<Value>(&body)?.is_none() {
        return Err(ApiError::bad_request("a JSON body is required"));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    send_data(&state, &id, text).await
}

async fn send_data(state: &AppState, id: &str, text: String) -> Result<Json<Value>, ApiError> {
    if text.len() > MAX_DATA_MESSAGE_BYTES {
        return Err(ApiError::bad_request(format!(
            "a data-channel message may be at most {MAX_DATA_MESSAGE_BYTES} bytes"
        )));
    }
    send(state, id, SessionCmd::SendData { text }).await
}
