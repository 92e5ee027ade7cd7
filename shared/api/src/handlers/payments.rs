//! Payments, adjustments, customer credit and promises to pay. Each commits
//! with every effect (invoices, installments, balances, promise progress,
//! history) in one DynamoDB transaction, or not at all.

use super::customers;
use super::invoices::{view as invoice_view, MoneyChange};
use super::Ctx;
use crate::adapters::customer_store::StoredCustomer;
use crate::adapters::dynamo::{from_item, to_item, Condition, KeyQuery, Table};
use crate::adapters::invoice_store::{self, InvoiceRecord};
use crate::adapters::keys::{
    customer_pk, ADJUSTMENT_PREFIX, PAYMENT_PREFIX, PK, PROMISE_PREFIX, SK,
};
use crate::domain::fields;
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::{Permission, TenantId};
use crate::domain::invoice::PaymentError;
use crate::domain::money::Money;
use crate::domain::promise::Promise;
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{encode_cursor, page_request};
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, NaiveDate, Utc};
use http::StatusCode;
use lambda_http::{Request, RequestExt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One transaction holds at most 100 writes; an application costs up to
/// three (record moved, pointer) on top of the customer and its entries.
pub const MAX_APPLICATIONS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub invoice_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Made by automatic settlement rather than asked for.
    #[serde(default)]
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: crate::domain::money::Currency,
    pub date: NaiveDate,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub applications: Vec<Application>,
    /// What was not applied and became customer credit.
    #[serde(with = "rust_decimal::serde::str")]
    pub unapplied: Decimal,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

fn put_record<T: Serialize>(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    sk: String,
    value: &T,
) -> Result<TransactWriteItem, ApiError> {
    let mut item = to_item(value)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(sk));
    Ok(table.put(item, Some(Condition::absent()))?)
}

fn concurrent() -> ApiError {
    ApiError::conflict(
        crate::http::error::CONCURRENT_UPDATE,
        "the customer's balance changed at the same time; reload and retry",
    )
}

/// Applies `applications` to the customer's open invoices, on top of what
/// `changed` already holds (each invoice is written once, one version on);
/// errors name the field of the application that could not be applied.
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
    currency: crate::domain::money::Currency,
    now: DateTime<Utc>,
) -> Result<Vec<Application>, ApiError> {
    let current: Vec<&crate::domain::invoice::Invoice> = open
        .iter()
        .map(|(id, record)| {
            changed
                .iter()
                .find(|(changed_id, _)| changed_id == id)
                .map_or(&record.invoice, |(_, r)| &r.invoice)
        })
        .collect();
    let plan = crate::domain::invoice::settlement(&current, pool, MAX_APPLICATIONS);
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
    apply(open, changed, &applications, now).map_err(ApiError::Validation)?;
    Ok(made)
}

/// The customer's credit after `delta`, refused when it would leave the
/// bounds every amount keeps to.
fn credit_after(current: Decimal, delta: Decimal, field: &str) -> Result<Decimal, ApiError> {
    current
        .checked_add(delta)
        .filter(|credit| crate::domain::money::within_bounds(*credit))
        .ok_or_else(|| {
            ApiError::invalid_field(
                field,
                "would take the customer's credit beyond the largest amount allowed",
            )
        })
}

async fn open_invoices(
    ctx: &Ctx<'_>,
    customer_id: &str,
) -> Result<HashMap<String, InvoiceRecord>, ApiError> {
    let records =
        invoice_store::open_of_customer(&ctx.app.table, &ctx.caller.tenant, customer_id).await?;
    Ok(records
        .into_iter()
        .map(|r| (r.invoice.id.clone(), r))
        .collect())
}

/// Settled invoices count towards the payer rating; the promise counts the money.
fn track_payment(
    next: &mut crate::domain::customer::Customer,
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

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let customer_id = match body.get("customer_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => return Err(ApiError::invalid_field("customer_id", "is required")),
    };
    let customer = customers::load(ctx, &customer_id)
        .await
        .map_err(|_| ApiError::invalid_field("customer_id", "no such customer"))?;
    let currency = customer.customer.currency;
    let mut errors = FieldErrors::new();
    let (mut amount, mut date, mut method, mut reference) = (None, None, None, None);
    let mut applications = Vec::new();
    for (field, value) in &body {
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
                        let prefix = format!("applications[{i}]");
                        let id = item
                            .get("invoice_id")
                            .and_then(|v| fields::reference(e, &format!("{prefix}.invoice_id"), v));
                        let applied = item.get("amount").and_then(|v| {
                            fields::amount(e, &format!("{prefix}.amount"), v, currency)
                        });
                        match (id, applied) {
                            (Some(id), Some(applied)) if !applied.amount.is_zero() => {
                                applications.push((prefix, id, applied))
                            }
                            (Some(_), Some(_)) => {
                                e.add(format!("{prefix}.amount"), "must be greater than zero")
                            }
                            _ => e.add(prefix, "needs invoice_id and amount"),
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
    let applied: Decimal = applications.iter().map(|(_, _, m)| m.amount).sum();
    if let Some(amount) = amount {
        if applied > amount.amount {
            errors.add(
                "applications",
                format!("apply {applied}, more than the payment's {}", amount.amount),
            );
        }
    }
    let (Some(amount), Some(date)) = (amount, date) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let open = open_invoices(ctx, &customer_id).await?;
    let mut changed = Vec::new();
    apply(&open, &mut changed, &applications, ctx.now)?;
    let mut made: Vec<Application> = applications
        .iter()
        .map(|(_, id, m)| Application {
            invoice_id: id.clone(),
            amount: m.amount,
            automatic: false,
        })
        .collect();
    let settings = ctx.settings().await?;
    let credit_before = customer.customer.balance.credit;
    let pool = credit_after(credit_before, amount.amount - applied, "amount")?;
    if customer
        .customer
        .settles_automatically(settings.auto_settle)
    {
        made.extend(settle(&open, &mut changed, pool, currency, ctx.now)?);
    }
    let applied_in_all: Decimal = made.iter().map(|a| a.amount).sum();
    let settled_automatically = applied_in_all - applied;
    let payment = Payment {
        id: ulid::Ulid::new().to_string(),
        customer_id: customer_id.clone(),
        amount: amount.amount,
        currency,
        date,
        method,
        reference,
        applications: made,
        unapplied: (amount.amount - applied_in_all).max(Decimal::ZERO),
        created_by: ctx.caller.user.to_string(),
        created_at: ctx.now,
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
        ctx.now,
        ctx.caller.user.as_str(),
        format!("Payment of {amount} received"),
        json!({"payment_id": payment.id, "amount": payment.amount.to_string(), "unapplied": payment.unapplied.to_string()}),
    )
    .with_invoices(invoice_ids);
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut extra = vec![put_record(
        table,
        tenant,
        &customer_id,
        format!("{PAYMENT_PREFIX}{}", payment.id),
        &payment,
    )?];
    if let Some(promise) = &next.active_promise {
        extra.push(promise_write(table, tenant, promise)?);
    }
    let today = ctx.today().await?;
    commit(
        ctx,
        &customer,
        next,
        &open,
        changed,
        history,
        extra,
        today,
        StatusCode::CREATED,
        json!(payment),
        Some(format!("/v1/payments?customer_id={customer_id}")),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn commit(
    ctx: &Ctx<'_>,
    customer: &StoredCustomer,
    next: crate::domain::customer::Customer,
    open: &HashMap<String, InvoiceRecord>,
    changed: Vec<(String, InvoiceRecord)>,
    history: HistoryItem,
    extra: Vec<TransactWriteItem>,
    today: NaiveDate,
    status: StatusCode,
    mut body: Value,
    location: Option<String>,
) -> Result<ApiResponse, ApiError> {
    let invoices: Vec<(Option<&InvoiceRecord>, InvoiceRecord)> = changed
        .iter()
        .map(|(id, record)| (open.get(id), record.clone()))
        .collect();
    body["invoices"] = json!(changed
        .iter()
        .map(|(_, r)| invoice_view(r, today))
        .collect::<Vec<_>>());
    let change = MoneyChange {
        customer,
        next,
        invoices,
        history: vec![history],
        extra,
    };
    let (writes, next) = change.writes(ctx, today, ctx.settings().await?.time_zone)?;
    body["customer_balance"] = json!(next.balance);
    let mut response = ApiResponse::json(status, &body)?;
    if let Some(location) = location {
        response = response.with_location(location);
    }
    ctx.commit(writes, |_| concurrent(), response).await
}

fn promise_write(
    table: &Table,
    tenant: &TenantId,
    promise: &Promise,
) -> Result<TransactWriteItem, ApiError> {
    let mut item = to_item(promise)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, &promise.customer_id)),
    );
    item.insert(
        SK.into(),
        AttributeValue::S(format!("{PROMISE_PREFIX}{}", promise.id)),
    );
    Ok(table.put(item, None)?)
}

async fn records<T: serde::de::DeserializeOwned>(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
    prefix: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let params = request.query_string_parameters();
    let partition = customer_pk(&ctx.caller.tenant, customer_id);
    let page = page_request(
        params.first("limit"),
        params.first("cursor"),
        (PK, &partition),
    )?;
    let result = ctx
        .app
        .table
        .query(
            KeyQuery::partition(PK, partition)
                .sort_begins_with(SK, prefix)
                .descending()
                .limit(page.limit)
                .start(page.start),
        )
        .await?;
    let items = result
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<T>, _>>()?;
    Ok((items, result.last_key.as_ref().and_then(encode_cursor)))
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let params = request.query_string_parameters();
    let Some(customer_id) = params.first("customer_id") else {
        return Err(ApiError::invalid_field("customer_id", "is required"));
    };
    customers::load(ctx, customer_id).await?;
    let (items, next) = records::<Payment>(ctx, request, customer_id, PAYMENT_PREFIX).await?;
    ApiResponse::ok(&json!({"items": items, "next_cursor": next}))
}

/// Applies the customer's credit to its open invoices, oldest first.
pub async fn apply_credit(ctx: &Ctx<'_>, customer_id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let customer = customers::load(ctx, customer_id).await?;
    let credit = customer.customer.balance.credit;
    if credit <= Decimal::ZERO {
        return Err(ApiError::conflict(
            "no_credit",
            "the customer has no credit to apply",
        ));
    }
    let open = open_invoices(ctx, customer_id).await?;
    let currency = customer.customer.currency;
    let mut changed = Vec::new();
    let made = settle(&open, &mut changed, credit, currency, ctx.now)?;
    let used: Decimal = made.iter().map(|a| a.amount).sum();
    let left = credit - used;
    let mut next = customer.customer.clone();
    next.balance.credit = left;
    let today = ctx.today().await?;
    for (_, record) in &changed {
        if !record.invoice.is_open() {
            next.payment_stats.record_settled(&record.invoice, today);
        }
    }
    let history = HistoryItem::new(
        customer_id,
        HistoryType::Payment,
        ctx.now,
        ctx.caller.user.as_str(),
        format!("Credit of {used} {currency} applied"),
        json!({"credit_applied": used.to_string(), "credit_left": left.to_string()}),
    )
    .with_invoices(changed.iter().map(|(id, _)| id.clone()).collect());
    let body = json!({"applied": used.to_string(), "credit_left": left.to_string()});
    commit(
        ctx,
        &customer,
        next,
        &open,
        changed,
        history,
        Vec::new(),
        today,
        StatusCode::OK,
        body,
        None,
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub reason: String,
    pub invoice_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A negative adjustment reduces what is owed: on an invoice it credits that
/// invoice (installments in due-date order), without one it becomes customer
/// credit. A positive one raises an invoice's total (its last installment on
/// a plan) and needs the invoice.
pub async fn adjust(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body: Map<String, Value> = request::json_object(request)?;
    let customer = customers::load(ctx, customer_id).await?;
    let currency = customer.customer.currency;
    let mut errors = FieldErrors::new();
    let (mut amount, mut reason, mut invoice_id) = (None, None, None);
    for (field, value) in &body {
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
    if amount.is_some_and(|a| a.amount > Decimal::ZERO)
        && invoice_id.is_none()
        && body.contains_key("amount")
    {
        errors.add("invoice_id", "is required for a positive adjustment");
    }
    let (Some(amount), Some(reason)) = (amount, reason) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let open = open_invoices(ctx, customer_id).await?;
    let mut next = customer.customer.clone();
    let mut changed = Vec::new();
    match &invoice_id {
        None => {
            let credit = credit_after(next.balance.credit, -amount.amount, "amount")?;
            let settings = ctx.settings().await?;
            next.balance.credit = credit;
            if next.settles_automatically(settings.auto_settle) {
                let made = settle(&open, &mut changed, credit, currency, ctx.now)?;
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
                ctx.now,
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
                ApiError::Validation(renamed)
            })?
        }
        Some(id) => {
            let Some(record) = open.get(id) else {
                return Err(ApiError::invalid_field(
                    "invoice_id",
                    "no open invoice of this customer has this id",
                ));
            };
            let mut record = record.clone();
            record.invoice.total = record
                .invoice
                .total
                .checked_add(amount.amount)
                .filter(|total| crate::domain::money::within_bounds(*total))
                .ok_or_else(|| {
                    ApiError::invalid_field(
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
            record.updated_at = ctx.now;
            changed.push((id.clone(), record));
        }
    }
    let adjustment = Adjustment {
        id: ulid::Ulid::new().to_string(),
        customer_id: customer_id.to_string(),
        amount: amount.amount,
        reason,
        invoice_id: invoice_id.clone(),
        created_by: ctx.caller.user.to_string(),
        created_at: ctx.now,
    };
    let history = HistoryItem::new(
        customer_id,
        HistoryType::Adjustment,
        ctx.now,
        ctx.caller.user.as_str(),
        format!("Adjustment of {amount}: {}", adjustment.reason),
        json!({"adjustment_id": adjustment.id, "amount": amount.amount.to_string()}),
    )
    .with_invoices(invoice_id.into_iter().collect());
    let extra = vec![put_record(
        &ctx.app.table,
        &ctx.caller.tenant,
        customer_id,
        format!("{ADJUSTMENT_PREFIX}{}", adjustment.id),
        &adjustment,
    )?];
    let today = ctx.today().await?;
    commit(
        ctx,
        &customer,
        next,
        &open,
        changed,
        history,
        extra,
        today,
        StatusCode::CREATED,
        json!(adjustment),
        None,
    )
    .await
}

fn promise_view(promise: &Promise, today: NaiveDate) -> Value {
    let mut value = json!(promise);
    value["status"] = json!(promise.status(today));
    value
}

pub async fn promise(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let customer = customers::load(ctx, customer_id).await?;
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
    let (amount, promised_date, note) = Promise::parse(&body, customer.customer.currency, today)?;
    let promise = Promise {
        id: ulid::Ulid::new().to_string(),
        customer_id: customer_id.to_string(),
        amount,
        currency: customer.customer.currency,
        promised_date,
        note,
        grace_days: settings.promise_grace_days,
        paid_since: Decimal::ZERO,
        kept_on: None,
        created_by: ctx.caller.user.to_string(),
        created_at: ctx.now,
    };
    let mut next = customer.customer.clone();
    next.active_promise = Some(promise.clone());
    let history = HistoryItem::new(
        customer_id,
        HistoryType::Promise,
        ctx.now,
        ctx.caller.user.as_str(),
        format!(
            "Promise to pay {amount} {} by {promised_date}",
            promise.currency
        ),
        json!({"promise_id": promise.id, "amount": amount.to_string(), "promised_date": promised_date}),
    );
    let table = &ctx.app.table;
    let mut writes = crate::adapters::customer_store::put(
        table,
        &ctx.caller.tenant,
        next,
        Some(&customer),
        &[history],
    )?;
    writes.push(promise_write(table, &ctx.caller.tenant, &promise)?);
    let response = ApiResponse::json(StatusCode::CREATED, &promise_view(&promise, today))?;
    ctx.commit(writes, |_| concurrent(), response).await
}

pub async fn promises(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    customers::load(ctx, customer_id).await?;
    let today = ctx.today().await?;
    let (items, next) = records::<Promise>(ctx, request, customer_id, PROMISE_PREFIX).await?;
    let items: Vec<Value> = items.iter().map(|p| promise_view(p, today)).collect();
    ApiResponse::ok(&json!({"items": items, "next_cursor": next}))
}
