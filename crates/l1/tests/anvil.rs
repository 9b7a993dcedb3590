//! The L1 client against a real anvil: deploy, deposit, read the deposits back.

use std::path::Path;
use straddle_l1::alloy::primitives::Address;
use straddle_l1::alloy::signers::local::PrivateKeySigner;
use straddle_l1::{Anvil, DeployConfig, L1Client, deposits_between};
use straddle_l1_contracts::Portal;
use straddle_primitives::deposit::accumulate;

/// anvil's first two dev keys (public test mnemonic).
const KEY_0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY_1: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn anvil() -> Anvil {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Anvil::start(&straddle_l1::anvil::anvil_binary(&root), 0, &[]).expect("anvil starts")
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
        resolver: operator.address(),
        batcher: operator.address(),
        challenge_window_secs: 10,
        bond_wei: 1_000_000_000_000_000,
    };
    let deployment = operator.deploy_devnet(&config).await.unwrap();
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
}
