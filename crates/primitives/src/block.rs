//! L2 block headers and their hashes.

use crate::codec::{DecodeError, Reader, Writer};
use crate::{Action, Transaction};
use alloy_primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

/// The header of an L2 block. Its hash is `keccak256` of [`BlockHeader::encode`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeader {
    /// Height; genesis is 0.
    pub number: u64,
    /// Hash of the previous header (zero for genesis).
    pub parent_hash: B256,
    /// Block time in unix milliseconds; what action expiries are checked against.
    pub timestamp_ms: u64,
    /// Root of the authenticated state after every transaction of the block.
    pub state_root: B256,
    /// [`transactions_root`] of the block's transaction hashes.
    pub transactions_root: B256,
    /// Number of transactions.
    pub transaction_count: u32,
}

/// Bytes of an encoded header.
pub const BLOCK_HEADER_BYTES: usize = 8 + 32 + 8 + 32 + 32 + 4;

impl BlockHeader {
    /// Canonical bytes (fields in declaration order, big-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(BLOCK_HEADER_BYTES);
        w.u64(self.number)
            .b256(&self.parent_hash)
            .u64(self.timestamp_ms)
            .b256(&self.state_root)
            .b256(&self.transactions_root)
            .u32(self.transaction_count);
        w.bytes
    }

    /// Inverse of [`BlockHeader::encode`].
    pub fn decode(bytes: &[u8]) -> Result<BlockHeader, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = BlockHeader {
            number: r.u64()?,
            parent_hash: r.b256()?,
            timestamp_ms: r.u64()?,
            state_root: r.b256()?,
            transactions_root: r.b256()?,
            transaction_count: r.u32()?,
        };
        r.finish()?;
        Ok(header)
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}

/// Commitment to a block's ordered transactions: the root of a binary Merkle tree of depth
/// `⌈log₂ count⌉` whose leaves are the [`transaction_leaf`]s in block order; a node is
/// `keccak256(left ‖ right)`, a node without a right child takes 32 zero bytes in its
/// place (at any level), one leaf is its own root and an empty block's root is zero. One transaction is proven by `⌈log₂ count⌉` siblings
/// ([`transactions_proof`]), which is what the L1 one-step prover checks.
pub fn transactions_root(leaves: &[B256]) -> B256 {
    match leaves.len() {
        0 => B256::ZERO,
        _ => merkle_levels(leaves)
            .last()
            .and_then(|top| top.first().copied())
            .unwrap_or(B256::ZERO),
    }
}

/// The leaf of `encoded` (a transaction's canonical bytes) in [`transactions_root`]. It
/// commits to the whole transaction, signatures included, which the transaction hash of
/// a signed action (its EIP-712 digest) does not.
pub fn transaction_leaf(encoded: &[u8]) -> B256 {
    keccak256(encoded)
}

/// The siblings (bottom up) proving leaf `index` of `leaves` against
/// [`transactions_root`]; `None` when `index` is out of range.
pub fn transactions_proof(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let levels = merkle_levels(leaves);
    let mut position = index;
    let mut siblings = Vec::with_capacity(levels.len().saturating_sub(1));
    for level in &levels[..levels.len() - 1] {
        siblings.push(level.get(position ^ 1).copied().unwrap_or(B256::ZERO));
        position /= 2;
    }
    Some(siblings)
}

/// The two children of node `index` at `depth` (the root at depth 0) of
/// [`transactions_root`]'s tree over `leaves`: what a dispute's content descent reveals
/// (`docs/spec/disputes.md` §5.2). A child past the last node of its level is zero.
pub fn transactions_children(leaves: &[B256], depth: usize, index: usize) -> (B256, B256) {
    let levels = merkle_levels(leaves);
    let below = levels
        .len()
        .checked_sub(depth + 2)
        .and_then(|level| levels.get(level));
    let child = |i: usize| {
        below
            .and_then(|level| level.get(i))
            .copied()
            .unwrap_or(B256::ZERO)
    };
    (child(2 * index), child(2 * index + 1))
}

/// Checks `siblings` (bottom up) prove `leaf` at `index` of a tree of `count` leaves.
pub fn verify_transactions_proof(
    root: B256,
    count: usize,
    index: usize,
    leaf: B256,
    siblings: &[B256],
) -> bool {
    if index >= count || siblings.len() != merkle_depth(count) {
        return false;
    }
    let mut hash = leaf;
    let mut position = index;
    for sibling in siblings {
        hash = if position.is_multiple_of(2) {
            node(&hash, sibling)
        } else {
            node(sibling, &hash)
        };
        position /= 2;
    }
    hash == root
}

/// `⌈log₂ count⌉`: the number of siblings in a proof.
fn merkle_depth(count: usize) -> usize {
    count.next_power_of_two().trailing_zeros() as usize
}

fn node(left: &B256, right: &B256) -> B256 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(left.as_slice());
    bytes[32..].copy_from_slice(right.as_slice());
    keccak256(bytes)
}

/// Every level of the tree, leaves first; a missing right child is zero.
fn merkle_levels(leaves: &[B256]) -> Vec<Vec<B256>> {
    let depth = merkle_depth(leaves.len());
    let mut levels = Vec::with_capacity(depth + 1);
    levels.push(leaves.to_vec());
    for _ in 0..depth {
        let below = levels.last().map(Vec::as_slice).unwrap_or_default();
        let above: Vec<B256> = below
            .chunks(2)
            .map(|pair| node(&pair[0], pair.get(1).unwrap_or(&B256::ZERO)))
            .collect();
        levels.push(above);
    }
    levels
}

/// Where derivation took a block from (`docs/spec/disputes.md` §5.2): the first batch, in
/// L1 order, that carried it onto the chain, or derivation's own block of an overdue
/// forced transaction. A dispute's defender names it when it reveals the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum BlockSource {
    /// The inbox's batch with this index.
    Batch {
        /// The batch's index in the inbox.
        index: u64,
    },
    /// The Portal's forced record with this index, alone in its block.
    Forced {
        /// The record's index in the Portal.
        index: u64,
        /// The index of the first batch posted after the record's window ended (the
        /// inbox's batch count when derivation included it, if none was yet): derivation
        /// puts the block before that batch's blocks. With the batch index this orders
        /// every block's source (the *position* of `disputes.md` §5.3).
        before_batch: u64,
    },
}

impl BlockSource {
    /// Whether derivation made the block for a forced record, and the batch's or the
    /// record's index: what a dispute's defender names.
    pub fn named(&self) -> (bool, u64) {
        match self {
            BlockSource::Batch { index } => (false, *index),
            BlockSource::Forced { index, .. } => (true, *index),
        }
    }

    /// The block's *position* (`docs/spec/disputes.md` §5.3): `2b + 1` for batch `b`,
    /// `2c` for a forced block before batch `c`; numeric order is derivation's order.
    pub fn position(&self) -> u64 {
        match self {
            BlockSource::Batch { index } => 2 * index + 1,
            BlockSource::Forced { before_batch, .. } => 2 * before_batch,
        }
    }

    /// `1 ‖ batch u64`, or `2 ‖ record u64 ‖ before batch u64`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(17);
        match self {
            BlockSource::Batch { index } => w.u8(1).u64(*index),
            BlockSource::Forced {
                index,
                before_batch,
            } => w.u8(2).u64(*index).u64(*before_batch),
        };
        w.bytes
    }

    /// Decodes [`BlockSource::encode`].
    pub fn decode(bytes: &[u8]) -> Result<BlockSource, DecodeError> {
        let mut r = Reader::new(bytes);
        let source = match r.u8()? {
            1 => BlockSource::Batch { index: r.u64()? },
            // A forced source without its batch does not decode: such a store is
            // re-derived (`straddle node --follow` from scratch).
            2 => BlockSource::Forced {
                index: r.u64()?,
                before_batch: r.u64()?,
            },
            _ => return Err(DecodeError::Invalid("block source kind")),
        };
        r.finish()?;
        Ok(source)
    }
}

/// One transaction as stored in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTx {
    /// Recovered signer (an action's sender, a match's taker, a cancel's signer; zero for
    /// an oracle update, which carries its signers in its reports).
    pub sender: Address,
    /// Transaction hash.
    pub hash: B256,
    /// The transaction.
    pub tx: Transaction,
}

impl StoredTx {
    /// The user action, if this is one.
    pub fn action(&self) -> Option<&Action> {
        match &self.tx {
            Transaction::Action(signed) => Some(&signed.action),
            _ => None,
        }
    }
}

/// Fills in the hashes of decoded transactions (they are not stored twice).
pub fn with_hashes(mut txs: Vec<StoredTx>, domain: &crate::Domain) -> Vec<StoredTx> {
    for tx in &mut txs {
        tx.hash = tx.tx.hash(domain);
    }
    txs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sources_round_trip_and_keep_their_json_shape() {
        let batch = BlockSource::Batch { index: 7 };
        let forced = BlockSource::Forced {
            index: 3,
            before_batch: 9,
        };
        for source in [batch, forced] {
            assert_eq!(BlockSource::decode(&source.encode()), Ok(source));
        }
        assert_eq!(
            serde_json::to_value(batch).unwrap(),
            serde_json::json!({"kind": "batch", "index": 7})
        );
        assert_eq!(
            serde_json::to_value(forced).unwrap(),
            serde_json::json!({"kind": "forced", "index": 3, "beforeBatch": 9})
        );
        assert_eq!(forced.named(), (true, 3));
        assert_eq!((batch.position(), forced.position()), (15, 18));
        assert!(
            BlockSource::Forced {
                index: 0,
                before_batch: 7
            }
            .position()
                < batch.position()
        );
        // A forced source without its batch does not decode.
        assert!(BlockSource::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 3]).is_err());
    }

    fn leaves(count: usize) -> Vec<B256> {
        (0..count)
            .map(|i| transaction_leaf(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn children_hash_to_their_parent_down_to_the_leaves() {
        for count in 1..=17 {
            let leaves = leaves(count);
            let levels = merkle_depth(count);
            let mut nodes = vec![transactions_root(&leaves)];
            for depth in 0..levels {
                nodes = nodes
                    .iter()
                    .enumerate()
                    .flat_map(|(index, parent)| {
                        let (left, right) = transactions_children(&leaves, depth, index);
                        // A node past its level's end stands for nothing: zero children.
                        if parent.is_zero() {
                            assert!(left.is_zero() && right.is_zero());
                        } else {
                            assert_eq!(node(&left, &right), *parent, "count {count} depth {depth}");
                        }
                        [left, right]
                    })
                    .collect();
            }
            assert_eq!(&nodes[..count], &leaves[..], "count {count}: the leaves");
            assert!(
                nodes[count..].iter().all(|n| n.is_zero()),
                "zero past the count"
            );
        }
    }

    #[test]
    fn every_transaction_proves_and_no_other_does() {
        for count in 1..=33 {
            let leaves = leaves(count);
            let root = transactions_root(&leaves);
            for (index, leaf) in leaves.iter().enumerate() {
                let siblings = transactions_proof(&leaves, index).unwrap();
                assert!(verify_transactions_proof(
                    root, count, index, *leaf, &siblings
                ));
                let other = (index + 1) % count;
                if other != index {
                    assert!(!verify_transactions_proof(
                        root, count, other, *leaf, &siblings
                    ));
                }
                // A count of another depth needs another number of siblings.
                assert!(!verify_transactions_proof(
                    root,
                    2 * count + 1,
                    index,
                    *leaf,
                    &siblings
                ));
            }
            assert_eq!(transactions_proof(&leaves, count), None);
        }
        assert_eq!(transactions_root(&[]), B256::ZERO);
    }

    #[test]
    fn the_root_is_the_padded_tree() {
        let l = leaves(3);
        let left = node(&l[0], &l[1]);
        let right = node(&l[2], &B256::ZERO);
        assert_eq!(transactions_root(&l), node(&left, &right));
        assert_eq!(transactions_root(&l[..1]), l[0]);
    }

    #[test]
    fn header_round_trip() {
        let header = BlockHeader {
            number: 7,
            parent_hash: B256::repeat_byte(1),
            timestamp_ms: 1_700_000_000_000,
            state_root: B256::repeat_byte(2),
            transactions_root: B256::repeat_byte(3),
            transaction_count: 4,
        };
        let bytes = header.encode();
        assert_eq!(bytes.len(), BLOCK_HEADER_BYTES);
        assert_eq!(BlockHeader::decode(&bytes).unwrap(), header);
    }
}
