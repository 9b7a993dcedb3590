//! Deterministic simulation of Straddle's data flow from a seed. The pieces are the real
//! ones — the STF, the chain, the write-ahead log and its recovery, the batcher's batch
//! forming, the derivation pipeline and its rules — and what is simulated is what they
//! stand on: the disk ([`straddle_storage::wal::SimDisk`]), the L1 ([`l1::SimL1`]) and
//! the clock (a number the test advances). The tests in `tests/` drive them from a seed,
//! check the invariants after every step, and replay each seed to the same trace.

pub mod follower;
pub mod l1;
pub mod sequencer;

use straddle_testkit::Rng;

/// Shuffles `items` with `rng` (Fisher–Yates).
pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}
