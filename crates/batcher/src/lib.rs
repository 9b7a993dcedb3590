//! The batcher: posts the sequencer's sealed blocks to the L1 `BatchInbox`, in blobs
//! or as calldata, whichever costs less at the L1's current fees (or as configured).
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
use straddle_l1::alloy::primitives::{Address, B256, Bytes};
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::blobs::{BLOB_BATCH_BYTES_MAX, blobs_needed};
use straddle_l1::{BatchKind, L1Client, L1Error, PostReceipt, batch_bytes, batch_log};
use straddle_primitives::{Domain, Transaction};
use straddle_rpc_api::{BlockRef, StraddleApiClient, http_client};

/// Largest calldata batch the inbox accepts (`BatchInbox.CALLDATA_BATCH_BYTES_MAX`).
pub const CALLDATA_BATCH_BYTES_MAX: usize = 120_000;
/// Largest batch of any kind: what six blobs hold.
pub const BATCH_BYTES_MAX: usize = BLOB_BATCH_BYTES_MAX;

/// Execution gas of `postCalldata` beyond the intrinsic 21 000 and the calldata itself
/// (batch record, accumulator, event; measured on anvil, `docs/PERFORMANCE.md`).
const POST_CALLDATA_EXECUTION_GAS: u64 = 62_000;
/// Gas of a `postBlobs` transaction of one blob (intrinsic, record, accumulator, event,
/// the stored hash): 124 562 measured on anvil.
const POST_BLOBS_GAS: u64 = 124_600;
/// Gas per blob beyond the first (its stored versioned hash): 56 935 measured.
const POST_BLOBS_GAS_PER_EXTRA_BLOB: u64 = 57_000;
/// Blob gas per blob (EIP-4844).
const BLOB_GAS_PER_BLOB: u128 = 131_072;

/// Where batches go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataAvailability {
    /// Each batch where it costs less at the current base and blob fees; batches above
    /// the calldata limit always go in blobs.
    Cheapest,
    /// Always in blobs.
    Blobs,
    /// Always as calldata (an L1 without blobs, or blob fees out of reach).
    Calldata,
}

/// L1 gas of posting `data` as calldata: EIP-7623 charges the larger of the standard
/// cost (4 gas per zero byte, 16 per other byte, plus execution) and the floor (10 and
/// 40 per byte).
pub fn calldata_post_gas(data: &[u8]) -> u64 {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let others = data.len() as u64 - zeros;
    let standard = 21_000 + 4 * zeros + 16 * others + POST_CALLDATA_EXECUTION_GAS;
    let floor = 21_000 + 10 * zeros + 40 * others;
    standard.max(floor)
}

/// L1 gas (not blob gas) of posting a batch of `len` bytes in blobs.
pub fn blob_post_gas(len: usize) -> u64 {
    POST_BLOBS_GAS + POST_BLOBS_GAS_PER_EXTRA_BLOB * (blobs_needed(len) as u64 - 1)
}

/// Whether blobs cost less than calldata for `data` at `base_fee` and `blob_base_fee`
/// (wei per gas and per blob gas).
pub fn blobs_are_cheaper(data: &[u8], base_fee: u128, blob_base_fee: u128) -> bool {
    if data.len() > CALLDATA_BATCH_BYTES_MAX {
        return true;
    }
    let calldata = u128::from(calldata_post_gas(data)) * base_fee;
    let blobs = u128::from(blob_post_gas(data.len())) * base_fee
        + blobs_needed(data.len()) as u128 * BLOB_GAS_PER_BLOB * blob_base_fee;
    blobs < calldata
}

/// How to run the batcher.
#[derive(Clone, Debug)]
pub struct BatcherConfig {
    /// The sequencer's JSON-RPC endpoint (HTTP).
    pub l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    pub l1_rpc: String,
    /// A consensus client's beacon API the last posted blob batch is read from (a public network);
    /// none: the L1 node's `anvil_getBlobByHash` (the devnet).
    pub beacon_api: Option<String>,
    /// The batcher's L1 key (the inbox's `batcher`).
    pub key: PrivateKeySigner,
    /// The BatchInbox.
    pub inbox: Address,
    /// The inbox's deployment block (where event searches start).
    pub l1_start_block: u64,
    /// The chain's signing domain (the batch format refers to order hashes under it).
    pub domain: Domain,
    /// Largest batch to post, bytes (at most [`BATCH_BYTES_MAX`]; with
    /// [`DataAvailability::Calldata`], at most [`CALLDATA_BATCH_BYTES_MAX`]).
    pub batch_bytes_max: usize,
    /// Blobs, calldata, or the cheaper of the two.
    pub data_availability: DataAvailability,
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
    /// Calldata or blobs.
    pub kind: BatchKind,
}

/// The batcher's connections.
pub struct Batcher {
    config: BatcherConfig,
    l1: L1Client,
    l2: HttpClient,
    /// `(transaction, last L2 block)` of the last batch read from L1: a round that finds
    /// the same last batch does not fetch and decode it again.
    last_posted: std::sync::Mutex<Option<(B256, u64)>>,
}

impl Batcher {
    /// Connects (lazily) to both chains.
    pub fn new(config: BatcherConfig) -> Result<Batcher, BatcherError> {
        let l1 = L1Client::connect(&config.l1_rpc, config.key.clone())?
            .with_beacon_api(config.beacon_api.as_deref())?;
        let l2 = http_client(&config.l2_rpc)?;
        Ok(Batcher {
            config,
            l1,
            l2,
            last_posted: std::sync::Mutex::new(None),
        })
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
        if let Ok(guard) = self.last_posted.lock()
            && let Some((tx, last_block)) = *guard
            && tx == log.tx_hash
        {
            return Ok(last_block);
        }
        let bytes = batch_bytes(&self.l1, &log).await?;
        let range =
            batch_range(&bytes).map_err(|error| BatcherError::PostedBatch { index, error })?;
        if let Ok(mut guard) = self.last_posted.lock() {
            *guard = Some((log.tx_hash, range.last_block));
        }
        Ok(range.last_block)
    }

    /// Where `data` goes under the configured policy and the L1's current fees.
    async fn kind_for(&self, data: &[u8]) -> Result<BatchKind, BatcherError> {
        Ok(match self.config.data_availability {
            DataAvailability::Blobs => BatchKind::Blobs,
            DataAvailability::Calldata => BatchKind::Calldata,
            DataAvailability::Cheapest => {
                let (base_fee, blob_base_fee) = self.l1.fees().await?;
                if blobs_are_cheaper(data, base_fee, blob_base_fee) {
                    BatchKind::Blobs
                } else {
                    BatchKind::Calldata
                }
            }
        })
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
        let kind = self.kind_for(&bytes).await?;
        let receipt = match kind {
            BatchKind::Calldata => {
                self.l1
                    .post_calldata(self.config.inbox, Bytes::from(bytes))
                    .await?
            }
            BatchKind::Blobs => {
                let sidecar = self.l1.sidecar_kind().await?;
                self.l1
                    .post_blobs(self.config.inbox, &bytes, sidecar)
                    .await?
            }
        };
        Ok(Some(Posted {
            receipt,
            blocks: (first, last),
            transactions,
            fills,
            bytes: size,
            kind,
        }))
    }

    /// The blocks after `posted`, as many as fit in one batch under the configured limit.
    async fn form_batch(&self, posted: u64, head: u64) -> Result<(Batch, Vec<u8>), BatcherError> {
        let parent = self
            .l2
            .get_block(BlockRef::Number(posted), Some(false))
            .await?
            .ok_or_else(|| BatcherError::Block {
                number: posted,
                reason: "the sequencer does not have it".into(),
            })?;
        let limit = match self.config.data_availability {
            DataAvailability::Calldata => CALLDATA_BATCH_BYTES_MAX,
            DataAvailability::Blobs | DataAvailability::Cheapest => BATCH_BYTES_MAX,
        }
        .min(self.config.batch_bytes_max);
        form_batch(
            &self.config.domain,
            limit,
            (posted, parent.hash),
            head,
            |number| self.block(number),
        )
        .await
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

/// The batch of the blocks after `parent` (its number and hash) up to `head`, as many as
/// encode within `limit` bytes (and within a batch's structure head), and its bytes; `block` reads one block. The count is
/// found by doubling, then bisecting, so a long backlog costs O(log n) encodings, not one
/// per block.
pub async fn form_batch<F, Fut>(
    domain: &Domain,
    limit: usize,
    parent: (u64, B256),
    head: u64,
    mut block: F,
) -> Result<(Batch, Vec<u8>), BatcherError>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<BatchBlock, BatcherError>>,
{
    let (posted, parent_hash) = parent;
    let available = usize::try_from(head.saturating_sub(posted)).unwrap_or(usize::MAX);
    let mut blocks: Vec<BatchBlock> = Vec::new();
    // `fits`: the largest count known to fit, with its bytes; `over`: the smallest count
    // known not to.
    let mut fits: (usize, Vec<u8>) = (0, Vec::new());
    let mut over: Option<usize> = None;
    let mut probe = 1usize;
    loop {
        let count = match over {
            None => probe.min(available),
            Some(over) if over - fits.0 > 1 => (fits.0 + over) / 2,
            Some(_) => break,
        };
        while blocks.len() < count {
            let number = posted + 1 + blocks.len() as u64;
            blocks.push(block(number).await?);
        }
        let candidate = Batch {
            parent_hash,
            blocks: blocks[..count].to_vec(),
        };
        let number = posted + count as u64;
        // A candidate that does not encode (more blocks than a batch's structure head
        // holds, say) is too large; a single block that does not is an error.
        let encoded = candidate.encode(domain);
        let bytes = match encoded {
            Ok(bytes) => bytes,
            Err(_) if count > 1 => {
                over = Some(count);
                continue;
            }
            Err(e) => {
                return Err(BatcherError::Block {
                    number,
                    reason: format!("cannot be encoded: {e}"),
                });
            }
        };
        if bytes.len() <= limit {
            fits = (count, bytes);
            if over.is_none() && count == available {
                break;
            }
            probe = probe.saturating_mul(2);
        } else if count == 1 {
            return Err(BatcherError::Block {
                number,
                reason: format!(
                    "encodes to {} bytes, above the batch maximum {limit}",
                    bytes.len()
                ),
            });
        } else {
            over = Some(count);
        }
    }
    blocks.truncate(fits.0);
    Ok((
        Batch {
            parent_hash,
            blocks,
        },
        fits.1,
    ))
}

fn log_posted(posted: &Posted) {
    let receipt = &posted.receipt;
    metrics::counter!("straddle_batches_posted_total").increment(1);
    metrics::counter!("straddle_batch_bytes_total").increment(posted.bytes as u64);
    metrics::counter!("straddle_batch_l1_gas_total").increment(receipt.gas_used);
    metrics::counter!("straddle_batch_blob_gas_total").increment(receipt.blob_gas_used);
    metrics::gauge!("straddle_posted_block").set(posted.blocks.1 as f64);
    tracing::info!(
        index = receipt.index,
        l1_block = receipt.l1_block,
        first = posted.blocks.0,
        last = posted.blocks.1,
        transactions = posted.transactions,
        fills = posted.fills,
        bytes = posted.bytes,
        kind = ?posted.kind,
        gas = receipt.gas_used,
        blob_gas = receipt.blob_gas_used,
        gas_per_fill = receipt.gas_used.checked_div(posted.fills).unwrap_or(0),
        bytes_per_fill = (posted.bytes as u64).checked_div(posted.fills).unwrap_or(0),
        "batch posted"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calldata_pays_the_eip_7623_floor_when_it_is_higher() {
        // 1 000 non-zero bytes: standard 21 000 + 16 000 + execution, floor 21 000 + 40 000.
        let data = vec![7u8; 1_000];
        assert_eq!(
            calldata_post_gas(&data),
            21_000 + 16_000 + POST_CALLDATA_EXECUTION_GAS
        );
        let large = vec![7u8; 100_000];
        assert_eq!(calldata_post_gas(&large), 21_000 + 4_000_000);
    }

    #[test]
    fn blobs_win_on_size_and_lose_on_a_high_blob_fee() {
        let small = vec![1u8; 300];
        let large = vec![1u8; 60_000];
        // Blob gas at the minimum (1 wei), execution at 1 gwei: blobs for all but tiny.
        assert!(blobs_are_cheaper(&large, 1_000_000_000, 1));
        assert!(!blobs_are_cheaper(&small, 1_000_000_000, 1));
        // Blob fees as high as execution fees: calldata for a few kilobytes, blobs
        // still for tens of kilobytes.
        let medium = vec![1u8; 3_000];
        assert!(!blobs_are_cheaper(&medium, 1_000_000_000, 1_000_000_000));
        assert!(blobs_are_cheaper(&large, 1_000_000_000, 1_000_000_000));
        // Above the calldata limit there is no choice.
        let huge = vec![1u8; CALLDATA_BATCH_BYTES_MAX + 1];
        assert!(blobs_are_cheaper(&huge, 1, u128::MAX / (1 << 40)));
    }
}
