//! Markets: what is traded (a perpetual or a European option on an underlying), its
//! trading parameters, and its state (status, open interest, current risk vector).

use crate::risk::{OptionKind, RiskVector};

/// Market identifier.
pub type MarketId = u32;

/// What a market trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "type"
)]
pub enum Instrument {
    /// A perpetual future on the underlying's index.
    Perpetual,
    /// A European, cash-settled option.
    Option {
        /// Call or put.
        kind: OptionKind,
        /// Strike, micro-USDC.
        strike_micro_usdc: u64,
        /// Expiry, unix ms.
        expiry_ms: u64,
    },
}

/// The listing of a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketSpec {
    /// Its id.
    pub id: MarketId,
    /// The underlying (oracle) it references.
    pub underlying: u32,
    /// Perpetual or option.
    pub instrument: Instrument,
    /// Price increment, micro-USDC per contract.
    pub tick_micro_usdc: u64,
    /// Size increment, micro-contracts.
    pub lot: u64,
    /// Fee charged to the maker, ppm of notional.
    pub maker_fee_ppm: u32,
    /// Fee charged to the taker, ppm of notional.
    pub taker_fee_ppm: u32,
}

/// Largest fee rate, ppm (1 %).
pub const FEE_PPM_MAX: u32 = 10_000;

/// Why a listing is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MarketSpecError {
    /// Tick and lot must be positive.
    #[error("tick and lot must be positive")]
    ZeroIncrement,
    /// A fee rate above [`FEE_PPM_MAX`].
    #[error("fee rates must be at most {FEE_PPM_MAX} ppm")]
    FeeTooHigh,
    /// A zero strike.
    #[error("option strike must be positive")]
    ZeroStrike,
}

impl MarketSpec {
    /// Checks the listing.
    pub fn validate(&self) -> Result<(), MarketSpecError> {
        if self.tick_micro_usdc == 0 || self.lot == 0 {
            return Err(MarketSpecError::ZeroIncrement);
        }
        if self.maker_fee_ppm > FEE_PPM_MAX || self.taker_fee_ppm > FEE_PPM_MAX {
            return Err(MarketSpecError::FeeTooHigh);
        }
        if let Instrument::Option {
            strike_micro_usdc: 0,
            ..
        } = self.instrument
        {
            return Err(MarketSpecError::ZeroStrike);
        }
        Ok(())
    }
}

impl MarketSpec {
    /// Checks an order's or fill's terms against the market's grid: the size must be a
    /// positive multiple of the lot (`BadSize`), the price a positive multiple of the tick
    /// (`BadPrice`).
    pub fn check_grid(&self, price_micro_usdc: u64, size: u64) -> Result<(), super::ClearingError> {
        if size == 0 || !size.is_multiple_of(self.lot) {
            return Err(super::ClearingError::BadSize {
                size,
                lot: self.lot,
            });
        }
        if price_micro_usdc == 0 || !price_micro_usdc.is_multiple_of(self.tick_micro_usdc) {
            return Err(super::ClearingError::BadPrice {
                price: price_micro_usdc,
                tick: self.tick_micro_usdc,
            });
        }
        Ok(())
    }
}

/// Lifecycle of a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketStatus {
    /// Trading.
    Active,
    /// Closed at a final settlement price (micro-USDC per contract); positions are paid
    /// out and no longer count for margin.
    Settled {
        /// Value of one long contract at settlement.
        value_micro_usdc: u64,
    },
}

/// A market and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Market {
    /// The listing.
    pub spec: MarketSpec,
    /// Lifecycle.
    pub status: MarketStatus,
    /// Total long size, micro-contracts (equal to the total short size).
    pub open_interest: u64,
    /// The risk vector of the last refresh; trading needs one.
    pub vector: Option<RiskVector>,
    /// Perpetuals: cumulative funding per long contract, nano-USDC (longs pay when it
    /// rises, shorts receive).
    pub funding_index: i128,
    /// Price of the last fill, micro-USDC (0 before the first).
    pub last_price_micro_usdc: u64,
}
