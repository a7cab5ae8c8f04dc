//! `fetch` helpers: a JSON POST that reports the status and body text, with an optional abort.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit, Response};

/// An HTTP answer: status and body text.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Why no answer came.
pub fn describe_js_error(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        String::from(err.message())
    } else {
        e.as_string().unwrap_or_else(|| "unknown error".to_owned())
    }
}

fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| JsValue::from_str("no window"))
}

/// POSTs `body` (JSON text) to `url`, with a bearer token when given.
pub async fn post_json(
    url: &str,
    body: &str,
    bearer: Option<&str>,
    signal: Option<&AbortSignal>,
) -> Result<Answer, JsValue> {
    let headers = Headers::new()?;
    headers.set("Content-Type", "application/json")?;
    if let Some(token) = bearer {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    if let Some(s) = signal {
        init.set_signal(Some(s));
    }
    let promise = window()?.fetch_with_str_and_init(url, &init);
    read(JsFuture::from(promise).await?).await
}

/// `fetch(url, init)` with `init` as the app gave it (used by `fetchSessionToken`).
pub async fn fetch_raw(url: &str, init: &Object) -> Result<Answer, JsValue> {
    let init: &RequestInit = init.unchecked_ref();
    let promise = window()?.fetch_with_str_and_init(url, init);
    read(JsFuture::from(promise).await?).await
}

async fn read(response: JsValue) -> Result<Answer, JsValue> {
    let response: Response = response.dyn_into()?;
    let status = response.status();
    let text = JsFuture::from(response.text()?).await?;
    Ok(Answer {
        status,
        body: text.as_string().unwrap_or_default(),
    })
}

/// Reads `obj[key]` (undefined when `obj` is not an object).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets `obj[key] = value`, ignoring failures on frozen objects.
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}
