//! Proofs against past blocks. A withdrawal is paid on L1 against the state root of a
//! finalized output, which names an earlier block than the head; the live tree only
//! proves against the head. The archive keeps a second chain, replayed from the stored
//! blocks up to the block asked for (forward from where it stands, or from genesis when
//! asked for an earlier block), and proves against its tree.

use crate::step::{self, StepError};
use alloy_primitives::{Address, B256, Bytes};
use std::sync::{Arc, Mutex};
use straddle_chain::{Chain, ChainError};
use straddle_exchange::{Genesis, StateKey};
use straddle_l1::disputes::StepInput;
use straddle_state::key_hash;
use straddle_storage::chain_store::ChainStore;

/// A withdrawal with its proof against one block's state root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalProof {
    /// Its index.
    pub index: u64,
    /// The L2 account debited.
    pub account: Address,
    /// The L1 recipient.
    pub recipient: Address,
    /// Micro-units.
    pub amount: u128,
    /// The L2 block that recorded it.
    pub l2_block: u64,
    /// The block the proof is against.
    pub block_number: u64,
    /// Its state root.
    pub state_root: B256,
    /// Its hash.
    pub block_hash: B256,
    /// Merkle siblings, root side first (what `Portal.finalizeWithdrawal` takes).
    pub siblings: Vec<B256>,
}

/// Why no proof was made.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The block is not stored (yet).
    #[error("block {0} is not in this node's chain")]
    UnknownBlock(u64),
    /// The withdrawal did not exist at that block.
    #[error("withdrawal {index} does not exist at block {block}")]
    UnknownWithdrawal {
        /// Its index.
        index: u64,
        /// The block asked for.
        block: u64,
    },
    /// Replay failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// No step input for that transaction.
    #[error(transparent)]
    Step(#[from] StepError),
}

/// The replayed chain behind historical proofs.
pub struct ProofArchive {
    store: Arc<ChainStore>,
    genesis: Genesis,
    chain: Mutex<Option<Chain>>,
}

impl ProofArchive {
    /// An archive over `store` (nothing is replayed until the first request).
    pub fn new(store: Arc<ChainStore>, genesis: Genesis) -> ProofArchive {
        ProofArchive {
            store,
            genesis,
            chain: Mutex::new(None),
        }
    }

    /// Runs `use_chain` on the archive's chain replayed to block `block` (forward from
    /// where it stands, or from genesis). With `discard`, the chain is dropped after
    /// (`use_chain` left it mid-block). Blocking.
    fn with_chain_at<T>(
        &self,
        block: u64,
        discard: bool,
        use_chain: impl FnOnce(&mut Chain) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let head = self
            .store
            .head_number()
            .map_err(ChainError::from)?
            .unwrap_or(0);
        if block > head {
            return Err(ArchiveError::UnknownBlock(block));
        }
        let mut guard = match self.chain.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.as_ref().is_none_or(|c| c.tip.head.number > block) {
            *guard = Some(Chain::from_genesis(&self.genesis)?.0);
        }
        let Some(chain) = guard.as_mut() else {
            return Err(ArchiveError::UnknownBlock(block));
        };
        chain.replay_stored_until(&self.store, block)?;
        let result = use_chain(chain);
        if discard {
            *guard = None;
        }
        result
    }

    /// Withdrawal `index` proven against block `block`'s state root. Blocking: replays
    /// up to `block` first.
    pub fn withdrawal_proof(
        &self,
        index: u64,
        block: u64,
    ) -> Result<WithdrawalProof, ArchiveError> {
        self.with_chain_at(block, false, |chain| {
            let withdrawal = chain
                .state
                .ledger
                .withdrawal(index)
                .cloned()
                .ok_or(ArchiveError::UnknownWithdrawal { index, block })?;
            let key = StateKey::Withdrawal(index);
            let proof = chain.tip.tree.prove(&key_hash(&key.encode()));
            Ok(WithdrawalProof {
                index,
                account: withdrawal.account,
                recipient: withdrawal.recipient,
                amount: withdrawal.amount.0,
                l2_block: withdrawal.block_number,
                block_number: block,
                state_root: chain.tip.head.state_root,
                block_hash: chain.tip.head_hash,
                siblings: proof.siblings,
            })
        })
    }

    /// The chain's next forced index after block `block` (the forced queue's count), that
    /// block's state root, and the queue leaf's witness against it: what
    /// `DisputeGame.disputeForcedBlock` and `disputeEarlierSource` take. Blocking.
    pub fn forced_queue(&self, block: u64) -> Result<(u64, B256, Bytes), ArchiveError> {
        self.with_chain_at(block, false, |chain| {
            let next = chain.state.ledger.forced_queue().count;
            let witness = step::unchanged_witness(chain, &[StateKey::ForcedQueue]);
            Ok((next, chain.tip.head.state_root, witness))
        })
    }

    /// Block `number`'s state roots at each position of a dispute's transaction level
    /// (the parent's root, then after each transaction). Blocking.
    pub fn block_positions(&self, number: u64) -> Result<Vec<B256>, ArchiveError> {
        self.with_chain_before(number, |chain| {
            Ok(step::block_positions(chain, &self.store, number)?)
        })
    }

    /// The one-step prover's input for transaction `index` of block `number`, with the
    /// transaction's proof against the block's transactions root. Blocking.
    pub fn step(&self, number: u64, index: usize) -> Result<(StepInput, Vec<B256>), ArchiveError> {
        self.with_chain_before(number, |chain| {
            Ok(step::step_at(chain, &self.store, number, index)?)
        })
    }

    /// The sub-steps of oracle update `index` of block `number`: the roots at each
    /// position of the game's sub-step level and each sub-step's prover input. Blocking.
    pub fn oracle_sub_steps(
        &self,
        number: u64,
        index: usize,
    ) -> Result<step::OracleSubSteps, ArchiveError> {
        self.with_chain_before(number, |chain| {
            Ok(step::oracle_sub_steps_at(
                chain,
                &self.store,
                number,
                index,
            )?)
        })
    }

    /// Runs `use_chain` on the chain at the parent of stored block `number` (genesis has
    /// none), discarding it after: `use_chain` executes into block `number`.
    fn with_chain_before<T>(
        &self,
        number: u64,
        use_chain: impl FnOnce(&mut Chain) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let head = self.store.head_number().map_err(ChainError::from)?;
        if number == 0 || number > head.unwrap_or(0) {
            return Err(ArchiveError::UnknownBlock(number));
        }
        self.with_chain_at(number - 1, true, use_chain)
    }
}
