//! Match validation: every rule that protects a signer, each refusal leaving the registry
//! and the clearinghouse unchanged, and all-or-nothing settlement of multi-maker matches.

use super::*;
use crate::clearinghouse::market::{Instrument, MarketSpec};
use crate::risk::{RiskParams, ScenarioGrid, perpetual_vector};
use straddle_primitives::{Domain, Order};

const NOW: u64 = 1_800_000_000_000;
const PRICE: u64 = 3_000_000_000;

fn trader(i: u8) -> Address {
    Address::repeat_byte(0x10 + i)
}

fn setup() -> (OrderRegistry, Clearinghouse) {
    let mut ch = Clearinghouse::new(1_250_000);
    for id in [1, 2] {
        add_perpetual(&mut ch, id);
    }
    for i in 0..5 {
        ch.deposit(trader(i), 100_000_000_000).unwrap();
    }
    (OrderRegistry::default(), ch)
}

/// Lists perpetual `id` on ETH, priced at [`PRICE`].
fn add_perpetual(ch: &mut Clearinghouse, id: u32) {
    let grid = ScenarioGrid::new(&RiskParams::default()).unwrap();
    ch.add_market(MarketSpec {
        id,
        underlying: 1,
        instrument: Instrument::Perpetual,
        tick_micro_usdc: 100_000,
        lot: 1_000,
        maker_fee_ppm: 0,
        taker_fee_ppm: 500,
    })
    .unwrap();
    ch.set_vector(id, perpetual_vector(PRICE, &grid).unwrap())
        .unwrap();
}

fn order(owner: u8, is_buy: bool, price: u64, size: u64, tif: u8, nonce: u64) -> VerifiedOrder {
    let order = Order {
        market: 1,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: tif,
        reduceOnly: false,
        expiryMs: NOW + 60_000,
        clientOrderId: nonce,
        nonce,
    };
    let hash = order.hash(&Domain {
        chain_id: 424242,
        verifying_contract: Address::ZERO,
    });
    VerifiedOrder {
        order,
        owner: trader(owner),
        hash,
    }
}

fn against(taker: VerifiedOrder, makers: Vec<(VerifiedOrder, u64)>) -> Match {
    Match {
        taker,
        makers: makers
            .into_iter()
            .map(|(maker, size)| MakerFill {
                maker,
                size,
                placed: false,
            })
            .collect(),
    }
}

#[test]
fn a_buy_sweeps_two_asks_at_their_prices() {
    let (mut registry, mut ch) = setup();
    let ask_low = order(1, false, 3_000_000_000, 1_000_000, 0, 1);
    let ask_high = order(2, false, 3_001_000_000, 2_000_000, 0, 2);
    let taker = order(0, true, 3_005_000_000, 2_500_000, 1, 3);
    let outcome = execute_match(
        &mut registry,
        &mut ch,
        &against(
            taker.clone(),
            vec![(ask_low.clone(), 1_000_000), (ask_high.clone(), 1_500_000)],
        ),
        NOW,
    )
    .unwrap();
    assert_eq!(outcome.taker_filled, 2_500_000);
    assert_eq!(outcome.fills[0].buyer_paid, 3_000_000_000);
    assert_eq!(outcome.fills[1].buyer_paid, 4_501_500_000);
    assert_eq!(ch.portfolio(&trader(0)).size_in(1), 2_500_000);
    assert_eq!(ch.portfolio(&trader(2)).size_in(1), -1_500_000);
    assert_eq!(
        registry.record(&trader(2), &ask_high.hash).unwrap().filled,
        1_500_000
    );
    assert_eq!(
        registry.record(&trader(0), &taker.hash).unwrap().filled,
        2_500_000
    );
    // The rest of the high ask can fill later, but not more than what remains.
    let again = order(3, true, 3_001_000_000, 1_000_000, 0, 4);
    let error = execute_match(
        &mut registry,
        &mut ch,
        &against(again, vec![(ask_high.clone(), 600_000)]),
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        error,
        MatchError::Overfilled {
            hash: ask_high.hash,
            remaining: 500_000,
            requested: 600_000
        }
    );
}

#[test]
fn every_rule_refuses_and_changes_nothing() {
    let (mut registry, mut ch) = setup();
    let ask = order(1, false, PRICE, 1_000_000, 0, 1);
    let buy = order(0, true, PRICE, 1_000_000, 0, 2);
    let mut other_market = order(1, false, PRICE, 1_000_000, 0, 3);
    other_market.order.market = 2;
    let mut expired = order(1, false, PRICE, 1_000_000, 0, 4);
    expired.order.expiryMs = NOW - 1;
    let mut reduce_only = order(0, true, PRICE, 1_000_000, 0, 5);
    reduce_only.order.reduceOnly = true;
    let cases = vec![
        (
            "no makers",
            against(buy.clone(), vec![]),
            MatchError::FillCount(0),
        ),
        (
            "17 makers",
            against(buy.clone(), vec![(ask.clone(), 1_000); 17]),
            MatchError::FillCount(17),
        ),
        (
            "other market",
            against(buy.clone(), vec![(other_market, 1_000)]),
            MatchError::MarketMismatch(0),
        ),
        (
            "same side",
            against(
                buy.clone(),
                vec![(order(1, true, PRICE, 1_000, 0, 6), 1_000)],
            ),
            MatchError::SameSide(0),
        ),
        (
            "not crossing",
            against(
                buy.clone(),
                vec![(order(1, false, PRICE + 100_000, 1_000, 0, 7), 1_000)],
            ),
            MatchError::NotCrossing {
                index: 0,
                taker_limit: PRICE,
                maker_price: PRICE + 100_000,
            },
        ),
        (
            "zero fill",
            against(buy.clone(), vec![(ask.clone(), 0)]),
            MatchError::ZeroFill(0),
        ),
        (
            "expired maker",
            against(buy.clone(), vec![(expired.clone(), 1_000)]),
            MatchError::Expired(expired.hash),
        ),
        (
            "self trade",
            against(
                buy.clone(),
                vec![(order(0, false, PRICE, 1_000, 0, 8), 1_000)],
            ),
            MatchError::SelfTrade(0),
        ),
        (
            "post-only taker",
            against(
                order(0, true, PRICE, 1_000, 3, 9),
                vec![(ask.clone(), 1_000)],
            ),
            MatchError::PostOnlyTaker,
        ),
        (
            "IOC maker",
            against(
                buy.clone(),
                vec![(order(1, false, PRICE, 1_000, 1, 10), 1_000)],
            ),
            MatchError::MakerCannotRest(0),
        ),
        (
            "FOK incomplete",
            against(
                order(0, true, PRICE, 2_000_000, 2, 11),
                vec![(ask.clone(), 1_000_000)],
            ),
            MatchError::FillOrKillIncomplete {
                filled: 1_000_000,
                size: 2_000_000,
            },
        ),
        (
            "unknown TIF",
            against(
                order(0, true, PRICE, 1_000, 9, 12),
                vec![(ask.clone(), 1_000)],
            ),
            MatchError::UnknownTimeInForce(9),
        ),
        (
            "reduce-only opens",
            against(reduce_only.clone(), vec![(ask.clone(), 1_000)]),
            MatchError::ReduceOnly(reduce_only.hash),
        ),
        (
            "overfilled taker",
            against(
                order(0, true, PRICE, 1_000, 0, 13),
                vec![(ask.clone(), 2_000)],
            ),
            MatchError::Overfilled {
                hash: order(0, true, PRICE, 1_000, 0, 13).hash,
                remaining: 1_000,
                requested: 2_000,
            },
        ),
    ];
    let (registry_before, ch_before) = (registry.clone(), ch.clone());
    for (name, proposed, expected) in cases {
        assert_eq!(
            execute_match(&mut registry, &mut ch, &proposed, NOW),
            Err(expected),
            "{name}"
        );
        assert_eq!(
            (&registry, &ch),
            (&registry_before, &ch_before),
            "{name} changed state"
        );
    }
    // A cancelled maker can never fill, whatever the sequencer proposes.
    registry.cancel(trader(1), ask.hash);
    assert_eq!(
        execute_match(
            &mut registry,
            &mut ch,
            &against(buy.clone(), vec![(ask.clone(), 1_000)]),
            NOW
        ),
        Err(MatchError::Cancelled(ask.hash))
    );
}

#[test]
fn a_cancel_by_someone_else_does_not_bind_the_order() {
    let (mut registry, mut ch) = setup();
    let ask = order(1, false, PRICE, 1_000_000, 0, 1);
    registry.cancel(trader(4), ask.hash);
    execute_match(
        &mut registry,
        &mut ch,
        &against(
            order(0, true, PRICE, 1_000_000, 0, 2),
            vec![(ask.clone(), 1_000_000)],
        ),
        NOW,
    )
    .unwrap();
    assert_eq!(
        registry.record(&trader(1), &ask.hash).unwrap().filled,
        1_000_000
    );
    assert!(registry.record(&trader(4), &ask.hash).unwrap().cancelled);
}

#[test]
fn identical_orders_signed_by_two_owners_keep_separate_records() {
    let (mut registry, mut ch) = setup();
    // The same order fields signed by traders 1 and 2: the same order hash.
    let ask_one = order(1, false, PRICE, 1_000_000, 0, 9);
    let ask_two = order(2, false, PRICE, 1_000_000, 0, 9);
    assert_eq!(ask_one.hash, ask_two.hash);
    execute_match(
        &mut registry,
        &mut ch,
        &against(
            order(0, true, PRICE, 1_000_000, 0, 1),
            vec![(ask_one, 1_000_000)],
        ),
        NOW,
    )
    .unwrap();
    // Trader 1's fill does not use up trader 2's order, nor does trader 1's cancel.
    registry.cancel(trader(1), ask_two.hash);
    execute_match(
        &mut registry,
        &mut ch,
        &against(
            order(3, true, PRICE, 1_000_000, 0, 2),
            vec![(ask_two, 1_000_000)],
        ),
        NOW,
    )
    .unwrap();
}

#[test]
fn a_failing_second_fill_undoes_the_first() {
    let (mut registry, mut ch) = setup();
    ch.withdraw(trader(2), 99_900_000_000).unwrap(); // leaves 100 USDC: cannot short 10 ETH
    let ask_ok = order(1, false, PRICE, 1_000_000, 0, 1);
    let ask_broke = order(2, false, PRICE, 10_000_000, 0, 2);
    let (registry_before, ch_before) = (registry.clone(), ch.clone());
    let error = execute_match(
        &mut registry,
        &mut ch,
        &against(
            order(0, true, PRICE, 11_000_000, 0, 3),
            vec![(ask_ok, 1_000_000), (ask_broke, 10_000_000)],
        ),
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            MatchError::Clearing {
                index: 1,
                error: ClearingError::InsufficientMargin { .. }
            }
        ),
        "{error}"
    );
    assert_eq!((&registry, &ch), (&registry_before, &ch_before));
}

#[test]
fn reduce_only_may_close_but_not_flip() {
    let (mut registry, mut ch) = setup();
    execute_match(
        &mut registry,
        &mut ch,
        &against(
            order(0, true, PRICE, 2_000_000, 0, 1),
            vec![(order(1, false, PRICE, 2_000_000, 0, 2), 2_000_000)],
        ),
        NOW,
    )
    .unwrap();
    let mut close = order(0, false, PRICE, 3_000_000, 0, 3);
    close.order.reduceOnly = true;
    let bid = order(2, true, PRICE, 3_000_000, 0, 4);
    assert_eq!(
        execute_match(
            &mut registry,
            &mut ch,
            &against(close.clone(), vec![(bid.clone(), 3_000_000)]),
            NOW
        ),
        Err(MatchError::ReduceOnly(close.hash))
    );
    execute_match(
        &mut registry,
        &mut ch,
        &against(close, vec![(bid, 2_000_000)]),
        NOW,
    )
    .unwrap();
    assert_eq!(ch.portfolio(&trader(0)).size_in(1), 0);
}

#[test]
fn placed_makers_need_no_signature_but_must_be_placed_by_their_named_owner() {
    let (mut registry, mut ch) = setup();
    let ask = order(1, false, PRICE, 2_000_000, 0, 1);
    let named = |maker: VerifiedOrder| Match {
        taker: order(0, true, PRICE, 1_000_000, 1, 2),
        makers: vec![MakerFill {
            maker,
            size: 1_000_000,
            placed: true,
        }],
    };
    assert_eq!(
        execute_match(&mut registry, &mut ch, &named(ask.clone()), NOW),
        Err(MatchError::NotPlaced(0))
    );
    registry.place(trader(1), ask.hash, &ask.order);
    // Naming someone else as the owner of a placed order does not work.
    let mut impostor = ask.clone();
    impostor.owner = trader(3);
    assert_eq!(
        execute_match(&mut registry, &mut ch, &named(impostor), NOW),
        Err(MatchError::NotPlaced(0))
    );
    execute_match(&mut registry, &mut ch, &named(ask.clone()), NOW).unwrap();
    assert_eq!(
        registry.record(&trader(1), &ask.hash).unwrap().filled,
        1_000_000
    );
    // A cancel still wins over a placement.
    registry.cancel(trader(1), ask.hash);
    let mut second = named(ask.clone());
    second.taker = order(0, true, PRICE, 1_000_000, 1, 3);
    assert_eq!(
        execute_match(&mut registry, &mut ch, &second, NOW),
        Err(MatchError::Cancelled(ask.hash))
    );
}

/// Lists markets 3..=34 and has `buyer` buy one contract of each from `seller`: each
/// then holds 32 positions.
fn hold_32_positions(ch: &mut Clearinghouse, buyer: u8, seller: u8) {
    for id in 3..=34 {
        if ch.market(id).is_none() {
            add_perpetual(ch, id);
        }
        ch.settle_fill(&Fill {
            market: id,
            buyer: trader(buyer),
            seller: trader(seller),
            size: 1_000_000,
            price_micro_usdc: PRICE,
            taker_is_buyer: true,
        })
        .unwrap();
    }
}

#[test]
fn a_match_over_the_weight_bound_is_refused_and_one_within_it_is_taken() {
    let (mut registry, mut ch) = setup();
    hold_32_positions(&mut ch, 0, 1);
    hold_32_positions(&mut ch, 2, 3);
    // On market 3, which all four hold (a 33rd position would be refused).
    let on_market_3 = |mut order: VerifiedOrder| {
        order.order.market = 3;
        order
    };
    let buy = on_market_3(order(0, true, PRICE, 3_000_000, 0, 1));
    let asks: Vec<(VerifiedOrder, u64)> = (1..=3)
        .map(|maker| {
            let ask = order(maker, false, PRICE, 1_000_000, 0, 10 + u64::from(maker));
            (on_market_3(ask), 1_000_000)
        })
        .collect();
    // Four portfolios of 32 positions over markets 3..=34.
    let heavy = against(buy.clone(), asks.clone());
    let (registry_before, ch_before) = (registry.clone(), ch.clone());
    assert_eq!(
        execute_match(&mut registry, &mut ch, &heavy, NOW).unwrap_err(),
        MatchError::TooHeavy {
            positions: 128,
            markets: 32,
            portfolios: 4,
            weight: 128 + 2 * 32 + 12 * 4,
        }
    );
    assert_eq!((registry.clone(), ch.clone()), (registry_before, ch_before));
    // Without the third maker: 96 + 64 + 36 = 196.
    let within = against(buy, asks[..2].to_vec());
    assert_eq!(
        MatchWeight::of(&ch, 3, &[trader(0), trader(1), trader(2)]).weight(),
        196
    );
    execute_match(&mut registry, &mut ch, &within, NOW).unwrap();
    assert_eq!(ch.portfolio(&trader(0)).size_in(3), 3_000_000);
}

#[test]
fn a_maker_counted_twice_weighs_once() {
    let (_, mut ch) = setup();
    hold_32_positions(&mut ch, 0, 1);
    let once = MatchWeight::of(&ch, 1, &[trader(0), trader(1)]);
    let twice = MatchWeight::of(&ch, 1, &[trader(0), trader(1), trader(1), trader(0)]);
    assert_eq!(once, twice);
    assert_eq!(once.weight(), 64 + 2 * 33 + 12 * 2);
}
