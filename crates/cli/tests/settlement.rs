//! Settlement on a real L1 (anvil) with the real binaries: a sequencer (`straddle node`
//! crediting the Portal's deposits), a batcher (`straddle batcher`) and a follower
//! (`straddle node --follow`) that rebuilds the chain from L1 alone.
//!
//! * The follower's blocks equal the sequencer's, block by block (hash and state root).
//! * The batcher (posting blobs) killed with SIGKILL mid-stream and restarted leaves no
//!   gap and no duplicate on L1: the batches' block ranges are contiguous from block 1.
//! * An L1 reorg (anvil snapshot/revert) that drops a calldata batch: the batcher posts
//!   it again, the follower converges, and the sequencer's `safe` head comes back.
//! * The batcher choosing the cheaper of blobs and calldata carries the trades.
//! * Deposit on L1 → credited on L2 → a perp and an option trade → withdrawal on L2 →
//!   the proposer's output finalizes → `straddle withdraw finalize` pays it on L1; a
//!   second finalization fails; the proposer takes its finalized outputs' bonds back.

mod common;

use alloy_primitives::{Address, Bytes};
use common::{NodeProcess, ServiceProcess, dev_signer, l1_key, sign};
use jsonrpsee::http_client::HttpClient;
use std::time::{Duration, Instant};
use straddle_batch::batch_range;
use straddle_exchange::devnet::DEVNET_CHAIN_ID;
use straddle_l1::alloy::providers::Provider;
use straddle_l1::{Anvil, BatchKind, Deployment, L1Client, batch_bytes, batches_between};
use straddle_primitives::{Action, Transfer};
use straddle_rpc_api::{BlockRef, SendActionRequest, StraddleApiClient};

/// The registry's challenge window on this test chain.
const CHALLENGE_WINDOW_SECS: u64 = 2;

/// Anvil with the contracts, a sequencer, a batcher and a follower.
struct Network {
    anvil: Anvil,
    deployment: Deployment,
    sequencer: NodeProcess,
    follower: NodeProcess,
    batcher: Option<ServiceProcess>,
    /// The batcher's `--da`: `blobs`, `calldata` or `cheapest`.
    da: &'static str,
    dir: tempfile::TempDir,
}

impl Network {
    async fn start(da: &'static str) -> Network {
        let (anvil, _, deployment) = common::anvil_with_contracts(CHALLENGE_WINDOW_SECS, 10).await;
        let dir = tempfile::tempdir().unwrap();
        let (sequencer, follower) = common::start_nodes(dir.path(), &anvil.url(), &deployment);
        let mut network = Network {
            anvil,
            deployment,
            sequencer,
            follower,
            batcher: None,
            da,
            dir,
        };
        network.start_batcher();
        network
    }

    fn start_batcher(&mut self) {
        let mut args =
            common::batcher_args(&self.sequencer.url, &self.anvil.url(), &self.deployment);
        args.extend([
            // Small batches, so that a few hundred transfers make many of them.
            "--batch-bytes-max".into(),
            "6000".into(),
            "--da".into(),
            self.da.into(),
        ]);
        self.batcher = Some(ServiceProcess::start(
            "batcher",
            &args,
            &self.dir.path().join("batcher.log"),
        ));
    }

    fn l1(&self) -> L1Client {
        L1Client::read_only(&self.anvil.url()).unwrap()
    }

    /// Waits until the follower's head is the sequencer's and the sequencer's `safe`
    /// head has reached it, then checks every block is the same on both.
    async fn converge(&self, what: &str) -> u64 {
        let sequencer = self.sequencer.client();
        let follower = self.follower.client();
        let deadline = Instant::now() + Duration::from_secs(90);
        let head = loop {
            let ours = sequencer.chain_head().await.unwrap();
            let theirs = follower.chain_head().await.unwrap();
            if theirs.soft == ours.soft && ours.safe == ours.soft {
                break ours.soft.number;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no convergence: sequencer {ours:?}, follower {theirs:?}; logs in {}",
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for number in 1..=head {
            let a = block(&sequencer, number).await;
            let b = block(&follower, number).await;
            assert_eq!(a.hash, b.hash, "{what}: block {number} differs");
            assert_eq!(a.header.state_root, b.header.state_root);
            assert_eq!(a.transaction_hashes, b.transaction_hashes);
        }
        head
    }

    /// Waits until L1's batches reach `head`, then checks their block ranges are
    /// contiguous from block 1 (no gap, no duplicate). Returns how many there are.
    async fn assert_batches_contiguous(&self, head: u64) -> usize {
        let l1 = self.l1();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let to = l1.block_number().await.unwrap();
            let logs = batches_between(&l1, self.deployment.batch_inbox, 0, to)
                .await
                .unwrap();
            let mut next = 1;
            for log in &logs {
                let expected = match self.da {
                    "blobs" => Some(BatchKind::Blobs),
                    "calldata" => Some(BatchKind::Calldata),
                    _ => None,
                };
                if let Some(kind) = expected {
                    assert_eq!(log.kind, kind, "batch {} with --da {}", log.index, self.da);
                }
                let bytes = batch_bytes(&l1, log).await.unwrap();
                let range = batch_range(&bytes).unwrap();
                assert_eq!(
                    range.first_block, next,
                    "batch {} starts at {} (gap or duplicate)",
                    log.index, range.first_block
                );
                next = range.last_block + 1;
            }
            if next == head + 1 {
                return logs.len();
            }
            assert!(
                Instant::now() < deadline,
                "L1 batches end at block {} instead of {head}",
                next - 1
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn block(client: &HttpClient, number: u64) -> straddle_rpc_api::BlockView {
    client
        .get_block(BlockRef::Number(number), Some(false))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("block {number} missing"))
}

/// `count` transfers from dev account `from` to the next one, nonces from `first_nonce`.
async fn transfers(client: &HttpClient, from: usize, first_nonce: u64, count: u64) {
    let key = dev_signer(from);
    let to = dev_signer(from + 1).address();
    for nonce in first_nonce..first_nonce + count {
        let action = Action::Transfer(Transfer {
            to,
            amount: 1_000 + u128::from(nonce % 7),
            nonce,
            expiryMs: u64::MAX / 2,
        });
        let request = SendActionRequest {
            chain_id: DEVNET_CHAIN_ID,
            signature: Bytes::copy_from_slice(&sign(&key, &action)),
            action,
        };
        client.send_action(request).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_rebuilds_the_chain_from_l1_and_a_killed_batcher_leaves_no_gap() {
    let mut network = Network::start("blobs").await;
    let sequencer = network.sequencer.client();

    // A deposit on L1, credited by the sequencer, carried in a batch by index only.
    let depositor = L1Client::connect(&network.anvil.url(), l1_key(3)).unwrap();
    L1Client::connect(&network.anvil.url(), l1_key(0))
        .unwrap()
        .mint_test_collateral(
            network.deployment.collateral,
            depositor.address(),
            5_000_000,
        )
        .await
        .unwrap();
    let recipient = Address::repeat_byte(0x51);
    depositor
        .deposit(
            network.deployment.collateral,
            network.deployment.portal,
            recipient,
            5_000_000,
        )
        .await
        .unwrap();

    transfers(&sequencer, 1, 1, 60).await;
    // Kill the batcher while blocks keep coming, wait, then start it again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    network.batcher.take().unwrap().kill_hard();
    transfers(&sequencer, 2, 1, 60).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    network.start_batcher();
    transfers(&sequencer, 4, 1, 60).await;

    let head = network.converge("after the batcher restart").await;
    let batches = network.assert_batches_contiguous(head).await;
    eprintln!("{head} blocks in {batches} batches");
    assert!(batches >= 3, "several batches were posted ({batches})");
    let credited = network
        .follower
        .client()
        .get_account(recipient)
        .await
        .unwrap();
    assert_eq!(
        credited.collateral.0, 5_000_000,
        "the follower credited the deposit"
    );

    // The follower refuses submissions: it only derives.
    let action = Action::Transfer(Transfer {
        to: recipient,
        amount: 1,
        nonce: 999_999,
        expiryMs: u64::MAX / 2,
    });
    let refused = network
        .follower
        .client()
        .send_action(SendActionRequest {
            chain_id: DEVNET_CHAIN_ID,
            signature: Bytes::copy_from_slice(&sign(&dev_signer(5), &action)),
            action,
        })
        .await;
    match refused {
        Err(jsonrpsee::core::ClientError::Call(error)) => {
            assert_eq!(error.code(), straddle_rpc_api::errors::FOLLOWER)
        }
        other => panic!("a follower must refuse submissions, got {other:?}"),
    }

    // A restarted follower resumes after the L1 block it read last: it fetches no batch
    // it derived before, and keeps following.
    network.follower.stop();
    let log = network.follower.log.clone();
    let before_restart = std::fs::read_to_string(&log).unwrap().len();
    let follower_dir = network.dir.path().join("follower");
    let mut args = common::node_l1_args(&network.anvil.url(), &network.deployment);
    args.push("--follow".into());
    network.follower =
        NodeProcess::start_with(&follower_dir, &args, "straddle follower ready: rpc ");
    transfers(&sequencer, 5, 1, 20).await;
    let head = network.converge("after the follower restart").await;
    network.assert_batches_contiguous(head).await;
    let after = std::fs::read_to_string(&log).unwrap()[before_restart..].to_string();
    assert!(after.contains("derivation resumes"), "{after}");
    assert!(
        !after.contains("batch matches blocks held"),
        "a restarted follower re-read batches it had derived:\n{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_reorg_that_drops_a_batch_is_reposted_and_the_follower_converges() {
    let network = Network::start("calldata").await;
    let sequencer = network.sequencer.client();
    transfers(&sequencer, 1, 1, 30).await;
    network.converge("before the reorg").await;

    let l1 = network.l1();
    let snapshot: alloy_primitives::U256 = l1
        .provider()
        .raw_request("evm_snapshot".into(), ())
        .await
        .unwrap();
    let batches_before = l1
        .batch_count(network.deployment.batch_inbox)
        .await
        .unwrap();
    transfers(&sequencer, 2, 1, 30).await;
    network
        .converge("after the batch that the reorg drops")
        .await;
    let batches_posted = l1
        .batch_count(network.deployment.batch_inbox)
        .await
        .unwrap();
    assert!(
        batches_posted > batches_before,
        "a batch was posted after the snapshot"
    );

    let reverted: bool = l1
        .provider()
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    assert!(reverted, "anvil reverted to the snapshot");
    assert_eq!(
        l1.batch_count(network.deployment.batch_inbox)
            .await
            .unwrap(),
        batches_before,
        "the reorg dropped the batch"
    );
    // Nothing is lost on L2: the dropped blocks are posted again, and both nodes see
    // them safe again.
    let head = network
        .sequencer
        .client()
        .chain_head()
        .await
        .unwrap()
        .soft
        .number;
    network.assert_batches_contiguous(head).await;
    assert_eq!(network.converge("after the reorg").await, head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_trade_withdraw_and_finalize_on_l1() {
    let network = Network::start("cheapest").await;
    let anvil_url = network.anvil.url();
    let deployment = network.deployment;
    let _proposer = common::start_proposer(
        &network.follower.url,
        &anvil_url,
        &deployment,
        &[],
        &network.dir.path().join("proposer.log"),
    );
    let trader = dev_signer(3).address();
    let l2 = network.sequencer.client();
    let start = l2.get_account(trader).await.unwrap().collateral.0;

    // 10 000 USDC from L1.
    let depositor = L1Client::connect(&anvil_url, l1_key(3)).unwrap();
    L1Client::connect(&anvil_url, l1_key(0))
        .unwrap()
        .mint_test_collateral(deployment.collateral, trader, 10_000_000_000)
        .await
        .unwrap();
    depositor
        .deposit(
            deployment.collateral,
            deployment.portal,
            trader,
            10_000_000_000,
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while l2.get_account(trader).await.unwrap().collateral.0 != start + 10_000_000_000 {
        assert!(Instant::now() < deadline, "the deposit was not credited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Trade a perp and an option against account 4, with the CLI.
    let rpc = network.sequencer.url.clone();
    let cli = |args: &[&str]| {
        let mut all = vec!["--rpc", rpc.as_str()];
        all.extend_from_slice(args);
        common::run_cli(&all)
    };
    cli(&["margin", "deposit", "--dev", "3", "--amount", "5000"]);
    cli(&["margin", "deposit", "--dev", "4", "--amount", "5000"]);
    cli(&["oracle", "push", "--price", "3000"]);
    for (market, price) in [("1", "3000"), ("11", "600")] {
        cli(&[
            "order",
            "pair",
            "--market",
            market,
            "--price",
            price,
            "--size",
            "1",
            "--buyer-dev",
            "3",
            "--seller-dev",
            "4",
        ]);
    }
    let mut positions: Vec<(u32, i64)> = l2
        .get_account(trader)
        .await
        .unwrap()
        .margin
        .positions
        .iter()
        .map(|p| (p.market, p.size))
        .collect();
    positions.sort();
    assert_eq!(
        positions,
        vec![(1, 1_000_000), (11, 1_000_000)],
        "long one perp, one call"
    );

    // Withdraw 1 000 USDC to a fresh L1 address.
    let recipient = Address::repeat_byte(0x77);
    let receipt: serde_json::Value = serde_json::from_str(&cli(&[
        "--json",
        "withdraw",
        "--dev",
        "3",
        "--amount",
        "1000",
        "--recipient",
        &recipient.to_string(),
    ]))
    .unwrap();
    let index = receipt["withdrawalIndex"]
        .as_u64()
        .expect("a withdrawal index");

    // Once the proposer's output covering it is final, anyone can pay it out on L1.
    let follower_rpc = network.follower.url.clone();
    let finalize = |wait: &str| {
        common::finalize_withdrawal(&follower_rpc, &anvil_url, &deployment, index, wait)
    };
    let paid = finalize("90");
    assert!(
        paid.status.success(),
        "withdraw finalize failed: {}",
        String::from_utf8_lossy(&paid.stderr)
    );
    let balance = L1Client::read_only(&anvil_url)
        .unwrap()
        .token_balance(deployment.collateral, recipient)
        .await
        .unwrap();
    assert_eq!(balance, alloy_primitives::U256::from(1_000_000_000u64));

    // A second finalization fails, through the CLI and straight at the Portal.
    let again = finalize("0");
    assert!(!again.status.success(), "a withdrawal is paid once");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already finalized"));

    // Each output carries the position derivation gave its block.
    let l1 = L1Client::read_only(&anvil_url).unwrap();
    let registry = deployment.output_registry;
    let output = l1.output(registry, 0).await.unwrap();
    let source = network
        .follower
        .client()
        .get_block_source(output.l2_block)
        .await
        .unwrap()
        .expect("a proposed block was placed by derivation");
    assert_eq!(output.position, source.position(), "{output:?}, {source:?}");

    // The proposer takes back the bonds of its finalized outputs and collects them.
    let proposer = l1_key(0).address();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let first = l1.output(registry, 0).await.unwrap();
        assert!(first.finalized);
        let credit = l1.registry_credit(registry, proposer).await.unwrap();
        if first.bond == 0 && credit.is_zero() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "output 0's bond was not reclaimed and paid: {first:?}, credit {credit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
