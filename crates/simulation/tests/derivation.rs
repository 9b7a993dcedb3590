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

use alloy_primitives::B256;
use alloy_signer::SignerSync;
use straddle_batch::{Batch, BatchBlock};
use straddle_chain::{Chain, ReplayRule};
use straddle_derive::DerivedChain;
use straddle_primitives::block::{BlockHeader, BlockSource};
use straddle_primitives::{Action, SignedAction, Transaction, Transfer};
use straddle_simulation::follower::{SimChain, follow};
use straddle_simulation::l1::SimL1;
use straddle_simulation::shuffle;
use straddle_storage::wal::WalBlock;
use straddle_testkit::{self as kit, Rng};

/// Steps of one simulation (each mines, reorgs, finalizes or derives).
const STEPS: usize = 240;
/// Seeds the test runs.
const SEEDS: [u64; 6] = [1, 2, 3, 42, 1_000, 0xdead_beef];

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
                shuffle(&mut rng, &mut postings);
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
