//! Browser tests that the client's JS API leaves nothing behind that grows with use
//! (`wasm-pack test --headless --chrome`).
#![cfg(target_arch = "wasm32")]

use anam_wasm::client::create_client;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn provider() -> JsValue {
    Function::new_no_args("return Promise.resolve('t')").into()
}

fn wasm_memory_bytes() -> f64 {
    let memory = wasm_bindgen::memory();
    let buffer = Reflect::get(&memory, &JsValue::from_str("buffer")).unwrap();
    Reflect::get(&buffer, &JsValue::from_str("byteLength"))
        .unwrap()
        .as_f64()
        .unwrap()
}

fn handler() -> JsValue {
    let h = Object::new();
    let on_start = Function::new_no_args("return 'ok'");
    Reflect::set(&h, &JsValue::from_str("onStart"), &on_start).unwrap();
    h.into()
}

fn register_and_unregister(client: &anam_wasm::client::AnamClient, times: u32) {
    for i in 0..times {
        let unregister = client
            .register_tool_call_handler(format!("tool_{}", i % 7), handler())
            .unwrap();
        unregister.call0(&JsValue::NULL).unwrap();
    }
}

#[wasm_bindgen_test]
fn tool_handler_registrations_keep_no_closure_each() {
    let client = create_client(provider(), JsValue::UNDEFINED).unwrap();
    // Warm-up: the first registration makes the one shared unregister function.
    register_and_unregister(&client, 1_000);
    let memory = wasm_memory_bytes();
    register_and_unregister(&client, 1_000);
    assert_eq!(client.tool_handlers().closures(), 1);
    assert!(client.tool_handlers().is_empty());
    assert_eq!(wasm_memory_bytes(), memory, "wasm memory grew");
}

#[wasm_bindgen_test]
fn an_unregister_function_removes_its_own_registration_only() {
    let client = create_client(provider(), JsValue::UNDEFINED).unwrap();
    let first = client
        .register_tool_call_handler("lookup".into(), handler())
        .unwrap();
    // The same name again replaces the first registration; the old unregister must not
    // remove the new one.
    let second = client
        .register_tool_call_handler("lookup".into(), handler())
        .unwrap();
    let other = client
        .register_tool_call_handler("weather".into(), handler())
        .unwrap();
    assert_eq!(client.tool_handlers().len(), 2);
    first.call0(&JsValue::NULL).unwrap();
    assert_eq!(client.tool_handlers().len(), 2);
    second.call0(&JsValue::NULL).unwrap();
    assert_eq!(client.tool_handlers().len(), 1);
    // Calling an unregister function twice, or with arguments, changes nothing more.
    second.call1(&JsValue::NULL, &JsValue::from(5)).unwrap();
    assert_eq!(client.tool_handlers().len(), 1);
    other.call0(&JsValue::NULL).unwrap();
    assert!(client.tool_handlers().is_empty());
    assert!(other.dyn_ref::<Function>().is_some());
}

/// Records every peer connection, WebSocket and captured track the page creates from now on
/// (in `window.__pcs`, `__sockets`, `__tracks`), and answers every fetch with a started session
/// whose signalling host refuses connections. Undone by `uninstall()`.
const INSTALL_RECORDERS: &str = r#"
  const w = window;
  w.__pcs = []; w.__sockets = []; w.__tracks = [];
  w.__orig = {pc: w.RTCPeerConnection, ws: w.WebSocket, fetch: w.fetch,
    gum: navigator.mediaDevices.getUserMedia};
  w.RTCPeerConnection = class extends w.__orig.pc {
    constructor(...a) { super(...a); w.__pcs.push(this); } };
  w.WebSocket = class extends w.__orig.ws {
    constructor(...a) { super(...a); w.__sockets.push(this); } };
  const gum = w.__orig.gum.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (c) => {
    const s = await gum(c); w.__tracks.push(...s.getTracks()); return s; };
  const body = JSON.stringify({sessionId: 's-free', engineHost: '127.0.0.1:9',
    engineProtocol: 'http', signallingEndpoint: '/ws', clientConfig: {iceServers: []}});
  w.fetch = () => Promise.resolve(new Response(body, {status: 200}));
"#;

const UNINSTALL_RECORDERS: &str = r#"
  const w = window, o = w.__orig;
  w.RTCPeerConnection = o.pc; w.WebSocket = o.ws; w.fetch = o.fetch;
  navigator.mediaDevices.getUserMedia = o.gum;
"#;

fn eval(body: &str) -> JsValue {
    Function::new_no_args(body).call0(&JsValue::NULL).unwrap()
}

/// Resolves after `ms` milliseconds (for bounded polling of browser state).
async fn pause(ms: i32) {
    let wait = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(wait).await;
}

#[wasm_bindgen_test]
async fn freeing_a_streaming_client_leaves_no_live_track_socket_or_peer_connection() {
    eval(INSTALL_RECORDERS);
    let tok = JsValue::from_str(&jwt(r#"{"type":"stateful"}"#));
    let options = js_sys::JSON::parse(r#"{"api":{"baseUrl":"http://127.0.0.1:1"}}"#).unwrap();
    let client = create_client(tok, options).unwrap();
    let started = wasm_bindgen_futures::JsFuture::from(client.stream(JsValue::UNDEFINED));
    // The session is accepted at once; the peer connection, the signalling socket and the
    // microphone follow within a few event-loop turns (bounded wait: 10 s).
    let live = "return window.__pcs.length > 0 && window.__sockets.length > 0 \
                && window.__tracks.length > 0";
    for _ in 0..500 {
        if eval(live).is_truthy() {
            break;
        }
        pause(20).await;
    }
    assert!(eval(live).is_truthy(), "the session did not get its IO");
    assert!(client.is_streaming());
    // A talk stream outlives the client and keeps the shell's driver alive.
    let talk = client.create_talk_message_stream(None).unwrap();

    drop(client);

    let failed = started.await.expect_err("stream() must not resolve");
    assert_eq!(
        Reflect::get(&failed, &JsValue::from_str("name")).unwrap(),
        "AbortError"
    );
    let dead = "return window.__pcs.every(p => p.signalingState === 'closed') \
                && window.__sockets.every(s => s.readyState >= 2) \
                && window.__tracks.every(t => t.readyState === 'ended')";
    let all_released = eval(dead).is_truthy();
    eval(UNINSTALL_RECORDERS);
    assert!(
        all_released,
        "a track, socket or peer connection is still live"
    );
    // The talk stream's session is over: it sends nothing (and does not panic).
    assert!(talk
        .stream_message_chunk("late".into(), true, None)
        .is_err());
}

/// A JWT-shaped token whose payload is `payload`.
fn jwt(payload: &str) -> String {
    let f = Function::new_with_args(
        "p",
        "return 'eyJhbGciOiJIUzI1NiJ9.' + btoa(p).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'') + '.sig'",
    );
    f.call1(&JsValue::NULL, &JsValue::from_str(payload))
        .unwrap()
        .as_string()
        .unwrap()
}
