//! How fast derivation reads batches: `Batch::decode` (every slot decoded alone, each
//! order reference followed to its literal) over a batch shaped like the devnet's load
//! (bulk placements of 10-order ladders, matches against placed makers that name them by
//! reference, cancels by reference, transfers), and `decode_transaction` of every slot
//! one by one (what a dispute's evidence does).
//!
//! `cargo bench -p straddle-batch --bench decode`

use alloy_primitives::{Address, B256, Signature, U256};
use std::time::Instant;
use straddle_batch::{Batch, BatchBlock, L1Records, decode_transaction};
use straddle_primitives::order::{BulkOrders, Cancel};
use straddle_primitives::{
    Action, Domain, Order, SignedAction, SignedCancel, SignedOrder, Transaction, Transfer,
};

const DOMAIN: Domain = Domain {
    chain_id: 1,
    verifying_contract: Address::ZERO,
};
const NOW: u64 = 1_800_000_000_000;

/// A deterministic low-s signature (decoding does not verify it).
fn signature(seed: u64) -> Signature {
    let word = |k: u64| U256::from(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k) << 64;
    Signature::new(
        word(1) + U256::from(1u8),
        word(2) + U256::from(1u8),
        seed.is_multiple_of(2),
    )
}

fn order(maker: u64, level: u64, nonce: u64) -> Order {
    Order {
        market: (maker % 4) as u32,
        isBuy: level.is_multiple_of(2),
        limitPrice: 3_000_000_000 + level * 1_000_000,
        size: 1_000_000 + level,
        timeInForce: 0,
        reduceOnly: false,
        expiryMs: NOW + 60_000,
        clientOrderId: nonce,
        nonce,
    }
}

/// Blocks of 100 transactions: per maker a ladder of 10 quotes, then matches taking
/// them, a cancel naming one, and transfers.
fn blocks(count: u64) -> Vec<BatchBlock> {
    (0..count)
        .map(|b| {
            let mut transactions = Vec::new();
            for maker in 0..8u64 {
                let nonce = b * 1_000 + maker * 10;
                let ladder: Vec<Order> = (0..10).map(|l| order(maker, l, nonce + l)).collect();
                transactions.push(Transaction::PlaceOrders {
                    bulk: BulkOrders {
                        cancels: vec![],
                        orders: ladder.clone(),
                        nonce,
                        expiryMs: NOW + 60_000,
                    },
                    signature: signature(nonce),
                });
                let owner = Address::from_word(B256::from(U256::from(maker + 1)));
                for taker in 0..8u64 {
                    transactions.push(Transaction::MatchPlaced {
                        taker: SignedOrder {
                            order: order(100 + taker, taker, nonce + 100 + taker),
                            signature: signature(nonce + 100 + taker),
                        },
                        makers: vec![(ladder[taker as usize].clone(), owner, 1_000)],
                    });
                }
                transactions.push(Transaction::Cancel(SignedCancel {
                    cancel: Cancel {
                        orderHash: ladder[9].hash(&DOMAIN),
                        nonce: nonce + 9,
                        expiryMs: NOW + 60_000,
                    },
                    signature: signature(nonce + 9),
                }));
            }
            while transactions.len() < 100 {
                let n = b * 1_000 + transactions.len() as u64;
                transactions.push(Transaction::Action(SignedAction {
                    action: Action::Transfer(Transfer {
                        to: Address::from_word(B256::from(U256::from(n % 50))),
                        amount: 1_000 + u128::from(n),
                        nonce: n,
                        expiryMs: NOW + 60_000,
                    }),
                    signature: signature(n),
                }));
            }
            BatchBlock {
                number: 1 + b,
                timestamp_ms: NOW + b * 100,
                transactions,
            }
        })
        .collect()
}

fn main() {
    let batch = Batch {
        parent_hash: B256::repeat_byte(1),
        blocks: blocks(80),
    };
    let bytes = batch.encode(&DOMAIN).expect("the batch encodes");
    let transactions: usize = batch.blocks.iter().map(|b| b.transactions.len()).sum();
    let records = L1Records::NONE;
    assert_eq!(Batch::decode(&bytes, &DOMAIN, records).unwrap(), batch);

    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(Batch::decode(&bytes, &DOMAIN, records).unwrap());
    }
    let whole = start.elapsed() / rounds;
    let start = Instant::now();
    for index in 0..transactions {
        std::hint::black_box(decode_transaction(&bytes, index, &DOMAIN, records).unwrap());
    }
    let alone = start.elapsed();
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "batch: {} blocks, {transactions} transactions, {} bytes",
        batch.blocks.len(),
        bytes.len()
    );
    println!(
        "Batch::decode            {:>8.2} ms   {:>6.1} MB/s   {:>9.0} tx/s",
        whole.as_secs_f64() * 1e3,
        mb / whole.as_secs_f64(),
        transactions as f64 / whole.as_secs_f64()
    );
    println!(
        "decode_transaction, each {:>8.2} ms   {:>6.1} MB/s   {:>9.0} tx/s",
        alone.as_secs_f64() * 1e3,
        mb / alone.as_secs_f64(),
        transactions as f64 / alone.as_secs_f64()
    );
}
