use super::*;
use alloy_primitives::{Address, Signature, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;
use straddle_primitives::order::{BulkCancel, BulkOrders, Cancel};
use straddle_primitives::{
    Action, AutoDeleverage, ForcedTransaction, Order, RetireOrder, SignedAction, SignedCancel,
    SignedOrder, Transfer, WithdrawMargin,
};

const DOMAIN: Domain = Domain {
    chain_id: 424_242,
    verifying_contract: Address::ZERO,
};
const T0: u64 = 1_800_000_000_000;

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i + 1)).unwrap()
}

fn order(market: u32, is_buy: bool, price: u64, size: u64, nonce: u64) -> Order {
    Order {
        market,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: (nonce % 4) as u8,
        reduceOnly: nonce.is_multiple_of(5),
        expiryMs: T0 + 60_000 + nonce,
        clientOrderId: nonce * 7,
        nonce: T0 + nonce,
    }
}

fn signed(owner: u8, order: Order) -> SignedOrder {
    let signature = key(owner).sign_hash_sync(&order.hash(&DOMAIN)).unwrap();
    SignedOrder { order, signature }
}

/// Deposits 0… as [`deposit`] gives them, no forced records.
const RECORDS: L1Records<'static> = L1Records {
    deposit: &deposit,
    forced: &|_| None,
};

fn deposit(index: u64) -> Option<Deposit> {
    Some(Deposit {
        index,
        from: Address::repeat_byte(0xd0),
        recipient: Address::repeat_byte(index as u8),
        amount: 1_000 + u128::from(index),
    })
}

/// A quote, a taker that matches it, cancels by hash, a transfer, a deposit, a kind
/// carried canonically, and a high-s signature (not compactable).
fn sample_blocks(seed: u64, blocks: usize) -> Vec<BatchBlock> {
    let mut out = Vec::new();
    let mut deposits = 0;
    for b in 0..blocks as u64 {
        let n = seed.wrapping_mul(31).wrapping_add(b);
        let quotes: Vec<Order> = (0..4)
            .map(|i| {
                order(
                    1 + (i % 2) as u32,
                    i % 2 == 0,
                    3_000_000_000 + i * 1_000,
                    100_000,
                    n * 10 + i,
                )
            })
            .collect();
        let bulk = BulkOrders {
            cancels: if b > 0 {
                vec![
                    order(1, true, 3_000_000_000, 100_000, (n - 1) * 10).hash(&DOMAIN),
                    B256::repeat_byte(9),
                ]
            } else {
                vec![]
            },
            orders: quotes.clone(),
            nonce: T0 + n,
            expiryMs: T0 + 30_000,
        };
        let bulk_signature = key(1).sign_hash_sync(&bulk.signing_hash(&DOMAIN)).unwrap();
        let taker = signed(2, order(1, false, 2_999_000_000, 50_000, n * 10 + 9));
        let transfer = Action::Transfer(Transfer {
            to: Address::repeat_byte(3),
            amount: 12_500_000,
            nonce: T0 + n,
            expiryMs: T0 + 5_000,
        });
        let transfer_signature = key(3)
            .sign_hash_sync(&transfer.signing_hash(&DOMAIN))
            .unwrap();
        let margin = Action::WithdrawMargin(WithdrawMargin {
            amount: 5,
            nonce: 1,
            expiryMs: 0,
        });
        let high_s = {
            let s = key(4)
                .sign_hash_sync(&margin.signing_hash(&DOMAIN))
                .unwrap();
            let n_order = U256::from_str_radix(
                "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
                16,
            )
            .unwrap();
            Signature::new(s.r(), n_order - s.s(), !s.v())
        };
        let cancel = Cancel {
            orderHash: quotes[1].hash(&DOMAIN),
            nonce: 4,
            expiryMs: T0 - 10,
        };
        let cancel_signature = key(1)
            .sign_hash_sync(&cancel.signing_hash(&DOMAIN))
            .unwrap();
        let bulk_cancel = BulkCancel {
            orderHashes: vec![quotes[2].hash(&DOMAIN), quotes[3].hash(&DOMAIN)],
            nonce: 5,
            expiryMs: T0 + 1,
        };
        let bulk_cancel_signature = key(1)
            .sign_hash_sync(&bulk_cancel.signing_hash(&DOMAIN))
            .unwrap();
        let mut transactions = vec![
            Transaction::PlaceOrders {
                bulk,
                signature: bulk_signature,
            },
            Transaction::PlaceOrder(taker.clone()),
            Transaction::MatchPlaced {
                taker: taker.clone(),
                makers: vec![(quotes[0].clone(), key(1).address(), 50_000)],
            },
            Transaction::Match {
                taker: taker.clone(),
                makers: vec![(signed(5, quotes[0].clone()), 1), (taker.clone(), 2)],
            },
            Transaction::Action(SignedAction {
                action: transfer,
                signature: transfer_signature,
            }),
            Transaction::Action(SignedAction {
                action: margin,
                signature: high_s,
            }),
            Transaction::Cancel(SignedCancel {
                cancel,
                signature: cancel_signature,
            }),
            Transaction::BulkCancel {
                cancel: bulk_cancel,
                signature: bulk_cancel_signature,
            },
            Transaction::RetireOrder(RetireOrder {
                owner: key(1).address(),
                order_hash: quotes[0].hash(&DOMAIN),
            }),
            Transaction::AutoDeleverage(AutoDeleverage {
                target: Address::repeat_byte(1),
                market: 1,
                counterparty: Address::repeat_byte(2),
                size: 3,
            }),
        ];
        for _ in 0..(n % 3) {
            transactions.push(Transaction::Deposit(deposit(deposits).unwrap()));
            deposits += 1;
        }
        transactions.rotate_left((n % 7) as usize);
        out.push(BatchBlock {
            number: 100 + b,
            timestamp_ms: T0 + b * 100 + (n % 13),
            transactions,
        });
    }
    out
}

fn batch(seed: u64, blocks: usize) -> Batch {
    Batch {
        parent_hash: B256::repeat_byte(0xab),
        blocks: sample_blocks(seed, blocks),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// decode(encode(b)) = b, every transaction decodes alone to the same transaction,
    /// and re-encoding gives the same bytes.
    #[test]
    fn batches_round_trip_and_every_transaction_decodes_alone(seed in 0u64..1_000_000, blocks in 1usize..6) {
        let original = batch(seed, blocks);
        let bytes = original.encode(&DOMAIN).unwrap();
        let decoded = Batch::decode(&bytes, &DOMAIN, RECORDS).unwrap();
        prop_assert_eq!(&decoded, &original);
        prop_assert_eq!(decoded.encode(&DOMAIN).unwrap(), bytes.clone());
        let range = batch_range(&bytes).unwrap();
        prop_assert_eq!(range.parent_hash, original.parent_hash);
        prop_assert_eq!(range.first_block, original.blocks[0].number);
        prop_assert_eq!(range.last_block, original.blocks.last().unwrap().number);
        let mut index = 0;
        for block in &original.blocks {
            for tx in &block.transactions {
                let (number, alone) = decode_transaction(&bytes, index, &DOMAIN, RECORDS).unwrap();
                prop_assert_eq!(number, block.number);
                prop_assert_eq!(&alone, tx);
                index += 1;
            }
        }
        prop_assert!(decode_transaction(&bytes, index, &DOMAIN, RECORDS).is_err());
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Every transaction located by block and position is the one the batch holds, and
    /// its ranges are all that decoding it reads: with every other byte of the address
    /// table and the section overwritten, it still decodes to the same transaction.
    #[test]
    fn located_transactions_read_only_their_ranges(seed in 0u64..1_000_000, blocks in 1usize..4) {
        let original = batch(seed, blocks);
        let bytes = original.encode(&DOMAIN).unwrap();
        let mut index = 0;
        for block in &original.blocks {
            for (position, tx) in block.transactions.iter().enumerate() {
                let located = locate_transaction(&bytes, block.number, position, &DOMAIN, RECORDS).unwrap();
                prop_assert_eq!(located.block, block.number);
                prop_assert_eq!(located.index, index);
                prop_assert_eq!(&located.transaction, tx);
                // The header, block list and index stay (a whole-layout read checks them);
                // everything else outside the ranges is overwritten.
                let index_end = located.ranges[0].end + 20 * address_count(&bytes) + 3 * total(&original);
                let mut masked = vec![0xEE; bytes.len()];
                masked[..located.ranges[0].end].copy_from_slice(&bytes[..located.ranges[0].end]);
                let index_start = index_end - 3 * total(&original);
                masked[index_start..index_end].copy_from_slice(&bytes[index_start..index_end]);
                for range in &located.ranges {
                    masked[range.clone()].copy_from_slice(&bytes[range.clone()]);
                }
                let again = locate_transaction(&masked, block.number, position, &DOMAIN, RECORDS).unwrap();
                prop_assert_eq!(&again.transaction, tx);
                index += 1;
            }
            prop_assert!(locate_transaction(&bytes, block.number, block.transactions.len(), &DOMAIN, RECORDS).is_err());
            prop_assert_eq!(&block_transactions(&bytes, block.number, &DOMAIN, RECORDS).unwrap(), &block.transactions);
        }
    }
}

fn total(batch: &Batch) -> usize {
    batch.blocks.iter().map(|b| b.transactions.len()).sum()
}

/// The address count of an encoded batch (the varint ending its header).
fn address_count(bytes: &[u8]) -> usize {
    let layout = Layout::read(bytes).unwrap();
    layout.addresses.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any corruption is refused or decodes to a different batch; it never panics.
    #[test]
    fn corrupted_batches_never_decode_to_the_original(seed in 0u64..1_000_000, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let original = batch(seed, 2);
        let mut bytes = original.encode(&DOMAIN).unwrap();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(decoded) = Batch::decode(&bytes, &DOMAIN, RECORDS) {
            prop_assert_ne!(decoded, original);
        }
        let _ = decode_transaction(&bytes, 3, &DOMAIN, RECORDS);
    }
}

#[test]
fn a_malformed_structure_is_refused_and_a_malformed_item_is_undecodable() {
    let original = batch(7, 2);
    let bytes = original.encode(&DOMAIN).unwrap();
    // The header and block list cut short: no batch.
    for len in [0, 1, 40, 60] {
        assert!(
            Batch::decode(&bytes[..len], &DOMAIN, RECORDS).is_err(),
            "{len}"
        );
    }
    let mut version = bytes.clone();
    version[0] = 2;
    assert_eq!(
        Batch::decode(&version, &DOMAIN, RECORDS),
        Err(BatchError::UnknownVersion(2))
    );
    let last = |batch: &Batch| {
        batch
            .blocks
            .last()
            .unwrap()
            .transactions
            .last()
            .unwrap()
            .clone()
    };
    let with_last = |tx: Transaction| {
        let mut expected = original.clone();
        *expected
            .blocks
            .last_mut()
            .unwrap()
            .transactions
            .last_mut()
            .unwrap() = tx;
        expected
    };
    // The last item cut short, or followed by a byte: that slot alone is undecodable.
    let cut = Batch::decode(&bytes[..bytes.len() - 1], &DOMAIN, RECORDS).unwrap();
    assert_eq!(cut, with_last(Transaction::Undecodable));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        Batch::decode(&trailing, &DOMAIN, RECORDS).unwrap(),
        with_last(Transaction::Undecodable)
    );
    assert_ne!(last(&original), Transaction::Undecodable);
    // Deposits L1 does not have (yet): those slots, and only those, are undecodable.
    let unknown = Batch::decode(&bytes, &DOMAIN, L1Records::NONE).unwrap();
    for (block, held) in unknown.blocks.iter().zip(&original.blocks) {
        assert_eq!(block.transactions.len(), held.transactions.len());
        for (tx, held) in block.transactions.iter().zip(&held.transactions) {
            match held {
                Transaction::Deposit(_) => assert_eq!(tx, &Transaction::Undecodable),
                _ => assert_eq!(tx, held),
            }
        }
    }
}

/// A block of one transaction, encoded.
fn one(tx: Transaction) -> Vec<u8> {
    Batch {
        parent_hash: B256::ZERO,
        blocks: vec![BatchBlock {
            number: 1,
            timestamp_ms: T0,
            transactions: vec![tx],
        }],
    }
    .encode(&DOMAIN)
    .unwrap()
}

/// The item bytes of the only transaction of `one`'s batch, replaced by `item`.
fn with_item(bytes: &[u8], item: &[u8]) -> Vec<u8> {
    let layout = Layout::read(bytes).unwrap();
    let mut out = bytes[..layout.section].to_vec();
    out.extend_from_slice(item);
    out
}

#[test]
fn canonical_bytes_must_decode_be_canonical_and_name_known_records() {
    let forced = ForcedTransaction {
        index: 3,
        sender: Address::repeat_byte(0x5e),
        bytes: vec![1, 2, 3],
    };
    let bytes = one(Transaction::Forced(forced.clone()));
    let recorded = forced.clone();
    let forced_known = move |index: u64| (index == 3).then(|| recorded.clone());
    let known = L1Records {
        deposit: &deposit,
        forced: &forced_known,
    };
    let decoded = |bytes: &[u8], records| {
        Batch::decode(bytes, &DOMAIN, records).unwrap().blocks[0].transactions[0].clone()
    };
    assert_eq!(decoded(&bytes, known), Transaction::Forced(forced.clone()));
    // Not the Portal's record (or not before the batch): undecodable.
    assert_eq!(decoded(&bytes, RECORDS), Transaction::Undecodable);
    let mut other = forced.clone();
    other.bytes = vec![9];
    assert_eq!(
        decoded(&one(Transaction::Forced(other)), known),
        Transaction::Undecodable
    );
    // A canonical action whose recovery byte is 0 (decodes, but re-encodes with 27):
    // not the canonical bytes, so undecodable.
    let action = Transaction::Action(SignedAction {
        action: Action::Transfer(Transfer {
            to: Address::repeat_byte(1),
            amount: 5,
            nonce: 1,
            expiryMs: T0,
        }),
        signature: Signature::new(U256::from(1u8), U256::MAX, false),
    });
    let mut canonical = action.encode();
    assert_eq!(decoded(&one(action.clone()), RECORDS), action);
    *canonical.last_mut().unwrap() = 0;
    assert!(Transaction::decode(&canonical).is_ok());
    let mut item = vec![compact::KIND_CANONICAL];
    varint::write_varint(&mut item, canonical.len() as u128);
    item.extend_from_slice(&canonical);
    assert_eq!(
        decoded(&with_item(&bytes, &item), RECORDS),
        Transaction::Undecodable
    );
    // An undecodable item is carried as its one canonical byte and reads back as such.
    assert_eq!(
        decoded(&one(Transaction::Undecodable), RECORDS),
        Transaction::Undecodable
    );
    // Unknown kinds, empty slots and canonical lengths past the bound.
    for item in [&[0x42][..], &[0xFF, 0x80, 0x80, 0x01], &[0xFF, 0x05, 0x1C]] {
        assert_eq!(
            decoded(&with_item(&bytes, item), RECORDS),
            Transaction::Undecodable,
            "{item:?}"
        );
    }
}

#[test]
fn empty_blocks_round_trip() {
    let mut original = batch(3, 3);
    original.blocks[1].transactions.clear();
    let bytes = original.encode(&DOMAIN).unwrap();
    assert_eq!(Batch::decode(&bytes, &DOMAIN, RECORDS).unwrap(), original);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Corrupt a few bytes of a batch's address table, index or transactions: each slot
    /// decodes alone to what the whole decode gives, and its ranges are all it reads,
    /// undecodable items included (every byte outside them overwritten, it decodes the
    /// same).
    #[test]
    fn every_slot_of_a_corrupted_batch_decodes_alone_from_its_ranges(
        seed in 0u64..1_000_000,
        corruptions in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let original = batch(seed, 2);
        let mut bytes = original.encode(&DOMAIN).unwrap();
        let header = describe_block(&bytes, 0).unwrap().header.end;
        for (at, byte) in &corruptions {
            let i = header + at.index(bytes.len() - header);
            bytes[i] = *byte;
        }
        let Ok(whole) = Batch::decode(&bytes, &DOMAIN, RECORDS) else {
            return Ok(());
        };
        let layout = Layout::read(&bytes).unwrap();
        let index_start = layout.section - 3 * layout.offsets.len();
        let mut index = 0;
        for block in &whole.blocks {
            for (position, tx) in block.transactions.iter().enumerate() {
                prop_assert_eq!(&decode_transaction(&bytes, index, &DOMAIN, RECORDS).unwrap().1, tx);
                let located = locate_transaction(&bytes, block.number, position, &DOMAIN, RECORDS).unwrap();
                prop_assert_eq!(&located.transaction, tx);
                prop_assert_eq!(located.fault.is_some(), tx == &Transaction::Undecodable);
                let mut masked = vec![0xEE; bytes.len()];
                masked[..layout.section].copy_from_slice(&bytes[..layout.section]);
                masked[index_start - 20 * layout.addresses.len()..index_start].fill(0xEE);
                for range in &located.ranges {
                    masked[range.clone()].copy_from_slice(&bytes[range.clone()]);
                }
                let again = locate_transaction(&masked, block.number, position, &DOMAIN, RECORDS).unwrap();
                prop_assert_eq!(&again.transaction, tx);
                index += 1;
            }
        }
    }
}

#[test]
fn encoding_refuses_gaps_and_empty_batches() {
    let mut gap = batch(1, 3);
    gap.blocks[2].number += 1;
    assert!(gap.encode(&DOMAIN).is_err());
    let empty = Batch {
        parent_hash: B256::ZERO,
        blocks: vec![],
    };
    assert!(empty.encode(&DOMAIN).is_err());
}

#[test]
fn a_referenced_maker_fill_costs_a_few_bytes() {
    let maker = order(1, true, 3_000_000_000, 1_000_000, 1);
    let taker = signed(2, order(1, false, 3_000_000_000, 1_000_000, 2));
    let place = Transaction::PlaceOrders {
        bulk: BulkOrders {
            cancels: vec![],
            orders: vec![maker.clone()],
            nonce: 1,
            expiryMs: T0,
        },
        signature: key(1).sign_hash_sync(&B256::ZERO).unwrap(),
    };
    let fill = |size| Transaction::MatchPlaced {
        taker: taker.clone(),
        makers: vec![(maker.clone(), key(1).address(), size)],
    };
    let size_of = |transactions: Vec<Transaction>| {
        Batch {
            parent_hash: B256::ZERO,
            blocks: vec![BatchBlock {
                number: 1,
                timestamp_ms: T0,
                transactions,
            }],
        }
        .encode(&DOMAIN)
        .unwrap()
        .len()
    };
    let one = size_of(vec![place.clone(), fill(1)]);
    let two = size_of(vec![place, fill(1), fill(2)]);
    // The second fill names the taker and the maker by reference: kind, two references,
    // count, owner, size and its 3-byte index entry.
    assert!(two - one <= 14, "a repeated fill costs {} bytes", two - one);
}

#[test]
fn a_compact_list_beyond_the_canonical_bound_is_undecodable() {
    // The compact form counts a list in a byte; the canonical form allows 32 cancels in
    // a bulk placement. A batch carrying 33 (which an honest sequencer never seals)
    // holds an undecodable item there, as the L1 opener reads it.
    let place = |cancels: usize| Transaction::PlaceOrders {
        bulk: BulkOrders {
            cancels: (0..cancels as u64)
                .map(|i| B256::from(alloy_primitives::U256::from(i + 1)))
                .collect(),
            orders: vec![order(1, true, 3_000_000_000, 1_000_000, 1)],
            nonce: 1,
            expiryMs: T0,
        },
        signature: key(1).sign_hash_sync(&B256::ZERO).unwrap(),
    };
    for (cancels, decodes) in [(32, true), (33, false)] {
        let bytes = Batch {
            parent_hash: B256::ZERO,
            blocks: vec![BatchBlock {
                number: 1,
                timestamp_ms: T0,
                transactions: vec![place(cancels)],
            }],
        }
        .encode(&DOMAIN)
        .unwrap();
        let decoded =
            Batch::decode(&bytes, &DOMAIN, RECORDS).unwrap().blocks[0].transactions[0].clone();
        assert_eq!(
            decoded == place(cancels),
            decodes,
            "{cancels} cancels: {decoded:?}"
        );
        assert_eq!(decoded == Transaction::Undecodable, !decodes);
    }
}

#[test]
fn portal_records_name_only_what_l1_recorded_before_the_batch() {
    let mut records = PortalRecords::default();
    let deposit = |index| Deposit {
        index,
        from: Address::repeat_byte(1),
        recipient: Address::repeat_byte(2),
        amount: 5,
    };
    let forced = |index| ForcedTransaction {
        index,
        sender: Address::repeat_byte(3),
        bytes: vec![0xEE],
    };
    records.add_deposit(deposit(0), 10);
    records.add_forced(forced(0), 10);
    records.add_forced(forced(1), 12);
    let seen = |posted_at| {
        records.before(posted_at, |l1| {
            (
                (l1.deposit)(0).is_some(),
                (l1.forced)(0).is_some(),
                (l1.forced)(1).is_some(),
            )
        })
    };
    assert_eq!(
        seen(10),
        (false, false, false),
        "not in the batch's own block"
    );
    assert_eq!(seen(11), (true, true, false));
    assert_eq!(seen(13), (true, true, true));
    assert_eq!(
        records
            .forced_from(1)
            .map(|(r, at)| (r.index, at))
            .collect::<Vec<_>>(),
        [(1, 12)]
    );
    assert_eq!(records.forced(1), Some(&forced(1)));
    records.clear();
    assert_eq!(records.forced(0), None);
}

/// Empty blocks 1 ms apart from block 1: each takes 2 bytes of the block list.
fn empty_blocks(count: usize) -> Batch {
    Batch {
        parent_hash: B256::repeat_byte(0xaa),
        blocks: (0..count as u64)
            .map(|i| BatchBlock {
                number: 1 + i,
                timestamp_ms: T0 + i,
                transactions: Vec::new(),
            })
            .collect(),
    }
}

/// Bytes of the structure head of `count` empty blocks (header 49, block count 2 or
/// fewer, 2 per block, address count 1).
fn head_of(count: usize) -> usize {
    let mut varint = Vec::new();
    varint::write_varint(&mut varint, count as u128);
    49 + varint.len() + 2 * count + 1
}

#[test]
fn a_batch_holds_as_many_blocks_as_fit_its_structure_head_and_no_more() {
    // The most empty blocks whose head fits: 512 = 49 + 2 + 2·230 + 1.
    let fitting = (1..2_000)
        .take_while(|n| head_of(*n) <= STRUCTURE_HEAD_BYTES_MAX)
        .last()
        .unwrap();
    assert_eq!((fitting, head_of(fitting)), (230, STRUCTURE_HEAD_BYTES_MAX));
    let at_bound = empty_blocks(fitting).encode(&DOMAIN).unwrap();
    let decoded = Batch::decode(&at_bound, &DOMAIN, RECORDS).unwrap();
    assert_eq!(decoded.blocks.len(), fitting, "at the bound: a batch");
    assert_eq!(
        empty_blocks(fitting + 1).encode(&DOMAIN),
        Err(BatchError::Unencodable(
            "structure head over 512 bytes: too many blocks for one batch"
        ))
    );
    // Written by hand one block past the bound: malformed, whatever reads it.
    let mut past = at_bound[..49].to_vec();
    varint::write_varint(&mut past, (fitting + 1) as u128);
    for _ in 0..=fitting {
        past.extend_from_slice(&[0, 0]);
    }
    past.push(0);
    assert_eq!(past.len(), head_of(fitting + 1));
    let refused = Err(BatchError::Invalid("structure head over 512 bytes"));
    assert_eq!(Batch::decode(&past, &DOMAIN, RECORDS).map(|_| ()), refused);
    assert_eq!(batch_range(&past).map(|_| ()), refused);
}
