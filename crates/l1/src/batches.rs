//! Batches on L1: posting one as `BatchInbox.postCalldata` input or in blobs with
//! `BatchInbox.postBlobs`, reading the inbox's `BatchPosted` events back, and fetching a
//! posted batch's bytes (checked against the commitment the inbox recorded).

use crate::blobs::{self, SidecarKind};
use crate::{L1Client, L1Error, receipt_event, u64_of};
use alloy::consensus::Transaction as _;
use alloy::eips::eip4844::Blob;
use alloy::network::{TransactionBuilder, TransactionBuilder4844};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
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

fn post_receipt(receipt: &TransactionReceipt) -> Result<PostReceipt, L1Error> {
    let event: BatchInbox::BatchPosted = receipt_event(receipt)?;
    Ok(PostReceipt {
        index: u64_of(event.index, "batch index")?,
        l1_block: receipt.block_number.unwrap_or_default(),
        tx_hash: receipt.transaction_hash,
        gas_used: receipt.gas_used,
        blob_gas_used: receipt.blob_gas_used.unwrap_or_default(),
    })
}

/// The inbox's batches logged in L1 blocks `from..=to`, in log order.
pub async fn batches_between(
    client: &L1Client,
    inbox: Address,
    from: u64,
    to: u64,
) -> Result<Vec<BatchLog>, L1Error> {
    let mut logs = Vec::new();
    for (start, end) in crate::log_ranges(from, to) {
        logs.extend(
            batch_logs(
                client,
                &posted_filter(inbox).from_block(start).to_block(end),
            )
            .await?,
        );
    }
    Ok(logs)
}

/// The `BatchPosted` event of batch `index` on the current L1 chain, searched from
/// `from_block` (the deployment block) to the head.
pub async fn batch_log(
    client: &L1Client,
    inbox: Address,
    index: u64,
    from_block: u64,
) -> Result<Option<BatchLog>, L1Error> {
    let latest = client.block_number().await?;
    for (start, end) in crate::log_ranges(from_block, latest) {
        let filter = posted_filter(inbox)
            .topic1(B256::from(U256::from(index)))
            .from_block(start)
            .to_block(end);
        if let Some(log) = batch_logs(client, &filter).await?.pop() {
            return Ok(Some(log));
        }
    }
    Ok(None)
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
    let tx = posting_transaction(client, batch).await?;
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

/// The transaction that posted `batch`.
async fn posting_transaction(
    client: &L1Client,
    batch: &BatchLog,
) -> Result<alloy::rpc::types::Transaction, L1Error> {
    client
        .provider()
        .get_transaction_by_hash(batch.tx_hash)
        .await
        .map_err(L1Error::rpc)?
        .ok_or_else(|| L1Error::Decode(format!("transaction {} not found", batch.tx_hash)))
}

/// The bytes of a posted batch, calldata or blobs, checked against the inbox's
/// commitment.
pub async fn batch_bytes(client: &L1Client, batch: &BatchLog) -> Result<Bytes, L1Error> {
    match batch.kind {
        BatchKind::Calldata => calldata_batch(client, batch).await,
        BatchKind::Blobs => blob_batch(client, batch).await,
    }
}

/// The bytes of a blob batch: the blobs named by its transaction's versioned hashes
/// (which must be the ones the inbox committed to), each checked against its hash, then
/// unpacked.
///
/// Blobs come from the consensus client's beacon API when the client has one
/// ([`L1Client::with_beacon_api`]: the sidecars of the slot of the batch's L1 block),
/// else from the L1 RPC's `anvil_getBlobByHash` (anvil keeps every blob). Either way
/// each blob's KZG commitment is recomputed and must give the transaction's versioned
/// hash.
pub async fn blob_batch(client: &L1Client, batch: &BatchLog) -> Result<Bytes, L1Error> {
    blobs::unpack(&batch_blobs(client, batch).await?).map(Bytes::from)
}

/// The blobs of blob batch `batch`, as posted, each checked against its versioned hash
/// (see [`blob_batch`]).
pub async fn batch_blobs(client: &L1Client, batch: &BatchLog) -> Result<Vec<Blob>, L1Error> {
    let tx = posting_transaction(client, batch).await?;
    let hashes: Vec<B256> = tx
        .blob_versioned_hashes()
        .map(|hashes| {
            hashes
                .iter()
                .take(usize::from(batch.blob_count))
                .copied()
                .collect()
        })
        .unwrap_or_default();
    let packed: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
    if hashes.len() != usize::from(batch.blob_count) || keccak256(&packed) != batch.commitment {
        return Err(L1Error::Decode(format!(
            "batch {}: the transaction's blob hashes do not match the inbox's commitment",
            batch.index
        )));
    }
    // What the node serves is not trusted: a wrong or missing blob is the node's
    // failure (an RPC error, retried), never the batch's.
    let blobs = match client.beacon() {
        Some(beacon) => {
            let timestamp = client.block_timestamp(batch.l1_block).await?;
            beacon
                .blobs(timestamp, &hashes)
                .await
                .map_err(|e| L1Error::Rpc(e.to_string()))?
        }
        None => {
            let mut blobs = Vec::with_capacity(hashes.len());
            for hash in &hashes {
                let bytes: Option<Bytes> = client
                    .provider()
                    .raw_request("anvil_getBlobByHash".into(), (hash,))
                    .await
                    .map_err(|e| L1Error::Rpc(format!("fetching blob {hash}: {e}")))?;
                let bytes = bytes.ok_or_else(|| {
                    L1Error::Rpc(format!("the L1 node does not serve blob {hash}"))
                })?;
                blobs
                    .push(blobs::blob_from_bytes(&bytes).map_err(|e| L1Error::Rpc(e.to_string()))?);
            }
            blobs
        }
    };
    // KZG commitments take milliseconds per blob: off the async workers.
    tokio::task::spawn_blocking(move || {
        for (blob, hash) in blobs.iter().zip(&hashes) {
            if blobs::versioned_hash(blob)? != *hash {
                return Err(L1Error::Rpc(format!(
                    "the blob served for {hash} does not match it"
                )));
            }
        }
        Ok(blobs)
    })
    .await
    .map_err(|e| L1Error::Blob(format!("verification task: {e}")))?
}

impl L1Client {
    /// The sidecar the L1 accepts now: cell proofs from Osaka on, which `eth_config`
    /// (EIP-7910) shows by Osaka's P256VERIFY precompile; blob proofs before. An L1 that
    /// does not answer `eth_config` is taken to be at Osaka or later, like mainnet.
    pub async fn sidecar_kind(&self) -> Result<SidecarKind, L1Error> {
        let config: Result<serde_json::Value, _> =
            self.provider().raw_request("eth_config".into(), ()).await;
        Ok(match config {
            Ok(config) if config["current"]["precompiles"].get("P256VERIFY").is_none() => {
                SidecarKind::BlobProofs
            }
            _ => SidecarKind::CellProofs,
        })
    }

    /// Posts `data` in blobs to `inbox` (`postBlobs`) and waits for its receipt; the
    /// sidecar carries proofs of `kind`, which the L1's fork decides.
    pub async fn post_blobs(
        &self,
        inbox: Address,
        data: &[u8],
        kind: SidecarKind,
    ) -> Result<PostReceipt, L1Error> {
        self.post_packed_blobs(inbox, blobs::pack(data)?, kind)
            .await
    }

    /// Posts `blobs`, packed by the caller, to `inbox` (`postBlobs`) and waits for its
    /// receipt: how a test posts a badly packed batch.
    pub async fn post_packed_blobs(
        &self,
        inbox: Address,
        blobs: Vec<Blob>,
        kind: SidecarKind,
    ) -> Result<PostReceipt, L1Error> {
        let count = blobs.len();
        // Proofs take a while (KZG); off the async workers.
        let sidecar = tokio::task::spawn_blocking(move || blobs::sidecar(blobs, kind))
            .await
            .map_err(|e| L1Error::Blob(format!("proof task: {e}")))??;
        let call = BatchInbox::postBlobsCall {
            count: U256::from(count),
        };
        let mut request = TransactionRequest::default()
            .with_to(inbox)
            .with_input(Bytes::from(call.abi_encode()));
        request.set_blob_sidecar(sidecar);
        let receipt = self.send(request, "post a blob batch").await?;
        post_receipt(&receipt)
    }

    /// Posts `data` as a calldata batch to `inbox` and waits for its receipt.
    pub async fn post_calldata(&self, inbox: Address, data: Bytes) -> Result<PostReceipt, L1Error> {
        let call = BatchInbox::postCalldataCall { data };
        let receipt = self
            .transact(inbox, &call, U256::ZERO, "post a calldata batch")
            .await?;
        post_receipt(&receipt)
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
