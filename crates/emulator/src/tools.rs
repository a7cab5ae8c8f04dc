//! Tool calls in flight for one session (§9.2, §9.4).
//!
//! A client tool is announced with the legacy `clientToolEvent` and `toolCallStarted`, then
//! waits (at most [`CLIENT_TOOL_TIMEOUT`]) for the client's `tool_result`. A server tool is
//! announced with `toolCallStarted` and settles by itself [`SERVER_TOOL_DELAY`] later, the
//! "webhook" round trip. Either way the end is a `toolCallCompleted` or `toolCallFailed` that
//! the session sends, and an outcome the persona then talks about.
//!
//! Sans-IO: the caller passes `now` and polls at [`ToolDesk::next_due`].
use anam_core::wire::datachannel::{
    ClientToolEvent, ServerDataMessage, ToolCallBase, ToolCallCompleted, ToolCallFailed,
    ToolCallStarted, ToolResult,
};
use serde_json::Value;
use tokio::time::{Duration, Instant};

use crate::clock::iso_now;

/// How long a client tool may take before the call fails.
pub const CLIENT_TOOL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the "server" takes to run a server tool.
pub const SERVER_TOOL_DELAY: Duration = Duration::from_millis(300);
/// Tool calls in flight per session; more are refused.
pub const MAX_CALLS_IN_FLIGHT: usize = 16;
/// The error of a client tool that never answered.
pub const TIMEOUT_ERROR: &str = "client tool timed out";

/// The user action a tool call answers (its correlation id and time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAction {
    pub correlation_id: String,
    /// ISO-8601 with `Z`.
    pub timestamp: String,
}

impl UserAction {
    /// A new user action, now.
    pub fn now() -> Self {
        UserAction {
            correlation_id: uuid::Uuid::new_v4().to_string(),
            timestamp: iso_now(),
        }
    }
}

/// A tool call that has ended: the message to send and the outcome for the persona.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub message: ServerDataMessage,
    pub tool_name: String,
    pub arguments: Value,
    /// `Ok(result)` or `Err(error message)`.
    pub outcome: Result<Value, String>,
}

#[derive(Debug)]
struct Call {
    base: ToolCallBase,
    due: Instant,
    /// `None`: a client tool waiting for its result (`due` is its timeout). `Some`: a server
    /// tool that settles at `due`.
    settles_with: Option<Result<Value, String>>,
}

#[derive(Debug)]
pub struct ToolDesk {
    session_id: String,
    calls: Vec<Call>,
}

impl ToolDesk {
    pub fn new(session_id: &str) -> Self {
        ToolDesk {
            session_id: session_id.to_owned(),
            calls: Vec::new(),
        }
    }

    /// Starts a client tool: returns `clientToolEvent` and `toolCallStarted`, or an error when
    /// too many calls are in flight.
    pub fn start_client(
        &mut self,
        name: &str,
        arguments: Value,
        action: &UserAction,
        now: Instant,
    ) -> Result<Vec<ServerDataMessage>, String> {
        self.check_room()?;
        let base = self.base(name, "client", None, arguments, action);
        let legacy = ServerDataMessage::ClientToolEvent(ClientToolEvent {
            event_uid: new_id(),
            session_id: base.session_id.clone(),
            event_name: base.tool_name.clone(),
            event_data: base.arguments.clone(),
            timestamp: base.timestamp.clone(),
            timestamp_user_action: base.timestamp_user_action.clone(),
            user_action_correlation_id: base.user_action_correlation_id.clone(),
            used_outside_engine: true,
        });
        let started = ServerDataMessage::ToolCallStarted(ToolCallStarted { base: base.clone() });
        self.calls.push(Call {
            base,
            due: now + CLIENT_TOOL_TIMEOUT,
            settles_with: None,
        });
        Ok(vec![legacy, started])
    }

    /// Starts a server tool whose outcome is already decided: returns `toolCallStarted`; the
    /// end comes from [`ToolDesk::poll`] after [`SERVER_TOOL_DELAY`].
    pub fn start_server(
        &mut self,
        name: &str,
        subtype: &str,
        arguments: Value,
        outcome: Result<Value, String>,
        action: &UserAction,
        now: Instant,
    ) -> Result<ServerDataMessage, String> {
        self.check_room()?;
        let base = self.base(name, "server", Some(subtype), arguments, action);
        let started = ServerDataMessage::ToolCallStarted(ToolCallStarted { base: base.clone() });
        self.calls.push(Call {
            base,
            due: now + SERVER_TOOL_DELAY,
            settles_with: Some(outcome),
        });
        Ok(started)
    }

    /// A `tool_result` from the client. `None` when no client tool with that id is waiting
    /// (unknown, already timed out, or a server tool's id).
    pub fn on_result(&mut self, result: &ToolResult) -> Option<Finished> {
        let pos = self
            .calls
            .iter()
            .position(|c| c.settles_with.is_none() && c.base.tool_call_id == result.tool_call_id)?;
        let call = self.calls.remove(pos);
        // An error wins over a result: the official client sends one or the other.
        let outcome = match (&result.error, &result.result) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(r)) => Ok(Value::String(r.clone())),
            (None, None) => Ok(Value::String(String::new())),
        };
        Some(finish(call.base, outcome))
    }

    /// When [`ToolDesk::poll`] next has something to do.
    pub fn next_due(&self) -> Option<Instant> {
        self.calls.iter().map(|c| c.due).min()
    }

    /// Settles the server tools and times out the client tools that are due.
    pub fn poll(&mut self, now: Instant) -> Vec<Finished> {
        let (due, waiting): (Vec<Call>, Vec<Call>) =
            self.calls.drain(..).partition(|c| c.due <= now);
        self.calls = waiting;
        due.into_iter()
            .map(|call| {
                let outcome = call
                    .settles_with
                    .unwrap_or_else(|| Err(TIMEOUT_ERROR.to_owned()));
                finish(call.base, outcome)
            })
            .collect()
    }

    pub fn in_flight(&self) -> usize {
        self.calls.len()
    }

    fn check_room(&self) -> Result<(), String> {
        if self.calls.len() >= MAX_CALLS_IN_FLIGHT {
            return Err("too many tool calls in flight".to_owned());
        }
        Ok(())
    }

    fn base(
        &self,
        name: &str,
        tool_type: &str,
        subtype: Option<&str>,
        arguments: Value,
        action: &UserAction,
    ) -> ToolCallBase {
        ToolCallBase {
            event_uid: new_id(),
            session_id: self.session_id.clone(),
            tool_call_id: new_id(),
            tool_name: name.to_owned(),
            tool_type: tool_type.to_owned(),
            tool_subtype: subtype.map(str::to_owned),
            arguments: arguments.into(),
            timestamp: iso_now(),
            timestamp_user_action: action.timestamp.clone(),
            user_action_correlation_id: action.correlation_id.clone(),
            used_outside_engine: tool_type == "client",
        }
    }
}

/// The closing message of a call: same ids as its start, a fresh event uid and timestamp.
fn finish(started: ToolCallBase, outcome: Result<Value, String>) -> Finished {
    let tool_name = started.tool_name.clone();
    let arguments = Value::from(started.arguments.clone());
    let base = ToolCallBase {
        event_uid: new_id(),
        timestamp: iso_now(),
        ..started
    };
    let message = match &outcome {
        Ok(result) => ServerDataMessage::ToolCallCompleted(ToolCallCompleted {
            base,
            result: result.clone().into(),
            documents_accessed: None,
        }),
        Err(e) => ServerDataMessage::ToolCallFailed(ToolCallFailed {
            base,
            error_message: e.clone(),
        }),
    };
    Finished {
        message,
        tool_name,
        arguments,
        outcome,
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action() -> UserAction {
        UserAction {
            correlation_id: "c-1".to_owned(),
            timestamp: "2026-07-23T10:00:00.000Z".to_owned(),
        }
    }

    fn started_base(messages: &[ServerDataMessage]) -> ToolCallBase {
        messages
            .iter()
            .find_map(|m| match m {
                ServerDataMessage::ToolCallStarted(s) => Some(s.base.clone()),
                _ => None,
            })
            .expect("a toolCallStarted")
    }

    fn result(id: &str, result: Option<&str>, error: Option<&str>) -> ToolResult {
        ToolResult {
            session_id: "s".to_owned(),
            tool_call_id: id.to_owned(),
            user_action_correlation_id: "c-1".to_owned(),
            timestamp_user_action: String::new(),
            result: result.map(str::to_owned),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_client_tool_is_announced_twice_and_completed_by_its_result() {
        let mut desk = ToolDesk::new("sess-1");
        let now = Instant::now();
        let msgs = desk
            .start_client("open_page", json!({"url": "/pricing"}), &action(), now)
            .unwrap();
        assert_eq!(msgs.len(), 2);
        let ServerDataMessage::ClientToolEvent(legacy) = &msgs[0] else {
            panic!("first is the legacy event: {:?}", msgs[0]);
        };
        let base = started_base(&msgs);
        assert_eq!(legacy.event_name, "open_page");
        assert_eq!(
            legacy.event_data,
            anam_core::json::Value::from(json!({"url": "/pricing"}))
        );
        assert_eq!(legacy.session_id, "sess-1");
        assert!(legacy.used_outside_engine);
        assert_eq!(base.tool_type, "client");
        assert_eq!(base.tool_subtype, None);
        assert_eq!(base.session_id, "sess-1");
        assert_eq!(base.user_action_correlation_id, "c-1");
        assert_eq!(base.timestamp_user_action, "2026-07-23T10:00:00.000Z");
        assert!(base.used_outside_engine);
        assert!(base.timestamp.ends_with('Z'));
        assert_eq!(desk.next_due(), Some(now + CLIENT_TOOL_TIMEOUT));
        // Nothing settles a client tool before its timeout but its result.
        assert!(desk.poll(now + Duration::from_secs(9)).is_empty());
        assert!(desk.on_result(&result("other", Some("x"), None)).is_none());

        let done = desk
            .on_result(&result(&base.tool_call_id, Some("Pricing: 9 EUR"), None))
            .unwrap();
        assert_eq!(done.outcome, Ok(json!("Pricing: 9 EUR")));
        let ServerDataMessage::ToolCallCompleted(c) = done.message else {
            panic!("not completed");
        };
        assert_eq!(
            c.result,
            anam_core::json::Value::from(json!("Pricing: 9 EUR"))
        );
        assert_eq!(c.base.tool_call_id, base.tool_call_id);
        assert_ne!(c.base.event_uid, base.event_uid);
        assert_eq!(desk.in_flight(), 0);
        // A second result for the same call is not a second completion.
        assert!(desk
            .on_result(&result(&base.tool_call_id, Some("again"), None))
            .is_none());
    }

    #[test]
    fn a_client_error_fails_the_call() {
        let mut desk = ToolDesk::new("s");
        let msgs = desk
            .start_client("open_page", json!({}), &action(), Instant::now())
            .unwrap();
        let id = started_base(&msgs).tool_call_id;
        let done = desk
            .on_result(&result(&id, None, Some("Error in handler: nope")))
            .unwrap();
        let ServerDataMessage::ToolCallFailed(f) = done.message else {
            panic!("not failed");
        };
        assert_eq!(f.error_message, "Error in handler: nope");
        assert_eq!(done.outcome, Err("Error in handler: nope".to_owned()));
    }

    #[test]
    fn a_silent_client_times_out() {
        let mut desk = ToolDesk::new("s");
        let now = Instant::now();
        let msgs = desk
            .start_client("open_page", json!({}), &action(), now)
            .unwrap();
        let id = started_base(&msgs).tool_call_id;
        let done = desk.poll(now + CLIENT_TOOL_TIMEOUT);
        assert_eq!(done.len(), 1);
        let ServerDataMessage::ToolCallFailed(f) = &done[0].message else {
            panic!("not failed");
        };
        assert_eq!(f.error_message, "client tool timed out");
        assert_eq!(f.base.tool_call_id, id);
        // Too late now.
        assert!(desk.on_result(&result(&id, Some("late"), None)).is_none());
        assert_eq!(desk.next_due(), None);
    }

    #[test]
    fn a_server_tool_settles_after_its_delay() {
        let mut desk = ToolDesk::new("s");
        let now = Instant::now();
        let ok = json!({"city": "Paris", "forecast": "sunny", "temperatureC": 21});
        let started = desk
            .start_server(
                "get_weather",
                "webhook",
                json!({"city": "Paris"}),
                Ok(ok.clone()),
                &action(),
                now,
            )
            .unwrap();
        let ServerDataMessage::ToolCallStarted(s) = &started else {
            panic!("not started");
        };
        assert_eq!(s.base.tool_type, "server");
        assert_eq!(s.base.tool_subtype.as_deref(), Some("webhook"));
        assert!(!s.base.used_outside_engine);
        desk.start_server(
            "get_weather",
            "webhook",
            json!({"city": "Atlantis"}),
            Err("Unknown city: Atlantis".to_owned()),
            &action(),
            now + Duration::from_millis(50),
        )
        .unwrap();
        // A client's result cannot settle a server tool.
        assert!(desk
            .on_result(&result(&s.base.tool_call_id, Some("x"), None))
            .is_none());
        assert!(desk.poll(now + Duration::from_millis(299)).is_empty());
        let first = desk.poll(now + SERVER_TOOL_DELAY);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].outcome, Ok(ok));
        assert!(matches!(
            first[0].message,
            ServerDataMessage::ToolCallCompleted(_)
        ));
        let second = desk.poll(now + Duration::from_secs(1));
        let ServerDataMessage::ToolCallFailed(f) = &second[0].message else {
            panic!("not failed");
        };
        assert_eq!(f.error_message, "Unknown city: Atlantis");
    }

    #[test]
    fn calls_in_flight_are_bounded() {
        let mut desk = ToolDesk::new("s");
        let now = Instant::now();
        for _ in 0..MAX_CALLS_IN_FLIGHT {
            desk.start_client("t", json!({}), &action(), now).unwrap();
        }
        assert!(desk.start_client("t", json!({}), &action(), now).is_err());
        assert!(desk
            .start_server("t", "webhook", json!({}), Ok(json!(1)), &action(), now)
            .is_err());
    }
}
