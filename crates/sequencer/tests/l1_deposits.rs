//! Deposits from a real L1 (anvil): made with plain `cast` (no Straddle code on the client
//! side), credited on L2 in order with the Portal's hash chain; nobody can submit a
//! deposit transaction to the node.

mod common;

use alloy_primitives::{Address, Bytes};
use common::{signer, start_with_deposits};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use straddle_exchange::devnet::dev_key;
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{Anvil, DeployConfig, L1Client};
use straddle_primitives::{Deposit, Transaction};
use straddle_rpc_api::StraddleApiClient;
use straddle_sequencer::deposits::DepositSource;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cast(args: &[&str]) -> String {
    let output = Command::new(repo().join("tools/node_modules/.bin/cast"))
        .args(args)
        .output()
        .expect("cast runs (scripts/setup-tools.sh installs it)");
    assert!(
        output.status.success(),
        "cast {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Plain cast: approve the Portal, then deposit `amount` for `recipient`.
fn cast_deposit(
    rpc: &str,
    private_key: &str,
    collateral: &str,
    portal: &str,
    recipient: Address,
    amount: &str,
) {
    let send = |to: &str, signature: &str, first: &str| {
        cast(&[
            "send",
            "--rpc-url",
            rpc,
            "--private-key",
            private_key,
            to,
            signature,
            first,
            amount,
        ])
    };
    send(collateral, "approve(address,uint256)", portal);
    send(portal, "deposit(address,uint256)", &recipient.to_string());
}

async fn wait_for_collateral(l2: &HttpClient, account: Address, expected: u128) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = l2.get_account(account).await.unwrap();
        if view.collateral.0 == expected {
            return;
        }
        assert!(Instant::now() < deadline, "deposit not credited: {view:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_made_with_cast_is_credited_once_and_users_cannot_forge_one() {
    let anvil = Anvil::start(&straddle_l1::anvil::anvil_binary(&repo()), 0, &[]).unwrap();
    let key = |i: usize| PrivateKeySigner::from_bytes(&dev_key(i)).unwrap();
    let operator = L1Client::connect(&anvil.url(), key(0)).unwrap();
    let deployment = operator
        .deploy_devnet(&DeployConfig {
            challenge_window_secs: 5,
            ..straddle_fault_proof::deploy_config(
                &common::genesis(),
                operator.address(),
                operator.address(),
            )
            .unwrap()
        })
        .await
        .unwrap();
    let depositor = signer(3);
    operator
        .mint_test_collateral(deployment.collateral, depositor.address(), 10_000_000)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let node = start_with_deposits(
        dir.path(),
        Some(DepositSource {
            l1_rpc: anvil.url(),
            portal: deployment.portal,
            start_block: deployment.start_block,
            confirmations: 0,
            poll_interval: Duration::from_millis(50),
        }),
    )
    .await;
    let l2 = HttpClientBuilder::default().build(node.http_url()).unwrap();
    let recipient = Address::repeat_byte(0x42);

    // Plain cast: approve, then deposit 2.5 USDC (2,500,000 micro-units) for `recipient`.
    let private_key = format!("0x{}", alloy_primitives::hex::encode(dev_key(3)));
    let rpc = anvil.url();
    let collateral = deployment.collateral.to_string();
    let portal = deployment.portal.to_string();
    let deposit =
        |amount| cast_deposit(&rpc, &private_key, &collateral, &portal, recipient, amount);
    deposit("2500000");
    wait_for_collateral(&l2, recipient, 2_500_000).await;

    // Nobody can submit a deposit themselves, not even a copy of the real one.
    let forged = Transaction::Deposit(Deposit {
        index: 1,
        from: depositor.address(),
        recipient,
        amount: 1_000_000,
    });
    match l2.send_transaction(Bytes::from(forged.encode())).await {
        Err(ClientError::Call(error)) => {
            assert_eq!(error.code(), straddle_rpc_api::errors::L1_ONLY)
        }
        other => panic!("a user-submitted deposit must be refused, got {other:?}"),
    }
    // Nor the undecodable item, which only derivation makes of a batch slot.
    match l2
        .send_transaction(Bytes::from(Transaction::Undecodable.encode()))
        .await
    {
        Err(ClientError::Call(error)) => {
            assert_eq!(error.code(), straddle_rpc_api::errors::L1_ONLY)
        }
        other => panic!("a user-submitted undecodable item must be refused, got {other:?}"),
    }

    // A second deposit, and some polling rounds later, each is credited exactly once.
    deposit("1000000");
    wait_for_collateral(&l2, recipient, 3_500_000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        l2.get_account(recipient).await.unwrap().collateral.0,
        3_500_000
    );
    let on_l1 = cast(&[
        "call",
        "--rpc-url",
        &rpc,
        &portal,
        "depositAccumulator()(bytes32)",
    ]);
    let on_l2 = node
        .sequencer()
        .read(|state| state.ledger.totals().deposit_accumulator)
        .await
        .unwrap();
    assert_eq!(on_l1, on_l2.to_string());
    node.stop().await;
}
