//! Parity of the L1 one-step prover with the Rust STF on margin withdrawals from
//! portfolios with positions (`docs/spec/disputes.md` §4, `MarginStepProver.sol`):
//! traders open perpetual and option positions through matches, oracle updates move the
//! index (and with it the risk vectors) and accrue funding, the operator lists ETH
//! perpetuals and closes them again, and the BTC one (positions in a closed market are
//! paid out and closed when their portfolio is next normalised), and random
//! margin withdrawals (within the free margin, exactly at it, just past it, of all the
//! cash, zero, overflowing, expired, replayed, by accounts without a portfolio) run
//! through the node's execution and through `StepProver.execute` on a real anvil: the
//! post-state roots must be equal after every one. Matches, oracle updates and the
//! closing run on the STF only (the prover does not cover them yet). Prints the prover's
//! gas (docs/PERFORMANCE.md).

mod common;

use alloy_signer::SignerSync;
use common::Rng;
use std::collections::BTreeMap;
use straddle_exchange::clearinghouse::market::MarketStatus;
use straddle_exchange::{BlockContext, StateKey};
use straddle_node::chain::Chain;
use straddle_node::step::{execute_into_tree, execute_step};
use straddle_primitives::{
    Action, CloseMarket, DepositMargin, Order, SignedAction, Transaction, WithdrawMargin,
};

const STEPS: usize = 2_000;
/// Accounts that trade; account 5 only moves cash in and out.
const TRADERS: [usize; 4] = [1, 2, 3, 4];
const CASH_ONLY: usize = 5;
/// The devnet's option markets (ETH calls and puts at three strikes).
const OPTIONS: [u32; 6] = [11, 12, 13, 14, 15, 16];

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
            lots_max: 400,
        },
        1 => Market {
            tick: 100_000,
            lot: 1_000,
            lots_max: 4_000,
        },
        _ => Market {
            tick: 100_000,
            lot: 1_000,
            lots_max: 8_000,
        },
    }
}

struct Trading {
    rng: Rng,
    nonces: BTreeMap<usize, u64>,
    order_nonce: u64,
    /// Index per underlying (1 ETH, 2 BTC), micro-USDC.
    index: [u64; 3],
}

impl Trading {
    fn nonce(&mut self, who: usize) -> u64 {
        let next = self.nonces.entry(who).or_default();
        *next += 1;
        *next
    }

    /// A match on `market` between two distinct traders near its mark.
    fn trade(&mut self, chain: &Chain, market: u32, block: &BlockContext) -> Option<Transaction> {
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
        let skew = 960 + self.rng.below(81);
        let price = (mark.max(1) as u64 * skew / 1_000) / terms.tick * terms.tick;
        let price = price.max(terms.tick);
        let size = (1 + self.rng.below(terms.lots_max)) * terms.lot;
        let maker = TRADERS[self.rng.below(TRADERS.len() as u64) as usize];
        let taker = loop {
            let t = TRADERS[self.rng.below(TRADERS.len() as u64) as usize];
            if t != maker {
                break t;
            }
        };
        let maker_buys = self.rng.chance(50);
        let order = |is_buy: bool, tif: u8, nonce: u64| Order {
            market,
            isBuy: is_buy,
            limitPrice: price,
            size,
            timeInForce: tif,
            reduceOnly: false,
            expiryMs: block.timestamp_ms + 60_000,
            clientOrderId: nonce,
            nonce,
        };
        self.order_nonce += 2;
        let maker_order = order(maker_buys, 0, self.order_nonce);
        let taker_order = order(!maker_buys, 1, self.order_nonce + 1);
        Some(Transaction::Match {
            taker: common::sign_order(taker, taker_order),
            makers: vec![(common::sign_order(maker, maker_order), size)],
        })
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
async fn margin_withdrawals_with_positions_funding_and_settlement_reach_the_stfs_root() {
    let anvil = common::anvil();
    let l1 = common::l1_client(&anvil, 0);
    let genesis = common::genesis();
    let deployment = common::deploy_for(&l1, &genesis).await;
    let prover = deployment.step_prover;
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
    for step in 0..STEPS {
        match trading.rng.below(100) {
            0..=11 => {
                block.number += 1;
                block.timestamp_ms += 1_000 + trading.rng.below(20_000);
                let underlying = 1 + trading.rng.below(2) as usize;
                let index = trading.index[underlying];
                let moved = index as i128 * (trading.rng.below(81) as i128 - 40) / 1_000;
                trading.index[underlying] = (index as i128 + moved) as u64;
                let update = common::price_update(
                    underlying as u32,
                    trading.index[underlying],
                    block.timestamp_ms,
                );
                seed(&mut chain, update, &block);
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
                if let Some(tx) = trading.trade(&chain, market, &block) {
                    // Refused now and then (margin): it then changes nothing.
                    let _ = execute_into_tree(&mut chain, tx, &block);
                }
            }
            47..=50 => {
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
            51 if !closed && step > STEPS / 3 => {
                let close = trading.close(2, &block);
                seed(&mut chain, close, &block);
                closed = true;
            }
            52..=55 => {
                if !listed.is_empty() && (listed.len() == 3 || trading.rng.chance(50)) {
                    let close = trading.close(listed.remove(0), &block);
                    seed(&mut chain, close, &block);
                } else {
                    let listing = trading.list(next_listing, &block);
                    seed(&mut chain, listing, &block);
                    listed.push(next_listing);
                    next_listing += 1;
                    // Priced (given a vector) by the next update.
                    block.number += 1;
                    block.timestamp_ms += 1_000;
                    let update = common::price_update(1, trading.index[1], block.timestamp_ms);
                    seed(&mut chain, update, &block);
                }
            }
            _ => {
                let who = match trading.rng.below(10) {
                    0 => 9, // no portfolio at all
                    1 | 2 => CASH_ONLY,
                    _ => TRADERS[trading.rng.below(TRADERS.len() as u64) as usize],
                };
                let held = holdings(&chain, who);
                let tx = trading.withdrawal(&chain, who, &block);
                let described = format!("{tx:?}");
                let input = execute_step(&mut chain, tx, &block).unwrap();
                let expected = chain.tip.tree.root();
                let proven = l1.execute_step(prover, &input).await.unwrap_or_else(|e| {
                    panic!("step {step} ({described}, {held}): the prover refused: {e}")
                });
                assert_eq!(
                    proven, expected,
                    "step {step} ({described}, {held}): the prover's root differs from the STF's"
                );
                let outcome = if expected == input.pre_root {
                    "refused"
                } else {
                    "taken"
                };
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
    for ((outcome, held), count) in &seen {
        println!("margin withdrawals {outcome:>7} from {held:>30}: {count:>4}");
    }
    println!(
        "margin withdrawal, highest sampled gas: {} ({} positions after)",
        gas_max.0, gas_max.1
    );
    assert!(emptied >= 3, "too few portfolios emptied: {emptied}");
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
