//! Shared helpers of the integration tests.
pub mod client;

use anam_emulator::config::Config;
use anam_emulator::Emulator;

/// Serves an emulator on a free loopback port with `api_key` (and its control API when
/// `control`); returns its `host:port`.
pub async fn serve_emulator(api_key: &str, control: bool) -> String {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        api_key: api_key.to_owned(),
        control,
        ..Config::default()
    };
    let emu = Emulator::bind(config).await.unwrap();
    let host = emu.local_addr().unwrap().to_string();
    tokio::spawn(emu.serve());
    host
}
