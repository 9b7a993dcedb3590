//! Parity of the L1 one-step prover with the Rust STF on the kinds that move portfolios
//! (`docs/spec/disputes.md` §4: `MatchStepProver.sol`, `LiquidationStepProver.sol`,
//! `MarginStepProver.sol`, and market closings in `OrderStepProver`): traders open
//! perpetual and option positions through matches of 1 to 16 makers (signed, or placed
//! first and named; taken, or refused for each of `execute_match`'s reasons, which the
//! test plants and counts by the STF's own refusal), oracle updates move the index (and
//! with it the risk vectors) and accrue funding, the operator lists ETH perpetuals and
//! closes them again, and the BTC one (positions in a closed market are paid out and
//! closed when their portfolio is next normalised); liquidations hit healthy and
//! unhealthy accounts; orders of earlier matches are retired (or refused as still
//! tradeable or not resting); random margin withdrawals (within the free margin, exactly
//! at it, just past it, of all the cash, zero, overflowing, expired, replayed, by
//! accounts without a portfolio) move cash out; and at the end a crash leaves a levered
//! account bankrupt beyond the insurance fund, to be auto-deleveraged and liquidated, and
//! its resting bid unaffordable, to be retired. Each of those runs through the node's
//! execution and through `StepProver.execute` on a real anvil: the post-state roots must
//! be equal. About a third of the oracle updates run sub-step by sub-step through
//! `OracleStepProver` (perpetuals accrue funding from their traded prices, options are
//! priced), the rest and the margin deposits on the STF only. Prints the prover's gas
//! (docs/PERFORMANCE.md).
//!
//! Length (over 800 lines): one deployment of the provers on anvil and one evolving
//! chain serve every portfolio kind, so the kinds are checked on states the others built
//! (a liquidation after matches, a retirement after a close); one process keeps the
//! anvil start and the contract deployment to once.

use straddle_testkit as common;

use alloy_primitives::{Address, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use common::Rng;
use std::collections::BTreeMap;
use straddle_chain::Chain;
use straddle_exchange::clearinghouse::market::MarketStatus;
use straddle_exchange::orders::{MakerFill, Match, MatchWeight};
use straddle_exchange::{BlockContext, StateKey};
use straddle_fault_proof::step::{execute_into_tree, execute_step, oracle_sub_steps};
use straddle_l1::L1Client;
use straddle_l1::disputes::StepInput;
use straddle_primitives::{
    Action, AutoDeleverage, Cancel, CloseMarket, DepositMargin, Liquidate, ListMarket, Mint, Order,
    RetireOrder, SignedAction, SignedCancel, SignedLiquidate, SignedOrder, Transaction,
    VerifiedTransaction, WithdrawMargin,
};

const STEPS: usize = 2_000;
/// Accounts that trade; account 5 only moves cash in and out.
const TRADERS: [usize; 4] = [1, 2, 3, 4];
const CASH_ONLY: usize = 5;
/// The devnet's option markets (ETH calls and puts at three strikes).
const OPTIONS: [u32; 6] = [11, 12, 13, 14, 15, 16];
/// Most makers one match fills.
const MAKERS_MAX: u64 = 16;

fn signed_action(who: usize, action: Action) -> Transaction {
    let signature = common::signer(who)
        .sign_hash_sync(&action.signing_hash(&common::domain()))
        .unwrap();
    Transaction::Action(SignedAction { action, signature })
}

struct Market {
    tick: u64,
    lot: u64,
    lots_max: u64,
}

fn market_terms(id: u32) -> Market {
    match id {
        2 => Market {
            tick: 1_000_000,
            lot: 100,
            lots_max: 200,
        },
        1 => Market {
            tick: 100_000,
            lot: 1_000,
            lots_max: 2_000,
        },
        _ => Market {
            tick: 100_000,
            lot: 1_000,
            lots_max: 4_000,
        },
    }
}

struct Trading {
    rng: Rng,
    nonces: BTreeMap<usize, u64>,
    order_nonce: u64,
    /// Index per underlying (1 ETH, 2 BTC), micro-USDC.
    index: [u64; 3],
    /// Maker orders of earlier matches, with their owners.
    pool: Vec<(SignedOrder, usize)>,
}

impl Trading {
    fn nonce(&mut self, who: usize) -> u64 {
        let next = self.nonces.entry(who).or_default();
        *next += 1;
        *next
    }

    /// `who`'s next nonce (now and then its last one again: a replay) and an expiry a
    /// minute ahead (now and then already past).
    fn nonce_and_expiry(&mut self, who: usize, block: &BlockContext) -> (u64, u64) {
        let nonce = if self.rng.chance(5) {
            self.nonces.get(&who).copied().unwrap_or(1)
        } else {
            self.nonce(who)
        };
        let expiry_ms = if self.rng.chance(5) {
            block.timestamp_ms - 1
        } else {
            block.timestamp_ms + 60_000
        };
        (nonce, expiry_ms)
    }

    fn trader(&mut self) -> usize {
        TRADERS[self.rng.below(TRADERS.len() as u64) as usize]
    }

    /// A match on `market` near its mark, with what must happen first (placements,
    /// cancels): a taker against 1 to 16 makers (two orders of one maker now and then,
    /// or a maker order partly filled before), mostly crossing at prices on the grid;
    /// else with one of `execute_match`'s refusals planted: an expired order, a post-only
    /// or unknown taker, a fill-or-kill left short, a maker that may not rest or is on the
    /// taker's side, a self trade, a zero fill, an overfill, a price off the grid, a maker
    /// that does not cross or is on another market, a reduce-only order that does not
    /// reduce, a cancelled maker. Makers are signed (0x11) or placed before and named
    /// (0x17; now and then one that was not placed).
    fn trade(
        &mut self,
        chain: &Chain,
        market: u32,
        block: &BlockContext,
    ) -> Option<(Vec<Transaction>, Transaction)> {
        let terms = market_terms(market);
        let mark = chain
            .state
            .ledger
            .clearinghouse()
            .market(market)?
            .vector
            .as_ref()?
            .mark_nano
            / 1_000;
        let base = ((mark.max(1) as u64 * (960 + self.rng.below(81)) / 1_000) / terms.tick)
            .max(2 + MAKERS_MAX)
            * terms.tick;
        let taker_owner = self.trader();
        let taker_buys = self.rng.chance(50);
        let count = match self.rng.below(10) {
            0 => MAKERS_MAX,
            1..=3 => 2 + self.rng.below(4),
            _ => 1,
        };
        // Half the sweeps of 16 makers carry no planted refusal and small sizes, so that
        // some pass the margin checks.
        let clean = count == MAKERS_MAX && self.rng.chance(50);
        let lots_max = if clean {
            1
        } else {
            (terms.lots_max / count).max(1)
        };
        let expiry = block.timestamp_ms + 60_000;
        let mut seeds = Vec::new();
        let mut makers: Vec<(SignedOrder, usize, u64)> = Vec::new();
        for k in 0..count {
            if let Some(reused) = self
                .reuse(chain, market, taker_owner, taker_buys)
                .filter(|_| !clean)
            {
                makers.push(reused);
                continue;
            }
            let owner = if !clean && self.rng.chance(2) {
                taker_owner
            } else {
                loop {
                    let t = self.trader();
                    if t != taker_owner {
                        break t;
                    }
                }
            };
            // Makers further down the book quote worse prices for the taker.
            let price = if taker_buys {
                base + k * terms.tick
            } else {
                base - k * terms.tick
            };
            let size = (1 + self.rng.below(lots_max)) * terms.lot;
            self.order_nonce += 1;
            let mut order = Order {
                market,
                isBuy: !taker_buys,
                limitPrice: price,
                size,
                timeInForce: if self.rng.chance(20) { 3 } else { 0 },
                reduceOnly: !clean && self.rng.chance(4),
                expiryMs: expiry,
                clientOrderId: self.order_nonce,
                nonce: self.order_nonce,
            };
            let mut fill = if self.rng.chance(20) {
                (size / terms.lot / 2).max(1) * terms.lot
            } else {
                size
            };
            match self.rng.below(60) {
                _ if clean => {}
                0 => order.expiryMs = block.timestamp_ms - 1,
                1 => order.timeInForce = 1 + self.rng.below(2) as u8,
                2 => order.isBuy = taker_buys,
                3 => fill = 0,
                4 => fill = size + terms.lot,
                5 => order.limitPrice += 1,
                6 => order.market = if market == 1 { 11 } else { 1 },
                // Off the lot and within the order (a fill past it is an overfill).
                7 => fill = fill - terms.lot + 1,
                _ => {}
            }
            let signed = common::sign_order(owner, order);
            if !clean && self.rng.chance(2) {
                let cancel = Cancel {
                    orderHash: signed.order.hash(&common::domain()),
                    nonce: 0,
                    expiryMs: expiry,
                };
                let signature = common::signer(owner)
                    .sign_hash_sync(&cancel.signing_hash(&common::domain()))
                    .unwrap();
                seeds.push(Transaction::Cancel(SignedCancel { cancel, signature }));
            }
            makers.push((signed, owner, fill));
        }
        let total: u64 = makers.iter().map(|m| m.2).sum();
        let worst = makers
            .iter()
            .map(|m| m.0.order.limitPrice)
            .reduce(|a, b| if taker_buys { a.max(b) } else { a.min(b) })?;
        self.order_nonce += 1;
        let mut taker = Order {
            market,
            isBuy: taker_buys,
            limitPrice: worst,
            size: total.max(terms.lot),
            timeInForce: 1,
            reduceOnly: !clean && self.rng.chance(4),
            expiryMs: expiry,
            clientOrderId: self.order_nonce,
            nonce: self.order_nonce,
        };
        match self.rng.below(40) {
            _ if clean => {}
            0 => taker.expiryMs = block.timestamp_ms - 1,
            1 => taker.timeInForce = 3,
            2 => taker.timeInForce = 5,
            3 => taker.timeInForce = 2,
            4 => {
                taker.timeInForce = 2;
                taker.size += terms.lot;
            }
            5 => taker.size *= 2,
            6 => taker.timeInForce = 0,
            7 => {
                // Not crossing the worst maker.
                taker.limitPrice = if taker_buys {
                    worst - terms.tick
                } else {
                    worst + terms.tick
                }
            }
            _ => {}
        }
        let taker = common::sign_order(taker_owner, taker);
        for (order, owner, _) in &makers {
            self.pool.push((order.clone(), *owner));
        }
        if self.rng.chance(30) {
            for (order, _, _) in &makers {
                // Placed first (now and then not: the match is refused).
                if clean || !self.rng.chance(3) {
                    seeds.push(Transaction::PlaceOrder(order.clone()));
                }
            }
            let makers = makers
                .into_iter()
                .map(|(order, owner, fill)| (order.order, common::signer(owner).address(), fill))
                .collect();
            return Some((seeds, Transaction::MatchPlaced { taker, makers }));
        }
        let makers = makers
            .into_iter()
            .map(|(order, _, fill)| (order, fill))
            .collect();
        Some((seeds, Transaction::Match { taker, makers }))
    }

    /// Now and then a maker order of an earlier match on `market`, on the other side of
    /// the taker and not its owner's, with what is left of it (or one lot more).
    fn reuse(
        &mut self,
        chain: &Chain,
        market: u32,
        taker: usize,
        taker_buys: bool,
    ) -> Option<(SignedOrder, usize, u64)> {
        if self.pool.is_empty() || !self.rng.chance(15) {
            return None;
        }
        let (order, owner) = self.pool[self.rng.below(self.pool.len() as u64) as usize].clone();
        if order.order.market != market || order.order.isBuy == taker_buys || owner == taker {
            return None;
        }
        let hash = order.order.hash(&common::domain());
        let filled = chain
            .state
            .ledger
            .orders()
            .record(&common::signer(owner).address(), &hash)
            .map_or(0, |record| record.filled);
        let left = order.order.size.saturating_sub(filled);
        let fill = if self.rng.chance(10) {
            left + 1_000
        } else {
            left
        };
        Some((order, owner, fill))
    }

    /// A liquidation signed by a trader (now and then the target itself) of part of a
    /// position of another (or of a market it does not hold): of a size within what it
    /// holds, zero, off the lot or more than it holds; now and then expired or replaying
    /// a nonce. Returns the liquidator's address with it.
    fn liquidation(&mut self, chain: &Chain, block: &BlockContext) -> (Address, Transaction) {
        // Mostly an account below its maintenance margin, when there is one.
        let clearinghouse = chain.state.ledger.clearinghouse();
        let unhealthy: Vec<usize> = TRADERS
            .into_iter()
            .filter(|t| {
                let portfolio = clearinghouse.portfolio(&common::signer(*t).address());
                clearinghouse
                    .risk_of(&portfolio)
                    .is_ok_and(|risk| risk.equity < risk.margin.maintenance as i128)
            })
            .collect();
        let target = if !unhealthy.is_empty() && self.rng.chance(70) {
            unhealthy[self.rng.below(unhealthy.len() as u64) as usize]
        } else {
            self.trader()
        };
        let liquidator = if self.rng.chance(3) {
            target
        } else {
            loop {
                let t = self.trader();
                if t != target {
                    break t;
                }
            }
        };
        let target_address = common::signer(target).address();
        let portfolio = chain
            .state
            .ledger
            .clearinghouse()
            .portfolio(&target_address);
        let (market, held) = if portfolio.positions.is_empty() || self.rng.chance(5) {
            (1, 0)
        } else {
            let position =
                portfolio.positions[self.rng.below(portfolio.positions.len() as u64) as usize];
            (position.market, position.size)
        };
        let lot = market_terms(market).lot;
        let lots = held.unsigned_abs() / lot;
        let size = match self.rng.below(10) {
            0 => 0,
            1 => lot + 1,
            2 => (lots + 1) * lot,
            3 => lots * lot,
            _ => (1 + self.rng.below(lots.max(1))) * lot,
        };
        let (nonce, expiry_ms) = self.nonce_and_expiry(liquidator, block);
        let liquidate = Liquidate {
            target: target_address,
            market,
            size,
            nonce,
            expiryMs: expiry_ms,
        };
        let signature = common::signer(liquidator)
            .sign_hash_sync(&liquidate.signing_hash(&common::domain()))
            .unwrap();
        (
            common::signer(liquidator).address(),
            Transaction::Liquidate(SignedLiquidate {
                liquidate,
                signature,
            }),
        )
    }

    /// The operator (account 0) lists an ETH perpetual.
    fn list(&mut self, market: u32, block: &BlockContext) -> Transaction {
        common::list_perpetual(market, self.nonce(0), block.timestamp_ms + 60_000)
    }

    /// The operator closes a perpetual at the oracle's recent index mean.
    fn close(&mut self, market: u32, block: &BlockContext) -> Transaction {
        let close = CloseMarket {
            market,
            nonce: self.nonce(0),
            expiryMs: block.timestamp_ms + 60_000,
        };
        let signature = common::signer(0)
            .sign_hash_sync(&close.signing_hash(&common::domain()))
            .unwrap();
        Transaction::CloseMarket { close, signature }
    }

    /// A margin withdrawal by `who`: within its free margin (equity − initial), at it,
    /// just past it, of all its cash, zero, overflowing or far past; now and then
    /// expired or replaying its last nonce.
    fn withdrawal(&mut self, chain: &Chain, who: usize, block: &BlockContext) -> Transaction {
        let clearinghouse = chain.state.ledger.clearinghouse();
        let portfolio = clearinghouse.portfolio(&common::signer(who).address());
        let free = clearinghouse
            .risk_of(&portfolio)
            .map(|risk| (risk.equity - risk.margin.initial as i128).max(0) as u128)
            .unwrap_or(0);
        let amount = match self.rng.below(13) {
            0..=6 if free > 1 => 1 + u128::from(self.rng.next()) % (free - 1),
            7 => free,
            8 => free + 1,
            9 => portfolio.cash.max(0) as u128,
            10 => 0,
            11 => u128::MAX,
            _ => free * 2 + 1,
        };
        let (nonce, expiry_ms) = self.nonce_and_expiry(who, block);
        signed_action(
            who,
            Action::WithdrawMargin(WithdrawMargin {
                amount,
                nonce,
                expiryMs: expiry_ms,
            }),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_liquidations_and_margin_withdrawals_reach_the_stfs_root() {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let genesis = common::genesis();
    let deployment = common::deploy_for(&l1, &genesis).await;
    let prover = deployment.step_prover;
    // Oracle updates proven sub-step by sub-step through the deployment's prover, which
    // forwards them to its OracleStepProver (accepted ones, with funding accrued).
    let mut oracle_updates = 0;
    let (mut chain, _) = Chain::from_genesis(&genesis).unwrap();
    let mut block = BlockContext {
        number: 1,
        timestamp_ms: common::now_ms(),
    };
    let mut trading = Trading {
        rng: Rng(0x3A26_1D0E),
        nonces: BTreeMap::new(),
        order_nonce: 0,
        index: [0, 3_000_000_000, 60_000_000_000],
        pool: Vec::new(),
    };
    let seed = |chain: &mut Chain, tx: Transaction, block: &BlockContext| {
        let described = format!("{tx:?}");
        let outcome = execute_into_tree(chain, tx, block);
        assert!(outcome.is_ok(), "{described}: {outcome:?}");
    };
    for who in TRADERS.into_iter().chain([CASH_ONLY]) {
        let nonce = trading.nonce(who);
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 100_000_000_000,
            nonce,
            expiryMs: u64::MAX / 2,
        });
        seed(&mut chain, signed_action(who, deposit), &block);
    }
    for underlying in [1u32, 2] {
        let index = trading.index[underlying as usize];
        seed(
            &mut chain,
            common::price_update(underlying, index, block.timestamp_ms),
            &block,
        );
    }

    let operator = chain
        .state
        .genesis
        .operator
        .expect("the devnet has an operator");
    assert_eq!(operator, common::signer(0).address());
    let mut closed = false;
    // Perpetuals the operator listed and has not closed yet.
    let mut listed: Vec<u32> = Vec::new();
    let mut next_listing = 40u32;
    // (outcome, what the withdrawal's portfolio held) → count; the highest gas.
    let mut seen: BTreeMap<(&'static str, &'static str), usize> = BTreeMap::new();
    let mut gas_max = (0u64, 0usize);
    // Withdrawals of all the cash of a portfolio without positions (its leaf removed).
    let mut emptied = 0;
    // Matches by outcome (the STF's refusal); the highest gas of a taken one.
    let mut matches: BTreeMap<String, usize> = BTreeMap::new();
    let mut match_gas = (0u64, 0usize);
    // Liquidations by outcome; the highest gas of a taken one.
    let mut liquidations: BTreeMap<String, usize> = BTreeMap::new();
    let mut liquidation_gas = 0u64;
    // Order retirements by outcome.
    let mut retirements: BTreeMap<String, usize> = BTreeMap::new();
    for step in 0..STEPS {
        match trading.rng.below(100) {
            0..=11 => {
                block.number += 1;
                block.timestamp_ms += 1_000 + trading.rng.below(20_000);
                let underlying = 1 + trading.rng.below(2) as usize;
                let index = trading.index[underlying];
                // Now and then close to the 10 % an update may move: accounts fall below
                // their maintenance margin, to be liquidated.
                let band = if trading.rng.chance(25) { 90 } else { 40 };
                let moved = index as i128
                    * (trading.rng.below(2 * band + 1) as i128 - band as i128)
                    / 1_000;
                trading.index[underlying] = (index as i128 + moved) as u64;
                let update = common::price_update(
                    underlying as u32,
                    trading.index[underlying],
                    block.timestamp_ms,
                );
                if trading.rng.chance(35) {
                    // Funding from the traded prices, options priced: sub-step by sub-step
                    // through the oracle prover (the aggregation's cases are
                    // oracle_step_parity's).
                    let context = format!("step {step}, oracle update");
                    oracle_updates +=
                        prove_oracle_update(&l1, prover, &mut chain, update, &block, &context)
                            .await;
                } else {
                    seed(&mut chain, update, &block);
                }
            }
            12..=46 => {
                let market = match trading.rng.below(10) {
                    0..=3 => 1,
                    4 | 5 if !closed => 2,
                    6 | 7 if !listed.is_empty() => {
                        listed[trading.rng.below(listed.len() as u64) as usize]
                    }
                    _ => OPTIONS[trading.rng.below(OPTIONS.len() as u64) as usize],
                };
                if let Some((seeds, tx)) = trading.trade(&chain, market, &block) {
                    for seed in seeds {
                        // Placements and cancels of makers: the prover covers them too.
                        let context = format!("step {step}, before a match");
                        prove(&l1, prover, &mut chain, seed, &block, &context).await;
                    }
                    let outcome = refusal(&chain, &tx, &block);
                    let makers = match &tx {
                        Transaction::Match { makers, .. } => makers.len(),
                        Transaction::MatchPlaced { makers, .. } => makers.len(),
                        _ => 0,
                    };
                    let context = format!("step {step}, {outcome}");
                    let (input, changed) =
                        prove(&l1, prover, &mut chain, tx, &block, &context).await;
                    assert_eq!(changed, outcome == "taken", "{context}");
                    let outcome = match (outcome.as_str(), makers) {
                        ("taken", 1) => "taken, 1 maker".to_string(),
                        ("taken", 2..=15) => "taken, 2 to 15 makers".to_string(),
                        ("taken", _) => "taken, 16 makers".to_string(),
                        _ => outcome,
                    };
                    *matches.entry(outcome).or_default() += 1;
                    if changed && makers >= match_gas.1 {
                        let gas = l1.step_gas(prover, &input).await.unwrap();
                        match_gas = match_gas.max((gas, makers));
                        if gas > 1_200_000 && std::env::var_os("STRADDLE_TRACE_STEP").is_some() {
                            println!(
                                "{makers} makers: {gas} gas, witness {} bytes",
                                input.witness.len()
                            );
                            common::trace_step(&l1, prover, &input).await;
                        }
                    }
                }
            }
            47..=53 => {
                let who = match trading.rng.below(TRADERS.len() as u64 + 1) as usize {
                    i if i < TRADERS.len() => TRADERS[i],
                    _ => CASH_ONLY,
                };
                let nonce = trading.nonce(who);
                let deposit = Action::DepositMargin(DepositMargin {
                    amount: 50_000_000_000,
                    nonce,
                    expiryMs: u64::MAX / 2,
                });
                seed(&mut chain, signed_action(who, deposit), &block);
            }
            54 if !closed && step > STEPS / 3 => {
                let close = trading.close(2, &block);
                let (_, changed) =
                    prove(&l1, prover, &mut chain, close, &block, "closing BTC").await;
                assert!(changed, "the BTC perpetual closes");
                closed = true;
            }
            55..=58 => {
                if !listed.is_empty() && (listed.len() == 3 || trading.rng.chance(50)) {
                    let close = trading.close(listed.remove(0), &block);
                    let context = format!("step {step}, closing a listed perpetual");
                    let (_, changed) =
                        prove(&l1, prover, &mut chain, close, &block, &context).await;
                    assert!(changed, "{context}");
                } else {
                    let listing = trading.list(next_listing, &block);
                    let context = format!("step {step}, listing a perpetual");
                    let (_, changed) =
                        prove(&l1, prover, &mut chain, listing, &block, &context).await;
                    assert!(changed, "{context}");
                    listed.push(next_listing);
                    next_listing += 1;
                    // Priced (given a vector) by the next update.
                    block.number += 1;
                    block.timestamp_ms += 1_000;
                    let update = common::price_update(1, trading.index[1], block.timestamp_ms);
                    seed(&mut chain, update, &block);
                }
            }
            69..=74 if !trading.pool.is_empty() => {
                // Retiring an order of an earlier match (placed or not, resting or not:
                // expired, on a closed market, unaffordable, or still tradeable).
                let (order, owner) =
                    trading.pool[trading.rng.below(trading.pool.len() as u64) as usize].clone();
                let tx = Transaction::RetireOrder(RetireOrder {
                    owner: common::signer(owner).address(),
                    order_hash: order.order.hash(&common::domain()),
                });
                let outcome = retirement_outcome(&chain, &tx, &block);
                let context = format!("step {step}, retirement {outcome}");
                let (_, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
                assert_eq!(changed, outcome.starts_with("taken"), "{context}");
                *retirements.entry(outcome).or_default() += 1;
            }
            59..=68 => {
                let (liquidator, tx) = trading.liquidation(&chain, &block);
                let outcome = liquidation_outcome(&chain, liquidator, &tx, &block);
                let context = format!("step {step}, liquidation {outcome}");
                let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
                assert_eq!(changed, outcome.starts_with("taken"), "{context}");
                if changed {
                    let gas = l1.step_gas(prover, &input).await.unwrap();
                    liquidation_gas = liquidation_gas.max(gas);
                }
                *liquidations.entry(outcome).or_default() += 1;
            }
            _ => {
                let who = match trading.rng.below(10) {
                    0 => 9, // no portfolio at all
                    1 | 2 => CASH_ONLY,
                    _ => TRADERS[trading.rng.below(TRADERS.len() as u64) as usize],
                };
                let held = holdings(&chain, who);
                let tx = trading.withdrawal(&chain, who, &block);
                let context = format!("step {step}, {held}");
                let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
                let outcome = if changed { "taken" } else { "refused" };
                *seen.entry((outcome, held)).or_default() += 1;
                let address = common::signer(who).address();
                if outcome == "taken"
                    && chain
                        .state
                        .ledger
                        .leaf_value(&StateKey::Portfolio(address))
                        .is_none()
                {
                    emptied += 1;
                }
                let positions = chain
                    .state
                    .ledger
                    .clearinghouse()
                    .portfolio(&common::signer(who).address())
                    .positions
                    .len();
                if positions >= gas_max.1 {
                    let gas = l1.step_gas(prover, &input).await.unwrap();
                    gas_max = gas_max.max((gas, positions));
                }
            }
        }
    }
    // A crash: a fresh account buys 60 ETH perpetuals from another and withdraws all its
    // free margin, then ETH falls 9 % six times: the long is bankrupt beyond what the
    // insurance fund holds, so half its position is first auto-deleveraged against the
    // short (after refused attempts: a healthy target, itself, too large a size); then
    // every account left below its maintenance margin is liquidated position by position
    // (whole or half; first, once, more than it holds and nothing) until it is healthy
    // again or has nothing left, by the traders in turn, who deposit more margin first.
    let (long, short) = (6, 9);
    let mark = chain
        .state
        .ledger
        .clearinghouse()
        .market(1)
        .and_then(|m| m.vector.as_ref())
        .map(|v| v.mark_nano as u64 / 1_000)
        .expect("ETH-PERP is priced");
    let order = |is_buy: bool, tif: u8, nonce: u64| Order {
        market: 1,
        isBuy: is_buy,
        limitPrice: mark / 100_000 * 100_000,
        size: 60_000_000,
        timeInForce: tif,
        reduceOnly: false,
        expiryMs: block.timestamp_ms + 60_000,
        clientOrderId: nonce,
        nonce,
    };
    let leverage = [
        signed_action(
            long,
            Action::DepositMargin(DepositMargin {
                amount: 300_000_000_000,
                nonce: trading.nonce(long),
                expiryMs: u64::MAX / 2,
            }),
        ),
        signed_action(
            short,
            Action::DepositMargin(DepositMargin {
                amount: 300_000_000_000,
                nonce: trading.nonce(short),
                expiryMs: u64::MAX / 2,
            }),
        ),
        Transaction::Match {
            taker: common::sign_order(long, order(true, 1, 900_001)),
            makers: vec![(
                common::sign_order(short, order(false, 0, 900_002)),
                60_000_000,
            )],
        },
    ];
    for tx in leverage {
        let why = match &tx {
            Transaction::Match { .. } => refusal(&chain, &tx, &block),
            _ => "taken".into(),
        };
        let (_, changed) = prove(&l1, prover, &mut chain, tx, &block, "leverage").await;
        assert!(changed, "the long position opens: {why}");
    }
    let free = {
        let clearinghouse = chain.state.ledger.clearinghouse();
        let portfolio = clearinghouse.portfolio(&common::signer(long).address());
        let risk = clearinghouse.risk_of(&portfolio).unwrap();
        (risk.equity - risk.margin.initial as i128) as u128
    };
    let all_free = Action::WithdrawMargin(WithdrawMargin {
        amount: free,
        nonce: trading.nonce(long),
        expiryMs: block.timestamp_ms + 60_000,
    });
    let (_, changed) = prove(
        &l1,
        prover,
        &mut chain,
        signed_action(long, all_free),
        &block,
        "withdrawing all free margin",
    )
    .await;
    assert!(changed, "the free margin is withdrawn");
    // Resting orders to retire after the crash: the long's bid for 10 more ETH (then
    // unaffordable), the short's small offer (still tradeable), and a trader's bid on a
    // perpetual the operator lists and closes (its market closed).
    let resting = |who: usize, market: u32, is_buy: bool, size: u64, nonce: u64| {
        common::sign_order(
            who,
            Order {
                timeInForce: 0,
                size,
                market,
                isBuy: is_buy,
                expiryMs: block.timestamp_ms + 600_000,
                ..order(is_buy, 0, nonce)
            },
        )
    };
    let to_retire = [
        (
            long,
            resting(long, 1, true, 10_000_000, 900_003),
            "taken, unaffordable",
        ),
        (
            short,
            resting(short, 1, false, 1_000_000, 900_004),
            "StillTradeable",
        ),
        (
            TRADERS[0],
            resting(TRADERS[0], 99, true, 1_000_000, 900_005),
            "taken, market closed",
        ),
    ];
    // Listing it (and two more), after refused listings: each rule of
    // `apply_list_market` broken once.
    let listing_terms = |market: u32, nonce: u64| {
        common::perpetual_listing(market, nonce, block.timestamp_ms + 60_000)
    };
    let replayed = trading.nonce(0);
    let listings = [
        (
            "by a trader",
            TRADERS[0],
            listing_terms(99, 1),
            "Unauthorized",
        ),
        (
            "expired",
            0,
            ListMarket {
                expiryMs: block.timestamp_ms - 1,
                ..listing_terms(99, trading.nonce(0))
            },
            "Expired",
        ),
        (
            "on an unknown underlying",
            0,
            ListMarket {
                underlying: 7,
                ..listing_terms(99, trading.nonce(0))
            },
            "UnknownUnderlying",
        ),
        (
            "of an unknown instrument",
            0,
            ListMarket {
                instrument: 3,
                ..listing_terms(99, trading.nonce(0))
            },
            "UnknownInstrument",
        ),
        (
            "a perpetual with a strike",
            0,
            ListMarket {
                strike: 1,
                ..listing_terms(99, trading.nonce(0))
            },
            "PerpetualWithOptionTerms",
        ),
        (
            "an option already expired",
            0,
            ListMarket {
                instrument: 1,
                strike: 3_000_000_000,
                optionExpiryMs: block.timestamp_ms,
                ..listing_terms(99, trading.nonce(0))
            },
            "OptionExpiryPassed",
        ),
        (
            "an option without a strike",
            0,
            ListMarket {
                instrument: 2,
                optionExpiryMs: block.timestamp_ms + 86_400_000,
                ..listing_terms(99, trading.nonce(0))
            },
            "ZeroStrike",
        ),
        (
            "without a tick",
            0,
            ListMarket {
                tick: 0,
                ..listing_terms(99, trading.nonce(0))
            },
            "ZeroIncrement",
        ),
        (
            "without a lot",
            0,
            ListMarket {
                lot: 0,
                ..listing_terms(99, trading.nonce(0))
            },
            "ZeroIncrement",
        ),
        (
            "a maker fee over 1 %",
            0,
            ListMarket {
                makerFeePpm: 10_001,
                ..listing_terms(99, trading.nonce(0))
            },
            "FeeTooHigh",
        ),
        (
            "a taker fee over 1 %",
            0,
            ListMarket {
                takerFeePpm: 10_001,
                ..listing_terms(99, trading.nonce(0))
            },
            "FeeTooHigh",
        ),
        (
            "an id already listed",
            0,
            listing_terms(1, trading.nonce(0)),
            "DuplicateMarket",
        ),
        ("the perpetual", 0, listing_terms(99, replayed), "Ok"),
        (
            "a replayed nonce",
            0,
            listing_terms(97, replayed),
            "NonceReplayed",
        ),
        (
            "fees of exactly 1 %",
            0,
            ListMarket {
                makerFeePpm: 10_000,
                takerFeePpm: 10_000,
                ..listing_terms(96, trading.nonce(0))
            },
            "Ok",
        ),
        (
            "a call a day out",
            0,
            ListMarket {
                instrument: 1,
                strike: 3_000_000_000,
                optionExpiryMs: block.timestamp_ms + 86_400_000,
                ..listing_terms(98, trading.nonce(0))
            },
            "Ok",
        ),
    ];
    for (what, who, listing, expected) in listings {
        let context = format!("listing {what}");
        let tx = list_market(who, listing);
        let Ok(VerifiedTransaction::ListMarket { signer, listing }) =
            tx.clone().verify(&common::domain())
        else {
            panic!("{context}: a listing");
        };
        let outcome = chain
            .state
            .ledger
            .clone()
            .apply_list_market(signer, &listing, &block);
        assert!(
            format!("{outcome:?}").contains(expected),
            "{context}: {outcome:?}, expected {expected}"
        );
        let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, outcome.is_ok(), "{context}");
        if changed {
            let gas = l1.step_gas(prover, &input).await.unwrap();
            println!("market listing ({what}): {gas} gas");
        }
    }
    for (_, order, _) in &to_retire {
        let context = "a resting order to retire";
        let placement = Transaction::PlaceOrder(order.clone());
        let (_, changed) = prove(&l1, prover, &mut chain, placement, &block, context).await;
        assert!(changed, "{context} rests");
    }
    // Closing it, after refused closes: signed by a trader, expired, of an option, of a
    // market that does not exist; and again once closed.
    let by_trader = {
        let close = CloseMarket {
            market: 99,
            nonce: 1,
            expiryMs: block.timestamp_ms + 60_000,
        };
        let signature = common::signer(TRADERS[0])
            .sign_hash_sync(&close.signing_hash(&common::domain()))
            .unwrap();
        Transaction::CloseMarket { close, signature }
    };
    let expired = {
        let close = CloseMarket {
            market: 99,
            nonce: trading.nonce(0),
            expiryMs: block.timestamp_ms - 1,
        };
        let signature = common::signer(0)
            .sign_hash_sync(&close.signing_hash(&common::domain()))
            .unwrap();
        Transaction::CloseMarket { close, signature }
    };
    let closes = [
        (by_trader, false),
        (expired, false),
        (trading.close(OPTIONS[0], &block), false),
        (trading.close(4_242, &block), false),
        (trading.close(99, &block), true),
        (trading.close(99, &block), false),
    ];
    for (tx, taken) in closes {
        let context = format!("closing {tx:?}");
        let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, taken, "{context}");
        if changed {
            let gas = l1.step_gas(prover, &input).await.unwrap();
            println!("market close: {gas} gas");
        }
    }
    for who in TRADERS {
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 200_000_000_000,
            nonce: trading.nonce(who),
            expiryMs: u64::MAX / 2,
        });
        seed(&mut chain, signed_action(who, deposit), &block);
    }
    for _ in 0..6 {
        block.number += 1;
        block.timestamp_ms += 1_000;
        trading.index[1] = trading.index[1] * 91 / 100;
        seed(
            &mut chain,
            common::price_update(1, trading.index[1], block.timestamp_ms),
            &block,
        );
    }
    for (owner, order, expected) in &to_retire {
        let tx = Transaction::RetireOrder(RetireOrder {
            owner: common::signer(*owner).address(),
            order_hash: order.order.hash(&common::domain()),
        });
        let outcome = retirement_outcome(&chain, &tx, &block);
        assert_eq!(&outcome, expected, "retiring {order:?}");
        let context = format!("retirement after the crash, {outcome}");
        let (_, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, outcome.starts_with("taken"), "{context}");
    }
    let mut deleveragings: BTreeMap<String, usize> = BTreeMap::new();
    let adl = |target: usize, counterparty: usize, size: u64| {
        Transaction::AutoDeleverage(AutoDeleverage {
            target: common::signer(target).address(),
            market: 1,
            counterparty: common::signer(counterparty).address(),
            size,
        })
    };
    for tx in [
        adl(TRADERS[2], short, 1_000_000),
        adl(long, long, 1_000_000),
        adl(long, short, 61_000_000),
        adl(long, short, 30_000_000),
    ] {
        let outcome = deleveraging_outcome(&chain, &tx);
        let context = format!("auto-deleveraging {outcome}");
        let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, outcome == "taken", "{context}");
        if changed {
            let gas = l1.step_gas(prover, &input).await.unwrap();
            println!("auto-deleveraging: {gas} gas");
        }
        *deleveragings.entry(outcome).or_default() += 1;
    }
    println!("auto-deleveragings: {deleveragings:?}");
    for outcome in ["taken", "NotBankrupt", "SelfTrade", "NoSuchPosition"] {
        assert_eq!(
            deleveragings.get(outcome).copied(),
            Some(1),
            "one auto-deleveraging {outcome}: {deleveragings:?}"
        );
    }
    let targets = [long].into_iter().chain(TRADERS);
    for (round, target) in targets.cycle().take(8 * (TRADERS.len() + 1)).enumerate() {
        let address = common::signer(target).address();
        let clearinghouse = chain.state.ledger.clearinghouse();
        let portfolio = clearinghouse.portfolio(&address);
        let unhealthy = clearinghouse
            .risk_of(&portfolio)
            .is_ok_and(|risk| risk.equity < risk.margin.maintenance as i128);
        let Some(position) = portfolio.positions.first().copied().filter(|_| unhealthy) else {
            continue;
        };
        let liquidator = TRADERS[(round + 1 + target) % TRADERS.len()];
        let liquidator = if liquidator == target {
            TRADERS[(round + 2 + target) % TRADERS.len()]
        } else {
            liquidator
        };
        let lot = market_terms(position.market).lot;
        let lots = position.size.unsigned_abs() / lot;
        let size = match round {
            0 => (lots + 1) * lot,
            1 => 0,
            _ if round % 2 == 0 => lots * lot,
            _ => lots.div_ceil(2) * lot,
        };
        let liquidate = Liquidate {
            target: address,
            market: position.market,
            size,
            nonce: trading.nonce(liquidator),
            expiryMs: block.timestamp_ms + 60_000,
        };
        let signature = common::signer(liquidator)
            .sign_hash_sync(&liquidate.signing_hash(&common::domain()))
            .unwrap();
        let tx = Transaction::Liquidate(SignedLiquidate {
            liquidate,
            signature,
        });
        let liquidator = common::signer(liquidator).address();
        let outcome = liquidation_outcome(&chain, liquidator, &tx, &block);
        let context = format!("crash round {round}, liquidation {outcome}");
        let (input, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, outcome.starts_with("taken"), "{context}");
        if changed {
            let gas = l1.step_gas(prover, &input).await.unwrap();
            liquidation_gas = liquidation_gas.max(gas);
        }
        *liquidations.entry(outcome).or_default() += 1;
    }
    println!("retirements: {retirements:?}");
    println!("oracle updates proven sub-step by sub-step with funding accrued: {oracle_updates}");
    assert!(
        oracle_updates >= 10,
        "too few oracle updates accrued funding: {oracle_updates}"
    );
    at_least(
        "retirements",
        &retirements,
        [
            ("taken, expired", 3),
            ("NotResting", 3),
            ("StillTradeable", 1),
        ],
    );
    for (outcome, count) in &liquidations {
        println!("liquidations {outcome:>23}: {count:>4}");
    }
    println!("liquidation, highest sampled gas: {liquidation_gas}");
    at_least(
        "liquidations",
        &liquidations,
        [
            ("taken", 1),
            ("taken, bankrupt", 1),
            ("Healthy", 5),
            ("NoSuchPosition", 1),
            ("SelfTrade", 1),
        ],
    );
    for (outcome, count) in &matches {
        println!("matches {outcome:>28}: {count:>4}");
    }
    println!(
        "match, highest sampled gas: {} ({} makers)",
        match_gas.0, match_gas.1
    );
    for ((outcome, held), count) in &seen {
        println!("margin withdrawals {outcome:>7} from {held:>30}: {count:>4}");
    }
    println!(
        "margin withdrawal, highest sampled gas: {} ({} positions after)",
        gas_max.0, gas_max.1
    );
    // A sweep too heavy for one match: the trader holding the most positions takes 16
    // fresh makers (cash only); with their 17 portfolios the match weighs more than
    // MATCH_WEIGHT_MAX, and both sides refuse it. The same sweep in two matches of 8 is
    // taken.
    let heavy_taker = *TRADERS
        .iter()
        .max_by_key(|who| {
            let owner = common::signer(**who).address();
            chain
                .state
                .ledger
                .clearinghouse()
                .stored_positions(&owner)
                .len()
        })
        .expect("traders");
    let fresh = fresh_keys(0xF2E5, 16);
    fund(&mut chain, &mut trading, &fresh, &block);
    let eth = market_terms(1);
    let price = chain
        .state
        .ledger
        .clearinghouse()
        .market(1)
        .and_then(|m| m.vector.as_ref())
        .map(|v| v.mark_nano as u64 / 1_000 / eth.tick * eth.tick)
        .expect("ETH-PERP is priced");
    let mut one_lot = |key: &PrivateKeySigner, is_buy: bool, lots: u64, tif: u8| {
        trading.order_nonce += 1;
        common::sign_order_with(
            key,
            Order {
                market: 1,
                isBuy: is_buy,
                limitPrice: price,
                size: lots * eth.lot,
                timeInForce: tif,
                reduceOnly: false,
                expiryMs: block.timestamp_ms + 60_000,
                clientOrderId: trading.order_nonce,
                nonce: trading.order_nonce,
            },
        )
    };
    let taker = one_lot(&common::signer(heavy_taker), true, 16, 1);
    let asks: Vec<(SignedOrder, u64)> = fresh
        .iter()
        .map(|key| (one_lot(key, false, 1, 0), eth.lot))
        .collect();
    let sweeps = [
        ("one match of 16", asks.clone()),
        ("the first 8", asks[..8].to_vec()),
        ("the last 8", asks[8..].to_vec()),
    ];
    for (what, makers) in sweeps {
        let tx = Transaction::Match {
            taker: taker.clone(),
            makers,
        };
        let outcome = refusal(&chain, &tx, &block);
        let expected = if what == "one match of 16" {
            "TooHeavy"
        } else {
            "taken"
        };
        assert_eq!(outcome, expected, "{what}");
        let context = format!("a heavy sweep, {what}");
        let (_, changed) = prove(&l1, prover, &mut chain, tx, &block, &context).await;
        assert_eq!(changed, outcome == "taken", "{context}");
    }

    // The weight at its bound exactly. A fresh taker holds one contract of five new
    // perpetuals; against 16 fresh cash-only makers on ETH-PERP, which it does not hold,
    // the match weighs 5 + 2·6 + 12·17 = 221 and both sides refuse it; on one of its own
    // five, once one maker holds one of the others, it weighs 6 + 2·5 + 12·17 = 220 and
    // the bound lets it through.
    let perpetuals: Vec<u32> = (31_000..31_005).collect();
    for market in &perpetuals {
        let listing = trading.list(*market, &block);
        seed(&mut chain, listing, &block);
    }
    block.number += 1;
    block.timestamp_ms += 1_000;
    seed(
        &mut chain,
        common::price_update(1, trading.index[1], block.timestamp_ms),
        &block,
    );
    let [taker_key, counterparty]: [PrivateKeySigner; 2] =
        fresh_keys(0xF4E5, 2).try_into().expect("two keys");
    let makers = fresh_keys(0xF5E5, 16);
    fund(
        &mut chain,
        &mut trading,
        &[taker_key.clone(), counterparty.clone()],
        &block,
    );
    fund(&mut chain, &mut trading, &makers, &block);
    let mark = |chain: &Chain, market: u32| {
        chain
            .state
            .ledger
            .clearinghouse()
            .market(market)
            .and_then(|m| m.vector.as_ref())
            .map(|v| v.mark_nano as u64 / 1_000 / eth.tick * eth.tick)
            .expect("priced")
    };
    let mut order_on =
        |key: &PrivateKeySigner, market: u32, price: u64, is_buy: bool, lots: u64| {
            trading.order_nonce += 1;
            common::sign_order_with(
                key,
                Order {
                    market,
                    isBuy: is_buy,
                    limitPrice: price,
                    size: lots * eth.lot,
                    timeInForce: if is_buy { 1 } else { 0 },
                    reduceOnly: false,
                    expiryMs: block.timestamp_ms + 60_000,
                    clientOrderId: trading.order_nonce,
                    nonce: trading.order_nonce,
                },
            )
        };
    type OrderOn<'a> = dyn FnMut(&PrivateKeySigner, u32, u64, bool, u64) -> SignedOrder + 'a;
    let trade_one =
        |chain: &mut Chain, order_on: &mut OrderOn<'_>, buyer: &PrivateKeySigner, market: u32| {
            let price = mark(chain, market);
            let tx = Transaction::Match {
                taker: order_on(buyer, market, price, true, 1),
                makers: vec![(order_on(&counterparty, market, price, false, 1), eth.lot)],
            };
            let described = format!("{tx:?}");
            let outcome = execute_into_tree(chain, tx, &block);
            assert!(outcome.is_ok(), "{described}: {outcome:?}");
        };
    for market in &perpetuals {
        trade_one(&mut chain, &mut order_on, &taker_key, *market);
    }
    let mut owners = vec![taker_key.address()];
    owners.extend(makers.iter().map(|key| key.address()));
    let sweep =
        |chain: &Chain,
         market: u32,
         order_on: &mut dyn FnMut(&PrivateKeySigner, u32, u64, bool, u64) -> SignedOrder| {
            let price = mark(chain, market);
            Transaction::Match {
                taker: order_on(&taker_key, market, price, true, 16),
                makers: makers
                    .iter()
                    .map(|key| (order_on(key, market, price, false, 1), eth.lot))
                    .collect(),
            }
        };
    let clearinghouse = chain.state.ledger.clearinghouse();
    assert_eq!(MatchWeight::of(clearinghouse, 1, &owners).weight(), 221);
    let over = sweep(&chain, 1, &mut order_on);
    assert_eq!(refusal(&chain, &over, &block), "TooHeavy", "weight 221");
    let (_, changed) = prove(&l1, prover, &mut chain, over, &block, "weight 221").await;
    assert!(!changed, "weight 221 is refused");
    trade_one(&mut chain, &mut order_on, &makers[0], perpetuals[1]);
    let clearinghouse = chain.state.ledger.clearinghouse();
    assert_eq!(
        MatchWeight::of(clearinghouse, perpetuals[0], &owners).weight(),
        220
    );
    let at = sweep(&chain, perpetuals[0], &mut order_on);
    assert_eq!(refusal(&chain, &at, &block), "taken", "weight 220");
    let (_, changed) = prove(&l1, prover, &mut chain, at, &block, "weight 220").await;
    assert!(changed, "weight 220 is taken");

    // The bound on an underlying's active markets: BTC filled up to 1 024 by the STF
    // alone, then one more listing is refused by both; after a close one is taken.
    let listing_expiry = block.timestamp_ms + 600_000;
    let btc_listing = |market: u32, nonce: u64| ListMarket {
        underlying: 2,
        tick: 1_000_000,
        lot: 100,
        ..common::perpetual_listing(market, nonce, listing_expiry)
    };
    let mut next_btc = 20_000u32;
    while chain.state.ledger.active_markets_of(2) < 1_024 {
        let listing = list_market(0, btc_listing(next_btc, trading.nonce(0)));
        seed(&mut chain, listing, &block);
        next_btc += 1;
    }
    let one_too_many = list_market(0, btc_listing(next_btc, trading.nonce(0)));
    let (_, changed) = prove(&l1, prover, &mut chain, one_too_many, &block, "the 1 025th").await;
    assert!(!changed, "an underlying has at most 1 024 active markets");
    block.number += 1;
    block.timestamp_ms += 1_000;
    seed(
        &mut chain,
        common::price_update(2, trading.index[2], block.timestamp_ms),
        &block,
    );
    let close = trading.close(next_btc - 1, &block);
    let (_, changed) = prove(
        &l1,
        prover,
        &mut chain,
        close,
        &block,
        "closing one of 1 024",
    )
    .await;
    assert!(changed, "closing one of 1 024");
    let room = list_market(0, btc_listing(next_btc, trading.nonce(0)));
    let (_, changed) = prove(
        &l1,
        prover,
        &mut chain,
        room,
        &block,
        "listing after the close",
    )
    .await;
    assert!(changed, "listing after the close");
    assert_eq!(chain.state.ledger.active_markets_of(2), 1_024);

    assert!(emptied >= 3, "too few portfolios emptied: {emptied}");
    let refusals = [
        "BadPrice",
        "BadSize",
        "Cancelled",
        "Expired",
        "FillOrKillIncomplete",
        "MakerCannotRest",
        "MarketMismatch",
        "NotCrossing",
        "NotPlaced",
        "Overfilled",
        "PostOnlyTaker",
        "ReduceOnly",
        "SameSide",
        "SelfTrade",
        "UnknownTimeInForce",
        "ZeroFill",
    ];
    let planted = [
        ("taken, 1 maker", 50),
        ("taken, 2 to 15 makers", 10),
        ("taken, 16 makers", 1),
        ("InsufficientMargin", 10),
    ];
    at_least(
        "matches",
        &matches,
        planted
            .into_iter()
            .chain(refusals.map(|refusal| (refusal, 1))),
    );
    for (outcome, held, least) in [
        ("taken", "no positions", 10),
        ("refused", "no positions", 10),
        ("taken", "positions, funding owed", 15),
        ("refused", "positions, funding owed", 15),
        ("taken", "a settled market's position", 5),
    ] {
        let count = seen.get(&(outcome, held)).copied().unwrap_or(0);
        assert!(
            count >= least,
            "too few margin withdrawals {outcome} from {held}: {count}"
        );
    }
}

/// Asserts each outcome was seen at least so many times among `counts`.
fn at_least<'a>(
    what: &str,
    counts: &BTreeMap<String, usize>,
    minimums: impl IntoIterator<Item = (&'a str, usize)>,
) {
    for (outcome, least) in minimums {
        let count = counts.get(outcome).copied().unwrap_or(0);
        assert!(count >= least, "too few {what} {outcome}: {count}");
    }
}

/// Runs `tx` through the node's execution and the prover: their roots must agree.
/// Returns the prover's input and whether the root changed.
async fn prove(
    l1: &L1Client,
    prover: Address,
    chain: &mut Chain,
    tx: Transaction,
    block: &BlockContext,
    context: &str,
) -> (StepInput, bool) {
    let described = format!("{tx:?}");
    let input = execute_step(chain, tx, block).unwrap();
    let expected = chain.tip.tree.root();
    let proven = l1
        .execute_step(prover, &input)
        .await
        .unwrap_or_else(|e| panic!("{context} ({described}): the prover refused: {e}"));
    assert_eq!(
        proven, expected,
        "{context} ({described}): the prover's root differs from the STF's"
    );
    let changed = expected != input.pre_root;
    (input, changed)
}

/// Runs oracle update `tx` on `chain` sub-step by sub-step; each sub-step's root must be
/// the oracle prover's. Returns 1 if some perpetual accrued funding, else 0.
async fn prove_oracle_update(
    l1: &L1Client,
    prover: Address,
    chain: &mut Chain,
    tx: Transaction,
    block: &BlockContext,
    context: &str,
) -> usize {
    let funding = |chain: &Chain| -> Vec<i128> {
        chain
            .state
            .ledger
            .clearinghouse()
            .markets()
            .map(|m| m.funding_index)
            .collect()
    };
    let before = funding(chain);
    let steps = oracle_sub_steps(chain, &tx, block).unwrap();
    common::check_sub_steps(l1, prover, &steps, context).await;
    usize::from(funding(chain) != before)
}

/// Mints each of `keys` collateral (by the operator) and deposits it as margin.
fn fund(chain: &mut Chain, trading: &mut Trading, keys: &[PrivateKeySigner], block: &BlockContext) {
    for key in keys {
        let mint = Action::Mint(Mint {
            to: key.address(),
            amount: 10_000_000_000,
            nonce: trading.nonce(0),
            expiryMs: u64::MAX / 2,
        });
        let action = Action::DepositMargin(DepositMargin {
            amount: 10_000_000_000,
            nonce: 1,
            expiryMs: u64::MAX / 2,
        });
        let signature = key
            .sign_hash_sync(&action.signing_hash(&common::domain()))
            .unwrap();
        let deposit = Transaction::Action(SignedAction { action, signature });
        for tx in [signed_action(0, mint), deposit] {
            let described = format!("{tx:?}");
            let outcome = execute_into_tree(chain, tx, block);
            assert!(outcome.is_ok(), "{described}: {outcome:?}");
        }
    }
}

/// Fresh keys from `first`.
fn fresh_keys(first: u64, count: u64) -> Vec<PrivateKeySigner> {
    (first..first + count)
        .map(|k| PrivateKeySigner::from_bytes(&B256::from(U256::from(k))).unwrap())
        .collect()
}

/// `listing` signed by dev account `who` (the operator is account 0).
fn list_market(who: usize, listing: ListMarket) -> Transaction {
    let signature = common::signer(who)
        .sign_hash_sync(&listing.signing_hash(&common::domain()))
        .unwrap();
    Transaction::ListMarket { listing, signature }
}

/// "taken", or why the STF refuses the retirement `tx` now: its error's variant name.
fn retirement_outcome(chain: &Chain, tx: &Transaction, block: &BlockContext) -> String {
    let Transaction::RetireOrder(retire) = tx else {
        panic!("not a retirement: {tx:?}")
    };
    let mut probe = chain.state.ledger.clone();
    let order = probe
        .orders()
        .record(&retire.owner, &retire.order_hash)
        .and_then(|record| record.placed.as_ref())
        .map(|placement| placement.order.clone());
    match probe.apply_retire_order(retire.owner, retire.order_hash, block) {
        Ok(()) => {
            let order = order.expect("a retired order was placed");
            let active = probe.clearinghouse().active_market(order.market).is_ok();
            if block.timestamp_ms > order.expiryMs {
                "taken, expired".into()
            } else if !active {
                "taken, market closed".into()
            } else {
                "taken, unaffordable".into()
            }
        }
        Err(error) => variant_name(&format!("{error:?}").replace("Placement(", "")),
    }
}

/// "taken", or why the STF refuses the auto-deleveraging `tx` now: its error's variant
/// name.
fn deleveraging_outcome(chain: &Chain, tx: &Transaction) -> String {
    let Transaction::AutoDeleverage(adl) = tx else {
        panic!("not an auto-deleveraging: {tx:?}")
    };
    let mut probe = chain.state.ledger.clone();
    match probe.apply_auto_deleverage(adl.target, adl.market, adl.counterparty, adl.size) {
        Ok(_) => "taken".into(),
        Err(error) => variant_name(&format!("{error:?}")),
    }
}

/// "taken", or why the STF refuses the liquidation `tx` now: its error's variant name.
fn liquidation_outcome(
    chain: &Chain,
    liquidator: Address,
    tx: &Transaction,
    block: &BlockContext,
) -> String {
    let Transaction::Liquidate(signed) = tx else {
        panic!("not a liquidation: {tx:?}")
    };
    let mut probe = chain.state.ledger.clone();
    match probe.apply_signed_liquidation(liquidator, &signed.liquidate, block) {
        Ok(outcome) if outcome.insurance_covered > 0 || outcome.bad_debt > 0 => {
            "taken, bankrupt".into()
        }
        Ok(_) => "taken".into(),
        Err(error) => variant_name(&format!("{error:?}")),
    }
}

/// The innermost error variant's name in a `Debug` rendering such as
/// `Margin(Healthy { .. })` or `Match(Clearing { index: 0, error: BadPrice { .. } })`.
fn variant_name(described: &str) -> String {
    let inner = described
        .split_once("error: ")
        .map_or(described, |(_, rest)| rest);
    let inner = inner
        .strip_prefix("Match(")
        .or_else(|| inner.strip_prefix("Margin("))
        .unwrap_or(inner);
    inner
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

/// "taken", or why the STF refuses `tx` (a match) now: its error's variant name.
fn refusal(chain: &Chain, tx: &Transaction, block: &BlockContext) -> String {
    let mut probe = chain.state.ledger.clone();
    let (taker, makers) = match tx.clone().verify(&chain.state.genesis.domain) {
        Ok(VerifiedTransaction::Match { taker, makers }) => (
            taker,
            makers
                .into_iter()
                .map(|(maker, size)| MakerFill {
                    maker,
                    size,
                    placed: false,
                })
                .collect(),
        ),
        Ok(VerifiedTransaction::MatchPlaced { taker, makers }) => (
            taker,
            makers
                .into_iter()
                .map(|(maker, size)| MakerFill {
                    maker,
                    size,
                    placed: true,
                })
                .collect(),
        ),
        other => panic!("not a match: {other:?}"),
    };
    match probe.apply_match(&Match { taker, makers }, block) {
        Ok(_) => "taken".into(),
        Err(error) => variant_name(&format!("{error:?}")),
    }
}

/// What `who`'s portfolio holds that its normalisation has to settle.
fn holdings(chain: &Chain, who: usize) -> &'static str {
    let clearinghouse = chain.state.ledger.clearinghouse();
    let portfolio = clearinghouse.portfolio(&common::signer(who).address());
    let markets: Vec<_> = portfolio
        .positions
        .iter()
        .filter_map(|p| clearinghouse.market(p.market).map(|m| (p, m)))
        .collect();
    if markets
        .iter()
        .any(|(_, m)| matches!(m.status, MarketStatus::Settled { .. }))
    {
        "a settled market's position"
    } else if markets
        .iter()
        .any(|(p, m)| p.funding_snapshot != m.funding_index)
    {
        "positions, funding owed"
    } else if markets.is_empty() {
        "no positions"
    } else {
        "positions"
    }
}
