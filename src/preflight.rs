//! `preflight()` (an extension beyond the official API): what the browser allows, checked
//! before paying for a session. It never prompts and never opens a device: the microphone is
//! judged from the Permissions API and the device list, autoplay from the browser's own policy
//! answer or a silent playback probe.

use gloo_timers::callback::Timeout;
use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlMediaElement;

use crate::autoplay::is_policy_refusal;
use crate::js::{get, set, to_js};

/// How long one browser query may take before its answer counts as unknown: the report must
/// arrive even where a query never settles.
const QUERY_TIMEOUT_MS: u32 = 1500;

/// Resolves with `{secureContext, webrtc, microphone: {supported, permission, devices},
/// autoplayWithSound}` (see README, "Preflight"). Never rejects.
#[wasm_bindgen(skip_typescript)]
pub fn preflight() -> Promise {
    wasm_bindgen_futures::future_to_promise(async { Ok(report().await) })
}

/// The preflight report, with the keys of the README.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    secure_context: bool,
    webrtc: bool,
    microphone: Microphone,
    /// `true`/`false`, or `"unknown"` when the browser could not tell.
    autoplay_with_sound: Autoplay,
}

#[derive(Serialize)]
struct Microphone {
    supported: bool,
    permission: &'static str,
    devices: Vec<Device>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Device {
    device_id: String,
    label: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Autoplay {
    Known(bool),
    Unknown(&'static str),
}

async fn report() -> JsValue {
    let global = js_sys::global();
    let navigator = get(&global, "navigator");
    let media_devices = get(&navigator, "mediaDevices");
    let report = Report {
        secure_context: get(&global, "isSecureContext").is_truthy(),
        webrtc: get(&global, "RTCPeerConnection").is_function(),
        microphone: Microphone {
            // Browsers hide mediaDevices outside secure contexts: then no page code can capture.
            supported: get(&media_devices, "getUserMedia").is_function(),
            permission: microphone_permission(&navigator).await,
            devices: audio_inputs(&media_devices).await,
        },
        autoplay_with_sound: match autoplay_with_sound(&navigator).await {
            Some(allowed) => Autoplay::Known(allowed),
            None => Autoplay::Unknown("unknown"),
        },
    };
    to_js(&report)
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
async fn audio_inputs(media_devices: &JsValue) -> Vec<Device> {
    let Ok(pending) = call_method(media_devices, "enumerateDevices", &[]) else {
        return Vec::new();
    };
    let Some(Ok(devices)) = settle(pending).await else {
        return Vec::new();
    };
    Array::from(&devices)
        .iter()
        .filter(|device| get(device, "kind").as_string().as_deref() == Some("audioinput"))
        .map(|device| {
            let text = |key| get(&device, key).as_string().unwrap_or_default();
            Device {
                device_id: text("deviceId"),
                label: text("label"),
            }
        })
        .collect()
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
    // Cleared when this function returns (the query settled first), so no timer outlives it.
    let mut _deadline = None;
    let timeout = Promise::new(&mut |resolve, _| {
        let marker = marker.clone();
        _deadline = Some(Timeout::new(QUERY_TIMEOUT_MS, move || {
            let _ = resolve.call1(&JsValue::NULL, &marker);
        }));
    });
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
