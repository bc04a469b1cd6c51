//! Exact money: a decimal amount of the chain's currency with at most two places.
//!
//! Money is never an `f64` in arithmetic: `0.1 + 0.2` must be `0.30`, and the sum of a million
//! prices must be exact to the cent. Binary floats appear only at the very edge, when a JSON
//! number is written, and [`Money::to_f64`] documents why that is exact there.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::error::ValidationError;

/// The number of decimal places every amount is kept to (cents).
pub const SCALE: u32 = 2;

/// An exact, non-negative amount of money with at most two decimal places.
///
/// A `Money` that exists is valid: the constructors refuse negative amounts and fractions of a
/// cent instead of rounding them away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Money {
    /// Nothing: the neutral element of sums.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// The largest amount a single price may have (a sanity bound, far above any grocery price),
    /// 99,999,999.99: what a price column of PostgreSQL's `numeric(10, 2)` holds. Written from
    /// its 96-bit mantissa, 9,999,999,999 = 2 * 2^32 + 1,410,065,407, at scale 2.
    pub const MAX_PRICE: Money = Money(Decimal::from_parts(1_410_065_407, 2, 0, false, 2));

    /// Wraps a decimal that must be non-negative and have at most two decimal places.
    pub fn new(amount: Decimal) -> Result<Money, ValidationError> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(ValidationError::InvalidAmount {
                amount: amount.to_string(),
                reason: "it is negative",
            });
        }
        let normalized = amount.normalize();
        if normalized.scale() > SCALE {
            return Err(ValidationError::InvalidAmount {
                amount: amount.to_string(),
                reason: "it has a fraction of a cent",
            });
        }
        Ok(Money(to_cents_scale(amount)))
    }

    /// Builds an amount from a whole number of cents.
    pub fn from_cents(cents: u64) -> Money {
        Money(Decimal::new(cents as i64, SCALE))
    }

    /// The amount as a decimal with exactly two places.
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// The amount in whole cents.
    pub fn cents(self) -> i64 {
        (self.0 * Decimal::ONE_HUNDRED)
            .to_i64()
            .expect("a Money amount always fits in i64 cents")
    }

    /// The nearest `f64`, for writing a JSON number.
    ///
    /// This is exact for presentation: any amount with two decimal places and at most 15
    /// significant digits converts to the `f64` whose shortest decimal form is that same
    /// amount, so a JSON writer prints `13608.9` and never `13608.900000000001`.
    pub fn to_f64(self) -> f64 {
        self.0.to_f64().expect("a decimal always converts to f64")
    }
}

/// Brings an amount to exactly two decimal places (only ever adds zeros: callers check first).
fn to_cents_scale(amount: Decimal) -> Decimal {
    let mut amount = amount.normalize();
    amount.rescale(SCALE);
    amount
}

impl Add for Money {
    type Output = Money;

    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

impl FromStr for Money {
    type Err = ValidationError;

    /// Parses a plain decimal such as `1.5`, `2` or `13608.90`.
    fn from_str(text: &str) -> Result<Money, ValidationError> {
        let trimmed = text.trim();
        let amount =
            Decimal::from_str_exact(trimmed).map_err(|_| ValidationError::InvalidAmount {
                amount: trimmed.to_owned(),
                reason: "it is not a decimal number",
            })?;
        Money::new(amount)
    }
}

impl TryFrom<Decimal> for Money {
    type Error = ValidationError;

    fn try_from(amount: Decimal) -> Result<Money, ValidationError> {
        Money::new(amount)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn the_largest_price_is_what_a_price_column_holds() {
        assert_eq!(Money::MAX_PRICE, money("99999999.99"));
    }

    #[test]
    fn sums_that_floats_get_wrong_are_exact() {
        assert_ne!(0.1_f64 + 0.2, 0.3);
        assert_eq!(money("0.1") + money("0.2"), money("0.3"));
        let thousand_dimes: Money = std::iter::repeat_n(money("0.10"), 1000).sum();
        assert_eq!(thousand_dimes, money("100"));
    }

    #[test]
    fn every_amount_has_two_places() {
        assert_eq!(money("1.5").to_string(), "1.50");
        assert_eq!(money("2").to_string(), "2.00");
        assert_eq!(money("13608.900").to_string(), "13608.90");
        assert_eq!(money("1.5"), Money::from_cents(150));
        assert_eq!(money("6152.7").cents(), 615_270);
    }

    #[test]
    fn refuses_negative_amounts_and_fractions_of_a_cent() {
        let negative = "-1".parse::<Money>().unwrap_err();
        assert!(negative.to_string().contains("negative"), "{negative}");
        let fraction = "0.001".parse::<Money>().unwrap_err();
        assert!(
            fraction.to_string().contains("fraction of a cent"),
            "{fraction}"
        );
        assert!("abc".parse::<Money>().is_err());
        assert!("".parse::<Money>().is_err());
        assert!("NaN".parse::<Money>().is_err());
        assert_eq!(money("-0"), Money::ZERO);
    }

    #[test]
    fn converts_to_the_f64_whose_shortest_form_is_the_amount() {
        for text in [
            "13608.90",
            "0.30",
            "1936.20",
            "6152.70",
            "5520.00",
            "99999999.99",
        ] {
            let amount = money(text);
            let printed = amount.to_f64().to_string();
            assert_eq!(money(&printed), amount, "{text} printed as {printed}");
        }
        assert_eq!((money("0.1") + money("0.2")).to_f64().to_string(), "0.3");
    }
}
