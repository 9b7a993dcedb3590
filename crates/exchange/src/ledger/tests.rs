use super::*;
use crate::genesis::Allocation;
use alloy_primitives::{B256, Signature, U256};
use proptest::prelude::*;
use straddle_primitives::{
    Deposit, DepositMargin, Domain, Mint, SignedAction, Transfer, Withdraw, WithdrawMargin,
};
use straddle_state::SparseMerkleTree;

const OPERATOR: Address = Address::repeat_byte(0xee);

fn user(i: u8) -> Address {
    Address::repeat_byte(i + 1)
}

fn genesis() -> Genesis {
    Genesis {
        domain: Domain {
            chain_id: 1,
            verifying_contract: Address::ZERO,
        },
        timestamp_ms: 0,
        operator: Some(OPERATOR),
        faucet_enabled: true,
        allocations: (0..4)
            .map(|i| Allocation {
                address: user(i),
                amount: Amount(1_000),
            })
            .collect(),
        underlyings: Vec::new(),
        markets: Vec::new(),
    }
}

/// STF tests bypass signatures: `apply` trusts the sender a verified action carries.
fn tx(sender: Address, action: Action) -> VerifiedAction {
    let signed = SignedAction {
        action,
        signature: Signature::new(U256::from(1), U256::from(1), false),
    };
    VerifiedAction {
        signed,
        sender,
        hash: B256::ZERO,
    }
}

fn transfer(to: Address, amount: u128, nonce: u64) -> Action {
    Action::Transfer(Transfer {
        to,
        amount,
        nonce,
        expiryMs: 1_000,
    })
}

const BLOCK: BlockContext = BlockContext {
    number: 1,
    timestamp_ms: 500,
};

fn dump(ledger: &Ledger) -> BTreeMap<StateKey, Vec<u8>> {
    let mut keys: Vec<StateKey> = ledger
        .accounts
        .keys()
        .map(|a| StateKey::Account(*a))
        .collect();
    keys.extend(ledger.withdrawals.keys().map(|i| StateKey::Withdrawal(*i)));
    keys.extend(
        ledger
            .clearinghouse
            .portfolios()
            .map(|(a, _)| StateKey::Portfolio(*a)),
    );
    keys.push(StateKey::Totals);
    keys.push(StateKey::ClearingTotals);
    keys.into_iter()
        .filter_map(|k| ledger.leaf_value(&k).map(|v| (k, v)))
        .collect()
}

#[test]
fn transfer_moves_collateral_and_consumes_nonce() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    ledger
        .apply(&tx(user(0), transfer(user(1), 300, 7)), &BLOCK)
        .unwrap();
    assert_eq!(ledger.account(&user(0)).unwrap().collateral, Amount(700));
    assert_eq!(ledger.account(&user(1)).unwrap().collateral, Amount(1_300));
    assert_eq!(ledger.account(&user(0)).unwrap().nonces, vec![7]);
    assert_eq!(
        ledger.apply(&tx(user(0), transfer(user(1), 1, 7)), &BLOCK),
        Err(TxError::NonceReplayed(7))
    );
}

#[test]
fn deposits_are_credited_once_in_order_and_extend_the_hash_chain() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let first = l1_deposit(0, 1, 250);
    ledger.apply_deposit(&first).unwrap();
    assert_eq!(ledger.account(&user(1)).unwrap().collateral, Amount(1_250));
    let before = dump(&ledger);
    for refused in [first, l1_deposit(2, 1, 5)] {
        assert!(matches!(
            ledger.apply_deposit(&refused),
            Err(TxError::DepositOutOfOrder { expected: 1, .. })
        ));
    }
    assert_eq!(
        ledger.apply_deposit(&l1_deposit(1, 1, 0)),
        Err(TxError::ZeroAmount)
    );
    assert_eq!(dump(&ledger), before, "a refused deposit changes nothing");
    let second = l1_deposit(1, 9, 40);
    ledger.apply_deposit(&second).unwrap();
    let totals = ledger.totals();
    assert_eq!(totals.deposit_count, 2);
    assert_eq!(totals.deposited, Amount(290));
    let chain = straddle_primitives::deposit::accumulate(
        &straddle_primitives::deposit::accumulate(&B256::ZERO, &first.l1_hash()),
        &second.l1_hash(),
    );
    assert_eq!(totals.deposit_accumulator, chain);
    assert!(ledger.is_conserved());
}

#[test]
fn refusals_change_nothing() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    ledger.take_changes();
    let before = dump(&ledger);
    let cases = [
        (
            user(0),
            transfer(user(1), 1_001, 1),
            TxError::InsufficientBalance {
                available: Amount(1_000),
                needed: Amount(1_001),
            },
        ),
        (user(0), transfer(user(1), 0, 1), TxError::ZeroAmount),
        (
            user(0),
            Action::Transfer(Transfer {
                to: user(1),
                amount: 1,
                nonce: 1,
                expiryMs: 499,
            }),
            TxError::Expired {
                expiry_ms: 499,
                block_ms: 500,
            },
        ),
        (
            user(0),
            Action::Mint(Mint {
                to: user(0),
                amount: 5,
                nonce: 1,
                expiryMs: 1_000,
            }),
            TxError::Unauthorized,
        ),
        (
            user(9),
            Action::Withdraw(Withdraw {
                recipient: user(9),
                amount: 1,
                nonce: 1,
                expiryMs: 1_000,
            }),
            TxError::InsufficientBalance {
                available: Amount(0),
                needed: Amount(1),
            },
        ),
    ];
    for (sender, action, expected) in cases {
        assert_eq!(ledger.apply(&tx(sender, action), &BLOCK), Err(expected));
        assert_eq!(dump(&ledger), before);
        assert!(ledger.take_changes().is_empty());
    }
}

#[test]
fn nonce_window_rejects_stale_and_accepts_out_of_order() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    for nonce in (100..100 + NONCE_WINDOW_LEN as u64).rev() {
        ledger
            .apply(&tx(user(0), transfer(user(1), 1, nonce)), &BLOCK)
            .unwrap();
    }
    assert_eq!(
        ledger.apply(&tx(user(0), transfer(user(1), 1, 99)), &BLOCK),
        Err(TxError::NonceStale {
            nonce: 99,
            lowest: 100
        })
    );
    ledger
        .apply(&tx(user(0), transfer(user(1), 1, 500)), &BLOCK)
        .unwrap();
    // 100 fell out of the window, so it is now stale rather than replayed.
    assert_eq!(
        ledger.apply(&tx(user(0), transfer(user(1), 1, 100)), &BLOCK),
        Err(TxError::NonceStale {
            nonce: 100,
            lowest: 101
        })
    );
    assert_eq!(
        ledger.account(&user(0)).unwrap().nonces.len(),
        NONCE_WINDOW_LEN
    );
}

#[test]
fn withdrawal_is_recorded_and_mint_needs_operator() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let w = Action::Withdraw(Withdraw {
        recipient: user(3),
        amount: 250,
        nonce: 1,
        expiryMs: 1_000,
    });
    let outcome = ledger.apply(&tx(user(2), w), &BLOCK).unwrap();
    assert_eq!(outcome.withdrawal_index, Some(0));
    assert_eq!(ledger.withdrawal(0).unwrap().amount, Amount(250));
    assert_eq!(ledger.totals().withdrawn, Amount(250));
    let mint = Action::Mint(Mint {
        to: user(5),
        amount: 42,
        nonce: 1,
        expiryMs: 1_000,
    });
    ledger.apply(&tx(OPERATOR, mint), &BLOCK).unwrap();
    assert_eq!(ledger.account(&user(5)).unwrap().collateral, Amount(42));
    assert!(ledger.is_conserved());
}

#[test]
fn leaves_round_trip_through_storage_form() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    ledger
        .apply(&tx(user(0), transfer(user(7), 3, 1)), &BLOCK)
        .unwrap();
    let w = Action::Withdraw(Withdraw {
        recipient: user(3),
        amount: 5,
        nonce: 2,
        expiryMs: 1_000,
    });
    ledger.apply(&tx(user(0), w), &BLOCK).unwrap();
    let leaves: Vec<_> = dump(&ledger)
        .into_iter()
        .map(|(k, v)| (k.encode(), v))
        .collect();
    let rebuilt = Ledger::from_leaves(&genesis(), leaves).unwrap();
    assert_eq!(dump(&rebuilt), dump(&ledger));
}

#[test]
fn margin_deposits_and_withdrawals_move_collateral_and_cash() {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let deposit = Action::DepositMargin(DepositMargin {
        amount: 400,
        nonce: 1,
        expiryMs: 1_000,
    });
    ledger.apply(&tx(user(0), deposit), &BLOCK).unwrap();
    assert_eq!(ledger.account(&user(0)).unwrap().collateral, Amount(600));
    assert_eq!(ledger.clearinghouse().portfolio(&user(0)).cash, 400);
    assert!(ledger.is_conserved());
    let too_much = Action::WithdrawMargin(WithdrawMargin {
        amount: 401,
        nonce: 2,
        expiryMs: 1_000,
    });
    let before = dump(&ledger);
    assert!(matches!(
        ledger.apply(&tx(user(0), too_much), &BLOCK),
        Err(TxError::Margin(
            crate::clearinghouse::ClearingError::InsufficientCash { .. }
        ))
    ));
    assert_eq!(dump(&ledger), before);
    let back = Action::WithdrawMargin(WithdrawMargin {
        amount: 400,
        nonce: 3,
        expiryMs: 1_000,
    });
    ledger.apply(&tx(user(0), back), &BLOCK).unwrap();
    assert_eq!(ledger.account(&user(0)).unwrap().collateral, Amount(1_000));
    // An empty margin account has no leaf.
    assert_eq!(ledger.leaf_value(&StateKey::Portfolio(user(0))), None);
    let changes = ledger.take_changes();
    assert!(
        changes
            .iter()
            .any(|c| c.key == StateKey::Portfolio(user(0)).encode() && c.value.is_none())
    );
}

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: u8,
        to: u8,
        amount: u128,
        nonce: u64,
    },
    Withdraw {
        from: u8,
        amount: u128,
        nonce: u64,
    },
    Mint {
        by_operator: bool,
        to: u8,
        amount: u128,
        nonce: u64,
    },
    Margin {
        deposit: bool,
        from: u8,
        amount: u128,
        nonce: u64,
    },
    /// An L1 deposit (index chosen at random, so most are out of order).
    L1Deposit {
        index: u64,
        to: u8,
        amount: u128,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![0u128..1_500, Just(u128::MAX), Just(u128::MAX / 2)];
    prop_oneof![
        (0u8..6, 0u8..6, amount.clone(), 0u64..80).prop_map(|(from, to, amount, nonce)| {
            Op::Transfer {
                from,
                to,
                amount,
                nonce,
            }
        }),
        (0u8..6, amount.clone(), 0u64..80).prop_map(|(from, amount, nonce)| Op::Withdraw {
            from,
            amount,
            nonce
        }),
        (any::<bool>(), 0u8..6, amount.clone(), 0u64..80).prop_map(
            |(by_operator, to, amount, nonce)| {
                Op::Mint {
                    by_operator,
                    to,
                    amount,
                    nonce,
                }
            }
        ),
        (any::<bool>(), 0u8..6, amount.clone(), 0u64..80).prop_map(
            |(deposit, from, amount, nonce)| {
                Op::Margin {
                    deposit,
                    from,
                    amount,
                    nonce,
                }
            }
        ),
        (0u64..4, 0u8..6, amount).prop_map(|(index, to, amount)| Op::L1Deposit {
            index,
            to,
            amount
        }),
    ]
}

fn apply_op(ledger: &mut Ledger, op: &Op, block: &BlockContext) -> Result<Outcome, TxError> {
    match *op {
        Op::L1Deposit { index, to, amount } => ledger.apply_deposit(&l1_deposit(index, to, amount)),
        _ => ledger.apply(&to_tx(op), block),
    }
}

fn l1_deposit(index: u64, to: u8, amount: u128) -> Deposit {
    Deposit {
        index,
        from: Address::repeat_byte(0xd0),
        recipient: user(to),
        amount,
    }
}

fn to_tx(op: &Op) -> VerifiedAction {
    match *op {
        Op::Transfer {
            from,
            to,
            amount,
            nonce,
        } => tx(user(from), transfer(user(to), amount, nonce)),
        Op::Withdraw {
            from,
            amount,
            nonce,
        } => tx(
            user(from),
            Action::Withdraw(Withdraw {
                recipient: user(from),
                amount,
                nonce,
                expiryMs: 1_000,
            }),
        ),
        Op::Mint {
            by_operator,
            to,
            amount,
            nonce,
        } => tx(
            if by_operator { OPERATOR } else { user(to) },
            Action::Mint(Mint {
                to: user(to),
                amount,
                nonce,
                expiryMs: 1_000,
            }),
        ),
        Op::L1Deposit { .. } => unreachable!("deposits are not signed actions"),
        Op::Margin {
            deposit,
            from,
            amount,
            nonce,
        } => tx(
            user(from),
            if deposit {
                Action::DepositMargin(DepositMargin {
                    amount,
                    nonce,
                    expiryMs: 1_000,
                })
            } else {
                Action::WithdrawMargin(WithdrawMargin {
                    amount,
                    nonce,
                    expiryMs: 1_000,
                })
            },
        ),
    }
}

/// Runs `ops` in blocks of 7 and returns the state root after each block.
fn roots(ops: &[Op]) -> Vec<B256> {
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    let mut tree = SparseMerkleTree::new();
    let mut out = Vec::new();
    for (number, chunk) in ops.chunks(7).enumerate() {
        let block = BlockContext {
            number: number as u64 + 1,
            timestamp_ms: 500,
        };
        for op in chunk {
            let _ = apply_op(&mut ledger, op, &block);
        }
        tree.update_batch(
            ledger
                .take_changes()
                .iter()
                .map(LeafChange::tree_update)
                .collect(),
        );
        out.push(tree.root());
    }
    out
}

proptest! {
    /// Over random action sequences: collateral is conserved after every action, a refused
    /// action changes no leaf, and replaying the same sequence gives the same roots.
    #[test]
    fn conservation_atomicity_and_determinism(ops in prop::collection::vec(op(), 1..200)) {
        let mut ledger = Ledger::genesis(&genesis()).unwrap();
        for op in &ops {
            let before = dump(&ledger);
            let result = apply_op(&mut ledger, op, &BLOCK);
            prop_assert!(ledger.is_conserved());
            if result.is_err() {
                prop_assert_eq!(dump(&ledger), before);
            }
        }
        prop_assert_eq!(roots(&ops), roots(&ops));
    }
}

#[test]
fn forced_transactions_are_recorded_in_order_and_hash_chained() {
    use straddle_primitives::ForcedTransaction;
    let mut ledger = Ledger::genesis(&genesis()).unwrap();
    ledger.take_changes();
    assert_eq!(
        ledger.leaf_value(&StateKey::ForcedQueue),
        None,
        "absent at first"
    );
    let forced = |index: u64| ForcedTransaction {
        index,
        sender: user(3),
        bytes: vec![index as u8; 5],
    };
    assert_eq!(
        ledger.apply_forced(&forced(1)),
        Err(TxError::ForcedOutOfOrder {
            expected: 0,
            got: 1
        })
    );
    ledger.apply_forced(&forced(0)).unwrap();
    ledger.apply_forced(&forced(1)).unwrap();
    assert!(ledger.apply_forced(&forced(1)).is_err(), "each index once");
    let queue = ledger.forced_queue();
    assert_eq!(queue.count, 2);
    let chain = straddle_primitives::forced::accumulate_forced(
        &straddle_primitives::forced::accumulate_forced(&B256::ZERO, &forced(0).l1_hash()),
        &forced(1).l1_hash(),
    );
    assert_eq!(queue.accumulator, chain);
    let leaf = ledger.leaf_value(&StateKey::ForcedQueue).unwrap();
    assert_eq!(leaf.len(), 40);
    // The leaf restores the queue.
    let restored =
        Ledger::from_leaves(&genesis(), [(StateKey::ForcedQueue.encode(), leaf)]).unwrap();
    assert_eq!(restored.forced_queue(), queue);
}
