//! Derivation: the L2 chain from L1 data alone. It reads the BatchInbox's batches and the
//! Portal's deposits in L1 order, checks each batch against the chain (it must extend the
//! head: next number, parent hash, time not running backwards) whatever its transactions
//! hold — an item that does not decode, or names a deposit or forced transaction not on
//! L1 before the batch, is an undecodable item that changes nothing
//! (`docs/spec/batches.md` §4.1) — and either executes it (a follower, `straddle node
//! --follow`) or, on the sequencer, checks that it matches the blocks the sequencer made.
//! Either way the batches found on L1 set the `safe` head, and those in finalized L1
//! blocks the `finalized` head (`docs/spec/batches.md` §6).
//!
//! Forced transactions (submitted to the Portal) must be included by a batch posted
//! within the Portal's inclusion window; one that is not is included by derivation
//! itself, in a block of its own placed before the first batch past the window's end,
//! so that every honest node derives the same chain whatever the sequencer does.
//!
//! Progress (the last L1 block read, its hash, the safe and finalized heads) is stored
//! beside the chain after every round: a restarted node reads the Portal's records again
//! but fetches only the batches after that block.
//!
//! An L1 reorg is noticed when the hash of the last L1 block read changes; derivation
//! then reads L1 again from the deployment block. Blocks already derived stay (the
//! batcher re-posts the same blocks), but count as `safe` only once a batch on the new
//! L1 chain carries them again.

use crate::chain::DerivedChain;
use crate::error::DeriveError;
use crate::l1::L1Reader;
use crate::rules::{LinkFault, Parent, batch_links};
use alloy_primitives::{Address, B256, Bytes};
use std::sync::Arc;
use std::time::Duration;
use straddle_batch::BatchBlock;
use straddle_batch::{Batch, BatchError, PortalRecords};
use straddle_l1::{BatchLog, L1Client, L1Error};
use straddle_primitives::block::{BlockHeader, BlockSource};
use straddle_primitives::{ForcedTransaction, Transaction};
use straddle_storage::chain_store::ChainStore;

/// The L1 contracts derivation reads.
#[derive(Clone, Debug)]
pub struct L1Source {
    /// L1 HTTP RPC endpoint.
    pub l1_rpc: String,
    /// The consensus client's beacon API blob batches are read from (a public network);
    /// none: the L1 node's `anvil_getBlobByHash` (the devnet).
    pub beacon_api: Option<String>,
    /// The Portal (deposits).
    pub portal: Address,
    /// The BatchInbox (batches).
    pub inbox: Address,
    /// First L1 block to read (the deployment block).
    pub start_block: u64,
    /// How often L1 is polled.
    pub poll_interval: Duration,
}

/// What derivation does with a batch that extends the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Execute it (a follower node).
    Execute,
    /// Only check batches against blocks this node made (the sequencer).
    Check,
}

/// Why a batch is skipped (it stays on L1 but derives nothing).
#[derive(Debug, thiserror::Error)]
enum Skip {
    #[error("bytes: {0}")]
    Unreadable(L1Error),
    #[error("format: {0}")]
    Format(#[from] BatchError),
    #[error("its parent block {0} is not in the chain")]
    NoParent(u64),
    #[error(transparent)]
    Link(#[from] LinkFault),
    #[error("block {number} differs from the one this node holds")]
    Conflict { number: u64 },
}

/// Batches whose bytes are fetched ahead of the one executing.
const PREFETCH_BATCHES: usize = 3;

/// Runs derivation from the L1 node at `source.l1_rpc` until the task is dropped.
pub async fn run<C: DerivedChain>(
    source: L1Source,
    mode: Mode,
    chain: Arc<C>,
    store: Arc<ChainStore>,
) {
    // The KZG setup for blob batches loads while the first rounds read L1.
    tokio::task::spawn_blocking(straddle_l1::blobs::warm_up);
    let client = match L1Client::read_only(&source.l1_rpc)
        .and_then(|client| client.with_beacon_api(source.beacon_api.as_deref()))
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "derivation cannot start");
            return;
        }
    };
    run_over(client, source, mode, chain, store).await
}

/// Runs derivation over the L1 `client` reads until the task is dropped.
pub async fn run_over<L: L1Reader, C: DerivedChain>(
    client: L,
    source: L1Source,
    mode: Mode,
    chain: Arc<C>,
    store: Arc<ChainStore>,
) {
    let mut pipeline = Pipeline::new(client, source, mode, chain, store);
    let mut interval = tokio::time::interval(pipeline.source.poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = pipeline.round().await {
            error.log("derivation round failed; retrying next round");
        }
    }
}

/// Derivation's state between rounds: where it has read L1 to, the Portal's records, and
/// the heads the accepted batches make safe and finalized.
pub struct Pipeline<L, C> {
    client: L,
    source: L1Source,
    mode: Mode,
    chain: Arc<C>,
    store: Arc<ChainStore>,
    /// The last L1 block read completely, and its hash.
    cursor: Option<(u64, B256)>,
    /// The Portal's deposits and forced transactions read so far.
    records: PortalRecords,
    /// The Portal's forced-inclusion window, L1 blocks (read once).
    forced_window: Option<u64>,
    /// Forced transactions the chain is known to include (a lower bound of its count).
    forced_included: u64,
    /// The index of the next batch to read (the inbox's count at the cursor): where a
    /// forced block included now goes in the order of sources.
    next_batch: u64,
    /// What the batches accepted so far make safe and finalized.
    heads: L1Heads,
    /// The last block this reading of L1 has taken (from an accepted batch or a forced
    /// record; 0 before any): the next batch must link after it, as it must for a node
    /// deriving the same L1 from scratch (`SourceRules`). The node may hold blocks past
    /// it, derived from batches an L1 reorg removed.
    tip: u64,
    /// After a restart: the Portal's records up to this L1 block must be read again
    /// (batches up to it were derived before).
    records_to_reload: Option<u64>,
}

/// Key of the stored derivation progress.
const PROGRESS_KEY: &str = "derivation";

impl<L: L1Reader, C: DerivedChain> Pipeline<L, C> {
    /// A pipeline reading L1 through `client` into `chain`, resumed from the progress
    /// stored in `store` (if readable; else from `source.start_block`).
    pub fn new(
        client: L,
        source: L1Source,
        mode: Mode,
        chain: Arc<C>,
        store: Arc<ChainStore>,
    ) -> Pipeline<L, C> {
        let mut pipeline = Pipeline {
            client,
            source,
            mode,
            chain,
            store,
            cursor: None,
            records: PortalRecords::default(),
            forced_window: None,
            forced_included: 0,
            next_batch: 0,
            heads: L1Heads::default(),
            tip: 0,
            records_to_reload: None,
        };
        pipeline.restore();
        pipeline
    }

    /// One round: checks the last L1 block read is still there (else reads L1 again from
    /// the start), reads L1 up to its head, derives or checks every batch, includes
    /// overdue forced transactions, publishes the heads and stores the progress.
    pub async fn round(&mut self) -> Result<(), DeriveError> {
        if let Some((number, hash)) = self.cursor
            && self.client.block_hash(number).await? != Some(hash)
        {
            tracing::warn!(
                l1_block = number,
                "L1 reorg: the last block read changed; reading L1 again from the start"
            );
            self.cursor = None;
            self.records_to_reload = None;
            self.records.clear();
            self.next_batch = 0;
            self.heads = L1Heads::default();
            self.tip = 0;
            self.publish_heads(0);
            self.store.clear_sources()?;
        }
        let head = self.client.block_number().await?;
        let head_hash = self
            .client
            .block_hash(head)
            .await?
            .ok_or_else(|| L1Error::Rpc(format!("L1 block {head} vanished")))?;
        if let Some(reload_to) = self.records_to_reload {
            let mut from = self.source.start_block;
            while from <= reload_to {
                let to = reload_to.min(from + straddle_l1::LOG_RANGE_MAX - 1);
                self.read_records(from, to).await?;
                from = to + 1;
            }
            self.records_to_reload = None;
        }
        let mut from = self.cursor.map_or(self.source.start_block, |(n, _)| n + 1);
        while from <= head {
            let to = head.min(from + straddle_l1::LOG_RANGE_MAX - 1);
            self.read_records(from, to).await?;
            let batches = self
                .client
                .batches_between(self.source.inbox, from, to)
                .await?;
            // The bytes of the next few batches are fetched (and their blobs checked)
            // while the current one executes.
            let mut fetches = std::collections::VecDeque::new();
            let mut ahead = batches.iter();
            for batch in &batches {
                self.include_overdue(batch.l1_block, batch.index).await?;
                while fetches.len() < PREFETCH_BATCHES
                    && let Some(next) = ahead.next()
                {
                    let (client, next) = (self.client.clone(), *next);
                    fetches.push_back(tokio::spawn(async move { client.batch_bytes(&next).await }));
                }
                let fetched = match fetches.pop_front() {
                    Some(fetch) => fetch
                        .await
                        .unwrap_or_else(|e| Err(L1Error::Rpc(format!("fetch task: {e}")))),
                    None => self.client.batch_bytes(batch).await,
                };
                match self.batch(batch, fetched).await {
                    Ok(()) => {}
                    Err(BatchOutcome::Skipped(skip)) => {
                        metrics::counter!("straddle_batches_skipped_total").increment(1);
                        tracing::warn!(
                            index = batch.index,
                            l1_block = batch.l1_block,
                            reason = %skip,
                            "batch skipped"
                        )
                    }
                    Err(BatchOutcome::Retry(error)) => return Err(error),
                }
                self.next_batch = batch.index + 1;
            }
            from = to + 1;
        }
        // Every batch up to the head is read: what is due by then and missing is overdue,
        // and goes before the next batch posted.
        self.include_overdue(head + 1, self.next_batch).await?;
        self.cursor = Some((head, head_hash));
        let finalized = self.client.finalized_block_number().await?;
        self.publish_heads(finalized);
        self.save_progress();
        Ok(())
    }

    /// The Portal's deposits and forced transactions logged in `from..=to`.
    async fn read_records(&mut self, from: u64, to: u64) -> Result<(), DeriveError> {
        for log in self
            .client
            .deposits_between(self.source.portal, from, to)
            .await?
        {
            self.records.add_deposit(log.deposit, log.l1_block);
        }
        for log in self
            .client
            .forced_between(self.source.portal, from, to)
            .await?
        {
            self.records.add_forced(log.forced(), log.l1_block);
        }
        Ok(())
    }

    /// Stores the cursor and heads (`l1 block u64 ‖ hash ‖ safe u64 ‖ finalized u64 ‖
    /// n u32 ‖ (l2 block u64 ‖ l1 block u64) × n ‖ next batch u64`); a failure only
    /// costs a longer rescan after a restart.
    fn save_progress(&self) {
        let Some((number, hash)) = self.cursor else {
            return;
        };
        let mut w = straddle_primitives::codec::Writer::with_capacity(
            60 + self.heads.unfinalized.len() * 16,
        );
        w.u64(number)
            .b256(&hash)
            .u64(self.heads.safe)
            .u64(self.heads.finalized)
            .u32(self.heads.unfinalized.len() as u32);
        for (l2, l1) in &self.heads.unfinalized {
            w.u64(*l2).u64(*l1);
        }
        w.u64(self.next_batch).u64(self.tip);
        if let Err(error) = self.store.set_meta_value(PROGRESS_KEY, &w.bytes) {
            tracing::warn!(%error, "cannot store derivation progress");
        }
    }

    /// Resumes from stored progress, if any and readable (else derivation starts over
    /// from the deployment block). The first round checks the block is still on L1.
    fn restore(&mut self) {
        let bytes = match self.store.meta_value(PROGRESS_KEY) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read derivation progress; starting over");
                return;
            }
        };
        // Progress stored without the next batch does not decode:
        // derivation then starts over, which is always correct.
        type Progress = ((u64, B256), L1Heads, u64, u64);
        let decoded = (|| -> Result<Progress, straddle_primitives::DecodeError> {
            let mut r = straddle_primitives::codec::Reader::new(&bytes);
            let cursor = (r.u64()?, r.b256()?);
            let mut heads = L1Heads {
                safe: r.u64()?,
                finalized: r.u64()?,
                unfinalized: Default::default(),
            };
            for _ in 0..r.u32()? {
                heads.unfinalized.push_back((r.u64()?, r.u64()?));
            }
            let next_batch = r.u64()?;
            let tip = r.u64()?;
            r.finish()?;
            Ok((cursor, heads, next_batch, tip))
        })();
        match decoded {
            Ok((cursor, heads, next_batch, tip)) => {
                tracing::info!(
                    l1_block = cursor.0,
                    safe = heads.safe,
                    finalized = heads.finalized,
                    "derivation resumes after the L1 block read last"
                );
                self.cursor = Some(cursor);
                self.heads = heads;
                self.next_batch = next_batch;
                self.tip = tip;
                self.records_to_reload = Some(cursor.0);
            }
            Err(error) => {
                tracing::warn!(%error, "derivation progress unreadable; starting over");
                // Sources are recorded only where absent: drop those of the earlier
                // reading (possibly in an older form) so that the new one records them.
                if let Err(error) = self.store.clear_sources() {
                    tracing::warn!(%error, "cannot clear the recorded block sources");
                }
            }
        }
    }

    /// Includes the forced transactions that no batch before L1 block `before` included
    /// although their window had ended (`l1 block + window < before`), from the chain's
    /// next forced index on, each in a block of its own (so the blocks do not depend on
    /// how L1 was polled: a node reading up to any L1 block derives the same). On the
    /// sequencer, only reports them: it includes every forced transaction as soon as it
    /// sees it. `next_batch` is the index of the batch at L1 block `before` (or of the
    /// next one posted, after the last read).
    async fn include_overdue(&mut self, before: u64, next_batch: u64) -> Result<(), DeriveError> {
        // Records are in index order with non-decreasing L1 blocks, and the chain's count
        // only grows: if the first record not known to be included is not overdue, none
        // is, and the chain need not be asked (the common case, before every batch).
        let Some((_, first_candidate)) = self.records.forced_from(self.forced_included).next()
        else {
            return Ok(());
        };
        let window = match self.forced_window {
            Some(window) => window,
            None => {
                let window = self
                    .client
                    .forced_inclusion_window(self.source.portal)
                    .await?;
                self.forced_window = Some(window);
                window
            }
        };
        if first_candidate + window >= before {
            return Ok(());
        }
        let next = self
            .chain
            .forced_count()
            .await
            .map_err(DeriveError::chain::<C>)?;
        self.forced_included = next;
        let overdue: Vec<(ForcedTransaction, u64)> = self
            .records
            .forced_from(next)
            .take_while(|(_, l1_block)| l1_block + window < before)
            .map(|(record, l1_block)| (record.clone(), l1_block))
            .collect();
        let Some((_, first_l1_block)) = overdue.first() else {
            return Ok(());
        };
        if self.mode == Mode::Check {
            tracing::error!(
                first = next,
                count = overdue.len(),
                window_end = first_l1_block + window,
                "forced transactions overdue: followers include them without this sequencer"
            );
            return Ok(());
        }
        let head = self.chain.committed_head().0.number;
        if self.tip < head {
            // The node holds blocks past what this reading has taken (from batches an L1
            // reorg removed): derivation's forced block would go after the tip, where the
            // node holds another block. It waits until batches on L1 carry the held
            // blocks again (a sequencer that kept its window posts them first).
            tracing::warn!(
                tip = self.tip,
                head,
                "forced transactions overdue while the node holds blocks past this reading of L1; not included yet"
            );
            return Ok(());
        }
        for (forced, l1_block) in overdue {
            self.include_forced(forced, l1_block, window, next_batch)
                .await?;
        }
        Ok(())
    }

    /// Appends derivation's block for one overdue forced transaction: it alone, at the
    /// L1 time of its record (`Portal.forcedTimes`) or its parent's time if later.
    async fn include_forced(
        &mut self,
        forced: ForcedTransaction,
        l1_block: u64,
        window: u64,
        before_batch: u64,
    ) -> Result<(), DeriveError> {
        let recorded_ms = self.client.block_timestamp(l1_block).await? * 1000;
        let (head, _) = self.chain.committed_head();
        let index = forced.index;
        let block = BatchBlock {
            number: head.number + 1,
            timestamp_ms: head.timestamp_ms.max(recorded_ms),
            transactions: vec![Transaction::Forced(forced)],
        };
        let number = block.number;
        self.chain
            .import_blocks(vec![block])
            .await
            .map_err(DeriveError::chain::<C>)?;
        self.chain.wait_committed(number).await;
        self.store.set_sources_if_absent(
            number..=number,
            BlockSource::Forced {
                index,
                before_batch,
            },
        )?;
        self.forced_included = index + 1;
        self.tip = number;
        let window_end = l1_block + window;
        self.heads.accept(number, window_end);
        tracing::warn!(
            block = number,
            index,
            window_end,
            "forced transaction included by derivation: the sequencer missed its window"
        );
        Ok(())
    }

    /// Sets the node's safe and finalized heads from the batches accepted.
    fn publish_heads(&mut self, l1_finalized: u64) {
        let (safe, finalized) = self.heads.at(l1_finalized);
        // Every block L1 up to the cursor derives is in the chain only when this node
        // executes what it reads and holds nothing past what this reading took (after
        // an L1 reorg it may, and overdue forced records then wait): else it claims none.
        let complete =
            self.mode == Mode::Execute && self.chain.committed_head().0.number <= self.tip;
        let l1_read = match self.cursor {
            Some((number, _)) if complete => number,
            _ => 0,
        };
        self.chain.set_heads(safe, finalized, l1_read);
        metrics::gauge!("straddle_safe_block").set(safe as f64);
        metrics::gauge!("straddle_finalized_block").set(finalized as f64);
    }

    async fn batch(
        &mut self,
        log: &BatchLog,
        fetched: Result<Bytes, L1Error>,
    ) -> Result<(), BatchOutcome> {
        let bytes = match fetched {
            Ok(bytes) => bytes,
            Err(error @ L1Error::Rpc(_)) => return Err(BatchOutcome::Retry(error.into())),
            Err(error) => return Err(Skip::Unreadable(error).into()),
        };
        // Deposits and forced transactions count only once on L1 before the batch; a slot
        // naming another is an undecodable item.
        let domain = self.chain.domain();
        let batch = self
            .records
            .before(log.l1_block, |records| {
                Batch::decode(&bytes, domain, records)
            })
            .map_err(Skip::from)?;
        let undecodable = batch
            .blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .filter(|tx| matches!(tx, Transaction::Undecodable))
            .count();
        if undecodable > 0 {
            metrics::counter!("straddle_undecodable_items_total").increment(undecodable as u64);
            tracing::warn!(
                index = log.index,
                undecodable,
                "batch carries items that do not decode; each keeps its slot and changes nothing"
            );
        }
        let (Some(first), Some(last)) = (batch.blocks.first(), batch.blocks.last()) else {
            return Err(Skip::Format(BatchError::Invalid("no blocks")).into());
        };
        let (first, last) = (first.number, last.number);
        let transactions: usize = batch.blocks.iter().map(|b| b.transactions.len()).sum();
        // The batch must link after the last block this reading took, whatever the node
        // holds beyond it.
        let tip = self
            .store
            .header(self.tip)
            .map_err(DeriveError::from)?
            .ok_or(Skip::NoParent(self.tip))?;
        links(&tip, tip.hash(), &batch)?;
        let head = self.chain.committed_head().0;
        let held = last <= head.number || self.mode == Mode::Check;
        if held {
            self.check_held(&batch)?;
        } else if first <= head.number {
            // The node holds the first blocks (derived from a batch an L1 reorg removed;
            // the batcher posts again from what L1 holds): they must be the ones held,
            // and the rest extends the head.
            let mut batch = batch;
            let rest = batch.blocks.split_off((head.number + 1 - first) as usize);
            self.check_held(&batch)?;
            self.execute(rest).await?;
        } else {
            self.execute(batch.blocks).await?;
        }
        self.tip = last;
        self.store
            .set_sources_if_absent(first..=last, BlockSource::Batch { index: log.index })
            .map_err(DeriveError::from)?;
        self.heads.accept(last, log.l1_block);
        tracing::info!(
            index = log.index,
            l1_block = log.l1_block,
            first,
            last,
            transactions,
            bytes = bytes.len(),
            "{}",
            if held {
                "batch matches blocks held"
            } else {
                "batch derived"
            }
        );
        Ok(())
    }

    /// A batch whose blocks this node already holds must carry exactly those blocks.
    fn check_held(&self, batch: &Batch) -> Result<(), BatchOutcome> {
        for block in &batch.blocks {
            let held = self.store.block(block.number).map_err(DeriveError::from)?;
            let same = held.is_some_and(|(header, txs)| {
                header.timestamp_ms == block.timestamp_ms
                    && txs.len() == block.transactions.len()
                    && txs.iter().zip(&block.transactions).all(|(a, b)| &a.tx == b)
            });
            if !same {
                return Err(Skip::Conflict {
                    number: block.number,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Imports blocks that extend the head (their link was checked against the tip).
    async fn execute(&self, blocks: Vec<BatchBlock>) -> Result<(), BatchOutcome> {
        let Some(last) = blocks.last().map(|b| b.number) else {
            return Ok(());
        };
        let acks = self
            .chain
            .import_blocks(blocks)
            .await
            .map_err(DeriveError::chain::<C>)?;
        for ack in acks.iter().filter(|ack| !ack.refused.is_empty()) {
            tracing::warn!(
                block = ack.number,
                refused = ?ack.refused,
                "derived block carries transactions the STF refuses; they change nothing"
            );
        }
        self.chain.wait_committed(last).await;
        Ok(())
    }
}

/// Whether `batch` links after the block `parent` (with hash `parent_hash`): the rule of
/// `straddle_derive::rules`, which the sequencer's import and the challenger share.
fn links(parent: &BlockHeader, parent_hash: B256, batch: &Batch) -> Result<(), Skip> {
    let parent = Parent {
        number: parent.number,
        hash: parent_hash,
        timestamp_ms: parent.timestamp_ms,
    };
    let first = batch.blocks.first().map_or(parent.number + 1, |b| b.number);
    batch_links(
        &parent,
        first,
        batch.parent_hash,
        batch.blocks.iter().map(|b| b.timestamp_ms),
    )?;
    Ok(())
}

/// The safe and finalized heads from the batches accepted, in L1 order.
#[derive(Default)]
struct L1Heads {
    /// Highest L2 block an accepted batch carries.
    safe: u64,
    /// Highest L2 block a batch in a finalized L1 block carries.
    finalized: u64,
    /// `(last L2 block, L1 block)` of the accepted batches not yet finalized, in L1
    /// order.
    unfinalized: std::collections::VecDeque<(u64, u64)>,
}

impl L1Heads {
    fn accept(&mut self, l2_block: u64, l1_block: u64) {
        self.safe = self.safe.max(l2_block);
        self.unfinalized.push_back((l2_block, l1_block));
    }

    /// `(safe, finalized)` once L1 has finalized up to `l1_finalized`.
    fn at(&mut self, l1_finalized: u64) -> (u64, u64) {
        while let Some(&(l2, l1)) = self.unfinalized.front()
            && l1 <= l1_finalized
        {
            self.finalized = self.finalized.max(l2);
            self.unfinalized.pop_front();
        }
        (self.safe, self.finalized)
    }
}

/// A batch either derives, is skipped, or the round must be retried.
enum BatchOutcome {
    Skipped(Skip),
    Retry(DeriveError),
}

impl From<Skip> for BatchOutcome {
    fn from(skip: Skip) -> Self {
        BatchOutcome::Skipped(skip)
    }
}

impl From<BatchError> for BatchOutcome {
    fn from(error: BatchError) -> Self {
        BatchOutcome::Skipped(Skip::Format(error))
    }
}

impl From<DeriveError> for BatchOutcome {
    fn from(error: DeriveError) -> Self {
        BatchOutcome::Retry(error)
    }
}
