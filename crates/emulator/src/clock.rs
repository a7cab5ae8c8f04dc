//! The emulator's one view of the wall clock.

/// Seconds since the Unix epoch. JWT `iat`/`exp` are wall-clock times by definition, so this is
/// the single place that reads the system clock (the workspace bans it elsewhere because the
/// wasm client must take time as an input).
#[allow(clippy::disallowed_methods)]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
