//! The command line: the clap `Cli` with its global options and the top-level `Command`
//! enum, and `run`, which hands each subcommand to its module under `commands`.

use crate::commands::{
    account, batch, batcher, bench, chain, challenger, devnet, keys, markets, node, orders,
    proposer,
};
use clap::{Parser, Subcommand};

/// Straddle: a derivatives-native Ethereum Layer 2.
#[derive(Parser)]
#[command(name = "straddle", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// JSON-RPC endpoint of a node.
    #[arg(
        long,
        global = true,
        env = "STRADDLE_RPC",
        default_value = "http://127.0.0.1:9545"
    )]
    rpc: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a whole local chain: anvil with the contracts, a sequencer, a follower, a
    /// batcher, a proposer, an oracle feed and a market maker (Ctrl-C stops it all).
    Devnet(devnet::DevnetArgs),
    /// Run a sequencer node (JSON-RPC over HTTP and WebSocket, Prometheus metrics).
    Node(node::NodeArgs),
    /// Post the sequencer's blocks to the L1 BatchInbox (resumes after what L1 holds).
    Batcher(batcher::BatcherArgs),
    /// Propose the L2 safe head's output root to the L1 OutputRegistry on an interval.
    Proposer(proposer::ProposerArgs),
    /// Watch L1 outputs against an L2 node's derived chain: dispute wrong ones, play the
    /// games to the end, claim the bonds (docs/spec/disputes.md).
    Challenger(challenger::ChallengerArgs),
    /// Create or show keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Print the devnet genesis (edit it and pass it to `straddle node --genesis`).
    Genesis,
    /// Transfer collateral to another L2 account.
    Transfer(account::TransferArgs),
    /// Request a withdrawal of collateral to an L1 address; `withdraw finalize` pays it
    /// out on L1 once an output covering it is final.
    Withdraw(account::WithdrawArgs),
    /// Devnet faucet: mint collateral (operator key only).
    Mint(account::MintArgs),
    /// Margin account: deposit and withdraw trading cash.
    #[command(subcommand)]
    Margin(account::MarginCommand),
    /// List markets with marks, Greeks and open interest.
    Markets,
    /// Devnet oracle: show accepted prices, or push a signed update.
    #[command(subcommand)]
    Oracle(markets::OracleCommand),
    /// Signed orders.
    #[command(subcommand)]
    Order(orders::OrderCommand),
    /// Operator requests: list or close a market (signed by the genesis operator key).
    #[command(subcommand)]
    Operator(markets::OperatorCommand),
    /// Take over part of an account's position that is below maintenance margin.
    Liquidate(markets::LiquidateArgs),
    /// Show an account's collateral.
    Balance(account::BalanceArgs),
    /// Show a block: a number, a hash, or "latest".
    Block(chain::BlockArgs),
    /// Show a transaction receipt.
    Receipt(chain::ReceiptArgs),
    /// Fetch a Merkle proof of an account and verify it locally against the state root.
    Proof(chain::ProofArgs),
    /// Print the EIP-712 typed data of an action, to sign with another tool (cast, a wallet).
    TypedData(account::TypedDataArgs),
    /// Load generators that drive a running node and report throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// L1 batches: what a stored chain costs in the batch format.
    #[command(subcommand)]
    Batch(batch::BatchCommand),
    /// Re-execute every stored block from genesis and check all headers and state roots.
    Replay(chain::ReplayArgs),
}

/// Runs a parsed command line.
pub(crate) async fn run(cli: Cli) -> eyre::Result<()> {
    let Cli { rpc, json, command } = cli;
    let rpc = rpc.as_str();
    match command {
        Command::Devnet(args) => devnet::run(args).await,
        Command::Node(args) => node::run(args).await,
        Command::Batcher(args) => batcher::run(args).await,
        Command::Proposer(args) => proposer::run(args).await,
        Command::Challenger(args) => challenger::run(args).await,
        Command::Keys(command) => keys::run(json, command),
        Command::Genesis => chain::genesis(),
        Command::Transfer(args) => account::transfer(rpc, json, args).await,
        Command::Withdraw(args) => account::withdraw(rpc, json, args).await,
        Command::Mint(args) => account::mint(rpc, json, args).await,
        Command::Margin(command) => account::margin(rpc, json, command).await,
        Command::Markets => markets::markets(rpc, json).await,
        Command::Oracle(command) => markets::oracle(rpc, json, command).await,
        Command::Order(command) => orders::run(rpc, json, command).await,
        Command::Operator(command) => markets::operator(rpc, json, command).await,
        Command::Liquidate(args) => markets::liquidate(rpc, json, args).await,
        Command::Balance(args) => account::balance(rpc, json, args).await,
        Command::Block(args) => chain::block(rpc, json, args).await,
        Command::Receipt(args) => chain::receipt(rpc, json, args).await,
        Command::Proof(args) => chain::proof(rpc, json, args).await,
        Command::TypedData(args) => account::typed_data(args),
        Command::Bench(command) => bench::run(rpc, json, command).await,
        Command::Batch(command) => batch::run(json, command),
        Command::Replay(args) => chain::replay(json, args),
    }
}
