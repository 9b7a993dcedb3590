//! The executable chain: the STF's state (`straddle-exchange`) with the Merkle tree and the
//! head it commits to. It seals blocks, recovers from the store and the log, replays
//! logged or stored blocks, and re-executes the whole stored chain for verification. The
//! sequencer, a follower, the replay tools and the one-step witness builder all execute
//! blocks through it.

use alloy_primitives::B256;
use std::sync::Arc;
use straddle_exchange::{
    BlockContext, ClosedBlock, ExecutionState, Genesis, InvariantViolation, Ledger, LedgerError,
};
use straddle_primitives::block::{BlockHeader, transaction_leaf, transactions_root};
use straddle_primitives::block::{StoredTx, with_hashes};
use straddle_primitives::{DecodeError, Transaction};
use straddle_state::{LeafChange, SparseMerkleTree, key_hash, value_hash};
use straddle_storage::chain_store::{ChainStore, ChainStoreError, SealedBlock};
use straddle_storage::wal::{self, WalBlock, WalDisk, WalError, WalWriter};

/// Errors building or replaying the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] ChainStoreError),
    /// The write-ahead log could not be read or started.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The ledger could not be built.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The database was created with another genesis.
    #[error("the data directory belongs to a chain with a different genesis")]
    GenesisMismatch,
    /// The STF broke an invariant closing a block (a bug): the block is not sealed.
    #[error("block {number} is not sealed: {violation}")]
    Invariant {
        /// The block being closed.
        number: u64,
        /// What broke.
        violation: InvariantViolation,
    },
    /// The rebuilt state does not match the head's state root.
    #[error("state root {computed} rebuilt from stored leaves does not match head root {expected}")]
    StateRootMismatch {
        /// From the leaves.
        computed: B256,
        /// In the head header.
        expected: B256,
    },
    /// A block in the log or the database does not replay.
    #[error("block {number}: {reason}")]
    Replay {
        /// Block number.
        number: u64,
        /// What went wrong.
        reason: String,
    },
}

/// A [`ChainError::Replay`] of block `number`.
pub fn replay_error(number: u64, reason: impl std::fmt::Display) -> ChainError {
    ChainError::Replay {
        number,
        reason: reason.to_string(),
    }
}

/// The authenticated side of the chain: the Merkle tree and the head it commits to. It
/// turns closed blocks into sealed ones strictly in order, so it can run on a thread of
/// its own while the next block executes.
pub struct Tip {
    /// The tree as of the head (sealed) block.
    pub tree: SparseMerkleTree,
    /// The last sealed block.
    pub head: BlockHeader,
    /// Its hash.
    pub head_hash: B256,
}

/// The hash of block 0 of `genesis` (what L1 contracts anchor on before any output).
pub fn genesis_block_hash(genesis: &Genesis) -> Result<B256, ChainError> {
    Chain::from_genesis(genesis).map(|(_, block)| block.hash)
}

/// Execution state and tip together (replay, recovery, tools).
pub struct Chain {
    /// What transactions execute against.
    pub state: ExecutionState,
    /// The sealed head.
    pub tip: Tip,
}

impl Chain {
    /// A chain at block 0 and the genesis block to persist.
    pub fn from_genesis(genesis: &Genesis) -> Result<(Chain, SealedBlock), ChainError> {
        let ledger = Ledger::genesis(genesis)?;
        let mut state = ExecutionState {
            genesis: genesis.clone(),
            ledger,
            last_block_number: 0,
            last_block_timestamp_ms: genesis.timestamp_ms,
        };
        let mut tip = Tip {
            tree: SparseMerkleTree::new(),
            head: BlockHeader {
                number: 0,
                parent_hash: B256::ZERO,
                timestamp_ms: genesis.timestamp_ms,
                state_root: B256::ZERO,
                transactions_root: B256::ZERO,
                transaction_count: 0,
            },
            head_hash: B256::ZERO,
        };
        let closed = state
            .close_block(0, genesis.timestamp_ms, Vec::new())
            .map_err(|violation| ChainError::Invariant {
                number: 0,
                violation,
            })?;
        let block = tip.seal(closed);
        Ok((Chain { state, tip }, block))
    }

    /// Opens the stored chain, or creates it from `genesis` (persisting block 0). The state
    /// rebuilt from the leaves must match the head's root.
    pub fn open(store: &ChainStore, genesis: &Genesis) -> Result<Chain, ChainError> {
        let genesis_json = genesis_json(genesis);
        let Some(head_number) = store.head_number()? else {
            let (chain, block) = Chain::from_genesis(genesis)?;
            store.commit_block(&block, Some(&genesis_json))?;
            return Ok(chain);
        };
        if store.genesis_json()?.as_deref() != Some(genesis_json.as_slice()) {
            return Err(ChainError::GenesisMismatch);
        }
        let head = store
            .header(head_number)?
            .ok_or_else(|| replay_error(head_number, "head block missing from the database"))?;
        let leaves = store.read_leaves()?;
        let mut tree = SparseMerkleTree::new();
        tree.update_batch(
            leaves
                .iter()
                .map(|(k, v)| (key_hash(k), Some(value_hash(v))))
                .collect(),
        );
        let computed = tree.root();
        if computed != head.state_root {
            return Err(ChainError::StateRootMismatch {
                computed,
                expected: head.state_root,
            });
        }
        let ledger = Ledger::from_leaves(genesis, leaves)?;
        let head_hash = head.hash();
        Ok(Chain {
            state: ExecutionState {
                genesis: genesis.clone(),
                ledger,
                last_block_number: head.number,
                last_block_timestamp_ms: head.timestamp_ms,
            },
            tip: Tip {
                tree,
                head,
                head_hash,
            },
        })
    }

    /// Recovery after a stop or a crash: opens the stored chain, replays and commits
    /// every block of the write-ahead log on `wal` that the store does not hold yet (the
    /// log is written before the database, so it may be ahead), then starts a fresh log
    /// after the head. A sequencer and a simulated one recover through this.
    pub fn recover(
        store: &ChainStore,
        genesis: &Genesis,
        wal: Arc<dyn WalDisk>,
        rule: ReplayRule,
    ) -> Result<Recovered, ChainError> {
        let logged = wal::recover_from(wal.as_ref())?;
        let mut chain = Chain::open(store, genesis)?;
        let committed = chain.tip.head.number;
        let mut replayed = 0usize;
        for block in logged.iter().filter(|b| b.number > committed) {
            let sealed = chain.replay_logged(block, rule)?;
            replayed += sealed.transactions.len();
            store.commit_block(&sealed, None)?;
        }
        // Every logged block is now in the database: the old segments can go.
        let wal = WalWriter::start_fresh_on(wal, chain.tip.head.number + 1)?;
        Ok(Recovered {
            chain,
            wal,
            replayed,
        })
    }

    /// Seals the executed transactions into the next block.
    pub fn seal(
        &mut self,
        timestamp_ms: u64,
        transactions: Vec<StoredTx>,
    ) -> Result<SealedBlock, ChainError> {
        let number = self.tip.head.number + 1;
        let closed = self
            .state
            .close_block(number, timestamp_ms, transactions)
            .map_err(|violation| ChainError::Invariant { number, violation })?;
        Ok(self.tip.seal(closed))
    }

    /// Verifies and executes a logged block. Under [`ReplayRule::EverySucceeds`] (a
    /// sequencer's own log) every transaction must succeed, as it did when it was first
    /// accepted; under [`ReplayRule::RefusedChangesNothing`] (a follower's log of derived
    /// blocks) a refused transaction stays in the block and changes nothing.
    pub fn replay_logged(
        &mut self,
        block: &WalBlock,
        rule: ReplayRule,
    ) -> Result<SealedBlock, ChainError> {
        if block.number != self.tip.head.number + 1 {
            return Err(replay_error(
                block.number,
                format!("expected block {}", self.tip.head.number + 1),
            ));
        }
        let context = BlockContext {
            number: block.number,
            timestamp_ms: block.timestamp_ms,
        };
        let mut transactions = Vec::with_capacity(block.transactions.len());
        for bytes in &block.transactions {
            let tx = Transaction::decode(bytes)
                .map_err(|e: DecodeError| replay_error(block.number, e))?;
            let (stored, outcome) = self.state.execute_derived(tx, &context);
            if let (Err(reason), ReplayRule::EverySucceeds) = (outcome, rule) {
                return Err(replay_error(block.number, reason));
            }
            transactions.push(stored);
        }
        self.seal(block.timestamp_ms, transactions)
    }

    /// Replays stored blocks `head + 1 ..= to` (refused transactions change nothing, so
    /// a follower's chain replays too) and checks each header against the stored one.
    pub fn replay_stored_until(&mut self, store: &ChainStore, to: u64) -> Result<(), ChainError> {
        for number in self.tip.head.number + 1..=to {
            let (header, stored) = stored_block(store, number)?;
            let sealed = self.replay_logged(
                &as_logged(number, &header, &stored),
                ReplayRule::RefusedChangesNothing,
            )?;
            if sealed.header != header {
                return Err(replay_error(
                    number,
                    "replayed header differs from the stored one",
                ));
            }
        }
        Ok(())
    }
}

/// A recovered chain and the fresh log it appends to.
pub struct Recovered {
    /// The chain at the last logged block.
    pub chain: Chain,
    /// The log, empty, starting after the head.
    pub wal: WalWriter,
    /// Transactions replayed from the old log.
    pub replayed: usize,
}

/// What replay does with a transaction the STF refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayRule {
    /// It is an error: the block was built from accepted transactions only.
    EverySucceeds,
    /// It stays in the block and changes nothing (blocks derived from L1).
    RefusedChangesNothing,
}

impl Tip {
    /// Commits a closed block's leaf changes to the tree and makes it the head.
    pub fn seal(&mut self, block: ClosedBlock) -> SealedBlock {
        let ClosedBlock {
            number,
            timestamp_ms,
            transactions,
            changes,
        } = block;
        self.tree
            .update_batch(changes.iter().map(LeafChange::tree_update).collect());
        let encoded: Vec<Vec<u8>> = transactions
            .iter()
            .map(|stored| stored.tx.encode())
            .collect();
        let leaves: Vec<B256> = encoded
            .iter()
            .map(|bytes| transaction_leaf(bytes))
            .collect();
        let header = BlockHeader {
            number,
            parent_hash: self.head_hash,
            timestamp_ms,
            state_root: self.tree.root(),
            transactions_root: transactions_root(&leaves),
            transaction_count: transactions.len() as u32,
        };
        let hash = header.hash();
        self.head = header.clone();
        self.head_hash = hash;
        SealedBlock {
            header,
            hash,
            transactions,
            encoded,
            changes,
        }
    }
}

/// The canonical genesis bytes stored with the chain.
pub fn genesis_json(genesis: &Genesis) -> Vec<u8> {
    serde_json::to_vec(genesis).unwrap_or_default()
}

/// What a clean replay found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// Blocks re-executed (excluding genesis).
    pub blocks: u64,
    /// Transactions re-executed.
    pub transactions: u64,
    /// The head's state root, recomputed.
    pub state_root: B256,
}

/// Re-executes every stored block from genesis in a fresh state and checks each header
/// (parent hash, state root, transactions root) against the stored one.
pub fn replay_stored_chain(
    store: &ChainStore,
    genesis: &Genesis,
) -> Result<ReplayReport, ChainError> {
    let (mut chain, genesis_block) = Chain::from_genesis(genesis)?;
    let head_number = store.head_number()?.unwrap_or(0);
    let stored_genesis = store
        .header(0)?
        .ok_or_else(|| replay_error(0, "genesis block missing"))?;
    if stored_genesis != genesis_block.header {
        return Err(replay_error(0, "genesis header differs"));
    }
    let mut transactions = 0u64;
    for number in 1..=head_number {
        let (header, stored) = stored_block(store, number)?;
        let stored = with_hashes(stored, &genesis.domain);
        let sealed = chain.replay_logged(
            &as_logged(number, &header, &stored),
            ReplayRule::EverySucceeds,
        )?;
        for (replayed, original) in sealed.transactions.iter().zip(&stored) {
            if replayed.sender != original.sender {
                return Err(replay_error(
                    number,
                    "stored sender differs from the recovered signer",
                ));
            }
        }
        if sealed.header != header {
            return Err(replay_error(
                number,
                format!(
                    "replayed header {:?} differs from stored {:?}",
                    sealed.header, header
                ),
            ));
        }
        transactions += stored.len() as u64;
    }
    Ok(ReplayReport {
        blocks: head_number,
        transactions,
        state_root: chain.tip.head.state_root,
    })
}

/// Stored block `number`, or an error naming it when it is missing.
pub fn stored_block(
    store: &ChainStore,
    number: u64,
) -> Result<(BlockHeader, Vec<StoredTx>), ChainError> {
    store
        .block(number)?
        .ok_or_else(|| replay_error(number, "block missing"))
}

/// A stored block in the form the write-ahead log holds it (what replay executes).
fn as_logged(number: u64, header: &BlockHeader, stored: &[StoredTx]) -> WalBlock {
    WalBlock {
        number,
        timestamp_ms: header.timestamp_ms,
        transactions: stored.iter().map(|tx| tx.tx.encode()).collect(),
    }
}
