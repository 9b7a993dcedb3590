//! The machinery every load generator of `straddle bench` shares: pacing (closed or
//! open loop), signing on all cores before the clock starts, one WebSocket client per
//! worker, funding workers from the devnet faucet, progress lines and latency
//! percentiles.

use crate::support::now_micros;
use alloy_primitives::Bytes;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::Args;
use eyre::{Context, bail, eyre};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use std::time::{Duration, Instant};
use straddle_exchange::devnet::dev_key;
use straddle_primitives::{Action, Domain, Mint};
use straddle_rpc_api::{SendActionRequest, StraddleApiClient};

/// Options every load generator shares: pacing, time bound, funding.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// Aggregate send rate (requests/s) for an open-loop run; closed loop when absent.
    #[arg(long)]
    pub(crate) rate: Option<u64>,
    /// Stop after this many seconds even if requests remain.
    #[arg(long, default_value_t = 60)]
    pub(crate) max_seconds: u64,
    /// Devnet account (0–9) whose operator key funds the workers through the faucet.
    #[arg(long, default_value_t = 0)]
    pub(crate) funder_dev: usize,
}

/// Acknowledgement latency percentiles of a run, microseconds.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LatencySummary {
    latency_micros_p50: u64,
    latency_micros_p99: u64,
    latency_micros_p999: u64,
    latency_micros_max: u64,
}

impl LatencySummary {
    /// Summarises the latencies of every acknowledged request.
    pub(crate) fn of(mut latencies: Vec<u64>) -> LatencySummary {
        latencies.sort_unstable();
        LatencySummary {
            latency_micros_p50: percentile(&latencies, 0.50),
            latency_micros_p99: percentile(&latencies, 0.99),
            latency_micros_p999: percentile(&latencies, 0.999),
            latency_micros_max: latencies.last().copied().unwrap_or(0),
        }
    }

    /// `ack latency p50 … ms  p99 … ms  p99.9 … ms  max … ms`.
    pub(crate) fn text(&self) -> String {
        format!(
            "ack latency p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
            self.latency_micros_p50 as f64 / 1000.0,
            self.latency_micros_p99 as f64 / 1000.0,
            self.latency_micros_p999 as f64 / 1000.0,
            self.latency_micros_max as f64 / 1000.0,
        )
    }
}

/// When one worker sends: all workers share the start and the deadline; in an open
/// loop each sends every `interval`, staggered so the aggregate rate is smooth.
#[derive(Clone, Copy)]
pub(crate) struct Schedule {
    start: Instant,
    deadline: Instant,
    pacing: Option<(Duration, Duration)>,
}

impl Schedule {
    /// Worker `index` of `workers`, starting at `start`.
    pub(crate) fn new(run: &RunArgs, start: Instant, index: usize, workers: usize) -> Schedule {
        let pacing = run.rate.map(|rate| {
            let interval = Duration::from_secs_f64(workers as f64 / rate.max(1) as f64);
            (interval, interval.mul_f64(index as f64 / workers as f64))
        });
        Schedule {
            start,
            deadline: start + Duration::from_secs(run.max_seconds),
            pacing,
        }
    }

    /// Waits for the worker's `n`-th send; false once the run's time is up.
    pub(crate) async fn wait_turn(&self, n: usize) -> bool {
        if let Some((interval, offset)) = self.pacing {
            let due = self.start + offset + interval.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        Instant::now() < self.deadline
    }
}

/// `open loop at {rate} {unit}/s` or `closed loop`.
pub(crate) fn loop_mode(run: &RunArgs, unit: &str) -> String {
    match run.rate {
        Some(rate) => format!("open loop at {rate} {unit}/s"),
        None => "closed loop".into(),
    }
}

/// Runs `job` for every key on all cores (signing is the slow part of preparing a run);
/// results come back in key order.
pub(crate) fn sign_in_parallel<T: Send>(
    keys: &[PrivateKeySigner],
    job: impl Fn(usize, &PrivateKeySigner) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = keys.len().div_ceil(threads).max(1);
    let job = &job;
    std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .chunks(chunk)
            .enumerate()
            .map(|(c, keys)| {
                scope.spawn(move || {
                    keys.iter()
                        .enumerate()
                        .map(|(k, key)| job(c * chunk + k, key))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// A WebSocket client for one worker (many requests in flight, 30 s timeout).
pub(crate) async fn connect(ws_url: &str) -> eyre::Result<WsClient> {
    WsClientBuilder::default()
        .max_concurrent_requests(1 << 16)
        .request_timeout(Duration::from_secs(30))
        .build(ws_url)
        .await
        .wrap_err_with(|| format!("cannot reach node at {ws_url}"))
}

/// Mints each worker 1,000,000 USDC from the devnet faucet and waits for the receipts.
pub(crate) async fn fund_workers(
    client: &WsClient,
    domain: &Domain,
    funder_dev: usize,
    workers: &[PrivateKeySigner],
) -> eyre::Result<()> {
    if funder_dev >= 10 {
        bail!("--funder-dev takes 0 to 9");
    }
    let funder =
        PrivateKeySigner::from_bytes(&dev_key(funder_dev)).map_err(|_| eyre!("bad devnet key"))?;
    let base_nonce = now_micros();
    for (i, worker) in workers.iter().enumerate() {
        let action = Action::Mint(Mint {
            to: worker.address(),
            amount: 1_000_000_000_000,
            nonce: base_nonce + i as u64,
            expiryMs: base_nonce / 1000 + 600_000,
        });
        client
            .send_action(signed_request(&funder, &action, domain)?)
            .await
            .wrap_err("funding a worker through the devnet faucet (is this a devnet?)")?;
    }
    Ok(())
}

/// `action` signed by `key`, as the request `sendAction` takes.
pub(crate) fn signed_request(
    key: &PrivateKeySigner,
    action: &Action,
    domain: &Domain,
) -> eyre::Result<SendActionRequest> {
    let signature = key.sign_hash_sync(&action.signing_hash(domain))?;
    Ok(SendActionRequest {
        chain_id: domain.chain_id,
        action: action.clone(),
        signature: Bytes::from(signature.as_bytes().to_vec()),
    })
}

/// Prints, every second, the running total that `count` reads and its rate in `unit`/s.
pub(crate) async fn report_progress(count: impl Fn() -> u64, start: Instant, unit: &str) {
    let mut last = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let total = count();
        eprintln!(
            "  {:>5.1} s  {:>9} {unit}  {:>7} {unit}/s",
            start.elapsed().as_secs_f64(),
            total,
            total - last
        );
        last = total;
    }
}

/// The `quantile` (0 to 1) of `sorted`, by nearest rank; 0 when empty.
pub(crate) fn percentile(sorted: &[u64], quantile: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
