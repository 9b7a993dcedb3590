//! Bindings of Straddle's L1 contracts, generated from `artifacts/` (the forge build
//! output of `contracts/`, exported by `scripts/export-artifacts.py`). Each contract
//! module has its call, event and error types and `BYTECODE` for deployment.

#![allow(missing_docs)]

alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    Portal,
    "artifacts/Portal.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    BatchInbox,
    "artifacts/BatchInbox.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    OutputRegistry,
    "artifacts/OutputRegistry.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    DisputeGame,
    "artifacts/DisputeGame.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    StepProver,
    "artifacts/StepProver.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    OrderStepProver,
    "artifacts/OrderStepProver.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    MarginStepProver,
    "artifacts/MarginStepProver.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    MatchStepProver,
    "artifacts/MatchStepProver.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    LiquidationStepProver,
    "artifacts/LiquidationStepProver.json"
);
/// `OracleStepProver`, in a module of its own: its ABI names `OptionPricer`'s structs,
/// whose namespace would clash with the pricer's own bindings.
pub mod oracle_step_prover {
    alloy_sol_types::sol!(
        #[derive(Debug, PartialEq, Eq)]
        OracleStepProver,
        "artifacts/OracleStepProver.json"
    );
}
pub use oracle_step_prover::OracleStepProver;
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    BatchOpener,
    "artifacts/BatchOpener.json"
);
/// `SourceRules`, in a module of its own: its ABI names `BatchOpener`'s `BlockView`,
/// which would clash with the opener's own bindings.
pub mod source_rules {
    alloy_sol_types::sol!(
        #[derive(Debug, PartialEq, Eq)]
        SourceRules,
        "artifacts/SourceRules.json"
    );
}
pub use source_rules::SourceRules;
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    OptionPricer,
    "artifacts/OptionPricer.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    TestUSDC,
    "artifacts/TestUSDC.json"
);

/// A claim at the block level of a dispute game (`DisputeGame.blockClaim`,
/// `docs/spec/disputes.md` §5.3): the block's hash bound to its derivation position,
/// `keccak256(blockHash ‖ position as 8 big-endian bytes)`.
pub fn block_claim(block_hash: alloy_primitives::B256, position: u64) -> alloy_primitives::B256 {
    let mut bytes = [0u8; 40];
    bytes[..32].copy_from_slice(block_hash.as_slice());
    bytes[32..].copy_from_slice(&position.to_be_bytes());
    alloy_primitives::keccak256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;
    use alloy_sol_types::{SolCall, SolError, SolEvent};

    #[test]
    fn bytecode_is_present_for_every_contract() {
        for code in [
            &Portal::BYTECODE,
            &BatchInbox::BYTECODE,
            &OutputRegistry::BYTECODE,
            &DisputeGame::BYTECODE,
            &MarginStepProver::BYTECODE,
            &MatchStepProver::BYTECODE,
            &LiquidationStepProver::BYTECODE,
            &OracleStepProver::BYTECODE,
            &StepProver::BYTECODE,
            &OrderStepProver::BYTECODE,
            &BatchOpener::BYTECODE,
            &SourceRules::BYTECODE,
            &OptionPricer::BYTECODE,
            &TestUSDC::BYTECODE,
        ] {
            assert!(code.len() > 1_000, "deployment bytecode is embedded");
        }
    }

    #[test]
    fn a_block_claim_hashes_the_block_hash_then_the_position_big_endian() {
        let hash = keccak256("block");
        let mut preimage = hash.to_vec();
        preimage.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(block_claim(hash, 0x0102), keccak256(&preimage));
        assert_ne!(block_claim(hash, 1), block_claim(hash, 2));
    }

    #[test]
    fn selectors_and_encodings_match_the_solidity_signatures() {
        assert_eq!(
            Portal::depositCall::SELECTOR,
            keccak256("deposit(address,uint256)")[..4]
        );
        assert_eq!(
            Portal::finalizeWithdrawalCall::SELECTOR,
            keccak256(
                "finalizeWithdrawal(uint256,(uint64,address,address,uint128,uint64),bytes32[])"
            )[..4]
        );
        assert_eq!(
            Portal::DepositQueued::SIGNATURE_HASH,
            keccak256("DepositQueued(uint64,address,address,uint256,bytes32,bytes32)")
        );
        assert_eq!(
            Portal::InvalidWithdrawalProof::SELECTOR,
            keccak256("InvalidWithdrawalProof()")[..4]
        );
        assert_eq!(
            BatchInbox::postBlobsCall::SELECTOR,
            keccak256("postBlobs(uint256)")[..4]
        );
        assert_eq!(
            OutputRegistry::proposeCall::SELECTOR,
            keccak256("propose(uint64,bytes32,bytes32,uint64)")[..4]
        );
        assert_eq!(
            DisputeGame::revealBlockCall::SELECTOR,
            keccak256("revealBlock(uint256,bytes,uint64,bytes,uint64,uint64)")[..4]
        );
    }
}
