//! JSON-RPC error codes. The table is documented in `docs/spec/rpc.md`; codes never change
//! meaning once released.

use jsonrpsee::types::ErrorObjectOwned;

/// The `chainId` of the request is not this chain's.
pub const WRONG_CHAIN_ID: i32 = 1001;
/// The signature is malformed or recovers no key.
pub const INVALID_SIGNATURE: i32 = 1002;
/// High-s (malleable) signature.
pub const MALLEABLE_SIGNATURE: i32 = 1003;
/// The nonce was used before.
pub const NONCE_REPLAYED: i32 = 1004;
/// The nonce is below the account's full window.
pub const NONCE_STALE: i32 = 1005;
/// The action's expiry is before the block time.
pub const EXPIRED: i32 = 1006;
/// The amount is zero.
pub const INVALID_AMOUNT: i32 = 1007;
/// Not enough collateral.
pub const INSUFFICIENT_BALANCE: i32 = 1008;
/// Not allowed for this signer (an operator request signed by someone else, or a mint
/// with the faucet disabled).
pub const UNAUTHORIZED: i32 = 1009;
/// A balance or the supply would overflow.
pub const OVERFLOW: i32 = 1010;
/// The admission queue is full: retry with backoff.
pub const OVERLOADED: i32 = 1011;
/// The node is shutting down.
pub const SHUTTING_DOWN: i32 = 1012;
/// The margin account refused: initial margin not covered, not enough cash, or a limit.
pub const MARGIN_REFUSED: i32 = 1013;
/// An oracle update was refused (quorum not met, unknown underlying, too many reports).
pub const ORACLE_REFUSED: i32 = 1014;
/// A match was refused (an order rule or a fill's margin).
pub const MATCH_REFUSED: i32 = 1015;
/// An operator market listing or close was refused (invalid listing, id in use, not a
/// perpetual, no settlement price).
pub const MARKET_ADMIN_REFUSED: i32 = 1016;
/// An order placement was refused (cannot rest, expired, cancelled, filled, already
/// placed, unknown or closed market, off tick or lot).
pub const PLACEMENT_REFUSED: i32 = 1017;
/// The order book refused an order: a post-only or quote that would cross, a
/// fill-or-kill that cannot fill, an unknown market or time in force, a price off the
/// grid or too far from the book.
pub const ORDER_REFUSED: i32 = 1018;
/// This transaction kind is made by the matching engine or sent through an order method.
pub const USE_ORDER_METHOD: i32 = 1019;
/// Deposits, forced transactions and undecodable batch items come from L1 only: none can
/// be submitted.
pub const L1_ONLY: i32 = 1020;
/// The node follows L1 (`--follow`) and accepts no transactions.
pub const FOLLOWER: i32 = 1021;
/// No such withdrawal at that block, or the block is not in the chain yet.
pub const NOT_FOUND: i32 = 1022;
/// `getStep`: the L1 one-step prover does not cover this transaction's kind yet.
pub const STEP_UNSUPPORTED: i32 = 1023;
/// Invalid parameters (malformed address, hash, amount, action, signature encoding).
pub const INVALID_PARAMS: i32 = jsonrpsee::types::error::INVALID_PARAMS_CODE;
/// Storage failure while answering a query.
pub const INTERNAL: i32 = jsonrpsee::types::error::INTERNAL_ERROR_CODE;

/// An error object with no data.
pub fn rpc_error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message, None::<()>)
}
