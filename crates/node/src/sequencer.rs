//! The sequencer pipeline: four threads joined by bounded channels.
//!
//! 1. **Admission** owns the execution state and the order books. It executes each
//!    verified transaction at once against the block being built (so a refusal is
//!    immediate and changes nothing), frames the accepted ones for the log, and closes a
//!    block every interval: it hands the block's leaf changes to the sealer and goes on.
//! 2. **Sealer** owns the Merkle tree and the head: it commits each closed block's leaf
//!    changes, computes the state root and the header (the parent-hash chain stays
//!    sequential here), and serves proofs against the sealed head.
//! 3. **Log** writes each group of framed records with one fsync, then releases the
//!    receipts of that group: no receipt leaves before its transaction is on disk.
//! 4. **Database** commits sealed blocks (state leaves + chain data, one redb transaction)
//!    in order, after the log holds them, then publishes the new head.

mod orders;

use straddle_rpc_api::{MarketEvent, OrderAck, OrderUpdate};

use crate::engine::{Engine, EngineError};
use alloy_primitives::{Address, B256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use straddle_batch::BatchBlock;
use straddle_chain::{Chain, Tip};
use straddle_derive::{LinkFault, block_follows};
use straddle_exchange::{Account, BlockContext, StateKey, TxError};
use straddle_exchange::{AdmittedTx, CheckedTx, ClosedBlock, ExecutionState};
use straddle_primitives::block::BlockHeader;
use straddle_primitives::block::StoredTx;
use straddle_primitives::{
    Deposit, Domain, ForcedTransaction, SignedOrder, Transaction, VerifiedOrder,
    VerifiedTransaction,
};
use straddle_rpc_api::BookSnapshot;
use straddle_state::Proof;
use straddle_storage::chain_store::{ChainStore, SealedBlock};
use straddle_storage::wal::{WalWriter, frame_block_open, frame_tx};
use tokio::sync::{broadcast, oneshot};

/// Commands waiting for admission, at most.
pub const ADMISSION_QUEUE_MAX: usize = 65_536;
/// Commands handled before the log is flushed, at most (group-commit size).
pub const GROUP_COMMIT_MAX: usize = 4_096;
/// Groups or sealed blocks waiting for the log thread, at most.
const LOG_QUEUE_MAX: usize = 1_024;
/// Nice value of the sealer and database threads (0 is normal, 19 the lowest).
const BACKGROUND_NICE: libc::c_int = 10;
/// Closed blocks (and proof requests) waiting for the sealer, at most.
const SEAL_QUEUE_MAX: usize = 64;
/// Sealed blocks waiting for the database thread, at most.
const DB_QUEUE_MAX: usize = 256;
/// Blocks kept for new-block subscribers that fall behind.
const BLOCK_EVENTS_MAX: usize = 1_024;
/// Groups of market events kept for feed subscribers that fall behind.
const MARKET_EVENTS_MAX: usize = 4_096;

/// The acknowledgement of an accepted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    /// Transaction hash.
    pub tx_hash: B256,
    /// Recovered signer.
    pub sender: Address,
    /// Block the transaction executes in.
    pub block_number: u64,
    /// Position in that block.
    pub index: u32,
    /// The withdrawal index a withdrawal request got.
    pub withdrawal_index: Option<u64>,
}

/// Why a submission got no acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The STF refused it; nothing changed.
    #[error(transparent)]
    Rejected(#[from] TxError),
    /// The order book refused the order (post-only would cross, fill-or-kill cannot
    /// fill, unknown market, off the grid); nothing changed.
    #[error("order refused: {0}")]
    Order(#[from] EngineError),
    /// Only the sequencer's matching engine makes this kind of transaction, or it must
    /// be sent through the order method named.
    #[error("{0}")]
    EngineOnly(&'static str),
    /// Deposits are taken from L1 by the node; nobody can submit one.
    #[error("deposits, forced transactions and undecodable batch items come from L1 only")]
    L1Only,
    /// The admission queue is full; retry later.
    #[error("node overloaded: admission queue is full")]
    Overloaded,
    /// The node is stopping.
    #[error("node is shutting down")]
    ShuttingDown,
    /// This node follows L1 (`--follow`): it executes batches, not submissions.
    #[error("this node follows L1 and accepts no transactions: send them to the sequencer")]
    Follower,
    /// A derived block does not follow the chain's head (`straddle_derive::rules`).
    #[error("derived block refused: {0}")]
    BlockRefused(LinkFault),
}

/// A derived block was executed and logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportAck {
    /// Its number.
    pub number: u64,
    /// Positions of the transactions the STF refused: each left the state unchanged
    /// (`docs/spec/batches.md` §6). An honest sequencer's batches have none.
    pub refused: Vec<u32>,
}

/// A committed block and the accounts it changed, for subscribers.
#[derive(Clone, Debug)]
pub struct BlockEvent {
    /// Header.
    pub header: BlockHeader,
    /// Hash.
    pub hash: B256,
    /// Transaction hashes in order.
    pub transactions: Vec<B256>,
    /// Accounts whose leaf changed, with their new state.
    pub accounts: Vec<(Address, Account)>,
    /// Accounts whose margin account (positions, cash) changed.
    pub portfolios: Vec<Address>,
}

/// An account as seen by the sequencer, including unsealed transactions.
#[derive(Clone, Debug)]
pub struct AccountSnapshot {
    /// The account (default if never used).
    pub account: Account,
    /// Its margin account, settled view (funding and expiry payouts applied).
    pub portfolio: straddle_exchange::clearinghouse::Portfolio,
    /// Equity and margin requirements (`None` if a held market has no risk vector).
    pub risk: Option<straddle_exchange::clearinghouse::AccountRisk>,
    /// Estimated index level at which the account becomes liquidatable (display only).
    pub liquidation_index: Option<u64>,
    /// Each position's market mark, micro-USDC (`None` when unpriced), in position order.
    pub marks: Vec<Option<u64>>,
    /// Number of the block being built (or the head if none).
    pub pending_block: u64,
}

/// A proof against the last sealed block.
#[derive(Clone, Debug)]
pub struct ProofSnapshot {
    /// The sealed block the proof is for.
    pub block_number: u64,
    /// Its state root.
    pub state_root: B256,
    /// The raw state key.
    pub key: Vec<u8>,
    /// The leaf value as of that block (`None`: absent).
    pub value: Option<Vec<u8>>,
    /// The Merkle proof.
    pub proof: Proof,
}

enum Command {
    Submit {
        tx: Box<AdmittedTx>,
        /// Taken from L1 by the node itself (a deposit), not received from a user.
        from_l1: bool,
        received: Instant,
        reply: oneshot::Sender<Result<Acknowledgement, SubmitError>>,
    },
    Account {
        address: Address,
        reply: oneshot::Sender<AccountSnapshot>,
    },
    Proof {
        key: StateKey,
        reply: oneshot::Sender<ProofSnapshot>,
    },
    /// Runs a read-only query against the current (possibly unsealed) state.
    Read(Box<dyn FnOnce(&ExecutionState) + Send>),
    /// A signed order for the matching engine.
    PlaceOrder {
        signed: Box<SignedOrder>,
        verified: Box<VerifiedOrder>,
        received: Instant,
        reply: OrderReply,
    },
    /// A book snapshot.
    Book {
        market: u32,
        levels: usize,
        reply: oneshot::Sender<Option<BookSnapshot>>,
    },
    /// An account's resting orders.
    OpenOrders {
        owner: Address,
        reply: oneshot::Sender<Vec<OrderUpdate>>,
    },
    /// A block derived from L1 (follower mode, or a sequencer rebuilding): executed as
    /// it is, sealed at once.
    Import {
        block: Box<CheckedBlock>,
        received: Instant,
        reply: oneshot::Sender<Result<ImportAck, SubmitError>>,
    },
}

/// A decided block whose transactions' signatures were checked.
struct CheckedBlock {
    number: u64,
    timestamp_ms: u64,
    transactions: Vec<CheckedTx>,
}

type Reply = oneshot::Sender<Result<Acknowledgement, SubmitError>>;
type OrderReply = oneshot::Sender<Result<OrderAck, SubmitError>>;

/// A reply held until the log holds everything it acknowledges.
enum Waiter {
    Tx(Reply, Acknowledgement),
    Order(OrderReply, OrderAck),
    Import(oneshot::Sender<Result<ImportAck, SubmitError>>, ImportAck),
}

struct Waiting {
    waiter: Waiter,
    block_number: u64,
    received: Instant,
}

impl Waiting {
    fn release(self) {
        metrics::histogram!("straddle_ack_latency_seconds")
            .record(self.received.elapsed().as_secs_f64());
        match self.waiter {
            Waiter::Tx(reply, ack) => {
                let _ = reply.send(Ok(ack));
            }
            Waiter::Order(reply, ack) => {
                let _ = reply.send(Ok(ack));
            }
            Waiter::Import(reply, ack) => {
                let _ = reply.send(Ok(ack));
            }
        }
    }
}

enum LogItem {
    Records {
        bytes: Vec<u8>,
        acks: Vec<Waiting>,
        events: Vec<MarketEvent>,
    },
    Seal(Box<SealedBlock>),
}

/// Work for the sealer, in admission order.
enum SealItem {
    /// A closed block to seal.
    Block(Box<ClosedBlock>),
    /// A proof against the head once every block closed before the request is sealed;
    /// admission supplies the leaf's value as of the last of those blocks.
    Proof {
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        reply: oneshot::Sender<ProofSnapshot>,
    },
}

/// State shared with the RPC layer.
pub struct Shared {
    /// Last block committed to the database.
    pub committed_head: RwLock<(BlockHeader, B256)>,
    /// Its number, for lock-free reads.
    pub committed_number: AtomicU64,
    /// Highest block a batch on L1 carries (set by derivation; 0 without one).
    pub safe_number: AtomicU64,
    /// Highest block a batch in a finalized L1 block carries.
    pub finalized_number: AtomicU64,

    /// New committed blocks.
    pub blocks: broadcast::Sender<Arc<BlockEvent>>,
    /// Market data (book updates, trades, order updates), published once durable.
    pub market: broadcast::Sender<Arc<Vec<MarketEvent>>>,
}

/// Handle to the running pipeline.
pub struct Sequencer {
    commands: Option<SyncSender<Command>>,
    domain: Domain,
    threads: Vec<JoinHandle<()>>,
    /// Shared state.
    pub shared: Arc<Shared>,
}

/// Wall-clock milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Stops the process after an unrecoverable failure: storage failed, so the in-memory
/// state has run ahead of what is durable and only a restart (which replays the log) is
/// safe; or the STF broke an invariant, and no block may be sealed from that state.
fn fatal(what: &str, error: &dyn std::fmt::Display) -> ! {
    tracing::error!(%error, "{what}; stopping so that recovery can replay the log");
    std::process::exit(70);
}

impl Sequencer {
    /// Starts the four threads on a recovered chain whose head is committed.
    pub fn start(
        chain: Chain,
        store: Arc<ChainStore>,
        wal: WalWriter,
        block_interval: Duration,
        role: Role,
    ) -> Sequencer {
        let (blocks, _) = broadcast::channel(BLOCK_EVENTS_MAX);
        let (market, _) = broadcast::channel(MARKET_EVENTS_MAX);
        let shared = Arc::new(Shared {
            committed_head: RwLock::new((chain.tip.head.clone(), chain.tip.head_hash)),
            committed_number: AtomicU64::new(chain.tip.head.number),
            safe_number: AtomicU64::new(0),
            finalized_number: AtomicU64::new(0),

            blocks,
            market,
        });
        let (command_tx, command_rx) = sync_channel(ADMISSION_QUEUE_MAX);
        let (log_tx, log_rx) = sync_channel(LOG_QUEUE_MAX);
        let (seal_tx, seal_rx) = sync_channel(SEAL_QUEUE_MAX);
        let (db_tx, db_rx) = sync_channel(DB_QUEUE_MAX);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .unwrap_or_else(|e| fatal("cannot spawn thread", &e))
        };
        let db_shared = shared.clone();
        let log_shared = shared.clone();
        let Chain { state, tip } = chain;
        let domain = state.genesis.domain;
        let sealer_log = log_tx.clone();
        let threads = vec![
            spawn(
                "admission",
                Box::new(move || {
                    Admission::new(state, log_tx, seal_tx, block_interval, role).run(command_rx)
                }),
            ),
            spawn(
                "sealer",
                Box::new(move || {
                    run_in_background();
                    run_sealer(tip, seal_rx, sealer_log)
                }),
            ),
            spawn(
                "log",
                Box::new(move || run_log(wal, log_rx, db_tx, log_shared)),
            ),
            spawn(
                "database",
                Box::new(move || {
                    run_in_background();
                    run_database(store, db_rx, db_shared)
                }),
            ),
        ];
        Sequencer {
            commands: Some(command_tx),
            domain,
            threads,
            shared,
        }
    }

    fn send(&self, command: Command) -> Result<(), SubmitError> {
        let commands = self.commands.as_ref().ok_or(SubmitError::ShuttingDown)?;
        commands.try_send(command).map_err(|e| match e {
            TrySendError::Full(_) => SubmitError::Overloaded,
            TrySendError::Disconnected(_) => SubmitError::ShuttingDown,
        })
    }

    /// Submits a verified transaction; resolves once it is durable (or refused).
    pub async fn submit(&self, tx: AdmittedTx) -> Result<Acknowledgement, SubmitError> {
        self.submit_from(tx, false).await
    }

    async fn submit_from(
        &self,
        tx: AdmittedTx,
        from_l1: bool,
    ) -> Result<Acknowledgement, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Submit {
            tx: Box::new(tx),
            from_l1,
            received: Instant::now(),
            reply,
        })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// Includes a forced transaction seen on L1 (the node's L1 watcher is the only
    /// caller); resolves once it is durable (or refused: out of order).
    pub async fn include_forced(
        &self,
        forced: ForcedTransaction,
    ) -> Result<Acknowledgement, SubmitError> {
        let admitted = AdmittedTx {
            hash: forced.l1_hash(),
            sender: forced.sender,
            tx: Transaction::Forced(forced.clone()),
            verified: straddle_primitives::verify_forced(forced, &self.domain),
        };
        self.submit_from(admitted, true).await
    }

    /// Credits a deposit seen on L1 (the node's L1 watcher is the only caller); resolves
    /// once it is durable (or refused: out of order, or the supply would overflow).
    pub async fn credit_deposit(&self, deposit: Deposit) -> Result<Acknowledgement, SubmitError> {
        let tx = Transaction::Deposit(deposit);
        let admitted = AdmittedTx {
            hash: deposit.l1_hash(),
            sender: deposit.from,
            verified: VerifiedTransaction::Deposit(deposit),
            tx,
        };
        self.submit_from(admitted, true).await
    }

    /// Imports decided blocks in order (a batch derived from L1): the signatures of all
    /// their transactions are checked first, spread over the cores, then the blocks are
    /// executed one after the other and sealed. Resolves once they are in the log, or
    /// at the first block refused.
    pub async fn import_blocks(
        &self,
        blocks: Vec<BatchBlock>,
    ) -> Result<Vec<ImportAck>, SubmitError> {
        let received = Instant::now();
        let domain = self.domain;
        let checked = tokio::task::spawn_blocking(move || {
            let mut shape = Vec::with_capacity(blocks.len());
            let mut all = Vec::new();
            for block in blocks {
                shape.push((block.number, block.timestamp_ms, block.transactions.len()));
                all.extend(block.transactions);
            }
            let mut checked = CheckedTx::check_all(all, &domain).into_iter();
            shape
                .into_iter()
                .map(|(number, timestamp_ms, count)| CheckedBlock {
                    number,
                    timestamp_ms,
                    transactions: checked.by_ref().take(count).collect(),
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| SubmitError::ShuttingDown)?;
        let mut responses = Vec::with_capacity(checked.len());
        for block in checked {
            let (reply, response) = oneshot::channel();
            self.send(Command::Import {
                block: Box::new(block),
                received,
                reply,
            })?;
            responses.push(response);
        }
        let mut acks = Vec::with_capacity(responses.len());
        for response in responses {
            acks.push(response.await.map_err(|_| SubmitError::ShuttingDown)??);
        }
        Ok(acks)
    }

    /// Waits until block `number` is committed to the database; returns the committed
    /// head (number `number` or later) and its hash.
    pub async fn wait_committed(&self, number: u64) -> (BlockHeader, B256) {
        let mut blocks = self.shared.blocks.subscribe();
        while self.shared.committed_number.load(Ordering::Acquire) < number {
            // Re-check at least every 50 ms: the block may commit between the load
            // and the subscription's first receive.
            let _ = tokio::time::timeout(Duration::from_millis(50), blocks.recv()).await;
        }
        self.committed_head()
    }

    /// The chain's signing domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The finality of block `number`: `finalized`, `safe` (a batch on L1 carries it) or
    /// `soft`. Block 0 (genesis) is final.
    pub fn finality(&self, number: u64) -> straddle_rpc_api::Finality {
        use straddle_rpc_api::Finality;
        if number <= self.shared.finalized_number.load(Ordering::Acquire) {
            Finality::Finalized
        } else if number <= self.shared.safe_number.load(Ordering::Acquire) {
            Finality::Safe
        } else {
            Finality::Soft
        }
    }

    /// The last block committed to the database and its hash.
    pub fn committed_head(&self) -> (BlockHeader, B256) {
        match self.shared.committed_head.read() {
            Ok(head) => head.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Submits a signed order to the matching engine; resolves once every transaction it
    /// produced is durable (or when it is refused, with nothing changed).
    pub async fn place_order(
        &self,
        signed: SignedOrder,
        verified: VerifiedOrder,
    ) -> Result<OrderAck, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::PlaceOrder {
            signed: Box::new(signed),
            verified: Box::new(verified),
            received: Instant::now(),
            reply,
        })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// `market`'s book (best `levels` per side) and the update number it includes.
    pub async fn book(
        &self,
        market: u32,
        levels: usize,
    ) -> Result<Option<BookSnapshot>, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Book {
            market,
            levels,
            reply,
        })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)
    }

    /// `owner`'s resting orders.
    pub async fn open_orders(&self, owner: Address) -> Result<Vec<OrderUpdate>, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::OpenOrders { owner, reply })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)
    }

    /// The account including unsealed transactions.
    pub async fn account(&self, address: Address) -> Result<AccountSnapshot, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Account { address, reply })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)
    }

    /// Runs `query` on the sequencer's current state (including unsealed transactions).
    pub async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&ExecutionState) -> T + Send + 'static,
    ) -> Result<T, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Read(Box::new(move |state| {
            let _ = reply.send(query(state));
        })))?;
        response.await.map_err(|_| SubmitError::ShuttingDown)
    }

    /// A proof of a state key against a sealed block: the head, or, while executed
    /// transactions are unsealed, the block that seals them (at most one block interval
    /// later).
    pub async fn proof(&self, key: StateKey) -> Result<ProofSnapshot, SubmitError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Proof { key, reply })?;
        response.await.map_err(|_| SubmitError::ShuttingDown)
    }

    /// Seals what is pending, drains every queue and waits for the threads.
    pub fn stop(mut self) {
        self.commands.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

struct OpenBlock {
    context: BlockContext,
    deadline: Instant,
    transactions: Vec<StoredTx>,
}

/// What the pipeline admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Users' transactions and orders; blocks are cut every interval.
    Sequencer,
    /// Only blocks derived from L1 ([`Sequencer::import_blocks`]).
    Follower,
}

struct Admission {
    state: ExecutionState,
    role: Role,
    /// The order books, over `state`.
    engine: Engine,
    log: SyncSender<LogItem>,
    sealer: SyncSender<SealItem>,
    interval: Duration,
    open: Option<OpenBlock>,
    framed: Vec<u8>,
    acks: Vec<Waiting>,
    /// Market events to publish with the next flush.
    events: Vec<MarketEvent>,
    /// Proof requests waiting for the open block to close: only then is the ledger's
    /// value of a leaf the value under a root the sealer will have.
    pending_proofs: Vec<(StateKey, oneshot::Sender<ProofSnapshot>)>,
}

impl Admission {
    fn new(
        state: ExecutionState,
        log: SyncSender<LogItem>,
        sealer: SyncSender<SealItem>,
        interval: Duration,
        role: Role,
    ) -> Admission {
        let engine = Engine::from_ledger(&state.ledger, now_ms());
        Admission {
            state,
            role,
            engine,
            log,
            sealer,
            interval,
            open: None,
            framed: Vec::new(),
            acks: Vec::new(),
            events: Vec::new(),
            pending_proofs: Vec::new(),
        }
    }

    fn run(mut self, commands: Receiver<Command>) {
        loop {
            let wait = self.open.as_ref().map_or(self.interval, |b| {
                b.deadline.saturating_duration_since(Instant::now())
            });
            match commands.recv_timeout(wait) {
                Ok(command) => {
                    self.handle(command);
                    for command in commands.try_iter().take(GROUP_COMMIT_MAX - 1) {
                        self.handle(command);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.seal();
                    return;
                }
            }
            self.flush();
            if self
                .open
                .as_ref()
                .is_some_and(|b| Instant::now() >= b.deadline)
            {
                self.seal();
            }
        }
    }

    fn handle(&mut self, command: Command) {
        if self.role == Role::Follower {
            match command {
                Command::Submit { reply, .. } => {
                    let _ = reply.send(Err(SubmitError::Follower));
                    return;
                }
                Command::PlaceOrder { reply, .. } => {
                    let _ = reply.send(Err(SubmitError::Follower));
                    return;
                }
                _ => {}
            }
        }
        match command {
            Command::Import {
                block,
                received,
                reply,
            } => self.import(*block, received, reply),
            Command::Submit {
                tx,
                from_l1,
                received,
                reply,
            } => self.submit(*tx, from_l1, received, reply),
            Command::Account { address, reply } => {
                let account = self
                    .state
                    .ledger
                    .account(&address)
                    .cloned()
                    .unwrap_or_default();
                let pending_block = self
                    .open
                    .as_ref()
                    .map_or(self.state.last_block_number, |b| b.context.number);
                let clearinghouse = self.state.ledger.clearinghouse();
                let stored = clearinghouse.portfolio(&address);
                // Normalise once: the risk is computed on the settled view shown.
                let (portfolio, risk) = match clearinghouse.normalized(&stored) {
                    Ok((settled, _)) => {
                        let risk = clearinghouse.risk_of_normalized(&settled).ok();
                        (settled, risk)
                    }
                    Err(_) => (stored, None),
                };
                let liquidation_index = risk
                    .as_ref()
                    .and_then(|risk| estimate_liquidation_index(&self.state, &portfolio, risk));
                let marks = portfolio
                    .positions
                    .iter()
                    .map(|p| {
                        clearinghouse
                            .market(p.market)
                            .and_then(|m| m.vector.as_ref())
                            .map(|v| (v.mark_nano / 1_000) as u64)
                    })
                    .collect();
                let _ = reply.send(AccountSnapshot {
                    account,
                    portfolio,
                    risk,
                    liquidation_index,
                    marks,
                    pending_block,
                });
            }
            Command::Read(query) => query(&self.state),
            Command::PlaceOrder {
                signed,
                verified,
                received,
                reply,
            } => self.place_order(&signed, *verified, received, reply),
            Command::Book {
                market,
                levels,
                reply,
            } => {
                // Publish pending updates first, so the snapshot's number is exact.
                self.collect_book_updates();
                let _ = reply.send(self.engine.snapshot(&self.state.ledger, market, levels));
            }
            Command::OpenOrders { owner, reply } => {
                let _ = reply.send(self.open_orders(owner));
            }
            Command::Proof { key, reply } => {
                self.pending_proofs.push((key, reply));
                if self.open.as_ref().is_none_or(|b| b.transactions.is_empty()) {
                    self.answer_proofs();
                }
            }
        }
    }

    fn submit(&mut self, tx: AdmittedTx, from_l1: bool, received: Instant, reply: Reply) {
        let result = match &tx.verified {
            VerifiedTransaction::Deposit(_)
            | VerifiedTransaction::Forced { .. }
            | VerifiedTransaction::Undecodable
                if !from_l1 =>
            {
                Err(SubmitError::L1Only)
            }
            VerifiedTransaction::MatchPlaced { .. } => Err(SubmitError::EngineOnly(
                "matches against placed orders are made by the sequencer's matching engine: send the taker with straddle_placeOrder",
            )),
            VerifiedTransaction::PlaceOrder(_) => Err(SubmitError::EngineOnly(
                "single orders go through the matching engine: send them with straddle_placeOrder",
            )),
            VerifiedTransaction::PlaceOrders { .. } => self.replace_quotes(tx),
            _ => match self.execute(tx) {
                Ok((ack, verified)) => {
                    self.observe(&verified);
                    Ok(ack)
                }
                Err(error) => Err(SubmitError::Rejected(error)),
            },
        };
        match result {
            Ok(ack) => self.acks.push(Waiting {
                block_number: ack.block_number,
                waiter: Waiter::Tx(reply, ack),
                received,
            }),
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Executes a derived block as it is: a transaction the STF refuses (or whose
    /// signature does not verify) stays in the block and changes nothing. The block is
    /// closed at once with the batch's timestamp.
    fn import(
        &mut self,
        block: CheckedBlock,
        received: Instant,
        reply: oneshot::Sender<Result<ImportAck, SubmitError>>,
    ) {
        self.seal();
        let parent = (
            self.state.last_block_number,
            self.state.last_block_timestamp_ms,
        );
        if let Err(fault) = block_follows(parent, block.number, block.timestamp_ms) {
            let _ = reply.send(Err(SubmitError::BlockRefused(fault)));
            return;
        }
        let context = BlockContext {
            number: block.number,
            timestamp_ms: block.timestamp_ms,
        };
        frame_block_open(&mut self.framed, block.number, block.timestamp_ms);
        let mut transactions = Vec::with_capacity(block.transactions.len());
        let mut refused = Vec::new();
        for (index, tx) in block.transactions.into_iter().enumerate() {
            frame_tx(&mut self.framed, &tx.transaction().encode());
            let (stored, outcome) = self.state.execute_checked(tx, &context);
            match outcome {
                Ok(verified) => self.observe(&verified),
                Err(reason) => {
                    tracing::warn!(block = block.number, index, %reason, "derived transaction refused; it changes nothing");
                    refused.push(index as u32);
                }
            }
            transactions.push(stored);
        }
        let closed = self
            .state
            .close_block(block.number, block.timestamp_ms, transactions)
            .unwrap_or_else(|violation| {
                fatal("an invariant broke; the block is not sealed", &violation)
            });
        self.sweep(block.timestamp_ms);
        self.acks.push(Waiting {
            block_number: block.number,
            waiter: Waiter::Import(
                reply,
                ImportAck {
                    number: block.number,
                    refused,
                },
            ),
            received,
        });
        self.send_to_sealer(SealItem::Block(Box::new(closed)));
        self.answer_proofs();
    }

    /// The block being built, opened if there is none.
    fn open_block(&mut self) -> &mut OpenBlock {
        open_block(&mut self.open, &self.state, self.interval)
    }

    /// Executes one transaction in the open block and frames it for the log; nothing
    /// changes when the STF refuses it. Returns its acknowledgement and, for the caller
    /// to act on, its verified form (the transaction itself joins the block).
    fn execute(
        &mut self,
        tx: AdmittedTx,
    ) -> Result<(Acknowledgement, VerifiedTransaction), TxError> {
        let context = self.open_block().context;
        let outcome = self.state.execute(&tx, &context).inspect_err(|error| {
            metrics::counter!("straddle_tx_rejected_total", "reason" => error.name()).increment(1);
        })?;
        let open = open_block(&mut self.open, &self.state, self.interval);
        if open.transactions.is_empty() {
            frame_block_open(
                &mut self.framed,
                open.context.number,
                open.context.timestamp_ms,
            );
        }
        frame_tx(&mut self.framed, &tx.tx.encode());
        let ack = Acknowledgement {
            tx_hash: tx.hash,
            sender: tx.sender,
            block_number: open.context.number,
            index: open.transactions.len() as u32,
            withdrawal_index: outcome.withdrawal_index,
        };
        let (stored, verified) = tx.split();
        open.transactions.push(stored);
        Ok((ack, verified))
    }

    fn flush(&mut self) {
        self.collect_book_updates();
        if self.framed.is_empty() && self.events.is_empty() {
            return;
        }
        let item = LogItem::Records {
            bytes: std::mem::take(&mut self.framed),
            acks: std::mem::take(&mut self.acks),
            events: std::mem::take(&mut self.events),
        };
        if self.log.send(item).is_err() {
            fatal("log thread stopped", &"channel closed");
        }
    }

    fn seal(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.transactions.is_empty() {
            self.answer_proofs();
            return;
        }
        let started = Instant::now();
        let closed = self
            .state
            .close_block(
                open.context.number,
                open.context.timestamp_ms,
                open.transactions,
            )
            .unwrap_or_else(|violation| {
                fatal("an invariant broke; the block is not sealed", &violation)
            });
        self.sweep(open.context.timestamp_ms);
        metrics::histogram!("straddle_block_close_seconds").record(started.elapsed().as_secs_f64());
        self.send_to_sealer(SealItem::Block(Box::new(closed)));
        self.answer_proofs();
    }

    /// Hands the waiting proof requests to the sealer with the leaves' current values.
    /// Called only when no executed transaction is unsealed, so those values are the
    /// ones under the root the sealer holds when it reaches the request.
    fn answer_proofs(&mut self) {
        for (key, reply) in std::mem::take(&mut self.pending_proofs) {
            let value = self.state.ledger.leaf_value(&key);
            self.send_to_sealer(SealItem::Proof {
                key: key.encode(),
                value,
                reply,
            });
        }
    }

    fn send_to_sealer(&self, item: SealItem) {
        if self.sealer.send(item).is_err() {
            fatal("sealer thread stopped", &"channel closed");
        }
    }
}

/// Lowers the calling thread's scheduling priority (Linux nice value
/// [`BACKGROUND_NICE`]). Sealing and database commits are off the acknowledgement path;
/// when the cores are busy they should yield to admission, the log and the RPC workers,
/// whose delays are what a trader sees. Their bounded queues still hold them back from
/// falling behind for long: a full queue stalls admission, which frees the cores.
fn run_in_background() {
    // SAFETY: `setpriority` with `PRIO_PROCESS` and a thread id only changes that
    // thread's nice value; failure (not permitted, other platforms) leaves it unchanged.
    #[cfg(target_os = "linux")]
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE) != 0 {
            tracing::debug!("could not lower the priority of a background thread");
        }
    }
}

/// Seals closed blocks in order and hands them to the log (after the records of their
/// transactions, which admission sent before closing the block); serves proofs.
fn run_sealer(mut tip: Tip, items: Receiver<SealItem>, log: SyncSender<LogItem>) {
    while let Ok(item) = items.recv() {
        match item {
            SealItem::Block(closed) => {
                let started = Instant::now();
                let sealed = tip.seal(*closed);
                metrics::histogram!("straddle_block_seal_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("straddle_blocks_sealed_total").increment(1);
                if log.send(LogItem::Seal(Box::new(sealed))).is_err() {
                    fatal("log thread stopped", &"channel closed");
                }
            }
            SealItem::Proof { key, value, reply } => {
                let proof = tip.tree.prove(&straddle_state::key_hash(&key));
                let _ = reply.send(ProofSnapshot {
                    block_number: tip.head.number,
                    state_root: tip.head.state_root,
                    key,
                    value,
                    proof,
                });
            }
        }
    }
}

/// The block being built in `open`, opened after `state`'s last closed block if there is none.
fn open_block<'a>(
    open: &'a mut Option<OpenBlock>,
    state: &ExecutionState,
    interval: Duration,
) -> &'a mut OpenBlock {
    open.get_or_insert_with(|| OpenBlock {
        context: BlockContext {
            number: state.last_block_number + 1,
            timestamp_ms: now_ms().max(state.last_block_timestamp_ms),
        },
        deadline: Instant::now() + interval,
        transactions: Vec::new(),
    })
}

/// Display-only estimate of the index level at which an account's equity falls to its
/// maintenance margin: along the volatility-unchanged spot scenarios of the margin grid,
/// the first crossing of `equity + P&L(s) = maintenance` nearest to the current index,
/// linearly interpolated, holding the requirement fixed. `None` when the positions span
/// several underlyings or no crossing lies within the regular shock range.
fn estimate_liquidation_index(
    chain: &ExecutionState,
    portfolio: &straddle_exchange::clearinghouse::Portfolio,
    risk: &straddle_exchange::clearinghouse::AccountRisk,
) -> Option<u64> {
    let clearinghouse = chain.ledger.clearinghouse();
    let mut underlyings = portfolio
        .positions
        .iter()
        .filter_map(|p| clearinghouse.market(p.market).map(|m| m.spec.underlying));
    let first = underlyings.next()?;
    if underlyings.any(|u| u != first) {
        return None;
    }
    let underlying = chain.ledger.underlying(first)?;
    let index = underlying.oracle.index_micro_usdc as f64;
    let cushion = |pnl_femto: i128| {
        (risk.equity as f64 + pnl_femto as f64 / 1e9) - risk.margin.maintenance as f64
    };
    // Vol-unchanged scenarios are 3·step + 1, step 0…8 (shock −S … +S).
    let point = |step: usize| {
        let shock = underlying.grid.scenarios[3 * step + 1].spot_shock_ppm as f64 / 1e6;
        (shock, cushion(risk.margin.scenario_pnl_femto[3 * step + 1]))
    };
    let (_, now) = point(4);
    if now < 0.0 {
        return Some(index as u64);
    }
    let crossing = |from: usize, to: usize| -> Option<f64> {
        let (s0, c0) = point(from);
        let (s1, c1) = point(to);
        (c1 < 0.0).then(|| s0 + (s1 - s0) * c0 / (c0 - c1))
    };
    for distance in 1..=4 {
        let down = crossing(4 - distance + 1, 4 - distance);
        let up = crossing(4 + distance - 1, 4 + distance);
        if let Some(shock) = down.or(up) {
            return Some((index * (1.0 + shock)).max(0.0) as u64);
        }
    }
    None
}

fn run_log(
    mut wal: WalWriter,
    items: Receiver<LogItem>,
    db: SyncSender<SealedBlock>,
    shared: Arc<Shared>,
) {
    let mut seals = Vec::new();
    let mut bytes = Vec::new();
    let mut acks = Vec::new();
    let mut events = Vec::new();
    while let Ok(first) = items.recv() {
        // Group every item already queued behind the first into one write and one fsync.
        for item in std::iter::once(first).chain(items.try_iter().take(LOG_QUEUE_MAX)) {
            match item {
                LogItem::Records {
                    bytes: framed,
                    acks: group,
                    events: published,
                } => {
                    if bytes.is_empty()
                        && !framed.is_empty()
                        && let Err(e) = wal.maybe_rotate(first_block_of(&group, &shared))
                    {
                        fatal("cannot rotate the write-ahead log", &e);
                    }
                    bytes.extend_from_slice(&framed);
                    acks.extend(group);
                    events.extend(published);
                }
                LogItem::Seal(block) => {
                    // A seal must not overtake the records of its own block.
                    sync_group(&mut wal, &mut bytes, &mut acks, &mut events, &shared);
                    seals.push(*block);
                }
            }
        }
        sync_group(&mut wal, &mut bytes, &mut acks, &mut events, &shared);
        for block in seals.drain(..) {
            if db.send(block).is_err() {
                fatal("database thread stopped", &"channel closed");
            }
        }
        if let Err(e) = wal.prune(shared.committed_number.load(Ordering::Acquire)) {
            tracing::warn!(error = %e, "could not delete an old log segment");
        }
    }
}

fn first_block_of(group: &[Waiting], shared: &Shared) -> u64 {
    group.first().map_or(
        shared.committed_number.load(Ordering::Acquire) + 1,
        |waiting| waiting.block_number,
    )
}

/// Writes and syncs the group, then releases its replies and publishes its market
/// events: nothing is acknowledged or shown before it is on disk.
fn sync_group(
    wal: &mut WalWriter,
    bytes: &mut Vec<u8>,
    acks: &mut Vec<Waiting>,
    events: &mut Vec<MarketEvent>,
    shared: &Shared,
) {
    if !bytes.is_empty() {
        let started = Instant::now();
        if let Err(e) = wal.append_and_sync(bytes) {
            fatal("cannot write the write-ahead log", &e);
        }
        metrics::histogram!("straddle_wal_fsync_seconds").record(started.elapsed().as_secs_f64());
        bytes.clear();
    }
    metrics::counter!("straddle_tx_accepted_total").increment(acks.len() as u64);
    for waiting in acks.drain(..) {
        waiting.release();
    }
    if !events.is_empty() {
        let _ = shared.market.send(Arc::new(std::mem::take(events)));
    }
}

fn run_database(store: Arc<ChainStore>, blocks: Receiver<SealedBlock>, shared: Arc<Shared>) {
    while let Ok(block) = blocks.recv() {
        let started = Instant::now();
        if let Err(e) = store.commit_block(&block, None) {
            fatal("cannot commit a block", &e);
        }
        metrics::histogram!("straddle_block_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("straddle_head_block").set(block.header.number as f64);
        metrics::counter!("straddle_block_transactions_total")
            .increment(block.transactions.len() as u64);
        tracing::debug!(number = block.header.number, txs = block.transactions.len(), root = %block.header.state_root, "block committed");
        let event = Arc::new(block_event(&block));
        if let Ok(mut head) = shared.committed_head.write() {
            *head = (block.header.clone(), block.hash);
        }
        shared
            .committed_number
            .store(block.header.number, Ordering::Release);
        let _ = shared.blocks.send(event);
    }
}

fn block_event(block: &SealedBlock) -> BlockEvent {
    let portfolios = block
        .changes
        .iter()
        .filter_map(|change| match StateKey::decode(&change.key) {
            Ok(StateKey::Portfolio(address)) => Some(address),
            _ => None,
        })
        .collect();
    let accounts = block
        .changes
        .iter()
        .filter_map(
            |change| match (StateKey::decode(&change.key), &change.value) {
                (Ok(StateKey::Account(address)), Some(value)) => {
                    straddle_exchange::ledger::decode_account(value)
                        .ok()
                        .map(|account| (address, account))
                }
                _ => None,
            },
        )
        .collect();
    BlockEvent {
        header: block.header.clone(),
        hash: block.hash,
        transactions: block.transactions.iter().map(|tx| tx.hash).collect(),
        accounts,
        portfolios,
    }
}
