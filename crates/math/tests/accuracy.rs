//! Accuracy against references computed with mpmath at 80 digits
//! (`scripts/gen-normal-table.py` writes `tests/vectors/`), and against an independent
//! `f64` Black-76 (libm's erfc) on random inputs. The bounds asserted here are the ones
//! documented in `docs/spec/clearinghouse.md`.

use proptest::prelude::*;
use straddle_math::normal::{cdf, mills_ratio};
use straddle_math::{Fixed, OptionInputs, black76};

const ULP: f64 = 1.0 / 18_446_744_073_709_551_616.0;

fn vectors(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("json")
}

fn raw(value: &serde_json::Value) -> i128 {
    value.as_str().expect("string").parse().expect("i128")
}

/// Distance in units of 2^-64.
fn ulps(ours: Fixed, expected: i128) -> i128 {
    (ours.raw() - expected).abs()
}

/// |ours − expected| / |expected|, with the absolute error in ulps for tiny values.
fn relative(ours: Fixed, expected: i128) -> f64 {
    (ours.raw() - expected).abs() as f64 / (expected.abs() as f64).max(1.0)
}

#[test]
fn exp_ln_sqrt_cdf_and_mills_ratio_match_mpmath() {
    let v = vectors("functions.json");
    let pairs = |name: &str| -> Vec<(i128, i128)> {
        v[name]
            .as_array()
            .expect("array")
            .iter()
            .map(|p| (raw(&p[0]), raw(&p[1])))
            .collect()
    };
    for (x, expected) in pairs("exp") {
        let ours = Fixed(x).exp().expect("in range");
        assert!(
            relative(ours, expected) <= 1e-17 || ulps(ours, expected) <= 2,
            "exp({}) = {} vs {}",
            Fixed(x).to_f64(),
            ours.raw(),
            expected
        );
    }
    for (x, expected) in pairs("ln") {
        let ours = Fixed(x).ln().expect("positive");
        // ≤ 8 ulps from the series plus ½ ulp of ln 2 per binary exponent (|e| ≤ 50).
        assert!(
            ulps(ours, expected) <= 32,
            "ln({}): {} ulps",
            Fixed(x).to_f64(),
            ulps(ours, expected)
        );
    }
    for (x, expected) in pairs("sqrt") {
        let ours = Fixed(x).sqrt().expect("non-negative");
        assert!(ulps(ours, expected) <= 1, "sqrt({})", Fixed(x).to_f64());
    }
    for (x, expected) in pairs("mills") {
        let ours = mills_ratio(Fixed(x));
        assert!(
            relative(ours, expected) <= 1e-17,
            "R({}): rel {:e}",
            Fixed(x).to_f64(),
            relative(ours, expected)
        );
    }
    for (x, expected) in pairs("ncdf") {
        let ours = cdf(Fixed(x));
        // Absolute error below 2^-60 everywhere; relative 1e-12 in the lower tail
        // down to N(x) ≈ 1e-20, where the grid itself runs out of digits.
        let ok = ulps(ours, expected) <= 16 || relative(ours, expected) <= 1e-12;
        assert!(
            ok,
            "N({}) = {} vs {}",
            Fixed(x).to_f64(),
            ours.raw(),
            expected
        );
    }
}

#[test]
fn black76_matches_mpmath_over_the_grid() {
    let cases = vectors("black76.json");
    let cases = cases.as_array().expect("array");
    let mut worst_relative: f64 = 0.0;
    let mut checked_relative = 0;
    for case in cases {
        let inputs = OptionInputs {
            forward: Fixed(raw(&case["forward"])),
            strike: Fixed(raw(&case["strike"])),
            sigma: Fixed(raw(&case["sigma"])),
            years: Fixed(raw(&case["years"])),
        };
        let values = black76(&inputs).expect("inputs within bounds");
        let forward = inputs.forward.to_f64();
        for (name, ours) in [("call", values.call), ("put", values.put)] {
            let expected = raw(&case[name]);
            let expected_value = expected as f64 * ULP;
            let error = (ours.raw() - expected).abs() as f64 * ULP;
            // Documented bound: relative ≤ 1e-8 for prices ≥ 1e-9·F, and absolute
            // ≤ 1e-15·F below (the Q64.64 grid is 5.4e-20).
            if expected_value >= 1e-9 * forward {
                let rel = error / expected_value;
                worst_relative = worst_relative.max(rel);
                checked_relative += 1;
                assert!(rel <= 1e-8, "{name} {case}: relative {rel:e}");
            } else {
                assert!(
                    error <= 1e-15 * forward,
                    "{name} {case}: absolute {error:e}"
                );
            }
        }
        for (name, ours) in [
            ("deltaCall", values.delta_call),
            ("deltaPut", values.delta_put),
            ("gamma", values.gamma),
            ("vega", values.vega),
            ("theta", values.theta),
        ] {
            let expected = raw(&case[name]) as f64 * ULP;
            let error = (ours.to_f64() - expected).abs();
            assert!(
                error <= 1e-8 * expected.abs() || error <= 1e-12 * forward.max(1.0),
                "{name} {case}: {} vs {expected}",
                ours.to_f64()
            );
        }
    }
    println!("{checked_relative} prices checked relatively, worst {worst_relative:e}");
    assert!(checked_relative > 1000);
    // Measured margin (2.5e-11 when written): a regression guard well inside the 1e-8 bound.
    assert!(
        worst_relative <= 1e-10,
        "worst relative error {worst_relative:e}"
    );
}

/// Textbook Black-76 in f64 with libm's erfc; the out-of-the-money side is computed
/// directly (accurate in f64) and the in-the-money side by parity.
fn f64_reference(forward: f64, strike: f64, sigma: f64, years: f64) -> (f64, f64) {
    let n = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    let v = sigma * years.sqrt();
    let d1 = (forward / strike).ln() / v + v / 2.0;
    let d2 = d1 - v;
    if strike >= forward {
        let call = forward * n(d1) - strike * n(d2);
        (call, call - forward + strike)
    } else {
        let put = strike * n(-d2) - forward * n(-d1);
        (put + forward - strike, put)
    }
}

fn to_fixed(value: f64) -> Fixed {
    Fixed((value / ULP) as i128)
}

proptest! {
    #[test]
    fn black76_matches_an_independent_f64_implementation(
        forward in 1.0f64..200_000.0,
        log_moneyness in -1.5f64..1.5,
        sigma in 0.02f64..4.0,
        years in (1.0f64 / 525_600.0)..3.0,
    ) {
        let strike = forward * log_moneyness.exp();
        let inputs = OptionInputs {
            forward: to_fixed(forward),
            strike: to_fixed(strike),
            sigma: to_fixed(sigma),
            years: to_fixed(years),
        };
        // Use the exact binary values the fixed-point side sees.
        let (f, k, s, t) = (inputs.forward.to_f64(), inputs.strike.to_f64(), inputs.sigma.to_f64(), inputs.years.to_f64());
        let (call, put) = f64_reference(f, k, s, t);
        let values = black76(&inputs).unwrap();
        for (ours, reference) in [(values.call.to_f64(), call), (values.put.to_f64(), put)] {
            // f64 itself is only trustworthy to ~1e-12 relative here; compare where the
            // price is material.
            if reference >= 1e-6 * f {
                prop_assert!((ours - reference).abs() <= 1e-8 * reference, "{} vs {}", ours, reference);
            } else {
                prop_assert!((ours - reference).abs() <= 1e-12 * f);
            }
        }
    }
}
