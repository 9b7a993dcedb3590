//! The scenario grid of portfolio margin: spot shocks × volatility shocks, plus tails.
//!
//! Per underlying, with `S = spot_shock_max_ppm`: spot moves of −S, −¾S, −½S, −¼S, 0,
//! ¼S, ½S, ¾S, S, each with volatility multiplied by `vol_down_ppm`, 1 and `vol_up_ppm`
//! (27 scenarios), then two tail moves of ±`tail_shock_ppm` with volatility up
//! (a crash or squeeze comes with a volatility spike). Deribit and Paradex use the same
//! shape; the default ±16 % range matches their BTC/ETH portfolio margin, and the tails
//! keep deep out-of-the-money short options from looking riskless.

use straddle_math::{Fixed, MathError};

/// Scenarios per grid: 9 spot levels × 3 vol levels + 2 tails.
pub const SCENARIO_COUNT: usize = 29;
/// Parts per million.
pub const PPM: i64 = 1_000_000;

/// Risk parameters of one underlying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RiskParams {
    /// Largest regular spot shock, ppm of the index (160 000 = ±16 %).
    pub spot_shock_max_ppm: u32,
    /// Tail spot shock, ppm (330 000 = ±33 %).
    pub tail_shock_ppm: u32,
    /// Volatility multiplier of the vol-down scenarios, ppm (700 000 = ×0.7).
    pub vol_down_ppm: u32,
    /// Volatility multiplier of the vol-up and tail scenarios, ppm (1 500 000 = ×1.5).
    pub vol_up_ppm: u32,
    /// Extra maintenance per short option contract, ppm of the index.
    pub short_option_min_ppm: u32,
    /// Initial margin = maintenance × this, ppm (1 250 000 = ×1.25; at least 1 000 000).
    pub initial_margin_factor_ppm: u32,
}

impl Default for RiskParams {
    fn default() -> RiskParams {
        RiskParams {
            spot_shock_max_ppm: 160_000,
            tail_shock_ppm: 330_000,
            vol_down_ppm: 700_000,
            vol_up_ppm: 1_500_000,
            short_option_min_ppm: 5_000,
            initial_margin_factor_ppm: 1_250_000,
        }
    }
}

/// Why risk parameters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RiskParamsError {
    /// Shocks must be in (0, 90 %) and the tail at least the regular maximum.
    #[error("spot shocks must satisfy 0 < max ≤ tail < 900000 ppm")]
    SpotShocks,
    /// Volatility multipliers must satisfy 0 < down ≤ 1 ≤ up ≤ 5.
    #[error("vol multipliers must satisfy 0 < down ≤ 1000000 ≤ up ≤ 5000000 ppm")]
    VolShocks,
    /// The initial margin factor must be at least 1.
    #[error("initial margin factor must be at least 1000000 ppm")]
    InitialFactor,
}

impl RiskParams {
    /// Checks the documented bounds.
    pub fn validate(&self) -> Result<(), RiskParamsError> {
        let max = self.spot_shock_max_ppm;
        if max == 0 || self.tail_shock_ppm < max || self.tail_shock_ppm >= 900_000 {
            return Err(RiskParamsError::SpotShocks);
        }
        if self.vol_down_ppm == 0
            || self.vol_down_ppm > 1_000_000
            || self.vol_up_ppm < 1_000_000
            || self.vol_up_ppm > 5_000_000
        {
            return Err(RiskParamsError::VolShocks);
        }
        if self.initial_margin_factor_ppm < 1_000_000 {
            return Err(RiskParamsError::InitialFactor);
        }
        Ok(())
    }
}

/// One scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Relative spot move, ppm (signed).
    pub spot_shock_ppm: i64,
    /// Volatility multiplier, ppm.
    pub vol_multiplier_ppm: i64,
}

/// The grid with the fixed-point factors every market of the underlying reuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioGrid {
    /// The scenarios, in the documented order.
    pub scenarios: [Scenario; SCENARIO_COUNT],
    /// `1 + shock` per scenario.
    pub spot_factor: [Fixed; SCENARIO_COUNT],
    /// `ln(1 + shock)` per scenario.
    pub ln_spot_factor: [Fixed; SCENARIO_COUNT],
    /// Volatility multiplier per scenario.
    pub vol_factor: [Fixed; SCENARIO_COUNT],
}

impl ScenarioGrid {
    /// Builds the grid of `params` (which must be valid).
    pub fn new(params: &RiskParams) -> Result<ScenarioGrid, MathError> {
        let max = i64::from(params.spot_shock_max_ppm);
        let tail = i64::from(params.tail_shock_ppm);
        let vols = [
            i64::from(params.vol_down_ppm),
            PPM,
            i64::from(params.vol_up_ppm),
        ];
        let mut scenarios = [Scenario {
            spot_shock_ppm: 0,
            vol_multiplier_ppm: PPM,
        }; SCENARIO_COUNT];
        for step in 0..9i64 {
            for (v, vol) in vols.iter().enumerate() {
                scenarios[step as usize * 3 + v] = Scenario {
                    spot_shock_ppm: max * (step - 4) / 4,
                    vol_multiplier_ppm: *vol,
                };
            }
        }
        scenarios[27] = Scenario {
            spot_shock_ppm: -tail,
            vol_multiplier_ppm: vols[2],
        };
        scenarios[28] = Scenario {
            spot_shock_ppm: tail,
            vol_multiplier_ppm: vols[2],
        };
        let mut spot_factor = [Fixed::ONE; SCENARIO_COUNT];
        let mut ln_spot_factor = [Fixed::ZERO; SCENARIO_COUNT];
        let mut vol_factor = [Fixed::ONE; SCENARIO_COUNT];
        for (i, scenario) in scenarios.iter().enumerate() {
            spot_factor[i] =
                Fixed::from_ratio(i128::from(PPM + scenario.spot_shock_ppm), i128::from(PPM))?;
            ln_spot_factor[i] = spot_factor[i].ln()?;
            vol_factor[i] =
                Fixed::from_ratio(i128::from(scenario.vol_multiplier_ppm), i128::from(PPM))?;
        }
        Ok(ScenarioGrid {
            scenarios,
            spot_factor,
            ln_spot_factor,
            vol_factor,
        })
    }
}
