//! The Q64.64 number type and its exactly specified arithmetic.
//!
//! A value `x` is stored as the signed 128-bit integer `raw = x · 2^64`. Addition and
//! subtraction are exact. Products and quotients are computed on the exact 256-bit
//! intermediate and rounded **toward negative infinity** (floor), which is what an
//! arithmetic right shift does in Solidity (`sar`), so an on-chain implementation gets
//! the same bits. Every operation that can leave the representable range has a checked
//! form returning [`MathError`]; the unchecked forms are for callers whose inputs are
//! bounded so that overflow is impossible (and debug builds still assert it).

use alloy_primitives::U256;

/// Why a fixed-point operation has no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MathError {
    /// The result does not fit in Q64.64 (|x| ≥ 2^63).
    #[error("fixed-point overflow")]
    Overflow,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Outside the function's domain (for example the logarithm of a non-positive number).
    #[error("argument outside the domain of {0}")]
    Domain(&'static str),
}

/// A Q64.64 signed fixed-point number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed(pub i128);

/// Number of fractional bits.
pub const FRACTION_BITS: u32 = 64;

impl Fixed {
    /// 0.
    pub const ZERO: Fixed = Fixed(0);
    /// 1.
    pub const ONE: Fixed = Fixed(1 << FRACTION_BITS);
    /// 1/2.
    pub const HALF: Fixed = Fixed(1 << (FRACTION_BITS - 1));
    /// The largest value, just below 2^63.
    pub const MAX: Fixed = Fixed(i128::MAX);

    /// The raw representation `x · 2^64`.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// An integer.
    pub const fn from_int(value: i64) -> Fixed {
        Fixed((value as i128) << FRACTION_BITS)
    }

    /// `numerator / denominator`, floored.
    pub fn from_ratio(numerator: i128, denominator: i128) -> Result<Fixed, MathError> {
        div_raw(numerator, denominator, FRACTION_BITS)
    }

    /// `units / 10^decimals`, floored (for example micro-USDC with `decimals = 6`).
    pub fn from_decimal(units: i128, decimals: u32) -> Result<Fixed, MathError> {
        let scale = 10i128.checked_pow(decimals).ok_or(MathError::Overflow)?;
        Fixed::from_ratio(units, scale)
    }

    /// `self · 10^decimals` as an integer, floored (the inverse of [`Fixed::from_decimal`]).
    pub fn to_decimal_floor(self, decimals: u32) -> Result<i128, MathError> {
        let scale = 10i128.checked_pow(decimals).ok_or(MathError::Overflow)?;
        let product = signed_wide_mul(self.0, scale);
        shift_floor(product, FRACTION_BITS)
    }

    /// The nearest `f64` (for display and tests only; never in consensus code).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 18_446_744_073_709_551_616.0
    }

    /// `self + other`, checked.
    pub fn checked_add(self, other: Fixed) -> Result<Fixed, MathError> {
        self.0
            .checked_add(other.0)
            .map(Fixed)
            .ok_or(MathError::Overflow)
    }

    /// `self - other`, checked.
    pub fn checked_sub(self, other: Fixed) -> Result<Fixed, MathError> {
        self.0
            .checked_sub(other.0)
            .map(Fixed)
            .ok_or(MathError::Overflow)
    }

    /// `floor(self · other)`, checked.
    pub fn checked_mul(self, other: Fixed) -> Result<Fixed, MathError> {
        shift_floor(signed_wide_mul(self.0, other.0), FRACTION_BITS).map(Fixed)
    }

    /// `floor(self · other)`; the caller guarantees the product fits.
    #[inline]
    pub fn mul_floor(self, other: Fixed) -> Fixed {
        let product = shift_floor(signed_wide_mul(self.0, other.0), FRACTION_BITS);
        debug_assert!(product.is_ok(), "fixed-point overflow in mul");
        Fixed(product.unwrap_or(i128::MAX))
    }

    /// `floor(self / other)`, checked.
    pub fn checked_div(self, other: Fixed) -> Result<Fixed, MathError> {
        div_raw(self.0, other.0, FRACTION_BITS)
    }

    /// `floor(self / other)`; the caller guarantees `other ≠ 0` and that the quotient fits.
    #[inline]
    pub fn div_floor(self, other: Fixed) -> Fixed {
        let quotient = self.checked_div(other);
        debug_assert!(quotient.is_ok(), "fixed-point overflow in div");
        quotient.unwrap_or(Fixed::MAX)
    }

    /// `floor(self · 2^-shift)`.
    pub const fn shr(self, shift: u32) -> Fixed {
        Fixed(self.0 >> shift)
    }

    /// The absolute value.
    pub const fn abs(self) -> Fixed {
        Fixed(self.0.abs())
    }

    /// `floor(sqrt(self))` exactly (the integer square root of `raw · 2^64`).
    pub fn sqrt(self) -> Result<Fixed, MathError> {
        if self.0 < 0 {
            return Err(MathError::Domain("sqrt"));
        }
        let widened = U256::from(self.0 as u128) << FRACTION_BITS;
        let root = widened.root(2);
        // sqrt(2^127 · 2^64) < 2^96: always fits.
        Ok(Fixed(root.to::<u128>() as i128))
    }
}

impl std::ops::Add for Fixed {
    type Output = Fixed;
    #[inline]
    fn add(self, other: Fixed) -> Fixed {
        Fixed(self.0 + other.0)
    }
}

impl std::ops::Sub for Fixed {
    type Output = Fixed;
    #[inline]
    fn sub(self, other: Fixed) -> Fixed {
        Fixed(self.0 - other.0)
    }
}

impl std::ops::Neg for Fixed {
    type Output = Fixed;
    #[inline]
    fn neg(self) -> Fixed {
        Fixed(-self.0)
    }
}

/// A signed 256-bit value as (negative, magnitude high 128 bits, magnitude low 128 bits).
#[derive(Clone, Copy)]
struct Wide {
    negative: bool,
    high: u128,
    low: u128,
}

/// The exact product of two `i128`.
#[inline]
fn signed_wide_mul(a: i128, b: i128) -> Wide {
    let (high, low) = wide_mul(a.unsigned_abs(), b.unsigned_abs());
    Wide {
        negative: (a < 0) != (b < 0) && (high | low) != 0,
        high,
        low,
    }
}

/// The exact 256-bit product of two `u128` as (high, low).
#[inline]
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a0, a1) = (a & MASK, a >> 64);
    let (b0, b1) = (b & MASK, b >> 64);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let middle = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let low = (p00 & MASK) | (middle << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
    (high, low)
}

/// `floor(value / 2^shift)` as an `i128`, or overflow. `shift` is 1 to 127.
#[inline]
fn shift_floor(value: Wide, shift: u32) -> Result<i128, MathError> {
    let magnitude_shifted_low = (value.low >> shift) | (value.high << (128 - shift));
    let magnitude_shifted_high = value.high >> shift;
    if magnitude_shifted_high != 0 {
        return Err(MathError::Overflow);
    }
    let dropped = value.low & ((1u128 << shift) - 1) != 0;
    if value.negative {
        // floor(-m / 2^s) = -ceil(m / 2^s)
        let ceil = magnitude_shifted_low + u128::from(dropped);
        if ceil > (1u128 << 127) {
            return Err(MathError::Overflow);
        }
        Ok((ceil as i128).wrapping_neg())
    } else {
        i128::try_from(magnitude_shifted_low).map_err(|_| MathError::Overflow)
    }
}

/// `floor(numerator · 2^shift / denominator)`.
fn div_raw(numerator: i128, denominator: i128, shift: u32) -> Result<Fixed, MathError> {
    if denominator == 0 {
        return Err(MathError::DivisionByZero);
    }
    let negative = (numerator < 0) != (denominator < 0);
    let dividend = U256::from(numerator.unsigned_abs()) << shift;
    let divisor = U256::from(denominator.unsigned_abs());
    let (quotient, remainder) = dividend.div_rem(divisor);
    let quotient: u128 = quotient.try_into().map_err(|_| MathError::Overflow)?;
    if negative && numerator != 0 {
        let ceil = quotient + u128::from(!remainder.is_zero());
        if ceil > (1u128 << 127) {
            return Err(MathError::Overflow);
        }
        Ok(Fixed((ceil as i128).wrapping_neg()))
    } else {
        i128::try_from(quotient)
            .map(Fixed)
            .map_err(|_| MathError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: exact arithmetic on 256-bit signed integers.
    fn reference_mul(a: i128, b: i128) -> Option<i128> {
        let product = alloy_primitives::I256::try_from(a).unwrap()
            * alloy_primitives::I256::try_from(b).unwrap();
        let floored = product.asr(64);
        i128::try_from(floored).ok()
    }

    #[test]
    fn rounding_is_floor() {
        let tiny = Fixed(1);
        assert_eq!(tiny.mul_floor(Fixed::HALF), Fixed(0));
        assert_eq!((-tiny).mul_floor(Fixed::HALF), Fixed(-1));
        assert_eq!(
            Fixed::ONE.div_floor(Fixed::from_int(3)).raw(),
            6148914691236517205
        );
        assert_eq!(
            (-Fixed::ONE).div_floor(Fixed::from_int(3)).raw(),
            -6148914691236517206
        );
        assert_eq!(
            Fixed::from_int(2).sqrt().unwrap().raw(),
            26087635650665564424
        );
        assert_eq!(
            Fixed::from_decimal(1_500_000, 6).unwrap(),
            Fixed::ONE + Fixed::HALF
        );
        assert_eq!(
            (Fixed::ONE + Fixed::HALF).to_decimal_floor(6).unwrap(),
            1_500_000
        );
        assert_eq!(
            Fixed::ONE.checked_div(Fixed::ZERO),
            Err(MathError::DivisionByZero)
        );
        assert_eq!(
            Fixed::MAX.checked_mul(Fixed::from_int(2)),
            Err(MathError::Overflow)
        );
    }

    proptest! {
        #[test]
        fn mul_matches_exact_256_bit_arithmetic(a in any::<i128>(), b in any::<i128>()) {
            let expected = reference_mul(a, b);
            let ours = Fixed(a).checked_mul(Fixed(b)).ok().map(Fixed::raw);
            prop_assert_eq!(ours, expected);
        }

        #[test]
        fn mul_of_moderate_values_matches(a in -(1i128 << 100)..(1i128 << 100), b in -(1i128 << 80)..(1i128 << 80)) {
            prop_assert_eq!(Fixed(a).checked_mul(Fixed(b)).ok().map(Fixed::raw), reference_mul(a, b));
        }

        #[test]
        fn div_is_floor_of_exact_quotient(a in -(1i128 << 90)..(1i128 << 90), b in any::<i128>()) {
            prop_assume!(b != 0);
            if let Ok(q) = Fixed(a).checked_div(Fixed(b)) {
                // q ≤ a·2^64 / b < q + 1, checked exactly in 256 bits.
                let lhs = alloy_primitives::I256::try_from(q.raw()).unwrap() * alloy_primitives::I256::try_from(b).unwrap();
                let dividend = alloy_primitives::I256::try_from(a).unwrap() << 64;
                let next = lhs + alloy_primitives::I256::try_from(b).unwrap();
                if b > 0 {
                    prop_assert!(lhs <= dividend && dividend < next);
                } else {
                    prop_assert!(lhs >= dividend && dividend > next);
                }
            }
        }

        #[test]
        fn sqrt_is_exact_floor(a in 0i128..i128::MAX) {
            let r = Fixed(a).sqrt().unwrap().raw() as u128;
            let square = U256::from(r) * U256::from(r);
            let target = U256::from(a as u128) << 64;
            prop_assert!(square <= target && target < U256::from(r + 1) * U256::from(r + 1));
        }
    }
}
