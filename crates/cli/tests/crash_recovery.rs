//! Crash safety of the real binary: eight concurrent senders submit transfers over
//! JSON-RPC while the node is killed with SIGKILL at random moments, again and again.
//! Afterwards every acknowledged transaction is in the chain at the block and index its
//! receipt named, nothing that was not acknowledged is half-applied (balances equal a
//! recomputation from the chain's own transactions, collateral is conserved), and the
//! state root equals a clean offline replay of the stored chain.

mod common;

use alloy_primitives::{Address, B256, Bytes};
use common::{NodeProcess, dev_addresses, dev_signer, devnet_domain, run_cli, sign};
use jsonrpsee::core::ClientError;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use straddle_exchange::devnet::{DEVNET_ALLOCATION, DEVNET_CHAIN_ID};
use straddle_primitives::{Action, Transfer};
use straddle_rpc_api::{BlockRef, Receipt, SendActionRequest, StraddleApiClient};

const SENDERS: usize = 8;
const KILLS_MIN: usize = 6;
const ACKED_MIN: usize = 3000;
const ROUNDS_MAX: usize = 40;

/// What one sender learned in one round.
#[derive(Default)]
struct SenderLog {
    acked: Vec<Receipt>,
    /// Sent but never acknowledged (the node died first): may or may not be in the chain.
    unacked: Vec<B256>,
}

async fn run_sender(url: String, index: usize, first_nonce: u64, seed: u64) -> (SenderLog, u64) {
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(20))
        .build(&url)
        .expect("valid url");
    let key = dev_signer(index);
    let recipients = dev_addresses();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut log = SenderLog::default();
    let mut nonce = first_nonce;
    loop {
        let to = recipients[(index + rng.random_range(1..10)) % 10];
        let action = Action::Transfer(Transfer {
            to,
            amount: rng.random_range(1..=5_000_000u128),
            nonce,
            expiryMs: u64::MAX / 2,
        });
        nonce += 1;
        let hash = action.signing_hash(&devnet_domain());
        let request = SendActionRequest {
            chain_id: DEVNET_CHAIN_ID,
            signature: Bytes::copy_from_slice(&sign(&key, &action)),
            action,
        };
        match client.send_action(request).await {
            Ok(receipt) => {
                assert_eq!(receipt.tx_hash, hash, "receipt names the transaction sent");
                log.acked.push(receipt);
            }
            Err(ClientError::Call(refusal)) => {
                panic!("sender {index}: node refused a valid transfer: {refusal:?}")
            }
            // The node was killed: the connection broke or timed out.
            Err(_) => {
                log.unacked.push(hash);
                return (log, nonce);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_transfers_survive_repeated_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("node");
    let seed: u64 = rand::random();
    println!("crash test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let mut next_nonce = [1u64; SENDERS];
    let mut acked: Vec<Receipt> = Vec::new();
    let mut unacked: HashSet<B256> = HashSet::new();
    let mut kills = 0;
    for round in 0..ROUNDS_MAX {
        if kills >= KILLS_MIN && acked.len() >= ACKED_MIN {
            break;
        }
        let node = NodeProcess::start(&data_dir);
        let senders: Vec<_> = (0..SENDERS)
            .map(|i| tokio::spawn(run_sender(node.url.clone(), i, next_nonce[i], rng.random())))
            .collect();
        let alive = Duration::from_millis(rng.random_range(300..1500));
        tokio::time::sleep(alive).await;
        let log_path = node.log.clone();
        tokio::task::spawn_blocking(move || node.kill_hard())
            .await
            .expect("kill task");
        kills += 1;
        let mut acked_this_round = 0;
        for (i, sender) in senders.into_iter().enumerate() {
            let (log, nonce) = sender.await.unwrap_or_else(|e| {
                panic!(
                    "sender {i} failed in round {round}: {e}\nnode log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                )
            });
            next_nonce[i] = nonce;
            acked_this_round += log.acked.len();
            acked.extend(log.acked);
            unacked.extend(log.unacked);
        }
        println!("round {round}: killed after {alive:?}, {acked_this_round} acknowledged");
    }
    assert!(kills >= KILLS_MIN, "only {kills} kills");
    assert!(
        acked.len() >= ACKED_MIN,
        "only {} acknowledged",
        acked.len()
    );

    // Restart and check everything from the outside.
    let mut node = NodeProcess::start(&data_dir);
    let client = node.client();
    for receipt in &acked {
        let stored = client
            .get_receipt(receipt.tx_hash)
            .await
            .expect("getReceipt")
            .unwrap_or_else(|| panic!("acknowledged {} is missing", receipt.tx_hash));
        assert_eq!(
            (stored.block_number, stored.index),
            (receipt.block_number, receipt.index),
            "acknowledged {} moved",
            receipt.tx_hash
        );
    }

    // Recompute balances from the chain's transactions alone.
    let head = client.chain_head().await.expect("chainHead");
    let addresses = dev_addresses();
    let mut expected: HashMap<Address, u128> = addresses
        .iter()
        .map(|a| (*a, DEVNET_ALLOCATION.0))
        .collect();
    let acked_hashes: HashSet<B256> = acked.iter().map(|r| r.tx_hash).collect();
    let mut in_chain = 0usize;
    for number in 1..=head.soft.number {
        let block = client
            .get_block(BlockRef::Number(number), Some(true))
            .await
            .expect("getBlock")
            .unwrap_or_else(|| panic!("block {number} missing below head"));
        for tx in &block.transactions {
            assert!(
                acked_hashes.contains(&tx.hash) || unacked.contains(&tx.hash),
                "block {number} holds {} which nobody sent",
                tx.hash
            );
            let Some(Action::Transfer(transfer)) = &tx.action else {
                panic!("only transfers were sent");
            };
            *expected.get_mut(&tx.sender).expect("dev sender") -= transfer.amount;
            *expected.get_mut(&transfer.to).expect("dev recipient") += transfer.amount;
            in_chain += 1;
        }
    }
    let mut total = 0u128;
    for address in &addresses {
        let account = client.get_account(*address).await.expect("getAccount");
        assert_eq!(
            account.collateral.0, expected[address],
            "{address}: balance differs from the chain's own transactions"
        );
        total += account.collateral.0;
    }
    assert_eq!(total, DEVNET_ALLOCATION.0 * 10, "collateral is conserved");
    println!(
        "{} acknowledged, {} unacknowledged of which {} made it, {} blocks",
        acked.len(),
        unacked.len(),
        in_chain - acked.len(),
        head.soft.number
    );

    // A clean replay of the stored chain reaches the same root.
    node.stop();
    let replay = run_cli(&[
        "replay",
        "--json",
        "--data-dir",
        data_dir.to_str().expect("utf-8 temp path"),
    ]);
    let replay: serde_json::Value = serde_json::from_str(&replay).expect("replay JSON");
    assert_eq!(
        replay["stateRoot"].as_str(),
        Some(head.soft.state_root.to_string().as_str()),
        "replayed root equals the live root"
    );
    assert_eq!(replay["transactions"].as_u64(), Some(in_chain as u64));
}
