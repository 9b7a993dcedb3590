//! Parity of the L1 one-step prover (deployed with the chain's contracts, so it checks
//! deposits and forced transactions against a real Portal) with the Rust STF: thousands of random deposits,
//! transfers, withdrawals, margin deposits and forced transactions (valid ones and every kind of refusal:
//! replayed, stale and far nonces, expired, zero, overdrawn, out-of-order deposits and
//! forced indices, supply-cap breaches, high-s and foreign signatures, forced payloads
//! that do not decode or may not be forced), cancels and bulk cancels (of placed orders,
//! of unknown ones, repeated, expired), order placements and bulk placements (resting,
//! and refused: off the grid, zero size, unknown market, immediate, expired, placed
//! before, named twice, cancelled by the same request) run through the
//! node's execution and through
//! `StepProver.execute` on a real anvil, and the post-state roots must be equal after
//! every transaction. Also prints the prover's gas per kind (docs/PERFORMANCE.md).

use straddle_testkit as common;

use common::{CURVE_ORDER, Rng};

use alloy_primitives::{Address, B256, Signature, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;
use straddle_chain::Chain;
use straddle_exchange::{BlockContext, StateKey};
use straddle_fault_proof::step::{execute_into_tree, execute_step, step_keys, unchanged_witness};
use straddle_l1::L1Client;
use straddle_l1::disputes::StepInput;
use straddle_primitives::{
    Action, BulkCancel, BulkOrders, Cancel, Deposit, DepositMargin, ForcedTransaction, Mint, Order,
    SignedAction, SignedCancel, SignedOrder, Transaction, Transfer, VerifiedTransaction, Withdraw,
    WithdrawMargin,
};

const TRANSACTIONS: usize = 2_500;
const SIGNERS: usize = 6;

struct Generator {
    rng: Rng,
    signers: Vec<PrivateKeySigner>,
    strangers: Vec<Address>,
    next_nonce: Vec<u64>,
    /// Order hashes each signer has placed (their records carry a placement).
    placed: Vec<Vec<B256>>,
    /// Placements generated so far (sent again now and then: refused as placed).
    placements: Vec<SignedOrder>,
}

impl Generator {
    fn address(&mut self) -> Address {
        let i = self.rng.below((SIGNERS + self.strangers.len()) as u64) as usize;
        match self.signers.get(i) {
            Some(signer) => signer.address(),
            None => self.strangers[i - SIGNERS],
        }
    }

    fn amount(&mut self, balance: u128) -> u128 {
        match self.rng.below(20) {
            0 => 0,
            1 => balance,
            2 => balance.saturating_add(1 + self.rng.below(1_000) as u128),
            3 => u128::MAX - self.rng.below(10) as u128,
            _ => 1 + self.rng.below(5_000_000_000) as u128,
        }
    }

    fn deposit(&mut self, chain: &Chain) -> Transaction {
        let count = chain.state.ledger.totals().deposit_count;
        let index = match self.rng.below(12) {
            0 => count + 1,
            1 => count.saturating_sub(1),
            _ => count,
        };
        let amount = match self.rng.below(12) {
            0 => 0,
            1 => 100_000_000_000_000_000_000 - self.rng.below(3) as u128,
            _ => 1 + self.rng.below(50_000_000_000) as u128,
        };
        // Paid on L1 by a signer (whose L1 key the test holds).
        let from = self.signers[self.rng.below(SIGNERS as u64) as usize].address();
        Transaction::Deposit(Deposit {
            index,
            from,
            recipient: self.address(),
            amount,
        })
    }

    /// A forced transaction: mostly the next index, carrying a signed transfer or
    /// withdrawal, garbage, a truncated action or a kind that may not be forced.
    fn forced(&mut self, chain: &Chain, block: &BlockContext) -> Transaction {
        let count = chain.state.ledger.forced_queue().count;
        let index = match self.rng.below(10) {
            0 => count + 1,
            1 => count.saturating_sub(1),
            _ => count,
        };
        let bytes = match self.rng.below(10) {
            0..=3 => self.action(chain, block).encode(),
            4 => self.cancel(chain, block).encode(),
            5 | 6 => {
                let mut garbage: Vec<u8> = (0..self.rng.below(200))
                    .map(|_| self.rng.next() as u8)
                    .collect();
                // The Portal refuses an empty transaction.
                if garbage.is_empty() {
                    garbage.push(0x42);
                }
                garbage
            }
            7 => {
                let mut truncated = self.action(chain, block).encode();
                truncated.pop();
                truncated
            }
            _ => self.deposit(chain).encode(),
        };
        Transaction::Forced(ForcedTransaction {
            index,
            // Submitted on L1 by a signer (whose L1 key the test holds).
            sender: self.signers[self.rng.below(SIGNERS as u64) as usize].address(),
            bytes,
        })
    }

    /// An order hash for `who`: one it placed, or another (no record yet, or one an
    /// earlier cancel made).
    fn order_hash(&mut self, who: usize) -> B256 {
        match self.placed[who].len() {
            n if n > 0 && self.rng.chance(30) => {
                self.placed[who][self.rng.below(n as u64) as usize]
            }
            _ => B256::from(U256::from(self.rng.below(300))),
        }
    }

    /// A cancel or a bulk cancel (with repeated hashes now and then), signed by one of
    /// the signers or, now and then, mis-signed.
    fn cancel(&mut self, chain: &Chain, block: &BlockContext) -> Transaction {
        let who = self.rng.below(SIGNERS as u64) as usize;
        let signer = self.signers[who].clone();
        let domain = chain.state.genesis.domain;
        let expiry_ms = if self.rng.chance(8) {
            block.timestamp_ms - 1
        } else {
            block.timestamp_ms + 60_000
        };
        let nonce = self.nonce(who);
        if self.rng.chance(50) {
            let cancel = Cancel {
                orderHash: self.order_hash(who),
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = self.signature(&signer, cancel.signing_hash(&domain));
            return Transaction::Cancel(SignedCancel { cancel, signature });
        }
        let count = self.rng.below(6);
        let mut hashes: Vec<B256> = (0..count).map(|_| self.order_hash(who)).collect();
        if let (true, Some(first)) = (self.rng.chance(20), hashes.first().copied()) {
            hashes.push(first);
        }
        let cancel = BulkCancel {
            orderHashes: hashes,
            nonce,
            expiryMs: expiry_ms,
        };
        let signature = self.signature(&signer, cancel.signing_hash(&domain));
        Transaction::BulkCancel { cancel, signature }
    }

    /// The next nonce of signer `who`, or now and then a replayed, stale or far one.
    fn nonce(&mut self, who: usize) -> u64 {
        match self.rng.below(20) {
            0 => self.next_nonce[who].saturating_sub(1 + self.rng.below(3)), // replay
            1 => self.next_nonce[who].saturating_sub(40),                    // below the window
            2 => self.next_nonce[who] + 100 + self.rng.below(100),           // far ahead
            _ => {
                self.next_nonce[who] += 1;
                self.next_nonce[who]
            }
        }
    }

    /// `signer`'s signature of `digest`; now and then high-s, someone else's or garbled.
    fn signature(&mut self, signer: &PrivateKeySigner, digest: B256) -> Signature {
        let signature = signer.sign_hash_sync(&digest).unwrap();
        match self.rng.below(25) {
            // The same signature with s mirrored (high s): valid ECDSA, refused.
            0 => Signature::new(signature.r(), CURVE_ORDER - signature.s(), !signature.v()),
            // Someone else's signature: recovers another (unfunded or other) sender.
            1 => self.signers[0].sign_hash_sync(&digest).unwrap(),
            // A garbled r: usually no recovery at all.
            2 => Signature::new(U256::from(self.rng.next()), signature.s(), signature.v()),
            _ => signature,
        }
    }

    /// An order placement: mostly on an active market's grid and resting (good till
    /// cancelled or post-only), else off the grid, of a size of zero, for an unknown
    /// market, immediate, expired, or one placed before; signed as `signature` signs.
    fn place(&mut self, chain: &Chain, block: &BlockContext) -> Transaction {
        if !self.placements.is_empty() && self.rng.chance(10) {
            let again = self.rng.below(self.placements.len() as u64) as usize;
            return Transaction::PlaceOrder(self.placements[again].clone());
        }
        let who = self.rng.below(SIGNERS as u64) as usize;
        let signer = self.signers[who].clone();
        let order = self.order(block, 14);
        let digest = order.hash(&chain.state.genesis.domain);
        let signed = SignedOrder {
            order,
            signature: self.signature(&signer, digest),
        };
        self.placements.push(signed.clone());
        Transaction::PlaceOrder(signed)
    }

    /// A bulk placement (quote replacement): up to 4 cancels (placed orders, unknown
    /// ones, repeats, now and then one of its own orders) and up to 5 orders (now and then
    /// one twice, or one that could not rest), under one signature and nonce.
    fn place_bulk(&mut self, chain: &Chain, block: &BlockContext) -> Transaction {
        let who = self.rng.below(SIGNERS as u64) as usize;
        let signer = self.signers[who].clone();
        let domain = chain.state.genesis.domain;
        let mut orders: Vec<Order> = (0..self.rng.below(6))
            .map(|_| self.order(block, 60))
            .collect();
        if !orders.is_empty() && self.rng.chance(5) {
            orders.push(orders[0].clone());
        }
        let mut cancels: Vec<B256> = (0..self.rng.below(5))
            .map(|_| self.order_hash(who))
            .collect();
        if !cancels.is_empty() && self.rng.chance(10) {
            cancels.push(cancels[0]);
        }
        if !orders.is_empty() && self.rng.chance(5) {
            cancels.push(orders[0].hash(&domain));
        }
        let expiry_ms = if self.rng.chance(8) {
            block.timestamp_ms - 1
        } else {
            block.timestamp_ms + 60_000
        };
        let bulk = BulkOrders {
            cancels,
            orders,
            nonce: self.nonce(who),
            expiryMs: expiry_ms,
        };
        let digest = bulk.signing_hash(&domain);
        let signature = self.signature(&signer, digest);
        Transaction::PlaceOrders { bulk, signature }
    }

    /// A random order; one in `tweak` (when below 4 of `tweak`) off its grid or of
    /// size or price zero.
    fn order(&mut self, block: &BlockContext, tweak: u64) -> Order {
        let mut order = Order {
            market: match self.rng.below(10) {
                0 => 999,
                1 => 2,
                2 => 11,
                _ => 1,
            },
            isBuy: self.rng.chance(50),
            limitPrice: 1_000_000 * (2_000 + self.rng.below(2_000)),
            size: 1_000 * (1 + self.rng.below(50)),
            timeInForce: match self.rng.below(12) {
                0 => 1,
                1 => 2,
                2 => 9,
                3 | 4 => 3,
                _ => 0,
            },
            reduceOnly: self.rng.chance(20),
            expiryMs: if self.rng.chance(8) {
                block.timestamp_ms - 1
            } else {
                block.timestamp_ms + 60_000
            },
            clientOrderId: self.rng.next(),
            nonce: self.rng.next(),
        };
        match self.rng.below(tweak) {
            0 => order.limitPrice += 1,
            1 => order.size += 1,
            2 => order.size = 0,
            3 => order.limitPrice = 0,
            _ => {}
        }
        order
    }

    fn action(&mut self, chain: &Chain, block: &BlockContext) -> Transaction {
        // Mints, mostly by the operator (signer 0, the faucet's), else refused.
        let minting = self.rng.chance(15);
        let who = if minting && self.rng.chance(70) {
            0
        } else {
            self.rng.below(SIGNERS as u64) as usize
        };
        let signer = self.signers[who].clone();
        let balance = chain
            .state
            .ledger
            .account(&signer.address())
            .map(|a| a.collateral.0)
            .unwrap_or_default();
        let nonce = self.nonce(who);
        let expiry_ms = if self.rng.chance(8) {
            block.timestamp_ms - 1
        } else {
            block.timestamp_ms + 60_000
        };
        let cash = chain
            .state
            .ledger
            .clearinghouse()
            .portfolio(&signer.address())
            .cash;
        let amount = self.amount(balance);
        let action = if !minting && self.rng.chance(10) {
            // Without positions: the cash, all of it (the portfolio leaf goes), or more.
            Action::WithdrawMargin(WithdrawMargin {
                amount: self.amount(u128::try_from(cash).unwrap_or_default()),
                nonce,
                expiryMs: expiry_ms,
            })
        } else if !minting && self.rng.chance(12) {
            Action::DepositMargin(DepositMargin {
                amount,
                nonce,
                expiryMs: expiry_ms,
            })
        } else if minting {
            let to = if self.rng.chance(10) {
                signer.address()
            } else {
                self.address()
            };
            Action::Mint(Mint {
                to,
                amount,
                nonce,
                expiryMs: expiry_ms,
            })
        } else if self.rng.chance(55) {
            let to = if self.rng.chance(10) {
                signer.address()
            } else {
                self.address()
            };
            Action::Transfer(Transfer {
                to,
                amount,
                nonce,
                expiryMs: expiry_ms,
            })
        } else {
            Action::Withdraw(Withdraw {
                recipient: self.address(),
                amount,
                nonce,
                expiryMs: expiry_ms,
            })
        };
        let digest = action.signing_hash(&chain.state.genesis.domain);
        let signature = self.signature(&signer, digest);
        Transaction::Action(SignedAction { action, signature })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prover_and_the_stf_reach_the_same_root_after_every_transaction() {
    let anvil = common::anvil();
    let l1_of = |i: usize| common::l1_client(&anvil, i);
    let l1 = l1_of(0);
    let genesis = common::genesis();
    let deployment = common::deploy_for(&l1, &genesis).await;
    let prover = deployment.step_prover;
    // Deposits and forced transactions must be the Portal's: every one the L2 would
    // take is first made on L1 by its signer.
    let signers_l1: Vec<L1Client> = (0..SIGNERS).map(l1_of).collect();
    for signer in &signers_l1 {
        l1.mint_test_collateral(
            deployment.collateral,
            signer.address(),
            u128::from(u64::MAX),
        )
        .await
        .unwrap();
    }
    let record_on_l1 = async |tx: &Transaction, chain: &Chain| {
        let by = |address: Address| {
            signers_l1
                .iter()
                .find(|c| c.address() == address)
                .expect("a signer")
        };
        match tx {
            Transaction::Deposit(d)
                if d.index == chain.state.ledger.totals().deposit_count
                    && d.amount > 0
                    && d.amount < 1_000_000_000_000 =>
            {
                let index = by(d.from)
                    .deposit(
                        deployment.collateral,
                        deployment.portal,
                        d.recipient,
                        d.amount,
                    )
                    .await
                    .unwrap();
                assert_eq!(index, d.index, "the Portal numbers deposits as the L2 does");
            }
            Transaction::Forced(f) if f.index == chain.state.ledger.forced_queue().count => {
                let index = by(f.sender)
                    .force_transaction(deployment.portal, f.bytes.clone().into())
                    .await
                    .unwrap();
                assert_eq!(
                    index, f.index,
                    "the Portal numbers forced transactions as the L2"
                );
            }
            _ => {}
        }
    };
    let (mut chain, _) = Chain::from_genesis(&genesis).unwrap();

    let mut generator = Generator {
        rng: Rng(0x5712_ADD1E),
        signers: (0..SIGNERS).map(common::signer).collect(),
        strangers: (0..3)
            .map(|i| Address::repeat_byte(0xA0 + i as u8))
            .collect(),
        next_nonce: vec![0; SIGNERS],
        placed: vec![Vec::new(); SIGNERS],
        placements: Vec::new(),
    };
    let mut block = BlockContext {
        number: 1,
        timestamp_ms: common::now_ms(),
    };
    // Placed orders, so that cancels also meet records that carry a placement: margin,
    // a price, two resting orders each for signers 1–3 (run outside the parity check:
    // the prover does not cover these kinds yet).
    let mut seed = vec![common::oracle_update(&[7, 8], 3_000_000_000)];
    for owner in 1..=3 {
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 10_000_000_000,
            nonce: 0,
            expiryMs: u64::MAX / 2,
        });
        let signature = generator.signers[owner]
            .sign_hash_sync(&deposit.signing_hash(&genesis.domain))
            .unwrap();
        seed.insert(
            0,
            Transaction::Action(SignedAction {
                action: deposit,
                signature,
            }),
        );
        for nonce in 1..=2 {
            let order = common::signed_order(owner, true, 0, nonce);
            generator.placed[owner].push(order.order.hash(&genesis.domain));
            seed.push(Transaction::PlaceOrder(order));
        }
    }
    for tx in seed {
        let described = format!("{tx:?}");
        let outcome = execute_into_tree(&mut chain, tx, &block);
        assert!(outcome.is_ok(), "seeding {described}: {outcome:?}");
    }
    // (kind, changed the state root) → (count, highest gas); a refused transaction
    // leaves the root, and so does one that writes what is there (a repeated cancel).
    let mut seen: BTreeMap<(&'static str, bool), (usize, u64)> = BTreeMap::new();
    let mut forced_queue_checks = 0;
    for i in 0..TRANSACTIONS {
        if i % 7 == 6 {
            block.number += 1;
            block.timestamp_ms += 250;
        }
        let tx = match generator.rng.below(100) {
            0..=12 => generator.deposit(&chain),
            13..=25 => generator.forced(&chain, &block),
            26..=38 => generator.cancel(&chain, &block),
            39..=46 => generator.place(&chain, &block),
            47..=53 => generator.place_bulk(&chain, &block),
            _ => generator.action(&chain, &block),
        };
        let kind = match &tx {
            Transaction::Action(signed) if matches!(signed.action, Action::Mint(_)) => "mint",
            Transaction::Action(signed) if matches!(signed.action, Action::DepositMargin(_)) => {
                "margin deposit"
            }
            Transaction::Action(signed) if matches!(signed.action, Action::WithdrawMargin(_)) => {
                "margin withdrawal"
            }
            Transaction::Deposit(_) => "deposit",
            Transaction::Forced(_) => "forced",
            Transaction::Cancel(_) => "cancel",
            Transaction::BulkCancel { .. } => "bulk cancel",
            Transaction::PlaceOrder(_) => "placement",
            Transaction::PlaceOrders { .. } => "bulk placement",
            Transaction::Action(signed) if matches!(signed.action, Action::Transfer(_)) => {
                "transfer"
            }
            _ => "withdrawal",
        };
        record_on_l1(&tx, &chain).await;
        let described = format!("{tx:?}");
        let placed: Vec<(Address, B256)> = match tx.clone().verify(&genesis.domain) {
            Ok(VerifiedTransaction::PlaceOrder(order)) => vec![(order.owner, order.hash)],
            Ok(VerifiedTransaction::PlaceOrders { owner, orders, .. }) => {
                orders.iter().map(|(_, hash)| (owner, *hash)).collect()
            }
            _ => Vec::new(),
        };
        let input = execute_step(&mut chain, tx, &block).unwrap();
        let expected = chain.tip.tree.root();
        let proven = l1.execute_step(prover, &input).await.unwrap_or_else(|e| {
            panic!(
                "transaction {i} ({described}; the STF {}): the prover refused: {e}",
                if expected == input.pre_root {
                    "refused it"
                } else {
                    "took it"
                }
            )
        });
        assert_eq!(
            proven, expected,
            "transaction {i} ({described}): the prover's root differs from the STF's"
        );
        if kind == "forced" {
            // The game reads the chain's next forced index off a state root the same way.
            let witness = unchanged_witness(&mut chain, &[StateKey::ForcedQueue]);
            let next = l1
                .forced_queue_count(prover, expected, witness)
                .await
                .unwrap();
            assert_eq!(
                next,
                chain.state.ledger.forced_queue().count,
                "transaction {i}: the prover's forced queue count"
            );
            forced_queue_checks += 1;
        }
        let changed = expected != input.pre_root;
        for (owner, hash) in placed.into_iter().filter(|_| changed) {
            // Later cancels meet its record, placement and all.
            if let Some(who) = generator.signers.iter().position(|s| s.address() == owner) {
                generator.placed[who].push(hash);
            }
        }
        let entry = seen.entry((kind, changed)).or_default();
        entry.0 += 1;
        if i % 10 == 0 || entry.0 == 1 {
            entry.1 = entry.1.max(l1.step_gas(prover, &input).await.unwrap());
        }
    }
    // At the bound: a bulk cancel of 64 orders without records (64 inserted leaves).
    let signer = &generator.signers[4];
    let cancel = BulkCancel {
        orderHashes: (0..64u64)
            .map(|i| B256::from(U256::from(1_000_000 + i)))
            .collect(),
        nonce: 1_000_000,
        expiryMs: block.timestamp_ms + 60_000,
    };
    let signature = signer
        .sign_hash_sync(&cancel.signing_hash(&genesis.domain))
        .unwrap();
    let input = execute_step(
        &mut chain,
        Transaction::BulkCancel { cancel, signature },
        &block,
    )
    .unwrap();
    assert_eq!(
        l1.execute_step(prover, &input).await.unwrap(),
        chain.tip.tree.root()
    );
    assert_ne!(input.pre_root, chain.tip.tree.root(), "64 records written");
    let gas = l1.step_gas(prover, &input).await.unwrap();
    println!("bulk cancel of 64 new orders: {gas} gas");
    // At the bounds: a bulk placement cancelling 32 orders and placing 32 (66 leaves).
    let mut orders = Vec::new();
    for k in 0..32u64 {
        let mut order = generator.order(&block, u64::MAX);
        order.market = [1, 2, 11, 12, 13, 14, 15, 16][k as usize % 8];
        order.timeInForce = 0;
        order.expiryMs = block.timestamp_ms + 60_000;
        order.nonce = 5_000_000 + k;
        orders.push(order);
    }
    let bulk = BulkOrders {
        cancels: (0..32u64)
            .map(|i| B256::from(U256::from(2_000_000 + i)))
            .collect(),
        orders,
        nonce: 2_000_000,
        expiryMs: block.timestamp_ms + 60_000,
    };
    let signature = generator.signers[5]
        .sign_hash_sync(&bulk.signing_hash(&genesis.domain))
        .unwrap();
    let input = execute_step(
        &mut chain,
        Transaction::PlaceOrders { bulk, signature },
        &block,
    )
    .unwrap();
    assert_eq!(
        l1.execute_step(prover, &input).await.unwrap(),
        chain.tip.tree.root()
    );
    assert_ne!(input.pre_root, chain.tip.tree.root(), "64 records written");
    let gas = l1.step_gas(prover, &input).await.unwrap();
    println!("bulk placement of 32 orders cancelling 32: {gas} gas");
    // A deposit and a forced transaction L1 never recorded: the STF (which derivation
    // only ever feeds the Portal's) would take them; the prover refuses them.
    let fabricated = [
        Transaction::Deposit(Deposit {
            index: chain.state.ledger.totals().deposit_count,
            from: Address::repeat_byte(0xEE),
            recipient: Address::repeat_byte(0xEE),
            amount: 1_000_000_000_000,
        }),
        Transaction::Forced(ForcedTransaction {
            index: chain.state.ledger.forced_queue().count,
            sender: Address::repeat_byte(0xEE),
            bytes: vec![0x42],
        }),
    ];
    for tx in fabricated {
        let keys = step_keys(&tx, &chain.state.ledger, &genesis).unwrap();
        let pre_root = chain.tip.tree.root();
        let input = StepInput {
            pre_root,
            block_number: block.number,
            timestamp_ms: block.timestamp_ms,
            transaction: tx.encode().into(),
            witness: unchanged_witness(&mut chain, &keys),
        };
        assert_eq!(
            l1.execute_step(prover, &input).await.unwrap(),
            pre_root,
            "the prover refuses {tx:?}: the Portal did not record it"
        );
        let _ = execute_step(&mut chain, tx, &block).unwrap();
        assert_ne!(
            chain.tip.tree.root(),
            pre_root,
            "the STF alone would take it"
        );
    }
    for ((kind, changed), (count, gas)) in &seen {
        let what = if *changed { "changed" } else { "unchanged" };
        println!("{kind:>10} {what:>8}: {count:>5} transactions, highest sampled gas {gas}");
    }
    for kind in [
        "mint",
        "deposit",
        "forced",
        "cancel",
        "bulk cancel",
        "placement",
        "bulk placement",
        "margin deposit",
        "margin withdrawal",
        "transfer",
        "withdrawal",
    ] {
        for changed in [true, false] {
            let count = seen.get(&(kind, changed)).map_or(0, |e| e.0);
            assert!(
                count >= 20,
                "too few {kind}s with changed = {changed}: {count}"
            );
        }
    }
    assert!(
        forced_queue_checks >= 100,
        "forced queue read back {forced_queue_checks} times"
    );
}
