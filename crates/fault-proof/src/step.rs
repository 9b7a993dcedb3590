//! Input for the L1 one-step prover (`contracts/src/StepProver.sol`,
//! `docs/spec/disputes.md` §4): executes one transaction on a chain as derivation does
//! and records the leaves the prover reads, in the order it writes them, each with its
//! value before the transaction and a proof (against the root after the previous leaves'
//! writes, or against the pre-state root when the transaction is refused).

use alloy_primitives::{Address, B256, Bytes};
use std::collections::BTreeMap;
use straddle_chain::{Chain, ChainError, replay_error, stored_block};
use straddle_exchange::orders::MatchWeight;
use straddle_exchange::{BlockContext, Genesis, Ledger, StateKey, StrikeCache};
use straddle_l1::deploy::{ProverRiskParams, ProverUnderlying};
use straddle_l1::disputes::{
    StepInput, StepLeaf, StepPreimage, StepTerminal, SubStepInput, encode_step_witness,
};
use straddle_primitives::block::{transaction_leaf, transactions_proof};
use straddle_primitives::{Action, Transaction, VerifiedOrder, VerifiedTransaction};
use straddle_state::{Preimage, SparseMerkleTree, Terminal, key_hash, value_hash};
use straddle_storage::chain_store::ChainStore;

/// Why no step input can be built.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The prover does not cover this kind of transaction yet.
    #[error("the one-step prover does not cover {0} yet")]
    Unsupported(&'static str),
    /// The transaction wrote a leaf the prover's rule for its kind does not read: the
    /// two disagree on what the kind touches.
    #[error("the transaction wrote leaf {0} that the prover does not read")]
    UnreadWrite(String),
    /// Only an oracle update has sub-steps.
    #[error("the transaction is not an oracle update")]
    NotAnOracleUpdate,
    /// The block has fewer transactions.
    #[error("block {number} has no transaction {index}")]
    NoSuchTransaction {
        /// The block.
        number: u64,
        /// The index asked for.
        index: usize,
    },
    /// The chain could not be replayed to the block.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// The state root of stored block `number` at every position of the dispute game's
/// transaction level: before its first transaction (the parent's root), then after each
/// (a refused transaction keeps the root). `chain` must be at block `number − 1`; it is
/// left after the block's last transaction, unsealed, so callers replay afresh after.
pub fn block_positions(
    chain: &mut Chain,
    store: &ChainStore,
    number: u64,
) -> Result<Vec<B256>, ChainError> {
    let (header, stored) = stored_block(store, number)?;
    let block = BlockContext {
        number,
        timestamp_ms: header.timestamp_ms,
    };
    let mut roots = Vec::with_capacity(stored.len() + 1);
    roots.push(chain.tip.tree.root());
    for tx in stored {
        let _ = execute_into_tree(chain, tx.tx, &block);
        roots.push(chain.tip.tree.root());
    }
    Ok(roots)
}

/// Executes `tx` on `chain` as derivation does and writes its leaf changes into the tree
/// at once (not at the block's end), so that the root is the one after it; returns the
/// refusal, if the STF refused it (it then changed nothing).
pub fn execute_into_tree(
    chain: &mut Chain,
    tx: Transaction,
    block: &BlockContext,
) -> Result<(), String> {
    let (_, outcome) = chain.state.execute_derived(tx, block);
    for change in chain.state.ledger.take_changes() {
        let (key, value) = change.tree_update();
        chain.tip.tree.update(key, value);
    }
    outcome.map(|_| ())
}

/// What the game's `step` needs for transaction `index` of stored block `number`: the
/// prover's input and the transaction's proof against the block's transactions root
/// (siblings, bottom up). `chain` must be at block `number − 1` and is left mid-block.
pub fn step_at(
    chain: &mut Chain,
    store: &ChainStore,
    number: u64,
    index: usize,
) -> Result<(StepInput, Vec<B256>), StepError> {
    let (tx, siblings, block) = transaction_at(chain, store, number, index)?;
    Ok((execute_step(chain, tx, &block)?, siblings))
}

/// The sub-steps of oracle update `index` of stored block `number`
/// ([`oracle_sub_steps`]). `chain` must be at block `number − 1` and is left mid-block.
pub fn oracle_sub_steps_at(
    chain: &mut Chain,
    store: &ChainStore,
    number: u64,
    index: usize,
) -> Result<OracleSubSteps, StepError> {
    let (tx, _, block) = transaction_at(chain, store, number, index)?;
    oracle_sub_steps(chain, &tx, &block)
}

/// Transaction `index` of stored block `number`, its proof against the block's
/// transactions root (siblings, bottom up) and the block's context, with `chain` (at
/// block `number − 1`) brought to the state before it.
fn transaction_at(
    chain: &mut Chain,
    store: &ChainStore,
    number: u64,
    index: usize,
) -> Result<(Transaction, Vec<B256>, BlockContext), StepError> {
    let (header, stored) = stored_block(store, number)?;
    if index >= stored.len() {
        return Err(StepError::NoSuchTransaction { number, index });
    }
    let leaves: Vec<B256> = stored
        .iter()
        .map(|tx| transaction_leaf(&tx.tx.encode()))
        .collect();
    let siblings =
        transactions_proof(&leaves, index).ok_or(StepError::NoSuchTransaction { number, index })?;
    let block = BlockContext {
        number,
        timestamp_ms: header.timestamp_ms,
    };
    let mut transactions = stored.into_iter().map(|tx| tx.tx);
    for tx in transactions.by_ref().take(index) {
        let _ = execute_into_tree(chain, tx, &block);
    }
    let tx = transactions
        .next()
        .ok_or(StepError::NoSuchTransaction { number, index })?;
    Ok((tx, siblings, block))
}

/// The leaves the prover reads for `tx` on `ledger`, in its write order (see
/// `StepProver.sol`). A signed transaction whose signature does not recover reads none.
pub fn step_keys(
    tx: &Transaction,
    ledger: &Ledger,
    genesis: &Genesis,
) -> Result<Vec<StateKey>, StepError> {
    match tx {
        Transaction::Deposit(deposit) => {
            Ok(vec![StateKey::Account(deposit.recipient), StateKey::Totals])
        }
        // An undecodable batch item changes nothing and reads nothing.
        Transaction::Undecodable => Ok(Vec::new()),
        Transaction::Forced(forced) => {
            let mut keys = vec![StateKey::ForcedQueue];
            if forced.index != ledger.forced_queue().count {
                // Refused whole: only the queue is read.
                return Ok(keys);
            }
            match Transaction::decode(&forced.bytes) {
                Ok(inner @ (Transaction::Action(_) | Transaction::Cancel(_))) => {
                    keys.extend(step_keys(&inner, ledger, genesis)?)
                }
                Ok(inner @ Transaction::BulkCancel { .. }) => {
                    keys.extend(step_keys(&inner, ledger, genesis)?)
                }
                // Does not decode, or may not be forced: only the inclusion.
                _ => {}
            }
            Ok(keys)
        }
        Transaction::PlaceOrders { .. } => Ok(match tx.clone().verify(&genesis.domain) {
            // The orders' markets (read), the records of the cancels then the orders, the
            // clearing totals, the signer's account: each once, first-seen order.
            Ok(VerifiedTransaction::PlaceOrders {
                owner,
                cancels,
                orders,
                ..
            }) => {
                let mut keys: Vec<StateKey> =
                    Vec::with_capacity(2 * orders.len() + cancels.len() + 2);
                let mut add = |key: StateKey| {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                };
                orders
                    .iter()
                    .for_each(|(order, _)| add(StateKey::Market(order.market)));
                cancels
                    .iter()
                    .for_each(|hash| add(StateKey::Order(owner, *hash)));
                orders
                    .iter()
                    .for_each(|(_, hash)| add(StateKey::Order(owner, *hash)));
                keys.extend([StateKey::ClearingTotals, StateKey::Account(owner)]);
                keys
            }
            _ => Vec::new(),
        }),
        Transaction::Match { .. } | Transaction::MatchPlaced { .. } => {
            Ok(match tx.clone().verify(&genesis.domain) {
                Ok(VerifiedTransaction::Match { taker, makers })
                | Ok(VerifiedTransaction::MatchPlaced { taker, makers }) => {
                    match_keys(ledger, &taker, makers.iter().map(|(maker, _)| maker))
                }
                _ => Vec::new(),
            })
        }
        Transaction::Liquidate(_) => Ok(match tx.clone().verify(&genesis.domain) {
            // The markets the two portfolios need (read), the liquidator's account (its
            // nonce), the target's portfolio, the liquidator's, the market, the totals.
            Ok(VerifiedTransaction::Liquidate {
                liquidator,
                liquidate,
            }) => {
                let mut owners = vec![liquidate.target];
                add_once(&mut owners, liquidator);
                let mut keys = read_markets(ledger, &owners, liquidate.market);
                keys.push(StateKey::Account(liquidator));
                keys.extend(owners.into_iter().map(StateKey::Portfolio));
                keys.extend([StateKey::Market(liquidate.market), StateKey::ClearingTotals]);
                keys
            }
            _ => Vec::new(),
        }),
        Transaction::CloseMarket { .. } => Ok(match tx.clone().verify(&genesis.domain) {
            // The operator's only (anyone else is refused before a leaf is read): the
            // underlying's leaf (its active markets' count falls), the operator's
            // account, the market; the account and the market alone when there is no
            // such market.
            Ok(VerifiedTransaction::CloseMarket { signer, close })
                if genesis.operator == Some(signer) =>
            {
                match ledger.clearinghouse().market(close.market) {
                    Some(market) => vec![
                        StateKey::Oracle(market.spec.underlying),
                        StateKey::Account(signer),
                        StateKey::Market(close.market),
                    ],
                    None => vec![StateKey::Account(signer), StateKey::Market(close.market)],
                }
            }
            _ => Vec::new(),
        }),
        Transaction::ListMarket { .. } => Ok(match tx.clone().verify(&genesis.domain) {
            // The operator's only (anyone else is refused before a leaf is read): the
            // underlying's leaf (known, and its active markets' count), the operator's
            // account, the new market.
            Ok(VerifiedTransaction::ListMarket { signer, listing })
                if genesis.operator == Some(signer) =>
            {
                vec![
                    StateKey::Oracle(listing.underlying),
                    StateKey::Account(signer),
                    StateKey::Market(listing.market),
                ]
            }
            _ => Vec::new(),
        }),
        Transaction::RetireOrder(retire) => {
            // A resting placed order: the markets of the owner's positions but the
            // order's (read), the order's market, the owner's portfolio, the record (the
            // only leaf written); anything else: the record alone.
            let record = StateKey::Order(retire.owner, retire.order_hash);
            let resting = ledger
                .orders()
                .record(&retire.owner, &retire.order_hash)
                .filter(|r| !r.cancelled)
                .and_then(|r| r.placed.as_ref().filter(|p| r.filled < p.order.size));
            Ok(match resting {
                Some(placement) => {
                    let market = placement.order.market;
                    let mut keys = read_markets(ledger, &[retire.owner], market);
                    keys.extend([
                        StateKey::Market(market),
                        StateKey::Portfolio(retire.owner),
                        record,
                    ]);
                    keys
                }
                None => vec![record],
            })
        }
        Transaction::AutoDeleverage(adl) => {
            // As a liquidation's, without an account: the markets the two portfolios
            // need (read), the target's portfolio, the counterparty's, the market, the
            // totals.
            let mut owners = vec![adl.target];
            add_once(&mut owners, adl.counterparty);
            let mut keys = read_markets(ledger, &owners, adl.market);
            keys.extend(owners.into_iter().map(StateKey::Portfolio));
            keys.extend([StateKey::Market(adl.market), StateKey::ClearingTotals]);
            Ok(keys)
        }
        Transaction::PlaceOrder(_) => Ok(match tx.clone().verify(&genesis.domain) {
            // The market (read), the owner's order record, the clearing totals.
            Ok(VerifiedTransaction::PlaceOrder(order)) => vec![
                StateKey::Market(order.order.market),
                StateKey::Order(order.owner, order.hash),
                StateKey::ClearingTotals,
            ],
            _ => Vec::new(),
        }),
        Transaction::Action(_) | Transaction::Cancel(_) | Transaction::BulkCancel { .. } => {
            let Ok(verified) = tx.clone().verify(&genesis.domain) else {
                return Ok(Vec::new());
            };
            Ok(match verified {
                VerifiedTransaction::Action(action) => {
                    let sender = action.sender;
                    match &action.signed.action {
                        Action::Transfer(transfer) if transfer.to != sender => {
                            vec![StateKey::Account(sender), StateKey::Account(transfer.to)]
                        }
                        Action::Withdraw(_) => vec![
                            StateKey::Account(sender),
                            StateKey::Withdrawal(ledger.totals().withdrawal_count),
                            StateKey::Totals,
                        ],
                        // Only the operator mints, with the faucet on: anyone else is
                        // refused before a leaf is read.
                        Action::Mint(_) if faucet_operator(genesis) != Some(sender) => Vec::new(),
                        Action::Mint(mint) if mint.to != sender => vec![
                            StateKey::Account(sender),
                            StateKey::Account(mint.to),
                            StateKey::Totals,
                        ],
                        Action::Mint(_) => vec![StateKey::Account(sender), StateKey::Totals],
                        Action::DepositMargin(_) => {
                            vec![StateKey::Account(sender), StateKey::Portfolio(sender)]
                        }
                        // The markets of the portfolio's positions (read), the account,
                        // the portfolio, the clearing totals (the rounding remainder).
                        Action::WithdrawMargin(_) => {
                            let portfolio = ledger.clearinghouse().portfolio(&sender);
                            let mut keys: Vec<StateKey> = portfolio
                                .positions
                                .iter()
                                .map(|position| StateKey::Market(position.market))
                                .collect();
                            keys.extend([
                                StateKey::Account(sender),
                                StateKey::Portfolio(sender),
                                StateKey::ClearingTotals,
                            ]);
                            keys
                        }
                        _ => vec![StateKey::Account(sender)],
                    }
                }
                VerifiedTransaction::Cancel {
                    signer, order_hash, ..
                } => vec![StateKey::Order(signer, order_hash)],
                VerifiedTransaction::BulkCancel { signer, cancel } => {
                    // Each order once, in first-seen order, then the signer's nonce.
                    let mut keys: Vec<StateKey> = Vec::with_capacity(cancel.orderHashes.len() + 1);
                    for hash in cancel.orderHashes {
                        let key = StateKey::Order(signer, hash);
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                    keys.push(StateKey::Account(signer));
                    keys
                }
                _ => return Err(StepError::Unsupported("this kind")),
            })
        }
        _ => Err(StepError::Unsupported("trading transactions")),
    }
}

/// The leaves a match reads (`MatchStepProver.sol`), each once: the markets of the
/// involved portfolios' positions but the match's own (read only; first seen over the
/// taker's portfolio, then each maker owner's), the order records (the taker's, then the
/// makers'), the portfolios (the taker's, then the maker owners'), the match's market,
/// the clearing totals.
fn match_keys<'a>(
    ledger: &Ledger,
    taker: &VerifiedOrder,
    makers: impl Iterator<Item = &'a VerifiedOrder> + Clone,
) -> Vec<StateKey> {
    let market = taker.order.market;
    let mut owners = vec![taker.owner];
    let mut records = vec![(taker.owner, taker.hash)];
    for maker in makers {
        add_once(&mut owners, maker.owner);
        add_once(&mut records, (maker.owner, maker.hash));
    }
    // A match over the weight bound is refused before any market is read.
    let markets = if MatchWeight::of(ledger.clearinghouse(), market, &owners).fits() {
        read_markets(ledger, &owners, market)
    } else {
        Vec::new()
    };
    markets
        .into_iter()
        .chain(
            records
                .into_iter()
                .map(|(owner, hash)| StateKey::Order(owner, hash)),
        )
        .chain(owners.into_iter().map(StateKey::Portfolio))
        .chain([StateKey::Market(market), StateKey::ClearingTotals])
        .collect()
}

/// The markets `owners`' portfolios hold positions in, but `traded`: each once, first
/// seen in the owners' order (`PortfolioSteps.marketSetOf`).
fn read_markets(ledger: &Ledger, owners: &[Address], traded: u32) -> Vec<StateKey> {
    let mut markets = Vec::new();
    for owner in owners {
        for position in ledger.clearinghouse().portfolio(owner).positions {
            if position.market != traded {
                add_once(&mut markets, StateKey::Market(position.market));
            }
        }
    }
    markets
}

fn add_once<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Executes `tx` on `chain` in `block` as derivation does (a refusal changes nothing)
/// and returns the prover's input for it. The chain's tree is left at the post-state.
/// An oracle update is not stepped whole: its input carries the witness of the game's
/// `disputeOracleUpdate` (the underlying's leaf), and [`oracle_sub_steps`] the rest.
pub fn execute_step(
    chain: &mut Chain,
    tx: Transaction,
    block: &BlockContext,
) -> Result<StepInput, StepError> {
    if let Transaction::OracleUpdate { underlying, .. } = &tx {
        // Too heavy for one step: the game's `disputeOracleUpdate` opens its sub-steps
        // with this witness (the underlying's leaf, for the sub-step count).
        let witness = unchanged_witness(chain, &[StateKey::Oracle(*underlying)]);
        let pre_root = chain.tip.tree.root();
        let transaction = Bytes::from(tx.encode());
        let _ = execute_into_tree(chain, tx, block);
        return Ok(StepInput {
            pre_root,
            block_number: block.number,
            timestamp_ms: block.timestamp_ms,
            transaction,
            witness,
        });
    }
    let keys = step_keys(&tx, &chain.state.ledger, &chain.state.genesis)?;
    let before: Vec<Option<Vec<u8>>> = keys
        .iter()
        .map(|key| chain.state.ledger.leaf_value(key))
        .collect();
    let pre_root = chain.tip.tree.root();
    let transaction = Bytes::from(tx.encode());
    let _ = chain.state.execute_derived(tx, block);
    let leaves = record_leaves(chain, &keys, before)?;
    Ok(StepInput {
        pre_root,
        block_number: block.number,
        timestamp_ms: block.timestamp_ms,
        transaction,
        witness: encode_step_witness(leaves),
    })
}

/// Takes the ledger's leaf changes since the last call (what one transaction or sub-step
/// wrote) into the chain's tree and returns the prover's leaves for `keys`: each with its
/// value `before` and its proof against the root after the previous keys' writes. A
/// change to a key not in `keys` is written too, and is an error (the prover would not
/// see it).
fn record_leaves(
    chain: &mut Chain,
    keys: &[StateKey],
    before: Vec<Option<Vec<u8>>>,
) -> Result<Vec<StepLeaf>, StepError> {
    let mut writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = chain
        .state
        .ledger
        .take_changes()
        .into_iter()
        .map(|change| (change.key, change.value))
        .collect();
    let tree = &mut chain.tip.tree;
    let mut leaves = Vec::with_capacity(keys.len());
    for (key, value) in keys.iter().zip(before) {
        let encoded = key.encode();
        let removed = matches!(writes.get(&encoded), Some(None));
        leaves.push(read_leaf(tree, &encoded, value, removed));
        if let Some(written) = writes.remove(&encoded) {
            tree.update(key_hash(&encoded), written.as_deref().map(value_hash));
        }
    }
    let unread: Vec<String> = writes
        .keys()
        .map(alloy_primitives::hex::encode_prefixed)
        .collect();
    for (key, value) in writes {
        tree.update(key_hash(&key), value.as_deref().map(value_hash));
    }
    match unread.into_iter().next() {
        Some(key) => Err(StepError::UnreadWrite(key)),
        None => Ok(leaves),
    }
}

/// An oracle update as the dispute game's sub-steps (`docs/spec/disputes.md` §4.1).
#[derive(Clone, Debug)]
pub struct OracleSubSteps {
    /// The witness of `OracleStepProver.subStepCount`: the underlying's leaf before the
    /// update.
    pub count_witness: Bytes,
    /// The state root at every position of the sub-step level: before the update, then
    /// after each sub-step (the last is the root after the transaction).
    pub roots: Vec<B256>,
    /// The prover's input for each sub-step, in order.
    pub inputs: Vec<SubStepInput>,
}

/// Executes oracle update `tx` on `chain` in `block` one sub-step at a time, as
/// `OracleStepProver` does: the underlying's M active markets, the highest id first, then
/// its oracle state (M + 1 sub-steps; an update the STF refuses changes nothing at any of
/// them). The chain's tree is left at the post-state, the same as whole execution.
pub fn oracle_sub_steps(
    chain: &mut Chain,
    tx: &Transaction,
    block: &BlockContext,
) -> Result<OracleSubSteps, StepError> {
    let Transaction::OracleUpdate {
        underlying,
        reports,
    } = tx
    else {
        return Err(StepError::NotAnOracleUpdate);
    };
    let oracle = StateKey::Oracle(*underlying);
    let count_witness = unchanged_witness(chain, std::slice::from_ref(&oracle));
    let ledger = &chain.state.ledger;
    let markets = if ledger.leaf_value(&oracle).is_some() {
        ledger.active_market_ids(*underlying)
    } else {
        Vec::new()
    };
    let plan = ledger
        .plan_oracle_update(*underlying, reports, &chain.state.genesis.domain, block)
        .ok();
    let count = markets.len() + 1;
    let transaction = Bytes::from(tx.encode());
    let mut strikes = StrikeCache::default();
    let mut roots = vec![chain.tip.tree.root()];
    let mut inputs = Vec::with_capacity(count);
    for index in 1..=count {
        let market = markets.len().checked_sub(index).map(|place| markets[place]);
        let mut keys = vec![oracle];
        keys.extend(market.map(StateKey::Market));
        let before = keys
            .iter()
            .map(|key| chain.state.ledger.leaf_value(key))
            .collect();
        let pre_root = chain.tip.tree.root();
        if let Some(plan) = &plan {
            match market {
                Some(id) => chain
                    .state
                    .ledger
                    .apply_oracle_market(plan, id, &mut strikes),
                None => {
                    chain.state.ledger.finish_oracle_update(plan.clone());
                }
            }
        }
        let leaves = record_leaves(chain, &keys, before)?;
        roots.push(chain.tip.tree.root());
        inputs.push(SubStepInput {
            pre_root,
            timestamp_ms: block.timestamp_ms,
            transaction: transaction.clone(),
            index: index as u64,
            count: count as u64,
            witness: encode_step_witness(leaves),
        });
    }
    Ok(OracleSubSteps {
        count_witness,
        roots,
        inputs,
    })
}

/// The witness for a transaction the prover refuses while reading `keys`: each leaf's
/// current value and its proof against the chain's current root, nothing written. (A
/// node builds this for a transaction it would itself execute only to show that the
/// prover refuses it: a deposit or forced transaction the Portal never recorded.)
pub fn unchanged_witness(chain: &mut Chain, keys: &[StateKey]) -> Bytes {
    let leaves = keys
        .iter()
        .map(|key| {
            let value = chain.state.ledger.leaf_value(key);
            read_leaf(&mut chain.tip.tree, &key.encode(), value, false)
        })
        .collect();
    encode_step_witness(leaves)
}

/// One leaf for the prover: `value` (the leaf's before the transaction) under the raw
/// key `encoded`, with its proof against `tree`'s current root. A leaf the tree does not
/// hold is absent whatever the ledger reads for it (the clearing totals read as zeros
/// before their first write). A leaf the transaction `removes` carries its last sibling's
/// preimage.
fn read_leaf(
    tree: &mut SparseMerkleTree,
    encoded: &[u8],
    value: Option<Vec<u8>>,
    removes: bool,
) -> StepLeaf {
    let hash = key_hash(encoded);
    let sibling = removes.then(|| tree.last_sibling_preimage(&hash)).flatten();
    let proof = tree.prove(&hash);
    let held = matches!(proof.terminal, Terminal::Leaf { key_hash, .. } if key_hash == hash);
    let value = value.filter(|_| held);
    let terminal = match proof.terminal {
        Terminal::Empty => StepTerminal {
            isLeaf: false,
            keyHash: Default::default(),
            valueHash: Default::default(),
        },
        Terminal::Leaf {
            key_hash,
            value_hash,
        } => StepTerminal {
            isLeaf: true,
            keyHash: key_hash,
            valueHash: value_hash,
        },
    };
    let (is_leaf, a, b) = match sibling {
        Some(Preimage::Leaf {
            key_hash,
            value_hash,
        }) => (true, key_hash, value_hash),
        Some(Preimage::Internal { left, right }) => (false, left, right),
        None => (false, B256::ZERO, B256::ZERO),
    };
    StepLeaf {
        present: value.is_some(),
        value: value.unwrap_or_default().into(),
        siblings: proof.siblings,
        terminal,
        hasSibling: sibling.is_some(),
        sibling: StepPreimage {
            isLeaf: is_leaf,
            a,
            b,
        },
    }
}

/// The one account that may mint: the genesis operator, when the devnet faucet is on
/// (what `StepProver.faucetOperator` holds, zero standing for none).
pub fn faucet_operator(genesis: &Genesis) -> Option<Address> {
    genesis.operator.filter(|_| genesis.faucet_enabled)
}

/// The genesis underlyings as `OracleStepProver` is deployed with them.
pub fn prover_underlyings(genesis: &Genesis) -> Vec<ProverUnderlying> {
    genesis
        .underlyings
        .iter()
        .map(|u| ProverUnderlying {
            id: u.id,
            signers: u.oracle.signers.clone(),
            // A validated genesis has at most 16 signers, so its quorum fits.
            quorum: u8::try_from(u.oracle.quorum).unwrap_or(u8::MAX),
            stalenessMsMax: u.oracle.staleness_ms_max,
            movePpmMax: u.oracle.move_ppm_max,
            fundingPremiumCapPpm: u.funding_premium_cap_ppm,
            risk: ProverRiskParams {
                spotShockMaxPpm: u.risk.spot_shock_max_ppm,
                tailShockPpm: u.risk.tail_shock_ppm,
                volDownPpm: u.risk.vol_down_ppm,
                volUpPpm: u.risk.vol_up_ppm,
                shortOptionMinPpm: u.risk.short_option_min_ppm,
            },
        })
        .collect()
}

/// The state root after every transaction of stored block `number` (what a dispute over
/// one transaction needs): blocks 1…number−1 are replayed, then block `number` is
/// re-executed one transaction at a time, committing each transaction's leaf changes to
/// the tree before taking its root. A transaction the STF refuses (possible only in a
/// block derived from L1) changes nothing, so its root is the previous one. The last
/// root must equal the block's state root.
pub fn per_transaction_roots(
    store: &ChainStore,
    genesis: &Genesis,
    number: u64,
) -> Result<Vec<B256>, ChainError> {
    if number == 0 {
        return Err(replay_error(0, "the genesis block has no transactions"));
    }
    let (mut chain, _) = Chain::from_genesis(genesis)?;
    chain.replay_stored_until(store, number - 1)?;
    let (header, _) = stored_block(store, number)?;
    let mut roots = block_positions(&mut chain, store, number)?;
    roots.remove(0);
    if roots.last() != Some(&header.state_root) {
        return Err(replay_error(
            number,
            "the last per-transaction root differs from the block's state root",
        ));
    }
    Ok(roots)
}
