//! The node's side of derivation (`straddle_derive`, `docs/spec/batches.md` §6): the
//! sequencer is the chain derived blocks are imported into, and it publishes the `safe`
//! and `finalized` heads derivation finds.

use crate::sequencer::{Sequencer, SubmitError};
use std::sync::atomic::Ordering;
use straddle_batch::BatchBlock;
use straddle_derive::{DerivedChain, Imported, Severity};
use straddle_primitives::B256;
use straddle_primitives::Domain;
use straddle_primitives::block::BlockHeader;

pub use straddle_derive::{L1Source, Mode};

impl DerivedChain for Sequencer {
    type Error = SubmitError;

    fn severity(error: &SubmitError) -> Severity {
        match error {
            SubmitError::Overloaded | SubmitError::ShuttingDown => Severity::Temporary,
            _ => Severity::Critical,
        }
    }

    fn domain(&self) -> &Domain {
        Sequencer::domain(self)
    }

    fn committed_head(&self) -> (BlockHeader, B256) {
        Sequencer::committed_head(self)
    }

    async fn forced_count(&self) -> Result<u64, SubmitError> {
        self.read(|state| state.ledger.forced_queue().count).await
    }

    async fn import_blocks(&self, blocks: Vec<BatchBlock>) -> Result<Vec<Imported>, SubmitError> {
        let acks = Sequencer::import_blocks(self, blocks).await?;
        Ok(acks
            .into_iter()
            .map(|ack| Imported {
                number: ack.number,
                refused: ack.refused,
            })
            .collect())
    }

    async fn wait_committed(&self, number: u64) {
        Sequencer::wait_committed(self, number).await;
    }

    fn set_heads(&self, safe: u64, finalized: u64, l1_read: u64) {
        self.shared
            .derived_l1_block
            .store(l1_read, Ordering::Release);
        self.shared.safe_number.store(safe, Ordering::Release);
        self.shared
            .finalized_number
            .store(finalized, Ordering::Release);
    }
}
