//! The batcher: posts the sequencer's sealed blocks to the L1 `BatchInbox`.
//!
//! Each round it reads from L1 where the last posted batch ends (the inbox's last
//! `BatchPosted` event, whose batch header names its last block), fetches the blocks
//! after it from the sequencer, packs as many as fit in one batch and posts it, waiting
//! for the receipt. L1 is the batcher's only memory: after a restart, or after an L1
//! reorg that dropped a batch, the next round starts after what L1 holds. While one of
//! the batcher's own transactions is still in the mempool it posts nothing, so a
//! restart never posts the same blocks twice.

use jsonrpsee::http_client::HttpClient;
use std::time::Duration;
use straddle_batch::{Batch, BatchBlock, BatchError, batch_range};
use straddle_l1::alloy::primitives::{Address, Bytes};
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{L1Client, L1Error, PostReceipt, batch_log, calldata_batch};
use straddle_node::api::{BlockRef, StraddleApiClient, http_client};
use straddle_primitives::{Domain, Transaction};

/// Largest calldata batch the inbox accepts (`BatchInbox.CALLDATA_BATCH_BYTES_MAX`).
pub const CALLDATA_BATCH_BYTES_MAX: usize = 120_000;

/// How to run the batcher.
#[derive(Clone, Debug)]
pub struct BatcherConfig {
    /// The sequencer's JSON-RPC endpoint (HTTP).
    pub l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    pub l1_rpc: String,
    /// The batcher's L1 key (the inbox's `batcher`).
    pub key: PrivateKeySigner,
    /// The BatchInbox.
    pub inbox: Address,
    /// The inbox's deployment block (where event searches start).
    pub l1_start_block: u64,
    /// The chain's signing domain (the batch format refers to order hashes under it).
    pub domain: Domain,
    /// Largest batch to post, bytes (at most [`CALLDATA_BATCH_BYTES_MAX`]).
    pub batch_bytes_max: usize,
    /// Time between rounds when nothing is left to post.
    pub poll_interval: Duration,
}

/// Why a round failed (retried next round).
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// L1 refused or failed.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// The sequencer's RPC failed.
    #[error("L2 RPC: {0}")]
    L2(#[from] jsonrpsee::core::ClientError),
    /// The sequencer served a block that cannot be batched.
    #[error("L2 block {number}: {reason}")]
    Block {
        /// Block number.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// A batch already on L1 does not decode (not posted by this format's batcher).
    #[error("batch {index} on L1 does not decode: {error}")]
    PostedBatch {
        /// Its inbox index.
        index: u64,
        /// The decoder's complaint.
        error: BatchError,
    },
}

/// One posted batch, for logs and measurements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// What L1 charged.
    pub receipt: PostReceipt,
    /// First and last L2 block.
    pub blocks: (u64, u64),
    /// Transactions carried.
    pub transactions: u64,
    /// Maker fills carried.
    pub fills: u64,
    /// Batch bytes.
    pub bytes: usize,
}

/// The batcher's connections.
pub struct Batcher {
    config: BatcherConfig,
    l1: L1Client,
    l2: HttpClient,
}

impl Batcher {
    /// Connects (lazily) to both chains.
    pub fn new(config: BatcherConfig) -> Result<Batcher, BatcherError> {
        let l1 = L1Client::connect(&config.l1_rpc, config.key.clone())?;
        let l2 = http_client(&config.l2_rpc)?;
        Ok(Batcher { config, l1, l2 })
    }

    /// Posts until the task is dropped; a failed round is logged and retried.
    pub async fn run(self) {
        loop {
            match self.post_next().await {
                Ok(Some(posted)) => {
                    log_posted(&posted);
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "batcher round failed; retrying"),
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }

    /// The last L2 block a batch on L1 carries (0 when none does).
    pub async fn posted_head(&self) -> Result<u64, BatcherError> {
        let count = self.l1.batch_count(self.config.inbox).await?;
        let Some(index) = count.checked_sub(1) else {
            return Ok(0);
        };
        let log = batch_log(
            &self.l1,
            self.config.inbox,
            index,
            self.config.l1_start_block,
        )
        .await?
        .ok_or_else(|| L1Error::Rpc(format!("the event of batch {index} is missing")))?;
        let bytes = calldata_batch(&self.l1, &log).await?;
        let range =
            batch_range(&bytes).map_err(|error| BatcherError::PostedBatch { index, error })?;
        Ok(range.last_block)
    }

    /// One round: posts the next batch if there are unposted blocks; returns it.
    pub async fn post_next(&self) -> Result<Option<Posted>, BatcherError> {
        if self.l1.has_pending().await? {
            tracing::info!("a batcher transaction is still pending on L1; waiting");
            return Ok(None);
        }
        let posted = self.posted_head().await?;
        let head = self.l2.chain_head().await?.soft.number;
        if head <= posted {
            return Ok(None);
        }
        let (batch, bytes) = self.form_batch(posted, head).await?;
        let first = batch.blocks[0].number;
        let last = batch.blocks.last().map_or(first, |b| b.number);
        let transactions = batch
            .blocks
            .iter()
            .map(|b| b.transactions.len() as u64)
            .sum();
        let fills = batch
            .blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .map(|tx| tx.maker_fills() as u64)
            .sum();
        let size = bytes.len();
        let receipt = self
            .l1
            .post_calldata(self.config.inbox, Bytes::from(bytes))
            .await?;
        Ok(Some(Posted {
            receipt,
            blocks: (first, last),
            transactions,
            fills,
            bytes: size,
        }))
    }

    /// The blocks after `posted`, as many as fit in one batch.
    async fn form_batch(&self, posted: u64, head: u64) -> Result<(Batch, Vec<u8>), BatcherError> {
        let parent = self
            .l2
            .get_block(BlockRef::Number(posted), Some(false))
            .await?
            .ok_or_else(|| BatcherError::Block {
                number: posted,
                reason: "the sequencer does not have it".into(),
            })?;
        let mut batch = Batch {
            parent_hash: parent.hash,
            blocks: Vec::new(),
        };
        let mut encoded = Vec::new();
        for number in posted + 1..=head {
            let block = self.block(number).await?;
            batch.blocks.push(block);
            let bytes = batch
                .encode(&self.config.domain)
                .map_err(|e| BatcherError::Block {
                    number,
                    reason: format!("cannot be encoded: {e}"),
                })?;
            if bytes.len() > self.config.batch_bytes_max {
                batch.blocks.pop();
                if batch.blocks.is_empty() {
                    return Err(BatcherError::Block {
                        number,
                        reason: format!(
                            "encodes to {} bytes, above the batch maximum {}",
                            bytes.len(),
                            self.config.batch_bytes_max
                        ),
                    });
                }
                break;
            }
            encoded = bytes;
        }
        Ok((batch, encoded))
    }

    /// Block `number` with its transactions, from the sequencer.
    async fn block(&self, number: u64) -> Result<BatchBlock, BatcherError> {
        let view = self
            .l2
            .get_block(BlockRef::Number(number), Some(true))
            .await?
            .ok_or_else(|| BatcherError::Block {
                number,
                reason: "the sequencer does not have it".into(),
            })?;
        let transactions = view
            .transactions
            .iter()
            .map(|tx| Transaction::decode(&tx.raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BatcherError::Block {
                number,
                reason: format!("a transaction does not decode: {e}"),
            })?;
        Ok(BatchBlock {
            number,
            timestamp_ms: view.header.timestamp_ms,
            transactions,
        })
    }
}

fn log_posted(posted: &Posted) {
    let receipt = &posted.receipt;
    metrics::counter!("straddle_batches_posted_total").increment(1);
    metrics::counter!("straddle_batch_bytes_total").increment(posted.bytes as u64);
    metrics::counter!("straddle_batch_l1_gas_total").increment(receipt.gas_used);
    metrics::gauge!("straddle_posted_block").set(posted.blocks.1 as f64);
    tracing::info!(
        index = receipt.index,
        l1_block = receipt.l1_block,
        first = posted.blocks.0,
        last = posted.blocks.1,
        transactions = posted.transactions,
        fills = posted.fills,
        bytes = posted.bytes,
        gas = receipt.gas_used,
        gas_per_fill = receipt.gas_used.checked_div(posted.fills).unwrap_or(0),
        "batch posted"
    );
}
