//! The engine over a real ledger: placed orders rest in placement order, a taker's plan
//! becomes a match the STF accepts, a maker the STF refuses is taken off the book and the
//! taker re-planned against the next one, and the books rebuilt from state equal the
//! live ones.

use super::*;
use alloy_primitives::{Signature, U256};
use alloy_signer::SignerSync;
use straddle_exchange::orders::MatchError;
use straddle_exchange::stf::to_match;
use straddle_exchange::{BlockContext, TxError};
use straddle_primitives::{
    Action, DepositMargin, PriceReport, SignedAction, SignedPriceReport, VerifiedAction,
    VerifiedOrder, VerifiedTransaction,
};
use straddle_testkit::{genesis, sign_order, signer};

const NOW: u64 = 1_800_000_000_000;

fn block() -> BlockContext {
    BlockContext {
        number: 1,
        timestamp_ms: NOW,
    }
}

fn ledger() -> Ledger {
    let genesis = genesis();
    let mut ledger = Ledger::genesis(&genesis).unwrap();
    for who in 1..=4 {
        let action = Action::DepositMargin(DepositMargin {
            amount: 50_000_000_000,
            nonce: 1,
            expiryMs: u64::MAX,
        });
        let signed = SignedAction {
            action,
            signature: Signature::new(U256::from(1), U256::from(1), false),
        };
        let verified = VerifiedAction {
            signed,
            sender: signer(who).address(),
            hash: B256::ZERO,
        };
        ledger.apply(&verified, &block()).unwrap();
    }
    let reports: Vec<_> = [7, 8]
        .iter()
        .map(|i| {
            let report = PriceReport {
                underlying: 1,
                timestampMs: NOW,
                indexPrice: 3_000_000_000,
                expiriesMs: vec![],
                atmVolsPpm: vec![],
                skewsPpm: vec![],
                curvaturesPpm: vec![],
            };
            let signature = signer(*i)
                .sign_hash_sync(&report.signing_hash(&genesis.domain))
                .unwrap();
            SignedPriceReport { report, signature }
        })
        .collect();
    ledger
        .apply_oracle_update(1, &reports, &genesis.domain, &block())
        .unwrap();
    ledger
}

fn signed(who: usize, is_buy: bool, price: u64, size: u64, tif: u8, nonce: u64) -> SignedOrder {
    sign_order(
        who,
        Order {
            market: 1,
            isBuy: is_buy,
            limitPrice: price,
            size,
            timeInForce: tif,
            reduceOnly: false,
            expiryMs: NOW + 3_600_000,
            clientOrderId: nonce,
            nonce,
        },
    )
}

fn verified(signed: &SignedOrder) -> VerifiedOrder {
    let VerifiedTransaction::PlaceOrder(order) = Transaction::PlaceOrder(signed.clone())
        .verify(&genesis().domain)
        .unwrap()
    else {
        unreachable!()
    };
    order
}

fn place(ledger: &mut Ledger, engine: &mut Engine, order: &SignedOrder) {
    let order = verified(order);
    ledger.apply_place_order(&order, &block()).unwrap();
    engine
        .rest(
            ledger,
            order.owner,
            order.hash,
            &order.order,
            order.order.size,
        )
        .unwrap();
}

/// Executes a planned match on the ledger as the chain would.
fn execute(ledger: &mut Ledger, planned: &PlannedMatch) -> Result<(), TxError> {
    let transaction = planned.transaction.clone().expect("a match was planned");
    let VerifiedTransaction::MatchPlaced { taker, makers } =
        transaction.verify(&genesis().domain).unwrap()
    else {
        unreachable!()
    };
    ledger
        .apply_match(&to_match(&taker, &makers, true), &block())
        .map(|_| ())
}

fn snapshot(engine: &Engine) -> Vec<(Address, B256, u64, u64)> {
    let Some(book) = engine.book(1) else {
        return Vec::new();
    };
    [Side::Buy, Side::Sell]
        .iter()
        .flat_map(|side| book.orders(*side))
        .map(|o| {
            let r = engine.resting_by_tag(o.tag).unwrap();
            (r.owner, r.hash, o.price, o.qty)
        })
        .collect()
}

#[test]
fn plans_become_accepted_matches_and_the_books_rebuild_from_state() {
    let mut ledger = ledger();
    let mut engine = Engine::from_ledger(&ledger, NOW);
    // Two asks at the same price (2 first), a worse one from 4.
    for (who, price, nonce) in [
        (2, 3_000_000_000, 1),
        (3, 3_000_000_000, 2),
        (4, 3_001_000_000, 3),
    ] {
        place(
            &mut ledger,
            &mut engine,
            &signed(who, false, price, 1_000_000, 0, nonce),
        );
    }
    let taker = signed(1, true, 3_001_000_000, 2_500_000, 1, 10);
    let owner = signer(1).address();
    let planned = engine.plan(&ledger, &taker, owner, 2_500_000).unwrap();
    let Some(Transaction::MatchPlaced { makers, .. }) = &planned.transaction else {
        unreachable!()
    };
    let expected = [
        (signer(2).address(), 3_000_000_000, 1_000_000),
        (signer(3).address(), 3_000_000_000, 1_000_000),
        (signer(4).address(), 3_001_000_000, 500_000),
    ];
    assert_eq!(
        makers
            .iter()
            .map(|(o, a, s)| (*a, o.limitPrice, *s))
            .collect::<Vec<_>>(),
        expected
    );
    execute(&mut ledger, &planned).unwrap();
    engine.apply(1, &planned.plan);
    assert_eq!(snapshot(&engine).len(), 1, "only 4's remainder rests");
    let rebuilt = Engine::from_ledger(&ledger, NOW);
    assert_eq!(snapshot(&rebuilt), snapshot(&engine));
}

#[test]
fn a_maker_the_stf_refuses_leaves_the_book_and_the_taker_replans() {
    let mut ledger = ledger();
    let mut engine = Engine::from_ledger(&ledger, NOW);
    let first = signed(2, false, 3_000_000_000, 1_000_000, 0, 1);
    place(&mut ledger, &mut engine, &first);
    place(
        &mut ledger,
        &mut engine,
        &signed(3, false, 3_000_000_000, 1_000_000, 0, 2),
    );
    // The first maker cancels on-chain behind the book's back.
    let first_hash = verified(&first).hash;
    ledger.apply_cancel(signer(2).address(), first_hash);

    let taker = signed(1, true, 3_000_000_000, 1_000_000, 1, 10);
    let owner = signer(1).address();
    let planned = engine.plan(&ledger, &taker, owner, 1_000_000).unwrap();
    assert!(planned.transaction.is_some());
    let refused = execute(&mut ledger, &planned).unwrap_err();
    assert_eq!(refused, TxError::Match(MatchError::Cancelled(first_hash)));
    // Repair: the refused maker leaves the book; the next plan fills against 3.
    assert_eq!(
        engine.maker_of(&planned.plan, 0),
        Some((signer(2).address(), first_hash))
    );
    engine.remove(signer(2).address(), first_hash).unwrap();
    let planned = engine.plan(&ledger, &taker, owner, 1_000_000).unwrap();
    assert!(planned.transaction.is_some());
    execute(&mut ledger, &planned).unwrap();
    engine.apply(1, &planned.plan);
    assert!(snapshot(&engine).is_empty());
    assert!(snapshot(&Engine::from_ledger(&ledger, NOW)).is_empty());
}

#[test]
fn orders_off_the_grid_are_refused_before_the_book() {
    let ledger = ledger();
    let mut engine = Engine::from_ledger(&ledger, NOW);
    let order = signed(1, true, 3_000_050_000, 1_000_000, 0, 1).order;
    assert!(matches!(
        engine.rest(&ledger, signer(1).address(), B256::ZERO, &order, order.size),
        Err(EngineError::OffGrid { .. })
    ));
    let mut unknown = order.clone();
    unknown.market = 999;
    assert_eq!(
        engine.rest(&ledger, signer(1).address(), B256::ZERO, &unknown, 1_000),
        Err(EngineError::UnknownMarket(999))
    );
}

#[test]
fn a_taker_meeting_its_own_resting_order_stops_there_and_the_order_stays() {
    let mut ledger = ledger();
    let mut engine = Engine::from_ledger(&ledger, NOW);
    place(
        &mut ledger,
        &mut engine,
        &signed(1, false, 3_000_000_000, 1_000_000, 0, 1),
    );
    let taker = signed(1, true, 3_000_000_000, 1_000_000, 0, 2);
    let planned = engine
        .plan(&ledger, &taker, signer(1).address(), 1_000_000)
        .unwrap();
    assert!(planned.transaction.is_none() && planned.plan.stopped_by_self_trade);
    assert_eq!(
        snapshot(&engine).len(),
        1,
        "placed on-chain: only its owner cancels it"
    );
}
