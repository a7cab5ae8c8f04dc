//! `anam-backend`: configuration from the environment (see `config.rs` and the README), then
//! serve until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anam_backend::config::{AuthKeys, Config, PersonaSource};
use anam_backend::upstream::{HttpUpstream, Upstream, DEFAULT_TIMEOUT};

/// The startup persona-name lookup is a nicety: never hold the server up for long on it.
const NAME_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = match Config::from_process_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("anam-backend: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("anam-backend: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anam-backend: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let upstream = HttpUpstream::new(
        &config.api_base_url,
        config.api_key.clone(),
        DEFAULT_TIMEOUT,
    )?;
    let known = persona_names(&config, &upstream).await;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {} ({e}): set LISTEN to a free address",
                config.listen
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;

    tracing::info!(
        upstream = %config.api_base_url,
        mode = match config.personas { PersonaSource::Saved { .. } => "stateful", PersonaSource::Ephemeral { .. } => "ephemeral" },
        allowed_origins = ?config.allowed_origins,
        rate_limit_per_minute = config.rate_limit_per_minute,
        tokens_per_user_per_hour = ?config.tokens_per_user_per_hour,
        max_active_tokens_per_user = ?config.max_active_tokens_per_user,
        limits = if config.redis_url.is_some() { "redis" } else { "memory" },
        trusted_proxies = ?config.trusted_proxies,
        www = %config.www_dir.display(),
        pkg = %config.pkg_dir.display(),
        "configured"
    );
    match &config.auth {
        None => tracing::warn!(
            "no AUTH_JWKS_URL or AUTH_JWT_SECRET: minting is open to anyone who can reach this \
             server (fine for a local demo; set one of them in production)"
        ),
        Some(auth) => tracing::info!(
            keys = match &auth.keys { AuthKeys::Jwks { url } => url.as_str(), AuthKeys::Secret(_) => "AUTH_JWT_SECRET (HS256)" },
            issuer = ?auth.issuer,
            audience = ?auth.audience,
            cookie = ?auth.cookie,
            "minting only for signed-in users"
        ),
    }
    if config.redis_url.is_none() {
        tracing::info!(
            "limits are kept in this process: with several replicas set REDIS_URL to share them"
        );
    }
    let app = anam_backend::app(&config, upstream, &known)?;

    // The one line tools and tests wait for; flushed so a pipe sees it at once.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "anam-backend listening on http://{addr}");
    let _ = stdout.flush();

    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server failed: {e}"))
}

/// Display names for saved personas from upstream's listing, best effort: any failure leaves
/// the ids as names.
async fn persona_names(
    config: &Config,
    upstream: &HttpUpstream,
) -> Vec<anam_core::wire::rest::PersonaSummary> {
    if !matches!(config.personas, PersonaSource::Saved { .. }) {
        return Vec::new();
    }
    match tokio::time::timeout(NAME_LOOKUP_TIMEOUT, upstream.personas()).await {
        Ok(Ok(list)) => list,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "persona names unavailable; using ids as names");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!("persona name lookup timed out; using ids as names");
            Vec::new()
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
