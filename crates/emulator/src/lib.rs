//! anam-emulator: a local stand-in for Anam's cloud. One listener serves the core API (session
//! tokens, personas, start-session, metrics), the engine (signalling WebSocket, `/talk`) and, with
//! `--control`, a test control API; each session gets a real WebRTC peer (str0m) on loopback UDP
//! that streams a synthetic persona.
pub mod agent_audio;
pub mod clock;
pub mod config;
pub mod control;
pub mod faults;
pub mod http;
pub mod media;
pub mod model;
pub mod personas;
pub mod ratelimit;
pub mod registry;
pub mod rtc;
pub mod session;
pub mod signalling;
pub mod speech;
pub mod state;
pub mod tokens;
pub mod tools;
pub mod vad;

use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// A bound, not yet serving emulator.
pub struct Emulator {
    listener: TcpListener,
    state: AppState,
}

impl Emulator {
    /// Binds the listener. The engine host handed to clients is the bound address, so port 0
    /// works.
    pub async fn bind(config: Config) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(config, addr.to_string());
        Ok(Emulator { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process ends.
    pub async fn serve(self) -> std::io::Result<()> {
        let app = http::router(self.state.clone());
        axum::serve(self.listener, app).await
    }
}
