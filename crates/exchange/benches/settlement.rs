//! Fill settlement throughput on one core: single-maker matches (order checks, two
//! margin checks before and after, cash, fees, open interest, registry) between many
//! accounts, each holding a few positions. State roots are not included here (see the
//! trie benchmark for the per-leaf cost); signature recovery happens at admission.

use alloy_primitives::Address;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use straddle_exchange::clearinghouse::Clearinghouse;
use straddle_exchange::clearinghouse::market::{Instrument, MarketSpec};
use straddle_exchange::orders::{MakerFill, Match, OrderRegistry, VerifiedOrder, execute_match};
use straddle_exchange::risk::{RiskParams, ScenarioGrid, perpetual_vector};
use straddle_primitives::{Domain, Order};

const NOW: u64 = 1_800_000_000_000;
const ACCOUNTS: u32 = 10_000;
const MARKETS: u32 = 8;

fn account(i: u32) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&i.to_be_bytes());
    bytes[19] = 1;
    Address::from(bytes)
}

fn verified(owner: u32, market: u32, is_buy: bool, nonce: u64) -> VerifiedOrder {
    let order = Order {
        market,
        isBuy: is_buy,
        limitPrice: 3_000_000_000,
        size: 1_000_000,
        timeInForce: 0,
        reduceOnly: false,
        expiryMs: NOW + 60_000,
        clientOrderId: nonce,
        nonce,
    };
    let hash = order.hash(&Domain {
        chain_id: 1,
        verifying_contract: Address::ZERO,
    });
    VerifiedOrder {
        order,
        owner: account(owner),
        hash,
    }
}

fn settlement(c: &mut Criterion) {
    let grid = ScenarioGrid::new(&RiskParams::default()).unwrap();
    let mut ch = Clearinghouse::new(1_250_000);
    for id in 0..MARKETS {
        ch.add_market(MarketSpec {
            id,
            underlying: 1,
            instrument: Instrument::Perpetual,
            tick_micro_usdc: 100_000,
            lot: 1_000,
            maker_fee_ppm: 200,
            taker_fee_ppm: 500,
        })
        .unwrap();
        ch.set_vector(id, perpetual_vector(3_000_000_000, &grid).unwrap())
            .unwrap();
    }
    for i in 0..ACCOUNTS {
        ch.deposit(account(i), 1_000_000_000_000).unwrap();
    }
    // Pre-build the matches: taker i buys from maker i+1 in market i % MARKETS, so
    // accounts accumulate positions in several markets.
    let matches: Vec<Match> = (0..100_000u64)
        .map(|n| {
            let taker = (n as u32 * 7) % ACCOUNTS;
            let maker = (taker + 1 + (n as u32 % 13)) % ACCOUNTS;
            let market = n as u32 % MARKETS;
            Match {
                taker: verified(taker, market, n % 2 == 0, 2 * n),
                makers: vec![MakerFill {
                    maker: verified(maker, market, n % 2 == 1, 2 * n + 1),
                    size: 1_000,
                    placed: false,
                }],
            }
        })
        .collect();
    let mut registry = OrderRegistry::default();
    let mut next = 0usize;
    let mut group = c.benchmark_group("settlement");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_maker_match", |b| {
        b.iter(|| {
            let m = &matches[next % matches.len()];
            next += 1;
            execute_match(&mut registry, &mut ch, m, NOW)
        })
    });
    group.finish();
}

criterion_group!(benches, settlement);
criterion_main!(benches);
