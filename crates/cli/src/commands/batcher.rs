//! `straddle batcher`: posts the sequencer's blocks to the L1 BatchInbox in the batch
//! format of `docs/spec/batches.md`, as blobs or calldata, resuming after what L1 holds.

use crate::support::{
    BlobSourceArgs, LogFormat, init_logging, load_genesis, parse_l1_key, until_stopped,
};
use alloy_primitives::Address;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// `straddle batcher`.
#[derive(Args)]
pub(crate) struct BatcherArgs {
    /// The sequencer's JSON-RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9545")]
    l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    #[arg(long)]
    l1_rpc: String,
    /// The L1 BatchInbox contract.
    #[arg(long)]
    inbox: Address,
    /// The batcher's L1 private key (hex), the inbox's `batcher`.
    #[arg(long, env = "STRADDLE_BATCHER_KEY", hide_env_values = true)]
    l1_key: String,
    /// The inbox's deployment block.
    #[arg(long, default_value_t = 0)]
    l1_start_block: u64,
    /// Genesis file (default: the devnet genesis).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Largest batch, bytes (at most 761 852, six blobs; calldata batches at most
    /// 120 000, the inbox's limit).
    #[arg(long, default_value_t = straddle_batcher::BATCH_BYTES_MAX)]
    batch_bytes_max: usize,
    /// Where batches go: the cheaper of blobs and calldata at current L1 fees, or always
    /// one of them.
    #[arg(long, value_enum, default_value = "cheapest")]
    da: DaArg,
    /// Time between rounds when everything is posted, milliseconds.
    #[arg(long, default_value_t = 1_000)]
    poll_ms: u64,
    #[command(flatten)]
    blobs: BlobSourceArgs,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum DaArg {
    Cheapest,
    Blobs,
    Calldata,
}

/// Runs the batcher until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: BatcherArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    let key = parse_l1_key(&args.l1_key)?;
    eyre::ensure!(
        (1..=straddle_batcher::BATCH_BYTES_MAX).contains(&args.batch_bytes_max),
        "--batch-bytes-max must be 1..={}",
        straddle_batcher::BATCH_BYTES_MAX
    );
    let data_availability = match args.da {
        DaArg::Cheapest => straddle_batcher::DataAvailability::Cheapest,
        DaArg::Blobs => straddle_batcher::DataAvailability::Blobs,
        DaArg::Calldata => straddle_batcher::DataAvailability::Calldata,
    };
    let genesis = load_genesis(args.genesis.as_ref())?;
    let batcher = straddle_batcher::Batcher::new(straddle_batcher::BatcherConfig {
        l2_rpc: args.l2_rpc,
        l1_rpc: args.l1_rpc,
        beacon_api: args.blobs.beacon_api,
        key,
        inbox: args.inbox,
        l1_start_block: args.l1_start_block,
        domain: genesis.domain,
        batch_bytes_max: args.batch_bytes_max,
        data_availability,
        poll_interval: Duration::from_millis(args.poll_ms.max(10)),
    })?;
    println!("straddle batcher ready: posting to inbox {}", args.inbox);
    until_stopped(batcher.run()).await?;
    tracing::info!("batcher stopped");
    Ok(())
}
