//! The state transition function's one entry point (`docs/spec/transactions.md`): [`apply`]
//! executes one verified transaction against the ledger, and [`ExecutionState`] executes
//! the transactions of a block in order and closes it with the leaf changes they made.
//! The sequencer, a follower's derivation, replay from the log or the store, the one-step
//! witness builder and the benchmarks all execute through it.

use crate::orders::{MakerFill, Match};
use crate::{BlockContext, Genesis, InvariantViolation, Ledger, Outcome, TxError};
use alloy_primitives::{Address, B256};
use straddle_primitives::block::StoredTx;
use straddle_primitives::{
    Domain, ForcedPayload, SignatureCheckError, Transaction, VerifiedOrder, VerifiedTransaction,
};
use straddle_state::LeafChange;

/// The ledger a sequencer or a replayer executes against, and the last block it closed.
pub struct ExecutionState {
    /// The genesis.
    pub genesis: Genesis,
    /// Ledger state including executed, unsealed transactions.
    pub ledger: Ledger,
    /// Number of the last block closed for sealing (its successor is being built).
    pub last_block_number: u64,
    /// That block's timestamp (the next block's is never earlier).
    pub last_block_timestamp_ms: u64,
}

/// A block whose transactions have executed, waiting for its state root.
pub struct ClosedBlock {
    /// Its number.
    pub number: u64,
    /// Its timestamp.
    pub timestamp_ms: u64,
    /// Its transactions, in order.
    pub transactions: Vec<StoredTx>,
    /// The leaves its transactions changed.
    pub changes: Vec<LeafChange>,
}

/// Applies one transaction whose signatures verified to `ledger` in `block`: the one entry
/// point of the state transition function (`docs/spec/transactions.md` lists the kinds).
/// Every rule refuses before it writes, so a refusal changes nothing.
pub fn apply(
    ledger: &mut Ledger,
    domain: &Domain,
    verified: &VerifiedTransaction,
    block: &BlockContext,
) -> Result<Outcome, TxError> {
    match verified {
        VerifiedTransaction::Forced { forced, payload } => {
            ledger.apply_forced(forced)?;
            // The inclusion stands whatever the payload does: a refused payload
            // changes nothing (every rule refuses before it writes).
            Ok(match payload {
                ForcedPayload::Valid(inner) => {
                    apply(ledger, domain, inner, block).unwrap_or_default()
                }
                ForcedPayload::Invalid(_) => Outcome::default(),
            })
        }
        VerifiedTransaction::Action(action) => ledger.apply(action, block),
        VerifiedTransaction::OracleUpdate {
            underlying,
            reports,
        } => ledger
            .apply_oracle_update(*underlying, reports, domain, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::Match { taker, makers } => ledger
            .apply_match(&to_match(taker, makers, false), block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::Liquidate {
            liquidator,
            liquidate,
        } => ledger
            .apply_signed_liquidation(*liquidator, liquidate, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::MatchPlaced { taker, makers } => ledger
            .apply_match(&to_match(taker, makers, true), block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::PlaceOrder(order) => ledger
            .apply_place_order(order, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::PlaceOrders {
            owner,
            cancels,
            orders,
            nonce,
            expiry_ms,
        } => ledger
            .apply_place_orders(*owner, cancels, orders, *nonce, *expiry_ms, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::BulkCancel { signer, cancel } => ledger
            .apply_bulk_cancel(*signer, cancel, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::ListMarket { signer, listing } => ledger
            .apply_list_market(*signer, listing, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::CloseMarket { signer, close } => ledger
            .apply_close_market(*signer, close, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::RetireOrder(retire) => ledger
            .apply_retire_order(retire.owner, retire.order_hash, block)
            .map(|_| Outcome::default()),
        VerifiedTransaction::Deposit(deposit) => ledger.apply_deposit(deposit),
        // A batch item that did not decode keeps its place and changes nothing.
        VerifiedTransaction::Undecodable => Ok(Outcome::default()),
        VerifiedTransaction::AutoDeleverage(adl) => ledger
            .apply_auto_deleverage(adl.target, adl.market, adl.counterparty, adl.size)
            .map(|_| Outcome::default()),
        VerifiedTransaction::Cancel {
            signer,
            order_hash,
            expiry_ms,
        } => {
            if block.timestamp_ms > *expiry_ms {
                return Err(TxError::Expired {
                    expiry_ms: *expiry_ms,
                    block_ms: block.timestamp_ms,
                });
            }
            ledger.apply_cancel(*signer, *order_hash);
            Ok(Outcome::default())
        }
    }
}

impl ExecutionState {
    /// Closes block `number`: checks the ledger's invariants (in release builds too) and
    /// takes the leaf changes of its executed transactions. A violation is an STF bug:
    /// the block must not be sealed, and the state is left as it is for inspection.
    pub fn close_block(
        &mut self,
        number: u64,
        timestamp_ms: u64,
        transactions: Vec<StoredTx>,
    ) -> Result<ClosedBlock, InvariantViolation> {
        self.ledger.check_invariants()?;
        self.last_block_number = number;
        self.last_block_timestamp_ms = timestamp_ms;
        Ok(ClosedBlock {
            number,
            timestamp_ms,
            transactions,
            changes: self.ledger.take_changes(),
        })
    }

    /// Executes one admitted transaction in the block being built.
    pub fn execute(&mut self, tx: &AdmittedTx, block: &BlockContext) -> Result<Outcome, TxError> {
        apply(&mut self.ledger, &self.genesis.domain, &tx.verified, block)
    }

    /// Executes a transaction of a block that is already decided (derived from L1, or
    /// replayed from the log): its record joins the block either way. Returns the record
    /// and the verified form, or the refusal: a transaction the STF refuses, or whose
    /// signature does not verify, changed nothing and is recorded with a zero sender.
    pub fn execute_derived(
        &mut self,
        tx: Transaction,
        block: &BlockContext,
    ) -> (StoredTx, Result<VerifiedTransaction, String>) {
        let checked = CheckedTx::new(tx, &self.genesis.domain);
        self.execute_checked(checked, block)
    }

    /// [`ExecutionState::execute_derived`] of a transaction whose signatures were
    /// checked already (on other threads: they do not depend on the state).
    pub fn execute_checked(
        &mut self,
        checked: CheckedTx,
        block: &BlockContext,
    ) -> (StoredTx, Result<VerifiedTransaction, String>) {
        let (tx, refusal) = match checked {
            CheckedTx::Admitted(admitted) => match self.execute(&admitted, block) {
                Ok(_) => {
                    let (stored, verified) = admitted.split();
                    return (stored, Ok(verified));
                }
                Err(error) => (admitted.tx, error.to_string()),
            },
            CheckedTx::BadSignature(tx, error) => (tx, error.to_string()),
        };
        let hash = tx.hash(&self.genesis.domain);
        let stored = StoredTx {
            sender: Address::ZERO,
            hash,
            tx,
        };
        (stored, Err(refusal))
    }

    /// Checks a transaction's signatures against this chain's domain.
    pub fn admit(&self, tx: Transaction) -> Result<AdmittedTx, SignatureCheckError> {
        AdmittedTx::new(tx, &self.genesis.domain)
    }
}

/// The exchange's match from a verified match transaction (`placed`: makers named by
/// owner rather than signed).
pub fn to_match(taker: &VerifiedOrder, makers: &[(VerifiedOrder, u64)], placed: bool) -> Match {
    Match {
        taker: taker.clone(),
        makers: makers
            .iter()
            .map(|(maker, size)| MakerFill {
                maker: maker.clone(),
                size: *size,
                placed,
            })
            .collect(),
    }
}

/// A transaction of a decided block after its signature check.
#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "almost every transaction is admitted; boxing would allocate for each"
)]
pub enum CheckedTx {
    /// The signatures verify.
    Admitted(AdmittedTx),
    /// They do not: the transaction stays in the block and changes nothing.
    BadSignature(Transaction, SignatureCheckError),
}

impl CheckedTx {
    /// Checks `tx`'s signatures under `domain`.
    pub fn new(tx: Transaction, domain: &Domain) -> CheckedTx {
        let hash = tx.hash(domain);
        match tx.clone().verify(domain) {
            Ok(verified) => CheckedTx::Admitted(AdmittedTx::from_verified(tx, verified, hash)),
            Err(error) => CheckedTx::BadSignature(tx, error),
        }
    }

    /// The transaction as received.
    pub fn transaction(&self) -> &Transaction {
        match self {
            CheckedTx::Admitted(admitted) => &admitted.tx,
            CheckedTx::BadSignature(tx, _) => tx,
        }
    }

    /// Checks every transaction of `txs`, spread over the machine's cores, in order.
    pub fn check_all(txs: Vec<Transaction>, domain: &Domain) -> Vec<CheckedTx> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads <= 1 || txs.len() < 64 {
            return txs
                .into_iter()
                .map(|tx| CheckedTx::new(tx, domain))
                .collect();
        }
        let chunk = txs.len().div_ceil(threads);
        let mut parts: Vec<Vec<Transaction>> = Vec::new();
        let mut rest = txs;
        while rest.len() > chunk {
            let tail = rest.split_off(chunk);
            parts.push(rest);
            rest = tail;
        }
        parts.push(rest);
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        part.into_iter()
                            .map(|tx| CheckedTx::new(tx, domain))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| match handle.join() {
                    Ok(checked) => checked,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    }
}

/// A transaction whose signatures were checked, with its hash and sender.
#[derive(Clone, Debug)]
pub struct AdmittedTx {
    /// As received (what is logged and stored).
    pub tx: Transaction,
    /// With recovered signers.
    pub verified: VerifiedTransaction,
    /// Its hash.
    pub hash: B256,
    /// Its sender (see [`StoredTx::sender`]).
    pub sender: Address,
}

impl AdmittedTx {
    /// Checks `tx`'s signatures under `domain`.
    pub fn new(tx: Transaction, domain: &Domain) -> Result<AdmittedTx, SignatureCheckError> {
        match CheckedTx::new(tx, domain) {
            CheckedTx::Admitted(admitted) => Ok(admitted),
            CheckedTx::BadSignature(_, error) => Err(error),
        }
    }

    /// `tx` with its verified form, whose signatures are checked already.
    fn from_verified(tx: Transaction, verified: VerifiedTransaction, hash: B256) -> AdmittedTx {
        let sender = match &verified {
            VerifiedTransaction::Action(action) => action.sender,
            VerifiedTransaction::OracleUpdate { .. } => Address::ZERO,
            VerifiedTransaction::Match { taker, .. } => taker.owner,
            VerifiedTransaction::Cancel { signer, .. } => *signer,
            VerifiedTransaction::Liquidate { liquidator, .. } => *liquidator,
            VerifiedTransaction::AutoDeleverage(_)
            | VerifiedTransaction::RetireOrder(_)
            | VerifiedTransaction::Undecodable => Address::ZERO,
            VerifiedTransaction::BulkCancel { signer, .. } => *signer,
            VerifiedTransaction::Deposit(deposit) => deposit.from,
            VerifiedTransaction::Forced { forced, .. } => forced.sender,
            VerifiedTransaction::PlaceOrders { owner, .. } => *owner,
            VerifiedTransaction::PlaceOrder(order) => order.owner,
            VerifiedTransaction::MatchPlaced { taker, .. } => taker.owner,
            VerifiedTransaction::ListMarket { signer, .. }
            | VerifiedTransaction::CloseMarket { signer, .. } => *signer,
        };
        AdmittedTx {
            tx,
            verified,
            hash,
            sender,
        }
    }

    /// The record kept in the block.
    pub fn stored(self) -> StoredTx {
        self.split().0
    }

    /// The record kept in the block, and the verified form.
    pub fn split(self) -> (StoredTx, VerifiedTransaction) {
        let stored = StoredTx {
            sender: self.sender,
            hash: self.hash,
            tx: self.tx,
        };
        (stored, self.verified)
    }
}
