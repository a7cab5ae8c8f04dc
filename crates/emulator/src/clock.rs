//! The emulator's one view of the wall clock.

/// Milliseconds since the Unix epoch. JWT `iat`/`exp` and the ISO timestamps of tool-call
/// messages are wall-clock times by definition, so this is the single place that reads the
/// system clock (the workspace bans it elsewhere because the wasm client must take time as an
/// input).
#[allow(clippy::disallowed_methods)]
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    unix_millis() / 1000
}

/// Now as ISO-8601 UTC with milliseconds and a trailing `Z` (what the official client parses
/// with `new Date(…)` to compute a tool call's `executionTime`), in the client's own format.
pub fn iso_now() -> String {
    anam_core::session::iso8601::iso_millis(unix_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_now_is_the_current_utc_time_with_milliseconds() {
        let before = unix_millis();
        let now = iso_now();
        let after = unix_millis();
        assert_eq!(now.len(), 24, "{now}");
        let parsed = anam_core::session::iso8601::parse_iso_millis(&now).unwrap();
        assert!(before <= parsed && parsed <= after, "{now}");
    }
}
