//! A follower for the simulation: derived blocks execute through `straddle-chain` and
//! commit to a redb store, behind the real `DerivedChain` trait, fed by the real
//! derivation pipeline.

use crate::l1::{INBOX, PORTAL, SimL1};
use alloy_primitives::B256;
use std::sync::{Arc, Mutex};
use straddle_batch::BatchBlock;
use straddle_chain::{Chain, ChainError, ReplayRule};
use straddle_derive::{
    DerivedChain, Imported, L1Source, LinkFault, Mode, Pipeline, Severity, block_follows,
};
use straddle_primitives::Domain;
use straddle_primitives::block::BlockHeader;
use straddle_storage::chain_store::{ChainStore, ChainStoreError};
use straddle_storage::wal::WalBlock;
use straddle_testkit as kit;

/// Why the follower could not take a block.
#[derive(Debug, thiserror::Error)]
pub enum SimChainError {
    /// The block does not follow the head.
    #[error(transparent)]
    Link(#[from] LinkFault),
    /// The block does not execute.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
}

/// A follower's chain: blocks execute through `straddle-chain` and commit to a redb store.
pub struct SimChain {
    chain: Mutex<Chain>,
    /// Where its blocks are committed.
    pub store: Arc<ChainStore>,
    domain: Domain,
    heads: Mutex<(u64, u64)>,
}

impl SimChain {
    /// The chain, locked.
    pub fn chain(&self) -> std::sync::MutexGuard<'_, Chain> {
        self.chain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Its `(safe, finalized)` heads.
    pub fn heads(&self) -> (u64, u64) {
        *self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl DerivedChain for SimChain {
    type Error = SimChainError;

    fn severity(_: &SimChainError) -> Severity {
        Severity::Critical
    }

    fn domain(&self) -> &Domain {
        &self.domain
    }

    fn committed_head(&self) -> (BlockHeader, B256) {
        let chain = self.chain();
        (chain.tip.head.clone(), chain.tip.head_hash)
    }

    async fn forced_count(&self) -> Result<u64, SimChainError> {
        Ok(self.chain().state.ledger.forced_queue().count)
    }

    async fn import_blocks(&self, blocks: Vec<BatchBlock>) -> Result<Vec<Imported>, SimChainError> {
        let mut chain = self.chain();
        let mut imported = Vec::with_capacity(blocks.len());
        for block in blocks {
            let head = (chain.tip.head.number, chain.tip.head.timestamp_ms);
            block_follows(head, block.number, block.timestamp_ms)?;
            let logged = WalBlock {
                number: block.number,
                timestamp_ms: block.timestamp_ms,
                transactions: block.transactions.iter().map(|tx| tx.encode()).collect(),
            };
            let sealed = chain.replay_logged(&logged, ReplayRule::RefusedChangesNothing)?;
            self.store.commit_block(&sealed, None)?;
            imported.push(Imported {
                number: block.number,
                refused: Vec::new(),
            });
        }
        Ok(imported)
    }

    async fn wait_committed(&self, _number: u64) {}

    fn set_heads(&self, safe: u64, finalized: u64, _l1_read: u64) {
        *self
            .heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (safe, finalized);
    }
}

/// A follower on a fresh store in `dir` (devnet genesis) and the derivation pipeline that
/// feeds it from `l1`.
pub fn follow(l1: &SimL1, dir: &std::path::Path) -> (Arc<SimChain>, Pipeline<SimL1, SimChain>) {
    let store = Arc::new(ChainStore::open(dir).expect("the follower's store opens"));
    let chain = Chain::open(&store, &kit::genesis()).expect("the follower's chain opens");
    let follower = Arc::new(SimChain {
        chain: Mutex::new(chain),
        store: store.clone(),
        domain: kit::domain(),
        heads: Mutex::new((0, 0)),
    });
    let source = L1Source {
        l1_rpc: String::new(),
        beacon_api: None,
        portal: PORTAL,
        inbox: INBOX,
        start_block: 0,
        poll_interval: std::time::Duration::ZERO,
    };
    let pipeline = Pipeline::new(l1.clone(), source, Mode::Execute, follower.clone(), store);
    (follower, pipeline)
}
