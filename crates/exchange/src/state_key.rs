//! Layout of the state keys (the raw bytes whose keccak-256 is the tree path).

use alloy_primitives::{Address, B256};
use straddle_primitives::codec::{DecodeError, Reader, Writer};

/// Tag of an account leaf key.
const ACCOUNT_TAG: u8 = 0x01;
/// Tag of a withdrawal leaf key.
const WITHDRAWAL_TAG: u8 = 0x02;
/// Tag of the ledger totals leaf key.
const TOTALS_TAG: u8 = 0x03;
/// Tag of a margin account leaf key.
const PORTFOLIO_TAG: u8 = 0x04;
/// Tag of a market leaf key.
const MARKET_TAG: u8 = 0x05;
/// Tag of an oracle state leaf key.
const ORACLE_TAG: u8 = 0x06;
/// Tag of an order record leaf key.
const ORDER_TAG: u8 = 0x07;
/// Tag of the clearinghouse pools leaf key.
const CLEARING_TOTALS_TAG: u8 = 0x08;
/// Tag of the forced-transaction queue leaf key.
const FORCED_QUEUE_TAG: u8 = 0x09;

/// Every kind of leaf in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKey {
    /// `0x01 ‖ address` → the account's collateral and nonce window.
    Account(Address),
    /// `0x02 ‖ index (u64 BE)` → one withdrawal request.
    Withdrawal(u64),
    /// `0x03` → supply totals and the withdrawal count.
    Totals,
    /// `0x04 ‖ address` → the margin account (cash and positions).
    Portfolio(Address),
    /// `0x05 ‖ id` → a market (listing, state, risk vector).
    Market(u32),
    /// `0x06 ‖ underlying` → the accepted oracle state.
    Oracle(u32),
    /// `0x07 ‖ owner ‖ order hash` → the order's record (filled, cancelled).
    Order(Address, B256),
    /// `0x08` → the clearinghouse's fee pool, insurance fund and rounding reserve.
    ClearingTotals,
    /// `0x09` → forced transactions included so far and the Portal's hash chain after
    /// the last (absent before the first).
    ForcedQueue,
}

impl StateKey {
    /// The raw key bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(53);
        match self {
            StateKey::Account(address) => w.u8(ACCOUNT_TAG).address(address),
            StateKey::Withdrawal(index) => w.u8(WITHDRAWAL_TAG).u64(*index),
            StateKey::Totals => w.u8(TOTALS_TAG),
            StateKey::Portfolio(address) => w.u8(PORTFOLIO_TAG).address(address),
            StateKey::Market(id) => w.u8(MARKET_TAG).u32(*id),
            StateKey::Oracle(id) => w.u8(ORACLE_TAG).u32(*id),
            StateKey::Order(owner, hash) => w.u8(ORDER_TAG).address(owner).b256(hash),
            StateKey::ClearingTotals => w.u8(CLEARING_TOTALS_TAG),
            StateKey::ForcedQueue => w.u8(FORCED_QUEUE_TAG),
        };
        w.bytes
    }

    /// Inverse of [`StateKey::encode`].
    pub fn decode(bytes: &[u8]) -> Result<StateKey, DecodeError> {
        let mut r = Reader::new(bytes);
        let key = match r.u8()? {
            ACCOUNT_TAG => StateKey::Account(r.address()?),
            WITHDRAWAL_TAG => StateKey::Withdrawal(r.u64()?),
            TOTALS_TAG => StateKey::Totals,
            PORTFOLIO_TAG => StateKey::Portfolio(r.address()?),
            MARKET_TAG => StateKey::Market(r.u32()?),
            ORACLE_TAG => StateKey::Oracle(r.u32()?),
            ORDER_TAG => StateKey::Order(r.address()?, r.b256()?),
            CLEARING_TOTALS_TAG => StateKey::ClearingTotals,
            FORCED_QUEUE_TAG => StateKey::ForcedQueue,
            other => return Err(DecodeError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(key)
    }
}
