//! Linear portfolio margin: an account's requirement is a linear combination of its
//! positions with the markets' risk vectors. Per-account work is
//! O(positions × scenarios) integer multiply-adds; nothing is priced here.
//!
//! With `q_i` the signed size in micro-contracts and `pnl_i(s)` the vector entry in
//! nano-USDC, amounts below are in femto-USDC (10^-15) until the final rounding:
//!
//! * `loss(s) = −Σ_i q_i·pnl_i(s)`;
//! * `maintenance = ceil((max(0, max_s loss(s)) + Σ_{i short option} |q_i|·charge_i) / 10^9)`
//!   micro-USDC;
//! * `initial = ceil(maintenance_femto · factor_ppm / 10^6 / 10^9)` micro-USDC.
//!
//! Both round up: against the account, toward the protocol.

use super::scenarios::SCENARIO_COUNT;
use super::vectors::RiskVector;

/// Positions one account may hold (one bounded leaf).
pub const POSITIONS_PER_ACCOUNT_MAX: usize = 32;
/// Largest absolute position, micro-contracts (10^7 contracts); keeps every product in
/// 128 bits.
pub const POSITION_SIZE_MAX: i64 = 10_000_000_000_000;
/// Femto-USDC per micro-USDC.
const FEMTO_PER_MICRO: i128 = 1_000_000_000;

/// One position as the margin engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct Exposure<'a> {
    /// Signed size, micro-contracts (positive = long).
    pub size: i64,
    /// The market's current vector.
    pub vector: &'a RiskVector,
}

/// An account's risk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarginSummary {
    /// Maintenance requirement, micro-USDC.
    pub maintenance: u128,
    /// Initial requirement, micro-USDC.
    pub initial: u128,
    /// Index of the worst scenario (the first, on ties).
    pub worst_scenario: usize,
    /// Portfolio P&L per scenario, femto-USDC.
    pub scenario_pnl_femto: [i128; SCENARIO_COUNT],
    /// Σ q·mark, femto-USDC: the positions' value at mark.
    pub mark_value_femto: i128,
    /// Account delta, nano-underlying.
    pub delta_nano: i128,
    /// Account gamma, nano-underlying per USDC.
    pub gamma_nano: i128,
    /// Account vega, nano-USDC per volatility point.
    pub vega_nano: i128,
    /// Account theta, nano-USDC per day.
    pub theta_nano: i128,
}

/// Why a portfolio cannot be margined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MarginError {
    /// More positions than [`POSITIONS_PER_ACCOUNT_MAX`].
    #[error("{0} positions, at most {POSITIONS_PER_ACCOUNT_MAX} allowed")]
    TooManyPositions(usize),
    /// A position larger than [`POSITION_SIZE_MAX`].
    #[error("position size {0} exceeds {POSITION_SIZE_MAX} micro-contracts")]
    PositionTooLarge(i64),
}

fn ceil_div(value: i128, divisor: i128) -> i128 {
    value.div_euclid(divisor) + i128::from(value.rem_euclid(divisor) != 0)
}

/// The margin of `exposures` with initial factor `initial_factor_ppm`.
pub fn margin(
    exposures: &[Exposure<'_>],
    initial_factor_ppm: u32,
) -> Result<MarginSummary, MarginError> {
    if exposures.len() > POSITIONS_PER_ACCOUNT_MAX {
        return Err(MarginError::TooManyPositions(exposures.len()));
    }
    let mut pnl = [0i128; SCENARIO_COUNT];
    let mut short_charge = 0i128;
    let mut summary_greeks = [0i128; 5];
    for exposure in exposures {
        if exposure.size.unsigned_abs() > POSITION_SIZE_MAX as u64 {
            return Err(MarginError::PositionTooLarge(exposure.size));
        }
        let q = i128::from(exposure.size);
        let v = exposure.vector;
        for (total, entry) in pnl.iter_mut().zip(&v.scenario_pnl_nano) {
            *total += q * i128::from(*entry);
        }
        if q < 0 {
            short_charge += -q * i128::from(v.short_charge_nano);
        }
        for (total, greek) in summary_greeks.iter_mut().zip([
            v.mark_nano,
            v.delta_nano,
            v.gamma_nano,
            v.vega_nano,
            v.theta_nano,
        ]) {
            *total += q * i128::from(greek);
        }
    }
    let (worst_scenario, worst_pnl) =
        pnl.iter()
            .enumerate()
            .fold((0, i128::MAX), |(best_i, best), (i, p)| {
                if *p < best { (i, *p) } else { (best_i, best) }
            });
    let worst_loss = (-worst_pnl).max(0);
    let maintenance_femto = worst_loss + short_charge;
    let initial_femto = ceil_div(
        maintenance_femto * i128::from(initial_factor_ppm),
        1_000_000,
    );
    // Greeks are per contract; sizes are micro-contracts.
    let per_contract = |total: i128| total.div_euclid(1_000_000);
    Ok(MarginSummary {
        maintenance: ceil_div(maintenance_femto, FEMTO_PER_MICRO) as u128,
        initial: ceil_div(initial_femto, FEMTO_PER_MICRO) as u128,
        worst_scenario,
        scenario_pnl_femto: pnl,
        mark_value_femto: summary_greeks[0],
        delta_nano: per_contract(summary_greeks[1]),
        gamma_nano: per_contract(summary_greeks[2]),
        vega_nano: per_contract(summary_greeks[3]),
        theta_nano: per_contract(summary_greeks[4]),
    })
}
