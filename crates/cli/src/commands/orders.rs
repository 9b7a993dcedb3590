//! `straddle order place|quote|cancel-all|cancel|book|open|pair`: trading through the
//! node's matching engine (`docs/spec/matching.md` §5).

use crate::support::{
    SignArgs, client, devnet_domain, now_micros, parse_micro, print, send_transaction,
};
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Subcommand, ValueEnum};
use eyre::{bail, eyre};
use straddle_exchange::devnet::dev_key;
use straddle_primitives::{
    BULK_CANCEL_MAX, BULK_ORDERS_CANCELS_MAX, BULK_ORDERS_MAX, BulkCancel, BulkOrders, Order,
    SignedOrder, TimeInForce, Transaction,
};
use straddle_rpc_api::{OrderAck, StraddleApiClient};

/// `straddle order`.
#[derive(Subcommand)]
pub(crate) enum OrderCommand {
    /// Sign an order and send it to the matching engine (limit or market).
    Place(PlaceArgs),
    /// Replace your quotes in a market with one signed request (post-only ladder).
    Quote(QuoteArgs),
    /// Cancel every resting order of yours (in one market, or all).
    CancelAll(CancelAllArgs),
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
    Pair(PairArgs),
}

/// `order pair`.
#[derive(Args)]
pub(crate) struct PairArgs {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum TakerSide {
    Buyer,
    Seller,
}

/// Which side an order takes.
#[derive(Clone, Copy, ValueEnum)]
enum SideArg {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// Time in force.
#[derive(Clone, Copy, ValueEnum)]
enum TifArg {
    /// Good till cancelled: the remainder rests.
    Gtc,
    /// Immediate or cancel: the remainder is dropped.
    Ioc,
    /// Fill or kill: all at once or nothing.
    Fok,
    /// Post only: refused if it would take liquidity.
    PostOnly,
}

impl TifArg {
    fn wire(self) -> u8 {
        match self {
            TifArg::Gtc => TimeInForce::GoodTillCancelled,
            TifArg::Ioc => TimeInForce::ImmediateOrCancel,
            TifArg::Fok => TimeInForce::FillOrKill,
            TifArg::PostOnly => TimeInForce::PostOnly,
        }
        .wire()
    }
}

/// `order place`.
#[derive(Args)]
pub(crate) struct PlaceArgs {
    /// Market id.
    #[arg(long)]
    market: u32,
    /// Buy or sell.
    #[arg(long, value_enum)]
    side: SideArg,
    /// Size in contracts (6 decimals).
    #[arg(long)]
    size: String,
    /// Limit price in USDC per contract; omit for a market order.
    #[arg(long, required_unless_present = "market_order")]
    price: Option<String>,
    /// A market order: immediate-or-cancel with its limit at the mark moved by
    /// `--slippage-bps` against the trader (the price protection band), rounded to the tick.
    #[arg(long, conflicts_with = "price")]
    market_order: bool,
    /// Price protection band of a market order, basis points of the mark.
    #[arg(long, default_value_t = 100)]
    slippage_bps: u64,
    /// Time in force (market orders are always IOC).
    #[arg(long, value_enum, default_value = "gtc")]
    tif: TifArg,
    /// Only reduce the position.
    #[arg(long)]
    reduce_only: bool,
    /// Your own id for the order (default: the nonce).
    #[arg(long)]
    client_id: Option<u64>,
    #[command(flatten)]
    sign: SignArgs,
}

/// `order quote`.
#[derive(Args)]
pub(crate) struct QuoteArgs {
    /// Market id.
    #[arg(long)]
    market: u32,
    /// Bids as `price:size` pairs in USDC and contracts, comma-separated.
    #[arg(long, default_value = "")]
    bids: String,
    /// Asks as `price:size` pairs, comma-separated.
    #[arg(long, default_value = "")]
    asks: String,
    /// Keep the account's other orders in this market (default: replace them all).
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    sign: SignArgs,
}

/// `order cancel-all`.
#[derive(Args)]
pub(crate) struct CancelAllArgs {
    /// Only this market (default: every market).
    #[arg(long)]
    market: Option<u32>,
    #[command(flatten)]
    sign: SignArgs,
}

/// Runs `straddle order …`.
pub(crate) async fn run(rpc: &str, json: bool, command: OrderCommand) -> eyre::Result<()> {
    match command {
        OrderCommand::Place(args) => place(rpc, json, args).await,
        OrderCommand::Quote(args) => quote(rpc, json, args).await,
        OrderCommand::CancelAll(args) => cancel_all(rpc, json, args).await,
        OrderCommand::Book { market, levels } => book(rpc, json, market, levels).await,
        OrderCommand::Open { address } => open(rpc, json, address).await,
        OrderCommand::Cancel { hashes, sign } => cancel(rpc, json, hashes, sign).await,
        OrderCommand::Pair(args) => pair(rpc, json, args).await,
    }
}

/// Signs and places one order; prints the acknowledgement.
async fn place(rpc: &str, json: bool, args: PlaceArgs) -> eyre::Result<()> {
    let signer = args.sign.key.signer()?;
    let domain = devnet_domain(rpc).await?;
    let node = client(rpc)?;
    let is_buy = matches!(args.side, SideArg::Buy);
    let (limit, tif) = if args.market_order {
        let markets = node.get_markets().await?;
        let market = markets
            .iter()
            .find(|m| m.id == args.market)
            .ok_or_else(|| eyre!("unknown market {}", args.market))?;
        let mark = market
            .mark
            .ok_or_else(|| eyre!("market {} has no mark yet", args.market))?;
        let band = mark.saturating_mul(args.slippage_bps) / 10_000;
        let raw = if is_buy {
            mark.saturating_add(band)
        } else {
            mark.saturating_sub(band)
        };
        // Round away from the trader's favour so the limit stays inside the band.
        let tick = market.tick.max(1);
        let limit = if is_buy {
            raw / tick * tick
        } else {
            raw.div_ceil(tick) * tick
        };
        (limit, TifArg::Ioc)
    } else {
        let price = args.price.as_deref().unwrap_or_default();
        (parse_micro(price, "price")?, args.tif)
    };
    let (nonce, expiry_ms) = args.sign.nonce_and_expiry();
    let order = Order {
        market: args.market,
        isBuy: is_buy,
        limitPrice: limit,
        size: parse_micro(&args.size, "size")?,
        timeInForce: tif.wire(),
        reduceOnly: args.reduce_only,
        expiryMs: expiry_ms,
        clientOrderId: args.client_id.unwrap_or(nonce),
        nonce,
    };
    let signature = signer.sign_hash_sync(&order.hash(&domain))?;
    let raw = Transaction::PlaceOrder(SignedOrder { order, signature }).encode();
    let ack = node.place_order(Bytes::from(raw)).await?;
    print(json, &ack, || ack_text(&ack))
}

fn ack_text(ack: &OrderAck) -> String {
    let mut text = format!(
        "order {} {:?}: filled {} resting {}",
        ack.order_hash,
        ack.status,
        micro(ack.filled),
        micro(ack.resting)
    );
    for fill in &ack.fills {
        text.push_str(&format!(
            "\n  fill {} @ {} against {}",
            micro(fill.size),
            micro(fill.price),
            fill.maker
        ));
    }
    if let Some(block) = ack.block_number {
        text.push_str(&format!("\n  block {block}"));
    }
    if let Some(reason) = &ack.reason {
        text.push_str(&format!("\n  {reason}"));
    }
    text
}

/// Six-decimal display of a micro-unit amount.
fn micro(value: u64) -> String {
    format!("{}.{:06}", value / 1_000_000, value % 1_000_000)
}

fn parse_ladder(text: &str) -> eyre::Result<Vec<(u64, u64)>> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (price, size) = pair
                .split_once(':')
                .ok_or_else(|| eyre!("quote {pair:?} is not price:size"))?;
            Ok((
                parse_micro(price.trim(), "price")?,
                parse_micro(size.trim(), "size")?,
            ))
        })
        .collect()
}

/// Replaces the account's quotes in a market with one signed bulk placement.
async fn quote(rpc: &str, json: bool, args: QuoteArgs) -> eyre::Result<()> {
    let signer = args.sign.key.signer()?;
    let domain = devnet_domain(rpc).await?;
    let node = client(rpc)?;
    let (nonce, expiry_ms) = args.sign.nonce_and_expiry();
    let quote = |is_buy: bool, (price, size): (u64, u64), n: u64| Order {
        market: args.market,
        isBuy: is_buy,
        limitPrice: price,
        size,
        timeInForce: TimeInForce::PostOnly.wire(),
        reduceOnly: false,
        expiryMs: expiry_ms,
        clientOrderId: nonce + n,
        nonce: nonce + n,
    };
    let bids = parse_ladder(&args.bids)?;
    let asks = parse_ladder(&args.asks)?;
    let orders: Vec<Order> = bids
        .into_iter()
        .map(|level| (true, level))
        .chain(asks.into_iter().map(|level| (false, level)))
        .enumerate()
        .map(|(n, (is_buy, level))| quote(is_buy, level, n as u64 + 1))
        .collect();
    if orders.len() > BULK_ORDERS_MAX {
        bail!("at most {BULK_ORDERS_MAX} quotes per request");
    }
    let cancels: Vec<B256> = if args.keep {
        Vec::new()
    } else {
        node.open_orders(signer.address())
            .await?
            .into_iter()
            .filter(|o| o.market == args.market)
            .map(|o| o.order_hash)
            .collect()
    };
    if cancels.len() > BULK_ORDERS_CANCELS_MAX {
        bail!(
            "{} orders rest in market {}: run `order cancel-all --market {}` first",
            cancels.len(),
            args.market,
            args.market
        );
    }
    let bulk = BulkOrders {
        cancels,
        orders,
        nonce,
        expiryMs: expiry_ms,
    };
    let signature = signer.sign_hash_sync(&bulk.signing_hash(&domain))?;
    let receipt = node
        .send_transaction(Bytes::from(
            Transaction::PlaceOrders { bulk, signature }.encode(),
        ))
        .await?;
    print(json, &receipt, || {
        format!(
            "quotes replaced in {}\n  block {} index {}",
            receipt.tx_hash, receipt.block_number, receipt.index
        )
    })
}

/// Cancels every resting order of the account (in one market, or all), 64 per request.
async fn cancel_all(rpc: &str, json: bool, args: CancelAllArgs) -> eyre::Result<()> {
    let signer = args.sign.key.signer()?;
    let domain = devnet_domain(rpc).await?;
    let node = client(rpc)?;
    let hashes: Vec<B256> = node
        .open_orders(signer.address())
        .await?
        .into_iter()
        .filter(|o| args.market.is_none_or(|m| o.market == m))
        .map(|o| o.order_hash)
        .collect();
    let (first_nonce, expiry_ms) = args.sign.nonce_and_expiry();
    let mut receipts = Vec::new();
    for (n, chunk) in hashes.chunks(BULK_CANCEL_MAX).enumerate() {
        let cancel = BulkCancel {
            orderHashes: chunk.to_vec(),
            nonce: first_nonce + n as u64,
            expiryMs: expiry_ms,
        };
        let signature = signer.sign_hash_sync(&cancel.signing_hash(&domain))?;
        receipts.push(
            node.send_transaction(Bytes::from(
                Transaction::BulkCancel { cancel, signature }.encode(),
            ))
            .await?,
        );
    }
    print(json, &receipts, || {
        format!(
            "cancelled {} orders in {} requests",
            hashes.len(),
            receipts.len()
        )
    })
}

/// Prints a market's book.
async fn book(rpc: &str, json: bool, market: u32, levels: usize) -> eyre::Result<()> {
    let book = client(rpc)?.get_book(market, Some(levels)).await?;
    print(json, &book, || {
        let mut text = format!("market {} (update {})\n  asks", book.market, book.seq);
        for (price, size, orders) in book.asks.iter().rev() {
            text.push_str(&format!(
                "\n    {:>16} {:>14} ({orders})",
                micro(*price),
                micro(*size)
            ));
        }
        text.push_str("\n  bids");
        for (price, size, orders) in &book.bids {
            text.push_str(&format!(
                "\n    {:>16} {:>14} ({orders})",
                micro(*price),
                micro(*size)
            ));
        }
        text
    })
}

/// Prints an account's resting orders.
async fn open(rpc: &str, json: bool, owner: Address) -> eyre::Result<()> {
    let orders = client(rpc)?.open_orders(owner).await?;
    print(json, &orders, || {
        let mut text = format!("{} resting orders", orders.len());
        for o in &orders {
            text.push_str(&format!(
                "\n  {} market {} {} {} @ {} (filled {})",
                o.order_hash,
                o.market,
                if o.is_buy { "buy" } else { "sell" },
                micro(o.resting),
                micro(o.price),
                micro(o.filled)
            ));
        }
        text
    })
}

/// Cancels orders by hash under one signature.
async fn cancel(rpc: &str, json: bool, hashes: Vec<B256>, sign: SignArgs) -> eyre::Result<()> {
    if hashes.len() > BULK_CANCEL_MAX {
        bail!("at most {BULK_CANCEL_MAX} orders per cancel");
    }
    let signer = sign.key.signer()?;
    let domain = devnet_domain(rpc).await?;
    let (nonce, expiry_ms) = sign.nonce_and_expiry();
    let cancel = BulkCancel {
        orderHashes: hashes,
        nonce,
        expiryMs: expiry_ms,
    };
    let signature = signer.sign_hash_sync(&cancel.signing_hash(&domain))?;
    send_transaction(rpc, json, Transaction::BulkCancel { cancel, signature }).await
}

/// Devnet: signs a taker and a maker order of `size` at `price` with two dev accounts
/// and submits the match.
async fn pair(rpc: &str, json: bool, args: PairArgs) -> eyre::Result<()> {
    let PairArgs {
        market,
        price,
        size,
        buyer_dev,
        seller_dev,
        taker,
    } = args;
    let price = parse_micro(&price, "price")?;
    let size = parse_micro(&size, "size")?;
    let domain = devnet_domain(rpc).await?;
    let nonce = now_micros();
    let sign_order = |dev: usize, is_buy: bool, tif: u8, nonce: u64| -> eyre::Result<SignedOrder> {
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
        let key =
            PrivateKeySigner::from_bytes(&dev_key(dev)).map_err(|_| eyre!("bad devnet key"))?;
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
    send_transaction(rpc, json, tx).await
}
