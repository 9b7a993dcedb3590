//! `straddle proposer`: proposes the L2 safe head's output root to the L1
//! OutputRegistry on an interval (`docs/spec/settlement.md` §3) and, given a dispute
//! game, defends its outputs there (`docs/spec/disputes.md` §6).

use crate::support::{BlobSourceArgs, LogFormat, init_logging, parse_l1_key, until_stopped};
use alloy_primitives::Address;
use clap::Args;
use std::time::Duration;

/// `straddle proposer`.
#[derive(Args)]
pub(crate) struct ProposerArgs {
    /// The L2 node whose safe head is proposed (best a follower).
    #[arg(long, default_value = "http://127.0.0.1:9545")]
    l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    #[arg(long)]
    l1_rpc: String,
    /// The L1 OutputRegistry.
    #[arg(long)]
    registry: Address,
    /// The proposer's L1 private key (hex), the registry's `proposer`.
    #[arg(long, env = "STRADDLE_PROPOSER_KEY", hide_env_values = true)]
    l1_key: String,
    /// Seconds between proposals.
    #[arg(long, default_value_t = 10)]
    interval_secs: u64,
    /// The L1 DisputeGame: when given, the proposer defends its outputs in it (each
    /// round, with the L2 node's chain as the truth).
    #[arg(long)]
    dispute_game: Option<Address>,
    /// The L1 block the chain's contracts were deployed in: logs (batches, Portal
    /// records) a derivation dispute needs are searched from it.
    #[arg(long, default_value_t = 0)]
    l1_start_block: u64,
    #[command(flatten)]
    blobs: BlobSourceArgs,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// Runs the proposer (and its defender) until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: ProposerArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    let key = parse_l1_key(&args.l1_key)?;
    let interval = Duration::from_secs(args.interval_secs.max(1));
    let defender = match args.dispute_game {
        Some(game) => Some(
            straddle_challenger::Player::new(straddle_challenger::PlayerConfig {
                l2_rpc: args.l2_rpc.clone(),
                l1_rpc: args.l1_rpc.clone(),
                beacon_api: args.blobs.beacon_api.clone(),
                key: key.clone(),
                game,
                challenge: false,
                defend_others: false,
                interval,
                l1_start_block: args.l1_start_block,
            })
            .await?,
        ),
        None => None,
    };
    let proposer = straddle_proposer::Proposer::new(straddle_proposer::ProposerConfig {
        l2_rpc: args.l2_rpc,
        l1_rpc: args.l1_rpc,
        key,
        registry: args.registry,
        interval,
    })?;
    println!("straddle proposer ready: proposing to {}", args.registry);
    until_stopped(proposer.run(defender)).await?;
    tracing::info!("proposer stopped");
    Ok(())
}
