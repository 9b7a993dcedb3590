//! Gas of the L1 one-step prover at a realistic state size: a million leaves (a genesis
//! of 100 000 accounts, the most a genesis takes, and 900 000 filler leaves under keys
//! no state key hashes to, so proofs have about 21 siblings), each covered kind at its worst case (full nonce
//! windows, a bulk cancel of 64 new orders, a bulk placement of 32 orders cancelling 32, a
//! margin withdrawal of 32 positions owing funding, matches of 1, 2 and 16 makers at
//! the positions bound and one of 16 makers over it, a liquidation and a retirement of an account of 32
//! positions, a market listing and a close on an underlying at 1 024 active markets, an
//! oracle update of 16 reports of 8 expiries on such an underlying, sub-step by sub-step),
//! with the prover's root checked against the
//! STF's as in the parity test. A measurement, not a check of speed, so it is ignored by
//! the test suite; run it with
//!
//!     cargo test --release -p straddle-fault-proof --test step_gas_at_scale -- --ignored --nocapture
//!
//! and record the table in docs/PERFORMANCE.md ("Disputes"). With
//! `STRADDLE_TRACE_STEP=<part of a case's name>` it also prints that step's gas by
//! opcode (anvil's `debug_traceCall`), and with `STRADDLE_TRACE_DUMP=<file>` keeps the raw
//! trace there.
//!
//! Length (over 800 lines): the million-leaf state takes minutes to build and deploy, so
//! every kind's worst case is measured on that one state in one process.

use straddle_testkit as common;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use straddle_chain::Chain;
use straddle_exchange::genesis::UnderlyingConfig;
use straddle_exchange::oracle::OracleConfig;
use straddle_exchange::risk::RiskParams;
use straddle_exchange::{Allocation, BlockContext, StateKey};
use straddle_fault_proof::step::{
    execute_into_tree, execute_step, oracle_sub_steps, unchanged_witness,
};
use straddle_l1::disputes::StepInput;
use straddle_primitives::{
    Action, Amount, BulkCancel, BulkOrders, Cancel, Deposit, DepositMargin, ForcedTransaction,
    Liquidate, Mint, Order, PriceReport, RetireOrder, SignedAction, SignedCancel, SignedLiquidate,
    SignedOrder, SignedPriceReport, Transaction, Transfer, Withdraw, WithdrawMargin,
};

/// Genesis accounts beyond the dev accounts (`GENESIS_ALLOCATIONS_MAX` is 100 000).
const EXTRA_ACCOUNTS: u64 = 99_000;
/// Leaves in the tree, filler included.
const LEAVES: usize = 1_000_000;

fn signed(
    key: &PrivateKeySigner,
    action: Action,
    domain: &straddle_primitives::Domain,
) -> Transaction {
    let signature = key.sign_hash_sync(&action.signing_hash(domain)).unwrap();
    Transaction::Action(SignedAction { action, signature })
}

fn transfer(to: Address, nonce: u64, expiry_ms: u64) -> Action {
    Action::Transfer(Transfer {
        to,
        amount: 1_000,
        nonce,
        expiryMs: expiry_ms,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: builds a state of a million leaves"]
async fn step_gas_at_a_million_leaves() {
    let mut genesis = common::genesis();
    genesis.underlyings.push(crowded_underlying());
    genesis
        .allocations
        .extend((0..EXTRA_ACCOUNTS).map(|i| Allocation {
            address: Address::from_word(B256::from(U256::from(1_000_000 + i))),
            amount: Amount(1_000_000),
        }));
    let domain = genesis.domain;
    let anvil = common::anvil();
    let l1_of = |i: usize| common::l1_client(&anvil, i);
    let l1 = l1_of(0);
    let deployment = common::deploy_for(&l1, &genesis).await;
    let (mut chain, _) = Chain::from_genesis(&genesis).unwrap();
    let filler = LEAVES - chain.tip.tree.len();
    chain.tip.tree.update_batch(
        (0..filler as u64)
            .map(|i| {
                let key = keccak256([b"filler".as_slice(), &i.to_be_bytes()].concat());
                (key, Some(keccak256(key)))
            })
            .collect(),
    );
    let mut block = BlockContext {
        number: 1,
        timestamp_ms: common::now_ms(),
    };
    let expiry = block.timestamp_ms + 600_000;
    let (alice, bob) = (common::signer(1), common::signer(2));

    // Full nonce windows for both (their leaves at their largest).
    for nonce in 1..=32 {
        for (from, to) in [(&alice, bob.address()), (&bob, alice.address())] {
            let tx = signed(from, transfer(to, nonce, expiry), &domain);
            let outcome = execute_into_tree(&mut chain, tx, &block);
            assert!(outcome.is_ok(), "{outcome:?}");
        }
    }

    hold_positions_owing_funding(&mut chain, &mut block, expiry);
    let (maker_keys, makers) = makers_holding_the_same_markets(&mut chain, &block, expiry, 0, 32);
    let (small_keys, _) = makers_holding_the_same_markets(&mut chain, &block, expiry, 16, 4);
    let (_, empty_makers) = makers_holding_the_same_markets(&mut chain, &block, expiry, 32, 0);
    let (_, distinct_ask) = account_of_31_other_markets(&mut chain, &mut block, expiry);
    let (thin, thin_bid) = thin_account_of_32_positions(&mut chain, &mut block, expiry);
    // BTC at 1 023 active markets (its leaf listing them), for a listing and a close at
    // the bound; the operator's nonces for them (and its mint below) follow.
    let btc_perpetual = |market: u32, nonce: u64| {
        let listing = straddle_primitives::ListMarket {
            underlying: 2,
            tick: 1_000_000,
            lot: 100,
            ..common::perpetual_listing(market, nonce, expiry)
        };
        let signature = common::signer(0)
            .sign_hash_sync(&listing.signing_hash(&domain))
            .unwrap();
        Transaction::ListMarket { listing, signature }
    };
    let mut next_btc = 40_000u32;
    while chain.state.ledger.active_markets_of(2) < 1_023 {
        run(
            &mut chain,
            btc_perpetual(next_btc, 1_000 + u64::from(next_btc)),
            &block,
        );
        next_btc += 1;
    }
    let btc_close = {
        let close = straddle_primitives::CloseMarket {
            market: next_btc - 1,
            nonce: 60_002,
            expiryMs: expiry,
        };
        let signature = common::signer(0)
            .sign_hash_sync(&close.signing_hash(&domain))
            .unwrap();
        Transaction::CloseMarket { close, signature }
    };

    let l1_deposit = l1_of(3);
    l1.mint_test_collateral(deployment.collateral, l1_deposit.address(), 1_000_000_000)
        .await
        .unwrap();
    let deposit_index = l1_deposit
        .deposit(
            deployment.collateral,
            deployment.portal,
            alice.address(),
            5_000_000,
        )
        .await
        .unwrap();
    let forced_withdrawal = signed(
        &alice,
        Action::Withdraw(Withdraw {
            recipient: alice.address(),
            amount: 1_000,
            nonce: 100,
            expiryMs: expiry,
        }),
        &domain,
    )
    .encode();
    let forced_index = l1_of(1)
        .force_transaction(deployment.portal, forced_withdrawal.clone().into())
        .await
        .unwrap();
    let cancel = Cancel {
        orderHash: B256::repeat_byte(7),
        nonce: 0,
        expiryMs: expiry,
    };
    let bulk = BulkCancel {
        orderHashes: (0..64u64)
            .map(|i| B256::from(U256::from(10_000 + i)))
            .collect(),
        nonce: 101,
        expiryMs: expiry,
    };
    let order = |market: u32, nonce: u64| Order {
        market,
        isBuy: nonce.is_multiple_of(2),
        limitPrice: 3_000_000_000,
        size: 1_000_000,
        timeInForce: 0,
        reduceOnly: false,
        expiryMs: expiry,
        clientOrderId: nonce,
        nonce,
    };
    let placed = order(1, 1);
    // The bound: 32 cancels and 32 orders over 8 markets (66 leaves + the markets).
    let bulk_orders = BulkOrders {
        cancels: (0..32u64)
            .map(|i| B256::from(U256::from(20_000 + i)))
            .collect(),
        orders: (0..32u64)
            .map(|i| order([1, 2, 11, 12, 13, 14, 15, 16][i as usize % 8], 100 + i))
            .collect(),
        nonce: 33,
        expiryMs: expiry,
    };
    let cases: Vec<(&str, Transaction)> = vec![
        (
            "transfer (both windows full)",
            signed(&alice, transfer(bob.address(), 33, expiry), &domain),
        ),
        (
            "withdrawal (window full)",
            signed(
                &alice,
                Action::Withdraw(Withdraw {
                    recipient: alice.address(),
                    amount: 1_000,
                    nonce: 34,
                    expiryMs: expiry,
                }),
                &domain,
            ),
        ),
        (
            "mint (operator to another account)",
            signed(
                &common::signer(0),
                Action::Mint(Mint {
                    to: alice.address(),
                    amount: 1_000,
                    nonce: 60_000,
                    expiryMs: expiry,
                }),
                &domain,
            ),
        ),
        (
            "deposit",
            Transaction::Deposit(Deposit {
                index: deposit_index,
                from: l1_deposit.address(),
                recipient: alice.address(),
                amount: 5_000_000,
            }),
        ),
        (
            "forced withdrawal",
            Transaction::Forced(ForcedTransaction {
                index: forced_index,
                sender: alice.address(),
                bytes: forced_withdrawal,
            }),
        ),
        (
            "cancel (new record)",
            Transaction::Cancel(SignedCancel {
                signature: alice.sign_hash_sync(&cancel.signing_hash(&domain)).unwrap(),
                cancel,
            }),
        ),
        (
            "bulk cancel of 64 new orders",
            Transaction::BulkCancel {
                signature: alice.sign_hash_sync(&bulk.signing_hash(&domain)).unwrap(),
                cancel: bulk,
            },
        ),
        (
            "margin deposit (window full)",
            signed(
                &alice,
                Action::DepositMargin(DepositMargin {
                    amount: 1_000,
                    nonce: 102,
                    expiryMs: expiry,
                }),
                &domain,
            ),
        ),
        (
            "margin withdrawal (32 positions owing funding, window full)",
            signed(
                &alice,
                Action::WithdrawMargin(WithdrawMargin {
                    amount: 1_000,
                    nonce: 103,
                    expiryMs: expiry,
                }),
                &domain,
            ),
        ),
        (
            "match of 1 maker (2 portfolios of 32 positions, 32 markets, weight 152)",
            Transaction::Match {
                taker: taker_against(&makers[0].0.order, &common::signer(1), 1, 9_998),
                makers: vec![(
                    common::sign_order_with(&maker_keys[15], {
                        let mut maker = makers[15].0.order.clone();
                        maker.nonce = 9_997;
                        maker
                    }),
                    1_000_000,
                )],
            },
        ),
        (
            "match of 2 makers (3 portfolios of 32 positions, 32 markets, weight 196)",
            Transaction::Match {
                taker: taker_against(&makers[0].0.order, &common::signer(1), 2, 9_996),
                makers: [13, 14]
                    .into_iter()
                    .map(|k| {
                        let mut maker = makers[k].0.order.clone();
                        maker.nonce = 9_990 + k as u64;
                        (common::sign_order_with(&maker_keys[k], maker), 1_000_000)
                    })
                    .collect(),
            },
        ),
        (
            "match of 1 maker over 63 markets (portfolios of 32 and 31 positions, weight 213)",
            Transaction::Match {
                taker: taker_against(&distinct_ask.order, &common::signer(1), 1, 9_994),
                makers: vec![(distinct_ask, 1_000_000)],
            },
        ),
        (
            "match of 16 makers (taker of 4 positions, makers holding none, weight 216)",
            Transaction::Match {
                taker: taker_against(&empty_makers[0].0.order, &small_keys[0], 16, 9_995),
                makers: empty_makers,
            },
        ),
        (
            "match of 16 makers over the weight bound, refused (17 portfolios of 32 positions)",
            Transaction::Match {
                taker: taker_against(&makers[0].0.order, &common::signer(1), 16, 9_999),
                makers,
            },
        ),
        (
            "liquidation (target and liquidator holding 32 positions, 32 markets)",
            {
                let liquidate = Liquidate {
                    target: thin,
                    market: 1,
                    size: 1_000_000,
                    nonce: 600,
                    expiryMs: expiry,
                };
                Transaction::Liquidate(SignedLiquidate {
                    signature: alice
                        .sign_hash_sync(&liquidate.signing_hash(&domain))
                        .unwrap(),
                    liquidate,
                })
            },
        ),
        (
            "retirement of an unaffordable order (owner holding 32 positions)",
            Transaction::RetireOrder(RetireOrder {
                owner: thin,
                order_hash: thin_bid,
            }),
        ),
        (
            "market listing (the underlying's 1 024th active market)",
            btc_perpetual(next_btc, 60_001),
        ),
        ("market close (of 1 024 active markets)", btc_close),
        (
            "order placement",
            Transaction::PlaceOrder(SignedOrder {
                signature: alice.sign_hash_sync(&placed.hash(&domain)).unwrap(),
                order: placed,
            }),
        ),
        (
            "bulk placement of 32 orders cancelling 32",
            Transaction::PlaceOrders {
                signature: bob
                    .sign_hash_sync(&bulk_orders.signing_hash(&domain))
                    .unwrap(),
                bulk: bulk_orders,
            },
        ),
    ];
    println!("| kind | gas | witness bytes | state leaves |");
    println!("|---|---|---|---|");
    for (what, tx) in cases {
        let input: StepInput = execute_step(&mut chain, tx, &block).unwrap();
        let expected = chain.tip.tree.root();
        if what.contains("refused") {
            assert_eq!(expected, input.pre_root, "{what} changes nothing");
        } else {
            assert_ne!(expected, input.pre_root, "{what} executes");
        }
        let proven = l1
            .execute_step(deployment.step_prover, &input)
            .await
            .unwrap();
        assert_eq!(proven, expected, "{what}: the prover agrees with the STF");
        let gas = l1.step_gas(deployment.step_prover, &input).await.unwrap();
        println!(
            "| {what} | {gas} | {} | {} |",
            input.witness.len(),
            chain.tip.tree.len()
        );
        if std::env::var_os("STRADDLE_TRACE_STEP")
            .is_some_and(|only| what.contains(only.to_str().unwrap_or_default()))
        {
            common::trace_step(&l1, deployment.step_prover, &input).await;
        }
    }
    // What the game's forced-block moves read through the prover: the queue leaf.
    let witness = unchanged_witness(&mut chain, &[StateKey::ForcedQueue]);
    let root = chain.tip.tree.root();
    let next = l1
        .forced_queue_count(deployment.step_prover, root, witness.clone())
        .await
        .unwrap();
    assert_eq!(next, chain.state.ledger.forced_queue().count);
    let gas = l1
        .forced_queue_count_gas(deployment.step_prover, root, witness.clone())
        .await
        .unwrap();
    println!(
        "| forced queue count (disputeForcedBlock, disputeEarlierSource) | {gas} | {} | {} |",
        witness.len(),
        chain.tip.tree.len()
    );
    oracle_update_at_its_bounds(&l1, deployment.step_prover, &mut chain, &mut block).await;
}

/// Underlying 3 of this genesis: 16 oracle signers (keys from 0x5000), quorum 9.
fn crowded_underlying() -> UnderlyingConfig {
    UnderlyingConfig {
        id: 3,
        symbol: "SOL".into(),
        oracle: OracleConfig {
            underlying: 3,
            signers: oracle_keys().iter().map(|key| key.address()).collect(),
            quorum: 9,
            staleness_ms_max: 60_000,
            move_ppm_max: 100_000,
        },
        risk: RiskParams::default(),
        funding_premium_cap_ppm: 5_000,
    }
}

fn oracle_keys() -> Vec<PrivateKeySigner> {
    (0x5000u64..0x5010)
        .map(|k| PrivateKeySigner::from_bytes(&B256::from(U256::from(k))).unwrap())
        .collect()
}

/// An update of underlying 3 at `index` from all 16 signers, each quoting 8 expiries (the
/// listed options' first).
fn crowded_update(index: u64, block: &BlockContext, expiries: &[u64]) -> Transaction {
    let reports = oracle_keys()
        .iter()
        .map(|key| {
            let report = PriceReport {
                underlying: 3,
                timestampMs: block.timestamp_ms,
                indexPrice: index,
                expiriesMs: expiries.to_vec(),
                atmVolsPpm: vec![800_000; expiries.len()],
                skewsPpm: vec![-50_000; expiries.len()],
                curvaturesPpm: vec![100_000; expiries.len()],
            };
            let signature = key
                .sign_hash_sync(&report.signing_hash(&common::genesis().domain))
                .unwrap();
            SignedPriceReport { report, signature }
        })
        .collect();
    Transaction::OracleUpdate {
        underlying: 3,
        reports,
    }
}

/// An oracle update at its bounds: 16 reports of 8 expiries for an underlying of 1 024
/// active markets (calls and puts, one perpetual in 64), proven sub-step by sub-step:
/// the sub-step count, the first sub-step (an option, the highest id), a perpetual's and
/// the last (the oracle state).
async fn oracle_update_at_its_bounds(
    l1: &straddle_l1::L1Client,
    prover: Address,
    chain: &mut Chain,
    block: &mut BlockContext,
) {
    let expiries: Vec<u64> = (1..=8)
        .map(|k| block.timestamp_ms + k * 86_400_000 * 7)
        .collect();
    let domain = chain.state.genesis.domain;
    for k in 0..1_024u32 {
        let perpetual = k % 64 == 0 && k != 1_023;
        let listing = straddle_primitives::ListMarket {
            market: 70_000 + k,
            underlying: 3,
            instrument: if perpetual {
                straddle_primitives::admin::INSTRUMENT_PERPETUAL
            } else if k % 2 == 0 {
                straddle_primitives::admin::INSTRUMENT_CALL
            } else {
                straddle_primitives::admin::INSTRUMENT_PUT
            },
            strike: if perpetual {
                0
            } else {
                (50 + u64::from(k / 2) % 200) * 1_000_000
            },
            optionExpiryMs: if perpetual { 0 } else { expiries[0] },
            tick: 10_000,
            lot: 1_000,
            makerFeePpm: 100,
            takerFeePpm: 300,
            nonce: 100_000 + u64::from(k),
            expiryMs: block.timestamp_ms + 60_000,
        };
        let signature = common::signer(0)
            .sign_hash_sync(&listing.signing_hash(&domain))
            .unwrap();
        run(chain, Transaction::ListMarket { listing, signature }, block);
    }
    assert_eq!(chain.state.ledger.active_markets_of(3), 1_024);
    run(chain, crowded_update(150_000_000, block, &expiries), block);
    block.number += 1;
    block.timestamp_ms += 1_000;
    let update = crowded_update(151_000_000, block, &expiries);
    let steps = oracle_sub_steps(chain, &update, block).unwrap();
    let count = l1
        .oracle_sub_step_count(
            prover,
            steps.roots[0],
            update.encode().into(),
            steps.count_witness.clone(),
        )
        .await
        .unwrap();
    assert_eq!(count, 1_025, "one sub-step per market and the oracle state");
    let perpetual = steps
        .inputs
        .iter()
        .position(|input| input.index == 1_025 - 64 * 15 - 1)
        .unwrap();
    for (what, at) in [
        (
            "oracle update sub-step: an option (16 reports of 8 expiries, 1 024 markets)",
            0,
        ),
        ("oracle update sub-step: a perpetual", perpetual),
        ("oracle update's last sub-step: the oracle state", 1_024),
    ] {
        let input = &steps.inputs[at];
        let proven = l1.oracle_sub_step(prover, input).await.unwrap();
        assert_eq!(
            proven,
            steps.roots[at + 1],
            "{what}: the prover agrees with the STF"
        );
        assert_ne!(proven, input.pre_root, "{what} changes the state");
        let gas = l1.oracle_sub_step_gas(prover, input).await.unwrap();
        println!(
            "| {what} | {gas} | {} | {} |",
            input.witness.len() + input.transaction.len(),
            chain.tip.tree.len()
        );
        if std::env::var_os("STRADDLE_TRACE_STEP")
            .is_some_and(|only| what.contains(only.to_str().unwrap_or_default()))
        {
            common::trace_call(l1, prover, input.calldata()).await;
        }
    }
}

/// A buying immediate-or-cancel taker signed by `key` for `makers` times `ask`'s size on
/// its market and at its price.
fn taker_against(ask: &Order, key: &PrivateKeySigner, makers: u64, nonce: u64) -> SignedOrder {
    let mut taker = ask.clone();
    taker.isBuy = true;
    taker.timeInForce = 1;
    taker.size *= makers;
    taker.nonce = nonce;
    common::sign_order_with(key, taker)
}

/// Mints each of `keys` a million USDC (the operator, nonces from `first_nonce`) and
/// deposits half as margin.
fn fund(
    chain: &mut Chain,
    block: &BlockContext,
    keys: &[PrivateKeySigner],
    first_nonce: u64,
    expiry: u64,
) {
    let domain = common::domain();
    for (k, key) in keys.iter().enumerate() {
        let mint = Action::Mint(Mint {
            to: key.address(),
            amount: 1_000_000_000_000,
            nonce: first_nonce + k as u64,
            expiryMs: expiry,
        });
        run(chain, signed(&common::signer(0), mint, &domain), block);
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 500_000_000_000,
            nonce: 1,
            expiryMs: expiry,
        });
        run(chain, signed(key, deposit, &domain), block);
    }
}

/// Runs `tx` on the STF only (setting a case up): the STF must take it.
fn run(chain: &mut Chain, tx: Transaction, block: &BlockContext) {
    let described = format!("{tx:?}");
    let outcome = execute_into_tree(chain, tx, block);
    assert!(outcome.is_ok(), "{described}: {outcome:?}");
}

/// `market`'s mark, on its price grid.
fn mark_on_grid(chain: &Chain, market: u32) -> u64 {
    let m = chain.state.ledger.clearinghouse().market(market).unwrap();
    let mark = m.vector.as_ref().unwrap().mark_nano as u64 / 1_000;
    let tick = m.spec.tick_micro_usdc;
    (mark / tick).max(1) * tick
}

/// One contract of `market` at `price`, signed by `owner`.
fn one_contract(
    owner: &PrivateKeySigner,
    market: u32,
    price: u64,
    is_buy: bool,
    tif: u8,
    nonce: u64,
    expiry: u64,
) -> SignedOrder {
    let order = Order {
        market,
        isBuy: is_buy,
        limitPrice: price,
        size: 1_000_000,
        timeInForce: tif,
        reduceOnly: false,
        expiryMs: expiry,
        clientOrderId: nonce,
        nonce,
    };
    SignedOrder {
        signature: owner
            .sign_hash_sync(&order.hash(&common::domain()))
            .unwrap(),
        order,
    }
}

/// Sixteen new accounts (keys the test makes from `first`, minted collateral by the
/// operator) each holding one contract, long or short, of each of the first `positions`
/// of account 1's 32 markets (traded in pairs), and a sell order of each on market 1 at
/// its mark: the makers of a match of 16 makers.
fn makers_holding_the_same_markets(
    chain: &mut Chain,
    block: &BlockContext,
    expiry: u64,
    first: u64,
    positions: usize,
) -> (Vec<PrivateKeySigner>, Vec<(SignedOrder, u64)>) {
    let alice = common::signer(1).address();
    let markets: Vec<u32> = chain
        .state
        .ledger
        .clearinghouse()
        .portfolio(&alice)
        .positions
        .iter()
        .map(|p| p.market)
        .collect();
    let prices: std::collections::BTreeMap<u32, u64> = markets
        .iter()
        .map(|market| (*market, mark_on_grid(chain, *market)))
        .collect();
    let keys: Vec<PrivateKeySigner> = (first..first + 16)
        .map(|k| PrivateKeySigner::from_bytes(&B256::from(U256::from(0xB00C + k))).unwrap())
        .collect();
    fund(chain, block, &keys, 400 + first, expiry);
    let order = |owner: &PrivateKeySigner, market: u32, is_buy: bool, tif: u8, nonce: u64| {
        one_contract(owner, market, prices[&market], is_buy, tif, nonce, expiry)
    };
    // In pairs: the first buys one contract of every market from the second.
    for (pair, two) in keys.chunks(2).enumerate() {
        for (i, market) in markets.iter().take(positions).enumerate() {
            let nonce = 10_000 + 100 * pair as u64 + i as u64;
            let trade = Transaction::Match {
                taker: order(&two[0], *market, true, 1, nonce),
                makers: vec![(order(&two[1], *market, false, 0, nonce), 1_000_000)],
            };
            run(chain, trade, block);
        }
    }
    let makers = keys
        .iter()
        .enumerate()
        .map(|(k, key)| (order(key, 1, false, 0, 20_000 + k as u64), 1_000_000))
        .collect();
    (keys, makers)
}

/// A new account holding one contract long of each of 31 new perpetuals (none of which
/// account 1 holds), bought from another new account, and its ask for one contract of
/// market 1 at its mark: the heaviest one-maker match the STF takes is account 1 buying
/// it (63 positions over 63 markets; with both portfolios full the traded market would
/// be a 33rd position for one of them).
fn account_of_31_other_markets(
    chain: &mut Chain,
    block: &mut BlockContext,
    expiry: u64,
) -> (PrivateKeySigner, SignedOrder) {
    let keys: Vec<PrivateKeySigner> = [0xD15_u64, 0xE15]
        .into_iter()
        .map(|k| PrivateKeySigner::from_bytes(&B256::from(U256::from(k))).unwrap())
        .collect();
    fund(chain, block, &keys, 520, expiry);
    for (i, market) in (200..231).enumerate() {
        run(
            chain,
            common::list_perpetual(market, 530 + i as u64, expiry),
            block,
        );
    }
    // The new perpetuals get their vectors from the next update.
    block.number += 1;
    block.timestamp_ms += 1_000;
    run(
        chain,
        common::price_update(1, 3_030_000_000, block.timestamp_ms),
        block,
    );
    for (i, market) in (200..231).enumerate() {
        let price = mark_on_grid(chain, market);
        let nonce = 30_000 + i as u64;
        let trade = Transaction::Match {
            taker: one_contract(&keys[0], market, price, true, 1, nonce, expiry),
            makers: vec![(
                one_contract(&keys[1], market, price, false, 0, nonce, expiry),
                1_000_000,
            )],
        };
        run(chain, trade, block);
    }
    let ask = one_contract(
        &keys[0],
        1,
        mark_on_grid(chain, 1),
        false,
        0,
        31_000,
        expiry,
    );
    let [holder, _] = <[PrivateKeySigner; 2]>::try_from(keys).unwrap();
    (holder, ask)
}

/// A new account holding one contract long of each of account 1's 32 markets (bought
/// from account 2) with all its free margin withdrawn and a resting bid for one more ETH,
/// then ETH falls 9 % at a time until it is below its maintenance margin, to be
/// liquidated (and its bid retired as unaffordable). Returns its address and the bid's
/// hash.
fn thin_account_of_32_positions(
    chain: &mut Chain,
    block: &mut BlockContext,
    expiry: u64,
) -> (Address, B256) {
    let domain = common::domain();
    let key = PrivateKeySigner::from_bytes(&B256::from(U256::from(0x7417))).unwrap();
    let mint = Action::Mint(Mint {
        to: key.address(),
        amount: 1_000_000_000_000,
        nonce: 570,
        expiryMs: expiry,
    });
    run(chain, signed(&common::signer(0), mint, &domain), block);
    let deposit = Action::DepositMargin(DepositMargin {
        amount: 900_000_000_000,
        nonce: 1,
        expiryMs: expiry,
    });
    run(chain, signed(&key, deposit, &domain), block);
    let alice = common::signer(1).address();
    let markets: Vec<(u32, u64)> = chain
        .state
        .ledger
        .clearinghouse()
        .portfolio(&alice)
        .positions
        .iter()
        .map(|p| (p.market, mark_on_grid(chain, p.market)))
        .collect();
    let bob = common::signer(2);
    for (i, (market, price)) in markets.into_iter().enumerate() {
        let nonce = 30_000 + i as u64;
        let order = |owner: &PrivateKeySigner, is_buy: bool, tif: u8| {
            one_contract(owner, market, price, is_buy, tif, nonce, expiry)
        };
        let trade = Transaction::Match {
            taker: order(&key, true, 1),
            makers: vec![(order(&bob, false, 0), 1_000_000)],
        };
        run(chain, trade, block);
    }
    let clearinghouse = chain.state.ledger.clearinghouse();
    let risk = clearinghouse
        .risk_of(&clearinghouse.portfolio(&key.address()))
        .unwrap();
    let withdraw = Action::WithdrawMargin(WithdrawMargin {
        amount: (risk.equity - risk.margin.initial as i128) as u128,
        nonce: 2,
        expiryMs: expiry,
    });
    run(chain, signed(&key, withdraw, &domain), block);
    let bid = Order {
        market: 1,
        isBuy: true,
        limitPrice: 3_000_000_000,
        size: 1_000_000,
        timeInForce: 0,
        reduceOnly: false,
        expiryMs: expiry,
        clientOrderId: 31_000,
        nonce: 31_000,
    };
    let bid_hash = bid.hash(&domain);
    let placement = SignedOrder {
        signature: key.sign_hash_sync(&bid_hash).unwrap(),
        order: bid,
    };
    run(chain, Transaction::PlaceOrder(placement), block);
    let mut index = 3_030_000_000u64;
    for _ in 0..5 {
        block.number += 1;
        block.timestamp_ms += 1_000;
        index = index * 91 / 100;
        run(
            chain,
            common::price_update(1, index, block.timestamp_ms),
            block,
        );
        let clearinghouse = chain.state.ledger.clearinghouse();
        let risk = clearinghouse
            .risk_of(&clearinghouse.portfolio(&key.address()))
            .unwrap();
        if risk.equity < risk.margin.maintenance as i128 {
            return (key.address(), bid_hash);
        }
    }
    panic!("still above maintenance after ETH fell 38 %")
}

/// Gives account 1 the most positions an account may hold (32: the genesis' 8 markets and
/// 24 perpetuals the operator lists), bought from account 2, then moves the index so that
/// every perpetual position owes funding when next normalised.
fn hold_positions_owing_funding(chain: &mut Chain, block: &mut BlockContext, expiry: u64) {
    let listed: Vec<u32> = (100..124).collect();
    for (i, market) in listed.iter().enumerate() {
        let listing = common::list_perpetual(*market, 200 + i as u64, expiry);
        run(chain, listing, block);
    }
    for who in [1, 2] {
        let deposit = Action::DepositMargin(DepositMargin {
            amount: 500_000_000_000,
            nonce: 300,
            expiryMs: expiry,
        });
        run(
            chain,
            signed(&common::signer(who), deposit, &common::domain()),
            block,
        );
    }
    run(
        chain,
        common::price_update(1, 3_000_000_000, block.timestamp_ms),
        block,
    );
    run(
        chain,
        common::price_update(2, 60_000_000_000, block.timestamp_ms),
        block,
    );
    let markets = [1, 2, 11, 12, 13, 14, 15, 16].into_iter().chain(listed);
    for (i, market) in markets.enumerate() {
        let price = mark_on_grid(chain, market);
        let nonce = 1_000 + 2 * i as u64;
        let trade = Transaction::Match {
            taker: one_contract(&common::signer(1), market, price, true, 1, nonce, expiry),
            makers: vec![(
                one_contract(
                    &common::signer(2),
                    market,
                    price,
                    false,
                    0,
                    nonce + 1,
                    expiry,
                ),
                1_000_000,
            )],
        };
        run(chain, trade, block);
    }
    block.number += 1;
    block.timestamp_ms += 60_000;
    run(
        chain,
        common::price_update(1, 3_030_000_000, block.timestamp_ms),
        block,
    );
    run(
        chain,
        common::price_update(2, 60_600_000_000, block.timestamp_ms),
        block,
    );
    let alice = common::signer(1).address();
    let positions = chain
        .state
        .ledger
        .clearinghouse()
        .portfolio(&alice)
        .positions;
    assert_eq!(positions.len(), 32, "at the bound");
}
