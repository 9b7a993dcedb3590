//! Properties of the risk engine: put-call parity holds scenario by scenario, a long
//! option never loses more than its mark, margin is linear and subadditive, offsetting
//! positions carry no scenario risk, and every bound is enforced.

use super::*;
use proptest::prelude::*;

const DAY_MS: u64 = 86_400_000;
const NOW_MS: u64 = 1_800_000_000_000;

fn grid() -> ScenarioGrid {
    ScenarioGrid::new(&RiskParams::default()).unwrap()
}

fn smile(atm_vol_ppm: u32) -> VolSmile {
    VolSmile {
        atm_vol_ppm,
        skew_ppm: -150_000,
        curvature_ppm: 300_000,
    }
}

#[test]
fn grid_has_the_documented_shape() {
    let grid = grid();
    let shocks: Vec<i64> = grid.scenarios.iter().map(|s| s.spot_shock_ppm).collect();
    assert_eq!(&shocks[..3], &[-160_000; 3]);
    assert_eq!(&shocks[12..15], &[0; 3]);
    assert_eq!(&shocks[24..27], &[160_000; 3]);
    assert_eq!(&shocks[27..], &[-330_000, 330_000]);
    assert_eq!(grid.scenarios[0].vol_multiplier_ppm, 700_000);
    assert_eq!(grid.scenarios[28].vol_multiplier_ppm, 1_500_000);
    assert_eq!(RiskParams::default().validate(), Ok(()));
    let bad = RiskParams {
        vol_up_ppm: 900_000,
        ..RiskParams::default()
    };
    assert_eq!(bad.validate(), Err(RiskParamsError::VolShocks));
}

#[test]
fn perpetual_pnl_is_the_shocked_move() {
    let vector = perpetual_vector(3_000_000_000, &grid()).unwrap();
    assert_eq!(vector.mark_nano, 3_000_000_000_000);
    assert_eq!(vector.scenario_pnl_nano[0], -480_000_000_000);
    assert_eq!(vector.scenario_pnl_nano[28], 990_000_000_000);
}

#[test]
fn expired_options_are_refused() {
    let error = strike_vectors(
        3_000_000_000,
        NOW_MS,
        3_000_000_000,
        &smile(600_000),
        NOW_MS,
        &grid(),
        5_000,
    );
    assert!(matches!(error, Err(RiskError::Expired { .. })));
}

fn strikes() -> impl Strategy<Value = (u64, u64, u32, u64)> {
    (
        500_000_000u64..200_000_000_000, // index, micro-USDC: 500 to 200,000
        -1_200i64..1_200,                // ln(K/F) in thousandths
        50_000u32..2_500_000,            // ATM vol, ppm
        1u64..400 * DAY_MS / 60_000,     // minutes to expiry
    )
        .prop_map(|(index, log_k, vol, minutes)| {
            let strike = (index as f64 * (log_k as f64 / 1000.0).exp()) as u64;
            (index, strike.max(1), vol, minutes * 60_000)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn put_call_parity_holds_in_every_scenario((index, strike, vol, to_expiry) in strikes()) {
        let grid = grid();
        let vectors = strike_vectors(strike, NOW_MS + to_expiry, index, &smile(vol), NOW_MS, &grid, 5_000).unwrap();
        let forward = perpetual_vector(index, &grid).unwrap();
        // call − put = F − K at every shocked forward, so the P&L differences equal a
        // forward's: F·shock (to a few nano-USDC of rounding).
        for s in 0..SCENARIO_COUNT {
            let difference = vectors.call.scenario_pnl_nano[s] - vectors.put.scenario_pnl_nano[s];
            prop_assert!((difference - forward.scenario_pnl_nano[s]).abs() <= 4, "scenario {}: {} vs {}", s, difference, forward.scenario_pnl_nano[s]);
        }
        let parity = vectors.call.mark_nano - vectors.put.mark_nano;
        prop_assert!((parity - (index as i64 - strike as i64) * 1_000).abs() <= 2);
    }

    #[test]
    fn a_long_option_never_loses_more_than_its_mark((index, strike, vol, to_expiry) in strikes()) {
        let vectors = strike_vectors(strike, NOW_MS + to_expiry, index, &smile(vol), NOW_MS, &grid(), 5_000).unwrap();
        for vector in [&vectors.call, &vectors.put] {
            prop_assert!(vector.mark_nano >= 0);
            for pnl in vector.scenario_pnl_nano {
                prop_assert!(-pnl <= vector.mark_nano + 1);
            }
            // Higher spot never hurts a call or helps a put (same vol level).
            for v in 0..3 {
                for step in 0..8 {
                    let (lo, hi) = (vector.scenario_pnl_nano[step * 3 + v], vector.scenario_pnl_nano[(step + 1) * 3 + v]);
                    if std::ptr::eq(vector, &vectors.call) { prop_assert!(hi >= lo - 1); } else { prop_assert!(hi <= lo + 1); }
                }
            }
        }
    }

    #[test]
    fn margin_is_linear_and_subadditive(
        (index, strike, vol, to_expiry) in strikes(),
        sizes in prop::collection::vec(-1_000_000_000i64..1_000_000_000, 3),
        more in prop::collection::vec(-1_000_000_000i64..1_000_000_000, 3),
        k in 1i64..50,
    ) {
        let grid = grid();
        let vectors = strike_vectors(strike, NOW_MS + to_expiry, index, &smile(vol), NOW_MS, &grid, 5_000).unwrap();
        let perp = perpetual_vector(index, &grid).unwrap();
        let book = [&vectors.call, &vectors.put, &perp];
        let portfolio = |sizes: &[i64]| -> Vec<Exposure<'_>> {
            sizes.iter().zip(book).map(|(size, vector)| Exposure { size: *size, vector }).collect()
        };
        let a = margin(&portfolio(&sizes), 1_250_000).unwrap();
        let b = margin(&portfolio(&more), 1_250_000).unwrap();
        let combined: Vec<i64> = sizes.iter().zip(&more).map(|(x, y)| x + y).collect();
        let ab = margin(&portfolio(&combined), 1_250_000).unwrap();
        // Subadditive: netting never costs margin (up to one micro-USDC per rounding).
        prop_assert!(ab.maintenance <= a.maintenance + b.maintenance + 1);
        // Linear: k times the portfolio is exactly k times the scenario P&L.
        let scaled: Vec<i64> = sizes.iter().map(|x| x * k).collect();
        let ka = margin(&portfolio(&scaled), 1_250_000).unwrap();
        for s in 0..SCENARIO_COUNT {
            prop_assert_eq!(ka.scenario_pnl_femto[s], a.scenario_pnl_femto[s] * i128::from(k));
        }
        prop_assert!(ka.maintenance <= a.maintenance * k as u128 && ka.maintenance + k as u128 >= a.maintenance * k as u128);
        prop_assert!(a.initial >= a.maintenance);
        // Offsetting positions carry no scenario risk, only the short-option charge.
        let negated: Vec<i64> = sizes.iter().map(|x| -x).collect();
        let mut both = portfolio(&sizes);
        both.extend(portfolio(&negated));
        let flat = margin(&both, 1_250_000).unwrap();
        prop_assert!(flat.scenario_pnl_femto.iter().all(|p| *p == 0));
        let shorts: i128 = sizes.iter().zip(book).take(2).map(|(s, v)| i128::from(s.unsigned_abs() as i64) * i128::from(v.short_charge_nano)).sum();
        prop_assert_eq!(flat.maintenance as i128, (shorts + 999_999_999) / 1_000_000_000);
    }
}

#[test]
fn bounds_are_enforced() {
    let grid = grid();
    let perp = perpetual_vector(3_000_000_000, &grid).unwrap();
    let too_many: Vec<Exposure<'_>> = (0..=POSITIONS_PER_ACCOUNT_MAX)
        .map(|_| Exposure {
            size: 1,
            vector: &perp,
        })
        .collect();
    assert_eq!(
        margin(&too_many, 1_250_000),
        Err(MarginError::TooManyPositions(POSITIONS_PER_ACCOUNT_MAX + 1))
    );
    let huge = [Exposure {
        size: margin::POSITION_SIZE_MAX + 1,
        vector: &perp,
    }];
    assert!(matches!(
        margin(&huge, 1_250_000),
        Err(MarginError::PositionTooLarge(_))
    ));
    let at_limit = [Exposure {
        size: -margin::POSITION_SIZE_MAX,
        vector: &perp,
    }];
    assert!(margin(&at_limit, 1_250_000).is_ok());
}

#[test]
fn a_one_contract_short_perp_needs_the_worst_shock_plus_buffer() {
    let grid = grid();
    let perp = perpetual_vector(3_000_000_000, &grid).unwrap();
    let summary = margin(
        &[Exposure {
            size: -1_000_000,
            vector: &perp,
        }],
        1_250_000,
    )
    .unwrap();
    // Short 1 ETH at 3,000: the +33 % tail loses 990 USDC.
    assert_eq!(summary.maintenance, 990_000_000);
    assert_eq!(summary.initial, 1_237_500_000);
    assert_eq!(summary.worst_scenario, 28);
    assert_eq!(summary.delta_nano, -1_000_000_000);
}
