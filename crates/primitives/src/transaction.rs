//! Everything a block can carry, and its canonical binary encoding (in `codec`).
//!
//! The first byte is the kind. Kinds 1–5 are user actions and their bytes are exactly
//! the 118-byte [`SignedAction`] encoding, so every action ever logged stays valid. The
//! trading transactions carry their own signed messages: an oracle update (signed price
//! reports), a match (signed orders with fill sizes) and a cancel. All integers are
//! big-endian, every length is bounded, and decoding refuses trailing bytes.

use crate::action::Domain;
use crate::admin::{CloseMarket, ListMarket};
use crate::codec::{DecodeError, Reader, Writer};
use crate::deposit::Deposit;
use crate::forced::{FORCED_TRANSACTION_BYTES_MAX, ForcedTransaction};
use crate::oracle::{PriceReport, REPORT_EXPIRIES_MAX, SignedPriceReport};
use crate::order::{
    BULK_CANCEL_MAX, BULK_ORDERS_CANCELS_MAX, BULK_ORDERS_MAX, BulkCancel, BulkOrders, Cancel,
    Liquidate, Order,
};
use crate::signed::{
    SIGNATURE_BYTES, SignatureCheckError, SignedAction, VerifiedAction, parse_signature,
    recover_strict,
};
use alloy_primitives::{Address, B256, Signature, keccak256};

mod codec;

pub use codec::{read_order_body, write_order_body};

/// Kind byte of an oracle update.
pub const KIND_ORACLE_UPDATE: u8 = 0x10;
/// Kind byte of a match.
pub const KIND_MATCH: u8 = 0x11;
/// Kind byte of a cancel.
pub const KIND_CANCEL: u8 = 0x12;
/// Kind byte of a liquidation.
pub const KIND_LIQUIDATE: u8 = 0x13;
/// Kind byte of an auto-deleveraging.
pub const KIND_AUTO_DELEVERAGE: u8 = 0x14;
/// Kind byte of a bulk cancel.
pub const KIND_BULK_CANCEL: u8 = 0x15;
/// Kind byte of a bulk placement.
pub const KIND_PLACE_ORDERS: u8 = 0x16;
/// Kind byte of a match against placed (pre-registered) maker orders.
pub const KIND_MATCH_PLACED: u8 = 0x17;
/// Kind byte of an operator market listing.
pub const KIND_LIST_MARKET: u8 = 0x18;
/// Kind byte of an operator market close.
pub const KIND_CLOSE_MARKET: u8 = 0x19;
/// Kind byte of a single resting-order placement.
pub const KIND_PLACE_ORDER: u8 = 0x1A;
/// Kind byte of an order retirement.
pub const KIND_RETIRE_ORDER: u8 = 0x1B;
/// Kind byte of an L1 deposit.
pub const KIND_DEPOSIT: u8 = 0x1C;
/// Kind byte of an L1 forced transaction.
pub const KIND_FORCED: u8 = 0x1D;
/// Kind byte of an undecodable batch item: a slot of a posted batch whose bytes do not
/// decode to a transaction (`docs/spec/batches.md` §4.1). Only derivation makes one; it
/// carries nothing and changes nothing.
pub const KIND_UNDECODABLE: u8 = 0xFE;
/// Most reports one oracle update may carry.
pub const REPORTS_PER_UPDATE_MAX: usize = 16;
/// Most makers one match may fill.
pub const MAKERS_PER_MATCH_MAX: usize = 16;
/// Largest encoding of any transaction, bytes (an oracle update with 16 full reports is
/// about 4.1 KiB).
pub const TRANSACTION_BYTES_MAX: usize = 8_192;

/// An order with its owner's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedOrder {
    /// The order.
    pub order: Order,
    /// Signature over [`Order::hash`].
    pub signature: Signature,
}

/// A cancel with its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCancel {
    /// The cancel.
    pub cancel: Cancel,
    /// Signature over [`Cancel::signing_hash`].
    pub signature: Signature,
}

/// A liquidation with the liquidator's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLiquidate {
    /// The request.
    pub liquidate: Liquidate,
    /// Signature over [`Liquidate::signing_hash`].
    pub signature: Signature,
}

/// A transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transaction {
    /// A user action (kinds 1–5).
    Action(SignedAction),
    /// Price reports for one underlying.
    OracleUpdate {
        /// The underlying.
        underlying: u32,
        /// The signed reports.
        reports: Vec<SignedPriceReport>,
    },
    /// A taker order against resting maker orders.
    Match {
        /// The incoming order.
        taker: SignedOrder,
        /// Maker orders with the size each fills, in book order.
        makers: Vec<(SignedOrder, u64)>,
    },
    /// An order cancellation.
    Cancel(SignedCancel),
    /// A liquidation.
    Liquidate(SignedLiquidate),
    /// Closes part of a bankrupt account's position against a winning counterparty
    /// (permissionless: the rules decide eligibility).
    AutoDeleverage(AutoDeleverage),
    /// Cancels up to [`BULK_CANCEL_MAX`] orders under one signature.
    BulkCancel {
        /// The request.
        cancel: BulkCancel,
        /// Signature over [`BulkCancel::signing_hash`].
        signature: Signature,
    },
    /// Registers up to [`BULK_ORDERS_MAX`] orders to their signer.
    PlaceOrders {
        /// The orders.
        bulk: BulkOrders,
        /// Signature over [`BulkOrders::signing_hash`].
        signature: Signature,
    },
    /// A signed taker against maker orders that were placed (registered) earlier, each
    /// named with its owner instead of a signature.
    MatchPlaced {
        /// The incoming order.
        taker: SignedOrder,
        /// `(order, owner, fill size)` per maker, in book order.
        makers: Vec<(Order, Address, u64)>,
    },
    /// Registers one signed order as resting (placed) with its body, so matches may
    /// name it and the book can be rebuilt from state.
    PlaceOrder(SignedOrder),
    /// The operator lists a market.
    ListMarket {
        /// The listing.
        listing: ListMarket,
        /// Signature over [`ListMarket::signing_hash`].
        signature: Signature,
    },
    /// The operator closes a perpetual market.
    CloseMarket {
        /// The request.
        close: CloseMarket,
        /// Signature over [`CloseMarket::signing_hash`].
        signature: Signature,
    },
    /// Retires a placed order that can no longer trade (expired, market closed, or its
    /// owner cannot afford it): permissionless, the rules decide eligibility.
    RetireOrder(RetireOrder),
    /// Credits an L1 deposit (no signature: only derivation from L1 may produce it, never
    /// a user; see `docs/spec/settlement.md`).
    Deposit(Deposit),
    /// Includes a transaction submitted to the Portal on L1 (forced inclusion): the
    /// inclusion always counts; the transaction inside executes if it decodes, is of a
    /// kind a user may force ([`forceable`]) and its signatures verify.
    Forced(ForcedTransaction),
    /// A batch item that does not decode (kind [`KIND_UNDECODABLE`], no payload): the
    /// block keeps its place and nothing happens. Derivation makes it so that whether a
    /// batch is taken never depends on its transactions; no user may send one.
    Undecodable,
}

/// Whether a user may force `tx` through L1: a signed action (transfer, withdrawal,
/// margin moves) or a cancel. Orders need the sequencer's book, and everything else is
/// not a user's request.
pub fn forceable(tx: &Transaction) -> bool {
    matches!(
        tx,
        Transaction::Action(_) | Transaction::Cancel(_) | Transaction::BulkCancel { .. }
    )
}

/// Checks what `forced` carries; never fails: a payload that does not decode, may not be
/// forced or does not verify is [`ForcedPayload::Invalid`].
pub fn verify_forced(forced: ForcedTransaction, domain: &Domain) -> VerifiedTransaction {
    let payload = match Transaction::decode(&forced.bytes) {
        Err(error) => ForcedPayload::Invalid(format!("does not decode: {error}")),
        Ok(inner) if !forceable(&inner) => {
            ForcedPayload::Invalid("this kind of transaction cannot be forced".into())
        }
        Ok(inner) => match inner.verify(domain) {
            Ok(verified) => ForcedPayload::Valid(Box::new(verified)),
            Err(error) => ForcedPayload::Invalid(format!("signature: {error}")),
        },
    };
    VerifiedTransaction::Forced { forced, payload }
}

/// What a forced transaction carries, after decoding and signature checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForcedPayload {
    /// A forceable transaction whose signatures verify.
    Valid(Box<VerifiedTransaction>),
    /// Bytes that do not decode, a kind that may not be forced, or a bad signature: the
    /// inclusion is recorded and nothing else happens.
    Invalid(String),
}

/// An order retirement request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetireOrder {
    /// The order's owner.
    pub owner: Address,
    /// The order hash.
    pub order_hash: B256,
}

/// An auto-deleveraging request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoDeleverage {
    /// The bankrupt account.
    pub target: Address,
    /// The market.
    pub market: u32,
    /// The account on the other side that absorbs the deficit.
    pub counterparty: Address,
    /// Size, micro-contracts.
    pub size: u64,
}

/// An order whose signature has been checked: its owner and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedOrder {
    /// The order.
    pub order: Order,
    /// Its signer.
    pub owner: Address,
    /// Its hash (EIP-712 digest).
    pub hash: B256,
}

impl SignedOrder {
    /// Recovers the order's signer under `domain` (low-s signatures only).
    pub fn verify(self, domain: &Domain) -> Result<VerifiedOrder, SignatureCheckError> {
        let hash = self.order.hash(domain);
        let owner = recover_strict(&self.signature, &hash)?;
        Ok(VerifiedOrder {
            order: self.order,
            owner,
            hash,
        })
    }
}

/// A transaction whose signatures have been checked (oracle reports are checked by the
/// oracle rules themselves, which must say which report failed and why).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifiedTransaction {
    /// A user action.
    Action(VerifiedAction),
    /// An oracle update.
    OracleUpdate {
        /// The underlying.
        underlying: u32,
        /// The signed reports.
        reports: Vec<SignedPriceReport>,
    },
    /// A match.
    Match {
        /// The taker.
        taker: VerifiedOrder,
        /// The makers and their fill sizes.
        makers: Vec<(VerifiedOrder, u64)>,
    },
    /// A cancel.
    Cancel {
        /// Who signed it.
        signer: Address,
        /// The order it cancels.
        order_hash: B256,
        /// Not valid after this block time, unix ms.
        expiry_ms: u64,
    },
    /// A liquidation.
    Liquidate {
        /// Who signed it (takes over the position).
        liquidator: Address,
        /// The request.
        liquidate: Liquidate,
    },
    /// An auto-deleveraging (no signature).
    AutoDeleverage(AutoDeleverage),
    /// A bulk cancel.
    BulkCancel {
        /// Who signed it.
        signer: Address,
        /// The request.
        cancel: BulkCancel,
    },
    /// A single placement.
    PlaceOrder(VerifiedOrder),
    /// An order retirement (no signature).
    RetireOrder(RetireOrder),
    /// An L1 deposit (no signature; the sequencer takes it from L1 only).
    Deposit(Deposit),
    /// An L1 forced transaction and what it carries.
    Forced {
        /// As the Portal recorded it.
        forced: ForcedTransaction,
        /// The transaction inside.
        payload: ForcedPayload,
    },
    /// A bulk placement.
    PlaceOrders {
        /// Who signed it (owns every order).
        owner: Address,
        /// The signer's orders to cancel first.
        cancels: Vec<B256>,
        /// Each order with its hash, in order.
        orders: Vec<(Order, B256)>,
        /// Replay protection.
        nonce: u64,
        /// Not valid after this block time, unix ms.
        expiry_ms: u64,
    },
    /// A match whose makers must have been placed by their named owners.
    MatchPlaced {
        /// The taker.
        taker: VerifiedOrder,
        /// The makers (owner as named, unverified until the registry confirms the
        /// placement) and their fill sizes.
        makers: Vec<(VerifiedOrder, u64)>,
    },
    /// A market listing (the ledger checks that the signer is the operator).
    ListMarket {
        /// Who signed it.
        signer: Address,
        /// The listing.
        listing: ListMarket,
    },
    /// A market close (the ledger checks that the signer is the operator).
    CloseMarket {
        /// Who signed it.
        signer: Address,
        /// The request.
        close: CloseMarket,
    },
    /// An undecodable batch item: changes nothing.
    Undecodable,
}

impl Transaction {
    /// Maker fills it settles (zero unless it is a match).
    pub fn maker_fills(&self) -> usize {
        match self {
            Transaction::Match { makers, .. } => makers.len(),
            Transaction::MatchPlaced { makers, .. } => makers.len(),
            _ => 0,
        }
    }

    /// The transaction hash: an action's EIP-712 digest (what its signer signed), else
    /// `keccak256` of the canonical bytes.
    pub fn hash(&self, domain: &Domain) -> B256 {
        match self {
            Transaction::Action(signed) => signed.action.signing_hash(domain),
            Transaction::Deposit(deposit) => deposit.l1_hash(),
            Transaction::Forced(forced) => forced.l1_hash(),
            other => keccak256(other.encode()),
        }
    }

    /// Checks every signature this transaction carries itself (not the oracle reports',
    /// which the oracle rules check one by one).
    pub fn verify(self, domain: &Domain) -> Result<VerifiedTransaction, SignatureCheckError> {
        let verify_order = |signed: SignedOrder| signed.verify(domain);
        Ok(match self {
            Transaction::Action(signed) => VerifiedTransaction::Action(signed.verify(domain)?),
            Transaction::OracleUpdate {
                underlying,
                reports,
            } => VerifiedTransaction::OracleUpdate {
                underlying,
                reports,
            },
            Transaction::Match { taker, makers } => VerifiedTransaction::Match {
                taker: verify_order(taker)?,
                makers: makers
                    .into_iter()
                    .map(|(maker, size)| Ok((verify_order(maker)?, size)))
                    .collect::<Result<Vec<_>, SignatureCheckError>>()?,
            },
            Transaction::Liquidate(signed) => VerifiedTransaction::Liquidate {
                liquidator: recover_strict(
                    &signed.signature,
                    &signed.liquidate.signing_hash(domain),
                )?,
                liquidate: signed.liquidate,
            },
            Transaction::AutoDeleverage(adl) => VerifiedTransaction::AutoDeleverage(adl),
            Transaction::RetireOrder(retire) => VerifiedTransaction::RetireOrder(retire),
            Transaction::Deposit(deposit) => VerifiedTransaction::Deposit(deposit),
            Transaction::Forced(forced) => verify_forced(forced, domain),
            Transaction::Undecodable => VerifiedTransaction::Undecodable,
            Transaction::PlaceOrder(signed) => {
                VerifiedTransaction::PlaceOrder(verify_order(signed)?)
            }
            Transaction::PlaceOrders { bulk, signature } => {
                let (digest, hashes) = bulk.signing_hash_and_order_hashes(domain);
                VerifiedTransaction::PlaceOrders {
                    owner: recover_strict(&signature, &digest)?,
                    orders: bulk.orders.into_iter().zip(hashes).collect(),
                    cancels: bulk.cancels,
                    nonce: bulk.nonce,
                    expiry_ms: bulk.expiryMs,
                }
            }
            Transaction::MatchPlaced { taker, makers } => VerifiedTransaction::MatchPlaced {
                taker: verify_order(taker)?,
                makers: makers
                    .into_iter()
                    .map(|(order, owner, size)| {
                        let hash = order.hash(domain);
                        (VerifiedOrder { order, owner, hash }, size)
                    })
                    .collect(),
            },
            Transaction::BulkCancel { cancel, signature } => VerifiedTransaction::BulkCancel {
                signer: recover_strict(&signature, &cancel.signing_hash(domain))?,
                cancel,
            },
            Transaction::ListMarket { listing, signature } => VerifiedTransaction::ListMarket {
                signer: recover_strict(&signature, &listing.signing_hash(domain))?,
                listing,
            },
            Transaction::CloseMarket { close, signature } => VerifiedTransaction::CloseMarket {
                signer: recover_strict(&signature, &close.signing_hash(domain))?,
                close,
            },
            Transaction::Cancel(signed) => VerifiedTransaction::Cancel {
                signer: recover_strict(&signed.signature, &signed.cancel.signing_hash(domain))?,
                order_hash: signed.cancel.orderHash,
                expiry_ms: signed.cancel.expiryMs,
            },
        })
    }
}

#[cfg(test)]
mod tests;
