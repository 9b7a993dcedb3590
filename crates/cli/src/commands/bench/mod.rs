//! `straddle bench transfers|orders`: load generators that drive a running node over
//! WebSocket and report throughput and acknowledgement latency. `load` holds what both
//! share; each generator has its own file.

mod load;
mod orders;
mod transfers;

use crate::support::print;
use clap::Subcommand;

/// `straddle bench`.
#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Signed collateral transfers from many funded workers (devnet faucet).
    Transfers(transfers::TransferBenchArgs),
    /// Market makers quoting and takers crossing through the matching engine.
    Orders(orders::OrderBenchArgs),
}

/// Runs a benchmark against the node at `rpc` (over its WebSocket) and prints the report.
pub(crate) async fn run(rpc: &str, json: bool, command: BenchCommand) -> eyre::Result<()> {
    match command {
        BenchCommand::Orders(args) => {
            let report = orders::run_order_bench(&websocket_url(rpc), &args).await?;
            print(json, &report, || report.text())
        }
        BenchCommand::Transfers(args) => {
            let report = transfers::run_transfer_bench(&websocket_url(rpc), &args).await?;
            print(json, &report, || report.text())
        }
    }
}

/// The WebSocket address of an RPC endpoint given as http(s)://… (the node serves both).
fn websocket_url(rpc: &str) -> String {
    if let Some(rest) = rpc.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = rpc.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        rpc.to_string()
    }
}
