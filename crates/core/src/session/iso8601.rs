//! ISO-8601 timestamps from and to Unix milliseconds: the data channel's messages carry them
//! (§9.1).

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `unix_ms` (UTC), like JS `Date.prototype.toISOString`.
pub fn iso_millis(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix milliseconds of an ISO-8601 instant as servers send it (`YYYY-MM-DDTHH:MM:SS`, optional
/// fraction, then `Z`, an offset `±HH:MM`, or nothing for UTC). `None` for anything else, or for
/// instants before 1970 (tool-call durations only need differences of recent instants).
pub fn parse_iso_millis(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep_ok = b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(b'T' | b't' | b' '))
        && b.get(13) == Some(&b':')
        && b.get(16) == Some(&b':');
    if !sep_ok {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // Milliseconds from the first three digits, right-padded ("5" is 500 ms).
        millis = frac
            .bytes()
            .take(digits.min(3))
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .try_fold(0i64, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
            })?;
        rest = frac.get(digits..)?;
    }
    let offset_minutes = match rest.as_bytes() {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (
                num(text.len() - 5..text.len() - 3)?,
                num(text.len() - 2..text.len())?,
            );
            let minutes = h * 60 + m;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(secs * 1000 + millis).ok()
}

/// A proleptic Gregorian date to days since 1970-01-01 (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_known_instants() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_784_801_551_123), "2026-07-23T10:12:31.123Z");
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn iso_parsing_inverts_formatting_and_reads_server_variants() {
        for ms in [0, 951_782_400_000, 1_784_801_551_123, 4_102_444_799_999] {
            assert_eq!(parse_iso_millis(&iso_millis(ms)), Some(ms));
        }
        let t = 1_784_801_551_000;
        assert_eq!(parse_iso_millis("2026-07-23T10:12:31"), Some(t));
        assert_eq!(parse_iso_millis("2026-07-23T10:12:31.5Z"), Some(t + 500));
        assert_eq!(
            parse_iso_millis("2026-07-23T10:12:31.123456Z"),
            Some(t + 123)
        );
        assert_eq!(parse_iso_millis("2026-07-23T12:12:31+02:00"), Some(t));
        assert_eq!(parse_iso_millis("2026-07-23T08:12:31-02:00"), Some(t));
        for bad in [
            "",
            "2026-07-23",
            "2026-13-01T00:00:00Z",
            "2026-07-23T10:12:31.Z",
            "2026-07-23T10:12:31+0200",
            "yesterday",
            "1969-12-31T23:59:59Z",
            "2026-07-23T10:12:31Zjunk",
        ] {
            assert_eq!(parse_iso_millis(bad), None, "{bad}");
        }
    }
}
