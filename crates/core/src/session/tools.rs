//! Tool calls (docs/PROTOCOL.md §9.4): the public events of the server's tool-call messages, the
//! app's handlers for them, and the `tool_result` a client tool sends back.
//!
//! The shell owns the handlers (JS functions); this module decides when each stage runs
//! ([`Output::RunToolHandler`]) and what the outcome of an `onStart` handler means. Every call
//! reports its outcome exactly once: the official client can fire `TOOL_CALL_COMPLETED` twice
//! for a client tool (once for its own handler, once for the server's echo, §11.3); here the first
//! outcome wins and later ones for the same call are dropped.

use serde::Serialize;

use crate::json::{self, Value};

use super::events::Event;
use super::iso8601::{iso_millis, parse_iso_millis};
use super::{Millis, Output, Phase, Session};
use crate::wire::datachannel::{
    ClientDataMessage, ClientToolEvent, ServerDataMessage, ToolCallBase, ToolResult,
};

/// Calls remembered per session; the oldest are forgotten first (the server decides how many
/// calls it makes, so the table must not grow without bound).
const MAX_TRACKED_CALLS: usize = 256;

/// Which handler of a registered tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStage {
    /// `onStart`: the server began the call.
    Start,
    /// `onComplete`: the call produced a result.
    Complete,
    /// `onFail`: the call ended with an error.
    Fail,
}

impl ToolStage {
    /// The handler's property name in `registerToolCallHandler(name, {onStart, …})`.
    pub fn handler_key(self) -> &'static str {
        match self {
            ToolStage::Start => "onStart",
            ToolStage::Complete => "onComplete",
            ToolStage::Fail => "onFail",
        }
    }
}

/// `ToolCallStartedPayload` / `ToolCallCompletedPayload` / `ToolCallFailedPayload` of §10.9, in
/// one shape, serialized with camelCase keys: the outcome fields are present only on the events
/// that carry them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallEvent {
    /// Unique id of the server event.
    pub event_uid: String,
    /// Session the call belongs to.
    pub session_id: String,
    /// Id shared by all events of one call.
    pub tool_call_id: String,
    /// Name the handler is registered under.
    pub tool_name: String,
    /// `client`, `server`, …
    pub tool_type: String,
    /// `webhook`, `rag`, …; absent when the server sent none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_subtype: Option<String>,
    /// Arguments of the call, as a JSON object.
    #[serde(serialize_with = "json::serialize_for_js")]
    pub arguments: Value,
    /// When the event happened, ISO-8601; for locally decided outcomes, the local time.
    pub timestamp: String,
    /// When the triggering user action happened, ISO-8601.
    pub timestamp_user_action: String,
    /// Correlates the call with the user action that triggered it.
    pub user_action_correlation_id: String,
    /// Completed only (any JSON, `null` included).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "json::serialize_some_for_js"
    )]
    pub result: Option<Value>,
    /// Documents a RAG tool read; completed only, absent when the server sent none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents_accessed: Option<Vec<String>>,
    /// Failed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Milliseconds from start to outcome (completed and failed only; 0 when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<u64>,
}

impl ToolCallEvent {
    fn from_base(base: &ToolCallBase) -> ToolCallEvent {
        ToolCallEvent {
            event_uid: base.event_uid.clone(),
            session_id: base.session_id.clone(),
            tool_call_id: base.tool_call_id.clone(),
            tool_name: base.tool_name.clone(),
            tool_type: base.tool_type.clone(),
            tool_subtype: base.tool_subtype.clone(),
            arguments: base.arguments.clone(),
            timestamp: base.timestamp.clone(),
            timestamp_user_action: base.timestamp_user_action.clone(),
            user_action_correlation_id: base.user_action_correlation_id.clone(),
            result: None,
            documents_accessed: None,
            error_message: None,
            execution_time: None,
        }
    }
}

/// `ClientToolEvent` of §10.9 (the legacy client-tool message).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientToolEventPayload {
    /// Unique id of the server event.
    pub event_uid: String,
    /// Session the event belongs to.
    pub session_id: String,
    /// Name of the client tool to run.
    pub event_name: String,
    /// Arguments for the tool, as a JSON object.
    #[serde(serialize_with = "json::serialize_for_js")]
    pub event_data: Value,
    /// When the event happened, ISO-8601.
    pub timestamp: String,
    /// When the triggering user action happened, ISO-8601.
    pub timestamp_user_action: String,
    /// Correlates the event with the user action that triggered it.
    pub user_action_correlation_id: String,
}

impl From<ClientToolEvent> for ClientToolEventPayload {
    fn from(e: ClientToolEvent) -> Self {
        ClientToolEventPayload {
            event_uid: e.event_uid,
            session_id: e.session_id,
            event_name: e.event_name,
            event_data: e.event_data,
            timestamp: e.timestamp,
            timestamp_user_action: e.timestamp_user_action,
            user_action_correlation_id: e.user_action_correlation_id,
        }
    }
}

/// What `onStart` of a registered handler produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// Resolved, with the string to send as a client tool's result (`None`: nothing returned).
    Returned(Option<String>),
    /// Threw or rejected, with the error's message.
    Threw(String),
}

#[derive(Debug)]
struct Call {
    started: ToolCallEvent,
    /// The server's start instant (its `timestamp`), for durations of server-reported outcomes.
    server_start: Option<Millis>,
    /// The local instant the start arrived, for durations of outcomes decided here.
    local_start: Millis,
    finished: bool,
}

/// The tool calls of the live session, oldest first (a few at a time in practice: a plain list
/// is smaller in the wasm than a map and as fast at this size).
#[derive(Debug, Default)]
pub struct ToolCalls {
    calls: Vec<Call>,
}

impl ToolCalls {
    /// Forgets every call (new session or stop).
    pub fn clear(&mut self) {
        self.calls.clear();
    }

    fn get_mut(&mut self, tool_call_id: &str) -> Option<&mut Call> {
        self.calls
            .iter_mut()
            .find(|c| c.started.tool_call_id == tool_call_id)
    }

    fn record(&mut self, started: ToolCallEvent, now: Millis) {
        // A repeated id replaces the earlier call.
        self.calls
            .retain(|c| c.started.tool_call_id != started.tool_call_id);
        if self.calls.len() >= MAX_TRACKED_CALLS {
            self.calls.remove(0);
        }
        self.calls.push(Call {
            server_start: parse_iso_millis(&started.timestamp),
            started,
            local_start: now,
            finished: false,
        });
    }
}

/// Duration between two instants of one clock, never negative.
fn elapsed(start: Option<Millis>, end: Option<Millis>) -> u64 {
    match (start, end) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        _ => 0,
    }
}

impl Session {
    /// Handles the tool-call messages of the data channel of live session `active`; `false` for
    /// any other message.
    pub(super) fn on_tool_message(&mut self, active: &str, msg: &ServerDataMessage) -> bool {
        match msg {
            ServerDataMessage::ToolCallStarted(m) => self.on_tool_started(active, &m.base),
            ServerDataMessage::ToolCallCompleted(m) => {
                let mut event = ToolCallEvent::from_base(&m.base);
                event.result = Some(m.result.clone());
                event.documents_accessed = m.documents_accessed.clone();
                self.on_tool_outcome(active, event, ToolStage::Complete);
            }
            ServerDataMessage::ToolCallFailed(m) => {
                let mut event = ToolCallEvent::from_base(&m.base);
                event.error_message = Some(m.error_message.clone());
                self.on_tool_outcome(active, event, ToolStage::Fail);
            }
            ServerDataMessage::ClientToolEvent(e) => {
                self.emit(Event::ClientToolEventReceived(e.clone().into()));
            }
            _ => return false,
        }
        true
    }

    /// Handlers run only for calls of the live session (§11.1 item 11).
    fn on_tool_started(&mut self, active: &str, base: &ToolCallBase) {
        let event = ToolCallEvent::from_base(base);
        self.emit(Event::ToolCallStarted(event.clone()));
        if base.session_id == active {
            self.tools.record(event.clone(), self.now);
            self.outputs.push_back(Output::RunToolHandler {
                stage: ToolStage::Start,
                event,
            });
        }
    }

    fn on_tool_outcome(&mut self, active: &str, mut event: ToolCallEvent, stage: ToolStage) {
        if event.session_id != active {
            // Another session's call: reported, but no handler runs and no duration is known.
            event.execution_time = Some(0);
            return self.emit_outcome(event, stage);
        }
        match self.tools.get_mut(&event.tool_call_id) {
            // Already reported (by this client's own handler, or a duplicate from the server).
            Some(call) if call.finished => {}
            Some(call) => {
                call.finished = true;
                event.execution_time = Some(elapsed(
                    call.server_start,
                    parse_iso_millis(&event.timestamp),
                ));
                self.report(event, stage);
            }
            // An outcome without a start: reported once, then remembered like any other call.
            None => {
                event.execution_time = Some(0);
                self.tools.record(event.clone(), self.now);
                if let Some(call) = self.tools.get_mut(&event.tool_call_id) {
                    call.finished = true;
                }
                self.report(event, stage);
            }
        }
    }

    /// `onStart` of the call's handler finished: a client tool sends its `tool_result`, and the
    /// call's outcome is reported unless the server already reported one.
    pub(super) fn tool_start_handled(&mut self, tool_call_id: &str, outcome: HandlerOutcome) {
        let now = self.now;
        let session_id = match &self.phase {
            Phase::Live(live) => live.info.session_id.clone(),
            _ => return,
        };
        let Some(call) = self.tools.get_mut(tool_call_id) else {
            return;
        };
        if call.finished {
            return;
        }
        let client_tool = call.started.tool_type == "client";
        let mut event = call.started.clone();
        event.timestamp = iso_millis(now);
        event.execution_time = Some(now.saturating_sub(call.local_start));
        let (result, error) = match &outcome {
            HandlerOutcome::Returned(r) => (r.clone(), None),
            HandlerOutcome::Threw(e) => (None, Some(format!("Error in handler: {e}"))),
        };
        match outcome {
            // A server tool's outcome comes from the server; its handler only observed it.
            HandlerOutcome::Returned(_) if !client_tool => return,
            HandlerOutcome::Returned(r) => {
                event.result = Some(r.map_or(Value::Null, Value::String))
            }
            HandlerOutcome::Threw(e) => {
                event.error_message = Some(format!("Error in onStart handler: {e}"))
            }
        }
        call.finished = true;
        if client_tool {
            let reply = ClientDataMessage::ToolResult(ToolResult {
                session_id,
                tool_call_id: tool_call_id.to_owned(),
                user_action_correlation_id: event.user_action_correlation_id.clone(),
                timestamp_user_action: event.timestamp_user_action.clone(),
                result,
                error,
            });
            self.send_data(reply.encode());
        }
        let stage = if event.error_message.is_some() {
            ToolStage::Fail
        } else {
            ToolStage::Complete
        };
        self.report(event, stage);
    }

    /// Fires the outcome event, then runs the matching handler.
    fn report(&mut self, event: ToolCallEvent, stage: ToolStage) {
        self.emit_outcome(event.clone(), stage);
        self.outputs
            .push_back(Output::RunToolHandler { stage, event });
    }

    fn emit_outcome(&mut self, event: ToolCallEvent, stage: ToolStage) {
        self.emit(match stage {
            ToolStage::Fail => Event::ToolCallFailed(event),
            _ => Event::ToolCallCompleted(event),
        });
    }
}
