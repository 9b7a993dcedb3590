//! The derivation side of a game (`docs/spec/disputes.md` §5.2): after the defender
//! reveals a block and names where derivation took it from, the challenger shows that
//! the named batch contradicts the block's time, count or link, or descends the
//! defender's transactions tree to a transaction that is not the source's and proves
//! it with the batch opener (or the Portal's forced record).

use straddle_batch::{
    BatchError, PortalRecords, block_transactions, describe_block, locate_transaction,
};
use straddle_l1::alloy::eips::eip4844::Blob;
use straddle_l1::alloy::primitives::{B256, Bytes};
use straddle_l1::batches::{BatchKind, BatchLog, batch_blobs, batch_log, calldata_batch};
use straddle_l1::blobs::unpack;
use straddle_l1::opening::{BlobOpener, deposit_record};
use straddle_l1::{L1Client, L1Error};
use straddle_primitives::block::transaction_leaf;
use straddle_primitives::{Domain, Transaction};

/// `DisputeGame.Source.Forced`.
pub const SOURCE_FORCED: u8 = 2;

/// How much of a malformed batch a challenger opens to show its structure fails: the
/// longest structure head, past which the opener reads nothing of it, so every structure
/// rule meets the fault there (17 blob field elements with the length, ≈ 0.9 M gas of
/// point evaluations).
pub const MALFORMED_OPENING_BYTES: usize = straddle_batch::STRUCTURE_HEAD_BYTES_MAX;

/// Why the derivation side cannot move.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// L1 refused or failed.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// The inbox has no such batch.
    #[error("the inbox has no batch {0}")]
    NoBatch(u64),
    /// The named batch does not decode where the game needs it.
    #[error("batch {index}: {error}")]
    Batch {
        /// The batch.
        index: u64,
        /// What failed.
        error: BatchError,
    },
    /// The Portal has no forced record at this index.
    #[error("the Portal has no forced record {0}")]
    NoForcedRecord(u64),
}

/// A posted batch, read from L1 and checked against the inbox's commitment.
pub struct Evidence {
    index: u64,
    /// The L1 block it was posted in.
    posted_at: u64,
    /// The batch's bytes (empty for a blob batch derivation refuses to unpack).
    bytes: Vec<u8>,
    /// For a blob batch: its blobs, with the proofs computed so far.
    blobs: Option<BlobOpener>,
}

impl Evidence {
    /// Batch `index` of `inbox`, from L1 (its log searched from `from_block`).
    pub async fn fetch(
        l1: &L1Client,
        inbox: straddle_l1::alloy::primitives::Address,
        index: u64,
        from_block: u64,
    ) -> Result<Evidence, EvidenceError> {
        let log: BatchLog = batch_log(l1, inbox, index, from_block)
            .await?
            .ok_or(EvidenceError::NoBatch(index))?;
        let (bytes, blobs) = match log.kind {
            BatchKind::Calldata => (calldata_batch(l1, &log).await?.to_vec(), None),
            BatchKind::Blobs => {
                // The blobs as posted, not repacked from the bytes: only they open
                // against the inbox's hashes (an element's first byte, which no one
                // reads, need not be zero). A length no one can read leaves no bytes:
                // the batch is malformed, shown from element 0.
                let blobs: Vec<Blob> = batch_blobs(l1, &log).await?;
                let bytes = unpack(&blobs).unwrap_or_default();
                let opener = tokio::task::spawn_blocking(move || BlobOpener::new(blobs))
                    .await
                    .map_err(|e| L1Error::Blob(format!("KZG task: {e}")))??;
                (bytes, Some(opener))
            }
        };
        Ok(Evidence {
            index,
            posted_at: log.l1_block,
            bytes,
            blobs,
        })
    }

    /// Whether the batch was posted in blobs.
    pub fn in_blobs(&self) -> bool {
        self.blobs.is_some()
    }

    /// Whether the batch shows a fault against a revealed block `number` (time, count,
    /// and parent hash `parent`): its structure is malformed, it does not carry the
    /// block, gives it another time or count, or starts with it but links elsewhere.
    pub fn contradicts(&self, number: u64, timestamp_ms: u64, count: u32, parent: B256) -> bool {
        straddle_derive::contradicts_revealed(
            &describe_block(&self.bytes, number),
            number,
            timestamp_ms,
            count,
            parent,
        )
    }

    /// The opening of the batch's header and block list (`disputeBatchBlock`,
    /// `disputeEarlierSource`). A batch whose structure is malformed is opened over its
    /// first [`MALFORMED_OPENING_BYTES`], where the opener's reads meet the fault (the
    /// structure head is bounded).
    pub fn header_opening(&mut self) -> Result<Bytes, EvidenceError> {
        let header = match describe_block(&self.bytes, 0) {
            Ok(described) => described.header,
            Err(_) => 0..self.bytes.len().min(MALFORMED_OPENING_BYTES),
        };
        self.opening(&[header])
    }

    /// The leaves (keccak256 of the canonical bytes) of block `number`'s transactions.
    pub fn leaves(
        &self,
        number: u64,
        domain: &Domain,
        records: &PortalRecords,
    ) -> Result<Vec<B256>, EvidenceError> {
        let transactions = records
            .before(self.posted_at, |records| {
                block_transactions(&self.bytes, number, domain, records)
            })
            .map_err(|error| self.error(error))?;
        Ok(transactions
            .iter()
            .map(|tx| transaction_leaf(&tx.encode()))
            .collect())
    }

    /// The opener's arguments for transaction `position` of block `number`: the opening
    /// and the deposit record (empty unless a deposit).
    pub fn transaction_opening(
        &mut self,
        number: u64,
        position: usize,
        domain: &Domain,
        records: &PortalRecords,
    ) -> Result<(Bytes, Bytes), EvidenceError> {
        let located = records
            .before(self.posted_at, |records| {
                locate_transaction(&self.bytes, number, position, domain, records)
            })
            .map_err(|error| self.error(error))?;
        let record = match &located.transaction {
            Transaction::Deposit(d) => deposit_record(d.from, d.recipient, d.amount),
            _ => Bytes::new(),
        };
        Ok((self.opening(&located.ranges)?, record))
    }

    fn opening(&mut self, ranges: &[std::ops::Range<usize>]) -> Result<Bytes, EvidenceError> {
        match &mut self.blobs {
            None => Ok(Bytes::from(self.bytes.clone())),
            Some(blobs) => Ok(blobs.openings(ranges)?),
        }
    }

    fn error(&self, error: BatchError) -> EvidenceError {
        EvidenceError::Batch {
            index: self.index,
            error,
        }
    }
}

/// The leaves a forced block from record `first` with `count` transactions must have:
/// the Portal's records `first…`, as derivation includes them.
pub fn forced_leaves(
    records: &PortalRecords,
    first: u64,
    count: u32,
) -> Result<Vec<B256>, EvidenceError> {
    (first..first + u64::from(count))
        .map(|index| {
            let record = records
                .forced(index)
                .ok_or(EvidenceError::NoForcedRecord(index))?;
            Ok(transaction_leaf(
                &Transaction::Forced(record.clone()).encode(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use straddle_batch::{Batch, BatchBlock};

    fn calldata_evidence(bytes: Vec<u8>) -> Evidence {
        Evidence {
            index: 3,
            posted_at: 10,
            bytes,
            blobs: None,
        }
    }

    /// Blocks 5 and 6 after a parent of hash `0x11…`, at 5 000 and 6 000 ms, empty.
    fn two_blocks() -> (Vec<u8>, B256) {
        let parent = B256::repeat_byte(0x11);
        let batch = Batch {
            parent_hash: parent,
            blocks: vec![
                BatchBlock {
                    number: 5,
                    timestamp_ms: 5_000,
                    transactions: vec![],
                },
                BatchBlock {
                    number: 6,
                    timestamp_ms: 6_000,
                    transactions: vec![Transaction::Undecodable],
                },
            ],
        };
        let domain = Domain {
            chain_id: 1,
            verifying_contract: Default::default(),
        };
        (batch.encode(&domain).expect("encodes"), parent)
    }

    #[test]
    fn a_batch_contradicts_a_block_it_does_not_carry_as_revealed() {
        let (bytes, parent) = two_blocks();
        let evidence = calldata_evidence(bytes);
        assert!(
            !evidence.contradicts(5, 5_000, 0, parent),
            "its own first block"
        );
        assert!(
            !evidence.contradicts(6, 6_000, 1, B256::ZERO),
            "a later block: no link"
        );
        assert!(
            evidence.contradicts(5, 5_000, 0, B256::ZERO),
            "another parent"
        );
        assert!(evidence.contradicts(6, 6_001, 1, parent), "another time");
        assert!(evidence.contradicts(6, 6_000, 2, parent), "another count");
        assert!(evidence.contradicts(7, 7_000, 0, parent), "not carried");
    }

    #[test]
    fn a_malformed_batch_contradicts_every_block_and_still_opens() {
        let (mut bytes, parent) = two_blocks();
        bytes[0] = 7;
        let mut evidence = calldata_evidence(bytes.clone());
        assert!(
            evidence.contradicts(5, 5_000, 0, parent),
            "no candidate at all"
        );
        assert_eq!(
            evidence.header_opening().expect("opens").as_ref(),
            bytes.as_slice(),
            "a calldata batch is its whole bytes"
        );
    }

    #[test]
    fn a_malformed_blob_batch_opens_its_first_elements_only() {
        let mut bytes = vec![7u8; 3 * MALFORMED_OPENING_BYTES];
        bytes[1] = 0;
        let blobs = straddle_l1::blobs::pack(&bytes).expect("packs");
        let mut evidence = Evidence {
            blobs: Some(BlobOpener::new(blobs).expect("KZG")),
            ..calldata_evidence(bytes)
        };
        let opening = evidence.header_opening().expect("opens");
        let count = usize::from(u16::from_be_bytes([opening[0], opening[1]]));
        // 4 length bytes and 512 batch bytes, 31 per element.
        assert_eq!(count, (4 + MALFORMED_OPENING_BYTES).div_ceil(31));
        assert_eq!(count, 17);
        assert_eq!(&opening[2..6], &[0, 0, 0, 0], "from element 0");
    }
}
