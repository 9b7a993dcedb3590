//! The genesis file: chain identity, faucet settings and initial allocations.

use crate::clearinghouse::market::MarketSpec;
use crate::oracle::OracleConfig;
use crate::risk::RiskParams;
use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use straddle_primitives::{Amount, Domain};

/// Most allocations a genesis file may hold.
pub const GENESIS_ALLOCATIONS_MAX: usize = 100_000;

/// Initial collateral of one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// The account.
    pub address: Address,
    /// Micro-units.
    pub amount: Amount,
}

/// A chain's genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Genesis {
    /// The EIP-712 signing domain (chain id, verifying contract).
    pub domain: Domain,
    /// Timestamp of block 0, unix milliseconds.
    pub timestamp_ms: u64,
    /// The operator key, the only signer of [`straddle_primitives::Mint`].
    pub operator: Option<Address>,
    /// Whether the devnet faucet (operator mint) is enabled.
    pub faucet_enabled: bool,
    /// Initial balances.
    pub allocations: Vec<Allocation>,
    /// Underlyings with their oracle and risk parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub underlyings: Vec<UnderlyingConfig>,
    /// Listed markets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markets: Vec<MarketSpec>,
}

/// An underlying: its oracle, its risk grid and its perpetuals' funding premium cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnderlyingConfig {
    /// Id (the oracle configuration's `underlying` must equal it).
    pub id: u32,
    /// Display name, e.g. "ETH".
    pub symbol: String,
    /// Who reports prices and how they are accepted.
    pub oracle: OracleConfig,
    /// The scenario grid and margin factors.
    pub risk: RiskParams,
    /// Largest funding premium, ppm of the index.
    pub funding_premium_cap_ppm: u32,
}

/// Most underlyings a chain may list.
pub const UNDERLYINGS_MAX: usize = 16;
/// Most markets a chain may list per underlying (bounds an oracle update's work).
pub const MARKETS_PER_UNDERLYING_MAX: usize = 1_024;

/// Why a genesis was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// More allocations than [`GENESIS_ALLOCATIONS_MAX`].
    #[error("genesis has {0} allocations, at most {GENESIS_ALLOCATIONS_MAX} allowed")]
    TooManyAllocations(usize),
    /// The same address allocated twice.
    #[error("address {0} is allocated twice")]
    DuplicateAllocation(Address),
    /// Allocations sum past 2^128.
    #[error("allocations exceed the collateral supply limit")]
    SupplyOverflow,
    /// The faucet is on but nobody may mint.
    #[error("faucetEnabled requires an operator")]
    FaucetWithoutOperator,
    /// An invalid underlying.
    #[error("underlying {id}: {reason}")]
    Underlying {
        /// Its id.
        id: u32,
        /// What is wrong.
        reason: String,
    },
    /// An invalid market.
    #[error("market {id}: {reason}")]
    Market {
        /// Its id.
        id: u32,
        /// What is wrong.
        reason: String,
    },
}
