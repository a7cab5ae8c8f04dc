//! Engine routes: `POST /talk` (§4) and the signalling WebSocket (§7).
use std::collections::HashMap;

use anam_core::wire::rest::TalkRequest;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use anam_wire_http::{Wire, WireRejection};

use super::{send_to_session, ApiError};
use crate::faults::FaultEndpoint;
use crate::registry::SessionCmd;
use crate::state::AppState;

/// `POST /talk?session_id=…`: the persona says `content`. No auth: the session id is the
/// credential (§4).
pub async fn talk(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Result<Wire<TalkRequest>, WireRejection>,
) -> Result<Json<Value>, ApiError> {
    if let Some(f) = state.faults.take(FaultEndpoint::Talk) {
        return Err(ApiError::from_fault(f));
    }
    let id = q
        .get("session_id")
        .ok_or_else(|| ApiError::bad_request("session_id query parameter is required"))?;
    let Wire(req) = body?;
    send_to_session(
        &state,
        id,
        SessionCmd::Talk {
            content: req.content,
        },
    )
    .await?;
    Ok(Json(json!({ "ok": true })))
}

/// `GET /ws?session_id=…`: the signalling socket.
pub async fn websocket(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let session = q.get("session_id").and_then(|id| state.sessions.get(id));
    ws.max_message_size(crate::signalling::MAX_FRAME_BYTES)
        .max_frame_size(crate::signalling::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| crate::signalling::serve(socket, session))
}
