//! What derivation needs of the L2 chain it feeds (`docs/spec/batches.md` §6): its head,
//! its forced-transaction count, importing derived blocks, and publishing the `safe` and
//! `finalized` heads. The sequencer node implements it; derivation does not depend on it.

use crate::error::Severity;
use alloy_primitives::B256;
use std::future::Future;
use straddle_batch::BatchBlock;
use straddle_primitives::Domain;
use straddle_primitives::block::BlockHeader;

/// The outcome of importing one derived block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// Its number.
    pub number: u64,
    /// Positions of the transactions the STF refused (each changed nothing).
    pub refused: Vec<u32>,
}

/// The chain derived blocks are imported into.
pub trait DerivedChain: Send + Sync + 'static {
    /// Why the chain could not answer or import (a stopping node, a refused block).
    type Error: std::error::Error + Send + Sync + 'static;

    /// What it takes to go on after `error`: [`Severity::Temporary`] when the chain was
    /// only busy or stopping, [`Severity::Critical`] when it refused what the rules took.
    fn severity(error: &Self::Error) -> Severity;

    /// The chain's signing domain.
    fn domain(&self) -> &Domain;
    /// The last committed block and its hash.
    fn committed_head(&self) -> (BlockHeader, B256);
    /// How many forced transactions the chain has included.
    fn forced_count(&self) -> impl Future<Output = Result<u64, Self::Error>> + Send;
    /// Imports `blocks` in order (each must follow the head: `crate::rules`).
    fn import_blocks(
        &self,
        blocks: Vec<BatchBlock>,
    ) -> impl Future<Output = Result<Vec<Imported>, Self::Error>> + Send;
    /// Waits until block `number` is committed.
    fn wait_committed(&self, number: u64) -> impl Future<Output = ()> + Send;
    /// Publishes the `safe` and `finalized` heads, and the last L1 block derivation has
    /// read completely (`l1_read`: every block derivable from L1 up to it is in the
    /// chain; 0 before the first round or after a reorg).
    fn set_heads(&self, safe: u64, finalized: u64, l1_read: u64);
}
