//! Browser tests of the hand-written `fetch` adapter where gloo-net would not do
//! (`wasm-pack test --headless --chrome`; see docs/BENCHMARKS.md, "gloo and serde-wasm-bindgen").
#![cfg(target_arch = "wasm32")]

use anam_wasm::client::{create_client, session_token_of};
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// An app's `abort("reason")` makes the browser's `fetch` reject with that string, not an
/// `Error`: the adapter must turn it into a rejection, where gloo-net 0.6's reaches an
/// `unreachable!` and aborts the whole wasm instance.
#[wasm_bindgen_test]
async fn a_fetch_aborted_with_a_string_reason_rejects_and_the_client_lives_on() {
    let controller = web_sys::AbortController::new().unwrap();
    controller.abort_with_reason(&JsValue::from_str("the app navigated away"));
    let init = Object::new();
    Reflect::set(&init, &JsValue::from_str("signal"), &controller.signal()).unwrap();
    let send = Function::new_with_args("init", "return fetch('/never', init)");
    let sent: Promise = send.call1(&JsValue::NULL, &init).unwrap().unchecked_into();
    let failed = JsFuture::from(session_token_of(sent))
        .await
        .expect_err("an aborted fetch must reject");
    let code = Reflect::get(&failed, &JsValue::from_str("code")).unwrap();
    assert_eq!(code, "CLIENT_ERROR_CODE_SERVER_ERROR", "{failed:?}");
    // The wasm instance still runs.
    let provider: JsValue = Function::new_no_args("return Promise.resolve('t')").into();
    assert!(create_client(provider, JsValue::UNDEFINED).is_ok());
}
