//! The L1 watcher: follows the Portal's `DepositQueued` and `TransactionForced` logs on
//! L1 and includes each deposit and each forced transaction on L2, in index order, once
//! it has enough L1 confirmations. Derivation (`docs/spec/settlement.md`) checks the
//! same rule from the other side: every deposit and forced transaction in the L2 chain
//! is the Portal's, in order, with the same hash chains.

use crate::sequencer::{Sequencer, SubmitError};
use std::sync::Arc;
use std::time::Duration;
use straddle_exchange::TxError;
use straddle_l1::alloy::primitives::Address;
use straddle_l1::{L1Client, L1Error, deposits_between, forced_between};

/// Where deposits come from.
#[derive(Clone, Debug)]
pub struct DepositSource {
    /// L1 HTTP RPC endpoint.
    pub l1_rpc: String,
    /// The Portal.
    pub portal: Address,
    /// First L1 block to scan (the deployment block).
    pub start_block: u64,
    /// Blocks a deposit must be buried under before it is credited (0: the head).
    pub confirmations: u64,
    /// How often L1 is polled.
    pub poll_interval: Duration,
}

/// Why a polling round stopped early.
#[derive(Debug, thiserror::Error)]
enum WatchError {
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    #[error("sequencer: {0}")]
    Submit(#[from] SubmitError),
    #[error(
        "{what} {index}: the L2 hash chain {l2} differs from the Portal's {l1} (wrong Portal, or an L1 reorg deeper than the confirmations)"
    )]
    ChainMismatch {
        what: &'static str,
        index: u64,
        l2: straddle_l1::alloy::primitives::B256,
        l1: straddle_l1::alloy::primitives::B256,
    },
}

/// Polls L1 until the task is dropped; errors are logged and retried next round.
pub async fn watch(source: DepositSource, sequencer: Arc<Sequencer>) {
    let client = match L1Client::read_only(&source.l1_rpc) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "deposit watcher cannot start");
            return;
        }
    };
    let mut scanned_to = source.start_block.saturating_sub(1);
    let mut interval = tokio::time::interval(source.poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match poll(&client, &source, &sequencer, scanned_to).await {
            Ok(to) => scanned_to = to,
            Err(error) => tracing::warn!(%error, "deposit watcher round failed; retrying"),
        }
    }
}

/// One round: scans `(scanned_to, confirmed head]` and credits every deposit the L2 has
/// not credited yet. Returns the last block scanned.
async fn poll(
    client: &L1Client,
    source: &DepositSource,
    sequencer: &Sequencer,
    scanned_to: u64,
) -> Result<u64, WatchError> {
    let head = client.block_number().await?;
    let confirmed = head.saturating_sub(source.confirmations);
    let mut from = scanned_to + 1;
    // Only this watcher credits deposits, so the next index is read once per round.
    let mut next = sequencer
        .read(|state| state.ledger.totals().deposit_count)
        .await?;
    while from <= confirmed {
        let to = confirmed.min(from + straddle_l1::LOG_RANGE_MAX - 1);
        for log in deposits_between(client, source.portal, from, to).await? {
            if log.deposit.index < next {
                continue;
            }
            match sequencer.credit_deposit(log.deposit).await {
                Ok(ack) => tracing::info!(
                    index = log.deposit.index,
                    recipient = %log.deposit.recipient,
                    amount = log.deposit.amount,
                    l1_block = log.l1_block,
                    l2_block = ack.block_number,
                    "deposit credited"
                ),
                Err(SubmitError::Rejected(TxError::DepositOutOfOrder { expected, got })) => {
                    tracing::warn!(expected, got, "deposit log out of order; rescanning");
                    return Ok(scanned_to);
                }
                Err(error) => return Err(error.into()),
            }
            next = log.deposit.index + 1;
            let l2 = sequencer
                .read(|state| state.ledger.totals().deposit_accumulator)
                .await?;
            if l2 != log.accumulator {
                let error = WatchError::ChainMismatch {
                    what: "deposit",
                    index: log.deposit.index,
                    l2,
                    l1: log.accumulator,
                };
                tracing::error!(%error, "deposit hash chain mismatch");
                return Err(error);
            }
        }
        include_forced(client, source, sequencer, from, to).await?;
        from = to + 1;
    }
    Ok(confirmed.max(scanned_to))
}

/// Includes the Portal's forced transactions logged in `from..=to` that the L2 has not
/// included yet, in index order (the sequencer includes every one it sees, well within
/// the inclusion window).
async fn include_forced(
    client: &L1Client,
    source: &DepositSource,
    sequencer: &Sequencer,
    from: u64,
    to: u64,
) -> Result<(), WatchError> {
    let mut next = sequencer
        .read(|state| state.ledger.forced_queue().count)
        .await?;
    for log in forced_between(client, source.portal, from, to).await? {
        if log.index < next {
            continue;
        }
        let ack = sequencer.include_forced(log.forced()).await?;
        tracing::info!(
            index = log.index,
            sender = %log.sender,
            l1_block = log.l1_block,
            l2_block = ack.block_number,
            "forced transaction included"
        );
        next = log.index + 1;
        let l2 = sequencer
            .read(|state| state.ledger.forced_queue().accumulator)
            .await?;
        if l2 != log.accumulator {
            let error = WatchError::ChainMismatch {
                what: "forced transaction",
                index: log.index,
                l2,
                l1: log.accumulator,
            };
            tracing::error!(%error, "forced hash chain mismatch");
            return Err(error);
        }
    }
    Ok(())
}
