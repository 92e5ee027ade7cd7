//! Invoices: create, read, update, void and list. Every change commits with
//! the customer's refreshed balances and a history item, or not at all
//! ([`MoneyChange`], which payments and imports reuse).

use super::{concurrent_money, customers, stale, valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{InvoiceQuery, Page, Write};
use crate::records::{InvoiceRecord, StoredCustomer};
use chrono::{DateTime, NaiveDate, Utc};
use domain::customer::Customer;
use domain::fields;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission, TenantId};
use domain::invoice::{CollectionStatus, Invoice, NewInstallment, NewInvoice, NewPaymentPlan};
use domain::validation::FieldErrors;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// An invoice as a change left it, and the tenant's "today" its view is
/// computed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoiced {
    pub record: InvoiceRecord,
    pub today: NaiveDate,
}

/// One money change of one customer in one transaction: the invoices, the
/// customer's refreshed copy of them, balances, ages, rating and chasing
/// cycle, history, and any `extra` writes.
pub struct MoneyChange<'a> {
    /// The customer as read; every write is conditioned on it.
    pub customer: &'a StoredCustomer,
    /// The customer with the change's own edits (credit, promise, stats).
    pub next: Customer,
    /// Each invoice as read (`None`: new) and as it is to be stored.
    pub invoices: Vec<(Option<&'a InvoiceRecord>, InvoiceRecord)>,
    pub history: Vec<HistoryItem>,
    /// Written after the customer and the invoices.
    pub extra: Vec<Write>,
}

impl MoneyChange<'_> {
    /// The writes (write 0 is the customer: its condition failing means the
    /// customer changed concurrently, see [`concurrent_money`]), then each
    /// invoice, then `extra`; and the customer as written, without the
    /// history items added to its recent history.
    pub fn writes(
        mut self,
        today: NaiveDate,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> (Vec<Write>, Customer) {
        let before = self.customer.customer.chased_balance(today).items;
        for (_, after) in &self.invoices {
            self.next.track_invoice(&after.invoice);
        }
        self.next.refresh(today);
        // DESIGN §5: a money event that settles or removes every chased item resets the cycle.
        let after = self.next.chased_balance(today).items;
        self.next.cycle.record_change(&before, &after);
        self.next.reschedule(zone, now);
        let mut writes =
            crate::writes::customer(self.next.clone(), Some(self.customer), &self.history);
        for (before, after) in self.invoices {
            writes.push(Write::SaveInvoice {
                next: Box::new(after),
                previous: before.map(|b| Box::new(b.clone())),
            });
        }
        writes.extend(self.extra);
        (writes, self.next)
    }
}

/// Two invoices of a tenant cannot share a number.
pub fn duplicate_number() -> AppError {
    AppError::conflict(
        "duplicate_number",
        "another invoice already has this number",
    )
}

/// The invoice named by `id` in the tenant (404 for anything else, another
/// tenant's included).
pub async fn load(context: &Context, tenant: &TenantId, id: &str) -> AppResult<InvoiceRecord> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .invoice(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The tenant's "today" at `now` and its time zone (DESIGN §3).
async fn today_and_zone(
    context: &Context,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> AppResult<(NaiveDate, chrono_tz::Tz)> {
    let zone = context.settings(tenant).await?.time_zone;
    Ok((now.with_timezone(&zone).date_naive(), zone))
}

pub async fn get(context: &Context, caller: &Caller, id: &str) -> AppResult<InvoiceRecord> {
    require(caller, Permission::Read)?;
    load(context, &caller.tenant, id).await
}

/// One page of the tenant's invoices.
pub async fn list(
    context: &Context,
    caller: &Caller,
    query: InvoiceQuery,
) -> AppResult<Page<InvoiceRecord>> {
    require(caller, Permission::Read)?;
    Ok(context.store.list_invoices(&caller.tenant, query).await?)
}

/// A new invoice from a create body (API.md `POST /v1/invoices`).
pub async fn create(
    context: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> AppResult<Change<Invoiced>> {
    require(caller, Permission::ManageRecords)?;
    let new = parse_fields(body, None)?;
    let customer = match customers::load(context, &caller.tenant, &new.customer_id).await {
        Ok(customer) => customer,
        Err(AppError::NotFound) => {
            return Err(AppError::invalid_field("customer_id", "no such customer"))
        }
        Err(other) => return Err(other),
    };
    let invoice = new.validate(context.ids.new_id(now), customer.customer.currency)?;
    let (today, zone) = today_and_zone(context, &caller.tenant, now).await?;
    let record = InvoiceRecord {
        invoice,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let invoice = &record.invoice;
    let history = HistoryItem::new(
        &invoice.customer_id,
        HistoryType::InvoiceCreated,
        now,
        caller.user.as_str(),
        format!(
            "Invoice {} for {} {} created",
            invoice.number, invoice.total, invoice.currency
        ),
        json!({"invoice_id": invoice.id, "total": invoice.total.to_string()}),
    )
    .with_invoices(vec![invoice.id.clone()]);
    let change = MoneyChange {
        customer: &customer,
        next: customer.customer.clone(),
        invoices: vec![(None, record.clone())],
        history: vec![history],
        extra: Vec::new(),
    };
    let (mut writes, _) = change.writes(today, zone, now);
    let number_index = writes.len();
    writes.push(Write::ReserveInvoiceNumber {
        number: invoice.number.clone(),
        invoice_id: invoice.id.clone(),
    });
    Ok(
        Change::new(writes, Invoiced { record, today }, concurrent_money)
            .on_conflict(number_index, duplicate_number),
    )
}

/// Changes the invoice at `expected_version` with a patch body.
pub async fn update(
    context: &Context,
    caller: &Caller,
    id: &str,
    body: &Map<String, Value>,
    expected_version: u64,
    now: DateTime<Utc>,
) -> AppResult<Change<Invoiced>> {
    require(caller, Permission::ManageRecords)?;
    let current = load(context, &caller.tenant, id).await?;
    if current.invoice.voided {
        return Err(AppError::conflict(
            "invoice_void",
            "a void invoice cannot change",
        ));
    }
    let new = parse_fields(body, Some(&current.invoice))?;
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let mut invoice = new.validate(id.to_string(), current.invoice.currency)?;
    // What was paid stays paid, landing on installments in due-date order again.
    if current.invoice.amount_paid > Decimal::ZERO {
        let paid = current.invoice.amount_paid_money();
        invoice.apply_payment(paid).map_err(|_| {
            AppError::invalid_field("total", &format!("cannot drop below what is paid ({paid})"))
        })?;
    }
    let customer = customers::load(context, &caller.tenant, &invoice.customer_id).await?;
    let (today, zone) = today_and_zone(context, &caller.tenant, now).await?;
    let record = InvoiceRecord {
        invoice,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    let history = HistoryItem::new(
        &record.invoice.customer_id,
        HistoryType::InvoiceUpdated,
        now,
        caller.user.as_str(),
        format!("Invoice {} updated", record.invoice.number),
        json!({"invoice_id": id, "fields": body.keys().collect::<Vec<_>>()}),
    )
    .with_invoices(vec![id.to_string()]);
    let change = MoneyChange {
        customer: &customer,
        next: customer.customer.clone(),
        invoices: vec![(Some(&current), record.clone())],
        history: vec![history],
        extra: Vec::new(),
    };
    let (mut writes, _) = change.writes(today, zone, now);
    let mut number_index = None;
    if record.invoice.number != current.invoice.number {
        number_index = Some(writes.len());
        writes.push(Write::ReserveInvoiceNumber {
            number: record.invoice.number.clone(),
            invoice_id: id.to_string(),
        });
        writes.push(Write::ReleaseInvoiceNumber {
            number: current.invoice.number.clone(),
        });
    }
    let change = Change::new(writes, Invoiced { record, today }, stale);
    Ok(match number_index {
        Some(index) => change.on_conflict(index, duplicate_number),
        None => change,
    })
}

/// Voids an open invoice: it leaves every balance.
pub async fn void(
    context: &Context,
    caller: &Caller,
    id: &str,
    now: DateTime<Utc>,
) -> AppResult<Change<Invoiced>> {
    require(caller, Permission::ManageRecords)?;
    let current = load(context, &caller.tenant, id).await?;
    let mut invoice = current.invoice.clone();
    invoice
        .void()
        .map_err(|e| AppError::conflict("cannot_void", e.to_string()))?;
    let customer = customers::load(context, &caller.tenant, &invoice.customer_id).await?;
    let (today, zone) = today_and_zone(context, &caller.tenant, now).await?;
    let record = InvoiceRecord {
        invoice,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    let history = HistoryItem::new(
        &record.invoice.customer_id,
        HistoryType::InvoiceVoided,
        now,
        caller.user.as_str(),
        format!("Invoice {} voided", record.invoice.number),
        json!({"invoice_id": id}),
    )
    .with_invoices(vec![id.to_string()]);
    let change = MoneyChange {
        customer: &customer,
        next: customer.customer.clone(),
        invoices: vec![(Some(&current), record.clone())],
        history: vec![history],
        extra: Vec::new(),
    };
    let (writes, _) = change.writes(today, zone, now);
    Ok(Change::new(
        writes,
        Invoiced { record, today },
        concurrent_money,
    ))
}

/// Fields as submitted, checked for type; meaning is checked by
/// [`NewInvoice::validate`]. `base` is the invoice a patch starts from.
fn parse_fields(
    body: &Map<String, Value>,
    base: Option<&Invoice>,
) -> Result<NewInvoice, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut new = match base {
        Some(invoice) => NewInvoice {
            customer_id: invoice.customer_id.clone(),
            number: invoice.number.clone(),
            currency: invoice.currency.to_string(),
            issue_date: invoice.issue_date,
            due_date: invoice.due_date,
            total: invoice.total,
            autopay: invoice.autopay,
            collection_status: invoice.collection_status,
            dispute_reason: invoice.dispute_reason.clone(),
            payment_plan: invoice.payment_plan.as_ref().map(|plan| NewPaymentPlan {
                installments: plan
                    .installments
                    .iter()
                    .map(|i| NewInstallment {
                        due_date: i.due_date,
                        amount: i.amount,
                    })
                    .collect(),
            }),
        },
        None => NewInvoice {
            customer_id: String::new(),
            number: String::new(),
            currency: String::new(),
            issue_date: NaiveDate::MIN,
            due_date: None,
            total: Decimal::ZERO,
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            payment_plan: None,
        },
    };
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "customer_id" if base.is_some() => {
                e.add(field, "cannot change; void and re-issue instead")
            }
            "customer_id" => {
                new.customer_id = fields::reference(e, field, value).unwrap_or_default()
            }
            "currency" if base.is_some() => e.add(field, "cannot change"),
            "currency" => new.currency = value.as_str().unwrap_or("").to_string(),
            "number" => new.number = fields::text(e, field, value, 64).unwrap_or_default(),
            "issue_date" => {
                new.issue_date = fields::date(e, field, value).unwrap_or(new.issue_date)
            }
            "due_date" => {
                new.due_date = if value.is_null() {
                    None
                } else {
                    fields::date(e, field, value)
                }
            }
            "total" => new.total = decimal(e, field, value).unwrap_or(new.total),
            "autopay" => new.autopay = fields::boolean(e, field, value).unwrap_or(new.autopay),
            "collection_status" => match value.as_str() {
                Some("normal") => new.collection_status = CollectionStatus::Normal,
                Some("disputed") => new.collection_status = CollectionStatus::Disputed,
                Some("on_hold") => new.collection_status = CollectionStatus::OnHold,
                _ => e.add(field, "must be normal, disputed or on_hold"),
            },
            "dispute_reason" => {
                new.dispute_reason = if value.is_null() {
                    None
                } else {
                    fields::long_text(e, field, value, 1000)
                }
            }
            "payment_plan" => {
                new.payment_plan = if value.is_null() {
                    None
                } else {
                    plan(e, value)
                }
            }
            "id" | "amount_paid" | "balance" | "status" | "days_overdue" | "version"
            | "created_at" | "updated_at" => e.add(field, "is computed and cannot be set"),
            _ => e.add(field, "is not an invoice field"),
        }
    }
    if base.is_none() {
        for required in ["customer_id", "number", "currency", "issue_date", "total"] {
            if !body.contains_key(required) {
                errors.add(required, "is required");
            }
        }
    }
    // Leaving the dispute clears its reason.
    if body.contains_key("collection_status")
        && new.collection_status != CollectionStatus::Disputed
        && !body.contains_key("dispute_reason")
    {
        new.dispute_reason = None;
    }
    errors.into_result(new)
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

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_create_needs_every_required_field_and_refuses_computed_ones() {
        let errors = parse_fields(&object(json!({"balance": "1.00"})), None).unwrap_err();
        let fields: Vec<&String> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
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
        let new = parse_fields(
            &object(json!({"customer_id": "c", "number": "N", "currency": "EUR", "issue_date": "2026-01-01",
                           "total": "1.00", "collection_status": "normal"})),
            None,
        )
        .unwrap();
        assert_eq!(new.dispute_reason, None);
        assert_eq!(new.collection_status, CollectionStatus::Normal);
    }
}
