//! `preflight()` (an extension beyond the official API): what the browser allows, checked
//! before paying for a session. It never prompts and never opens a device: the microphone is
//! judged from the Permissions API and the device list, autoplay from the browser's own policy
//! answer or a silent playback probe.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlMediaElement;

use crate::autoplay::is_policy_refusal;
use crate::io::http::{get, set};

/// How long one browser query may take before its answer counts as unknown: the report must
/// arrive even where a query never settles.
const QUERY_TIMEOUT_MS: i32 = 1500;

/// Resolves with `{secureContext, webrtc, microphone: {supported, permission, devices},
/// autoplayWithSound}` (see README, "Preflight"). Never rejects.
#[wasm_bindgen(skip_typescript)]
pub fn preflight() -> Promise {
    wasm_bindgen_futures::future_to_promise(async { Ok(report().await.into()) })
}

async fn report() -> Object {
    let global = js_sys::global();
    let navigator = get(&global, "navigator");
    let media_devices = get(&navigator, "mediaDevices");

    let report = Object::new();
    set(
        &report,
        "secureContext",
        &JsValue::from_bool(get(&global, "isSecureContext").is_truthy()),
    );
    set(
        &report,
        "webrtc",
        &JsValue::from_bool(get(&global, "RTCPeerConnection").is_function()),
    );

    let microphone = Object::new();
    // Browsers hide mediaDevices outside secure contexts: then no page code can capture.
    set(
        &microphone,
        "supported",
        &JsValue::from_bool(get(&media_devices, "getUserMedia").is_function()),
    );
    set(
        &microphone,
        "permission",
        &JsValue::from_str(microphone_permission(&navigator).await),
    );
    set(&microphone, "devices", &audio_inputs(&media_devices).await);
    set(&report, "microphone", &microphone);

    let autoplay = match autoplay_with_sound(&navigator).await {
        Some(allowed) => JsValue::from_bool(allowed),
        None => JsValue::from_str("unknown"),
    };
    set(&report, "autoplayWithSound", &autoplay);
    report
}

/// `navigator.permissions.query({name: "microphone"})` without prompting; `"unknown"` where
/// the browser cannot answer for the microphone.
async fn microphone_permission(navigator: &JsValue) -> &'static str {
    let permissions = get(navigator, "permissions");
    let descriptor = Object::new();
    set(&descriptor, "name", &JsValue::from_str("microphone"));
    let Ok(status) = call_method(&permissions, "query", &[descriptor.into()]) else {
        return "unknown";
    };
    match settle(status).await {
        Some(Ok(status)) => match get(&status, "state").as_string().as_deref() {
            Some("granted") => "granted",
            Some("denied") => "denied",
            Some("prompt") => "prompt",
            _ => "unknown",
        },
        _ => "unknown",
    }
}

/// The audio inputs as `{deviceId, label}`. Until the page has microphone permission,
/// browsers list at most one placeholder whose id and label are empty (it still says that a
/// microphone exists).
async fn audio_inputs(media_devices: &JsValue) -> JsValue {
    let list = Array::new();
    let Ok(pending) = call_method(media_devices, "enumerateDevices", &[]) else {
        return list.into();
    };
    if let Some(Ok(devices)) = settle(pending).await {
        for device in Array::from(&devices).iter() {
            if get(&device, "kind").as_string().as_deref() != Some("audioinput") {
                continue;
            }
            let entry = Object::new();
            for key in ["deviceId", "label"] {
                let value = get(&device, key).as_string().unwrap_or_default();
                set(&entry, key, &JsValue::from_str(&value));
            }
            list.push(&entry);
        }
    }
    list.into()
}

/// Whether media may start with sound now: the browser's own answer where it has one
/// (`navigator.getAutoplayPolicy`), else a probe: a silent, unattached audio element asked to
/// play. `None` when neither works.
async fn autoplay_with_sound(navigator: &JsValue) -> Option<bool> {
    if let Ok(policy) = call_method(
        navigator,
        "getAutoplayPolicy",
        &[JsValue::from_str("mediaelement")],
    ) {
        if let Some(policy) = policy.as_string() {
            return Some(policy == "allowed");
        }
    }
    let probe = SilentProbe::new()?;
    let started = probe.element.play().ok()?;
    match settle(started.into()).await {
        Some(Ok(_)) => Some(true),
        Some(Err(e)) if is_policy_refusal(&e) => Some(false),
        _ => None,
    }
}

/// A silent audio stream from a Web Audio graph playing in a detached `<audio>`; everything is
/// released when dropped.
struct SilentProbe {
    context: JsValue,
    stream: JsValue,
    element: HtmlMediaElement,
}

impl SilentProbe {
    fn new() -> Option<SilentProbe> {
        let global = js_sys::global();
        let constructor: Function = get(&global, "AudioContext").dyn_into().ok()?;
        let context = Reflect::construct(&constructor, &Array::new()).ok()?;
        let destination = call_method(&context, "createMediaStreamDestination", &[]).ok();
        let stream = destination.map(|d| get(&d, "stream")).unwrap_or_default();
        let probe = SilentProbe {
            context,
            stream,
            element: web_sys::window()?
                .document()?
                .create_element("audio")
                .ok()?
                .dyn_into()
                .ok()?,
        };
        let stream: web_sys::MediaStream = probe.stream.clone().dyn_into().ok()?;
        probe.element.set_src_object(Some(&stream));
        Some(probe)
    }
}

impl Drop for SilentProbe {
    fn drop(&mut self) {
        let _ = self.element.pause();
        self.element.set_src_object(None);
        if let Ok(tracks) = call_method(&self.stream, "getTracks", &[]) {
            for track in Array::from(&tracks).iter() {
                let _ = call_method(&track, "stop", &[]);
            }
        }
        if let Ok(closing) = call_method(&self.context, "close", &[]) {
            // Awaited only so that a failed close is not reported as an unhandled rejection.
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(Promise::resolve(&closing)).await;
            });
        }
    }
}

/// `obj.name(...args)`; an error when `obj` has no such method or it throws.
fn call_method(obj: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(obj, name).dyn_into()?;
    f.apply(obj, &args.iter().collect::<Array>())
}

/// Awaits `value` (a promise or a plain value) for at most [`QUERY_TIMEOUT_MS`]; `None` when it
/// did not settle in time.
async fn settle(value: JsValue) -> Option<Result<JsValue, JsValue>> {
    let marker = Object::new();
    let timeout = {
        let marker = marker.clone();
        Promise::new(&mut move |resolve, _| {
            let bound: Function = resolve.bind1(&JsValue::NULL, &marker).unchecked_into();
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    &bound,
                    QUERY_TIMEOUT_MS,
                );
            }
        })
    };
    let race = Promise::race(
        &[Promise::resolve(&value), timeout]
            .iter()
            .collect::<Array>(),
    );
    match JsFuture::from(race).await {
        Ok(v) if v == JsValue::from(marker) => None,
        other => Some(other),
    }
}
