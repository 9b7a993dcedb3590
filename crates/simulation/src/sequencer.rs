//! A sequencer for the simulation: one thread, stepped by the test, with the real one's
//! durability protocol and the real pieces underneath it. Admission executes a
//! transaction through the STF (`ExecutionState::execute`) and frames its log record; the
//! log writes and fsyncs queued records as one group (`WalWriter` on a [`SimDisk`]) and
//! only then acknowledges them; a block is sealed (`Chain::seal`, invariants checked) only
//! after its records are durable; the database commits sealed blocks later, in order, and
//! prunes the log. Recovery is `Chain::recover`, the sequencer node's own.
//!
//! The test decides when each of those happens, so a slow fsync (many admissions queued
//! behind one write), a crash at any point, a write torn by a crash and power lost during
//! an fsync are all reachable from a seed.

use alloy_primitives::B256;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use straddle_chain::{Chain, ChainError, Recovered, ReplayRule};
use straddle_exchange::{BlockContext, Genesis, InvariantViolation};
use straddle_primitives::Transaction;
use straddle_primitives::block::StoredTx;
use straddle_storage::chain_store::{ChainStore, ChainStoreError, SealedBlock};
use straddle_storage::wal::{SimDisk, WalError, WalWriter, frame_block_open, frame_tx};

/// Why the simulated sequencer stopped. Any of these is a crash: the test restarts it.
#[derive(Debug, thiserror::Error)]
pub enum SimSequencerError {
    /// Recovery or sealing failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The log could not be written.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
}

/// What a seal did.
pub struct Sealing {
    /// Transactions its log write acknowledged.
    pub acknowledged: Vec<B256>,
    /// The sealed block's number and hash (none when the open block was empty).
    pub sealed: Option<(u64, B256)>,
}

/// The block being built.
struct OpenBlock {
    context: BlockContext,
    transactions: Vec<StoredTx>,
}

/// A single-threaded sequencer over a simulated disk and a real redb store.
pub struct SimSequencer {
    store: Arc<ChainStore>,
    chain: Chain,
    wal: WalWriter,
    open: Option<OpenBlock>,
    /// Framed records not yet written (the log thread's queue).
    queued: Vec<u8>,
    /// The transactions of those records: acknowledged once the records are synced.
    queued_hashes: Vec<B256>,
    /// Sealed, not yet committed (the database thread's queue).
    uncommitted: VecDeque<SealedBlock>,
}

impl SimSequencer {
    /// Starts (or restarts after a crash) on the log on `disk` and the store in `store_dir`,
    /// recovering as the sequencer node does. Returns the sequencer and the transactions
    /// replayed from the log.
    pub fn start(
        genesis: &Genesis,
        disk: &SimDisk,
        store_dir: &Path,
    ) -> Result<(SimSequencer, usize), SimSequencerError> {
        let store = Arc::new(ChainStore::open(store_dir)?);
        let Recovered {
            chain,
            wal,
            replayed,
        } = Chain::recover(
            &store,
            genesis,
            Arc::new(disk.clone()),
            ReplayRule::EverySucceeds,
        )?;
        Ok((
            SimSequencer {
                store,
                chain,
                wal,
                open: None,
                queued: Vec::new(),
                queued_hashes: Vec::new(),
                uncommitted: VecDeque::new(),
            },
            replayed,
        ))
    }

    /// Admits `tx` into the open block (opened at `now_ms`, never before the head): its
    /// record is queued for the log. Returns its hash, or why the STF refused it (a
    /// refused transaction is not logged).
    pub fn submit(&mut self, tx: Transaction, now_ms: u64) -> Result<B256, String> {
        let admitted = self.chain.state.admit(tx).map_err(|e| e.to_string())?;
        let head = &self.chain.tip.head;
        let open = self.open.get_or_insert_with(|| OpenBlock {
            context: BlockContext {
                number: head.number + 1,
                timestamp_ms: now_ms.max(head.timestamp_ms),
            },
            transactions: Vec::new(),
        });
        self.chain
            .state
            .execute(&admitted, &open.context)
            .map_err(|e| e.to_string())?;
        if open.transactions.is_empty() {
            frame_block_open(
                &mut self.queued,
                open.context.number,
                open.context.timestamp_ms,
            );
        }
        frame_tx(&mut self.queued, &admitted.tx.encode());
        let hash = admitted.hash;
        self.queued_hashes.push(hash);
        open.transactions.push(admitted.split().0);
        Ok(hash)
    }

    /// The log thread's round: writes every queued record with one fsync; returns the
    /// transactions it acknowledges. A failed write is a crash.
    pub fn sync(&mut self) -> Result<Vec<B256>, SimSequencerError> {
        if !self.queued.is_empty() {
            self.wal.maybe_rotate(self.chain.tip.head.number + 1)?;
            self.wal.append_and_sync(&self.queued)?;
            self.queued.clear();
        }
        Ok(std::mem::take(&mut self.queued_hashes))
    }

    /// Seals the open block, if it has transactions, after the log holds them (so it first
    /// syncs, acknowledging what it wrote).
    pub fn seal(&mut self) -> Result<Sealing, SimSequencerError> {
        let acknowledged = self.sync()?;
        let Some(open) = self.open.take_if(|open| !open.transactions.is_empty()) else {
            return Ok(Sealing {
                acknowledged,
                sealed: None,
            });
        };
        let sealed = self
            .chain
            .seal(open.context.timestamp_ms, open.transactions)?;
        let sealed_ref = (sealed.header.number, sealed.hash);
        self.uncommitted.push_back(sealed);
        Ok(Sealing {
            acknowledged,
            sealed: Some(sealed_ref),
        })
    }

    /// The database thread's round: commits the oldest sealed block and prunes the log.
    /// Returns its number.
    pub fn commit_next(&mut self) -> Result<Option<u64>, SimSequencerError> {
        let Some(block) = self.uncommitted.pop_front() else {
            return Ok(None);
        };
        self.store.commit_block(&block, None)?;
        self.wal.prune(block.header.number)?;
        Ok(Some(block.header.number))
    }

    /// Bytes of records queued for the next log write.
    pub fn queued_bytes(&self) -> usize {
        self.queued.len()
    }

    /// The committed chain (what the RPC serves, and the batcher reads).
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// The last committed block's number.
    pub fn committed_head(&self) -> Result<u64, SimSequencerError> {
        Ok(self.store.head_number()?.unwrap_or(0))
    }

    /// The last sealed block's number.
    pub fn sealed_head(&self) -> u64 {
        self.chain.tip.head.number
    }

    /// The ledger's invariants (conservation, net-zero positions), as of now.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.chain.state.ledger.check_invariants()
    }
}
