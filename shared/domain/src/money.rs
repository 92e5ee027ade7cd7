//! Money: a decimal amount always paired with its ISO 4217 currency.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code known to the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Only currencies money is invoiced in: funds, metals and testing codes are refused.
    pub fn parse(code: &str) -> Option<Self> {
        iso_currency::Currency::from_code(code)
            .filter(|c| !c.is_fund() && !c.is_special() && c.exponent().is_some())
            .map(Self)
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point (the currency's minor unit).
    pub fn minor_unit_digits(self) -> u32 {
        // `parse` only admits currencies that have an exponent.
        self.0.exponent().map(u32::from).unwrap_or(2)
    }
}

/// Parses a decimal written as JSON money is: `-?[0-9]+(\.[0-9]+)?`, at
/// most [`MAX_AMOUNT_INTEGER_DIGITS`] digits before the point. Anything a
/// person might mean differently (`" 10 "`, `"1_000"`, `"+5"`, `".5"`,
/// `"5."`, `"1e3"`) is refused rather than guessed.
pub fn parse_decimal(raw: &str) -> Result<Decimal, MoneyError> {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(integer) || !fraction.is_none_or(digits) {
        return Err(MoneyError::NotADecimal);
    }
    if integer.trim_start_matches('0').len() > MAX_AMOUNT_INTEGER_DIGITS {
        return Err(MoneyError::TooLarge);
    }
    // 28 fraction digits is Decimal's own limit; more is never money.
    if fraction.is_some_and(|f| f.len() > 28) {
        return Err(MoneyError::NotADecimal);
    }
    Decimal::from_str_exact(raw).map_err(|_| MoneyError::NotADecimal)
}

/// Whether `amount` is inside the range every stored amount keeps to.
pub fn within_bounds(amount: Decimal) -> bool {
    amount.abs() < max_amount()
}

fn max_amount() -> Decimal {
    Decimal::from(10_i64.pow(MAX_AMOUNT_INTEGER_DIGITS as u32))
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency {code}")))
    }
}

/// Every amount is below 10^15 in major units: room for any real invoice,
/// and sums of millions of them stay far inside `Decimal`'s range.
pub const MAX_AMOUNT_INTEGER_DIGITS: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal string such as \"1250.00\" (digits, one optional '.', no spaces, signs, separators or exponents)")]
    NotADecimal,
    #[error("has more decimal places than {0} allows")]
    TooPrecise(Currency),
    #[error("must be less than 1000000000000000 (10^15)")]
    TooLarge,
    #[error("currency {0} does not match {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// Serde for decimal strings that parses with [`parse_decimal`]'s rules.
pub mod strict_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str::serialize(value, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let raw = String::deserialize(deserializer)?;
        super::parse_decimal(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount in one currency, held at the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "strict_decimal")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Parses a decimal string, refusing more precision than the currency has
    /// rather than silently rounding someone's money.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        Self::new(parse_decimal(amount)?, currency)
    }

    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if !within_bounds(amount) {
            return Err(MoneyError::TooLarge);
        }
        let digits = currency.minor_unit_digits();
        let rounded = amount.round_dp_with_strategy(digits, RoundingStrategy::MidpointNearestEven);
        if rounded != amount {
            return Err(MoneyError::TooPrecise(currency));
        }
        let mut amount = amount;
        amount.rescale(digits);
        Ok(Self { amount, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn parses_at_the_minor_unit() {
        assert_eq!(
            Money::parse("12.5", eur()).unwrap().amount.to_string(),
            "12.50"
        );
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            Money::parse("1200", jpy).unwrap().amount.to_string(),
            "1200"
        );
        assert_eq!(Money::parse("12.5", jpy), Err(MoneyError::TooPrecise(jpy)));
        assert_eq!(
            Money::parse("1.001", eur()),
            Err(MoneyError::TooPrecise(eur()))
        );
        assert_eq!(Money::parse("abc", eur()), Err(MoneyError::NotADecimal));
    }

    #[test]
    fn only_plain_decimals_parse() {
        for bad in [
            " 10 ", "10 ", "1_000", "+5", ".5", "5.", "1e3", "1E3", "", "-", "--1", "1.2.3",
            "0x10", "١٠", "NaN", "inf", "1,000.00",
        ] {
            assert_eq!(parse_decimal(bad), Err(MoneyError::NotADecimal), "{bad:?}");
        }
        assert_eq!(parse_decimal("-12.50").unwrap(), Decimal::new(-1250, 2));
        assert_eq!(parse_decimal("007").unwrap(), Decimal::from(7));
    }

    #[test]
    fn amounts_are_bounded() {
        assert_eq!(
            Money::parse("1000000000000000000000000000.00", eur()),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::parse("1000000000000000", eur()),
            Err(MoneyError::TooLarge)
        );
        assert!(Money::parse("999999999999999.99", eur()).is_ok());
        assert!(Money::parse("-999999999999999.99", eur()).is_ok());
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            Money::parse("10.001", usd),
            Err(MoneyError::TooPrecise(usd))
        );
    }

    #[test]
    fn unknown_currencies_are_rejected() {
        assert!(Currency::parse("XYZ").is_none());
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("XAU").is_none());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let usd = Currency::parse("USD").unwrap();
        assert!(Money::zero(eur()).checked_add(Money::zero(usd)).is_err());
    }

    proptest! {
        #[test]
        fn addition_then_subtraction_is_identity(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let x = Money::new(Decimal::new(a, 2), eur()).unwrap();
            let y = Money::new(Decimal::new(b, 2), eur()).unwrap();
            prop_assert_eq!(x.checked_add(y).unwrap().checked_sub(y).unwrap(), x);
        }
    }
}
