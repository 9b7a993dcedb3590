//! The whole trading lifecycle through the ledger, as blocks would run it: genesis
//! listings, oracle updates with real signatures, margin deposits, matches of signed
//! orders, funding, a crash with liquidation, and expiry settlement — with conservation
//! after every step, leaves that rebuild the same state, and roots that replay bit for bit.
//!
//! Length (over 800 lines): one lifecycle, step by step, where every step builds on the
//! state the one before left; splitting it would mean rebuilding that state per file.

use super::*;
use crate::InvariantViolation;
use crate::clearinghouse::market::{Instrument, MarketSpec};
use crate::genesis::{Allocation, UnderlyingConfig};
use crate::oracle::OracleConfig;
use crate::orders::{MakerFill, Match, VerifiedOrder};
use crate::risk::OptionKind;
use alloy_primitives::{B256, Signature, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use straddle_primitives::admin::{INSTRUMENT_PERPETUAL, INSTRUMENT_PUT};
use straddle_primitives::{CloseMarket, ListMarket};
use straddle_primitives::{
    DepositMargin, Domain, Order, PriceReport, SignedAction, SignedPriceReport,
};
use straddle_state::SparseMerkleTree;

const T0: u64 = 1_800_000_000_000;
const HOUR: u64 = 3_600_000;
const EXPIRY: u64 = T0 + 30 * 24 * HOUR;
const DOMAIN: Domain = Domain {
    chain_id: 7,
    verifying_contract: Address::ZERO,
};

fn user(i: u8) -> Address {
    Address::repeat_byte(0x40 + i)
}

fn oracle_key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&U256::from(5_000 + i).into()).unwrap()
}

fn genesis() -> Genesis {
    let option = |id, kind| MarketSpec {
        id,
        underlying: 1,
        instrument: Instrument::Option {
            kind,
            strike_micro_usdc: 3_200_000_000,
            expiry_ms: EXPIRY,
        },
        tick_micro_usdc: 100_000,
        lot: 1_000,
        maker_fee_ppm: 200,
        taker_fee_ppm: 500,
    };
    Genesis {
        domain: DOMAIN,
        timestamp_ms: T0,
        operator: None,
        faucet_enabled: false,
        allocations: (0..6)
            .map(|i| Allocation {
                address: user(i),
                amount: Amount(1_000_000_000_000),
            })
            .collect(),
        underlyings: vec![UnderlyingConfig {
            id: 1,
            symbol: "ETH".into(),
            oracle: OracleConfig {
                underlying: 1,
                signers: (0..3).map(|i| oracle_key(i).address()).collect(),
                quorum: 2,
                staleness_ms_max: 10_000,
                move_ppm_max: 100_000,
            },
            risk: RiskParams::default(),
            funding_premium_cap_ppm: 5_000,
        }],
        markets: vec![
            MarketSpec {
                id: 1,
                underlying: 1,
                instrument: Instrument::Perpetual,
                tick_micro_usdc: 100_000,
                lot: 1_000,
                maker_fee_ppm: 200,
                taker_fee_ppm: 500,
            },
            option(2, OptionKind::Call),
            option(3, OptionKind::Put),
        ],
    }
}

fn reports(index: u64, at_ms: u64) -> Vec<SignedPriceReport> {
    (0..2)
        .map(|i| {
            let report = PriceReport {
                underlying: 1,
                timestampMs: at_ms,
                indexPrice: index,
                expiriesMs: vec![EXPIRY],
                atmVolsPpm: vec![650_000],
                skewsPpm: vec![-100_000],
                curvaturesPpm: vec![200_000],
            };
            let signature = oracle_key(i)
                .sign_hash_sync(&report.signing_hash(&DOMAIN))
                .unwrap();
            SignedPriceReport { report, signature }
        })
        .collect()
}

fn order(owner: u8, market: u32, is_buy: bool, price: u64, size: u64, nonce: u64) -> VerifiedOrder {
    let order = Order {
        market,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: 0,
        reduceOnly: false,
        expiryMs: EXPIRY,
        clientOrderId: nonce,
        nonce,
    };
    let hash = order.hash(&DOMAIN);
    VerifiedOrder {
        order,
        owner: user(owner),
        hash,
    }
}

fn pair(taker: VerifiedOrder, maker: VerifiedOrder, size: u64) -> Match {
    Match {
        taker,
        makers: vec![MakerFill {
            maker,
            size,
            placed: false,
        }],
    }
}

fn deposit(ledger: &mut Ledger, who: u8, amount: u128, block: &BlockContext) {
    let action = Action::DepositMargin(DepositMargin {
        amount,
        nonce: 1,
        expiryMs: u64::MAX,
    });
    apply_as(ledger, who, action, block);
}

/// Applies `action` as if `user(who)` had signed it (the ledger trusts verified actions).
fn apply_as(ledger: &mut Ledger, who: u8, action: Action, block: &BlockContext) {
    let signed = SignedAction {
        action,
        signature: Signature::new(U256::from(1), U256::from(1), false),
    };
    ledger
        .apply(
            &VerifiedAction {
                signed,
                sender: user(who),
                hash: B256::ZERO,
            },
            block,
        )
        .unwrap();
}

/// A fresh ledger at block 1 (time T0) with `deposits` of margin and ETH at 3,000.
fn priced_ledger(deposits: &[(u8, u128)]) -> (Ledger, BlockContext) {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let b = block(1, T0);
    for (who, amount) in deposits {
        deposit(&mut ledger, *who, *amount, &b);
    }
    ledger
        .apply_oracle_update(1, &reports(3_000_000_000, T0), &DOMAIN, &b)
        .unwrap();
    (ledger, b)
}

fn block(number: u64, timestamp_ms: u64) -> BlockContext {
    BlockContext {
        number,
        timestamp_ms,
    }
}

/// A ledger rebuilt from `ledger`'s stored leaves under `keys` (what a restart loads).
fn rebuild(ledger: &Ledger, genesis: &Genesis, keys: &[StateKey]) -> Ledger {
    let leaves: Vec<_> = keys
        .iter()
        .filter_map(|k| ledger.leaf_value(k).map(|v| (k.encode(), v)))
        .collect();
    Ledger::from_leaves(genesis, leaves).unwrap()
}

/// Runs the scenario, returning the state root after every step.
fn scenario() -> (Ledger, Vec<B256>) {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let mut tree = SparseMerkleTree::new();
    let mut roots = Vec::new();
    let mut seal = |ledger: &mut Ledger| {
        assert!(ledger.is_conserved());
        tree.update_batch(
            ledger
                .take_changes()
                .iter()
                .map(LeafChange::tree_update)
                .collect(),
        );
        roots.push(tree.root());
    };
    seal(&mut ledger);

    // No vector before the first oracle update: trading is refused.
    let b = block(1, T0);
    // The long trader posts just enough for 20 ETH of perps (initial margin 24,750 USDC).
    deposit(&mut ledger, 0, 25_000_000_000, &b);
    for who in 1..6 {
        deposit(&mut ledger, who, 100_000_000_000, &b);
    }
    let early = pair(
        order(0, 1, true, 3_000_000_000, 2_000_000, 1),
        order(1, 1, false, 3_000_000_000, 2_000_000, 2),
        2_000_000,
    );
    assert!(matches!(
        ledger.apply_match(&early, &b),
        Err(TxError::Match(_))
    ));
    seal(&mut ledger);

    // First oracle update: every market gets a vector.
    let outcome = ledger
        .apply_oracle_update(1, &reports(3_000_000_000, T0), &DOMAIN, &b)
        .unwrap();
    assert_eq!(outcome.state.index_micro_usdc, 3_000_000_000);
    for id in 1..=3 {
        assert!(
            ledger.clearinghouse().market(id).unwrap().vector.is_some(),
            "market {id}"
        );
    }
    // A quorum is needed.
    let lone = &reports(3_000_000_000, T0 + 1)[..1];
    assert!(matches!(
        ledger.apply_oracle_update(1, lone, &DOMAIN, &b),
        Err(TxError::Oracle(_))
    ));
    seal(&mut ledger);

    // Trades: 0 buys 20 ETH perp from 1 (leveraged); 2 buys 10 calls from 3.
    ledger.apply_match(&early, &b).unwrap();
    let big = pair(
        order(0, 1, true, 3_000_000_000, 18_000_000, 3),
        order(1, 1, false, 3_000_000_000, 18_000_000, 4),
        18_000_000,
    );
    ledger.apply_match(&big, &b).unwrap();
    let calls = pair(
        order(2, 2, true, 90_000_000, 10_000_000, 5),
        order(3, 2, false, 90_000_000, 10_000_000, 6),
        10_000_000,
    );
    ledger.apply_match(&calls, &b).unwrap();
    assert_eq!(
        ledger.clearinghouse().portfolio(&user(0)).size_in(1),
        20_000_000
    );
    seal(&mut ledger);

    // An hour later the index is 3,100 while the last trade was 3,000: the premium is
    // negative, so shorts pay longs.
    let b = block(2, T0 + HOUR);
    ledger
        .apply_oracle_update(1, &reports(3_100_000_000, T0 + HOUR), &DOMAIN, &b)
        .unwrap();
    assert!(ledger.clearinghouse().market(1).unwrap().funding_index < 0);
    seal(&mut ledger);

    // A crash, 10 % per update (the move bound), down to ≈ 1,830.
    let mut index = 3_100_000_000u64;
    for step in 1..=5u64 {
        index = index * 9 / 10;
        let at = T0 + HOUR + step * 60_000;
        let b = block(2 + step, at);
        ledger
            .apply_oracle_update(1, &reports(index, at), &DOMAIN, &b)
            .unwrap();
        seal(&mut ledger);
    }
    let risk = ledger
        .clearinghouse()
        .risk_of(&ledger.clearinghouse().portfolio(&user(0)))
        .unwrap();
    assert!(
        risk.equity < risk.margin.maintenance as i128,
        "the leveraged long is liquidatable"
    );
    let liquidation = ledger
        .apply_liquidation(user(5), user(0), 1, 20_000_000)
        .unwrap();
    assert!(liquidation.penalty >= 0);
    assert!(
        ledger
            .clearinghouse()
            .portfolio(&user(0))
            .positions
            .is_empty()
    );
    seal(&mut ledger);

    // At expiry the options settle from the oracle window (index ≈ 1,830 < strike: the
    // calls expire worthless, the puts would pay).
    let b = block(10, EXPIRY);
    ledger
        .apply_oracle_update(1, &reports(index, EXPIRY), &DOMAIN, &b)
        .unwrap();
    assert_eq!(
        ledger.clearinghouse().market(2).unwrap().status,
        MarketStatus::Settled {
            value_micro_usdc: 0
        }
    );
    assert_eq!(
        ledger.clearinghouse().market(3).unwrap().status,
        MarketStatus::Settled {
            value_micro_usdc: 3_200_000_000 - index
        }
    );
    seal(&mut ledger);
    (ledger, roots)
}

use crate::clearinghouse::market::MarketStatus;

#[test]
fn the_trading_lifecycle_conserves_collateral_and_replays_bit_for_bit() {
    let (ledger, roots) = scenario();
    let (_, again) = scenario();
    assert_eq!(roots, again);
    // The stored leaves rebuild the same state.
    let mut keys: Vec<StateKey> = (0..6).map(|i| StateKey::Portfolio(user(i))).collect();
    keys.extend((1..=3).map(StateKey::Market));
    keys.push(StateKey::Oracle(1));
    keys.push(StateKey::ClearingTotals);
    keys.extend((0..6).map(|i| StateKey::Account(user(i))));
    keys.push(StateKey::Totals);
    let rebuilt = rebuild(&ledger, &genesis(), &keys);
    for key in &keys {
        assert_eq!(rebuilt.leaf_value(key), ledger.leaf_value(key), "{key:?}");
    }
    assert!(rebuilt.is_conserved());
}

#[test]
fn a_bulk_cancel_kills_every_named_order_once() {
    let (mut ledger, b) = priced_ledger(&[(0, 100_000_000_000), (1, 100_000_000_000)]);
    let asks: Vec<_> = (0..3)
        .map(|n| order(1, 1, false, 3_000_000_000, 1_000_000, 10 + n))
        .collect();
    let request = straddle_primitives::BulkCancel {
        orderHashes: asks.iter().map(|a| a.hash).collect(),
        nonce: 77,
        expiryMs: T0 + 1_000,
    };
    // Expired and replayed requests are refused.
    let late = block(2, T0 + 2_000);
    assert!(matches!(
        ledger.apply_bulk_cancel(user(1), &request, &late),
        Err(TxError::Expired { .. })
    ));
    ledger.apply_bulk_cancel(user(1), &request, &b).unwrap();
    assert!(matches!(
        ledger.apply_bulk_cancel(user(1), &request, &b),
        Err(TxError::NonceReplayed(77))
    ));
    for (n, ask) in asks.into_iter().enumerate() {
        let taker = order(0, 1, true, 3_000_000_000, 1_000_000, 20 + n as u64);
        assert!(matches!(
            ledger.apply_match(&pair(taker, ask, 1_000_000), &b),
            Err(TxError::Match(crate::orders::MatchError::Cancelled(_)))
        ));
    }
    assert!(ledger.is_conserved());
}

#[test]
fn invalid_listings_are_refused_at_genesis() {
    let mut bad = genesis();
    bad.markets[1].underlying = 9;
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Market { id: 2, .. }))
    ));
    let mut bad = genesis();
    bad.underlyings[0].oracle.quorum = 1;
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Underlying { id: 1, .. }))
    ));
    let mut bad = genesis();
    bad.markets[0].lot = 0;
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Market { id: 1, .. }))
    ));
    // Listing bounds: underlyings and markets per underlying.
    let mut bad = genesis();
    let template = bad.underlyings[0].clone();
    bad.underlyings = (1..=crate::genesis::UNDERLYINGS_MAX as u32 + 1)
        .map(|id| UnderlyingConfig {
            id,
            oracle: OracleConfig {
                underlying: id,
                ..template.oracle.clone()
            },
            ..template.clone()
        })
        .collect();
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Underlying { .. }))
    ));
    let mut bad = genesis();
    let perp = bad.markets[0];
    bad.markets = (1..=crate::genesis::MARKETS_PER_UNDERLYING_MAX as u32 + 1)
        .map(|id| MarketSpec { id, ..perp })
        .collect();
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Market { id, .. })) if id == crate::genesis::MARKETS_PER_UNDERLYING_MAX as u32 + 1
    ));
    let mut bad = genesis();
    bad.markets[0].lot = 0;
    assert!(matches!(
        Ledger::genesis(&bad),
        Err(LedgerError::Genesis(GenesisError::Market { id: 1, .. }))
    ));
}

fn operator() -> Address {
    Address::repeat_byte(0x0f)
}

fn listing(
    market: u32,
    instrument: u8,
    strike: u64,
    option_expiry_ms: u64,
    nonce: u64,
) -> ListMarket {
    ListMarket {
        market,
        underlying: 1,
        instrument,
        strike,
        optionExpiryMs: option_expiry_ms,
        tick: 100_000,
        lot: 1_000,
        makerFeePpm: 0,
        takerFeePpm: 0,
        nonce,
        expiryMs: u64::MAX,
    }
}

#[test]
fn the_operator_lists_and_closes_markets_and_positions_pay_out_at_the_close() {
    let mut genesis = genesis();
    genesis.operator = Some(operator());
    let mut ledger = Ledger::genesis(&genesis).unwrap();
    let b = block(1, T0);
    deposit(&mut ledger, 0, 100_000_000_000, &b);
    deposit(&mut ledger, 1, 100_000_000_000, &b);

    // Only the operator lists; every malformed listing says why and changes nothing.
    let perp = listing(9, INSTRUMENT_PERPETUAL, 0, 0, 1);
    assert_eq!(
        ledger.apply_list_market(user(0), &perp, &b),
        Err(TxError::Unauthorized)
    );
    let refused = [
        (listing(9, 7, 0, 0, 1), ListingError::UnknownInstrument(7)),
        (
            listing(9, INSTRUMENT_PERPETUAL, 5, 0, 1),
            ListingError::PerpetualWithOptionTerms,
        ),
        (
            listing(9, INSTRUMENT_PUT, 3_000_000_000, T0, 1),
            ListingError::OptionExpiryPassed {
                expiry_ms: T0,
                block_ms: T0,
            },
        ),
        (
            ListMarket {
                underlying: 5,
                ..listing(9, INSTRUMENT_PERPETUAL, 0, 0, 1)
            },
            ListingError::UnknownUnderlying(5),
        ),
        (
            listing(1, INSTRUMENT_PERPETUAL, 0, 0, 1),
            ListingError::Market(crate::clearinghouse::ClearingError::DuplicateMarket(1)),
        ),
        (
            ListMarket {
                tick: 0,
                ..listing(9, INSTRUMENT_PERPETUAL, 0, 0, 1)
            },
            ListingError::Market(crate::clearinghouse::ClearingError::InvalidMarket(
                crate::clearinghouse::market::MarketSpecError::ZeroIncrement,
            )),
        ),
    ];
    let before = ledger.clearinghouse().markets().count();
    for (request, why) in refused {
        assert_eq!(
            ledger.apply_list_market(operator(), &request, &b),
            Err(TxError::Listing(why))
        );
    }
    assert_eq!(ledger.clearinghouse().markets().count(), before);
    ledger.apply_list_market(operator(), &perp, &b).unwrap();
    assert_eq!(
        ledger.apply_list_market(operator(), &perp, &b),
        Err(TxError::NonceReplayed(1))
    );
    let put = listing(10, INSTRUMENT_PUT, 2_800_000_000, EXPIRY, 2);
    ledger.apply_list_market(operator(), &put, &b).unwrap();

    // The next oracle update prices both; they trade like genesis markets.
    ledger
        .apply_oracle_update(1, &reports(3_000_000_000, T0), &DOMAIN, &b)
        .unwrap();
    for id in [9, 10] {
        assert!(ledger.clearinghouse().market(id).unwrap().vector.is_some());
    }
    let taker = order(0, 9, true, 3_000_000_000, 2_000_000, 10);
    let maker = order(1, 9, false, 3_000_000_000, 2_000_000, 11);
    ledger
        .apply_match(&pair(taker, maker, 2_000_000), &b)
        .unwrap();
    let cash = |ledger: &Ledger, who: u8| ledger.clearinghouse().portfolio(&user(who)).cash;
    let (long_cash, short_cash) = (cash(&ledger, 0), cash(&ledger, 1));

    // Closing: only the operator, only perpetuals, and at the recent index mean.
    let close = CloseMarket {
        market: 9,
        nonce: 3,
        expiryMs: u64::MAX,
    };
    let later = block(2, T0 + 2_000);
    ledger
        .apply_oracle_update(1, &reports(3_100_000_000, T0 + 2_000), &DOMAIN, &later)
        .unwrap();
    assert_eq!(
        ledger.apply_close_market(user(0), &close, &later),
        Err(TxError::Unauthorized)
    );
    assert_eq!(
        ledger.apply_close_market(
            operator(),
            &CloseMarket {
                market: 10,
                ..close.clone()
            },
            &later
        ),
        Err(TxError::Close(
            crate::clearinghouse::ClearingError::NotPerpetual(10)
        ))
    );
    assert_eq!(
        ledger.apply_close_market(
            operator(),
            &CloseMarket {
                market: 99,
                ..close.clone()
            },
            &later
        ),
        Err(TxError::Close(
            crate::clearinghouse::ClearingError::UnknownMarket(99)
        ))
    );
    let price = ledger
        .apply_close_market(operator(), &close, &later)
        .unwrap();
    assert_eq!(
        price, 3_050_000_000,
        "mean of the two accepted index values"
    );
    assert_eq!(
        ledger.clearinghouse().market(9).unwrap().status,
        MarketStatus::Settled {
            value_micro_usdc: price
        }
    );
    // Positions pay out q · price (funding included) when normalised, and the market
    // refuses new trades.
    let (long, _) = ledger
        .clearinghouse()
        .normalized(&ledger.clearinghouse().portfolio(&user(0)))
        .unwrap();
    let (short, _) = ledger
        .clearinghouse()
        .normalized(&ledger.clearinghouse().portfolio(&user(1)))
        .unwrap();
    assert!(long.positions.is_empty() && short.positions.is_empty());
    let paid = 2 * i128::from(price);
    let funding_long = long.cash - long_cash - paid;
    let funding_short = short.cash - short_cash + paid;
    assert!(
        (funding_long + funding_short).abs() <= 1,
        "funding moves between the two sides only: {funding_long} {funding_short}"
    );
    let taker = order(0, 9, true, 3_000_000_000, 1_000_000, 12);
    let maker = order(1, 9, false, 3_000_000_000, 1_000_000, 13);
    assert!(matches!(
        ledger.apply_match(&pair(taker, maker, 1_000_000), &later),
        Err(TxError::Match(crate::orders::MatchError::Clearing { .. }))
    ));
    assert!(ledger.is_conserved());
    // A restart from the stored leaves knows the listed and the closed markets.
    let keys: Vec<StateKey> = [9, 10].map(StateKey::Market).to_vec();
    let rebuilt = rebuild(&ledger, &genesis, &keys);
    for key in &keys {
        assert!(rebuilt.leaf_value(key).is_some());
        assert_eq!(rebuilt.leaf_value(key), ledger.leaf_value(key), "{key:?}");
    }
}

#[test]
fn placements_rest_in_sequence_and_refuse_what_cannot_rest() {
    let (mut ledger, b) = priced_ledger(&[(0, 100_000_000_000), (1, 100_000_000_000)]);
    let ask = |nonce, price| order(1, 1, false, price, 2_000_000, nonce);
    let (first, second) = (ask(1, 3_001_000_000), ask(2, 3_000_000_000));
    assert_eq!(ledger.apply_place_order(&first, &b), Ok(0));
    assert_eq!(ledger.apply_place_order(&second, &b), Ok(1));
    let refusals = [
        (
            VerifiedOrder {
                order: Order {
                    timeInForce: 1,
                    ..first.order.clone()
                },
                ..first.clone()
            },
            PlacementError::CannotRest(1),
        ),
        (first.clone(), PlacementError::AlreadyPlaced),
        (
            ask(3, 3_000_050_000),
            PlacementError::Market(crate::clearinghouse::ClearingError::BadPrice {
                price: 3_000_050_000,
                tick: 100_000,
            }),
        ),
        (
            order(1, 77, false, 3_000_000_000, 1_000_000, 4),
            PlacementError::Market(crate::clearinghouse::ClearingError::UnknownMarket(77)),
        ),
    ];
    for (bad, why) in refusals {
        assert_eq!(
            ledger.apply_place_order(&bad, &b),
            Err(TxError::Placement(why))
        );
    }
    assert_eq!(
        ledger.apply_place_order(&ask(5, 3_000_000_000), &block(2, EXPIRY + 1)),
        Err(TxError::Placement(PlacementError::Expired))
    );
    let resting = ledger.orders().resting(T0);
    assert_eq!(
        resting.iter().map(|r| (r.1, r.3)).collect::<Vec<_>>(),
        vec![(first.hash, 0), (second.hash, 0)],
        "by placement sequence"
    );
    // A fill against a placed maker leaves the rest resting; a full fill removes it.
    let taker = order(0, 1, true, 3_000_000_000, 2_000_000, 9);
    ledger
        .apply_match(
            &Match {
                taker,
                makers: vec![MakerFill {
                    maker: second.clone(),
                    size: 2_000_000,
                    placed: true,
                }],
            },
            &b,
        )
        .unwrap();
    assert_eq!(ledger.orders().resting(T0).len(), 1);
    // The counter survives a rebuild from the leaves.
    let keys = [
        StateKey::ClearingTotals,
        StateKey::Order(user(1), first.hash),
        StateKey::Order(user(1), second.hash),
    ];
    let rebuilt = rebuild(&ledger, &genesis(), &keys);
    assert_eq!(rebuilt.orders().placements, 2);
    assert_eq!(rebuilt.orders().resting(T0).len(), 1);
    assert!(ledger.is_conserved());
}

#[test]
fn a_bulk_placement_replaces_quotes_all_or_nothing() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let b = block(1, T0);
    deposit(&mut ledger, 1, 100_000_000_000, &b);
    let ask = |nonce, price| order(1, 1, false, price, 1_000_000, nonce);
    let ladder: Vec<VerifiedOrder> = (0..3)
        .map(|n| ask(n, 3_001_000_000 + n * 100_000))
        .collect();
    let bodies = |orders: &[VerifiedOrder]| -> Vec<(Order, B256)> {
        orders.iter().map(|o| (o.order.clone(), o.hash)).collect()
    };
    ledger
        .apply_place_orders(user(1), &[], &bodies(&ladder), 100, EXPIRY, &b)
        .unwrap();
    let moved: Vec<VerifiedOrder> = (10..13)
        .map(|n| ask(n, 3_000_000_000 + n * 100_000))
        .collect();
    let cancels: Vec<B256> = ladder.iter().map(|o| o.hash).collect();
    // An order cancelled by the same request cannot be placed by it; nothing changes.
    let mut clash = bodies(&moved);
    clash.push((ladder[0].order.clone(), ladder[0].hash));
    assert_eq!(
        ledger.apply_place_orders(user(1), &cancels, &clash, 101, EXPIRY, &b),
        Err(TxError::Placement(PlacementError::Cancelled))
    );
    assert_eq!(ledger.orders().resting(T0).len(), 3);
    ledger
        .apply_place_orders(user(1), &cancels, &bodies(&moved), 101, EXPIRY, &b)
        .unwrap();
    let resting: Vec<B256> = ledger.orders().resting(T0).iter().map(|r| r.1).collect();
    assert_eq!(resting, moved.iter().map(|o| o.hash).collect::<Vec<_>>());
    for old in &ladder {
        assert!(
            ledger
                .orders()
                .record(&user(1), &old.hash)
                .unwrap()
                .cancelled
        );
    }
    // The nonce is consumed: the same request cannot be replayed.
    assert_eq!(
        ledger.apply_place_orders(user(1), &cancels, &bodies(&moved), 101, EXPIRY, &b),
        Err(TxError::NonceReplayed(101))
    );
}

#[test]
fn only_orders_that_cannot_trade_are_retired() {
    let (mut ledger, b) = priced_ledger(&[(1, 100_000_000_000)]);
    let ask = order(1, 1, false, 3_001_000_000, 2_000_000, 1);
    let refused = |e| Err(TxError::Placement(e));
    assert_eq!(
        ledger.apply_retire_order(user(1), ask.hash, &b),
        refused(PlacementError::NotResting),
        "never placed"
    );
    ledger.apply_place_order(&ask, &b).unwrap();
    assert_eq!(
        ledger.apply_retire_order(user(1), ask.hash, &b),
        refused(PlacementError::StillTradeable),
        "affordable, unexpired, market active"
    );
    // Once the owner cannot afford it, anyone may retire it, once.
    let withdraw = Action::WithdrawMargin(straddle_primitives::WithdrawMargin {
        amount: 100_000_000_000,
        nonce: 2,
        expiryMs: u64::MAX,
    });
    apply_as(&mut ledger, 1, withdraw, &b);
    assert_eq!(ledger.apply_retire_order(user(1), ask.hash, &b), Ok(()));
    assert!(ledger.orders().resting(T0).is_empty());
    assert_eq!(
        ledger.apply_retire_order(user(1), ask.hash, &b),
        refused(PlacementError::NotResting)
    );
    // An expired placement is retired whatever the margin.
    deposit(&mut ledger, 2, 100_000_000_000, &b);
    let bid = order(2, 1, true, 2_999_000_000, 1_000_000, 2);
    ledger.apply_place_order(&bid, &b).unwrap();
    assert_eq!(
        ledger.apply_retire_order(user(2), bid.hash, &block(2, EXPIRY + 1)),
        Ok(())
    );
    assert!(ledger.is_conserved());
}

#[test]
fn the_order_margin_precheck_agrees_with_the_fill_rule() {
    let (ledger, b) = priced_ledger(&[(0, 2_000_000_000), (1, 100_000_000_000)]);
    let (mut affordable, mut refused) = (0, 0);
    for (n, size) in [1_000_000u64, 2_000_000, 5_000_000, 20_000_000]
        .into_iter()
        .enumerate()
    {
        let check =
            ledger
                .clearinghouse()
                .check_order_margin(user(0), 1, true, size, 3_000_000_000);
        let mut trial = ledger.clone();
        let taker = order(0, 1, true, 3_000_000_000, size, 100 + n as u64);
        let maker = order(1, 1, false, 3_000_000_000, size, 200 + n as u64);
        let fill = trial.apply_match(&pair(taker, maker, size), &b);
        assert_eq!(
            check.is_ok(),
            fill.is_ok(),
            "size {size}: {check:?} vs {fill:?}"
        );
        if check.is_ok() {
            affordable += 1;
        } else {
            assert!(matches!(
                check,
                Err(crate::clearinghouse::ClearingError::InsufficientMargin { .. })
            ));
            refused += 1;
        }
    }
    assert!(
        affordable > 0 && refused > 0,
        "the sizes straddle the limit"
    );
    assert!(matches!(
        ledger
            .clearinghouse()
            .check_order_margin(user(0), 42, true, 1_000_000, 1),
        Err(crate::clearinghouse::ClearingError::UnknownMarket(42))
    ));
}

#[test]
fn a_broken_invariant_is_named_with_its_figures() {
    let (ledger, _) = scenario();
    assert_eq!(ledger.check_invariants(), Ok(()));

    // One micro-USDC out of nowhere.
    let mut minted = ledger.clone();
    let balance = minted.accounts[&user(0)].collateral;
    minted.set_collateral(user(0), Amount(balance.0 + 1));
    let Err(InvariantViolation::CollateralNotConserved { held, issued }) =
        minted.check_invariants()
    else {
        panic!("conservation not checked");
    };
    assert_eq!(held.zip(issued).map(|(h, i)| h - i), Some(1));

    // Open interest that is not the long total.
    let mut miscounted = ledger.clone();
    let mut market = miscounted.clearinghouse.market(1).unwrap().clone();
    market.open_interest += 1;
    let recorded = market.open_interest;
    miscounted.clearinghouse.load_market(market);
    assert!(matches!(
        miscounted.check_invariants(),
        Err(InvariantViolation::OpenInterestMismatch { market: 1, recorded: r, .. }) if r == recorded
    ));

    // A long with no short against it.
    let mut one_sided = ledger.clone();
    let mut portfolio = one_sided.clearinghouse.portfolio(&user(5));
    portfolio.positions.retain(|p| p.market != 1);
    portfolio.positions.push(crate::clearinghouse::Position {
        market: 1,
        size: 1_000,
        funding_snapshot: 0,
        cost: 0,
    });
    portfolio.positions.sort_by_key(|p| p.market);
    let held_before = ledger.clearinghouse.portfolio(&user(5)).size_in(1);
    one_sided.clearinghouse.load_portfolio(user(5), portfolio);
    assert_eq!(
        one_sided.check_invariants(),
        Err(InvariantViolation::PositionsNotNet {
            market: 1,
            net: i128::from(1_000 - held_before)
        })
    );
}

#[test]
fn settled_positions_paid_out_one_account_at_a_time_keep_the_invariants() {
    let (mut ledger, _) = scenario();
    let settled = [2u32, 3];
    let holders: Vec<u8> = (0..6)
        .filter(|i| {
            ledger
                .clearinghouse()
                .stored_positions(&user(*i))
                .iter()
                .any(|p| settled.contains(&p.market))
        })
        .collect();
    assert!(holders.len() >= 2, "both sides of a settled market hold it");
    let b = block(11, EXPIRY + 1);
    for (n, who) in holders.into_iter().enumerate() {
        // A margin withdrawal settles the account: its settled positions are paid out and
        // leave, while the other side's stay until it is touched.
        let withdraw = Action::WithdrawMargin(straddle_primitives::WithdrawMargin {
            amount: 1,
            nonce: 10_000 + n as u64,
            expiryMs: u64::MAX,
        });
        apply_as(&mut ledger, who, withdraw, &b);
        assert!(
            ledger
                .clearinghouse()
                .stored_positions(&user(who))
                .iter()
                .all(|p| !settled.contains(&p.market))
        );
        assert_eq!(ledger.check_invariants(), Ok(()), "after account {who}");
    }
}
