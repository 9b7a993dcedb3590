//! The node over real HTTP and WebSocket: every kind of bad input gets its documented
//! error code and changes nothing; subscriptions deliver blocks and account updates.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use common::{action_request, domain, signer, start};
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClientBuilder;
use std::time::Duration;
use straddle_exchange::devnet::DEVNET_CHAIN_ID;
use straddle_primitives::{Action, Transfer};
use straddle_rpc_api::errors;
use straddle_rpc_api::{AccountUpdate, BlockView, StraddleApiClient};
use straddle_sequencer::Node;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn far_future() -> u64 {
    u64::MAX / 2
}

fn transfer(to: Address, amount: u128, nonce: u64) -> Action {
    Action::Transfer(Transfer {
        to,
        amount,
        nonce,
        expiryMs: far_future(),
    })
}

fn sign(key: &PrivateKeySigner, action: &Action) -> [u8; 65] {
    key.sign_hash_sync(&action.signing_hash(&domain()))
        .unwrap()
        .as_bytes()
}

fn request(action: &Action, signature: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "straddle_sendAction",
        "params": [{"chainId": DEVNET_CHAIN_ID, "action": action, "signature": Bytes::copy_from_slice(signature)}]
    })
}

/// Posts raw bytes and returns (HTTP status, body).
async fn post_raw(node: &Node, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(node.rpc_addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The JSON-RPC error code of a response body (handles chunked bodies by scanning).
fn error_code(body: &str) -> Option<i64> {
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    let value: serde_json::Value = serde_json::from_str(&body[start..=end]).ok()?;
    value["error"]["code"].as_i64()
}

async fn post_json(node: &Node, value: &serde_json::Value) -> Option<i64> {
    let (_, body) = post_raw(node, value.to_string().as_bytes()).await;
    error_code(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_documented_codes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let alice = signer(1);
    let bob = signer(2).address();

    // One accepted transfer with nonce 10, so that replays can be tried.
    let ok = transfer(bob, 1_000_000, 10);
    let response = post_json(&node, &request(&ok, &sign(&alice, &ok))).await;
    assert_eq!(response, None, "a valid transfer is accepted");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = client.get_account(alice.address()).await.unwrap();
    let head_before = client.chain_head().await.unwrap();

    let mut cases: Vec<(&str, Vec<u8>, i64)> = Vec::new();
    cases.push((
        "malformed JSON",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":".to_vec(),
        -32700,
    ));
    cases.push((
        "unknown method",
        br#"{"jsonrpc":"2.0","id":1,"method":"straddle_stealFunds","params":[]}"#.to_vec(),
        -32601,
    ));
    let mut wrong_chain = request(&ok, &sign(&alice, &ok));
    wrong_chain["params"][0]["chainId"] = 1.into();
    cases.push((
        "wrong chain id",
        wrong_chain.to_string().into_bytes(),
        errors::WRONG_CHAIN_ID as i64,
    ));
    let fresh = transfer(bob, 5, 11);
    let good = sign(&alice, &fresh);
    cases.push((
        "short signature",
        request(&fresh, &good[..64]).to_string().into_bytes(),
        errors::INVALID_SIGNATURE as i64,
    ));
    let mut bad_v = good;
    bad_v[64] = 5;
    cases.push((
        "bad recovery byte",
        request(&fresh, &bad_v).to_string().into_bytes(),
        errors::INVALID_SIGNATURE as i64,
    ));
    let mut zero_r = good;
    zero_r[..32].fill(0);
    cases.push((
        "zero r",
        request(&fresh, &zero_r).to_string().into_bytes(),
        errors::INVALID_SIGNATURE as i64,
    ));
    // The high-s twin of a valid signature.
    let order = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&good[32..64]);
    let mut twin = good;
    twin[32..64].copy_from_slice(&(order - s).to_be_bytes::<32>());
    twin[64] = if good[64] == 27 { 28 } else { 27 };
    cases.push((
        "malleable signature",
        request(&fresh, &twin).to_string().into_bytes(),
        errors::MALLEABLE_SIGNATURE as i64,
    ));
    cases.push((
        "replayed nonce",
        request(&ok, &sign(&alice, &ok)).to_string().into_bytes(),
        errors::NONCE_REPLAYED as i64,
    ));
    let expired = Action::Transfer(Transfer {
        to: bob,
        amount: 5,
        nonce: 12,
        expiryMs: 1,
    });
    cases.push((
        "expired",
        request(&expired, &sign(&alice, &expired))
            .to_string()
            .into_bytes(),
        errors::EXPIRED as i64,
    ));
    let zero = transfer(bob, 0, 13);
    cases.push((
        "zero amount",
        request(&zero, &sign(&alice, &zero))
            .to_string()
            .into_bytes(),
        errors::INVALID_AMOUNT as i64,
    ));
    let too_much = transfer(bob, u128::MAX, 14);
    cases.push((
        "insufficient balance",
        request(&too_much, &sign(&alice, &too_much))
            .to_string()
            .into_bytes(),
        errors::INSUFFICIENT_BALANCE as i64,
    ));
    let mint = Action::Mint(straddle_primitives::Mint {
        to: bob,
        amount: 1,
        nonce: 15,
        expiryMs: far_future(),
    });
    cases.push((
        "mint by non-operator",
        request(&mint, &sign(&alice, &mint))
            .to_string()
            .into_bytes(),
        errors::UNAUTHORIZED as i64,
    ));
    let withdraw_margin = Action::WithdrawMargin(straddle_primitives::WithdrawMargin {
        amount: 1,
        nonce: 16,
        expiryMs: far_future(),
    });
    cases.push((
        "margin withdrawal without cash",
        request(&withdraw_margin, &sign(&alice, &withdraw_margin))
            .to_string()
            .into_bytes(),
        errors::MARGIN_REFUSED as i64,
    ));
    let mut negative = request(&fresh, &good);
    negative["params"][0]["action"]["amount"] = "-5".into();
    cases.push(("negative amount", negative.to_string().into_bytes(), -32602));
    let mut overflowing = request(&fresh, &good);
    overflowing["params"][0]["action"]["amount"] = "340282366920938463463374607431768211456".into();
    cases.push((
        "overflowing amount",
        overflowing.to_string().into_bytes(),
        -32602,
    ));
    let mut unknown_type = request(&fresh, &good);
    unknown_type["params"][0]["action"]["type"] = "steal".into();
    cases.push((
        "unknown action type",
        unknown_type.to_string().into_bytes(),
        -32602,
    ));
    let mut extra_field = request(&fresh, &good);
    extra_field["params"][0]["action"]["from"] = serde_json::Value::String(bob.to_string());
    cases.push((
        "unknown field",
        extra_field.to_string().into_bytes(),
        -32602,
    ));
    let mut bad_address = request(&fresh, &good);
    bad_address["params"][0]["action"]["to"] = "0x1234".into();
    cases.push((
        "malformed address",
        bad_address.to_string().into_bytes(),
        -32602,
    ));

    for (name, body, expected) in &cases {
        let (_, response) = post_raw(&node, body).await;
        assert_eq!(error_code(&response), Some(*expected), "{name}: {response}");
    }

    // Oversized: refused before parsing, with HTTP 413.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"straddle_chainId","params":["{}"]}}"#,
        "a".repeat(straddle_sequencer::RPC_REQUEST_BYTES_MAX as usize + 1)
    );
    let (status, body) = post_raw(&node, huge.as_bytes()).await;
    assert!(
        status == 413 || error_code(&body) == Some(-32007),
        "oversized: {status} {body}"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        client
            .get_account(alice.address())
            .await
            .unwrap()
            .collateral,
        before.collateral
    );
    assert_eq!(
        client.get_account(alice.address()).await.unwrap().nonces,
        before.nonces
    );
    assert_eq!(
        client.chain_head().await.unwrap(),
        head_before,
        "no block was produced by refused input"
    );

    // Stale: fill the window with higher nonces, then go below it.
    for nonce in 100..100 + straddle_exchange::NONCE_WINDOW_LEN as u64 {
        let request = action_request(&alice, transfer(bob, 1, nonce));
        client.send_action(request).await.unwrap();
    }
    let stale = transfer(bob, 1, 50);
    assert_eq!(
        post_json(&node, &request(&stale, &sign(&alice, &stale))).await,
        Some(errors::NONCE_STALE as i64)
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_blocks_and_account_updates() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let ws = WsClientBuilder::default()
        .build(node.ws_url())
        .await
        .unwrap();
    let mut blocks = ws
        .subscribe::<BlockView, _>(
            "straddle_subscribeNewBlocks",
            jsonrpsee::rpc_params![],
            "straddle_unsubscribeNewBlocks",
        )
        .await
        .unwrap();
    let bob = signer(2).address();
    let mut updates = ws
        .subscribe::<AccountUpdate, _>(
            "straddle_subscribeAccount",
            jsonrpsee::rpc_params![bob],
            "straddle_unsubscribeAccount",
        )
        .await
        .unwrap();
    let receipt = ws
        .send_action(action_request(&signer(3), transfer(bob, 2_500_000, 1)))
        .await
        .unwrap();
    let block = tokio::time::timeout(Duration::from_secs(5), blocks.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(block.header.number, receipt.block_number);
    assert_eq!(block.transaction_hashes, vec![receipt.tx_hash]);
    let update = tokio::time::timeout(Duration::from_secs(5), updates.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(update.block_number, receipt.block_number);
    assert_eq!(
        update.collateral.0,
        straddle_exchange::devnet::DEVNET_ALLOCATION.0 + 2_500_000
    );

    // The receipt and the block are queryable, and the account proof verifies.
    let stored = ws.get_receipt(receipt.tx_hash).await.unwrap().unwrap();
    assert_eq!(
        (stored.block_number, stored.index),
        (receipt.block_number, receipt.index)
    );
    let proof = ws.get_proof(bob).await.unwrap();
    let value_hash = straddle_state::value_hash(proof.value.as_ref().unwrap());
    straddle_state::verify_proof(
        &proof.state_root,
        &proof.key_hash,
        Some(&value_hash),
        &proof.proof,
    )
    .unwrap();
    let head = ws.chain_head().await.unwrap();
    assert_eq!(proof.state_root, head.soft.state_root);
    assert!(
        ws.get_receipt(B256::repeat_byte(9))
            .await
            .unwrap()
            .is_none()
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn margin_deposits_show_in_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let trader = signer(4);
    let deposit = Action::DepositMargin(straddle_primitives::DepositMargin {
        amount: 250_000_000,
        nonce: 1,
        expiryMs: far_future(),
    });
    client
        .send_action(action_request(&trader, deposit))
        .await
        .unwrap();
    let account = client.get_account(trader.address()).await.unwrap();
    assert_eq!(
        account.collateral.0,
        straddle_exchange::devnet::DEVNET_ALLOCATION.0 - 250_000_000
    );
    assert_eq!(account.margin.cash, "250000000");
    assert_eq!(account.margin.equity, "250000000");
    assert_eq!(account.margin.free_collateral, "250000000");
    assert!(account.margin.positions.is_empty());
    node.stop().await;
}

/// Proofs come from the sealer thread while admission has already executed newer,
/// unsealed transactions: each proof must carry the value as of the root it is served
/// with, so it verifies, and the account's value only moves once its block is sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_served_between_seals_match_their_root() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let client = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let alice = signer(1);
    let bob = signer(2).address();
    let mut roots = std::collections::HashSet::new();
    for nonce in 1..=30u64 {
        client
            .send_action(action_request(&alice, transfer(bob, 1_000, nonce)))
            .await
            .unwrap();
        let proof = client.get_proof(bob).await.unwrap();
        let value = proof.value.as_ref().expect("bob's account exists");
        straddle_state::verify_proof(
            &proof.state_root,
            &proof.key_hash,
            Some(&straddle_state::value_hash(value)),
            &proof.proof,
        )
        .expect("the proof verifies against the root it came with");
        roots.insert(proof.state_root);
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
    // Thirty transfers over about a quarter second span several 100 ms blocks.
    assert!(roots.len() >= 2, "proofs were served across seals");
    node.stop().await;
}
