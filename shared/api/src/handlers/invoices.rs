//! `/v1/invoices`: create, read, update, void and list. Every change commits
//! with the customer's refreshed balances and a history item, or not at all.

use super::customers::{self, valid_id};
use super::Ctx;
use crate::adapters::customer_store::{self, StoredCustomer};
use crate::adapters::dynamo::Condition;
use crate::adapters::invoice_store::{self, InvoiceList, InvoiceRecord};
use crate::adapters::keys::{customer_pk, invoice_list_pk, GSI1PK, PK};
use crate::domain::customer::Customer;
use crate::domain::fields;
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::domain::invoice::{
    CollectionStatus, Invoice, NewInstallment, NewInvoice, NewPaymentPlan,
};
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{list_reply, page_request};
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::NaiveDate;
use http::StatusCode;
use lambda_http::{Request, RequestExt};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// The API representation, with computed fields as of `today`.
pub fn view(record: &InvoiceRecord, today: NaiveDate) -> Value {
    let invoice = &record.invoice;
    let installments: Option<Vec<Value>> = invoice.payment_plan.as_ref().map(|plan| {
        plan.installments
            .iter()
            .map(|i| json!({"due_date": i.due_date, "amount": i.amount.to_string(), "amount_paid": i.amount_paid.to_string(), "paid": i.is_paid()}))
            .collect()
    });
    json!({
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "number": invoice.number,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "total": invoice.total.to_string(),
        "amount_paid": invoice.amount_paid.to_string(),
        "balance": invoice.balance().amount.to_string(),
        "status": invoice.status(),
        "days_overdue": invoice.days_overdue(today),
        "autopay": invoice.autopay,
        "collection_status": invoice.collection_status,
        "dispute_reason": invoice.dispute_reason,
        "payment_plan": installments.map(|installments| json!({"installments": installments})),
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

/// Fields as submitted, checked for type; meaning is checked by
/// [`NewInvoice::validate`].
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

pub(crate) async fn load(ctx: &Ctx<'_>, id: &str) -> Result<InvoiceRecord, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    invoice_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// One money change of one customer in one transaction: the invoices, the
/// customer's refreshed copy of them, balances, ages and rating, history,
/// and any `extra` writes. Write 0 is the customer (changed concurrently).
pub(crate) struct MoneyChange<'a> {
    pub customer: &'a StoredCustomer,
    pub next: Customer,
    pub invoices: Vec<(Option<&'a InvoiceRecord>, InvoiceRecord)>,
    pub history: Vec<HistoryItem>,
    pub extra: Vec<TransactWriteItem>,
}

impl MoneyChange<'_> {
    pub(crate) fn writes(
        mut self,
        ctx: &Ctx<'_>,
        today: NaiveDate,
        zone: chrono_tz::Tz,
    ) -> Result<(Vec<TransactWriteItem>, Customer), ApiError> {
        let table = &ctx.app.table;
        let tenant = &ctx.caller.tenant;
        let before = self.customer.customer.chased_balance(today).items;
        for (_, after) in &self.invoices {
            self.next.track_invoice(&after.invoice);
        }
        self.next.refresh(today);
        // DESIGN §5: a money event that settles or removes every chased item resets the cycle.
        let after = self.next.chased_balance(today).items;
        self.next.cycle.record_change(&before, &after);
        self.next.reschedule(zone, ctx.now);
        let mut writes = customer_store::put(
            table,
            tenant,
            self.next.clone(),
            Some(self.customer),
            &self.history,
        )?;
        for (before, after) in &self.invoices {
            writes.extend(invoice_store::save(table, tenant, after, *before)?);
        }
        writes.extend(self.extra);
        Ok((writes, self.next))
    }
}

fn concurrent() -> ApiError {
    ApiError::conflict(
        crate::http::error::CONCURRENT_UPDATE,
        "the customer's balance changed at the same time; reload and retry",
    )
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let new = parse_fields(&body, None)?;
    let customer =
        match customer_store::get(&ctx.app.table, &ctx.caller.tenant, &new.customer_id).await? {
            Some(customer) if valid_id(&new.customer_id) => customer,
            _ => return Err(ApiError::invalid_field("customer_id", "no such customer")),
        };
    let invoice = new.validate(ulid::Ulid::new().to_string(), customer.customer.currency)?;
    let today = ctx.today().await?;
    let record = InvoiceRecord {
        invoice,
        version: 1,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let invoice = &record.invoice;
    let history = HistoryItem::new(
        &invoice.customer_id,
        HistoryType::InvoiceCreated,
        ctx.now,
        ctx.caller.user.as_str(),
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
    let (mut writes, _) = change.writes(ctx, today, ctx.settings().await?.time_zone)?;
    let number_index = writes.len();
    writes.push(invoice_store::reserve_number(
        &ctx.app.table,
        &ctx.caller.tenant,
        &invoice.number,
        &invoice.id,
    )?);
    let response = ApiResponse::json(StatusCode::CREATED, &view(&record, today))?
        .with_version(record.version)
        .with_location(format!("/v1/invoices/{}", invoice.id));
    ctx.commit(
        writes,
        |i| {
            if i == number_index {
                duplicate_number()
            } else {
                concurrent()
            }
        },
        response,
    )
    .await
}

fn duplicate_number() -> ApiError {
    ApiError::conflict(
        "duplicate_number",
        "another invoice already has this number",
    )
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let record = load(ctx, id).await?;
    let today = ctx.today().await?;
    Ok(ApiResponse::ok(&view(&record, today))?.with_version(record.version))
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let body = request::json_object(request)?;
    let current = load(ctx, id).await?;
    if current.invoice.voided {
        return Err(ApiError::conflict(
            "invoice_void",
            "a void invoice cannot change",
        ));
    }
    let new = parse_fields(&body, Some(&current.invoice))?;
    if current.version != expected {
        return Err(ApiError::stale_version());
    }
    let mut invoice = new.validate(id.to_string(), current.invoice.currency)?;
    // What was paid stays paid, landing on installments in due-date order again.
    if current.invoice.amount_paid > Decimal::ZERO {
        let paid = current.invoice.amount_paid_money();
        invoice.apply_payment(paid).map_err(|_| {
            ApiError::invalid_field("total", &format!("cannot drop below what is paid ({paid})"))
        })?;
    }
    let customer = customers::load(ctx, &invoice.customer_id).await?;
    let today = ctx.today().await?;
    let record = InvoiceRecord {
        invoice,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: ctx.now,
    };
    let history = HistoryItem::new(
        &record.invoice.customer_id,
        HistoryType::InvoiceUpdated,
        ctx.now,
        ctx.caller.user.as_str(),
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
    let (mut writes, _) = change.writes(ctx, today, ctx.settings().await?.time_zone)?;
    let mut number_index = None;
    if record.invoice.number != current.invoice.number {
        number_index = Some(writes.len());
        writes.push(invoice_store::reserve_number(
            &ctx.app.table,
            &ctx.caller.tenant,
            &record.invoice.number,
            id,
        )?);
        writes.push(invoice_store::release_number(
            &ctx.app.table,
            &ctx.caller.tenant,
            &current.invoice.number,
        )?);
    }
    let response = ApiResponse::ok(&view(&record, today))?.with_version(record.version);
    ctx.commit(
        writes,
        |i| {
            if Some(i) == number_index {
                duplicate_number()
            } else {
                ApiError::stale_version()
            }
        },
        response,
    )
    .await
}

pub async fn void(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let current = load(ctx, id).await?;
    let mut invoice = current.invoice.clone();
    invoice
        .void()
        .map_err(|e| ApiError::conflict("cannot_void", e.to_string()))?;
    let customer = customers::load(ctx, &invoice.customer_id).await?;
    let today = ctx.today().await?;
    let record = InvoiceRecord {
        invoice,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: ctx.now,
    };
    let history = HistoryItem::new(
        &record.invoice.customer_id,
        HistoryType::InvoiceVoided,
        ctx.now,
        ctx.caller.user.as_str(),
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
    let (writes, _) = change.writes(ctx, today, ctx.settings().await?.time_zone)?;
    let response = ApiResponse::ok(&view(&record, today))?.with_version(record.version);
    ctx.commit(writes, |_| concurrent(), response).await
}

const LIST_PARAMS: &[&str] = &[
    "customer_id",
    "status",
    "overdue",
    "collection_status",
    "limit",
    "cursor",
];

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let params = request.query_string_parameters();
    let mut errors = FieldErrors::new();
    for (name, _) in params.iter() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let status = match params.first("status") {
        None => None,
        Some(s @ ("open" | "paid" | "void")) => Some(s),
        Some(_) => {
            errors.add("status", "must be open, paid or void");
            None
        }
    };
    let overdue = match params.first("overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.add("overdue", "must be true or false");
            false
        }
    };
    let collection = match params.first("collection_status") {
        None => None,
        Some(s @ ("normal" | "disputed" | "on_hold")) => Some(s),
        Some(_) => {
            errors.add("collection_status", "must be normal, disputed or on_hold");
            None
        }
    };
    if overdue && status.is_some_and(|s| s != "open") {
        errors.add("overdue", "only open invoices can be overdue");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let today = ctx.today().await?;
    let tenant = &ctx.caller.tenant;
    let mut filter = Condition::default();
    let mut parts = Vec::new();
    if let Some(collection) = collection {
        parts.push("f_collection_status = :collection");
        filter = filter.value(":collection", AttributeValue::S(collection.to_string()));
    }
    let (list, partition_key, partition) = match params.first("customer_id") {
        Some(customer_id) => {
            if let Some(status) = status {
                parts.push("f_status = :status");
                filter = filter.value(":status", AttributeValue::S(status.to_string()));
            }
            if overdue {
                parts.push("f_due < :today");
                filter = filter.value(":today", AttributeValue::S(today.to_string()));
            }
            let open = match (status, overdue) {
                (Some("open"), _) | (_, true) => Some(true),
                (Some(_), _) => Some(false),
                _ => None,
            };
            let list = InvoiceList::Customer {
                customer_id: customer_id.to_string(),
                open,
            };
            (list, PK, customer_pk(tenant, customer_id))
        }
        None => {
            let status = match status.unwrap_or("open") {
                "paid" => "paid",
                "void" => "void",
                _ => "open",
            };
            let list = InvoiceList::Status {
                status,
                due_before: overdue.then(|| today.to_string()),
            };
            (list, GSI1PK, invoice_list_pk(tenant, status))
        }
    };
    filter.expression = parts.join(" AND ");
    let filter = (!parts.is_empty()).then_some(filter);
    let page = page_request(
        params.first("limit"),
        params.first("cursor"),
        (partition_key, &partition),
    )?;
    let (records, last_key) =
        invoice_store::list(&ctx.app.table, tenant, list, filter, page.limit, page.start).await?;
    let items: Vec<Value> = records.iter().map(|r| view(r, today)).collect();
    list_reply(&items, last_key.as_ref())
}
