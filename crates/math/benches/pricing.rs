//! Cost of the fixed-point primitives and of one Black-76 valuation (both prices and all
//! Greeks), the unit of work of repricing an option market on an oracle update.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use straddle_math::normal::{cdf, mills_ratio, pdf};
use straddle_math::{Fixed, OptionInputs, black76, price_parts};

fn fixed(value: f64) -> Fixed {
    Fixed((value * 18_446_744_073_709_551_616.0) as i128)
}

fn pricing(c: &mut Criterion) {
    let mut group = c.benchmark_group("math");
    let x = fixed(-1.2345);
    group.bench_function("mul", |b| {
        b.iter(|| black_box(x).mul_floor(black_box(fixed(0.77))))
    });
    group.bench_function("div", |b| {
        b.iter(|| black_box(x).div_floor(black_box(fixed(0.77))))
    });
    group.bench_function("exp", |b| b.iter(|| black_box(x).exp()));
    group.bench_function("ln", |b| b.iter(|| black_box(fixed(3.3)).ln()));
    group.bench_function("sqrt", |b| b.iter(|| black_box(fixed(0.0833)).sqrt()));
    group.bench_function("pdf", |b| b.iter(|| pdf(black_box(x))));
    group.bench_function("mills_ratio", |b| {
        b.iter(|| mills_ratio(black_box(fixed(1.7))))
    });
    group.bench_function("cdf", |b| b.iter(|| cdf(black_box(x))));
    let inputs = OptionInputs {
        forward: fixed(3000.0),
        strike: fixed(3200.0),
        sigma: fixed(0.65),
        years: fixed(30.0 / 365.0),
    };
    group.bench_function("black76_prices_and_greeks", |b| {
        b.iter(|| black76(black_box(&inputs)))
    });
    let (ln_m, m, v) = (
        fixed((3200.0f64 / 3000.0).ln()),
        fixed(3200.0 / 3000.0),
        fixed(0.1863),
    );
    group.bench_function("price_parts_scenario", |b| {
        b.iter(|| {
            price_parts(
                black_box(ln_m),
                black_box(m),
                black_box(v),
                black_box(fixed(1.0 / 0.1863)),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, pricing);
criterion_main!(benches);
