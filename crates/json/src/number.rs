//! JSON number text to `f64` without core's `dec2flt`.
//!
//! `str::parse::<f64>` is correctly rounded for every input, at the cost of ~5.7 KB of wasm (big
//! decimal arithmetic for the hard cases). The client only reads a few numbers as floats (config
//! intervals, stats thresholds, range checks), all short decimals, so it uses Clinger's fast
//! path, which is exact for them, and a plain scaled product for anything longer.

/// Exact powers of ten: every one up to 1e22 is a double without rounding.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Beyond this decimal exponent every double is 0 or infinite, whatever the significand.
const EXP_LIMIT: i64 = 400;

/// The value of validated JSON number `text`. Correctly rounded (equal to `str::parse`) when the
/// significand has at most 15 digits and the scaled exponent is within ±22, i.e. for every
/// number a person or a browser stat writes; otherwise within a few ulps.
pub(super) fn to_f64(text: &str) -> f64 {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut significand: u64 = 0;
    let mut digits = 0u32; // significant digits kept in `significand`
    let mut exp10: i64 = 0; // decimal exponent that applies to `significand`
    let mut in_fraction = false;
    let mut i = usize::from(negative);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                if digits < 19 {
                    significand = significand * 10 + u64::from(b - b'0');
                    if significand > 0 {
                        digits += 1;
                    }
                    if in_fraction {
                        exp10 -= 1;
                    }
                } else if !in_fraction {
                    // A digit that no longer fits still scales the integer part.
                    exp10 += 1;
                }
            }
            b'.' => in_fraction = true,
            _ => break,
        }
        i += 1;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = bytes.get(i) == Some(&b'-');
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut exp: i64 = 0;
        while let Some(&b @ b'0'..=b'9') = bytes.get(i) {
            exp = (exp * 10 + i64::from(b - b'0')).min(10 * EXP_LIMIT);
            i += 1;
        }
        exp10 += if exp_negative { -exp } else { exp };
    }
    let magnitude = scale(significand, exp10.clamp(-EXP_LIMIT, EXP_LIMIT));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

fn scale(significand: u64, exp10: i64) -> f64 {
    if significand == 0 {
        return 0.0;
    }
    let mut x = significand as f64;
    let pow = |e: i64| POW10.get(e.unsigned_abs() as usize).copied().unwrap_or(1.0);
    // Far exponents are scaled in steps of 1e22 (bounded: |exp10| <= 400). Within ±22 and with
    // a significand below 2^53 no step runs, and the one multiplication or division below is
    // Clinger's fast path: both operands are exact, so the result is rounded once.
    let mut e = exp10;
    while e > 22 {
        x *= 1e22;
        e -= 22;
    }
    while e < -22 {
        x /= 1e22;
        e += 22;
    }
    if e >= 0 {
        x * pow(e)
    } else {
        x / pow(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn common_numbers_read_exactly() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "2.5",
            "0.004",
            "0.1",
            "0.3",
            "25",
            "1.5e3",
            "1E-7",
            "123456789012345",
            "0.000001",
            "1e22",
            "-3.25e-5",
            "9007199254740991",
        ] {
            assert_eq!(to_f64(text), text.parse::<f64>().unwrap(), "{text}");
        }
        assert!(to_f64("-0").is_sign_negative());
    }

    #[test]
    fn extremes_saturate() {
        assert_eq!(to_f64("1e999"), f64::INFINITY);
        assert_eq!(to_f64("-1e99999999999999999999"), f64::NEG_INFINITY);
        assert_eq!(to_f64("1e-999"), 0.0);
        assert_eq!(to_f64("0e999"), 0.0);
        let long = format!("1{}", "0".repeat(400));
        assert_eq!(to_f64(&long), f64::INFINITY);
    }

    proptest! {
        /// Inside the fast path (at most 15 digits, scaled exponent within ±22; the fraction
        /// digits lower it by up to 5) the result is exactly what `str::parse` gives.
        #[test]
        fn fast_path_is_correctly_rounded(m in 0u64..1_000_000_000_000_000, e in -16i32..=22, frac in 0usize..6) {
            let digits = m.to_string();
            let text = if frac > 0 && frac < digits.len() {
                let (a, b) = digits.split_at(digits.len() - frac);
                format!("{a}.{b}e{e}")
            } else {
                format!("{digits}e{e}")
            };
            prop_assert_eq!(to_f64(&text), text.parse::<f64>().unwrap(), "{}", text);
        }

        /// Elsewhere it stays within a few ulps.
        #[test]
        fn long_numbers_are_close(x in any::<f64>().prop_filter("finite", |x| x.is_finite() && *x != 0.0)) {
            let text = format!("{x:e}");
            let ours = to_f64(&text);
            let relative = ((ours - x) / x).abs();
            prop_assert!(relative < 1e-14 || (x.abs() < 1e-300 && (ours - x).abs() < 1e-300), "{} -> {}", text, ours);
        }
    }
}
