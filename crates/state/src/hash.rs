//! The tree's hashing rules (`docs/spec/state.md`): a key's path and a value's digest,
//! domain-separated leaf and node hashes, and a path's bits.

use alloy_primitives::{B256, keccak256};

/// Domain tag of a leaf hash.
const LEAF_TAG: u8 = 0x00;
/// Domain tag of an internal-node hash.
const NODE_TAG: u8 = 0x01;

/// The path of a state key: `keccak256(key)`.
pub fn key_hash(key: &[u8]) -> B256 {
    keccak256(key)
}

/// The committed digest of a state value: `keccak256(value)`.
pub fn value_hash(value: &[u8]) -> B256 {
    keccak256(value)
}

/// `keccak256(0x00 ‖ key_hash ‖ value_hash)`.
pub fn leaf_hash(key_hash: &B256, value_hash: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = LEAF_TAG;
    buf[1..33].copy_from_slice(key_hash.as_slice());
    buf[33..].copy_from_slice(value_hash.as_slice());
    keccak256(buf)
}

/// `keccak256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = NODE_TAG;
    buf[1..33].copy_from_slice(left.as_slice());
    buf[33..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Bit `depth` of `key`, most significant first (0 = left, 1 = right).
pub(crate) fn bit(key: &B256, depth: usize) -> usize {
    ((key[depth / 8] >> (7 - depth % 8)) & 1) as usize
}
