//! Fraud proofs end to end (real anvil, real binaries): a sequencer, a batcher and a
//! follower build the chain; `straddle challenger` watches the outputs against the
//! follower; the other party is played by this test through the contracts directly.
//!
//! * A malicious proposer posts an output whose block header carries a forged state root
//!   (one holding a withdrawal to itself) and defends it move by move with a consistent
//!   forged chain: the challenger (killed and restarted while the game is open) bisects
//!   down to the block's last transaction, the one-step prover on L1 shows the real root,
//!   the output is removed, the challenger is paid its bond and half the proposer's (the
//!   other half is burnt), and the forged withdrawal
//!   never pays. The identical output proposed again (a new index) is removed again.
//! * A malicious proposer posts an output whose block holds a transfer to itself in place
//!   of the batch's last transaction (same time and count, a transactions root over its
//!   own list) and defends it move by move: the challenger bisects to the block, disputes
//!   its content, descends the proposer's transactions tree to the replaced transaction,
//!   and the batch opener on L1 shows the batch (posted in blobs) holds another: the
//!   output is removed.
//! * A malicious proposer forges the roots of an oracle update from one of its market's
//!   sub-steps on: the challenger bisects to the update, opens its sub-steps, bisects
//!   them, and the oracle prover on L1 shows the option's real vector: the output is
//!   removed.
//! * A malicious proposer replaces a block with a forced block for a Portal record the
//!   chain already included (one transaction, at the rule's time): the challenger shows
//!   with the parent state's forced queue, read through the L1 prover, that the record
//!   is not the chain's next; the output is removed.
//! * Against an honest proposer (`straddle proposer --dispute-game`), a challenger that
//!   plays dishonestly to the end loses, and one that falls silent loses on its clock;
//!   the proposer collects half of each bond (the rest is burnt) and the output finalizes.
//!
//! Length (over 800 lines): every scenario plays a forged chain's side of the game
//! against the real challenger through one harness (`Network`, `defend_forged_chain`),
//! which the scenarios share from this file; each scenario is its own test, and the
//! builders shared beyond this file live in `straddle-testkit` and `tests/common`.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer::SignerSync;
use common::{NodeProcess, ServiceProcess, dev_signer, l1_key, repo, sign};
use std::time::{Duration, Instant};
use straddle_exchange::devnet::{DEVNET_CHAIN_ID, dev_key};
use straddle_l1::alloy::providers::Provider;
use straddle_l1::outputs::WithdrawalClaim;
use straddle_l1::{Anvil, Deployment, L1Client, Outgoing};
use straddle_l1_contracts::{DisputeGame, OutputRegistry, block_claim};
use straddle_primitives::block::{BlockHeader, transaction_leaf};
use straddle_primitives::{Action, PriceReport, SignedPriceReport, Transaction, Transfer};
use straddle_rpc_api::{BlockRef, BlockSource, SendActionRequest, StraddleApiClient};

const CHALLENGE_WINDOW_SECS: u64 = 40;
const CLOCK_SECS: u64 = 20;
const BOND_WEI: u128 = 1_000_000_000_000_000_000;
/// The registry's proposer (dev 0), honest or not depending on the test.
const PROPOSER: usize = 0;
/// The batcher's L1 key.
const BATCHER: usize = 1;
/// The honest challenger's L1 key.
const CHALLENGER: usize = 5;
/// A dishonest challenger's L1 key.
const TROLL: usize = 3;
/// Dev 4 forces a transaction through the Portal.
const FORCER: usize = 4;

const STATUS_OPEN: u8 = 0;
/// Games opened at once against one correct output, or outputs proposed at once.
const FLOOD: usize = 200;
const STATUS_CHALLENGER_WON: u8 = 1;
const STATUS_DEFENDER_WON: u8 = 2;

/// Anvil with the contracts (the game as the registry's resolver), a sequencer, a
/// follower and a batcher.
struct Network {
    anvil: Anvil,
    deployment: Deployment,
    sequencer: NodeProcess,
    follower: NodeProcess,
    batcher: Option<ServiceProcess>,
    batcher_args: Vec<String>,
    dir: tempfile::TempDir,
}

impl Network {
    async fn start() -> Network {
        Network::start_posting(&[]).await
    }

    /// The network with `batcher_extra` added to the batcher's arguments.
    async fn start_posting(batcher_extra: &[&str]) -> Network {
        // A block a second, as on the devnet: every move waits for its block.
        let anvil = Anvil::start(
            &straddle_l1::anvil::anvil_binary(&repo()),
            0,
            &["--block-time", "1"],
        )
        .unwrap();
        let operator = L1Client::connect(&anvil.url(), l1_key(PROPOSER)).unwrap();
        let config = straddle_l1::DeployConfig {
            bond_wei: BOND_WEI,
            dispute_clock_secs: CLOCK_SECS,
            ..common::deploy_config(
                operator.address(),
                l1_key(BATCHER).address(),
                CHALLENGE_WINDOW_SECS,
                10,
            )
        };
        let deployment = operator.deploy_devnet(&config).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (sequencer, follower) = common::start_nodes(dir.path(), &anvil.url(), &deployment);
        let mut batcher_args = common::batcher_args(&sequencer.url, &anvil.url(), &deployment);
        batcher_args.extend(batcher_extra.iter().map(|arg| arg.to_string()));
        let batcher =
            ServiceProcess::start("batcher", &batcher_args, &dir.path().join("batcher.log"));
        Network {
            anvil,
            deployment,
            sequencer,
            follower,
            batcher: Some(batcher),
            batcher_args,
            dir,
        }
    }

    /// Stops the batcher: the sequencer's next blocks reach no batch on L1.
    fn stop_batcher(&mut self) {
        if let Some(batcher) = self.batcher.take() {
            batcher.kill_hard();
        }
    }

    /// Starts the batcher again (it resumes after the last batch on L1).
    fn start_batcher(&mut self) {
        let log = self.dir.path().join("batcher-again.log");
        self.batcher = Some(ServiceProcess::start("batcher", &self.batcher_args, &log));
    }

    fn client(&self, key: usize) -> L1Client {
        L1Client::connect(&self.anvil.url(), l1_key(key)).unwrap()
    }

    fn start_challenger(&self) -> ServiceProcess {
        self.start_challenger_with(&[])
    }

    /// The honest challenger with `extra` arguments.
    fn start_challenger_with(&self, extra: &[&str]) -> ServiceProcess {
        let mut args: Vec<String> = vec![
            "--l2-rpc".into(),
            self.follower.url.clone(),
            "--l1-rpc".into(),
            self.anvil.url(),
            "--dispute-game".into(),
            self.deployment.dispute_game.to_string(),
            "--l1-key".into(),
            alloy_primitives::hex::encode(dev_key(CHALLENGER)),
            "--interval-ms".into(),
            "300".into(),
            "--l1-start-block".into(),
            self.deployment.start_block.to_string(),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        ServiceProcess::start("challenger", &args, &self.dir.path().join("challenger.log"))
    }

    /// Sends `count` transfers from dev 2 to the sequencer; returns the block of the last.
    async fn transfers(&self, count: u64, first_nonce: u64) -> u64 {
        let client = self.sequencer.client();
        let key = dev_signer(2);
        let mut block = 0;
        for nonce in first_nonce..first_nonce + count {
            let action = Action::Transfer(Transfer {
                to: dev_signer(4).address(),
                amount: 1_000 + u128::from(nonce),
                nonce,
                expiryMs: u64::MAX / 2,
            });
            let receipt = client
                .send_action(SendActionRequest {
                    chain_id: DEVNET_CHAIN_ID,
                    signature: Bytes::copy_from_slice(&sign(&key, &action)),
                    action,
                })
                .await
                .unwrap();
            block = receipt.block_number;
        }
        block
    }

    /// Sends `count` transfers from dev 2 and waits until the follower has derived the
    /// block of the last one; returns that block.
    async fn activity(&self, count: u64, first_nonce: u64) -> u64 {
        let block = self.transfers(count, first_nonce).await;
        let follower = self.follower.client();
        let deadline = Instant::now() + Duration::from_secs(60);
        while follower.chain_head().await.unwrap().safe.number < block {
            assert!(
                Instant::now() < deadline,
                "the follower did not derive block {block}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        block
    }

    /// The follower's block `number` (with its transactions when `full`).
    async fn block(&self, number: u64, full: bool) -> straddle_rpc_api::BlockView {
        self.follower
            .client()
            .get_block(BlockRef::Number(number), Some(full))
            .await
            .unwrap()
            .unwrap()
    }

    async fn header(&self, number: u64) -> (B256, BlockHeader) {
        let view = self.block(number, false).await;
        (view.hash, view.header)
    }

    /// The transaction leaves of the follower's block `number`.
    async fn leaves(&self, number: u64) -> Vec<B256> {
        self.block(number, true)
            .await
            .transactions
            .iter()
            .map(|tx| straddle_primitives::block::transaction_leaf(&tx.raw))
            .collect()
    }

    async fn game(&self, id: u64) -> DisputeGame::Game {
        self.client(PROPOSER)
            .view(
                self.deployment.dispute_game,
                &DisputeGame::getGameCall {
                    gameId: U256::from(id),
                },
            )
            .await
            .unwrap()
    }

    async fn derivation(&self, id: u64) -> DisputeGame::Derivation {
        self.client(PROPOSER)
            .view(
                self.deployment.dispute_game,
                &DisputeGame::getDerivationCall {
                    gameId: U256::from(id),
                },
            )
            .await
            .unwrap()
    }

    async fn game_count(&self) -> u64 {
        let count = self
            .client(PROPOSER)
            .view(self.deployment.dispute_game, &DisputeGame::gameCountCall {})
            .await
            .unwrap();
        count.to::<u64>()
    }

    /// The thief (the registry's proposer key) proposes `header` as the output of its
    /// block, at the position of `source` (by default where derivation took the real
    /// block), and the challenger opens a game on it: the output's index.
    async fn propose_forged(&self, header: &BlockHeader, source: Option<BlockSource>) -> u64 {
        let position = self.position(header.number, source).await;
        let games_before = self.game_count().await;
        let index = self
            .client(PROPOSER)
            .propose_output(
                self.deployment.output_registry,
                header.number,
                header.state_root,
                header.hash(),
                position,
            )
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.game_count().await == games_before {
            assert!(Instant::now() < deadline, "no game was opened");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        index
    }

    /// `forged` if given, else where the follower's derivation took block `number` from.
    async fn source(&self, number: u64, forged: Option<BlockSource>) -> BlockSource {
        match forged {
            Some(source) => source,
            None => self
                .follower
                .client()
                .get_block_source(number)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("the follower has derived block {number} from L1")),
        }
    }

    /// The position of `forged` if given, else of the follower's block `number` (the
    /// genesis block's is 0).
    async fn position(&self, number: u64, forged: Option<BlockSource>) -> u64 {
        if number == 0 {
            return 0;
        }
        self.source(number, forged).await.position()
    }

    /// The follower's claim at the block level for block `number`, or `forged`'s with its
    /// source.
    async fn block_claim(&self, number: u64, hash: B256, forged: Option<BlockSource>) -> B256 {
        block_claim(hash, self.position(number, forged).await)
    }

    /// Waits for output `index` to be removed: the challenger ends a dispute it has won
    /// in every game once no defender may join any more (its clock runs from the opening).
    async fn wait_removed(&self, index: u64, what: &str) {
        let client = self.client(PROPOSER);
        let deadline = Instant::now() + Duration::from_secs(2 * CLOCK_SECS + 30);
        while !client
            .output(self.deployment.output_registry, index)
            .await
            .unwrap()
            .removed
        {
            assert!(
                Instant::now() < deadline,
                "{what}: output {index} was not removed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn balance(&self, account: Address) -> U256 {
        self.client(PROPOSER)
            .provider()
            .get_balance(account)
            .await
            .unwrap()
    }
}

/// Plays `game` as the defender of a chain equal to the follower's except block
/// `forged` (whose header is `forged_header`, its transactions `forged_leaves`), until
/// it ends. Inside the block, the roots after its transactions from `forged_tx` on are
/// forged (those after an oracle update's sub-steps from `forged_sub` on, too). The
/// forged block's source is `forged_source` if given, else the follower's.
async fn defend_forged_chain(
    network: &Network,
    id: u64,
    forged: u64,
    forged_header: &BlockHeader,
    forged_leaves: &[B256],
    (forged_tx, forged_sub): (u64, u64),
    forged_source: Option<BlockSource>,
) -> DisputeGame::Game {
    let l1 = network.client(PROPOSER);
    let follower = network.follower.client();
    let game_address = network.deployment.dispute_game;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let game = network.game(id).await;
        if game.status != STATUS_OPEN {
            return game;
        }
        assert!(Instant::now() < deadline, "the game did not end: {game:?}");
        let gid = U256::from(id);
        let span = game.hi - game.lo;
        let mid = game.lo + span / 2;
        let derivation = l1
            .view(
                game_address,
                &DisputeGame::getDerivationCall { gameId: gid },
            )
            .await
            .unwrap();
        if game.defenderToMove && derivation.contentDisputed {
            // The descent of the forged block's transactions tree.
            let (left, right) = straddle_primitives::block::transactions_children(
                forged_leaves,
                usize::from(derivation.contentDepth),
                derivation.contentIndex as usize,
            );
            let call = DisputeGame::revealChildrenCall {
                gameId: gid,
                left,
                right,
            };
            l1.transact(game_address, &call, U256::ZERO, "reveal children")
                .await
                .unwrap();
        } else if game.defenderToMove && !game.midPosted {
            if game.level == 0 && span >= 2 {
                let claim = if mid == forged {
                    network
                        .block_claim(mid, forged_header.hash(), forged_source)
                        .await
                } else {
                    network
                        .block_claim(mid, network.header(mid).await.0, None)
                        .await
                };
                let call = DisputeGame::claimMidpointCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    claim,
                };
                l1.transact(game_address, &call, U256::ZERO, "claim")
                    .await
                    .unwrap();
            } else if game.level == 0 {
                let parent = network.header(game.lo).await.1;
                let header = if game.hi == forged {
                    forged_header.clone()
                } else {
                    network.header(game.hi).await.1
                };
                // Unless told otherwise, the source the follower took the block from.
                let source = network
                    .source(game.hi, forged_source.filter(|_| game.hi == forged))
                    .await;
                let call = DisputeGame::revealBlockCall {
                    gameId: gid,
                    parentHeader: parent.encode().into(),
                    parentPosition: network.position(game.lo, None).await,
                    header: header.encode().into(),
                    position: source.position(),
                    forcedRecord: match source {
                        BlockSource::Forced { index, .. } => index,
                        BlockSource::Batch { .. } => 0,
                    },
                };
                l1.transact(game_address, &call, U256::ZERO, "reveal")
                    .await
                    .unwrap();
            } else {
                // Inside the block (or inside the oracle update): the honest roots before
                // `forged_tx` (`forged_sub`), forged ones from there.
                let (positions, first_forged) = if game.level == 2 {
                    let sub = l1
                        .view(game_address, &DisputeGame::getSubLevelCall { gameId: gid })
                        .await
                        .unwrap();
                    let roots = follower
                        .get_sub_step_positions(forged, sub.transactionIndex)
                        .await
                        .unwrap();
                    (roots, forged_sub)
                } else {
                    let roots = follower.get_block_positions(forged).await.unwrap();
                    (roots, forged_tx)
                };
                let claim = if mid >= first_forged {
                    keccak256([positions[mid as usize].as_slice(), b"forged"].concat())
                } else {
                    positions[mid as usize]
                };
                let call = DisputeGame::claimMidpointCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    claim,
                };
                l1.transact(game_address, &call, U256::ZERO, "claim")
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_root_loses_its_game_and_the_withdrawal_it_forged_never_pays() {
    let network = Network::start().await;
    let challenger_process = network.start_challenger();
    let forged = network.activity(12, 0).await;
    let (_, real) = network.header(forged).await;
    assert!(
        real.transaction_count >= 1,
        "the forged block has transactions"
    );

    // A state holding one withdrawal of 1 000 USDC to the proposer: a tree of one leaf,
    // so its proof has no siblings.
    let thief = l1_key(PROPOSER).address();
    let claim = WithdrawalClaim {
        index: 7,
        account: thief,
        recipient: thief,
        amount: 1_000_000_000,
        l2_block: forged,
    };
    let mut key = vec![0x02];
    key.extend_from_slice(&claim.index.to_be_bytes());
    let mut value = Vec::new();
    value.extend_from_slice(thief.as_slice());
    value.extend_from_slice(thief.as_slice());
    value.extend_from_slice(&claim.amount.to_be_bytes());
    value.extend_from_slice(&claim.l2_block.to_be_bytes());
    let mut leaf = vec![0x00];
    leaf.extend_from_slice(keccak256(&key).as_slice());
    leaf.extend_from_slice(keccak256(&value).as_slice());
    let forged_root = keccak256(&leaf);
    let forged_header = BlockHeader {
        state_root: forged_root,
        ..real.clone()
    };

    let thief_l1 = network.client(PROPOSER);
    let challenger = l1_key(CHALLENGER).address();
    let challenger_before = network.balance(challenger).await;
    let proposed = Instant::now();
    // The challenger opens a game on it.
    let index = network.propose_forged(&forged_header, None).await;
    let opened = proposed.elapsed();
    // The challenger crashes with its game open and comes back: it plays the same game
    // on (no second game, no second bond).
    challenger_process.kill_hard();
    let _challenger = network.start_challenger();
    let leaves = network.leaves(forged).await;
    let game = defend_forged_chain(
        &network,
        0,
        forged,
        &forged_header,
        &leaves,
        (u64::MAX, 0),
        None,
    )
    .await;
    let removal = proposed.elapsed();
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(game.level, 1, "decided at the transaction level");
    assert_eq!(game.blockNumber, forged);
    assert_eq!(
        u64::from(game.transactionCount),
        game.hi,
        "on the block's last transaction"
    );
    println!(
        "wrong root: game opened {:.1} s and root removed {:.1} s after the proposal (block {forged}, {} transactions)",
        opened.as_secs_f64(),
        removal.as_secs_f64(),
        game.transactionCount
    );
    network
        .wait_removed(index, "the forged output is gone")
        .await;
    assert_eq!(
        network.game_count().await,
        1,
        "one game, across the restart"
    );

    // The forged withdrawal cannot be paid: no output holds its root.
    let paid = thief_l1
        .finalize_withdrawal(network.deployment.portal, index, &claim, Vec::new())
        .await;
    assert!(paid.is_err(), "a withdrawal on a removed root must not pay");

    // The identical forged output proposed again (at a new index: indices are never
    // reused) is judged again, and removed again.
    let again = network.propose_forged(&forged_header, None).await;
    assert!(again > index, "a new index");
    let game = defend_forged_chain(
        &network,
        1,
        forged,
        &forged_header,
        &leaves,
        (u64::MAX, 0),
        None,
    )
    .await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    network
        .wait_removed(again, "the re-proposed forged output is gone too")
        .await;

    // The challenger claims its bonds back and half of each forged output's bond (the
    // other halves are burnt), less its gas.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = network.balance(challenger).await;
        if now > challenger_before + U256::from(BOND_WEI * 8 / 10) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the challenger did not collect the proposer's bond"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_of_a_block_not_on_l1_is_removed_even_when_its_data_comes_later() {
    let mut network = Network::start().await;
    let _challenger = network.start_challenger();
    let posted = network.activity(3, 0).await;
    // The batcher stops: the sequencer's next blocks are on no batch.
    network.stop_batcher();
    let sequencer = network.sequencer.client();
    let future = network.transfers(3, 3).await;
    assert!(future > posted);
    // A receipt comes once the transaction is logged; the block is sealed just after.
    let deadline = Instant::now() + Duration::from_secs(10);
    let header = loop {
        if let Some(view) = sequencer
            .get_block(BlockRef::Number(future), Some(false))
            .await
            .unwrap()
        {
            break view.header;
        }
        assert!(Instant::now() < deadline, "block {future} was not sealed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The proposer (the thief's key) proposes that block, its real hash and root, from
    // the batch it expects the data in: right, but not on L1 by the output's head.
    let thief_l1 = network.client(PROPOSER);
    let next_batch = thief_l1
        .batch_count(network.deployment.batch_inbox)
        .await
        .unwrap();
    let index = network
        .propose_forged(&header, Some(BlockSource::Batch { index: next_batch }))
        .await;
    // The data comes once the game is open: the follower derives the same block.
    network.start_batcher();
    let follower = network.follower.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while follower.chain_head().await.unwrap().safe.number < future {
        assert!(Instant::now() < deadline, "the batcher did not catch up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (hash, _) = network.header(future).await;
    assert_eq!(hash, header.hash(), "the output's block is the chain's");
    let leaves = network.leaves(future).await;
    let game =
        defend_forged_chain(&network, 0, future, &header, &leaves, (u64::MAX, 0), None).await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(
        game.blockNumber,
        posted + 1,
        "the first block not on L1 by the head"
    );
    network.wait_removed(index, "the output is removed").await;
}

/// An oracle update of ETH (signed by two of the devnet's oracle signers, with a smile
/// for the devnet's option expiry, so that its options are priced), sent to the sequencer.
async fn send_oracle_update(network: &Network) -> (u64, B256) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let reports = [7usize, 8]
        .iter()
        .map(|i| {
            let report = PriceReport {
                underlying: 1,
                timestampMs: now,
                indexPrice: 3_000_000_000,
                expiriesMs: vec![straddle_exchange::devnet::DEVNET_OPTION_EXPIRY_MS],
                atmVolsPpm: vec![650_000],
                skewsPpm: vec![-100_000],
                curvaturesPpm: vec![200_000],
            };
            let signature = dev_signer(*i)
                .sign_hash_sync(&report.signing_hash(&common::devnet_domain()))
                .unwrap();
            SignedPriceReport { report, signature }
        })
        .collect();
    let tx = Transaction::OracleUpdate {
        underlying: 1,
        reports,
    };
    let receipt = network
        .sequencer
        .client()
        .send_transaction(tx.encode().into())
        .await
        .unwrap();
    (receipt.block_number, transaction_leaf(&tx.encode()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_oracle_update_loses_its_game_sub_step_by_sub_step() {
    let network = Network::start().await;
    let _challenger = network.start_challenger();
    network.activity(2, 0).await;
    let (forged, update) = send_oracle_update(&network).await;
    // Later blocks, so that the follower derives the update's block.
    network.activity(2, 2).await;
    let leaves = network.leaves(forged).await;
    let at = leaves
        .iter()
        .position(|leaf| *leaf == update)
        .expect("the update is in its block") as u64;
    let (_, real) = network.header(forged).await;
    let follower = network.follower.client();
    let positions = follower.get_sub_step_positions(forged, at).await.unwrap();
    // ETH's seven markets, then its oracle state.
    assert_eq!(positions.len(), 9, "positions 0 to 8");
    // The proposer forges the roots from the update's third sub-step (an option's
    // vectors) on, and with them every later root of the block.
    let forged_sub = 3;
    let block_roots = follower.get_block_positions(forged).await.unwrap();
    let forged_root = keccak256([block_roots.last().unwrap().as_slice(), b"forged"].concat());
    let forged_header = BlockHeader {
        state_root: forged_root,
        ..real.clone()
    };
    let thief_l1 = network.client(PROPOSER);
    let proposed = Instant::now();
    let index = network.propose_forged(&forged_header, None).await;
    let game = defend_forged_chain(
        &network,
        0,
        forged,
        &forged_header,
        &leaves,
        (at + 1, forged_sub),
        None,
    )
    .await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(game.level, 2, "decided inside the oracle update");
    assert_eq!(game.blockNumber, forged);
    assert_eq!(game.hi, forged_sub, "at the first forged sub-step");
    let sub = thief_l1
        .view(
            network.deployment.dispute_game,
            &DisputeGame::getSubLevelCall { gameId: U256::ZERO },
        )
        .await
        .unwrap();
    assert_eq!(sub.count, 8, "one sub-step per market and the oracle state");
    network
        .wait_removed(index, "the forged output is gone")
        .await;
    println!(
        "forged oracle update: root removed {:.1} s after the proposal",
        proposed.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_holding_a_transaction_its_batch_does_not_loses_its_game() {
    // Batches in blobs: the challenger proves the batch's transaction by opening only
    // the field elements that hold it.
    let network = Network::start_posting(&["--da", "blobs"]).await;
    let _challenger = network.start_challenger();
    // A few transfers sent at once, so that one block holds several.
    let client = network.sequencer.client();
    let key = dev_signer(2);
    let sends: Vec<_> = (0..4u64)
        .map(|nonce| {
            let action = Action::Transfer(Transfer {
                to: dev_signer(4).address(),
                amount: 1_000 + u128::from(nonce),
                nonce,
                expiryMs: u64::MAX / 2,
            });
            let request = SendActionRequest {
                chain_id: DEVNET_CHAIN_ID,
                signature: Bytes::copy_from_slice(&sign(&key, &action)),
                action,
            };
            let client = client.clone();
            tokio::spawn(async move { client.send_action(request).await.unwrap() })
        })
        .collect();
    let mut forged = 0;
    for send in sends {
        forged = forged.max(send.await.unwrap().block_number);
    }
    // Later blocks, so that the forged one is inside the disputed range, not its end.
    let last = network.activity(3, 4).await;
    let (_, real) = network.header(forged).await;
    let mut leaves = network.leaves(forged).await;

    // The proposer replaces the block's last transaction with a transfer to itself that
    // no batch holds, and keeps the time and count.
    let thief = l1_key(PROPOSER).address();
    let stolen = Action::Transfer(Transfer {
        to: thief,
        amount: 5_000_000_000,
        nonce: 900,
        expiryMs: u64::MAX / 2,
    });
    let stolen_tx = straddle_primitives::Transaction::Action(straddle_primitives::SignedAction {
        action: stolen.clone(),
        signature: alloy_primitives::Signature::try_from(sign(&key, &stolen).as_slice()).unwrap(),
    });
    *leaves.last_mut().unwrap() = straddle_primitives::block::transaction_leaf(&stolen_tx.encode());
    let forged_header = BlockHeader {
        transactions_root: straddle_primitives::block::transactions_root(&leaves),
        state_root: keccak256("the state after the stolen transfer"),
        ..real.clone()
    };
    let thief_l1 = network.client(PROPOSER);
    let proposed = Instant::now();
    // The output is the forged block itself, so the game narrows to it.
    let index = network.propose_forged(&forged_header, None).await;
    let game = defend_forged_chain(
        &network,
        0,
        forged,
        &forged_header,
        &leaves,
        (u64::MAX, 0),
        None,
    )
    .await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(game.level, 0, "decided at the block level");
    assert_eq!(game.blockNumber, forged);
    let derivation = network.derivation(0).await;
    assert!(derivation.contentDisputed, "by the block's content");
    let batch = thief_l1
        .view(
            network.deployment.batch_inbox,
            &straddle_l1_contracts::BatchInbox::getBatchCall {
                index: U256::from(derivation.sourceIndex),
            },
        )
        .await
        .unwrap();
    assert_eq!(batch.kind, 1, "the source batch was posted in blobs");
    assert_eq!(
        derivation.contentIndex + 1,
        u64::from(real.transaction_count),
        "at the replaced transaction"
    );
    println!(
        "forged content: removed {:.1} s after the proposal (block {forged} of {} transactions, {} levels; chain at {last})",
        proposed.elapsed().as_secs_f64(),
        real.transaction_count,
        derivation.contentLevels
    );
    network
        .wait_removed(index, "the forged output is gone")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_block_of_a_record_the_chain_already_holds_loses_its_game() {
    let network = Network::start().await;
    let _challenger = network.start_challenger();
    // A payload forced through the Portal; the sequencer includes it at once.
    let user = network.client(FORCER);
    let payload = vec![0xEE, 1, 2];
    let record = user
        .force_transaction(network.deployment.portal, payload.clone().into())
        .await
        .unwrap();
    let follower = network.follower.client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = follower.chain_head().await.unwrap().safe.number;
        if follower.get_forced_queue(head).await.unwrap().next > record {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forced record was not included"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let forged = network.activity(3, 0).await;
    let (_, real) = network.header(forged).await;
    let parent = network.header(forged - 1).await.1;

    // The proposer replaces block `forged` with a forced block for that record again:
    // one transaction, at the time derivation would give it. Only the chain's forced
    // queue (past the record) shows it is not derivation's block.
    let forced = Transaction::Forced(straddle_primitives::ForcedTransaction {
        index: record,
        sender: user.address(),
        bytes: payload,
    });
    let leaves = vec![transaction_leaf(&forced.encode())];
    let recorded_s = user
        .view(
            network.deployment.portal,
            &straddle_l1_contracts::Portal::forcedTimesCall(record),
        )
        .await
        .unwrap();
    let forged_header = BlockHeader {
        timestamp_ms: parent.timestamp_ms.max(recorded_s * 1000),
        transactions_root: straddle_primitives::block::transactions_root(&leaves),
        transaction_count: 1,
        state_root: keccak256("the state after a second inclusion"),
        ..real.clone()
    };
    // Put before the batch derivation took the real block from (the game does not yet
    // check where a forced block goes: disputes.md §5.3 step 3).
    let before_batch = match network.source(forged, None).await {
        BlockSource::Batch { index } => index,
        BlockSource::Forced { before_batch, .. } => before_batch,
    };
    let forged_source = Some(BlockSource::Forced {
        index: record,
        before_batch,
    });
    let index = network.propose_forged(&forged_header, forged_source).await;
    let game = defend_forged_chain(
        &network,
        0,
        forged,
        &forged_header,
        &leaves,
        (u64::MAX, 0),
        forged_source,
    )
    .await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(game.level, 0, "decided at the block level");
    assert_eq!(game.blockNumber, forged);
    let derivation = network.derivation(0).await;
    assert!(
        !derivation.contentDisputed,
        "by the forced block's rule, not its content"
    );
    network
        .wait_removed(index, "the forged output is gone")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_challengers_lose_by_play_and_by_clock() {
    let network = Network::start().await;
    // Dev 0, the registry's proposer, defending its outputs.
    let _proposer = common::start_proposer(
        &network.follower.url,
        &network.anvil.url(),
        &network.deployment,
        &[
            "--dispute-game".into(),
            network.deployment.dispute_game.to_string(),
            "--l1-start-block".into(),
            network.deployment.start_block.to_string(),
        ],
        &network.dir.path().join("proposer.log"),
    );
    let block = network.activity(10, 0).await;
    let registry = network.deployment.output_registry;
    let troll = network.client(TROLL);
    let deadline = Instant::now() + Duration::from_secs(60);
    let index = loop {
        let count = troll.output_count(registry).await.unwrap();
        if count > 0 && troll.output(registry, count - 1).await.unwrap().l2_block >= block {
            break count - 1;
        }
        assert!(Instant::now() < deadline, "no output proposed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let game_address = network.deployment.dispute_game;
    let open = DisputeGame::openCall {
        outputIndex: U256::from(index),
        anchorIndex: U256::MAX,
    };
    // Game 0 is played to the end, disagreeing with everything. Games 1 to FLOOD are
    // opened at once (the troll's transactions land in the same few blocks) and
    // abandoned: the defender must make its first move in every one inside its clock.
    troll
        .transact(game_address, &open, U256::from(BOND_WEI), "open")
        .await
        .unwrap();
    let flood = vec![Outgoing::call(game_address, &open, U256::from(BOND_WEI), "open"); FLOOD];
    for opened in troll.transact_all(flood).await {
        opened.unwrap();
    }
    assert_eq!(network.game_count().await, 1 + FLOOD as u64);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let played = network.game(0).await;
        let mut abandoned = Vec::with_capacity(FLOOD);
        for id in 1..=FLOOD as u64 {
            abandoned.push(network.game(id).await);
        }
        if played.status != STATUS_OPEN && abandoned.iter().all(|g| g.status != STATUS_OPEN) {
            assert_eq!(played.status, STATUS_DEFENDER_WON, "{played:?}");
            assert_eq!(played.level, 1, "the dishonest challenger reached the step");
            for game in &abandoned {
                assert_eq!(game.status, STATUS_DEFENDER_WON, "{game:?}");
                assert_eq!(
                    game.level, 0,
                    "the silent challenger lost at the block level"
                );
                assert!(game.midPosted, "the defender claimed in time: {game:?}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the games did not end: {played:?}, {} of {FLOOD} abandoned ones open",
            abandoned.iter().filter(|g| g.status == STATUS_OPEN).count()
        );
        if played.status == STATUS_OPEN && !played.defenderToMove {
            let gid = U256::from(0);
            if played.midPosted {
                let call = DisputeGame::answerCall {
                    gameId: gid,
                    lo: played.lo,
                    hi: played.hi,
                    agree: false,
                };
                troll
                    .transact(game_address, &call, U256::ZERO, "answer")
                    .await
                    .unwrap();
            } else if played.level == 0 && played.blockRevealed {
                let call = DisputeGame::disputeExecutionCall { gameId: gid };
                troll
                    .transact(game_address, &call, U256::ZERO, "dispute execution")
                    .await
                    .unwrap();
            }
            // At one transaction left the troll waits; the proposer runs the step.
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The output survives and finalizes; the proposer collects half of every challenger
    // bond (the game then holds only the burnt halves).
    let finalized = OutputRegistry::isFinalizedCall {
        index: U256::from(index),
    };
    let deadline = Instant::now() + Duration::from_secs(CHALLENGE_WINDOW_SECS + 30);
    while !troll.view(registry, &finalized).await.unwrap() {
        assert!(
            Instant::now() < deadline,
            "the defended output did not finalize"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let proposer = l1_key(PROPOSER).address();
    loop {
        let held = network.balance(game_address).await;
        let owed = troll
            .view(game_address, &DisputeGame::creditCall(proposer))
            .await
            .unwrap();
        let burnt = troll
            .view(game_address, &DisputeGame::burntCall {})
            .await
            .unwrap();
        if held == burnt && owed.is_zero() {
            assert_eq!(
                burnt,
                U256::from(BOND_WEI) * U256::from(1 + FLOOD) / U256::from(2),
                "half of each losing bond is burnt"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the proposer did not collect its half of both bonds: the game holds {held} ({burnt} burnt), owes {owed}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_naming_a_reposted_batch_as_its_source_loses_to_the_first() {
    let network = Network::start().await;
    let _challenger = network.start_challenger();
    let last = network.activity(3, 0).await;
    // The first block of the batch that carried the last transfer: derivation took it
    // from that batch, whose first block it is.
    let follower = network.follower.client();
    let source = |number: u64| {
        let follower = follower.clone();
        async move { follower.get_block_source(number).await.unwrap() }
    };
    let Some(BlockSource::Batch { index: batch }) = source(last).await else {
        panic!("block {last} came from a batch");
    };
    let mut first = last;
    while first > 1 && source(first - 1).await == Some(BlockSource::Batch { index: batch }) {
        first -= 1;
    }

    // The batcher's key posts that batch again, as calldata: a later batch carrying
    // the same blocks, which derivation does not take (it holds them already).
    let inbox = network.deployment.batch_inbox;
    let batcher = network.client(BATCHER);
    let log = straddle_l1::batch_log(&batcher, inbox, batch, network.deployment.start_block)
        .await
        .unwrap()
        .expect("the batch's log");
    let bytes = straddle_l1::batch_bytes(&batcher, &log).await.unwrap();
    let mut reposted = None;
    for _ in 0..5 {
        // The batcher service shares the key: a nonce it took first is retried.
        match batcher.post_calldata(inbox, bytes.clone()).await {
            Ok(receipt) => {
                reposted = Some(receipt.index);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    let reposted = reposted.expect("the batch was posted again");

    // The proposer claims the right block and state root, but from the re-post: the
    // position is all it gets wrong.
    let (_, real) = network.header(first).await;
    let leaves = network.leaves(first).await;
    let named = Some(BlockSource::Batch { index: reposted });
    let index = network.propose_forged(&real, named).await;
    let game = defend_forged_chain(&network, 0, first, &real, &leaves, (u64::MAX, 0), named).await;
    assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
    assert_eq!(game.blockNumber, first, "decided at the re-posted block");
    let derivation = network.derivation(0).await;
    assert_eq!(
        derivation.position,
        2 * reposted + 1,
        "the defender's position"
    );
    assert!(
        derivation.parentPosition < 2 * batch + 1,
        "the parent comes before the batch"
    );
    assert!(
        !derivation.contentDisputed,
        "by the earlier batch that links there, not by content"
    );
    network.wait_removed(index, "the output is gone").await;
}

/// Anyone may defend, and floods are answered. A correct output whose proposer does not
/// defend it (no `--dispute-game`) is disputed by a troll: the honest challenger, run
/// with `--defend`, takes its side with a bond and wins. Then the thief proposes FLOOD
/// forged outputs at once and a sock joins the defense of every dispute the challenger
/// opens on them, claiming a false midpoint in each: the challenger answers all of them
/// in the same blocks, beats the proposer and the sock in every dispute inside its
/// clocks, and every forged output is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_defends_a_correct_output_and_a_flood_of_wrong_ones_with_sock_defenders_is_removed()
{
    let network = Network::start().await;
    let _challenger = network.start_challenger_with(&["--defend"]);
    let challenger = l1_key(CHALLENGER).address();
    let game_address = network.deployment.dispute_game;
    let registry = network.deployment.output_registry;
    let thief = network.client(PROPOSER);
    let troll = network.client(TROLL);

    // A correct output, and a troll's dispute on it that no proposer answers.
    let block = network.activity(4, 0).await;
    let (hash, header) = network.header(block).await;
    let position = network.position(block, None).await;
    let correct = thief
        .propose_output(registry, block, header.state_root, hash, position)
        .await
        .unwrap();
    let open = DisputeGame::openCall {
        outputIndex: U256::from(correct),
        anchorIndex: U256::MAX,
    };
    troll
        .transact(game_address, &open, U256::from(BOND_WEI), "open")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3 * CLOCK_SECS + 30);
    let dispute = loop {
        let dispute = troll
            .view(
                game_address,
                &DisputeGame::getDisputeCall {
                    disputeId: U256::ZERO,
                },
            )
            .await
            .unwrap();
        if dispute.status != STATUS_OPEN {
            break dispute;
        }
        assert!(Instant::now() < deadline, "the troll's dispute did not end");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(dispute.status, STATUS_DEFENDER_WON, "{dispute:?}");
    let keeper = network.game(1).await;
    assert_eq!(
        keeper.defender, challenger,
        "the challenger joined the defense"
    );
    assert_eq!(keeper.status, STATUS_DEFENDER_WON, "{keeper:?}");
    assert!(
        !thief.output(registry, correct).await.unwrap().removed,
        "the correct output stays"
    );

    // The flood: FLOOD far-future outputs with forged block hashes, proposed at once.
    let bond = thief.required_bond(registry).await.unwrap();
    let forged: Vec<Outgoing> = (0..FLOOD as u64)
        .map(|i| {
            let propose = OutputRegistry::proposeCall {
                l2BlockNumber: 1_000_000 + i,
                stateRoot: B256::repeat_byte(0x5A),
                blockHash: keccak256(i.to_be_bytes()),
                position: 1,
            };
            Outgoing::call(registry, &propose, bond, "propose")
        })
        .collect();
    for proposed in thief.transact_all(forged).await {
        proposed.unwrap();
    }
    let first_forged = correct + 1;
    let disputes_before = 1u64;
    // The sock joins every dispute the challenger opens, and claims a false midpoint in
    // its game as soon as it is its move.
    let sock = network.client(TROLL);
    let mut joined = std::collections::BTreeSet::new();
    let mut sock_games = std::collections::BTreeSet::new();
    let mut claimed = std::collections::BTreeSet::new();
    let mut scanned = 0;
    let deadline = Instant::now() + Duration::from_secs(3 * CLOCK_SECS + 90);
    loop {
        let mut removed = 0;
        for index in first_forged..first_forged + FLOOD as u64 {
            removed += u64::from(thief.output(registry, index).await.unwrap().removed);
        }
        if removed == FLOOD as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{removed} of {FLOOD} forged outputs removed"
        );
        let count: U256 = sock
            .view(game_address, &DisputeGame::disputeCountCall {})
            .await
            .unwrap();
        let mut joins = Vec::new();
        let mut joining = Vec::new();
        for id in disputes_before..count.to::<u64>() {
            if joined.contains(&id) {
                continue;
            }
            let call = DisputeGame::defendCall {
                disputeId: U256::from(id),
            };
            joins.push(Outgoing::call(game_address, &call, bond, "defend"));
            joining.push(id);
        }
        for (id, result) in joining.into_iter().zip(sock.transact_all(joins).await) {
            result.unwrap();
            joined.insert(id);
        }
        let count = network.game_count().await;
        for game_id in scanned..count {
            if network.game(game_id).await.defender == sock.address() {
                sock_games.insert(game_id);
            }
        }
        scanned = count;
        let mut claims = Vec::new();
        for &game_id in sock_games.difference(&claimed.clone()) {
            let game = network.game(game_id).await;
            if game.status == STATUS_OPEN && game.defenderToMove && !game.midPosted {
                let call = DisputeGame::claimMidpointCall {
                    gameId: U256::from(game_id),
                    lo: game.lo,
                    hi: game.hi,
                    claim: B256::repeat_byte(0x5C),
                };
                claims.push(Outgoing::call(game_address, &call, U256::ZERO, "claim"));
                claimed.insert(game_id);
            }
        }
        for result in sock.transact_all(claims).await {
            result.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Every sock game was answered and lost; every dispute was the challenger's.
    assert_eq!(joined.len(), FLOOD, "the sock joined every dispute");
    assert_eq!(claimed.len(), FLOOD, "and claimed in every game");
    for &game_id in &sock_games {
        let game = network.game(game_id).await;
        assert_eq!(game.status, STATUS_CHALLENGER_WON, "{game:?}");
        assert!(
            !game.midPosted,
            "the challenger answered the sock: {game:?}"
        );
    }
}
