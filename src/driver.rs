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
use anam_core::session::signalling::SocketCommand;
use anam_core::session::tools::{ToolCallEvent, ToolStage};
use anam_core::session::{
    CallKind, CallRefusal, CallRequest, CallSettlement, Input, Output, Session, StartFailure,
    TrackKind,
};
use js_sys::{Array, Function, Promise};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, AbortSignal, HtmlVideoElement, MediaStream};

use crate::autoplay::{start_playback, unmute_and_play, PlayOutcome};
use crate::errors::{cause_details, client_error, plain_error};
use crate::io::http::{answer_of, post_json, post_json_status};
use crate::io::media::{audio_tracks, capture_microphone, set_enabled, stop_all};
use crate::io::now;
use crate::io::peer::{attach_input, configuration, Peer, PeerEvent};
use crate::io::socket::{Socket, SocketEvent};
use crate::js::{describe_js_error, get, to_js};
use crate::options::ShellOptions;
use crate::state::StateStore;
use crate::tool_handlers::{handler_outcome, ToolHandlers};
use anam_core::session::StatsReportFormat;
use gloo_events::EventListener;
use gloo_timers::callback::Timeout;

/// Which API call a pending promise belongs to, by the core's id for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PromiseOf {
    /// `stream()` / `streamToVideoElement()`.
    Call(u32),
    /// `talk()`.
    Talk(u32),
}

/// A promise handed to the app, settled when the core says so.
struct Pending {
    of: PromiseOf,
    resolve: Function,
    reject: Function,
}

/// What a `stream…()` call passed as its last argument.
#[derive(Default)]
pub struct StartArgs {
    pub user_audio: Option<MediaStream>,
    pub signal: Option<AbortSignal>,
}

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

/// The browser handles of the client, by lifetime: the client's own, then one session's (which
/// may span several connections when it resumes), then one connection's. Dropping a part
/// releases everything in it.
#[derive(Default)]
struct Io {
    provider: Option<Function>,
    provider_error: Option<JsValue>,
    shell: ShellOptions,
    disable_input_audio: bool,
    /// Bumped whenever a connection is dropped (teardown or suspend for a resume): async
    /// completions started in an older epoch are stale. (The core's session counter does not
    /// move on a teardown, so it cannot tell a late completion from a current one.)
    epoch: u64,
    /// The promises of calls and talks. They belong to the client, not the session: the server
    /// may accept a `talk()` sent just before the session ended.
    pending: Vec<Pending>,
    /// The `/talk` requests in flight, by the core's call id.
    talk_requests: Vec<(u32, AbortController)>,
    /// The start-session requests in flight, by the core's request id. They belong to the
    /// client: the answer to one its session gave up on may still need ending.
    start_requests: Vec<(u32, AbortController)>,
    /// Sockets the core opened only to end a session nobody wants.
    throwaway: Vec<Socket>,
    session: SessionIo,
}

/// What one session holds across its resumes; dropped on teardown.
#[derive(Default)]
struct SessionIo {
    /// The current connection: dropped first (see `Drop`).
    conn: Connection,
    /// `abort` listeners of the calls' signals and the window's `pagehide` listener: they live
    /// as long as the session (a resume keeps them), so an abort after streaming ends it too.
    session_listeners: Vec<EventListener>,
    video_element: Option<HtmlVideoElement>,
    user_audio: Option<MediaStream>,
    mic: Option<MediaStream>,
}

impl Drop for SessionIo {
    fn drop(&mut self) {
        self.session_listeners.clear();
        // The connection goes before the devices, so nothing is sent from a stopped track.
        self.conn = Connection::default();
        if let Some(mic) = self.mic.take() {
            stop_all(&mic);
        }
        if let Some(v) = self.video_element.take() {
            v.set_src_object(None);
        }
    }
}

/// What one connection attempt holds; dropped on teardown and when the session suspends for a
/// resume. (Its start-session request is the client's: see `Io::start_requests`.)
#[derive(Default)]
struct Connection {
    frame_callback: Option<FrameCallback>,
    socket: Option<Socket>,
    peer: Option<Peer>,
    /// Remote streams in track arrival order.
    remote: Vec<(TrackKind, MediaStream)>,
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
        let timer = deadline.map(|at| {
            let weak = self.this.clone();
            Timeout::new(timeout_ms(at.saturating_sub(now())), move || {
                if let Some(d) = weak.upgrade() {
                    d.input(Input::Tick);
                }
            })
        });
        *self.timer.borrow_mut() = timer;
    }

    /// `f` applied to the session's peer connection, if there is one; the borrow ends before
    /// the result is used, so a callback that re-enters the driver finds it free.
    fn peer_call<T>(&self, f: impl FnOnce(&Peer) -> T) -> Option<T> {
        self.io.borrow().session.conn.peer.as_ref().map(f)
    }

    /// Spawns `fut`; its result is fed back only if the connection epoch did not change.
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

    /// Spawns `fut`, then runs `then` with its result only if the connection epoch did not
    /// change meanwhile.
    fn spawn_then<F>(&self, fut: F, then: impl FnOnce(&Driver, F::Output) + 'static)
    where
        F: Future + 'static,
    {
        self.spawn_guarded(fut, then, drop);
    }

    /// The one way an async completion reaches the driver: `then` runs with `fut`'s result if
    /// the client still exists and its connection epoch did not change meanwhile;
    /// otherwise `stale` gets the result, to release what it holds.
    fn spawn_guarded<F>(
        &self,
        fut: F,
        then: impl FnOnce(&Driver, F::Output) + 'static,
        stale: impl FnOnce(F::Output) + 'static,
    ) where
        F: Future + 'static,
    {
        let epoch = self.io.borrow().epoch;
        self.spawn_checked(fut, Some(epoch), then, stale);
    }

    /// Spawns `fut`; its result is fed back while the client exists, whatever happened to the
    /// session meanwhile.
    fn spawn_for_client<F>(&self, fut: F, map: impl FnOnce(F::Output) -> Input + 'static)
    where
        F: Future + 'static,
    {
        self.spawn_checked(fut, None, move |d, out| d.input(map(out)), drop);
    }

    /// The body of [`Driver::spawn_guarded`]: `epoch` is the connection the completion
    /// belongs to (`None`: the client's).
    fn spawn_checked<F>(
        &self,
        fut: F,
        epoch: Option<u64>,
        then: impl FnOnce(&Driver, F::Output) + 'static,
        stale: impl FnOnce(F::Output) + 'static,
    ) where
        F: Future + 'static,
    {
        let weak = self.this.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let out = fut.await;
            match weak.upgrade() {
                Some(d) if epoch.is_none_or(|e| d.io.borrow().epoch == e) => then(&d, out),
                _ => stale(out),
            }
        });
    }

    // -----------------------------------------------------------------------------------------
    // App calls

    /// `stream()` / `streamToVideoElement()`: the core admits the call (a new session, or the
    /// one under way) and says when its promise settles.
    pub fn start(
        &self,
        kind: CallKind,
        element: Option<HtmlVideoElement>,
        args: StartArgs,
    ) -> Promise {
        let request = CallRequest {
            kind,
            user_audio: args
                .user_audio
                .as_ref()
                .map(|s| !audio_tracks(s).is_empty()),
            shows_video: element.is_some(),
            aborted: args.signal.as_ref().is_some_and(AbortSignal::aborted),
        };
        // Not pumped yet: the call's promise is filed before any of its outputs run.
        let call = match self.core.borrow_mut().start_call(now(), request) {
            Ok(call) => call,
            Err(CallRefusal::Aborted) => return Promise::reject(&abort_error()),
            Err(CallRefusal::NoAudioTrack) => {
                return Promise::reject(&plain_error(
                    "The provided input stream has no audio track",
                ))
            }
        };
        let mut resolvers = None;
        let promise = Promise::new(&mut |resolve, reject| resolvers = Some((resolve, reject)));
        if let Some((resolve, reject)) = resolvers {
            self.io.borrow_mut().pending.push(Pending {
                of: PromiseOf::Call(call.id),
                resolve,
                reject,
            });
        }
        if call.joined {
            self.join(element);
        } else {
            self.store.borrow_mut().on_start();
            let mut io = self.io.borrow_mut();
            io.session.video_element = element;
            io.session.user_audio = args.user_audio.filter(|_| call.uses_own_audio);
            io.provider_error = None;
            io.session.session_listeners.clear();
            if let Some(window) = web_sys::window() {
                let weak = self.this.clone();
                // The server session must not outlive the page: close socket and peer
                // connection while the page can still run code (see README, pagehide).
                io.session.session_listeners.push(EventListener::new(
                    &window,
                    "pagehide",
                    move |_| {
                        if let Some(d) = weak.upgrade() {
                            d.command(|s| s.stop(now()));
                        }
                    },
                ));
            }
        }
        if let Some(signal) = &args.signal {
            let weak = self.this.clone();
            let id = call.id;
            let listener = EventListener::new(signal, "abort", move |_| {
                if let Some(d) = weak.upgrade() {
                    d.command(|s| s.abort_call(now(), id));
                }
            });
            self.io
                .borrow_mut()
                .session
                .session_listeners
                .push(listener);
        }
        self.pump();
        promise
    }

    /// A call that shares the session under way: it may bring the `<video>` the first call
    /// (a `stream()`) did not have.
    fn join(&self, element: Option<HtmlVideoElement>) {
        let adopted = {
            let mut io = self.io.borrow_mut();
            match (&io.session.video_element, element) {
                (None, Some(video)) => {
                    io.session.video_element = Some(video);
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

    fn remote_streams(&self) -> JsValue {
        let streams: Array = self
            .io
            .borrow()
            .session
            .conn
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

    /// The app dropped its client (`client.free()`): ends the session in any state, so no
    /// microphone, socket or peer connection outlives it, even while a talk stream or an
    /// agent-audio stream still holds the driver. The app's listeners are not called for a
    /// client it already freed; its pending `stream…()` promises reject with an `AbortError`.
    pub fn release(&self) {
        self.listeners.borrow_mut().clear();
        self.command(|s| s.stop(now()));
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
        let epoch = self.io.borrow().epoch;
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
            if io.epoch != epoch {
                stop_all(&stream);
                return Err(plain_error("The session ended during the device change"));
            }
            // Not a copy of the tracks (see clippy.toml on `MediaStream::clone`).
            if let Some(old) = io.session.mic.replace(Clone::clone(&stream)) {
                stop_all(&old);
            }
            io.session.conn.peer.as_ref().map(Peer::audio_sender)
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
                request,
                url,
                token,
                body,
            } => {
                let abort = AbortController::new().ok();
                let signal = abort.as_ref().map(AbortController::signal);
                let sent = post_json(&url, &body, Some(&token), signal.as_ref());
                self.await_start_answer(request, abort, sent);
            }
            Output::AbortStartSession { request } => {
                let mut io = self.io.borrow_mut();
                if let Some(i) = io.start_requests.iter().position(|(r, _)| *r == request) {
                    io.start_requests.swap_remove(i).1.abort();
                }
            }
            Output::Throwaway(cmd) => self.throwaway_socket(cmd),
            Output::SessionStarted { .. } | Output::MediaReady | Output::StartFailed(_) => {}
            Output::SettleCall { call, settlement } => {
                let result = match settlement {
                    CallSettlement::Started => Ok(JsValue::UNDEFINED),
                    CallSettlement::Media => Ok(self.remote_streams()),
                    CallSettlement::Failed(failure) => Err(self.start_error(&failure)),
                    CallSettlement::Aborted => Err(abort_error()),
                };
                self.settle(PromiseOf::Call(call), result);
            }
            Output::RequestMic => self.request_mic(),
            Output::CreatePeerConnection {
                ice_servers_json,
                ice_transport_policy,
            } => self.create_peer(&ice_servers_json, ice_transport_policy.as_deref()),
            Output::CreateOffer { ice_restart } => {
                let fut = self.peer_call(|p| p.create_offer(ice_restart));
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
            Output::ShowVideo => self.show_video(),
            Output::ApplyAnswer { sdp } => {
                let fut = self.peer_call(|p| p.apply_answer(&sdp));
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
                let fut = self.peer_call(|p| p.add_remote_candidate(&c));
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
                if let Some(p) = self.io.borrow().session.conn.peer.as_ref() {
                    p.send_data(&text);
                }
            }
            Output::ApplyMute(muted) => {
                let io = self.io.borrow();
                for s in [&io.session.mic, &io.session.user_audio]
                    .into_iter()
                    .flatten()
                {
                    set_enabled(s, !muted);
                }
            }
            Output::Teardown => self.teardown(),
            Output::SuspendForResume => self.suspend_for_resume(),
            Output::Emit(event) => self.emit(event),
            Output::Warn(text) => warn(&text),
            Output::RunToolHandler { stage, event } => self.run_tool_handler(stage, &event),
            Output::CollectRtpStats => self.collect_rtp_stats(),
            Output::SendTalk { call, url, body } => self.send_talk(call, &url, &body),
            Output::AbortTalk { call } => {
                let mut io = self.io.borrow_mut();
                let i = io.talk_requests.iter().position(|(c, _)| *c == call);
                if let Some((_, request)) = i.map(|i| io.talk_requests.remove(i)) {
                    request.abort();
                }
            }
            Output::TalkSettled { call, result } => {
                self.io
                    .borrow_mut()
                    .talk_requests
                    .retain(|(c, _)| *c != call);
                let result = result
                    .map(|()| JsValue::UNDEFINED)
                    .map_err(|message| plain_error(&message));
                self.settle(PromiseOf::Talk(call), result);
            }
        }
    }

    /// A start-session request the package's JS sent while the module loaded (see
    /// `AnamClient::prefetched`): the core decides whether the next start uses it.
    pub fn prefetched(
        &self,
        url: String,
        token: String,
        body: String,
        response: Promise,
        abort: Option<AbortController>,
    ) {
        let request = self.command(|s| s.prefetched(url, token, body));
        self.await_start_answer(request, abort, Ok(response));
    }

    /// Feeds the answer of start-session request `request` to the core whenever it comes. The
    /// future holds the client, so this happens even after `free()`: a request the core no
    /// longer wants may have created a session on the server, which only its answer names.
    fn await_start_answer(
        &self,
        request: u32,
        abort: Option<AbortController>,
        sent: Result<Promise, JsValue>,
    ) {
        if let Some(abort) = abort {
            self.io.borrow_mut().start_requests.push((request, abort));
        }
        let Some(this) = self.this.upgrade() else {
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            let result = match sent {
                Ok(sent) => answer_of(sent).await,
                Err(e) => Err(e),
            };
            this.io
                .borrow_mut()
                .start_requests
                .retain(|(r, _)| *r != request);
            this.input(match result {
                Ok(answer) => Input::StartSessionAnswered {
                    request,
                    status: answer.status,
                    body: answer.body,
                },
                Err(e) => Input::StartSessionUnreachable {
                    request,
                    detail: describe_js_error(&e),
                },
            });
        });
    }

    /// A socket that only ends a session nobody wants (see [`Output::Throwaway`]). Its
    /// callback holds the client, so it opens and closes even after `free()`; the core closes
    /// it on open or failure, which drops the callback and the cycle with it.
    fn throwaway_socket(&self, cmd: SocketCommand) {
        match cmd {
            SocketCommand::Open { socket, url } => {
                let Some(this) = self.this.upgrade() else {
                    return;
                };
                let on: Rc<dyn Fn(SocketEvent)> = Rc::new(move |event| match event {
                    SocketEvent::Open => this.input(Input::SocketOpened(socket)),
                    SocketEvent::Close { code, reason } => this.input(Input::SocketClosed {
                        socket,
                        code,
                        reason,
                    }),
                    SocketEvent::Message(_) => {}
                });
                match Socket::open(socket, &url, on) {
                    Ok(s) => self.io.borrow_mut().throwaway.push(s),
                    Err(e) => self.input(Input::SocketClosed {
                        socket,
                        code: 1006,
                        reason: describe_js_error(&e),
                    }),
                }
            }
            SocketCommand::Close { socket } => {
                let closed = {
                    let mut io = self.io.borrow_mut();
                    let i = io.throwaway.iter().position(|s| s.id == socket);
                    i.map(|i| io.throwaway.swap_remove(i))
                };
                drop(closed); // outside the borrow: closing may report back
            }
            SocketCommand::Send { .. } => {}
        }
    }

    fn run_tool_handler(&self, stage: ToolStage, event: &ToolCallEvent) {
        let Some(settled) =
            self.tool_handlers
                .call(&event.tool_name, stage.handler_key(), &to_js(event))
        else {
            return;
        };
        if stage == ToolStage::Start {
            let tool_call_id = event.tool_call_id.clone();
            self.spawn_for_session(settled, move |result| {
                Some(Input::ToolStartHandled {
                    tool_call_id,
                    outcome: handler_outcome(result),
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

    /// `talk(content)`: the core sends the request; the promise settles when it says so.
    pub fn talk(&self, content: &str) -> Promise {
        let mut resolvers = None;
        let promise = Promise::new(&mut |resolve, reject| resolvers = Some((resolve, reject)));
        let Some((resolve, reject)) = resolvers else {
            return promise;
        };
        // Registered before the core runs: its request goes out during this command.
        let call = self.core.borrow().next_talk_call();
        self.io.borrow_mut().pending.push(Pending {
            of: PromiseOf::Talk(call),
            resolve,
            reject,
        });
        if let Err(e) = self.command(|s| s.talk(now(), content)) {
            self.settle(PromiseOf::Talk(call), Err(plain_error(e.0)));
        }
        promise
    }

    fn send_talk(&self, call: u32, url: &str, body: &str) {
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        // Sent now; only the status is read (see post_json_status).
        let answer = post_json_status(url, body, signal.as_ref());
        if let Some(controller) = controller {
            self.io.borrow_mut().talk_requests.push((call, controller));
        }
        self.spawn_for_client(answer, move |answer| match answer {
            Ok(status) => Input::TalkAnswered { call, status },
            Err(e) => Input::TalkUnreachable {
                call,
                detail: describe_js_error(&e),
            },
        });
    }

    /// Hands the peer connection's stats to the core as JSON texts (§8.7).
    fn collect_rtp_stats(&self) {
        let Some(stats) = self.peer_call(Peer::stats) else {
            return;
        };
        self.spawn_for_session(stats, |stats| {
            let entries = stats
                .ok()?
                .iter()
                .filter_map(|s| js_sys::JSON::stringify(s).ok()?.as_string())
                .collect();
            Some(Input::RtpStats(entries))
        });
    }

    fn settle(&self, of: PromiseOf, result: Result<JsValue, JsValue>) {
        let pending = {
            let mut io = self.io.borrow_mut();
            let i = io.pending.iter().position(|p| p.of == of);
            i.map(|i| io.pending.remove(i))
        };
        if let Some(p) = pending {
            let _ = match result {
                Ok(v) => p.resolve.call1(&JsValue::NULL, &v),
                Err(e) => p.reject.call1(&JsValue::NULL, &e),
            };
        }
    }

    fn start_error(&self, failure: &StartFailure) -> JsValue {
        match failure {
            StartFailure::TokenProvider => {
                // Every call the failure settles rejects with the provider's own error.
                if let Some(e) = self.io.borrow().provider_error.clone() {
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
        let settled = async move {
            match returned {
                Ok(v) => wasm_bindgen_futures::JsFuture::from(Promise::resolve(&v)).await,
                Err(e) => Err(e),
            }
        };
        self.spawn_then(settled, |d, settled| {
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

    fn request_mic(&self) {
        if self.io.borrow().session.mic.is_some() {
            // `changeAudioInputDevice` captured a device meanwhile: that capture stands.
            return self.input(Input::MicGranted);
        }
        let device = self.io.borrow().shell.config.audio_device_id.clone();
        let capture = async move { capture_microphone(device.as_deref()).await };
        // The session this capture was for is gone: release the device.
        let release = |result: Result<MediaStream, JsValue>| {
            if let Ok(s) = &result {
                stop_all(s);
            }
        };
        self.spawn_guarded(
            capture,
            |d, result| match result {
                Ok(stream) => {
                    let muted = d.core.borrow().input_audio_state().is_muted;
                    set_enabled(&stream, !muted);
                    d.io.borrow_mut().session.mic = Some(stream);
                    d.input(Input::MicGranted);
                    d.attach_input_audio();
                }
                Err(e) => d.input(Input::MicDenied(describe_js_error(&e))),
            },
            release,
        );
    }

    /// Puts the current input stream (app's or microphone) on the audio sender, if both exist.
    fn attach_input_audio(&self) {
        let (sender, track) = {
            let io = self.io.borrow();
            let stream = io.session.user_audio.as_ref().or(io.session.mic.as_ref());
            (
                io.session.conn.peer.as_ref().map(Peer::audio_sender),
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
                self.io.borrow_mut().session.conn.peer = Some(p);
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
                    self.io
                        .borrow_mut()
                        .session
                        .conn
                        .remote
                        .push((kind, stream));
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
    /// and watches for its first frame. The core says when (`Output::ShowVideo`), or `join`
    /// does, when the app brings the element to a session under way.
    fn show_video(&self) {
        let (video, stream) = {
            let io = self.io.borrow();
            (
                io.session.video_element.clone(),
                // Not a copy of the tracks (see clippy.toml on `MediaStream::clone`).
                io.session
                    .conn
                    .peer
                    .as_ref()
                    .map(|p| Clone::clone(p.remote_stream())),
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
            }
        });
        if let Ok(handle) = request.call1(&video, closure.as_ref()) {
            self.io.borrow_mut().session.conn.frame_callback = Some(FrameCallback {
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
        let playing = async move { start_playback(&video).await };
        self.spawn_then(playing, |d, outcome| {
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
        let video = self.io.borrow().session.video_element.clone();
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
                    Ok(s) => self.io.borrow_mut().session.conn.socket = Some(s),
                    Err(e) => self.input(Input::SocketClosed {
                        socket,
                        code: 1006,
                        reason: describe_js_error(&e),
                    }),
                }
            }
            SocketCommand::Send { socket, text } => {
                if let Some(s) = self
                    .io
                    .borrow()
                    .session
                    .conn
                    .socket
                    .as_ref()
                    .filter(|s| s.id == socket)
                {
                    s.send(&text);
                }
            }
            SocketCommand::Close { socket } => {
                let old = {
                    let mut io = self.io.borrow_mut();
                    if io
                        .session
                        .conn
                        .socket
                        .as_ref()
                        .is_some_and(|s| s.id == socket)
                    {
                        io.session.conn.socket.take()
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
        let old = {
            let mut io = self.io.borrow_mut();
            io.epoch += 1;
            std::mem::take(&mut io.session.conn)
        };
        drop(old);
    }

    fn teardown(&self) {
        let (mut old, stats_report) = {
            let mut io = self.io.borrow_mut();
            io.epoch += 1;
            (
                std::mem::take(&mut io.session),
                io.shell.config.stats_report,
            )
        };
        if let Some(format) = stats_report {
            // The report keeps the connection open until the browser answers (bounded): Firefox
            // never settles a `getStats()` still pending when its connection closes.
            if let Some(p) = old.conn.peer.take() {
                print_stats_report(p, format);
            }
        }
        drop(old);
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
            io.session
                .conn
                .remote
                .iter()
                .rev()
                .find(|(k, _)| *k == kind)
                .map(|(_, s)| JsValue::from(s))
                .unwrap_or(JsValue::UNDEFINED)
        };
        let text = |s: &str| JsValue::from_str(s);
        let args: Vec<JsValue> = match event {
            Event::MessageHistoryUpdated(messages) | Event::ReasoningHistoryUpdated(messages) => {
                vec![to_js(messages)]
            }
            Event::MessageStreamEventReceived(e) => vec![to_js(e)],
            Event::ReasoningStreamEventReceived(e) => vec![to_js(e)],
            // The server's own JSON text, handed over as the browser parses it.
            Event::PersonaConfigUpdateApplied(json) => {
                vec![js_sys::JSON::parse(json).unwrap_or(JsValue::UNDEFINED)]
            }
            Event::ClientToolEventReceived(e) => vec![to_js(e)],
            Event::ToolCallStarted(e) | Event::ToolCallCompleted(e) | Event::ToolCallFailed(e) => {
                vec![to_js(e)]
            }
            Event::DirectorNoteCueApplied {
                cue_tag,
                correlation_id,
            } => vec![to_js(&CueApplied {
                cue_tag,
                correlation_id,
            })],
            Event::ConnectionClosed { code, details } => vec![
                text(code),
                details.as_deref().map(text).unwrap_or(JsValue::UNDEFINED),
            ],
            Event::InputAudioStreamStarted => vec![io
                .session
                .user_audio
                .as_ref()
                .or(io.session.mic.as_ref())
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
            Event::Reconnecting { attempt, reason } => vec![to_js(&ReconnectingInfo {
                attempt: *attempt,
                reason,
            })],
            Event::Reconnected(id) => vec![text(id)],
            Event::AutoplayBlocked { playing_muted } => vec![to_js(&AutoplayBlockedInfo {
                playing_muted: *playing_muted,
            })],
            Event::ConnectionEstablished
            | Event::DataChannelOpen
            | Event::VideoPlayStarted
            | Event::MicPermissionPending
            | Event::MicPermissionGranted => Vec::new(),
        };
        args.into_iter().collect()
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
                &to_js(&anam_core::json::ForJs(&report.to_value())),
            ),
        }
    });
}

/// A delay for `setTimeout`, which takes a signed 32-bit count: gloo-timers casts its `u32`
/// with `as i32`, so anything above `i32::MAX` (24.8 days) would wrap negative and fire at once.
fn timeout_ms(delay: u64) -> u32 {
    u32::try_from(delay.min(i32::MAX as u64)).unwrap_or(0)
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

/// The payload of `DIRECTOR_NOTE_CUE_APPLIED`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CueApplied<'a> {
    cue_tag: &'a str,
    correlation_id: &'a str,
}

/// The payload of `RECONNECTING`.
#[derive(Serialize)]
struct ReconnectingInfo<'a> {
    attempt: u32,
    reason: &'a str,
}

/// The payload of `AUTOPLAY_BLOCKED`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AutoplayBlockedInfo {
    playing_muted: bool,
}
