//! `straddle challenger`: watches L1 outputs against an L2 node's derived chain,
//! disputes wrong ones, plays the games to the end and claims the bonds; with
//! `--defend`, also defends correct outputs under dispute (`docs/spec/disputes.md` §6).

use crate::support::{BlobSourceArgs, LogFormat, init_logging, parse_l1_key, until_stopped};
use alloy_primitives::Address;
use clap::Args;
use eyre::Context;
use std::time::Duration;

/// `straddle challenger`.
#[derive(Args)]
pub(crate) struct ChallengerArgs {
    /// The L2 node whose derived chain is the truth (best a follower).
    #[arg(long, default_value = "http://127.0.0.1:9546")]
    l2_rpc: String,
    /// L1 JSON-RPC endpoint (HTTP).
    #[arg(long)]
    l1_rpc: String,
    /// The L1 DisputeGame (the registry is read from it).
    #[arg(long)]
    dispute_game: Address,
    /// The challenger's L1 private key (hex): pays bonds and gas, receives winnings.
    #[arg(long, env = "STRADDLE_CHALLENGER_KEY", hide_env_values = true)]
    l1_key: String,
    /// Milliseconds between rounds (each round reads every open output and game).
    #[arg(long, default_value_t = 2_000)]
    interval_ms: u64,
    /// The L1 block the chain's contracts were deployed in: logs (batches, Portal
    /// records) a derivation dispute needs are searched from it.
    #[arg(long, default_value_t = 0)]
    l1_start_block: u64,
    /// Also take the side of every correct output under dispute, with a bond
    /// (`DisputeGame.defend`): the output keeps a defender if its proposer is gone.
    #[arg(long)]
    defend: bool,
    #[command(flatten)]
    blobs: BlobSourceArgs,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// Runs the challenger until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: ChallengerArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    let player = straddle_challenger::Player::new(straddle_challenger::PlayerConfig {
        l2_rpc: args.l2_rpc,
        l1_rpc: args.l1_rpc,
        beacon_api: args.blobs.beacon_api,
        key: parse_l1_key(&args.l1_key)?,
        game: args.dispute_game,
        challenge: true,
        defend_others: args.defend,
        interval: Duration::from_millis(args.interval_ms.max(100)),
        l1_start_block: args.l1_start_block,
    })
    .await
    .wrap_err("cannot reach the dispute game")?;
    println!(
        "straddle challenger ready: watching outputs of {}",
        args.dispute_game
    );
    until_stopped(player.run()).await?;
    tracing::info!("challenger stopped");
    Ok(())
}
