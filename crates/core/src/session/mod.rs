//! The client's sans-IO session machine.
//!
//! One [`Session`] lives as long as a client object. It decides everything the official client
//! decides (docs/PROTOCOL.md §3-§10): when to ask for a token, start-session attempts, retries and
//! timeouts, the signalling connection with its queue, heartbeats and reconnection budget,
//! negotiation bookkeeping and ICE restarts, talk streams, message history and which public events
//! fire. It does no IO: the browser shell feeds it [`Input`]s (with the current time), calls its
//! command methods for the app's API calls, executes the [`Output`]s it drains with
//! [`Session::poll_output`], and wakes it at [`Session::poll_timeout`].
//!
//! By phase: `vocabulary` (inputs, outputs, results) and `config` (options) are what the shell
//! sees; this file holds the machine's state, its queries and the app's commands; `starting`
//! decides the way to a live session, `live` everything after it.

mod calls;
mod config;
pub mod conversation;
pub mod events;
pub mod history;
pub mod iso8601;
mod live;
mod negotiation;
pub mod resume;
mod rng;
pub mod signalling;
mod starting;
pub mod state;
pub mod talk;
pub mod tools;
mod vocabulary;

use std::collections::VecDeque;

use crate::claims::TokenClaims;
use crate::errors::{
    classify_network_failure, classify_start_session, ApiFailure, AudioPermissionState,
    ConnectionClosedCode, ErrorCode,
};
use crate::wire::datachannel::{
    ClientDataMessage, Interrupt, RemoteRtpStats, ServerDataMessage, Speech,
};
use crate::wire::rest::{
    ClientMetadata, SessionOptions, StartSessionRequest, StartSessionResponse, TalkRequest,
    VoiceDetection,
};
use crate::wire::signalling::{self as sig, IceCandidate, SignalAction, SignalMessage};
use crate::wire::ToJson;

use events::Event;
use history::History;
use iso8601::iso_millis;
use negotiation::{IceState, Negotiation, NegotiationEffect};
use resume::Resume;
use rng::Rng;
use signalling::{Signalling, SocketCommand};
use talk::{TalkStream, TalkStreamError, TalkStreamState, TalkStreams};
use tools::{ToolCallEvent, ToolCalls, ToolStage};

/// Milliseconds. The shell passes Unix-epoch milliseconds (`Date.now()`), which also serve as
/// the monotonic clock of every timer here; tests pass any fake clock.
pub type Millis = u64;

/// How long a microphone request waits for the persona's first frame at most. The browser's
/// capture start-up, run while the connection is set up, delays the first frame (5-12 ms in A/B
/// runs, docs/BENCHMARKS.md), and the user cannot talk to a persona not yet on screen anyway;
/// without a frame (a hidden tab), the request goes out after this long.
pub const MIC_DEFERRAL_MS: Millis = 2_000;

/// Interval of the `remote_rtp_stats` reports (§8.7, §12).
const STATS_INTERVAL_MS: Millis = 5000;

pub use calls::{Call, CallKind, CallRefusal, CallRequest, CallSettlement};
pub use config::*;
pub use vocabulary::*;

#[derive(Debug)]
enum Phase {
    Idle,
    Starting(Starting),
    Live(Box<Live>),
}

#[derive(Debug)]
struct Starting {
    token: Option<String>,
    /// The provider was already asked again after an expiry/401 (only once per start).
    refreshed: bool,
    attempt: u32,
    /// Id of the request of the current attempt.
    request: u32,
    wait: Wait,
    /// Set when this start is a try of an automatic resume.
    resume: Option<Resume>,
}

impl Starting {
    fn new(token: Option<String>, resume: Option<Resume>) -> Starting {
        Starting {
            token,
            refreshed: false,
            attempt: 0,
            request: 0,
            wait: Wait::Token,
            resume,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Token,
    Answer {
        deadline: Option<Millis>,
    },
    Backoff(Millis),
    /// Waiting before the next resume try asks the provider for a token.
    ResumeBackoff(Millis),
}

/// What [`Session::start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new session is starting.
    Started,
    /// A session is already starting or live: the call shares it (no second start-session).
    Joined,
}

#[derive(Debug)]
struct Live {
    info: StartSessionResponse,
    signalling: Signalling,
    neg: Negotiation,
    data_channel_open: bool,
    fired_established: bool,
    fired_data_channel: bool,
    fired_play: bool,
    fired_ready: bool,
    video_track: bool,
    audio_track: bool,
    /// Media (both remote tracks) has not arrived yet.
    start_pending: bool,
    /// Set while this session is a resume try that has not delivered media yet.
    resume: Option<Resume>,
    /// When the next `remote_rtp_stats` report is due (set once ICE first connects).
    stats_due: Option<Millis>,
}

/// The session machine of one client object.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    rng: Rng,
    now: Millis,
    phase: Phase,
    /// Incremented per `stream…()` call; talk streams remember theirs.
    generation: u64,
    next_socket: u32,
    muted: bool,
    permission: AudioPermissionState,
    /// Whether the session's video is shown by the client (`streamToVideoElement`): then the
    /// microphone request waits for the first frame (see [`MIC_DEFERRAL_MS`]).
    shows_video: bool,
    /// When a deferred microphone request goes out at the latest.
    mic_due: Option<Millis>,
    history: History,
    reasoning: Vec<history::Message>,
    talk_streams: TalkStreams,
    next_talk_stream: u32,
    tools: ToolCalls,
    /// `setPersonaConfig()`: sent with the next start-session.
    persona_config: Option<crate::json::Value>,
    /// Agent-audio streams by handle (a list: apps open one or two).
    agent_audio: Vec<(u32, conversation::AgentAudioStream)>,
    next_agent_audio: u32,
    /// `talk()` calls waiting for their answer, with the instant they give up (if any).
    talks: Vec<(u32, Option<Millis>)>,
    next_talk: u32,
    calls: calls::Calls,
    outputs: VecDeque<Output>,
    /// Generation whose session has already reported its end (so it reports it only once).
    ended_generation: Option<u64>,
    /// Id of the last start-session request. Ids are not reused (they would wrap after 2^32
    /// requests), so a late answer cannot be taken for a later session's.
    last_request: u32,
    /// Requests in flight that no session wants any more: a session they create is ended.
    unwanted: Vec<u32>,
    /// Sockets open only to end such a session.
    throwaway: Vec<u32>,
    /// A request the page sent before the client existed, waiting for the next start.
    prefetched: Option<Prefetched>,
}

/// A start-session request sent before the client existed (see [`Session::prefetched`]).
#[derive(Debug)]
struct Prefetched {
    request: u32,
    url: String,
    token: String,
    body: String,
    /// Its answer, when it came before a start asked for it.
    answer: Option<Result<StartSessionResponse, ApiFailure>>,
}

impl Session {
    /// A machine for one client; `seed` feeds its random source (backoff jitter, ids).
    pub fn new(config: SessionConfig, seed: u64) -> Session {
        Session {
            config,
            rng: Rng::new(seed),
            now: 0,
            phase: Phase::Idle,
            generation: 0,
            next_socket: 0,
            muted: false,
            permission: AudioPermissionState::NotRequested,
            shows_video: false,
            mic_due: None,
            history: History::default(),
            reasoning: Vec::new(),
            talk_streams: TalkStreams::default(),
            next_talk_stream: 0,
            tools: ToolCalls::default(),
            persona_config: None,
            agent_audio: Vec::new(),
            next_agent_audio: 0,
            talks: Vec::new(),
            next_talk: 0,
            calls: calls::Calls::default(),
            outputs: VecDeque::new(),
            ended_generation: None,
            last_request: 0,
            unwanted: Vec::new(),
            throwaway: Vec::new(),
            prefetched: None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// Whether a session is starting or live (`isStreaming()`). False again after any end,
    /// including server-side ones (the official client stays "streaming" then, §11.3).
    pub fn is_streaming(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    /// `getActiveSessionId()`.
    pub fn session_id(&self) -> Option<&str> {
        match &self.phase {
            Phase::Live(live) => Some(&live.info.session_id),
            _ => None,
        }
    }

    /// `getActiveSessionRegion()`.
    pub fn region(&self) -> Option<&str> {
        match &self.phase {
            Phase::Live(live) => live.info.region.as_deref(),
            _ => None,
        }
    }

    /// `getInputAudioState()`: mute flag and microphone permission.
    pub fn input_audio_state(&self) -> InputAudioState {
        InputAudioState {
            is_muted: self.muted,
            permission_state: self.permission,
        }
    }

    /// Whether both remote tracks of the current session arrived (`stream()` can resolve).
    pub fn media_ready(&self) -> bool {
        matches!(&self.phase, Phase::Live(live) if !live.start_pending)
    }

    /// The validated options the client was created with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The next output to execute, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front()?;
        self.settle_calls(&output);
        Some(output)
    }

    /// When the machine next needs [`Input::Tick`].
    pub fn poll_timeout(&self) -> Option<Millis> {
        let phase = match &self.phase {
            Phase::Idle => None,
            Phase::Starting(s) => match s.wait {
                Wait::Token => None,
                Wait::Answer { deadline } => deadline,
                Wait::Backoff(at) | Wait::ResumeBackoff(at) => Some(at),
            },
            Phase::Live(live) => [
                live.signalling.next_timeout(),
                live.neg.next_timeout(),
                live.stats_due,
            ]
            .into_iter()
            .flatten()
            .min(),
        };
        let talks = self.talks.iter().filter_map(|(_, due)| *due);
        phase.into_iter().chain(self.mic_due).chain(talks).min()
    }

    // -----------------------------------------------------------------------------------------
    // Commands (the app's API calls)

    /// `stream()` / `streamToVideoElement()`: starts a session. `user_audio` says the app passed
    /// its own input stream (then no microphone is requested). While a session is starting or
    /// live, the call joins it instead: two concurrent starts (React StrictMode mounts twice)
    /// must not create, and bill, two sessions.
    /// `shows_video`: the client plays the session in a `<video>` it watches for the first
    /// frame (see [`MIC_DEFERRAL_MS`]).
    pub fn start(&mut self, now: Millis, user_audio: bool, shows_video: bool) -> StartOutcome {
        self.now = now;
        if self.is_streaming() {
            return StartOutcome::Joined;
        }
        self.shows_video = shows_video;
        self.generation += 1;
        self.history.clear();
        self.reasoning.clear();
        self.tools.clear();
        let starting = match self.config.token.clone() {
            TokenSource::Fixed(token) => Starting::new(Some(token), None),
            TokenSource::Provider => {
                self.outputs.push_back(Output::FetchToken);
                Starting::new(None, None)
            }
        };
        self.phase = Phase::Starting(starting);
        if matches!(self.config.token, TokenSource::Fixed(_)) {
            self.next_attempt();
        }
        if !self.config.disable_input_audio && !user_audio {
            self.request_mic();
        }
        StartOutcome::Started
    }

    /// `stopStreaming()`, an aborted signal or the page going away: ends the session in any
    /// state (no-op without one); a pending start fails with [`StartFailure::Stopped`].
    /// `CONNECTION_CLOSED(NORMAL)` fires first for a session the app saw start (live, or being
    /// resumed), unless this session already reported its end.
    pub fn stop(&mut self, now: Millis) {
        self.now = now;
        self.release_prefetched();
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {}
            Phase::Starting(s) => {
                if s.resume.is_some() {
                    self.emit(Event::ConnectionClosed {
                        code: ConnectionClosedCode::Normal.as_str(),
                        details: None,
                    });
                }
                if let Wait::Answer { .. } = s.wait {
                    self.unwanted.push(s.request);
                }
                self.outputs
                    .push_back(Output::StartFailed(StartFailure::Stopped));
                self.mic_due = None;
                self.outputs.push_back(Output::Teardown);
                self.release_pending_mic();
            }
            Phase::Live(mut live) => {
                self.emit(Event::ConnectionClosed {
                    code: ConnectionClosedCode::Normal.as_str(),
                    details: None,
                });
                if live.start_pending {
                    self.outputs
                        .push_back(Output::StartFailed(StartFailure::Stopped));
                }
                self.shut_down(&mut live);
            }
        }
    }

    /// `talk(content)`: sends the `/talk` request ([`Output::SendTalk`]) and returns the call's
    /// id; its promise settles with [`Output::TalkSettled`] when the answer comes, or after the
    /// API request timeout. A call outlives the session it was made in: the server may still
    /// have accepted it.
    pub fn talk(&mut self, now: Millis, content: &str) -> Result<u32, CommandError> {
        self.now = now;
        let url = match &self.phase {
            Phase::Live(live) => live.info.talk_url(),
            Phase::Starting(_) => return Err(CommandError("Session is not started yet")),
            Phase::Idle => return Err(CommandError("Not streaming: start a session first")),
        };
        let body = TalkRequest {
            content: content.to_owned(),
        }
        .to_json()
        .into_value()
        .to_json();
        self.next_talk = self.next_talk.wrapping_add(1);
        let call = self.next_talk;
        let timeout = self.config.retry.request_timeout_ms;
        let deadline = (timeout > 0).then(|| now.saturating_add(timeout));
        self.talks.push((call, deadline));
        self.outputs.push_back(Output::SendTalk { call, url, body });
        Ok(call)
    }

    /// The id the next `talk()` call will get (so the shell can file its promise first).
    pub fn next_talk_call(&self) -> u32 {
        self.next_talk.wrapping_add(1)
    }

    /// The answer to `talk()` call `call`; nothing once the call gave up.
    fn talk_answered(&mut self, call: u32, result: Result<u16, String>) {
        let Some(i) = self.talks.iter().position(|(c, _)| *c == call) else {
            return;
        };
        self.talks.remove(i);
        let result = match result {
            Ok(status) if (200..300).contains(&status) => Ok(()),
            Ok(status) => Err(format!("talk failed with HTTP {status}")),
            Err(detail) => Err(format!("talk failed: {detail}")),
        };
        self.outputs.push_back(Output::TalkSettled { call, result });
    }

    /// Gives up on the `talk()` calls whose deadline passed.
    fn expire_talks(&mut self) {
        let now = self.now;
        let timeout = self.config.retry.request_timeout_ms;
        let mut expired = Vec::new();
        self.talks.retain(|&(call, due)| {
            let over = due.is_some_and(|at| now >= at);
            if over {
                expired.push(call);
            }
            !over
        });
        for call in expired {
            self.outputs.push_back(Output::AbortTalk { call });
            self.outputs.push_back(Output::TalkSettled {
                call,
                result: Err(format!("talk failed: no answer within {timeout} ms")),
            });
        }
    }

    /// `sendUserMessage(content)`: dropped silently while the data channel is not open.
    pub fn send_user_message(&mut self, now: Millis, content: &str) -> Result<(), CommandError> {
        self.now = now;
        let session_id = self.live_session_id()?;
        let mut timestamp = iso_millis(now);
        timestamp.pop(); // the `speech` timestamp has no `Z` (§9.1)
        let msg = ClientDataMessage::Speech(Speech {
            content: content.to_owned(),
            timestamp,
            session_id,
        });
        self.send_data(msg.encode());
        Ok(())
    }

    /// `interruptPersona()`.
    pub fn interrupt(&mut self, now: Millis) -> Result<(), CommandError> {
        self.now = now;
        let session_id = self.live_session_id()?;
        let msg = ClientDataMessage::Interrupt(Interrupt {
            session_id,
            timestamp: iso_millis(now),
        });
        self.send_data(msg.encode());
        Ok(())
    }

    /// `muteInputAudio()` / `unmuteInputAudio()`; works before streaming too.
    pub fn set_muted(&mut self, muted: bool) -> InputAudioState {
        if self.config.disable_input_audio {
            self.outputs
                .push_back(Output::Warn("input audio is disabled".to_owned()));
        } else if self.muted != muted {
            self.muted = muted;
            self.outputs.push_back(Output::ApplyMute(muted));
        }
        self.input_audio_state()
    }

    /// Checks `changeAudioInputDevice(deviceId)` may run; returns the trimmed id.
    pub fn check_device_change(&self, device_id: &str) -> Result<String, CommandError> {
        if self.config.disable_input_audio {
            return Err(CommandError(
                "Cannot change the audio input: input audio is disabled",
            ));
        }
        if !matches!(self.phase, Phase::Live(_)) {
            return Err(CommandError("Cannot change the audio input: not streaming"));
        }
        let id = device_id.trim();
        if id.is_empty() {
            return Err(CommandError("A device id is required"));
        }
        Ok(id.to_owned())
    }

    /// `createTalkMessageStream(correlationId?)`: returns the stream's handle.
    pub fn create_talk_stream(
        &mut self,
        correlation_id: Option<&str>,
    ) -> Result<u32, CommandError> {
        if !matches!(self.phase, Phase::Live(_)) {
            return Err(CommandError(
                "Cannot create a talk stream: no session is started",
            ));
        }
        let correlation_id = match correlation_id {
            Some(id) if !id.is_empty() && id.trim().is_empty() => {
                return Err(CommandError("correlationId must not be blank"));
            }
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => self.rng.base36(11),
        };
        self.next_talk_stream += 1;
        // Forget finished streams of earlier sessions so the table stays small.
        let generation = self.generation;
        self.talk_streams
            .retain(|_, s| s.generation == generation || s.state.is_active());
        self.talk_streams.insert(
            self.next_talk_stream,
            TalkStream {
                correlation_id,
                state: TalkStreamState::Unstarted,
                generation,
                last_utterance_id: None,
            },
        );
        Ok(self.next_talk_stream)
    }

    /// `TalkMessageStream.streamMessageChunk`.
    pub fn talk_stream_chunk(
        &mut self,
        handle: u32,
        content: &str,
        end_of_speech: bool,
        utterance_id: Option<&str>,
    ) -> Result<(), TalkStreamError> {
        let generation = self.generation;
        let stream = self
            .talk_streams
            .get_mut(&handle)
            .ok_or(TalkStreamError::UnknownStream)?;
        if stream.generation != generation || !matches!(self.phase, Phase::Live(_)) {
            if stream.state.is_active() {
                return Err(TalkStreamError::SessionEnded);
            }
            return Err(TalkStreamError::NotActive(stream.state));
        }
        let payload = stream.chunk(content, end_of_speech, utterance_id)?;
        self.signal(SignalAction::TalkStream(payload));
        Ok(())
    }

    /// `TalkMessageStream.endMessage`: returns false (and warns) when nothing was sent.
    pub fn talk_stream_end(&mut self, handle: u32) -> bool {
        let live = matches!(self.phase, Phase::Live(_));
        let generation = self.generation;
        let payload = match self.talk_streams.get_mut(&handle) {
            Some(s) if live && s.generation == generation => s.end(),
            _ => None,
        };
        match payload {
            Some(p) => {
                self.signal(SignalAction::TalkStream(p));
                true
            }
            None => {
                self.outputs.push_back(Output::Warn(
                    "endMessage: the talk stream is not streaming; nothing sent".to_owned(),
                ));
                false
            }
        }
    }

    /// State of talk stream `handle`; `None` for an unknown handle.
    pub fn talk_stream_state(&self, handle: u32) -> Option<TalkStreamState> {
        self.talk_streams.get(&handle).map(|s| s.state)
    }

    /// Correlation id of talk stream `handle`; `None` for an unknown handle.
    pub fn talk_stream_correlation_id(&self, handle: u32) -> Option<&str> {
        self.talk_streams
            .get(&handle)
            .map(|s| s.correlation_id.as_str())
    }

    // -----------------------------------------------------------------------------------------
    // Inputs

    /// Feeds one browser event at time `now`.
    pub fn handle_input(&mut self, now: Millis, input: Input) {
        self.now = now;
        match input {
            Input::Tick => self.on_tick(),
            Input::Token(token) => self.on_token(token),
            Input::TokenFailed => {
                if let Phase::Starting(Starting {
                    wait: Wait::Token, ..
                }) = self.phase
                {
                    self.fail_start(StartFailure::TokenProvider);
                }
            }
            Input::StartSessionAnswered {
                request,
                status,
                body,
            } => self.on_start_answer(request, classify_start_session(status, &body)),
            Input::StartSessionUnreachable { request, detail } => {
                self.on_start_answer(request, Err(classify_network_failure(&detail)))
            }
            Input::SocketOpened(socket) | Input::SocketClosed { socket, .. }
                if self.throwaway.contains(&socket) =>
            {
                // Open: the session is ended by closing (§7.3). Closed: it failed to open, and
                // the server ends the session when it times out; either way, nothing is left.
                self.throwaway.retain(|s| *s != socket);
                self.outputs
                    .push_back(Output::Throwaway(SocketCommand::Close { socket }));
            }
            Input::MicGranted => {
                if self.permission == AudioPermissionState::Pending {
                    self.permission = AudioPermissionState::Granted;
                    self.emit(Event::MicPermissionGranted);
                }
            }
            Input::MicDenied(why) => {
                if self.permission == AudioPermissionState::Pending {
                    self.permission = AudioPermissionState::Denied;
                    self.emit(Event::MicPermissionDenied(why));
                }
            }
            Input::InputAudioAttached => {
                if self.is_streaming() {
                    self.emit(Event::InputAudioStreamStarted);
                }
            }
            Input::InputDeviceChanged(id) => {
                if self.is_streaming() {
                    self.emit(Event::InputAudioStreamStarted);
                    self.emit(Event::InputAudioDeviceChanged(id));
                }
            }
            Input::ToolStartHandled {
                tool_call_id,
                outcome,
            } => self.tool_start_handled(&tool_call_id, outcome),
            Input::RtpStats(entries) => self.send_rtp_stats(&entries),
            Input::TalkAnswered { call, status } => self.talk_answered(call, Ok(status)),
            Input::TalkUnreachable { call, detail } => self.talk_answered(call, Err(detail)),
            other => self.with_live(|s, live| s.on_live_input(live, other)),
        }
    }
}

#[cfg(test)]
mod tests;
