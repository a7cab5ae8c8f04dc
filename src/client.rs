//! The JS API: `createClient`, the `AnamClient` class and `TalkMessageStream` (§10).

use std::rc::Rc;

use anam_core::json::Number;
use anam_core::session::conversation::CueTiming;
use anam_core::session::{Session, TokenSource};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, HtmlVideoElement, MediaStream};

use crate::agent_audio::AgentAudioInputStream;
use crate::driver::{Driver, StartArgs};
use crate::errors::{configuration_error, plain_error};
use crate::io::now;
use crate::js::to_js;
use crate::options;
use anam_core::session::CallKind;

/// Creates a client from a session token or a token provider (a function returning
/// `Promise<string>`, called for each new session and once more when a token is expired).
/// Throws a `ClientError` (`CLIENT_ERROR_CODE_CONFIGURATION_ERROR`) for invalid input.
#[wasm_bindgen(js_name = createClient, skip_typescript)]
pub fn create_client(token_or_provider: JsValue, options: JsValue) -> Result<AnamClient, JsValue> {
    let (source, provider) = if let Some(f) = token_or_provider.dyn_ref::<Function>() {
        (TokenSource::Provider, Some(f.clone()))
    } else if let Some(token) = token_or_provider.as_string() {
        let source = TokenSource::fixed(token).map_err(|e| configuration_error(&e.0))?;
        (source, None)
    } else {
        return Err(configuration_error(
            "createClient needs a session token or a function that returns one",
        ));
    };
    let (config, shell) = options::parse(source, &options)?;
    // The seed only spreads backoff jitter and talk-stream ids; it needs no cryptographic quality.
    let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64 ^ now();
    let driver = Driver::new(Session::new(config, seed), provider, shell);
    Ok(AnamClient { driver })
}

/// A client for one persona conversation at a time.
#[wasm_bindgen(skip_typescript)]
pub struct AnamClient {
    driver: Rc<Driver>,
}

#[wasm_bindgen]
impl AnamClient {
    /// Starts a session and resolves with the remote streams once video and audio arrived;
    /// rejects when the session cannot start. The argument is the official input
    /// `MediaStream`, or `{signal?, userAudio?}` (an extension: an aborted signal cancels).
    pub fn stream(&self, last: JsValue) -> Promise {
        match start_args(&last) {
            Ok(args) => self.driver.start(CallKind::Media, None, args),
            Err(e) => Promise::reject(&e),
        }
    }

    /// Starts a session that plays in the `<video>` with this id; resolves once the session
    /// is started (then `talk()` works), rejects when it cannot start.
    #[wasm_bindgen(js_name = streamToVideoElement)]
    pub fn stream_to_video_element(&self, video_element_id: String, last: JsValue) -> Promise {
        let args = match start_args(&last) {
            Ok(args) => args,
            Err(e) => return Promise::reject(&e),
        };
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&video_element_id))
            .and_then(|e| e.dyn_into::<HtmlVideoElement>().ok());
        match element {
            Some(video) => self.driver.start(CallKind::Started, Some(video), args),
            None => Promise::reject(&plain_error(&format!(
                "No video element with id \"{video_element_id}\""
            ))),
        }
    }

    /// Makes the persona say `content`.
    pub fn talk(&self, content: String) -> Promise {
        self.driver.talk(&content)
    }

    /// Opens a talk stream; a missing or empty id gets a random one.
    #[wasm_bindgen(js_name = createTalkMessageStream)]
    pub fn create_talk_message_stream(
        &self,
        correlation_id: Option<String>,
    ) -> Result<TalkMessageStream, JsValue> {
        let handle = self
            .driver
            .command(|s| s.create_talk_stream(correlation_id.as_deref()))
            .map_err(|e| plain_error(e.0))?;
        Ok(TalkMessageStream {
            driver: self.driver.clone(),
            handle,
        })
    }

    /// Sends a typed user message (dropped while the data channel is not open).
    #[wasm_bindgen(js_name = sendUserMessage)]
    pub fn send_user_message(&self, content: String) -> Result<(), JsValue> {
        self.driver
            .command(|s| s.send_user_message(now(), &content))
            .map_err(|e| plain_error(e.0))
    }

    #[wasm_bindgen(js_name = interruptPersona)]
    pub fn interrupt_persona(&self) -> Result<(), JsValue> {
        self.driver
            .command(|s| s.interrupt(now()))
            .map_err(|e| plain_error(e.0))
    }

    /// Adds silent context for the persona (dropped while the data channel is not open).
    #[wasm_bindgen(js_name = addContext)]
    pub fn add_context(&self, content: String) -> Result<(), JsValue> {
        self.driver
            .command(|s| s.add_context(&content))
            .map_err(|e| plain_error(e.0))
    }

    /// Sends `raw` on the data channel exactly as given.
    #[wasm_bindgen(js_name = sendDataMessage)]
    pub fn send_data_message(&self, raw: String) -> Result<(), JsValue> {
        self.driver
            .command(|s| s.send_data_message(&raw))
            .map_err(|e| plain_error(e.0))
    }

    /// Asks the persona to express `tag` now, `{inSeconds}` from now or `{atSeconds}` into its
    /// current speech.
    #[wasm_bindgen(js_name = sendDirectorNoteCue)]
    pub fn send_director_note_cue(&self, tag: JsValue, options: JsValue) -> Result<(), JsValue> {
        let timing = cue_timing(&options)?;
        let tag = tag.as_string().unwrap_or_default();
        self.driver
            .command(|s| s.send_director_note_cue(&tag, timing))
            .map_err(|e| plain_error(e.0))
    }

    /// Sets the persona config sent with the next start-session (`undefined` clears it).
    #[wasm_bindgen(js_name = setPersonaConfig)]
    pub fn set_persona_config(&self, config: JsValue) -> Result<(), JsValue> {
        let parsed = if config.is_undefined() || config.is_null() {
            None
        } else {
            let text = js_sys::JSON::stringify(&config)
                .ok()
                .and_then(|t| t.as_string())
                .unwrap_or_default();
            Some(
                anam_core::json::parse(&text)
                    .map_err(|e| configuration_error(&format!("Invalid persona config: {e}")))?,
            )
        };
        self.driver
            .command(|s| s.set_persona_config(parsed))
            .map_err(|e| configuration_error(&format!("Invalid persona config: {e}")))
    }

    #[wasm_bindgen(js_name = getPersonaConfig)]
    pub fn get_persona_config(&self) -> JsValue {
        self.driver
            .core()
            .persona_config()
            .map(|config| to_js(&anam_core::json::ForJs(config)))
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// Registers the handlers of tool `name` (`{onStart?, onComplete?, onFail?}`); returns the
    /// function that unregisters them.
    #[wasm_bindgen(js_name = registerToolCallHandler)]
    pub fn register_tool_call_handler(
        &self,
        name: String,
        handler: JsValue,
    ) -> Result<Function, JsValue> {
        if !handler.is_object() {
            return Err(plain_error(
                "registerToolCallHandler needs an object with onStart, onComplete or onFail",
            ));
        }
        let handlers = &self.driver.tool_handlers;
        Ok(handlers.register(Rc::downgrade(handlers), name, handler))
    }

    /// Opens an agent-audio input stream (audio the persona speaks instead of its own voice).
    #[wasm_bindgen(js_name = createAgentAudioInputStream)]
    pub fn create_agent_audio_input_stream(
        &self,
        config: JsValue,
    ) -> Result<AgentAudioInputStream, JsValue> {
        let config = crate::agent_audio::parse_config(&config)?;
        let handle = self
            .driver
            .command(|s| s.create_agent_audio_stream(config.clone()))
            .map_err(|e| plain_error(e.0))?;
        Ok(AgentAudioInputStream {
            driver: self.driver.clone(),
            handle,
            config,
        })
    }

    #[wasm_bindgen(js_name = muteInputAudio)]
    pub fn mute_input_audio(&self) -> JsValue {
        to_js(&self.driver.command(|s| s.set_muted(true)))
    }

    #[wasm_bindgen(js_name = unmuteInputAudio)]
    pub fn unmute_input_audio(&self) -> JsValue {
        to_js(&self.driver.command(|s| s.set_muted(false)))
    }

    #[wasm_bindgen(js_name = getInputAudioState)]
    pub fn get_input_audio_state(&self) -> JsValue {
        to_js(&self.driver.core().input_audio_state())
    }

    /// Switches the microphone to `deviceId`.
    #[wasm_bindgen(js_name = changeAudioInputDevice)]
    pub fn change_audio_input_device(&self, device_id: JsValue) -> Promise {
        let checked = match device_id.as_string() {
            Some(id) => self.driver.core().check_device_change(&id).map_err(|e| e.0),
            None => Err("A device id is required"),
        };
        match checked {
            Ok(id) => {
                let driver = self.driver.clone();
                wasm_bindgen_futures::future_to_promise(async move {
                    driver.change_input_device(id).await?;
                    Ok(JsValue::UNDEFINED)
                })
            }
            Err(msg) => Promise::reject(&plain_error(msg)),
        }
    }

    /// Ends the session in any state: a no-op when idle, cancels a start (its promise rejects
    /// with an `AbortError`) or a resume; `CONNECTION_CLOSED` (`NORMAL`) fires first for a
    /// session that was up, unless it already ended.
    #[wasm_bindgen(js_name = stopStreaming)]
    pub fn stop_streaming(&self) -> Promise {
        self.driver.command(|s| s.stop(now()));
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// For the package's loader only: a start-session request it sent for this client before
    /// the module loaded (`response`: its `fetch` promise; `abort`: its controller). The next
    /// start uses it if it is exactly that start's first request; otherwise its session, if
    /// it created one, is ended.
    #[wasm_bindgen(js_name = prefetched, skip_typescript)]
    pub fn prefetched(
        &self,
        url: String,
        token: String,
        body: String,
        response: Promise,
        abort: Option<web_sys::AbortController>,
    ) {
        self.driver.prefetched(url, token, body, response, abort);
    }

    #[wasm_bindgen(js_name = isStreaming)]
    pub fn is_streaming(&self) -> bool {
        self.driver.core().is_streaming()
    }

    #[wasm_bindgen(js_name = getActiveSessionId)]
    pub fn get_active_session_id(&self) -> JsValue {
        string_or_null(self.driver.core().session_id())
    }

    #[wasm_bindgen(js_name = getActiveSessionRegion)]
    pub fn get_active_session_region(&self) -> JsValue {
        string_or_null(self.driver.core().region())
    }

    /// Extension: after `AUTOPLAY_BLOCKED`, call from a user gesture (a click handler) to unmute
    /// the persona's video and play it with sound. Rejects with the browser's
    /// `NotAllowedError` when it still refuses (the video then keeps playing muted).
    pub fn unlock(&self) -> Promise {
        self.driver.unlock()
    }

    /// Extension: `client.getState()` returns a frozen snapshot
    /// `{phase, sessionId, muted, permissionState, lastError}`, the same object until something
    /// changes. A property holding a bound function, so it can be passed around unbound.
    #[wasm_bindgen(getter = getState)]
    pub fn get_state_function(&self) -> JsValue {
        self.driver.bound_function(false)
    }

    /// Extension: `client.subscribe(listener)` calls `listener()` after each state change and
    /// returns the function that unsubscribes it. Bound, like `getState`.
    #[wasm_bindgen(getter = subscribe)]
    pub fn subscribe_function(&self) -> JsValue {
        self.driver.bound_function(true)
    }

    #[wasm_bindgen(js_name = addListener)]
    pub fn add_listener(&self, event: String, callback: Function) {
        self.driver.add_listener(event, callback);
    }

    #[wasm_bindgen(js_name = removeListener)]
    pub fn remove_listener(&self, event: String, callback: Function) {
        self.driver.remove_listener(&event, &callback);
    }
}

impl Drop for AnamClient {
    fn drop(&mut self) {
        self.driver.release();
    }
}

impl AnamClient {
    /// The registered tool handlers (for tests of their bookkeeping).
    pub fn tool_handlers(&self) -> &crate::tool_handlers::ToolHandlers {
        &self.driver.tool_handlers
    }
}

/// A talk message stream (§10.4).
#[wasm_bindgen(skip_typescript)]
pub struct TalkMessageStream {
    driver: Rc<Driver>,
    handle: u32,
}

#[wasm_bindgen]
impl TalkMessageStream {
    /// Sends one chunk; throws when the stream has ended or was interrupted.
    #[wasm_bindgen(js_name = streamMessageChunk)]
    pub fn stream_message_chunk(
        &self,
        content: String,
        end_of_speech: bool,
        utterance_id: Option<String>,
    ) -> Result<(), JsValue> {
        self.driver
            .command(|s| {
                s.talk_stream_chunk(
                    self.handle,
                    &content,
                    end_of_speech,
                    utterance_id.as_deref(),
                )
            })
            .map_err(|e| plain_error(&e.to_string()))
    }

    /// Ends a streaming message with an empty final chunk (warns and sends nothing otherwise).
    #[wasm_bindgen(js_name = endMessage)]
    pub fn end_message(&self) {
        self.driver.command(|s| s.talk_stream_end(self.handle));
    }

    #[wasm_bindgen(js_name = isActive)]
    pub fn is_active(&self) -> bool {
        self.driver
            .core()
            .talk_stream_state(self.handle)
            .is_some_and(|s| s.is_active())
    }

    #[wasm_bindgen(js_name = getCorrelationId)]
    pub fn get_correlation_id(&self) -> String {
        self.driver
            .core()
            .talk_stream_correlation_id(self.handle)
            .unwrap_or_default()
            .to_owned()
    }

    /// The state as the official numbers: 0 UNSTARTED, 1 STREAMING, 2 INTERRUPTED, 3 ENDED.
    #[wasm_bindgen(js_name = getState)]
    pub fn get_state(&self) -> u8 {
        self.driver
            .core()
            .talk_stream_state(self.handle)
            .map(|s| s as u8)
            .unwrap_or(3)
    }
}

/// `fetchSessionToken(url, init?)`'s second half: the package's JS sends the request (it needs
/// no wasm) and hands the pending `fetch` here; resolves with `sessionToken`, backend errors
/// become `ClientError`s.
#[wasm_bindgen(js_name = sessionTokenOf, skip_typescript)]
pub fn session_token_of(sent: Promise) -> Promise {
    wasm_bindgen_futures::future_to_promise(crate::token::session_token(sent))
}

/// Reads the last argument of `stream` / `streamToVideoElement`: nothing, the official input
/// `MediaStream`, or the extension's `{signal?: AbortSignal, userAudio?: MediaStream}`.
fn start_args(last: &JsValue) -> Result<StartArgs, JsValue> {
    if last.is_undefined() || last.is_null() {
        return Ok(StartArgs::default());
    }
    if let Some(stream) = last.dyn_ref::<MediaStream>() {
        return Ok(StartArgs {
            // The app's own tracks, not copies (see clippy.toml on `MediaStream::clone`).
            user_audio: Some(Clone::clone(stream)),
            signal: None,
        });
    }
    if !last.is_object() {
        return Err(plain_error(
            "The last argument must be a MediaStream or {signal, userAudio}",
        ));
    }
    let field = |key: &str| {
        let v = crate::js::get(last, key);
        (!v.is_undefined() && !v.is_null()).then_some(v)
    };
    let signal = match field("signal") {
        None => None,
        Some(v) => Some(
            v.dyn_into::<AbortSignal>()
                .map_err(|_| plain_error("signal must be an AbortSignal"))?,
        ),
    };
    let user_audio = match field("userAudio") {
        None => None,
        Some(v) => Some(
            v.dyn_into::<MediaStream>()
                .map_err(|_| plain_error("userAudio must be a MediaStream"))?,
        ),
    };
    Ok(StartArgs { user_audio, signal })
}

/// The timing of `sendDirectorNoteCue(tag, options)`: `{inSeconds}` or `{atSeconds}`, not both.
fn cue_timing(options: &JsValue) -> Result<CueTiming, JsValue> {
    let read = |key: &str| -> Result<Option<Number>, JsValue> {
        let v = crate::js::get(options, key);
        if v.is_undefined() {
            return Ok(None);
        }
        if v.as_f64().is_none() {
            return Err(plain_error(&format!("{key} must be a number")));
        }
        // NaN and ±Infinity have no JSON form; the core refuses them with this same message.
        crate::driver::js_number(&v).map(Some).ok_or_else(|| {
            plain_error("A director note cue timing must be a finite number of seconds >= 0")
        })
    };
    if !options.is_object() {
        return Ok(CueTiming::Now);
    }
    match (read("inSeconds")?, read("atSeconds")?) {
        (Some(_), Some(_)) => Err(plain_error("Give inSeconds or atSeconds, not both")),
        (Some(s), None) => Ok(CueTiming::InSeconds(s)),
        (None, Some(s)) => Ok(CueTiming::AtSeconds(s)),
        (None, None) => Ok(CueTiming::Now),
    }
}

/// `string | null`, as the official getters return (wasm-bindgen maps `None` to `undefined`).
fn string_or_null(s: Option<&str>) -> JsValue {
    s.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}
