//! Command-line definitions and their implementations.

use crate::keys;
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Parser, Subcommand, ValueEnum};
use eyre::{Context, bail, eyre};
use jsonrpsee::http_client::HttpClient;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use straddle_exchange::Genesis;
use straddle_exchange::devnet::{DEVNET_CHAIN_ID, dev_key, devnet_genesis};
use straddle_node::{Node, NodeConfig, Role};
use straddle_primitives::admin::{INSTRUMENT_CALL, INSTRUMENT_PERPETUAL, INSTRUMENT_PUT};
use straddle_primitives::{
    Action, Amount, BulkCancel, CloseMarket, DepositMargin, Domain, Liquidate, ListMarket, Mint,
    Order, SignedLiquidate, SignedOrder, Transaction, Transfer, Withdraw, WithdrawMargin,
};
use straddle_rpc_api::{BlockRef, SendActionRequest, StraddleApiClient};

/// Straddle: a derivatives-native Ethereum Layer 2.
#[derive(Parser)]
#[command(name = "straddle", version, about, propagate_version = true)]
pub struct Cli {
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
    Devnet(crate::devnet::DevnetArgs),
    /// Run a sequencer node (JSON-RPC over HTTP and WebSocket, Prometheus metrics).
    Node(NodeArgs),
    /// Post the sequencer's blocks to the L1 BatchInbox (resumes after what L1 holds).
    Batcher(BatcherArgs),
    /// Propose the L2 safe head's output root to the L1 OutputRegistry on an interval.
    Proposer(ProposerArgs),
    /// Watch L1 outputs against an L2 node's derived chain: dispute wrong ones, play the
    /// games to the end, claim the bonds (docs/spec/disputes.md).
    Challenger(ChallengerArgs),
    /// Create or show keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the devnet genesis (edit it and pass it to `straddle node --genesis`).
    Genesis,
    /// Transfer collateral to another L2 account.
    Transfer {
        /// Recipient address.
        #[arg(long)]
        to: Address,
        /// Amount in USDC, up to 6 decimals (e.g. 12.5).
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Request a withdrawal of collateral to an L1 address; `withdraw finalize` pays it
    /// out on L1 once an output covering it is final.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Withdraw {
        #[command(subcommand)]
        finalize: Option<WithdrawCommand>,
        /// L1 recipient (defaults to the signer).
        #[arg(long)]
        recipient: Option<Address>,
        /// Amount in USDC, up to 6 decimals.
        #[arg(long, required = true)]
        amount: Option<String>,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Devnet faucet: mint collateral (operator key only).
    Mint {
        /// Recipient address.
        #[arg(long)]
        to: Address,
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Margin account: deposit and withdraw trading cash.
    #[command(subcommand)]
    Margin(MarginCommand),
    /// List markets with marks, Greeks and open interest.
    Markets,
    /// Devnet oracle: show accepted prices, or push a signed update.
    #[command(subcommand)]
    Oracle(OracleCommand),
    /// Signed orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Operator requests: list or close a market (signed by the genesis operator key).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Take over part of an account's position that is below maintenance margin.
    Liquidate {
        /// The account to liquidate.
        #[arg(long)]
        target: Address,
        /// Market id.
        #[arg(long)]
        market: u32,
        /// Size in contracts (6 decimals).
        #[arg(long)]
        size: String,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Show an account's collateral.
    Balance {
        /// The account.
        address: Address,
    },
    /// Show a block: a number, a hash, or "latest".
    Block {
        /// Which block.
        #[arg(default_value = "latest")]
        block: String,
        /// Include the transactions.
        #[arg(long)]
        full: bool,
    },
    /// Show a transaction receipt.
    Receipt {
        /// Transaction hash.
        hash: B256,
    },
    /// Fetch a Merkle proof of an account and verify it locally against the state root.
    Proof {
        /// The account.
        address: Address,
    },
    /// Print the EIP-712 typed data of an action, to sign with another tool (cast, a wallet).
    TypedData {
        /// The action.
        #[arg(long, value_enum)]
        kind: ActionKind,
        /// Recipient (L2 for transfer/mint, L1 for withdraw; not used by margin actions).
        #[arg(long, required_if_eq_any = [("kind", "transfer"), ("kind", "withdraw"), ("kind", "mint")])]
        to: Option<Address>,
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        /// Nonce.
        #[arg(long)]
        nonce: u64,
        /// Expiry, unix milliseconds.
        #[arg(long)]
        expiry_ms: u64,
        /// Chain id.
        #[arg(long, default_value_t = DEVNET_CHAIN_ID)]
        chain_id: u64,
    },
    /// Load generators that drive a running node and report throughput and latency.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// L1 batches: what a stored chain costs in the batch format.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Re-execute every stored block from genesis and check all headers and state roots.
    Replay {
        /// The node's data directory (the node must be stopped).
        #[arg(long, default_value = ".straddle/node")]
        data_dir: PathBuf,
        /// Genesis file (default: devnet).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Instead, print the state root after every transaction of this block.
        #[arg(long, value_name = "BLOCK")]
        per_tx_roots: Option<u64>,
    },
}

#[derive(Subcommand)]
enum BatchCommand {
    /// Encode every stored block into batches (one per span of L2 time), check each
    /// decodes back, and report bytes per fill and per transfer, with zstd for comparison.
    Measure {
        /// The node's data directory (the node must be stopped).
        #[arg(long, default_value = ".straddle/node")]
        data_dir: PathBuf,
        /// Genesis file (default: devnet).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// L2 time one batch covers, milliseconds (12 000: one batch per L1 slot).
        #[arg(long, default_value_t = 12_000)]
        span_ms: u64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Signed collateral transfers from many funded workers (devnet faucet).
    Transfers(crate::bench::TransferBenchArgs),
    /// Market makers quoting and takers crossing through the matching engine.
    Orders(crate::bench_orders::OrderBenchArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ActionKind {
    Transfer,
    Withdraw,
    Mint,
    DepositMargin,
    WithdrawMargin,
}

#[derive(Subcommand)]
enum OracleCommand {
    /// Show every underlying's accepted index and smiles.
    Show,
    /// Devnet: sign a price report with the devnet oracle keys and submit the update.
    Push {
        /// Underlying id (1 = ETH, 2 = BTC on the devnet).
        #[arg(long, default_value_t = 1)]
        underlying: u32,
        /// Index price in USDC.
        #[arg(long)]
        price: String,
        /// Option expiry to report a smile for, unix ms (default: the devnet expiry).
        #[arg(long, default_value_t = straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS)]
        expiry_ms: u64,
        /// At-the-money volatility (0.65 = 65 %).
        #[arg(long, default_value = "0.65")]
        atm_vol: String,
        /// Skew per unit of log-moneyness.
        #[arg(long, default_value = "-0.1", allow_hyphen_values = true)]
        skew: String,
        /// Curvature per unit of log-moneyness squared.
        #[arg(long, default_value = "0.2")]
        curvature: String,
    },
}

#[derive(Subcommand)]
enum OrderCommand {
    /// Sign an order and send it to the matching engine (limit or market).
    Place(crate::orders::PlaceArgs),
    /// Replace your quotes in a market with one signed request (post-only ladder).
    Quote(crate::orders::QuoteArgs),
    /// Cancel every resting order of yours (in one market, or all).
    CancelAll(crate::orders::CancelAllArgs),
    /// Show a market's book.
    Book {
        /// Market id.
        #[arg(long)]
        market: u32,
        /// Levels per side.
        #[arg(long, default_value_t = 10)]
        levels: usize,
    },
    /// Show an account's resting orders.
    Open {
        /// The account.
        #[arg(long)]
        address: Address,
    },
    /// Cancel orders by hash, all under one signature (at most 64).
    Cancel {
        /// Order hash (repeat for several).
        #[arg(long = "hash", required = true)]
        hashes: Vec<B256>,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Devnet: sign a resting sell and a crossing buy (or the reverse) and submit the match.
    Pair {
        /// Market id.
        #[arg(long)]
        market: u32,
        /// Price in USDC per contract.
        #[arg(long)]
        price: String,
        /// Size in contracts (6 decimals).
        #[arg(long)]
        size: String,
        /// Devnet account that buys.
        #[arg(long)]
        buyer_dev: usize,
        /// Devnet account that sells.
        #[arg(long)]
        seller_dev: usize,
        /// Which side takes (the other rests as the maker).
        #[arg(long, value_enum, default_value = "buyer")]
        taker: TakerSide,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// List a market; it trades once an oracle update prices it.
    ListMarket {
        /// New market id.
        #[arg(long)]
        market: u32,
        /// Underlying id (1 ETH, 2 BTC on the devnet).
        #[arg(long)]
        underlying: u32,
        /// What it trades.
        #[arg(long, value_enum)]
        instrument: InstrumentArg,
        /// Option strike in USDC.
        #[arg(long, required_if_eq_any([("instrument", "call"), ("instrument", "put")]))]
        strike: Option<String>,
        /// Option expiry, unix milliseconds.
        #[arg(long, required_if_eq_any([("instrument", "call"), ("instrument", "put")]))]
        option_expiry_ms: Option<u64>,
        /// Price increment in USDC per contract.
        #[arg(long, default_value = "0.1")]
        tick: String,
        /// Size increment in contracts.
        #[arg(long, default_value = "0.001")]
        lot: String,
        /// Maker fee, ppm of notional.
        #[arg(long, default_value_t = 200)]
        maker_fee_ppm: u32,
        /// Taker fee, ppm of notional.
        #[arg(long, default_value_t = 500)]
        taker_fee_ppm: u32,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Close a perpetual market at the recent index mean; positions are paid out.
    CloseMarket {
        /// Market id.
        #[arg(long)]
        market: u32,
        #[command(flatten)]
        sign: SignArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum InstrumentArg {
    Perpetual,
    Call,
    Put,
}

#[derive(Clone, Copy, ValueEnum)]
enum TakerSide {
    Buyer,
    Seller,
}

#[derive(Subcommand)]
enum MarginCommand {
    /// Move collateral into your margin account (trading cash).
    Deposit {
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Move cash from your margin account back to collateral (needs initial margin to
    /// stay covered when you hold positions).
    Withdraw {
        /// Amount in USDC, up to 6 decimals.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        sign: SignArgs,
    },
}

#[derive(Args)]
struct NodeArgs {
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
#[derive(clap::Args)]
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
}

impl L1Args {
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.l1_poll_ms.max(10))
    }

    fn deposits(&self) -> Option<straddle_node::deposits::DepositSource> {
        Some(straddle_node::deposits::DepositSource {
            l1_rpc: self.l1_rpc.clone()?,
            portal: self.portal?,
            start_block: self.l1_start_block,
            confirmations: self.l1_confirmations,
            poll_interval: self.poll_interval(),
        })
    }

    fn derivation(&self) -> Option<straddle_node::derivation::L1Source> {
        Some(straddle_node::derivation::L1Source {
            l1_rpc: self.l1_rpc.clone()?,
            portal: self.portal?,
            inbox: self.inbox?,
            start_block: self.l1_start_block,
            poll_interval: self.poll_interval(),
        })
    }
}

#[derive(Subcommand)]
enum WithdrawCommand {
    /// Pay out an L2 withdrawal on L1: proves it against the latest finalized output
    /// and calls `Portal.finalizeWithdrawal` (anyone may relay; the tokens go to the
    /// withdrawal's recipient).
    Finalize {
        /// The withdrawal's index (in the receipt of `straddle withdraw`).
        #[arg(long)]
        index: u64,
        /// L1 JSON-RPC endpoint (HTTP).
        #[arg(long)]
        l1_rpc: String,
        /// The L1 Portal.
        #[arg(long)]
        portal: Address,
        /// The L1 OutputRegistry.
        #[arg(long)]
        registry: Address,
        /// The L1 key paying the gas (hex).
        #[arg(long, env = "STRADDLE_L1_KEY", hide_env_values = true)]
        l1_key: String,
        /// Wait up to this many seconds for a finalized output that covers the withdrawal.
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
}

#[derive(Args)]
struct ProposerArgs {
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
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Args)]
struct ChallengerArgs {
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
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Args)]
struct BatcherArgs {
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

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a new random key and save it (mode 0600).
    New {
        /// Where to write it.
        #[arg(long, default_value = ".straddle/key.json")]
        out: PathBuf,
    },
    /// Show the address of a key.
    Show {
        #[command(flatten)]
        key: KeyArgs,
    },
    /// List the devnet's well-known test accounts (public keys: never hold value).
    Dev,
}

#[derive(Args)]
pub(crate) struct KeyArgs {
    /// Private key, hex.
    #[arg(long, env = "STRADDLE_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
    /// Key file written by `straddle keys new`.
    #[arg(long, env = "STRADDLE_KEY_FILE", default_value = ".straddle/key.json")]
    key_file: PathBuf,
    /// Use devnet test account N (0–9).
    #[arg(long, conflicts_with = "private_key")]
    dev: Option<usize>,
}

impl KeyArgs {
    pub(crate) fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        if let Some(index) = self.dev {
            if index >= 10 {
                bail!("--dev takes 0 to 9");
            }
            return PrivateKeySigner::from_bytes(&dev_key(index))
                .map_err(|_| eyre!("bad devnet key"));
        }
        match &self.private_key {
            Some(key) => keys::parse_private_key(key),
            None => keys::read_key_file(&self.key_file).wrap_err(
                "no key given: use --private-key, --key-file, --dev N, or `straddle keys new`",
            ),
        }
    }
}

#[derive(Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Nonce (default: the current time in microseconds, unique per sender).
    #[arg(long)]
    nonce: Option<u64>,
    /// Seconds until the action expires.
    #[arg(long, default_value_t = 60)]
    expires_in: u64,
    #[command(flatten)]
    force: ForceArgs,
}

/// Forced inclusion: the signed action goes to the L1 Portal instead of the sequencer.
#[derive(Args)]
pub(crate) struct ForceArgs {
    /// Send through the L1 Portal (forced inclusion) instead of to the sequencer: the L2
    /// must include it within the Portal's window whatever the sequencer does. Give a
    /// long --expires-in: the action must still be valid when it is included.
    #[arg(long, requires_all = ["force_l1_rpc", "force_portal"])]
    via_l1: bool,
    /// L1 JSON-RPC endpoint (with --via-l1).
    #[arg(long = "l1-rpc", id = "force_l1_rpc", value_name = "URL")]
    l1_rpc: Option<String>,
    /// The L1 Portal (with --via-l1).
    #[arg(long = "portal", id = "force_portal", value_name = "ADDRESS")]
    portal: Option<Address>,
    /// L1 key paying the gas, hex (default: the signing key).
    #[arg(
        long = "l1-key",
        id = "force_l1_key",
        value_name = "KEY",
        env = "STRADDLE_L1_KEY",
        hide_env_values = true
    )]
    l1_key: Option<String>,
    /// L2 chain id to sign for (default: asked from the node).
    #[arg(long)]
    chain_id: Option<u64>,
}

impl SignArgs {
    /// The request's nonce (given, or the current time in microseconds) and its expiry
    /// (now plus `--expires-in`), unix ms.
    pub(crate) fn nonce_and_expiry(&self) -> (u64, u64) {
        let now = now_micros();
        let expiry_ms = (now / 1000).saturating_add(self.expires_in.saturating_mul(1000));
        (self.nonce.unwrap_or(now), expiry_ms)
    }
}

/// Whole units with six decimals (USDC or contracts) as a `u64` of micro-units.
pub(crate) fn parse_micro(text: &str, what: &str) -> eyre::Result<u64> {
    u64::try_from(Amount::parse_whole(text)?.0).map_err(|_| eyre!("{what} too large"))
}

async fn operator_command(rpc: &str, json: bool, command: OperatorCommand) -> eyre::Result<()> {
    let domain = devnet_domain(rpc).await?;
    let tx = match command {
        OperatorCommand::ListMarket {
            market,
            underlying,
            instrument,
            strike,
            option_expiry_ms,
            tick,
            lot,
            maker_fee_ppm,
            taker_fee_ppm,
            sign,
        } => {
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let listing = ListMarket {
                market,
                underlying,
                instrument: match instrument {
                    InstrumentArg::Perpetual => INSTRUMENT_PERPETUAL,
                    InstrumentArg::Call => INSTRUMENT_CALL,
                    InstrumentArg::Put => INSTRUMENT_PUT,
                },
                strike: strike
                    .map(|s| parse_micro(&s, "strike"))
                    .transpose()?
                    .unwrap_or(0),
                optionExpiryMs: option_expiry_ms.unwrap_or(0),
                tick: parse_micro(&tick, "tick")?,
                lot: parse_micro(&lot, "lot")?,
                makerFeePpm: maker_fee_ppm,
                takerFeePpm: taker_fee_ppm,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = sign
                .key
                .signer()?
                .sign_hash_sync(&listing.signing_hash(&domain))?;
            Transaction::ListMarket { listing, signature }
        }
        OperatorCommand::CloseMarket { market, sign } => {
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let close = CloseMarket {
                market,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = sign
                .key
                .signer()?
                .sign_hash_sync(&close.signing_hash(&domain))?;
            Transaction::CloseMarket { close, signature }
        }
    };
    send_transaction(rpc, json, tx).await
}

pub(crate) fn client(url: &str) -> eyre::Result<HttpClient> {
    straddle_rpc_api::http_client(url).wrap_err_with(|| format!("invalid RPC url {url}"))
}

pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn load_genesis(path: Option<&PathBuf>) -> eyre::Result<Genesis> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).wrap_err("genesis file is invalid")
        }
        None => Ok(default_devnet_genesis()),
    }
}

/// The genesis `straddle node` runs without `--genesis`: the devnet's, funding the ten
/// dev accounts.
pub(crate) fn default_devnet_genesis() -> Genesis {
    let addresses: Vec<Address> = (0..10)
        .filter_map(|i| PrivateKeySigner::from_bytes(&dev_key(i)).ok())
        .map(|signer| signer.address())
        .collect();
    devnet_genesis(&addresses)
}

pub(crate) fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> eyre::Result<()> {
    let out = if json {
        serde_json::to_string_pretty(value)?
    } else {
        text()
    };
    // A reader that stopped early (`| head`) is not an error.
    match writeln!(std::io::stdout(), "{out}") {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Devnet(args) => crate::devnet::run(args).await,
        Command::Node(args) => run_node(args).await,
        Command::Batcher(args) => run_batcher(args).await,
        Command::Proposer(args) => run_proposer(args).await,
        Command::Challenger(args) => run_challenger(args).await,
        Command::Keys(KeysCommand::New { out }) => {
            let signer = keys::write_new_key_file(&out)?;
            print(
                cli.json,
                &serde_json::json!({"address": signer.address(), "keyFile": out}),
                || {
                    format!(
                        "address  {}\nkey file {} (keep it secret)",
                        signer.address(),
                        out.display()
                    )
                },
            )
        }
        Command::Keys(KeysCommand::Show { key }) => {
            let signer = key.signer()?;
            print(
                cli.json,
                &serde_json::json!({"address": signer.address()}),
                || signer.address().to_string(),
            )
        }
        Command::Keys(KeysCommand::Dev) => {
            let accounts: Vec<_> = (0..10)
                .filter_map(|i| PrivateKeySigner::from_bytes(&dev_key(i)).ok().map(|s| (i, s)))
                .map(|(i, s)| serde_json::json!({"index": i, "address": s.address(), "privateKey": s.to_bytes()}))
                .collect();
            print(cli.json, &accounts, || {
                accounts
                    .iter()
                    .map(|a| {
                        format!(
                            "{}  {}  {}",
                            a["index"],
                            a["address"].as_str().unwrap_or(""),
                            a["privateKey"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Genesis => {
            println!(
                "{}",
                serde_json::to_string_pretty(&default_devnet_genesis())?
            );
            Ok(())
        }
        Command::Transfer { to, amount, sign } => {
            let amount = Amount::parse_whole(&amount)?;
            send(&cli.rpc, cli.json, &sign, |nonce, expiry_ms| {
                Action::Transfer(Transfer {
                    to,
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        Command::Margin(MarginCommand::Deposit { amount, sign }) => {
            let amount = Amount::parse_whole(&amount)?;
            send(&cli.rpc, cli.json, &sign, |nonce, expiry_ms| {
                Action::DepositMargin(DepositMargin {
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        Command::Margin(MarginCommand::Withdraw { amount, sign }) => {
            let amount = Amount::parse_whole(&amount)?;
            send(&cli.rpc, cli.json, &sign, |nonce, expiry_ms| {
                Action::WithdrawMargin(WithdrawMargin {
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        Command::Markets => {
            let markets = client(&cli.rpc)?.get_markets().await?;
            print(cli.json, &markets, || {
                let mut lines = vec![format!(
                    "{:>4} {:>3} {:>9} {:>10} {:>14} {:>8} {:>14} {:>10}",
                    "id", "und", "kind", "strike", "mark", "delta", "open interest", "status"
                )];
                for m in &markets {
                    lines.push(format!(
                        "{:>4} {:>3} {:>9} {:>10} {:>14} {:>8} {:>14} {:>10}",
                        m.id,
                        m.underlying,
                        m.kind,
                        m.strike.map_or("-".into(), |k| usdc_text(&k.to_string())),
                        m.mark
                            .map_or("unpriced".into(), |p| usdc_text(&p.to_string())),
                        m.delta_nano
                            .map_or("-".into(), |d| format!("{:.3}", d as f64 / 1e9)),
                        usdc_text(&m.open_interest.to_string()),
                        m.status
                    ));
                }
                lines.join("\n")
            })
        }
        Command::Oracle(OracleCommand::Show) => {
            let oracles = client(&cli.rpc)?.get_oracles().await?;
            print(cli.json, &oracles, || {
                oracles
                    .iter()
                    .map(|o| {
                        format!(
                            "{} ({}): index {} USDC at {} ms, {} smiles",
                            o.symbol,
                            o.underlying,
                            usdc_text(&o.index.to_string()),
                            o.timestamp_ms,
                            o.smiles.len()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Oracle(OracleCommand::Push {
            underlying,
            price,
            expiry_ms,
            atm_vol,
            skew,
            curvature,
        }) => {
            let ppm = |text: &str| -> eyre::Result<i64> {
                let value: f64 = text
                    .parse()
                    .wrap_err_with(|| format!("not a number: {text}"))?;
                Ok((value * 1e6).round() as i64)
            };
            let smile = (
                expiry_ms,
                u32::try_from(ppm(&atm_vol)?)?,
                i32::try_from(ppm(&skew)?)?,
                u32::try_from(ppm(&curvature)?)?,
            );
            let index = u64::try_from(Amount::parse_whole(&price)?.0)
                .map_err(|_| eyre!("price too large"))?;
            let domain = devnet_domain(&cli.rpc).await?;
            let tx = devnet_oracle_update(&domain, underlying, index, smile)?;
            send_transaction(&cli.rpc, cli.json, tx).await
        }
        Command::Order(OrderCommand::Place(args)) => {
            crate::orders::place(&cli.rpc, cli.json, args).await
        }
        Command::Order(OrderCommand::Quote(args)) => {
            crate::orders::quote(&cli.rpc, cli.json, args).await
        }
        Command::Order(OrderCommand::CancelAll(args)) => {
            crate::orders::cancel_all(&cli.rpc, cli.json, args).await
        }
        Command::Order(OrderCommand::Book { market, levels }) => {
            crate::orders::book(&cli.rpc, cli.json, market, levels).await
        }
        Command::Order(OrderCommand::Open { address }) => {
            crate::orders::open(&cli.rpc, cli.json, address).await
        }
        Command::Order(OrderCommand::Cancel { hashes, sign }) => {
            if hashes.len() > straddle_primitives::BULK_CANCEL_MAX {
                bail!(
                    "at most {} orders per cancel",
                    straddle_primitives::BULK_CANCEL_MAX
                );
            }
            let signer = sign.key.signer()?;
            let domain = devnet_domain(&cli.rpc).await?;
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let cancel = BulkCancel {
                orderHashes: hashes,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = signer.sign_hash_sync(&cancel.signing_hash(&domain))?;
            send_transaction(
                &cli.rpc,
                cli.json,
                Transaction::BulkCancel { cancel, signature },
            )
            .await
        }
        Command::Order(OrderCommand::Pair {
            market,
            price,
            size,
            buyer_dev,
            seller_dev,
            taker,
        }) => {
            let price = parse_micro(&price, "price")?;
            let size = parse_micro(&size, "size")?;
            let domain = devnet_domain(&cli.rpc).await?;
            let nonce = now_micros();
            let sign_order =
                |dev: usize, is_buy: bool, tif: u8, nonce: u64| -> eyre::Result<SignedOrder> {
                    if dev >= 10 {
                        bail!("devnet accounts are 0 to 9");
                    }
                    let order = Order {
                        market,
                        isBuy: is_buy,
                        limitPrice: price,
                        size,
                        timeInForce: tif,
                        reduceOnly: false,
                        expiryMs: nonce / 1000 + 60_000,
                        clientOrderId: nonce,
                        nonce,
                    };
                    let key = PrivateKeySigner::from_bytes(&dev_key(dev))
                        .map_err(|_| eyre!("bad devnet key"))?;
                    let signature = key.sign_hash_sync(&order.hash(&domain))?;
                    Ok(SignedOrder { order, signature })
                };
            // The taker is immediate-or-cancel; the maker rests (good-till-cancelled).
            let (taker_order, maker_order) = match taker {
                TakerSide::Buyer => (
                    sign_order(buyer_dev, true, 1, nonce)?,
                    sign_order(seller_dev, false, 0, nonce + 1)?,
                ),
                TakerSide::Seller => (
                    sign_order(seller_dev, false, 1, nonce)?,
                    sign_order(buyer_dev, true, 0, nonce + 1)?,
                ),
            };
            let tx = Transaction::Match {
                taker: taker_order,
                makers: vec![(maker_order, size)],
            };
            send_transaction(&cli.rpc, cli.json, tx).await
        }
        Command::Operator(command) => operator_command(&cli.rpc, cli.json, command).await,
        Command::Liquidate {
            target,
            market,
            size,
            sign,
        } => {
            let size = parse_micro(&size, "size")?;
            let signer = sign.key.signer()?;
            let domain = devnet_domain(&cli.rpc).await?;
            let (nonce, expiry_ms) = sign.nonce_and_expiry();
            let liquidate = Liquidate {
                target,
                market,
                size,
                nonce,
                expiryMs: expiry_ms,
            };
            let signature = signer.sign_hash_sync(&liquidate.signing_hash(&domain))?;
            let tx = Transaction::Liquidate(SignedLiquidate {
                liquidate,
                signature,
            });
            send_transaction(&cli.rpc, cli.json, tx).await
        }
        Command::Withdraw {
            finalize: Some(command),
            ..
        } => finalize_withdrawal(&cli.rpc, cli.json, command).await,
        Command::Withdraw {
            finalize: None,
            recipient,
            amount,
            sign,
        } => {
            let amount = Amount::parse_whole(amount.as_deref().unwrap_or_default())?;
            let recipient = match recipient {
                Some(r) => r,
                None => sign.key.signer()?.address(),
            };
            send(&cli.rpc, cli.json, &sign, |nonce, expiry_ms| {
                Action::Withdraw(Withdraw {
                    recipient,
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        Command::Mint { to, amount, sign } => {
            let amount = Amount::parse_whole(&amount)?;
            send(&cli.rpc, cli.json, &sign, |nonce, expiry_ms| {
                Action::Mint(Mint {
                    to,
                    amount: amount.0,
                    nonce,
                    expiryMs: expiry_ms,
                })
            })
            .await
        }
        Command::Balance { address } => {
            let account = client(&cli.rpc)?.get_account(address).await?;
            print(cli.json, &account, || {
                let margin = &account.margin;
                if margin.cash == "0" && margin.positions.is_empty() {
                    return format!("{} USDC", account.collateral);
                }
                let positions: Vec<String> = margin
                    .positions
                    .iter()
                    .map(|p| {
                        format!(
                            "market {}: {} @ {} (P&L {})",
                            p.market,
                            usdc_text(&p.size.to_string()),
                            usdc_text(&p.entry_price.to_string()),
                            p.unrealized_pnl
                                .as_deref()
                                .map_or("unpriced".to_string(), usdc_text)
                        )
                    })
                    .collect();
                let nano = |text: &str| text.parse::<f64>().map_or(0.0, |v| v / 1e9);
                format!(
                    "{} USDC\nmargin: cash {} USDC, equity {} USDC, maintenance {} USDC, initial {} USDC, free {} USDC\n  positions: {}\n  delta {:.4}, gamma {:.6}, vega {:.2} USDC/pt, theta {:.2} USDC/day\n  estimated liquidation index: {}",
                    account.collateral,
                    usdc_text(&margin.cash),
                    usdc_text(&margin.equity),
                    usdc_text(&margin.maintenance),
                    usdc_text(&margin.initial),
                    usdc_text(&margin.free_collateral),
                    if positions.is_empty() {
                        "none".to_string()
                    } else {
                        positions.join(", ")
                    },
                    nano(&margin.delta_nano),
                    nano(&margin.gamma_nano),
                    nano(&margin.vega_nano),
                    nano(&margin.theta_nano),
                    margin.liquidation_index.map_or(
                        "beyond the margin grid".to_string(),
                        |i| format!("{} USDC", usdc_text(&i.to_string()))
                    ),
                )
            })
        }
        Command::Block { block, full } => {
            let reference = parse_block_ref(&block)?;
            let view = client(&cli.rpc)?.get_block(reference, Some(full)).await?;
            let Some(view) = view else {
                bail!("block {block} not found")
            };
            print(cli.json, &view, || {
                let mut text = format!(
                    "block {}\n  hash        {}\n  parent      {}\n  time (ms)   {}\n  state root  {}\n  txs root    {}\n  txs         {}\n  status      {:?}",
                    view.header.number,
                    view.hash,
                    view.header.parent_hash,
                    view.header.timestamp_ms,
                    view.header.state_root,
                    view.header.transactions_root,
                    view.header.transaction_count,
                    view.status
                );
                for tx in &view.transactions {
                    text.push_str(&format!(
                        "\n  {} from {}: {}",
                        tx.hash,
                        tx.sender,
                        serde_json::to_string(&tx.action).unwrap_or_default()
                    ));
                }
                text
            })
        }
        Command::Receipt { hash } => {
            let receipt = client(&cli.rpc)?.get_receipt(hash).await?;
            let Some(receipt) = receipt else {
                bail!("no receipt for {hash} (unknown, or its block is not committed yet)")
            };
            print(cli.json, &receipt, || {
                format!(
                    "tx {} from {}\n  block {} index {} status {:?}",
                    receipt.tx_hash,
                    receipt.sender,
                    receipt.block_number,
                    receipt.index,
                    receipt.status
                )
            })
        }
        Command::Proof { address } => {
            let view = client(&cli.rpc)?.get_proof(address).await?;
            let value_hash = view.value.as_ref().map(|v| straddle_state::value_hash(v));
            let verified = straddle_state::verify_proof(
                &view.state_root,
                &view.key_hash,
                value_hash.as_ref(),
                &view.proof,
            );
            if let Err(e) = &verified {
                bail!("proof does NOT verify: {e}");
            }
            print(cli.json, &view, || {
                format!(
                    "{} proof of {} at block {}\n  state root {}\n  siblings   {}\n  verified locally: yes",
                    if view.value.is_some() {
                        "inclusion"
                    } else {
                        "exclusion"
                    },
                    address,
                    view.block_number,
                    view.state_root,
                    view.proof.siblings.len()
                )
            })
        }
        Command::TypedData {
            kind,
            to,
            amount,
            nonce,
            expiry_ms,
            chain_id,
        } => {
            let amount = Amount::parse_whole(&amount)?.0;
            let to = to.unwrap_or(Address::ZERO);
            let action = match kind {
                ActionKind::DepositMargin => Action::DepositMargin(DepositMargin {
                    amount,
                    nonce,
                    expiryMs: expiry_ms,
                }),
                ActionKind::WithdrawMargin => Action::WithdrawMargin(WithdrawMargin {
                    amount,
                    nonce,
                    expiryMs: expiry_ms,
                }),
                ActionKind::Transfer => Action::Transfer(Transfer {
                    to,
                    amount,
                    nonce,
                    expiryMs: expiry_ms,
                }),
                ActionKind::Withdraw => Action::Withdraw(Withdraw {
                    recipient: to,
                    amount,
                    nonce,
                    expiryMs: expiry_ms,
                }),
                ActionKind::Mint => Action::Mint(Mint {
                    to,
                    amount,
                    nonce,
                    expiryMs: expiry_ms,
                }),
            };
            let domain = Domain {
                chain_id,
                verifying_contract: Address::ZERO,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&action.typed_data_json(&domain))?
            );
            Ok(())
        }
        Command::Bench(BenchCommand::Orders(args)) => {
            let report =
                crate::bench_orders::run_order_bench(&websocket_url(&cli.rpc), &args).await?;
            print(cli.json, &report, || report.text())
        }
        Command::Bench(BenchCommand::Transfers(args)) => {
            let report = crate::bench::run_transfer_bench(&websocket_url(&cli.rpc), &args).await?;
            print(cli.json, &report, || report.text())
        }
        Command::Batch(BatchCommand::Measure {
            data_dir,
            genesis,
            span_ms,
        }) => {
            let genesis = load_genesis(genesis.as_ref())?;
            let report = crate::batch_size::measure(&data_dir, &genesis, span_ms.max(1))?;
            print(cli.json, &report, || report.text())
        }
        Command::Replay {
            data_dir,
            genesis,
            per_tx_roots: Some(number),
        } => {
            let genesis = load_genesis(genesis.as_ref())?;
            let store = straddle_storage::chain_store::ChainStore::open(&data_dir)?;
            let roots = straddle_fault_proof::per_transaction_roots(&store, &genesis, number)?;
            print(cli.json, &roots, || {
                roots
                    .iter()
                    .enumerate()
                    .map(|(i, root)| format!("tx {i:>4}  {root}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Replay {
            data_dir,
            genesis,
            per_tx_roots: None,
        } => {
            let genesis = load_genesis(genesis.as_ref())?;
            let store = straddle_storage::chain_store::ChainStore::open(&data_dir)?;
            let report = straddle_chain::replay_stored_chain(&store, &genesis)?;
            print(
                cli.json,
                &serde_json::json!({"blocks": report.blocks, "transactions": report.transactions, "stateRoot": report.state_root}),
                || {
                    format!(
                        "replayed {} blocks, {} transactions: every header matches\n  state root {}",
                        report.blocks, report.transactions, report.state_root
                    )
                },
            )
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

/// A signed micro-USDC decimal string as USDC with six decimals.
fn usdc_text(micro: &str) -> String {
    match micro.parse::<i128>() {
        Ok(value) => {
            let sign = if value < 0 { "-" } else { "" };
            let magnitude = value.unsigned_abs();
            format!(
                "{sign}{}.{:06}",
                magnitude / 1_000_000,
                magnitude % 1_000_000
            )
        }
        Err(_) => micro.to_string(),
    }
}

fn parse_block_ref(text: &str) -> eyre::Result<BlockRef> {
    if text == "latest" {
        return Ok(BlockRef::Tag("latest".into()));
    }
    if let Ok(number) = text.parse::<u64>() {
        return Ok(BlockRef::Number(number));
    }
    text.parse::<B256>()
        .map(BlockRef::Hash)
        .map_err(|_| eyre!("block must be a number, a 32-byte hash, or latest"))
}

/// The signing domain of the node at `rpc` (devnet helpers sign for it).
/// An oracle update for `underlying` at `index` micro-USDC signed by every devnet oracle
/// key, with one smile `(expiry ms, ATM vol ppm, skew ppm, curvature ppm)`.
pub(crate) fn devnet_oracle_update(
    domain: &Domain,
    underlying: u32,
    index: u64,
    (expiry_ms, atm_vol_ppm, skew_ppm, curvature_ppm): (u64, u32, i32, u32),
) -> eyre::Result<Transaction> {
    let report = straddle_primitives::PriceReport {
        underlying,
        timestampMs: now_micros() / 1000,
        indexPrice: index,
        expiriesMs: vec![expiry_ms],
        atmVolsPpm: vec![atm_vol_ppm],
        skewsPpm: vec![skew_ppm],
        curvaturesPpm: vec![curvature_ppm],
    };
    let reports = straddle_exchange::devnet::DEVNET_ORACLE_SIGNERS
        .iter()
        .map(|i| {
            let key =
                PrivateKeySigner::from_bytes(&dev_key(*i)).map_err(|_| eyre!("bad devnet key"))?;
            let signature = key.sign_hash_sync(&report.signing_hash(domain))?;
            Ok(straddle_primitives::SignedPriceReport {
                report: report.clone(),
                signature,
            })
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    Ok(Transaction::OracleUpdate {
        underlying,
        reports,
    })
}

pub(crate) async fn devnet_domain(rpc: &str) -> eyre::Result<Domain> {
    let chain_id = client(rpc)?
        .chain_id()
        .await
        .wrap_err_with(|| format!("cannot reach node at {rpc}"))?;
    Ok(Domain {
        chain_id,
        verifying_contract: Address::ZERO,
    })
}

async fn send_transaction(rpc: &str, json: bool, tx: Transaction) -> eyre::Result<()> {
    let receipt = client(rpc)?
        .send_transaction(Bytes::from(tx.encode()))
        .await?;
    print(json, &receipt, || {
        format!(
            "accepted {}\n  block {} index {} status {:?}",
            receipt.tx_hash, receipt.block_number, receipt.index, receipt.status
        )
    })
}

async fn send(
    rpc: &str,
    json: bool,
    sign: &SignArgs,
    build: impl FnOnce(u64, u64) -> Action,
) -> eyre::Result<()> {
    let signer = sign.key.signer()?;
    let client = client(rpc)?;
    let chain_id = match sign.force.chain_id {
        Some(chain_id) => chain_id,
        None => client.chain_id().await.wrap_err_with(|| {
            format!("cannot reach node at {rpc} (give --chain-id to sign without it)")
        })?,
    };
    let (nonce, expiry_ms) = sign.nonce_and_expiry();
    let action = build(nonce, expiry_ms);
    let domain = Domain {
        chain_id,
        verifying_contract: Address::ZERO,
    };
    let signature = signer.sign_hash_sync(&action.signing_hash(&domain))?;
    if sign.force.via_l1 {
        let signed = straddle_primitives::SignedAction { action, signature };
        return force_via_l1(json, &sign.force, &signer, &signed).await;
    }
    let request = SendActionRequest {
        chain_id,
        action,
        signature: Bytes::from(signature.as_bytes().to_vec()),
    };
    let receipt = client.send_action(request).await?;
    print(json, &receipt, || {
        format!(
            "accepted {}\n  block {} index {} status {:?}",
            receipt.tx_hash, receipt.block_number, receipt.index, receipt.status
        )
    })
}

/// Submits `signed` to the L1 Portal for forced inclusion; prints its forced index.
async fn force_via_l1(
    json: bool,
    force: &ForceArgs,
    signer: &PrivateKeySigner,
    signed: &straddle_primitives::SignedAction,
) -> eyre::Result<()> {
    let (Some(l1_rpc), Some(portal)) = (&force.l1_rpc, force.portal) else {
        bail!("--via-l1 needs --l1-rpc and --portal");
    };
    let payer = match &force.l1_key {
        Some(key) => parse_l1_key(key)?,
        None => signer.clone(),
    };
    let l1 = straddle_l1::L1Client::connect(l1_rpc, payer)?;
    let bytes = Transaction::Action(signed.clone()).encode();
    let index = l1.force_transaction(portal, bytes.into()).await?;
    let window = l1.forced_inclusion_window(portal).await?;
    let report = serde_json::json!({ "forcedIndex": index, "windowL1Blocks": window });
    print(json, &report, || {
        format!(
            "forced transaction {index} queued on L1: the L2 includes it within {window} L1 blocks"
        )
    })
}

pub(crate) fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Logs go to stderr; stdout carries only the "ready" line that scripts wait for.
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            // Colours only on a terminal: log files stay plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .init(),
    }
}

fn parse_l1_key(text: &str) -> eyre::Result<alloy_signer_local::PrivateKeySigner> {
    text.trim()
        .parse()
        .map_err(|_| eyre::eyre!("--l1-key is not a hex private key"))
}

/// Runs `task` until it ends or the process is told to stop (Ctrl-C or SIGTERM).
async fn until_stopped(task: impl std::future::Future<Output = ()>) -> eyre::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

async fn run_proposer(args: ProposerArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    let key = parse_l1_key(&args.l1_key)?;
    let interval = Duration::from_secs(args.interval_secs.max(1));
    let defender = match args.dispute_game {
        Some(game) => Some(
            straddle_disputes::Player::new(straddle_disputes::PlayerConfig {
                l2_rpc: args.l2_rpc.clone(),
                l1_rpc: args.l1_rpc.clone(),
                key: key.clone(),
                game,
                challenge: false,
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

async fn run_challenger(args: ChallengerArgs) -> eyre::Result<()> {
    init_logging(args.log_format);
    let player = straddle_disputes::Player::new(straddle_disputes::PlayerConfig {
        l2_rpc: args.l2_rpc,
        l1_rpc: args.l1_rpc,
        key: parse_l1_key(&args.l1_key)?,
        game: args.dispute_game,
        challenge: true,
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

/// `straddle withdraw finalize`: the latest finalized output covering the withdrawal,
/// its proof from the L2 node against that output's block, then the Portal call.
async fn finalize_withdrawal(rpc: &str, json: bool, command: WithdrawCommand) -> eyre::Result<()> {
    let WithdrawCommand::Finalize {
        index,
        l1_rpc,
        portal,
        registry,
        l1_key,
        wait_secs,
    } = command;
    let l1 = straddle_l1::L1Client::connect(&l1_rpc, parse_l1_key(&l1_key)?)?;
    eyre::ensure!(
        !l1.withdrawal_finalized(portal, index).await?,
        "withdrawal {index} is already finalized on L1"
    );
    let l2 = client(rpc)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(wait_secs);
    let (output, proof) = loop {
        let output = l1.latest_finalized_output(registry).await?;
        if let Some(output) = output {
            match l2.get_withdrawal_proof(index, output.l2_block).await {
                Ok(proof) => break (output, proof),
                Err(jsonrpsee::core::ClientError::Call(e))
                    if e.code() == straddle_rpc_api::errors::NOT_FOUND => {}
                Err(e) => return Err(e.into()),
            }
        }
        eyre::ensure!(
            std::time::Instant::now() < deadline,
            "no finalized output covers withdrawal {index} yet (outputs finalize after the registry's challenge window; pass --wait-secs to wait)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eyre::ensure!(
        proof.state_root == output.state_root,
        "the L2 node's state root at block {} ({}) differs from output {}'s ({}): this node is not on the proposed chain",
        output.l2_block,
        proof.state_root,
        output.index,
        output.state_root
    );
    let claim = straddle_l1::WithdrawalClaim {
        index,
        account: proof.account,
        recipient: proof.recipient,
        amount: proof.amount.0,
        l2_block: proof.l2_block_number,
    };
    let tx = l1
        .finalize_withdrawal(portal, output.index, &claim, proof.siblings.clone())
        .await?;
    let report = serde_json::json!({
        "index": index,
        "recipient": proof.recipient,
        "amount": proof.amount,
        "outputIndex": output.index,
        "l2BlockNumber": output.l2_block,
        "l1Transaction": tx,
    });
    print(json, &report, || {
        format!(
            "withdrawal {index} paid: {} to {} (output {} at L2 block {}), L1 tx {tx}",
            usdc_text(&proof.amount.0.to_string()),
            proof.recipient,
            output.index,
            output.l2_block
        )
    })
}

async fn run_batcher(args: BatcherArgs) -> eyre::Result<()> {
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

async fn run_node(args: NodeArgs) -> eyre::Result<()> {
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
