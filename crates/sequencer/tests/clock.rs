//! Blocks are stamped by the sequencer's clock (`straddle_sequencer::clock`), never
//! earlier than their parent: with a clock set by hand, each block's time is exactly the
//! clock's, and a clock that goes back does not take the chain back with it.

mod common;

use common::{action_request, config, signer};
use std::sync::Arc;
use straddle_primitives::{Action, Transfer};
use straddle_rpc_api::{BlockRef, StraddleApiClient};
use straddle_sequencer::Node;
use straddle_sequencer::clock::ManualClock;

/// Sends a transfer of dev account 1 and returns its block's time.
async fn transfer_block_time(client: &jsonrpsee::http_client::HttpClient, nonce: u64) -> u64 {
    let action = Action::Transfer(Transfer {
        to: signer(2).address(),
        amount: 1,
        nonce,
        expiryMs: u64::MAX,
    });
    let receipt = client
        .send_action(action_request(&signer(1), action))
        .await
        .unwrap();
    let block = loop {
        if let Some(block) = client
            .get_block(BlockRef::Number(receipt.block_number), None)
            .await
            .unwrap()
        {
            break block;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    block.header.timestamp_ms
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_take_the_clocks_time_and_never_run_back() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_900_000_000_000;
    let clock = Arc::new(ManualClock::new(t0));
    let node = Node::start_with_clock(config(dir.path(), None), clock.clone())
        .await
        .unwrap();
    let client = straddle_rpc_api::http_client(&node.http_url()).unwrap();

    assert_eq!(transfer_block_time(&client, 1).await, t0);
    clock.set(t0 + 1_500);
    assert_eq!(transfer_block_time(&client, 2).await, t0 + 1_500);
    // The clock goes back: the next block keeps its parent's time.
    clock.set(t0 - 60_000);
    assert_eq!(transfer_block_time(&client, 3).await, t0 + 1_500);
    clock.set(t0 + 2_000);
    assert_eq!(transfer_block_time(&client, 4).await, t0 + 2_000);
    node.stop().await;
}
