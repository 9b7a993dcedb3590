//! Plays the L1 dispute game (`docs/spec/disputes.md`) from the chain an L2 node derived
//! from L1: challenges outputs that differ from it, defends the player's own outputs,
//! and claims the bonds won.
//!
//! The node (best a follower) is the player's truth: block hashes and headers from
//! `straddle_getBlock`, per-transaction roots from `straddle_getBlockPositions`, the
//! one-step prover's input from `straddle_getStep`, and an oracle update's sub-step roots
//! and inputs from `straddle_getSubStepPositions` and `straddle_getSubStep`. Like the proposer it keeps no state
//! that matters: every round reads the registry and the games from L1.

mod derivation;

use derivation::{Evidence, EvidenceError, SOURCE_BATCH, SOURCE_FORCED, forced_leaves};
use jsonrpsee::http_client::HttpClient;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use straddle_batch::PortalRecords;
use straddle_l1::alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::alloy::sol_types::{SolCall, SolValue};
use straddle_l1::opening::BatchOpener;
use straddle_l1::{L1Client, L1Error};
use straddle_l1_contracts::{DisputeGame, OutputRegistry, block_claim};
use straddle_primitives::Domain;
use straddle_primitives::block::{BlockHeader, transaction_leaf, transactions_children};
use straddle_rpc_api::{BlockRef, BlockSource, StraddleApiClient, http_client};

/// `DisputeGame.Level.Blocks`.
const LEVEL_BLOCKS: u8 = 0;
/// `DisputeGame.Level.SubSteps`.
const LEVEL_SUB_STEPS: u8 = 2;
/// The kind byte of an oracle update (played sub-step by sub-step).
const KIND_ORACLE_UPDATE: u8 = 0x10;
/// `DisputeGame.Status.Open`.
const STATUS_OPEN: u8 = 0;
/// `DisputeGame.GENESIS`: the anchor meaning block 0.
const GENESIS_ANCHOR: U256 = U256::MAX;

/// How to run a player.
#[derive(Clone, Debug)]
pub struct PlayerConfig {
    /// The L2 node whose derived chain is the truth (HTTP).
    pub l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    pub l1_rpc: String,
    /// The player's L1 key: pays bonds and gas; defends the outputs it proposed.
    pub key: PrivateKeySigner,
    /// The DisputeGame contract (its registry is read from it).
    pub game: Address,
    /// Whether to open games on wrong outputs (a defender-only player does not).
    pub challenge: bool,
    /// Time between rounds.
    pub interval: Duration,
    /// The L1 block the chain's contracts were deployed in: batch and Portal logs are
    /// searched from it.
    pub l1_start_block: u64,
}

/// Why a round failed (retried next round).
#[derive(Debug, thiserror::Error)]
pub enum DisputeError {
    /// L1 refused or failed.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// The L2 node's RPC failed.
    #[error("L2 RPC: {0}")]
    L2(#[from] jsonrpsee::core::ClientError),
    /// The L2 node lacks a block the game needs.
    #[error("the L2 node has no block {0}")]
    MissingBlock(u64),
    /// The L2 node does not know where derivation took a block from (no batch has
    /// carried it yet): a defender cannot reveal it.
    #[error("the L2 node has no source for block {0}")]
    MissingSource(u64),
    /// The evidence on L1 (a batch, a Portal record) cannot be read or used.
    #[error("derivation evidence: {0}")]
    Evidence(#[from] EvidenceError),
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Games opened (game ids).
    pub opened: Vec<u64>,
    /// Outputs removed outright by a header-contradiction proof (output indices).
    pub mismatches_proven: Vec<u64>,
    /// Moves made, as `(game, move)`.
    pub moves: Vec<(u64, &'static str)>,
    /// Wei of credit claimed.
    pub claimed_wei: U256,
}

/// What a player judged of an output: its index and every field the game disputes
/// (an output replaced at the same index by one that differs in any is judged again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct OutputKey {
    index: u64,
    block_hash: B256,
    state_root: B256,
    position: u64,
}

impl OutputKey {
    fn of(index: u64, output: &OutputRegistry::Output) -> OutputKey {
        OutputKey {
            index,
            block_hash: output.blockHash,
            state_root: output.stateRoot,
            position: output.position,
        }
    }
}

/// A dispute-game player.
pub struct Player {
    config: PlayerConfig,
    l1: L1Client,
    l2: HttpClient,
    registry: Address,
    me: Address,
    /// Outputs already disputed by this player.
    disputed: HashSet<OutputKey>,
    /// Outputs found to agree with the node (not checked again).
    agreed: HashSet<OutputKey>,
    /// Outputs before this index are out of their challenge window.
    window_start: u64,
    /// Games before this id are over.
    first_open_game: u64,
    /// Per-transaction roots of blocks, by number (from the node).
    positions: BTreeMap<u64, Vec<B256>>,
    /// Sub-step roots of oracle updates, by block number and transaction index.
    sub_positions: BTreeMap<(u64, u64), Vec<B256>>,
    /// The game's batch opener, and the chain's batch inbox and Portal (read from it).
    opener: Address,
    inbox: Address,
    portal: Address,
    /// Batches read for derivation moves, by inbox index.
    evidence: BTreeMap<u64, Evidence>,
    /// The Portal's deposits and forced records read so far, by index.
    records: PortalRecords,
    /// The L2 signing domain (order hashes a batch refers to), from the node.
    domain: Option<Domain>,
    /// The Portal's logs are read up to this L1 block.
    records_read_to: Option<u64>,
}

impl Player {
    /// Connects to both chains and reads the registry's address from the game.
    pub async fn new(config: PlayerConfig) -> Result<Player, DisputeError> {
        let l1 = L1Client::connect(&config.l1_rpc, config.key.clone())?;
        let l2 = http_client(&config.l2_rpc)?;
        let registry = l1.view(config.game, &DisputeGame::registryCall {}).await?;
        let opener = l1.view(config.game, &DisputeGame::openerCall {}).await?;
        let inbox = l1.view(opener, &BatchOpener::inboxCall {}).await?;
        let portal = l1.view(opener, &BatchOpener::portalCall {}).await?;
        let me = l1.address();
        let mut player = Player {
            config,
            l1,
            l2,
            registry,
            me,
            disputed: HashSet::new(),
            agreed: HashSet::new(),
            window_start: 0,
            first_open_game: 0,
            positions: BTreeMap::new(),
            sub_positions: BTreeMap::new(),
            opener,
            inbox,
            portal,
            evidence: BTreeMap::new(),
            records: PortalRecords::default(),
            domain: None,
            records_read_to: None,
        };
        player.recall_disputes().await?;
        Ok(player)
    }

    /// After a restart: the outputs this player already disputed (an open game, played
    /// on, or one it lost, which a second bond would not change), so that it does not
    /// open and pay for another game on them.
    async fn recall_disputes(&mut self) -> Result<(), DisputeError> {
        for id in 0..self.game_count().await? {
            let game = self.game(id).await?;
            if game.challenger != self.me || !self.output_still_there(&game).await? {
                continue;
            }
            let output = self.output(game.outputIndex).await?;
            let index = u64::try_from(game.outputIndex)
                .map_err(|_| L1Error::Decode("output index".into()))?;
            self.disputed.insert(OutputKey::of(index, &output));
        }
        Ok(())
    }

    /// Plays a round every interval until the task is dropped; failures are logged and
    /// retried.
    pub async fn run(mut self) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match self.round().await {
                Ok(report) => log_report(&report),
                Err(error) => tracing::warn!(%error, "dispute round failed; retrying"),
            }
        }
    }

    /// One round: dispute wrong outputs (when challenging), move in every open game the
    /// player is in, claim credit.
    pub async fn round(&mut self) -> Result<RoundReport, DisputeError> {
        let mut report = RoundReport::default();
        if self.config.challenge {
            self.dispute_outputs(&mut report).await?;
        }
        self.play_games(&mut report).await?;
        report.claimed_wei = self.claim_credit().await?;
        Ok(report)
    }

    // ------------------------------------------------------------ challenging

    async fn dispute_outputs(&mut self, report: &mut RoundReport) -> Result<(), DisputeError> {
        let count = self.output_count().await?;
        // Outputs leave their window in index order (proposed in time order): start at
        // the first still inside it, and forget what is before.
        let mut start = self.window_start.min(count);
        while start < count {
            let window = OutputRegistry::inChallengeWindowCall {
                index: U256::from(start),
            };
            if self.l1.view(self.registry, &window).await? {
                break;
            }
            start += 1;
        }
        self.window_start = start;
        self.agreed.retain(|key| key.index >= start);
        self.disputed.retain(|key| key.index >= start);
        for index in start..count {
            let word = U256::from(index);
            let output = self.output(word).await?;
            let key = OutputKey::of(index, &output);
            if self.disputed.contains(&key) || self.agreed.contains(&key) {
                continue;
            }
            // Not derived yet: judged once the node has it.
            let Some((hash, header)) = self.block(output.l2BlockNumber).await? else {
                continue;
            };
            // Nor judged before the node knows where derivation took the block from.
            let Ok(position) = self.source_position(output.l2BlockNumber).await else {
                continue;
            };
            let same_root = header.state_root == output.stateRoot;
            if hash == output.blockHash && same_root && position == output.position {
                tracing::info!(
                    index,
                    l2_block = output.l2BlockNumber,
                    "output agrees with the derived chain"
                );
                metrics::gauge!("straddle_challenger_checked_block")
                    .set(output.l2BlockNumber as f64);
                self.agreed.insert(key);
                continue;
            }
            if hash == output.blockHash && !same_root {
                let call = DisputeGame::proveOutputMismatchCall {
                    outputIndex: word,
                    header: Bytes::from(header.encode()),
                };
                self.send(&call, U256::ZERO, "prove an output mismatch")
                    .await?;
                tracing::warn!(index, "output contradicts its own block header: removed");
                report.mismatches_proven.push(index);
            } else {
                let anchor = self.anchor_for(index).await?;
                let bond = self
                    .l1
                    .view(self.registry, &OutputRegistry::bondAmountCall {})
                    .await?;
                let call = DisputeGame::openCall {
                    outputIndex: word,
                    anchorIndex: anchor,
                };
                self.send(&call, U256::from(bond), "open a dispute game")
                    .await?;
                let game = self.game_count().await?.saturating_sub(1);
                tracing::warn!(
                    index,
                    game,
                    l2_block = output.l2BlockNumber,
                    "output differs from the derived chain: dispute opened"
                );
                report.opened.push(game);
            }
            self.disputed.insert(key);
        }
        Ok(())
    }

    /// The latest final output before `index` that agrees with the node, else genesis.
    async fn anchor_for(&self, index: u64) -> Result<U256, DisputeError> {
        for earlier in (0..index).rev() {
            let word = U256::from(earlier);
            let finalized = OutputRegistry::isFinalizedCall { index: word };
            if !self.l1.view(self.registry, &finalized).await? {
                continue;
            }
            let output = self.output(word).await?;
            if let Some((hash, _)) = self.block(output.l2BlockNumber).await?
                && hash == output.blockHash
                && self.source_position(output.l2BlockNumber).await.ok() == Some(output.position)
            {
                return Ok(word);
            }
            tracing::error!(
                index = earlier,
                "a final output differs from the node's chain; anchoring further back"
            );
        }
        Ok(GENESIS_ANCHOR)
    }

    // ------------------------------------------------------------ playing

    async fn play_games(&mut self, report: &mut RoundReport) -> Result<(), DisputeError> {
        let count = self.game_count().await?;
        let mut all_over = true;
        for id in self.first_open_game..count {
            let game = self.game(id).await?;
            if game.status != STATUS_OPEN {
                if all_over {
                    self.first_open_game = id + 1;
                }
                continue;
            }
            all_over = false;
            if game.challenger != self.me && game.defender != self.me {
                continue;
            }
            match self.play(id, &game).await {
                Ok(Some(what)) => report.moves.push((id, what)),
                Ok(None) => {}
                Err(error) => tracing::warn!(game = id, %error, "no move this round"),
            }
        }
        Ok(())
    }

    /// The player's move in game `id`, if it is its turn.
    async fn play(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
    ) -> Result<Option<&'static str>, DisputeError> {
        let gid = U256::from(id);
        if !self.output_still_there(game).await? {
            if game.challenger == self.me {
                self.send(
                    &DisputeGame::cancelCall { gameId: gid },
                    U256::ZERO,
                    "cancel",
                )
                .await?;
                return Ok(Some("cancel"));
            }
            return Ok(None);
        }
        let defending = game.defender == self.me;
        let challenging = game.challenger == self.me;
        let span = game.hi - game.lo;
        let mid = game.lo + span / 2;
        let blocks = game.level == LEVEL_BLOCKS;

        if game.midPosted && !game.defenderToMove && challenging {
            let mine = self.claim_at(id, game, mid).await?;
            let call = DisputeGame::answerCall {
                gameId: gid,
                lo: game.lo,
                hi: game.hi,
                agree: mine == game.midClaim,
            };
            self.send(&call, U256::ZERO, "answer").await?;
            return Ok(Some(if mine == game.midClaim {
                "agree"
            } else {
                "disagree"
            }));
        }
        if span >= 2 && !game.midPosted && game.defenderToMove && defending {
            let claim = self.claim_at(id, game, mid).await?;
            let call = DisputeGame::claimMidpointCall {
                gameId: gid,
                lo: game.lo,
                hi: game.hi,
                claim,
            };
            self.send(&call, U256::ZERO, "claim a midpoint").await?;
            return Ok(Some("claim midpoint"));
        }
        if blocks && span == 1 && !game.blockRevealed && game.defenderToMove && defending {
            let (_, parent) = self.require_block(game.lo).await?;
            let (_, header) = self.require_block(game.hi).await?;
            let source = self
                .l2
                .get_block_source(game.hi)
                .await?
                .ok_or(DisputeError::MissingSource(game.hi))?;
            let forced_record = match source {
                BlockSource::Forced { index, .. } => index,
                BlockSource::Batch { .. } => 0,
            };
            let call = DisputeGame::revealBlockCall {
                gameId: gid,
                parentHeader: Bytes::from(parent.encode()),
                parentPosition: self.source_position(game.lo).await?,
                header: Bytes::from(header.encode()),
                position: source.position(),
                forcedRecord: forced_record,
            };
            self.send(&call, U256::ZERO, "reveal a block").await?;
            return Ok(Some("reveal block"));
        }
        if blocks && game.blockRevealed {
            let derivation = self
                .game_view(&DisputeGame::getDerivationCall { gameId: gid })
                .await?;
            if challenging && !game.defenderToMove {
                return if derivation.contentDisputed {
                    self.descend_or_prove(id, game, &derivation).await.map(Some)
                } else {
                    self.after_reveal(id, game, &derivation).await.map(Some)
                };
            }
            if defending
                && game.defenderToMove
                && derivation.contentDisputed
                && !derivation.childrenPosted
            {
                let leaves = self.node_leaves(game.blockNumber).await?;
                let (left, right) = transactions_children(
                    &leaves,
                    usize::from(derivation.contentDepth),
                    derivation.contentIndex as usize,
                );
                let call = DisputeGame::revealChildrenCall {
                    gameId: gid,
                    left,
                    right,
                };
                self.send(&call, U256::ZERO, "reveal children").await?;
                return Ok(Some("reveal children"));
            }
        }
        // One sub-step left: either side runs it, as a step below.
        if game.level == LEVEL_SUB_STEPS && span == 1 && !game.defenderToMove {
            let sub = self
                .game_view(&DisputeGame::getSubLevelCall { gameId: gid })
                .await?;
            let input = self
                .l2
                .get_sub_step(game.blockNumber, sub.transactionIndex, game.hi)
                .await?;
            let call = DisputeGame::subStepCall {
                gameId: gid,
                lo: game.lo,
                hi: game.hi,
                transaction: input.transaction,
                witness: input.witness,
            };
            self.send(&call, U256::ZERO, "run an oracle update's sub-step")
                .await?;
            return Ok(Some("sub-step"));
        }
        // One transaction left: either side runs it (on the challenger's clock); the
        // prover's result decides, so the honest side has no reason to wait. An oracle
        // update is played once more over its sub-steps, which the challenger opens.
        if !blocks && game.level != LEVEL_SUB_STEPS && span == 1 && !game.defenderToMove {
            let step = self.l2.get_step(game.blockNumber, game.lo).await?;
            if step.transaction.first() == Some(&KIND_ORACLE_UPDATE) {
                if !challenging {
                    return Ok(None);
                }
                let call = DisputeGame::disputeOracleUpdateCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    transaction: step.transaction,
                    siblings: step.siblings,
                    witness: step.witness,
                };
                self.send(&call, U256::ZERO, "dispute an oracle update's sub-steps")
                    .await?;
                return Ok(Some("dispute sub-steps"));
            }
            let call = DisputeGame::stepCall {
                gameId: gid,
                lo: game.lo,
                hi: game.hi,
                transaction: step.transaction,
                siblings: step.siblings,
                witness: step.witness,
            };
            self.send(&call, U256::ZERO, "run the one-step prover")
                .await?;
            return Ok(Some("step"));
        }
        // The other side's turn: end the game once its clock has run out (no time left
        // at the latest L1 block means overrun in the next, where `timeout` lands).
        let remaining = self
            .game_view(&DisputeGame::remainingTimeCall { gameId: gid })
            .await?;
        let theirs = (game.defenderToMove && challenging) || (!game.defenderToMove && defending);
        if theirs && remaining == 0 {
            self.send(
                &DisputeGame::timeoutCall { gameId: gid },
                U256::ZERO,
                "timeout",
            )
            .await?;
            return Ok(Some("timeout"));
        }
        Ok(None)
    }

    /// The challenger's move after the reveal. The node's block at the node's position:
    /// another state root only, an execution dispute. Another position: if the node's
    /// comes first (and not before the parent's), derivation takes that source before the
    /// defender's (`disputeEarlierSource`); else the defender's is no candidate
    /// (`disputeBatchBlock` / `disputeForcedBlock`). The same position, another block:
    /// the named source contradicts the header (time, count, link, the forced rules) or
    /// the transactions differ from the source's.
    async fn after_reveal(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<&'static str, DisputeError> {
        let gid = U256::from(id);
        let (_, ours) = self.require_block(game.blockNumber).await?;
        let our_position = self.source_position(game.blockNumber).await?;
        let same_block = ours.transactions_root == game.transactionsRoot
            && ours.transaction_count == game.transactionCount
            && ours.timestamp_ms == game.blockTimestampMs;
        if same_block && our_position == derivation.position {
            let call = DisputeGame::disputeExecutionCall { gameId: gid };
            self.send(&call, U256::ZERO, "dispute the execution")
                .await?;
            return Ok("dispute execution");
        }
        // The chain's forced queue after the agreed parent (where forced blocks go) is
        // read only for the moves that take it.
        let parent = game.blockNumber.saturating_sub(1);
        if our_position != derivation.position {
            if our_position < derivation.position && our_position >= derivation.parentPosition {
                let (queue_witness, opening, blobs) = if our_position % 2 == 0 {
                    let queue = self.l2.get_forced_queue(parent).await?;
                    (queue.witness, Bytes::new(), false)
                } else {
                    let (opening, blobs) = self.header_opening(our_position / 2).await?;
                    (Bytes::new(), opening, blobs)
                };
                let call = DisputeGame::disputeEarlierSourceCall {
                    gameId: gid,
                    earlier: our_position,
                    queueWitness: queue_witness,
                    opening,
                    blobs,
                };
                self.send(&call, U256::ZERO, "dispute with an earlier source")
                    .await?;
                return Ok("dispute earlier source");
            }
            // The defender's position comes before derivation's or its parent's: it is
            // no candidate.
            if derivation.source == SOURCE_FORCED {
                let queue = self.l2.get_forced_queue(parent).await?;
                return self.dispute_forced_block(gid, queue.witness).await;
            }
            return self.dispute_batch_block(gid, derivation.sourceIndex).await;
        }
        if derivation.source == SOURCE_FORCED {
            let queue = self.l2.get_forced_queue(parent).await?;
            if self
                .forced_block_contradicts(game, derivation, queue.next)
                .await?
            {
                return self.dispute_forced_block(gid, queue.witness).await;
            }
        }
        if derivation.source == SOURCE_BATCH
            && self.evidence(derivation.sourceIndex).await?.contradicts(
                game.blockNumber,
                game.blockTimestampMs,
                game.transactionCount,
                game.loClaim,
            )
        {
            return self.dispute_batch_block(gid, derivation.sourceIndex).await;
        }
        let call = DisputeGame::disputeContentCall { gameId: gid };
        self.send(&call, U256::ZERO, "dispute the block's transactions")
            .await?;
        Ok("dispute content")
    }

    /// Shows that the forced block the defender named is not derivation's
    /// (`queue_witness`: the parent's forced queue).
    async fn dispute_forced_block(
        &mut self,
        gid: U256,
        queue_witness: Bytes,
    ) -> Result<&'static str, DisputeError> {
        let call = DisputeGame::disputeForcedBlockCall {
            gameId: gid,
            queueWitness: queue_witness,
        };
        self.send(&call, U256::ZERO, "dispute the forced block")
            .await?;
        Ok("dispute forced block")
    }

    /// Shows that batch `index`, the source the defender named, is not derivation's.
    async fn dispute_batch_block(
        &mut self,
        gid: U256,
        index: u64,
    ) -> Result<&'static str, DisputeError> {
        let (opening, blobs) = self.header_opening(index).await?;
        let call = DisputeGame::disputeBatchBlockCall {
            gameId: gid,
            opening,
            blobs,
        };
        self.send(&call, U256::ZERO, "dispute the block's batch")
            .await?;
        Ok("dispute batch block")
    }

    /// The opening of batch `index`'s header and block list and whether it is in blobs
    /// (empty for a batch the inbox does not have: no opening is read for it).
    async fn header_opening(&mut self, index: u64) -> Result<(Bytes, bool), DisputeError> {
        let blobs = match self.evidence(index).await {
            Ok(evidence) => evidence.in_blobs(),
            Err(DisputeError::Evidence(EvidenceError::NoBatch(_))) => {
                return Ok((Bytes::new(), false));
            }
            Err(error) => return Err(error),
        };
        let opening = self.with_evidence(index, Evidence::header_opening).await?;
        Ok((opening, blobs))
    }

    /// Whether the revealed block is not the one derivation makes for the forced record
    /// the defender named: the record is missing or not the chain's `next`, or the block
    /// holds another count than one, or its time is not the record's L1 time or, if
    /// later, its parent's.
    async fn forced_block_contradicts(
        &self,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
        next: u64,
    ) -> Result<bool, DisputeError> {
        // The opener applies derivation's time rule (0: no such record).
        let call = BatchOpener::forcedBlockTimeCall {
            record: derivation.sourceIndex,
            parentTimestampMs: derivation.parentTimestampMs,
        };
        let timestamp_ms = self.l1.view(self.opener, &call).await?;
        Ok(timestamp_ms == 0
            || derivation.sourceIndex != next
            || game.transactionCount != 1
            || game.blockTimestampMs != timestamp_ms)
    }

    /// The challenger's move in a content descent: follow the child that differs from
    /// the source's tree, or, at a leaf, prove the source's transaction there.
    async fn descend_or_prove(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<&'static str, DisputeError> {
        let gid = U256::from(id);
        if derivation.childrenPosted {
            let leaves = self.source_leaves(game, derivation).await?;
            let (left, _) = transactions_children(
                &leaves,
                usize::from(derivation.contentDepth),
                derivation.contentIndex as usize,
            );
            let right = left == derivation.leftChild;
            let call = DisputeGame::descendCall { gameId: gid, right };
            self.send(&call, U256::ZERO, "descend").await?;
            return Ok("descend");
        }
        let position = derivation.contentIndex;
        if derivation.source == SOURCE_FORCED {
            let index = derivation.sourceIndex + position;
            self.refresh_records().await?;
            let record = self
                .records
                .forced(index)
                .cloned()
                .ok_or(EvidenceError::NoForcedRecord(index))?;
            let call = DisputeGame::proveForcedTransactionCall {
                gameId: gid,
                sender: record.sender,
                payload: Bytes::from(record.bytes),
            };
            self.send(&call, U256::ZERO, "prove the forced transaction")
                .await?;
            return Ok("prove forced transaction");
        }
        let domain = self.domain().await?;
        self.refresh_records().await?;
        let records = self.records.clone();
        let blobs = self.evidence(derivation.sourceIndex).await?.in_blobs();
        let number = game.blockNumber;
        let (opening, deposit_record) = self
            .with_evidence(derivation.sourceIndex, move |evidence| {
                evidence.transaction_opening(number, position as usize, &domain, &records)
            })
            .await?;
        let call = DisputeGame::proveBatchTransactionCall {
            gameId: gid,
            opening,
            blobs,
            depositRecord: deposit_record,
        };
        self.send(&call, U256::ZERO, "prove the batch's transaction")
            .await?;
        Ok("prove batch transaction")
    }

    /// The leaves block `game.blockNumber` must have by the source the defender named:
    /// the node's own when the node took the block from that source, else the Portal's
    /// forced records or the named batch's block, decoded.
    async fn source_leaves(
        &mut self,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<Vec<B256>, DisputeError> {
        let named = (derivation.source == SOURCE_FORCED, derivation.sourceIndex);
        let ours = self.l2.get_block_source(game.blockNumber).await?;
        if ours.map(|source| source.named()) == Some(named) {
            return self.node_leaves(game.blockNumber).await;
        }
        self.refresh_records().await?;
        if let (true, first) = named {
            return Ok(forced_leaves(&self.records, first, game.transactionCount)?);
        }
        let domain = self.domain().await?;
        let records = std::mem::take(&mut self.records);
        let leaves = self
            .evidence(derivation.sourceIndex)
            .await
            .and_then(|evidence| Ok(evidence.leaves(game.blockNumber, &domain, &records)?));
        self.records = records;
        leaves
    }

    /// The node's block `number`'s transaction leaves (keccak256 of canonical bytes).
    async fn node_leaves(&self, number: u64) -> Result<Vec<B256>, DisputeError> {
        let view = self
            .l2
            .get_block(BlockRef::Number(number), Some(true))
            .await?
            .ok_or(DisputeError::MissingBlock(number))?;
        Ok(view
            .transactions
            .iter()
            .map(|tx| transaction_leaf(&tx.raw))
            .collect())
    }

    /// Batch `index`, read from L1 once.
    async fn evidence(&mut self, index: u64) -> Result<&mut Evidence, DisputeError> {
        if !self.evidence.contains_key(&index) {
            let evidence =
                Evidence::fetch(&self.l1, self.inbox, index, self.config.l1_start_block).await?;
            self.evidence.insert(index, evidence);
        }
        Ok(self.evidence.get_mut(&index).expect("inserted just above"))
    }

    /// Runs `work` on batch `index`'s evidence off the async workers (blob openings
    /// compute KZG proofs, tens of milliseconds per field element).
    async fn with_evidence<T, F>(&mut self, index: u64, work: F) -> Result<T, DisputeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Evidence) -> Result<T, EvidenceError> + Send + 'static,
    {
        self.evidence(index).await?;
        let mut evidence = self.evidence.remove(&index).expect("fetched just above");
        let (evidence, result) = tokio::task::spawn_blocking(move || {
            let result = work(&mut evidence);
            (evidence, result)
        })
        .await
        .map_err(|e| L1Error::Blob(format!("opening task: {e}")))?;
        self.evidence.insert(index, evidence);
        Ok(result?)
    }

    /// Reads the Portal's deposits and forced records logged since the last read.
    async fn refresh_records(&mut self) -> Result<(), DisputeError> {
        let latest = self.l1.block_number().await?;
        let from = self
            .records_read_to
            .map_or(self.config.l1_start_block, |read| read + 1);
        if from > latest {
            return Ok(());
        }
        for log in straddle_l1::deposits_between(&self.l1, self.portal, from, latest).await? {
            self.records.add_deposit(log.deposit, log.l1_block);
        }
        for log in straddle_l1::forced_between(&self.l1, self.portal, from, latest).await? {
            self.records.add_forced(log.forced(), log.l1_block);
        }
        self.records_read_to = Some(latest);
        Ok(())
    }

    /// The L2 signing domain, from the node's typed data.
    async fn domain(&mut self) -> Result<Domain, DisputeError> {
        if let Some(domain) = self.domain {
            return Ok(domain);
        }
        let probe =
            straddle_primitives::Action::WithdrawMargin(straddle_primitives::WithdrawMargin {
                amount: 0,
                nonce: 0,
                expiryMs: 0,
            });
        let typed = self.l2.typed_data(probe).await?;
        let domain: Domain = serde_json::from_value(serde_json::json!({
            "chainId": typed["domain"]["chainId"],
            "verifyingContract": typed["domain"]["verifyingContract"],
        }))
        .map_err(|e| L1Error::Decode(format!("the node's signing domain: {e}")))?;
        self.domain = Some(domain);
        Ok(domain)
    }

    async fn output_still_there(&self, game: &DisputeGame::Game) -> Result<bool, DisputeError> {
        if game.outputIndex >= U256::from(self.output_count().await?) {
            return Ok(false);
        }
        let output = self.output(game.outputIndex).await?;
        let key = keccak256(
            (
                output.stateRoot,
                output.blockHash,
                output.l2BlockNumber,
                output.proposedAt,
                output.proposer,
            )
                .abi_encode(),
        );
        Ok(key == game.outputKey)
    }

    /// Claims the player's credit in the game (bonds of games won or cancelled) and in
    /// the registry (proposers' bonds of outputs it removed); returns the wei claimed.
    async fn claim_credit(&self) -> Result<U256, DisputeError> {
        let in_game = self
            .claim_from(
                self.config.game,
                DisputeGame::creditCall(self.me),
                DisputeGame::claimCreditCall {},
            )
            .await?;
        let in_registry = self
            .claim_from(
                self.registry,
                OutputRegistry::creditCall(self.me),
                OutputRegistry::claimCreditCall {},
            )
            .await?;
        Ok(in_game + in_registry)
    }

    /// Reads `credit` at `contract` and, when there is some, sends `claim`.
    async fn claim_from<V, C>(
        &self,
        contract: Address,
        credit: V,
        claim: C,
    ) -> Result<U256, DisputeError>
    where
        V: SolCall<Return = U256>,
        C: SolCall,
    {
        let owed = self.l1.view(contract, &credit).await?;
        if !owed.is_zero() {
            self.l1
                .transact(contract, &claim, U256::ZERO, "claim credit")
                .await?;
        }
        Ok(owed)
    }

    // ------------------------------------------------------------ the node's chain

    async fn block(&self, number: u64) -> Result<Option<(B256, BlockHeader)>, DisputeError> {
        Ok(self
            .l2
            .get_block(BlockRef::Number(number), Some(false))
            .await?
            .map(|view| (view.hash, view.header)))
    }

    async fn require_block(&self, number: u64) -> Result<(B256, BlockHeader), DisputeError> {
        self.block(number)
            .await?
            .ok_or(DisputeError::MissingBlock(number))
    }

    /// Where the node's derivation took block `number` from, as a position
    /// (`BlockSource::position`; the genesis block is at 0).
    async fn source_position(&self, number: u64) -> Result<u64, DisputeError> {
        if number == 0 {
            return Ok(0);
        }
        self.l2
            .get_block_source(number)
            .await?
            .map(|source| source.position())
            .ok_or(DisputeError::MissingSource(number))
    }

    /// The node's claim at position `k` of the game's current level: block `k`'s hash
    /// and derivation position (`block_claim`), the state root after transaction `k`, or
    /// after sub-step `k` of the disputed update.
    async fn claim_at(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        k: u64,
    ) -> Result<B256, DisputeError> {
        match game.level {
            LEVEL_BLOCKS => {
                let hash = self.require_block(k).await?.0;
                Ok(block_claim(hash, self.source_position(k).await?))
            }
            LEVEL_SUB_STEPS => {
                let sub = self
                    .game_view(&DisputeGame::getSubLevelCall {
                        gameId: U256::from(id),
                    })
                    .await?;
                let key = (game.blockNumber, sub.transactionIndex);
                if !self.sub_positions.contains_key(&key) {
                    let roots = self.l2.get_sub_step_positions(key.0, key.1).await?;
                    self.sub_positions.insert(key, roots);
                }
                self.sub_positions
                    .get(&key)
                    .and_then(|roots| roots.get(k as usize).copied())
                    .ok_or(DisputeError::MissingBlock(game.blockNumber))
            }
            _ => self.position(game.blockNumber, k).await,
        }
    }

    /// The node's state root at position `k` of block `number` (0: before its first
    /// transaction).
    async fn position(&mut self, number: u64, k: u64) -> Result<B256, DisputeError> {
        if !self.positions.contains_key(&number) {
            let roots = self.l2.get_block_positions(number).await?;
            self.positions.insert(number, roots);
        }
        self.positions
            .get(&number)
            .and_then(|roots| roots.get(k as usize).copied())
            .ok_or(DisputeError::MissingBlock(number))
    }

    // ------------------------------------------------------------ L1 plumbing

    async fn send<C: SolCall>(
        &self,
        call: &C,
        value: U256,
        what: &'static str,
    ) -> Result<(), DisputeError> {
        self.l1
            .transact(self.config.game, call, value, what)
            .await?;
        Ok(())
    }

    async fn output(&self, index: U256) -> Result<OutputRegistry::Output, DisputeError> {
        let call = OutputRegistry::getOutputCall { index };
        Ok(self.l1.view(self.registry, &call).await?)
    }

    async fn game(&self, id: u64) -> Result<DisputeGame::Game, DisputeError> {
        self.game_view(&DisputeGame::getGameCall {
            gameId: U256::from(id),
        })
        .await
    }

    /// A view of the dispute game.
    async fn game_view<C: SolCall>(&self, call: &C) -> Result<C::Return, DisputeError> {
        Ok(self.l1.view(self.config.game, call).await?)
    }

    async fn output_count(&self) -> Result<u64, DisputeError> {
        Ok(self.l1.output_count(self.registry).await?)
    }

    async fn game_count(&self) -> Result<u64, DisputeError> {
        let count = self.game_view(&DisputeGame::gameCountCall {}).await?;
        u64::try_from(count).map_err(|_| L1Error::Decode("game count".into()).into())
    }
}

/// Logs what a round did.
pub fn log_report(report: &RoundReport) {
    for (game, what) in &report.moves {
        metrics::counter!("straddle_dispute_moves_total").increment(1);
        tracing::info!(game, what, "dispute move");
    }
    if !report.claimed_wei.is_zero() {
        tracing::info!(wei = %report.claimed_wei, "credit claimed");
    }
}
