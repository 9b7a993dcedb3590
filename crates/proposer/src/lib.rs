//! The proposer: posts output roots of the L2 `safe` head to the L1 `OutputRegistry`.
//!
//! It proposes only blocks that a batch on L1 carries (the node's `safe` head), so every
//! output is checkable from L1 data alone; run it against a follower node to propose
//! roots that were re-executed from L1 rather than taken from the sequencer. Like the
//! batcher it keeps no state: the registry's latest output block is where it resumes.
//! Once its outputs finalize it takes their bonds back (`reclaimBond`, `claimCredit`),
//! so a long-running proposer does not lock a bond per output forever.

use jsonrpsee::http_client::HttpClient;
use std::time::Duration;
use straddle_challenger::{Player, log_report};
use straddle_l1::alloy::primitives::{Address, U256};
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{L1Client, L1Error};
use straddle_rpc_api::{StraddleApiClient, http_client};

/// How to run the proposer.
#[derive(Clone, Debug)]
pub struct ProposerConfig {
    /// The L2 node whose safe head is proposed (HTTP).
    pub l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    pub l1_rpc: String,
    /// The proposer's L1 key (the registry's `proposer`).
    pub key: PrivateKeySigner,
    /// The OutputRegistry.
    pub registry: Address,
    /// Time between proposals.
    pub interval: Duration,
}

/// Why a round failed (retried next round).
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    /// L1 refused or failed.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// The L2 node's RPC failed.
    #[error("L2 RPC: {0}")]
    L2(#[from] jsonrpsee::core::ClientError),
}

/// One proposal made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The registry's index of the output.
    pub index: u64,
    /// The L2 block.
    pub l2_block: u64,
}

/// Bonds reclaimed in one round at most (each is an L1 transaction; the rest wait for
/// the next round).
const RECLAIMS_PER_ROUND: usize = 16;
/// Outputs one `advanceFinality` call moves the cursor over, at most (about 2 600 gas
/// each).
const FINALITY_STEPS_PER_ROUND: u64 = 1_024;

/// What one round of reclaiming did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Outputs whose bond went back to the proposer's registry credit.
    pub bonds: usize,
    /// Wei of registry credit paid to the proposer.
    pub paid_wei: U256,
}

/// The proposer's connections.
pub struct Proposer {
    config: ProposerConfig,
    l1: L1Client,
    l2: HttpClient,
    /// Outputs before this index are final with no bond of this proposer left to
    /// reclaim (outputs finalize in index order, so the scan resumes here).
    reclaim_from: u64,
}

impl Proposer {
    /// Connects (lazily) to both chains.
    pub fn new(config: ProposerConfig) -> Result<Proposer, ProposerError> {
        let l1 = L1Client::connect(&config.l1_rpc, config.key.clone())?;
        let l2 = http_client(&config.l2_rpc)?;
        Ok(Proposer {
            config,
            l1,
            l2,
            reclaim_from: 0,
        })
    }

    /// Proposes every interval until the task is dropped; failures are logged and
    /// retried. With `defender` (a player holding the proposer's key), each round also
    /// answers challenges to the proposer's outputs, in the same task so that the two
    /// never race for the key's L1 nonce.
    pub async fn run(mut self, mut defender: Option<Player>) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Some(player) = defender.as_mut() {
                match player.round().await {
                    Ok(report) => log_report(&report),
                    Err(error) => tracing::warn!(%error, "defense round failed; retrying"),
                }
            }
            match self.propose_next().await {
                Ok(Some(proposal)) => {
                    metrics::gauge!("straddle_proposed_block").set(proposal.l2_block as f64);
                    tracing::info!(
                        index = proposal.index,
                        l2_block = proposal.l2_block,
                        "output proposed"
                    );
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "proposal round failed; retrying"),
            }
            match self.reclaim_bonds().await {
                Ok(reclaimed) if reclaimed != Reclaimed::default() => tracing::info!(
                    bonds = reclaimed.bonds,
                    paid_wei = %reclaimed.paid_wei,
                    "bonds of finalized outputs reclaimed"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "bond reclaim failed; retrying"),
            }
        }
    }

    /// Takes back the bonds of this proposer's finalized outputs: each goes to its
    /// registry credit (`reclaimBond`, at most [`RECLAIMS_PER_ROUND`] a round), and the
    /// credit is then paid out (`claimCredit`; bonds won in games are credited there
    /// too). Stops at the first output not yet final, passing removed ones.
    pub async fn reclaim_bonds(&mut self) -> Result<Reclaimed, ProposerError> {
        let registry = self.config.registry;
        let me = self.l1.address();
        let count = self.l1.output_count(registry).await?;
        let mut reclaimed = Reclaimed::default();
        let mut index = self.reclaim_from.min(count);
        while index < count && reclaimed.bonds < RECLAIMS_PER_ROUND {
            let output = self.l1.output(registry, index).await?;
            // A removed output never finalizes (its bond went to whoever removed it).
            if !output.finalized && !output.removed {
                // Past the registry's lookahead an output reads as final only once the
                // cursor has moved: move it (anyone may), and look again next round.
                let (cursor, lookahead) = self.l1.finality_cursor(registry).await?;
                if index - cursor.min(index) >= lookahead {
                    self.l1
                        .advance_finality(registry, FINALITY_STEPS_PER_ROUND)
                        .await?;
                }
                break;
            }
            if output.proposer == me && output.bond > 0 {
                self.l1.reclaim_bond(registry, index).await?;
                reclaimed.bonds += 1;
            }
            index += 1;
            self.reclaim_from = index;
        }
        let credit = self.l1.registry_credit(registry, me).await?;
        if !credit.is_zero() {
            self.l1.claim_registry_credit(registry).await?;
            reclaimed.paid_wei = credit;
        }
        Ok(reclaimed)
    }

    /// Proposes the L2 safe head if it is past the registry's latest output.
    pub async fn propose_next(&self) -> Result<Option<Proposal>, ProposerError> {
        let safe = self.l2.chain_head().await?.safe;
        let latest = self.l1.latest_output_block(self.config.registry).await?;
        if safe.number <= latest {
            return Ok(None);
        }
        // A safe block is one derivation placed: its source gives its position.
        let Some(source) = self.l2.get_block_source(safe.number).await? else {
            return Ok(None);
        };
        let index = self
            .l1
            .propose_output(
                self.config.registry,
                safe.number,
                safe.state_root,
                safe.hash,
                source.position(),
            )
            .await?;
        Ok(Some(Proposal {
            index,
            l2_block: safe.number,
        }))
    }
}
