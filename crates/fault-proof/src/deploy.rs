//! What the L1 contracts are deployed with for a chain (`docs/spec/settlement.md`,
//! `docs/spec/disputes.md`): the dispute game's anchor, the one-step prover's signing
//! domain, minter, operator and oracle configuration, all fixed by the genesis.

use alloy_primitives::Address;
use straddle_chain::{ChainError, genesis_block_hash};
use straddle_exchange::Genesis;

/// The L1 deployment of a chain with `genesis`: what the genesis fixes (the dispute
/// game's anchor, the one-step prover's signing domain and minter), the `proposer` and
/// `batcher` roles, and test-chain values for the rest (60 s challenge window and
/// dispute clocks, a 1-wei bond, a 10-block forced-inclusion window) to override.
pub fn deploy_config(
    genesis: &Genesis,
    proposer: Address,
    batcher: Address,
) -> Result<straddle_l1::DeployConfig, ChainError> {
    Ok(straddle_l1::DeployConfig {
        proposer,
        batcher,
        challenge_window_secs: 60,
        bond_wei: 1,
        forced_inclusion_window: 10,
        genesis_block_hash: genesis_block_hash(genesis)?,
        l2_domain: genesis.domain,
        dispute_clock_secs: 60,
        faucet_operator: crate::step::faucet_operator(genesis).unwrap_or_default(),
        operator: genesis.operator.unwrap_or_default(),
        oracle_prover: straddle_l1::OracleProverConfig {
            pricer_constants: straddle_math::constant_table(),
            underlyings: crate::step::prover_underlyings(genesis),
        },
    })
}
