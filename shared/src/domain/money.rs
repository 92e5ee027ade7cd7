//! Money: a decimal amount always paired with its ISO 4217 currency.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency code known to the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount")]
    NotADecimal,
    #[error("has more decimal places than {0} allows")]
    TooPrecise(Currency),
    #[error("currency {0} does not match {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An amount in one currency, held at the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
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
        let amount = Decimal::from_str(amount.trim()).map_err(|_| MoneyError::NotADecimal)?;
        Self::new(amount, currency)
    }

    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
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
        Ok(Money {
            amount: self.amount + other.amount,
            currency: self.currency,
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(Money {
            amount: self.amount - other.amount,
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
