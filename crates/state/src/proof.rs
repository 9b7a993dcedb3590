//! Merkle proofs and the standalone verifier (the same rules a Solidity verifier follows).

use crate::hash::{bit, leaf_hash, node_hash};
use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

/// Longest possible path: one sibling per key bit.
pub const PROOF_SIBLINGS_MAX: usize = 256;

/// Where the walk down a key's path ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Terminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key itself (inclusion) or another key sharing the path so far
    /// (exclusion).
    #[serde(rename_all = "camelCase")]
    Leaf {
        /// The leaf's key hash.
        key_hash: B256,
        /// The leaf's value hash.
        value_hash: B256,
    },
}

/// A proof for one key: the sibling hashes from the root down, then the terminal node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    /// `siblings[d]` is the hash of the sibling at depth `d + 1` on the key's path.
    pub siblings: Vec<B256>,
    /// The node at depth `siblings.len()`.
    pub terminal: Terminal,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More siblings than key bits.
    #[error("proof has {0} siblings, more than {PROOF_SIBLINGS_MAX}")]
    TooDeep(usize),
    /// Inclusion claimed but the terminal is another key or empty.
    #[error("proof does not end at the claimed key")]
    NotThisKey,
    /// Inclusion claimed with a value other than the leaf's.
    #[error("proof's leaf holds a different value")]
    WrongValue,
    /// Exclusion claimed but the terminal leaf is the key itself.
    #[error("key is present, exclusion claimed")]
    KeyPresent,
    /// Exclusion through a leaf whose key leaves the path before the terminal depth.
    #[error("terminal leaf is not on the key's path")]
    OffPath,
    /// The recomputed root differs.
    #[error("recomputed root {computed} does not match {expected}")]
    RootMismatch {
        /// Root from the proof.
        computed: B256,
        /// Root expected.
        expected: B256,
    },
}

/// Verifies that under `root`, `key_hash` maps to `value_hash` (`Some`) or is absent
/// (`None`).
pub fn verify_proof(
    root: &B256,
    key_hash: &B256,
    value_hash: Option<&B256>,
    proof: &Proof,
) -> Result<(), ProofError> {
    let depth = proof.siblings.len();
    if depth > PROOF_SIBLINGS_MAX {
        return Err(ProofError::TooDeep(depth));
    }
    let mut hash = match (&proof.terminal, value_hash) {
        (
            Terminal::Leaf {
                key_hash: leaf_key,
                value_hash: leaf_value,
            },
            Some(claimed),
        ) => {
            if leaf_key != key_hash {
                return Err(ProofError::NotThisKey);
            }
            if leaf_value != claimed {
                return Err(ProofError::WrongValue);
            }
            leaf_hash(leaf_key, leaf_value)
        }
        (Terminal::Empty, Some(_)) => return Err(ProofError::NotThisKey),
        (Terminal::Empty, None) => B256::ZERO,
        (
            Terminal::Leaf {
                key_hash: leaf_key,
                value_hash: leaf_value,
            },
            None,
        ) => {
            if leaf_key == key_hash {
                return Err(ProofError::KeyPresent);
            }
            if (0..depth).any(|d| bit(leaf_key, d) != bit(key_hash, d)) {
                return Err(ProofError::OffPath);
            }
            leaf_hash(leaf_key, leaf_value)
        }
    };
    for (d, sibling) in proof.siblings.iter().enumerate().rev() {
        hash = match bit(key_hash, d) {
            0 => node_hash(&hash, sibling),
            _ => node_hash(sibling, &hash),
        };
    }
    if hash == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            computed: hash,
            expected: *root,
        })
    }
}
