//! Round trips of every transaction kind with real signatures, recovery of every signer,
//! and refusal of malformed bytes.

use super::*;
use crate::action::{Action, Transfer};
use alloy_primitives::U256;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;

const DOMAIN: Domain = Domain {
    chain_id: 424242,
    verifying_contract: Address::ZERO,
};

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(9_000 + i))).unwrap()
}

fn signed_order(
    owner: u64,
    market: u32,
    is_buy: bool,
    price: u64,
    size: u64,
    tif: u8,
    nonce: u64,
) -> SignedOrder {
    let order = Order {
        market,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: tif,
        reduceOnly: nonce.is_multiple_of(2),
        expiryMs: 1_900_000_000_000,
        clientOrderId: nonce * 7,
        nonce,
    };
    let signature = key(owner).sign_hash_sync(&order.hash(&DOMAIN)).unwrap();
    SignedOrder { order, signature }
}

fn signed_report(signer: u64, index: u64, expiries: usize) -> SignedPriceReport {
    let report = PriceReport {
        underlying: 3,
        timestampMs: 1_800_000_000_000 + signer,
        indexPrice: index,
        expiriesMs: (0..expiries as u64)
            .map(|e| 1_900_000_000_000 + e)
            .collect(),
        atmVolsPpm: (0..expiries as u32).map(|e| 600_000 + e).collect(),
        skewsPpm: (0..expiries as i32).map(|e| -100_000 - e).collect(),
        curvaturesPpm: (0..expiries as u32).map(|e| 200_000 + e).collect(),
    };
    let signature = key(signer)
        .sign_hash_sync(&report.signing_hash(&DOMAIN))
        .unwrap();
    SignedPriceReport { report, signature }
}

/// A transfer of 5 to `0x0101…` signed by key 1.
fn signed_transfer() -> SignedAction {
    let action = Action::Transfer(Transfer {
        to: Address::repeat_byte(1),
        amount: 5,
        nonce: 1,
        expiryMs: 9,
    });
    let signature = key(1)
        .sign_hash_sync(&action.signing_hash(&DOMAIN))
        .unwrap();
    SignedAction { action, signature }
}

fn round_trip(transaction: &Transaction) -> Vec<u8> {
    let bytes = transaction.encode();
    assert!(bytes.len() <= TRANSACTION_BYTES_MAX);
    assert_eq!(&Transaction::decode(&bytes).unwrap(), transaction);
    assert!(
        Transaction::decode(&bytes[..bytes.len() - 1]).is_err(),
        "truncated"
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Transaction::decode(&longer).is_err(), "trailing byte");
    bytes
}

#[test]
fn actions_keep_their_118_byte_encoding() {
    let signed = signed_transfer();
    let action = signed.action.clone();
    let transaction = Transaction::Action(signed.clone());
    assert_eq!(round_trip(&transaction), signed.encode());
    assert_eq!(transaction.hash(&DOMAIN), action.signing_hash(&DOMAIN));
    let VerifiedTransaction::Action(verified) = transaction.verify(&DOMAIN).unwrap() else {
        panic!()
    };
    assert_eq!(verified.sender, key(1).address());
}

#[test]
fn the_largest_oracle_update_fits_the_bound() {
    let reports: Vec<_> = (0..REPORTS_PER_UPDATE_MAX as u64)
        .map(|i| signed_report(i, 3_000_000_000 + i, REPORT_EXPIRIES_MAX))
        .collect();
    let update = Transaction::OracleUpdate {
        underlying: 3,
        reports,
    };
    let bytes = round_trip(&update);
    assert!(
        bytes.len() < TRANSACTION_BYTES_MAX / 2,
        "{} bytes",
        bytes.len()
    );
    assert_eq!(update.hash(&DOMAIN), keccak256(&bytes));
}

#[test]
fn match_and_cancel_recover_every_signer() {
    let taker = signed_order(1, 7, true, 3_000_000_000, 2_000_000, 1, 1);
    let makers = vec![
        (
            signed_order(2, 7, false, 2_999_900_000, 1_000_000, 0, 2),
            1_000_000,
        ),
        (
            signed_order(3, 7, false, 3_000_000_000, 5_000_000, 3, 3),
            1_000_000,
        ),
    ];
    let matched = Transaction::Match {
        taker: taker.clone(),
        makers: makers.clone(),
    };
    round_trip(&matched);
    let VerifiedTransaction::Match {
        taker: t,
        makers: m,
    } = matched.verify(&DOMAIN).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (t.owner, t.hash),
        (key(1).address(), taker.order.hash(&DOMAIN))
    );
    assert_eq!(
        m.iter().map(|(o, s)| (o.owner, *s)).collect::<Vec<_>>(),
        vec![(key(2).address(), 1_000_000), (key(3).address(), 1_000_000)]
    );

    let cancel = Cancel {
        orderHash: taker.order.hash(&DOMAIN),
        nonce: 4,
        expiryMs: 99,
    };
    let signature = key(1)
        .sign_hash_sync(&cancel.signing_hash(&DOMAIN))
        .unwrap();
    let transaction = Transaction::Cancel(SignedCancel { cancel, signature });
    round_trip(&transaction);
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::Cancel {
            signer: key(1).address(),
            order_hash: taker.order.hash(&DOMAIN),
            expiry_ms: 99
        }
    );
}

#[test]
fn liquidations_round_trip_and_recover_the_liquidator() {
    let liquidate = Liquidate {
        target: Address::repeat_byte(9),
        market: 1,
        size: 2_000_000,
        nonce: 5,
        expiryMs: 77,
    };
    let signature = key(4)
        .sign_hash_sync(&liquidate.signing_hash(&DOMAIN))
        .unwrap();
    let transaction = Transaction::Liquidate(SignedLiquidate {
        liquidate: liquidate.clone(),
        signature,
    });
    assert_eq!(round_trip(&transaction).len(), 1 + 20 + 4 + 8 + 8 + 8 + 65);
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::Liquidate {
            liquidator: key(4).address(),
            liquidate
        }
    );
}

#[test]
fn market_listings_and_closes_round_trip_and_recover_the_operator() {
    let listing = ListMarket {
        market: 21,
        underlying: 1,
        instrument: crate::admin::INSTRUMENT_PUT,
        strike: 2_800_000_000,
        optionExpiryMs: 1_900_000_000_000,
        tick: 100_000,
        lot: 10_000,
        makerFeePpm: 100,
        takerFeePpm: 300,
        nonce: 3,
        expiryMs: 88,
    };
    let signature = key(6)
        .sign_hash_sync(&listing.signing_hash(&DOMAIN))
        .unwrap();
    let transaction = Transaction::ListMarket {
        listing: listing.clone(),
        signature,
    };
    assert_eq!(
        round_trip(&transaction).len(),
        1 + 4 + 4 + 1 + 8 * 4 + 4 + 4 + 8 + 8 + 65
    );
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::ListMarket {
            signer: key(6).address(),
            listing
        }
    );
    let close = CloseMarket {
        market: 2,
        nonce: 4,
        expiryMs: 99,
    };
    let signature = key(6).sign_hash_sync(&close.signing_hash(&DOMAIN)).unwrap();
    let transaction = Transaction::CloseMarket {
        close: close.clone(),
        signature,
    };
    assert_eq!(round_trip(&transaction).len(), 1 + 4 + 8 + 8 + 65);
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::CloseMarket {
            signer: key(6).address(),
            close
        }
    );
}

#[test]
fn auto_deleveraging_round_trips_without_a_signature() {
    let adl = AutoDeleverage {
        target: Address::repeat_byte(1),
        market: 2,
        counterparty: Address::repeat_byte(3),
        size: 4,
    };
    let transaction = Transaction::AutoDeleverage(adl);
    assert_eq!(round_trip(&transaction).len(), 1 + 20 + 4 + 20 + 8);
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::AutoDeleverage(adl)
    );
}

#[test]
fn order_retirements_round_trip_without_a_signature() {
    let retire = RetireOrder {
        owner: Address::repeat_byte(1),
        order_hash: B256::repeat_byte(2),
    };
    let transaction = Transaction::RetireOrder(retire);
    assert_eq!(round_trip(&transaction).len(), 1 + 20 + 32);
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::RetireOrder(retire)
    );
}

#[test]
fn deposits_round_trip_and_hash_as_the_portal_records_them() {
    let deposit = crate::Deposit {
        index: 3,
        from: Address::repeat_byte(1),
        recipient: Address::repeat_byte(2),
        amount: 5_000_000,
    };
    let transaction = Transaction::Deposit(deposit);
    assert_eq!(round_trip(&transaction).len(), 1 + 8 + 20 + 20 + 16);
    assert_eq!(transaction.hash(&DOMAIN), deposit.l1_hash());
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::Deposit(deposit)
    );
}

#[test]
fn bulk_cancels_round_trip_and_recover_the_signer() {
    let cancel = BulkCancel {
        orderHashes: (0..BULK_CANCEL_MAX as u8).map(B256::repeat_byte).collect(),
        nonce: 3,
        expiryMs: 9,
    };
    let signature = key(6)
        .sign_hash_sync(&cancel.signing_hash(&DOMAIN))
        .unwrap();
    let transaction = Transaction::BulkCancel {
        cancel: cancel.clone(),
        signature,
    };
    assert_eq!(
        round_trip(&transaction).len(),
        2 + 32 * BULK_CANCEL_MAX + 16 + 65
    );
    assert_eq!(
        transaction.verify(&DOMAIN).unwrap(),
        VerifiedTransaction::BulkCancel {
            signer: key(6).address(),
            cancel
        }
    );
    assert_eq!(
        Transaction::decode(&[KIND_BULK_CANCEL, 65]),
        Err(DecodeError::Invalid("too many orders in a bulk cancel"))
    );
}

#[test]
fn bulk_placements_and_matches_against_them_round_trip() {
    let orders: Vec<Order> = (0..BULK_ORDERS_MAX as u64)
        .map(|n| signed_order(5, 7, false, 3_000_000_000 + n * 100_000, 1_000_000, 0, n).order)
        .collect();
    let cancels = vec![B256::repeat_byte(0xc1), B256::repeat_byte(0xc2)];
    let bulk = BulkOrders {
        cancels: cancels.clone(),
        orders: orders.clone(),
        nonce: 12,
        expiryMs: 99,
    };
    let signature = key(5).sign_hash_sync(&bulk.signing_hash(&DOMAIN)).unwrap();
    let placement = Transaction::PlaceOrders { bulk, signature };
    round_trip(&placement);
    let VerifiedTransaction::PlaceOrders {
        owner,
        cancels: cancelled,
        orders: placed,
        nonce,
        expiry_ms,
    } = placement.verify(&DOMAIN).unwrap()
    else {
        panic!()
    };
    assert_eq!((owner, nonce, expiry_ms), (key(5).address(), 12, 99));
    assert_eq!(cancelled, cancels);
    assert_eq!(
        placed,
        orders
            .iter()
            .map(|o| (o.clone(), o.hash(&DOMAIN)))
            .collect::<Vec<_>>()
    );
    // A single placement carries the order and its own signature.
    let single = Transaction::PlaceOrder(signed_order(2, 7, true, 2_999_000_000, 1_000_000, 0, 9));
    assert_eq!(round_trip(&single).len(), 1 + 47 + 65);
    let VerifiedTransaction::PlaceOrder(verified) = single.verify(&DOMAIN).unwrap() else {
        panic!()
    };
    assert_eq!(verified.owner, key(2).address());

    let taker = signed_order(1, 7, true, 3_001_000_000, 2_000_000, 1, 500);
    let matched = Transaction::MatchPlaced {
        taker,
        makers: vec![(orders[0].clone(), key(5).address(), 1_000_000)],
    };
    round_trip(&matched);
    let VerifiedTransaction::MatchPlaced { makers, .. } = matched.verify(&DOMAIN).unwrap() else {
        panic!()
    };
    assert_eq!(
        (makers[0].0.owner, makers[0].0.hash),
        (key(5).address(), orders[0].hash(&DOMAIN))
    );
}

#[test]
fn every_length_bound_is_enforced_on_decode() {
    // One order or report more than allowed, each in an otherwise well-formed encoding.
    let orders: Vec<Order> = (0..=BULK_ORDERS_MAX as u64)
        .map(|n| signed_order(5, 7, false, 1, 1, 0, n).order)
        .collect();
    let too_many_orders = (Vec::new(), orders, "too many orders in a bulk placement");
    let too_many_cancels = (
        vec![B256::ZERO; BULK_ORDERS_CANCELS_MAX + 1],
        Vec::new(),
        "too many cancels in a bulk placement",
    );
    for (cancels, orders, why) in [too_many_orders, too_many_cancels] {
        let bulk = BulkOrders {
            cancels,
            orders,
            nonce: 1,
            expiryMs: 1,
        };
        let signature = key(5).sign_hash_sync(&bulk.signing_hash(&DOMAIN)).unwrap();
        let encoded = Transaction::PlaceOrders { bulk, signature }.encode();
        assert_eq!(
            Transaction::decode(&encoded),
            Err(DecodeError::Invalid(why))
        );
    }

    let taker = signed_order(1, 7, true, 1, 1, 1, 1);
    let makers: Vec<_> = (0..=MAKERS_PER_MATCH_MAX as u64)
        .map(|n| (signed_order(2, 7, false, 1, 1, 0, n), 1))
        .collect();
    let too_many = Transaction::Match { taker, makers }.encode();
    assert_eq!(
        Transaction::decode(&too_many),
        Err(DecodeError::Invalid("too many makers"))
    );

    let report = signed_report(1, 1, REPORT_EXPIRIES_MAX);
    let mut update = Transaction::OracleUpdate {
        underlying: 3,
        reports: vec![report],
    }
    .encode();
    // The expiry count byte of the first report: kind, underlying (4), count (1), then
    // underlying (4), timestamp (8), index (8).
    update[1 + 4 + 1 + 4 + 8 + 8] = REPORT_EXPIRIES_MAX as u8 + 1;
    assert_eq!(
        Transaction::decode(&update),
        Err(DecodeError::Invalid("too many expiries in a report"))
    );
}

#[test]
fn malformed_bytes_are_refused() {
    assert_eq!(
        Transaction::decode(&[]),
        Err(DecodeError::Truncated { needed: 1 })
    );
    assert_eq!(
        Transaction::decode(&[0x42, 0, 0]),
        Err(DecodeError::UnknownTag(0x42))
    );
    assert_eq!(
        Transaction::decode(&vec![0x10; TRANSACTION_BYTES_MAX + 1]),
        Err(DecodeError::Invalid("transaction too large"))
    );
    assert_eq!(
        Transaction::decode(&[KIND_ORACLE_UPDATE, 0, 0, 0, 3, 17]),
        Err(DecodeError::Invalid("too many reports"))
    );
    let mut matched = Transaction::Match {
        taker: signed_order(1, 7, true, 1, 1, 0, 1),
        makers: vec![],
    }
    .encode();
    matched[5] = 2; // isBuy must be 0 or 1
    assert_eq!(
        Transaction::decode(&matched),
        Err(DecodeError::Invalid("boolean byte"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn matches_round_trip(market in any::<u32>(), price in any::<u64>(), size in any::<u64>(), tif in any::<u8>(), makers in 0usize..=MAKERS_PER_MATCH_MAX, fill in any::<u64>()) {
        let taker = signed_order(1, market, true, price, size, tif, 1);
        let makers: Vec<_> = (0..makers as u64).map(|i| (signed_order(2 + i, market, false, price, size, 0, 10 + i), fill)).collect();
        let transaction = Transaction::Match { taker, makers };
        let bytes = transaction.encode();
        prop_assert_eq!(Transaction::decode(&bytes).unwrap(), transaction);
    }

    #[test]
    fn oracle_updates_round_trip(index in any::<u64>(), reports in 0usize..=4, expiries in 0usize..=REPORT_EXPIRIES_MAX) {
        let reports: Vec<_> = (0..reports as u64).map(|i| signed_report(i, index, expiries)).collect();
        let transaction = Transaction::OracleUpdate { underlying: 3, reports };
        prop_assert_eq!(Transaction::decode(&transaction.encode()).unwrap(), transaction);
    }
}

proptest! {
    /// The hand-assembled EIP-712 digests (cached type hashes and domain separator, each
    /// order's struct hashed once per bulk request) equal alloy's generic ones.
    #[test]
    fn fast_eip712_digests_equal_the_generic_ones(
        chain_id in any::<u64>(),
        contract in any::<[u8; 20]>(),
        terms in proptest::collection::vec((any::<u32>(), any::<bool>(), any::<u64>(), any::<u64>(), 0u8..4, any::<bool>(), any::<u64>(), any::<u64>(), any::<u64>()), 0..5),
        cancels in proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        nonce in any::<u64>(),
        expiry in any::<u64>(),
    ) {
        use alloy_sol_types::SolStruct;
        let domain = Domain { chain_id, verifying_contract: Address::from(contract) };
        let orders: Vec<Order> = terms
            .into_iter()
            .map(|(market, is_buy, price, size, tif, reduce, expiry_ms, client, nonce)| Order {
                market,
                isBuy: is_buy,
                limitPrice: price,
                size,
                timeInForce: tif,
                reduceOnly: reduce,
                expiryMs: expiry_ms,
                clientOrderId: client,
                nonce,
            })
            .collect();
        for order in &orders {
            prop_assert_eq!(order.hash(&domain), order.eip712_signing_hash(&domain.eip712()));
        }
        let bulk = BulkOrders {
            cancels: cancels.into_iter().map(B256::from).collect(),
            orders: orders.clone(),
            nonce,
            expiryMs: expiry,
        };
        let (digest, hashes) = bulk.signing_hash_and_order_hashes(&domain);
        prop_assert_eq!(digest, bulk.eip712_signing_hash(&domain.eip712()));
        prop_assert_eq!(hashes, orders.iter().map(|o| o.hash(&domain)).collect::<Vec<_>>());
    }
}

#[test]
fn forced_transactions_round_trip_and_check_what_they_carry() {
    let signed = Transaction::Action(signed_transfer());
    let forced = |bytes: Vec<u8>| {
        Transaction::Forced(ForcedTransaction {
            index: 4,
            sender: Address::repeat_byte(7),
            bytes,
        })
    };
    let valid = forced(signed.encode());
    assert_eq!(round_trip(&valid).len(), 1 + 8 + 20 + 4 + 118);
    let Transaction::Forced(record) = &valid else {
        unreachable!()
    };
    assert_eq!(valid.hash(&DOMAIN), record.l1_hash());
    let VerifiedTransaction::Forced { payload, .. } = valid.verify(&DOMAIN).unwrap() else {
        panic!("a forced transaction verifies as forced")
    };
    let ForcedPayload::Valid(inner) = payload else {
        panic!("a signed transfer may be forced: {payload:?}")
    };
    assert!(matches!(*inner, VerifiedTransaction::Action(a) if a.sender == key(1).address()));

    // Whatever the bytes, the forced transaction itself verifies: the payload is invalid.
    // A high `s` (not canonical) is refused by the strict recovery.
    let mut tampered = signed.encode();
    let end = tampered.len() - 1;
    tampered[end - 32..end].fill(0xFF);
    let deposit = Transaction::Deposit(crate::Deposit {
        index: 0,
        from: Address::ZERO,
        recipient: Address::repeat_byte(2),
        amount: 1,
    });
    for (bytes, why) in [
        (vec![0xEE, 1, 2], "does not decode"),
        (deposit.encode(), "cannot be forced"),
        (tampered, "signature"),
    ] {
        let VerifiedTransaction::Forced { payload, .. } = forced(bytes).verify(&DOMAIN).unwrap()
        else {
            panic!()
        };
        assert!(
            matches!(&payload, ForcedPayload::Invalid(reason) if reason.contains(why)),
            "{why}: {payload:?}"
        );
    }
    // Sizes are bounded as on the Portal.
    let mut empty = forced(vec![1]).encode();
    empty.truncate(1 + 8 + 20);
    empty.extend_from_slice(&0u32.to_be_bytes());
    assert!(Transaction::decode(&empty).is_err());
    let mut huge = forced(vec![1]).encode();
    huge.truncate(1 + 8 + 20);
    huge.extend_from_slice(&2_049u32.to_be_bytes());
    huge.extend(vec![0u8; 2_049]);
    assert!(Transaction::decode(&huge).is_err());
}
