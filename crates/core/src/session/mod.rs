//! The client's sans-IO session machine.
//!
//! One [`Session`] lives as long as a client object. It decides everything the official client
//! decides (docs/PROTOCOL.md §3-§10): when to ask for a token, start-session attempts, retries and
//! timeouts, the signalling connection with its queue, heartbeats and reconnection budget,
//! negotiation bookkeeping and ICE restarts, talk streams, message history and which public events
//! fire. It does no IO: the browser shell feeds it [`Input`]s (with the current time), calls its
//! command methods for the app's API calls, executes the [`Output`]s it drains with
//! [`Session::poll_output`], and wakes it at [`Session::poll_timeout`].

pub mod conversation;
pub mod events;
pub mod history;
pub mod iso8601;
mod negotiation;
pub mod resume;
mod rng;
pub mod signalling;
pub mod state;
pub mod talk;
pub mod tools;

use std::collections::VecDeque;

use crate::claims::TokenClaims;
use crate::errors::{
    classify_network_failure, classify_start_session, ApiFailure, AudioPermissionState,
    ConnectionClosedCode, ErrorCode,
};
use crate::retry::RetryPolicy;
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

/// Name sent as `clientMetadata.client`.
pub const CLIENT_NAME: &str = "anam-wasm";
/// Default Core API origin and version (§12).
pub const DEFAULT_BASE_URL: &str = "https://api.anam.ai";
pub const DEFAULT_API_VERSION: &str = "/v1";

/// Where session tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// One token given to `createClient`; reused for every session (as the official client does).
    Fixed(String),
    /// An app function returning a token: called for each new session, and once more when the
    /// token turns out expired.
    Provider,
}

/// The validated options the machine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub base_url: String,
    pub api_version: String,
    pub retry: RetryPolicy,
    /// Kept as the app's JSON number text, so the wire carries exactly what it gave.
    pub end_of_speech_sensitivity: Option<crate::json::Number>,
    pub disable_input_audio: bool,
    pub token: TokenSource,
    /// `autoResume`: how many fresh sessions to try after a lost one (`None`: never resume).
    /// Only meaningful with [`TokenSource::Provider`]; the shell refuses it with a fixed token.
    pub auto_resume: Option<u32>,
}

impl SessionConfig {
    /// Defaults of the official client for a token source.
    pub fn new(token: TokenSource) -> SessionConfig {
        SessionConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            retry: RetryPolicy::default(),
            end_of_speech_sensitivity: None,
            disable_input_audio: false,
            token,
            auto_resume: None,
        }
    }
}

/// Which remote track arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
}

/// Something that happened in the browser, fed to [`Session::handle_input`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Time passed (a timer fired).
    Tick,
    /// The token provider resolved.
    Token(String),
    /// The token provider rejected; the shell keeps the app's error to reject `stream()` with.
    TokenFailed,
    /// Start-session attempt `attempt` got an HTTP answer.
    StartSessionAnswered {
        attempt: u32,
        status: u16,
        body: String,
    },
    /// Start-session attempt `attempt` never got an answer (network error, abort).
    StartSessionUnreachable {
        attempt: u32,
        detail: String,
    },
    SocketOpened(u32),
    SocketClosed {
        socket: u32,
        code: u16,
        reason: String,
    },
    SocketMessage {
        socket: u32,
        text: String,
    },
    /// The peer connection could not be created or the first offer failed.
    PeerConnectionFailed(String),
    /// `createOffer` + `setLocalDescription` succeeded.
    LocalOffer {
        sdp: String,
    },
    OfferFailed(String),
    /// A local ICE candidate was gathered (the final null candidate is not reported).
    LocalCandidate(IceCandidate),
    AnswerApplied,
    AnswerFailed(String),
    /// `iceConnectionState` changed (the browser's string).
    IceConnectionState(String),
    /// `connectionState` became `closed` without our teardown.
    PeerConnectionClosed,
    DataChannelOpen,
    DataChannelClosed,
    DataChannelMessage(String),
    RemoteTrack(TrackKind),
    /// The target `<video>` presented its first frame.
    FirstFrame,
    MicGranted,
    MicDenied(String),
    /// A microphone (or app-provided) track is now on the audio sender.
    InputAudioAttached,
    /// `changeAudioInputDevice` succeeded.
    InputDeviceChanged(String),
    /// `onStart` of a tool handler finished (see [`Output::RunToolHandler`]).
    ToolStartHandled {
        tool_call_id: String,
        outcome: tools::HandlerOutcome,
    },
    /// The stats asked for by [`Output::CollectRtpStats`]: each entry as the browser's JSON.
    RtpStats(Vec<String>),
}

/// Why a session could not start.
#[derive(Debug, Clone, PartialEq)]
pub enum StartFailure {
    /// The Core API refused or could not be reached (after retries).
    Api(ApiFailure),
    /// The app's token provider rejected: reject with its own error.
    TokenProvider,
    /// The token the provider gave cannot be used.
    BadToken(String),
    /// The connection closed before the session was up.
    Closed {
        code: ConnectionClosedCode,
        details: Option<String>,
    },
    /// The app called `stopStreaming()` or aborted the call's signal first (an `AbortError`).
    Stopped,
}

impl StartFailure {
    /// `(code, statusCode, message)` of the `ClientError` the shell raises.
    pub fn describe(&self) -> (ErrorCode, u16, String) {
        match self {
            StartFailure::Api(f) => (f.code, f.status, f.message.clone()),
            StartFailure::TokenProvider => (
                ErrorCode::AuthenticationError,
                401,
                "the session token provider failed".to_owned(),
            ),
            StartFailure::BadToken(why) => (ErrorCode::ConfigurationError, 400, why.clone()),
            StartFailure::Closed { code, details } => (
                ErrorCode::ServerError,
                500,
                match details {
                    Some(d) => format!("connection closed before streaming started ({code}): {d}"),
                    None => format!("connection closed before streaming started ({code})"),
                },
            ),
            StartFailure::Stopped => (
                ErrorCode::ServerError,
                500,
                "streaming was stopped before it started".to_owned(),
            ),
        }
    }

    /// `details.cause`, when there is one.
    pub fn cause(&self) -> Option<&str> {
        match self {
            StartFailure::Api(f) => f.cause.as_deref(),
            _ => None,
        }
    }
}

/// An IO request or notification for the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Call the token provider, then report [`Input::Token`] or [`Input::TokenFailed`].
    FetchToken,
    /// POST the start-session request; report the answer for `attempt`.
    StartSession {
        attempt: u32,
        url: String,
        token: String,
        body: String,
    },
    /// Abort the in-flight start-session attempt (its timeout passed).
    AbortStartSession {
        attempt: u32,
    },
    /// The app cancelled the start while attempt `attempt` was in flight: let the request
    /// finish, and if it created a session, end it (open its signalling socket and close it
    /// with 1000, the protocol's only way to end a session). Aborting the request instead could
    /// leave a session on the server whose id the client never learns.
    AbandonStartSession {
        attempt: u32,
    },
    /// The Core API accepted the session: `streamToVideoElement()` resolves.
    SessionStarted {
        session_id: String,
    },
    /// Both remote tracks arrived: `stream()` resolves with them.
    MediaReady,
    /// The pending `stream…()` call fails.
    StartFailed(StartFailure),
    /// Ask for the microphone; report [`Input::MicGranted`] / [`Input::MicDenied`].
    RequestMic,
    /// Create the peer connection (data channel `session`, video recvonly, audio sendrecv or
    /// recvonly) with the server's ICE settings (§8.1; the app's options take precedence).
    /// Issued once the session is accepted, right after the socket is asked to open: the
    /// browser's blocking set-up then overlaps the socket handshake instead of holding back
    /// the start-session answer (first frame 7 ms sooner in a 40-round A/B run).
    CreatePeerConnection {
        ice_servers_json: String,
        ice_transport_policy: Option<String>,
    },
    /// `createOffer` (+ rollback first when not stable) and `setLocalDescription`; report
    /// [`Input::LocalOffer`] or [`Input::OfferFailed`].
    CreateOffer {
        ice_restart: bool,
    },
    /// `setRemoteDescription(answer)`; report [`Input::AnswerApplied`] / [`Input::AnswerFailed`].
    ApplyAnswer {
        sdp: String,
    },
    /// `addIceCandidate`; failures are only logged.
    AddRemoteCandidate(IceCandidate),
    Socket(SocketCommand),
    /// Send text on the data channel.
    SendData(String),
    /// Enable (`false`) or disable (`true`) the microphone tracks.
    ApplyMute(bool),
    /// Close the peer connection, stop input tracks, drop every listener and timer.
    Teardown,
    /// A lost session is being resumed: close its peer connection and socket and drop its
    /// timers, but keep what the next session reuses (the `<video>`, the microphone or the app's
    /// input stream with their mute state and device, the page listeners).
    SuspendForResume,
    Emit(Event),
    /// A console warning.
    Warn(String),
    /// Run the `stage` handler registered for `event.tool_name`, if any, with `event`; after
    /// `onStart` the shell reports back with [`Session::tool_start_handled`].
    RunToolHandler {
        stage: ToolStage,
        event: ToolCallEvent,
    },
    /// Collect the peer connection's stats and report them with [`Input::RtpStats`] (§8.7).
    CollectRtpStats,
}

/// `InputAudioState` of §10.9, serialized with camelCase keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputAudioState {
    pub is_muted: bool,
    pub permission_state: AudioPermissionState,
}

/// An API call that cannot be made in the current state (a plain `Error` in JS, §11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub &'static str);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CommandError {}

/// A `/talk` request for the shell to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalkCall {
    pub url: String,
    pub body: String,
}

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
    outputs: VecDeque<Output>,
    /// Generation whose session has already reported its end (so it reports it only once).
    ended_generation: Option<u64>,
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
            outputs: VecDeque::new(),
            ended_generation: None,
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

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The next output to execute, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
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
        phase.into_iter().chain(self.mic_due).min()
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
                    self.outputs
                        .push_back(Output::AbandonStartSession { attempt: s.attempt });
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

    /// `talk(content)`: the `/talk` request to send.
    pub fn talk(&self, content: &str) -> Result<TalkCall, CommandError> {
        match &self.phase {
            Phase::Live(live) => Ok(TalkCall {
                url: live.info.talk_url(),
                body: TalkRequest {
                    content: content.to_owned(),
                }
                .to_json()
                .into_value()
                .to_json(),
            }),
            Phase::Starting(_) => Err(CommandError("Session is not started yet")),
            Phase::Idle => Err(CommandError("Not streaming: start a session first")),
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

    pub fn talk_stream_state(&self, handle: u32) -> Option<TalkStreamState> {
        self.talk_streams.get(&handle).map(|s| s.state)
    }

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
                attempt,
                status,
                body,
            } => {
                if self.is_current_attempt(attempt) {
                    let result = classify_start_session(status, &body);
                    self.on_start_result(result);
                }
            }
            Input::StartSessionUnreachable { attempt, detail } => {
                if self.is_current_attempt(attempt) {
                    self.on_start_result(Err(classify_network_failure(&detail)));
                }
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
            other => self.with_live(|s, live| s.on_live_input(live, other)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Starting

    fn request_mic(&mut self) {
        if self.permission == AudioPermissionState::Pending {
            return; // one request at a time (§8.4)
        }
        self.permission = AudioPermissionState::Pending;
        self.emit(Event::MicPermissionPending);
        if self.shows_video {
            self.mic_due = Some(self.now.saturating_add(MIC_DEFERRAL_MS));
        } else {
            self.outputs.push_back(Output::RequestMic);
        }
    }

    /// The first frame is shown, or the deferral ran out: a deferred request goes out.
    fn release_mic(&mut self) {
        if self.mic_due.take().is_some() {
            self.outputs.push_back(Output::RequestMic);
        }
    }

    fn is_current_attempt(&self, attempt: u32) -> bool {
        matches!(&self.phase, Phase::Starting(s)
            if s.attempt == attempt && matches!(s.wait, Wait::Answer { .. }))
    }

    fn on_token(&mut self, token: String) {
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        if s.wait != Wait::Token {
            return;
        }
        // A fixed token never reaches here; a provider's token is checked like one.
        match TokenClaims::decode(&token) {
            Err(e) => return self.fail_start(StartFailure::BadToken(e.to_string())),
            Ok(claims) => {
                if let Err(e) = claims.validate_for_client() {
                    return self.fail_start(StartFailure::BadToken(e.to_string()));
                }
                // An expired token is refreshed once through the provider before it is used.
                let expired = claims.is_expired((self.now / 1000) as i64, 0);
                if expired && !s.refreshed {
                    s.refreshed = true;
                    self.outputs.push_back(Output::FetchToken);
                    return;
                }
            }
        }
        s.token = Some(token);
        self.next_attempt();
    }

    fn next_attempt(&mut self) {
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        let Some(token) = s.token.clone() else {
            return;
        };
        s.attempt += 1;
        let deadline = self.config.retry.request_timeout().map(|t| self.now + t);
        s.wait = Wait::Answer { deadline };
        let attempt = s.attempt;
        let body = StartSessionRequest {
            persona_config: None,
            session_options: self.config.end_of_speech_sensitivity.clone().map(|v| {
                SessionOptions {
                    voice_detection: Some(VoiceDetection {
                        end_of_speech_sensitivity: Some(v),
                    }),
                    ..Default::default()
                }
            }),
            client_metadata: Some(ClientMetadata {
                client: CLIENT_NAME.to_owned(),
                version: crate::VERSION.to_owned(),
            }),
        };
        let mut body = body.to_json();
        if let Some(cfg) = &self.persona_config {
            body.insert("personaConfig", cfg.clone());
        }
        let body = body.into_value();
        self.outputs.push_back(Output::StartSession {
            attempt,
            url: format!(
                "{}{}/engine/session",
                self.config.base_url, self.config.api_version
            ),
            token,
            body: body.to_string(),
        });
    }

    fn on_start_result(&mut self, result: Result<StartSessionResponse, ApiFailure>) {
        let Phase::Starting(s) = &mut self.phase else {
            return;
        };
        match result {
            Ok(info) => {
                let resume = s.resume.take();
                self.go_live(info, resume)
            }
            Err(failure) => {
                // A 401 with a provider: the token may have expired in flight; ask once more.
                if failure.status == 401
                    && self.config.token == TokenSource::Provider
                    && !s.refreshed
                {
                    s.refreshed = true;
                    s.token = None;
                    s.wait = Wait::Token;
                    self.outputs.push_back(Output::FetchToken);
                    return;
                }
                if failure.retryable && self.config.retry.allows_another_attempt(s.attempt) {
                    let delay = self
                        .config
                        .retry
                        .delay_after(s.attempt, self.rng.next_f64());
                    s.wait = Wait::Backoff(self.now + delay);
                    return;
                }
                self.fail_start(StartFailure::Api(failure));
            }
        }
    }

    fn fail_start(&mut self, failure: StartFailure) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        if let Phase::Starting(Starting {
            resume: Some(resume),
            ..
        }) = phase
        {
            // A resume try failed: the next one, or the end of the resume.
            return self.next_resume_try(resume);
        }
        self.outputs.push_back(Output::StartFailed(failure));
        self.mic_due = None;
        self.outputs.push_back(Output::Teardown);
        self.release_pending_mic();
    }

    /// A capture still waiting for the user dies with the session; the next session asks again.
    fn release_pending_mic(&mut self) {
        if self.permission == AudioPermissionState::Pending {
            self.permission = AudioPermissionState::NotRequested;
        }
    }

    /// Starts try `resume.attempt + 1` of a resume, or gives up after the last one with the
    /// original session's `CONNECTION_CLOSED` (as if there had been no resume).
    fn next_resume_try(&mut self, mut resume: Resume) {
        let max = self.config.auto_resume.unwrap_or(0);
        if resume.attempt >= max {
            self.emit(Event::ConnectionClosed {
                code: resume.code.as_str(),
                details: resume.details.clone(),
            });
            // Starts that joined during the resume wait for nothing any more.
            self.outputs
                .push_back(Output::StartFailed(StartFailure::Closed {
                    code: resume.code,
                    details: resume.details,
                }));
            self.mic_due = None;
            self.outputs.push_back(Output::Teardown);
            self.release_pending_mic();
            self.phase = Phase::Idle;
            return;
        }
        resume.attempt += 1;
        self.emit(Event::Reconnecting {
            attempt: resume.attempt,
            reason: resume.code.as_str(),
        });
        // Each try is a new session: talk streams of the lost one are over.
        self.generation += 1;
        let delay = resume::delay_before(resume.attempt);
        let mut starting = Starting::new(None, Some(resume));
        if delay == 0 {
            self.outputs.push_back(Output::FetchToken);
        } else {
            starting.wait = Wait::ResumeBackoff(self.now + delay);
        }
        self.phase = Phase::Starting(starting);
    }

    fn go_live(&mut self, info: StartSessionResponse, resume: Option<Resume>) {
        let heartbeat =
            SignalMessage::new(info.session_id.clone(), SignalAction::Heartbeat).encode();
        self.next_socket += 1;
        let mut signalling = Signalling::new(
            info.signalling_url(),
            heartbeat,
            info.client_config.heartbeat_interval_ms(),
            info.client_config.max_ws_reconnection_attempts(),
            self.next_socket,
        );
        let mut cmds = Vec::new();
        signalling.connect(&mut cmds);
        self.outputs.push_back(Output::SessionStarted {
            session_id: info.session_id.clone(),
        });
        // Fast start: the socket opens while the peer connection and its offer are prepared; the
        // offer waits in the signalling queue if it is ready first.
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
        self.outputs.push_back(Output::CreatePeerConnection {
            ice_servers_json: crate::wire::rest::ice_servers_json(&info.client_config.ice_servers),
            ice_transport_policy: info.client_config.ice_transport_policy.clone(),
        });
        let mut neg = Negotiation::default();
        neg.begin_initial_offer();
        self.outputs
            .push_back(Output::CreateOffer { ice_restart: false });
        self.phase = Phase::Live(Box::new(Live {
            info,
            signalling,
            neg,
            data_channel_open: false,
            fired_established: false,
            fired_data_channel: false,
            fired_play: false,
            fired_ready: false,
            video_track: false,
            audio_track: false,
            start_pending: true,
            resume,
            stats_due: None,
        }));
    }

    fn on_tick(&mut self) {
        let now = self.now;
        if self.mic_due.is_some_and(|at| now >= at) {
            self.release_mic();
        }
        if let Phase::Starting(s) = &mut self.phase {
            match s.wait {
                Wait::Backoff(at) if now >= at => self.next_attempt(),
                Wait::ResumeBackoff(at) if now >= at => {
                    s.wait = Wait::Token;
                    self.outputs.push_back(Output::FetchToken);
                }
                Wait::Answer { deadline: Some(at) } if now >= at => {
                    let attempt = s.attempt;
                    self.outputs
                        .push_back(Output::AbortStartSession { attempt });
                    self.on_start_result(Err(classify_network_failure(
                        "the start-session request timed out",
                    )));
                }
                _ => {}
            }
            return;
        }
        self.with_live(|s, live| {
            let mut cmds = Vec::new();
            let next = &mut s.next_socket;
            live.signalling.on_timeout(
                now,
                &mut || {
                    *next += 1;
                    *next
                },
                &mut cmds,
            );
            s.outputs.extend(cmds.into_iter().map(Output::Socket));
            let effects = live.neg.on_timeout(now);
            s.apply_negotiation(live, effects);
            if let Some(due) = live.stats_due.filter(|due| now >= *due) {
                // Skipped (not queued) while the data channel is closed, as the official client.
                live.stats_due = Some(due.max(now - STATS_INTERVAL_MS) + STATS_INTERVAL_MS);
                if live.data_channel_open {
                    s.outputs.push_back(Output::CollectRtpStats);
                }
            }
        });
    }

    // -----------------------------------------------------------------------------------------
    // Live session

    /// Runs `f` on the live session, taking it out of `self` meanwhile; `f` may end the session
    /// (then it leaves `self.phase` as it set it).
    fn with_live(&mut self, f: impl FnOnce(&mut Session, &mut Live)) {
        let Phase::Live(mut live) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let generation = self.generation;
        f(self, &mut live);
        // `f` ends the session through `close_with` (marks the generation ended) or `stop`.
        if self.ended_generation != Some(generation) {
            self.phase = Phase::Live(live);
        }
    }

    fn on_live_input(&mut self, live: &mut Live, input: Input) {
        match input {
            Input::SocketOpened(socket) => {
                let mut cmds = Vec::new();
                live.signalling.on_open(socket, self.now, &mut cmds);
                self.outputs.extend(cmds.into_iter().map(Output::Socket));
                if live.signalling.is_open() {
                    let effects = live.neg.on_socket_open(self.now);
                    self.apply_negotiation(live, effects);
                }
            }
            Input::SocketClosed { socket, .. } if live.signalling.on_close(socket, self.now) => {
                self.close_with(
                    live,
                    ConnectionClosedCode::SignallingClientConnectionFailure,
                    Some("the signalling connection could not be re-established".to_owned()),
                );
            }
            Input::SocketMessage { socket, text } if socket == live.signalling.socket() => {
                self.on_signal(live, &text);
            }
            Input::PeerConnectionFailed(why) => {
                self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
            }
            Input::LocalOffer { sdp } => {
                let effects = live.neg.on_local_offer(self.now);
                let offer = SignalAction::Offer(sig::OfferPayload {
                    connection_description: sig::SessionDescription {
                        kind: "offer".to_owned(),
                        sdp,
                    },
                    user_uid: live.info.session_id.clone(),
                });
                self.live_signal(live, offer);
                self.apply_negotiation(live, effects);
            }
            Input::OfferFailed(why) => {
                let effects = live.neg.on_offer_failed(self.now);
                if effects.contains(&NegotiationEffect::Fatal) {
                    self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
                } else {
                    self.apply_negotiation(live, effects);
                }
            }
            Input::LocalCandidate(c) => {
                if let Some(c) = live.neg.on_local_candidate(c) {
                    self.live_signal(live, SignalAction::IceCandidate(c));
                }
            }
            Input::AnswerApplied => {
                let effects = live.neg.on_answer_applied();
                self.apply_negotiation(live, effects);
            }
            Input::AnswerFailed(why) => {
                let effects = live.neg.on_answer_failed();
                if effects.contains(&NegotiationEffect::Fatal) {
                    self.close_with(live, ConnectionClosedCode::WebrtcFailure, Some(why));
                } else {
                    self.apply_negotiation(live, effects);
                }
            }
            Input::IceConnectionState(state) => {
                let state = IceState::parse(&state);
                if matches!(state, IceState::Connected) {
                    live.signalling.end_extended_budget();
                    if !live.fired_established {
                        live.fired_established = true;
                        live.stats_due = Some(self.now + STATS_INTERVAL_MS);
                        self.emit(Event::ConnectionEstablished);
                    }
                }
                let effects = live.neg.on_ice_state(state, self.now);
                self.apply_negotiation(live, effects);
            }
            Input::PeerConnectionClosed => {
                self.close_with(
                    live,
                    ConnectionClosedCode::WebrtcFailure,
                    Some("the peer connection closed".to_owned()),
                );
            }
            Input::DataChannelOpen => {
                live.data_channel_open = true;
                if !live.fired_data_channel {
                    live.fired_data_channel = true;
                    self.emit(Event::DataChannelOpen);
                }
            }
            Input::DataChannelClosed => live.data_channel_open = false,
            Input::DataChannelMessage(text) => self.on_data(&live.info.session_id, &text),
            Input::RemoteTrack(kind) => {
                let first = match kind {
                    TrackKind::Video => !std::mem::replace(&mut live.video_track, true),
                    TrackKind::Audio => !std::mem::replace(&mut live.audio_track, true),
                };
                if first {
                    self.emit(match kind {
                        TrackKind::Video => Event::VideoStreamStarted,
                        TrackKind::Audio => Event::AudioStreamStarted,
                    });
                }
                if live.video_track && live.audio_track && live.start_pending {
                    live.start_pending = false;
                    self.outputs.push_back(Output::MediaReady);
                    if live.resume.take().is_some() {
                        self.emit(Event::Reconnected(live.info.session_id.clone()));
                    }
                }
            }
            Input::FirstFrame if !live.fired_play => {
                live.fired_play = true;
                self.emit(Event::VideoPlayStarted);
                self.release_mic();
            }
            _ => {}
        }
    }

    fn on_signal(&mut self, live: &mut Live, text: &str) {
        let msg = match sig::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.outputs
                    .push_back(Output::Warn(format!("ignoring a signalling frame: {e}")));
                return;
            }
        };
        match msg.action {
            SignalAction::Answer(desc) => {
                if live.neg.accept_answer() {
                    self.outputs
                        .push_back(Output::ApplyAnswer { sdp: desc.sdp });
                }
            }
            SignalAction::IceCandidate(c) => {
                if let Some(c) = live.neg.on_remote_candidate(c) {
                    self.outputs.push_back(Output::AddRemoteCandidate(c));
                }
            }
            SignalAction::Heartbeat => {}
            SignalAction::TalkInputStreamInterrupted(p) => {
                let generation = self.generation;
                for s in self.talk_streams.values_mut() {
                    if s.generation == generation && s.correlation_id == p.correlation_id {
                        s.state = TalkStreamState::Interrupted;
                    }
                }
                self.emit(Event::TalkStreamInterrupted(p.correlation_id));
            }
            SignalAction::SessionReady => {
                if !live.fired_ready {
                    live.fired_ready = true;
                    let id = if msg.session_id.is_empty() {
                        live.info.session_id.clone()
                    } else {
                        msg.session_id
                    };
                    self.emit(Event::SessionReady(id));
                }
            }
            SignalAction::Warning(text) => {
                self.outputs
                    .push_back(Output::Warn(format!("server warning: {text}")));
                self.emit(Event::ServerWarning(text));
            }
            SignalAction::EndSession(reason) => {
                self.close_with(
                    live,
                    ConnectionClosedCode::ServerClosedConnection,
                    Some(reason),
                );
            }
            other => {
                self.outputs.push_back(Output::Warn(format!(
                    "ignoring signalling action {}",
                    other.action_type()
                )));
            }
        }
    }

    /// A data-channel message of the live session `session_id` (taken out of `self.phase`).
    fn on_data(&mut self, session_id: &str, text: &str) {
        let msg = match ServerDataMessage::decode(text) {
            Ok(m) => m,
            Err(e) => {
                self.outputs.push_back(Output::Warn(format!(
                    "ignoring a data-channel message: {e}"
                )));
                return;
            }
        };
        match msg {
            ServerDataMessage::SpeechText(t) => {
                let event = history::stream_event(&t);
                let done = self.history.fold(&event);
                self.emit(Event::MessageStreamEventReceived(event));
                if done {
                    self.emit(Event::MessageHistoryUpdated(
                        self.history.messages().to_vec(),
                    ));
                }
            }
            ServerDataMessage::UserSpeechStarted(u) => self.emit(Event::UserSpeechStarted(
                u.user_action_correlation_id
                    .unwrap_or_else(|| "unknown".to_owned()),
            )),
            ServerDataMessage::UserSpeechEnded(u) => self.emit(Event::UserSpeechEnded(
                u.user_action_correlation_id
                    .unwrap_or_else(|| "unknown".to_owned()),
            )),
            ServerDataMessage::ReasoningText(t) => {
                let event = history::reasoning_event(&t);
                let done = history::fold_reasoning(&mut self.reasoning, &event);
                self.emit(Event::ReasoningStreamEventReceived(event));
                if done {
                    self.emit(Event::ReasoningHistoryUpdated(self.reasoning.clone()));
                }
            }
            ServerDataMessage::PersonaConfigUpdateApplied(p) => {
                let changed = crate::json::Object::new().with("changedFields", p.changed_fields);
                self.emit(Event::PersonaConfigUpdateApplied(
                    changed.into_value().to_json(),
                ));
            }
            ServerDataMessage::DirectorNoteCueApplied(d) => {
                let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "unknown".to_owned());
                self.emit(Event::DirectorNoteCueApplied {
                    cue_tag: or_unknown(d.cue_tag),
                    correlation_id: or_unknown(d.user_action_correlation_id),
                });
            }
            // Unknown kinds are ignored for forward compatibility (§11.1 item 10).
            other => {
                self.on_tool_message(session_id, &other);
            }
        }
    }

    fn apply_negotiation(&mut self, live: &mut Live, effects: Vec<NegotiationEffect>) {
        for effect in effects {
            match effect {
                NegotiationEffect::CreateOffer { ice_restart } => {
                    self.outputs.push_back(Output::CreateOffer { ice_restart })
                }
                NegotiationEffect::AddRemoteCandidate(c) => {
                    self.outputs.push_back(Output::AddRemoteCandidate(c))
                }
                NegotiationEffect::SendCandidate(c) => {
                    self.live_signal(live, SignalAction::IceCandidate(c))
                }
                NegotiationEffect::ForceNewSocket => {
                    self.next_socket += 1;
                    let mut cmds = Vec::new();
                    live.signalling.force_reconnect(self.next_socket, &mut cmds);
                    self.outputs.extend(cmds.into_iter().map(Output::Socket));
                }
                NegotiationEffect::CheckSocket => {
                    if live.signalling.is_dead() {
                        // The signalling layer already reported the end (§8.5 step 2).
                        live.neg.abandon_restart();
                    } else if live.signalling.is_open() {
                        let more = live.neg.on_socket_open(self.now);
                        self.apply_negotiation(live, more);
                    }
                }
                NegotiationEffect::Fatal => {
                    return self.close_with(
                        live,
                        ConnectionClosedCode::WebrtcFailure,
                        Some("ICE restart attempts exhausted".to_owned()),
                    );
                }
            }
        }
    }

    /// Ends the live session with `code` (fires `CONNECTION_CLOSED` once) and tears down, or
    /// hands it to the automatic resume.
    fn close_with(&mut self, live: &mut Live, code: ConnectionClosedCode, details: Option<String>) {
        if self.ended_generation == Some(self.generation) {
            return;
        }
        let resume = match live.resume.take() {
            // A resume try lost before its media arrived, whatever the cause: the next try.
            Some(r) => Some(r),
            // A session that was up, lost beyond what reconnection and ICE restarts save.
            None if self.config.auto_resume.is_some()
                && self.config.token == TokenSource::Provider
                && !live.start_pending
                && resume::is_resumable(code) =>
            {
                Some(Resume::new(code, details.clone()))
            }
            None => None,
        };
        if let Some(r) = resume {
            let mut cmds = Vec::new();
            live.signalling.stop(&mut cmds);
            self.outputs.extend(cmds.into_iter().map(Output::Socket));
            self.outputs.push_back(Output::SuspendForResume);
            self.mic_due = None;
            self.ended_generation = Some(self.generation);
            if self.permission == AudioPermissionState::Pending {
                // The shell drops the capture of the suspended session: ask again.
                self.permission = AudioPermissionState::NotRequested;
                self.request_mic();
            }
            return self.next_resume_try(r);
        }
        self.emit(Event::ConnectionClosed {
            code: code.as_str(),
            details: details.clone(),
        });
        if live.start_pending {
            live.start_pending = false;
            self.outputs
                .push_back(Output::StartFailed(StartFailure::Closed { code, details }));
        }
        self.shut_down(live);
        self.ended_generation = Some(self.generation);
    }

    fn shut_down(&mut self, live: &mut Live) {
        self.tools.clear();
        let mut cmds = Vec::new();
        live.signalling.stop(&mut cmds);
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
        self.mic_due = None;
        self.outputs.push_back(Output::Teardown);
        self.phase = Phase::Idle;
        self.release_pending_mic();
    }

    // -----------------------------------------------------------------------------------------
    // Sending

    fn live_session_id(&self) -> Result<String, CommandError> {
        match &self.phase {
            Phase::Live(live) => Ok(live.info.session_id.clone()),
            Phase::Starting(_) => Err(CommandError("Session is not started yet")),
            Phase::Idle => Err(CommandError("Not streaming: start a session first")),
        }
    }

    /// Sends each `inbound-rtp` entry as a `remote_rtp_stats` message (§8.7); the other entries
    /// are not the server's business. Stats are best effort: without an open data channel they
    /// are dropped without a warning.
    fn send_rtp_stats(&mut self, entries: &[String]) {
        if !matches!(&self.phase, Phase::Live(live) if live.data_channel_open) {
            return;
        }
        for text in entries {
            let Ok(data) = crate::json::parse(text) else {
                continue;
            };
            if data.get("type").and_then(crate::json::Value::as_str) != Some("inbound-rtp") {
                continue;
            }
            let msg = ClientDataMessage::RemoteRtpStats(RemoteRtpStats { data });
            self.outputs.push_back(Output::SendData(msg.encode()));
        }
    }

    fn send_data(&mut self, text: String) {
        if let Phase::Live(live) = &self.phase {
            if live.data_channel_open {
                self.outputs.push_back(Output::SendData(text));
            } else {
                self.outputs.push_back(Output::Warn(
                    "data channel is not open; message dropped".to_owned(),
                ));
            }
        }
    }

    /// Sends a signalling action from a command (the session is in `self.phase`).
    fn signal(&mut self, action: SignalAction) {
        if let Phase::Live(live) = &mut self.phase {
            let text = SignalMessage::new(live.info.session_id.clone(), action).encode();
            let mut cmds = Vec::new();
            live.signalling.send(text, &mut cmds);
            self.outputs.extend(cmds.into_iter().map(Output::Socket));
        }
    }

    /// Sends a signalling action while the live session is taken out of `self.phase`.
    fn live_signal(&mut self, live: &mut Live, action: SignalAction) {
        let text = SignalMessage::new(live.info.session_id.clone(), action).encode();
        let mut cmds = Vec::new();
        live.signalling.send(text, &mut cmds);
        self.outputs.extend(cmds.into_iter().map(Output::Socket));
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Emit(event));
    }
}

#[cfg(test)]
mod tests;
