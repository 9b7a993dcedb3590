//! The Straddle state transition function: the collateral ledger, the oracle, risk and
//! margin, the clearinghouse and order settlement, reached through one entry point
//! ([`stf::apply`], and [`stf::ExecutionState`] for blocks). Pure and deterministic: no
//! I/O, no clocks, no floats.
//!
//! Rules: `docs/spec/actions.md` (validity) and `docs/spec/state.md` (leaf layout).

pub mod clearinghouse;
pub mod devnet;
pub mod genesis;
pub mod invariants;
pub mod leaves;
pub mod ledger;
pub mod oracle;
pub mod orders;
pub mod risk;
pub mod state_key;
pub mod stf;

pub use genesis::{Allocation, Genesis, GenesisError};
pub use invariants::InvariantViolation;
pub use ledger::{
    Account, BlockContext, COLLATERAL_SUPPLY_MAX, ForcedQueue, Ledger, LedgerError, ListingError,
    NONCE_WINDOW_LEN, OracleUpdatePlan, Outcome, PlacementError, StrikeCache, Totals, TxError,
    Withdrawal,
};
pub use state_key::StateKey;
pub use stf::{AdmittedTx, CheckedTx, ClosedBlock, ExecutionState, apply};
