//! Throughput of the authenticated state at scale: leaf updates per second with one
//! batched root per block, proof generation and verification per second.
//!
//! `cargo bench -p straddle-state --bench trie` (keys: `TRIE_BENCH_KEYS`, default 1M).

use alloy_primitives::B256;
use std::hint::black_box;
use std::time::Instant;
use straddle_state::{SparseMerkleTree, key_hash, value_hash, verify_proof};

fn key(i: u64) -> B256 {
    key_hash(&i.to_be_bytes())
}

fn main() {
    let keys: u64 = std::env::var("TRIE_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let block_updates: u64 = 10_000;
    let blocks: u64 = 50;

    // The ceiling: one keccak-256 of a 65-byte node preimage.
    let hashes = 1_000_000u32;
    let start = Instant::now();
    let mut acc = B256::ZERO;
    for i in 0..hashes {
        acc = straddle_state::node_hash(&acc, &B256::from(alloy_primitives::U256::from(i)));
    }
    let elapsed_hash = start.elapsed();
    black_box(acc);
    println!(
        "keccak: {hashes} node hashes in {elapsed_hash:.2?} ({:.0} ns/hash)",
        elapsed_hash.as_nanos() as f64 / hashes as f64
    );

    let mut tree = SparseMerkleTree::new();
    let start = Instant::now();
    tree.update_batch(
        (0..keys)
            .map(|i| (key(i), Some(value_hash(&i.to_le_bytes()))))
            .collect(),
    );
    black_box(tree.root());
    let build = start.elapsed();
    println!(
        "build: {keys} leaves + root in {:.2?} ({:.0} leaves/s)",
        build,
        keys as f64 / build.as_secs_f64()
    );

    // Blocks of updates to random existing keys (a mix of overwrites; 10 % new keys).
    let mut rng_state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let mut fresh = keys;
    let (mut in_insert, mut in_root) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let start = Instant::now();
    for block in 0..blocks {
        let updates: Vec<_> = (0..block_updates)
            .map(|j| {
                let k = if j % 10 == 0 {
                    fresh += 1;
                    fresh
                } else {
                    next() % keys
                };
                (
                    key(k),
                    Some(value_hash(&(block * block_updates + j).to_le_bytes())),
                )
            })
            .collect();
        let t = Instant::now();
        tree.update_batch(updates);
        in_insert += t.elapsed();
        let t = Instant::now();
        black_box(tree.root());
        in_root += t.elapsed();
    }
    let elapsed = start.elapsed();
    let total = blocks * block_updates;
    let tree_work = in_insert + in_root;
    println!(
        "update: {total} leaf updates in {blocks} blocks of {block_updates} at {} leaves, root per block: {:.2?} in the tree ({:.0} updates/s; {:.2?} with generating the inputs)",
        tree.len(),
        tree_work,
        total as f64 / tree_work.as_secs_f64(),
        elapsed,
    );
    println!(
        "  of which insert {in_insert:.2?}, rehash {in_root:.2?} ({:.1} node hashes per update at the measured keccak cost)",
        in_root.as_nanos() as f64 / total as f64 / (elapsed_hash.as_nanos() as f64 / hashes as f64)
    );

    let probes = 100_000u64;
    let start = Instant::now();
    let proofs: Vec<_> = (0..probes)
        .map(|i| tree.prove(&key(next() % keys + i % 2)))
        .collect();
    let elapsed = start.elapsed();
    println!(
        "prove: {probes} proofs in {:.2?} ({:.0} proofs/s, mean {:.1} siblings)",
        elapsed,
        probes as f64 / elapsed.as_secs_f64(),
        proofs.iter().map(|p| p.siblings.len()).sum::<usize>() as f64 / probes as f64
    );

    let root = tree.root();
    let start = Instant::now();
    let mut ok = 0;
    for proof in &proofs {
        if let straddle_state::Terminal::Leaf {
            key_hash,
            value_hash,
        } = &proof.terminal
        {
            ok += verify_proof(&root, key_hash, Some(value_hash), proof).is_ok() as usize;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "verify: {ok} proofs in {:.2?} ({:.0} verifications/s)",
        elapsed,
        ok as f64 / elapsed.as_secs_f64()
    );
    black_box(root);
}
