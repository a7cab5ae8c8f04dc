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
/// with `new Date(…)` to compute a tool call's `executionTime`).
pub fn iso_now() -> String {
    iso_from_millis(unix_millis())
}

/// `2026-07-23T10:12:31.123Z` for a Unix time in milliseconds.
pub fn iso_from_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar. Works in
/// 400-year eras (146 097 days), with years starting in March so that the leap day comes last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, 0..365
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_match_known_dates() {
        assert_eq!(iso_from_millis(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.789
        assert_eq!(iso_from_millis(951_827_696_789), "2000-02-29T12:34:56.789Z");
        // 2026-07-23T10:12:31.123Z
        assert_eq!(
            iso_from_millis(1_784_801_551_123),
            "2026-07-23T10:12:31.123Z"
        );
        // 2100-03-01, the day after a non-leap February.
        assert_eq!(
            iso_from_millis(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z"
        );
        let now = iso_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z'));
    }
}
