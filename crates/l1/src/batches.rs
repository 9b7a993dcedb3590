//! Batches on L1: posting one as `BatchInbox.postCalldata` input, reading the inbox's
//! `BatchPosted` events back, and fetching a posted batch's bytes (checked against the
//! commitment the inbox recorded).

use crate::{L1Client, L1Error, receipt_event, u64_of};
use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent};
use straddle_l1_contracts::BatchInbox;

/// How a batch was posted (the inbox's `Kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchKind {
    /// In the transaction's input.
    Calldata,
    /// In blobs of the transaction.
    Blobs,
}

/// A `BatchPosted` event with where it was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLog {
    /// The inbox's index of the batch.
    pub index: u64,
    /// Calldata or blobs.
    pub kind: BatchKind,
    /// keccak256 of the calldata, or of the blobs' versioned hashes.
    pub commitment: B256,
    /// Blobs carrying it (zero for calldata).
    pub blob_count: u8,
    /// The inbox's hash chain after it.
    pub accumulator: B256,
    /// L1 block number.
    pub l1_block: u64,
    /// L1 block hash (to notice a reorg that replaced the block).
    pub l1_block_hash: B256,
    /// The posting transaction.
    pub tx_hash: B256,
}

/// What posting a batch cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostReceipt {
    /// The inbox's index of the batch.
    pub index: u64,
    /// L1 block it landed in.
    pub l1_block: u64,
    /// The transaction.
    pub tx_hash: B256,
    /// Execution gas used.
    pub gas_used: u64,
    /// Blob gas used (zero for calldata).
    pub blob_gas_used: u64,
}

/// The inbox's batches logged in L1 blocks `from..=to`, in log order.
pub async fn batches_between(
    client: &L1Client,
    inbox: Address,
    from: u64,
    to: u64,
) -> Result<Vec<BatchLog>, L1Error> {
    batch_logs(client, &posted_filter(inbox).from_block(from).to_block(to)).await
}

/// The `BatchPosted` event of batch `index` on the current L1 chain, searched from
/// `from_block` (the deployment block) to the head.
pub async fn batch_log(
    client: &L1Client,
    inbox: Address,
    index: u64,
    from_block: u64,
) -> Result<Option<BatchLog>, L1Error> {
    let filter = posted_filter(inbox)
        .topic1(B256::from(U256::from(index)))
        .from_block(from_block);
    Ok(batch_logs(client, &filter).await?.pop())
}

fn posted_filter(inbox: Address) -> Filter {
    Filter::new()
        .address(inbox)
        .event_signature(BatchInbox::BatchPosted::SIGNATURE_HASH)
}

async fn batch_logs(client: &L1Client, filter: &Filter) -> Result<Vec<BatchLog>, L1Error> {
    let logs = client
        .provider()
        .get_logs(filter)
        .await
        .map_err(L1Error::rpc)?;
    logs.iter()
        .map(|log| {
            let event = BatchInbox::BatchPosted::decode_log_data(log.data())
                .map_err(|e| L1Error::Decode(e.to_string()))?;
            let missing = |what| L1Error::Decode(format!("BatchPosted log without {what}"));
            Ok(BatchLog {
                index: u64_of(event.index, "batch index")?,
                kind: match event.kind {
                    0 => BatchKind::Calldata,
                    1 => BatchKind::Blobs,
                    other => return Err(L1Error::Decode(format!("unknown batch kind {other}"))),
                },
                commitment: event.commitment,
                blob_count: event.blobCount,
                accumulator: event.accumulator,
                l1_block: log.block_number.ok_or_else(|| missing("a block number"))?,
                l1_block_hash: log.block_hash.ok_or_else(|| missing("a block hash"))?,
                tx_hash: log
                    .transaction_hash
                    .ok_or_else(|| missing("a transaction"))?,
            })
        })
        .collect()
}

/// The bytes of a calldata batch, read from its transaction's input and checked against
/// the inbox's commitment.
pub async fn calldata_batch(client: &L1Client, batch: &BatchLog) -> Result<Bytes, L1Error> {
    if batch.kind != BatchKind::Calldata {
        return Err(L1Error::Decode(format!(
            "batch {} was posted in blobs, not calldata",
            batch.index
        )));
    }
    let tx = client
        .provider()
        .get_transaction_by_hash(batch.tx_hash)
        .await
        .map_err(L1Error::rpc)?
        .ok_or_else(|| L1Error::Decode(format!("transaction {} not found", batch.tx_hash)))?;
    let call = BatchInbox::postCalldataCall::abi_decode(tx.input())
        .map_err(|e| L1Error::Decode(format!("batch {}: {e}", batch.index)))?;
    if keccak256(&call.data) != batch.commitment {
        return Err(L1Error::Decode(format!(
            "batch {}: the calldata does not match the inbox's commitment",
            batch.index
        )));
    }
    Ok(call.data)
}

impl L1Client {
    /// Posts `data` as a calldata batch to `inbox` and waits for its receipt.
    pub async fn post_calldata(&self, inbox: Address, data: Bytes) -> Result<PostReceipt, L1Error> {
        let call = BatchInbox::postCalldataCall { data };
        let receipt = self
            .transact(inbox, &call, U256::ZERO, "post a calldata batch")
            .await?;
        let event: BatchInbox::BatchPosted = receipt_event(&receipt)?;
        Ok(PostReceipt {
            index: u64_of(event.index, "batch index")?,
            l1_block: receipt.block_number.unwrap_or_default(),
            tx_hash: receipt.transaction_hash,
            gas_used: receipt.gas_used,
            blob_gas_used: receipt.blob_gas_used.unwrap_or_default(),
        })
    }

    /// Number of batches `inbox` holds at the latest L1 block.
    pub async fn batch_count(&self, inbox: Address) -> Result<u64, L1Error> {
        u64_of(
            self.view(inbox, &BatchInbox::batchCountCall {}).await?,
            "batch count",
        )
    }

    /// Whether the signer has transactions in the mempool (pending nonce above latest).
    pub async fn has_pending(&self) -> Result<bool, L1Error> {
        let provider = self.provider();
        let latest = provider
            .get_transaction_count(self.address())
            .latest()
            .await
            .map_err(L1Error::rpc)?;
        let pending = provider
            .get_transaction_count(self.address())
            .pending()
            .await
            .map_err(L1Error::rpc)?;
        Ok(pending > latest)
    }
}
