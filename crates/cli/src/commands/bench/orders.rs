//! `straddle bench orders`: a load generator for the matching engine. Market makers with
//! their own keys (funded from the devnet faucet, margin deposited) quote around the
//! mark and takers cross the spread with immediate-or-cancel orders, all real EIP-712
//! signatures, over WebSocket. Two modes:
//!
//! - `--bulk`: each maker request is one signed bulk placement (kind 0x16) that cancels
//!   its previous ladder and posts a new one of `--ladder` quotes — the way signature
//!   cost stops being the bottleneck;
//! - default: every order and every cancel is its own signed request (post-only quotes
//!   through `placeOrder`, cancels as kind 0x12).
//!
//! Every request is signed before the clock starts (order hashes are deterministic, so
//! a maker's later cancels can name its earlier quotes), so the figures measure the
//! node. Reports signed orders per second, requests per second, fills, and the
//! acknowledgement latency percentiles of requests.

use super::load::{
    LatencySummary, RunArgs, Schedule, connect, fund_workers, loop_mode, report_progress,
    sign_in_parallel, signed_request,
};
use crate::support::{devnet_oracle_update, now_micros};
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::Args;
use eyre::{Context, bail, eyre};
use jsonrpsee::ws_client::WsClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use straddle_primitives::{
    Action, BulkOrders, Cancel, DepositMargin, Domain, Order, SignedCancel, SignedOrder,
    TimeInForce, Transaction,
};
use straddle_rpc_api::StraddleApiClient;

/// Options of `straddle bench orders`.
#[derive(Args)]
pub(crate) struct OrderBenchArgs {
    /// Market makers, each with its own key and connection.
    #[arg(long, default_value_t = 32)]
    makers: usize,
    /// Takers, each with its own key and connection.
    #[arg(long, default_value_t = 8)]
    takers: usize,
    /// Requests each maker signs and sends.
    #[arg(long, default_value_t = 2_000)]
    requests_per_maker: usize,
    /// Orders each taker signs and sends.
    #[arg(long, default_value_t = 2_000)]
    orders_per_taker: usize,
    /// Makers replace whole ladders under one signature (bulk placements).
    #[arg(long)]
    bulk: bool,
    /// Quotes per ladder in bulk mode (at most 32).
    #[arg(long, default_value_t = 32)]
    ladder: usize,
    /// Bulk mode: never cancel, so every quote stays resting (to measure memory per
    /// resting order).
    #[arg(long, requires = "bulk")]
    keep_quotes: bool,
    /// Market to trade (a perpetual; the devnet's ETH-PERP is 1).
    #[arg(long, default_value_t = 1)]
    market: u32,
    #[command(flatten)]
    run: RunArgs,
}

/// What a run measured.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderBenchReport {
    mode: String,
    makers: usize,
    takers: usize,
    requests: u64,
    refused: u64,
    failed: u64,
    orders: u64,
    cancels: u64,
    fills: u64,
    seconds: f64,
    requests_per_second: f64,
    signed_orders_per_second: f64,
    #[serde(flatten)]
    latency: LatencySummary,
    first_refusal: Option<String>,
}

impl OrderBenchReport {
    /// A human-readable summary.
    pub(crate) fn text(&self) -> String {
        format!(
            "{}, {} makers + {} takers: {} requests acknowledged ({} refused, {} failed) in {:.2} s\n  {:.0} requests/s, {:.0} orders+cancels/s ({} orders, {} cancels, {} fills)\n  {}{}",
            self.mode,
            self.makers,
            self.takers,
            self.requests,
            self.refused,
            self.failed,
            self.seconds,
            self.requests_per_second,
            self.signed_orders_per_second,
            self.orders,
            self.cancels,
            self.fills,
            self.latency.text(),
            self.first_refusal
                .as_ref()
                .map(|r| format!("\n  first refusal: {r}"))
                .unwrap_or_default(),
        )
    }
}

/// One pre-signed request.
struct Job {
    /// Canonical transaction bytes.
    raw: Bytes,
    /// Through `placeOrder` (else `sendTransaction`).
    engine: bool,
    /// Orders it places and cancels it carries.
    orders: u64,
    cancels: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    orders: AtomicU64,
    cancels: AtomicU64,
    fills: AtomicU64,
}

/// Market parameters the workload needs.
#[derive(Clone, Copy)]
struct Quoting {
    market: u32,
    mid: u64,
    tick: u64,
    lot: u64,
    expiry_ms: u64,
}

impl Quoting {
    /// A quote `level` ticks (≥ 1) away from the mid: bids below, asks above, so quotes of
    /// different makers never cross each other.
    fn quote(&self, is_buy: bool, level: u64, nonce: u64) -> Order {
        let offset = level * self.tick;
        Order {
            market: self.market,
            isBuy: is_buy,
            limitPrice: if is_buy {
                self.mid - offset
            } else {
                self.mid + offset
            },
            size: self.lot * 10,
            timeInForce: TimeInForce::PostOnly.wire(),
            reduceOnly: false,
            expiryMs: self.expiry_ms,
            clientOrderId: nonce,
            nonce,
        }
    }
}

fn sign_order(key: &PrivateKeySigner, order: Order, domain: &Domain) -> SignedOrder {
    let signature = key
        .sign_hash_sync(&order.hash(domain))
        .expect("a local key signs any digest");
    SignedOrder { order, signature }
}

/// A maker's requests in bulk mode: ladder after ladder, each cancelling the previous.
fn bulk_maker_jobs(
    key: &PrivateKeySigner,
    maker: u64,
    (count, ladder, keep): (usize, usize, bool),
    quoting: &Quoting,
    domain: &Domain,
) -> Vec<Job> {
    let mut previous: Vec<B256> = Vec::new();
    (0..count as u64)
        .map(|n| {
            let orders: Vec<Order> = (0..ladder as u64)
                .map(|q| {
                    let level = 1 + (maker + n + q / 2) % 40;
                    quoting.quote(q.is_multiple_of(2), level, (n << 8) | q)
                })
                .collect();
            let mut cancels = std::mem::replace(
                &mut previous,
                orders.iter().map(|o| o.hash(domain)).collect(),
            );
            if keep {
                cancels.clear();
            }
            let bulk = BulkOrders {
                cancels,
                orders,
                nonce: n + 1_000,
                expiryMs: quoting.expiry_ms,
            };
            let signature = key
                .sign_hash_sync(&bulk.signing_hash(domain))
                .expect("a local key signs any digest");
            let (orders, cancels) = (bulk.orders.len() as u64, bulk.cancels.len() as u64);
            Job {
                raw: Bytes::from(Transaction::PlaceOrders { bulk, signature }.encode()),
                engine: false,
                orders,
                cancels,
            }
        })
        .collect()
}

/// A maker's requests in single mode: place, place, then cancel the oldest and place
/// again, each a signed request of its own.
fn single_maker_jobs(
    key: &PrivateKeySigner,
    maker: u64,
    count: usize,
    quoting: &Quoting,
    domain: &Domain,
) -> Vec<Job> {
    let mut resting: std::collections::VecDeque<B256> = Default::default();
    let mut jobs = Vec::with_capacity(count);
    let mut n = 0u64;
    while jobs.len() < count {
        if resting.len() >= 8
            && let Some(hash) = resting.pop_front()
        {
            let cancel = Cancel {
                orderHash: hash,
                nonce: 1_000_000 + n,
                expiryMs: quoting.expiry_ms,
            };
            let signature = key
                .sign_hash_sync(&cancel.signing_hash(domain))
                .expect("a local key signs any digest");
            jobs.push(Job {
                raw: Bytes::from(Transaction::Cancel(SignedCancel { cancel, signature }).encode()),
                engine: false,
                orders: 0,
                cancels: 1,
            });
        } else {
            let level = 1 + (maker + n) % 40;
            let order = quoting.quote(n.is_multiple_of(2), level, n);
            resting.push_back(order.hash(domain));
            jobs.push(Job {
                raw: Bytes::from(Transaction::PlaceOrder(sign_order(key, order, domain)).encode()),
                engine: true,
                orders: 1,
                cancels: 0,
            });
        }
        n += 1;
    }
    jobs
}

/// A taker's orders: immediate-or-cancel, alternating buys and sells that cross the
/// spread by up to five ticks, so positions stay near flat.
fn taker_jobs(
    key: &PrivateKeySigner,
    count: usize,
    quoting: &Quoting,
    domain: &Domain,
) -> Vec<Job> {
    (0..count as u64)
        .map(|n| {
            let is_buy = n.is_multiple_of(2);
            let mut order = quoting.quote(!is_buy, 0, n);
            order.isBuy = is_buy;
            order.limitPrice = if is_buy {
                quoting.mid + 5 * quoting.tick
            } else {
                quoting.mid - 5 * quoting.tick
            };
            order.timeInForce = TimeInForce::ImmediateOrCancel.wire();
            order.size = quoting.lot * 5;
            Job {
                raw: Bytes::from(Transaction::PlaceOrder(sign_order(key, order, domain)).encode()),
                engine: true,
                orders: 1,
                cancels: 0,
            }
        })
        .collect()
}

/// Signs every worker's requests, on all cores.
fn sign_jobs(
    keys: &[PrivateKeySigner],
    makers: usize,
    args: &OrderBenchArgs,
    quoting: &Quoting,
    domain: &Domain,
) -> Vec<Vec<Job>> {
    sign_in_parallel(keys, |index, key| {
        if index >= makers {
            taker_jobs(key, args.orders_per_taker, quoting, domain)
        } else if args.bulk {
            bulk_maker_jobs(
                key,
                index as u64,
                (args.requests_per_maker, args.ladder, args.keep_quotes),
                quoting,
                domain,
            )
        } else {
            single_maker_jobs(key, index as u64, args.requests_per_maker, quoting, domain)
        }
    })
}

/// Runs the order benchmark against the node at `ws_url`.
pub(crate) async fn run_order_bench(
    ws_url: &str,
    args: &OrderBenchArgs,
) -> eyre::Result<OrderBenchReport> {
    if args.makers == 0 || args.ladder == 0 || args.ladder > straddle_primitives::BULK_ORDERS_MAX {
        bail!("need at least one maker and 1 to 32 quotes per ladder");
    }
    let control = connect(ws_url).await?;
    let domain = Domain {
        chain_id: control.chain_id().await?,
        verifying_contract: Address::ZERO,
    };
    let market = control
        .get_markets()
        .await?
        .into_iter()
        .find(|m| m.id == args.market)
        .ok_or_else(|| eyre!("unknown market {}", args.market))?;
    // A fresh index, so margin checks have a current mark for the whole run.
    let index = market.mark.unwrap_or(3_000_000_000);
    let smile = (
        straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS,
        650_000,
        -100_000,
        200_000,
    );
    let update = devnet_oracle_update(&domain, market.underlying, index, smile)?;
    control
        .send_transaction(Bytes::from(update.encode()))
        .await
        .wrap_err("pushing an oracle update with the devnet oracle keys")?;
    let tick = market.tick.max(1);
    // Quote around the index, but strictly inside whatever already rests (an earlier
    // run's ladders), so no quote of this run takes liquidity.
    let book = control.get_book(args.market, Some(1)).await?;
    let above_bid = book.bids.first().map_or(0, |(p, _, _)| p + tick);
    let below_ask = book.asks.first().map_or(u64::MAX, |(p, _, _)| p - tick);
    let mid = if above_bid > below_ask {
        above_bid - tick
    } else {
        (index / tick * tick).clamp(above_bid, below_ask)
    };
    let quoting = Quoting {
        market: args.market,
        mid,
        tick,
        lot: market.lot.max(1),
        expiry_ms: now_micros() / 1000 + 3_600_000,
    };
    let workers = args.makers + args.takers;
    let keys: Vec<PrivateKeySigner> = (0..workers).map(|_| PrivateKeySigner::random()).collect();
    eprintln!("funding {workers} workers and depositing their margin…");
    fund_workers(&control, &domain, args.run.funder_dev, &keys).await?;
    for key in &keys {
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 500_000_000_000,
            nonce: 1,
            expiryMs: quoting.expiry_ms,
        });
        control
            .send_action(signed_request(key, &deposit, &domain)?)
            .await
            .wrap_err("depositing a worker's margin")?;
    }
    eprintln!("signing every request…");
    let batches = sign_jobs(&keys, args.makers, args, &quoting, &domain);
    let mut clients = Vec::with_capacity(workers);
    for _ in 0..workers {
        clients.push(connect(ws_url).await?);
    }

    let counters = Arc::new(Counters::default());
    let first_refusal = Arc::new(std::sync::Mutex::new(None::<String>));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for (index, (client, batch)) in clients.into_iter().zip(batches).enumerate() {
        let counters = counters.clone();
        let first_refusal = first_refusal.clone();
        let schedule = Schedule::new(&args.run, start, index, workers);
        tasks.push(tokio::spawn(async move {
            run_worker(client, batch, &counters, &first_refusal, schedule).await
        }));
    }
    let progress_counters = counters.clone();
    let progress = tokio::spawn(async move {
        report_progress(
            || {
                progress_counters.orders.load(Ordering::Relaxed)
                    + progress_counters.cancels.load(Ordering::Relaxed)
            },
            start,
            "orders+cancels",
        )
        .await
    });
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| eyre!("worker: {e}"))?);
    }
    let seconds = start.elapsed().as_secs_f64();
    progress.abort();
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let requests = load(&counters.requests);
    let (orders, cancels) = (load(&counters.orders), load(&counters.cancels));
    let first_refusal = first_refusal.lock().map(|r| r.clone()).unwrap_or_default();
    Ok(OrderBenchReport {
        mode: format!(
            "{} ({})",
            if args.bulk {
                format!("bulk ladders of {}", args.ladder)
            } else {
                "single signed orders and cancels".into()
            },
            loop_mode(&args.run, "requests")
        ),
        makers: args.makers,
        takers: args.takers,
        requests,
        refused: load(&counters.refused),
        failed: load(&counters.failed),
        orders,
        cancels,
        fills: load(&counters.fills),
        seconds,
        requests_per_second: requests as f64 / seconds,
        signed_orders_per_second: (orders + cancels) as f64 / seconds,
        latency: LatencySummary::of(latencies),
        first_refusal,
    })
}

async fn run_worker(
    client: WsClient,
    batch: Vec<Job>,
    counters: &Counters,
    first_refusal: &std::sync::Mutex<Option<String>>,
    schedule: Schedule,
) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(batch.len());
    for (n, job) in batch.into_iter().enumerate() {
        if !schedule.wait_turn(n).await {
            break;
        }
        let sent_at = Instant::now();
        let result = if job.engine {
            client
                .place_order(job.raw)
                .await
                .map(|ack| ack.fills.len() as u64)
        } else {
            client.send_transaction(job.raw).await.map(|_| 0)
        };
        match result {
            Ok(fills) => {
                latencies.push(sent_at.elapsed().as_micros() as u64);
                counters.requests.fetch_add(1, Ordering::Relaxed);
                counters.orders.fetch_add(job.orders, Ordering::Relaxed);
                counters.cancels.fetch_add(job.cancels, Ordering::Relaxed);
                counters.fills.fetch_add(fills, Ordering::Relaxed);
            }
            Err(jsonrpsee::core::ClientError::Call(call)) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = first_refusal.lock() {
                    first.get_or_insert_with(|| format!("{} ({})", call.message(), call.code()));
                }
            }
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    latencies
}
