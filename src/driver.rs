//! The driver: owns the core session and every IO handle of one client, feeds browser events to
//! the core and executes what it decides.
//!
//! Browser callbacks and async completions call [`Driver::input`]; app calls use the core's
//! command methods and then [`Driver::pump`]. The pump drains the core's outputs one at a time
//! without holding any borrow while an output runs, so an app listener may call back into the
//! client; a nested pump returns at once and the outer loop executes the new outputs in order.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::{Rc, Weak};

use anam_core::errors::ErrorCode;
use anam_core::session::events::Event;
use anam_core::session::history::Message;
use anam_core::session::signalling::SocketCommand;
use anam_core::session::tools::{ToolCallEvent, ToolStage};
use anam_core::session::{Input, Output, Session, StartFailure, StartOutcome, TrackKind};
use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, AbortSignal, HtmlVideoElement, MediaStream};

use crate::autoplay::{start_playback, unmute_and_play, PlayOutcome};
use crate::errors::{cause_details, client_error, plain_error};
use crate::io::http::{describe_js_error, get, post_json, set};
use crate::io::listener::Listener;
use crate::io::media::{audio_tracks, capture_microphone, set_enabled, stop_all};
use crate::io::now;
use crate::io::peer::{attach_input, configuration, Peer, PeerEvent};
use crate::io::socket::{Socket, SocketEvent};
use crate::io::timer::Timeout;
use crate::options::{ShellOptions, StatsReportFormat};
use crate::state::StateStore;
use crate::tool_handlers::{start_outcome, ToolHandlers};

/// Which promise a pending `stream…()` call returned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// `streamToVideoElement`: resolves when the session has started.
    Element,
    /// `stream`: resolves with the remote streams once video and audio arrived.
    Streams,
}

struct Pending {
    /// Identifies the call for its abort signal.
    id: u32,
    kind: PendingKind,
    resolve: Function,
    reject: Function,
}

/// What a `stream…()` call passed as its last argument.
#[derive(Default)]
pub struct StartArgs {
    pub user_audio: Option<MediaStream>,
    pub signal: Option<AbortSignal>,
}

/// How long a microphone request waits for the first frame at most (see
/// `Driver::request_mic_after_first_frame`).
const MIC_FALLBACK_MS: u32 = 2_000;

/// `requestVideoFrameCallback` registration, cancelled when dropped.
struct FrameCallback {
    video: HtmlVideoElement,
    handle: JsValue,
    _closure: Closure<dyn FnMut(JsValue, JsValue)>,
}

impl Drop for FrameCallback {
    fn drop(&mut self) {
        if let Ok(cancel) = get(&self.video, "cancelVideoFrameCallback").dyn_into::<Function>() {
            let _ = cancel.call1(&self.video, &self.handle);
        }
    }
}

/// Every browser handle of the client. Per-session parts are dropped on teardown.
#[derive(Default)]
struct Io {
    provider: Option<Function>,
    provider_error: Option<JsValue>,
    shell: ShellOptions,
    disable_input_audio: bool,
    /// Bumped on every teardown; async completions of older generations are dropped.
    generation: u64,
    start_abort: Option<(u32, AbortController)>,
    /// Numbers the start-session requests, so an abandoned one is recognised when it ends.
    start_request: u64,
    abandoned_request: u64,
    pending: Vec<Pending>,
    next_pending: u32,
    /// `abort` listeners of the calls' signals and the window's `pagehide` listener: they live
    /// as long as the session (a resume keeps them), so an abort after streaming ends it too.
    session_listeners: Vec<Listener>,
    video_element: Option<HtmlVideoElement>,
    user_audio: Option<MediaStream>,
    mic: Option<MediaStream>,
    /// Remote streams in track arrival order.
    remote: Vec<(TrackKind, MediaStream)>,
    peer: Option<Peer>,
    socket: Option<Socket>,
    frame_callback: Option<FrameCallback>,
    /// Set while the microphone request waits for the first frame; holds its fallback timer.
    mic_waiting: Option<Timeout>,
}

pub struct Driver {
    core: RefCell<Session>,
    io: RefCell<Io>,
    /// Callbacks by event name (a few names: a vector is smaller in wasm than a tree map).
    listeners: RefCell<Vec<(String, Vec<Function>)>>,
    pumping: Cell<bool>,
    timer: RefCell<Option<Timeout>>,
    pub tool_handlers: Rc<ToolHandlers>,
    store: RefCell<StateStore>,
    /// `getState` / `subscribe` as functions bound to this client, made on first use.
    bound: RefCell<Option<BoundApi>>,
    this: Weak<Driver>,
}

/// The store's functions as the client's properties hand them out: bound, so that
/// `useSyncExternalStore(client.subscribe, client.getState)` works, and the same function
/// objects every time, so that React does not resubscribe on each render.
struct BoundApi {
    get_state: Closure<dyn Fn() -> JsValue>,
    subscribe: Closure<dyn Fn(JsValue) -> Result<JsValue, JsValue>>,
}

impl Driver {
    pub fn new(core: Session, provider: Option<Function>, shell: ShellOptions) -> Rc<Driver> {
        let disable_input_audio = core.config().disable_input_audio;
        let store = RefCell::new(StateStore::new(&core));
        Rc::new_cyclic(|this| Driver {
            core: RefCell::new(core),
            io: RefCell::new(Io {
                provider,
                shell,
                disable_input_audio,
                ..Io::default()
            }),
            listeners: RefCell::new(Vec::new()),
            pumping: Cell::new(false),
            timer: RefCell::new(None),
            tool_handlers: Rc::default(),
            store,
            bound: RefCell::new(None),
            this: this.clone(),
        })
    }

    /// Read access to the core (for queries; never held across a call into JS).
    pub fn core(&self) -> std::cell::Ref<'_, Session> {
        self.core.borrow()
    }

    /// Runs a command on the core, then executes its outputs.
    pub fn command<T>(&self, f: impl FnOnce(&mut Session) -> T) -> T {
        let result = f(&mut self.core.borrow_mut());
        self.pump();
        result
    }

    /// Feeds one browser event.
    pub fn input(&self, input: Input) {
        self.core.borrow_mut().handle_input(now(), input);
        self.pump();
    }

    /// Executes outputs until the core has none, then re-arms the timer.
    pub fn pump(&self) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.core.borrow_mut().poll_output();
            match next {
                Some(output) => {
                    // Before executing: event listeners read the state the event implies.
                    {
                        let mut store = self.store.borrow_mut();
                        store.on_output(&output);
                        store.sync(&self.core.borrow());
                    }
                    self.execute(output);
                }
                None => break,
            }
        }
        // Commands may change the state without any output (muting before a session).
        self.store.borrow_mut().sync(&self.core.borrow());
        self.pumping.set(false);
        self.rearm_timer();
        self.notify_subscribers();
    }

    fn notify_subscribers(&self) {
        let Some(subscribers) = self.store.borrow_mut().take_notification() else {
            return;
        };
        for listener in subscribers.iter() {
            if let Some(f) = listener.dyn_ref::<Function>() {
                if let Err(e) = f.call0(&JsValue::NULL) {
                    web_sys::console::error_2(&JsValue::from_str("a state subscriber threw"), &e);
                }
            }
        }
    }

    /// `getState()`: the current frozen snapshot.
    pub fn state_snapshot(&self) -> JsValue {
        self.store.borrow_mut().snapshot()
    }

    /// `client.getState` / `client.subscribe`: `subscribe = true` for the latter.
    pub fn bound_function(&self, subscribe: bool) -> JsValue {
        let mut bound = self.bound.borrow_mut();
        let api = bound.get_or_insert_with(|| {
            let weak = self.this.clone();
            let get_state = Closure::<dyn Fn() -> JsValue>::new(move || {
                weak.upgrade()
                    .map(|d| d.state_snapshot())
                    .unwrap_or(JsValue::UNDEFINED)
            });
            let weak = self.this.clone();
            let subscribe = Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(
                move |listener: JsValue| match weak.upgrade() {
                    Some(d) => d.store.borrow_mut().subscribe(listener).map(JsValue::from),
                    None => Err(plain_error("The client was freed")),
                },
            );
            BoundApi {
                get_state,
                subscribe,
            }
        });
        if subscribe {
            api.subscribe.as_ref().clone()
        } else {
            api.get_state.as_ref().clone()
        }
    }

    fn rearm_timer(&self) {
        let deadline = self.core.borrow().poll_timeout();
        let timer = deadline.and_then(|at| {
            let delay = at.saturating_sub(now());
            let weak = self.this.clone();
            Timeout::new(u32::try_from(delay).unwrap_or(u32::MAX), move || {
                if let Some(d) = weak.upgrade() {
                    d.input(Input::Tick);
                }
            })
        });
        *self.timer.borrow_mut() = timer;
    }

    /// Spawns `fut`; its result is fed back only if the session generation did not change.
    fn spawn_for_session<F>(&self, fut: F, map: impl FnOnce(F::Output) -> Option<Input> + 'static)
    where
        F: Future + 'static,
    {
        self.spawn_then(fut, move |d, out| {
            if let Some(input) = map(out) {
                d.input(input);
            }
        });
    }

    /// Spawns `fut`, then runs `then` with its result only if the session generation did not
    /// change meanwhile.
    fn spawn_then<F>(&self, fut: F, then: impl FnOnce(&Driver, F::Output) + 'static)
    where
        F: Future + 'static,
    {
        let weak = self.this.clone();
        let generation = self.io.borrow().generation;
        wasm_bindgen_futures::spawn_local(async move {
            let out = fut.await;
            let Some(d) = weak.upgrade() else { return };
            if d.io.borrow().generation != generation {
                return;
            }
            then(&d, out);
        });
    }

    // -----------------------------------------------------------------------------------------
    // App calls

    /// Starts a session for `stream()` (`kind = Streams`) or `streamToVideoElement()`, or
    /// joins the one already starting or live.
    pub fn start(
        &self,
        kind: PendingKind,
        element: Option<HtmlVideoElement>,
        args: StartArgs,
    ) -> Promise {
        if args.signal.as_ref().is_some_and(AbortSignal::aborted) {
            // Aborted before the call: no token, no request, nothing to undo.
            return Promise::reject(&abort_error());
        }
        let disable = self.io.borrow().disable_input_audio;
        let user_audio = match args.user_audio {
            Some(_) if disable => {
                warn("disableInputAudio is set: the provided input stream is ignored");
                None
            }
            Some(s) if audio_tracks(&s).is_empty() => {
                return Promise::reject(&plain_error(
                    "The provided input stream has no audio track",
                ));
            }
            other => other,
        };
        let outcome = self.core.borrow_mut().start(now(), user_audio.is_some());
        if outcome == StartOutcome::Started {
            self.store.borrow_mut().on_start();
        }
        let mut resolve_reject = None;
        let promise = Promise::new(&mut |resolve, reject| resolve_reject = Some((resolve, reject)));
        let id = {
            let mut io = self.io.borrow_mut();
            io.next_pending += 1;
            io.next_pending
        };
        match outcome {
            StartOutcome::Started => {
                let mut io = self.io.borrow_mut();
                io.video_element = element;
                io.user_audio = user_audio;
                io.provider_error = None;
                io.session_listeners.clear();
                if let Some(window) = web_sys::window() {
                    let weak = self.this.clone();
                    // The server session must not outlive the page: close socket and peer
                    // connection while the page can still run code (see README, pagehide).
                    io.session_listeners
                        .push(Listener::new(&window, "pagehide", move |_| {
                            if let Some(d) = weak.upgrade() {
                                d.command(|s| s.stop(now()));
                            }
                        }));
                }
            }
            StartOutcome::Joined => self.join(element, user_audio.is_some()),
        }
        if let Some(signal) = &args.signal {
            let weak = self.this.clone();
            let listener = Listener::new(signal, "abort", move |_| {
                if let Some(d) = weak.upgrade() {
                    d.on_abort(id);
                }
            });
            self.io.borrow_mut().session_listeners.push(listener);
        }
        if let Some((resolve, reject)) = resolve_reject {
            self.io.borrow_mut().pending.push(Pending {
                id,
                kind,
                resolve,
                reject,
            });
        }
        if outcome == StartOutcome::Joined {
            // The shared session may already be where this call resolves.
            let core = self.core.borrow();
            let ready = match kind {
                PendingKind::Element => core.session_id().is_some(),
                PendingKind::Streams => core.media_ready(),
            };
            drop(core);
            if ready {
                let value = match kind {
                    PendingKind::Element => JsValue::UNDEFINED,
                    PendingKind::Streams => self.remote_streams(),
                };
                self.settle(kind, Ok(value));
            }
        }
        self.pump();
        promise
    }

    /// A call that shares the session under way: it may bring the `<video>` the first call
    /// (a `stream()`) did not have; its own input stream cannot replace the one in use.
    fn join(&self, element: Option<HtmlVideoElement>, has_user_audio: bool) {
        if has_user_audio {
            warn("a session is already starting or live: the provided input stream is ignored");
        }
        let adopted = {
            let mut io = self.io.borrow_mut();
            match (&io.video_element, element) {
                (None, Some(video)) => {
                    io.video_element = Some(video);
                    true
                }
                (Some(current), Some(other)) if current != &other => {
                    warn("a session is already starting or live: it keeps its video element");
                    false
                }
                _ => false,
            }
        };
        if adopted {
            self.show_video();
        }
    }

    /// The abort signal of call `id` fired. While other calls still wait for the shared
    /// session, only this call gives up; otherwise the session ends (in any state).
    fn on_abort(&self, id: u32) {
        let (mine, others_wait) = {
            let mut io = self.io.borrow_mut();
            let mine = io
                .pending
                .iter()
                .position(|p| p.id == id)
                .map(|i| io.pending.remove(i));
            (mine, !io.pending.is_empty())
        };
        let waiting = mine.is_some();
        if let Some(p) = mine {
            let _ = p.reject.call1(&JsValue::NULL, &abort_error());
        }
        if !(waiting && others_wait) {
            self.command(|s| s.stop(now()));
        }
    }

    fn remote_streams(&self) -> JsValue {
        let streams: Array = self
            .io
            .borrow()
            .remote
            .iter()
            .map(|(_, s)| JsValue::from(s))
            .collect();
        streams.into()
    }

    /// `addListener`: set semantics, the same callback is stored once per event.
    pub fn add_listener(&self, event: String, callback: Function) {
        let mut map = self.listeners.borrow_mut();
        match map.iter_mut().find(|(name, _)| *name == event) {
            Some((_, list)) => {
                if !list.iter().any(|f| f == &callback) {
                    list.push(callback);
                }
            }
            None => map.push((event, vec![callback])),
        }
    }

    pub fn remove_listener(&self, event: &str, callback: &Function) {
        if let Some((_, list)) = self
            .listeners
            .borrow_mut()
            .iter_mut()
            .find(|(name, _)| name == event)
        {
            list.retain(|f| f != callback);
        }
    }

    /// `changeAudioInputDevice`: captures `device_id` and swaps it onto the sender.
    pub async fn change_input_device(self: Rc<Self>, device_id: String) -> Result<(), JsValue> {
        let generation = self.io.borrow().generation;
        let stream = capture_microphone(Some(&device_id)).await.map_err(|e| {
            plain_error(&format!(
                "Failed to change the audio input device: {}",
                describe_js_error(&e)
            ))
        })?;
        let muted = self.core.borrow().input_audio_state().is_muted;
        set_enabled(&stream, !muted);
        let sender = {
            let mut io = self.io.borrow_mut();
            if io.generation != generation {
                stop_all(&stream);
                return Err(plain_error("The session ended during the device change"));
            }
            // Not a copy of the tracks (see clippy.toml on `MediaStream::clone`).
            if let Some(old) = io.mic.replace(Clone::clone(&stream)) {
                stop_all(&old);
            }
            io.peer.as_ref().map(Peer::audio_sender)
        };
        if let (Some(sender), Some(track)) = (sender, audio_tracks(&stream).into_iter().next()) {
            attach_input(sender, track).await.map_err(|e| {
                plain_error(&format!(
                    "Failed to change the audio input device: {}",
                    describe_js_error(&e)
                ))
            })?;
        }
        self.input(Input::InputDeviceChanged(device_id));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Outputs

    fn execute(&self, output: Output) {
        match output {
            Output::FetchToken => self.fetch_token(),
            Output::StartSession {
                attempt,
                url,
                token,
                body,
            } => self.start_session_request(attempt, url, token, body),
            Output::AbandonStartSession { attempt } => {
                let mut io = self.io.borrow_mut();
                if io.start_abort.as_ref().is_some_and(|(a, _)| *a == attempt) {
                    // Not aborted: the request finishes and `end_abandoned` ends its session.
                    io.start_abort = None;
                    io.abandoned_request = io.start_request;
                }
            }
            Output::AbortStartSession { attempt } => {
                let mut io = self.io.borrow_mut();
                if let Some((a, c)) = io.start_abort.take() {
                    if a == attempt {
                        c.abort();
                    } else {
                        io.start_abort = Some((a, c));
                    }
                }
            }
            Output::SessionStarted { .. } => {
                self.io.borrow_mut().start_abort = None;
                self.settle(PendingKind::Element, Ok(JsValue::UNDEFINED));
            }
            Output::MediaReady => {
                let streams = self.remote_streams();
                self.settle(PendingKind::Streams, Ok(streams));
            }
            Output::StartFailed(failure) => {
                let error = self.start_error(&failure);
                self.settle(PendingKind::Element, Err(error.clone()));
                self.settle(PendingKind::Streams, Err(error));
            }
            Output::RequestMic => self.request_mic_after_first_frame(),
            Output::CreatePeerConnection {
                ice_servers_json,
                ice_transport_policy,
            } => self.create_peer(&ice_servers_json, ice_transport_policy.as_deref()),
            Output::CreateOffer { ice_restart } => {
                let fut = self.io.borrow().peer.as_ref().map(|p| {
                    // Setting the `<video>` up takes the main thread several ms. Done while
                    // the browser creates the offer, it no longer delays the handling of the
                    // answer (interleaved runs: the first frame 3 and 8 ms sooner), and the
                    // element is still ready for the first frame (see Peer::remote_stream).
                    let weak = self.this.clone();
                    p.create_offer(ice_restart, move || {
                        if let Some(d) = weak.upgrade() {
                            d.show_video();
                        }
                    })
                });
                match fut {
                    Some(fut) => self.spawn_then(fut, |d, r| match r {
                        Ok(sdp) => {
                            d.input(Input::LocalOffer { sdp });
                        }
                        Err(e) => d.input(Input::OfferFailed(describe_js_error(&e))),
                    }),
                    None => self.input(Input::OfferFailed("no peer connection".to_owned())),
                }
            }
            Output::ApplyAnswer { sdp } => {
                let fut = self.io.borrow().peer.as_ref().map(|p| p.apply_answer(&sdp));
                if let Some(fut) = fut {
                    self.spawn_for_session(fut, |r| {
                        Some(match r {
                            Ok(()) => Input::AnswerApplied,
                            Err(e) => Input::AnswerFailed(describe_js_error(&e)),
                        })
                    });
                }
            }
            Output::AddRemoteCandidate(c) => {
                let fut = self
                    .io
                    .borrow()
                    .peer
                    .as_ref()
                    .map(|p| p.add_remote_candidate(&c));
                if let Some(fut) = fut {
                    // Each candidate stands alone; a bad one is only logged (§8.3 item 3).
                    self.spawn_for_session(fut, |r| {
                        if let Err(e) = r {
                            warn(&format!(
                                "addIceCandidate failed: {}",
                                describe_js_error(&e)
                            ));
                        }
                        None
                    });
                }
            }
            Output::Socket(cmd) => self.socket_command(cmd),
            Output::SendData(text) => {
                if let Some(p) = self.io.borrow().peer.as_ref() {
                    p.send_data(&text);
                }
            }
            Output::ApplyMute(muted) => {
                let io = self.io.borrow();
                for s in [&io.mic, &io.user_audio].into_iter().flatten() {
                    set_enabled(s, !muted);
                }
            }
            Output::Teardown => self.teardown(),
            Output::SuspendForResume => self.suspend_for_resume(),
            Output::Emit(event) => self.emit(event),
            Output::Warn(text) => warn(&text),
            Output::RunToolHandler { stage, event } => self.run_tool_handler(stage, &event),
            Output::SendRtpStats => self.send_rtp_stats(),
        }
    }

    fn start_session_request(&self, attempt: u32, url: String, token: String, body: String) {
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        let (request, generation) = {
            let mut io = self.io.borrow_mut();
            io.start_request += 1;
            if let Some(c) = controller {
                io.start_abort = Some((attempt, c));
            }
            (io.start_request, io.generation)
        };
        let weak = self.this.clone();
        // Sent now, not when first polled (see post_json).
        let answer = post_json(&url, &body, Some(&token), signal.as_ref());
        wasm_bindgen_futures::spawn_local(async move {
            let result = answer.await;
            let Some(d) = weak.upgrade() else { return };
            if d.io.borrow().abandoned_request == request {
                if let Ok(answer) = result {
                    end_abandoned(answer.status, &answer.body);
                }
                return;
            }
            if d.io.borrow().generation != generation {
                return;
            }
            d.input(match result {
                Ok(answer) => Input::StartSessionAnswered {
                    attempt,
                    status: answer.status,
                    body: answer.body,
                },
                Err(e) => Input::StartSessionUnreachable {
                    attempt,
                    detail: describe_js_error(&e),
                },
            });
        });
    }

    fn run_tool_handler(&self, stage: ToolStage, event: &ToolCallEvent) {
        let Some(settled) = self.tool_handlers.call(
            &event.tool_name,
            stage.handler_key(),
            &json_to_js(&event.to_json()),
        ) else {
            return;
        };
        if stage == ToolStage::Start {
            let tool_call_id = event.tool_call_id.clone();
            self.spawn_for_session(settled, move |result| {
                Some(Input::ToolStartHandled {
                    tool_call_id,
                    outcome: start_outcome(result),
                })
            });
        } else {
            // onComplete / onFail only observe: a failure there is the app's bug, logged only.
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = settled.await {
                    web_sys::console::error_2(&JsValue::from_str("a tool call handler threw"), &e);
                }
            });
        }
    }

    /// Sends each `inbound-rtp` stats entry as a `remote_rtp_stats` message (§8.7).
    fn send_rtp_stats(&self) {
        let Some(stats) = self.io.borrow().peer.as_ref().map(Peer::stats) else {
            return;
        };
        self.spawn_then(stats, |d, stats| {
            let io = d.io.borrow();
            let (Ok(stats), Some(peer)) = (stats, io.peer.as_ref()) else {
                return;
            };
            for stat in stats {
                if get(&stat, "type").as_string().as_deref() == Some("inbound-rtp") {
                    let msg = Object::new();
                    set(&msg, "message_type", &JsValue::from_str("remote_rtp_stats"));
                    set(&msg, "data", &stat);
                    if let Some(text) = js_sys::JSON::stringify(&msg)
                        .ok()
                        .and_then(|t| t.as_string())
                    {
                        peer.send_data(&text);
                    }
                }
            }
        });
    }

    fn settle(&self, kind: PendingKind, result: Result<JsValue, JsValue>) {
        let settled: Vec<Pending> = {
            let mut io = self.io.borrow_mut();
            let (done, keep) = std::mem::take(&mut io.pending)
                .into_iter()
                .partition(|p| p.kind == kind);
            io.pending = keep;
            done
        };
        for p in settled {
            let _ = match &result {
                Ok(v) => p.resolve.call1(&JsValue::NULL, v),
                Err(e) => p.reject.call1(&JsValue::NULL, e),
            };
        }
    }

    fn start_error(&self, failure: &StartFailure) -> JsValue {
        match failure {
            StartFailure::TokenProvider => {
                if let Some(e) = self.io.borrow_mut().provider_error.take() {
                    return e;
                }
            }
            // stopStreaming(), an aborted signal or pagehide: the start was cancelled.
            StartFailure::Stopped => return abort_error(),
            _ => {}
        }
        let (code, status, message) = failure.describe();
        client_error(code, status, &message, cause_details(failure.cause()))
    }

    fn fetch_token(&self) {
        let provider = self.io.borrow().provider.clone();
        let Some(provider) = provider else {
            return self.input(Input::TokenFailed);
        };
        let returned = provider.call0(&JsValue::NULL);
        let weak = self.this.clone();
        let generation = self.io.borrow().generation;
        wasm_bindgen_futures::spawn_local(async move {
            let settled = match returned {
                Ok(v) => wasm_bindgen_futures::JsFuture::from(Promise::resolve(&v)).await,
                Err(e) => Err(e),
            };
            let Some(d) = weak.upgrade() else { return };
            if d.io.borrow().generation != generation {
                return;
            }
            let input = match settled.map(|v| v.as_string()) {
                Ok(Some(token)) => Input::Token(token),
                Ok(None) => {
                    d.io.borrow_mut().provider_error = Some(client_error(
                        ErrorCode::ConfigurationError,
                        400,
                        "The session token provider must resolve to a string",
                        None,
                    ));
                    Input::TokenFailed
                }
                Err(e) => {
                    d.io.borrow_mut().provider_error = Some(e);
                    Input::TokenFailed
                }
            };
            d.input(input);
        });
    }

    /// Asks for the microphone once the persona's first frame is shown. The browser's capture
    /// start-up, run while the connection is being set up, delayed the first frame by 5-12 ms
    /// in A/B runs; the user cannot talk to a persona not yet on screen anyway. Without a
    /// `<video>` to watch, it asks at once; if no frame is reported, after `MIC_FALLBACK_MS`.
    fn request_mic_after_first_frame(&self) {
        if self.io.borrow().video_element.is_none() {
            return self.request_mic();
        }
        let weak = self.this.clone();
        let fallback = Timeout::new(MIC_FALLBACK_MS, move || {
            if let Some(d) = weak.upgrade() {
                d.release_waiting_mic();
            }
        });
        match fallback {
            Some(t) => self.io.borrow_mut().mic_waiting = Some(t),
            None => self.request_mic(),
        }
    }

    /// The first frame is shown (or the fallback passed): the waiting request goes out.
    fn release_waiting_mic(&self) {
        if self.io.borrow_mut().mic_waiting.take().is_none() {
            return;
        }
        if self.io.borrow().mic.is_some() {
            // `changeAudioInputDevice` captured a device meanwhile: that capture stands.
            self.input(Input::MicGranted);
        } else {
            self.request_mic();
        }
    }

    fn request_mic(&self) {
        let device = self.io.borrow().shell.audio_device_id.clone();
        let weak = self.this.clone();
        let generation = self.io.borrow().generation;
        wasm_bindgen_futures::spawn_local(async move {
            let result = capture_microphone(device.as_deref()).await;
            let Some(d) = weak.upgrade() else {
                if let Ok(s) = &result {
                    stop_all(s);
                }
                return;
            };
            if d.io.borrow().generation != generation {
                // The session this capture was for is gone: release the device.
                if let Ok(s) = &result {
                    stop_all(s);
                }
                return;
            }
            match result {
                Ok(stream) => {
                    let muted = d.core.borrow().input_audio_state().is_muted;
                    set_enabled(&stream, !muted);
                    d.io.borrow_mut().mic = Some(stream);
                    d.input(Input::MicGranted);
                    d.attach_input_audio();
                }
                Err(e) => d.input(Input::MicDenied(describe_js_error(&e))),
            }
        });
    }

    /// Puts the current input stream (app's or microphone) on the audio sender, if both exist.
    fn attach_input_audio(&self) {
        let (sender, track) = {
            let io = self.io.borrow();
            let stream = io.user_audio.as_ref().or(io.mic.as_ref());
            (
                io.peer.as_ref().map(Peer::audio_sender),
                stream.and_then(|s| audio_tracks(s).into_iter().next()),
            )
        };
        if let (Some(sender), Some(track)) = (sender, track) {
            self.spawn_for_session(attach_input(sender, track), |r| match r {
                Ok(()) => Some(Input::InputAudioAttached),
                Err(e) => {
                    warn(&format!(
                        "attaching the input audio failed: {}",
                        describe_js_error(&e)
                    ));
                    None
                }
            });
        }
    }

    /// Creates the peer connection with the app's and the server's ICE settings (§8.1).
    fn create_peer(&self, ice_servers_json: &str, policy: Option<&str>) {
        let (config, send_audio) = {
            let io = self.io.borrow();
            (
                configuration(
                    io.shell.rtc_configuration.as_ref(),
                    io.shell.ice_servers.as_ref(),
                    ice_servers_json,
                    policy,
                ),
                !io.disable_input_audio,
            )
        };
        let weak = self.this.clone();
        let on: Rc<dyn Fn(PeerEvent)> = Rc::new(move |event| {
            if let Some(d) = weak.upgrade() {
                d.on_peer_event(event);
            }
        });
        match Peer::create(&config, send_audio, on) {
            Ok(p) => {
                self.io.borrow_mut().peer = Some(p);
                self.attach_input_audio();
            }
            Err(e) => self.input(Input::PeerConnectionFailed(describe_js_error(&e))),
        }
    }

    fn on_peer_event(&self, event: PeerEvent) {
        let input = match event {
            PeerEvent::LocalCandidate(c) => Input::LocalCandidate(c),
            PeerEvent::IceState(s) => Input::IceConnectionState(s),
            PeerEvent::ConnectionState(s) if s == "closed" => Input::PeerConnectionClosed,
            PeerEvent::ConnectionState(_) => return,
            PeerEvent::Track { kind, stream } => {
                let kind = match kind.as_str() {
                    "video" => TrackKind::Video,
                    "audio" => TrackKind::Audio,
                    _ => return,
                };
                if let Some(stream) = stream {
                    self.io.borrow_mut().remote.push((kind, stream));
                }
                Input::RemoteTrack(kind)
            }
            PeerEvent::DataChannelOpen => Input::DataChannelOpen,
            PeerEvent::DataChannelClosed => Input::DataChannelClosed,
            PeerEvent::DataChannelMessage(text) => Input::DataChannelMessage(text),
        };
        self.input(input);
    }

    /// Gives the target `<video>` the peer connection's remote stream (once per connection)
    /// and watches for its first frame.
    fn show_video(&self) {
        let (video, stream) = {
            let io = self.io.borrow();
            (
                io.video_element.clone(),
                // Not a copy of the tracks (see clippy.toml on `MediaStream::clone`).
                io.peer.as_ref().map(|p| Clone::clone(p.remote_stream())),
            )
        };
        let (Some(video), Some(stream)) = (video, stream) else {
            return;
        };
        if video.src_object().as_ref() == Some(&stream) {
            return;
        }
        video.set_src_object(Some(&stream));
        self.start_playback(video.clone());
        let Ok(request) = get(&video, "requestVideoFrameCallback").dyn_into::<Function>() else {
            return;
        };
        let weak = self.this.clone();
        let closure = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_, _| {
            if let Some(d) = weak.upgrade() {
                d.input(Input::FirstFrame);
                d.release_waiting_mic();
            }
        });
        if let Ok(handle) = request.call1(&video, closure.as_ref()) {
            self.io.borrow_mut().frame_callback = Some(FrameCallback {
                video,
                handle,
                _closure: closure,
            });
        }
    }

    /// Plays the element (the app's `autoplay` attribute is not relied on) and reports a
    /// refusal of sound as `AUTOPLAY_BLOCKED`. The event is the shell's alone: the session
    /// machine has no say in playback.
    fn start_playback(&self, video: HtmlVideoElement) {
        let weak = self.this.clone();
        let generation = self.io.borrow().generation;
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = start_playback(&video).await;
            let Some(d) = weak.upgrade() else { return };
            if d.io.borrow().generation != generation {
                return;
            }
            let playing_muted = match outcome {
                PlayOutcome::PlayingMuted => true,
                PlayOutcome::Blocked => false,
                PlayOutcome::Playing | PlayOutcome::Interrupted => return,
            };
            d.emit(Event::AutoplayBlocked { playing_muted });
        });
    }

    /// `unlock()`: unmutes the session's `<video>` and plays it with sound. Resolves at once
    /// when the client shows no video (before a session, or with `stream()`, whose elements
    /// belong to the app).
    pub fn unlock(&self) -> Promise {
        let video = self.io.borrow().video_element.clone();
        let Some(video) = video else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        let playing = unmute_and_play(video);
        wasm_bindgen_futures::future_to_promise(async move {
            playing.await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    fn socket_command(&self, cmd: SocketCommand) {
        match cmd {
            SocketCommand::Open { socket, url } => {
                let weak = self.this.clone();
                let on: Rc<dyn Fn(SocketEvent)> = Rc::new(move |event| {
                    let Some(d) = weak.upgrade() else { return };
                    d.input(match event {
                        SocketEvent::Open => Input::SocketOpened(socket),
                        SocketEvent::Close { code, reason } => Input::SocketClosed {
                            socket,
                            code,
                            reason,
                        },
                        SocketEvent::Message(text) => Input::SocketMessage { socket, text },
                    });
                });
                match Socket::open(socket, &url, on) {
                    Ok(s) => self.io.borrow_mut().socket = Some(s),
                    Err(e) => self.input(Input::SocketClosed {
                        socket,
                        code: 1006,
                        reason: describe_js_error(&e),
                    }),
                }
            }
            SocketCommand::Send { socket, text } => {
                if let Some(s) = self.io.borrow().socket.as_ref().filter(|s| s.id == socket) {
                    s.send(&text);
                }
            }
            SocketCommand::Close { socket } => {
                let old = {
                    let mut io = self.io.borrow_mut();
                    if io.socket.as_ref().is_some_and(|s| s.id == socket) {
                        io.socket.take()
                    } else {
                        None
                    }
                };
                drop(old);
            }
        }
    }

    /// Closes the lost session's connection for a resume; the `<video>`, the input audio (with
    /// its device and mute state) and the session listeners stay for the next session.
    fn suspend_for_resume(&self) {
        let (peer, socket, frame, abort) = {
            let mut io = self.io.borrow_mut();
            io.generation += 1;
            io.remote.clear();
            io.mic_waiting = None;
            (
                io.peer.take(),
                io.socket.take(),
                io.frame_callback.take(),
                io.start_abort.take(),
            )
        };
        if let Some((_, c)) = abort {
            c.abort();
        }
        drop(frame);
        drop(socket);
        drop(peer);
    }

    fn teardown(&self) {
        let (peer, socket, frame, mic, abort, video, listeners) = {
            let mut io = self.io.borrow_mut();
            io.generation += 1;
            io.remote.clear();
            io.user_audio = None;
            io.mic_waiting = None;
            (
                io.peer.take(),
                io.socket.take(),
                io.frame_callback.take(),
                io.mic.take(),
                io.start_abort.take(),
                io.video_element.take(),
                std::mem::take(&mut io.session_listeners),
            )
        };
        drop(listeners);
        if let Some((_, c)) = abort {
            c.abort();
        }
        if let Some(mic) = mic {
            stop_all(&mic);
        }
        drop(frame);
        drop(socket);
        let stats_report = self.io.borrow().shell.stats_report;
        match (peer, stats_report) {
            (Some(p), Some(format)) => print_stats_report(p, format),
            (peer, _) => drop(peer),
        }
        if let Some(v) = video {
            v.set_src_object(None);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Events

    fn emit(&self, event: Event) {
        let args = self.event_args(&event);
        let callbacks = self
            .listeners
            .borrow()
            .iter()
            .find(|(name, _)| name == event.name())
            .map(|(_, list)| list.clone())
            .unwrap_or_default();
        for cb in callbacks {
            if let Err(e) = cb.apply(&JsValue::NULL, &args) {
                web_sys::console::error_2(&JsValue::from_str("an event listener threw"), &e);
            }
        }
    }

    fn event_args(&self, event: &Event) -> Array {
        let io = self.io.borrow();
        let last = |kind: TrackKind| {
            io.remote
                .iter()
                .rev()
                .find(|(k, _)| *k == kind)
                .map(|(_, s)| JsValue::from(s))
                .unwrap_or(JsValue::UNDEFINED)
        };
        let text = |s: &str| JsValue::from_str(s);
        let args: Vec<JsValue> = match event {
            Event::MessageHistoryUpdated(messages) => {
                vec![json_to_js(&Message::list_to_json(messages))]
            }
            Event::MessageStreamEventReceived(e) => vec![json_to_js(&e.to_json())],
            Event::ReasoningStreamEventReceived(e) => vec![json_to_js(&e.to_json())],
            Event::ReasoningHistoryUpdated(messages) => {
                vec![json_to_js(&Message::list_to_json(messages))]
            }
            Event::PersonaConfigUpdateApplied(json) => {
                vec![js_sys::JSON::parse(json).unwrap_or(JsValue::UNDEFINED)]
            }
            Event::ClientToolEventReceived(e) => vec![json_to_js(&e.to_json())],
            Event::ToolCallStarted(e) | Event::ToolCallCompleted(e) | Event::ToolCallFailed(e) => {
                vec![json_to_js(&e.to_json())]
            }
            Event::DirectorNoteCueApplied {
                cue_tag,
                correlation_id,
            } => {
                let obj = Object::new();
                set(&obj, "cueTag", &text(cue_tag));
                set(&obj, "correlationId", &text(correlation_id));
                vec![obj.into()]
            }
            Event::ConnectionClosed { code, details } => vec![
                text(code),
                details.as_deref().map(text).unwrap_or(JsValue::UNDEFINED),
            ],
            Event::InputAudioStreamStarted => vec![io
                .user_audio
                .as_ref()
                .or(io.mic.as_ref())
                .map(JsValue::from)
                .unwrap_or(JsValue::UNDEFINED)],
            Event::VideoStreamStarted => vec![last(TrackKind::Video)],
            Event::AudioStreamStarted => vec![last(TrackKind::Audio)],
            Event::TalkStreamInterrupted(s)
            | Event::SessionReady(s)
            | Event::ServerWarning(s)
            | Event::MicPermissionDenied(s)
            | Event::InputAudioDeviceChanged(s)
            | Event::UserSpeechStarted(s)
            | Event::UserSpeechEnded(s) => vec![text(s)],
            Event::Reconnecting { attempt, reason } => {
                let info = Object::new();
                crate::io::http::set(&info, "attempt", &JsValue::from_f64(f64::from(*attempt)));
                crate::io::http::set(&info, "reason", &text(reason));
                vec![info.into()]
            }
            Event::Reconnected(id) => vec![text(id)],
            Event::AutoplayBlocked { playing_muted } => {
                let info = Object::new();
                crate::io::http::set(&info, "playingMuted", &JsValue::from_bool(*playing_muted));
                vec![info.into()]
            }
            Event::ConnectionEstablished
            | Event::DataChannelOpen
            | Event::VideoPlayStarted
            | Event::MicPermissionPending
            | Event::MicPermissionGranted => Vec::new(),
        };
        args.into_iter().collect()
    }
}

/// Ends the session an abandoned start-session request created: Anam's protocol has no
/// end-session call, a client ends a session by closing its signalling socket (§7.3), so the
/// socket is opened and closed with 1000 as soon as it is open. Nothing is reported back.
fn end_abandoned(status: u16, body: &str) {
    let Ok(info) = anam_core::errors::classify_start_session(status, body) else {
        return; // no session was created
    };
    // The socket keeps itself alive through its callback until it has opened (or failed).
    let slot: Rc<RefCell<Option<Socket>>> = Rc::new(RefCell::new(None));
    let inner = slot.clone();
    let on: Rc<dyn Fn(SocketEvent)> = Rc::new(move |event| {
        if matches!(event, SocketEvent::Open | SocketEvent::Close { .. }) {
            // Dropping the socket closes it with 1000 and detaches this callback.
            drop(inner.borrow_mut().take());
        }
    });
    if let Ok(socket) = Socket::open(0, &info.signalling_url(), on) {
        *slot.borrow_mut() = Some(socket);
    }
}

/// How long a session's connection stays open, detached, for its teardown stats report.
const STATS_REPORT_WAIT_MS: u32 = 2_000;

/// Prints the teardown stats report (`metrics.showPeerConnectionStatsReport`, §8.7).
///
/// The stats are asked for before the connection closes, and it closes once they are in (or
/// after [`STATS_REPORT_WAIT_MS`]): Firefox never settles a `getStats()` that is still pending
/// when its connection closes, so closing at once printed no report there.
fn print_stats_report(mut peer: Peer, format: StatsReportFormat) {
    peer.detach();
    let stats = peer.stats();
    let slot = Rc::new(RefCell::new(Some(peer)));
    let closer = {
        let slot = slot.clone();
        Timeout::new(STATS_REPORT_WAIT_MS, move || drop(slot.borrow_mut().take()))
    };
    wasm_bindgen_futures::spawn_local(async move {
        let stats = stats.await;
        drop(closer);
        drop(slot.borrow_mut().take());
        let Ok(stats) = stats else { return };
        let entries: Vec<anam_core::json::Value> = stats
            .iter()
            .filter_map(|s| js_sys::JSON::stringify(s).ok()?.as_string())
            .filter_map(|text| anam_core::json::parse(&text).ok())
            .collect();
        let report = anam_core::stats_report::StatsReport::from_stats(&entries);
        match format {
            StatsReportFormat::Console => {
                web_sys::console::log_1(&JsValue::from_str(&report.to_text()))
            }
            StatsReportFormat::Json => web_sys::console::log_2(
                &JsValue::from_str("Anam peer connection stats report"),
                &json_to_js(&report.to_value()),
            ),
        }
    });
}

/// A JSON value as a fresh JS value: `JSON.parse` of its text is smaller in wasm than building
/// the objects field by field.
pub fn json_to_js(value: &anam_core::json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_json()).unwrap_or(JsValue::UNDEFINED)
}

/// A JS number as a JSON number, through JS's own number-to-text (`JSON.stringify` of a number
/// is its `toString()`), so no float formatting is needed here; `None` for NaN and ±Infinity,
/// which JSON cannot hold, and for anything that is not a number.
pub fn js_number(value: &JsValue) -> Option<anam_core::json::Number> {
    value.as_f64()?;
    let text = js_sys::JSON::stringify(value).ok()?.as_string()?;
    anam_core::json::Number::from_json_text(&text)
}

/// The rejection of a cancelled start: a `DOMException` named `AbortError`, as `fetch` gives.
pub fn abort_error() -> JsValue {
    web_sys::DomException::new_with_message_and_name("The operation was aborted", "AbortError")
        .map(JsValue::from)
        .unwrap_or_else(|_| plain_error("The operation was aborted"))
}

pub fn warn(text: &str) {
    web_sys::console::warn_1(&JsValue::from_str(text));
}

/// An `InputAudioState` object.
pub fn input_audio_state_js(state: anam_core::session::InputAudioState) -> JsValue {
    let obj = Object::new();
    set(&obj, "isMuted", &JsValue::from_bool(state.is_muted));
    set(
        &obj,
        "permissionState",
        &JsValue::from_str(state.permission_state.as_str()),
    );
    obj.into()
}
