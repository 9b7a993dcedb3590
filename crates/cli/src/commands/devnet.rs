//! `straddle devnet`: a whole local chain from one command. Anvil is the L1 (contracts
//! deployed, dev accounts funded with ETH and TestUSDC); a sequencer, a follower that
//! rebuilds the chain from L1, a batcher, a proposer (which defends its outputs) and a
//! challenger run as child processes of this binary, with their logs in `<dir>/logs`;
//! an oracle feed keeps ETH and BTC prices moving and a market maker quotes the
//! perpetuals and options. Ctrl-C (or SIGTERM)
//! stops the services in reverse order of their dependencies, then anvil
//! (`docs/spec/settlement.md` §6).
//!
//! Every run starts fresh: anvil keeps no state, so the L2 data of a previous run is
//! removed first (its batches and deposits would refer to an L1 that no longer exists).

use crate::support::{
    LogFormat, default_devnet_genesis, devnet_domain, devnet_oracle_update, init_logging,
};
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use eyre::{WrapErr, bail, eyre};
use jsonrpsee::http_client::HttpClient;
use rand::Rng;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use straddle_exchange::devnet::{
    DEV_PRIVATE_KEYS, DEVNET_ALLOCATION, DEVNET_OPTION_EXPIRY_MS, dev_key,
};
use straddle_fault_proof::deploy_config;
use straddle_l1::alloy::providers::Provider;
use straddle_l1::{Anvil, DeployConfig, Deployment, L1Client};
use straddle_rpc_api::StraddleApiClient;
use tokio::process::{Child, Command};

/// `straddle devnet`.
#[derive(clap::Args)]
pub(crate) struct DevnetArgs {
    /// Working folder: node data, logs and `devnet.json` (emptied at start).
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// The L1 (anvil) JSON-RPC port.
    #[arg(long, default_value_t = 8545)]
    l1_port: u16,
    /// The sequencer's JSON-RPC port (HTTP and WebSocket); the follower's is the next one.
    #[arg(long, default_value_t = 9545)]
    rpc_port: u16,
    /// The sequencer's metrics port; the follower's is the next one.
    #[arg(long, default_value_t = 9100)]
    metrics_port: u16,
    /// Seconds between L1 blocks (0: a block per transaction).
    #[arg(long, default_value_t = 1)]
    l1_block_secs: u64,
    /// Seconds before a proposed output is final on L1 (withdrawals wait this long).
    #[arg(long, default_value_t = 12)]
    challenge_window_secs: u64,
    /// Seconds between the proposer's outputs.
    #[arg(long, default_value_t = 4)]
    proposer_interval_secs: u64,
    /// Milliseconds between oracle updates (0: one update at start, then none).
    #[arg(long, default_value_t = 3_000)]
    oracle_interval_ms: u64,
    /// Where the batcher posts: `cheapest` (blobs or calldata by current L1 fees),
    /// `blobs` or `calldata`.
    #[arg(long, default_value = "cheapest", value_parser = ["cheapest", "blobs", "calldata"])]
    da: String,
    /// The anvil binary (default: the one `scripts/setup-tools.sh` installs).
    #[arg(long)]
    anvil: Option<PathBuf>,
}

/// Dev account that deploys the contracts on L1 (the L2 operator).
const DEPLOYER: usize = 0;
/// Dev account of the market maker that quotes at start.
const MARKET_MAKER: usize = 6;
/// Dev account that posts batches on L1.
const BATCHER: usize = 8;
/// Dev account that proposes outputs on L1.
const PROPOSER: usize = 9;
/// Dev account that challenges wrong outputs on L1.
const CHALLENGER: usize = 5;
/// TestUSDC each dev account holds on L1 (micro-USDC): 1 000 000 USDC.
const L1_FUNDING: u128 = 1_000_000_000_000;
/// L1 blocks within which a forced transaction must be included (30 s at 1 s blocks).
const FORCED_INCLUSION_WINDOW: u64 = 30;
/// Proposer bond per output: 0.01 ETH.
const BOND_WEI: u128 = 10_000_000_000_000_000;
/// Each side's clock in a dispute game, seconds (mainnet would give days).
const DISPUTE_CLOCK_SECS: u64 = 60;
/// Starting index prices, whole USDC, of ETH (1) and BTC (2).
const START_PRICES: [(u32, u64); 2] = [(1, 3_000), (2, 60_000)];
/// How long a service may take to answer after it is started.
const SERVICE_STARTUP: Duration = Duration::from_secs(60);
/// How long a service may take to stop after SIGTERM before it is killed.
const SERVICE_STOP: Duration = Duration::from_secs(15);

/// A child process of the devnet.
struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `straddle <args>` with stdout and stderr appended to `logs/<name>.log`, in
    /// its own process group (a Ctrl-C reaches only the devnet, which stops it in order).
    fn start(name: &'static str, logs: &Path, args: &[String]) -> eyre::Result<Service> {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .wrap_err_with(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .wrap_err_with(|| format!("cannot start the {name}"))?;
        Ok(Service { name, child, log })
    }

    /// An error naming the service and its log, when it has exited.
    fn exited(&mut self) -> Option<eyre::Report> {
        let status = self.child.try_wait().ok()??;
        Some(eyre!(
            "the {} exited ({status}); see {}",
            self.name,
            self.log.display()
        ))
    }

    /// Waits until the node at `client` answers, or fails if the process exits first.
    async fn wait_until_serving(&mut self, client: &HttpClient) -> eyre::Result<()> {
        let started = Instant::now();
        loop {
            if client.chain_id().await.is_ok() {
                return Ok(());
            }
            if let Some(error) = self.exited() {
                return Err(error);
            }
            if started.elapsed() > SERVICE_STARTUP {
                bail!(
                    "the {} did not start; see {}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within [`SERVICE_STOP`].
    async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sending a signal to our own child process.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        match tokio::time::timeout(SERVICE_STOP, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => eprintln!("  {} stopped: {status}", self.name),
            _ => {
                eprintln!("  {} did not stop in time: killed", self.name);
                let _ = self.child.kill().await;
            }
        }
    }
}

fn dev_address(index: usize) -> eyre::Result<Address> {
    Ok(PrivateKeySigner::from_bytes(&dev_key(index))
        .map_err(|_| eyre!("bad devnet key"))?
        .address())
}

/// Removes what a previous run left in `dir` (only the entries this command creates).
fn reset(dir: &Path) -> eyre::Result<()> {
    for entry in ["sequencer", "follower", "logs"] {
        let path = dir.join(entry);
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .wrap_err_with(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for entry in ["devnet.json", "sequencer.log", "follower.log"] {
        let _ = std::fs::remove_file(dir.join(entry));
    }
    std::fs::create_dir_all(dir.join("logs"))
        .wrap_err_with(|| format!("cannot create {}", dir.display()))
}

/// Deploys the contracts and funds the dev accounts and the Portal on L1.
async fn deploy(l1_url: &str, challenge_window_secs: u64) -> eyre::Result<Deployment> {
    let genesis = default_devnet_genesis();
    let deployer_key =
        PrivateKeySigner::from_bytes(&dev_key(DEPLOYER)).map_err(|_| eyre!("bad devnet key"))?;
    let deployer = L1Client::connect(l1_url, deployer_key)?;
    let deployment = deployer
        .deploy_devnet(&DeployConfig {
            challenge_window_secs,
            bond_wei: BOND_WEI,
            forced_inclusion_window: FORCED_INCLUSION_WINDOW,
            dispute_clock_secs: DISPUTE_CLOCK_SECS,
            ..deploy_config(&genesis, dev_address(PROPOSER)?, dev_address(BATCHER)?)
                .map_err(|e| eyre!("the devnet genesis does not build: {e}"))?
        })
        .await
        .wrap_err("cannot deploy the contracts")?;
    for index in 0..DEV_PRIVATE_KEYS.len() {
        deployer
            .mint_test_collateral(deployment.collateral, dev_address(index)?, L1_FUNDING)
            .await?;
    }
    // The genesis allocations exist on L2 without a deposit; the Portal holds the tokens
    // that back them, so that withdrawing them pays out on L1 like any other withdrawal.
    let genesis_supply = DEVNET_ALLOCATION.0 * DEV_PRIVATE_KEYS.len() as u128;
    deployer
        .mint_test_collateral(deployment.collateral, deployment.portal, genesis_supply)
        .await?;
    Ok(deployment)
}

/// The L1 arguments of `straddle node`.
fn node_l1_args(l1_url: &str, deployment: &Deployment) -> Vec<String> {
    vec![
        "--l1-rpc".into(),
        l1_url.into(),
        "--portal".into(),
        deployment.portal.to_string(),
        "--inbox".into(),
        deployment.batch_inbox.to_string(),
        "--l1-start-block".into(),
        deployment.start_block.to_string(),
        "--l1-poll-ms".into(),
        "250".into(),
    ]
}

/// The oracle feed: a mean-reverting random walk of each index around its start price.
struct OracleFeed {
    prices: Vec<(u32, f64)>,
    client: HttpClient,
    domain: straddle_primitives::Domain,
}

impl OracleFeed {
    /// A feed for the node at `rpc` (asked for its signing domain once).
    async fn connect(rpc: &str) -> eyre::Result<OracleFeed> {
        Ok(OracleFeed {
            prices: START_PRICES
                .iter()
                .map(|(underlying, price)| (*underlying, *price as f64))
                .collect(),
            client: straddle_rpc_api::http_client(rpc)?,
            domain: devnet_domain(rpc).await?,
        })
    }

    /// Moves every price one step (at most ±0.3 %, pulled back toward the start price).
    fn step(&mut self) {
        let mut rng = rand::rng();
        for ((_, price), (_, start)) in self.prices.iter_mut().zip(START_PRICES.iter()) {
            let shock: f64 = rng.random_range(-0.002..0.002);
            let pull = 0.05 * (*start as f64 / *price - 1.0);
            *price *= 1.0 + (shock + pull).clamp(-0.003, 0.003);
        }
    }

    /// Signs and sends the current prices (with the devnet's option smile).
    async fn publish(&self) -> eyre::Result<()> {
        for (underlying, price) in &self.prices {
            let index_micro = (price * 1e6).round() as u64;
            let smile = (DEVNET_OPTION_EXPIRY_MS, 650_000, -100_000, 200_000);
            let update = devnet_oracle_update(&self.domain, *underlying, index_micro, smile)?;
            self.client
                .send_transaction(update.encode().into())
                .await
                .wrap_err("oracle update refused")?;
        }
        Ok(())
    }
}

/// Runs `straddle --rpc <rpc> <args>` to completion; fails with its stderr.
async fn run_cli(rpc: &str, args: &[String]) -> eyre::Result<()> {
    let output = Command::new(std::env::current_exe()?)
        .args(["--rpc", rpc])
        .args(args)
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "straddle {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The market maker deposits margin and quotes two levels a side around each market's
/// mark: the perpetuals at ±0.2 % and ±0.5 %, the options at ±3 % and ±6 %.
async fn seed_quotes(rpc: &str) -> eyre::Result<()> {
    let dev = MARKET_MAKER.to_string();
    let deposit = ["margin", "deposit", "--dev", &dev, "--amount", "500000"];
    run_cli(rpc, &deposit.map(String::from)).await?;
    let client = straddle_rpc_api::http_client(rpc)?;
    for market in client.get_markets().await? {
        let Some(mark) = market.mark else { continue };
        let perpetual = market.kind == "perpetual";
        let (near, far) = if perpetual {
            (0.002, 0.005)
        } else {
            (0.03, 0.06)
        };
        let size = match (perpetual, market.underlying) {
            (true, 2) => "0.5",
            _ => "5",
        };
        let level = |offset: f64| -> String {
            let raw = mark as f64 * (1.0 + offset);
            let tick = market.tick.max(1) as f64;
            let price = (raw / tick).round() * tick / 1e6;
            format!("{price}:{size}")
        };
        let bids = format!("{},{}", level(-near), level(-far));
        let asks = format!("{},{}", level(near), level(far));
        let quote = [
            "order",
            "quote",
            "--market",
            &market.id.to_string(),
            "--dev",
            &dev,
            "--bids",
            &bids,
            "--asks",
            &asks,
        ];
        run_cli(rpc, &quote.map(String::from)).await?;
    }
    Ok(())
}

/// Runs the devnet until Ctrl-C or SIGTERM, or until one of its services fails.
pub(crate) async fn run(args: DevnetArgs) -> eyre::Result<()> {
    init_logging(LogFormat::Text);
    let dir = args.dir.clone();
    reset(&dir)?;
    let logs = dir.join("logs");
    let root = std::env::current_dir()?;
    let anvil_binary = args
        .anvil
        .clone()
        .unwrap_or_else(|| straddle_l1::anvil::anvil_binary(&root));
    if !anvil_binary.exists() {
        bail!(
            "anvil not found at {}: run ./scripts/setup-tools.sh from the repository, or pass --anvil",
            anvil_binary.display()
        );
    }
    let started = Instant::now();
    let mut anvil = Anvil::start_logged(
        &anvil_binary,
        args.l1_port,
        &[],
        Some(&logs.join("anvil.log")),
    )?;
    let l1_url = anvil.url();
    let deployment = deploy(&l1_url, args.challenge_window_secs).await?;
    if args.l1_block_secs > 0 {
        // Deployment ran with a block per transaction; from now on L1 ticks like a chain.
        let () = L1Client::read_only(&l1_url)?
            .provider()
            .raw_request("evm_setIntervalMining".into(), (args.l1_block_secs,))
            .await
            .wrap_err("cannot switch anvil to interval mining")?;
    }

    let result = run_services(&args, &l1_url, &deployment, started).await;
    eprintln!("stopping anvil");
    anvil.stop();
    result
}

async fn run_services(
    args: &DevnetArgs,
    l1_url: &str,
    deployment: &Deployment,
    started: Instant,
) -> eyre::Result<()> {
    let logs = args.dir.join("logs");
    let sequencer_rpc = format!("http://127.0.0.1:{}", args.rpc_port);
    let follower_rpc = format!("http://127.0.0.1:{}", args.rpc_port + 1);
    let node_args = |name: &str, rpc_port: u16, metrics_port: u16, follow: bool| {
        let mut list: Vec<String> = vec![
            "node".into(),
            "--data-dir".into(),
            args.dir.join(name).display().to_string(),
            "--rpc-addr".into(),
            format!("127.0.0.1:{rpc_port}"),
            "--metrics-addr".into(),
            format!("127.0.0.1:{metrics_port}"),
        ];
        if follow {
            list.push("--follow".into());
        }
        list.extend(node_l1_args(l1_url, deployment));
        list
    };
    // Services in start order; they are stopped in reverse.
    let mut services: Vec<Service> = Vec::new();
    let outcome = async {
        let mut sequencer = Service::start(
            "sequencer",
            &logs,
            &node_args("sequencer", args.rpc_port, args.metrics_port, false),
        )?;
        sequencer
            .wait_until_serving(&straddle_rpc_api::http_client(&sequencer_rpc)?)
            .await?;
        services.push(sequencer);
        let mut follower = Service::start(
            "follower",
            &logs,
            &node_args("follower", args.rpc_port + 1, args.metrics_port + 1, true),
        )?;
        follower
            .wait_until_serving(&straddle_rpc_api::http_client(&follower_rpc)?)
            .await?;
        services.push(follower);
        let key_hex = |index: usize| alloy_primitives::hex::encode(dev_key(index));
        services.push(Service::start(
            "batcher",
            &logs,
            &[
                "batcher".into(),
                "--l2-rpc".into(),
                sequencer_rpc.clone(),
                "--l1-rpc".into(),
                l1_url.into(),
                "--inbox".into(),
                deployment.batch_inbox.to_string(),
                "--l1-key".into(),
                key_hex(BATCHER),
                "--l1-start-block".into(),
                deployment.start_block.to_string(),
                "--da".into(),
                args.da.clone(),
            ],
        )?);
        // The proposer reads the follower: it proposes only what L1 data re-derives.
        services.push(Service::start(
            "proposer",
            &logs,
            &[
                "proposer".into(),
                "--l2-rpc".into(),
                follower_rpc.clone(),
                "--l1-rpc".into(),
                l1_url.into(),
                "--registry".into(),
                deployment.output_registry.to_string(),
                "--l1-key".into(),
                key_hex(PROPOSER),
                "--interval-secs".into(),
                args.proposer_interval_secs.to_string(),
                "--dispute-game".into(),
                deployment.dispute_game.to_string(),
                "--l1-start-block".into(),
                deployment.start_block.to_string(),
            ],
        )?);
        // The challenger checks every output against the follower's chain, and takes
        // the side of every correct output someone disputes.
        services.push(Service::start(
            "challenger",
            &logs,
            &[
                "challenger".into(),
                "--defend".into(),
                "--l2-rpc".into(),
                follower_rpc.clone(),
                "--l1-rpc".into(),
                l1_url.into(),
                "--dispute-game".into(),
                deployment.dispute_game.to_string(),
                "--l1-key".into(),
                key_hex(CHALLENGER),
                "--l1-start-block".into(),
                deployment.start_block.to_string(),
            ],
        )?);
        let mut feed = OracleFeed::connect(&sequencer_rpc).await?;
        feed.publish().await?;
        seed_quotes(&sequencer_rpc).await?;
        write_summary(args, l1_url, deployment, &sequencer_rpc, &follower_rpc)?;
        print_banner(
            args,
            l1_url,
            deployment,
            &sequencer_rpc,
            &follower_rpc,
            started,
        )?;
        supervise(&mut services, &mut feed, args.oracle_interval_ms).await
    }
    .await;
    if outcome.is_err() {
        // Name the failure before the shutdown messages.
        if let Err(error) = &outcome {
            eprintln!("devnet: {error:#}");
        }
    }
    eprintln!("stopping the devnet services");
    for service in services.iter_mut().rev() {
        service.stop().await;
    }
    outcome
}

/// Feeds the oracle and watches the services until a stop signal or a service exits.
async fn supervise(
    services: &mut [Service],
    feed: &mut OracleFeed,
    oracle_interval_ms: u64,
) -> eyre::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut oracle_tick = tokio::time::interval(Duration::from_millis(oracle_interval_ms.max(100)));
    oracle_tick.tick().await;
    let mut health_tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            _ = oracle_tick.tick(), if oracle_interval_ms > 0 => {
                feed.step();
                if let Err(error) = feed.publish().await {
                    tracing::warn!("oracle feed: {error:#}");
                }
            }
            _ = health_tick.tick() => {
                for service in services.iter_mut() {
                    if let Some(error) = service.exited() {
                        return Err(error);
                    }
                }
            }
        }
    }
}

/// `<dir>/devnet.json`: endpoints and addresses, for scripts.
fn write_summary(
    args: &DevnetArgs,
    l1_url: &str,
    deployment: &Deployment,
    sequencer_rpc: &str,
    follower_rpc: &str,
) -> eyre::Result<()> {
    let summary = serde_json::json!({
        "l1Rpc": l1_url,
        "l1ChainId": 31337,
        "sequencerRpc": sequencer_rpc,
        "followerRpc": follower_rpc,
        "sequencerMetrics": format!("http://127.0.0.1:{}/metrics", args.metrics_port),
        "followerMetrics": format!("http://127.0.0.1:{}/metrics", args.metrics_port + 1),
        "l2ChainId": straddle_exchange::devnet::DEVNET_CHAIN_ID,
        "deployment": deployment,
        "batcher": dev_address(BATCHER)?,
        "proposer": dev_address(PROPOSER)?,
        "challenger": dev_address(CHALLENGER)?,
        "challengeWindowSecs": args.challenge_window_secs,
    });
    let path = args.dir.join("devnet.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .wrap_err_with(|| format!("cannot write {}", path.display()))
}

fn print_banner(
    args: &DevnetArgs,
    l1_url: &str,
    deployment: &Deployment,
    sequencer_rpc: &str,
    follower_rpc: &str,
    started: Instant,
) -> eyre::Result<()> {
    let dir = args.dir.display();
    let mut lines = vec![
        format!(
            "straddle devnet ready in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        String::new(),
        format!("  L1 (anvil, chain 31337)   {l1_url}"),
        format!("  sequencer                 {sequencer_rpc}   (WebSocket on the same port)"),
        format!("  follower (from L1 only)   {follower_rpc}"),
        format!(
            "  metrics                   http://127.0.0.1:{}/metrics, :{}/metrics",
            args.metrics_port,
            args.metrics_port + 1
        ),
        String::new(),
        format!("  TestUSDC (collateral)     {}", deployment.collateral),
        format!("  Portal                    {}", deployment.portal),
        format!("  BatchInbox                {}", deployment.batch_inbox),
        format!("  OutputRegistry            {}", deployment.output_registry),
        format!(
            "  outputs final after {} s unless disputed (DisputeGame {}, {DISPUTE_CLOCK_SECS} s clocks); L1 block every {} s",
            args.challenge_window_secs, deployment.dispute_game, args.l1_block_secs
        ),
        String::new(),
        "  dev accounts (same keys on L1 and L2; 1 000 000 USDC on each side):".into(),
    ];
    for (index, key) in DEV_PRIVATE_KEYS.iter().enumerate() {
        let role = match index {
            DEPLOYER => "  operator, L1 deployer",
            CHALLENGER => "  L1 challenger (disputes wrong outputs, defends correct ones)",
            MARKET_MAKER => "  market maker (quoting)",
            7 => "  oracle signer",
            BATCHER => "  oracle signer, L1 batcher",
            PROPOSER => "  oracle signer, L1 proposer",
            _ => "",
        };
        lines.push(format!("  {index} {} 0x{key}{role}", dev_address(index)?));
    }
    lines.extend([
        String::new(),
        format!("  logs in {dir}/logs, addresses in {dir}/devnet.json"),
        format!(
            "  deposit from L1: cast send {} 'approve(address,uint256)' {} 1000000000 --private-key <key> --rpc-url {l1_url}",
            deployment.collateral, deployment.portal
        ),
        format!(
            "                   cast send {} 'deposit(address,uint256)' <L2 address> 1000000000 --private-key <key> --rpc-url {l1_url}",
            deployment.portal
        ),
        format!(
            "  withdraw: straddle withdraw --dev 1 --amount 10, then straddle --rpc {follower_rpc} withdraw finalize --index <i> --l1-rpc {l1_url} --portal {} --registry {} --l1-key <key> --wait-secs 120",
            deployment.portal, deployment.output_registry
        ),
        format!(
            "  censored? add --expires-in 3600 --via-l1 --l1-rpc {l1_url} --portal {} to withdraw, transfer or margin commands (included within {FORCED_INCLUSION_WINDOW} L1 blocks)",
            deployment.portal
        ),
        "  Ctrl-C stops everything; the next run starts a fresh chain.".into(),
    ]);
    println!("{}", lines.join("\n"));
    Ok(())
}
