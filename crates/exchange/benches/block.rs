//! Fills settled per second on one core with state roots: single-maker matches between
//! random accounts of a one-million-account state, executed through the STF's entry point
//! `straddle_exchange::apply` (order checks, margin, registry), and after every block of
//! matches the changed leaves are encoded, the tree is updated and the root computed —
//! everything a block costs except signature recovery (done at admission, in parallel)
//! and disk.
//!
//! `cargo bench -p straddle-exchange --bench block` (accounts: `BLOCK_BENCH_ACCOUNTS`,
//! default 1,000,000).

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::time::{Duration, Instant};
use straddle_exchange::clearinghouse::Portfolio;
use straddle_exchange::clearinghouse::market::{Instrument, MarketSpec};
use straddle_exchange::genesis::UnderlyingConfig;
use straddle_exchange::leaves::encode_portfolio;
use straddle_exchange::ledger::encode_totals;
use straddle_exchange::oracle::OracleConfig;
use straddle_exchange::orders::VerifiedOrder;
use straddle_exchange::risk::RiskParams;
use straddle_exchange::{BlockContext, Genesis, Ledger, StateKey, Totals};
use straddle_primitives::{
    Amount, Domain, Order, PriceReport, SignedPriceReport, VerifiedTransaction,
};
use straddle_state::{LeafChange, SparseMerkleTree};

const DOMAIN: Domain = Domain {
    chain_id: 1,
    verifying_contract: Address::ZERO,
};
const NOW: u64 = 1_800_000_000_000;

fn account(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..8].copy_from_slice(&i.to_be_bytes());
    bytes[19] = 0x5a;
    Address::from(bytes)
}

fn oracle_key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&U256::from(77 + i).into()).unwrap()
}

fn genesis() -> Genesis {
    Genesis {
        domain: DOMAIN,
        timestamp_ms: NOW,
        operator: None,
        faucet_enabled: false,
        allocations: Vec::new(),
        underlyings: vec![UnderlyingConfig {
            id: 1,
            symbol: "ETH".into(),
            oracle: OracleConfig {
                underlying: 1,
                signers: (0..3).map(|i| oracle_key(i).address()).collect(),
                quorum: 2,
                staleness_ms_max: 60_000,
                move_ppm_max: 100_000,
            },
            risk: RiskParams::default(),
            funding_premium_cap_ppm: 5_000,
        }],
        markets: (1..=8)
            .map(|id| MarketSpec {
                id,
                underlying: 1,
                instrument: Instrument::Perpetual,
                tick_micro_usdc: 100_000,
                lot: 1_000,
                maker_fee_ppm: 200,
                taker_fee_ppm: 500,
            })
            .collect(),
    }
}

fn order(owner: u64, market: u32, is_buy: bool, nonce: u64) -> VerifiedOrder {
    let order = Order {
        market,
        isBuy: is_buy,
        limitPrice: 3_000_000_000,
        size: 1_000,
        timeInForce: if is_buy { 1 } else { 0 },
        reduceOnly: false,
        expiryMs: NOW + 600_000,
        clientOrderId: nonce,
        nonce,
    };
    let hash = order.hash(&DOMAIN);
    VerifiedOrder {
        order,
        owner: account(owner),
        hash,
    }
}

fn main() {
    let accounts: u64 = std::env::var("BLOCK_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let matches_total: u64 = 200_000;
    let block_len: u64 = 10_000;

    let start = Instant::now();
    let funded = Portfolio {
        cash: 1_000_000_000_000,
        positions: Vec::new(),
    };
    // Every account's cash came in as an L1 deposit: the supply totals say so, or the
    // state would not conserve collateral (the invariants checked at each block close).
    let totals = Totals {
        deposited: Amount(u128::from(accounts) * funded.cash as u128),
        deposit_count: accounts,
        ..Totals::default()
    };
    let leaves: Vec<(Vec<u8>, Vec<u8>)> = (0..accounts)
        .map(|i| {
            (
                StateKey::Portfolio(account(i)).encode(),
                encode_portfolio(&funded),
            )
        })
        .chain([(StateKey::Totals.encode(), encode_totals(&totals))])
        .collect();
    let mut tree = SparseMerkleTree::new();
    tree.update_batch(
        leaves
            .iter()
            .map(|(k, v)| {
                LeafChange {
                    key: k.clone(),
                    value: Some(v.clone()),
                }
                .tree_update()
            })
            .collect(),
    );
    tree.root();
    let mut ledger = Ledger::from_leaves(&genesis(), leaves).unwrap();
    let reports: Vec<_> = (0..2)
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
            let signature = oracle_key(i)
                .sign_hash_sync(&report.signing_hash(&DOMAIN))
                .unwrap();
            SignedPriceReport { report, signature }
        })
        .collect();
    let block = BlockContext {
        number: 1,
        timestamp_ms: NOW,
    };
    let update = VerifiedTransaction::OracleUpdate {
        underlying: 1,
        reports,
    };
    straddle_exchange::apply(&mut ledger, &DOMAIN, &update, &block).unwrap();
    tree.update_batch(
        ledger
            .take_changes()
            .iter()
            .map(LeafChange::tree_update)
            .collect(),
    );
    tree.root();
    // Random pairs of accounts (xorshift), market by round robin.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let matches: Vec<VerifiedTransaction> = (0..matches_total)
        .map(|n| {
            let taker = next() % accounts;
            let mut maker = next() % accounts;
            if maker == taker {
                maker = (maker + 1) % accounts;
            }
            let market = (n % 8) as u32 + 1;
            VerifiedTransaction::Match {
                taker: order(taker, market, true, 2 * n),
                makers: vec![(order(maker, market, false, 2 * n + 1), 1_000)],
            }
        })
        .collect();
    println!(
        "setup: {accounts} funded accounts, tree and {matches_total} matches in {:.2?}",
        start.elapsed()
    );

    let (mut in_execute, mut in_invariants, mut in_encode, mut in_tree) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut settled = 0u64;
    let start = Instant::now();
    for (b, chunk) in matches.chunks(block_len as usize).enumerate() {
        let block = BlockContext {
            number: 2 + b as u64,
            timestamp_ms: NOW + 1,
        };
        let t = Instant::now();
        for m in chunk {
            settled += u64::from(straddle_exchange::apply(&mut ledger, &DOMAIN, m, &block).is_ok());
        }
        in_execute += t.elapsed();
        let t = Instant::now();
        ledger
            .check_invariants()
            .expect("the STF keeps its invariants");
        in_invariants += t.elapsed();
        let t = Instant::now();
        let changes = ledger.take_changes();
        let updates: Vec<_> = changes.iter().map(LeafChange::tree_update).collect();
        in_encode += t.elapsed();
        let t = Instant::now();
        tree.update_batch(updates);
        tree.root();
        in_tree += t.elapsed();
    }
    let elapsed = start.elapsed();
    println!(
        "settled {settled} of {matches_total} single-maker matches in blocks of {block_len} with a root per block: {elapsed:.2?} = {:.0} matches/s",
        settled as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  execute {in_execute:.2?}, invariants at block close {in_invariants:.2?} ({:.2?} per block), leaf encoding {in_encode:.2?}, tree update + root {in_tree:.2?} ({} leaves in the tree)",
        in_invariants / (matches_total.div_ceil(block_len) as u32).max(1),
        tree.len()
    );
}
