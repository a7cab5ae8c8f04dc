//! `fetchSessionToken(url, init?)`: reads the app backend's answer to a session token request.
//! The package's JS sends the request (`fetch(url, {method: "POST", ...init})`) before the
//! WebAssembly module may have loaded, so the token is on its way while the module downloads;
//! this reads the answer once both are there.

use anam_core::errors::{classify_network_failure, classify_session_token};
use anam_core::wire::rest::ApiErrorBody;
use js_sys::Promise;
use wasm_bindgen::JsValue;

use crate::errors::{api_error, client_error, Details};
use crate::io::http::answer_of;
use crate::js::describe_js_error;

/// Returns `sessionToken` from the JSON answer of `sent` (the `fetch` promise). A non-2xx
/// answer becomes a `ClientError` carrying the backend's `error`, `message` and `solution` in
/// `details` (and `message` as the error message).
pub async fn session_token(sent: Promise) -> Result<JsValue, JsValue> {
    let answer = match answer_of(sent).await {
        Ok(a) => a,
        Err(e) => {
            let failure = classify_network_failure(&describe_js_error(&e));
            return Err(client_error(
                failure.code,
                failure.status,
                "Could not reach the session token endpoint",
                Some(details(
                    failure.cause.as_deref(),
                    &ApiErrorBody::default(),
                    "",
                )),
            ));
        }
    };
    match classify_session_token(answer.status, &answer.body) {
        Ok(ok) => Ok(JsValue::from_str(&ok.session_token)),
        Err(failure) => {
            let body = anam_core::json::parse(&answer.body)
                .map(|v| ApiErrorBody::from_value(&v))
                .unwrap_or_default();
            if (200..300).contains(&answer.status) {
                return Err(api_error(&failure));
            }
            let message = body.message.clone().unwrap_or_else(|| {
                format!("Failed to get a session token (HTTP {})", answer.status)
            });
            Err(client_error(
                failure.code,
                failure.status,
                &message,
                Some(details(failure.cause.as_deref(), &body, &answer.body)),
            ))
        }
    }
}

/// `details = {cause?, error?, message?, solution?, responseBody}`.
fn details<'a>(cause: Option<&'a str>, body: &'a ApiErrorBody, raw: &'a str) -> Details<'a> {
    Details {
        cause,
        error: body.error.as_deref(),
        message: body.message.as_deref(),
        solution: body.solution.as_deref(),
        response_body: Some(raw),
    }
}
