//! What several subcommands share: printing text or JSON, the node's RPC client, amounts
//! in micro-units, the devnet's genesis, signing domain and oracle keys, key selection
//! and key files, signing and sending an action (`docs/spec/actions.md`) to the sequencer
//! or through the L1 Portal (`docs/spec/settlement.md` §7), and the logging and shutdown
//! of long-running services. It imports no subcommand module: they import it.

use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, ValueEnum};
use eyre::{Context, bail, eyre};
use jsonrpsee::http_client::HttpClient;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use straddle_exchange::Genesis;
use straddle_exchange::devnet::{dev_key, devnet_genesis};
use straddle_primitives::{Action, Amount, Domain, Transaction};
use straddle_rpc_api::{SendActionRequest, StraddleApiClient};

// ---------------------------------------------------------------------------------------
// Output, the node's client, numbers.

/// Prints `value` as pretty JSON with `--json`, else the text `text` makes.
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

/// A JSON-RPC client of the node at `url` (HTTP).
pub(crate) fn client(url: &str) -> eyre::Result<HttpClient> {
    straddle_rpc_api::http_client(url).wrap_err_with(|| format!("invalid RPC url {url}"))
}

/// The current time, unix microseconds (the default nonce).
pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Whole units with six decimals (USDC or contracts) as a `u64` of micro-units.
pub(crate) fn parse_micro(text: &str, what: &str) -> eyre::Result<u64> {
    u64::try_from(Amount::parse_whole(text)?.0).map_err(|_| eyre!("{what} too large"))
}

/// A signed micro-USDC decimal string as USDC with six decimals.
pub(crate) fn usdc_text(micro: &str) -> String {
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

// ---------------------------------------------------------------------------------------
// Genesis and the devnet.

/// The genesis in `path`, or the devnet's without one.
pub(crate) fn load_genesis(path: Option<&PathBuf>) -> eyre::Result<Genesis> {
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

/// The signing domain of the node at `rpc` (devnet helpers sign for it).
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

// ---------------------------------------------------------------------------------------
// Keys: key files and the key options of signing commands.

/// A plaintext key file (devnet and testing; protect it like the key itself).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyFile {
    /// The address, for humans.
    pub(crate) address: Address,
    /// The secp256k1 private key, hex.
    pub(crate) private_key: B256,
}

/// Parses a hex private key (with or without 0x).
pub(crate) fn parse_private_key(text: &str) -> eyre::Result<PrivateKeySigner> {
    let key: B256 = text
        .trim()
        .parse()
        .map_err(|_| eyre!("private key must be 32 bytes of hex"))?;
    PrivateKeySigner::from_bytes(&key).map_err(|_| eyre!("not a valid secp256k1 private key"))
}

/// Reads a key file.
pub(crate) fn read_key_file(path: &Path) -> eyre::Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .wrap_err("key file is not valid JSON of {address, privateKey}")?;
    let signer = PrivateKeySigner::from_bytes(&file.private_key)
        .map_err(|_| eyre!("key file holds an invalid key"))?;
    if signer.address() != file.address {
        bail!(
            "key file address {} does not match its key ({})",
            file.address,
            signer.address()
        );
    }
    Ok(signer)
}

/// Parses the `--l1-key` of a command that pays L1 gas.
pub(crate) fn parse_l1_key(text: &str) -> eyre::Result<PrivateKeySigner> {
    text.trim()
        .parse()
        .map_err(|_| eyre::eyre!("--l1-key is not a hex private key"))
}

/// Which L2 key signs: a hex key, a key file, or a devnet test account.
/// Where blob batches are read from, for every command that reads them back.
#[derive(Args)]
pub(crate) struct BlobSourceArgs {
    /// A consensus client's beacon API (`http://host:5052`) to read blob batches from, on
    /// a public network; without it blobs come from the L1 node (anvil).
    #[arg(long)]
    pub(crate) beacon_api: Option<String>,
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
    /// The selected key.
    pub(crate) fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        if let Some(index) = self.dev {
            if index >= 10 {
                bail!("--dev takes 0 to 9");
            }
            return PrivateKeySigner::from_bytes(&dev_key(index))
                .map_err(|_| eyre!("bad devnet key"));
        }
        match &self.private_key {
            Some(key) => parse_private_key(key),
            None => read_key_file(&self.key_file).wrap_err(
                "no key given: use --private-key, --key-file, --dev N, or `straddle keys new`",
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Signing and sending.

/// The options of every signed request: key, nonce, expiry, forced inclusion.
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

/// Signs the action `build` makes from the nonce and expiry, then sends it to the node
/// (or, with `--via-l1`, to the L1 Portal); prints the receipt.
pub(crate) async fn send(
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

/// Sends an already signed transaction to the node; prints the receipt.
pub(crate) async fn send_transaction(rpc: &str, json: bool, tx: Transaction) -> eyre::Result<()> {
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

// ---------------------------------------------------------------------------------------
// Long-running services: logs and shutdown.

/// How a service writes its logs.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Sends `tracing` logs to stderr in `format` (filtered by `RUST_LOG`, default info).
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

/// Runs `task` until it ends or the process is told to stop (Ctrl-C or SIGTERM).
pub(crate) async fn until_stopped(task: impl std::future::Future<Output = ()>) -> eyre::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
