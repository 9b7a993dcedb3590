//! Trading through the real node over JSON-RPC: an oracle update and a match of two
//! signed orders submitted as canonical transactions, margin deposits as actions, the
//! resulting positions in `getAccount`, refusals with their documented codes, and the
//! state surviving a restart.

mod common;

use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use common::*;
use jsonrpsee::http_client::HttpClientBuilder;
use std::time::Duration;
use straddle_primitives::{BulkCancel, BulkOrders, Liquidate, Order, SignedLiquidate, Transaction};
use straddle_rpc_api::errors;
use straddle_rpc_api::{OrderStatus, StraddleApiClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oracle_update_and_a_match_open_positions_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();

    // Before any price, the market cannot trade.
    for trader in [1usize, 2] {
        deposit_margin(&client, trader, 10_000_000_000, 1).await;
    }
    let trade = Transaction::Match {
        taker: signed_order(1, true, 1, 1),
        makers: vec![(signed_order(2, false, 0, 2), 1_000_000)],
    };
    assert_eq!(
        code(send(&client, trade.clone()).await.unwrap_err()),
        errors::MATCH_REFUSED
    );

    // One report is not a quorum; two are.
    assert_eq!(
        code(
            send(&client, oracle_update(&[7], 3_000_000_000))
                .await
                .unwrap_err()
        ),
        errors::ORACLE_REFUSED
    );
    let receipt = send(&client, oracle_update(&[7, 8], 3_000_000_000))
        .await
        .unwrap();
    assert_eq!(receipt.sender, Address::ZERO);

    let receipt = send(&client, trade.clone()).await.unwrap();
    assert_eq!(receipt.sender, signer(1).address());
    let receipt_block = receipt.block_number;
    // The same match again would overfill the orders.
    assert_eq!(
        code(send(&client, trade).await.unwrap_err()),
        errors::MATCH_REFUSED
    );
    assert_eq!(
        code(
            client
                .send_transaction(Bytes::from(vec![0x11, 1, 2]))
                .await
                .unwrap_err()
        ),
        errors::INVALID_PARAMS
    );

    let markets = client.get_markets().await.unwrap();
    assert_eq!(
        (markets[0].id, markets[0].mark, markets[0].open_interest),
        (1, Some(3_000_000_000), 1_000_000)
    );
    // No smile was reported for the options' expiry: they stay unpriced (halted).
    assert!(
        markets
            .iter()
            .filter(|m| m.kind != "perpetual")
            .all(|m| m.mark.is_none())
    );
    let oracles = client.get_oracles().await.unwrap();
    assert_eq!(
        (oracles[0].symbol.as_str(), oracles[0].index),
        ("ETH", 3_000_000_000)
    );
    let long = client.get_account(signer(1).address()).await.unwrap();
    assert_eq!(long.margin.positions.len(), 1);
    assert_eq!(
        (
            long.margin.positions[0].market,
            long.margin.positions[0].size
        ),
        (1, 1_000_000)
    );
    assert_eq!(
        long.margin.maintenance, "990000000",
        "a lone perp needs the +/-33 % tail"
    );
    assert_eq!(long.margin.delta_nano, "1000000000");
    assert_eq!(long.margin.worst_scenario, 27, "the −33 % tail");
    let position = &long.margin.positions[0];
    assert_eq!(position.entry_price, 3_000_000_000);
    assert_eq!(position.mark, Some(3_000_000_000));
    assert_eq!(position.unrealized_pnl.as_deref(), Some("0"));

    // Wait for the match's block, check its view, then restart.
    let block = loop {
        if let Some(block) = client
            .get_block(
                straddle_rpc_api::BlockRef::Number(receipt.block_number),
                Some(true),
            )
            .await
            .unwrap()
        {
            break block;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        block
            .transactions
            .iter()
            .any(|tx| tx.kind == "match" && tx.hash == receipt.tx_hash)
    );

    // A thinly margined long (1,300 USDC for 1 ETH; initial margin 1,237.5) and a
    // liquidator with margin of its own (it takes the position over).
    deposit_margin(&client, 3, 1_300_000_000, 1).await;
    deposit_margin(&client, 4, 10_000_000_000, 1).await;
    let thin = Transaction::Match {
        taker: signed_order(3, true, 1, 10),
        makers: vec![(signed_order(2, false, 0, 11), 1_000_000)],
    };
    send(&client, thin).await.unwrap();
    // 1,300 USDC (1,298.5 after the taker fee) against 1 ETH: with today's 990 USDC
    // requirement held fixed, equity meets it at 3,000 − 308.5 = 2,691.5.
    let estimate = client
        .get_account(signer(3).address())
        .await
        .unwrap()
        .margin
        .liquidation_index
        .unwrap();
    assert!(
        (2_690_500_000..2_692_500_000).contains(&estimate),
        "{estimate}"
    );
    let liquidate = |nonce| {
        let request = Liquidate {
            target: signer(3).address(),
            market: 1,
            size: 1_000_000,
            nonce,
            expiryMs: now_ms() + 60_000,
        };
        let signature = signer(4)
            .sign_hash_sync(&request.signing_hash(&domain()))
            .unwrap();
        Transaction::Liquidate(SignedLiquidate {
            liquidate: request,
            signature,
        })
    };
    // Healthy: refused with the margin code.
    assert_eq!(
        code(send(&client, liquidate(101)).await.unwrap_err()),
        errors::MARGIN_REFUSED
    );
    // ETH falls 10 % per update (the move bound) to 2,430: equity ≈ 728 < maintenance ≈ 802.
    for price in [2_700_000_000u64, 2_430_000_000] {
        tokio::time::sleep(Duration::from_millis(5)).await;
        send(&client, oracle_update(&[8, 9], price)).await.unwrap();
    }
    let receipt = send(&client, liquidate(102)).await.unwrap();
    assert_eq!(receipt.sender, signer(4).address());
    assert!(
        client
            .get_account(signer(3).address())
            .await
            .unwrap()
            .margin
            .positions
            .is_empty()
    );
    // The signed request cannot be replayed: its nonce is spent.
    assert_eq!(
        code(send(&client, liquidate(102)).await.unwrap_err()),
        errors::NONCE_REPLAYED
    );
    node.stop().await;

    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    // After the restart: the maker is short both contracts it sold, and the liquidator
    // holds the one it took over.
    let short = client.get_account(signer(2).address()).await.unwrap();
    assert_eq!(short.margin.positions[0].size, -2_000_000);
    let liquidator = client.get_account(signer(4).address()).await.unwrap();
    assert_eq!(liquidator.margin.positions[0].size, 1_000_000);
    let match_block = client
        .get_block(
            straddle_rpc_api::BlockRef::Number(receipt_block),
            Some(false),
        )
        .await
        .unwrap()
        .unwrap();
    node.stop().await;

    // Re-executing the match's block one transaction at a time ends at its state root.
    let store = straddle_storage::chain_store::ChainStore::open(dir.path()).unwrap();
    let roots =
        straddle_fault_proof::per_transaction_roots(&store, &genesis(), receipt_block).unwrap();
    assert_eq!(roots.len(), match_block.transaction_hashes.len());
    assert_eq!(roots.last(), Some(&match_block.header.state_root));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_maker_places_a_ladder_under_one_signature_and_pulls_it_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    for trader in [5usize, 6] {
        deposit_margin(&client, trader, 50_000_000_000, 1).await;
    }
    send(&client, oracle_update(&[7, 9], 3_000_000_000))
        .await
        .unwrap();

    // Five asks, 3,000.0 to 3,000.4, one signature.
    let asks: Vec<Order> = (0..5u64)
        .map(|n| Order {
            market: 1,
            isBuy: false,
            limitPrice: 3_000_000_000 + n * 100_000,
            size: 1_000_000,
            timeInForce: 0,
            reduceOnly: false,
            expiryMs: now_ms() + 60_000,
            clientOrderId: n,
            nonce: 100 + n,
        })
        .collect();
    let bulk = BulkOrders {
        cancels: Vec::new(),
        orders: asks.clone(),
        nonce: 2,
        expiryMs: now_ms() + 60_000,
    };
    let signature = signer(5)
        .sign_hash_sync(&bulk.signing_hash(&domain()))
        .unwrap();
    send(&client, Transaction::PlaceOrders { bulk, signature })
        .await
        .unwrap();

    // A taker lifts the best ask through the engine, which names the placed maker by its
    // owner instead of a signature.
    let maker = signer(5).address();
    let lift = client
        .place_order(Bytes::from(
            Transaction::PlaceOrder(signed_order(6, true, 1, 1)).encode(),
        ))
        .await
        .unwrap();
    assert_eq!(lift.status, OrderStatus::Filled);
    assert_eq!(lift.fills.len(), 1);
    assert_eq!(
        (lift.fills[0].maker, lift.fills[0].maker_order),
        (maker, asks[0].hash(&domain()))
    );
    // Only the engine makes matches against placed makers: a hand-made one is refused,
    // and a forged owner would be refused by the STF anyway.
    let forged = Transaction::MatchPlaced {
        taker: signed_order(6, true, 1, 2),
        makers: vec![(asks[1].clone(), signer(4).address(), 1_000_000)],
    };
    assert_eq!(
        code(send(&client, forged).await.unwrap_err()),
        errors::USE_ORDER_METHOD
    );

    // One signature pulls the rest of the ladder.
    let cancel = BulkCancel {
        orderHashes: asks.iter().map(|a| a.hash(&domain())).collect(),
        nonce: 3,
        expiryMs: now_ms() + 60_000,
    };
    let signature = signer(5)
        .sign_hash_sync(&cancel.signing_hash(&domain()))
        .unwrap();
    send(&client, Transaction::BulkCancel { cancel, signature })
        .await
        .unwrap();
    let book = client.get_book(1, None).await.unwrap();
    assert!(book.asks.is_empty() && book.bids.is_empty(), "{book:?}");
    let nothing = client
        .place_order(Bytes::from(
            Transaction::PlaceOrder(signed_order(6, true, 1, 3)).encode(),
        ))
        .await
        .unwrap();
    assert_eq!((nothing.status, nothing.filled), (OrderStatus::Unfilled, 0));
    assert_eq!(nothing.block_number, None, "nothing to write");
    let account = client.get_account(maker).await.unwrap();
    assert_eq!(account.margin.positions[0].size, -1_000_000);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_lists_a_market_and_closes_it_over_rpc() {
    use straddle_primitives::admin::INSTRUMENT_PERPETUAL;
    use straddle_primitives::{CloseMarket, ListMarket};
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let list = |by: usize, market: u32, tick: u64, nonce: u64| {
        let listing = ListMarket {
            market,
            underlying: 1,
            instrument: INSTRUMENT_PERPETUAL,
            strike: 0,
            optionExpiryMs: 0,
            tick,
            lot: 1_000,
            makerFeePpm: 100,
            takerFeePpm: 300,
            nonce,
            expiryMs: now_ms() + 60_000,
        };
        let signature = signer(by)
            .sign_hash_sync(&listing.signing_hash(&domain()))
            .unwrap();
        Transaction::ListMarket { listing, signature }
    };
    // Account 0 is the devnet operator; nobody else may list, and a bad listing says so.
    assert_eq!(
        code(send(&client, list(3, 40, 100_000, 1)).await.unwrap_err()),
        errors::UNAUTHORIZED
    );
    assert_eq!(
        code(send(&client, list(0, 40, 0, 1)).await.unwrap_err()),
        errors::MARKET_ADMIN_REFUSED
    );
    send(&client, list(0, 40, 100_000, 2)).await.unwrap();
    send(&client, oracle_update(&[7, 8], 3_000_000_000))
        .await
        .unwrap();
    let market = |markets: Vec<straddle_rpc_api::MarketView>| {
        markets.into_iter().find(|m| m.id == 40).unwrap()
    };
    let listed = market(client.get_markets().await.unwrap());
    assert_eq!(
        (listed.kind.as_str(), listed.status.as_str(), listed.mark),
        ("perpetual", "active", Some(3_000_000_000))
    );

    let close = CloseMarket {
        market: 40,
        nonce: 3,
        expiryMs: now_ms() + 60_000,
    };
    let signature = signer(0)
        .sign_hash_sync(&close.signing_hash(&domain()))
        .unwrap();
    send(&client, Transaction::CloseMarket { close, signature })
        .await
        .unwrap();
    let closed = market(client.get_markets().await.unwrap());
    assert_eq!(
        (closed.status.as_str(), closed.settlement_value),
        ("settled", Some(3_000_000_000))
    );
    node.stop().await;
}
