//! Money bodies: payments (`POST /v1/payments`), adjustments and promises
//! to pay (`/v1/customers/{id}/adjustments`, `/promises`). Amounts are
//! parsed in the customer's currency, so the customer is read first.

use super::fields;
use chrono::NaiveDate;
use domain::money::{Currency, Money};
use domain::payment::{NewAdjustment, NewApplication, NewPayment, MAX_APPLICATIONS};
use domain::promise::NewPromise;
use domain::validation::FieldErrors;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The customer a payment body names (needed before the rest is parsed).
pub fn customer_id(body: &Map<String, Value>) -> Result<&str, FieldErrors> {
    body.get("customer_id")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldErrors::single("customer_id", "is required"))
}

/// A payment body, in the paying customer's `currency`.
pub fn payment(body: &Map<String, Value>, currency: Currency) -> Result<NewPayment, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (mut amount, mut date, mut method, mut reference) = (None, None, None, None);
    let mut applications = Vec::new();
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "customer_id" => {}
            "amount" => {
                amount = fields::amount(e, field, value, currency).filter(|m| !m.amount.is_zero())
            }
            "currency" => match value.as_str() {
                Some(code) if code == currency.code() => {}
                _ => e.add(
                    field,
                    format!("must be the customer's currency ({currency})"),
                ),
            },
            "date" => date = fields::date(e, field, value),
            "method" => method = fields::text(e, field, value, 40),
            "reference" => reference = fields::text(e, field, value, 200),
            "applications" => match value.as_array() {
                Some(items) if items.len() <= MAX_APPLICATIONS => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(application) = self::application(e, i, item, currency) {
                            applications.push(application);
                        }
                    }
                }
                _ => e.add(
                    field,
                    format!(
                        "must be an array of at most {MAX_APPLICATIONS} {{invoice_id, amount}}"
                    ),
                ),
            },
            _ => e.add(field, "is not a payment field"),
        }
    }
    for required in ["amount", "currency", "date"] {
        if !body.contains_key(required) {
            errors.add(required, "is required");
        }
    }
    if body.contains_key("amount") && amount.is_none() {
        errors.add("amount", "must be a positive amount");
    }
    let applied: Decimal = applications.iter().map(|a| a.amount.amount).sum();
    if let Some(amount) = amount {
        if applied > amount.amount {
            errors.add(
                "applications",
                format!("apply {applied}, more than the payment's {}", amount.amount),
            );
        }
    }
    match (amount, date) {
        (Some(amount), Some(date)) if errors.is_empty() => Ok(NewPayment {
            amount,
            date,
            method,
            reference,
            applications,
        }),
        _ => Err(errors),
    }
}

/// Application `index` of a payment: `{invoice_id, amount}`, more than zero.
fn application(
    errors: &mut FieldErrors,
    index: usize,
    item: &Value,
    currency: Currency,
) -> Option<NewApplication> {
    let prefix = format!("applications[{index}]");
    let invoice_id = item
        .get("invoice_id")
        .and_then(|v| fields::reference(errors, &format!("{prefix}.invoice_id"), v));
    let amount = item
        .get("amount")
        .and_then(|v| fields::amount(errors, &format!("{prefix}.amount"), v, currency));
    match (invoice_id, amount) {
        (Some(invoice_id), Some(amount)) if !amount.amount.is_zero() => {
            Some(NewApplication { invoice_id, amount })
        }
        (Some(_), Some(_)) => {
            errors.add(format!("{prefix}.amount"), "must be greater than zero");
            None
        }
        _ => {
            errors.add(prefix, "needs invoice_id and amount");
            None
        }
    }
}

/// An adjustment body, in the customer's `currency`.
pub fn adjustment(
    body: &Map<String, Value>,
    currency: Currency,
) -> Result<NewAdjustment, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (mut amount, mut reason, mut invoice_id) = (None, None, None);
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "amount" => {
                amount = value
                    .as_str()
                    .and_then(|raw| Money::parse(raw, currency).ok())
                    .filter(|m| !m.amount.is_zero());
                if amount.is_none() {
                    e.add(
                        field,
                        format!("must be a non-zero decimal string in {currency}"),
                    );
                }
            }
            "reason" => reason = fields::long_text(e, field, value, 500),
            "invoice_id" if value.is_null() => {}
            "invoice_id" => invoice_id = fields::reference(e, field, value),
            _ => e.add(field, "is not an adjustment field"),
        }
    }
    for required in ["amount", "reason"] {
        if !body.contains_key(required) {
            errors.add(required, "is required");
        }
    }
    if amount.is_some_and(|a: Money| a.amount > Decimal::ZERO) && invoice_id.is_none() {
        errors.add("invoice_id", "is required for a positive adjustment");
    }
    match (amount, reason) {
        (Some(amount), Some(reason)) if errors.is_empty() => Ok(NewAdjustment {
            amount,
            reason,
            invoice_id,
        }),
        _ => Err(errors),
    }
}

/// A promise body, in the customer's `currency`, promised for `today` or later.
pub fn promise(
    body: &Map<String, Value>,
    currency: Currency,
    today: NaiveDate,
) -> Result<NewPromise, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (mut amount, mut date, mut note) = (None, None, None);
    for (field, value) in body {
        match field.as_str() {
            "amount" => {
                amount = fields::amount(&mut errors, field, value, currency).map(|m| m.amount);
                if amount.is_some_and(|a| a.is_zero()) {
                    errors.add(field, "must be greater than zero");
                }
            }
            "promised_date" => {
                date = fields::date(&mut errors, field, value);
                if date.is_some_and(|d| d < today) {
                    errors.add(field, "must not be in the past");
                }
            }
            "note" if !value.is_null() => note = fields::long_text(&mut errors, field, value, 2000),
            "note" => {}
            "status" | "id" | "created_at" => errors.add(field, "is computed and cannot be set"),
            _ => errors.add(field, "is not a promise field"),
        }
    }
    for required in ["amount", "promised_date"] {
        if !body.contains_key(required) {
            errors.add(required, "is required");
        }
    }
    match (amount, date) {
        (Some(amount), Some(promised_date)) if errors.is_empty() => Ok(NewPromise {
            amount,
            promised_date,
            note,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use serde_json::json;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn fields_of(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_payment_applies_no_more_than_its_amount() {
        let body = json!({"customer_id": "c", "amount": "10.00", "currency": "EUR", "date": "2026-06-01",
                          "applications": [{"invoice_id": "i1", "amount": "6.00"}, {"invoice_id": "i2", "amount": "6.00"}]});
        let errors = payment(&object(body), eur()).unwrap_err();
        assert_eq!(fields_of(&errors), ["applications"]);
        let body = json!({"customer_id": "c", "amount": "10.00", "currency": "EUR", "date": "2026-06-01",
                          "method": "transfer", "applications": [{"invoice_id": "i1", "amount": "6.00"}]});
        let parsed = payment(&object(body), eur()).unwrap();
        assert_eq!(parsed.amount, Money::parse("10.00", eur()).unwrap());
        assert_eq!(parsed.applications[0].invoice_id, "i1");
        assert_eq!(parsed.method.as_deref(), Some("transfer"));
    }

    #[test]
    fn a_payment_names_each_bad_field() {
        let body = json!({"amount": "0", "currency": "USD", "colour": 1,
                          "applications": [{"invoice_id": "i1", "amount": "0.00"}, {"amount": "1"}]});
        let errors = payment(&object(body), eur()).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "amount",
                "applications[0].amount",
                "applications[1]",
                "colour",
                "currency",
                "date"
            ]
        );
        assert_eq!(
            customer_id(&object(json!({"customer_id": 7}))).unwrap_err(),
            FieldErrors::single("customer_id", "is required")
        );
    }

    #[test]
    fn a_positive_adjustment_needs_its_invoice() {
        let errors =
            adjustment(&object(json!({"amount": "5.00", "reason": "fee"})), eur()).unwrap_err();
        assert_eq!(fields_of(&errors), ["invoice_id"]);
        let credit = adjustment(
            &object(json!({"amount": "-5.00", "reason": "goodwill", "invoice_id": null})),
            eur(),
        )
        .unwrap();
        assert_eq!(credit.amount.amount, Decimal::new(-500, 2));
        assert_eq!(credit.invoice_id, None);
        let errors = adjustment(&object(json!({"amount": "0"})), eur()).unwrap_err();
        assert_eq!(fields_of(&errors), ["amount", "reason"]);
    }

    #[test]
    fn a_promise_is_positive_and_not_in_the_past() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let errors = promise(
            &object(json!({"amount": "0.00", "promised_date": "2026-05-31", "status": "open"})),
            eur(),
            today,
        )
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["amount", "promised_date", "status"]);
        let promised = promise(
            &object(json!({"amount": "50.00", "promised_date": "2026-06-01", "note": null})),
            eur(),
            today,
        )
        .unwrap();
        assert_eq!(promised.promised_date, today);
        assert_eq!(promised.note, None);
    }
}
