//! The validated options a session machine runs with.

use crate::retry::RetryPolicy;

use super::resume::{DEFAULT_RESUME_ATTEMPTS, MAX_ATTEMPTS_LIMIT};

/// Name sent as `clientMetadata.client`.
pub const CLIENT_NAME: &str = "anam-wasm";
/// Default Core API origin and version (§12).
pub const DEFAULT_BASE_URL: &str = "https://api.anam.ai";
/// Default Core API version path, appended to the base URL.
pub const DEFAULT_API_VERSION: &str = "/v1";

/// Where session tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// One token given to `createClient`; reused for every session (as the official client does).
    Fixed(String),
    /// An app function returning a token: called for each new session, and once more when the
    /// token turns out expired.
    Provider,
}

/// The validated options the machine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Core API origin, trailing slashes removed.
    pub base_url: String,
    /// API version path, e.g. `/v1`.
    pub api_version: String,
    /// Retries and timeout of the start-session call (§3.4).
    pub retry: RetryPolicy,
    /// Kept as the app's JSON number text, so the wire carries exactly what it gave.
    pub end_of_speech_sensitivity: Option<crate::json::Number>,
    /// `disableInputAudio`: no microphone is requested and audio is receive-only.
    pub disable_input_audio: bool,
    /// How session tokens are obtained.
    pub token: TokenSource,
    /// `autoResume`: how many fresh sessions to try after a lost one (`None`: never resume).
    /// Only meaningful with [`TokenSource::Provider`]; [`SessionConfig::from_raw`] refuses it
    /// with a fixed token.
    pub auto_resume: Option<u32>,
}

impl SessionConfig {
    /// Defaults of the official client for a token source.
    pub fn new(token: TokenSource) -> SessionConfig {
        SessionConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            retry: RetryPolicy::default(),
            end_of_speech_sensitivity: None,
            disable_input_audio: false,
            token,
            auto_resume: None,
        }
    }
}

/// `metrics.peerConnectionStatsReportOutputFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsReportFormat {
    /// One line per section on the console.
    Console,
    /// The report as one JSON object on the console.
    Json,
}

/// `api.baseUrl` as the browser's URL parser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUrl {
    /// The text the app gave.
    pub text: String,
    /// The parsed URL's `protocol` (`"https:"`), `None` when it is not an absolute URL.
    pub protocol: Option<String>,
}

/// `autoResume` as the app gave it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RawAutoResume {
    /// Absent, `false`, `null`.
    #[default]
    Off,
    /// `true`.
    On,
    /// `{maxAttempts?}`.
    MaxAttempts(Option<f64>),
}

/// `createClient`'s options after the shell read them (a wrong JavaScript type is already an
/// error there, naming the option's path), before their values are checked: the decisions about
/// them are [`SessionConfig::from_raw`]'s.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawOptions {
    /// `api.baseUrl`.
    pub base_url: Option<RawUrl>,
    /// `api.apiVersion`.
    pub api_version: Option<String>,
    /// `api.apiGateway.enabled`.
    pub api_gateway_enabled: bool,
    /// `api.retry.maxAttempts`.
    pub max_attempts: Option<f64>,
    /// `api.retry.initialBackoffMs`.
    pub initial_backoff_ms: Option<f64>,
    /// `api.retry.maxBackoffMs`.
    pub max_backoff_ms: Option<f64>,
    /// `api.requestTimeoutMs`.
    pub request_timeout_ms: Option<f64>,
    /// `disableInputAudio` (truthy).
    pub disable_input_audio: bool,
    /// Whether `voiceDetection` is present.
    pub voice_detection: bool,
    /// `voiceDetection.endOfSpeechSensitivity`, as its JSON number text (`None` also for NaN
    /// and ±Infinity, which have none).
    pub end_of_speech_sensitivity: Option<crate::json::Number>,
    /// Whether `voiceDetection.endOfSpeechSensitivity` is present (a number, maybe not finite).
    pub end_of_speech_sensitivity_given: bool,
    /// `autoResume`.
    pub auto_resume: RawAutoResume,
    /// `metrics.showPeerConnectionStatsReport` (truthy).
    pub show_stats_report: bool,
    /// `metrics.peerConnectionStatsReportOutputFormat`.
    pub stats_report_format: Option<String>,
    /// `audioDeviceId`.
    pub audio_device_id: Option<String>,
}

/// An option that cannot be used: the message names its path and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What [`SessionConfig::from_raw`] decides beyond the machine's own configuration: the options
/// the shell applies to browser objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShellConfig {
    /// The microphone to capture (trimmed; `None` for the default device).
    pub audio_device_id: Option<String>,
    /// Print a stats report at teardown, in this format.
    pub stats_report: Option<StatsReportFormat>,
}

impl TokenSource {
    /// A token given to `createClient`: it must decode, and be usable by a browser client.
    pub fn fixed(token: String) -> Result<TokenSource, OptionError> {
        let checked = crate::claims::TokenClaims::decode(&token)
            .map_err(|e| e.to_string())
            .and_then(|claims| claims.validate_for_client().map_err(|e| e.to_string()));
        match checked {
            Ok(()) => Ok(TokenSource::Fixed(token)),
            Err(e) => Err(OptionError(format!("Invalid session token: {e}"))),
        }
    }
}

impl SessionConfig {
    /// Checks the app's options for a client with token source `token` (§2.3, §10.2).
    pub fn from_raw(
        token: TokenSource,
        raw: RawOptions,
    ) -> Result<(SessionConfig, ShellConfig), OptionError> {
        let fail = |message: &str| Err(OptionError(message.to_owned()));
        let mut config = SessionConfig::new(token);
        if let Some(url) = raw.base_url {
            match url.protocol.as_deref() {
                None => return fail("api.baseUrl must be an absolute URL"),
                Some("http:" | "https:") => {}
                Some(_) => return fail("api.baseUrl must use http: or https:"),
            }
            // The version path is appended by plain concatenation.
            config.base_url = url.text.trim_end_matches('/').to_owned();
        }
        if let Some(version) = raw.api_version {
            if !version.is_empty() && !version.starts_with('/') {
                return fail("api.apiVersion must start with '/'");
            }
            config.api_version = version.trim_end_matches('/').to_owned();
        }
        if raw.api_gateway_enabled {
            return fail("api.apiGateway is not supported by this client");
        }
        config.retry = RetryPolicy::from_options(
            raw.max_attempts,
            raw.initial_backoff_ms,
            raw.max_backoff_ms,
            raw.request_timeout_ms,
        );
        config.disable_input_audio = raw.disable_input_audio;
        if raw.voice_detection && raw.disable_input_audio {
            return fail("voiceDetection cannot be used together with disableInputAudio");
        }
        if raw.end_of_speech_sensitivity_given {
            match raw.end_of_speech_sensitivity {
                Some(s) if (0.0..=1.0).contains(&s.as_f64()) => {
                    config.end_of_speech_sensitivity = Some(s);
                }
                _ => return fail("voiceDetection.endOfSpeechSensitivity must be between 0 and 1"),
            }
        }
        config.auto_resume = match raw.auto_resume {
            RawAutoResume::Off => None,
            RawAutoResume::On | RawAutoResume::MaxAttempts(None) => Some(DEFAULT_RESUME_ATTEMPTS),
            RawAutoResume::MaxAttempts(Some(n))
                if n.fract() == 0.0 && (1.0..=f64::from(MAX_ATTEMPTS_LIMIT)).contains(&n) =>
            {
                Some(n as u32)
            }
            RawAutoResume::MaxAttempts(Some(_)) => {
                return Err(OptionError(format!(
                    "autoResume.maxAttempts must be a whole number from 1 to {MAX_ATTEMPTS_LIMIT}"
                )))
            }
        };
        // A resume needs a fresh token for each new session: with a fixed token it would be
        // a silent no-op the app only discovers when a session dies.
        if config.auto_resume.is_some() && !matches!(config.token, TokenSource::Provider) {
            return fail(
                "autoResume needs a token provider function: each new session needs a fresh token",
            );
        }
        let stats_report = match (raw.show_stats_report, raw.stats_report_format.as_deref()) {
            (false, _) => None,
            (true, None | Some("console")) => Some(StatsReportFormat::Console),
            (true, Some("json")) => Some(StatsReportFormat::Json),
            (true, Some(_)) => {
                return fail(
                    "metrics.peerConnectionStatsReportOutputFormat must be 'console' or 'json'",
                )
            }
        };
        let shell = ShellConfig {
            audio_device_id: raw
                .audio_device_id
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            stats_report,
        };
        Ok((config, shell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str, protocol: Option<&str>) -> Option<RawUrl> {
        Some(RawUrl {
            text: text.into(),
            protocol: protocol.map(str::to_owned),
        })
    }

    fn error(token: TokenSource, raw: RawOptions) -> String {
        SessionConfig::from_raw(token, raw).expect_err("refused").0
    }

    #[test]
    fn defaults_and_accepted_values() {
        let (config, shell) =
            SessionConfig::from_raw(TokenSource::Provider, RawOptions::default()).unwrap();
        assert_eq!(config, SessionConfig::new(TokenSource::Provider));
        assert_eq!(shell, ShellConfig::default());
        let (config, shell) = SessionConfig::from_raw(
            TokenSource::Provider,
            RawOptions {
                base_url: url("http://127.0.0.1:1/", Some("http:")),
                api_version: Some("/v2/".into()),
                end_of_speech_sensitivity_given: true,
                end_of_speech_sensitivity: crate::json::Number::from_json_text("0.25"),
                voice_detection: true,
                auto_resume: RawAutoResume::MaxAttempts(Some(4.0)),
                show_stats_report: true,
                stats_report_format: Some("json".into()),
                audio_device_id: Some("  mic-2 ".into()),
                ..RawOptions::default()
            },
        )
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:1");
        assert_eq!(config.api_version, "/v2");
        assert_eq!(config.end_of_speech_sensitivity.unwrap().as_f64(), 0.25);
        assert_eq!(config.auto_resume, Some(4));
        assert_eq!(shell.stats_report, Some(StatsReportFormat::Json));
        assert_eq!(shell.audio_device_id.as_deref(), Some("mic-2"));
    }

    #[test]
    fn each_refusal_names_the_option_and_what_it_needs() {
        let provider = TokenSource::Provider;
        let cases = [
            (
                RawOptions {
                    base_url: url("not a url", None),
                    ..RawOptions::default()
                },
                "api.baseUrl must be an absolute URL",
            ),
            (
                RawOptions {
                    base_url: url("ftp://x", Some("ftp:")),
                    ..RawOptions::default()
                },
                "api.baseUrl must use http: or https:",
            ),
            (
                RawOptions {
                    api_version: Some("v1".into()),
                    ..RawOptions::default()
                },
                "api.apiVersion must start with '/'",
            ),
            (
                RawOptions {
                    voice_detection: true,
                    disable_input_audio: true,
                    ..RawOptions::default()
                },
                "voiceDetection cannot be used together with disableInputAudio",
            ),
            (
                RawOptions {
                    voice_detection: true,
                    end_of_speech_sensitivity_given: true,
                    end_of_speech_sensitivity: crate::json::Number::from_json_text("1.5"),
                    ..RawOptions::default()
                },
                "voiceDetection.endOfSpeechSensitivity must be between 0 and 1",
            ),
            (
                RawOptions {
                    voice_detection: true,
                    end_of_speech_sensitivity_given: true,
                    ..RawOptions::default()
                },
                "voiceDetection.endOfSpeechSensitivity must be between 0 and 1",
            ),
            (
                RawOptions {
                    auto_resume: RawAutoResume::MaxAttempts(Some(2.5)),
                    ..RawOptions::default()
                },
                "autoResume.maxAttempts must be a whole number from 1 to 10",
            ),
            (
                RawOptions {
                    show_stats_report: true,
                    stats_report_format: Some("xml".into()),
                    ..RawOptions::default()
                },
                "metrics.peerConnectionStatsReportOutputFormat must be 'console' or 'json'",
            ),
        ];
        for (raw, message) in cases {
            assert_eq!(error(provider.clone(), raw), message);
        }
    }

    #[test]
    fn auto_resume_needs_a_token_provider_and_fixed_tokens_must_decode() {
        let fixed = TokenSource::Fixed("t".into());
        let raw = RawOptions {
            auto_resume: RawAutoResume::On,
            ..RawOptions::default()
        };
        assert!(error(fixed, raw).starts_with("autoResume needs a token provider function"));
        let bad = TokenSource::fixed("not-a-jwt".into()).expect_err("refused");
        assert!(bad.0.starts_with("Invalid session token: "), "{bad}");
    }
}
