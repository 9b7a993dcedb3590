//! Plays the L1 dispute game (`docs/spec/disputes.md`) from the chain an L2 node derived
//! from L1: challenges outputs that differ from it, defends the player's own outputs
//! (and, when asked, any correct output under dispute), and claims the bonds won.
//!
//! A round reads every open game and decides each move on its own, then sends all of
//! them back to back (`L1Client::transact_all`, the player's own nonces) and waits for
//! their receipts together: a flood of games is answered in the same blocks, not one
//! game per block.
//!
//! The node (best a follower) is the player's truth: block hashes and headers from
//! `straddle_getBlock`, per-transaction roots from `straddle_getBlockPositions`, the
//! one-step prover's input from `straddle_getStep`, and an oracle update's sub-step roots
//! and inputs from `straddle_getSubStepPositions` and `straddle_getSubStep`. Like the proposer it keeps no state
//! that matters: every round reads the registry and the games from L1.

mod derivation;
mod moves;
mod play;

use derivation::{Evidence, EvidenceError, SOURCE_FORCED, forced_leaves};
use jsonrpsee::http_client::HttpClient;
use moves::{LEVEL_BLOCKS, LEVEL_SUB_STEPS, Move, OracleUpdateMove, Reveal, RevealMove, Turn};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use straddle_batch::PortalRecords;
use straddle_l1::alloy::primitives::{Address, B256, Bytes, U256};
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::alloy::sol_types::SolCall;
use straddle_l1::opening::BatchOpener;
use straddle_l1::{L1Client, L1Error, Outgoing};
use straddle_l1_contracts::{BatchInbox, DisputeGame, OutputRegistry, Portal, block_claim};
use straddle_primitives::Domain;
use straddle_primitives::block::{BlockHeader, transaction_leaf, transactions_children};
use straddle_rpc_api::{BlockRef, BlockSource, StraddleApiClient, http_client};

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
    /// A consensus client's beacon API blob batches are read from (a public network);
    /// none: the L1 node's `anvil_getBlobByHash` (the devnet).
    pub beacon_api: Option<String>,
    /// The player's L1 key: pays bonds and gas; defends the outputs it proposed.
    pub key: PrivateKeySigner,
    /// The DisputeGame contract (its registry is read from it).
    pub game: Address,
    /// Whether to open games on wrong outputs (a defender-only player does not).
    pub challenge: bool,
    /// Whether to take the side of every correct output under dispute (`defend`, with a
    /// bond) in disputes the player is not in: a correct output then keeps a defender
    /// when its proposer is gone.
    pub defend_others: bool,
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
    /// A move after the reveal in a game whose block is not revealed.
    #[error("game {0} has no revealed block")]
    NotRevealed(u64),
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Disputes opened (output indices).
    pub opened: Vec<u64>,
    /// Disputes joined as a defender (dispute ids).
    pub joined: Vec<u64>,
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

/// The block-level claim the player makes, and compares with, for a block that the data
/// on L1 up to the game's head does not derive: no hash and position make it.
const NOT_DERIVABLE_CLAIM: B256 = B256::ZERO;

/// What the node's chain says of a block, judged at an L1 head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AtHead {
    /// The node has the block from a source on L1 by the head, at this position.
    Derivable {
        /// Where derivation took it from.
        position: u64,
    },
    /// The node has it from a source posted later, or has read L1 past the head
    /// without deriving it.
    NotDerivable,
    /// The node has not read L1 as far as the head yet.
    NotReadYet,
}

/// A transaction the round sends once every game has been read, and what it marked
/// done when queued (undone if it fails, so that the next round tries again).
struct Queued {
    outgoing: Outgoing,
    mark: Mark,
}

/// What a queued transaction marks done in the player's bookkeeping.
#[derive(Clone, Copy)]
enum Mark {
    /// Nothing (a move in a game).
    Nothing,
    /// The output it opens a dispute on or proves wrong (`disputed`).
    Disputed(OutputKey),
    /// The dispute it joins as a defender (`defending`).
    Defending(u64),
}

/// What the node's chain says of an output.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// The node has not read L1 as far as the output's head.
    NotYet,
    /// Same block hash, state root and position.
    Agrees,
    /// Its block hash is the node's block's, whose header has another state root: the
    /// header proves it wrong without a game.
    ContradictsItself(BlockHeader),
    /// Anything else: a game decides.
    Differs,
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
    /// Disputes before this id are over.
    first_open_dispute: u64,
    /// The dispute of each game read (fixed when the game is opened).
    dispute_of: BTreeMap<u64, u64>,
    /// Disputes read this round, by id.
    round_disputes: BTreeMap<u64, DisputeGame::Dispute>,
    /// Disputes the player has a game in as a defender (joined or its own output's).
    defending: HashSet<u64>,
    /// Each side's clock in a game, seconds (the game's `clockSeconds`).
    clock_secs: u64,
    /// This round's transactions, sent together at its end.
    outbox: Vec<Queued>,
    /// This round's anchor search: `(index, anchor)`, the anchor for output `index`.
    round_anchor: Option<(u64, U256)>,
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
    /// The L1 block from which each source (by position) is on L1: a batch's posting
    /// block, a forced record's window end plus one.
    source_l1_blocks: BTreeMap<u64, u64>,
}

impl Player {
    /// Connects to both chains and reads the registry's address from the game.
    pub async fn new(config: PlayerConfig) -> Result<Player, DisputeError> {
        let l1 = L1Client::connect(&config.l1_rpc, config.key.clone())?
            .with_beacon_api(config.beacon_api.as_deref())?;
        let l2 = http_client(&config.l2_rpc)?;
        let registry = l1.view(config.game, &DisputeGame::registryCall {}).await?;
        let opener = l1.view(config.game, &DisputeGame::openerCall {}).await?;
        let inbox = l1.view(opener, &BatchOpener::inboxCall {}).await?;
        let portal = l1.view(opener, &BatchOpener::portalCall {}).await?;
        let me = l1.address();
        let clock_secs = l1
            .view(config.game, &DisputeGame::clockSecondsCall {})
            .await?;
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
            first_open_dispute: 0,
            dispute_of: BTreeMap::new(),
            round_disputes: BTreeMap::new(),
            defending: HashSet::new(),
            clock_secs,
            outbox: Vec::new(),
            round_anchor: None,
            positions: BTreeMap::new(),
            sub_positions: BTreeMap::new(),
            opener,
            inbox,
            portal,
            evidence: BTreeMap::new(),
            records: PortalRecords::default(),
            domain: None,
            records_read_to: None,
            source_l1_blocks: BTreeMap::new(),
        };
        player.recall_disputes().await?;
        Ok(player)
    }

    /// After a restart: the outputs this player already disputed (an open game, played
    /// on, or one it lost, which a second bond would not change), so that it does not
    /// open and pay for another game on them, and the disputes it defends in.
    async fn recall_disputes(&mut self) -> Result<(), DisputeError> {
        for id in 0..self.game_count().await? {
            let game = self.game(id).await?;
            if game.defender == self.me {
                let dispute = self.dispute_id(id).await?;
                self.defending.insert(dispute);
            }
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

    /// One round: move in every open game the player is in, end or join disputes,
    /// dispute wrong outputs (when challenging), send all of it together, claim credit.
    pub async fn round(&mut self) -> Result<RoundReport, DisputeError> {
        let mut report = RoundReport::default();
        self.round_disputes.clear();
        self.round_anchor = None;
        self.outbox.clear();
        // Moves first: their clocks are running, and nothing about new outputs (a
        // dispute transaction an adversary makes revert, say) may cost a move.
        let played = self.play_games(&mut report).await;
        if let Err(error) = self.tend_disputes(&mut report).await {
            tracing::warn!(%error, "tending disputes failed this round; retrying");
        }
        if self.config.challenge
            && let Err(error) = self.dispute_outputs(&mut report).await
        {
            tracing::warn!(%error, "judging outputs failed this round; retrying");
        }
        self.flush().await;
        played?;
        report.claimed_wei = self.claim_credit().await?;
        Ok(report)
    }

    /// Sends the round's transactions together and undoes the bookkeeping of those
    /// that failed, so that the next round tries them again.
    async fn flush(&mut self) {
        let queued = std::mem::take(&mut self.outbox);
        if queued.is_empty() {
            return;
        }
        let outgoing = queued.iter().map(|q| q.outgoing.clone()).collect();
        let results = self.l1.transact_all(outgoing).await;
        for (queued, result) in queued.into_iter().zip(results) {
            if let Err(error) = result {
                tracing::warn!(what = queued.outgoing.what, %error, "transaction failed; retried next round");
                match queued.mark {
                    Mark::Nothing => {}
                    Mark::Disputed(key) => {
                        self.disputed.remove(&key);
                    }
                    Mark::Defending(dispute) => {
                        self.defending.remove(&dispute);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ disputes

    /// Ends the player's disputes it has won in every game (once no defender may join)
    /// or whose output went meanwhile (`resolveDispute`), and, when defending others,
    /// joins the defense of each correct output under dispute that it is not in.
    async fn tend_disputes(&mut self, report: &mut RoundReport) -> Result<(), DisputeError> {
        let count = self.dispute_count().await?;
        let now = self.l1_time().await?;
        let mut all_over = true;
        for id in self.first_open_dispute..count {
            let dispute = self.dispute(id).await?;
            if dispute.status != STATUS_OPEN {
                if all_over {
                    self.first_open_dispute = id + 1;
                }
                continue;
            }
            all_over = false;
            let output = self.output(dispute.outputIndex).await?;
            let defense_open = now < dispute.openedAt + self.clock_secs;
            if dispute.challenger == self.me {
                if dispute.gamesLive == 0 && (output.removed || !defense_open) {
                    let call = DisputeGame::resolveDisputeCall {
                        disputeId: U256::from(id),
                    };
                    self.queue(&call, U256::ZERO, "end a dispute");
                }
                continue;
            }
            // A joiner's clock for its whole game is what is left of the defenders' clock:
            // it joins only while at least half of it is (a later join could lose on time).
            let worth_joining = now < dispute.openedAt + self.clock_secs / 2;
            if !self.config.defend_others
                || !worth_joining
                || output.removed
                || output.proposer == self.me
                || self.defending.contains(&id)
            {
                continue;
            }
            let index = u64::try_from(dispute.outputIndex)
                .map_err(|_| L1Error::Decode("output index".into()))?;
            if self.verdict(index, &output).await? == Verdict::Agrees {
                let bond = self.l1.required_bond(self.registry).await?;
                let call = DisputeGame::defendCall {
                    disputeId: U256::from(id),
                };
                self.queue_marked(&call, bond, "defend an output", Mark::Defending(id));
                tracing::info!(
                    dispute = id,
                    index,
                    "joined the defense of a correct output"
                );
                report.joined.push(id);
            }
        }
        Ok(())
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
            // Each output on its own: one that fails (a removal racing our dispute) is
            // retried next round and does not stop the others.
            if let Err(error) = self.judge_output(index, report).await {
                tracing::warn!(index, %error, "could not judge the output this round");
            }
        }
        Ok(())
    }

    /// Compares output `index` with the node's chain and disputes it if it differs.
    async fn judge_output(
        &mut self,
        index: u64,
        report: &mut RoundReport,
    ) -> Result<(), DisputeError> {
        let word = U256::from(index);
        let output = self.output(word).await?;
        let key = OutputKey::of(index, &output);
        if output.removed || self.disputed.contains(&key) {
            return Ok(());
        }
        match self.verdict(index, &output).await? {
            Verdict::NotYet | Verdict::Agrees => return Ok(()),
            Verdict::ContradictsItself(header) => {
                let call = DisputeGame::proveOutputMismatchCall {
                    outputIndex: word,
                    header: Bytes::from(header.encode()),
                };
                self.queue_marked(
                    &call,
                    U256::ZERO,
                    "prove an output mismatch",
                    Mark::Disputed(key),
                );
                tracing::warn!(
                    index,
                    "output contradicts its own block header: removing it"
                );
                report.mismatches_proven.push(index);
            }
            Verdict::Differs => {
                let anchor = self.anchor_for(index).await?;
                let bond = self.l1.required_bond(self.registry).await?;
                let call = DisputeGame::openCall {
                    outputIndex: word,
                    anchorIndex: anchor,
                };
                self.queue_marked(&call, bond, "open a dispute game", Mark::Disputed(key));
                tracing::warn!(
                    index,
                    l2_block = output.l2BlockNumber,
                    "output differs from the derived chain: disputing it"
                );
                report.opened.push(index);
            }
        }
        Ok(())
    }

    /// What the node's chain says of output `index`, judged at the output's L1 head: a
    /// block the data on L1 by then does not derive is wrong, whatever is posted later.
    /// Not judged before the node has read L1 that far. An agreement is remembered.
    async fn verdict(
        &mut self,
        index: u64,
        output: &OutputRegistry::Output,
    ) -> Result<Verdict, DisputeError> {
        let key = OutputKey::of(index, output);
        if self.agreed.contains(&key) {
            return Ok(Verdict::Agrees);
        }
        let (hash, header, position) =
            match self.at_head(output.l2BlockNumber, output.l1Head).await? {
                AtHead::NotReadYet => return Ok(Verdict::NotYet),
                AtHead::NotDerivable => return Ok(Verdict::Differs),
                AtHead::Derivable { position } => {
                    let (hash, header) = self.require_block(output.l2BlockNumber).await?;
                    (hash, header, position)
                }
            };
        if hash == output.blockHash
            && header.state_root == output.stateRoot
            && position == output.position
        {
            tracing::info!(
                index,
                l2_block = output.l2BlockNumber,
                "output agrees with the derived chain"
            );
            metrics::gauge!("straddle_challenger_checked_block").set(output.l2BlockNumber as f64);
            self.agreed.insert(key);
            return Ok(Verdict::Agrees);
        }
        if hash == output.blockHash && header.state_root != output.stateRoot {
            return Ok(Verdict::ContradictsItself(header));
        }
        Ok(Verdict::Differs)
    }

    /// The latest final output before `index` that agrees with the node, else genesis.
    /// Within a round the search is remembered: outputs judged in index order are each
    /// searched back only to the one judged before (a flood of outputs costs linear,
    /// not quadratic, reads).
    async fn anchor_for(&mut self, index: u64) -> Result<U256, DisputeError> {
        let (searched_to, known) = match self.round_anchor {
            Some((from, anchor)) if from <= index => (from, anchor),
            _ => (0, GENESIS_ANCHOR),
        };
        let anchor = self
            .anchor_between(searched_to, index)
            .await?
            .unwrap_or(known);
        self.round_anchor = Some((index, anchor));
        Ok(anchor)
    }

    /// The latest final output in `from..to` that agrees with the node, if any.
    async fn anchor_between(&self, from: u64, to: u64) -> Result<Option<U256>, DisputeError> {
        for earlier in (from..to).rev() {
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
                return Ok(Some(word));
            }
            tracing::error!(
                index = earlier,
                "a final output differs from the node's chain; anchoring further back"
            );
        }
        Ok(None)
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

    /// Whether block `number` is derivable from the data on L1 up to block `l1_head`, as
    /// the node's chain shows (see [`AtHead`]).
    async fn at_head(&mut self, number: u64, l1_head: u64) -> Result<AtHead, DisputeError> {
        if number == 0 {
            return Ok(AtHead::Derivable { position: 0 });
        }
        // How far derivation had read is taken before the block is looked for: a round
        // that derives the block in between then only makes the answer "not yet".
        let read = self.l2.chain_head().await?.derived_l1_block;
        Ok(match self.l2.get_block_source(number).await? {
            Some(source) if self.source_l1_block(source).await? <= l1_head => AtHead::Derivable {
                position: source.position(),
            },
            Some(_) => AtHead::NotDerivable,
            None if read >= l1_head => AtHead::NotDerivable,
            None => AtHead::NotReadYet,
        })
    }

    /// The L1 block from which `source` is on L1: a batch's posting block; for a forced
    /// record, the last block of its inclusion window (derivation includes it once it has
    /// read that block and no batch by then did).
    async fn source_l1_block(&mut self, source: BlockSource) -> Result<u64, DisputeError> {
        let position = source.position();
        if let Some(block) = self.source_l1_blocks.get(&position) {
            return Ok(*block);
        }
        let block = match source {
            BlockSource::Batch { index } => {
                let call = BatchInbox::getBatchCall {
                    index: U256::from(index),
                };
                self.l1.view(self.inbox, &call).await?.l1BlockNumber
            }
            BlockSource::Forced { index, .. } => {
                let recorded = self
                    .l1
                    .view(self.portal, &Portal::forcedBlocksCall(index))
                    .await?;
                let window = self
                    .l1
                    .view(self.portal, &Portal::forcedInclusionWindowCall {})
                    .await?;
                recorded + window
            }
        };
        self.source_l1_blocks.insert(position, block);
        Ok(block)
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
            LEVEL_BLOCKS => match self.at_head(k, game.l1Head).await? {
                AtHead::Derivable { position } => {
                    let hash = self.require_block(k).await?.0;
                    Ok(block_claim(hash, position))
                }
                // No block `k` is derivable from L1 up to the game's head: no claim
                // about one is right.
                AtHead::NotDerivable => Ok(NOT_DERIVABLE_CLAIM),
                AtHead::NotReadYet => Err(DisputeError::MissingBlock(k)),
            },
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

    /// Queues `call` on the game for the end of the round.
    fn queue<C: SolCall>(&mut self, call: &C, value: U256, what: &'static str) {
        self.queue_marked(call, value, what, Mark::Nothing);
    }

    /// Queues `call` and marks `mark` done now (undone by `flush` if the call fails).
    fn queue_marked<C: SolCall>(&mut self, call: &C, value: U256, what: &'static str, mark: Mark) {
        match mark {
            Mark::Nothing => {}
            Mark::Disputed(key) => {
                self.disputed.insert(key);
            }
            Mark::Defending(dispute) => {
                self.defending.insert(dispute);
            }
        }
        self.outbox.push(Queued {
            outgoing: Outgoing::call(self.config.game, call, value, what),
            mark,
        });
    }

    /// The L1 time now: the latest block's timestamp, seconds.
    async fn l1_time(&self) -> Result<u64, DisputeError> {
        let latest = self.l1.block_number().await?;
        Ok(self.l1.block_timestamp(latest).await?)
    }

    /// The dispute game `id` belongs to.
    async fn dispute_id(&mut self, id: u64) -> Result<u64, DisputeError> {
        if let Some(dispute) = self.dispute_of.get(&id) {
            return Ok(*dispute);
        }
        let dispute = self
            .game_view(&DisputeGame::disputeOfCall(U256::from(id)))
            .await?;
        let dispute = u64::try_from(dispute).map_err(|_| L1Error::Decode("dispute id".into()))?;
        self.dispute_of.insert(id, dispute);
        Ok(dispute)
    }

    /// Dispute `id`, read once a round.
    async fn dispute(&mut self, id: u64) -> Result<DisputeGame::Dispute, DisputeError> {
        if let Some(dispute) = self.round_disputes.get(&id) {
            return Ok(dispute.clone());
        }
        let dispute = self
            .game_view(&DisputeGame::getDisputeCall {
                disputeId: U256::from(id),
            })
            .await?;
        self.round_disputes.insert(id, dispute.clone());
        Ok(dispute)
    }

    async fn dispute_count(&self) -> Result<u64, DisputeError> {
        let count = self.game_view(&DisputeGame::disputeCountCall {}).await?;
        u64::try_from(count).map_err(|_| L1Error::Decode("dispute count".into()).into())
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
