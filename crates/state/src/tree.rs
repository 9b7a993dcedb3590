//! The in-memory compact sparse Merkle tree.
//!
//! Keys are 256-bit hashes; a key's path is its bits from the most significant down. A
//! subtree holding exactly one leaf is represented by that leaf (so paths are about
//! log2(n) long, not 256), an empty subtree hashes to zero, and a subtree with two or more
//! leaves hashes its two children. Updates only mark their path dirty; [`SparseMerkleTree::root`]
//! rehashes the dirty nodes once per batch.

use crate::hash::{bit, leaf_hash, node_hash};
use crate::proof::{Proof, Terminal};
use alloy_primitives::B256;

struct Leaf {
    key: B256,
    value_hash: B256,
    hash: B256,
}

struct Internal {
    children: [Node; 2],
    hash: B256,
    dirty: bool,
}

#[derive(Default)]
enum Node {
    #[default]
    Empty,
    Leaf(Box<Leaf>),
    Internal(Box<Internal>),
}

impl Node {
    fn hash(&self) -> B256 {
        match self {
            Node::Empty => B256::ZERO,
            Node::Leaf(leaf) => leaf.hash,
            Node::Internal(internal) => {
                debug_assert!(!internal.dirty, "hash read before root() rehashed the tree");
                internal.hash
            }
        }
    }

    fn rehash(&mut self) -> B256 {
        match self {
            Node::Internal(internal) if internal.dirty => {
                let [left, right] = &mut internal.children;
                let (l, r) = (left.rehash(), right.rehash());
                internal.hash = node_hash(&l, &r);
                internal.dirty = false;
                internal.hash
            }
            other => other.hash(),
        }
    }

    /// Inserts or replaces; returns true when the key is new.
    fn insert(&mut self, depth: usize, leaf: Box<Leaf>) -> bool {
        match self {
            Node::Empty => {
                *self = Node::Leaf(leaf);
                true
            }
            Node::Leaf(existing) if existing.key == leaf.key => {
                *existing = leaf;
                false
            }
            Node::Leaf(_) => {
                let Node::Leaf(existing) = std::mem::take(self) else {
                    unreachable!()
                };
                let mut internal = Internal {
                    children: [Node::Empty, Node::Empty],
                    hash: B256::ZERO,
                    dirty: true,
                };
                let existing_side = bit(&existing.key, depth);
                internal.children[existing_side] = Node::Leaf(existing);
                let side = bit(&leaf.key, depth);
                internal.children[side].insert(depth + 1, leaf);
                *self = Node::Internal(Box::new(internal));
                true
            }
            Node::Internal(internal) => {
                internal.dirty = true;
                internal.children[bit(&leaf.key, depth)].insert(depth + 1, leaf)
            }
        }
    }

    /// Removes `key`; returns true when it was present. Keeps the tree compact: an
    /// internal node left with a single leaf beneath it becomes that leaf.
    fn remove(&mut self, depth: usize, key: &B256) -> bool {
        match self {
            Node::Empty => false,
            Node::Leaf(leaf) => {
                if leaf.key == *key {
                    *self = Node::Empty;
                    true
                } else {
                    false
                }
            }
            Node::Internal(internal) => {
                if !internal.children[bit(key, depth)].remove(depth + 1, key) {
                    return false;
                }
                internal.dirty = true;
                match &mut internal.children {
                    [Node::Empty, Node::Empty] => *self = Node::Empty,
                    [lone @ Node::Leaf(_), Node::Empty] | [Node::Empty, lone @ Node::Leaf(_)] => {
                        *self = std::mem::take(lone)
                    }
                    _ => {}
                }
                true
            }
        }
    }
}

/// What hashes to a node: a leaf's key and value hashes, or an internal node's children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preimage {
    /// A leaf (hashes as [`leaf_hash`]).
    Leaf {
        /// Its key's hash.
        key_hash: B256,
        /// Its value's hash.
        value_hash: B256,
    },
    /// An internal node (hashes as [`node_hash`]).
    Internal {
        /// The left child's hash.
        left: B256,
        /// The right child's hash.
        right: B256,
    },
}

/// A compact sparse Merkle tree over 256-bit key hashes.
#[derive(Default)]
pub struct SparseMerkleTree {
    root: Node,
    len: usize,
}

impl SparseMerkleTree {
    /// An empty tree (root zero).
    pub fn new() -> SparseMerkleTree {
        SparseMerkleTree::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets `key_hash` to `value_hash`, or removes it with `None`. The root is not
    /// recomputed until [`SparseMerkleTree::root`].
    pub fn update(&mut self, key_hash: B256, value_hash: Option<B256>) {
        match value_hash {
            Some(value_hash) => {
                let hash = leaf_hash(&key_hash, &value_hash);
                if self.root.insert(
                    0,
                    Box::new(Leaf {
                        key: key_hash,
                        value_hash,
                        hash,
                    }),
                ) {
                    self.len += 1;
                }
            }
            None => {
                if self.root.remove(0, &key_hash) {
                    self.len -= 1;
                }
            }
        }
    }

    /// Applies a block's worth of updates. Sorting by key first makes neighbouring
    /// updates walk the same upper paths while they are still in cache. The sort is
    /// stable, so when a key appears twice the later update wins, deterministically.
    pub fn update_batch(&mut self, mut updates: Vec<(B256, Option<B256>)>) {
        updates.sort_by_key(|update| update.0);
        for (key_hash, value_hash) in updates {
            self.update(key_hash, value_hash);
        }
    }

    /// Rehashes every dirty path and returns the root.
    pub fn root(&mut self) -> B256 {
        self.root.rehash()
    }

    /// The preimage of the last sibling on `key_hash`'s path (the deepest one in
    /// [`SparseMerkleTree::prove`]'s proof): what a verifier needs, besides the proof, to
    /// compute the root after removing the key (if the sibling is a leaf it rises in the
    /// emptied parent's place). `None` when the path has no sibling or it is empty.
    pub fn last_sibling_preimage(&mut self, key_hash: &B256) -> Option<Preimage> {
        self.root();
        let mut sibling = None;
        let mut node = &self.root;
        let mut depth = 0;
        while let Node::Internal(internal) = node {
            let side = bit(key_hash, depth);
            sibling = Some(&internal.children[1 - side]);
            node = &internal.children[side];
            depth += 1;
        }
        match sibling? {
            Node::Empty => None,
            Node::Leaf(leaf) => Some(Preimage::Leaf {
                key_hash: leaf.key,
                value_hash: leaf.value_hash,
            }),
            Node::Internal(internal) => Some(Preimage::Internal {
                left: internal.children[0].hash(),
                right: internal.children[1].hash(),
            }),
        }
    }

    /// An inclusion proof for a present key or an exclusion proof for an absent one,
    /// against [`SparseMerkleTree::root`] (which this calls first).
    pub fn prove(&mut self, key_hash: &B256) -> Proof {
        self.root();
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Empty => {
                    return Proof {
                        siblings,
                        terminal: Terminal::Empty,
                    };
                }
                Node::Leaf(leaf) => {
                    return Proof {
                        siblings,
                        terminal: Terminal::Leaf {
                            key_hash: leaf.key,
                            value_hash: leaf.value_hash,
                        },
                    };
                }
                Node::Internal(internal) => {
                    let side = bit(key_hash, depth);
                    siblings.push(internal.children[1 - side].hash());
                    node = &internal.children[side];
                    depth += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{key_hash, value_hash};
    use crate::proof::verify_proof;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Reference root: recursive over a sorted map, no caching.
    fn reference_root(leaves: &BTreeMap<B256, B256>) -> B256 {
        fn go(items: &[(B256, B256)], depth: usize) -> B256 {
            match items {
                [] => B256::ZERO,
                [(k, v)] => leaf_hash(k, v),
                _ => {
                    let split = items.partition_point(|(k, _)| bit(k, depth) == 0);
                    node_hash(
                        &go(&items[..split], depth + 1),
                        &go(&items[split..], depth + 1),
                    )
                }
            }
        }
        let items: Vec<_> = leaves.iter().map(|(k, v)| (*k, *v)).collect();
        go(&items, 0)
    }

    #[test]
    fn the_last_siblings_preimage_hashes_to_the_proofs_last_sibling() {
        let mut tree = SparseMerkleTree::new();
        let keys: Vec<B256> = (0..200u32).map(|i| key_hash(&i.to_be_bytes())).collect();
        for (i, k) in keys.iter().enumerate() {
            tree.update(*k, Some(value_hash(&[i as u8])));
        }
        let (mut leaves, mut internals) = (0, 0);
        for k in &keys {
            let proof = tree.prove(k);
            let last = *proof.siblings.last().unwrap();
            let shown = match tree.last_sibling_preimage(k).unwrap() {
                Preimage::Leaf {
                    key_hash,
                    value_hash,
                } => {
                    leaves += 1;
                    leaf_hash(&key_hash, &value_hash)
                }
                Preimage::Internal { left, right } => {
                    internals += 1;
                    node_hash(&left, &right)
                }
            };
            assert_eq!(shown, last);
        }
        assert!(leaves > 0 && internals > 0, "both kinds of sibling met");
        let mut single = SparseMerkleTree::new();
        single.update(keys[0], Some(value_hash(b"1")));
        assert_eq!(single.last_sibling_preimage(&keys[0]), None);
    }

    #[test]
    fn empty_and_single() {
        let mut tree = SparseMerkleTree::new();
        assert_eq!(tree.root(), B256::ZERO);
        let k = key_hash(b"a");
        let v = value_hash(b"1");
        tree.update(k, Some(v));
        assert_eq!(tree.root(), leaf_hash(&k, &v));
        tree.update(k, None);
        assert_eq!(tree.root(), B256::ZERO);
        assert!(tree.is_empty());
    }

    #[test]
    fn last_update_of_a_key_in_a_batch_wins() {
        let k = key_hash(b"k");
        let mut tree = SparseMerkleTree::new();
        let updates = (0u8..50)
            .map(|i| (k, Some(value_hash(&[i]))))
            .chain([(k, None)]);
        tree.update_batch(updates.collect());
        assert!(tree.is_empty());
        tree.update_batch(vec![(k, None), (k, Some(value_hash(b"v")))]);
        assert_eq!(tree.root(), leaf_hash(&k, &value_hash(b"v")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The incremental root equals a from-scratch reference after random batches of
        /// inserts, overwrites and deletes; proofs verify for every key and fail when tampered.
        #[test]
        fn incremental_root_matches_reference_and_proofs_verify(
            batches in prop::collection::vec(
                prop::collection::vec((0u16..300, prop::option::of(any::<u8>())), 1..60), 1..6)
        ) {
            let mut tree = SparseMerkleTree::new();
            let mut model = BTreeMap::new();
            for batch in batches {
                let updates: Vec<_> = batch.iter().map(|(k, v)| {
                    (key_hash(&k.to_be_bytes()), v.map(|v| value_hash(&[v])))
                }).collect();
                // Later updates to the same key win, as in the model.
                let mut dedup = BTreeMap::new();
                for (k, v) in updates { dedup.insert(k, v); }
                for (k, v) in &dedup {
                    match v { Some(v) => { model.insert(*k, *v); } None => { model.remove(k); } }
                }
                tree.update_batch(dedup.into_iter().collect());
                let root = tree.root();
                prop_assert_eq!(root, reference_root(&model));
                prop_assert_eq!(tree.len(), model.len());
                for probe in 0u16..300 {
                    let k = key_hash(&probe.to_be_bytes());
                    let proof = tree.prove(&k);
                    let present = model.get(&k).copied();
                    prop_assert!(verify_proof(&root, &k, present.as_ref(), &proof).is_ok());
                    // Claiming the wrong value (or presence/absence) must fail.
                    let wrong = match present { Some(_) => None, None => Some(value_hash(b"x")) };
                    prop_assert!(verify_proof(&root, &k, wrong.as_ref(), &proof).is_err());
                    if let Some(v) = present {
                        let tampered_value = value_hash(&[v[0] ^ 1, v[1]]);
                        prop_assert!(verify_proof(&root, &k, Some(&tampered_value), &proof).is_err());
                    }
                    if !proof.siblings.is_empty() {
                        let mut tampered = proof.clone();
                        tampered.siblings[0].0[0] ^= 1;
                        prop_assert!(verify_proof(&root, &k, present.as_ref(), &tampered).is_err());
                    }
                }
            }
        }
    }
}
