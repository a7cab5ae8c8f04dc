//! `anam-emulator` binary: parse flags, bind, print the ready line, serve.
use std::io::Write;

use anam_emulator::config::{usage, Command, Config};
use anam_emulator::Emulator;

#[tokio::main]
async fn main() {
    let env_key = std::env::var("ANAM_EMULATOR_API_KEY").ok();
    let config = match Config::from_args(std::env::args().skip(1), env_key) {
        Ok(Command::Run(c)) => c,
        Ok(Command::Help) => {
            println!("{}", usage());
            return;
        }
        Err(e) => {
            eprintln!("anam-emulator: {e}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "anam_emulator=info".into()),
        )
        .init();
    let emulator = match Emulator::bind(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("anam-emulator: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    let addr = match emulator.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("anam-emulator: {e}");
            std::process::exit(1);
        }
    };
    // Encode every persona's frames and make the DTLS certificate before announcing readiness:
    // a client that connects right after the ready line then gets video at once (about a second
    // in release builds).
    let state = emulator.state().clone();
    let cert_state = state.clone();
    let cert = tokio::task::spawn_blocking(move || cert_state.dtls_cert().is_some());
    state.media.warm_up().await;
    if !matches!(cert.await, Ok(true)) {
        eprintln!("anam-emulator: no DTLS certificate; WebRTC will not work");
    }
    println!("anam-emulator listening on http://{addr}");
    let _ = std::io::stdout().flush();
    if let Err(e) = emulator.serve().await {
        eprintln!("anam-emulator: {e}");
        std::process::exit(1);
    }
}
