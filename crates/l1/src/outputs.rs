//! Outputs and withdrawals: proposing an L2 output root to the `OutputRegistry`, reading
//! outputs back, and finalizing a withdrawal on the `Portal` with its state proof.

use crate::{L1Client, L1Error, receipt_event, u64_of};
use alloy::primitives::{Address, B256, U256};
use straddle_l1_contracts::{OutputRegistry, Portal};

/// An output as the registry holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// Its index.
    pub index: u64,
    /// The L2 block.
    pub l2_block: u64,
    /// The L2 state root after it.
    pub state_root: B256,
    /// Its hash.
    pub block_hash: B256,
    /// Where derivation placed the block (`2b + 1` for batch `b`, `2c` for a forced
    /// block before batch `c`; `docs/spec/disputes.md` §5.3).
    pub position: u64,
    /// Whether it is final: its window has passed with no dispute open, and every
    /// earlier output is final or removed (`OutputRegistry.isFinalized`).
    pub finalized: bool,
    /// Whether a won dispute or a mismatch proof removed it (its index is not reused).
    pub removed: bool,
    /// Who proposed it.
    pub proposer: Address,
    /// Wei the registry still holds as its bond (zero once reclaimed or moved).
    pub bond: u128,
}

/// A withdrawal as the L2 state records it (`Portal.Withdrawal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WithdrawalClaim {
    /// Its index in the L2's withdrawal sequence.
    pub index: u64,
    /// The L2 account debited.
    pub account: Address,
    /// Who receives the tokens.
    pub recipient: Address,
    /// Token units.
    pub amount: u128,
    /// The L2 block that recorded it.
    pub l2_block: u64,
}

impl WithdrawalClaim {
    /// The Portal's form of the withdrawal.
    pub fn as_portal(&self) -> Portal::Withdrawal {
        Portal::Withdrawal {
            index: self.index,
            account: self.account,
            recipient: self.recipient,
            amount: self.amount,
            l2BlockNumber: self.l2_block,
        }
    }
}

impl L1Client {
    /// The least bond a proposal or a challenge carries now (`requiredBond()`: the
    /// registry's bond, or more when L1 gas is dear).
    pub async fn required_bond(&self, registry: Address) -> Result<U256, L1Error> {
        self.view(registry, &OutputRegistry::requiredBondCall {})
            .await
    }

    /// Proposes the output of L2 block `l2_block` at derivation position `position`
    /// with the bond the registry requires now; returns its index.
    pub async fn propose_output(
        &self,
        registry: Address,
        l2_block: u64,
        state_root: B256,
        block_hash: B256,
        position: u64,
    ) -> Result<u64, L1Error> {
        let bond = self.required_bond(registry).await?;
        let call = OutputRegistry::proposeCall {
            l2BlockNumber: l2_block,
            stateRoot: state_root,
            blockHash: block_hash,
            position,
        };
        let receipt = self
            .transact(registry, &call, bond, "propose an output")
            .await?;
        u64_of(
            receipt_event::<OutputRegistry::OutputProposed>(&receipt)?.index,
            "output index",
        )
    }

    /// The L2 block of the registry's latest output (0 when there is none).
    pub async fn latest_output_block(&self, registry: Address) -> Result<u64, L1Error> {
        self.view(registry, &OutputRegistry::latestBlockNumberCall {})
            .await
    }

    /// Number of outputs the registry holds.
    pub async fn output_count(&self, registry: Address) -> Result<u64, L1Error> {
        u64_of(
            self.view(registry, &OutputRegistry::outputCountCall {})
                .await?,
            "output count",
        )
    }

    /// Output `index`, which must exist (below [`L1Client::output_count`]).
    pub async fn output(&self, registry: Address, index: u64) -> Result<Output, L1Error> {
        let index_word = U256::from(index);
        let output = self
            .view(
                registry,
                &OutputRegistry::getOutputCall { index: index_word },
            )
            .await?;
        let finalized = self
            .view(
                registry,
                &OutputRegistry::isFinalizedCall { index: index_word },
            )
            .await?;
        Ok(Output {
            index,
            l2_block: output.l2BlockNumber,
            state_root: output.stateRoot,
            block_hash: output.blockHash,
            position: output.position,
            finalized,
            removed: output.removed,
            proposer: output.proposer,
            bond: output.bond.to::<u128>(),
        })
    }

    /// The registry's finality cursor (every output below it is final or removed) and
    /// how far past it `isFinalized` looks (`FINALITY_LOOKAHEAD`).
    pub async fn finality_cursor(&self, registry: Address) -> Result<(u64, u64), L1Error> {
        let cursor = self
            .view(registry, &OutputRegistry::finalityCursorCall {})
            .await?;
        let lookahead = self
            .view(registry, &OutputRegistry::FINALITY_LOOKAHEADCall {})
            .await?;
        Ok((
            u64_of(cursor, "finality cursor")?,
            u64_of(lookahead, "finality lookahead")?,
        ))
    }

    /// Moves the registry's finality cursor over up to `max_steps` settled outputs, so
    /// outputs further than `FINALITY_LOOKAHEAD` past it can read as final.
    pub async fn advance_finality(&self, registry: Address, max_steps: u64) -> Result<(), L1Error> {
        let call = OutputRegistry::advanceFinalityCall {
            maxSteps: U256::from(max_steps),
        };
        self.transact(registry, &call, U256::ZERO, "advance finality")
            .await?;
        Ok(())
    }

    /// Returns finalized output `index`'s bond to its proposer's registry credit.
    pub async fn reclaim_bond(&self, registry: Address, index: u64) -> Result<(), L1Error> {
        let call = OutputRegistry::reclaimBondCall {
            index: U256::from(index),
        };
        self.transact(registry, &call, U256::ZERO, "reclaim a bond")
            .await?;
        Ok(())
    }

    /// Wei `account` can claim from the registry (bonds returned or won).
    pub async fn registry_credit(
        &self,
        registry: Address,
        account: Address,
    ) -> Result<U256, L1Error> {
        self.view(registry, &OutputRegistry::creditCall(account))
            .await
    }

    /// Pays this key's registry credit to it.
    pub async fn claim_registry_credit(&self, registry: Address) -> Result<(), L1Error> {
        self.transact(
            registry,
            &OutputRegistry::claimCreditCall {},
            U256::ZERO,
            "claim registry credit",
        )
        .await?;
        Ok(())
    }

    /// The latest finalized output, searching back from the newest.
    pub async fn latest_finalized_output(
        &self,
        registry: Address,
    ) -> Result<Option<Output>, L1Error> {
        for index in (0..self.output_count(registry).await?).rev() {
            let output = self.output(registry, index).await?;
            if output.finalized {
                return Ok(Some(output));
            }
        }
        Ok(None)
    }

    /// Whether the Portal has paid withdrawal `claim` (its replay key names the index and
    /// the content).
    pub async fn withdrawal_finalized(
        &self,
        portal: Address,
        claim: &WithdrawalClaim,
    ) -> Result<bool, L1Error> {
        let id = self
            .view(
                portal,
                &Portal::withdrawalIdCall {
                    w: claim.as_portal(),
                },
            )
            .await?;
        self.view(portal, &Portal::withdrawalPaidCall(id)).await
    }

    /// Pays withdrawal `claim` against output `output_index` with its state proof
    /// (`siblings`, root side first).
    pub async fn finalize_withdrawal(
        &self,
        portal: Address,
        output_index: u64,
        claim: &WithdrawalClaim,
        siblings: Vec<B256>,
    ) -> Result<B256, L1Error> {
        let call = Portal::finalizeWithdrawalCall {
            outputIndex: U256::from(output_index),
            w: claim.as_portal(),
            siblings,
        };
        let receipt = self
            .transact(portal, &call, U256::ZERO, "finalize a withdrawal")
            .await?;
        Ok(receipt.transaction_hash)
    }
}
