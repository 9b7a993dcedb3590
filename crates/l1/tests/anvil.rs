//! The L1 client against a real anvil: deploy, deposit, read the deposits back.

mod common;

use common::no_disputes;
use straddle_l1::alloy::primitives::Address;
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{
    Anvil, BatchKind, DeployConfig, L1Client, SidecarKind, batch_bytes, batches_between,
    deposits_between, forced_between,
};
use straddle_l1_contracts::Portal;
use straddle_primitives::deposit::accumulate;

/// anvil's first two dev keys (public test mnemonic).
const KEY_0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY_1: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn anvil() -> Anvil {
    common::anvil_with(&[])
}

fn client(anvil: &Anvil, key: &str) -> L1Client {
    L1Client::connect(&anvil.url(), key.parse::<PrivateKeySigner>().unwrap()).unwrap()
}

#[tokio::test]
async fn deposits_are_read_back_in_order_with_the_portal_hash_chain() {
    let anvil = anvil();
    let operator = client(&anvil, KEY_0);
    let user = client(&anvil, KEY_1);
    let config = DeployConfig {
        proposer: operator.address(),
        batcher: operator.address(),
        challenge_window_secs: 10,
        bond_wei: 1_000_000_000_000_000,
        forced_inclusion_window: 10,
        ..no_disputes()
    };
    let deployment = operator.deploy_devnet(&config).await.unwrap();
    // The registry's resolver is the game, which names the registry and the prover.
    let resolver = operator
        .view(
            deployment.output_registry,
            &straddle_l1_contracts::OutputRegistry::resolverCall {},
        )
        .await
        .unwrap();
    assert_eq!(resolver, deployment.dispute_game);
    let game = straddle_l1_contracts::DisputeGame::registryCall {};
    assert_eq!(
        operator.view(deployment.dispute_game, &game).await.unwrap(),
        deployment.output_registry
    );
    let prover = straddle_l1_contracts::DisputeGame::proverCall {};
    assert_eq!(
        operator
            .view(deployment.dispute_game, &prover)
            .await
            .unwrap(),
        deployment.step_prover
    );
    operator
        .mint_test_collateral(deployment.collateral, user.address(), 50_000_000)
        .await
        .unwrap();
    let recipients = [
        Address::repeat_byte(7),
        Address::repeat_byte(8),
        user.address(),
    ];
    for (i, recipient) in recipients.iter().enumerate() {
        let index = user
            .deposit(
                deployment.collateral,
                deployment.portal,
                *recipient,
                1_000_000 * (i as u128 + 1),
            )
            .await
            .unwrap();
        assert_eq!(index, i as u64);
    }
    let head = user.block_number().await.unwrap();
    let logs = deposits_between(&user, deployment.portal, deployment.start_block, head)
        .await
        .unwrap();
    assert_eq!(logs.len(), 3);
    let mut chain = Default::default();
    for (i, log) in logs.iter().enumerate() {
        assert_eq!(log.deposit.index, i as u64);
        assert_eq!(log.deposit.from, user.address());
        assert_eq!(log.deposit.recipient, recipients[i]);
        assert_eq!(log.deposit.amount, 1_000_000 * (i as u128 + 1));
        chain = accumulate(&chain, &log.deposit.l1_hash());
        assert_eq!(
            log.accumulator, chain,
            "the L2 recomputes the Portal's hash chain"
        );
    }
    let on_chain = user
        .view(deployment.portal, &Portal::depositAccumulatorCall {})
        .await
        .unwrap();
    assert_eq!(on_chain, chain);
    let refused = user
        .deposit(deployment.collateral, deployment.portal, Address::ZERO, 1)
        .await;
    assert!(refused.is_err(), "a zero recipient is refused on L1");

    // Forced transactions: raw bytes in, read back in order with the Portal's hashes.
    assert_eq!(
        user.forced_inclusion_window(deployment.portal)
            .await
            .unwrap(),
        10
    );
    let submitted = [vec![1u8, 2, 3], vec![9u8; 300]];
    for (i, bytes) in submitted.iter().enumerate() {
        let index = user
            .force_transaction(deployment.portal, bytes.clone().into())
            .await
            .unwrap();
        assert_eq!(index, i as u64);
    }
    let head = user.block_number().await.unwrap();
    let forced = forced_between(&user, deployment.portal, deployment.start_block, head)
        .await
        .unwrap();
    assert_eq!(forced.len(), 2);
    let mut chain = straddle_l1::alloy::primitives::B256::ZERO;
    for (i, log) in forced.iter().enumerate() {
        assert_eq!(log.index, i as u64);
        assert_eq!(log.sender, user.address());
        assert_eq!(log.transaction.as_ref(), submitted[i].as_slice());
        let expected =
            straddle_primitives::forced::forced_hash(log.index, log.sender, &log.transaction);
        assert_eq!(
            log.forced_hash, expected,
            "the L2 recomputes the Portal's hash"
        );
        chain = straddle_primitives::forced::accumulate_forced(&chain, &expected);
        assert_eq!(log.accumulator, chain);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_batch_is_posted_and_read_back_through_its_versioned_hashes() {
    // Osaka and later take cell proofs (EIP-7594), Prague blob proofs (EIP-4844).
    post_and_read_blobs(&[], SidecarKind::CellProofs).await;
    post_and_read_blobs(&["--hardfork", "prague"], SidecarKind::BlobProofs).await;
}

async fn post_and_read_blobs(anvil_args: &[&str], expected: SidecarKind) {
    let anvil = common::anvil_with(anvil_args);
    let batcher = client(&anvil, KEY_0);
    let deployment = batcher
        .deploy_devnet(&common::posting_config(batcher.address()))
        .await
        .unwrap();
    // Two blobs' worth, so that the packing crosses a blob boundary.
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    let kind = batcher.sidecar_kind().await.unwrap();
    assert_eq!(kind, expected, "anvil {anvil_args:?}");
    let posted = batcher
        .post_blobs(deployment.batch_inbox, &data, kind)
        .await
        .unwrap();
    assert_eq!(posted.blob_gas_used, 2 * 131_072, "two blobs");
    eprintln!("postBlobs of 2 blobs: {} gas", posted.gas_used);
    let head = batcher.block_number().await.unwrap();
    let logs = batches_between(&batcher, deployment.batch_inbox, 0, head)
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].kind, BatchKind::Blobs);
    assert_eq!(logs[0].blob_count, 2);
    let read = batch_bytes(&batcher, &logs[0]).await.unwrap();
    assert_eq!(read.as_ref(), data.as_slice());
    // A batch that claims blobs the transaction does not carry is refused by the inbox.
    let missing = batcher
        .transact(
            deployment.batch_inbox,
            &straddle_l1_contracts::BatchInbox::postBlobsCall {
                count: straddle_l1::alloy::primitives::U256::from(1),
            },
            straddle_l1::alloy::primitives::U256::ZERO,
            "post without blobs",
        )
        .await;
    assert!(missing.is_err(), "postBlobs without blobs must revert");
}
