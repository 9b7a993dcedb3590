//! `straddle batch measure`: encodes a stored chain into batches as the batcher would
//! (the format of `docs/spec/batches.md`) and reports L1 bytes per fill and per transfer,
//! with and without zstd on top.

use crate::support::{load_genesis, print};
use clap::Subcommand;
use eyre::WrapErr;
use serde::Serialize;
use std::path::{Path, PathBuf};
use straddle_batch::{Batch, BatchBlock};
use straddle_exchange::Genesis;
use straddle_primitives::{Action, Transaction};
use straddle_storage::chain_store::ChainStore;

/// `straddle batch`.
#[derive(Subcommand)]
pub(crate) enum BatchCommand {
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

/// Runs `straddle batch …`.
pub(crate) fn run(json: bool, command: BatchCommand) -> eyre::Result<()> {
    match command {
        BatchCommand::Measure {
            data_dir,
            genesis,
            span_ms,
        } => {
            let genesis = load_genesis(genesis.as_ref())?;
            let report = measure(&data_dir, &genesis, span_ms.max(1))?;
            print(json, &report, || report.text())
        }
    }
}

/// What a stored chain costs on L1.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchSizeReport {
    /// Batches formed (one per `span_ms` of L2 time).
    batches: usize,
    /// Blocks and transactions in them.
    blocks: u64,
    /// Transactions.
    transactions: u64,
    /// Maker fills (settled fills) in matches.
    fills: u64,
    /// Transfers.
    transfers: u64,
    /// Sum of the transactions' canonical bytes.
    canonical_bytes: u64,
    /// Sum of the batches' bytes (the format of `docs/spec/batches.md`).
    batch_bytes: u64,
    /// zstd (level 3) of each batch.
    batch_zstd_bytes: u64,
    /// zstd (level 19) of each batch.
    batch_zstd19_bytes: u64,
    /// zstd (level 3) of each batch's canonical transactions, for comparison.
    canonical_zstd_bytes: u64,
}

impl BatchSizeReport {
    fn per(&self, bytes: u64, count: u64) -> f64 {
        if count == 0 {
            0.0
        } else {
            bytes as f64 / count as f64
        }
    }

    /// Human-readable summary.
    fn text(&self) -> String {
        format!(
            "{} batches, {} blocks, {} transactions ({} fills, {} transfers)\n\
             bytes: canonical {}  batch {}  batch+zstd3 {}  batch+zstd19 {}  canonical+zstd3 {}\n\
             per fill (all bytes / fills): batch {:.1}  batch+zstd3 {:.1}  canonical {:.1}\n\
             per transaction: batch {:.1}  canonical {:.1}",
            self.batches,
            self.blocks,
            self.transactions,
            self.fills,
            self.transfers,
            self.canonical_bytes,
            self.batch_bytes,
            self.batch_zstd_bytes,
            self.batch_zstd19_bytes,
            self.canonical_zstd_bytes,
            self.per(self.batch_bytes, self.fills),
            self.per(self.batch_zstd_bytes, self.fills),
            self.per(self.canonical_bytes, self.fills),
            self.per(self.batch_bytes, self.transactions),
            self.per(self.canonical_bytes, self.transactions),
        )
    }

    fn add(&mut self, batch: &Batch, genesis: &Genesis) -> eyre::Result<()> {
        let domain = &genesis.domain;
        let bytes = batch.encode(domain)?;
        let carried = || batch.blocks.iter().flat_map(|b| &b.transactions);
        let deposits: std::collections::HashMap<u64, _> = carried()
            .filter_map(|tx| match tx {
                Transaction::Deposit(d) => Some((d.index, *d)),
                _ => None,
            })
            .collect();
        let forced: std::collections::HashMap<u64, _> = carried()
            .filter_map(|tx| match tx {
                Transaction::Forced(f) => Some((f.index, f.clone())),
                _ => None,
            })
            .collect();
        let records = straddle_batch::L1Records {
            deposit: &|i| deposits.get(&i).copied(),
            forced: &|i| forced.get(&i).cloned(),
        };
        let decoded = Batch::decode(&bytes, domain, records)?;
        eyre::ensure!(&decoded == batch, "batch does not decode to its blocks");
        let mut canonical = Vec::new();
        for tx in batch.blocks.iter().flat_map(|b| &b.transactions) {
            canonical.extend_from_slice(&tx.encode());
            self.transactions += 1;
            self.fills += tx.maker_fills() as u64;
            if let Transaction::Action(signed) = tx
                && matches!(signed.action, Action::Transfer(_))
            {
                self.transfers += 1
            }
        }
        self.batches += 1;
        self.blocks += batch.blocks.len() as u64;
        self.canonical_bytes += canonical.len() as u64;
        self.batch_bytes += bytes.len() as u64;
        self.batch_zstd_bytes += zstd::encode_all(bytes.as_slice(), 3)?.len() as u64;
        self.batch_zstd19_bytes += zstd::encode_all(bytes.as_slice(), 19)?.len() as u64;
        self.canonical_zstd_bytes += zstd::encode_all(canonical.as_slice(), 3)?.len() as u64;
        Ok(())
    }
}

/// Reads every stored block after genesis and groups them into batches of `span_ms` of
/// L2 time each.
fn measure(data_dir: &Path, genesis: &Genesis, span_ms: u64) -> eyre::Result<BatchSizeReport> {
    let store = ChainStore::open(data_dir)
        .wrap_err_with(|| format!("cannot open the chain in {}", data_dir.display()))?;
    let head = store.head_number()?.unwrap_or_default();
    let mut report = BatchSizeReport::default();
    let mut current: Option<Batch> = None;
    for number in 1..=head {
        let Some((header, txs)) = store.block(number)? else {
            eyre::bail!("block {number} missing from the store");
        };
        let block = BatchBlock {
            number,
            timestamp_ms: header.timestamp_ms,
            transactions: txs.into_iter().map(|stored| stored.tx).collect(),
        };
        match &mut current {
            Some(batch)
                if header.timestamp_ms < batch.blocks[0].timestamp_ms.saturating_add(span_ms) =>
            {
                batch.blocks.push(block)
            }
            _ => {
                if let Some(full) = current.take() {
                    report.add(&full, genesis)?;
                }
                current = Some(Batch {
                    parent_hash: header.parent_hash,
                    blocks: vec![block],
                });
            }
        }
    }
    if let Some(last) = current {
        report.add(&last, genesis)?;
    }
    Ok(report)
}
