//! `createClient` options: reading the app's object and validating it (§2.3, §10.2).

use anam_core::retry::RetryPolicy;
use anam_core::session::resume::{DEFAULT_RESUME_ATTEMPTS, MAX_ATTEMPTS_LIMIT};
use anam_core::session::{SessionConfig, TokenSource};
use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};

use crate::errors::configuration_error;
use crate::js::get;

/// `metrics.peerConnectionStatsReportOutputFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsReportFormat {
    Console,
    Json,
}

/// Options the shell applies itself (browser objects the core never sees).
#[derive(Default, Clone)]
pub struct ShellOptions {
    pub ice_servers: Option<JsValue>,
    pub rtc_configuration: Option<Object>,
    pub audio_device_id: Option<String>,
    /// `metrics.showPeerConnectionStatsReport`: print a stats report at teardown, in this format.
    pub stats_report: Option<StatsReportFormat>,
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

/// A base URL for REST calls: an absolute `http:`/`https:` URL, without a trailing slash (the
/// version path is appended by plain concatenation).
fn base_url(raw: &str) -> Result<String, JsValue> {
    let url = web_sys::Url::new(raw)
        .map_err(|_| configuration_error("api.baseUrl must be an absolute URL"))?;
    let protocol = url.protocol();
    if protocol != "http:" && protocol != "https:" {
        return Err(configuration_error("api.baseUrl must use http: or https:"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Reads and validates `options` for a client with token source `token`.
pub fn parse(
    token: TokenSource,
    options: &JsValue,
) -> Result<(SessionConfig, ShellOptions), JsValue> {
    let mut config = SessionConfig::new(token);
    let mut shell = ShellOptions::default();
    if present(options).is_none() {
        return Ok((config, shell));
    }
    if !options.is_object() {
        return Err(configuration_error("options must be an object"));
    }
    if let Some(api) = optional_object(options, "api", "api")? {
        if let Some(raw) = optional_string(&api, "baseUrl", "api.baseUrl")? {
            config.base_url = base_url(&raw)?;
        }
        if let Some(version) = optional_string(&api, "apiVersion", "api.apiVersion")? {
            if !version.is_empty() && !version.starts_with('/') {
                return Err(configuration_error("api.apiVersion must start with '/'"));
            }
            config.api_version = version.trim_end_matches('/').to_owned();
        }
        if let Some(gateway) = optional_object(&api, "apiGateway", "api.apiGateway")? {
            if get(&gateway, "enabled").is_truthy() {
                return Err(configuration_error(
                    "api.apiGateway is not supported by this client",
                ));
            }
        }
        let retry = optional_object(&api, "retry", "api.retry")?.unwrap_or(JsValue::UNDEFINED);
        config.retry = RetryPolicy::from_options(
            optional_number(&retry, "maxAttempts", "api.retry.maxAttempts")?,
            optional_number(&retry, "initialBackoffMs", "api.retry.initialBackoffMs")?,
            optional_number(&retry, "maxBackoffMs", "api.retry.maxBackoffMs")?,
            optional_number(&api, "requestTimeoutMs", "api.requestTimeoutMs")?,
        );
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
    shell.audio_device_id = optional_string(options, "audioDeviceId", "audioDeviceId")?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    config.disable_input_audio = get(options, "disableInputAudio").is_truthy();
    if let Some(metrics) = optional_object(options, "metrics", "metrics")? {
        if get(&metrics, "showPeerConnectionStatsReport").is_truthy() {
            let key = "peerConnectionStatsReportOutputFormat";
            let path = "metrics.peerConnectionStatsReportOutputFormat";
            shell.stats_report = Some(match optional_string(&metrics, key, path)?.as_deref() {
                None | Some("console") => StatsReportFormat::Console,
                Some("json") => StatsReportFormat::Json,
                Some(_) => {
                    return Err(configuration_error(&format!(
                        "{path} must be 'console' or 'json'"
                    )))
                }
            });
        }
    }
    if let Some(vd) = optional_object(options, "voiceDetection", "voiceDetection")? {
        if config.disable_input_audio {
            return Err(configuration_error(
                "voiceDetection cannot be used together with disableInputAudio",
            ));
        }
        if let Some(s) = optional_number(
            &vd,
            "endOfSpeechSensitivity",
            "voiceDetection.endOfSpeechSensitivity",
        )? {
            if !(0.0..=1.0).contains(&s) {
                return Err(configuration_error(
                    "voiceDetection.endOfSpeechSensitivity must be between 0 and 1",
                ));
            }
            config.end_of_speech_sensitivity =
                crate::driver::js_number(&get(&vd, "endOfSpeechSensitivity"));
        }
    }
    config.auto_resume = auto_resume(options, &config.token)?;
    Ok((config, shell))
}

/// `autoResume`: `true` or `{maxAttempts?}` (an extension). A resume needs a fresh token for
/// each new session, so it is a configuration error with a fixed token rather than a silent
/// no-op the app would only discover when a session dies.
fn auto_resume(options: &JsValue, token: &TokenSource) -> Result<Option<u32>, JsValue> {
    let value = get(options, "autoResume");
    let tries = match present(&value) {
        None => return Ok(None),
        Some(v) if v.as_bool() == Some(false) => return Ok(None),
        Some(v) if v.as_bool() == Some(true) => DEFAULT_RESUME_ATTEMPTS,
        Some(v) if v.is_object() && !Array::is_array(v) => {
            match optional_number(v, "maxAttempts", "autoResume.maxAttempts")? {
                None => DEFAULT_RESUME_ATTEMPTS,
                Some(n)
                    if n.fract() == 0.0 && (1.0..=f64::from(MAX_ATTEMPTS_LIMIT)).contains(&n) =>
                {
                    n as u32
                }
                Some(_) => {
                    return Err(configuration_error(&format!(
                    "autoResume.maxAttempts must be a whole number from 1 to {MAX_ATTEMPTS_LIMIT}"
                )))
                }
            }
        }
        Some(_) => {
            return Err(configuration_error(
                "autoResume must be true, false or {maxAttempts}",
            ))
        }
    };
    if !matches!(token, TokenSource::Provider) {
        return Err(configuration_error(
            "autoResume needs a token provider function: each new session needs a fresh token",
        ));
    }
    Ok(Some(tries))
}
