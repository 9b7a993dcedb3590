//! The whole data flow from a seed: a sequencer (`straddle_simulation::sequencer`) takes
//! signed transfers, logs them on a simulated disk and seals and commits blocks; the
//! batcher forms batches from its committed blocks (`straddle_batcher::form_batch`) and
//! posts them to a simulated L1; a follower derives the chain from that L1 through the
//! real pipeline. The seed decides every step, among them:
//!
//! - crashes of the sequencer between any two of its steps (records queued but not yet
//!   written are lost; they were never acknowledged);
//! - power lost in the middle of an fsync: a random prefix of the group reaches the disk,
//!   usually ending inside a record (a torn write the recovery must cut off), and nothing
//!   of the group is acknowledged;
//! - slow fsyncs: in a slow phase the log syncs rarely, so many admissions queue behind
//!   one write (the real log thread's group commit under a slow disk);
//! - L1 reorgs that drop batches (the batcher finds its posted head lower and posts
//!   again), and L1 finality advancing.
//!
//! After every step: the ledger's invariants hold; after every restart, every
//! acknowledged transaction is in the recovered chain and every block sealed before the
//! crash is there unchanged; after every derivation round, the follower's chain is a
//! prefix of the sequencer's and `finalized ≤ safe ≤ head`. At the end the follower holds,
//! and finalizes, the sequencer's whole chain with every acknowledged transaction. The
//! same seed replays to the same trace; a failing seed is printed and reproduces exactly.

use alloy_primitives::B256;
use alloy_signer::SignerSync;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use straddle_batch::{BatchBlock, batch_range};
use straddle_batcher::{BatcherError, form_batch};
use straddle_derive::{DerivedChain, Pipeline};
use straddle_primitives::{Action, SignedAction, Transaction, Transfer};
use straddle_simulation::follower::{SimChain, follow};
use straddle_simulation::l1::SimL1;
use straddle_simulation::sequencer::SimSequencer;
use straddle_storage::chain_store::ChainStore;
use straddle_storage::wal::SimDisk;
use straddle_testkit::{self as kit, Rng};

/// Steps of one simulation.
const STEPS: usize = 500;
/// Seeds the test runs.
const SEEDS: [u64; 4] = [7, 11, 2_026, 0xfeed];
/// The batcher's batch limit: small, so a backlog splits over several batches.
const BATCH_BYTES_MAX: usize = 12_000;

/// What the world looked like after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    step: usize,
    sealed: u64,
    committed: u64,
    acknowledged: usize,
    l1_head: u64,
    follower: (u64, u64, u64),
}

/// Counts of what the run injected, to show the seed reached them.
#[derive(Debug, Default)]
struct Injected {
    crashes: u64,
    power_losses: u64,
    torn_writes: u64,
    slow_phases: u64,
    reorgs: u64,
    replayed: u64,
}

struct World {
    seed: u64,
    rng: Rng,
    disk: SimDisk,
    sequencer_dir: tempfile::TempDir,
    sequencer: Option<SimSequencer>,
    l1: SimL1,
    follower: Arc<SimChain>,
    pipeline: Pipeline<SimL1, SimChain>,
    _follower_dir: tempfile::TempDir,
    /// Every transaction a receipt was sent for.
    acknowledged: BTreeSet<B256>,
    /// Every block the sequencer sealed, by number.
    sealed: BTreeMap<u64, B256>,
    now_ms: u64,
    nonce: u64,
    slow_fsync: bool,
    injected: Injected,
}

impl World {
    fn new(seed: u64) -> World {
        let disk = SimDisk::new();
        let sequencer_dir = tempfile::tempdir().unwrap();
        let (sequencer, _) = SimSequencer::start(&kit::genesis(), &disk, sequencer_dir.path())
            .unwrap_or_else(|e| panic!("seed {seed}: the sequencer does not start: {e}"));
        let l1 = SimL1::new();
        let follower_dir = tempfile::tempdir().unwrap();
        let (follower, pipeline) = follow(&l1, follower_dir.path());
        World {
            seed,
            rng: Rng(seed),
            disk,
            sequencer_dir,
            sequencer: Some(sequencer),
            l1,
            follower,
            pipeline,
            _follower_dir: follower_dir,
            acknowledged: BTreeSet::new(),
            sealed: BTreeMap::new(),
            now_ms: kit::genesis().timestamp_ms + 1_000,
            nonce: 1,
            slow_fsync: false,
            injected: Injected::default(),
        }
    }

    fn sequencer(&mut self) -> &mut SimSequencer {
        self.sequencer
            .as_mut()
            .unwrap_or_else(|| panic!("seed {}: the sequencer is down", self.seed))
    }

    /// A transfer between dev accounts; some are refused (too large).
    fn transfer(&mut self) -> Transaction {
        let from = self.rng.below(10) as usize;
        let amount = if self.rng.chance(10) {
            u128::MAX / 2
        } else {
            1 + u128::from(self.rng.below(1_000_000))
        };
        let action = Action::Transfer(Transfer {
            to: kit::signer(self.rng.below(10) as usize).address(),
            amount,
            nonce: self.nonce,
            expiryMs: u64::MAX,
        });
        self.nonce += 1;
        let signature = kit::signer(from)
            .sign_hash_sync(&action.signing_hash(&kit::domain()))
            .unwrap();
        Transaction::Action(SignedAction { action, signature })
    }

    /// A failed log write or commit is a crash of the sequencer process.
    fn or_crash<T>(&mut self, result: Result<T, impl std::fmt::Display>, what: &str) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                let seed = self.seed;
                assert!(
                    error.to_string().contains("power lost"),
                    "seed {seed}: {what} failed for a reason the simulation did not inject: {error}"
                );
                self.crash_and_restart();
                None
            }
        }
    }

    /// The sequencer process dies; the disk keeps what was synced and a random prefix of
    /// anything written after. Then it restarts and recovers.
    fn crash_and_restart(&mut self) {
        let seed = self.seed;
        self.sequencer = None;
        let rng = &mut self.rng;
        self.disk
            .crash(|_, unsynced| rng.below(unsynced as u64 + 1) as usize);
        self.injected.crashes += 1;
        let (sequencer, replayed) =
            SimSequencer::start(&kit::genesis(), &self.disk, self.sequencer_dir.path())
                .unwrap_or_else(|e| panic!("seed {seed}: recovery after a crash failed: {e}"));
        self.injected.replayed += replayed as u64;
        // Every block that was sealed is there, unchanged; every acknowledged transaction
        // is in the recovered chain; blocks recovered past the last sealed one join it.
        let store = sequencer.store();
        let head = sequencer.sealed_head();
        let last_sealed = self.sealed.keys().next_back().copied().unwrap_or(0);
        assert!(
            head >= last_sealed,
            "seed {seed}: recovered head {head} is below sealed block {last_sealed}"
        );
        for number in 1..=head {
            let hash = store_hash(store, number);
            let recorded = *self.sealed.entry(number).or_insert(hash);
            assert_eq!(
                recorded, hash,
                "seed {seed}: block {number} changed across a crash"
            );
        }
        for tx in &self.acknowledged {
            assert!(
                store.tx_location(tx).unwrap().is_some(),
                "seed {seed}: acknowledged transaction {tx} was lost in a crash"
            );
        }
        self.sequencer = Some(sequencer);
    }

    /// The batcher's round: if the sequencer has committed blocks past the last batch on
    /// L1, posts the next batch of them.
    async fn batcher_round(&mut self) {
        let posted = posted_head(&self.l1);
        let sequencer = self.sequencer();
        let head = sequencer.committed_head().unwrap();
        if head <= posted {
            return;
        }
        let store = sequencer.store();
        let parent = (posted, store_hash(store, posted));
        let (batch, bytes) = form_batch(&kit::domain(), BATCH_BYTES_MAX, parent, head, |n| {
            let block = batch_block(store, n);
            async move { block }
        })
        .await
        .unwrap();
        assert!(!batch.blocks.is_empty() && bytes.len() <= BATCH_BYTES_MAX);
        self.l1.mine(vec![bytes]);
    }

    /// A derivation round, then the follower's checks.
    async fn derive(&mut self, step: usize) {
        let seed = self.seed;
        self.pipeline
            .round()
            .await
            .unwrap_or_else(|e| panic!("seed {seed}, step {step}: the round failed: {e}"));
        let (head, _) = self.follower.committed_head();
        let (safe, finalized) = self.follower.heads();
        assert!(
            finalized <= safe && safe <= head.number,
            "seed {seed}, step {step}: finalized {finalized} ≤ safe {safe} ≤ head {}",
            head.number
        );
        for number in 1..=head.number {
            assert_eq!(
                Some(&store_hash(&self.follower.store, number)),
                self.sealed.get(&number),
                "seed {seed}, step {step}: derived block {number} is not the sequencer's"
            );
        }
    }

    fn snapshot(&mut self, step: usize) -> Snapshot {
        let seed = self.seed;
        let sequencer = self.sequencer();
        if let Err(violation) = sequencer.check_invariants() {
            panic!("seed {seed}, step {step}: the ledger broke an invariant: {violation}");
        }
        let (sealed, committed) = (sequencer.sealed_head(), sequencer.committed_head().unwrap());
        let (head, _) = self.follower.committed_head();
        let (safe, finalized) = self.follower.heads();
        Snapshot {
            step,
            sealed,
            committed,
            acknowledged: self.acknowledged.len(),
            l1_head: self.l1.head(),
            follower: (head.number, safe, finalized),
        }
    }

    async fn step(&mut self, step: usize) {
        match self.rng.below(100) {
            // Traders submit; the clock moves on.
            0..=29 => {
                self.now_ms += self.rng.below(3) * 100;
                for _ in 0..1 + self.rng.below(4) {
                    let tx = self.transfer();
                    let now = self.now_ms;
                    // A refusal is the trader's problem: it is neither logged nor acked.
                    let _ = self.sequencer().submit(tx, now);
                }
            }
            // The log thread's round; in a slow phase the fsync rarely finishes in time.
            30..=41 => {
                if self.slow_fsync && !self.rng.chance(25) {
                    return;
                }
                if self.rng.chance(8) {
                    // Part of the group reaches the disk, often ending inside a record.
                    let queued = self.sequencer().queued_bytes();
                    let durable = self.rng.below(queued as u64 + 1) as usize;
                    self.injected.power_losses += 1;
                    self.injected.torn_writes += u64::from(durable > 0 && durable < queued);
                    self.disk.lose_power_in_next_sync(durable);
                }
                let result = self.sequencer().sync();
                if let Some(acked) = self.or_crash(result, "the log write") {
                    self.acknowledged.extend(acked);
                }
            }
            // The sealer (its block's records are synced first).
            42..=51 => {
                let result = self.sequencer().seal();
                if let Some(sealing) = self.or_crash(result, "sealing") {
                    self.acknowledged.extend(sealing.acknowledged);
                    if let Some((number, hash)) = sealing.sealed {
                        assert!(
                            self.sealed.insert(number, hash).is_none(),
                            "seed {}: block {number} sealed twice",
                            self.seed
                        );
                    }
                }
            }
            // The database thread.
            52..=61 => {
                let result = self.sequencer().commit_next();
                self.or_crash(result, "committing");
            }
            // A crash, tearing what was in flight.
            62..=64 => self.crash_and_restart(),
            // The disk turns slow, or fast again.
            65..=67 => {
                self.slow_fsync = !self.slow_fsync;
                self.injected.slow_phases += u64::from(self.slow_fsync);
            }
            68..=77 => self.batcher_round().await,
            78..=81 => self.l1.mine(Vec::new()),
            82..=85 => {
                self.injected.reorgs += 1;
                self.l1.reorg(1 + self.rng.below(3) as usize);
            }
            86..=91 => self.l1.finalize(self.rng.below(4)),
            _ => self.derive(step).await,
        }
    }

    /// No more faults: everything pending is synced, sealed, committed, posted and
    /// finalized, and derived.
    async fn drain(&mut self) {
        let seed = self.seed;
        let sealing = self.sequencer().seal().unwrap();
        self.acknowledged.extend(sealing.acknowledged);
        if let Some((number, hash)) = sealing.sealed {
            self.sealed.insert(number, hash);
        }
        while self.sequencer().commit_next().unwrap().is_some() {}
        let head = self.sequencer().committed_head().unwrap();
        while posted_head(&self.l1) < head {
            self.batcher_round().await;
        }
        self.l1.mine(Vec::new());
        self.l1.finalize(0);
        self.derive(STEPS).await;
        assert_eq!(
            (
                self.follower.committed_head().0.number,
                self.follower.heads()
            ),
            (head, (head, head)),
            "seed {seed}: the follower holds, and finalizes, the sequencer's whole chain"
        );
        for tx in &self.acknowledged {
            assert!(
                self.follower.store.tx_location(tx).unwrap().is_some(),
                "seed {seed}: acknowledged transaction {tx} never reached L1"
            );
        }
    }
}

/// The hash of stored block `number`.
fn store_hash(store: &ChainStore, number: u64) -> B256 {
    store
        .header(number)
        .unwrap()
        .unwrap_or_else(|| panic!("block {number} is not stored"))
        .hash()
}

/// Block `number` as a batch carries it, from the store (what the batcher reads over RPC).
fn batch_block(store: &ChainStore, number: u64) -> Result<BatchBlock, BatcherError> {
    let (header, stored) = store
        .block(number)
        .unwrap()
        .ok_or_else(|| BatcherError::Block {
            number,
            reason: "not stored".into(),
        })?;
    Ok(BatchBlock {
        number,
        timestamp_ms: header.timestamp_ms,
        transactions: stored.into_iter().map(|s| s.tx).collect(),
    })
}

/// The last block the newest batch on L1 carries (the real batcher's rule), 0 if none.
fn posted_head(l1: &SimL1) -> u64 {
    l1.postings()
        .last()
        .map_or(0, |bytes| batch_range(bytes).unwrap().last_block)
}

async fn simulate(seed: u64) -> (Vec<Snapshot>, Injected) {
    let mut world = World::new(seed);
    let mut trace = Vec::with_capacity(STEPS + 1);
    for step in 0..STEPS {
        world.step(step).await;
        trace.push(world.snapshot(step));
    }
    world.drain().await;
    trace.push(world.snapshot(STEPS));
    (trace, world.injected)
}

#[tokio::test(flavor = "current_thread")]
async fn sequencer_batcher_and_follower_survive_crashes_torn_writes_slow_fsyncs_and_reorgs() {
    for seed in SEEDS {
        let (first, injected) = simulate(seed).await;
        let (again, _) = simulate(seed).await;
        assert_eq!(
            first, again,
            "seed {seed} does not replay to the same trace"
        );
        let last = &first[first.len() - 1];
        println!("seed {seed}: {last:?}; injected {injected:?}");
        assert!(
            injected.crashes > 0 && injected.torn_writes > 0 && injected.reorgs > 0,
            "seed {seed}: the run injected crashes, torn writes and reorgs"
        );
        assert!(last.acknowledged > 0 && last.follower.0 > 0);
    }
}
