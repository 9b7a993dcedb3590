//! Straddle primitives: collateral amounts, EIP-712 signed actions, canonical encoding,
//! transaction hashes and block headers. Everything here is pure and deterministic.

pub mod action;
pub mod admin;
pub mod amount;
pub mod block;
pub mod codec;
pub mod deposit;
pub mod forced;
pub mod oracle;
pub mod order;
pub mod signed;
pub mod transaction;

pub use action::{Action, DepositMargin, Domain, Mint, Transfer, Withdraw, WithdrawMargin};
pub use admin::{CloseMarket, ListMarket};
pub use alloy_primitives::{Address, B256, keccak256};
pub use amount::{Amount, AmountError, COLLATERAL_DECIMALS};
pub use block::BlockHeader;
pub use codec::DecodeError;
pub use deposit::Deposit;
pub use forced::ForcedTransaction;
pub use oracle::{PriceReport, REPORT_EXPIRIES_MAX, SignedPriceReport};
pub use order::{
    BULK_CANCEL_MAX, BULK_ORDERS_CANCELS_MAX, BULK_ORDERS_MAX, BulkCancel, BulkOrders, Cancel,
    Liquidate, Order, TimeInForce,
};
pub use signed::{
    SignatureCheckError, SignedAction, VerifiedAction, recover_signer, recover_strict,
};
pub use transaction::{
    AutoDeleverage, ForcedPayload, RetireOrder, SignedCancel, SignedLiquidate, SignedOrder,
    Transaction, VerifiedOrder, VerifiedTransaction, forceable, verify_forced,
};

/// Largest canonical encoding of one signed action, in bytes (RPC and WAL bound).
pub const SIGNED_ACTION_BYTES_MAX: usize = 256;
