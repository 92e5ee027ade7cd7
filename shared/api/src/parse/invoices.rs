//! Invoice create and patch bodies (`/v1/invoices`). Fields are checked
//! for type here; what they mean together is checked by
//! [`NewInvoice::validate`] with the customer's currency.

use super::fields;
use domain::invoice::{
    CollectionStatus, InvoiceChanges, InvoiceChasing, NewInstallment, NewInvoice, NewPaymentPlan,
    MAX_DISPUTE_REASON_CHARS, MAX_NUMBER_CHARS,
};
use domain::patch::Patch;
use domain::validation::FieldErrors;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

const REQUIRED: [&str; 5] = ["customer_id", "number", "currency", "issue_date", "total"];

/// A create body.
pub fn new_invoice(body: &Map<String, Value>) -> Result<NewInvoice, FieldErrors> {
    let changes = parse(body, true)?;
    // Parsed, a create has every required field.
    changes
        .create()
        .ok_or_else(|| FieldErrors::single(REQUIRED[0], "is required"))
}

/// A patch body.
pub fn changes(body: &Map<String, Value>) -> Result<InvoiceChanges, FieldErrors> {
    parse(body, false)
}

fn parse(body: &Map<String, Value>, creating: bool) -> Result<InvoiceChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = InvoiceChanges::default();
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "customer_id" if !creating => e.add(field, "cannot change; void and re-issue instead"),
            "customer_id" => changes.customer_id = fields::reference(e, field, value),
            "currency" if !creating => e.add(field, "cannot change"),
            // A bad code is the customer-currency check's error.
            "currency" => changes.currency = Some(value.as_str().unwrap_or("").to_string()),
            "number" => changes.number = fields::text(e, field, value, MAX_NUMBER_CHARS),
            "issue_date" => changes.issue_date = fields::date(e, field, value),
            "due_date" => changes.due_date = fields::nullable(e, field, value, fields::date),
            "total" => changes.total = decimal(e, field, value),
            "autopay" => changes.autopay = fields::boolean(e, field, value),
            "collection_status" => match value.as_str() {
                Some("normal") => changes.collection_status = Some(CollectionStatus::Normal),
                Some("disputed") => changes.collection_status = Some(CollectionStatus::Disputed),
                Some("on_hold") => changes.collection_status = Some(CollectionStatus::OnHold),
                _ => e.add(field, "must be normal, disputed or on_hold"),
            },
            "dispute_reason" => {
                changes.dispute_reason = fields::nullable(e, field, value, |e, f, v| {
                    fields::long_text(e, f, v, MAX_DISPUTE_REASON_CHARS)
                })
            }
            "payment_plan" => {
                changes.payment_plan = if value.is_null() {
                    Patch::Clear
                } else {
                    plan(e, value).map_or(Patch::Keep, Patch::Set)
                }
            }
            "chasing" if creating => e.add(field, "is set with PATCH /v1/invoices/{id}"),
            "chasing" => changes.chasing = chasing(e, value),
            "id" | "amount_paid" | "balance" | "status" | "days_overdue" | "version"
            | "created_at" | "updated_at" => e.add(field, "is computed and cannot be set"),
            _ => e.add(field, "is not an invoice field"),
        }
    }
    if creating {
        for required in REQUIRED {
            if !body.contains_key(required) {
                errors.add(required, "is required");
            }
        }
    }
    errors.into_result(changes)
}

/// `chasing {cadence_id?: string | null, paused?: bool}`: the whole override.
fn chasing(errors: &mut FieldErrors, value: &Value) -> Option<InvoiceChasing> {
    let Some(object) = value.as_object() else {
        errors.add("chasing", "must be an object {cadence_id, paused}");
        return None;
    };
    let before = errors.len();
    let mut chasing = InvoiceChasing::default();
    for (key, item) in object {
        let field = format!("chasing.{key}");
        match (key.as_str(), item) {
            ("cadence_id", Value::Null) => {}
            ("cadence_id", _) => chasing.cadence_id = fields::reference(errors, &field, item),
            ("paused", _) => {
                chasing.paused = fields::boolean(errors, &field, item).unwrap_or_default()
            }
            _ => errors.add(field, "is not a chasing field"),
        }
    }
    (errors.len() == before).then_some(chasing)
}

/// The currency's minor unit is checked with the invoice's currency later.
fn decimal(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Decimal> {
    fields::decimal(errors, field, value, 28, true)
}

fn plan(errors: &mut FieldErrors, value: &Value) -> Option<NewPaymentPlan> {
    let Some(items) = value.get("installments").and_then(Value::as_array) else {
        errors.add(
            "payment_plan.installments",
            "must be an array of {due_date, amount}",
        );
        return None;
    };
    let mut installments = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("payment_plan.installments[{i}]");
        let due = item
            .get("due_date")
            .and_then(|v| fields::date(errors, &format!("{prefix}.due_date"), v));
        let amount = item
            .get("amount")
            .and_then(|v| decimal(errors, &format!("{prefix}.amount"), v));
        match (due, amount) {
            (Some(due_date), Some(amount)) => {
                installments.push(NewInstallment { due_date, amount })
            }
            _ => errors.add(prefix, "needs due_date and amount"),
        }
    }
    Some(NewPaymentPlan { installments })
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
    fn a_create_needs_every_required_field_and_refuses_computed_ones() {
        let errors = new_invoice(&object(json!({"balance": "1.00"}))).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "balance",
                "currency",
                "customer_id",
                "issue_date",
                "number",
                "total"
            ]
        );
    }

    #[test]
    fn leaving_a_dispute_clears_its_reason() {
        let new = new_invoice(&object(
            json!({"customer_id": "c", "number": "N", "currency": "EUR", "issue_date": "2026-01-01",
                   "total": "1.00", "collection_status": "normal"}),
        ))
        .unwrap();
        assert_eq!(new.dispute_reason, None);
        assert_eq!(new.collection_status, CollectionStatus::Normal);
    }

    #[test]
    fn a_patch_cannot_move_the_invoice_and_may_clear_its_plan() {
        let errors = changes(&object(json!({"customer_id": "c", "currency": "USD"}))).unwrap_err();
        assert_eq!(fields_of(&errors), ["currency", "customer_id"]);
        let parsed = changes(&object(json!({"payment_plan": null, "due_date": null}))).unwrap();
        assert_eq!(parsed.payment_plan, Patch::Clear);
        assert_eq!(parsed.due_date, Patch::Clear);
        assert_eq!(parsed.number, None);
    }

    #[test]
    fn installments_name_their_bad_parts() {
        let errors = changes(&object(json!({"payment_plan": {"installments": [
            {"due_date": "2026-02-01", "amount": "10.00"},
            {"due_date": "soon", "amount": "10.00"}
        ]}})))
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "payment_plan.installments[1]",
                "payment_plan.installments[1].due_date"
            ]
        );
    }
}
