//! Payments, adjustments, customer credit and promises to pay. Each commits
//! with every effect (invoices, installments, balances, promise progress,
//! history) in one transaction, or not at all. Automatic settlement applies
//! what a payment or credit leaves to the oldest due invoices first.

use super::invoices::MoneyChange;
use super::{concurrent_money, customers, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{Page, PageRequest, Write};
use crate::records::{InvoiceRecord, StoredCustomer};
use chrono::{DateTime, NaiveDate, Utc};
use domain::customer::{BalanceSummary, Customer};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission, TenantId};
use domain::invoice::{Invoice, PaymentError};
use domain::money::{Currency, Money};
use domain::payment::{
    Adjustment, Application, NewAdjustment, NewPayment, Payment, MAX_APPLICATIONS,
};
use domain::promise::{NewPromise, Promise};
use domain::validation::FieldErrors;
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::HashMap;

/// What a money change recorded, with its effects for the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled<T> {
    pub record: T,
    /// The invoices it changed, as stored after it, in the order applied.
    pub invoices: Vec<InvoiceRecord>,
    /// The customer's balances after it.
    pub balance: BalanceSummary,
    /// The tenant's "today" the invoices' views are computed for.
    pub today: NaiveDate,
}

/// What `apply-credit` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditApplied {
    pub applied: Decimal,
    pub credit_left: Decimal,
}

/// A promise and the tenant's "today" its status is computed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Dated<T> {
    pub value: T,
    pub today: NaiveDate,
}

/// Records a payment (docs/api.md: `POST /v1/payments`) of `customer` (as read
/// to parse the payment in its currency): the requested applications, then
/// (when the customer settles automatically) the rest and the customer's
/// credit, oldest due first.
pub async fn create(
    context: &Context,
    caller: &Caller,
    customer: StoredCustomer,
    payment: &NewPayment,
    now: DateTime<Utc>,
) -> AppResult<Change<Settled<Payment>>> {
    require(caller, Permission::ManageRecords)?;
    let customer_id = customer.customer.id.clone();
    let currency = customer.customer.currency;
    let (amount, date) = (payment.amount, payment.date);
    let applications: Vec<(String, String, Money)> = payment
        .applications
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("applications[{i}]"), a.invoice_id.clone(), a.amount))
        .collect();
    let applied: Decimal = applications.iter().map(|(_, _, m)| m.amount).sum();
    let open = open_invoices(context, &caller.tenant, &customer_id).await?;
    let mut changed = Vec::new();
    apply(&open, &mut changed, &applications, now)?;
    let mut made: Vec<Application> = applications
        .iter()
        .map(|(_, id, m)| Application {
            invoice_id: id.clone(),
            amount: m.amount,
            automatic: false,
        })
        .collect();
    let settings = context.settings(&caller.tenant).await?;
    // Money not yet received must not settle invoices or stop chasing; a
    // promise to pay is how money announced for later is recorded.
    if date > now.with_timezone(&settings.time_zone).date_naive() {
        return Err(AppError::invalid_field(
            "date",
            "must not be after today in the tenant's time zone (record a payment when it arrives)",
        ));
    }
    let credit_before = customer.customer.balance.credit;
    let pool = credit_after(credit_before, amount.amount - applied, "amount")?;
    if customer
        .customer
        .settles_automatically(settings.auto_settle)
    {
        made.extend(settle(&open, &mut changed, pool, currency, now)?);
    }
    let applied_in_all: Decimal = made.iter().map(|a| a.amount).sum();
    let settled_automatically = applied_in_all - applied;
    let payment = Payment {
        id: context.ids.new_id(now),
        customer_id: customer_id.clone(),
        amount: amount.amount,
        currency,
        date,
        method: payment.method.clone(),
        reference: payment.reference.clone(),
        applications: made,
        unapplied: (amount.amount - applied_in_all).max(Decimal::ZERO),
        created_by: caller.user.to_string(),
        created_at: now,
    };
    let mut next = customer.customer.clone();
    next.balance.credit = pool - settled_automatically;
    track_payment(&mut next, &changed, payment.amount, date);
    let invoice_ids: Vec<String> = payment
        .applications
        .iter()
        .map(|a| a.invoice_id.clone())
        .collect();
    let history = HistoryItem::new(
        &customer_id,
        HistoryType::Payment,
        now,
        caller.user.as_str(),
        format!("Payment of {amount} received"),
        json!({"payment_id": payment.id, "amount": payment.amount.to_string(), "unapplied": payment.unapplied.to_string()}),
    )
    .with_invoices(invoice_ids);
    let mut extra = vec![Write::InsertPayment(Box::new(payment.clone()))];
    if let Some(promise) = &next.active_promise {
        extra.push(Write::PutPromise(Box::new(promise.clone())));
    }
    let zone = settings.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    let effects = Effects {
        customer: &customer,
        next,
        open: &open,
        changed,
        history,
        extra,
    };
    Ok(effects.change(payment, today, zone, now))
}

/// One page of a customer's payments, newest first.
pub async fn list(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    page: PageRequest,
) -> AppResult<Page<Payment>> {
    require(caller, Permission::Read)?;
    customers::load(context, &caller.tenant, customer_id).await?;
    Ok(context
        .store
        .payments(&caller.tenant, customer_id, page)
        .await?)
}

/// Applies the customer's credit to its open invoices, oldest due first.
pub async fn apply_credit(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Change<Settled<CreditApplied>>> {
    require(caller, Permission::ManageRecords)?;
    let customer = customers::load(context, &caller.tenant, customer_id).await?;
    let credit = customer.customer.balance.credit;
    if credit <= Decimal::ZERO {
        return Err(AppError::conflict(
            "no_credit",
            "the customer has no credit to apply",
        ));
    }
    let open = open_invoices(context, &caller.tenant, customer_id).await?;
    let currency = customer.customer.currency;
    let mut changed = Vec::new();
    let made = settle(&open, &mut changed, credit, currency, now)?;
    let used: Decimal = made.iter().map(|a| a.amount).sum();
    let left = credit - used;
    let mut next = customer.customer.clone();
    next.balance.credit = left;
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    for (_, record) in &changed {
        if !record.invoice.is_open() {
            next.payment_stats.record_settled(&record.invoice, today);
        }
    }
    let history = HistoryItem::new(
        customer_id,
        HistoryType::Payment,
        now,
        caller.user.as_str(),
        format!("Credit of {used} {currency} applied"),
        json!({"credit_applied": used.to_string(), "credit_left": left.to_string()}),
    )
    .with_invoices(changed.iter().map(|(id, _)| id.clone()).collect());
    let effects = Effects {
        customer: &customer,
        next,
        open: &open,
        changed,
        history,
        extra: Vec::new(),
    };
    let applied = CreditApplied {
        applied: used,
        credit_left: left,
    };
    Ok(effects.change(applied, today, zone, now))
}

/// A correction of `customer` (as read to parse the adjustment in its
/// currency). A negative adjustment reduces what is owed: on an invoice it
/// credits that invoice (installments in due-date order), without one it
/// becomes customer credit (settled automatically when the customer
/// settles so). A positive one raises an invoice's total (its last
/// installment on a plan) and needs the invoice.
pub async fn adjust(
    context: &Context,
    caller: &Caller,
    customer: StoredCustomer,
    new: &NewAdjustment,
    now: DateTime<Utc>,
) -> AppResult<Change<Settled<Adjustment>>> {
    require(caller, Permission::ManageRecords)?;
    let customer_id = customer.customer.id.as_str();
    let currency = customer.customer.currency;
    let amount = new.amount;
    let invoice_id = &new.invoice_id;
    let open = open_invoices(context, &caller.tenant, customer_id).await?;
    let mut next = customer.customer.clone();
    let mut changed = Vec::new();
    match invoice_id {
        None => {
            let credit = credit_after(next.balance.credit, -amount.amount, "amount")?;
            let settings = context.settings(&caller.tenant).await?;
            next.balance.credit = credit;
            if next.settles_automatically(settings.auto_settle) {
                let made = settle(&open, &mut changed, credit, currency, now)?;
                next.balance.credit -= made.iter().map(|a| a.amount).sum::<Decimal>();
            }
        }
        Some(id) if amount.amount < Decimal::ZERO => {
            let credit = Money {
                amount: -amount.amount,
                currency,
            };
            apply(
                &open,
                &mut changed,
                &[("invoice_id".to_string(), id.clone(), credit)],
                now,
            )
            .map_err(|errors| {
                let mut renamed = FieldErrors::new();
                for (field, problem) in errors.iter() {
                    let field = if field.ends_with(".amount") {
                        "amount"
                    } else {
                        "invoice_id"
                    };
                    renamed.add(field, problem.clone());
                }
                AppError::Validation(renamed)
            })?
        }
        Some(id) => {
            let Some(record) = open.get(id) else {
                return Err(AppError::invalid_field(
                    "invoice_id",
                    "no open invoice of this customer has this id",
                ));
            };
            let mut record = record.clone();
            record.invoice.total = record
                .invoice
                .total
                .checked_add(amount.amount)
                .filter(|total| domain::money::within_bounds(*total))
                .ok_or_else(|| {
                    AppError::invalid_field(
                        "amount",
                        "would take the invoice's total beyond the largest amount allowed",
                    )
                })?;
            if let Some(last) = record
                .invoice
                .payment_plan
                .as_mut()
                .and_then(|p| p.installments.last_mut())
            {
                last.amount += amount.amount;
            }
            record.version += 1;
            record.updated_at = now;
            changed.push((id.clone(), record));
        }
    }
    let adjustment = Adjustment {
        id: context.ids.new_id(now),
        customer_id: customer_id.to_string(),
        amount: amount.amount,
        reason: new.reason.clone(),
        invoice_id: invoice_id.clone(),
        created_by: caller.user.to_string(),
        created_at: now,
    };
    let history = HistoryItem::new(
        customer_id,
        HistoryType::Adjustment,
        now,
        caller.user.as_str(),
        format!("Adjustment of {amount}: {}", adjustment.reason),
        json!({"adjustment_id": adjustment.id, "amount": amount.amount.to_string()}),
    )
    .with_invoices(invoice_id.iter().cloned().collect());
    let extra = vec![Write::InsertAdjustment(Box::new(adjustment.clone()))];
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    let effects = Effects {
        customer: &customer,
        next,
        open: &open,
        changed,
        history,
        extra,
    };
    Ok(effects.change(adjustment, today, zone, now))
}

/// A promise to pay by `customer` (as read to parse the promise in its
/// currency); it becomes the customer's active promise (chasing waits for it).
pub async fn promise(
    context: &Context,
    caller: &Caller,
    customer: StoredCustomer,
    new: &NewPromise,
    now: DateTime<Utc>,
) -> AppResult<Change<Dated<Promise>>> {
    promise_recorded_as(context, caller, customer, new, now, HistoryType::Promise).await
}

/// [`promise`], its history item of type `recorded_as` (the portal's
/// promises are `portal_promise`).
pub async fn promise_recorded_as(
    context: &Context,
    caller: &Caller,
    customer: StoredCustomer,
    new: &NewPromise,
    now: DateTime<Utc>,
    recorded_as: HistoryType,
) -> AppResult<Change<Dated<Promise>>> {
    require(caller, Permission::ManageRecords)?;
    let customer_id = customer.customer.id.as_str();
    let settings = context.settings(&caller.tenant).await?;
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let (amount, promised_date) = (new.amount, new.promised_date);
    let promise = Promise {
        id: context.ids.new_id(now),
        customer_id: customer_id.to_string(),
        amount,
        currency: customer.customer.currency,
        promised_date,
        note: new.note.clone(),
        grace_days: settings.promise_grace_days,
        paid_since: Decimal::ZERO,
        kept_on: None,
        created_by: caller.user.to_string(),
        created_at: now,
    };
    let mut next = customer.customer.clone();
    next.active_promise = Some(promise.clone());
    let history = HistoryItem::new(
        customer_id,
        recorded_as,
        now,
        caller.user.as_str(),
        format!(
            "Promise to pay {amount} {} by {promised_date}",
            promise.currency
        ),
        json!({"promise_id": promise.id, "amount": amount.to_string(), "promised_date": promised_date}),
    );
    let mut writes = crate::writes::customer(next, Some(&customer), &[history]);
    writes.push(Write::PutPromise(Box::new(promise.clone())));
    Ok(Change::new(
        writes,
        Dated {
            value: promise,
            today,
        },
        concurrent_money,
    ))
}

/// One page of a customer's promises, newest first, and the tenant's
/// "today" their status is computed for.
pub async fn promises(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    page: PageRequest,
    now: DateTime<Utc>,
) -> AppResult<Dated<Page<Promise>>> {
    require(caller, Permission::Read)?;
    customers::load(context, &caller.tenant, customer_id).await?;
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    let page = context
        .store
        .promises(&caller.tenant, customer_id, page)
        .await?;
    Ok(Dated { value: page, today })
}

/// A customer's money change before it is turned into writes: the open
/// invoices as read and the ones it changed (each once, one version on).
struct Effects<'a> {
    customer: &'a StoredCustomer,
    next: Customer,
    open: &'a HashMap<String, InvoiceRecord>,
    changed: Vec<(String, InvoiceRecord)>,
    history: HistoryItem,
    extra: Vec<Write>,
}

impl Effects<'_> {
    fn change<T>(
        self,
        record: T,
        today: NaiveDate,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Change<Settled<T>> {
        let invoices: Vec<(Option<&InvoiceRecord>, InvoiceRecord)> = self
            .changed
            .iter()
            .map(|(id, record)| (self.open.get(id), record.clone()))
            .collect();
        let change = MoneyChange {
            customer: self.customer,
            next: self.next,
            invoices,
            history: vec![self.history],
            extra: self.extra,
        };
        let (writes, next) = change.writes(today, zone, now);
        let settled = Settled {
            record,
            invoices: self.changed.into_iter().map(|(_, r)| r).collect(),
            balance: next.balance,
            today,
        };
        Change::new(writes, settled, concurrent_money)
    }
}

async fn open_invoices(
    context: &Context,
    tenant: &TenantId,
    customer_id: &str,
) -> AppResult<HashMap<String, InvoiceRecord>> {
    let records = context.store.open_invoices(tenant, customer_id).await?;
    Ok(records
        .into_iter()
        .map(|r| (r.invoice.id.clone(), r))
        .collect())
}

/// Applies `applications` (field, invoice id, amount) to the customer's open
/// invoices, on top of what `changed` already holds (each invoice is written
/// once, one version on); errors name the field of the application that
/// could not be applied.
fn apply(
    open: &HashMap<String, InvoiceRecord>,
    changed: &mut Vec<(String, InvoiceRecord)>,
    applications: &[(String, String, Money)],
    now: DateTime<Utc>,
) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    for (field, invoice_id, amount) in applications {
        let position = changed.iter().position(|(id, _)| id == invoice_id);
        let mut record = match (position, open.get(invoice_id)) {
            (Some(i), _) => changed.remove(i).1,
            (None, Some(record)) => {
                let mut record = record.clone();
                record.version += 1;
                record.updated_at = now;
                record
            }
            (None, None) => {
                errors.add(
                    format!("{field}.invoice_id"),
                    "no open invoice of this customer has this id",
                );
                continue;
            }
        };
        let before = record.clone();
        match record.invoice.apply_payment(*amount) {
            Ok(()) => changed.push((invoice_id.clone(), record)),
            Err(error) => {
                changed.push((invoice_id.clone(), before));
                match error {
                    PaymentError::OverApplied { balance, .. } => errors.add(
                        format!("{field}.amount"),
                        format!("is more than the invoice's balance of {balance}"),
                    ),
                    other => errors.add(format!("{field}.amount"), other.to_string()),
                }
            }
        }
    }
    errors.into_result(())
}

/// Automatic settlement: `pool` (a payment's remainder and the customer's
/// credit) applied to the open invoices oldest due date first, within the
/// invoices one transaction can hold. Returns what was applied.
fn settle(
    open: &HashMap<String, InvoiceRecord>,
    changed: &mut Vec<(String, InvoiceRecord)>,
    pool: Decimal,
    currency: Currency,
    now: DateTime<Utc>,
) -> AppResult<Vec<Application>> {
    let current: Vec<&Invoice> = open
        .iter()
        .map(|(id, record)| {
            changed
                .iter()
                .find(|(changed_id, _)| changed_id == id)
                .map_or(&record.invoice, |(_, r)| &r.invoice)
        })
        .collect();
    let plan = domain::invoice::settlement(&current, pool, MAX_APPLICATIONS);
    let mut touched = changed.len();
    let mut made = Vec::new();
    let mut applications = Vec::new();
    for (invoice_id, amount) in plan {
        if !changed.iter().any(|(id, _)| *id == invoice_id) {
            // What one transaction cannot hold stays as credit.
            if touched >= MAX_APPLICATIONS {
                break;
            }
            touched += 1;
        }
        applications.push((
            format!("settlement of {invoice_id}"),
            invoice_id.clone(),
            Money { amount, currency },
        ));
        made.push(Application {
            invoice_id,
            amount,
            automatic: true,
        });
    }
    apply(open, changed, &applications, now).map_err(AppError::Validation)?;
    Ok(made)
}

/// The customer's credit after `delta`, refused when it would leave the
/// bounds every amount keeps to.
fn credit_after(current: Decimal, delta: Decimal, field: &str) -> AppResult<Decimal> {
    current
        .checked_add(delta)
        .filter(|credit| domain::money::within_bounds(*credit))
        .ok_or_else(|| {
            AppError::invalid_field(
                field,
                "would take the customer's credit beyond the largest amount allowed",
            )
        })
}

/// Settled invoices count towards the payer rating; the promise counts the money.
fn track_payment(
    next: &mut Customer,
    changed: &[(String, InvoiceRecord)],
    amount: Decimal,
    date: NaiveDate,
) {
    for (_, record) in changed {
        if !record.invoice.is_open() {
            next.payment_stats.record_settled(&record.invoice, date);
        }
    }
    if let Some(promise) = &mut next.active_promise {
        promise.record_payment(amount, date);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn open(invoices: &[(&str, &str, &str)]) -> HashMap<String, InvoiceRecord> {
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        invoices
            .iter()
            .map(|(id, due, total)| {
                let invoice = Invoice {
                    id: id.to_string(),
                    customer_id: "c".into(),
                    number: id.to_string(),
                    currency: eur(),
                    issue_date: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
                    due_date: Some(due.parse().unwrap()),
                    total: total.parse().unwrap(),
                    amount_paid: Decimal::ZERO,
                    autopay: false,
                    collection_status: Default::default(),
                    dispute_reason: None,
                    voided: false,
                    payment_plan: None,
                    chasing: Default::default(),
                };
                let record = InvoiceRecord {
                    invoice,
                    version: 1,
                    created_at: at,
                    updated_at: at,
                };
                (id.to_string(), record)
            })
            .collect()
    }

    #[test]
    fn settlement_pays_the_oldest_due_first_on_top_of_what_was_applied() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0).unwrap();
        let invoices = open(&[
            ("late", "2026-06-10", "100.00"),
            ("early", "2026-05-25", "40.00"),
        ]);
        let mut changed = Vec::new();
        let asked = [(
            "applications[0]".to_string(),
            "late".to_string(),
            Money::parse("30.00", eur()).unwrap(),
        )];
        apply(&invoices, &mut changed, &asked, now).unwrap();
        let made = settle(
            &invoices,
            &mut changed,
            "50.00".parse().unwrap(),
            eur(),
            now,
        )
        .unwrap();
        let plan: Vec<(&str, String)> = made
            .iter()
            .map(|a| (a.invoice_id.as_str(), a.amount.to_string()))
            .collect();
        assert_eq!(plan, [("early", "40.00".into()), ("late", "10.00".into())]);
        assert!(made.iter().all(|a| a.automatic));
        // Each invoice is written once, one version on, with both applications.
        assert_eq!(changed.len(), 2);
        let late = &changed.iter().find(|(id, _)| id == "late").unwrap().1;
        assert_eq!(late.version, 2);
        assert_eq!(
            late.invoice.amount_paid,
            "40.00".parse::<Decimal>().unwrap()
        );
    }

    #[test]
    fn over_applying_names_the_application() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 0, 0, 0).unwrap();
        let invoices = open(&[("a", "2026-06-10", "10.00")]);
        let asked = [
            (
                "applications[0]".to_string(),
                "a".to_string(),
                Money::parse("20.00", eur()).unwrap(),
            ),
            (
                "applications[1]".to_string(),
                "zz".to_string(),
                Money::parse("1.00", eur()).unwrap(),
            ),
        ];
        let errors = apply(&invoices, &mut Vec::new(), &asked, now).unwrap_err();
        let fields: Vec<&String> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            ["applications[0].amount", "applications[1].invoice_id"]
        );
    }

    #[test]
    fn credit_stays_within_the_bounds_of_every_amount() {
        let max: Decimal = "999999999999999.99".parse().unwrap();
        assert_eq!(credit_after(max, Decimal::ZERO, "amount").unwrap(), max);
        assert!(credit_after(max, Decimal::ONE, "amount").is_err());
    }
}
