//! The Straddle state transition function (the clearinghouse). This first slice is the
//! collateral ledger: balances, the nonce window, transfers, withdrawal requests and the
//! devnet faucet. Pure and deterministic: no I/O, no clocks, no floats.
//!
//! Rules: `docs/spec/actions.md` (validity) and `docs/spec/state.md` (leaf layout).

pub mod clearinghouse;
pub mod genesis;
pub mod leaves;
pub mod ledger;
pub mod oracle;
pub mod orders;
pub mod risk;
pub mod state_key;

pub use genesis::{Allocation, Genesis, GenesisError};
pub use ledger::{
    Account, BlockContext, COLLATERAL_SUPPLY_MAX, ForcedQueue, Ledger, LedgerError, ListingError,
    NONCE_WINDOW_LEN, OracleUpdatePlan, Outcome, PlacementError, StrikeCache, Totals, TxError,
    Withdrawal,
};
pub use state_key::StateKey;
