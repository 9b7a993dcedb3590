//! Tolerant derivation with the real node binary on anvil (`docs/spec/batches.md` §4.1):
//! a batch whose structure parses is taken whatever its transactions hold. A follower
//! reads a hand-made batch whose slots name a deposit L1 does not have, carry the
//! undecodable item, or run past their item, with an empty block between: it derives
//! every block, each faulty slot as the undecodable item that changes nothing, and the
//! transfer among them executes. A batch whose structure does not parse is skipped
//! whole, and the next batch that links is taken.

mod common;

use alloy_primitives::Address;
use common::{NodeProcess, dev_signer, wait_for};
use straddle_batch::{Batch, BatchBlock};
use straddle_l1::L1Client;
use straddle_primitives::{Action, Deposit, SignedAction, Transaction, Transfer};
use straddle_rpc_api::{BlockRef, StraddleApiClient};

/// A transfer of `amount` from dev account 3 to `to`.
fn transfer(to: Address, amount: u128, nonce: u64) -> Transaction {
    let action = Action::Transfer(Transfer {
        to,
        amount,
        nonce,
        expiryMs: u64::MAX / 2,
    });
    let signature = alloy_primitives::Signature::from_raw(&common::sign(&dev_signer(3), &action))
        .expect("a 65-byte signature");
    Transaction::Action(SignedAction { action, signature })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_takes_a_batch_whatever_its_items_hold_and_skips_a_broken_one() {
    let (anvil, _, deployment) = common::anvil_with_contracts(2, 20).await;
    let batcher = L1Client::connect(&anvil.url(), common::l1_key(1)).unwrap();
    let post = async |bytes: Vec<u8>| {
        batcher
            .post_calldata(deployment.batch_inbox, bytes.into())
            .await
            .unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = std::iter::once("--follow".to_string())
        .chain(common::node_l1_args(&anvil.url(), &deployment))
        .collect();
    let follower = NodeProcess::start_with(
        &dir.path().join("follower"),
        &args,
        "straddle follower ready: rpc ",
    );
    let l2 = follower.client();
    let genesis = l2
        .get_block(BlockRef::Number(0), None)
        .await
        .unwrap()
        .expect("the genesis block");
    let sender = dev_signer(3).address();
    let recipient = Address::repeat_byte(0x77);
    let before = l2.get_account(sender).await.unwrap().collateral.0;
    let time = genesis.header.timestamp_ms + 1_000;

    // Block 1: a transfer, a deposit the Portal never recorded, the undecodable item
    // itself; block 2: empty; block 3: a transfer.
    let batch = Batch {
        parent_hash: genesis.hash,
        blocks: vec![
            BatchBlock {
                number: 1,
                timestamp_ms: time,
                transactions: vec![
                    transfer(recipient, 1_000, 1),
                    Transaction::Deposit(Deposit {
                        index: 7,
                        from: sender,
                        recipient: sender,
                        amount: 1 << 60,
                    }),
                    Transaction::Undecodable,
                ],
            },
            BatchBlock {
                number: 2,
                timestamp_ms: time + 1,
                transactions: vec![],
            },
            BatchBlock {
                number: 3,
                timestamp_ms: time + 2,
                transactions: vec![transfer(recipient, 2_000, 2)],
            },
        ],
    };
    let mut bytes = batch.encode(&common::devnet_domain()).unwrap();
    // And a byte after the last item: its slot no longer ends where the item does.
    bytes.push(0xEE);
    post(bytes).await;
    wait_for("the follower derives blocks 1-3", async || {
        l2.chain_head().await.unwrap().soft.number >= 3
    })
    .await;

    let kinds = |view: straddle_rpc_api::BlockView| {
        view.transactions
            .iter()
            .map(|tx| tx.kind.clone())
            .collect::<Vec<_>>()
    };
    let block = |n| {
        let l2 = l2.clone();
        async move {
            l2.get_block(BlockRef::Number(n), Some(true))
                .await
                .unwrap()
                .expect("derived")
        }
    };
    assert_eq!(
        kinds(block(1).await),
        ["action", "undecodable", "undecodable"]
    );
    assert!(block(2).await.transactions.is_empty(), "an empty block");
    assert_eq!(kinds(block(3).await), ["undecodable"]);
    // Only the first transfer executed; no deposit was credited.
    assert_eq!(l2.get_account(recipient).await.unwrap().collateral.0, 1_000);
    assert_eq!(
        l2.get_account(sender).await.unwrap().collateral.0,
        before - 1_000
    );
    assert_eq!(
        block(3).await.header.state_root,
        block(1).await.header.state_root,
        "undecodable items and an empty block change nothing"
    );

    // A batch whose block list is cut short is skipped; the next that links is taken.
    let head = block(3).await;
    let next = Batch {
        parent_hash: head.hash,
        blocks: vec![BatchBlock {
            number: 4,
            timestamp_ms: time + 3,
            transactions: vec![transfer(recipient, 3_000, 3)],
        }],
    };
    let good = next.encode(&common::devnet_domain()).unwrap();
    post(good[..50].to_vec()).await;
    post(good).await;
    wait_for("the follower derives block 4", async || {
        l2.chain_head().await.unwrap().soft.number >= 4
    })
    .await;
    assert_eq!(kinds(block(4).await), ["action"]);
    assert_eq!(l2.get_account(recipient).await.unwrap().collateral.0, 4_000);
    let log = std::fs::read_to_string(&follower.log).unwrap();
    assert!(log.contains("batch skipped"), "the cut batch is skipped");
    assert!(
        log.contains("batch carries items that do not decode"),
        "the faulty items are logged"
    );
}
