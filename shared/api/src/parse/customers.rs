//! Customer create and patch bodies (`/v1/customers`), and customer rows of
//! an import (as the same bodies).

use super::fields;
use domain::customer::{self, Address, CustomerChanges};
use domain::money::Currency;
use domain::validation::FieldErrors;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Fields a client may never set on a customer.
const COMPUTED: &[&str] = &[
    "id",
    "version",
    "created_at",
    "updated_at",
    "balance",
    "account_age",
    "past_due_age",
    "payer_rating",
    "effective",
    "open_invoice_count",
];

/// A create body: `number`, `name` and `currency` are required.
pub fn new_customer(body: &Map<String, Value>) -> Result<CustomerChanges, FieldErrors> {
    let mut missing = FieldErrors::new();
    for required in ["number", "name", "currency"] {
        if !body.contains_key(required) {
            missing.add(required, "is required");
        }
    }
    match (changes(body, None), missing.is_empty()) {
        (Ok(changes), true) => Ok(changes),
        (Ok(_), false) => Err(missing),
        (Err(mut errors), _) => {
            for (field, problem) in missing.iter() {
                errors.add(field.clone(), problem.clone());
            }
            Err(errors)
        }
    }
}

/// A create or patch body. `current_currency` is the customer's currency on
/// a patch (money fields are parsed in it), `None` on create (it must then
/// be in the body).
pub fn changes(
    body: &Map<String, Value>,
    current_currency: Option<Currency>,
) -> Result<CustomerChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = CustomerChanges::default();
    let currency = match body.get("currency") {
        Some(value) => {
            let parsed = fields::currency(&mut errors, "currency", value);
            if current_currency.is_some() && parsed.is_some() && parsed != current_currency {
                errors.add("currency", "cannot change once the customer exists");
            }
            parsed
        }
        None => current_currency,
    };
    changes.currency = currency;
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "number" => changes.number = number(e, field, value),
            "name" => changes.name = fields::text(e, field, value, 200),
            "email" => changes.email = fields::nullable(e, field, value, fields::email),
            "phone" => changes.phone = fields::nullable(e, field, value, fields::phone),
            "language" => changes.language = fields::nullable(e, field, value, fields::language),
            "currency" => {}
            "payment_terms" => {
                changes.payment_terms =
                    fields::nullable(e, field, value, |e, f, v| fields::text(e, f, v, 40))
            }
            "tags" => changes.tags = tags(e, field, value),
            "billing_address" => {
                changes.billing_address = fields::nullable(e, field, value, address)
            }
            "shipping_address" => {
                changes.shipping_address = fields::nullable(e, field, value, address)
            }
            "credit_limit" => match currency {
                Some(currency) => {
                    changes.credit_limit = fields::nullable(e, field, value, |e, f, v| {
                        fields::amount(e, f, v, currency).map(|m| m.amount)
                    })
                }
                None => e.add(field, "needs a valid currency"),
            },
            "ar_specialist_id" => {
                changes.ar_specialist_id = fields::nullable(e, field, value, fields::reference)
            }
            "group_id" => changes.group_id = fields::nullable(e, field, value, fields::reference),
            "autopay" => changes.autopay = fields::nullable(e, field, value, fields::boolean),
            "auto_settle" => {
                changes.auto_settle = fields::nullable(e, field, value, fields::boolean)
            }
            "portal_note" => {
                changes.portal_note =
                    fields::nullable(e, field, value, |e, f, v| fields::long_text(e, f, v, 2000))
            }
            "metadata" => changes.metadata = metadata(e, field, value),
            "chasing" => e.add(field, "is changed through /v1/customers/{id}/chasing"),
            computed if COMPUTED.contains(&computed) => {
                e.add(field, "is computed and cannot be set")
            }
            _ => e.add(field, "is not a customer field"),
        }
    }
    errors.into_result(changes)
}

fn number(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let number = fields::text(errors, field, value, customer::MAX_NUMBER_CHARS)?;
    if !customer::is_customer_number(&number) {
        errors.add(field, "must not contain '#' or control characters");
        return None;
    }
    Some(number)
}

/// Trimmed tags in the order given, each kept once (the first spelling of
/// tags equal but for case and spacing stays).
fn tags(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Vec<String>> {
    let Some(items) = value.as_array() else {
        errors.add(field, "must be an array of strings");
        return None;
    };
    if items.len() > customer::MAX_TAGS {
        errors.add(
            field,
            format!("must have at most {} tags", customer::MAX_TAGS),
        );
        return None;
    }
    let mut tags: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let tag = fields::text(errors, &path, item, customer::MAX_TAG_CHARS)?;
        if !customer::is_tag(&tag) {
            errors.add(path, "must not contain '#'");
            return None;
        }
        if seen.insert(customer::tag_key(&tag)) {
            tags.push(tag);
        }
    }
    Some(tags)
}

fn metadata(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
) -> Option<BTreeMap<String, String>> {
    let Some(object) = value.as_object() else {
        errors.add(field, "must be an object of strings");
        return None;
    };
    if object.len() > customer::MAX_METADATA_KEYS {
        errors.add(
            field,
            format!("must have at most {} keys", customer::MAX_METADATA_KEYS),
        );
        return None;
    }
    let mut map = BTreeMap::new();
    for (key, item) in object {
        if !customer::is_metadata_key(key) {
            errors.add(
                format!("{field}.{key}"),
                "keys are 1-40 letters, digits, '_' or '-'",
            );
            continue;
        }
        match item.as_str() {
            Some(text) if text.chars().count() <= customer::MAX_METADATA_VALUE_CHARS => {
                map.insert(key.clone(), text.to_string());
            }
            _ => errors.add(
                format!("{field}.{key}"),
                format!(
                    "must be a string of at most {} characters",
                    customer::MAX_METADATA_VALUE_CHARS
                ),
            ),
        }
    }
    Some(map)
}

fn address(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Address> {
    let Some(object) = value.as_object() else {
        errors.add(field, "must be an object");
        return None;
    };
    let before = errors.len();
    let mut line1 = None;
    let mut country = None;
    let mut optional = BTreeMap::new();
    for (key, item) in object {
        let path = format!("{field}.{key}");
        match key.as_str() {
            "line1" => line1 = fields::text(errors, &path, item, 200),
            "country" => {
                country = item.as_str().and_then(customer::country_code);
                if country.is_none() {
                    errors.add(&path, "must be an ISO 3166-1 alpha-2 country code");
                }
            }
            "line2" | "city" | "region" | "postal_code" => {
                if !item.is_null() {
                    if let Some(v) = fields::text(errors, &path, item, 100) {
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
    if errors.len() != before {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use serde_json::json;

    fn fields_of(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_new_customer_needs_number_name_and_currency() {
        let errors = new_customer(&object(json!({"email": "x"}))).unwrap_err();
        assert_eq!(fields_of(&errors), ["currency", "email", "name", "number"]);
    }

    #[test]
    fn computed_fields_and_currency_changes_are_refused() {
        let eur = Currency::parse("EUR");
        let errors = changes(
            &object(json!({"balance": {}, "currency": "USD", "chasing": {}})),
            eur,
        )
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["balance", "chasing", "currency"]);
    }

    #[test]
    fn a_valid_body_becomes_the_changes() {
        let parsed = new_customer(&object(json!({
            "number": "C-1", "name": " Acme ", "currency": "GBP", "email": "AP@Acme.test",
            "payment_terms": null, "credit_limit": "500.00", "metadata": {"erp_id": "42"}
        })))
        .unwrap();
        assert_eq!(parsed.name.as_deref(), Some("Acme"));
        assert_eq!(parsed.currency, Currency::parse("GBP"));
        assert_eq!(
            parsed.email,
            domain::patch::Patch::Set("ap@acme.test".into())
        );
        assert_eq!(parsed.payment_terms, domain::patch::Patch::Clear);
        assert_eq!(
            parsed.credit_limit,
            domain::patch::Patch::Set("500.00".parse().unwrap())
        );
        assert_eq!(parsed.metadata.unwrap()["erp_id"], "42");
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
    fn tags_are_trimmed_and_deduplicated() {
        let mut errors = FieldErrors::new();
        let parsed = tags(&mut errors, "tags", &json!([" vip ", "vip", "retail"]));
        assert_eq!(parsed.unwrap(), ["vip", "retail"]);
        assert!(tags(&mut errors, "tags", &json!("vip")).is_none());
        assert!(tags(&mut errors, "tags", &json!(["a#b"])).is_none());
        assert_eq!(fields_of(&errors), ["tags", "tags[0]"]);
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
    }
}
