//! Command-line configuration of the emulator binary.
use std::net::SocketAddr;
use std::time::Duration;

/// API key accepted when neither `--api-key` nor `ANAM_EMULATOR_API_KEY` is given.
pub const DEFAULT_API_KEY: &str = "anam-emulator-dev-key";
/// Address used when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Session-token lifetime in seconds (Anam's documented default: one hour).
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 3600;
/// Session tokens one API key may mint per minute before it gets 429.
pub const DEFAULT_TOKENS_PER_MINUTE: u32 = 120;
/// Live sessions allowed at once by default.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

/// Everything the emulator is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub api_key: String,
    pub token_ttl: Duration,
    /// Enables the `/_emulator/` test control API.
    pub control: bool,
    /// A token that started a session cannot start another.
    pub single_use_tokens: bool,
    /// Per-API-key budget of token mints per minute.
    pub tokens_per_minute: u32,
    /// How long a session survives without any signalling socket.
    pub orphan_timeout: Duration,
    /// Live sessions allowed at once; more get 429 "Concurrent session limit reached".
    pub max_sessions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            api_key: DEFAULT_API_KEY.to_owned(),
            token_ttl: Duration::from_secs(DEFAULT_TOKEN_TTL_SECS),
            control: false,
            single_use_tokens: false,
            tokens_per_minute: DEFAULT_TOKENS_PER_MINUTE,
            orphan_timeout: Duration::from_secs(10),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

pub const USAGE: &str = "\
usage: anam-emulator [options]
  --listen ADDR              listen address (default 127.0.0.1:8787; port 0 picks one)
  --api-key KEY              API key (env ANAM_EMULATOR_API_KEY; default anam-emulator-dev-key)
  --token-ttl SECS           session-token lifetime (default 3600)
  --control                  enable the /_emulator/ test control API
  --single-use-tokens        a token that started a session cannot start another
  --rate-limit PER_MINUTE    session tokens one API key may mint per minute (default 120)
  --max-sessions N           live sessions allowed at once (default 64)
  -h, --help                 show this help";

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Run(Config),
    Help,
}

impl Config {
    /// Parses arguments (without the program name). `env_api_key` is the value of
    /// `ANAM_EMULATOR_API_KEY`, passed in so that parsing stays a pure function.
    pub fn from_args<I>(args: I, env_api_key: Option<String>) -> Result<Command, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut config = Config::default();
        if let Some(key) = env_api_key.filter(|k| !k.is_empty()) {
            config.api_key = key;
        }
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs {what}"))
            };
            match name.as_str() {
                "--listen" => {
                    let v = value("an address")?;
                    config.listen = v
                        .parse()
                        .map_err(|_| format!("--listen: `{v}` is not an IP:PORT address"))?;
                }
                "--api-key" => {
                    let v = value("a key")?;
                    if v.is_empty() {
                        return Err("--api-key must not be empty".to_owned());
                    }
                    config.api_key = v;
                }
                "--token-ttl" => {
                    let v = value("a number of seconds")?;
                    let secs: u64 = v
                        .parse()
                        .map_err(|_| format!("--token-ttl: `{v}` is not a whole number"))?;
                    config.token_ttl = Duration::from_secs(secs);
                }
                "--rate-limit" => {
                    let v = value("a number per minute")?;
                    config.tokens_per_minute = v
                        .parse()
                        .map_err(|_| format!("--rate-limit: `{v}` is not a whole number"))?;
                }
                "--max-sessions" => {
                    let v = value("a number")?;
                    config.max_sessions = v
                        .parse()
                        .map_err(|_| format!("--max-sessions: `{v}` is not a whole number"))?;
                }
                "--control" => config.control = true,
                "--single-use-tokens" => config.single_use_tokens = true,
                "-h" | "--help" => return Ok(Command::Help),
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        Ok(Command::Run(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Config, String> {
        match Config::from_args(args.iter().map(|s| s.to_string()), env.map(str::to_owned))? {
            Command::Run(c) => Ok(c),
            Command::Help => Err("help".to_owned()),
        }
    }

    #[test]
    fn defaults_match_the_conventions() {
        let c = parse(&[], None).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.api_key, DEFAULT_API_KEY);
        assert_eq!(c.token_ttl, Duration::from_secs(3600));
        assert!(!c.control && !c.single_use_tokens);
    }

    #[test]
    fn flags_and_env_are_read() {
        let c = parse(
            &[
                "--listen",
                "127.0.0.1:0",
                "--token-ttl=5",
                "--control",
                "--single-use-tokens",
            ],
            Some("from-env"),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.token_ttl, Duration::from_secs(5));
        assert_eq!(c.api_key, "from-env");
        assert!(c.control && c.single_use_tokens);
        let c = parse(&["--api-key", "k2"], Some("from-env")).unwrap();
        assert_eq!(c.api_key, "k2");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--listen", "nowhere"], None).is_err());
        assert!(parse(&["--token-ttl"], None).is_err());
        assert!(parse(&["--bogus"], None).is_err());
        assert_eq!(parse(&["--help"], None).unwrap_err(), "help");
    }
}
