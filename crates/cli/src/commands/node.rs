//! `straddle node`: a sequencer, or with `--follow` a follower that rebuilds the chain
//! from the batches and deposits on L1 (`docs/spec/settlement.md`, `docs/spec/batches.md`
//! §6), serving JSON-RPC over HTTP and WebSocket (`docs/spec/rpc.md`) and Prometheus
//! metrics.

use crate::support::{BlobSourceArgs, LogFormat, init_logging, load_genesis, until_stopped};
use alloy_primitives::Address;
use clap::Args;
use eyre::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use straddle_sequencer::{Node, NodeConfig, Role};

/// `straddle node`.
#[derive(Args)]
pub(crate) struct NodeArgs {
    /// Database and write-ahead log directory.
    #[arg(long, default_value = ".straddle/node")]
    data_dir: PathBuf,
    /// Genesis file (default: the devnet genesis).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// JSON-RPC listen address (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1:9545")]
    rpc_addr: SocketAddr,
    /// Prometheus metrics listen address.
    #[arg(long, default_value = "127.0.0.1:9100")]
    metrics_addr: SocketAddr,
    /// Do not serve metrics.
    #[arg(long)]
    no_metrics: bool,
    /// Block interval in milliseconds.
    #[arg(long, default_value_t = 100)]
    block_interval_ms: u64,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Follow L1 instead of sequencing: rebuild the chain from the batches and deposits
    /// on L1 (needs --l1-rpc, --portal and --inbox); the node then refuses submissions.
    #[arg(long, requires_all = ["l1_rpc", "portal", "inbox"])]
    follow: bool,
    #[command(flatten)]
    l1: L1Args,
}

/// The L1 contracts the node reads.
#[derive(Args)]
struct L1Args {
    /// L1 JSON-RPC endpoint (HTTP); with --portal, a sequencer credits the Portal's
    /// deposits; with --inbox, it reports which blocks are safe and finalized on L1.
    #[arg(long)]
    l1_rpc: Option<String>,
    /// The L1 Portal contract.
    #[arg(long, requires = "l1_rpc")]
    portal: Option<Address>,
    /// The L1 BatchInbox contract.
    #[arg(long, requires = "l1_rpc")]
    inbox: Option<Address>,
    /// First L1 block to scan for deposits (the Portal's deployment block).
    #[arg(long, default_value_t = 0)]
    l1_start_block: u64,
    /// L1 blocks a deposit must be buried under before it is credited.
    #[arg(long, default_value_t = 0)]
    l1_confirmations: u64,
    /// How often L1 is polled, milliseconds.
    #[arg(long, default_value_t = 500)]
    l1_poll_ms: u64,
    #[command(flatten)]
    blobs: BlobSourceArgs,
}

impl L1Args {
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.l1_poll_ms.max(10))
    }

    fn deposits(&self) -> Option<straddle_sequencer::deposits::DepositSource> {
        Some(straddle_sequencer::deposits::DepositSource {
            l1_rpc: self.l1_rpc.clone()?,
            portal: self.portal?,
            start_block: self.l1_start_block,
            confirmations: self.l1_confirmations,
            poll_interval: self.poll_interval(),
        })
    }

    fn derivation(&self) -> Option<straddle_sequencer::derivation::L1Source> {
        Some(straddle_sequencer::derivation::L1Source {
            l1_rpc: self.l1_rpc.clone()?,
            beacon_api: self.blobs.beacon_api.clone(),
            portal: self.portal?,
            inbox: self.inbox?,
            start_block: self.l1_start_block,
            poll_interval: self.poll_interval(),
        })
    }
}

/// Runs the node until Ctrl-C or SIGTERM, then seals what is pending and stops.
pub(crate) async fn run(args: NodeArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    if !args.no_metrics {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(args.metrics_addr)
            .install()
            .wrap_err_with(|| format!("cannot serve metrics on {}", args.metrics_addr))?;
        tracing::info!(addr = %args.metrics_addr, "Prometheus metrics at /metrics");
    }
    let genesis = load_genesis(args.genesis.as_ref())?;
    let node = Node::start(NodeConfig {
        data_dir: args.data_dir,
        genesis,
        rpc_addr: args.rpc_addr,
        block_interval: Duration::from_millis(args.block_interval_ms.max(1)),
        deposits: if args.follow {
            None
        } else {
            args.l1.deposits()
        },
        role: if args.follow {
            Role::Follower
        } else {
            Role::Sequencer
        },
        derivation: args.l1.derivation(),
    })
    .await?;
    println!(
        "straddle {} ready: rpc {} (HTTP and WebSocket)",
        if args.follow { "follower" } else { "node" },
        node.http_url()
    );
    until_stopped(std::future::pending()).await?;
    tracing::info!("shutting down: sealing pending transactions");
    node.stop().await;
    tracing::info!("stopped cleanly");
    Ok(())
}
