//! Risk engine costs: repricing every option market of an underlying on one oracle
//! update (1,000 markets = 500 strikes × call/put across 5 expiries), and the margin of
//! one account as a function of its number of positions.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use straddle_exchange::risk::{
    Exposure, RiskParams, ScenarioGrid, VolSmile, margin, perpetual_vector, strike_vectors,
};

const NOW_MS: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;

fn risk(c: &mut Criterion) {
    let grid = ScenarioGrid::new(&RiskParams::default()).unwrap();
    let index = 3_000_000_000u64;
    let smile = VolSmile {
        atm_vol_ppm: 650_000,
        skew_ppm: -150_000,
        curvature_ppm: 300_000,
    };
    let expiries = [1, 7, 30, 90, 180].map(|d| NOW_MS + d * DAY_MS);
    // 100 strikes per expiry from 50 % to 150 % of the index.
    let strikes: Vec<(u64, u64)> = expiries
        .iter()
        .flat_map(|e| (0..100u64).map(move |i| (index / 2 + i * index / 100, *e)))
        .collect();
    let mut group = c.benchmark_group("risk");
    group.sample_size(20);
    group.bench_function("reprice_1000_option_markets", |b| {
        b.iter(|| {
            for (strike, expiry) in &strikes {
                black_box(
                    strike_vectors(*strike, *expiry, index, &smile, NOW_MS, &grid, 5_000).unwrap(),
                );
            }
        })
    });
    group.bench_function("perpetual_vector", |b| {
        b.iter(|| perpetual_vector(black_box(index), &grid))
    });
    let vectors: Vec<_> = strikes
        .iter()
        .take(32)
        .map(|(s, e)| {
            strike_vectors(*s, *e, index, &smile, NOW_MS, &grid, 5_000)
                .unwrap()
                .call
        })
        .collect();
    for positions in [1usize, 4, 16, 32] {
        let exposures: Vec<Exposure<'_>> = vectors
            .iter()
            .take(positions)
            .enumerate()
            .map(|(i, vector)| Exposure {
                size: if i % 2 == 0 { 1_000_000 } else { -2_000_000 },
                vector,
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("margin", positions), &exposures, |b, e| {
            b.iter(|| margin(black_box(e), 1_250_000))
        });
    }
    group.finish();
}

criterion_group!(benches, risk);
criterion_main!(benches);
