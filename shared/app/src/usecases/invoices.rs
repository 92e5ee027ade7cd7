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
use domain::cadence::Level;
use domain::customer::Customer;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission, TenantId};
use domain::invoice::{InvoiceChanges, InvoiceChasing, NewInvoice};
use domain::schedule::Timing;
use rust_decimal::Decimal;
use serde_json::json;

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
        // docs/chasing.md: a money event that settles or removes every chased item resets the cycle.
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

/// The tenant's "today" at `now` and its time zone (docs/api.md, Money, time and ids).
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

/// A new invoice (docs/api.md: `POST /v1/invoices`).
pub async fn create(
    context: &Context,
    caller: &Caller,
    new: NewInvoice,
    now: DateTime<Utc>,
) -> AppResult<Change<Invoiced>> {
    require(caller, Permission::ManageRecords)?;
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

fn void_invoice() -> AppError {
    AppError::conflict("invoice_void", "a void invoice cannot change")
}

/// The invoice named by `id`, if the caller may change it and it is not
/// void (404, 403, 409 come before any problem with the changes).
pub async fn changeable(context: &Context, caller: &Caller, id: &str) -> AppResult<InvoiceRecord> {
    require(caller, Permission::ManageRecords)?;
    let current = load(context, &caller.tenant, id).await?;
    if current.invoice.voided {
        return Err(void_invoice());
    }
    Ok(current)
}

/// Applies the changes of a PATCH to an invoice found by [`changeable`], at
/// `expected_version`. `changed` names the fields the request sent (for
/// the history item).
pub async fn update(
    context: &Context,
    caller: &Caller,
    current: InvoiceRecord,
    changes: &InvoiceChanges,
    changed: Vec<String>,
    expected_version: u64,
    now: DateTime<Utc>,
) -> AppResult<Change<Invoiced>> {
    require(caller, Permission::ManageRecords)?;
    if current.invoice.voided {
        return Err(void_invoice());
    }
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let id = current.invoice.id.clone();
    let (chasing, override_timing) = match &changes.chasing {
        Some(chasing) => checked_override(context, caller, chasing).await?,
        None => (current.invoice.chasing.clone(), None),
    };
    let mut invoice = changes
        .apply(&current.invoice)
        .validate(id.clone(), current.invoice.currency)?;
    invoice.chasing = chasing;
    // What was paid stays paid, landing on installments in due-date order again.
    if current.invoice.amount_paid > Decimal::ZERO {
        let paid = current.invoice.amount_paid_money();
        invoice.apply_payment(paid).map_err(|_| {
            AppError::invalid_field("total", &format!("cannot drop below what is paid ({paid})"))
        })?;
    }
    let customer = customers::load(context, &caller.tenant, &invoice.customer_id).await?;
    let mut next = customer.customer.clone();
    if let (Some(id), Some(timing)) = (&invoice.chasing.cadence_id, override_timing) {
        next.override_chase_timings.insert(id.clone(), timing);
    }
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
        json!({"invoice_id": id, "fields": changed}),
    )
    .with_invoices(vec![id.clone()]);
    let change = MoneyChange {
        customer: &customer,
        next,
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
            invoice_id: id.clone(),
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

/// An invoice's chasing override, if its cadence is an invoice-level cadence
/// of the tenant (422 on `chasing.cadence_id` otherwise), with that
/// cadence's timing (the customer is scheduled by it).
async fn checked_override(
    context: &Context,
    caller: &Caller,
    chasing: &InvoiceChasing,
) -> AppResult<(InvoiceChasing, Option<Timing>)> {
    let mut timing = None;
    if let Some(id) = &chasing.cadence_id {
        let record = super::enrolment::load_cadence(context, caller, id).await?;
        match record.map(|r| r.cadence) {
            Some(cadence) if cadence.level == Level::Invoice => timing = Some(cadence.timing),
            Some(_) => {
                return Err(AppError::invalid_field(
                    "chasing.cadence_id",
                    "is a customer-level cadence; an invoice takes an invoice-level one",
                ))
            }
            None => {
                return Err(AppError::invalid_field(
                    "chasing.cadence_id",
                    "no such cadence",
                ))
            }
        }
    }
    Ok((chasing.clone(), timing))
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
