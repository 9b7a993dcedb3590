//! The Straddle sequencer node: recovery (database + write-ahead log), the admission / log
//! / database pipeline, the JSON-RPC and WebSocket server, and Prometheus metrics.

pub mod clock;
pub mod deposits;
pub mod derivation;
pub mod engine;
mod errors;
pub mod rpc;
pub mod sequencer;

pub use crate::sequencer::Role;
use crate::sequencer::Sequencer;
use clock::{Clock, SystemClock};
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use straddle_chain::{Chain, ChainError, Recovered, ReplayRule};
use straddle_exchange::Genesis;
use straddle_rpc_api::StraddleApiServer;
use straddle_storage::chain_store::ChainStore;
use straddle_storage::wal::FsDisk;

/// Largest JSON-RPC request body accepted, in bytes.
pub const RPC_REQUEST_BYTES_MAX: u32 = 64 * 1024;
/// Most concurrent RPC connections.
pub const RPC_CONNECTIONS_MAX: u32 = 1_024;
/// Default block interval.
pub const BLOCK_INTERVAL_DEFAULT: Duration = Duration::from_millis(100);

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Directory of the database and the write-ahead log.
    pub data_dir: PathBuf,
    /// The chain's genesis.
    pub genesis: Genesis,
    /// JSON-RPC (HTTP + WS) listen address; port 0 picks a free port.
    pub rpc_addr: SocketAddr,
    /// How often a block with pending transactions is sealed.
    pub block_interval: Duration,
    /// The L1 Portal whose deposits this node credits (none: no deposits). A sequencer
    /// only.
    pub deposits: Option<deposits::DepositSource>,
    /// Sequencer, or follower of L1.
    pub role: Role,
    /// The L1 contracts to derive from: a follower executes the batches found there, a
    /// sequencer checks them against its own blocks. Either way they set the `safe` and
    /// `finalized` heads. Required for a follower.
    pub derivation: Option<derivation::L1Source>,
}

/// Errors starting a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chain could not be opened or recovered.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The configuration cannot work (a follower without L1, or one that takes deposits).
    #[error("configuration: {0}")]
    Config(&'static str),
    /// The data directory or the RPC socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A running node.
pub struct Node {
    sequencer: Arc<Sequencer>,
    server: ServerHandle,
    deposit_watcher: Option<tokio::task::JoinHandle<()>>,
    derivation: Option<tokio::task::JoinHandle<()>>,
    /// Where the RPC server listens.
    pub rpc_addr: SocketAddr,
}

impl Node {
    /// Recovers the chain (database, then every block still only in the log), then starts
    /// the pipeline and the RPC server; blocks are stamped with the system clock.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        Node::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Node::start`] with blocks stamped by `clock` (tests and simulations set time).
    pub async fn start_with_clock(
        config: NodeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Node, NodeError> {
        if config.role == Role::Follower {
            if config.derivation.is_none() {
                return Err(NodeError::Config(
                    "a follower needs the L1 contracts to derive from",
                ));
            }
            if config.deposits.is_some() {
                return Err(NodeError::Config(
                    "a follower takes deposits from batches, not from the Portal directly",
                ));
            }
        }
        let replay_rule = match config.role {
            Role::Sequencer => ReplayRule::EverySucceeds,
            Role::Follower => ReplayRule::RefusedChangesNothing,
        };
        std::fs::create_dir_all(&config.data_dir)?;
        let started = Instant::now();
        let store = Arc::new(ChainStore::open(&config.data_dir).map_err(ChainError::from)?);
        let wal_disk = Arc::new(FsDisk::new(&config.data_dir.join("wal")));
        let Recovered {
            chain,
            wal: writer,
            replayed,
        } = Chain::recover(&store, &config.genesis, wal_disk, replay_rule)?;
        tracing::info!(
            head = chain.tip.head.number,
            root = %chain.tip.head.state_root,
            replayed_txs = replayed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "chain recovered"
        );
        metrics::gauge!("straddle_head_block").set(chain.tip.head.number as f64);
        let sequencer = Arc::new(Sequencer::start(
            chain,
            store.clone(),
            writer,
            config.block_interval,
            config.role,
            clock,
        ));

        let server_config = ServerConfig::builder()
            .max_request_body_size(RPC_REQUEST_BYTES_MAX)
            .max_connections(RPC_CONNECTIONS_MAX)
            .build();
        let server = Server::builder()
            .set_config(server_config)
            .build(config.rpc_addr)
            .await?;
        let rpc_addr = server.local_addr()?;
        let handler =
            rpc::RpcHandler::new(sequencer.clone(), store.clone(), config.genesis.clone());
        let server = server.start(handler.into_rpc());
        tracing::info!(%rpc_addr, "JSON-RPC listening (HTTP and WebSocket)");
        let deposit_watcher = config.deposits.map(|source| {
            tracing::info!(portal = %source.portal, l1 = %source.l1_rpc, "crediting L1 deposits");
            tokio::spawn(deposits::watch(source, sequencer.clone()))
        });
        let derivation = config.derivation.map(|source| {
            let mode = match config.role {
                Role::Sequencer => derivation::Mode::Check,
                Role::Follower => derivation::Mode::Execute,
            };
            tracing::info!(inbox = %source.inbox, l1 = %source.l1_rpc, ?mode, "deriving from L1");
            tokio::spawn(straddle_derive::run(source, mode, sequencer.clone(), store))
        });
        Ok(Node {
            sequencer,
            server,
            deposit_watcher,
            derivation,
            rpc_addr,
        })
    }

    /// The sequencer (in-process reads and L1-originated submissions).
    pub fn sequencer(&self) -> &Sequencer {
        &self.sequencer
    }

    /// The HTTP URL of the RPC server.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    /// The WebSocket URL of the RPC server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc_addr)
    }

    /// Stops accepting requests, seals and commits what is pending, then returns.
    pub async fn stop(self) {
        for task in [self.deposit_watcher, self.derivation]
            .into_iter()
            .flatten()
        {
            task.abort();
            let _ = task.await;
        }
        let _ = self.server.stop();
        self.server.stopped().await;
        let mut sequencer = self.sequencer;
        // In-flight handlers hold clones briefly; wait for them to finish.
        let sequencer = loop {
            match Arc::try_unwrap(sequencer) {
                Ok(sequencer) => break sequencer,
                Err(shared) => {
                    sequencer = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        let _ = tokio::task::spawn_blocking(move || sequencer.stop()).await;
    }
}
