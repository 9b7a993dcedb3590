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
