//! Collateral amounts: unsigned integers in micro-units of a 6-decimal stablecoin.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Decimals of the collateral token (USDC-like): 1 unit = 10^-6 USDC.
pub const COLLATERAL_DECIMALS: u32 = 6;
const UNITS_PER_WHOLE: u128 = 10u128.pow(COLLATERAL_DECIMALS);

/// A non-negative collateral amount in micro-units. Arithmetic is checked: consensus code
/// never wraps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u128);

/// Why an amount could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Empty input.
    #[error("amount is empty")]
    Empty,
    /// A minus sign: amounts are never negative.
    #[error("amount must not be negative")]
    Negative,
    /// Not made of digits (and at most one decimal point for whole-unit input).
    #[error("amount must be an unsigned integer, got {0:?}")]
    NotANumber(String),
    /// More than six decimal places.
    #[error("amount has more than {COLLATERAL_DECIMALS} decimal places")]
    TooPrecise,
    /// Larger than 2^128 - 1 micro-units.
    #[error("amount does not fit in 128 bits")]
    Overflow,
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// Amount from whole units (e.g. `from_whole(5)` is 5 USDC). Saturates never: panics
    /// only on constants that overflow, which is a programming error.
    pub const fn from_whole(whole: u64) -> Amount {
        Amount(whole as u128 * UNITS_PER_WHOLE)
    }

    /// Checked addition.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// Parses micro-units written as a decimal integer string (`"1500000"`).
    pub fn parse_units(text: &str) -> Result<Amount, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        text.parse::<u128>()
            .map(Amount)
            .map_err(|_| AmountError::Overflow)
    }

    /// Parses a human amount in whole units with up to six decimals (`"1.5"` = 1 500 000
    /// micro-units).
    pub fn parse_whole(text: &str) -> Result<Amount, AmountError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(AmountError::Empty);
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(frac) {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        if frac.len() > COLLATERAL_DECIMALS as usize {
            return Err(AmountError::TooPrecise);
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::Overflow)?
        };
        let frac_units: u128 = if frac.is_empty() {
            0
        } else {
            let padded = format!("{frac:0<width$}", width = COLLATERAL_DECIMALS as usize);
            padded
                .parse()
                .map_err(|_| AmountError::NotANumber(text.to_string()))?
        };
        whole
            .checked_mul(UNITS_PER_WHOLE)
            .and_then(|w| w.checked_add(frac_units))
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }
}

impl fmt::Display for Amount {
    /// Whole units with all six decimals, e.g. `1.500000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0 / UNITS_PER_WHOLE,
            self.0 % UNITS_PER_WHOLE
        )
    }
}

impl Serialize for Amount {
    /// Serialized as a decimal string of micro-units, so JSON never loses precision.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Accepts a decimal string of micro-units or a non-negative JSON integer.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json_like::Raw::deserialize(deserializer)? {
            serde_json_like::Raw::Text(text) => {
                Amount::parse_units(&text).map_err(D::Error::custom)
            }
            serde_json_like::Raw::Unsigned(n) => Ok(Amount(n as u128)),
            serde_json_like::Raw::Signed(_) => Err(D::Error::custom(AmountError::Negative)),
            serde_json_like::Raw::Float(_) => Err(D::Error::custom(
                "amount must be an integer number of micro-units (use a string for large values)",
            )),
        }
    }
}

/// A tiny untagged helper so amounts accept both JSON strings and integers.
mod serde_json_like {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(untagged)]
    #[allow(
        dead_code,
        reason = "the payload of Signed and Float only selects the variant"
    )]
    pub enum Raw {
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Text(String),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_units() {
        assert_eq!(Amount::parse_whole("1.5"), Ok(Amount(1_500_000)));
        assert_eq!(Amount::parse_whole("0.000001"), Ok(Amount(1)));
        assert_eq!(Amount::parse_whole("7"), Ok(Amount(7_000_000)));
        assert_eq!(
            Amount::parse_whole("1.0000001"),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(Amount::parse_whole("-1"), Err(AmountError::Negative));
        assert_eq!(Amount::parse_units("12"), Ok(Amount(12)));
        assert_eq!(Amount::parse_units("-12"), Err(AmountError::Negative));
        assert_eq!(
            Amount::parse_units("1e5"),
            Err(AmountError::NotANumber("1e5".into()))
        );
        let too_big = "340282366920938463463374607431768211456"; // 2^128
        assert_eq!(Amount::parse_units(too_big), Err(AmountError::Overflow));
        assert_eq!(Amount(1_500_000).to_string(), "1.500000");
    }

    #[test]
    fn json_forms() {
        let a: Amount = serde_json::from_str("\"42\"").unwrap();
        assert_eq!(a, Amount(42));
        let b: Amount = serde_json::from_str("42").unwrap();
        assert_eq!(b, Amount(42));
        assert!(serde_json::from_str::<Amount>("-42").is_err());
        assert!(serde_json::from_str::<Amount>("4.2").is_err());
        assert_eq!(serde_json::to_string(&Amount(7)).unwrap(), "\"7\"");
    }
}
