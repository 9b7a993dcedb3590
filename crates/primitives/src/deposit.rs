//! L1 deposits as the L2 sees them: the record the Portal contract emitted, its hash and
//! the hash chain over all deposits (`docs/spec/settlement.md`).

use alloy_primitives::{Address, B256, U256, keccak256};

/// One deposit of collateral made on L1, in the order the Portal numbered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deposit {
    /// The Portal's index (0, 1, 2, … with no gap).
    pub index: u64,
    /// Who paid on L1.
    pub from: Address,
    /// Who is credited on L2.
    pub recipient: Address,
    /// Micro-units of collateral (the token has 6 decimals, so token units are
    /// micro-units). The Portal bounds it by `2^96 − 1`.
    pub amount: u128,
}

impl Deposit {
    /// The hash the Portal recorded: `keccak256(abi.encode(uint64 index, address from,
    /// address l2Recipient, uint256 amount))`.
    pub fn l1_hash(&self) -> B256 {
        let mut words = [0u8; 128];
        words[24..32].copy_from_slice(&self.index.to_be_bytes());
        words[44..64].copy_from_slice(self.from.as_slice());
        words[76..96].copy_from_slice(self.recipient.as_slice());
        words[96..128].copy_from_slice(&U256::from(self.amount).to_be_bytes::<32>());
        keccak256(words)
    }
}

/// The Portal's accumulator after a deposit: `keccak256(previous ‖ depositHash)`.
pub fn accumulate(previous: &B256, deposit_hash: &B256) -> B256 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(previous.as_slice());
    bytes[32..].copy_from_slice(deposit_hash.as_slice());
    keccak256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolValue;

    #[test]
    fn hash_is_the_abi_encoding_the_portal_hashes() {
        let deposit = Deposit {
            index: 7,
            from: Address::repeat_byte(0x11),
            recipient: Address::repeat_byte(0x22),
            amount: 1_234_567,
        };
        let expected = keccak256(
            (
                7u64,
                Address::repeat_byte(0x11),
                Address::repeat_byte(0x22),
                U256::from(1_234_567u64),
            )
                .abi_encode(),
        );
        assert_eq!(deposit.l1_hash(), expected);
    }

    #[test]
    fn accumulator_is_keccak_of_the_concatenation() {
        let a = B256::repeat_byte(1);
        let b = B256::repeat_byte(2);
        assert_eq!(
            accumulate(&a, &b),
            keccak256([a.as_slice(), b.as_slice()].concat())
        );
    }
}
