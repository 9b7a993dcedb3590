//! Risk: the scenario grid, per-market risk vectors (mark, Greeks, scenario P&L) and the
//! linear portfolio margin built from them. Spec: `docs/spec/clearinghouse.md` §3–4.

pub mod margin;
pub mod scenarios;
pub mod vectors;

#[cfg(test)]
mod tests;

pub use margin::{Exposure, MarginError, MarginSummary, POSITIONS_PER_ACCOUNT_MAX, margin};
pub use scenarios::{RiskParams, RiskParamsError, SCENARIO_COUNT, Scenario, ScenarioGrid};
pub use vectors::{
    OptionKind, RiskError, RiskVector, StrikeVectors, VolSmile, perpetual_vector, strike_vectors,
};
