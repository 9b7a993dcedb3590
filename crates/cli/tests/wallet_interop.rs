//! Wallet compatibility: an action signed by an independent EIP-712 implementation
//! (foundry's `cast wallet sign --data`, installed by `scripts/setup-tools.sh`) from the
//! payload `straddle typed-data` prints is accepted by the real node, and the node derives
//! the same signer and transaction hash.

mod common;

use alloy_primitives::{Address, Bytes};
use common::{NodeProcess, dev_signer, devnet_domain, run_cli};
use std::path::PathBuf;
use std::process::Command;
use straddle_exchange::devnet::DEVNET_CHAIN_ID;
use straddle_primitives::{Action, DepositMargin, Transfer, Withdraw, WithdrawMargin};
use straddle_rpc_api::{SendActionRequest, StraddleApiClient};

fn cast() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/node_modules/.bin/cast");
    assert!(
        path.exists(),
        "foundry's cast is missing: run ./scripts/setup-tools.sh (./scripts/test.sh does)"
    );
    path
}

/// Signs `typed_data` (EIP-712 JSON) with cast and returns the 65-byte signature.
fn cast_sign(typed_data: &str, private_key: &str, dir: &std::path::Path) -> Bytes {
    let file = dir.join("typed-data.json");
    std::fs::write(&file, typed_data).expect("write typed data");
    let output = Command::new(cast())
        .args(["wallet", "sign", "--data", "--from-file"])
        .arg(&file)
        .args(["--private-key", private_key])
        .output()
        .expect("run cast");
    assert!(
        output.status.success(),
        "cast failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    text.trim().parse().expect("cast prints a hex signature")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_signed_by_cast_are_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut node = NodeProcess::start(&dir.path().join("node"));
    let client = node.client();
    let sender = dev_signer(3);
    let private_key = sender.to_bytes().to_string();
    let recipient: Address = "0x00000000000000000000000000000000000000aa"
        .parse()
        .unwrap();
    let expiry_ms = u64::MAX / 2;

    let cases = [
        (
            "transfer",
            Action::Transfer(Transfer {
                to: recipient,
                amount: 1_500_000,
                nonce: 7,
                expiryMs: expiry_ms,
            }),
        ),
        (
            "withdraw",
            Action::Withdraw(Withdraw {
                recipient,
                amount: 250_000,
                nonce: 8,
                expiryMs: expiry_ms,
            }),
        ),
        (
            "deposit-margin",
            Action::DepositMargin(DepositMargin {
                amount: 2_000_000,
                nonce: 9,
                expiryMs: expiry_ms,
            }),
        ),
        (
            "withdraw-margin",
            Action::WithdrawMargin(WithdrawMargin {
                amount: 500_000,
                nonce: 10,
                expiryMs: expiry_ms,
            }),
        ),
    ];
    for (kind, action) in cases {
        let (amount, nonce) = match &action {
            Action::Transfer(t) => (t.amount, t.nonce),
            Action::Withdraw(w) => (w.amount, w.nonce),
            Action::Mint(m) => (m.amount, m.nonce),
            Action::DepositMargin(d) => (d.amount, d.nonce),
            Action::WithdrawMargin(w) => (w.amount, w.nonce),
        };
        let typed_data = run_cli(&[
            "typed-data",
            "--kind",
            kind,
            "--to",
            &recipient.to_string(),
            "--amount",
            &format!("{}.{:06}", amount / 1_000_000, amount % 1_000_000),
            "--nonce",
            &nonce.to_string(),
            "--expiry-ms",
            &expiry_ms.to_string(),
        ]);
        let signature = cast_sign(&typed_data, &private_key, dir.path());
        let receipt = client
            .send_action(SendActionRequest {
                chain_id: DEVNET_CHAIN_ID,
                action: action.clone(),
                signature,
            })
            .await
            .unwrap_or_else(|e| panic!("{kind} signed by cast was refused: {e}"));
        assert_eq!(receipt.sender, sender.address(), "{kind}: recovered signer");
        assert_eq!(
            receipt.tx_hash,
            action.signing_hash(&devnet_domain()),
            "{kind}: hash"
        );
    }
    let account = client.get_account(recipient).await.expect("getAccount");
    assert_eq!(account.collateral.0, 1_500_000);
    node.stop();
}
