//! Straddle's authenticated state: a keccak-256 compact sparse Merkle tree over hashed
//! keys (one root per block, only dirty paths rehashed), inclusion/exclusion proofs with a
//! standalone verifier, and the leaf changes a block makes. Pure: no I/O (the leaves are
//! persisted by `straddle-storage`).
//!
//! The hashing rules and proof format are specified in `docs/spec/state.md`.

pub mod hash;
pub mod leaf;
pub mod proof;
pub mod tree;

pub use hash::{key_hash, leaf_hash, node_hash, value_hash};
pub use leaf::{LeafChange, RawLeaf};
pub use proof::{Proof, ProofError, Terminal, verify_proof};
pub use tree::{Preimage, SparseMerkleTree};
