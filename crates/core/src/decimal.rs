//! Decimal text for `f64` values without Rust's float formatting.
//!
//! `<f64 as Display>` pulls the whole shortest-round-trip machinery (flt2dec, ~14 KB) into the
//! wasm bundle. The client only prints floats in human-readable messages (stats issues, option
//! errors), where a fixed number of decimals is all anyone needs, so the value is scaled, rounded
//! to an integer and printed with integer formatting.

/// `x` rounded to `decimals` places (at most 9), e.g. `fixed(2.345, 2) == "2.35"` (ties away from
/// zero). Non-finite values print as Rust prints them (`NaN`, `inf`, `-inf`); magnitudes too
/// large for the scaled integer saturate.
pub fn fixed(x: f64, decimals: u32) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let decimals = decimals.min(9);
    let scale = 10u64.pow(decimals);
    // `as` saturates, so a huge value cannot wrap around.
    let scaled = (x * scale as f64).round() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    let (whole, frac) = (magnitude / scale, magnitude % scale);
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0width$}", width = decimals as usize)
    }
}

/// Like [`fixed`], without trailing zeros (and without the point for whole numbers), so that
/// `25.0` reads `25` and `14.50` reads `14.5`, as `Display` would print them.
pub fn decimal(x: f64, max_decimals: u32) -> String {
    let text = fixed(x, max_decimals);
    if !x.is_finite() || !text.contains('.') {
        return text;
    }
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fixed_rounds_to_the_given_places() {
        assert_eq!(fixed(2.345, 2), "2.35");
        assert_eq!(fixed(-2.5, 0), "-3");
        assert_eq!(fixed(0.004, 3), "0.004");
        assert_eq!(fixed(0.0004, 3), "0.000");
        assert_eq!(fixed(-0.0004, 3), "0.000");
        assert_eq!(fixed(1234.5, 1), "1234.5");
        assert_eq!(fixed(7.0, 2), "7.00");
        assert_eq!(fixed(-0.25, 1), "-0.3");
        assert_eq!(fixed(1.0, 20), "1.000000000");
    }

    #[test]
    fn non_finite_and_huge_values_do_not_break() {
        assert_eq!(fixed(f64::NAN, 2), "NaN");
        assert_eq!(fixed(f64::INFINITY, 2), "inf");
        assert_eq!(fixed(f64::NEG_INFINITY, 0), "-inf");
        assert_eq!(fixed(1e300, 0), i64::MAX.to_string());
        assert_eq!(decimal(f64::NAN, 3), "NaN");
    }

    #[test]
    fn decimal_drops_trailing_zeros() {
        assert_eq!(decimal(25.0, 3), "25");
        assert_eq!(decimal(14.5, 3), "14.5");
        assert_eq!(decimal(1.25, 1), "1.3");
        assert_eq!(decimal(-0.0001, 3), "0");
        assert_eq!(decimal(-1.5, 3), "-1.5");
        assert_eq!(decimal(100.0, 0), "100");
    }

    proptest! {
        /// For values with few decimals, the output is what `Display` prints.
        #[test]
        fn decimal_matches_display_for_short_values(units in -10_000_000i64..10_000_000, places in 0u32..4) {
            let x = units as f64 / 10f64.powi(places as i32);
            prop_assert_eq!(decimal(x, 6), format!("{x}"));
        }

        #[test]
        fn fixed_reads_back_within_half_a_unit(x in -1e9f64..1e9, places in 0u32..6) {
            let back: f64 = fixed(x, places).parse().unwrap();
            prop_assert!((back - x).abs() <= 0.5 / 10f64.powi(places as i32) + 1e-6);
        }
    }
}
