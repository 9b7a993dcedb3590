//! How the node's refusals map to the JSON-RPC error codes of `straddle_rpc_api::errors`
//! (`docs/spec/rpc.md`).

use crate::sequencer::SubmitError;
use jsonrpsee::types::ErrorObjectOwned;
use straddle_exchange::TxError;
use straddle_primitives::SignatureCheckError;
use straddle_rpc_api::errors::*;

fn tx_error_code(error: &TxError) -> i32 {
    match error {
        TxError::Expired { .. } => EXPIRED,
        TxError::NonceReplayed(_) => NONCE_REPLAYED,
        TxError::NonceStale { .. } => NONCE_STALE,
        TxError::ZeroAmount => INVALID_AMOUNT,
        TxError::InsufficientBalance { .. } => INSUFFICIENT_BALANCE,
        TxError::Unauthorized => UNAUTHORIZED,
        TxError::Overflow => OVERFLOW,
        TxError::Margin(_) => MARGIN_REFUSED,
        TxError::Oracle(_) => ORACLE_REFUSED,
        TxError::Match(_) => MATCH_REFUSED,
        TxError::Placement(_) => PLACEMENT_REFUSED,
        TxError::Listing(_) | TxError::Close(_) => MARKET_ADMIN_REFUSED,
        TxError::DepositOutOfOrder { .. } | TxError::ForcedOutOfOrder { .. } => L1_ONLY,
    }
}

impl From<SubmitError> for ErrorObjectOwned {
    fn from(error: SubmitError) -> Self {
        let code = match &error {
            SubmitError::Rejected(tx) => tx_error_code(tx),
            SubmitError::Order(_) => ORDER_REFUSED,
            SubmitError::EngineOnly(_) => USE_ORDER_METHOD,
            SubmitError::L1Only => L1_ONLY,
            SubmitError::Overloaded => OVERLOADED,
            SubmitError::ShuttingDown | SubmitError::BlockRefused(_) => SHUTTING_DOWN,
            SubmitError::Follower => FOLLOWER,
        };
        rpc_error(code, error.to_string())
    }
}

/// The RPC error of a refused signature.
pub fn signature_error(error: &SignatureCheckError) -> ErrorObjectOwned {
    let code = match error {
        SignatureCheckError::HighS => MALLEABLE_SIGNATURE,
        SignatureCheckError::Malformed(_) | SignatureCheckError::Unrecoverable => INVALID_SIGNATURE,
    };
    metrics::counter!("straddle_tx_rejected_total", "reason" => "invalid_signature").increment(1);
    rpc_error(code, error.to_string())
}
