//! Matching engine alone, one core: a mix of adds (50 %), cancels (35 %) and crossing
//! immediate-or-cancel orders (15 %) on a book of 10,000 price levels (5,000 a side,
//! 20,000 resting orders to start). To hold the book at that size (steady state, not a
//! book that grows without bound), an add drawn while more than 20,000 orders rest
//! becomes a cancel; the realised mix is printed. Every operation goes through the
//! public API the sequencer uses (`submit`, `cancel`).
//!
//! `cargo bench -p straddle-book --bench engine`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use straddle_book::{Book, NewOrder, OrderId, Side, TimeInForce};

const MID: u64 = 1_000_000;
const LEVELS_PER_SIDE: u64 = 5_000;
const RESTING_TARGET: usize = 20_000;

struct Workload {
    book: Book,
    /// Resting orders by the bench's own handle (the order's tag); `None` once gone.
    handles: Vec<Option<OrderId>>,
    free_handles: Vec<u64>,
    live: Vec<u64>,
    rng: u64,
    /// Operations run: adds, cancels, crossing IOCs.
    counts: [u64; 3],
}

impl Workload {
    fn new() -> Workload {
        let mut w = Workload {
            book: Book::new(),
            handles: Vec::new(),
            free_handles: Vec::new(),
            live: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
            counts: [0; 3],
        };
        for level in 1..=LEVELS_PER_SIDE {
            for _ in 0..2 {
                w.add(Side::Buy, MID - level, 10, TimeInForce::GoodTillCancelled);
                w.add(Side::Sell, MID + level, 10, TimeInForce::GoodTillCancelled);
            }
        }
        w
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn handle(&mut self) -> u64 {
        self.free_handles.pop().unwrap_or_else(|| {
            self.handles.push(None);
            self.handles.len() as u64 - 1
        })
    }

    fn add(&mut self, side: Side, price: u64, qty: u64, tif: TimeInForce) {
        let tag = self.handle();
        let trader = self.next() % 1_000;
        let order = NewOrder {
            trader,
            side,
            price,
            qty,
            tif,
            tag,
        };
        let done = black_box(self.book.submit(&order)).expect("valid order");
        for fill in done.fills.iter().filter(|f| f.maker_done) {
            self.handles[fill.maker_tag as usize] = None;
        }
        for removed in &done.self_trades {
            self.handles[removed.tag as usize] = None;
        }
        match done.rested {
            Some(id) => {
                self.handles[tag as usize] = Some(id);
                self.live.push(tag);
            }
            None => self.free_handles.push(tag),
        }
    }

    fn cancel_random(&mut self) {
        // Pick live handles at random, dropping stale ones (filled since) on the way.
        while !self.live.is_empty() {
            let at = (self.next() % self.live.len() as u64) as usize;
            let tag = self.live.swap_remove(at);
            if let Some(id) = self.handles[tag as usize].take() {
                black_box(self.book.cancel(id));
                self.free_handles.push(tag);
                return;
            }
            self.free_handles.push(tag);
        }
    }

    fn step(&mut self) {
        let r = self.next() % 100;
        let side = if self.next() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        if r < 50 && self.book.len() < RESTING_TARGET {
            self.counts[0] += 1;
            let offset = 1 + self.next() % LEVELS_PER_SIDE;
            let price = match side {
                Side::Buy => MID - offset,
                Side::Sell => MID + offset,
            };
            let qty = 1 + self.next() % 20;
            self.add(side, price, qty, TimeInForce::GoodTillCancelled);
        } else if r < 85 {
            self.counts[1] += 1;
            self.cancel_random();
        } else {
            self.counts[2] += 1;
            let qty = 1 + self.next() % 30;
            let price = match side {
                Side::Buy => self.book.best_ask().map_or(MID, |(p, _)| p + 2),
                Side::Sell => self.book.best_bid().map_or(MID, |(p, _)| p - 2),
            };
            self.add(side, price, qty, TimeInForce::ImmediateOrCancel);
        }
        self.book.take_changed_levels();
    }
}

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    let mut workload = Workload::new();
    group.bench_function("mixed add/cancel/IOC, 10k levels", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                workload.step();
            }
            start.elapsed()
        })
    });
    group.finish();
    let bids = workload.book.depth(Side::Buy, usize::MAX).len();
    let asks = workload.book.depth(Side::Sell, usize::MAX).len();
    let total: u64 = workload.counts.iter().sum();
    let share = |n: u64| 100.0 * n as f64 / total as f64;
    println!(
        "after {total} operations ({:.1} % adds, {:.1} % cancels, {:.1} % crossing IOC): {} resting orders on {bids} bid and {asks} ask levels",
        share(workload.counts[0]),
        share(workload.counts[1]),
        share(workload.counts[2]),
        workload.book.len()
    );
}

criterion_group!(benches, engine);
criterion_main!(benches);
