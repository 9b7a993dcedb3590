//! Operator requests: listing a market while the chain runs and closing one at a final
//! settlement price. Signed by the chain's operator key under the `Straddle` EIP-712
//! domain; the ledger refuses any other signer.

use crate::action::Domain;
use alloy_primitives::B256;
use alloy_sol_types::{SolStruct, sol};

sol! {
    /// Lists a market. `instrument`: 0 perpetual, 1 call, 2 put; `strike` (micro-USDC)
    /// and `optionExpiryMs` are zero for a perpetual. `expiryMs` bounds the request.
    #[derive(Debug, PartialEq, Eq)]
    struct ListMarket {
        uint32 market;
        uint32 underlying;
        uint8 instrument;
        uint64 strike;
        uint64 optionExpiryMs;
        uint64 tick;
        uint64 lot;
        uint32 makerFeePpm;
        uint32 takerFeePpm;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Closes a perpetual market at the oracle's recent index mean; positions are paid
    /// out at that price and the market refuses further trades.
    #[derive(Debug, PartialEq, Eq)]
    struct CloseMarket {
        uint32 market;
        uint64 nonce;
        uint64 expiryMs;
    }
}

/// Instrument byte of a perpetual in [`ListMarket`].
pub const INSTRUMENT_PERPETUAL: u8 = 0;
/// Instrument byte of a call.
pub const INSTRUMENT_CALL: u8 = 1;
/// Instrument byte of a put.
pub const INSTRUMENT_PUT: u8 = 2;

impl ListMarket {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
    }
}

impl CloseMarket {
    /// The EIP-712 digest under `domain`.
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.digest(&self.eip712_hash_struct())
    }
}
