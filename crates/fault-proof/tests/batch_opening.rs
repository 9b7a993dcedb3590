//! Parity of the L1 batch opener (`BatchOpener.sol`) with the Rust batch format: random
//! batches of every compact kind (transfers, withdrawals, mints, margin moves, matches with
//! makers written once and referred to later, matches against placed makers, placements,
//! bulk placements, cancels and bulk cancels by literal hash or by reference, retirements,
//! deposits the Portal recorded) and of kinds carried canonically (auto-deleveraging, oracle
//! updates, high-s signatures), with varints at their bounds and expiries on both sides of
//! the base time, are posted to a real inbox on anvil as calldata and in blobs (one and two
//! blobs). Every transaction (a sample of the two-blob batch, including those crossing
//! the blob boundary) is opened on L1, and its canonical bytes, block, position and the
//! batch header must be what the Rust decoder says. Blob batches are opened from only the
//! field elements `locate_transaction` names, so the ranges are complete. Bad openings are
//! refused by name. Prints the opener's gas by kind (docs/PERFORMANCE.md).

use straddle_testkit as common;

use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use common::{CURVE_ORDER, Rng};
use std::collections::BTreeMap;
use straddle_batch::{Batch, BatchBlock, L1Records, Located, locate_transaction};
use straddle_l1::L1Client;
use straddle_l1::alloy::sol_types::SolError;
use straddle_l1::opening::BatchOpener;
use straddle_l1::opening::{BatchOpening, BlobOpener, OPENING_BYTES, deposit_record};
use straddle_primitives::order::{BulkCancel, BulkOrders, Cancel};
use straddle_primitives::{
    Action, AutoDeleverage, Deposit, DepositMargin, Domain, ForcedTransaction, Mint, Order,
    RetireOrder, SignedAction, SignedCancel, SignedOrder, Transaction, Transfer, Withdraw,
    WithdrawMargin,
};

const DEPOSITS: usize = 8;
const FORCED: usize = 4;
const BASE_MS: u64 = 1_800_000_000_000;

/// Random transactions of every kind the batch format carries.
struct Generator {
    rng: Rng,
    domain: Domain,
    addresses: Vec<Address>,
    /// Orders seen so far (makers and takers are reused, so the encoder refers back).
    orders: Vec<SignedOrder>,
    deposits: Vec<Deposit>,
    forced: Vec<ForcedTransaction>,
}

impl Generator {
    fn value(&mut self) -> u64 {
        match self.rng.below(5) {
            0 => self.rng.below(128),
            1 => self.rng.below(1 << 21),
            2 => self.rng.next(),
            3 => u64::MAX,
            _ => self.rng.below(1 << 40),
        }
    }

    fn amount(&mut self) -> u128 {
        match self.rng.below(4) {
            0 => u128::MAX,
            1 => u128::from(self.rng.next()) << 64 | u128::from(self.rng.next()),
            _ => u128::from(self.value()),
        }
    }

    fn expiry(&mut self) -> u64 {
        match self.rng.below(5) {
            0 => 0,
            1 => u64::MAX,
            2 => BASE_MS - self.rng.below(1 << 30),
            _ => BASE_MS + self.rng.below(1 << 30),
        }
    }

    fn address(&mut self) -> Address {
        if self.rng.chance(70) {
            self.addresses[self.rng.below(self.addresses.len() as u64) as usize]
        } else {
            let address = Address::from_word(B256::from(U256::from(self.rng.next())));
            self.addresses.push(address);
            address
        }
    }

    /// A signature whose `s` fits 255 bits (compactable), or a high-s one (not).
    fn signature(&mut self, high_s: bool) -> Signature {
        let word =
            |rng: &mut Rng| U256::from_limbs([rng.next(), rng.next(), rng.next(), rng.next() >> 2]);
        let r = word(&mut self.rng);
        let s = word(&mut self.rng);
        let s = if high_s { CURVE_ORDER - s } else { s };
        Signature::new(r, s, self.rng.chance(50))
    }

    fn order(&mut self) -> SignedOrder {
        if !self.orders.is_empty() && self.rng.chance(40) {
            return self.orders[self.rng.below(self.orders.len() as u64) as usize].clone();
        }
        let order = Order {
            market: if self.rng.chance(20) {
                u32::MAX
            } else {
                self.rng.below(40) as u32
            },
            isBuy: self.rng.chance(50),
            limitPrice: self.value(),
            size: self.value(),
            timeInForce: self.rng.below(64) as u8,
            reduceOnly: self.rng.chance(30),
            expiryMs: self.expiry(),
            clientOrderId: self.value(),
            nonce: self.value(),
        };
        let signed = SignedOrder {
            order,
            signature: self.signature(false),
        };
        self.orders.push(signed.clone());
        signed
    }

    fn order_hash(&mut self) -> B256 {
        if self.rng.chance(70) {
            self.order().order.hash(&self.domain)
        } else {
            B256::from(U256::from(self.rng.next()))
        }
    }

    fn transaction(&mut self) -> Transaction {
        match self.rng.below(11) {
            0 | 1 => self.action(false),
            2 => Transaction::Match {
                taker: self.order(),
                makers: (0..1 + self.rng.below(4))
                    .map(|_| (self.order(), self.value()))
                    .collect(),
            },
            3 => Transaction::MatchPlaced {
                taker: self.order(),
                makers: (0..1 + self.rng.below(4))
                    .map(|_| (self.order().order, self.address(), self.value()))
                    .collect(),
            },
            4 => Transaction::PlaceOrder(self.order()),
            5 => Transaction::PlaceOrders {
                bulk: BulkOrders {
                    cancels: (0..self.rng.below(4)).map(|_| self.order_hash()).collect(),
                    orders: (0..1 + self.rng.below(5))
                        .map(|_| self.order().order)
                        .collect(),
                    nonce: self.value(),
                    expiryMs: self.expiry(),
                },
                signature: self.signature(false),
            },
            6 => Transaction::Cancel(SignedCancel {
                cancel: Cancel {
                    orderHash: self.order_hash(),
                    nonce: self.value(),
                    expiryMs: self.expiry(),
                },
                signature: self.signature(false),
            }),
            7 => Transaction::BulkCancel {
                cancel: BulkCancel {
                    orderHashes: (0..1 + self.rng.below(6))
                        .map(|_| self.order_hash())
                        .collect(),
                    nonce: self.value(),
                    expiryMs: self.expiry(),
                },
                signature: self.signature(false),
            },
            8 => Transaction::RetireOrder(RetireOrder {
                owner: self.address(),
                order_hash: self.order_hash(),
            }),
            9 if !self.deposits.is_empty() => Transaction::Deposit(self.deposits.remove(0)),
            9 if !self.forced.is_empty() => Transaction::Forced(self.forced.remove(0)),
            _ => match self.rng.below(3) {
                0 => Transaction::AutoDeleverage(AutoDeleverage {
                    target: self.address(),
                    market: self.rng.below(40) as u32,
                    counterparty: self.address(),
                    size: self.value(),
                }),
                1 => common::oracle_update(&[0, 1], self.value()),
                _ => self.action(true),
            },
        }
    }

    fn action(&mut self, high_s: bool) -> Transaction {
        let (amount, nonce, expiry) = (self.amount(), self.value(), self.expiry());
        let action = match self.rng.below(5) {
            0 => Action::Transfer(Transfer {
                to: self.address(),
                amount,
                nonce,
                expiryMs: expiry,
            }),
            1 => Action::Withdraw(Withdraw {
                recipient: self.address(),
                amount,
                nonce,
                expiryMs: expiry,
            }),
            2 => Action::Mint(Mint {
                to: self.address(),
                amount,
                nonce,
                expiryMs: expiry,
            }),
            3 => Action::DepositMargin(DepositMargin {
                amount,
                nonce,
                expiryMs: expiry,
            }),
            _ => Action::WithdrawMargin(WithdrawMargin {
                amount,
                nonce,
                expiryMs: expiry,
            }),
        };
        Transaction::Action(SignedAction {
            action,
            signature: self.signature(high_s),
        })
    }

    /// `blocks` consecutive blocks from `first`, `per_block` transactions each.
    fn batch(&mut self, first: u64, blocks: usize, per_block: usize) -> Batch {
        Batch {
            parent_hash: B256::from(U256::from(self.rng.next())),
            blocks: (0..blocks as u64)
                .map(|i| BatchBlock {
                    number: first + i,
                    timestamp_ms: BASE_MS + i * 1_000 + self.rng.below(1_000),
                    transactions: (0..per_block).map(|_| self.transaction()).collect(),
                })
                .collect(),
        }
    }
}

fn kind_name(tx: &Transaction) -> &'static str {
    match tx {
        Transaction::Action(signed) => match signed.action {
            Action::Transfer(_) => "transfer",
            Action::Withdraw(_) => "withdrawal",
            Action::Mint(_) => "mint",
            Action::DepositMargin(_) => "margin deposit",
            Action::WithdrawMargin(_) => "margin withdrawal",
        },
        Transaction::Match { .. } => "match",
        Transaction::MatchPlaced { .. } => "match against placed",
        Transaction::PlaceOrder(_) => "placement",
        Transaction::PlaceOrders { .. } => "bulk placement",
        Transaction::Cancel(_) => "cancel",
        Transaction::BulkCancel { .. } => "bulk cancel",
        Transaction::RetireOrder(_) => "retirement",
        Transaction::Deposit(_) => "deposit",
        Transaction::Forced(_) => "forced",
        Transaction::Undecodable => "undecodable",
        _ => "carried canonically",
    }
}

fn record_of(tx: &Transaction) -> Bytes {
    match tx {
        Transaction::Deposit(d) => deposit_record(d.from, d.recipient, d.amount),
        _ => Bytes::new(),
    }
}

/// The test's view of one posted batch.
struct Posted {
    index: u64,
    batch: Batch,
    bytes: Vec<u8>,
    blobs: Option<std::sync::Mutex<BlobOpener>>,
}

impl Posted {
    fn opening(&self, located: &Located) -> BatchOpening {
        match &self.blobs {
            None => BatchOpening::Calldata(self.bytes.clone().into()),
            Some(blobs) => {
                BatchOpening::Blobs(blobs.lock().unwrap().openings(&located.ranges).unwrap())
            }
        }
    }
}

/// Opens transaction `position` of its block, `located`, on L1 and checks it against the
/// batch; returns the call's gas.
async fn open_and_check(
    l1: &L1Client,
    opener: Address,
    posted: &Posted,
    located: &Located,
    position: usize,
) -> u64 {
    let block = &posted.batch.blocks[(located.block - posted.batch.blocks[0].number) as usize];
    let opening = posted.opening(located);
    let record = record_of(&located.transaction);
    let opened = l1
        .open_transaction(
            opener,
            posted.index,
            located.block,
            position as u32,
            &opening,
            record.clone(),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "opening {} at block {} position {position} (ranges {:?}, batch of {} bytes): {e}",
                kind_name(&located.transaction),
                located.block,
                located.ranges,
                posted.bytes.len()
            )
        });
    assert_eq!(
        opened.transaction.as_ref(),
        located.transaction.encode().as_slice(),
        "the opener decodes {} as the Rust batch format does",
        kind_name(&located.transaction)
    );
    assert_eq!(opened.blockNumber, located.block);
    assert_eq!(opened.position as usize, position);
    assert_eq!(opened.blockTransactions as usize, block.transactions.len());
    assert_eq!(opened.timestampMs, block.timestamp_ms);
    assert_eq!(opened.firstBlock, posted.batch.blocks[0].number);
    assert_eq!(opened.lastBlock, posted.batch.blocks.last().unwrap().number);
    assert_eq!(opened.parentHash, posted.batch.parent_hash);
    l1.open_transaction_gas(
        opener,
        posted.index,
        located.block,
        position as u32,
        &opening,
        record,
    )
    .await
    .unwrap()
}

/// The Portal's records, all made before any batch of the test is posted.
struct Recorded {
    deposits: Vec<Deposit>,
    forced: Vec<ForcedTransaction>,
}

impl Recorded {
    fn with<T>(&self, read: impl FnOnce(L1Records<'_>) -> T) -> T {
        let deposit = |index: u64| self.deposits.iter().find(|d| d.index == index).copied();
        let forced = |index: u64| self.forced.iter().find(|f| f.index == index).cloned();
        read(L1Records {
            deposit: &deposit,
            forced: &forced,
        })
    }

    fn locate(&self, posted: &Posted, block: u64, position: usize, domain: &Domain) -> Located {
        self.with(|records| {
            locate_transaction(&posted.bytes, block, position, domain, records).unwrap()
        })
    }

    fn decode(&self, bytes: &[u8], domain: &Domain) -> Batch {
        self.with(|records| Batch::decode(bytes, domain, records).unwrap())
    }
}

/// Posts `bytes` as batch `index` (calldata or blobs).
async fn post(
    l1: &L1Client,
    inbox: Address,
    index: u64,
    batch: Batch,
    bytes: Vec<u8>,
    in_blobs: bool,
) -> Posted {
    let blobs = if in_blobs {
        let sidecar = l1.sidecar_kind().await.unwrap();
        l1.post_blobs(inbox, &bytes, sidecar).await.unwrap();
        let blobs = straddle_l1::blobs::pack(&bytes).unwrap();
        Some(std::sync::Mutex::new(BlobOpener::new(blobs).unwrap()))
    } else {
        l1.post_calldata(inbox, bytes.clone().into()).await.unwrap();
        None
    };
    Posted {
        index,
        batch,
        bytes,
        blobs,
    }
}

/// Anvil with the devnet genesis's contracts, dev 0's client on it, and the genesis's
/// signing domain.
async fn opener_chain() -> (
    straddle_l1::Anvil,
    L1Client,
    Domain,
    straddle_l1::Deployment,
) {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let genesis = common::genesis();
    let deployment = common::deploy_for(&l1, &genesis).await;
    (anvil, l1, genesis.domain, deployment)
}

/// Whether `result` is a revert with error `E`.
fn reverted_with<E: SolError, T: std::fmt::Debug>(result: Result<T, straddle_l1::L1Error>) -> bool {
    match result {
        Ok(value) => panic!("expected {}, got {value:?}", E::SIGNATURE),
        Err(e) => format!("{e}").contains(&alloy_primitives::hex::encode(E::SELECTOR)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_l1_opener_reads_every_transaction_as_the_rust_batch_format_does() {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let genesis = common::genesis();
    let deployment = common::deploy_for(&l1, &genesis).await;
    let opener = deployment.batch_opener;

    // Deposits the Portal records: a batch names them by index.
    l1.mint_test_collateral(deployment.collateral, l1.address(), 1 << 60)
        .await
        .unwrap();
    for i in 0..DEPOSITS {
        let recipient = common::signer(i % 10).address();
        l1.deposit(
            deployment.collateral,
            deployment.portal,
            recipient,
            1_000_000 + i as u128,
        )
        .await
        .unwrap();
    }
    let latest = l1.block_number().await.unwrap();
    let deposits: Vec<Deposit> =
        straddle_l1::deposits_between(&l1, deployment.portal, deployment.start_block, latest)
            .await
            .unwrap()
            .into_iter()
            .map(|log| log.deposit)
            .collect();
    assert_eq!(deposits.len(), DEPOSITS);
    // Forced transactions the Portal records (any bytes: the batch carries them as they are).
    let mut forced = Vec::new();
    for i in 0..FORCED {
        let bytes = common::oracle_update(&[0], i as u64).encode();
        let index = l1
            .force_transaction(deployment.portal, bytes.clone().into())
            .await
            .unwrap();
        forced.push(ForcedTransaction {
            index,
            sender: l1.address(),
            bytes,
        });
    }

    let recorded = Recorded {
        deposits: deposits.clone(),
        forced: forced.clone(),
    };
    let mut generator = Generator {
        rng: Rng(0x0BE7_BA7C),
        domain: genesis.domain,
        addresses: (0..10).map(|i| common::signer(i).address()).collect(),
        orders: Vec::new(),
        deposits,
        forced,
    };
    let mut posted = Vec::new();
    // A calldata batch, a one-blob batch and a two-blob batch.
    for (index, (first, blocks, per_block, in_blobs)) in
        [(1, 4, 12, false), (5, 3, 14, true), (8, 3, 450, true)]
            .into_iter()
            .enumerate()
    {
        let batch = generator.batch(first, blocks, per_block);
        let bytes = batch.encode(&genesis.domain).unwrap();
        let inbox = deployment.batch_inbox;
        posted.push(post(&l1, inbox, index as u64, batch, bytes, in_blobs).await);
    }
    assert_eq!(
        straddle_l1::blobs::blobs_needed(posted[2].bytes.len()),
        2,
        "the large batch spans two blobs ({} bytes)",
        posted[2].bytes.len()
    );

    let mut gas: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut opened = 0;
    for posted in &posted {
        let how = if posted.blobs.is_some() {
            "blobs"
        } else {
            "calldata"
        };
        let boundary = straddle_l1::blobs::PAYLOAD_BYTES_PER_BLOB - 4;
        let mut count = 0usize;
        for block in &posted.batch.blocks {
            for position in 0..block.transactions.len() {
                count += 1;
                let located = recorded.locate(posted, block.number, position, &genesis.domain);
                // The two-blob batch: a sample, and every transaction near the boundary.
                let near_boundary = located
                    .ranges
                    .iter()
                    .any(|r| r.start.abs_diff(boundary) < 600 || r.end.abs_diff(boundary) < 600);
                if posted.batch.blocks.len() == 3
                    && block.transactions.len() > 100
                    && !near_boundary
                    && !count.is_multiple_of(40)
                {
                    continue;
                }
                let used = open_and_check(&l1, opener, posted, &located, position).await;
                let entry = gas
                    .entry((how, kind_name(&located.transaction)))
                    .or_default();
                *entry = (*entry).max(used);
                opened += 1;
            }
        }
    }
    for p in &posted {
        println!(
            "batch {}: {} blocks, {} transactions, {} bytes",
            p.index,
            p.batch.blocks.len(),
            p.batch
                .blocks
                .iter()
                .map(|b| b.transactions.len())
                .sum::<usize>(),
            p.bytes.len()
        );
    }
    println!("opened {opened} transactions on L1; worst gas by posting and kind:");
    for ((how, kind), used) in &gas {
        println!("  {how:8} {kind:22} {used}");
    }
    for kind in [
        "transfer",
        "withdrawal",
        "mint",
        "margin deposit",
        "margin withdrawal",
        "match",
        "match against placed",
        "placement",
        "bulk placement",
        "cancel",
        "bulk cancel",
        "retirement",
        "deposit",
        "forced",
        "carried canonically",
    ] {
        assert!(
            gas.contains_key(&("calldata", kind)) || gas.contains_key(&("blobs", kind)),
            "the batches hold a {kind}"
        );
    }

    // Bad openings are refused by name.
    let calldata = &posted[0];
    let one_blob = &posted[1];
    let first = calldata.batch.blocks[0].number;
    let mut tampered = calldata.bytes.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let open =
        |posted: &Posted, block: u64, position: u32, opening: BatchOpening, record: Bytes| {
            let (l1, index) = (l1.clone(), posted.index);
            async move {
                l1.open_transaction(opener, index, block, position, &opening, record)
                    .await
            }
        };
    assert!(reverted_with::<BatchOpener::CommitmentMismatch, _>(
        open(
            calldata,
            first,
            0,
            BatchOpening::Calldata(tampered.into()),
            Bytes::new()
        )
        .await
    ));
    let blob_block = one_blob.batch.blocks[1].number;
    let located_blob = recorded.locate(one_blob, blob_block, 2, &genesis.domain);
    let good = one_blob.opening(&located_blob);
    let BatchOpening::Blobs(good) = good else {
        unreachable!("a blob batch")
    };
    let mut wrong_payload = good.to_vec();
    wrong_payload[2 + OPENING_BYTES + 4 + 7] ^= 0x40;
    assert!(reverted_with::<BatchOpener::ElementNotProven, _>(
        open(
            one_blob,
            blob_block,
            2,
            BatchOpening::Blobs(wrong_payload.into()),
            record_of(&located_blob.transaction)
        )
        .await
    ));
    // Drop the last element the transaction needs.
    let count = u16::from_be_bytes([good[0], good[1]]);
    let mut missing = (count - 1).to_be_bytes().to_vec();
    missing.extend_from_slice(&good[2..good.len() - OPENING_BYTES]);
    assert!(reverted_with::<BatchOpener::NotOpened, _>(
        open(
            one_blob,
            blob_block,
            2,
            BatchOpening::Blobs(missing.into()),
            record_of(&located_blob.transaction)
        )
        .await
    ));
    assert!(reverted_with::<BatchOpener::WrongPosting, _>(
        open(
            calldata,
            first,
            0,
            BatchOpening::Blobs(good.clone()),
            Bytes::new()
        )
        .await
    ));
    let whole = BatchOpening::Calldata(calldata.bytes.clone().into());
    let size = calldata.batch.blocks[0].transactions.len() as u32;
    assert!(reverted_with::<BatchOpener::NoSuchTransaction, _>(
        open(calldata, first, size, whole.clone(), Bytes::new()).await
    ));
    assert!(reverted_with::<BatchOpener::NoSuchTransaction, _>(
        open(calldata, first + 4, 0, whole.clone(), Bytes::new()).await
    ));
    // A deposit opened with another record than the Portal's.
    let (deposit_block, deposit_position, deposit) = posted
        .iter()
        .take(1)
        .flat_map(|p| &p.batch.blocks)
        .find_map(|b| {
            b.transactions
                .iter()
                .enumerate()
                .find_map(|(i, tx)| match tx {
                    Transaction::Deposit(d) => Some((b.number, i as u32, *d)),
                    _ => None,
                })
        })
        .expect("the calldata batch holds a deposit");
    assert!(reverted_with::<BatchOpener::WrongDepositRecord, _>(
        open(
            calldata,
            deposit_block,
            deposit_position,
            whole.clone(),
            deposit_record(deposit.from, deposit.recipient, deposit.amount + 1)
        )
        .await
    ));
    assert!(reverted_with::<BatchOpener::WrongDepositRecord, _>(
        open(
            calldata,
            deposit_block,
            deposit_position,
            whole,
            Bytes::new()
        )
        .await
    ));

    // Malformed items: corrupted batches and items that name what L1 does not have open
    // on L1 exactly as the Rust decoder reads them (0xFE where it finds a fault), from
    // the ranges `locate_transaction` names, faults included.
    let mut undecodable = 0;
    let mut decodable = 0;
    let first_index = posted.len() as u64;
    for variant in 0..6u64 {
        let in_blobs = variant % 2 == 1;
        let bytes = if variant == 0 {
            crafted(&mut generator, &recorded)
                .encode(&genesis.domain)
                .unwrap()
        } else {
            let mut bytes = generator
                .batch(20 + 10 * variant, 2, 10)
                .encode(&genesis.domain)
                .unwrap();
            let header = straddle_batch::describe_block(&bytes, 0)
                .unwrap()
                .header
                .end;
            for _ in 0..2 + variant {
                let at = header + generator.rng.below((bytes.len() - header) as u64) as usize;
                bytes[at] = generator.rng.next() as u8;
            }
            bytes
        };
        let batch = recorded.decode(&bytes, &genesis.domain);
        let inbox = deployment.batch_inbox;
        let posted = post(&l1, inbox, first_index + variant, batch, bytes, in_blobs).await;
        for block in &posted.batch.blocks {
            for (position, tx) in block.transactions.iter().enumerate() {
                let located = recorded.locate(&posted, block.number, position, &genesis.domain);
                assert_eq!(
                    &located.transaction, tx,
                    "a slot decodes alone as in the whole"
                );
                if located.transaction == Transaction::Undecodable {
                    undecodable += 1;
                } else {
                    decodable += 1;
                }
                let used = open_and_check(&l1, opener, &posted, &located, position).await;
                let how = if in_blobs { "blobs" } else { "calldata" };
                let entry = gas
                    .entry((how, kind_name(&located.transaction)))
                    .or_default();
                *entry = (*entry).max(used);
            }
        }
    }
    println!(
        "malformed batches: {undecodable} undecodable items, {decodable} others, all as in Rust"
    );
    for ((how, kind), used) in gas.iter().filter(|((_, kind), _)| *kind == "undecodable") {
        println!("  {how:8} {kind:22} {used}");
    }
    assert!(
        undecodable >= 6 && decodable >= 10,
        "{undecodable} / {decodable}"
    );
}

/// One block of items that decode but name what L1 does not have or break a bound, and
/// the undecodable item itself, between ordinary transactions.
fn crafted(generator: &mut Generator, recorded: &Recorded) -> Batch {
    let mut unknown_forced = recorded.forced[0].clone();
    unknown_forced.bytes.push(0);
    let late_deposit = Deposit {
        index: recorded.deposits.len() as u64 + 5,
        ..recorded.deposits[0]
    };
    let too_many_cancels = Transaction::PlaceOrders {
        bulk: BulkOrders {
            cancels: (0..33u64).map(|i| B256::from(U256::from(i + 1))).collect(),
            orders: vec![generator.order().order],
            nonce: 1,
            expiryMs: BASE_MS,
        },
        signature: generator.signature(false),
    };
    let mut transactions = vec![
        Transaction::Deposit(late_deposit),
        Transaction::Forced(unknown_forced),
        too_many_cancels,
        Transaction::Undecodable,
        Transaction::Deposit(recorded.deposits[1]),
        Transaction::Forced(recorded.forced[1].clone()),
    ];
    for i in 0..6 {
        transactions.insert(2 * i, generator.transaction());
    }
    Batch {
        parent_hash: B256::repeat_byte(0x11),
        blocks: vec![BatchBlock {
            number: 40,
            timestamp_ms: BASE_MS,
            transactions,
        }],
    }
}

/// `count` blocks of one second each from block 1, empty but the last, which holds
/// `last`.
fn blocks_ending_with(count: usize, last: Transaction) -> Batch {
    Batch {
        parent_hash: B256::repeat_byte(0x42),
        blocks: (0..count as u64)
            .map(|i| BatchBlock {
                number: 1 + i,
                timestamp_ms: BASE_MS + i,
                transactions: if i + 1 == count as u64 {
                    vec![last.clone()]
                } else {
                    Vec::new()
                },
            })
            .collect(),
    }
}

/// The dispute game's bound on batch openings (`STRUCTURE_HEAD_BYTES_MAX`): at the bound,
/// in blobs, the last block of the longest batch is described and its transaction opened
/// within 3 M gas; one block past the bound, the batch (written by hand: the encoder
/// refuses it) is shown malformed from its first 512 bytes. Prints the gas
/// (docs/PERFORMANCE.md).
#[tokio::test(flavor = "multi_thread")]
async fn the_opener_reads_a_batch_at_the_structure_bound_and_refuses_one_past_it() {
    use straddle_batch::{STRUCTURE_HEAD_BYTES_MAX, describe_block};
    use straddle_l1::alloy::sol_types::SolCall;
    let (_anvil, l1, domain, deployment) = opener_chain().await;
    let opener = deployment.batch_opener;
    let action = Action::Transfer(Transfer {
        to: common::signer(1).address(),
        amount: 5_000_000,
        nonce: 1,
        expiryMs: u64::MAX,
    });
    let signature =
        alloy_signer::SignerSync::sign_hash_sync(&common::signer(0), &action.signing_hash(&domain))
            .unwrap();
    let transfer = Transaction::Action(SignedAction { action, signature });
    // 230 blocks: header 49, block count 2, 2 bytes a block, address count 1 = 512.
    let at_bound = blocks_ending_with(230, transfer.clone());
    let bytes = at_bound.encode(&domain).unwrap();
    assert!(blocks_ending_with(231, transfer).encode(&domain).is_err());
    let none = Recorded {
        deposits: Vec::new(),
        forced: Vec::new(),
    };
    let posted = post(&l1, deployment.batch_inbox, 0, at_bound, bytes, true).await;
    let located = none.locate(&posted, 230, 0, &domain);
    let open_gas = open_and_check(&l1, opener, &posted, &located, 0).await;
    let header = describe_block(&posted.bytes, 230).unwrap().header;
    assert_eq!(
        header.end, STRUCTURE_HEAD_BYTES_MAX,
        "the head fills the bound"
    );
    let describe = |openings: Bytes, block: u64| BatchOpener::describeBlobsCall {
        index: U256::ZERO,
        blockNumber: block,
        openings,
    };
    let header_openings = posted
        .blobs
        .as_ref()
        .unwrap()
        .lock()
        .unwrap()
        .openings(std::slice::from_ref(&header))
        .unwrap();
    let described = l1
        .view(opener, &describe(header_openings.clone(), 230))
        .await
        .unwrap();
    assert_eq!((described.firstBlock, described.lastBlock), (1, 230));
    let describe_gas = l1
        .call_gas(opener, describe(header_openings, 230).abi_encode().into())
        .await
        .unwrap();

    // One block past the bound, by hand: the head runs to byte 514.
    let mut past = posted.bytes[..49].to_vec();
    straddle_batch::varint::write_varint(&mut past, 231);
    for _ in 0..231 {
        past.extend_from_slice(&[0, 0]);
    }
    past.extend_from_slice(&[0; 64]);
    let refused = post(
        &l1,
        deployment.batch_inbox,
        1,
        blocks_ending_with(1, Transaction::Undecodable),
        past.clone(),
        true,
    )
    .await;
    let malformed_openings = refused
        .blobs
        .as_ref()
        .unwrap()
        .lock()
        .unwrap()
        .openings(std::slice::from_ref(&(0..STRUCTURE_HEAD_BYTES_MAX)))
        .unwrap();
    let describe_past = BatchOpener::describeBlobsCall {
        index: U256::from(1),
        blockNumber: 1,
        openings: malformed_openings.clone(),
    };
    assert!(
        reverted_with::<BatchOpener::Truncated, _>(l1.view(opener, &describe_past).await),
        "one block past the bound: malformed (the opener reads no head byte past the bound)"
    );
    assert!(straddle_batch::batch_range(&past).is_err());
    let elements = u16::from_be_bytes([malformed_openings[0], malformed_openings[1]]);
    println!(
        "structure bound ({STRUCTURE_HEAD_BYTES_MAX} bytes, 230 blocks) in blobs: describe {describe_gas} gas, open the last block's transfer {open_gas} gas; a head past it shown malformed from {elements} field elements"
    );
    assert!(describe_gas <= 3_000_000 && open_gas <= 3_000_000);
}

/// An element's first byte (zero as the batcher packs it) is read by neither side: a
/// batch whose elements carry other first bytes, in its length, its head, its
/// transactions or past it, is the same batch to derivation and to the L1 opener,
/// whichever elements are opened. (Were it judged, a side could make a batch look
/// well formed by leaving the element that is not out of its opening.)
#[tokio::test(flavor = "multi_thread")]
async fn an_elements_first_byte_is_read_by_neither_side() {
    use straddle_l1::blobs::{pack, unpack};
    let (_anvil, l1, domain, deployment) = opener_chain().await;
    let opener = deployment.batch_opener;
    let batch = blocks_ending_with(40, Transaction::Undecodable);
    let bytes = batch.encode(&domain).unwrap();
    let header = straddle_batch::describe_block(&bytes, 1).unwrap().header;
    let last = (4 + bytes.len() - 1) / 31;
    let mut blobs = pack(&bytes).unwrap();
    for element in [0, 1, last, last + 1] {
        blobs[0][element * 32] = 0x5a;
    }
    assert_eq!(unpack(&blobs).unwrap(), bytes, "derivation reads the batch");
    let kind = l1.sidecar_kind().await.unwrap();
    l1.post_packed_blobs(deployment.batch_inbox, blobs.clone(), kind)
        .await
        .unwrap();
    let mut blob_opener = BlobOpener::new(blobs).unwrap();
    let head: std::collections::BTreeSet<usize> = (0..=(header.end + 3) / 31).collect();
    for extra in [None, Some(last), Some(last + 1)] {
        let mut elements = head.clone();
        elements.extend(extra);
        let openings = blob_opener.element_openings(elements).unwrap();
        let described = l1
            .view(
                opener,
                &BatchOpener::describeBlobsCall {
                    index: U256::ZERO,
                    blockNumber: 1,
                    openings,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (described.firstBlock, described.lastBlock),
            (1, 40),
            "the opener reads the same batch, opening {extra:?} too"
        );
    }
}
