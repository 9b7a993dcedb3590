//! The L1 option pricer (`contracts/src/OptionPricer.sol`, deployed on anvil with the
//! constants of `straddle_math::constant_table()`) against crates/math, bit for bit:
//! `exp`, `ln`, `sqrt`, the normal density, Mills ratio and CDF over every range they
//! handle (tiny, ordinary, the table's end at 20, the asymptotic series, the domain
//! edges), then Black-76 prices and Greeks and the scenario form `price_parts` over the
//! pricing bounds and beyond them (where both must refuse). What the oracle update's
//! one-step proof will price with.

mod common;

use alloy_primitives::I256;
use straddle_l1::alloy::providers::Provider;
use straddle_l1::alloy::sol_types::SolCall;
use straddle_l1_contracts::OptionPricer;
use straddle_math::normal::{cdf, mills_ratio, pdf};
use straddle_math::{Fixed, OptionInputs, black76, price_parts};

fn wide(raw: i128) -> I256 {
    I256::try_from(raw).expect("an i128 fits 256 bits")
}

fn narrow(value: I256) -> i128 {
    i128::try_from(value).expect("the pricer's Q64.64 results fit i128")
}

/// A positive raw Q64.64 value between 2^low and 2^high (log-uniform).
fn log_uniform(rng: &mut common::Rng, low: u32, high: u32) -> i128 {
    let exponent = low + rng.below(u64::from(high - low)) as u32;
    let noise = (u128::from(rng.next()) << 64) | u128::from(rng.next());
    let mantissa = if exponent == 0 {
        0
    } else {
        noise >> (128 - exponent)
    };
    ((1u128 << exponent) | mantissa) as i128
}

/// An argument for the single-argument functions.
fn argument(rng: &mut common::Rng, case: usize) -> i128 {
    const ONE: i128 = 1 << 64;
    let edges = [
        0,
        1,
        -1,
        ONE,
        -ONE,
        20 * ONE,
        20 * ONE - 1,
        40 * ONE,
        40 * ONE - 1,
        43 * ONE,
        43 * ONE + 1,
        -45 * ONE,
        -45 * ONE - 1,
        i128::MAX,
        i128::MIN + 1,
    ];
    let negative = rng.chance(50);
    let magnitude = match case % 5 {
        0 => return edges[case / 5 % edges.len()],
        1 => log_uniform(rng, 0, 64),
        2 => log_uniform(rng, 60, 70),
        3 => {
            return (rng.below(100 * 1024) as i128 - 50 * 1024) * (ONE / 1024)
                + rng.below(1 << 40) as i128;
        }
        _ => log_uniform(rng, 70, 126),
    };
    if negative { -magnitude } else { magnitude }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_pricer_agrees_with_crates_math_bit_for_bit() {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let pricer = l1
        .deploy_option_pricer(&straddle_math::constant_table())
        .await
        .unwrap();
    let mut rng = common::Rng(0x0B1A_C076);

    for case in 0..500 {
        let x = argument(&mut rng, case);
        let got = l1
            .view(pricer, &OptionPricer::functionsCall { x: wide(x) })
            .await
            .unwrap();
        let context = format!("x = {x} ({})", Fixed(x).to_f64());
        match Fixed(x).exp() {
            Ok(e) => assert!(got.expOk && narrow(got.e) == e.0, "exp, {context}"),
            Err(_) => assert!(!got.expOk, "exp refuses, {context}"),
        }
        match Fixed(x).ln() {
            Ok(l) => assert!(got.lnOk && narrow(got.l) == l.0, "ln, {context}"),
            Err(_) => assert!(!got.lnOk, "ln refuses, {context}"),
        }
        let root = Fixed(x.abs()).sqrt().unwrap();
        assert_eq!(narrow(got.root), root.0, "sqrt, {context}");
        assert_eq!(narrow(got.density), pdf(Fixed(x)).0, "pdf, {context}");
        assert_eq!(
            narrow(got.mills),
            mills_ratio(Fixed(x)).0,
            "mills, {context}"
        );
        assert_eq!(narrow(got.cdf), cdf(Fixed(x)).0, "cdf, {context}");
    }

    let (mut priced, mut refused) = (0, 0);
    for case in 0..600 {
        let forward = log_uniform(&mut rng, 43, 105);
        let strike = if rng.chance(60) {
            // Near the money: 0.25 to 4 times the forward.
            (forward / 4).saturating_add((forward / 1_000).saturating_mul(rng.below(3_750) as i128))
        } else {
            log_uniform(&mut rng, 43, 105)
        };
        let sigma = log_uniform(&mut rng, 53, 68);
        let years = log_uniform(&mut rng, 41, 68);
        let inputs = OptionInputs {
            forward: Fixed(forward),
            strike: Fixed(strike),
            sigma: Fixed(sigma),
            years: Fixed(years),
        };
        let got = l1
            .view(
                pricer,
                &OptionPricer::black76Call {
                    forward: wide(forward),
                    strike: wide(strike),
                    sigma: wide(sigma),
                    yearsToExpiry: wide(years),
                },
            )
            .await
            .unwrap();
        let context = format!("case {case}: {inputs:?}");
        let Ok(values) = black76(&inputs) else {
            assert!(!got.ok, "{context}: both refuse");
            refused += 1;
            continue;
        };
        priced += 1;
        assert!(got.ok, "{context}: both price");
        let v = got.v;
        let ours = [
            v.call,
            v.put,
            v.deltaCall,
            v.deltaPut,
            v.gamma,
            v.vega,
            v.theta,
        ]
        .map(narrow);
        let theirs = [
            values.call,
            values.put,
            values.delta_call,
            values.delta_put,
            values.gamma,
            values.vega,
            values.theta,
        ]
        .map(|value| value.0);
        assert_eq!(ours, theirs, "{context}");

        // The scenario form: the same volatility, the moneyness shocked.
        let moneyness = Fixed(strike).checked_div(Fixed(forward)).unwrap();
        let total_vol = Fixed(sigma).mul_floor(Fixed(years).sqrt().unwrap());
        let inverse_vol = Fixed::ONE.checked_div(total_vol).unwrap();
        let shock = Fixed((rng.below(1 << 20) as i128 - (1 << 19)) << 44);
        let ln_moneyness = moneyness.ln().unwrap() + shock;
        let got = l1
            .view(
                pricer,
                &OptionPricer::pricePartsCall {
                    lnMoneyness: wide(ln_moneyness.0),
                    moneyness: wide(moneyness.0),
                    totalVol: wide(total_vol.0),
                    inverseVol: wide(inverse_vol.0),
                },
            )
            .await
            .unwrap();
        match price_parts(ln_moneyness, moneyness, total_vol, inverse_vol) {
            Ok(parts) => {
                assert!(got.ok, "{context}: parts");
                let p = got.p;
                assert_eq!(
                    [p.call, p.put, p.phi, p.cdfD1].map(narrow),
                    [parts.call, parts.put, parts.phi, parts.cdf_d1].map(|value| value.0),
                    "{context}: parts, shock {shock:?}"
                );
            }
            Err(_) => assert!(!got.ok, "{context}: parts refused by both"),
        }
    }
    println!("black76: {priced} priced, {refused} refused by both");
    // Gas of one pricing at the money (a year, 65 %), and of one scenario's parts: what
    // an oracle update's proof spends per option and per scenario.
    let one = 1i128 << 64;
    let calls = [
        (
            "black76",
            OptionPricer::black76Call {
                forward: wide(3_000 * one),
                strike: wide(3_000 * one),
                sigma: wide(one * 65 / 100),
                yearsToExpiry: wide(one),
            }
            .abi_encode(),
        ),
        (
            "price_parts",
            OptionPricer::pricePartsCall {
                lnMoneyness: wide(one / 10),
                moneyness: wide(one + one / 10),
                totalVol: wide(one * 65 / 100),
                inverseVol: wide(one * 100 / 65),
            }
            .abi_encode(),
        ),
    ];
    for (what, data) in calls {
        let request = serde_json::json!({
            "to": pricer,
            "data": alloy_primitives::Bytes::from(data),
        });
        let gas: alloy_primitives::U64 = l1
            .provider()
            .raw_request("eth_estimateGas".into(), (request,))
            .await
            .unwrap();
        println!("{what}: {gas} gas (with the 21 000 base and calldata)");
    }
    assert!(
        priced >= 200 && refused >= 50,
        "{priced} priced, {refused} refused"
    );
}
