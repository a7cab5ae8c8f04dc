//! Browser tests of the shell (`wasm-pack test --headless --chrome`): the JS API's validation,
//! error objects, token fetching and talk streams, against real browser APIs.
#![cfg(target_arch = "wasm32")]

use anam_wasm::client::{create_client, session_token_of, AnamClient};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn js(body: &str) -> Function {
    Function::new_no_args(body)
}

/// `fetchSessionToken(url)` as the package's JS runs it: the POST is sent by JS, its pending
/// answer handed to the wasm.
fn fetch_session_token(url: &str) -> Promise {
    let send = Function::new_with_args("url", "return fetch(url, {method: 'POST'})");
    let sent = send
        .call1(&JsValue::NULL, &JsValue::from_str(url))
        .map(JsValue::unchecked_into)
        .unwrap_or_else(|e| Promise::reject(&e));
    session_token_of(sent)
}

/// A JWT-shaped token whose payload is `payload` (base64url by `btoa` + alphabet swap).
fn token(payload: &str) -> String {
    let f = Function::new_with_args(
        "p",
        "return 'eyJhbGciOiJIUzI1NiJ9.' + btoa(p).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'') + '.sig'",
    );
    f.call1(&JsValue::NULL, &JsValue::from_str(payload))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn options(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::UNDEFINED)
}

fn assert_client_error(e: &JsValue, code: &str, status: f64) {
    assert!(e.is_instance_of::<js_sys::Error>(), "a real Error");
    assert_eq!(get(e, "name").as_string().as_deref(), Some("ClientError"));
    assert_eq!(get(e, "code").as_string().as_deref(), Some(code));
    assert_eq!(get(e, "statusCode").as_f64(), Some(status));
}

fn config_error(result: Result<AnamClient, JsValue>) -> JsValue {
    match result {
        Ok(_) => panic!("createClient accepted invalid input"),
        Err(e) => e,
    }
}

const CONFIG: &str = "CLIENT_ERROR_CODE_CONFIGURATION_ERROR";

#[wasm_bindgen_test]
fn create_client_accepts_a_token_or_a_provider() {
    let ok = token(r#"{"type":"stateful","accountId":"a"}"#);
    assert!(create_client(JsValue::from_str(&ok), JsValue::UNDEFINED).is_ok());
    let provider = js("return Promise.resolve('x')");
    assert!(create_client(
        provider.into(),
        options(r#"{"api":{"baseUrl":"http://127.0.0.1:1/"}}"#)
    )
    .is_ok());
}

#[wasm_bindgen_test]
fn create_client_rejects_bad_tokens_and_options() {
    for bad in ["not-a-jwt", "a..c", "a.!!!!.c"] {
        let e = config_error(create_client(JsValue::from_str(bad), JsValue::UNDEFINED));
        assert_client_error(&e, CONFIG, 400.0);
        let msg = get(&e, "message").as_string().unwrap_or_default();
        assert!(msg.contains("Invalid session token"), "{msg}");
    }
    let legacy = token(r#"{"type":"LEGACY"}"#);
    assert_client_error(
        &config_error(create_client(
            JsValue::from_str(&legacy),
            JsValue::UNDEFINED,
        )),
        CONFIG,
        400.0,
    );
    assert_client_error(
        &config_error(create_client(JsValue::from_f64(3.0), JsValue::UNDEFINED)),
        CONFIG,
        400.0,
    );
    let good = JsValue::from_str(&token(r#"{"type":"ephemeral"}"#));
    for bad in [
        r#"{"voiceDetection":{"endOfSpeechSensitivity":1.5}}"#,
        r#"{"voiceDetection":{"endOfSpeechSensitivity":"high"}}"#,
        r#"{"disableInputAudio":true,"voiceDetection":{}}"#,
        r#"{"api":{"baseUrl":"not a url"}}"#,
        r#"{"api":{"baseUrl":"ftp://example"}}"#,
        r#"{"api":{"apiVersion":"v1"}}"#,
        r#"{"api":{"apiGateway":{"enabled":true,"baseUrl":"http://g"}}}"#,
        r#"{"iceServers":{"urls":"stun:x"}}"#,
        r#"7"#,
    ] {
        let e = config_error(create_client(good.clone(), options(bad)));
        assert_client_error(&e, CONFIG, 400.0);
    }
}

#[wasm_bindgen_test]
fn state_checks_throw_plain_errors_before_streaming() {
    let client = create_client(js("return Promise.resolve('x')").into(), JsValue::UNDEFINED)
        .unwrap_or_else(|_| panic!("valid"));
    assert!(!client.is_streaming());
    assert!(client.get_active_session_id().is_null());
    let e = client
        .send_user_message("hi".into())
        .err()
        .unwrap_or(JsValue::NULL);
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_ne!(get(&e, "name").as_string().as_deref(), Some("ClientError"));
    assert!(client.interrupt_persona().is_err());
    assert!(client.create_talk_message_stream(None).is_err());
    let state = client.mute_input_audio();
    assert_eq!(get(&state, "isMuted"), JsValue::TRUE);
    assert_eq!(
        get(&state, "permissionState").as_string().as_deref(),
        Some("not_requested")
    );
}

#[wasm_bindgen_test]
async fn talk_rejects_without_a_session() {
    let client = create_client(js("return Promise.resolve('x')").into(), JsValue::UNDEFINED)
        .unwrap_or_else(|_| panic!("valid"));
    let e = JsFuture::from(client.talk("hello".into())).await.err();
    assert!(e.is_some_and(|e| e.is_instance_of::<js_sys::Error>()));
}

#[wasm_bindgen_test]
async fn fetch_session_token_maps_network_failures_to_server_errors() {
    // Port 9 (discard) on loopback: nothing listens, so the fetch fails without an answer.
    let e = JsFuture::from(fetch_session_token("http://127.0.0.1:9/api/session-token"))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_client_error(&e, "CLIENT_ERROR_CODE_SERVER_ERROR", 500.0);
    assert!(get(&get(&e, "details"), "cause").is_string());
    let e = JsFuture::from(fetch_session_token("http://[::1"))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_client_error(&e, "CLIENT_ERROR_CODE_SERVER_ERROR", 500.0);
}

/// Replaces `window.fetch` for one test with `body` (a function of `(url, init)`), returning a
/// guard that restores it.
struct FakeFetch(JsValue);

impl FakeFetch {
    fn install(body: &str) -> FakeFetch {
        let window: JsValue = web_sys::window().map(Into::into).unwrap_or(JsValue::NULL);
        let original = get(&window, "fetch");
        let fake = Function::new_with_args("url, init", body);
        let _ = Reflect::set(&window, &JsValue::from_str("fetch"), &fake);
        FakeFetch(original)
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            let _ = Reflect::set(&w, &JsValue::from_str("fetch"), &self.0);
        }
    }
}

#[wasm_bindgen_test]
async fn fetch_session_token_turns_backend_errors_into_typed_errors() {
    let _fake = FakeFetch::install(
        "return Promise.resolve(new Response(JSON.stringify({error:'rate_limited',message:'Too many',solution:'Wait'}),{status:429}))",
    );
    let e = JsFuture::from(fetch_session_token("/api/session-token"))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_client_error(&e, "CLIENT_ERROR_CODE_USAGE_LIMIT_REACHED", 429.0);
    assert_eq!(get(&e, "message").as_string().as_deref(), Some("Too many"));
    let details = get(&e, "details");
    assert_eq!(
        get(&details, "error").as_string().as_deref(),
        Some("rate_limited")
    );
    assert_eq!(
        get(&details, "solution").as_string().as_deref(),
        Some("Wait")
    );
}

#[wasm_bindgen_test]
async fn fetch_session_token_resolves_the_token_and_checks_it_is_there() {
    let _fake = FakeFetch::install(
        "return Promise.resolve(new Response(JSON.stringify({sessionToken:'tok'}),{status:201}))",
    );
    let v = JsFuture::from(fetch_session_token("/t")).await;
    assert_eq!(v.ok().and_then(|v| v.as_string()).as_deref(), Some("tok"));
    drop(_fake);
    let _fake = FakeFetch::install("return Promise.resolve(new Response('{}',{status:200}))");
    let e = JsFuture::from(fetch_session_token("/t"))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_client_error(&e, "CLIENT_ERROR_CODE_SERVER_ERROR", 500.0);
}

const START_BODY: &str = r#"{"sessionId":"s-1","engineHost":"127.0.0.1:9","engineProtocol":"http","signallingEndpoint":"/ws","clientConfig":{"iceServers":[]}}"#;

/// Answers every fetch with `status` and `body`, counting calls in `window.__starts`.
fn fake_start_session(status: u16, body: &str) -> FakeFetch {
    if let Some(w) = web_sys::window() {
        let _ = Reflect::set(&w, &JsValue::from_str("__starts"), &JsValue::from_f64(0.0));
    }
    FakeFetch::install(&format!(
        "window.__starts += 1; window.__auth = init && init.headers ? init.headers.get('Authorization') : null; return Promise.resolve(new Response({body:?}, {{status: {status}}}))"
    ))
}

fn started_client() -> AnamClient {
    let tok = token(r#"{"type":"stateful"}"#);
    create_client(
        JsValue::from_str(&tok),
        options(r#"{"api":{"baseUrl":"http://127.0.0.1:1"},"disableInputAudio":true}"#),
    )
    .unwrap_or_else(|_| panic!("valid"))
}

fn window_value(key: &str) -> JsValue {
    get(
        &web_sys::window().map(Into::into).unwrap_or(JsValue::NULL),
        key,
    )
}

#[wasm_bindgen_test]
async fn start_session_errors_reject_stream_with_typed_errors() {
    let _fake = fake_start_session(402, r#"{"message":"no plan"}"#);
    let client = started_client();
    let e = JsFuture::from(client.stream(JsValue::UNDEFINED))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_client_error(&e, "CLIENT_ERROR_CODE_NO_PLAN_FOUND", 402.0);
    assert_eq!(
        get(&get(&e, "details"), "cause").as_string().as_deref(),
        Some("no plan")
    );
    assert!(!client.is_streaming());
    assert_eq!(
        window_value("__starts").as_f64(),
        Some(1.0),
        "4xx is not retried"
    );
    let auth = window_value("__auth").as_string().unwrap_or_default();
    assert!(auth.starts_with("Bearer eyJ"), "the token is the bearer");
}

#[wasm_bindgen_test]
async fn talk_stream_state_machine_through_the_js_api() {
    let _fake = fake_start_session(200, START_BODY);
    let client = started_client();
    let closed = js_sys::Array::new();
    let sink = closed.clone();
    let cb = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue, JsValue)>::new(move |code, _| {
        sink.push(&code);
    });
    let cb_fn: Function = cb.as_ref().clone().unchecked_into();
    client.add_listener("CONNECTION_CLOSED".into(), cb_fn.clone());
    client.add_listener("CONNECTION_CLOSED".into(), cb_fn);
    // A removed listener is not called.
    let removed = js("window.__removedCalled = true;");
    client.add_listener("CONNECTION_CLOSED".into(), removed.clone());
    client.remove_listener("CONNECTION_CLOSED".into(), removed);
    let video = web_sys::window().and_then(|w| w.document()).and_then(|d| {
        let v = d.create_element("video").ok()?;
        v.set_id("tv");
        d.body()?.append_child(&v).ok()?;
        Some(v)
    });
    assert!(video.is_some());
    let started =
        JsFuture::from(client.stream_to_video_element("tv".into(), JsValue::UNDEFINED)).await;
    assert!(started.is_ok(), "resolves once the session started");
    assert_eq!(
        client.get_active_session_id().as_string().as_deref(),
        Some("s-1")
    );
    assert!(client.is_streaming());

    let s = client
        .create_talk_message_stream(Some("c-1".into()))
        .unwrap_or_else(|_| panic!("live session"));
    assert_eq!(s.get_state(), 0);
    assert!(s.is_active());
    assert_eq!(s.get_correlation_id(), "c-1");
    s.end_message(); // UNSTARTED: warns, stays UNSTARTED
    assert_eq!(s.get_state(), 0);
    assert!(s.stream_message_chunk("a".into(), false, None).is_ok());
    assert_eq!(s.get_state(), 1);
    assert!(s
        .stream_message_chunk("b".into(), false, Some("NOT-A-UUID".into()))
        .is_err());
    assert_eq!(s.get_state(), 1, "a bad utterance id changes nothing");
    s.end_message();
    assert_eq!(s.get_state(), 3);
    assert!(!s.is_active());
    let e = s
        .stream_message_chunk("c".into(), true, None)
        .err()
        .unwrap_or(JsValue::NULL);
    assert!(e.is_instance_of::<js_sys::Error>());
    assert!(client
        .create_talk_message_stream(Some("   ".into()))
        .is_err());
    let generated = client
        .create_talk_message_stream(None)
        .unwrap_or_else(|_| panic!("live"));
    assert!(!generated.get_correlation_id().is_empty());

    // A second start while live shares the session: it resolves at once, no second request.
    let second =
        JsFuture::from(client.stream_to_video_element("tv".into(), JsValue::UNDEFINED)).await;
    assert!(second.is_ok(), "joins the live session");
    assert_eq!(window_value("__starts").as_f64(), Some(1.0));

    JsFuture::from(client.stop_streaming()).await.ok();
    assert!(!client.is_streaming());
    assert!(client.get_active_session_id().is_null());
    assert_eq!(
        closed.length(),
        1,
        "one listener call (set semantics), one close"
    );
    assert_eq!(
        closed.get(0).as_string().as_deref(),
        Some("CONNECTION_CLOSED_CODE_NORMAL")
    );
    assert!(
        generated
            .stream_message_chunk("x".into(), true, None)
            .is_err(),
        "session over"
    );
    assert!(window_value("__removedCalled").is_undefined());
    drop(cb);
}

#[wasm_bindgen_test]
async fn stream_to_a_missing_element_rejects_without_starting() {
    let client = started_client();
    let e = JsFuture::from(client.stream_to_video_element("nope".into(), JsValue::UNDEFINED))
        .await
        .err();
    assert!(e.is_some_and(|e| e.is_instance_of::<js_sys::Error>()));
    assert!(!client.is_streaming());
}

fn abort_signal(abort_now: bool) -> (web_sys::AbortController, JsValue) {
    let controller = web_sys::AbortController::new().unwrap_or_else(|_| panic!("controller"));
    if abort_now {
        controller.abort();
    }
    let args = js_sys::Object::new();
    let _ = Reflect::set(&args, &JsValue::from_str("signal"), &controller.signal());
    (controller, args.into())
}

fn assert_abort_error(e: &JsValue) {
    assert_eq!(
        get(e, "name").as_string().as_deref(),
        Some("AbortError"),
        "rejects with an AbortError"
    );
    assert!(e.is_instance_of::<web_sys::DomException>());
}

#[wasm_bindgen_test]
async fn an_aborted_signal_rejects_at_once_without_any_request() {
    let _fake = fake_start_session(200, START_BODY);
    let client = started_client();
    let (_c, args) = abort_signal(true);
    let e = JsFuture::from(client.stream(args))
        .await
        .err()
        .unwrap_or(JsValue::NULL);
    assert_abort_error(&e);
    assert!(!client.is_streaming());
    assert_eq!(window_value("__starts").as_f64(), Some(0.0));
}

#[wasm_bindgen_test]
async fn aborting_or_stopping_a_start_rejects_with_abort_error() {
    // The fake start-session never answers, so the start is caught mid-request.
    let _fake = FakeFetch::install("return new Promise(() => {})");
    let client = started_client();
    let (controller, args) = abort_signal(false);
    let pending = JsFuture::from(client.stream(args));
    assert!(client.is_streaming());
    controller.abort();
    let e = pending.await.err().unwrap_or(JsValue::NULL);
    assert_abort_error(&e);
    assert!(!client.is_streaming());

    let pending = JsFuture::from(client.stream(JsValue::UNDEFINED));
    JsFuture::from(client.stop_streaming()).await.ok();
    let e = pending.await.err().unwrap_or(JsValue::NULL);
    assert_abort_error(&e);
    // Idle: a no-op.
    assert!(JsFuture::from(client.stop_streaming()).await.is_ok());
}

#[wasm_bindgen_test]
async fn bad_last_arguments_are_rejected() {
    let client = started_client();
    let e = JsFuture::from(client.stream(JsValue::from_str("nope"))).await;
    assert!(e.is_err());
    let args = js_sys::Object::new();
    let _ = Reflect::set(&args, &JsValue::from_str("signal"), &JsValue::from(1));
    assert!(JsFuture::from(client.stream(args.into())).await.is_err());
    assert!(!client.is_streaming());
}

#[wasm_bindgen_test]
fn auto_resume_needs_a_token_provider() {
    let tok = token(r#"{"type":"stateful"}"#);
    // A fixed token cannot be refreshed for a new session.
    let fixed = config_error(create_client(
        JsValue::from_str(&tok),
        options(r#"{"autoResume":true}"#),
    ));
    assert_client_error(&fixed, CONFIG, 400.0);
    let provider = js("return Promise.resolve('x')");
    assert!(create_client(
        provider.clone().into(),
        options(r#"{"autoResume":{"maxAttempts":2}}"#)
    )
    .is_ok());
    for bad in [
        r#"{"autoResume":{"maxAttempts":0}}"#,
        r#"{"autoResume":{"maxAttempts":-1}}"#,
        r#"{"autoResume":{"maxAttempts":1.5}}"#,
        r#"{"autoResume":"yes"}"#,
    ] {
        let e = config_error(create_client(provider.clone().into(), options(bad)));
        assert_client_error(&e, CONFIG, 400.0);
    }
}

#[wasm_bindgen_test]
fn the_core_clock_is_unix_time_that_never_goes_back() {
    // Unix milliseconds like Date.now(), which it starts from, but monotonic: a wall-clock step
    // moved by hand in the page must not move it.
    let wall = js_sys::Date::now();
    let first = anam_wasm::io::now() as f64;
    assert!(
        (first - wall).abs() < 1_000.0,
        "{first} vs Date.now() {wall}"
    );
    let mut last = first as u64;
    for _ in 0..1_000 {
        let t = anam_wasm::io::now();
        assert!(t >= last, "went back from {last} to {t}");
        last = t;
    }
    let stepped = js("const real = Date.now; Date.now = () => real() - 3600e3; return () => { Date.now = real; };");
    let restore: Function = stepped.call0(&JsValue::NULL).unwrap().unchecked_into();
    let after = anam_wasm::io::now();
    restore.call0(&JsValue::NULL).unwrap();
    assert!(
        after >= last,
        "followed a wall clock set back an hour: {last} -> {after}"
    );
}
