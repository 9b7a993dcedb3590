//! Deterministic simulation of derivation (`docs/spec/batches.md` §6) from a seed. An
//! honest sequencer's chain (transfers between dev accounts, empty blocks) is posted in
//! batches to a simulated L1, among postings that must never derive (garbage, another
//! parent, a gap, a block running back in time, re-posts of derived blocks), while L1
//! reorgs drop its newest blocks (and the batches in them, which the batcher posts again)
//! and its `finalized` block advances. Derivation — the real pipeline and rules — runs
//! over it into a real chain (`straddle-chain` over a redb store).
//!
//! After every round: the derived chain is a prefix of the honest one, `finalized ≤ safe
//! ≤ head`, and nothing a posting that must not derive carries is in it. At the end every
//! honest block is derived, safe and final. The same seed replays to the same trace; a
//! failing seed is printed and reproduces exactly.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use alloy_signer::SignerSync;
use std::sync::{Arc, Mutex};
use straddle_batch::{Batch, BatchBlock};
use straddle_chain::{Chain, ChainError, ReplayRule};
use straddle_derive::{
    DerivedChain, Imported, L1Reader, L1Source, LinkFault, Mode, Pipeline, Severity, block_follows,
};
use straddle_l1::L1Error;
use straddle_l1::batches::{BatchKind, BatchLog};
use straddle_l1::deposits::DepositLog;
use straddle_l1::forced::ForcedLog;
use straddle_primitives::block::{BlockHeader, BlockSource};
use straddle_primitives::{Action, Domain, SignedAction, Transaction, Transfer};
use straddle_storage::chain_store::{ChainStore, ChainStoreError};
use straddle_storage::wal::WalBlock;
use straddle_testkit::{self as kit, Rng};

const INBOX: Address = Address::repeat_byte(0x1b);
const PORTAL: Address = Address::repeat_byte(0x90);
/// Steps of one simulation (each mines, reorgs, finalizes or derives).
const STEPS: usize = 240;
/// Seeds the test runs.
const SEEDS: [u64; 6] = [1, 2, 3, 42, 1_000, 0xdead_beef];

// ------------------------------------------------------------------ simulated L1

/// One L1 block: its hash, time and the batches posted in it.
#[derive(Clone)]
struct L1Block {
    hash: B256,
    timestamp: u64,
    batches: Vec<(BatchLog, Bytes)>,
}

struct L1State {
    blocks: Vec<L1Block>,
    finalized: u64,
    /// Makes a re-mined block's hash differ from the one it replaces.
    forks: u64,
}

/// An L1 whose blocks the test mines, reorgs and finalizes.
#[derive(Clone)]
struct SimL1(Arc<Mutex<L1State>>);

impl SimL1 {
    fn new() -> SimL1 {
        let genesis = L1Block {
            hash: keccak256(b"l1 genesis"),
            timestamp: 1_000,
            batches: Vec::new(),
        };
        SimL1(Arc::new(Mutex::new(L1State {
            blocks: vec![genesis],
            finalized: 0,
            forks: 0,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, L1State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Mines a block holding `postings`, in order.
    fn mine(&self, postings: Vec<Vec<u8>>) {
        let mut state = self.state();
        let number = state.blocks.len() as u64;
        let count: u64 = state.blocks.iter().map(|b| b.batches.len() as u64).sum();
        let hash = keccak256([number.to_be_bytes(), state.forks.to_be_bytes()].concat());
        let timestamp = state.blocks[number as usize - 1].timestamp + 12;
        let batches = postings
            .into_iter()
            .enumerate()
            .map(|(k, bytes)| {
                let log = BatchLog {
                    index: count + k as u64,
                    kind: BatchKind::Calldata,
                    commitment: keccak256(&bytes),
                    blob_count: 0,
                    accumulator: B256::ZERO,
                    l1_block: number,
                    l1_block_hash: hash,
                    tx_hash: keccak256([hash.as_slice(), &(k as u64).to_be_bytes()].concat()),
                };
                (log, Bytes::from(bytes))
            })
            .collect();
        state.blocks.push(L1Block {
            hash,
            timestamp,
            batches,
        });
    }

    /// Drops the newest `depth` blocks above the finalized one.
    fn reorg(&self, depth: usize) {
        let mut state = self.state();
        let keep = state
            .blocks
            .len()
            .saturating_sub(depth)
            .max(state.finalized as usize + 1);
        state.blocks.truncate(keep);
        state.forks += 1;
    }

    fn finalize(&self, lag: u64) {
        let mut state = self.state();
        let head = state.blocks.len() as u64 - 1;
        state.finalized = state.finalized.max(head.saturating_sub(lag));
    }

    fn head(&self) -> u64 {
        self.state().blocks.len() as u64 - 1
    }

    /// Every posting on L1 now, in order.
    fn postings(&self) -> Vec<Bytes> {
        let state = self.state();
        state
            .blocks
            .iter()
            .flat_map(|b| b.batches.iter().map(|(_, bytes)| bytes.clone()))
            .collect()
    }
}

impl L1Reader for SimL1 {
    async fn block_number(&self) -> Result<u64, L1Error> {
        Ok(self.head())
    }

    async fn finalized_block_number(&self) -> Result<u64, L1Error> {
        Ok(self.state().finalized)
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, L1Error> {
        Ok(self.state().blocks.get(number as usize).map(|b| b.hash))
    }

    async fn block_timestamp(&self, number: u64) -> Result<u64, L1Error> {
        self.state()
            .blocks
            .get(number as usize)
            .map(|b| b.timestamp)
            .ok_or_else(|| L1Error::Rpc(format!("no L1 block {number}")))
    }

    async fn forced_inclusion_window(&self, _portal: Address) -> Result<u64, L1Error> {
        Ok(10)
    }

    async fn batches_between(
        &self,
        _inbox: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<BatchLog>, L1Error> {
        let state = self.state();
        Ok(state
            .blocks
            .iter()
            .skip(from as usize)
            .take((to + 1).saturating_sub(from) as usize)
            .flat_map(|b| b.batches.iter().map(|(log, _)| *log))
            .collect())
    }

    async fn deposits_between(
        &self,
        _: Address,
        _: u64,
        _: u64,
    ) -> Result<Vec<DepositLog>, L1Error> {
        Ok(Vec::new())
    }

    async fn forced_between(&self, _: Address, _: u64, _: u64) -> Result<Vec<ForcedLog>, L1Error> {
        Ok(Vec::new())
    }

    async fn batch_bytes(&self, batch: &BatchLog) -> Result<Bytes, L1Error> {
        let state = self.state();
        state
            .blocks
            .get(batch.l1_block as usize)
            .and_then(|b| {
                b.batches
                    .iter()
                    .find(|(log, _)| log.tx_hash == batch.tx_hash)
            })
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| L1Error::Rpc("the posting is gone (reorg)".into()))
    }
}

// ------------------------------------------------------------------ the derived chain

#[derive(Debug, thiserror::Error)]
enum SimChainError {
    #[error(transparent)]
    Link(#[from] LinkFault),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] ChainStoreError),
}

/// A follower's chain: blocks execute through `straddle-chain` and commit to a redb store.
struct SimChain {
    chain: Mutex<Chain>,
    store: Arc<ChainStore>,
    domain: Domain,
    heads: Mutex<(u64, u64)>,
}

impl SimChain {
    fn chain(&self) -> std::sync::MutexGuard<'_, Chain> {
        self.chain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn heads(&self) -> (u64, u64) {
        *self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl DerivedChain for SimChain {
    type Error = SimChainError;

    fn severity(_: &SimChainError) -> Severity {
        Severity::Critical
    }

    fn domain(&self) -> &Domain {
        &self.domain
    }

    fn committed_head(&self) -> (BlockHeader, B256) {
        let chain = self.chain();
        (chain.tip.head.clone(), chain.tip.head_hash)
    }

    async fn forced_count(&self) -> Result<u64, SimChainError> {
        Ok(self.chain().state.ledger.forced_queue().count)
    }

    async fn import_blocks(&self, blocks: Vec<BatchBlock>) -> Result<Vec<Imported>, SimChainError> {
        let mut chain = self.chain();
        let mut imported = Vec::with_capacity(blocks.len());
        for block in blocks {
            let head = (chain.tip.head.number, chain.tip.head.timestamp_ms);
            block_follows(head, block.number, block.timestamp_ms)?;
            let logged = WalBlock {
                number: block.number,
                timestamp_ms: block.timestamp_ms,
                transactions: block.transactions.iter().map(|tx| tx.encode()).collect(),
            };
            let sealed = chain.replay_logged(&logged, ReplayRule::RefusedChangesNothing)?;
            self.store.commit_block(&sealed, None)?;
            imported.push(Imported {
                number: block.number,
                refused: Vec::new(),
            });
        }
        Ok(imported)
    }

    async fn wait_committed(&self, _number: u64) {}

    fn set_heads(&self, safe: u64, finalized: u64) {
        *self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (safe, finalized);
    }
}

// ------------------------------------------------------------------ the honest sequencer

/// The honest chain: its blocks as batches carry them, and their headers and hashes.
struct Honest {
    blocks: Vec<BatchBlock>,
    headers: Vec<(BlockHeader, B256)>,
}

fn honest_chain(rng: &mut Rng, length: u64) -> Honest {
    let genesis = kit::genesis();
    let domain = kit::domain();
    let (mut chain, block0) = Chain::from_genesis(&genesis).unwrap();
    let mut honest = Honest {
        blocks: Vec::new(),
        headers: vec![(block0.header, block0.hash)],
    };
    let mut nonce = 1;
    let mut time = genesis.timestamp_ms + 1_000;
    for number in 1..=length {
        time += rng.below(3) * 250;
        let transactions: Vec<Transaction> = (0..rng.below(4))
            .map(|_| {
                let from = rng.below(10) as usize;
                let action = Action::Transfer(Transfer {
                    to: kit::signer(rng.below(10) as usize).address(),
                    amount: 1 + u128::from(rng.below(1_000_000)),
                    nonce,
                    expiryMs: u64::MAX,
                });
                nonce += 1;
                let signature = kit::signer(from)
                    .sign_hash_sync(&action.signing_hash(&domain))
                    .unwrap();
                Transaction::Action(SignedAction { action, signature })
            })
            .collect();
        let logged = WalBlock {
            number,
            timestamp_ms: time,
            transactions: transactions.iter().map(|tx| tx.encode()).collect(),
        };
        let sealed = chain
            .replay_logged(&logged, ReplayRule::EverySucceeds)
            .unwrap();
        honest.headers.push((sealed.header, sealed.hash));
        honest.blocks.push(BatchBlock {
            number,
            timestamp_ms: time,
            transactions,
        });
    }
    honest
}

// ------------------------------------------------------------------ the run

/// A follower on `dir` and the derivation pipeline feeding it from `l1`.
fn follow(l1: &SimL1, dir: &std::path::Path) -> (Arc<SimChain>, Pipeline<SimL1, SimChain>) {
    let store = Arc::new(ChainStore::open(dir).unwrap());
    let follower = Arc::new(SimChain {
        chain: Mutex::new(Chain::open(&store, &kit::genesis()).unwrap()),
        store: store.clone(),
        domain: kit::domain(),
        heads: Mutex::new((0, 0)),
    });
    let source = L1Source {
        l1_rpc: String::new(),
        portal: PORTAL,
        inbox: INBOX,
        start_block: 0,
        poll_interval: std::time::Duration::ZERO,
    };
    let pipeline = Pipeline::new(l1.clone(), source, Mode::Execute, follower.clone(), store);
    (follower, pipeline)
}

/// What the follower looked like after a round: (step, head, safe, finalized).
type Trace = Vec<(usize, u64, u64, u64)>;

fn encode(parent_hash: B256, blocks: &[BatchBlock]) -> Vec<u8> {
    Batch {
        parent_hash,
        blocks: blocks.to_vec(),
    }
    .encode(&kit::domain())
    .unwrap()
}

async fn simulate(seed: u64) -> Trace {
    let mut rng = Rng(seed);
    let honest = honest_chain(&mut rng, 150);
    let tip = honest.blocks.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let l1 = SimL1::new();
    let (follower, mut pipeline) = follow(&l1, dir.path());
    // Postings besides the honest batcher's (none of them may change what derives).
    let mut hostile_postings = 0;
    let mut trace = Trace::new();

    // The honest batcher posts after the last honest block L1 carries, in order from the
    // first (a batch with another block in it does not count).
    let posted_through = |l1: &SimL1| -> u64 {
        let postings = l1.postings();
        let mut through = 0;
        for bytes in postings {
            let Ok(batch) = straddle_batch::Batch::decode(
                &bytes,
                &kit::domain(),
                straddle_batch::L1Records::NONE,
            ) else {
                continue;
            };
            let first = batch.blocks[0].number;
            let last = batch.blocks[batch.blocks.len() - 1].number;
            let carried = honest.blocks.get(first as usize - 1..last as usize);
            if first == through + 1
                && batch.parent_hash == honest.headers[through as usize].1
                && carried == Some(batch.blocks.as_slice())
            {
                through = last;
            }
        }
        through
    };

    for step in 0..STEPS {
        match rng.below(100) {
            // Mine a block with honest and hostile postings.
            0..=49 => {
                let mut postings = Vec::new();
                let through = posted_through(&l1);
                let next = through + 1;
                for _ in 0..rng.below(3) {
                    let hostile = match rng.below(7) {
                        // Garbage.
                        0 => (0..1 + rng.below(200))
                            .map(|_| rng.below(256) as u8)
                            .collect(),
                        // Another parent.
                        1 if next <= tip => encode(
                            B256::repeat_byte(0xee),
                            &honest.blocks[next as usize - 1..next as usize],
                        ),
                        // A gap.
                        2 if next < tip => encode(
                            honest.headers[next as usize].1,
                            &honest.blocks[next as usize..next as usize + 1],
                        ),
                        // The next block running back in time.
                        3 if next <= tip && honest.headers[through as usize].0.timestamp_ms > 0 => {
                            let mut block = honest.blocks[next as usize - 1].clone();
                            block.timestamp_ms =
                                honest.headers[through as usize].0.timestamp_ms - 1;
                            encode(honest.headers[through as usize].1, &[block])
                        }
                        // Honest blocks from one already carried to past the last carried:
                        // no source for the blocks after it (it does not start there).
                        5 if through >= 1 && through < tip => {
                            let first = 1 + rng.below(through);
                            let last = (through + 1 + rng.below(4)).min(tip);
                            encode(
                                honest.headers[first as usize - 1].1,
                                &honest.blocks[first as usize - 1..last as usize],
                            )
                        }
                        // A re-post of blocks already carried (derives nothing new).
                        4 if through >= 1 => {
                            let first = 1 + rng.below(through);
                            encode(
                                honest.headers[first as usize - 1].1,
                                &honest.blocks[first as usize - 1..through as usize],
                            )
                        }
                        _ => continue,
                    };
                    hostile_postings += 1;
                    postings.push(hostile);
                }
                if next <= tip && rng.chance(80) {
                    let last = (through + 1 + rng.below(5)).min(tip);
                    postings.push(encode(
                        honest.headers[through as usize].1,
                        &honest.blocks[through as usize..last as usize],
                    ));
                }
                rng_shuffle(&mut rng, &mut postings);
                l1.mine(postings);
            }
            // A reorg of the newest blocks.
            50..=57 => l1.reorg(1 + rng.below(3) as usize),
            // L1 finalizes.
            58..=69 => l1.finalize(rng.below(4)),
            // A derivation round.
            _ => {
                pipeline
                    .round()
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed}, step {step}: the round failed: {e}"));
                trace.push(check(seed, step, &follower, &honest, &l1));
            }
        }
    }
    // The batcher catches up, L1 finalizes everything, derivation takes it all.
    loop {
        let through = posted_through(&l1);
        if through == tip {
            break;
        }
        let last = (through + 10).min(tip);
        l1.mine(vec![encode(
            honest.headers[through as usize].1,
            &honest.blocks[through as usize..last as usize],
        )]);
    }
    l1.mine(Vec::new());
    l1.finalize(0);
    pipeline.round().await.unwrap();
    let last = check(seed, STEPS, &follower, &honest, &l1);
    assert_eq!(
        last,
        (STEPS, tip, tip, tip),
        "seed {seed}: the follower holds, and finalizes, the whole honest chain"
    );
    trace.push(last);
    // A node deriving the final L1 from scratch ends where the follower did.
    let fresh_dir = tempfile::tempdir().unwrap();
    let (fresh, mut again) = follow(&l1, fresh_dir.path());
    again.round().await.unwrap();
    assert_eq!(
        check(seed, STEPS + 1, &fresh, &honest, &l1),
        (STEPS + 1, tip, tip, tip),
        "seed {seed}: a fresh node derives what the follower did"
    );
    for number in 1..=tip {
        assert_eq!(
            fresh.store.block_source(number).unwrap(),
            follower.store.block_source(number).unwrap(),
            "seed {seed}: block {number}'s source differs between the follower and a fresh node"
        );
    }
    // Every derived block is honest (checked after every round), whatever was posted.
    assert!(
        hostile_postings > 0,
        "seed {seed}: hostile postings were made"
    );
    trace
}

/// Checks the follower after a round and returns its trace entry: its blocks are the
/// honest ones, its heads are ordered, and every block's recorded source is one the
/// dispute game accepts (`SourceRules`): the batch starts at the block, or carries its
/// parent too; positions never decrease.
fn check(
    seed: u64,
    step: usize,
    follower: &SimChain,
    honest: &Honest,
    l1: &SimL1,
) -> (usize, u64, u64, u64) {
    let postings = l1.postings();
    let mut previous: Option<BlockSource> = None;
    let (head, _) = follower.committed_head();
    for number in 1..=head.number {
        let Some(source) = follower.store.block_source(number).unwrap() else {
            previous = None;
            continue;
        };
        if let BlockSource::Batch { index } = source {
            let first = straddle_batch::describe_block(&postings[index as usize], number)
                .unwrap()
                .first_block;
            assert!(
                first == number || previous == Some(source),
                "seed {seed}, step {step}: block {number} recorded from batch {index}, which starts at {first} and does not carry its parent"
            );
        }
        if let Some(previous) = previous {
            assert!(
                previous.position() <= source.position(),
                "seed {seed}, step {step}: block {number}'s position runs back"
            );
        }
        previous = Some(source);
    }
    let (head, _) = follower.committed_head();
    let (safe, finalized) = follower.heads();
    for number in 1..=head.number {
        let stored = follower.store.header(number).unwrap();
        assert_eq!(
            stored.as_ref(),
            honest.headers.get(number as usize).map(|(h, _)| h),
            "seed {seed}, step {step}: derived block {number} is not the honest one"
        );
    }
    assert!(
        finalized <= safe && safe <= head.number,
        "seed {seed}, step {step}: finalized {finalized} ≤ safe {safe} ≤ head {}",
        head.number
    );
    (step, head.number, safe, finalized)
}

fn rng_shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn derivation_over_a_hostile_reorging_l1_derives_the_honest_chain_and_replays_from_a_seed() {
    for seed in SEEDS {
        let first = simulate(seed).await;
        let again = simulate(seed).await;
        assert_eq!(
            first, again,
            "seed {seed} does not replay to the same trace"
        );
        let rounds = first.len();
        let (_, head, safe, finalized) = first[first.len() / 2];
        println!(
            "seed {seed}: {rounds} rounds; half-way head {head}, safe {safe}, finalized {finalized}"
        );
    }
}
