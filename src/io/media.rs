//! Microphone capture and track helpers.

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::js::set;

/// Asks for the microphone with the official constraints (§8.4, 4.27), optionally an exact
/// device.
pub async fn capture_microphone(device_id: Option<&str>) -> Result<MediaStream, JsValue> {
    let audio = Object::new();
    for key in [
        "echoCancellation",
        "noiseSuppression",
        "autoGainControl",
        "voiceIsolation",
    ] {
        set(&audio, key, &JsValue::TRUE);
    }
    let ideal = Object::new();
    set(&ideal, "ideal", &JsValue::from_f64(1.0));
    set(&audio, "channelCount", &ideal);
    if let Some(id) = device_id {
        let exact = Object::new();
        set(&exact, "exact", &JsValue::from_str(id));
        set(&audio, "deviceId", &exact);
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    let devices = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .navigator()
        .media_devices()?;
    let stream = JsFuture::from(devices.get_user_media_with_constraints(&constraints)?).await?;
    stream.dyn_into()
}

/// The audio tracks of `stream`.
pub fn audio_tracks(stream: &MediaStream) -> Vec<MediaStreamTrack> {
    stream
        .get_audio_tracks()
        .iter()
        .filter_map(|t| t.dyn_into().ok())
        .collect()
}

pub fn set_enabled(stream: &MediaStream, enabled: bool) {
    for t in audio_tracks(stream) {
        t.set_enabled(enabled);
    }
}

pub fn stop_all(stream: &MediaStream) {
    let tracks: Array = stream.get_tracks();
    for t in tracks.iter() {
        if let Ok(t) = t.dyn_into::<MediaStreamTrack>() {
            t.stop();
        }
    }
}
