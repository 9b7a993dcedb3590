//! Fixtures for the Solidity state-update rules (`contracts/src/StateProof.sol`,
//! `update`): a sequence of updates, insertions and removals on a real tree, each with
//! the proof against the root before it and the root after it, as this crate computes
//! them. The forge test replays them and must reach the same roots.
//! `STRADDLE_WRITE_FIXTURES=1 cargo test -p straddle-state --test solidity_update_fixtures`
//! rewrites the file; otherwise the test fails when it is stale.

use alloy_primitives::{B256, keccak256};
use std::collections::BTreeMap;
use straddle_state::{SparseMerkleTree, Terminal, leaf_hash, node_hash};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/test/fixtures/state_updates.json"
);

fn key(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

fn value(i: u64, round: u64) -> B256 {
    keccak256([i.to_be_bytes(), round.to_be_bytes()].concat())
}

/// One change: `Some(value hash)` sets the key, `None` removes it.
fn operations() -> Vec<(B256, Option<B256>)> {
    let mut ops = Vec::new();
    // Updates of present keys, insertions next to other leaves and into empty
    // subtrees, removals that collapse a sibling leaf upward and ones that do not.
    for i in 0..12u64 {
        ops.push((key(i), Some(value(i, 1))));
    }
    for i in (0..40u64).step_by(3) {
        ops.push((key(i), Some(value(i, 2))));
    }
    for i in (1..40u64).step_by(4) {
        ops.push((key(i), None));
    }
    for i in 100..104u64 {
        ops.push((key(i), None)); // absent: no change
    }
    for i in (2..40u64).step_by(5) {
        ops.push((key(i), Some(value(i, 3))));
    }
    // Empty the tree, then refill it: removals down to the last leaf.
    for i in 0..40u64 {
        ops.push((key(i), None));
    }
    for i in 0..3u64 {
        ops.push((key(i), Some(value(i, 4))));
    }
    ops
}

fn bit(key: &B256, depth: usize) -> bool {
    (key[depth / 8] >> (7 - depth % 8)) & 1 == 1
}

/// The compact tree's hash of `items` (sorted) as a subtree at `depth`.
fn subtree_hash(items: &[(B256, B256)], depth: usize) -> B256 {
    match items {
        [] => B256::ZERO,
        [(k, v)] => leaf_hash(k, v),
        _ => {
            let split = items.partition_point(|(k, _)| !bit(k, depth));
            node_hash(
                &subtree_hash(&items[..split], depth + 1),
                &subtree_hash(&items[split..], depth + 1),
            )
        }
    }
}

/// The preimage of the last sibling on `key`'s path of `depth` siblings: `(is a leaf,
/// a, b)` with `(key hash, value hash)` for a leaf and `(left, right)` for a node.
fn sibling_preimage(
    leaves: &BTreeMap<B256, B256>,
    key: &B256,
    depth: usize,
) -> Option<(bool, B256, B256)> {
    let level = depth.checked_sub(1)?;
    let items: Vec<(B256, B256)> = leaves
        .iter()
        .filter(|(k, _)| {
            (0..level).all(|d| bit(k, d) == bit(key, d)) && bit(k, level) != bit(key, level)
        })
        .map(|(k, v)| (*k, *v))
        .collect();
    match items.as_slice() {
        [] => None,
        [(k, v)] => Some((true, *k, *v)),
        _ => {
            let split = items.partition_point(|(k, _)| !bit(k, depth));
            Some((
                false,
                subtree_hash(&items[..split], depth + 1),
                subtree_hash(&items[split..], depth + 1),
            ))
        }
    }
}

fn hex(b: &B256) -> serde_json::Value {
    serde_json::Value::String(b.to_string())
}

fn fixture() -> serde_json::Value {
    let mut tree = SparseMerkleTree::new();
    let mut leaves: BTreeMap<B256, B256> = BTreeMap::new();
    for i in 0..24u64 {
        tree.update(key(i), Some(value(i, 0)));
        leaves.insert(key(i), value(i, 0));
    }
    let mut cases = Vec::new();
    for (key_hash, new_value) in operations() {
        let root = tree.root();
        let proof = tree.prove(&key_hash);
        let (terminal_is_leaf, terminal_key, terminal_value) = match &proof.terminal {
            Terminal::Empty => (false, B256::ZERO, B256::ZERO),
            Terminal::Leaf {
                key_hash,
                value_hash,
            } => (true, *key_hash, *value_hash),
        };
        // A removal must show what the last sibling is (a leaf rises into the emptied
        // parent's place; a node does not).
        let (sibling_is_leaf, sibling_a, sibling_b) =
            sibling_preimage(&leaves, &key_hash, proof.siblings.len()).unwrap_or_default();
        if let Some(last) = proof.siblings.last() {
            let shown = if sibling_is_leaf {
                leaf_hash(&sibling_a, &sibling_b)
            } else {
                node_hash(&sibling_a, &sibling_b)
            };
            assert_eq!(&shown, last, "the sibling's preimage");
        }
        tree.update(key_hash, new_value);
        match new_value {
            Some(v) => leaves.insert(key_hash, v),
            None => leaves.remove(&key_hash),
        };
        cases.push(serde_json::json!({
            "root": hex(&root),
            "keyHash": hex(&key_hash),
            "remove": new_value.is_none(),
            "valueHash": hex(&new_value.unwrap_or_default()),
            "siblings": proof.siblings.iter().map(hex).collect::<Vec<_>>(),
            "terminalIsLeaf": terminal_is_leaf,
            "terminalKey": hex(&terminal_key),
            "terminalValue": hex(&terminal_value),
            "siblingIsLeaf": sibling_is_leaf,
            "siblingA": hex(&sibling_a),
            "siblingB": hex(&sibling_b),
            "newRoot": hex(&tree.root()),
        }));
    }
    serde_json::json!({
        "comment": "Generated by crates/state/tests/solidity_update_fixtures.rs; do not edit by hand.",
        "count": cases.len(),
        "cases": cases,
    })
}

#[test]
fn solidity_update_fixtures_are_fresh() {
    let text = serde_json::to_string_pretty(&fixture()).unwrap() + "\n";
    if std::env::var_os("STRADDLE_WRITE_FIXTURES").is_some() {
        std::fs::write(FIXTURE, &text).unwrap();
    }
    let stored = std::fs::read_to_string(FIXTURE).unwrap_or_default();
    assert!(
        stored == text,
        "contracts/test/fixtures/state_updates.json is stale: rerun with STRADDLE_WRITE_FIXTURES=1 and rerun the forge tests"
    );
}
