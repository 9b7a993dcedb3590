//! Forced transactions: submitting a signed L2 transaction to the Portal for forced
//! inclusion, and reading the Portal's `TransactionForced` events back.

use crate::{L1Client, L1Error, event_logs, receipt_event};
use alloy::primitives::{Address, B256, Bytes, U256};
use straddle_l1_contracts::Portal;
use straddle_primitives::ForcedTransaction;

/// A forced transaction as the Portal logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForcedLog {
    /// Its index in the Portal's forced sequence.
    pub index: u64,
    /// Who submitted it on L1.
    pub sender: Address,
    /// The raw bytes submitted (a canonical L2 transaction, unchecked by the Portal).
    pub transaction: Bytes,
    /// `keccak256(abi.encode(index, sender, keccak256(transaction)))`.
    pub forced_hash: B256,
    /// The Portal's forced hash chain after it.
    pub accumulator: B256,
    /// L1 block number.
    pub l1_block: u64,
}

impl ForcedLog {
    /// The forced transaction as the L2 includes it.
    pub fn forced(&self) -> ForcedTransaction {
        ForcedTransaction {
            index: self.index,
            sender: self.sender,
            bytes: self.transaction.to_vec(),
        }
    }
}

/// The Portal's forced transactions logged in L1 blocks `from..=to`, in log order.
pub async fn forced_between(
    client: &L1Client,
    portal: Address,
    from: u64,
    to: u64,
) -> Result<Vec<ForcedLog>, L1Error> {
    Ok(
        event_logs::<Portal::TransactionForced>(client, portal, from, to)
            .await?
            .into_iter()
            .map(|(event, l1_block)| ForcedLog {
                index: event.index,
                sender: event.sender,
                transaction: event.transaction,
                forced_hash: event.forcedHash,
                accumulator: event.accumulator,
                l1_block,
            })
            .collect(),
    )
}

impl L1Client {
    /// Submits `transaction` (canonical bytes of a signed L2 transaction) to the Portal
    /// for forced inclusion; returns its index.
    pub async fn force_transaction(
        &self,
        portal: Address,
        transaction: Bytes,
    ) -> Result<u64, L1Error> {
        let call = Portal::forceTransactionCall { transaction };
        let receipt = self
            .transact(portal, &call, U256::ZERO, "force a transaction")
            .await?;
        Ok(receipt_event::<Portal::TransactionForced>(&receipt)?.index)
    }

    /// The Portal's forced-inclusion window, L1 blocks.
    pub async fn forced_inclusion_window(&self, portal: Address) -> Result<u64, L1Error> {
        self.view(portal, &Portal::forcedInclusionWindowCall {})
            .await
    }
}
