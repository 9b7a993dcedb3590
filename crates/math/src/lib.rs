//! Deterministic fixed-point mathematics for consensus code (see the crate README).

pub mod black76;
mod exp_ln;
pub mod fixed;
#[rustfmt::skip]
mod generated;
pub mod normal;

pub use black76::{OptionInputs, OptionValues, PriceParts, PricingError, black76, price_parts};
pub use exp_ln::{EXP_ARGUMENT_MAX, EXP_ARGUMENT_MIN, EXP_DEGREE, LN_TERMS};
pub use fixed::{FRACTION_BITS, Fixed, MathError};

/// Every constant the functions above read, as the L1 option pricer reads them (one
/// deployed data contract, `contracts/src/OptionPricer.sol`): Q64.64 values as 16-byte
/// big-endian two's complement, in this order: `LN_2`, `INV_SQRT_2PI`, `SQRT_2`,
/// `THIRTY_TWO_OVER_LN_2`, `LN_2_OVER_32_Q128`, `EXP2_FRACTIONS` (32), `INV_FACTORIALS`
/// (9), `INV_ODD` (15), then the Mills-ratio table (80 intervals of 13 coefficients,
/// lowest degree first).
pub fn constant_table() -> Vec<u8> {
    use generated::*;
    let scalars = [
        LN_2,
        INV_SQRT_2PI,
        SQRT_2,
        THIRTY_TWO_OVER_LN_2,
        LN_2_OVER_32_Q128,
    ];
    scalars
        .iter()
        .chain(&EXP2_FRACTIONS)
        .chain(&INV_FACTORIALS)
        .chain(&INV_ODD)
        .chain(MILLS_TABLE.iter().flatten())
        .flat_map(|value| value.to_be_bytes())
        .collect()
}
