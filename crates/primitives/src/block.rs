//! L2 block headers and their hashes.

use crate::codec::{DecodeError, Reader, Writer};
use alloy_primitives::{B256, keccak256};
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

/// Commitment to a block's ordered transactions: `keccak256(h_0 ‖ h_1 ‖ … ‖ h_n-1)` over
/// the transaction hashes (zero for an empty block).
pub fn transactions_root(hashes: &[B256]) -> B256 {
    if hashes.is_empty() {
        return B256::ZERO;
    }
    let mut bytes = Vec::with_capacity(hashes.len() * 32);
    for hash in hashes {
        bytes.extend_from_slice(hash.as_slice());
    }
    keccak256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
