//! Forced transactions as the L2 sees them: a signed L2 transaction submitted to the
//! Portal on L1 instead of to the sequencer, the hash the Portal records and the hash
//! chain over all of them (`docs/spec/settlement.md`, forced inclusion).

use alloy_primitives::{Address, B256, keccak256};

pub use crate::deposit::accumulate as accumulate_forced;

/// Largest forced transaction, bytes (`Portal.FORCED_TRANSACTION_BYTES_MAX`).
pub const FORCED_TRANSACTION_BYTES_MAX: usize = 2_048;

/// One forced transaction, in the order the Portal numbered it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForcedTransaction {
    /// The Portal's index (0, 1, 2, … with no gap).
    pub index: u64,
    /// Who submitted it on L1.
    pub sender: Address,
    /// The bytes submitted: a canonical L2 transaction, or anything else (which the L2
    /// records as included and otherwise ignores).
    pub bytes: Vec<u8>,
}

impl ForcedTransaction {
    /// The hash the Portal recorded.
    pub fn l1_hash(&self) -> B256 {
        forced_hash(self.index, self.sender, &self.bytes)
    }
}

/// `keccak256(abi.encode(uint64 index, address sender, bytes32 keccak256(bytes)))`.
pub fn forced_hash(index: u64, sender: Address, bytes: &[u8]) -> B256 {
    let mut words = [0u8; 96];
    words[24..32].copy_from_slice(&index.to_be_bytes());
    words[44..64].copy_from_slice(sender.as_slice());
    words[64..96].copy_from_slice(keccak256(bytes).as_slice());
    keccak256(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolValue;

    #[test]
    fn hash_is_the_abi_encoding_the_portal_hashes() {
        let sender = Address::repeat_byte(0x33);
        let bytes = vec![1u8, 2, 3, 4];
        let expected = keccak256((9u64, sender, keccak256(&bytes)).abi_encode());
        assert_eq!(forced_hash(9, sender, &bytes), expected);
        let forced = ForcedTransaction {
            index: 9,
            sender,
            bytes,
        };
        assert_eq!(forced.l1_hash(), expected);
    }
}
