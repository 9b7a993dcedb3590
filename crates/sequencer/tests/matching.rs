//! The matching engine and its feeds through the real node: orders placed over RPC match
//! by price and time, remainders rest, refusals carry their codes, a maker the STF
//! refuses is taken off the book while the taker fills against the next one, a market
//! maker replaces a ladder under one signature, and a WebSocket client that starts from
//! a snapshot and applies the numbered book updates ends with exactly the node's book —
//! which survives a restart, and which a node importing the same blocks (as a follower
//! does from L1) holds too, without a restart.

mod common;

use alloy_primitives::{Address, B256, Bytes};
use alloy_signer::SignerSync;
use common::*;
use jsonrpsee::core::client::Subscription;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::WsClientBuilder;
use std::collections::BTreeMap;
use std::time::Duration;
use straddle_primitives::{
    Action, BulkOrders, Cancel, SignedCancel, SignedOrder, TimeInForce, Transaction, WithdrawMargin,
};
use straddle_rpc_api::errors;
use straddle_rpc_api::{
    BookSnapshot, BookUpdate, OrderAck, OrderStatus, StraddleApiClient, Trade, UserEvent,
};

const GTC: u8 = TimeInForce::GoodTillCancelled.wire();
const IOC: u8 = TimeInForce::ImmediateOrCancel.wire();
const FOK: u8 = TimeInForce::FillOrKill.wire();
const POST_ONLY: u8 = TimeInForce::PostOnly.wire();
const USDC: u64 = 1_000_000;
const CONTRACT: u64 = 1_000_000;

async fn place(client: &HttpClient, order: SignedOrder) -> Result<OrderAck, i32> {
    client
        .place_order(Bytes::from(Transaction::PlaceOrder(order).encode()))
        .await
        .map_err(code)
}

/// The book as a client keeps it: price → size per side.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClientBook {
    seq: u64,
    bids: BTreeMap<u64, u64>,
    asks: BTreeMap<u64, u64>,
}

impl ClientBook {
    fn from_snapshot(snapshot: &BookSnapshot) -> ClientBook {
        ClientBook {
            seq: snapshot.seq,
            bids: snapshot.bids.iter().map(|(p, q, _)| (*p, *q)).collect(),
            asks: snapshot.asks.iter().map(|(p, q, _)| (*p, *q)).collect(),
        }
    }

    /// Applies an update; updates already in the snapshot are skipped, and a gap fails.
    fn apply(&mut self, update: &BookUpdate) {
        if update.seq <= self.seq {
            return;
        }
        assert_eq!(update.seq, self.seq + 1, "gap in the book updates");
        self.seq = update.seq;
        for (levels, side) in [
            (&update.bids, &mut self.bids),
            (&update.asks, &mut self.asks),
        ] {
            for (price, size) in levels {
                if *size == 0 {
                    side.remove(price);
                } else {
                    side.insert(*price, *size);
                }
            }
        }
    }
}

async fn next<T: serde::de::DeserializeOwned>(subscription: &mut Subscription<T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("a feed item within 5 s")
        .expect("subscription open")
        .expect("a well-formed item")
}

/// Trader `trader` cancels `order_hash` (signed cancel, nonce `nonce`).
async fn cancel(client: &HttpClient, trader: usize, order_hash: B256, nonce: u64, expiry_ms: u64) {
    let cancel = Cancel {
        orderHash: order_hash,
        nonce,
        expiryMs: expiry_ms,
    };
    let signature = signer(trader)
        .sign_hash_sync(&cancel.signing_hash(&domain()))
        .unwrap();
    send(
        client,
        Transaction::Cancel(SignedCancel { cancel, signature }),
    )
    .await
    .unwrap();
}

async fn withdraw_all_margin(client: &HttpClient, trader: usize, amount: u128) {
    let withdraw = Action::WithdrawMargin(WithdrawMargin {
        amount,
        nonce: 50,
        expiryMs: now_ms() + 60_000,
    });
    client
        .send_action(action_request(&signer(trader), withdraw))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_match_by_price_and_time_and_the_feed_rebuilds_the_book_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let ws = WsClientBuilder::default()
        .build(node.ws_url())
        .await
        .unwrap();
    for trader in 1..=4 {
        deposit_margin(&client, trader, 50_000 * u128::from(USDC), 1).await;
    }
    send(&client, oracle_update(&[7, 9], 3_000 * USDC))
        .await
        .unwrap();

    // Subscribe before taking the snapshot, so no update can fall between them.
    let mut updates = ws.subscribe_book(1).await.unwrap();
    let mut trades = ws.subscribe_trades(1).await.unwrap();
    let taker = signer(3).address();
    let mut taker_stream = ws.subscribe_user(taker).await.unwrap();
    let snapshot = client.get_book(1, None).await.unwrap();
    let mut mirror = ClientBook::from_snapshot(&snapshot);

    // Makers: account 1 asks 3,001 (first) and 3,002; account 2 asks 3,001 (second in
    // time) and bids 2,999. Account 4 asks 3,000.5, then withdraws its margin.
    let ask = |owner, price, size, nonce| order_at(owner, false, GTC, price, size, nonce);
    let first = place(&client, ask(1, 3_001 * USDC, CONTRACT, 10))
        .await
        .unwrap();
    assert_eq!(
        (first.status, first.resting),
        (OrderStatus::Resting, CONTRACT)
    );
    let ask_3002 = place(&client, ask(1, 3_002 * USDC, CONTRACT, 11))
        .await
        .unwrap()
        .order_hash;
    let second = place(&client, ask(2, 3_001 * USDC, CONTRACT, 10))
        .await
        .unwrap();
    let old_bid = place(&client, order_at(2, true, GTC, 2_999 * USDC, CONTRACT, 11))
        .await
        .unwrap()
        .order_hash;
    let broke = place(&client, ask(4, 3_000 * USDC + 500_000, CONTRACT, 10))
        .await
        .unwrap();
    withdraw_all_margin(&client, 4, 50_000 * u128::from(USDC)).await;

    // Refusals the trader can act on; nothing changes.
    let refusals = [
        (
            order_at(3, true, POST_ONLY, 3_001 * USDC, CONTRACT, 20),
            errors::ORDER_REFUSED,
            "post-only would cross",
        ),
        (
            order_at(3, true, FOK, 3_002 * USDC, 10 * CONTRACT, 21),
            errors::ORDER_REFUSED,
            "fill-or-kill cannot fill",
        ),
        (
            order_at(3, true, GTC, 3_001 * USDC + 1, CONTRACT, 22),
            errors::PLACEMENT_REFUSED,
            "off the tick",
        ),
        (
            order_at(5, true, GTC, 2_000 * USDC, 1_000 * CONTRACT, 23),
            errors::MARGIN_REFUSED,
            "no margin for it",
        ),
    ];
    for (order, expected, why) in refusals {
        assert_eq!(place(&client, order).await, Err(expected), "{why}");
    }
    // Only the engine makes matches against placed makers.
    let forged = Transaction::MatchPlaced {
        taker: order_at(3, true, IOC, 3_001 * USDC, CONTRACT, 24),
        makers: vec![(second_order(&client).await, signer(2).address(), CONTRACT)],
    };
    assert_eq!(
        code(send(&client, forged).await.unwrap_err()),
        errors::USE_ORDER_METHOD
    );

    // A buyer of 2.5 at 3,001.5: account 4's ask is refused by the STF (no margin left)
    // and comes off the book; the taker fills account 1 then account 2 at 3,001 (time
    // priority) and the last 0.5 rests as a bid.
    let buy = place(
        &client,
        order_at(3, true, GTC, 3_001 * USDC + 500_000, 2_500_000, 30),
    )
    .await
    .unwrap();
    let makers: Vec<(Address, B256, u64, u64)> = buy
        .fills
        .iter()
        .map(|f| (f.maker, f.maker_order, f.price, f.size))
        .collect();
    assert_eq!(
        makers,
        vec![
            (
                signer(1).address(),
                first.order_hash,
                3_001 * USDC,
                CONTRACT
            ),
            (
                signer(2).address(),
                second.order_hash,
                3_001 * USDC,
                CONTRACT
            ),
        ]
    );
    assert_eq!(
        (buy.status, buy.filled, buy.resting),
        (OrderStatus::Resting, 2 * CONTRACT, 500_000)
    );
    let open = client.open_orders(signer(4).address()).await.unwrap();
    assert!(
        open.is_empty(),
        "the refused maker is off the book: {open:?}"
    );
    let _ = broke;

    // Trades and the taker's own stream saw the fills.
    for expected in &makers {
        let trade: Trade = next(&mut trades).await;
        assert_eq!(
            (trade.maker, trade.price, trade.size),
            (expected.0, expected.2, expected.3)
        );
        assert!(trade.taker_is_buy);
    }
    let mut fills = 0;
    let mut resting_seen = false;
    while fills < 2 || !resting_seen {
        match next(&mut taker_stream).await {
            UserEvent::Fill(trade) => {
                assert_eq!(trade.taker, taker);
                fills += 1;
            }
            UserEvent::Order(update) => {
                resting_seen |= update.order_hash == buy.order_hash
                    && update.status == OrderStatus::Resting
                    && update.resting == 500_000;
            }
            UserEvent::Margin(_) => {}
        }
    }

    // Account 1 cancels its 3,002 ask; account 2 moves its bid under one signature.
    cancel(&client, 1, ask_3002, 60, now_ms() + 60_000).await;
    let new_bids: Vec<_> = (0..3u64)
        .map(|n| order_at(2, true, GTC, (2_998 - n) * USDC, CONTRACT, 70 + n).order)
        .collect();
    let replace = |orders: Vec<straddle_primitives::Order>, nonce| {
        let bulk = BulkOrders {
            cancels: vec![old_bid],
            orders,
            nonce,
            expiryMs: now_ms() + 60_000,
        };
        let signature = signer(2)
            .sign_hash_sync(&bulk.signing_hash(&domain()))
            .unwrap();
        Transaction::PlaceOrders { bulk, signature }
    };
    // A quote that would take liquidity is refused; quotes only rest.
    let crossing = vec![order_at(2, false, GTC, 3_000 * USDC, CONTRACT, 80).order];
    assert_eq!(
        code(send(&client, replace(crossing, 61)).await.unwrap_err()),
        errors::ORDER_REFUSED
    );
    send(&client, replace(new_bids.clone(), 62)).await.unwrap();
    let open = client.open_orders(signer(2).address()).await.unwrap();
    assert_eq!(
        open.iter().map(|o| o.price).collect::<Vec<_>>(),
        vec![2_998 * USDC, 2_997 * USDC, 2_996 * USDC]
    );

    // The mirror built from the snapshot and the numbered updates equals the node's book.
    let book = client.get_book(1, None).await.unwrap();
    while mirror.seq < book.seq {
        mirror.apply(&next(&mut updates).await);
    }
    assert_eq!(mirror, ClientBook::from_snapshot(&book));
    assert_eq!(
        book.bids
            .iter()
            .map(|(p, q, _)| (*p, *q))
            .collect::<Vec<_>>(),
        vec![
            (3_001 * USDC + 500_000, 500_000),
            (2_998 * USDC, CONTRACT),
            (2_997 * USDC, CONTRACT),
            (2_996 * USDC, CONTRACT),
        ]
    );
    assert!(book.asks.is_empty(), "{book:?}");

    // The books are rebuilt from the state alone after a restart, in the same order.
    let open_before = client.open_orders(signer(2).address()).await.unwrap();
    drop(ws);
    node.stop().await;
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let after = client.get_book(1, None).await.unwrap();
    assert_eq!(
        (after.bids.clone(), after.asks.clone()),
        (book.bids, book.asks)
    );
    assert_eq!(
        client.open_orders(signer(2).address()).await.unwrap(),
        open_before
    );
    // The resting remainder still trades: a seller hits it first (best price).
    let hit = place(&client, order_at(1, false, IOC, 2_998 * USDC, 500_000, 90))
        .await
        .unwrap();
    assert_eq!(hit.fills[0].maker_order, buy.order_hash);
    node.stop().await;
}

/// Account 2's first resting ask, as placed.
async fn second_order(client: &HttpClient) -> straddle_primitives::Order {
    let open = client.open_orders(signer(2).address()).await.unwrap();
    let ask = open
        .iter()
        .find(|o| !o.is_buy)
        .expect("account 2 has an ask");
    order_at(2, false, GTC, ask.price, ask.size, ask.client_order_id).order
}

#[tokio::test]
async fn a_node_importing_the_blocks_keeps_the_same_book_without_a_restart() {
    // The sequencer's blocks: resting orders, a taker that fills one against the book
    // (a match against placed orders) and rests its remainder, a cancel.
    let dir = tempfile::tempdir().unwrap();
    let node = start(&dir.path().join("sequencer")).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    for trader in 1..=3 {
        deposit_margin(&client, trader, 50_000 * u128::from(USDC), 1).await;
    }
    send(&client, oracle_update(&[7, 9], 3_000 * USDC))
        .await
        .unwrap();
    place(&client, order_at(1, false, GTC, 3_001 * USDC, CONTRACT, 10))
        .await
        .unwrap();
    place(
        &client,
        order_at(1, false, GTC, 3_002 * USDC, 2 * CONTRACT, 11),
    )
    .await
    .unwrap();
    let bid = place(&client, order_at(2, true, GTC, 2_999 * USDC, CONTRACT, 10))
        .await
        .unwrap();
    place(&client, order_at(2, true, GTC, 2_998 * USDC, CONTRACT, 11))
        .await
        .unwrap();
    let taker = place(
        &client,
        order_at(3, true, GTC, 3_001 * USDC, 2 * CONTRACT, 10),
    )
    .await
    .unwrap();
    assert_eq!(taker.status, OrderStatus::Resting, "filled one, rests one");
    cancel(&client, 2, bid.order_hash, 20, u64::MAX / 2).await;
    let book = client.get_book(1, None).await.unwrap();

    // A second node (a follower would do this from L1) imports the same blocks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let head = client.chain_head().await.unwrap().soft.number;
    let mut blocks = Vec::new();
    for number in 1..=head {
        let view = client
            .get_block(straddle_rpc_api::BlockRef::Number(number), Some(true))
            .await
            .unwrap()
            .unwrap();
        blocks.push(straddle_batch::BatchBlock {
            number,
            timestamp_ms: view.header.timestamp_ms,
            transactions: view
                .transactions
                .iter()
                .map(|tx| Transaction::decode(&tx.raw).unwrap())
                .collect(),
        });
    }
    let importer = start(&dir.path().join("importer")).await;
    importer.sequencer().import_blocks(blocks).await.unwrap();
    importer.sequencer().wait_committed(head).await;
    let imported = HttpClientBuilder::default()
        .build(importer.http_url())
        .unwrap();
    let (ours, mine) = (
        client.chain_head().await.unwrap().soft,
        imported.chain_head().await.unwrap().soft,
    );
    assert_eq!(
        (mine.number, mine.hash),
        (ours.number, ours.hash),
        "the same chain"
    );
    let theirs = imported.get_book(1, None).await.unwrap();
    assert_eq!((&theirs.bids, &theirs.asks), (&book.bids, &book.asks));
    assert_eq!(
        book.asks.len(),
        1,
        "the 3 001 ask filled, the 3 002 ask rests"
    );
    assert_eq!(
        book.bids.len(),
        2,
        "the taker's remainder and the 2 998 bid"
    );
    assert_eq!(
        imported
            .open_orders(signer(3).address())
            .await
            .unwrap()
            .len(),
        1,
        "the taker's remainder rests on the importer too"
    );
}
