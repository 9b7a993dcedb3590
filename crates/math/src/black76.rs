//! Black-76 prices and Greeks of European options on a forward, in Q64.64, with zero
//! discounting (USDC-margined, cash-settled at expiry).
//!
//! With moneyness `m = K/F`, total volatility `v = σ·√T`, `d1 = −ln(m)/v + v/2`,
//! `d2 = d1 − v` and `φ = φ(d1)` (note `φ(d2) = φ(d1)/m`), both prices are computed from
//! one exponential and two Mills ratios, in the form that never subtracts two nearly
//! equal tail probabilities:
//!
//! | region | call / F | put / F |
//! |---|---|---|
//! | d1 ≤ 0 | `φ·(R(−d1) − R(−d2))` | `(m − 1) + φ·(R(−d1) − R(−d2))` |
//! | d2 < 0 < d1 | `1 − φ·(R(d1) + R(−d2))` | `m − φ·(R(d1) + R(−d2))` |
//! | d2 ≥ 0 | `(1 − m) + φ·(R(d2) − R(d1))` | `φ·(R(d2) − R(d1))` |
//!
//! Greeks: `Δcall = N(d1)`, `Δput = N(d1) − 1`, `Γ = φ/(F·v)`, `vega = F·φ·√T` (per unit
//! of σ), `θ = −F·φ·σ/(2√T)` (per year).

use crate::fixed::{FRACTION_BITS, Fixed, MathError};
use crate::normal::{mills_ratio, pdf};

/// Largest forward or strike accepted (2^40 ≈ 1.1·10^12 price units).
pub const PRICE_MAX: Fixed = Fixed(1 << (FRACTION_BITS + 40));
/// Smallest forward or strike accepted (2^-20 ≈ 10^-6 price units).
pub const PRICE_MIN: Fixed = Fixed(1 << (FRACTION_BITS - 20));
/// Largest volatility accepted (1000 %).
pub const SIGMA_MAX: Fixed = Fixed(10 << FRACTION_BITS);
/// Smallest volatility accepted (2^-10 ≈ 0.1 %).
pub const SIGMA_MIN: Fixed = Fixed(1 << (FRACTION_BITS - 10));
/// Longest time to expiry accepted, in years.
pub const YEARS_MAX: Fixed = Fixed(10 << FRACTION_BITS);
/// Shortest time to expiry accepted (2^-22 years ≈ 7.5 seconds).
pub const YEARS_MIN: Fixed = Fixed(1 << (FRACTION_BITS - 22));

/// Inputs of one option valuation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionInputs {
    /// Forward (for a perp-margined book: the index) price.
    pub forward: Fixed,
    /// Strike price.
    pub strike: Fixed,
    /// Annualised volatility (0.65 for 65 %).
    pub sigma: Fixed,
    /// Time to expiry in years.
    pub years: Fixed,
}

/// Prices and Greeks of the call and put with the same inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionValues {
    /// Call price.
    pub call: Fixed,
    /// Put price.
    pub put: Fixed,
    /// ∂call/∂F.
    pub delta_call: Fixed,
    /// ∂put/∂F.
    pub delta_put: Fixed,
    /// ∂²/∂F², the same for call and put.
    pub gamma: Fixed,
    /// ∂/∂σ per 1.00 of volatility, the same for call and put.
    pub vega: Fixed,
    /// ∂/∂t per year (negative: value lost as time passes), the same for call and put.
    pub theta: Fixed,
}

/// Why inputs were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An input is outside its documented bounds.
    #[error("{field} is outside [{}, {}]", min.to_f64(), max.to_f64())]
    OutOfBounds {
        /// Which input.
        field: &'static str,
        /// Lower bound.
        min: Fixed,
        /// Upper bound.
        max: Fixed,
    },
    /// Arithmetic failure (cannot happen within the bounds; reported, never panicked).
    #[error(transparent)]
    Math(#[from] MathError),
}

fn check(field: &'static str, value: Fixed, min: Fixed, max: Fixed) -> Result<(), PricingError> {
    if value < min || value > max {
        return Err(PricingError::OutOfBounds { field, min, max });
    }
    Ok(())
}

/// Prices and Greeks of a call and a put.
pub fn black76(inputs: &OptionInputs) -> Result<OptionValues, PricingError> {
    check("forward", inputs.forward, PRICE_MIN, PRICE_MAX)?;
    check("strike", inputs.strike, PRICE_MIN, PRICE_MAX)?;
    check("sigma", inputs.sigma, SIGMA_MIN, SIGMA_MAX)?;
    check("years", inputs.years, YEARS_MIN, YEARS_MAX)?;
    let forward = inputs.forward;
    let moneyness = inputs.strike.checked_div(forward)?;
    let sqrt_years = inputs.years.sqrt()?;
    let total_vol = inputs.sigma.mul_floor(sqrt_years);
    let inverse_vol = Fixed::ONE.checked_div(total_vol)?;
    let parts = price_parts(moneyness.ln()?, moneyness, total_vol, inverse_vol)?;
    let phi_forward = parts.phi.mul_floor(forward);
    Ok(OptionValues {
        call: parts.call.mul_floor(forward),
        put: parts.put.mul_floor(forward),
        delta_call: parts.cdf_d1,
        delta_put: parts.cdf_d1 - Fixed::ONE,
        gamma: parts.phi.checked_div(forward.checked_mul(total_vol)?)?,
        vega: phi_forward.mul_floor(sqrt_years),
        theta: -(phi_forward
            .mul_floor(inputs.sigma)
            .checked_div(sqrt_years + sqrt_years)?),
    })
}

/// Forward-normalised values: prices per unit of forward, `φ(d1)` and `N(d1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceParts {
    /// Call / F.
    pub call: Fixed,
    /// Put / F.
    pub put: Fixed,
    /// φ(d1).
    pub phi: Fixed,
    /// N(d1).
    pub cdf_d1: Fixed,
}

/// The normalised prices from `ln m`, `m`, `v = σ√T` and `w = div_floor(1, v)`. Scenario
/// grids call this directly with precomputed shocks (`ln m` shifts by `−ln(1 + shock)`,
/// `v` and `w` are shared by every scenario of a volatility level), so one oracle update
/// prices every scenario without a logarithm, a square root or a division.
pub fn price_parts(
    ln_moneyness: Fixed,
    moneyness: Fixed,
    total_vol: Fixed,
    inverse_vol: Fixed,
) -> Result<PriceParts, MathError> {
    let d1 = (-ln_moneyness).checked_mul(inverse_vol)? + total_vol.shr(1);
    let d2 = d1 - total_vol;
    let phi = pdf(d1);
    // R(|d1|) is needed in every region and also gives N(d1).
    let mills_d1 = mills_ratio(d1.abs());
    let (call, put) = if d1.0 <= 0 {
        let time_value = phi.mul_floor(mills_d1 - mills_ratio(-d2));
        (time_value, moneyness - Fixed::ONE + time_value)
    } else if d2.0 < 0 {
        let tails = phi.mul_floor(mills_d1 + mills_ratio(-d2));
        (Fixed::ONE - tails, moneyness - tails)
    } else {
        let time_value = phi.mul_floor(mills_ratio(d2) - mills_d1);
        (Fixed::ONE - moneyness + time_value, time_value)
    };
    let tail_d1 = phi.mul_floor(mills_d1);
    let cdf_d1 = if d1.0 >= 0 {
        Fixed::ONE - tail_d1
    } else {
        tail_d1
    };
    Ok(PriceParts {
        call,
        put,
        phi,
        cdf_d1,
    })
}
