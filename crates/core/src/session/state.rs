//! The client's observable state (`getState()` / `subscribe()`, an extension beyond the official
//! API): a small snapshot derived from what the session machine already does, so that UI code
//! can render from one value instead of reassembling it from a dozen events.
//!
//! The tracker is fed the same things the browser shell sees: the app's accepted start, then
//! every [`Output`] in the order the machine produced it. It never feeds anything back into the
//! machine, so the public events and the official API stay exactly as they were.

use crate::errors::ConnectionClosedCode;

use serde::Serialize;

use super::events::Event;
use super::{Output, Session, StartFailure};

/// The connection phase, as the snapshot's `phase` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionPhase {
    /// No session was started on this client yet.
    Idle,
    /// A `stream…()` call is getting a token and asking the Core API for a session.
    Starting,
    /// The Core API accepted the session; signalling and WebRTC are being set up.
    Connecting,
    /// The media connection is up (`CONNECTION_ESTABLISHED`).
    Connected,
    /// A lost session is being brought back (`RECONNECTING`, until `RECONNECTED`).
    Reconnecting,
    /// The last session ended or could not start; `last_error` says why, unless the app
    /// stopped it.
    Closed,
}

impl ConnectionPhase {
    /// The lowercase name used in the snapshot's `phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionPhase::Idle => "idle",
            ConnectionPhase::Starting => "starting",
            ConnectionPhase::Connecting => "connecting",
            ConnectionPhase::Connected => "connected",
            ConnectionPhase::Reconnecting => "reconnecting",
            ConnectionPhase::Closed => "closed",
        }
    }

    /// Whether a session is under way (anything between a start and its end).
    fn is_active(self) -> bool {
        matches!(
            self,
            ConnectionPhase::Starting
                | ConnectionPhase::Connecting
                | ConnectionPhase::Connected
                | ConnectionPhase::Reconnecting
        )
    }
}

/// Why the last session failed: `code` is an `ErrorCode` value when it could not start, a
/// `ConnectionClosedCode` value when a running session ended abnormally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// An `ErrorCode` or `ConnectionClosedCode` string.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// One snapshot of the client's state, serialized with camelCase keys (`None` as `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientState {
    /// Where the connection stands.
    pub phase: ConnectionPhase,
    /// The live session's id (`getActiveSessionId()`), `None` outside a live session.
    pub session_id: Option<String>,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// An `AudioPermissionState` value.
    pub permission_state: &'static str,
    /// Cleared when a new session starts.
    pub last_error: Option<LastError>,
}

/// Derives [`ClientState`] from the session machine; every method returns whether the state
/// changed, so the shell knows when to hand out a new snapshot and call its subscribers.
#[derive(Debug, Clone)]
pub struct StateTracker {
    state: ClientState,
}

impl StateTracker {
    /// A tracker in phase idle, with `session`'s session id and audio state.
    pub fn new(session: &Session) -> StateTracker {
        let audio = session.input_audio_state();
        StateTracker {
            state: ClientState {
                phase: ConnectionPhase::Idle,
                session_id: session.session_id().map(str::to_owned),
                muted: audio.is_muted,
                permission_state: audio.permission_state.as_str(),
                last_error: None,
            },
        }
    }

    /// The current snapshot.
    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// The app's `stream…()` call was accepted by the machine.
    pub fn on_start(&mut self) -> bool {
        self.update(|s| {
            s.phase = ConnectionPhase::Starting;
            s.last_error = None;
        })
    }

    /// One output of the machine, seen before the shell executes it (so that event listeners
    /// already read the new state).
    pub fn on_output(&mut self, output: &Output) -> bool {
        match output {
            Output::SessionStarted { .. } => self.update(|s| {
                // A session started while resuming stays "reconnecting" until RECONNECTED.
                if s.phase == ConnectionPhase::Starting {
                    s.phase = ConnectionPhase::Connecting;
                }
            }),
            Output::StartFailed(failure) => {
                let error = match failure {
                    StartFailure::Stopped => None,
                    other => {
                        let (code, _, message) = other.describe();
                        Some(LastError {
                            code: code.as_str().to_owned(),
                            message,
                        })
                    }
                };
                self.update(|s| {
                    s.phase = ConnectionPhase::Closed;
                    // A start that failed because the connection closed already recorded the
                    // close code, which says more than the generic start error.
                    if s.last_error.is_none() {
                        s.last_error = error;
                    }
                })
            }
            // Teardown without an event (a start abandoned by stopStreaming()) still ends the
            // session, except while resuming: the old session goes, the conversation does not.
            Output::Teardown => self.update(|s| {
                if s.phase.is_active() && s.phase != ConnectionPhase::Reconnecting {
                    s.phase = ConnectionPhase::Closed;
                }
            }),
            Output::Emit(event) => self.on_event(event),
            _ => false,
        }
    }

    fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::ConnectionEstablished => self.update(|s| {
                if s.phase.is_active() {
                    s.phase = ConnectionPhase::Connected;
                }
            }),
            Event::ConnectionClosed { code, details } => {
                let error = (*code != ConnectionClosedCode::Normal.as_str()).then(|| LastError {
                    code: (*code).to_owned(),
                    message: details.clone().unwrap_or_else(|| (*code).to_owned()),
                });
                self.update(|s| {
                    s.phase = ConnectionPhase::Closed;
                    s.last_error = error;
                })
            }
            other => match resume_phase(other.name()) {
                Some(phase) => self.update(|s| s.phase = phase),
                None => false,
            },
        }
    }

    /// Copies what the machine reports directly (session id, mute, permission); call after
    /// each batch of outputs and after commands that may produce none (muting while idle).
    pub fn sync(&mut self, session: &Session) -> bool {
        let audio = session.input_audio_state();
        let session_id = session.session_id();
        self.update(|s| {
            if s.session_id.as_deref() != session_id {
                s.session_id = session_id.map(str::to_owned);
            }
            s.muted = audio.is_muted;
            s.permission_state = audio.permission_state.as_str();
        })
    }

    fn update(&mut self, change: impl FnOnce(&mut ClientState)) -> bool {
        let before = self.state.clone();
        change(&mut self.state);
        self.state != before
    }
}

/// The phase a resume event moves to. Matched by name: the resume events are added to `Event`
/// separately, and must map here without this module naming their variants.
fn resume_phase(event_name: &str) -> Option<ConnectionPhase> {
    match event_name {
        "RECONNECTING" => Some(ConnectionPhase::Reconnecting),
        "RECONNECTED" => Some(ConnectionPhase::Connected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{ApiFailure, ErrorCode};
    use crate::session::{SessionConfig, TokenSource};

    fn tracker() -> (StateTracker, Session) {
        let session = Session::new(SessionConfig::new(TokenSource::Provider), 7);
        (StateTracker::new(&session), session)
    }

    fn closed(code: ConnectionClosedCode, details: Option<&str>) -> Output {
        Output::Emit(Event::ConnectionClosed {
            code: code.as_str(),
            details: details.map(str::to_owned),
        })
    }

    #[test]
    fn a_fresh_client_is_idle_and_unmuted() {
        let (t, _) = tracker();
        let s = t.state();
        assert_eq!(s.phase, ConnectionPhase::Idle);
        assert_eq!(s.session_id, None);
        assert!(!s.muted);
        assert_eq!(s.permission_state, "not_requested");
        assert_eq!(s.last_error, None);
    }

    #[test]
    fn a_session_goes_starting_connecting_connected_closed() {
        let (mut t, _) = tracker();
        assert!(t.on_start());
        assert_eq!(t.state().phase, ConnectionPhase::Starting);
        // Outputs that say nothing about the phase change nothing.
        assert!(!t.on_output(&Output::FetchToken));
        assert!(!t.on_output(&Output::RequestMic));
        assert!(t.on_output(&Output::SessionStarted {
            session_id: "s1".to_owned()
        }));
        assert_eq!(t.state().phase, ConnectionPhase::Connecting);
        assert!(!t.on_output(&Output::Emit(Event::DataChannelOpen)));
        assert!(t.on_output(&Output::Emit(Event::ConnectionEstablished)));
        assert_eq!(t.state().phase, ConnectionPhase::Connected);
        // stopStreaming(): CONNECTION_CLOSED(NORMAL) then the teardown.
        assert!(t.on_output(&closed(ConnectionClosedCode::Normal, None)));
        assert!(!t.on_output(&Output::Teardown));
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
        assert_eq!(t.state().last_error, None, "a normal close is no error");
        assert_eq!(t.state().phase.as_str(), "closed");
    }

    #[test]
    fn an_abnormal_close_records_its_code_until_the_next_start() {
        let (mut t, _) = tracker();
        t.on_start();
        t.on_output(&Output::Emit(Event::ConnectionEstablished));
        t.on_output(&closed(
            ConnectionClosedCode::ServerClosedConnection,
            Some("the session reached its time limit"),
        ));
        assert_eq!(
            t.state().last_error,
            Some(LastError {
                code: "CONNECTION_CLOSED_CODE_SERVER_CLOSED_CONNECTION".to_owned(),
                message: "the session reached its time limit".to_owned(),
            })
        );
        assert!(t.on_start());
        assert_eq!(t.state().phase, ConnectionPhase::Starting);
        assert_eq!(t.state().last_error, None);
    }

    #[test]
    fn a_close_without_details_uses_the_code_as_message() {
        let (mut t, _) = tracker();
        t.on_start();
        t.on_output(&closed(ConnectionClosedCode::WebrtcFailure, None));
        let e = t.state().last_error.clone().map(|e| (e.code, e.message));
        let code = "CONNECTION_CLOSED_CODE_WEBRTC_FAILURE".to_owned();
        assert_eq!(e, Some((code.clone(), code)));
    }

    #[test]
    fn a_refused_start_is_closed_with_the_client_error_code() {
        let (mut t, _) = tracker();
        t.on_start();
        let failure = StartFailure::Api(ApiFailure {
            code: ErrorCode::MaxConcurrentSessionsReached,
            status: 429,
            message: "too many sessions".to_owned(),
            cause: None,
            retryable: false,
        });
        assert!(t.on_output(&Output::StartFailed(failure)));
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
        let e = t.state().last_error.clone();
        assert_eq!(
            e.map(|e| e.code),
            Some("CLIENT_ERROR_CODE_MAX_CONCURRENT_SESSIONS_REACHED".to_owned())
        );
    }

    #[test]
    fn a_close_before_the_start_resolved_keeps_the_close_code() {
        let (mut t, _) = tracker();
        t.on_start();
        t.on_output(&Output::SessionStarted {
            session_id: "s".to_owned(),
        });
        t.on_output(&closed(
            ConnectionClosedCode::MicrophonePermissionDenied,
            Some("NotAllowedError"),
        ));
        t.on_output(&Output::StartFailed(StartFailure::Closed {
            code: ConnectionClosedCode::MicrophonePermissionDenied,
            details: Some("NotAllowedError".to_owned()),
        }));
        let code = t.state().last_error.clone().map(|e| e.code);
        assert_eq!(
            code.as_deref(),
            Some("CONNECTION_CLOSED_CODE_MICROPHONE_PERMISSION_DENIED")
        );
    }

    #[test]
    fn stopping_a_start_is_closed_without_an_error() {
        let (mut t, _) = tracker();
        t.on_start();
        assert!(t.on_output(&Output::StartFailed(StartFailure::Stopped)));
        t.on_output(&Output::Teardown);
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
        assert_eq!(t.state().last_error, None);
    }

    #[test]
    fn a_teardown_alone_ends_an_active_phase_but_not_idle() {
        let (mut t, _) = tracker();
        assert!(!t.on_output(&Output::Teardown));
        assert_eq!(t.state().phase, ConnectionPhase::Idle);
        t.on_start();
        assert!(t.on_output(&Output::Teardown));
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
    }

    #[test]
    fn late_connection_events_do_not_revive_a_closed_session() {
        let (mut t, _) = tracker();
        t.on_start();
        t.on_output(&closed(ConnectionClosedCode::Normal, None));
        assert!(!t.on_output(&Output::Emit(Event::ConnectionEstablished)));
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
    }

    #[test]
    fn resume_events_map_to_reconnecting_and_back_to_connected() {
        assert_eq!(
            resume_phase("RECONNECTING"),
            Some(ConnectionPhase::Reconnecting)
        );
        assert_eq!(
            resume_phase("RECONNECTED"),
            Some(ConnectionPhase::Connected)
        );
        assert_eq!(resume_phase("SESSION_READY"), None);
        // While resuming, the new session's start and the old one's teardown keep the phase.
        let (mut t, _) = tracker();
        t.on_start();
        t.on_output(&Output::Emit(Event::ConnectionEstablished));
        t.state.phase = ConnectionPhase::Reconnecting;
        assert!(!t.on_output(&Output::Teardown));
        assert!(!t.on_output(&Output::SessionStarted {
            session_id: "s2".to_owned()
        }));
        assert_eq!(t.state().phase, ConnectionPhase::Reconnecting);
        // Giving up ends it like any close.
        t.on_output(&closed(
            ConnectionClosedCode::SignallingClientConnectionFailure,
            None,
        ));
        assert_eq!(t.state().phase, ConnectionPhase::Closed);
    }

    #[test]
    fn every_phase_has_its_documented_name() {
        let names: Vec<&str> = [
            ConnectionPhase::Idle,
            ConnectionPhase::Starting,
            ConnectionPhase::Connecting,
            ConnectionPhase::Connected,
            ConnectionPhase::Reconnecting,
            ConnectionPhase::Closed,
        ]
        .iter()
        .map(|p| p.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "idle",
                "starting",
                "connecting",
                "connected",
                "reconnecting",
                "closed"
            ]
        );
    }

    #[test]
    fn sync_copies_mute_and_permission_and_reports_changes_once() {
        let (mut t, mut session) = tracker();
        assert!(!t.sync(&session));
        session.set_muted(true);
        assert!(t.sync(&session));
        assert!(t.state().muted);
        assert!(!t.sync(&session), "no change, no notification");
        assert_eq!(
            session.start(0, false, false),
            super::super::StartOutcome::Started
        );
        // Starting asks for the microphone at once (fast start): the permission is pending.
        assert!(t.sync(&session));
        assert_eq!(t.state().permission_state, "pending");
        assert_eq!(t.state().session_id, None, "no live session yet");
    }
}
