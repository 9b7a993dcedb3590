//! `straddle bench transfers`: a load generator that drives a running node over the
//! network with real signed transfers and reports throughput and acknowledgement latency.
//!
//! Each worker owns a fresh key (funded from the devnet faucet), so nonces never
//! collide. Every transaction is signed before the clock starts, so the figures measure
//! the node, not the generator's signing. Workers either run closed-loop (send, await the
//! receipt, send again) or open-loop at a fixed aggregate `--rate`.

use super::load::{
    LatencySummary, RunArgs, Schedule, connect, fund_workers, loop_mode, report_progress,
    sign_in_parallel, signed_request,
};
use crate::support::now_micros;
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use clap::Args;
use eyre::{bail, eyre};
use jsonrpsee::ws_client::WsClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use straddle_primitives::{Action, Domain, Transfer};
use straddle_rpc_api::{SendActionRequest, StraddleApiClient};

/// Options of `straddle bench transfers`.
#[derive(Args)]
pub(crate) struct TransferBenchArgs {
    /// Concurrent workers, each with its own key and WebSocket connection.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Transactions to sign and send in total.
    #[arg(long, default_value_t = 40_000)]
    transactions: usize,
    #[command(flatten)]
    run: RunArgs,
}

/// What a run measured.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransferBenchReport {
    workers: usize,
    mode: String,
    sent: u64,
    acknowledged: u64,
    refused: u64,
    failed: u64,
    seconds: f64,
    throughput_per_second: f64,
    #[serde(flatten)]
    latency: LatencySummary,
}

impl TransferBenchReport {
    /// A human-readable summary.
    pub(crate) fn text(&self) -> String {
        format!(
            "{} workers, {}: {} acknowledged ({} refused, {} failed) in {:.2} s = {:.0} tx/s\n  {}",
            self.workers,
            self.mode,
            self.acknowledged,
            self.refused,
            self.failed,
            self.seconds,
            self.throughput_per_second,
            self.latency.text(),
        )
    }
}

#[derive(Default)]
struct Counters {
    acknowledged: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// Runs the transfer benchmark against the node at `ws_url`.
pub(crate) async fn run_transfer_bench(
    ws_url: &str,
    args: &TransferBenchArgs,
) -> eyre::Result<TransferBenchReport> {
    if args.workers == 0 || args.transactions < args.workers {
        bail!("need at least one worker and one transaction per worker");
    }
    let control = connect(ws_url).await?;
    let chain_id = control.chain_id().await?;
    let domain = Domain {
        chain_id,
        verifying_contract: Address::ZERO,
    };
    let workers: Vec<PrivateKeySigner> = (0..args.workers)
        .map(|_| PrivateKeySigner::random())
        .collect();
    fund_workers(&control, &domain, args.run.funder_dev, &workers).await?;

    eprintln!("signing {} transfers…", args.transactions);
    let per_worker = args.transactions / args.workers;
    let batches = sign_all(&workers, per_worker, &domain);
    let mut clients = Vec::with_capacity(args.workers);
    for _ in 0..args.workers {
        clients.push(connect(ws_url).await?);
    }

    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.workers);
    for (index, (client, batch)) in clients.into_iter().zip(batches).enumerate() {
        let counters = counters.clone();
        let schedule = Schedule::new(&args.run, start, index, args.workers);
        tasks.push(tokio::spawn(async move {
            run_worker(client, batch, counters, schedule).await
        }));
    }
    let progress_counters = counters.clone();
    let progress = tokio::spawn(async move {
        report_progress(
            || progress_counters.acknowledged.load(Ordering::Relaxed),
            start,
            "tx",
        )
        .await
    });
    let mut latencies: Vec<u64> = Vec::with_capacity(args.transactions);
    let mut sent = 0u64;
    for task in tasks {
        let (worker_sent, worker_latencies) = task.await.map_err(|e| eyre!("worker: {e}"))?;
        sent += worker_sent;
        latencies.extend(worker_latencies);
    }
    let seconds = start.elapsed().as_secs_f64();
    progress.abort();
    let acknowledged = counters.acknowledged.load(Ordering::Relaxed);
    Ok(TransferBenchReport {
        workers: args.workers,
        mode: loop_mode(&args.run, "tx"),
        sent,
        acknowledged,
        refused: counters.refused.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        seconds,
        throughput_per_second: acknowledged as f64 / seconds,
        latency: LatencySummary::of(latencies),
    })
}

/// Signs `per_worker` transfers for every worker, on all cores.
fn sign_all(
    workers: &[PrivateKeySigner],
    per_worker: usize,
    domain: &Domain,
) -> Vec<Vec<SendActionRequest>> {
    let recipients: Vec<Address> = workers.iter().map(|w| w.address()).collect();
    let expiry_ms = now_micros() / 1000 + 3_600_000;
    sign_in_parallel(workers, |index, key| {
        (0..per_worker)
            .map(|n| {
                let action = Action::Transfer(Transfer {
                    to: recipients[(index + n + 1) % recipients.len()],
                    amount: 1 + (n as u128 % 1000),
                    nonce: n as u64 + 1,
                    expiryMs: expiry_ms,
                });
                signed_request(key, &action, domain).expect("a local key signs any digest")
            })
            .collect()
    })
}

async fn run_worker(
    client: WsClient,
    batch: Vec<SendActionRequest>,
    counters: Arc<Counters>,
    schedule: Schedule,
) -> (u64, Vec<u64>) {
    let mut latencies = Vec::with_capacity(batch.len());
    let mut sent = 0u64;
    for (n, request) in batch.into_iter().enumerate() {
        if !schedule.wait_turn(n).await {
            break;
        }
        let sent_at = Instant::now();
        sent += 1;
        match client.send_action(request).await {
            Ok(_) => {
                latencies.push(sent_at.elapsed().as_micros() as u64);
                counters.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err(jsonrpsee::core::ClientError::Call(_)) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    (sent, latencies)
}
