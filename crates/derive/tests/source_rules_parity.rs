//! Parity of `SourceRules.sol` (on anvil, through the real `BatchOpener` and inbox) with
//! `straddle_derive::rules`: for batches that link and batches that fail each way (a
//! gap, a batch starting before the block, another parent, a first time before the
//! parent's, times running back inside the batch) and random ones, `candidate` on L1
//! says a batch links exactly when the Rust rule does, on its description and on the
//! whole decoded batch.

use alloy_primitives::B256;
use straddle_batch::{Batch, BatchBlock, describe_block};
use straddle_derive::{Parent, batch_links, description_links};
use straddle_l1_contracts::{DisputeGame, SourceRules};
use straddle_testkit as kit;

/// A batch of empty blocks from `first`, naming `parent_hash`, at `times`.
fn batch(first: u64, parent_hash: B256, times: &[u64]) -> Batch {
    Batch {
        parent_hash,
        blocks: times
            .iter()
            .enumerate()
            .map(|(k, time)| BatchBlock {
                number: first + k as u64,
                timestamp_ms: *time,
                transactions: Vec::new(),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn source_rules_take_a_batch_as_linking_exactly_when_the_rust_rules_do() {
    let anvil = kit::anvil();
    let l1 = kit::l1_client(&anvil, 0);
    let deployment = kit::deploy_for(&l1, &kit::genesis()).await;
    let rules = l1
        .view(deployment.dispute_game, &DisputeGame::rulesCall {})
        .await
        .unwrap();
    let domain = kit::domain();
    let parent = Parent {
        number: 4,
        hash: B256::repeat_byte(0x44),
        timestamp_ms: 4_000,
    };
    let other = B256::repeat_byte(0x55);
    let mut cases: Vec<(u64, B256, Vec<u64>)> = vec![
        (5, parent.hash, vec![4_000]),
        (5, parent.hash, vec![4_500, 4_500, 6_000]),
        (6, parent.hash, vec![5_000]),
        (4, parent.hash, vec![4_000, 5_000]),
        (5, other, vec![5_000]),
        (5, parent.hash, vec![3_999]),
        (5, parent.hash, vec![5_000, 6_000, 5_999]),
    ];
    let mut rng = kit::Rng(7);
    for _ in 0..17 {
        let first = if rng.chance(70) { 5 } else { 3 + rng.below(4) };
        let hash = if rng.chance(85) { parent.hash } else { other };
        let mut time = 3_950 + rng.below(400);
        let times: Vec<u64> = (0..1 + rng.below(4))
            .map(|_| {
                time = (time + rng.below(400)).saturating_sub(40);
                time
            })
            .collect();
        cases.push((first, hash, times));
    }

    let (mut linking, mut not) = (0, 0);
    for (index, (first, parent_hash, times)) in cases.iter().enumerate() {
        let batch = batch(*first, *parent_hash, times);
        let bytes = batch.encode(&domain).unwrap();
        l1.post_calldata(deployment.batch_inbox, bytes.clone().into())
            .await
            .unwrap();
        let number = parent.number + 1;
        let position = 2 * index as u64 + 1;
        let revealed = SourceRules::Revealed {
            number,
            timestampMs: 0,
            transactionCount: 0,
            position,
            parentHash: parent.hash,
            parentTimestampMs: parent.timestamp_ms,
            parentPosition: 0,
            // Every batch of the test is on L1 by the head this judges against.
            l1Head: u64::MAX,
        };
        let on_l1 = l1
            .view(
                rules,
                &SourceRules::candidateCall {
                    b: revealed,
                    position,
                    nextForced: 0,
                    opening: bytes.clone().into(),
                    blobs: false,
                },
            )
            .await
            .unwrap()
            ._0;
        let described = description_links(&describe_block(&bytes, number).unwrap(), &parent);
        let whole = batch_links(
            &parent,
            *first,
            *parent_hash,
            batch.blocks.iter().map(|b| b.timestamp_ms),
        );
        assert_eq!(
            on_l1, described,
            "batch {index} (first {first}, times {times:?}): SourceRules and the rule on its description differ"
        );
        assert_eq!(
            described,
            whole.is_ok(),
            "batch {index}: the description and the whole batch differ ({whole:?})"
        );
        if on_l1 { linking += 1 } else { not += 1 }
    }
    assert!(
        linking >= 6 && not >= 6,
        "cases of both kinds: {linking} linking, {not} not"
    );
    println!("SourceRules parity: {linking} batches link, {not} do not, on L1 and in Rust");
}
