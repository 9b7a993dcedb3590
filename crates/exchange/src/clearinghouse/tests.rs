//! Clearinghouse rules and invariants: cash is conserved to the micro-USDC, positions net
//! to zero in every market, open interest is the total long size, an accepted
//! risk-increasing change always leaves initial margin covered, and a refused operation
//! changes nothing.

use super::market::{Instrument, MarketSpec};
use super::*;
use crate::risk::{
    OptionKind, RiskParams, ScenarioGrid, VolSmile, perpetual_vector, strike_vectors,
};
use proptest::prelude::*;

const NOW_MS: u64 = 1_800_000_000_000;
const INDEX: u64 = 3_000_000_000;

fn account(i: u8) -> Address {
    Address::repeat_byte(i + 1)
}

fn spec(id: MarketId, instrument: Instrument) -> MarketSpec {
    MarketSpec {
        id,
        underlying: 1,
        instrument,
        tick_micro_usdc: 100_000,
        lot: 1_000,
        maker_fee_ppm: 200,
        taker_fee_ppm: 500,
    }
}

/// A perp, a call and a put on ETH at 3,000, with vectors installed.
fn exchange() -> Clearinghouse {
    let grid = ScenarioGrid::new(&RiskParams::default()).unwrap();
    let mut ch = Clearinghouse::new(1_250_000);
    let expiry_ms = NOW_MS + 30 * 86_400_000;
    let option = |kind| Instrument::Option {
        kind,
        strike_micro_usdc: 3_200_000_000,
        expiry_ms,
    };
    ch.add_market(spec(1, Instrument::Perpetual)).unwrap();
    ch.add_market(spec(2, option(OptionKind::Call))).unwrap();
    ch.add_market(spec(3, option(OptionKind::Put))).unwrap();
    let smile = VolSmile {
        atm_vol_ppm: 650_000,
        skew_ppm: -100_000,
        curvature_ppm: 200_000,
    };
    let strike = strike_vectors(
        3_200_000_000,
        expiry_ms,
        INDEX,
        &smile,
        NOW_MS,
        &grid,
        5_000,
    )
    .unwrap();
    ch.set_vector(1, perpetual_vector(INDEX, &grid).unwrap())
        .unwrap();
    ch.set_vector(2, strike.call).unwrap();
    ch.set_vector(3, strike.put).unwrap();
    ch
}

/// The test exchange with `deposits` made and one fill settled.
fn funded_with_trade(deposits: &[(u8, u64)], trade: Fill) -> Clearinghouse {
    let mut ch = exchange();
    for (who, amount) in deposits {
        ch.deposit(account(*who), u128::from(*amount)).unwrap();
    }
    ch.settle_fill(&trade).unwrap();
    ch
}

fn fill(market: MarketId, buyer: u8, seller: u8, size: u64, price: u64) -> Fill {
    Fill {
        market,
        buyer: account(buyer),
        seller: account(seller),
        size,
        price_micro_usdc: price,
        taker_is_buyer: true,
    }
}

#[test]
fn a_perp_fill_moves_cash_contracts_and_fees() {
    let mut ch = exchange();
    ch.deposit(account(0), 10_000_000_000).unwrap();
    ch.deposit(account(1), 10_000_000_000).unwrap();
    let outcome = ch
        .settle_fill(&fill(1, 0, 1, 2_000_000, 3_000_100_000))
        .unwrap();
    // 2 contracts at 3,000.1: notional 6,000.2 USDC; taker 5 bp, maker 2 bp (rounded up).
    assert_eq!(outcome.buyer_paid, 6_000_200_000);
    assert_eq!(outcome.seller_received, 6_000_200_000);
    assert_eq!(outcome.taker_fee, 3_000_100);
    assert_eq!(outcome.maker_fee, 1_200_040);
    assert_eq!(
        ch.portfolio(&account(0)).positions,
        vec![Position {
            market: 1,
            size: 2_000_000,
            funding_snapshot: 0,
            cost: 6_000_200_000,
        }]
    );
    assert_eq!(
        ch.portfolio(&account(1)).positions,
        vec![Position {
            market: 1,
            size: -2_000_000,
            funding_snapshot: 0,
            cost: -6_000_200_000,
        }]
    );
    assert_eq!(ch.market(1).unwrap().open_interest, 2_000_000);
    assert_eq!(
        ch.total_value_femto().unwrap(),
        20_000_000_000 * 1_000_000_000
    );
    // Closing half reduces open interest.
    ch.settle_fill(&fill(1, 1, 0, 1_000_000, 3_000_000_000))
        .unwrap();
    assert_eq!(ch.market(1).unwrap().open_interest, 1_000_000);
    // Closing half keeps half the entry cost: the entry price stays 3,000.1.
    assert_eq!(ch.portfolio(&account(0)).positions[0].cost, 3_000_100_000);
    let risk = ch.risk_of(&ch.portfolio(&account(0))).unwrap();
    assert_eq!(risk.margin.delta_nano, 1_000_000_000);
}

#[test]
fn refused_operations_change_nothing() {
    let mut ch = exchange();
    ch.deposit(account(0), 1_000_000_000).unwrap();
    ch.deposit(account(1), 1_000_000_000).unwrap();
    let before = ch.clone();
    type Expectation = fn(&ClearingError) -> bool;
    let cases: Vec<(Fill, Expectation)> = vec![
        (fill(9, 0, 1, 1_000, 3_000_000_000), |e| {
            matches!(e, ClearingError::UnknownMarket(9))
        }),
        (fill(1, 0, 1, 1_500, 3_000_000_000), |e| {
            matches!(e, ClearingError::BadSize { .. })
        }),
        (fill(1, 0, 1, 0, 3_000_000_000), |e| {
            matches!(e, ClearingError::BadSize { .. })
        }),
        (fill(1, 0, 1, 1_000, 3_000_050_000), |e| {
            matches!(e, ClearingError::BadPrice { .. })
        }),
        (fill(1, 0, 0, 1_000, 3_000_000_000), |e| {
            matches!(e, ClearingError::SelfTrade)
        }),
        // 10 ETH long with 1,000 USDC: far beyond initial margin.
        (fill(1, 0, 1, 10_000_000, 3_000_000_000), |e| {
            matches!(e, ClearingError::InsufficientMargin { .. })
        }),
        // Selling a naked call without margin.
        (fill(2, 2, 3, 50_000_000, 100_000_000), |e| {
            matches!(e, ClearingError::InsufficientMargin { .. })
        }),
    ];
    for (bad, expected) in cases {
        let error = ch.settle_fill(&bad).unwrap_err();
        assert!(expected(&error), "{bad:?}: {error}");
        assert_eq!(ch, before, "{bad:?} changed state");
    }
    let mut unpriced = exchange();
    unpriced.add_market(spec(4, Instrument::Perpetual)).unwrap();
    assert_eq!(
        unpriced.settle_fill(&fill(4, 0, 1, 1_000, 3_000_000_000)),
        Err(ClearingError::NoRiskVector(4))
    );
    assert!(matches!(
        ch.withdraw(account(0), 2_000_000_000),
        Err(ClearingError::InsufficientCash { .. })
    ));
    assert_eq!(
        ch.withdraw(account(0), 0),
        Err(ClearingError::InvalidAmount)
    );
    assert_eq!(ch, before);
}

#[test]
fn withdrawals_keep_initial_margin() {
    let mut ch = funded_with_trade(
        &[(0, 2_000_000_000), (1, 2_000_000_000)],
        fill(1, 0, 1, 1_000_000, 3_000_000_000),
    );
    // Long 1 ETH: initial = 1.25 × 33 % × 3,000 = 1,237.5 USDC; equity ≈ 2,000 − fees.
    let risk = ch.risk_of(&ch.portfolio(&account(0))).unwrap();
    assert_eq!(risk.margin.initial, 1_237_500_000);
    assert!(matches!(
        ch.withdraw(account(0), 800_000_000),
        Err(ClearingError::InsufficientMargin { .. })
    ));
    ch.withdraw(account(0), 700_000_000).unwrap();
}

#[test]
fn funding_moves_from_longs_to_shorts_when_touched() {
    let mut ch = funded_with_trade(
        &[(0, 10_000_000_000), (1, 10_000_000_000)],
        fill(1, 0, 1, 2_000_000, 3_000_000_000),
    );
    // Last trade 3,000 vs index 2,970: premium 30 USDC, capped at 0.5 % = 14.85 USDC.
    let premium = funding_premium(3_000_000_000, 2_970_000_000, 5_000);
    assert_eq!(premium, 14_850_000_000);
    // Two hours of an eight-hour period: the index rises by a quarter of the premium.
    assert_eq!(
        ch.accrue_funding(1, premium, 2 * 3_600_000).unwrap(),
        3_712_500_000
    );
    let long = ch.risk_of(&ch.portfolio(&account(0))).unwrap();
    let short = ch.risk_of(&ch.portfolio(&account(1))).unwrap();
    let (long_cash, short_cash) = (
        ch.portfolio(&account(0)).cash,
        ch.portfolio(&account(1)).cash,
    );
    // 2 contracts × 3.7125 USDC, seen in equity before anything is stored.
    assert_eq!(long.equity, long_cash + 6_000_000_000 - 7_425_000);
    assert_eq!(short.equity, short_cash - 6_000_000_000 + 7_425_000);
    assert_eq!(
        ch.accrue_funding(2, premium, 1),
        Err(ClearingError::NotPerpetual(2))
    );
    assert_eq!(
        ch.total_value_femto().unwrap(),
        20_000_000_000 * 1_000_000_000
    );
    // Touching the account stores the payment.
    ch.withdraw(account(0), 1_000_000).unwrap();
    assert_eq!(
        ch.portfolio(&account(0)).cash,
        long_cash - 7_425_000 - 1_000_000
    );
    assert_eq!(
        ch.portfolio(&account(0)).positions[0].funding_snapshot,
        3_712_500_000
    );
}

#[test]
fn expired_options_settle_from_the_oracle_window() {
    let mut ch = exchange();
    ch.deposit(account(0), 10_000_000_000).unwrap();
    ch.deposit(account(1), 10_000_000_000).unwrap();
    // Long 2 calls struck at 3,200 for 100 USDC each.
    ch.settle_fill(&fill(2, 0, 1, 2_000_000, 100_000_000))
        .unwrap();
    let expiry_ms = NOW_MS + 30 * 86_400_000;
    let oracle = crate::oracle::OracleState {
        index_micro_usdc: 3_500_000_000,
        timestamp_ms: expiry_ms,
        recent: vec![
            (expiry_ms - 600_000, 9_999_000_000), // outside the 5-minute look-back
            (expiry_ms - 120_000, 3_400_000_000),
            (expiry_ms, 3_500_000_000),
            (expiry_ms + 1, 1_000_000_000), // after expiry
        ],
        ..Default::default()
    };
    assert!(matches!(
        ch.settle_expiry(2, &oracle, expiry_ms - 1),
        Err(ClearingError::NotExpired { .. })
    ));
    assert_eq!(
        ch.settle_expiry(1, &oracle, expiry_ms),
        Err(ClearingError::NotAnOption(1))
    );
    let empty = crate::oracle::OracleState::default();
    assert_eq!(
        ch.settle_expiry(2, &empty, expiry_ms),
        Err(ClearingError::NoSettlementPrice(2))
    );
    assert_eq!(
        ch.settle_expiry(2, &oracle, expiry_ms).unwrap(),
        3_450_000_000
    );
    assert_eq!(
        ch.market(2).unwrap().status,
        market::MarketStatus::Settled {
            value_micro_usdc: 250_000_000
        }
    );
    assert_eq!(
        ch.settle_fill(&fill(2, 0, 1, 1_000, 100_000_000)),
        Err(ClearingError::MarketClosed(2))
    );
    // The long's equity now holds 2 × 250 USDC in cash terms; the short owes it.
    let cash_before = ch.portfolio(&account(0)).cash;
    ch.withdraw(account(0), 1).unwrap();
    assert_eq!(
        ch.portfolio(&account(0)).cash,
        cash_before + 500_000_000 - 1
    );
    assert!(ch.portfolio(&account(0)).positions.is_empty());
    assert_eq!(
        ch.total_value_femto().unwrap(),
        (20_000_000_000 - 1) * 1_000_000_000
    );
}

fn move_perp_to(ch: &mut Clearinghouse, mark_micro: u64) {
    let grid = ScenarioGrid::new(&RiskParams::default()).unwrap();
    ch.set_vector(1, perpetual_vector(mark_micro, &grid).unwrap())
        .unwrap();
}

#[test]
fn liquidation_moves_the_position_at_mark_and_charges_a_capped_penalty() {
    let mut ch = funded_with_trade(
        &[
            (0, 1_300_000_000),
            (1, 100_000_000_000),
            (2, 100_000_000_000),
        ],
        fill(1, 0, 1, 1_000_000, 3_000_000_000),
    );
    let params = LiquidationParams::default();
    let before = ch.clone();
    assert!(matches!(
        ch.liquidate(account(2), account(0), 1, 1_000_000, &params),
        Err(ClearingError::Healthy { .. })
    ));
    assert_eq!(ch, before);
    // ETH falls to 2,300: equity ≈ 1,300 − 700 − fees = 598.5 < maintenance 759 (33 % of 2,300).
    move_perp_to(&mut ch, 2_300_000_000);
    let risk = ch.risk_of(&ch.portfolio(&account(0))).unwrap();
    assert!(risk.equity < risk.margin.maintenance as i128);
    assert!(matches!(
        ch.liquidate(account(2), account(0), 1, 2_000_000, &params),
        Err(ClearingError::NoSuchPosition { .. })
    ));
    assert_eq!(
        ch.liquidate(account(0), account(0), 1, 1_000_000, &params),
        Err(ClearingError::SelfTrade)
    );
    let total = ch.total_value_femto().unwrap();
    let fund = ch.insurance_fund;
    let outcome = ch
        .liquidate(account(2), account(0), 1, 1_000_000, &params)
        .unwrap();
    // 1.5 % of 2,300 = 34.5 USDC, half to the liquidator.
    assert_eq!(outcome.penalty, 34_500_000);
    assert_eq!(outcome.liquidator_reward, 17_250_000);
    assert_eq!(ch.insurance_fund, fund + 17_250_000);
    assert_eq!(ch.portfolio(&account(2)).size_in(1), 1_000_000);
    assert!(ch.portfolio(&account(0)).positions.is_empty());
    assert_eq!(ch.total_value_femto().unwrap(), total);
}

#[test]
fn a_bankrupt_account_is_covered_by_the_fund_then_leaves_bad_debt() {
    for (fund, expected_covered, expected_bad_debt) in [
        (10_000_000_000i128, 401_500_000i128, 0i128),
        (100_000_000, 100_000_000, 301_500_000),
    ] {
        let mut ch = exchange();
        ch.deposit(account(0), 1_300_000_000).unwrap();
        ch.deposit(account(1), 100_000_000_000).unwrap();
        ch.deposit(account(2), 100_000_000_000).unwrap();
        ch.settle_fill(&fill(1, 0, 1, 1_000_000, 3_000_000_000))
            .unwrap();
        ch.deposit(account(3), fund as u128).unwrap();
        // Move the deposit into the fund (as fees and penalties would have).
        ch.insurance_fund += fund;
        let mut funded = ch.portfolio(&account(3));
        funded.cash -= fund;
        ch.portfolios.insert(account(3), funded);
        let total = ch.total_value_femto().unwrap();
        // ETH crashes to 1,300: the long's equity is ≈ −401.5 USDC.
        move_perp_to(&mut ch, 1_300_000_000);
        let outcome = ch
            .liquidate(
                account(2),
                account(0),
                1,
                1_000_000,
                &LiquidationParams::default(),
            )
            .unwrap();
        assert_eq!(outcome.penalty, 0, "no penalty beyond bankruptcy");
        assert_eq!(outcome.insurance_covered, expected_covered);
        assert_eq!(outcome.bad_debt, expected_bad_debt);
        assert_eq!(ch.portfolio(&account(0)).cash, -expected_bad_debt);
        assert_eq!(ch.total_value_femto().unwrap(), total);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Move(u64),
    Liquidate(u8, u8, u64),
    Fund(i64, u64),
    Deposit(u8, u64),
    Withdraw(u8, u64),
    Trade {
        market: MarketId,
        buyer: u8,
        seller: u8,
        lots: u64,
        ticks: u64,
        taker_is_buyer: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (600_000_000u64..6_000_000_000).prop_map(|m| Op::Move(m / 1_000_000 * 1_000_000)),
        (0u8..4, 0u8..4, 1u64..3_000).prop_map(|(l, t, lots)| Op::Liquidate(l, t, lots)),
        (-20_000_000_000i64..20_000_000_000, 1u64..3_600_000).prop_map(|(p, t)| Op::Fund(p, t)),
        (0u8..4, 1u64..5_000_000_000).prop_map(|(a, x)| Op::Deposit(a, x)),
        (0u8..4, 1u64..3_000_000_000).prop_map(|(a, x)| Op::Withdraw(a, x)),
        (
            1u32..4,
            0u8..4,
            0u8..4,
            1u64..3_000,
            1u64..40_000,
            any::<bool>()
        )
            .prop_map(
                |(market, buyer, seller, lots, ticks, taker_is_buyer)| Op::Trade {
                    market,
                    buyer,
                    seller,
                    lots,
                    ticks,
                    taker_is_buyer
                }
            ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn invariants_hold_over_random_workloads(ops in prop::collection::vec(op(), 1..80)) {
        let mut ch = exchange();
        let mut net_deposits: i128 = 0;
        for op in ops {
            let before = ch.clone();
            let result = match &op {
                Op::Move(mark) => {
                    move_perp_to(&mut ch, *mark);
                    Ok(())
                }
                Op::Liquidate(liquidator, target, lots) => {
                    let equity_before = ch.risk_of(&ch.portfolio(&account(*target))).unwrap().equity;
                    let held = ch.portfolio(&account(*target)).size_in(1).unsigned_abs();
                    let size = if held == 0 { lots * 1_000 } else { (lots * 1_000).min(held) };
                    let result = ch.liquidate(account(*liquidator), account(*target), 1, size, &LiquidationParams::default()).map(|_| ());
                    if result.is_ok() {
                        // Never worse than bankrupt: a solvent target stays solvent (to
                        // one micro-USDC of rounding), an insolvent one is not pushed lower.
                        let after = ch.risk_of(&ch.portfolio(&account(*target))).unwrap().equity;
                        prop_assert!(after >= equity_before.min(0) - 1, "target equity {} -> {}", equity_before, after);
                    }
                    result
                }
                Op::Fund(premium, elapsed) => ch.accrue_funding(1, *premium, *elapsed).map(|_| ()),
                Op::Deposit(a, x) => ch.deposit(account(*a), u128::from(*x)).map(|_| net_deposits += i128::from(*x)),
                Op::Withdraw(a, x) => ch.withdraw(account(*a), u128::from(*x)).map(|_| net_deposits -= i128::from(*x)),
                Op::Trade { market, buyer, seller, lots, ticks, taker_is_buyer } => {
                    let f = Fill { market: *market, buyer: account(*buyer), seller: account(*seller), size: lots * 1_000, price_micro_usdc: ticks * 100_000, taker_is_buyer: *taker_is_buyer };
                    let risk_before: Vec<_> = [f.buyer, f.seller].iter().map(|a| ch.risk_of(&ch.portfolio(a)).unwrap()).collect();
                    let result = ch.settle_fill(&f).map(|_| ());
                    if result.is_ok() {
                        for (a, before) in [f.buyer, f.seller].iter().zip(risk_before) {
                            let after = ch.risk_of(&ch.portfolio(a)).unwrap();
                            prop_assert!(after.margin.maintenance <= before.margin.maintenance || after.equity >= after.margin.initial as i128,
                                "{a}: risk increased to {} with equity {} < initial {}", after.margin.maintenance, after.equity, after.margin.initial);
                        }
                    }
                    result
                }
            };
            if result.is_err() {
                prop_assert_eq!(&ch, &before, "refused {:?} changed state", op);
            }
            // Conservation, to the femto-USDC, funding owed included.
            prop_assert_eq!(ch.total_value_femto().unwrap(), net_deposits * 1_000_000_000);
            // The running sums the release-build invariant check reads agree with a
            // recount of every account.
            prop_assert_eq!(ch.total_value_femto_from_sums(), Some(net_deposits * 1_000_000_000));
            // Positions net to zero per market; open interest is the long total.
            for id in 1..4 {
                let (mut net, mut long) = (0i64, 0i64);
                for (_, p) in ch.portfolios() {
                    let size = p.size(id);
                    net += size;
                    long += size.max(0);
                }
                prop_assert_eq!(net, 0);
                prop_assert_eq!(ch.market(id).unwrap().open_interest as i64, long);
                prop_assert_eq!(ch.portfolio_sums().sizes(id), (i128::from(net), i128::from(long)));
            }
            for (_, p) in ch.portfolios() {
                prop_assert!(p.positions.len() <= POSITIONS_PER_ACCOUNT_MAX);
                prop_assert!(p.positions.windows(2).all(|w| w[0].market < w[1].market));
                prop_assert!(p.positions.iter().all(|x| x.size != 0));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Leveraged perp positions, a random move, then every unhealthy account liquidated in
    /// full: value is conserved, no target ends below min(its equity, 0), the fund never
    /// goes negative, and a bankrupt target's deficit is exactly covered plus bad debt.
    #[test]
    fn liquidations_after_a_shock_conserve_value_and_never_overcharge(
        traders in prop::collection::vec((500_000_000u64..5_000_000_000, -3_000i64..3_000), 1..8),
        mark in 800_000_000u64..6_000_000_000,
        fund in 0i128..2_000_000_000,
    ) {
        let mut ch = exchange();
        let (whale, liquidator) = (200u8, 201u8);
        ch.deposit(account(whale), 10_000_000_000_000).unwrap();
        ch.deposit(account(liquidator), 10_000_000_000_000).unwrap();
        ch.insurance_fund += fund;
        let mut funded = ch.portfolio(&account(whale));
        funded.cash -= fund;
        ch.portfolios.insert(account(whale), funded);
        for (i, (deposit, lots)) in traders.iter().enumerate() {
            let trader = i as u8;
            ch.deposit(account(trader), u128::from(*deposit)).unwrap();
            if *lots != 0 {
                let size = lots.unsigned_abs() * 1_000;
                let f = if *lots > 0 { fill(1, trader, whale, size, 3_000_000_000) } else { fill(1, whale, trader, size, 3_000_000_000) };
                let _ = ch.settle_fill(&f); // refused if the trader cannot margin it
            }
        }
        let total = ch.total_value_femto().unwrap();
        move_perp_to(&mut ch, mark);
        for i in 0..traders.len() {
            let target = account(i as u8);
            let risk = ch.risk_of(&ch.portfolio(&target)).unwrap();
            let held = ch.portfolio(&target).size_in(1);
            if held == 0 || risk.equity >= risk.margin.maintenance as i128 {
                continue;
            }
            let fund_before = ch.insurance_fund;
            let outcome = ch.liquidate(account(liquidator), target, 1, held.unsigned_abs(), &LiquidationParams::default()).unwrap();
            let after = ch.risk_of(&ch.portfolio(&target)).unwrap().equity;
            prop_assert!(after >= risk.equity.min(0) - 1);
            prop_assert!(ch.portfolio(&target).positions.is_empty());
            prop_assert!(ch.insurance_fund >= 0);
            if outcome.insurance_covered > 0 || outcome.bad_debt > 0 {
                prop_assert_eq!(outcome.penalty, 0);
                prop_assert_eq!(ch.portfolio(&target).cash, -outcome.bad_debt);
                prop_assert!(outcome.insurance_covered <= fund_before + 1);
            }
        }
        prop_assert_eq!(ch.total_value_femto().unwrap(), total);
    }
}

#[test]
fn auto_deleveraging_moves_a_bankrupt_position_and_its_deficit_to_the_winner() {
    let mut ch = funded_with_trade(
        &[
            (0, 1_300_000_000),
            (1, 100_000_000_000),
            (2, 100_000_000_000),
        ],
        fill(1, 0, 1, 1_000_000, 3_000_000_000),
    );
    // A second long on the winner's side, to check the side rule.
    ch.settle_fill(&fill(1, 2, 1, 1_000_000, 3_000_000_000))
        .unwrap();
    assert!(matches!(
        ch.auto_deleverage(account(0), 1, account(1), 1_000_000),
        Err(ClearingError::NotBankrupt { .. })
    ));
    // ETH crashes to 1,300: the long's equity is ≈ −401.5 USDC and the fund is empty.
    move_perp_to(&mut ch, 1_300_000_000);
    let total = ch.total_value_femto().unwrap();
    let mut funded = ch.clone();
    funded.insurance_fund += 1_000_000_000;
    assert!(matches!(
        funded.auto_deleverage(account(0), 1, account(1), 1_000_000),
        Err(ClearingError::InsuranceCovers { .. })
    ));
    assert!(
        matches!(
            ch.auto_deleverage(account(0), 1, account(2), 1_000_000),
            Err(ClearingError::NoSuchPosition { .. })
        ),
        "a long cannot take the other side of a long"
    );
    let winner_before = ch.risk_of(&ch.portfolio(&account(1))).unwrap().equity;
    let outcome = ch
        .auto_deleverage(account(0), 1, account(1), 1_000_000)
        .unwrap();
    assert_eq!(outcome.absorbed, 401_500_000);
    assert_eq!(outcome.target_equity, 0);
    assert!(ch.portfolio(&account(0)).positions.is_empty());
    assert_eq!(ch.portfolio(&account(1)).size_in(1), -1_000_000);
    let winner_after = ch.risk_of(&ch.portfolio(&account(1))).unwrap().equity;
    assert_eq!(
        winner_before - winner_after,
        401_500_000,
        "the winner absorbs the deficit"
    );
    assert_eq!(ch.total_value_femto().unwrap(), total);
    assert_eq!(ch.market(1).unwrap().open_interest, 1_000_000);
}

#[test]
fn entry_cost_grows_shrinks_pro_rata_and_restarts_on_a_flip() {
    let mut p = Portfolio::default();
    p.trade(1, 2_000_000, 6_000_000_000, 0);
    p.trade(1, 1_000_000, 3_300_000_000, 0);
    assert_eq!(p.positions[0].cost, 9_300_000_000, "average entry 3,100");
    p.trade(1, -1_000_000, -3_100_000_000, 0);
    assert_eq!(
        p.positions[0].cost, 6_200_000_000,
        "closing keeps the average"
    );
    // Sell 4 at 3,000 from long 2: short 2, entered at 3,000.
    p.trade(1, -4_000_000, -12_000_000_000, 0);
    assert_eq!(
        (p.positions[0].size, p.positions[0].cost),
        (-2_000_000, -6_000_000_000)
    );
    p.trade(1, 2_000_000, 5_000_000_000, 0);
    assert!(p.positions.is_empty());
}
