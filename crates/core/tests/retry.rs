//! Retry policy normalisation and equal-jitter delays (§3.4).
use anam_core::retry::RetryPolicy;

#[test]
fn defaults_match_the_sdk() {
    let p = RetryPolicy::default();
    assert_eq!(
        (
            p.max_attempts,
            p.initial_backoff_ms,
            p.max_backoff_ms,
            p.request_timeout_ms
        ),
        (3, 250, 2000, 10_000)
    );
    assert_eq!(RetryPolicy::from_options(None, None, None, None), p);
    assert_eq!(p.request_timeout(), Some(10_000));
}

#[test]
fn non_finite_inputs_fall_back_to_defaults() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let p = RetryPolicy::from_options(Some(bad), Some(bad), Some(bad), Some(bad));
        assert_eq!(p, RetryPolicy::default(), "{bad}");
    }
}

#[test]
fn normalisation_rules() {
    let p = RetryPolicy::from_options(Some(2.9), Some(-5.0), Some(100.0), Some(-1.0));
    assert_eq!(p.max_attempts, 2, "floored");
    assert_eq!(p.initial_backoff_ms, 0, "min 0");
    assert_eq!(p.max_backoff_ms, 100);
    assert_eq!(p.request_timeout_ms, 0, "min 0");
    assert_eq!(p.request_timeout(), None, "0 disables the timeout");

    assert_eq!(
        RetryPolicy::from_options(Some(0.0), None, None, None).max_attempts,
        1
    );
    assert_eq!(
        RetryPolicy::from_options(Some(-3.0), None, None, None).max_attempts,
        1
    );
    // max backoff is raised to the initial backoff.
    let p = RetryPolicy::from_options(None, Some(500.0), Some(100.0), None);
    assert_eq!((p.initial_backoff_ms, p.max_backoff_ms), (500, 500));
    // ... including the default max when only the initial one is large.
    let p = RetryPolicy::from_options(None, Some(5000.0), None, None);
    assert_eq!(p.max_backoff_ms, 5000);
}

#[test]
fn attempts_are_bounded() {
    let p = RetryPolicy::default();
    assert!(p.allows_another_attempt(1));
    assert!(p.allows_another_attempt(2));
    assert!(!p.allows_another_attempt(3));
    let single = RetryPolicy::from_options(Some(1.0), None, None, None);
    assert!(!single.allows_another_attempt(1));
}

#[test]
fn default_delays_match_the_documented_ranges() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay_after(1, 0.0), 125);
    assert_eq!(p.delay_after(1, 0.999_999), 249);
    assert_eq!(p.delay_after(2, 0.0), 250);
    assert_eq!(p.delay_after(2, 0.999_999), 499);
    assert_eq!(p.delay_after(1, 0.5), 187);
    // The cap then stops the doubling: 2000 ms.
    assert_eq!(p.backoff_cap_ms(4), 2000);
    assert_eq!(p.backoff_cap_ms(5), 2000);
    assert_eq!(p.delay_after(5, 0.0), 1000);
}

#[test]
fn delays_stay_within_bounds_for_any_attempt_and_random() {
    let policies = [
        RetryPolicy::default(),
        RetryPolicy::from_options(Some(10.0), Some(0.0), Some(0.0), None),
        RetryPolicy::from_options(Some(10.0), Some(1.0), Some(1.0), None),
        RetryPolicy::from_options(Some(10.0), Some(7.0), Some(1e15), None),
        RetryPolicy::from_options(Some(10.0), Some(1e300), Some(1e300), None),
    ];
    let randoms = [
        0.0,
        1e-9,
        0.25,
        0.5,
        0.75,
        0.999_999_999,
        1.0,
        -3.0,
        7.0,
        f64::NAN,
    ];
    for p in policies {
        let mut previous_cap = 0;
        for attempt in [0, 1, 2, 3, 10, 63, 64, 65, 1000, u32::MAX] {
            let cap = p.backoff_cap_ms(attempt);
            assert!(cap <= p.max_backoff_ms);
            assert!(cap >= previous_cap, "cap grows with the attempt number");
            previous_cap = cap;
            for r in randoms {
                let d = p.delay_after(attempt, r);
                assert!(d >= cap / 2, "{p:?} attempt {attempt} r {r}: {d} < {cap}/2");
                assert!(
                    d < cap || (cap == 0 && d == 0),
                    "{p:?} attempt {attempt} r {r}: {d}"
                );
            }
        }
    }
}
