//! Why a clearinghouse operation was refused.

use super::market::{MarketId, MarketSpecError};
use crate::risk::MarginError;
use alloy_primitives::Address;

/// Why a clearinghouse operation was refused. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearingError {
    /// No such market.
    #[error("unknown market {0}")]
    UnknownMarket(MarketId),
    /// A market id listed twice.
    #[error("market {0} already exists")]
    DuplicateMarket(MarketId),
    /// Invalid listing.
    #[error("invalid market: {0}")]
    InvalidMarket(#[from] MarketSpecError),
    /// The market is settled.
    #[error("market {0} is closed")]
    MarketClosed(MarketId),
    /// The market has no current risk vector (its oracle has not updated it).
    #[error("market {0} has no risk vector yet")]
    NoRiskVector(MarketId),
    /// Size not a positive multiple of the lot.
    #[error("size {size} is not a positive multiple of the lot {lot}")]
    BadSize {
        /// Given.
        size: u64,
        /// Lot.
        lot: u64,
    },
    /// Price not a positive multiple of the tick.
    #[error("price {price} is not a positive multiple of the tick {tick}")]
    BadPrice {
        /// Given.
        price: u64,
        /// Tick.
        tick: u64,
    },
    /// Buyer and seller are the same account.
    #[error("self-trade")]
    SelfTrade,
    /// Too many positions or a position too large.
    #[error("{0}")]
    Limit(#[from] MarginError),
    /// Funding applies to perpetuals only.
    #[error("market {0} is not a perpetual")]
    NotPerpetual(MarketId),
    /// Expiry settlement applies to options only.
    #[error("market {0} is not an option")]
    NotAnOption(MarketId),
    /// Expiry settlement before expiry.
    #[error("option expires at {expiry_ms}, now {now_ms}")]
    NotExpired {
        /// Expiry.
        expiry_ms: u64,
        /// Block time.
        now_ms: u64,
    },
    /// No accepted index value in the settlement window.
    #[error("no oracle price in the settlement window of market {0}")]
    NoSettlementPrice(MarketId),
    /// An amount of zero, or one that does not fit.
    #[error("invalid amount")]
    InvalidAmount,
    /// Liquidation of an account whose equity covers its maintenance margin.
    #[error("{account} is healthy: equity {equity} ≥ maintenance {maintenance}")]
    Healthy {
        /// The account.
        account: Address,
        /// Its equity.
        equity: i128,
        /// Its maintenance margin.
        maintenance: u128,
    },
    /// Auto-deleveraging needs a bankrupt account (negative equity).
    #[error("{account} is not bankrupt: equity {equity}")]
    NotBankrupt {
        /// The account.
        account: Address,
        /// Its equity.
        equity: i128,
    },
    /// Auto-deleveraging takes only positions in profit at the mark.
    #[error("{account}'s position in market {market} is not in profit")]
    NotInProfit {
        /// The counterparty.
        account: Address,
        /// The market.
        market: MarketId,
    },
    /// Auto-deleveraging only when the insurance fund cannot cover the deficit.
    #[error("the insurance fund ({fund}) covers the deficit ({deficit}): liquidate instead")]
    InsuranceCovers {
        /// The fund.
        fund: i128,
        /// The deficit.
        deficit: i128,
    },
    /// The liquidated account holds no position (or less than asked) in the market.
    #[error("{account} holds {held} in market {market}, {requested} requested")]
    NoSuchPosition {
        /// The account.
        account: Address,
        /// The market.
        market: MarketId,
        /// Held (signed).
        held: i64,
        /// Requested (absolute).
        requested: u64,
    },
    /// The account would be below its initial margin after a risk-increasing change.
    #[error("{account}: equity {equity} below initial margin {initial} (micro-USDC)")]
    InsufficientMargin {
        /// The account.
        account: Address,
        /// Equity after the change.
        equity: i128,
        /// Initial margin after the change.
        initial: u128,
    },
    /// A withdrawal larger than the cash of an account without positions.
    #[error("{account}: withdrawal of {amount} exceeds cash {cash}")]
    InsufficientCash {
        /// The account.
        account: Address,
        /// Requested.
        amount: u128,
        /// Available.
        cash: i128,
    },
}
