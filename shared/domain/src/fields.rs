//! Parsing JSON fields into validated values, collecting every problem in a
//! [`FieldErrors`]. Each function reports under the field name it is given and
//! returns `None` when the value is unusable.

use super::money::{Currency, Money};
use super::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A change to an optional field in a merge patch.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

impl<T: Clone> Change<T> {
    pub fn apply(&self, current: &Option<T>) -> Option<T> {
        match self {
            Change::Keep => current.clone(),
            Change::Set(value) => Some(value.clone()),
            Change::Clear => None,
        }
    }
}

/// `null` clears, anything else is parsed by `parse`.
pub fn nullable<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    parse: impl FnOnce(&mut FieldErrors, &str, &Value) -> Option<T>,
) -> Change<T> {
    if value.is_null() {
        return Change::Clear;
    }
    match parse(errors, field, value) {
        Some(parsed) => Change::Set(parsed),
        None => Change::Keep,
    }
}

pub fn text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_chars: usize,
) -> Option<String> {
    match value.as_str() {
        Some(raw) => super::validation::bounded_text(errors, field, raw, max_chars),
        None => {
            errors.add(field, "must be a string");
            None
        }
    }
}

/// Free text that may span lines (notes, reasons).
pub fn long_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_chars: usize,
) -> Option<String> {
    match value.as_str() {
        Some(raw) => super::validation::bounded_multiline_text(errors, field, raw, max_chars),
        None => {
            errors.add(field, "must be a string");
            None
        }
    }
}

/// Ids of other resources: ULIDs or the identity provider's user ids.
pub fn reference(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let id = text(errors, field, value, 128)?;
    if id.contains('#') || id.chars().any(char::is_whitespace) {
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

pub fn email(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let parsed = value.as_str().and_then(super::settings::parse_email);
    if parsed.is_none() {
        errors.add(field, "must be an email address");
    }
    parsed.map(|e| e.to_lowercase())
}

/// E.164: `+` then 8 to 15 digits, no leading zero in the country code.
pub fn phone(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let parsed = value.as_str().map(str::trim).filter(|raw| {
        let digits = raw.strip_prefix('+').unwrap_or("");
        (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0')
    });
    if parsed.is_none() {
        errors.add(field, "must be an E.164 phone number, e.g. +447700900123");
    }
    parsed.map(str::to_string)
}

pub fn currency(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Currency> {
    let parsed = value.as_str().and_then(Currency::parse);
    if parsed.is_none() {
        errors.add(field, "must be an ISO 4217 currency code, e.g. EUR");
    }
    parsed
}

/// A plain decimal string (see [`super::money::parse_decimal`]), bounded,
/// with at most `max_scale` decimals; `negative` says whether it may be below zero.
pub fn decimal(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_scale: u32,
    negative: bool,
) -> Option<rust_decimal::Decimal> {
    let parsed = match value.as_str().map(super::money::parse_decimal) {
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
    let parsed = value.as_str().and_then(super::validation::iso_date);
    if parsed.is_none() {
        errors.add(
            field,
            "must be a date written YYYY-MM-DD, year 1900 or later",
        );
    }
    parsed
}

pub const MAX_TAGS: usize = 20;

/// How tags compare, as the customer list files and filters them: lower
/// case, runs of white space folded into one space.
pub fn tag_key(tag: &str) -> String {
    tag.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Trimmed tags in the order given, each kept once: a tag equal to an
/// earlier one but for case and spacing is the same tag (the first
/// spelling stays), as the list and its filters treat them.
pub fn tags(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Vec<String>> {
    let Some(items) = value.as_array() else {
        errors.add(field, "must be an array of strings");
        return None;
    };
    if items.len() > MAX_TAGS {
        errors.add(field, format!("must have at most {MAX_TAGS} tags"));
        return None;
    }
    let mut tags: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let tag = text(errors, &format!("{field}[{i}]"), item, 50)?;
        if tag.contains('#') {
            errors.add(format!("{field}[{i}]"), "must not contain '#'");
            return None;
        }
        if seen.insert(tag_key(&tag)) {
            tags.push(tag);
        }
    }
    Some(tags)
}

pub const MAX_METADATA_KEYS: usize = 50;

pub fn metadata(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
) -> Option<BTreeMap<String, String>> {
    let Some(object) = value.as_object() else {
        errors.add(field, "must be an object of strings");
        return None;
    };
    if object.len() > MAX_METADATA_KEYS {
        errors.add(field, format!("must have at most {MAX_METADATA_KEYS} keys"));
        return None;
    }
    let mut map = BTreeMap::new();
    for (key, item) in object {
        let valid_key = !key.is_empty()
            && key.len() <= 40
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_key {
            errors.add(
                format!("{field}.{key}"),
                "keys are 1-40 letters, digits, '_' or '-'",
            );
            continue;
        }
        match item.as_str() {
            Some(text) if text.chars().count() <= 500 => {
                map.insert(key.clone(), text.to_string());
            }
            _ => errors.add(
                format!("{field}.{key}"),
                "must be a string of at most 500 characters",
            ),
        }
    }
    Some(map)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

pub fn address(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Address> {
    let Some(object) = value.as_object() else {
        errors.add(field, "must be an object");
        return None;
    };
    let before = errors.clone();
    let mut line1 = None;
    let mut country = None;
    let mut optional = BTreeMap::new();
    for (key, item) in object {
        let path = format!("{field}.{key}");
        match key.as_str() {
            "line1" => line1 = text(errors, &path, item, 200),
            "country" => {
                country = item
                    .as_str()
                    .map(str::trim)
                    .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
                    .map(str::to_ascii_uppercase);
                if country.is_none() {
                    errors.add(&path, "must be an ISO 3166-1 alpha-2 country code");
                }
            }
            "line2" | "city" | "region" | "postal_code" => {
                if !item.is_null() {
                    if let Some(v) = text(errors, &path, item, 100) {
                        optional.insert(key.clone(), v);
                    }
                }
            }
            _ => errors.add(&path, "is not an address field"),
        }
    }
    if !object.contains_key("line1") {
        errors.add(format!("{field}.line1"), "is required");
    }
    if !object.contains_key("country") {
        errors.add(format!("{field}.country"), "is required");
    }
    if errors.len() != before.len() {
        return None;
    }
    Some(Address {
        line1: line1?,
        line2: optional.remove("line2"),
        city: optional.remove("city"),
        region: optional.remove("region"),
        postal_code: optional.remove("postal_code"),
        country: country?,
    })
}

/// BCP 47 language tag, short form: `en`, `fr`, `pt-BR`.
pub fn language(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let parsed = value.as_str().map(str::trim).filter(|raw| {
        let mut parts = raw.split('-');
        let primary = parts.next().unwrap_or("");
        let region_ok = parts
            .all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        (2..=3).contains(&primary.len())
            && primary.chars().all(|c| c.is_ascii_lowercase())
            && region_ok
    });
    if parsed.is_none() {
        errors.add(field, "must be a language tag such as en or pt-BR");
    }
    parsed.map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones_must_be_e164() {
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
    fn addresses_need_a_line_and_a_country() {
        let mut errors = FieldErrors::new();
        let parsed = address(
            &mut errors,
            "a",
            &json!({"line1": "1 High St", "country": "gb", "city": "Leeds"}),
        );
        assert_eq!(parsed.unwrap().country, "GB");
        assert!(address(&mut errors, "a", &json!({"city": "Leeds"})).is_none());
        assert!(errors.iter().any(|(f, _)| f == "a.line1"));
        assert!(errors.iter().any(|(f, _)| f == "a.country"));
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
    fn tags_are_trimmed_and_deduplicated() {
        let mut errors = FieldErrors::new();
        let parsed = tags(&mut errors, "tags", &json!([" vip ", "vip", "retail"]));
        assert_eq!(parsed.unwrap(), ["vip", "retail"]);
        assert!(tags(&mut errors, "tags", &json!("vip")).is_none());
    }

    #[test]
    fn tags_differing_only_in_case_or_spacing_are_one_tag() {
        let mut errors = FieldErrors::new();
        let parsed = tags(
            &mut errors,
            "tags",
            &json!([
                "Key  Account",
                "VIP",
                "key account",
                " vip ",
                "KEY ACCOUNT",
                "Vip   Club",
                "vip club"
            ]),
        );
        assert_eq!(parsed.unwrap(), ["Key  Account", "VIP", "Vip   Club"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(tag_key("  Key \t Account "), "key account");
    }
}
