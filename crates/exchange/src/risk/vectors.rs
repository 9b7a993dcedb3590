//! Risk vectors: per market and per oracle update, the mark price, the Greeks and the
//! profit or loss of one long contract in every scenario of the grid. Accounts never
//! price anything: their margin is a linear combination of these vectors.
//!
//! Units: prices and P&L in nano-USDC (10^-9) per whole contract, so an account sum
//! rounded once at the end loses less than one micro-USDC; delta in 10^-9 of the
//! underlying per contract; gamma in 10^-9 of the underlying per USDC; vega in
//! nano-USDC per volatility point (0.01); theta in nano-USDC per day.

use super::scenarios::{SCENARIO_COUNT, ScenarioGrid};
use straddle_math::{Fixed, MathError, OptionInputs, PricingError, black76, price_parts};

/// Nano-units per unit.
pub const NANO: i128 = 1_000_000_000;
/// Milliseconds in the 365-day year used for time to expiry.
pub const MS_PER_YEAR: i128 = 365 * 24 * 3_600 * 1_000;
/// Option valuation never uses less time than this (the pricer's lower bound), ms.
pub const EXPIRY_HORIZON_MIN_MS: i128 = 7_500;

/// Call or put.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OptionKind {
    /// Pays max(S − K, 0).
    Call,
    /// Pays max(K − S, 0).
    Put,
}

/// The volatility smile of one expiry: `σ(K) = atm + skew·x + curvature·x²` with
/// `x = ln(K/F)`, clamped to the pricer's bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolSmile {
    /// At-the-money volatility, ppm (650 000 = 65 %).
    pub atm_vol_ppm: u32,
    /// Slope per unit of log-moneyness, ppm (negative: puts richer).
    pub skew_ppm: i32,
    /// Convexity per unit of log-moneyness squared, ppm.
    pub curvature_ppm: u32,
}

impl VolSmile {
    /// The volatility at log-moneyness `x`.
    pub fn sigma(&self, x: Fixed) -> Result<Fixed, MathError> {
        let ppm = |v: i128| Fixed::from_ratio(v, 1_000_000);
        let atm = ppm(i128::from(self.atm_vol_ppm))?;
        let skew = ppm(i128::from(self.skew_ppm))?;
        let curvature = ppm(i128::from(self.curvature_ppm))?;
        let sigma = atm
            .checked_add(skew.checked_mul(x)?)?
            .checked_add(curvature.checked_mul(x.checked_mul(x)?)?)?;
        Ok(sigma.clamp(
            straddle_math::black76::SIGMA_MIN,
            straddle_math::black76::SIGMA_MAX,
        ))
    }
}

/// What the clearinghouse knows about one market after an oracle update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskVector {
    /// Mark price, nano-USDC per contract.
    pub mark_nano: i64,
    /// ∂mark/∂index, 10^-9 per contract.
    pub delta_nano: i64,
    /// ∂²mark/∂index², 10^-9 per USDC per contract.
    pub gamma_nano: i64,
    /// ∂mark/∂σ per volatility point, nano-USDC.
    pub vega_nano: i64,
    /// ∂mark/∂t per day, nano-USDC.
    pub theta_nano: i64,
    /// Volatility used for the mark, ppm (0 for perpetuals).
    pub sigma_ppm: i64,
    /// Extra maintenance per short contract, nano-USDC (0 for perpetuals).
    pub short_charge_nano: i64,
    /// Profit of one long contract in each scenario, nano-USDC.
    pub scenario_pnl_nano: [i64; SCENARIO_COUNT],
}

/// Why a vector could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RiskError {
    /// The option has expired: it settles instead.
    #[error("option expired at {expiry_ms}, now {now_ms}")]
    Expired {
        /// Expiry.
        expiry_ms: u64,
        /// Block time.
        now_ms: u64,
    },
    /// A value left its documented bounds.
    #[error("pricing: {0}")]
    Pricing(#[from] PricingError),
    /// Arithmetic failure.
    #[error("math: {0}")]
    Math(#[from] MathError),
    /// A result does not fit its storage width.
    #[error("risk value does not fit in 64 bits")]
    Overflow,
}

fn to_nano(value: Fixed) -> Result<i64, RiskError> {
    i64::try_from(value.to_decimal_floor(9)?).map_err(|_| RiskError::Overflow)
}

fn usdc(micro_usdc: u64) -> Result<Fixed, MathError> {
    Fixed::from_decimal(i128::from(micro_usdc), 6)
}

/// The vector of a perpetual whose mark is `mark_micro_usdc`: P&L is linear in the spot
/// shock (`floor(mark · shock_ppm / 10^6)` in nano-USDC, exact integers) and independent
/// of volatility.
pub fn perpetual_vector(
    mark_micro_usdc: u64,
    grid: &ScenarioGrid,
) -> Result<RiskVector, RiskError> {
    let mark_nano = i128::from(mark_micro_usdc) * 1_000;
    let mut scenario_pnl_nano = [0i64; SCENARIO_COUNT];
    for (pnl, scenario) in scenario_pnl_nano.iter_mut().zip(&grid.scenarios) {
        let move_nano = (mark_nano * i128::from(scenario.spot_shock_ppm)).div_euclid(1_000_000);
        *pnl = i64::try_from(move_nano).map_err(|_| RiskError::Overflow)?;
    }
    Ok(RiskVector {
        mark_nano: i64::try_from(mark_nano).map_err(|_| RiskError::Overflow)?,
        delta_nano: NANO as i64,
        gamma_nano: 0,
        vega_nano: 0,
        theta_nano: 0,
        sigma_ppm: 0,
        short_charge_nano: 0,
        scenario_pnl_nano,
    })
}

/// The call and the put of one strike and expiry, priced together (they share every
/// intermediate value, so a strike costs one pricing per scenario, not two).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrikeVectors {
    /// The call's vector.
    pub call: RiskVector,
    /// The put's vector.
    pub put: RiskVector,
}

impl StrikeVectors {
    /// The vector of one side.
    pub fn side(&self, kind: OptionKind) -> &RiskVector {
        match kind {
            OptionKind::Call => &self.call,
            OptionKind::Put => &self.put,
        }
    }
}

/// The vectors of the call and put struck at `strike_micro_usdc` expiring at `expiry_ms`,
/// from the index (used as the forward), the expiry's smile and the block time.
/// Volatility is sticky-strike: a scenario scales the strike's volatility by its
/// multiplier but does not move along the smile. `short_option_min_ppm` of the index is
/// each contract's short-option charge.
pub fn strike_vectors(
    strike_micro_usdc: u64,
    expiry_ms: u64,
    index_micro_usdc: u64,
    smile: &VolSmile,
    now_ms: u64,
    grid: &ScenarioGrid,
    short_option_min_ppm: u32,
) -> Result<StrikeVectors, RiskError> {
    if now_ms >= expiry_ms {
        return Err(RiskError::Expired { expiry_ms, now_ms });
    }
    let remaining_ms = i128::from(expiry_ms - now_ms).max(EXPIRY_HORIZON_MIN_MS);
    let years = Fixed::from_ratio(remaining_ms, MS_PER_YEAR)?;
    let forward = usdc(index_micro_usdc)?;
    let strike = usdc(strike_micro_usdc)?;
    let moneyness = strike.checked_div(forward)?;
    let ln_moneyness = moneyness.ln()?;
    let sigma = smile.sigma(ln_moneyness)?;
    let values = black76(&OptionInputs {
        forward,
        strike,
        sigma,
        years,
    })?;
    let total_vol = sigma.mul_floor(years.sqrt()?);
    // Scenarios come in groups of three volatility levels sharing one spot level (the
    // tails reuse the vol-up level): divide once per spot level and per vol level.
    let mut vol_levels = [(Fixed::ZERO, Fixed::ZERO); 3];
    for (level, (v, w)) in vol_levels.iter_mut().enumerate() {
        *v = total_vol.checked_mul(grid.vol_factor[level])?;
        *w = Fixed::ONE.checked_div(*v)?;
    }
    let mut call_pnl = [0i64; SCENARIO_COUNT];
    let mut put_pnl = [0i64; SCENARIO_COUNT];
    let mut spot: Option<(Fixed, Fixed, Fixed)> = None;
    for i in 0..SCENARIO_COUNT {
        let (shocked_forward, shocked_moneyness) = match spot {
            Some((factor, f, m)) if factor == grid.spot_factor[i] => (f, m),
            _ => {
                let f = forward.checked_mul(grid.spot_factor[i])?;
                let m = strike.checked_div(f)?;
                spot = Some((grid.spot_factor[i], f, m));
                (f, m)
            }
        };
        let level = if i < 27 { i % 3 } else { 2 };
        let (v, w) = vol_levels[level];
        let parts = price_parts(
            ln_moneyness - grid.ln_spot_factor[i],
            shocked_moneyness,
            v,
            w,
        )?;
        call_pnl[i] = to_nano(parts.call.checked_mul(shocked_forward)? - values.call)?;
        put_pnl[i] = to_nano(parts.put.checked_mul(shocked_forward)? - values.put)?;
    }
    let gamma_nano = to_nano(values.gamma)?;
    let vega_nano = to_nano(values.vega.checked_div(Fixed::from_int(100))?)?;
    let theta_nano = to_nano(values.theta.checked_div(Fixed::from_int(365))?)?;
    let sigma_ppm = i64::try_from(sigma.to_decimal_floor(6)?).map_err(|_| RiskError::Overflow)?;
    let short_charge_nano = i64::try_from(
        i128::from(index_micro_usdc) * 1_000 * i128::from(short_option_min_ppm) / 1_000_000,
    )
    .map_err(|_| RiskError::Overflow)?;
    let side =
        |mark: Fixed, delta: Fixed, pnl: [i64; SCENARIO_COUNT]| -> Result<RiskVector, RiskError> {
            Ok(RiskVector {
                mark_nano: to_nano(mark)?,
                delta_nano: to_nano(delta)?,
                gamma_nano,
                vega_nano,
                theta_nano,
                sigma_ppm,
                short_charge_nano,
                scenario_pnl_nano: pnl,
            })
        };
    Ok(StrikeVectors {
        call: side(values.call, values.delta_call, call_pnl)?,
        put: side(values.put, values.delta_put, put_pnl)?,
    })
}
