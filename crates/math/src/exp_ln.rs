//! `exp` and `ln` in Q64.64. All constants come from `generated.rs`.
//!
//! exp: `k = floor(x·(32/ln2) + 1/2)` (one floored multiplication), `n = k >> 5`,
//! `j = k & 31`, `r = x − floor(k · LN_2_OVER_32_Q128 / 2^64)` (ln2/32 held to 128
//! fractional bits, so the reduction is exact to one ulp; |r| ≤ 0.0109), then
//! `p = Σ_{i=0..8} r^i/i!` in Horner form with the Q64.64 constants `INV_FACTORIALS`,
//! `e^x = floor(p · 2^(j/32)) · 2^n` (left shift, or arithmetic right shift for n < 0).
//!
//! ln: `x = m·2^e` with m in [1, 2); if `m > √2` use `s = (m − 2)/(m + 2)` and `e + 1`,
//! else `s = (m − 1)/(m + 1)`, so |s| ≤ 0.1716; `ln x = 2·s·Σ_{k=0..14} s^(2k)/(2k+1)` in
//! Horner form in s² with the constants `INV_ODD`, plus `e·ln2`.

use crate::fixed::{FRACTION_BITS, Fixed, MathError};
use crate::generated::{
    EXP2_FRACTIONS, INV_FACTORIALS, INV_ODD, LN_2, LN_2_OVER_32_Q128, SQRT_2, THIRTY_TWO_OVER_LN_2,
};

/// Degree of the Taylor polynomial of `e^r`, |r| ≤ 0.0109 (truncation error < 10^-23).
pub const EXP_DEGREE: usize = 8;
/// Terms of the `atanh` series of `ln` (truncation error < 2^-70 for |s| ≤ 0.1716).
pub const LN_TERMS: usize = 15;
/// Above this, `e^x` does not fit Q64.64 (e^43.6 ≈ 2^63).
pub const EXP_ARGUMENT_MAX: Fixed = Fixed(43 << FRACTION_BITS);
/// Below this, `e^x` is under the Q64.64 grid (e^-45 < 2^-64) and is exactly 0.
pub const EXP_ARGUMENT_MIN: Fixed = Fixed(-45 << FRACTION_BITS);

impl Fixed {
    /// `e^self`, floored to the grid; 0 for very negative arguments.
    pub fn exp(self) -> Result<Fixed, MathError> {
        if self > EXP_ARGUMENT_MAX {
            return Err(MathError::Overflow);
        }
        if self < EXP_ARGUMENT_MIN {
            return Ok(Fixed::ZERO);
        }
        let k = (self.mul_floor(Fixed(THIRTY_TWO_OVER_LN_2)).0 + Fixed::HALF.0) >> FRACTION_BITS;
        let (n, j) = (k >> 5, (k & 31) as usize);
        let r = self - Fixed(k).mul_floor(Fixed(LN_2_OVER_32_Q128));
        let mut p = Fixed(INV_FACTORIALS[EXP_DEGREE]);
        for i in (0..EXP_DEGREE).rev() {
            p = Fixed(INV_FACTORIALS[i]) + r.mul_floor(p);
        }
        let scaled = p.mul_floor(Fixed(EXP2_FRACTIONS[j]));
        if n >= 0 {
            // n ≤ 62 and scaled < 2.02 here, so the shift cannot overflow.
            Ok(Fixed(scaled.0 << n))
        } else {
            Ok(Fixed(scaled.0 >> (-n).min(127)))
        }
    }

    /// The natural logarithm of a positive number.
    pub fn ln(self) -> Result<Fixed, MathError> {
        if self.0 <= 0 {
            return Err(MathError::Domain("ln"));
        }
        let msb = 127 - self.0.leading_zeros() as i128;
        let mut exponent = msb - FRACTION_BITS as i128;
        let mantissa = if exponent >= 0 {
            Fixed(self.0 >> exponent)
        } else {
            Fixed(self.0 << (-exponent))
        };
        let s = if mantissa.0 > SQRT_2 {
            exponent += 1;
            (mantissa - Fixed::from_int(2)).div_floor(mantissa + Fixed::from_int(2))
        } else {
            (mantissa - Fixed::ONE).div_floor(mantissa + Fixed::ONE)
        };
        let s_squared = s.mul_floor(s);
        let mut series = Fixed(INV_ODD[LN_TERMS - 1]);
        for k in (0..LN_TERMS - 1).rev() {
            series = Fixed(INV_ODD[k]) + s_squared.mul_floor(series);
        }
        Ok(Fixed(2 * s.mul_floor(series).0 + exponent * LN_2))
    }
}
