//! Forced inclusion against a censoring sequencer, with the real binaries on anvil.
//!
//! The sequencer here does not read L1 at all (no `--portal`), so it never includes the
//! Portal's forced transactions. A user submits a signed withdrawal to the Portal; once
//! the inclusion window has passed, the follower includes it by itself (derivation's
//! rule: a block per overdue record), stops following the sequencer's later batches (they build on a chain without
//! the forced block), the proposer posts the follower's output and the withdrawal is
//! paid on L1.

mod common;

use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use common::{NodeProcess, ServiceProcess, dev_signer, l1_key, sign, wait_for};
use std::time::Duration;
use straddle_exchange::devnet::DEVNET_CHAIN_ID;
use straddle_l1::alloy::providers::Provider;
use straddle_l1::{Anvil, L1Client};
use straddle_l1_contracts::Portal;
use straddle_primitives::{Action, SignedAction, Transaction, Transfer, Withdraw};
use straddle_rpc_api::{BlockRef, BlockSource, SendActionRequest, StraddleApiClient};

/// L1 blocks within which a forced transaction must be included. Anvil mines a block
/// per transaction here, and the batcher and proposer send several a second: the window
/// leaves the honest sequencer a wide margin.
const WINDOW: u64 = 20;

/// Anvil with the contracts, a sequencer (reading the Portal when `honest`), a
/// follower, a batcher and a proposer.
struct Network {
    anvil: Anvil,
    deployment: straddle_l1::Deployment,
    sequencer: NodeProcess,
    follower: NodeProcess,
    _services: Vec<ServiceProcess>,
    _dir: tempfile::TempDir,
}

/// A signed withdrawal of `amount` by dev account 3 to `recipient`, canonical bytes.
fn signed_withdrawal(recipient: Address, amount: u128) -> Vec<u8> {
    let action = Action::Withdraw(Withdraw {
        recipient,
        amount,
        nonce: 1,
        expiryMs: u64::MAX / 2,
    });
    let signature = dev_signer(3)
        .sign_hash_sync(&action.signing_hash(&common::devnet_domain()))
        .unwrap();
    Transaction::Action(SignedAction { action, signature }).encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_sequencer_includes_a_forced_transaction_and_the_follower_agrees() {
    let network = Network::start(true).await;
    let l2 = network.sequencer.client();
    let trader = dev_signer(3).address();
    let before = l2.get_account(trader).await.unwrap().collateral.0;
    let user = L1Client::connect(&network.anvil.url(), l1_key(3)).unwrap();
    // A forced payload that does not decode is included too, and changes nothing.
    user.force_transaction(network.deployment.portal, vec![0xEE, 1, 2].into())
        .await
        .unwrap();
    // The withdrawal goes through the CLI: `straddle withdraw --via-l1`.
    let forced: serde_json::Value = serde_json::from_str(&common::run_cli(&[
        "--rpc",
        network.sequencer.url.as_str(),
        "--json",
        "withdraw",
        "--dev",
        "3",
        "--amount",
        "100",
        "--recipient",
        &Address::repeat_byte(0x4e).to_string(),
        "--expires-in",
        "3600",
        "--via-l1",
        "--l1-rpc",
        network.anvil.url().as_str(),
        "--portal",
        &network.deployment.portal.to_string(),
    ]))
    .unwrap();
    assert_eq!(forced["forcedIndex"], 1);
    assert_eq!(forced["windowL1Blocks"], WINDOW);
    wait_for("the sequencer includes the forced withdrawal", async || {
        l2.get_account(trader).await.unwrap().collateral.0 == before - 100_000_000
    })
    .await;
    // Once the follower has it from a batch on L1, the window may pass (the sequencer's
    // account view includes its open block, so its heads are not the test).
    let follower = network.follower.client();
    wait_for("the follower derives the forced withdrawal", async || {
        follower.get_account(trader).await.unwrap().collateral.0 == before - 100_000_000
    })
    .await;
    let () = L1Client::read_only(&network.anvil.url())
        .unwrap()
        .provider()
        .raw_request("anvil_mine".into(), (WINDOW + 2,))
        .await
        .unwrap();
    wait_for(
        "the follower converges on the sequencer's chain",
        async || {
            let ours = l2.chain_head().await.unwrap();
            let theirs = follower.chain_head().await.unwrap();
            theirs.soft == ours.soft && ours.safe == ours.soft
        },
    )
    .await;
    assert_eq!(
        follower.get_account(trader).await.unwrap().collateral.0,
        before - 100_000_000
    );
}

impl Network {
    async fn start(honest: bool) -> Network {
        let (anvil, operator, deployment) = common::anvil_with_contracts(2, WINDOW).await;
        // The Portal backs the genesis allocations, so that withdrawing them pays out.
        operator
            .mint_test_collateral(deployment.collateral, deployment.portal, 10_000_000_000)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let l1_args = common::node_l1_args(&anvil.url(), &deployment);
        // A censoring sequencer never reads the Portal.
        let sequencer = NodeProcess::start_with(
            &dir.path().join("sequencer"),
            if honest { &l1_args } else { &[] },
            "straddle node ready: rpc ",
        );
        let follower_args: Vec<String> = std::iter::once("--follow".to_string())
            .chain(l1_args.iter().cloned())
            .collect();
        let follower = NodeProcess::start_with(
            &dir.path().join("follower"),
            &follower_args,
            "straddle follower ready: rpc ",
        );
        let batcher = ServiceProcess::start(
            "batcher",
            &common::batcher_args(&sequencer.url, &anvil.url(), &deployment),
            &dir.path().join("batcher.log"),
        );
        let proposer = common::start_proposer(
            &follower.url,
            &anvil.url(),
            &deployment,
            &[],
            &dir.path().join("proposer.log"),
        );
        Network {
            anvil,
            deployment,
            sequencer,
            follower,
            _services: vec![batcher, proposer],
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_censored_forced_withdrawal_is_included_at_the_window_end_and_paid_on_l1() {
    let Network {
        anvil,
        deployment,
        sequencer,
        follower,
        _services,
        _dir,
    } = Network::start(false).await;

    // Some ordinary traffic, carried to the follower through L1.
    let l2 = sequencer.client();
    let transfer = |nonce: u64| {
        let action = Action::Transfer(Transfer {
            to: dev_signer(2).address(),
            amount: 1_000,
            nonce,
            expiryMs: u64::MAX / 2,
        });
        SendActionRequest {
            chain_id: DEVNET_CHAIN_ID,
            signature: Bytes::copy_from_slice(&sign(&dev_signer(1), &action)),
            action,
        }
    };
    for nonce in 1..=5 {
        l2.send_action(transfer(nonce)).await.unwrap();
    }
    let follower_client = follower.client();
    wait_for("the follower derives the first blocks", async || {
        let theirs = follower_client.chain_head().await.unwrap().soft.number;
        theirs > 0 && theirs == l2.chain_head().await.unwrap().soft.number
    })
    .await;

    // Dev account 3 forces a payload that does not decode, then, a few L1 blocks later, a
    // withdrawal of 250 USDC through the Portal.
    let trader = dev_signer(3);
    let recipient = Address::repeat_byte(0x4f);
    let bytes = signed_withdrawal(recipient, 250_000_000);
    let user = L1Client::connect(&anvil.url(), l1_key(3)).unwrap();
    let l1 = L1Client::read_only(&anvil.url()).unwrap();
    let junk = user
        .force_transaction(deployment.portal, vec![0xEE, 1, 2].into())
        .await
        .unwrap();
    assert_eq!(junk, 0);
    let () = l1
        .provider()
        .raw_request("anvil_mine".into(), (3, 12))
        .await
        .unwrap();
    let index = user
        .force_transaction(deployment.portal, bytes.into())
        .await
        .unwrap();
    assert_eq!(index, 1);
    let before = follower_client
        .get_account(trader.address())
        .await
        .unwrap()
        .collateral
        .0;
    let head_before = follower_client.chain_head().await.unwrap().soft.number;

    // The sequencer ignores them; both windows pass in one go.
    let () = l1
        .provider()
        .raw_request("anvil_mine".into(), (WINDOW + 1,))
        .await
        .unwrap();
    // The follower appends a block for each, in index order, each at its record's L1
    // time or its parent's if later (derivation's rule, however L1 was polled).
    let forced_head = head_before + 2;
    wait_for(
        "the follower includes the forced transactions",
        async || follower_client.chain_head().await.unwrap().soft.number == forced_head,
    )
    .await;
    for (number, record) in [(head_before + 1, 0u64), (forced_head, 1)] {
        let block = follower_client
            .get_block(BlockRef::Number(number), Some(true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            block.transactions.len(),
            1,
            "block {number} holds one record"
        );
        // Before the first batch posted after the record's window ended (or the next
        // one to be posted).
        let latest = l1.block_number().await.unwrap();
        let recorded_at = straddle_l1::forced_between(&l1, deployment.portal, 0, latest)
            .await
            .unwrap()[record as usize]
            .l1_block;
        let batches = straddle_l1::batches_between(&l1, deployment.batch_inbox, 0, latest)
            .await
            .unwrap();
        let before_batch = batches
            .iter()
            .find(|batch| batch.l1_block > recorded_at + WINDOW)
            .map_or(batches.len() as u64, |batch| batch.index);
        assert_eq!(
            follower_client.get_block_source(number).await.unwrap(),
            Some(BlockSource::Forced {
                index: record,
                before_batch
            })
        );
        let parent = follower_client
            .get_block(BlockRef::Number(number - 1), Some(false))
            .await
            .unwrap()
            .unwrap();
        let recorded_s = l1
            .view(deployment.portal, &Portal::forcedTimesCall(record))
            .await
            .unwrap();
        assert_eq!(
            block.header.timestamp_ms,
            parent.header.timestamp_ms.max(recorded_s * 1000),
            "block {number}'s time"
        );
    }
    assert_eq!(
        follower_client
            .get_account(trader.address())
            .await
            .unwrap()
            .collateral
            .0,
        before - 250_000_000
    );
    let censored = l2.get_account(trader.address()).await.unwrap().collateral.0;
    assert_eq!(
        censored, before,
        "the censoring sequencer never included it"
    );

    // The sequencer's later batches build on a chain without the forced block: the
    // follower skips them and keeps its own head.
    for nonce in 6..=8 {
        l2.send_action(transfer(nonce)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        follower_client.chain_head().await.unwrap().soft.number,
        forced_head,
        "the follower does not follow the censoring sequencer past the forced block"
    );

    // The proposer posts the follower's output; once final, the withdrawal is paid.
    let paid = common::finalize_withdrawal(&follower.url, &anvil.url(), &deployment, 0, "60");
    assert!(
        paid.status.success(),
        "withdraw finalize failed: {}",
        String::from_utf8_lossy(&paid.stderr)
    );
    let balance = l1
        .token_balance(deployment.collateral, recipient)
        .await
        .unwrap();
    assert_eq!(
        balance,
        straddle_l1::alloy::primitives::U256::from(250_000_000u64)
    );
}
