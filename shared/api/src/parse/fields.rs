//! One JSON value of a body parsed into a validated value, reported under
//! the field name given; `None` when it is unusable.

use domain::money::{self, Currency, Money};
use domain::patch::Patch;
use domain::validation::{self, FieldErrors};
use rust_decimal::Decimal;
use serde_json::Value;

/// `null` clears, anything else is parsed by `parse`.
pub fn nullable<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    parse: impl FnOnce(&mut FieldErrors, &str, &Value) -> Option<T>,
) -> Patch<T> {
    if value.is_null() {
        return Patch::Clear;
    }
    match parse(errors, field, value) {
        Some(parsed) => Patch::Set(parsed),
        None => Patch::Keep,
    }
}

/// A string value as `parse` reads it, or `problem` reported under `field`.
fn from_str<'a, T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &'a Value,
    parse: impl FnOnce(&'a str) -> Option<T>,
    problem: &str,
) -> Option<T> {
    let parsed = value.as_str().and_then(parse);
    if parsed.is_none() {
        errors.add(field, problem);
    }
    parsed
}

fn string<'a>(errors: &mut FieldErrors, field: &str, value: &'a Value) -> Option<&'a str> {
    from_str(errors, field, value, Some, "must be a string")
}

pub fn text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_chars: usize,
) -> Option<String> {
    let raw = string(errors, field, value)?;
    validation::bounded_text(errors, field, raw, max_chars)
}

/// Free text that may span lines (notes, reasons).
pub fn long_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_chars: usize,
) -> Option<String> {
    let raw = string(errors, field, value)?;
    validation::bounded_multiline_text(errors, field, raw, max_chars)
}

/// Ids of other resources: ULIDs or the identity provider's user ids.
pub fn reference(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let id = text(errors, field, value, validation::MAX_REFERENCE_CHARS)?;
    if !validation::is_reference(&id) {
        errors.add(field, "is not a valid id");
        return None;
    }
    Some(id)
}

pub fn boolean(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<bool> {
    let parsed = value.as_bool();
    if parsed.is_none() {
        errors.add(field, "must be true or false");
    }
    parsed
}

/// An email address, lower-cased.
pub fn email(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let email = domain::settings::parse_email;
    from_str(errors, field, value, email, "must be an email address").map(|e| e.to_lowercase())
}

pub fn phone(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let problem = "must be an E.164 phone number, e.g. +447700900123";
    from_str(errors, field, value, validation::e164_phone, problem)
}

pub fn language(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let problem = "must be a language tag such as en or pt-BR";
    from_str(errors, field, value, validation::language_tag, problem)
}

pub fn currency(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Currency> {
    let problem = "must be an ISO 4217 currency code, e.g. EUR";
    from_str(errors, field, value, Currency::parse, problem)
}

/// A plain decimal string (see [`money::parse_decimal`]), bounded, with at
/// most `max_scale` decimals; `negative` says whether it may be below zero.
pub fn decimal(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_scale: u32,
    negative: bool,
) -> Option<Decimal> {
    let parsed = match value.as_str().map(money::parse_decimal) {
        Some(Ok(parsed)) => parsed,
        Some(Err(error)) => {
            errors.add(field, error.to_string());
            return None;
        }
        None => {
            errors.add(field, "must be a decimal string, e.g. \"1250.00\"");
            return None;
        }
    };
    if parsed.is_sign_negative() && !parsed.is_zero() && !negative {
        errors.add(field, "must not be negative");
        None
    } else if parsed.normalize().scale() > max_scale {
        errors.add(
            field,
            format!("must have at most {max_scale} decimal places"),
        );
        None
    } else {
        Some(parsed)
    }
}

/// A decimal string in `currency`, at most its minor unit, never negative.
pub fn amount(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    currency: Currency,
) -> Option<Money> {
    let Some(raw) = value.as_str() else {
        errors.add(field, "must be a decimal string, e.g. \"1250.00\"");
        return None;
    };
    match Money::parse(raw, currency) {
        Ok(money) if money.amount.is_sign_negative() => {
            errors.add(field, "must not be negative");
            None
        }
        Ok(money) => Some(money),
        Err(error) => {
            errors.add(field, error.to_string());
            None
        }
    }
}

/// A date `YYYY-MM-DD`.
pub fn date(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<chrono::NaiveDate> {
    let problem = "must be a date written YYYY-MM-DD, year 1900 or later";
    from_str(errors, field, value, validation::iso_date, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_must_be_e164_strings() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            phone(&mut errors, "p", &json!("+447700900123")).as_deref(),
            Some("+447700900123")
        );
        assert!(phone(&mut errors, "p", &json!("07700 900123")).is_none());
        assert!(phone(&mut errors, "p", &json!("+0123456789")).is_none());
        assert!(phone(&mut errors, "p", &json!(447700900123u64)).is_none());
    }

    #[test]
    fn amounts_respect_the_currency() {
        let mut errors = FieldErrors::new();
        let eur = Currency::parse("EUR").unwrap();
        assert!(amount(&mut errors, "x", &json!("10.50"), eur).is_some());
        assert!(amount(&mut errors, "x", &json!("10.555"), eur).is_none());
        assert!(amount(&mut errors, "x", &json!("-1"), eur).is_none());
        assert!(amount(&mut errors, "x", &json!(10.5), eur).is_none());
    }

    #[test]
    fn null_clears_and_a_bad_value_keeps() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            nullable(&mut errors, "email", &Value::Null, email),
            Patch::Clear
        );
        assert_eq!(
            nullable(&mut errors, "email", &json!("AP@Acme.test"), email),
            Patch::Set("ap@acme.test".to_string())
        );
        assert!(errors.is_empty());
        assert_eq!(
            nullable(&mut errors, "email", &json!("nope"), email),
            Patch::Keep
        );
        assert_eq!(errors.len(), 1);
    }
}
