//! The chain itself: `straddle genesis` (the devnet genesis), the queries `block`,
//! `receipt` and `proof` (a Merkle proof checked locally, `docs/spec/state.md`), and
//! `replay`, which re-executes a stopped node's stored chain offline.

use crate::support::{client, default_devnet_genesis, load_genesis, print};
use alloy_primitives::{Address, B256};
use clap::Args;
use eyre::{bail, eyre};
use std::path::PathBuf;
use straddle_rpc_api::{BlockRef, StraddleApiClient};

/// `straddle block`.
#[derive(Args)]
pub(crate) struct BlockArgs {
    /// Which block.
    #[arg(default_value = "latest")]
    block: String,
    /// Include the transactions.
    #[arg(long)]
    full: bool,
}

/// `straddle receipt`.
#[derive(Args)]
pub(crate) struct ReceiptArgs {
    /// Transaction hash.
    hash: B256,
}

/// `straddle proof`.
#[derive(Args)]
pub(crate) struct ProofArgs {
    /// The account.
    address: Address,
}

/// `straddle replay`.
#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// The node's data directory (the node must be stopped).
    #[arg(long, default_value = ".straddle/node")]
    data_dir: PathBuf,
    /// Genesis file (default: devnet).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Instead, print the state root after every transaction of this block.
    #[arg(long, value_name = "BLOCK")]
    per_tx_roots: Option<u64>,
}

/// Prints the devnet genesis as JSON (whatever `--json` says).
pub(crate) fn genesis() -> eyre::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&default_devnet_genesis())?
    );
    Ok(())
}

/// Prints a block, with its transactions under `--full`.
pub(crate) async fn block(rpc: &str, json: bool, args: BlockArgs) -> eyre::Result<()> {
    let BlockArgs { block, full } = args;
    let reference = parse_block_ref(&block)?;
    let view = client(rpc)?.get_block(reference, Some(full)).await?;
    let Some(view) = view else {
        bail!("block {block} not found")
    };
    print(json, &view, || {
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

/// Prints a transaction's receipt.
pub(crate) async fn receipt(rpc: &str, json: bool, args: ReceiptArgs) -> eyre::Result<()> {
    let hash = args.hash;
    let receipt = client(rpc)?.get_receipt(hash).await?;
    let Some(receipt) = receipt else {
        bail!("no receipt for {hash} (unknown, or its block is not committed yet)")
    };
    print(json, &receipt, || {
        format!(
            "tx {} from {}\n  block {} index {} status {:?}",
            receipt.tx_hash, receipt.sender, receipt.block_number, receipt.index, receipt.status
        )
    })
}

/// Fetches an account's proof and verifies it against the state root before printing.
pub(crate) async fn proof(rpc: &str, json: bool, args: ProofArgs) -> eyre::Result<()> {
    let address = args.address;
    let view = client(rpc)?.get_proof(address).await?;
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
    print(json, &view, || {
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

/// Replays the stored chain from genesis, or prints one block's per-transaction roots.
pub(crate) fn replay(json: bool, args: ReplayArgs) -> eyre::Result<()> {
    let ReplayArgs {
        data_dir,
        genesis,
        per_tx_roots,
    } = args;
    let genesis = load_genesis(genesis.as_ref())?;
    let store = straddle_storage::chain_store::ChainStore::open(&data_dir)?;
    if let Some(number) = per_tx_roots {
        let roots = straddle_fault_proof::per_transaction_roots(&store, &genesis, number)?;
        return print(json, &roots, || {
            roots
                .iter()
                .enumerate()
                .map(|(i, root)| format!("tx {i:>4}  {root}"))
                .collect::<Vec<_>>()
                .join("\n")
        });
    }
    let report = straddle_chain::replay_stored_chain(&store, &genesis)?;
    print(
        json,
        &serde_json::json!({"blocks": report.blocks, "transactions": report.transactions, "stateRoot": report.state_root}),
        || {
            format!(
                "replayed {} blocks, {} transactions: every header matches\n  state root {}",
                report.blocks, report.transactions, report.state_root
            )
        },
    )
}
