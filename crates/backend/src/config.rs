//! Configuration from the environment, parsed by a pure function so that every refuse-to-start
//! case is a plain unit test. A bad value never starts a half-configured server: the process
//! prints the error's one line and exits.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use anam_core::json::Value;
use anam_core::wire::decode_payload;
use anam_core::wire::rest::PersonaSelection;

pub const DEFAULT_API_BASE_URL: &str = "https://api.anam.ai";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 30;
/// Far above any honest page (one token per user session) and low enough to stay a limit.
const MAX_RATE_LIMIT_PER_MINUTE: u32 = 1_000_000;
/// A persona config is a few hundred bytes; a bigger file is almost surely the wrong file.
const MAX_PERSONA_CONFIG_BYTES: u64 = 256 * 1024;

/// The Anam API key. It has no `Display` and a redacted `Debug` so that it cannot reach a log
/// line or a response by accident; the one place that needs the text calls [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key's text, for the `Authorization` header of the upstream call and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// A secret that must never reach a log line: `AUTH_JWT_SECRET`, or a `REDIS_URL` that may hold
/// a password. Redacted `Debug`, no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where the keys that sign the app's user tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthKeys {
    /// `AUTH_JWKS_URL`: the identity provider's published public keys (RS*, PS*, ES*, EdDSA).
    Jwks { url: String },
    /// `AUTH_JWT_SECRET`: the app signs its own session JWTs with HS256.
    Secret(Secret),
}

/// Who may mint: set when the app's users must present a JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    pub keys: AuthKeys,
    /// `AUTH_ISSUER`: required with a JWKS, checked when set with a secret.
    pub issuer: Option<String>,
    /// `AUTH_AUDIENCE`: required with a JWKS, checked when set with a secret.
    pub audience: Option<String>,
    /// `AUTH_COOKIE`: read the JWT from this cookie when no `Authorization: Bearer` is sent.
    pub cookie: Option<String>,
    /// At most one JWKS download per this interval, whatever `kid`s arrive: forged `kid`s must
    /// not turn this server into a flood against the identity provider.
    pub jwks_min_refetch: Duration,
}

/// Default for [`AuthConfig::jwks_min_refetch`].
pub const DEFAULT_JWKS_MIN_REFETCH: Duration = Duration::from_secs(10);
/// HS256 keys shorter than the hash output are guessable offline from one token.
const MIN_JWT_SECRET_BYTES: usize = 32;

/// Which kind of session token the server mints.
#[derive(Debug, Clone, PartialEq)]
pub enum PersonaSource {
    /// `ANAM_PERSONA_ID`: stateful tokens for personas saved in Anam Lab. The first id is the
    /// default; the page may choose any other id of the list, and nothing outside it.
    Saved { ids: Vec<String> },
    /// `ANAM_PERSONA_CONFIG`: ephemeral tokens for a persona defined in a JSON file at runtime.
    Ephemeral {
        /// The id the page sees in `/api/config` and may send back as `personaId`.
        id: String,
        /// Display name, from the config's `name`.
        name: String,
        /// Sent upstream as `personaConfig`; unknown keys of the file are kept verbatim.
        selection: PersonaSelection,
    },
}

/// The id under which an ephemeral persona is listed when its config carries no id of its own.
pub const EPHEMERAL_PERSONA_ID: &str = "ephemeral";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub api_key: ApiKey,
    /// Without a trailing slash, so that paths can be appended.
    pub api_base_url: String,
    pub personas: PersonaSource,
    pub listen: SocketAddr,
    /// Exact origins (`scheme://host[:port]`) that may call the API from another origin.
    /// Empty means same origin only.
    pub allowed_origins: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub www_dir: PathBuf,
    pub pkg_dir: PathBuf,
    /// `None`: anyone who can reach the endpoint may mint (the zero-config demo).
    pub auth: Option<AuthConfig>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` / `Forwarded` name the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `TOKENS_PER_USER_PER_HOUR`: tokens one user (or address) may mint in any hour.
    pub tokens_per_user_per_hour: Option<u32>,
    /// `MAX_ACTIVE_TOKENS_PER_USER`: unexpired tokens one user (or address) may hold.
    pub max_active_tokens_per_user: Option<u32>,
    /// `REDIS_URL`: limits shared by every replica; `None` keeps them in this process.
    pub redis_url: Option<Secret>,
    /// `LIMITS_FAIL_OPEN`: mint without limits while Redis is unreachable (default: refuse).
    pub limits_fail_open: bool,
}

/// Why the server refuses to start. `Display` is the single line printed before exiting: it
/// names the variable and says what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    MissingApiKey,
    NoPersona,
    BothPersonaSources,
    EmptyPersonaList,
    BadPersonaId(String),
    PersonaConfigUnreadable { path: PathBuf, reason: String },
    PersonaConfigInvalid { path: PathBuf, reason: String },
    BadApiBaseUrl(String),
    BadListen(String),
    BadRateLimit(String),
    BadAllowedOrigin(String),
    AuthBothSources,
    AuthIncomplete(&'static str),
    BadAuthUrl(String),
    AuthSecretTooShort,
    BadAuthCookie(String),
    BadTrustedProxy(String),
    BadCount { var: &'static str, value: String },
    BadRedisUrl,
    BadBool { var: &'static str, value: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingApiKey => f.write_str(
                "ANAM_API_KEY is not set: set it to your Anam API key (Anam Lab -> API keys); \
                 it stays on this server and is never sent to the page",
            ),
            Self::NoPersona => f.write_str(
                "no persona configured: set ANAM_PERSONA_ID (a saved persona id, or a \
                 comma-separated list) for stateful tokens, or ANAM_PERSONA_CONFIG (path to a \
                 JSON persona config) for ephemeral tokens",
            ),
            Self::BothPersonaSources => f.write_str(
                "both ANAM_PERSONA_ID and ANAM_PERSONA_CONFIG are set: set exactly one \
                 (ANAM_PERSONA_ID for stateful tokens, ANAM_PERSONA_CONFIG for ephemeral tokens)",
            ),
            Self::EmptyPersonaList => f.write_str(
                "ANAM_PERSONA_ID holds no persona id: set it to one id or a comma-separated list",
            ),
            Self::BadPersonaId(id) => write!(
                f,
                "ANAM_PERSONA_ID entry {id:?} is not a persona id: ids are printable text \
                 without spaces or control characters, at most 200 characters"
            ),
            Self::PersonaConfigUnreadable { path, reason } => write!(
                f,
                "ANAM_PERSONA_CONFIG file {} cannot be read ({reason}): point it at a readable \
                 JSON persona config",
                path.display()
            ),
            Self::PersonaConfigInvalid { path, reason } => write!(
                f,
                "ANAM_PERSONA_CONFIG file {} is not a valid persona config ({reason}): it must \
                 hold one JSON object such as {{\"name\": ..., \"avatarId\": ..., \"voiceId\": ..., \
                 \"systemPrompt\": ...}}",
                path.display()
            ),
            Self::BadApiBaseUrl(v) => write!(
                f,
                "ANAM_API_BASE_URL {v:?} is not an http(s) URL: use e.g. \
                 {DEFAULT_API_BASE_URL} or http://127.0.0.1:8787 for the emulator"
            ),
            Self::BadListen(v) => write!(
                f,
                "LISTEN {v:?} is not an address: use IP:PORT, e.g. {DEFAULT_LISTEN} (port 0 \
                 picks a free port)"
            ),
            Self::BadRateLimit(v) => write!(
                f,
                "RATE_LIMIT_PER_MINUTE {v:?} is not valid: use a whole number from 1 to \
                 {MAX_RATE_LIMIT_PER_MINUTE} (default {DEFAULT_RATE_LIMIT_PER_MINUTE})"
            ),
            Self::BadAllowedOrigin(v) => write!(
                f,
                "ALLOWED_ORIGINS entry {v:?} is not an origin: list exact origins such as \
                 https://app.example.com or http://localhost:5173, comma-separated (no paths, \
                 no wildcards)"
            ),
            Self::AuthBothSources => f.write_str(
                "both AUTH_JWKS_URL and AUTH_JWT_SECRET are set: set AUTH_JWKS_URL (with \
                 AUTH_ISSUER and AUTH_AUDIENCE) for an identity provider's tokens, or \
                 AUTH_JWT_SECRET for HS256 tokens your app signs, not both",
            ),
            Self::AuthIncomplete(missing) => write!(
                f,
                "AUTH_JWKS_URL is set but {missing} is not: set AUTH_ISSUER to the `iss` and \
                 AUTH_AUDIENCE to the `aud` your identity provider puts in its tokens"
            ),
            Self::BadAuthUrl(v) => write!(
                f,
                "AUTH_JWKS_URL {v:?} is not an http(s) URL: use your identity provider's JWKS \
                 address, e.g. https://YOUR_DOMAIN/.well-known/jwks.json"
            ),
            Self::AuthSecretTooShort => write!(
                f,
                "AUTH_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes: use the full \
                 HS256 secret your app signs its session tokens with"
            ),
            Self::BadAuthCookie(v) => write!(
                f,
                "AUTH_COOKIE {v:?} is not a cookie name: use the name only, e.g. session"
            ),
            Self::BadTrustedProxy(v) => write!(
                f,
                "TRUSTED_PROXIES entry {v:?} is not an address or CIDR range: list your proxies \
                 comma-separated, e.g. 10.0.0.0/8,192.0.2.7"
            ),
            Self::BadCount { var, value } => write!(
                f,
                "{var} {value:?} is not valid: use a whole number from 1 to \
                 {MAX_RATE_LIMIT_PER_MINUTE}, or leave it unset for no limit"
            ),
            Self::BadRedisUrl => f.write_str(
                "REDIS_URL is not a Redis URL: use redis://HOST:PORT[/DB] (or rediss:// for TLS)",
            ),
            Self::BadBool { var, value } => {
                write!(f, "{var} {value:?} is not valid: use true or false")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the real process environment and file system.
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::parse(|name| std::env::var(name).ok(), read_limited)
    }

    /// Builds the configuration from a variable lookup and a file reader, so tests can feed
    /// both without touching the process. Empty variables count as unset (a common result of
    /// `KEY=` lines in env files and compose files).
    pub fn parse(
        var: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&Path) -> Result<String, String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());

        let api_key = get("ANAM_API_KEY").ok_or(ConfigError::MissingApiKey)?;
        let api_key = ApiKey::new(api_key.trim());

        let api_base_url = match get("ANAM_API_BASE_URL") {
            Some(v) => parse_base_url(&v)?,
            None => DEFAULT_API_BASE_URL.to_owned(),
        };

        let personas = match (get("ANAM_PERSONA_ID"), get("ANAM_PERSONA_CONFIG")) {
            (Some(_), Some(_)) => return Err(ConfigError::BothPersonaSources),
            (None, None) => return Err(ConfigError::NoPersona),
            (Some(ids), None) => PersonaSource::Saved {
                ids: parse_persona_ids(&ids)?,
            },
            (None, Some(path)) => parse_persona_config(Path::new(path.trim()), &read_file)?,
        };

        let listen = match get("LISTEN") {
            Some(v) => v
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::BadListen(v.clone()))?,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| ConfigError::BadListen(DEFAULT_LISTEN.to_owned()))?,
        };

        let allowed_origins = match get("ALLOWED_ORIGINS") {
            Some(v) => parse_origins(&v)?,
            None => Vec::new(),
        };

        let rate_limit_per_minute = match get("RATE_LIMIT_PER_MINUTE") {
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&n) => n,
                _ => return Err(ConfigError::BadRateLimit(v)),
            },
            None => DEFAULT_RATE_LIMIT_PER_MINUTE,
        };

        let count = |var: &'static str| -> Result<Option<u32>, ConfigError> {
            match get(var) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(n) if (1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&n) => Ok(Some(n)),
                    _ => Err(ConfigError::BadCount { var, value: v }),
                },
            }
        };
        let tokens_per_user_per_hour = count("TOKENS_PER_USER_PER_HOUR")?;
        let max_active_tokens_per_user = count("MAX_ACTIVE_TOKENS_PER_USER")?;

        let trusted_proxies = match get("TRUSTED_PROXIES") {
            Some(v) => parse_proxies(&v)?,
            None => Vec::new(),
        };

        let redis_url = match get("REDIS_URL") {
            Some(v) => {
                let v = v.trim();
                match reqwest::Url::parse(v) {
                    Ok(u) if matches!(u.scheme(), "redis" | "rediss" | "redis+unix" | "unix") => {
                        Some(Secret::new(v))
                    }
                    _ => return Err(ConfigError::BadRedisUrl),
                }
            }
            None => None,
        };
        let limits_fail_open = match get("LIMITS_FAIL_OPEN") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::BadBool {
                        var: "LIMITS_FAIL_OPEN",
                        value: v,
                    })
                }
            },
        };

        Ok(Self {
            api_key,
            api_base_url,
            personas,
            listen,
            allowed_origins,
            rate_limit_per_minute,
            www_dir: PathBuf::from(get("WWW_DIR").unwrap_or_else(|| "www".to_owned())),
            pkg_dir: PathBuf::from(get("PKG_DIR").unwrap_or_else(|| "pkg".to_owned())),
            auth: parse_auth(&get)?,
            trusted_proxies,
            tokens_per_user_per_hour,
            max_active_tokens_per_user,
            redis_url,
            limits_fail_open,
        })
    }
}

/// `AUTH_*`: no variable set means minting stays open (the demo's default).
fn parse_auth(get: &impl Fn(&str) -> Option<String>) -> Result<Option<AuthConfig>, ConfigError> {
    let issuer = get("AUTH_ISSUER").map(|v| v.trim().to_owned());
    let audience = get("AUTH_AUDIENCE").map(|v| v.trim().to_owned());
    let cookie = match get("AUTH_COOKIE") {
        Some(v) => {
            let name = v.trim();
            let token_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
            if !name.chars().all(token_char) {
                return Err(ConfigError::BadAuthCookie(v));
            }
            Some(name.to_owned())
        }
        None => None,
    };
    let keys = match (get("AUTH_JWKS_URL"), get("AUTH_JWT_SECRET")) {
        (Some(_), Some(_)) => return Err(ConfigError::AuthBothSources),
        (None, None) => {
            if issuer.is_some() || audience.is_some() || cookie.is_some() {
                return Err(ConfigError::AuthIncomplete(
                    "AUTH_JWKS_URL or AUTH_JWT_SECRET",
                ));
            }
            return Ok(None);
        }
        (Some(url), None) => {
            let url = url.trim();
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => return Err(ConfigError::BadAuthUrl(url.to_owned())),
            }
            // Without both checks a token the same provider issued for another app would do.
            if issuer.is_none() {
                return Err(ConfigError::AuthIncomplete("AUTH_ISSUER"));
            }
            if audience.is_none() {
                return Err(ConfigError::AuthIncomplete("AUTH_AUDIENCE"));
            }
            AuthKeys::Jwks {
                url: url.to_owned(),
            }
        }
        (None, Some(secret)) => {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError::AuthSecretTooShort);
            }
            AuthKeys::Secret(Secret::new(secret))
        }
    };
    Ok(Some(AuthConfig {
        keys,
        issuer,
        audience,
        cookie,
        jwks_min_refetch: DEFAULT_JWKS_MIN_REFETCH,
    }))
}

/// `TRUSTED_PROXIES`: CIDR ranges or single addresses.
fn parse_proxies(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::BadTrustedProxy(entry.to_owned()))
        })
        .collect()
}

/// Reads a persona config file, refusing files too large to be one.
fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > MAX_PERSONA_CONFIG_BYTES {
        return Err(format!("larger than {MAX_PERSONA_CONFIG_BYTES} bytes"));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let bad = || ConfigError::BadApiBaseUrl(raw.to_owned());
    let url = reqwest::Url::parse(trimmed).map_err(|_| bad())?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        // Credentials in the URL would be sent along and end up in proxies' logs.
        && url.username().is_empty()
        && url.password().is_none();
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(bad())
    }
}

/// `ANAM_PERSONA_ID`: one id or a comma-separated list, first one the default. Duplicates are
/// dropped so that the list the page sees has each persona once.
fn parse_persona_ids(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut ids: Vec<String> = Vec::new();
    for id in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !is_plausible_id(id) {
            return Err(ConfigError::BadPersonaId(id.to_owned()));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    if ids.is_empty() {
        return Err(ConfigError::EmptyPersonaList);
    }
    Ok(ids)
}

fn is_plausible_id(id: &str) -> bool {
    id.len() <= 200 && id.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

fn parse_persona_config(
    path: &Path,
    read_file: &impl Fn(&Path) -> Result<String, String>,
) -> Result<PersonaSource, ConfigError> {
    let text = read_file(path).map_err(|reason| ConfigError::PersonaConfigUnreadable {
        path: path.to_owned(),
        reason,
    })?;
    let invalid = |reason: String| ConfigError::PersonaConfigInvalid {
        path: path.to_owned(),
        reason,
    };
    let value = anam_core::json::parse(&text).map_err(|e| invalid(e.to_string()))?;
    match &value {
        Value::Object(map) if map.is_empty() => {
            return Err(invalid("the object is empty".to_owned()))
        }
        Value::Object(_) => {}
        _ => return Err(invalid("the top level is not a JSON object".to_owned())),
    }
    let selection: PersonaSelection =
        decode_payload("personaConfig", &value).map_err(|e| invalid(e.to_string()))?;
    let name = match &selection {
        PersonaSelection::Saved { .. } => None,
        PersonaSelection::Ephemeral(config) => {
            if let Some(notes) = &config.director_notes {
                notes.validate().map_err(|e| invalid(e.to_string()))?;
            }
            match config.name.as_deref().map(str::trim) {
                Some("") => return Err(invalid("\"name\" is empty".to_owned())),
                other => other.map(str::to_owned),
            }
        }
    };
    // A file that only names a saved persona still works (upstream then mints a stateful
    // token); it is listed under that id so the page shows something meaningful.
    let id = selection
        .persona_id()
        .filter(|id| !id.is_empty() && is_plausible_id(id))
        .unwrap_or(EPHEMERAL_PERSONA_ID)
        .to_owned();
    let name = name.unwrap_or_else(|| id.clone());
    Ok(PersonaSource::Ephemeral {
        id,
        name,
        selection,
    })
}

/// `ALLOWED_ORIGINS`: exact origins. A wildcard is refused on purpose: it would let any web
/// site mint tokens billed to this key from its visitors' browsers.
fn parse_origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let origin = normalize_origin(entry)
            .ok_or_else(|| ConfigError::BadAllowedOrigin(entry.to_owned()))?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// `scheme://host[:port]` in the form browsers send in the `Origin` header (lower-case, no
/// default port, no trailing slash), or `None` when `raw` is not an origin.
pub fn normalize_origin(raw: &str) -> Option<String> {
    let url = reqwest::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !matches!(url.path(), "" | "/")
        || raw.trim_end_matches('/').ends_with('*')
    {
        return None;
    }
    let host = url.host_str()?;
    if host.contains('*') {
        return None;
    }
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(vars: &[(&str, &str)], files: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let files: HashMap<PathBuf, String> = files
            .iter()
            .map(|(k, v)| (PathBuf::from(k), (*v).to_owned()))
            .collect();
        Config::parse(
            |name| vars.get(name).cloned(),
            |path| {
                files
                    .get(path)
                    .cloned()
                    .ok_or_else(|| "No such file or directory".to_owned())
            },
        )
    }

    const KEY: (&str, &str) = ("ANAM_API_KEY", "k-123");

    #[test]
    fn defaults_with_one_persona_id() {
        let c = parse_with(&[KEY, ("ANAM_PERSONA_ID", "persona-aria")], &[]).unwrap();
        assert_eq!(c.api_key.expose(), "k-123");
        assert_eq!(c.api_base_url, "https://api.anam.ai");
        assert_eq!(
            c.personas,
            PersonaSource::Saved {
                ids: vec!["persona-aria".into()]
            }
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.allowed_origins.is_empty());
        assert_eq!(c.rate_limit_per_minute, 30);
        assert_eq!(c.www_dir, PathBuf::from("www"));
        assert_eq!(c.pkg_dir, PathBuf::from("pkg"));
    }

    #[test]
    fn persona_list_keeps_order_and_drops_blanks_and_duplicates() {
        let c = parse_with(&[KEY, ("ANAM_PERSONA_ID", " b , a,,b ")], &[]).unwrap();
        assert_eq!(
            c.personas,
            PersonaSource::Saved {
                ids: vec!["b".into(), "a".into()]
            }
        );
    }

    #[test]
    fn every_variable_is_read() {
        let c = parse_with(
            &[
                KEY,
                ("ANAM_API_BASE_URL", "http://127.0.0.1:8787/"),
                ("ANAM_PERSONA_ID", "p"),
                ("LISTEN", "127.0.0.1:0"),
                (
                    "ALLOWED_ORIGINS",
                    "http://localhost:5173, https://App.Example.com/",
                ),
                ("RATE_LIMIT_PER_MINUTE", "7"),
                ("WWW_DIR", "/srv/www"),
                ("PKG_DIR", "/srv/pkg"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.api_base_url, "http://127.0.0.1:8787");
        assert_eq!(c.listen.port(), 0);
        assert_eq!(
            c.allowed_origins,
            vec!["http://localhost:5173", "https://app.example.com"]
        );
        assert_eq!(c.rate_limit_per_minute, 7);
        assert_eq!(c.www_dir, PathBuf::from("/srv/www"));
        assert_eq!(c.pkg_dir, PathBuf::from("/srv/pkg"));
    }

    #[test]
    fn missing_or_empty_key_refuses_to_start() {
        for vars in [
            vec![("ANAM_PERSONA_ID", "p")],
            vec![("ANAM_API_KEY", "  "), ("ANAM_PERSONA_ID", "p")],
        ] {
            let err = parse_with(&vars, &[]).unwrap_err();
            assert_eq!(err, ConfigError::MissingApiKey);
            let line = err.to_string();
            assert!(line.contains("ANAM_API_KEY") && !line.contains('\n'));
        }
    }

    #[test]
    fn both_or_neither_persona_source_refuses_to_start() {
        let both = parse_with(
            &[
                KEY,
                ("ANAM_PERSONA_ID", "p"),
                ("ANAM_PERSONA_CONFIG", "/c.json"),
            ],
            &[("/c.json", r#"{"name":"A"}"#)],
        )
        .unwrap_err();
        assert_eq!(both, ConfigError::BothPersonaSources);
        let neither = parse_with(&[KEY], &[]).unwrap_err();
        assert_eq!(neither, ConfigError::NoPersona);
        for err in [both, neither] {
            let line = err.to_string();
            assert!(line.contains("ANAM_PERSONA_ID") && line.contains("ANAM_PERSONA_CONFIG"));
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn blank_persona_list_and_bad_ids_refuse_to_start() {
        assert_eq!(
            parse_with(&[KEY, ("ANAM_PERSONA_ID", " , ,")], &[]).unwrap_err(),
            ConfigError::EmptyPersonaList
        );
        assert!(matches!(
            parse_with(&[KEY, ("ANAM_PERSONA_ID", "a b")], &[]).unwrap_err(),
            ConfigError::BadPersonaId(_)
        ));
    }

    #[test]
    fn persona_config_file_gives_ephemeral_source() {
        let c = parse_with(
            &[KEY, ("ANAM_PERSONA_CONFIG", "/p.json")],
            &[(
                "/p.json",
                r#"{"name": "Cara", "avatarId": "av", "voiceId": "vo", "systemPrompt": "Hi"}"#,
            )],
        )
        .unwrap();
        let PersonaSource::Ephemeral {
            id,
            name,
            selection,
        } = c.personas
        else {
            panic!("expected an ephemeral source");
        };
        assert_eq!(id, EPHEMERAL_PERSONA_ID);
        assert_eq!(name, "Cara");
        let PersonaSelection::Ephemeral(config) = selection else {
            panic!("expected a runtime persona config");
        };
        assert_eq!(config.avatar_id.as_deref(), Some("av"));
        assert_eq!(config.system_prompt.as_deref(), Some("Hi"));
    }

    #[test]
    fn persona_config_naming_a_saved_persona_is_listed_under_its_id() {
        let c = parse_with(
            &[KEY, ("ANAM_PERSONA_CONFIG", "/p.json")],
            &[("/p.json", r#"{"personaId": "persona-milo"}"#)],
        )
        .unwrap();
        let PersonaSource::Ephemeral {
            id,
            name,
            selection,
        } = c.personas
        else {
            panic!("expected a file-based source");
        };
        assert_eq!(
            (id.as_str(), name.as_str()),
            ("persona-milo", "persona-milo")
        );
        assert!(selection.is_saved());
    }

    #[test]
    fn unreadable_or_invalid_persona_config_refuses_to_start() {
        let missing = parse_with(&[KEY, ("ANAM_PERSONA_CONFIG", "/nope.json")], &[]).unwrap_err();
        assert!(matches!(
            missing,
            ConfigError::PersonaConfigUnreadable { .. }
        ));
        assert!(missing.to_string().contains("/nope.json"));

        for body in [
            "{not json",
            "[1,2]",
            "{}",
            r#"{"name": 5}"#,
            r#"{"name": " "}"#,
            r#"{"name": "A", "directorNotes": {"expressivity": 3}}"#,
            "\"x\"",
        ] {
            let err = parse_with(
                &[KEY, ("ANAM_PERSONA_CONFIG", "/p.json")],
                &[("/p.json", body)],
            )
            .unwrap_err();
            assert!(
                matches!(err, ConfigError::PersonaConfigInvalid { .. }),
                "{body}: {err:?}"
            );
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn bad_listen_rate_limit_base_url_and_origins_refuse_to_start() {
        let base = [KEY, ("ANAM_PERSONA_ID", "p")];
        let with = |extra: (&'static str, &'static str)| {
            let mut v = base.to_vec();
            v.push(extra);
            parse_with(&v, &[]).unwrap_err()
        };
        for listen in ["8080", "localhost:8080", "127.0.0.1:99999", "nonsense"] {
            assert!(matches!(
                with(("LISTEN", listen)),
                ConfigError::BadListen(_)
            ));
        }
        for rate in ["0", "-1", "ten", "1.5", "99999999999"] {
            assert!(matches!(
                with(("RATE_LIMIT_PER_MINUTE", rate)),
                ConfigError::BadRateLimit(_)
            ));
        }
        for url in [
            "api.anam.ai",
            "ftp://x",
            "https://user:pw@api.anam.ai",
            "http://",
        ] {
            assert!(matches!(
                with(("ANAM_API_BASE_URL", url)),
                ConfigError::BadApiBaseUrl(_)
            ));
        }
        for origin in [
            "*",
            "https://*.example.com",
            "example.com",
            "https://a.com/app",
        ] {
            assert!(matches!(
                with(("ALLOWED_ORIGINS", origin)),
                ConfigError::BadAllowedOrigin(_)
            ));
        }
    }

    #[test]
    fn key_never_shows_in_debug_output() {
        let c = parse_with(
            &[("ANAM_API_KEY", "sk-very-secret"), ("ANAM_PERSONA_ID", "p")],
            &[],
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("sk-very-secret"));
    }

    #[test]
    fn origins_normalize_like_browsers_send_them() {
        assert_eq!(
            normalize_origin("HTTPS://Example.COM:443").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:5173").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(normalize_origin("null"), None);
    }
}
