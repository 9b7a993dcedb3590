//! The L1 option pricer (`contracts/src/OptionPricer.sol`, deployed on anvil with the
//! constants of `straddle_math::constant_table()`) against crates/math, bit for bit:
//! `exp`, `ln`, `sqrt`, the normal density, Mills ratio and CDF over every range they
//! handle (tiny, ordinary, the table's end at 20, the asymptotic series, the domain
//! edges), then Black-76 prices and Greeks and the scenario form `price_parts` over the
//! pricing bounds and beyond them (where both must refuse). What the oracle update's
//! one-step proof will price with.

use straddle_testkit as common;

use alloy_primitives::I256;
use straddle_exchange::risk::{
    RiskParams, RiskVector, ScenarioGrid, VolSmile, perpetual_vector, strike_vectors,
};
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

/// A fresh anvil (kept alive by the caller), a client, and the pricer deployed with
/// crates/math's constants.
async fn deployed_pricer() -> (
    straddle_l1::Anvil,
    straddle_l1::L1Client,
    alloy_primitives::Address,
) {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let pricer = l1
        .deploy_option_pricer(&straddle_math::constant_table())
        .await
        .unwrap();
    (anvil, l1, pricer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_pricer_agrees_with_crates_math_bit_for_bit() {
    let (_anvil, l1, pricer) = deployed_pricer().await;
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
        print_gas(&l1, pricer, what, data).await;
    }
    assert!(
        priced >= 200 && refused >= 50,
        "{priced} priced, {refused} refused"
    );
}

/// Prints the gas of calling `to` with `data` (`eth_estimateGas`: with the 21 000 base
/// and the calldata).
async fn print_gas(
    l1: &straddle_l1::L1Client,
    to: alloy_primitives::Address,
    what: &str,
    data: Vec<u8>,
) {
    let request = serde_json::json!({
        "to": to,
        "data": alloy_primitives::Bytes::from(data),
    });
    let gas: alloy_primitives::U64 = l1
        .provider()
        .raw_request("eth_estimateGas".into(), (request,))
        .await
        .unwrap();
    println!("{what}: {gas} gas (with the 21 000 base and calldata)");
}

/// Risk parameters that `RiskParams::validate` takes: the default now and then, else
/// random within the bounds.
fn risk_params(rng: &mut common::Rng, case: usize) -> RiskParams {
    if case.is_multiple_of(4) {
        return RiskParams::default();
    }
    let max = 10_000 + rng.below(400_000) as u32;
    let params = RiskParams {
        spot_shock_max_ppm: max,
        tail_shock_ppm: max + rng.below(u64::from(899_999 - max)) as u32,
        vol_down_ppm: 1 + rng.below(1_000_000) as u32,
        vol_up_ppm: 1_000_000 + rng.below(4_000_001) as u32,
        short_option_min_ppm: rng.below(50_000) as u32,
        initial_margin_factor_ppm: 1_250_000,
    };
    params.validate().expect("valid risk parameters");
    params
}

fn solidity_params(params: &RiskParams) -> OptionPricer::RiskParams {
    OptionPricer::RiskParams {
        spotShockMaxPpm: params.spot_shock_max_ppm,
        tailShockPpm: params.tail_shock_ppm,
        volDownPpm: params.vol_down_ppm,
        volUpPpm: params.vol_up_ppm,
        shortOptionMinPpm: params.short_option_min_ppm,
    }
}

/// A vector's fields, then its 29 scenario P&Ls.
fn flat(v: &RiskVector) -> Vec<i128> {
    [
        v.mark_nano,
        v.delta_nano,
        v.gamma_nano,
        v.vega_nano,
        v.theta_nano,
        v.sigma_ppm,
        v.short_charge_nano,
    ]
    .into_iter()
    .chain(v.scenario_pnl_nano)
    .map(i128::from)
    .collect()
}

fn flat_solidity(v: &OptionPricer::Vector) -> Vec<i128> {
    [
        v.mark,
        v.delta,
        v.gamma,
        v.vega,
        v.theta,
        v.sigmaPpm,
        v.shortCharge,
    ]
    .into_iter()
    .chain(v.pnl)
    .map(narrow)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_pricer_computes_the_stfs_risk_vectors() {
    let (_anvil, l1, pricer) = deployed_pricer().await;
    let mut rng = common::Rng(0x5EC7_0125);
    let now_ms = 1_800_000_000_000u64;
    let (mut priced, mut refused) = (0, 0);
    for case in 0..200 {
        let params = risk_params(&mut rng, case);
        let grid = ScenarioGrid::new(&params).unwrap();
        let context = format!("case {case}, {params:?}");

        // A perpetual's: any mark, up to where the nano P&L leaves 64 bits.
        let mark = match case % 3 {
            0 => 1 + rng.below(1_000_000_000_000),
            1 => rng.next() >> rng.below(64),
            _ => u64::MAX - rng.below(1 << 40),
        };
        let got = l1
            .view(
                pricer,
                &OptionPricer::perpetualVectorCall {
                    markMicroUsdc: mark,
                    params: solidity_params(&params),
                },
            )
            .await
            .unwrap();
        match perpetual_vector(mark, &grid) {
            Ok(vector) => {
                assert!(got.ok, "{context}: perpetual at {mark}");
                assert_eq!(
                    flat_solidity(&got.v),
                    flat(&vector),
                    "{context}: perpetual at {mark}"
                );
            }
            Err(_) => assert!(!got.ok, "{context}: perpetual at {mark} refused by both"),
        }

        // A strike's call and put: near and far from the money, a second to two years
        // out (now and then expired, or at the pricer's limits), smiles steep and flat.
        let index = match case % 10 {
            0 => rng.below(1_000),
            _ => 1_000_000 * (10 + rng.below(100_000)),
        };
        let strike = match case % 7 {
            0 => rng.below(u64::MAX >> 8),
            _ => index / 100 * (20 + rng.below(400)),
        };
        let expiry_ms = match case % 8 {
            0 => now_ms - rng.below(2),
            1 => now_ms + 1 + rng.below(10_000),
            _ => now_ms + rng.below(2 * 31_536_000_000),
        };
        let smile = VolSmile {
            atm_vol_ppm: rng.below(3_000_000) as u32,
            skew_ppm: rng.below(2_000_001) as i32 - 1_000_000,
            curvature_ppm: rng.below(2_000_000) as u32,
        };
        let strike_input = OptionPricer::Strike {
            strikeMicroUsdc: strike,
            expiryMs: expiry_ms,
            indexMicroUsdc: index,
            atmVolPpm: smile.atm_vol_ppm,
            skewPpm: smile.skew_ppm,
            curvaturePpm: smile.curvature_ppm,
            nowMs: now_ms,
        };
        let got = l1
            .view(
                pricer,
                &OptionPricer::strikeVectorsCall {
                    strike: strike_input,
                    params: solidity_params(&params),
                },
            )
            .await
            .unwrap();
        let terms =
            format!("{context}: strike {strike}, expiry {expiry_ms}, index {index}, {smile:?}");
        match strike_vectors(
            strike,
            expiry_ms,
            index,
            &smile,
            now_ms,
            &grid,
            params.short_option_min_ppm,
        ) {
            Ok(vectors) => {
                priced += 1;
                assert!(got.ok, "{terms}");
                assert_eq!(
                    flat_solidity(&got.call),
                    flat(&vectors.call),
                    "{terms}: call"
                );
                assert_eq!(flat_solidity(&got.put), flat(&vectors.put), "{terms}: put");
            }
            Err(_) => {
                refused += 1;
                assert!(!got.ok, "{terms}: refused by both");
            }
        }
    }
    println!("strike vectors: {priced} priced, {refused} refused by both");
    // What one market costs an oracle update's proof: a strike's two vectors (a
    // three-month call and put at the money, 65 %), and a perpetual's.
    let defaults = solidity_params(&RiskParams::default());
    let at_the_money = OptionPricer::Strike {
        strikeMicroUsdc: 3_000_000_000,
        expiryMs: now_ms + 7_776_000_000,
        indexMicroUsdc: 3_000_000_000,
        atmVolPpm: 650_000,
        skewPpm: -100_000,
        curvaturePpm: 200_000,
        nowMs: now_ms,
    };
    let strike_call = OptionPricer::strikeVectorsCall {
        strike: at_the_money,
        params: defaults.clone(),
    };
    print_gas(&l1, pricer, "strike vectors", strike_call.abi_encode()).await;
    let perpetual_call = OptionPricer::perpetualVectorCall {
        markMicroUsdc: 3_000_000_000,
        params: defaults,
    };
    print_gas(&l1, pricer, "perpetual vector", perpetual_call.abi_encode()).await;
    assert!(
        priced >= 100 && refused >= 20,
        "{priced} priced, {refused} refused"
    );
}
