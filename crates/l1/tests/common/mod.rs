//! What the L1 client's tests share.

use std::path::Path;
use straddle_l1::alloy::primitives::{Address, B256};
use straddle_l1::{Anvil, DeployConfig};
use straddle_primitives::Domain;

/// Dispute settings for tests that never dispute: no L2 genesis exists here.
pub fn no_disputes() -> DeployConfig {
    DeployConfig {
        proposer: Address::ZERO,
        batcher: Address::ZERO,
        challenge_window_secs: 0,
        bond_wei: 0,
        forced_inclusion_window: 0,
        genesis_block_hash: B256::ZERO,
        l2_domain: Domain {
            chain_id: 1,
            verifying_contract: Address::ZERO,
        },
        dispute_clock_secs: 60,
        faucet_operator: Address::ZERO,
        operator: Address::ZERO,
        oracle_prover: Default::default(),
    }
}

/// A chain whose one account `operator` proposes and posts batches (1-wei bonds, 10 s
/// windows), for tests of posting and reading batches.
pub fn posting_config(operator: Address) -> DeployConfig {
    DeployConfig {
        proposer: operator,
        batcher: operator,
        challenge_window_secs: 10,
        bond_wei: 1,
        forced_inclusion_window: 10,
        ..no_disputes()
    }
}

/// Anvil from the project's tools, with `args`.
pub fn anvil_with(args: &[&str]) -> Anvil {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Anvil::start(&straddle_l1::anvil::anvil_binary(&root), 0, args).expect("anvil starts")
}
