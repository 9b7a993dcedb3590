//! Fixtures shared with the Solidity tests (`contracts/test/fixtures`): real states built
//! by the node's own chain code, whose withdrawal proofs the Portal must accept. The test
//! fails when a committed fixture differs from what the Rust code produces now (so a
//! change to the state encoding or the tree breaks CI until the contracts agree);
//! `STRADDLE_WRITE_FIXTURES=1 cargo test -p straddle-fault-proof --test l1_fixtures` rewrites it.

use alloy_primitives::{Address, B256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use straddle_chain::Chain;
use straddle_exchange::devnet::{dev_key, devnet_genesis};
use straddle_exchange::{BlockContext, StateKey};
use straddle_primitives::{Action, SignedAction, Transaction, Transfer, Withdraw};
use straddle_state::{Terminal, key_hash, verify_proof};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/test/fixtures/withdrawals.json"
);
/// Transfers to fresh addresses, so the tree is a few levels deep like a used chain's.
const FILLER_ACCOUNTS: u64 = 300;

fn execute(chain: &mut Chain, key: &PrivateKeySigner, action: Action, context: &BlockContext) {
    let signature = key
        .sign_hash_sync(&action.signing_hash(&chain.state.genesis.domain))
        .expect("signing works");
    let admitted = chain
        .state
        .admit(Transaction::Action(SignedAction { action, signature }))
        .expect("signature checks");
    chain
        .state
        .execute(&admitted, context)
        .expect("the fixture's actions are valid");
}

fn filler_address(i: u64) -> Address {
    Address::from_slice(&alloy_primitives::keccak256(i.to_be_bytes())[12..])
}

/// The withdrawals of the fixture's block: `(signer, amount)`, in index order.
const WITHDRAWALS: [(usize, u128); 4] = [(1, 25_000_000), (2, 1), (1, 1_234_567_890), (2, 999_999)];

/// The fixture's block, built by the node's chain code, with the first withdrawal's
/// amount `first_amount` (a fork that differs only there, for the Portal's replay key),
/// and the proofs of its withdrawals.
fn build_state(first_amount: u128) -> serde_json::Value {
    let keys: Vec<PrivateKeySigner> = (0..3)
        .map(|i| PrivateKeySigner::from_bytes(&dev_key(i)).expect("dev keys are valid"))
        .collect();
    let addresses: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let genesis = devnet_genesis(&addresses);
    let (mut chain, _) = Chain::from_genesis(&genesis).expect("devnet genesis builds");
    let timestamp_ms = 1_000;
    let context = BlockContext {
        number: 1,
        timestamp_ms,
    };
    let expiry_ms = timestamp_ms + 60_000;
    for i in 0..FILLER_ACCOUNTS {
        let action = Action::Transfer(Transfer {
            to: filler_address(i),
            amount: 1_000_000 + u128::from(i),
            nonce: i + 1,
            expiryMs: expiry_ms,
        });
        execute(&mut chain, &keys[0], action, &context);
    }
    for (n, (signer, amount)) in WITHDRAWALS.iter().enumerate() {
        let action = Action::Withdraw(Withdraw {
            recipient: filler_address(1_000 + n as u64),
            amount: if n == 0 { first_amount } else { *amount },
            nonce: 1 + n as u64,
            expiryMs: expiry_ms,
        });
        execute(&mut chain, &keys[*signer], action, &context);
    }
    let block = chain.seal(timestamp_ms, Vec::new()).unwrap();
    let root = block.header.state_root;
    let mut entries = Vec::new();
    for index in 0..WITHDRAWALS.len() as u64 {
        let key = StateKey::Withdrawal(index);
        let withdrawal = chain
            .state
            .ledger
            .withdrawal(index)
            .expect("the withdrawal was recorded");
        let value = chain
            .state
            .ledger
            .leaf_value(&key)
            .expect("the withdrawal leaf exists");
        let path = key_hash(&key.encode());
        let proof = chain.tip.tree.prove(&path);
        let Terminal::Leaf { value_hash, .. } = proof.terminal else {
            panic!("an inclusion proof ends at a leaf")
        };
        verify_proof(&root, &path, Some(&value_hash), &proof).expect("the proof verifies");
        entries.push(serde_json::json!({
            "index": index,
            "account": withdrawal.account,
            "recipient": withdrawal.recipient,
            "amount": withdrawal.amount.0.to_string(),
            "l2BlockNumber": withdrawal.block_number,
            "key": format!("0x{}", hex::encode(key.encode())),
            "value": format!("0x{}", hex::encode(&value)),
            "siblings": proof.siblings.iter().map(B256::to_string).collect::<Vec<_>>(),
        }));
    }
    serde_json::json!({
        "l2BlockNumber": block.header.number,
        "stateRoot": root.to_string(),
        "blockHash": block.hash.to_string(),
        "withdrawals": entries,
    })
}

fn build_fixture() -> serde_json::Value {
    let mut fixture = build_state(WITHDRAWALS[0].1);
    fixture["comment"] =
        "Generated by crates/fault-proof/tests/l1_fixtures.rs; do not edit by hand.".into();
    // A fork whose withdrawal 0 pays another amount: its payout must not block the
    // canonical withdrawal 0 (the Portal's replay key names the content).
    fixture["fork"] = build_state(WITHDRAWALS[0].1 + 1);
    fixture
}

#[test]
fn withdrawal_proof_fixture_matches_the_rust_state() {
    let generated = serde_json::to_string_pretty(&build_fixture()).expect("json") + "\n";
    if std::env::var_os("STRADDLE_WRITE_FIXTURES").is_some() {
        std::fs::write(FIXTURE, &generated).expect("fixture written");
        return;
    }
    let committed = std::fs::read_to_string(FIXTURE).unwrap_or_default();
    assert!(
        committed == generated,
        "contracts/test/fixtures/withdrawals.json is stale: rerun with STRADDLE_WRITE_FIXTURES=1 and rerun the forge tests"
    );
}
