//! Determinism of replay: random signed action streams (valid and invalid mixed, as a
//! sequencer sees them) are executed live, the accepted ones written to a real write-ahead
//! log on disk; recovering that log and replaying it on fresh chains twice yields the live
//! block headers bit for bit, every time.

use alloy_primitives::Address;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;
use straddle_chain::Chain;
use straddle_exchange::BlockContext;
use straddle_exchange::devnet::{dev_key, devnet_genesis};
use straddle_primitives::block::BlockHeader;
use straddle_primitives::block::StoredTx;
use straddle_primitives::{Action, Mint, SignedAction, Transaction, Transfer, Withdraw};
use straddle_storage::wal::{WalWriter, frame_block_open, frame_tx, recover};

const SIGNERS: usize = 4;

#[derive(Debug, Clone)]
struct Step {
    kind: u8,
    signer: usize,
    counterparty: usize,
    amount: u128,
    nonce: u64,
    expired: bool,
    seal_after: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u8..3,
        0..SIGNERS,
        0..SIGNERS,
        prop_oneof![0u128..3, 1u128..2_000_000_000_000],
        1u64..40,
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(kind, signer, counterparty, amount, nonce, expired, seal_after)| Step {
                kind,
                signer,
                counterparty,
                amount,
                nonce,
                expired,
                seal_after,
            },
        )
}

fn keys() -> Vec<PrivateKeySigner> {
    (0..SIGNERS)
        .map(|i| PrivateKeySigner::from_bytes(&dev_key(i)).unwrap())
        .collect()
}

fn action(step: &Step, to: Address, now_ms: u64) -> Action {
    let expiry_ms = if step.expired {
        now_ms - 1
    } else {
        now_ms + 60_000
    };
    let (amount, nonce) = (step.amount, step.nonce);
    match step.kind {
        0 => Action::Transfer(Transfer {
            to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        1 => Action::Withdraw(Withdraw {
            recipient: to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
        _ => Action::Mint(Mint {
            to,
            amount,
            nonce,
            expiryMs: expiry_ms,
        }),
    }
}

fn replay(blocks: &[straddle_storage::wal::WalBlock], chain: &mut Chain) -> Vec<BlockHeader> {
    blocks
        .iter()
        .map(|block| {
            chain
                .replay_logged(block, straddle_chain::ReplayRule::EverySucceeds)
                .expect("logged blocks replay")
                .header
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn replaying_the_same_wal_gives_the_same_roots(steps in prop::collection::vec(step(), 1..60)) {
        let keys = keys();
        let addresses: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let genesis = devnet_genesis(&addresses);
        let dir = tempfile::tempdir().unwrap();
        let mut wal = WalWriter::start_fresh(dir.path(), 1).unwrap();

        // Live execution, as the sequencer does it: refused actions never reach the log.
        let (mut live, _) = Chain::from_genesis(&genesis).unwrap();
        let mut live_headers = Vec::new();
        let mut pending: Vec<StoredTx> = Vec::new();
        let mut now_ms = 1_700_000_000_000u64;
        for step in &steps {
            let context = BlockContext { number: live.tip.head.number + 1, timestamp_ms: now_ms };
            let unsigned = action(step, addresses[step.counterparty], now_ms);
            let signature = keys[step.signer].sign_hash_sync(&unsigned.signing_hash(&genesis.domain)).unwrap();
            let signed = SignedAction { action: unsigned, signature };
            let admitted = live.state.admit(Transaction::Action(signed)).unwrap();
            if live.state.execute(&admitted, &context).is_ok() {
                let mut frames = Vec::new();
                if pending.is_empty() {
                    frame_block_open(&mut frames, context.number, now_ms);
                }
                frame_tx(&mut frames, &admitted.tx.encode());
                wal.append_and_sync(&frames).unwrap();
                pending.push(admitted.stored());
            }
            if step.seal_after && !pending.is_empty() {
                live_headers.push(live.seal(now_ms, std::mem::take(&mut pending)).unwrap().header);
                now_ms += 100;
            }
        }
        if !pending.is_empty() {
            live_headers.push(live.seal(now_ms, pending).unwrap().header);
        }
        drop(wal);

        let logged = recover(dir.path()).unwrap();
        prop_assert_eq!(logged.len(), live_headers.len());
        let first = replay(&logged, &mut Chain::from_genesis(&genesis).unwrap().0);
        let second = replay(&logged, &mut Chain::from_genesis(&genesis).unwrap().0);
        let encoded = |headers: &[BlockHeader]| headers.iter().map(BlockHeader::encode).collect::<Vec<_>>();
        prop_assert_eq!(encoded(&first), encoded(&live_headers));
        prop_assert_eq!(encoded(&second), encoded(&live_headers));
    }
}
