//! The sequencer pipeline: four threads joined by bounded channels, one module each
//! (`admission` with its order matching in `orders`, `sealer`, `log`, `database`).
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

mod admission;
mod database;
mod log;
mod orders;
mod sealer;

use admission::Admission;
use database::run_database;
use log::run_log;
use sealer::{run_in_background, run_sealer};

use straddle_rpc_api::{MarketEvent, OrderAck, OrderUpdate};

use crate::clock::Clock;
use crate::engine::{Engine, EngineError};
use alloy_primitives::{Address, B256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
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
    /// The last L1 block derivation has read completely (0: none yet).
    pub derived_l1_block: AtomicU64,
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
        clock: Arc<dyn Clock>,
    ) -> Sequencer {
        let (blocks, _) = broadcast::channel(BLOCK_EVENTS_MAX);
        let (market, _) = broadcast::channel(MARKET_EVENTS_MAX);
        let shared = Arc::new(Shared {
            committed_head: RwLock::new((chain.tip.head.clone(), chain.tip.head_hash)),
            committed_number: AtomicU64::new(chain.tip.head.number),
            safe_number: AtomicU64::new(0),
            derived_l1_block: AtomicU64::new(0),
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
                    Admission::new(state, log_tx, seal_tx, block_interval, role, clock)
                        .run(command_rx)
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

/// What the pipeline admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Users' transactions and orders; blocks are cut every interval.
    Sequencer,
    /// Only blocks derived from L1 ([`Sequencer::import_blocks`]).
    Follower,
}
