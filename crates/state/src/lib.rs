//! Straddle's authenticated state: a keccak-256 compact sparse Merkle tree over hashed
//! keys (one root per block, only dirty paths rehashed), inclusion/exclusion proofs with a
//! standalone verifier, and crash-safe persistence of the leaves in redb.
//!
//! The hashing rules and proof format are specified in `docs/spec/state.md`.

pub mod proof;
pub mod store;
pub mod tree;

pub use proof::{Proof, ProofError, Terminal, verify_proof};
pub use store::{LeafChange, RawLeaf, Store, StoreError};
pub use tree::{Preimage, SparseMerkleTree, key_hash, leaf_hash, node_hash, value_hash};
