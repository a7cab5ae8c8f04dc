//! The machine's vocabulary: what the shell feeds it ([`Input`]), what it asks the shell to do
//! ([`Output`]), and the small values its commands return.

use super::*;

/// Which remote track arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// The persona's video track.
    Video,
    /// The persona's audio track.
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
    /// Start-session request `request` got an HTTP answer.
    StartSessionAnswered {
        /// Which request this answers ([`Output::StartSession`], [`Session::prefetched`]).
        request: u32,
        /// HTTP status code.
        status: u16,
        /// Response body text.
        body: String,
    },
    /// Start-session request `request` never got an answer (network error, abort).
    StartSessionUnreachable {
        /// Which request failed.
        request: u32,
        /// The browser's error message, for logs and `details.cause`.
        detail: String,
    },
    /// The signalling socket with this id finished its handshake.
    SocketOpened(u32),
    /// The signalling socket `socket` closed.
    SocketClosed {
        /// Id of the socket, from [`SocketCommand::Open`].
        socket: u32,
        /// WebSocket close code.
        code: u16,
        /// WebSocket close reason; may be empty.
        reason: String,
    },
    /// A text frame arrived on the signalling socket `socket`.
    SocketMessage {
        /// Id of the socket, from [`SocketCommand::Open`].
        socket: u32,
        /// The frame text, one signalling envelope (§7.2).
        text: String,
    },
    /// The peer connection could not be created or the first offer failed.
    PeerConnectionFailed(String),
    /// `createOffer` + `setLocalDescription` succeeded.
    LocalOffer {
        /// The local offer SDP, to send as an `offer` signal.
        sdp: String,
    },
    /// `createOffer` or `setLocalDescription` failed, with the browser's message.
    OfferFailed(String),
    /// A local ICE candidate was gathered (the final null candidate is not reported).
    LocalCandidate(IceCandidate),
    /// `setRemoteDescription(answer)` succeeded.
    AnswerApplied,
    /// `setRemoteDescription(answer)` failed, with the browser's message.
    AnswerFailed(String),
    /// `iceConnectionState` changed (the browser's string).
    IceConnectionState(String),
    /// `connectionState` became `closed` without our teardown.
    PeerConnectionClosed,
    /// The `session` data channel opened; sends are possible from now on.
    DataChannelOpen,
    /// The `session` data channel closed.
    DataChannelClosed,
    /// A text frame arrived on the data channel (§9.2).
    DataChannelMessage(String),
    /// A remote media track arrived.
    RemoteTrack(TrackKind),
    /// The target `<video>` presented its first frame.
    FirstFrame,
    /// The user allowed microphone access.
    MicGranted,
    /// Microphone access was refused or failed, with the browser's message.
    MicDenied(String),
    /// A microphone (or app-provided) track is now on the audio sender.
    InputAudioAttached,
    /// `changeAudioInputDevice` succeeded.
    InputDeviceChanged(String),
    /// `onStart` of a tool handler finished (see [`Output::RunToolHandler`]).
    ToolStartHandled {
        /// The call whose `onStart` finished.
        tool_call_id: String,
        /// What the handler returned or threw.
        outcome: tools::HandlerOutcome,
    },
    /// The stats asked for by [`Output::CollectRtpStats`]: each entry as the browser's JSON.
    RtpStats(Vec<String>),
    /// The `/talk` request `call` (see [`Output::SendTalk`]) was answered with `status`.
    TalkAnswered {
        /// Which `talk()` call this answers.
        call: u32,
        /// HTTP status code.
        status: u16,
    },
    /// The `/talk` request `call` got no answer (network failure, CORS, abort).
    TalkUnreachable {
        /// Which `talk()` call failed.
        call: u32,
        /// The browser's error message.
        detail: String,
    },
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
        /// Why the connection closed.
        code: ConnectionClosedCode,
        /// Extra text from the server or the browser; absent when there is none.
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
    /// POST the start-session request; report its answer, whenever it comes, even after the
    /// session stopped: a request the machine no longer wants may have created a session on
    /// the server, which it then ends (see [`Output::Throwaway`]).
    StartSession {
        /// Request id, unique for the client's lifetime, echoed back in the answer.
        request: u32,
        /// Start-session endpoint (§3.1).
        url: String,
        /// Session token for the `Authorization: Bearer` header.
        token: String,
        /// JSON request body.
        body: String,
    },
    /// Abort the in-flight start-session request (its timeout passed).
    AbortStartSession {
        /// The request to abort.
        request: u32,
    },
    /// Open or close a socket that only ends a session nobody wants: a start-session request
    /// answered after the start was given up (or a prefetched one that did not match) created
    /// it. The protocol has no end-session call: a client ends a session by opening its
    /// signalling socket and closing it with 1000 (§7.3). Aborting the request instead could
    /// leave a session on the server whose id the client never learns. The socket reports
    /// [`Input::SocketOpened`] / [`Input::SocketClosed`] like a session's; `Close` drops it.
    Throwaway(SocketCommand),
    /// The Core API accepted the session: `streamToVideoElement()` resolves.
    SessionStarted {
        /// Id the Core API assigned to the session.
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
        /// ICE servers from the start-session answer, as a JSON array for `RTCConfiguration`.
        ice_servers_json: String,
        /// `iceTransportPolicy` (e.g. `relay`); absent for the browser default.
        ice_transport_policy: Option<String>,
    },
    /// `createOffer` (+ rollback first when not stable) and `setLocalDescription`; report
    /// [`Input::LocalOffer`] or [`Input::OfferFailed`].
    CreateOffer {
        /// Whether this offer restarts ICE (§8.5).
        ice_restart: bool,
    },
    /// Give the `<video>` the peer connection's remote tracks and watch for its first frame.
    /// Issued when an offer has gone out on the socket (again after a reconnect; the shell
    /// does it once per connection): setting the element up holds the main thread for about
    /// 100 ms in a browser that has not played a WebRTC track yet, which delays nothing while
    /// the answer travels, and the tracks still reach the element before any media (a frame
    /// that comes first is dropped).
    ShowVideo,
    /// `setRemoteDescription(answer)`; report [`Input::AnswerApplied`] / [`Input::AnswerFailed`].
    ApplyAnswer {
        /// The answer SDP received on signalling.
        sdp: String,
    },
    /// `addIceCandidate`; failures are only logged.
    AddRemoteCandidate(IceCandidate),
    /// Open, send on or close a signalling socket.
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
    /// Deliver a public event to the app's listeners (§10.6).
    Emit(Event),
    /// A console warning.
    Warn(String),
    /// Run the `stage` handler registered for `event.tool_name`, if any, with `event`; after
    /// `onStart` the shell reports back with [`Input::ToolStartHandled`].
    RunToolHandler {
        /// Which handler callback to run.
        stage: ToolStage,
        /// The tool-call event passed to the handler.
        event: ToolCallEvent,
    },
    /// Collect the peer connection's stats and report them with [`Input::RtpStats`] (§8.7).
    CollectRtpStats,
    /// POST `body` to `url` for `talk()` call `call` now; report the status with
    /// [`Input::TalkAnswered`] (the body is not needed) or [`Input::TalkUnreachable`].
    SendTalk {
        /// Id of the `talk()` call, echoed back in the answer.
        call: u32,
        /// Engine `talk` endpoint (§4).
        url: String,
        /// JSON request body.
        body: String,
    },
    /// Call `call` had no answer in time: abort its request (its promise is already settled).
    AbortTalk {
        /// The call to abort.
        call: u32,
    },
    /// Settle the promise of `stream…()` call `call` (see [`Session::start_call`]).
    SettleCall {
        /// Id of the `stream…()` call.
        call: u32,
        /// How the call's promise settles.
        settlement: CallSettlement,
    },
    /// Settle the promise of `talk()` call `call`: `Err` holds the message of its `Error`.
    TalkSettled {
        /// Id of the `talk()` call.
        call: u32,
        /// `Ok` resolves the promise; `Err` rejects it with that message.
        result: Result<(), String>,
    },
}

/// `InputAudioState` of §10.9, serialized with camelCase keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputAudioState {
    /// Whether the microphone tracks are disabled.
    pub is_muted: bool,
    /// Where the microphone permission request stands.
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
