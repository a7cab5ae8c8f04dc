//! `stream()` / `streamToVideoElement()` calls: which may start a session, which share the one
//! under way, when each promise settles, and what aborting one of them does.
//!
//! Each call gets an id; the shell files its promise under it and settles it when
//! [`Output::SettleCall`] says so. Two concurrent calls (React StrictMode mounts twice) share one
//! session: no second start-session is made, and billed.

use super::*;

/// What a call's promise resolves with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `streamToVideoElement`: resolves once the session has started.
    Started,
    /// `stream`: resolves with the remote streams once video and audio arrived.
    Media,
}

/// One `stream…()` call as the app made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRequest {
    /// Which promise the call returned.
    pub kind: CallKind,
    /// The app passed its own input stream; `Some(false)` when that stream has no audio track.
    pub user_audio: Option<bool>,
    /// The client plays the session in a `<video>` (see [`MIC_DEFERRAL_MS`]).
    pub shows_video: bool,
    /// The call's abort signal had already fired.
    pub aborted: bool,
}

/// A call the machine took on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The id its settlement will carry.
    pub id: u32,
    /// Whether it shares a session that was already starting or live.
    pub joined: bool,
    /// Whether the session it started uses the input stream it passed (not when input audio is
    /// disabled, nor when it joined a session that has its own).
    pub uses_own_audio: bool,
}

/// Why a call is refused at once (its promise rejects; nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRefusal {
    /// Its signal had already fired: an `AbortError`.
    Aborted,
    /// The input stream it passed has no audio track.
    NoAudioTrack,
}

/// How a call's promise settles.
#[derive(Debug, Clone, PartialEq)]
pub enum CallSettlement {
    /// `streamToVideoElement()` resolves.
    Started,
    /// `stream()` resolves with the remote streams.
    Media,
    /// The session could not start.
    Failed(StartFailure),
    /// This call's own signal fired: an `AbortError` (the shared session may go on).
    Aborted,
}

/// The calls waiting for their session.
#[derive(Debug, Default)]
pub(super) struct Calls {
    waiting: Vec<(u32, CallKind)>,
    next: u32,
}

impl Session {
    /// `stream()` / `streamToVideoElement()`: starts a session or joins the one starting or
    /// live. The promise settles with [`Output::SettleCall`] (at once for a joined call whose
    /// session is already where it resolves).
    pub fn start_call(&mut self, now: Millis, request: CallRequest) -> Result<Call, CallRefusal> {
        self.now = now;
        let refusal = if request.aborted {
            Some(CallRefusal::Aborted)
        } else if request.user_audio == Some(false) && !self.config.disable_input_audio {
            Some(CallRefusal::NoAudioTrack)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if !self.is_streaming() {
                self.release_prefetched(); // no start will use it
            }
            return Err(refusal);
        }
        let user_audio = match request.user_audio {
            Some(_) if self.config.disable_input_audio => {
                self.warn("disableInputAudio is set: the provided input stream is ignored");
                None
            }
            other => other,
        };
        let joined =
            self.start(now, user_audio.is_some(), request.shows_video) == StartOutcome::Joined;
        if joined && user_audio.is_some() {
            self.warn(
                "a session is already starting or live: the provided input stream is ignored",
            );
        }
        self.calls.next = self.calls.next.wrapping_add(1);
        let id = self.calls.next;
        let ready = match request.kind {
            CallKind::Started => joined && self.session_id().is_some(),
            CallKind::Media => joined && self.media_ready(),
        };
        if ready {
            let settlement = match request.kind {
                CallKind::Started => CallSettlement::Started,
                CallKind::Media => CallSettlement::Media,
            };
            self.outputs.push_back(Output::SettleCall {
                call: id,
                settlement,
            });
        } else {
            self.calls.waiting.push((id, request.kind));
        }
        Ok(Call {
            id,
            joined,
            uses_own_audio: !joined && user_audio.is_some(),
        })
    }

    /// The abort signal of call `call` fired. While other calls still wait for the shared
    /// session, only this call gives up; otherwise the session ends, in any state.
    pub fn abort_call(&mut self, now: Millis, call: u32) {
        self.now = now;
        let was_waiting = self.calls.waiting.iter().any(|(id, _)| *id == call);
        if was_waiting {
            self.calls.waiting.retain(|(id, _)| *id != call);
            self.outputs.push_back(Output::SettleCall {
                call,
                settlement: CallSettlement::Aborted,
            });
            if !self.calls.waiting.is_empty() {
                return;
            }
        }
        self.stop(now);
    }

    /// Queues the settlements of the calls that `output` settles to run right after it, in the
    /// order the calls were made.
    pub(super) fn settle_calls(&mut self, output: &Output) {
        let (kind, settlement) = match output {
            Output::SessionStarted { .. } => (Some(CallKind::Started), CallSettlement::Started),
            Output::MediaReady => (Some(CallKind::Media), CallSettlement::Media),
            Output::StartFailed(f) => (None, CallSettlement::Failed(f.clone())),
            _ => return,
        };
        for i in (0..self.calls.waiting.len()).rev() {
            let (call, k) = self.calls.waiting[i];
            if kind.is_none_or(|kind| k == kind) {
                self.calls.waiting.remove(i);
                self.outputs.push_front(Output::SettleCall {
                    call,
                    settlement: settlement.clone(),
                });
            }
        }
    }

    fn warn(&mut self, text: &str) {
        self.outputs.push_back(Output::Warn(text.to_owned()));
    }
}
