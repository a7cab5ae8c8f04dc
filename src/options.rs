//! `createClient` options: reading the app's object and validating it (§2.3, §10.2).

use anam_core::session::{
    RawAutoResume, RawOptions, RawUrl, SessionConfig, ShellConfig, TokenSource,
};
use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};

use crate::errors::configuration_error;
use crate::js::get;

/// Options the shell applies itself: browser objects the core never sees, and what the core
/// decided about the rest ([`ShellConfig`]).
#[derive(Default, Clone)]
pub struct ShellOptions {
    pub ice_servers: Option<JsValue>,
    pub rtc_configuration: Option<Object>,
    pub config: ShellConfig,
}

fn present(v: &JsValue) -> Option<&JsValue> {
    (!v.is_undefined() && !v.is_null()).then_some(v)
}

fn optional_number(obj: &JsValue, key: &str, path: &str) -> Result<Option<f64>, JsValue> {
    match present(&get(obj, key)) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| configuration_error(&format!("{path} must be a number"))),
    }
}

fn optional_string(obj: &JsValue, key: &str, path: &str) -> Result<Option<String>, JsValue> {
    match present(&get(obj, key)) {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| configuration_error(&format!("{path} must be a string"))),
    }
}

fn optional_object(obj: &JsValue, key: &str, path: &str) -> Result<Option<JsValue>, JsValue> {
    match present(&get(obj, key)) {
        None => Ok(None),
        Some(v) if v.is_object() && !Array::is_array(v) => Ok(Some(v.clone())),
        Some(_) => Err(configuration_error(&format!("{path} must be an object"))),
    }
}

/// `api.baseUrl` through the browser's URL parser.
fn raw_url(text: String) -> RawUrl {
    let protocol = web_sys::Url::new(&text).ok().map(|u| u.protocol());
    RawUrl { text, protocol }
}

/// Reads `options` for a client with token source `token`: wrong JavaScript types are errors
/// here (naming the option), the values are checked by the core (`SessionConfig::from_raw`).
pub fn parse(
    token: TokenSource,
    options: &JsValue,
) -> Result<(SessionConfig, ShellOptions), JsValue> {
    let (raw, mut shell) = read(options)?;
    let (config, decided) =
        SessionConfig::from_raw(token, raw).map_err(|e| configuration_error(&e.0))?;
    shell.config = decided;
    Ok((config, shell))
}

fn read(options: &JsValue) -> Result<(RawOptions, ShellOptions), JsValue> {
    let mut raw = RawOptions::default();
    let mut shell = ShellOptions::default();
    if present(options).is_none() {
        return Ok((raw, shell));
    }
    if !options.is_object() {
        return Err(configuration_error("options must be an object"));
    }
    if let Some(api) = optional_object(options, "api", "api")? {
        raw.base_url = optional_string(&api, "baseUrl", "api.baseUrl")?.map(raw_url);
        raw.api_version = optional_string(&api, "apiVersion", "api.apiVersion")?;
        if let Some(gateway) = optional_object(&api, "apiGateway", "api.apiGateway")? {
            raw.api_gateway_enabled = get(&gateway, "enabled").is_truthy();
        }
        let retry = optional_object(&api, "retry", "api.retry")?.unwrap_or(JsValue::UNDEFINED);
        raw.max_attempts = optional_number(&retry, "maxAttempts", "api.retry.maxAttempts")?;
        raw.initial_backoff_ms =
            optional_number(&retry, "initialBackoffMs", "api.retry.initialBackoffMs")?;
        raw.max_backoff_ms = optional_number(&retry, "maxBackoffMs", "api.retry.maxBackoffMs")?;
        raw.request_timeout_ms = optional_number(&api, "requestTimeoutMs", "api.requestTimeoutMs")?;
    }
    if let Some(servers) = present(&get(options, "iceServers")) {
        if !Array::is_array(servers) {
            return Err(configuration_error("iceServers must be an array"));
        }
        shell.ice_servers = Some(servers.clone());
    }
    if let Some(rtc) = optional_object(options, "rtcConfiguration", "rtcConfiguration")? {
        shell.rtc_configuration = Some(rtc.unchecked_into());
    }
    raw.audio_device_id = optional_string(options, "audioDeviceId", "audioDeviceId")?;
    raw.disable_input_audio = get(options, "disableInputAudio").is_truthy();
    if let Some(metrics) = optional_object(options, "metrics", "metrics")? {
        raw.show_stats_report = get(&metrics, "showPeerConnectionStatsReport").is_truthy();
        raw.stats_report_format = optional_string(
            &metrics,
            "peerConnectionStatsReportOutputFormat",
            "metrics.peerConnectionStatsReportOutputFormat",
        )?;
    }
    if let Some(vd) = optional_object(options, "voiceDetection", "voiceDetection")? {
        raw.voice_detection = true;
        let path = "voiceDetection.endOfSpeechSensitivity";
        if optional_number(&vd, "endOfSpeechSensitivity", path)?.is_some() {
            raw.end_of_speech_sensitivity_given = true;
            raw.end_of_speech_sensitivity =
                crate::driver::js_number(&get(&vd, "endOfSpeechSensitivity"));
        }
    }
    raw.auto_resume = auto_resume(options)?;
    Ok((raw, shell))
}

/// `autoResume`: `true` or `{maxAttempts?}` (an extension).
fn auto_resume(options: &JsValue) -> Result<RawAutoResume, JsValue> {
    let value = get(options, "autoResume");
    Ok(match present(&value) {
        None => RawAutoResume::Off,
        Some(v) if v.as_bool() == Some(false) => RawAutoResume::Off,
        Some(v) if v.as_bool() == Some(true) => RawAutoResume::On,
        Some(v) if v.is_object() && !Array::is_array(v) => {
            RawAutoResume::MaxAttempts(optional_number(v, "maxAttempts", "autoResume.maxAttempts")?)
        }
        Some(_) => {
            return Err(configuration_error(
                "autoResume must be true, false or {maxAttempts}",
            ))
        }
    })
}
