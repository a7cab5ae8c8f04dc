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

/// The command line, parsed by clap. Flag names and meanings are what scripts, the e2e harness
/// and the benches pass; `--flag value` and `--flag=value` both work.
#[derive(clap::Parser, Debug)]
#[command(
    name = "anam-emulator",
    about = "A local Anam-compatible cloud: tokens, sessions, signalling and real WebRTC media",
    disable_version_flag = true
)]
struct Cli {
    /// Listen address (port 0 picks one)
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// API key [env: ANAM_EMULATOR_API_KEY; default anam-emulator-dev-key]
    #[arg(long, value_name = "KEY", value_parser = non_empty)]
    api_key: Option<String>,
    /// Session-token lifetime in seconds
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    token_ttl: u64,
    /// Enable the /_emulator/ test control API
    #[arg(long)]
    control: bool,
    /// A token that started a session cannot start another
    #[arg(long)]
    single_use_tokens: bool,
    /// Session tokens one API key may mint per minute
    #[arg(long, value_name = "PER_MINUTE", default_value_t = DEFAULT_TOKENS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: u32,
    /// Live sessions allowed at once
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,
}

fn non_empty(v: &str) -> Result<String, String> {
    if v.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(v.to_owned())
    }
}

/// The help text (`--help`).
pub fn usage() -> String {
    <Cli as clap::CommandFactory>::command()
        .render_help()
        .to_string()
}

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
        use clap::Parser;
        let argv = std::iter::once("anam-emulator".to_owned()).chain(args);
        let cli = match Cli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => return Ok(Command::Help),
            Err(e) => return Err(e.render().to_string().trim_end().to_owned()),
        };
        let defaults = Config::default();
        Ok(Command::Run(Config {
            listen: cli.listen,
            api_key: cli
                .api_key
                .or(env_api_key.filter(|k| !k.is_empty()))
                .unwrap_or(defaults.api_key),
            token_ttl: Duration::from_secs(cli.token_ttl),
            control: cli.control,
            single_use_tokens: cli.single_use_tokens,
            tokens_per_minute: cli.rate_limit,
            orphan_timeout: defaults.orphan_timeout,
            max_sessions: cli.max_sessions,
        }))
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
        let c = parse(&["--rate-limit=1000000000", "--max-sessions", "3"], None).unwrap();
        assert_eq!((c.tokens_per_minute, c.max_sessions), (1_000_000_000, 3));
        assert!(usage().contains("--single-use-tokens"));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--listen", "nowhere"], None).is_err());
        assert!(parse(&["--token-ttl"], None).is_err());
        assert!(parse(&["--bogus"], None).is_err());
        assert!(parse(&["--api-key="], None).is_err());
        assert!(parse(&["--rate-limit", "0"], None).is_err());
        assert!(parse(&["--max-sessions", "-1"], None).is_err());
        assert_eq!(parse(&["--help"], None).unwrap_err(), "help");
    }
}
