//! Helpers of the node's integration tests: a node on a temporary directory and
//! submissions over RPC. The builders every test shares are in `straddle-testkit`.
#![allow(dead_code, unused_imports)]

pub use straddle_testkit::*;

use alloy_primitives::Bytes;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use std::time::Duration;
use straddle_primitives::{Action, DepositMargin, Transaction};
use straddle_rpc_api::{Receipt, StraddleApiClient};
use straddle_sequencer::{Node, NodeConfig};

pub async fn start(dir: &std::path::Path) -> Node {
    start_with_deposits(dir, None).await
}

pub async fn start_with_deposits(
    dir: &std::path::Path,
    deposits: Option<straddle_sequencer::deposits::DepositSource>,
) -> Node {
    Node::start(config(dir, deposits)).await.unwrap()
}

/// A sequencer on `dir` over the devnet genesis, sealing every 20 ms.
pub fn config(
    dir: &std::path::Path,
    deposits: Option<straddle_sequencer::deposits::DepositSource>,
) -> NodeConfig {
    NodeConfig {
        data_dir: dir.to_path_buf(),
        genesis: genesis(),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        block_interval: Duration::from_millis(20),
        deposits,
        role: straddle_sequencer::Role::Sequencer,
        derivation: None,
    }
}

pub async fn deposit_margin(client: &HttpClient, trader: usize, amount: u128, nonce: u64) {
    let deposit = Action::DepositMargin(DepositMargin {
        amount,
        nonce,
        expiryMs: now_ms() + 60_000,
    });
    client
        .send_action(action_request(&signer(trader), deposit))
        .await
        .unwrap_or_else(|e| panic!("margin deposit of account {trader}: {e}"));
}

/// Submits a canonical transaction.
pub async fn send(client: &HttpClient, tx: Transaction) -> Result<Receipt, ClientError> {
    client.send_transaction(Bytes::from(tx.encode())).await
}

pub fn code(error: ClientError) -> i32 {
    match error {
        ClientError::Call(call) => call.code(),
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}
